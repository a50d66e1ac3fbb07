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
use latchkey_e2e::{hidden_field, Harness};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const T: i64 = 1_800_000_000;
const PASSWORD: &str = "alice's long password";

fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

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
    let page = browser
        .get(h.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_field(&page, "csrf").expect("login csrf");
    let r = browser
        .post(h.url("/login"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
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
