//! Anomaly monitoring end to end (issue 14): real listeners, real sign-ins, a fixed
//! clock. Attackers and users are told apart by their address: the whole of
//! 127.0.0.0/8 is loopback on Linux, so a client bound to 127.0.0.2 is "another
//! machine".
//!
//! The detections run in a background task; a test processes what it sent with
//! `Monitor::drain` instead of waiting for the task, so nothing depends on timing.

use latchkey_e2e::catalogue_support::{token, Reply};
use latchkey_e2e::latchkey_core::model::{FindingFilter, GrantType};
use latchkey_e2e::latchkey_core::monitor;
use latchkey_e2e::latchkey_server::AppState;
use latchkey_e2e::{client_from, Harness};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const T: i64 = 1_800_000_000;
const PASSWORD: &str = "alice's long password";

fn state(h: &Harness) -> Arc<AppState> {
    h.running.as_ref().unwrap().state.clone()
}

/// Starts a server on a fixed clock with these settings (low thresholds keep the
/// number of argon2 checks small) and the user alice.
async fn server(settings: &[(&str, i64)]) -> Harness {
    let h = Harness::start_with_clock(T).await.unwrap();
    h.user("alice", PASSWORD).await.unwrap();
    let patch: BTreeMap<String, Option<i64>> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), Some(*v)))
        .collect();
    h.manager.settings_update("test", patch).await.unwrap();
    h
}

/// What a sign-in attempt came to: `signed in`, `wrong` (the form again) or `429`.
async fn login(h: &Harness, browser: &reqwest::Client, user: &str, password: &str) -> &'static str {
    let r = h.form_login(browser, user, password).await.unwrap();
    let signed_in = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap_or("").contains("lk_session"));
    match (r.status().as_u16(), signed_in) {
        (200, true) => SIGNED_IN,
        (200, false) => WRONG,
        (429, _) => REFUSED,
        (s, _) => panic!("unexpected sign-in answer {s}"),
    }
}

const SIGNED_IN: &str = "signed in";
const WRONG: &str = "wrong";
const REFUSED: &str = "429";

async fn drain(h: &Harness) {
    state(h).monitor.drain(&h.provider).await;
}

async fn findings(h: &Harness, rule: &str) -> Vec<latchkey_e2e::latchkey_core::model::Finding> {
    h.store
        .findings_list(&FindingFilter {
            rule: Some(rule.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spray_from_one_address_raises_one_finding_and_a_success_from_there_is_critical() {
    let h = server(&[
        ("detect_spray_usernames", 3),
        ("detect_spray_mode", 1),
        ("detect_brute_force_mode", 0),
    ])
    .await;
    let sprayer = client_from("127.0.0.2");
    for user in ["bob", "carol"] {
        assert_eq!(login(&h, &sprayer, user, "Winter2026!").await, WRONG);
    }
    drain(&h).await;
    assert!(
        findings(&h, monitor::SPRAY).await.is_empty(),
        "below the threshold"
    );
    assert_eq!(login(&h, &sprayer, "dave", "Winter2026!").await, WRONG);
    assert_eq!(login(&h, &sprayer, "erin", "Winter2026!").await, WRONG);
    drain(&h).await;
    let spray = findings(&h, monitor::SPRAY).await;
    assert_eq!(spray.len(), 1, "exactly one finding at the threshold");
    assert_eq!(spray[0].subject, "127.0.0.2/32");
    assert_eq!(spray[0].action, "none (monitor mode)");
    // Monitor mode does nothing: the sprayed password works for alice from there, and
    // that success is the critical finding.
    assert_eq!(login(&h, &sprayer, "alice", PASSWORD).await, SIGNED_IN);
    drain(&h).await;
    let critical = findings(&h, monitor::SPRAY_SUCCESS).await;
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].severity, "critical");
    assert_eq!(critical[0].subject, "alice");
    // The live feed hears of each finding.
    let events = h
        .store
        .audit_list(&latchkey_e2e::latchkey_core::model::AuditFilter {
            action_prefix: Some("security.finding_raised".into()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_blocks_a_spraying_address_at_sign_in_and_the_token_endpoint_and_no_other() {
    let h = server(&[
        ("detect_spray_usernames", 3),
        ("detect_spray_mode", 2),
        ("detect_brute_force_mode", 0),
    ])
    .await;
    let app = h
        .confidential(
            &[GrantType::ClientCredentials],
            "https://app.example/cb",
            &[],
        )
        .await
        .unwrap();
    let sprayer = client_from("127.0.0.3");
    for user in ["bob", "carol", "dave"] {
        assert_eq!(login(&h, &sprayer, user, "Winter2026!").await, WRONG);
    }
    drain(&h).await;
    let spray = findings(&h, monitor::SPRAY).await;
    assert_eq!(spray.len(), 1);
    assert!(
        spray[0]
            .action
            .starts_with("blocked everyone from 127.0.0.3/32"),
        "{}",
        spray[0].action
    );
    // The right password from the sprayer's address is refused like a limiter's block.
    assert_eq!(login(&h, &sprayer, "alice", PASSWORD).await, REFUSED);
    let r = sprayer
        .post(h.url("/token"))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // Everyone else is unaffected.
    assert_eq!(
        login(&h, &client_from("127.0.0.1"), "alice", PASSWORD).await,
        SIGNED_IN
    );
    let ok = token(&h, &app, &[("grant_type", "client_credentials")])
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Monitor mode's lack of effect is the other test; off raises nothing at all.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_lock_a_user_out_from_another_address() {
    let h = server(&[
        ("detect_brute_force_failures", 3),
        ("detect_brute_force_mode", 2),
        ("detect_spray_mode", 0),
    ])
    .await;
    let stranger = client_from("127.0.0.4");
    for _ in 0..2 {
        assert_eq!(login(&h, &stranger, "alice", "guess").await, WRONG);
    }
    drain(&h).await;
    assert!(
        findings(&h, monitor::BRUTE_FORCE).await.is_empty(),
        "below the threshold"
    );
    assert_eq!(login(&h, &stranger, "alice", "guess").await, WRONG);
    drain(&h).await;
    let brute = findings(&h, monitor::BRUTE_FORCE).await;
    assert_eq!(brute.len(), 1);
    assert_eq!(brute[0].subject, "alice");
    // The pair is blocked: even the right password from the stranger's address…
    assert_eq!(login(&h, &stranger, "alice", PASSWORD).await, REFUSED);
    // …but alice from her own address signs in.
    assert_eq!(
        login(&h, &client_from("127.0.0.1"), "alice", PASSWORD).await,
        SIGNED_IN
    );
    let blocks = h.store.blocks_list(T).await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        (blocks[0].cidr.as_str(), blocks[0].principal.as_str()),
        ("127.0.0.4/32", "user:alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_added_through_the_admin_api_refuses_the_next_sign_in_and_removing_it_restores_it()
{
    let h = server(&[]).await;
    let (_, key) = h.api_key(false).await.unwrap();
    let admin = reqwest::Client::new();
    let r = admin
        .post(h.admin_url("/admin/v1/blocks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"address": "127.0.0.5", "expires_in": 3600, "reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["address"], "127.0.0.5/32");
    assert_eq!(b["expires_at"], T + 3600);
    let blocked = client_from("127.0.0.5");
    assert_eq!(login(&h, &blocked, "alice", PASSWORD).await, REFUSED);
    assert_eq!(
        login(&h, &client_from("127.0.0.6"), "alice", PASSWORD).await,
        SIGNED_IN
    );
    let r = admin
        .post(h.admin_url("/admin/v1/blocks/remove"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"address": "127.0.0.5/32"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(login(&h, &blocked, "alice", PASSWORD).await, SIGNED_IN);
    // Both changes are audited.
    for action in ["block.add", "block.remove"] {
        let rows = h
            .store
            .audit_list(&latchkey_e2e::latchkey_core::model::AuditFilter {
                action_prefix: Some(action.into()),
                limit: Some(10),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{action}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_guessing_raises_a_finding_and_enforce_throttles_that_client_only_from_that_address(
) {
    let h = server(&[
        ("detect_client_guess_failures", 3),
        ("detect_client_guess_mode", 2),
    ])
    .await;
    let app = h
        .confidential(
            &[GrantType::ClientCredentials],
            "https://app.example/cb",
            &[],
        )
        .await
        .unwrap();
    let guesser = client_from("127.0.0.7");
    let send = |c: &reqwest::Client, secret: &str| {
        c.post(h.url("/token"))
            .basic_auth(&app.id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            send(&guesser, "wrong").await.unwrap().status().as_u16(),
            401
        );
    }
    drain(&h).await;
    assert!(findings(&h, monitor::CLIENT_GUESS).await.is_empty());
    assert_eq!(
        send(&guesser, "wrong").await.unwrap().status().as_u16(),
        401
    );
    drain(&h).await;
    let guess = findings(&h, monitor::CLIENT_GUESS).await;
    assert_eq!(guess.len(), 1);
    assert_eq!(
        (guess[0].subject_kind.as_str(), guess[0].subject.as_str()),
        ("client", app.id.as_str())
    );
    let secret = app.secret.clone().unwrap();
    let r = Reply::read(send(&guesser, &secret).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        r.status, 429,
        "the right secret from the guessing address waits"
    );
    let r = Reply::read(send(&client_from("127.0.0.1"), &secret).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        r.status, 200,
        "the client itself, elsewhere, is not locked out: {}",
        r.text
    );
}

// --- detections 3–9 ---------------------------------------------------------------------

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
const DAY: i64 = 24 * 3600;

fn clock(h: &Harness) -> &latchkey_e2e::latchkey_core::clock::FixedClock {
    h.clock.as_ref().unwrap()
}

/// A browser at `from` that says it is `ua`.
fn browser_at(from: &str, ua: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .user_agent(ua)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn tick(h: &Harness) {
    state(h).monitor.tick(&h.provider).await;
}

async fn failed_sign_ins(h: &Harness, at: i64, n: usize) {
    for _ in 0..n {
        h.store
            .audit_insert(
                &latchkey_e2e::latchkey_core::model::NewAuditEvent::new(
                    at,
                    "anonymous",
                    "security.login_failed",
                )
                .security(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_of_failed_sign_ins_above_the_hours_baseline_raises_one_alert_and_blocks_nobody() {
    let h = server(&[
        ("detect_wave_min_failures", 20),
        ("detect_wave_mode", 2),
        ("detect_spray_mode", 0),
        ("detect_brute_force_mode", 0),
    ])
    .await;
    // The same hour on each of the previous 7 days: 10 failures; 5 × 10 = 50.
    for d in 1..=7 {
        failed_sign_ins(&h, T - d * DAY - 600, 10).await;
    }
    failed_sign_ins(&h, T + 30, 48).await;
    clock(&h).set(T + 60);
    tick(&h).await;
    assert!(findings(&h, monitor::WAVE).await.is_empty(), "49 < 50");
    // The 49th and 50th failures are real ones, through the sign-in form.
    let b = client_from("127.0.0.20");
    assert_eq!(login(&h, &b, "alice", "wrong").await, WRONG);
    assert_eq!(login(&h, &b, "alice", "wrong").await, WRONG);
    clock(&h).set(T + 120);
    tick(&h).await;
    let wave = findings(&h, monitor::WAVE).await;
    assert_eq!(wave.len(), 1, "exactly one at the threshold");
    assert_eq!(wave[0].count, 50);
    assert_eq!(
        wave[0].action, "none (monitor mode)",
        "alerts only, even in enforce mode"
    );
    assert!(h.store.blocks_list(T + 120).await.unwrap().is_empty());
    // Later minutes of the same wave grow the one finding instead of adding rows.
    assert_eq!(login(&h, &b, "alice", "wrong").await, WRONG);
    clock(&h).set(T + 180);
    tick(&h).await;
    let wave = findings(&h, monitor::WAVE).await;
    assert_eq!((wave.len(), wave[0].count), (1, 51));
}

/// Signs in through the form and returns the sign-in cookie (`name=value`).
async fn sign_in_cookie(h: &Harness, browser: &reqwest::Client) -> String {
    let r = h.form_login(browser, "alice", PASSWORD).await.unwrap();
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.contains("lk_session"))
        .and_then(|c| c.split(';').next())
        .expect("sign-in cookie")
        .to_string()
}

async fn unfamiliar_world(mode: i64) -> (Harness, latchkey_e2e::TestClient) {
    let h = server(&[
        ("detect_unfamiliar_min_history", 2),
        ("detect_unfamiliar_mode", mode),
    ])
    .await;
    let app = h
        .confidential(
            &[GrantType::AuthorizationCode],
            "https://app.example/cb",
            &["openid"],
        )
        .await
        .unwrap();
    (h, app)
}

fn authorize_url(h: &Harness, app: &latchkey_e2e::TestClient) -> String {
    authorize_with_verifier(h, app).0
}

/// The authorization URL and its PKCE verifier.
fn authorize_with_verifier(h: &Harness, app: &latchkey_e2e::TestClient) -> (String, String) {
    let (verifier, challenge) = latchkey_e2e::pkce();
    let mut u = url::Url::parse(&h.url("/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    (u.to_string(), verifier)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_from_a_new_network_and_browser_is_unfamiliar_once_the_user_has_a_history() {
    let (h, app) = unfamiliar_world(1).await;
    let home = browser_at("127.0.0.1", FIREFOX);
    sign_in_cookie(&h, &home).await;
    // One earlier success is still learning: a new network is not judged yet.
    let away = browser_at("127.0.1.2", "curl/8.5.0");
    sign_in_cookie(&h, &away).await;
    drain(&h).await;
    assert!(findings(&h, monitor::UNFAMILIAR_SIGN_IN).await.is_empty());
    // Home again (same /24, same browser family) is familiar.
    sign_in_cookie(&h, &browser_at("127.0.0.9", FIREFOX)).await;
    drain(&h).await;
    assert!(findings(&h, monitor::UNFAMILIAR_SIGN_IN).await.is_empty());
    // A third network and browser, after two successes: one finding, and the session
    // made under that sign-in says so.
    let new = browser_at(
        "127.0.2.3",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36",
    );
    let (url, verifier) = authorize_with_verifier(&h, &app);
    let loc = h
        .browser_authorize(&new, &url, "alice", PASSWORD)
        .await
        .unwrap();
    assert!(
        loc.contains("code="),
        "monitor mode lets the sign-in through: {loc}"
    );
    drain(&h).await;
    let f = findings(&h, monitor::UNFAMILIAR_SIGN_IN).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].subject, "alice");
    assert!(f[0].evidence.contains("127.0.2.0/24"), "{}", f[0].evidence);
    let code = latchkey_e2e::query_param(&loc, "code").unwrap();
    let r = h
        .post_basic(
            "/token",
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &app.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sessions = h
        .store
        .sessions_list(
            &latchkey_e2e::latchkey_core::model::SessionFilter {
                limit: Some(10),
                ..Default::default()
            },
            T,
        )
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].unfamiliar,
        "the session shows its sign-in was unfamiliar"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_asks_for_the_password_again_when_a_sign_in_is_reused_from_an_unfamiliar_place(
) {
    for (mode, asks) in [(1, false), (2, true)] {
        let (h, app) = unfamiliar_world(mode).await;
        for from in ["127.0.0.1", "127.0.0.2"] {
            sign_in_cookie(&h, &browser_at(from, FIREFOX)).await;
        }
        let cookie = sign_in_cookie(&h, &browser_at("127.0.0.3", FIREFOX)).await;
        // The same cookie from home is reused silently in either mode.
        let r = browser_at("127.0.0.3", FIREFOX)
            .get(authorize_url(&h, &app))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let home_loc = latchkey_e2e::location(&r).unwrap_or_default();
        assert!(!home_loc.contains("/login"), "mode {mode}: {home_loc}");
        // The cookie carried to another network and browser.
        let r = browser_at("127.0.3.4", "curl/8.5.0")
            .get(authorize_url(&h, &app))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let loc = latchkey_e2e::location(&r).unwrap_or_default();
        assert_eq!(loc.contains("/login"), asks, "mode {mode}: {loc}");
    }
}

async fn refresh_from(
    h: &Harness,
    app: &latchkey_e2e::TestClient,
    from: &str,
    ua: &str,
    rt: &str,
) -> Reply {
    Reply::read(
        browser_at(from, ua)
            .post(h.url("/token"))
            .basic_auth(&app.id, app.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap()
}

async fn refresh_world(mode: i64) -> (Harness, latchkey_e2e::TestClient) {
    let h = server(&[("detect_refresh_reuse_mode", mode)]).await;
    h.scope("api", "API").await.unwrap();
    let app = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://app.example/cb",
            &["openid", "api"],
        )
        .await
        .unwrap();
    (h, app)
}

async fn first_refresh_token(h: &Harness, app: &latchkey_e2e::TestClient) -> String {
    let body = h
        .code_flow_tokens(app, "openid api", ("alice", PASSWORD))
        .await
        .unwrap();
    body["refresh_token"].as_str().unwrap().to_string()
}

async fn live_sessions(h: &Harness) -> usize {
    h.store
        .sessions_list(
            &latchkey_e2e::latchkey_core::model::SessionFilter {
                limit: Some(50),
                ..Default::default()
            },
            T,
        )
        .await
        .unwrap()
        .iter()
        .filter(|s| s.session.revoked_at.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_replayed_from_elsewhere_is_likely_theft_with_the_hop_named() {
    let (h, app) = refresh_world(1).await;
    let rt0 = first_refresh_token(&h, &app).await;
    let other_session = first_refresh_token(&h, &app).await;
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &rt0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt1 = r.json["refresh_token"].as_str().unwrap().to_string();
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &rt1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    drain(&h).await;
    assert!(
        findings(&h, monitor::REFRESH_REUSE).await.is_empty(),
        "no reuse, no finding"
    );
    // rt1 (hop 1) replayed from another address and client software.
    let r = refresh_from(&h, &app, "127.0.4.5", "curl/8.5.0", &rt1).await;
    assert_eq!(r.status, 400);
    drain(&h).await;
    let f = findings(&h, monitor::REFRESH_REUSE).await;
    assert_eq!(f.len(), 1);
    let ev: serde_json::Value = serde_json::from_str(&f[0].evidence).unwrap();
    assert_eq!(ev["tag"], "likely theft", "{ev}");
    assert_eq!(ev["replayed_generation"], 1);
    assert_eq!(ev["latest_generation"], 2);
    assert_eq!(ev["holder_address"], "127.0.0.1");
    assert_eq!(f[0].severity, "critical");
    assert!(!f[0].evidence.contains(&rt1), "the token never appears");
    // Monitor mode: the family is revoked (as always), the user's other session lives.
    assert_eq!(live_sessions(&h).await, 1);
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &other_session).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_revokes_every_session_of_the_user_on_likely_theft_but_not_on_a_retry() {
    let (h, app) = refresh_world(2).await;
    let rt0 = first_refresh_token(&h, &app).await;
    let _other = first_refresh_token(&h, &app).await;
    // A retry by the holder itself (same address, same software) is reuse, not theft.
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &rt0).await;
    assert_eq!(r.status, 200);
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &rt0).await;
    assert_eq!(r.status, 400);
    drain(&h).await;
    let f = findings(&h, monitor::REFRESH_REUSE).await;
    assert_eq!(f.len(), 1);
    assert!(
        f[0].evidence.contains("\"tag\":\"reuse\""),
        "{}",
        f[0].evidence
    );
    assert_eq!(live_sessions(&h).await, 1, "only the replayed family ended");
    // From elsewhere: every session of alice ends.
    let rt = first_refresh_token(&h, &app).await;
    let r = refresh_from(&h, &app, "127.0.0.1", "app/1.0", &rt).await;
    assert_eq!(r.status, 200);
    let r = refresh_from(&h, &app, "127.0.5.6", "curl/8.5.0", &rt).await;
    assert_eq!(r.status, 400);
    drain(&h).await;
    assert_eq!(findings(&h, monitor::REFRESH_REUSE).await.len(), 2);
    assert_eq!(live_sessions(&h).await, 0);
}

async fn mint_client(h: &Harness) -> latchkey_e2e::TestClient {
    for s in ["api", "reports", "admin-ish"] {
        h.scope(s, s).await.unwrap();
    }
    h.confidential(
        &[GrantType::ClientCredentials],
        "https://app.example/cb",
        &["api", "reports", "admin-ish"],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_minute_far_above_its_busiest_baseline_minute_raises_one_alert() {
    use latchkey_e2e::latchkey_core::model::TokenCount;
    let h = server(&[("detect_mint_min_per_minute", 10), ("detect_mint_mode", 2)]).await;
    let count = |minute: i64, n: i64| TokenCount {
        minute,
        grant: "client_credentials".into(),
        client_id: "busy".into(),
        count: n,
    };
    // Baseline: a busiest minute of 50 two days ago → threshold 3 × 50 = 150.
    let m0 = T - T.rem_euclid(60) + 600;
    h.store
        .stats_record(&[count(m0 - 2 * DAY, 50), count(m0, 149), count(m0 + 60, 150)])
        .await
        .unwrap();
    clock(&h).set(m0 + 60 + 20);
    tick(&h).await;
    assert!(
        findings(&h, monitor::MINT_SPIKE).await.is_empty(),
        "149 < 150"
    );
    clock(&h).set(m0 + 120 + 20);
    tick(&h).await;
    let f = findings(&h, monitor::MINT_SPIKE).await;
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].subject.as_str(), f[0].count), ("busy", 150));
    assert_eq!(f[0].action, "none (monitor mode)", "alerts only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_a_known_client_never_used_before_raises_one_alert_after_its_learning_days() {
    let h = server(&[]).await;
    let app = mint_client(&h).await;
    let cc = |scope: &'static str| {
        let h = &h;
        let app = app.clone();
        async move {
            let r = token(
                h,
                &app,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await
            .unwrap();
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    cc("api").await;
    drain(&h).await;
    // A day later, still learning: a new scope is not alarming.
    clock(&h).set(T + DAY);
    cc("reports").await;
    drain(&h).await;
    assert!(findings(&h, monitor::MINT_NEW_USE).await.is_empty());
    // Past the 7 baseline days: a scope used before says nothing, a new one raises.
    clock(&h).set(T + 8 * DAY);
    cc("api").await;
    drain(&h).await;
    assert!(findings(&h, monitor::MINT_NEW_USE).await.is_empty());
    cc("admin-ish").await;
    cc("admin-ish").await;
    drain(&h).await;
    let f = findings(&h, monitor::MINT_NEW_USE).await;
    assert_eq!(f.len(), 1, "once, however often it is used");
    assert_eq!(f[0].subject, app.id);
    assert!(
        f[0].evidence.contains("\"value\":\"admin-ish\""),
        "{}",
        f[0].evidence
    );
}

async fn introspect_from(h: &Harness, rs: &latchkey_e2e::TestClient, from: &str, tok: &str) -> u16 {
    client_from(from)
        .post(h.url("/introspect"))
        .basic_auth(&rs.id, rs.secret.as_deref())
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_access_token_presented_at_introspection_or_userinfo_is_one_finding_per_token() {
    let h = server(&[]).await;
    let app = h
        .confidential(
            &[GrantType::AuthorizationCode],
            "https://app.example/cb",
            &["openid"],
        )
        .await
        .unwrap();
    let rs = h
        .confidential(
            &[GrantType::ClientCredentials],
            "https://rs.example/cb",
            &[],
        )
        .await
        .unwrap();
    let body = h
        .code_flow_tokens(&app, "openid", ("alice", PASSWORD))
        .await
        .unwrap();
    let at = body["access_token"].as_str().unwrap().to_string();
    // Live: nothing to report.
    assert_eq!(introspect_from(&h, &rs, "127.0.0.1", &at).await, 200);
    drain(&h).await;
    assert!(findings(&h, monitor::REVOKED_TOKEN_REPLAY).await.is_empty());
    let r = h
        .post_basic("/revoke", &app, &[("token", &at)])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(introspect_from(&h, &rs, "127.0.0.1", &at).await, 200);
    let ui = client_from("127.0.6.7")
        .get(h.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status().as_u16(), 401);
    drain(&h).await;
    let f = findings(&h, monitor::REVOKED_TOKEN_REPLAY).await;
    assert_eq!(
        f.len(),
        1,
        "one finding per token, however often it is replayed"
    );
    assert_eq!(f[0].subject_kind, "user");
    assert!(!f[0].evidence.contains(&at), "the token never appears");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_presenting_many_invalid_tokens_is_a_scanner_and_enforce_blocks_only_it() {
    for (mode, blocked) in [(1, false), (2, true)] {
        let h = server(&[
            ("detect_token_scan_invalid", 3),
            ("detect_token_replay_mode", mode),
        ])
        .await;
        let rs = h
            .confidential(
                &[GrantType::ClientCredentials],
                "https://rs.example/cb",
                &[],
            )
            .await
            .unwrap();
        for i in 0..2 {
            assert_eq!(
                introspect_from(&h, &rs, "127.0.0.8", &format!("guess-{i}")).await,
                200
            );
        }
        drain(&h).await;
        assert!(
            findings(&h, monitor::TOKEN_SCAN).await.is_empty(),
            "below the threshold"
        );
        assert_eq!(introspect_from(&h, &rs, "127.0.0.8", "guess-2").await, 200);
        drain(&h).await;
        let f = findings(&h, monitor::TOKEN_SCAN).await;
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].subject_kind.as_str(), f[0].subject.as_str()),
            ("client", rs.id.as_str())
        );
        let next = introspect_from(&h, &rs, "127.0.0.8", "guess-3").await;
        assert_eq!(next == 429, blocked, "mode {mode}: {next}");
        // The resource server elsewhere keeps working in either mode.
        assert_eq!(introspect_from(&h, &rs, "127.0.0.1", "guess-4").await, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hygiene_reports_a_client_secret_past_its_age_once_a_day() {
    let h = server(&[("detect_hygiene_secret_age", 2 * DAY)]).await;
    let app = h
        .confidential(
            &[GrantType::ClientCredentials],
            "https://app.example/cb",
            &[],
        )
        .await
        .unwrap();
    clock(&h).set(T + 2 * DAY);
    tick(&h).await;
    assert!(
        findings(&h, monitor::HYGIENE).await.is_empty(),
        "exactly the age is fine"
    );
    clock(&h).set(T + 3 * DAY);
    tick(&h).await;
    clock(&h).set(T + 3 * DAY + 3600);
    tick(&h).await;
    let f = findings(&h, monitor::HYGIENE).await;
    assert_eq!(f.len(), 1, "once a day");
    assert_eq!(
        (f[0].subject_kind.as_str(), f[0].subject.as_str()),
        ("client", app.id.as_str())
    );
    assert!(
        !f[0].evidence.contains(app.secret.as_deref().unwrap()),
        "never the secret"
    );
    // The next day an open finding is brought up to date, not repeated.
    clock(&h).set(T + 4 * DAY);
    tick(&h).await;
    let f = findings(&h, monitor::HYGIENE).await;
    assert_eq!((f.len(), f[0].last_seen), (1, T + 4 * DAY));
}
