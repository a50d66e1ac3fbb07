//! Catalogue AD, issue 10 §5 ("smaller holes"), end to end against a real server on
//! loopback: `private_key_jwt` audiences, the admin event stream re-checking its
//! credential, API keys dying with their creator. Runs on PostgreSQL too
//! (`pg_catalogue.rs`).

use futures_util::StreamExt;
use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::crypto::{b64url, random_token};
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::keys::{self, LoadedKey};
use latchkey_e2e::latchkey_core::model::{Alg, AuthMethod, ClientType, GrantType};
use latchkey_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

const ALICE: (&str, &str) = ("alice", "correct horse battery");
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Env = latchkey_e2e::catalogue::Catalogue;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn http() -> reqwest::Client {
    plain_http()
}

// --- private_key_jwt audience ----------------------------------------------------------

struct JwtClient {
    id: String,
    key: LoadedKey,
}

async fn jwt_client(h: &Harness) -> JwtClient {
    let (der, jwk) = keys::generate(Alg::ES256, "k1").unwrap();
    let key = LoadedKey::from_pkcs8("k1", Alg::ES256, &der).unwrap();
    let c = h
        .client(
            ClientType::Confidential,
            Some(AuthMethod::PrivateKeyJwt),
            &[GrantType::ClientCredentials],
            "",
            &["api"],
            Some(json!({ "keys": [jwk] }).to_string()),
        )
        .await
        .unwrap();
    JwtClient { id: c.id, key }
}

impl JwtClient {
    fn assertion(&self, aud: Value) -> String {
        let t = now();
        jwt::sign(
            &self.key,
            None,
            &json!({"iss": self.id, "sub": self.id, "aud": aud,
                    "iat": t, "exp": t + 60, "jti": random_token()}),
        )
        .unwrap()
    }
}

async fn cc(h: &Harness, assertion: &str) -> u16 {
    h.http()
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// AD-64: a `private_key_jwt` assertion's `aud` must be the issuer identifier as one
/// string; an array (even of the issuer alone) or an endpoint URL is refused
/// (audience injection, 2025).
#[tokio::test]
async fn an_assertion_audience_must_be_the_issuer_as_one_string() {
    let Env { h, .. } = Env::start().await;
    let pk = jwt_client(&h).await;
    for (what, aud) in [
        ("token endpoint", json!(h.url("/token"))),
        ("introspection endpoint", json!(h.url("/introspect"))),
        ("[issuer]", json!([h.issuer])),
        (
            "[issuer, token endpoint]",
            json!([h.issuer, h.url("/token")]),
        ),
        (
            "issuer with a trailing slash",
            json!(format!("{}/", h.issuer)),
        ),
    ] {
        assert_eq!(cc(&h, &pk.assertion(aud)).await, 401, "aud = {what}");
    }
    assert_eq!(cc(&h, &pk.assertion(json!(h.issuer))).await, 200);
}

/// AD-65: the per-client compatibility switch (`assertion_aud_compat`, set through the
/// admin API) accepts an array or an endpoint URL again, but never a foreign audience.
#[tokio::test]
async fn the_compatibility_switch_accepts_endpoint_and_array_audiences_but_never_foreign_ones() {
    let Env { h, .. } = Env::start().await;
    let pk = jwt_client(&h).await;
    let (_, key) = h.api_key(false).await.unwrap();
    let patched: Value = http()
        .patch(h.admin_url(&format!("/admin/v1/clients/{}", pk.id)))
        .bearer_auth(&key)
        .json(&json!({"assertion_aud_compat": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["assertion_aud_compat"], true, "{patched}");
    for aud in [
        json!(h.url("/token")),
        json!([h.issuer, h.url("/token")]),
        json!(h.issuer),
    ] {
        assert_eq!(cc(&h, &pk.assertion(aud.clone())).await, 200, "aud = {aud}");
    }
    for aud in [
        json!("https://evil.test/token"),
        json!([h.issuer, "https://evil.test"]),
    ] {
        assert_eq!(cc(&h, &pk.assertion(aud.clone())).await, 401, "aud = {aud}");
    }
}

/// AD-70: an assertion with a `crit` header, or a non-integer `exp`, is refused even
/// though its signature is good (RFC 7515 §4.1.11, RFC 7519 NumericDate).
#[tokio::test]
async fn assertions_with_crit_headers_or_fractional_times_are_refused() {
    let Env { h, .. } = Env::start().await;
    let pk = jwt_client(&h).await;
    let t = now();
    let forge = |header: Value, claims: Value| {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = pk.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64url(&sig))
    };
    let claims = |exp: Value| {
        json!({"iss": pk.id, "sub": pk.id, "aud": h.issuer, "iat": t, "exp": exp,
               "jti": random_token()})
    };
    let crit = forge(
        json!({"alg": "ES256", "kid": "k1", "crit": ["urn:x:ignore-me"], "urn:x:ignore-me": 1}),
        claims(json!(t + 60)),
    );
    assert_eq!(cc(&h, &crit).await, 401);
    let fractional = forge(
        json!({"alg": "ES256", "kid": "k1"}),
        claims(json!(t as f64 + 60.5)),
    );
    assert_eq!(cc(&h, &fractional).await, 401);
    let good = forge(json!({"alg": "ES256", "kid": "k1"}), claims(json!(t + 60)));
    assert_eq!(cc(&h, &good).await, 200);
}

// --- the admin event stream ------------------------------------------------------------

type Events = futures_util::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>;

async fn open_events(h: &Harness, bearer: &str) -> Events {
    let resp = http()
        .get(h.admin_url("/admin/v1/events"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes_stream().map(|c| c.map(|b| b.to_vec())).boxed()
}

/// Reads until `needle` appears (panics at a generous deadline: a hang, not timing).
async fn read_until(stream: &mut Events, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} before the deadline; got {seen}"))
            .unwrap_or_else(|| panic!("stream closed before {needle:?}; got {seen}"))
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

/// The stream ends (the server closes it) rather than staying open.
async fn assert_closed(stream: &mut Events) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the event stream stayed open"),
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(chunk))) => {
                let text = String::from_utf8_lossy(&chunk).to_string();
                assert!(
                    !text.contains("event: session") && !text.contains("event: changed"),
                    "an event after the end: {text}"
                );
            }
        }
    }
}

/// The data line of the `ended` event.
fn ended_reason(text: &str) -> Value {
    let after = &text[text.find("event: ended").expect("an ended event")..];
    let data = after
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data");
    serde_json::from_str(data).unwrap()
}

/// AD-66: revoking the API key an event stream was opened with ends the stream with a
/// final event saying so; no event after it.
#[tokio::test]
async fn the_event_stream_ends_saying_why_when_its_api_key_is_revoked() {
    let Env { h, .. } = Env::start().await;
    let (id, key) = h.api_key(true).await.unwrap();
    let mut stream = open_events(&h, &key).await;
    // The revocation is itself an audited change: the stream wakes for it.
    h.manager.api_key_revoke("test", &id).await.unwrap();
    let seen = read_until(&mut stream, "event: ended").await;
    let why = ended_reason(&seen);
    assert_eq!(why["reason"], "api_key_revoked", "{why}");
    assert!(!seen.contains(&key), "the key was echoed");
    assert_closed(&mut stream).await;
}

/// AD-67: disabling the administrator behind an admin access token ends that token's
/// event stream, saying so.
#[tokio::test]
async fn the_event_stream_ends_when_its_administrator_is_disabled() {
    let Env { h, .. } = Env::start().await;
    let admin_id = h.admin_user("root", "a long admin password").await.unwrap();
    let console = h.console_client();
    let tokens = h
        .code_flow_tokens(
            &console,
            "openid latchkey:admin",
            ("root", "a long admin password"),
        )
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let mut stream = open_events(&h, &at).await;
    h.manager.user_disable("test", &admin_id).await.unwrap();
    let seen = read_until(&mut stream, "event: ended").await;
    let why = ended_reason(&seen);
    assert!(
        why["reason"] == "admin_disabled" || why["reason"] == "token_revoked",
        "{why}"
    );
    assert_closed(&mut stream).await;
}

/// AD-79: an admin access token that expires while its event stream is open ends the
/// stream at the next wake-up (here: the next audited change, on a fixed clock).
#[tokio::test]
async fn the_event_stream_ends_when_its_access_token_expires() {
    let Env { h, .. } = Env::on(Harness::start_with_clock(1_700_000_000).await.unwrap()).await;
    h.admin_user("root", "a long admin password").await.unwrap();
    let tokens = h
        .code_flow_tokens(
            &h.console_client(),
            "openid latchkey:admin",
            ("root", "a long admin password"),
        )
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let mut stream = open_events(&h, &at).await;
    h.clock.as_ref().unwrap().advance(24 * 3600);
    h.scope("wake", "an audited change wakes the stream")
        .await
        .unwrap();
    let seen = read_until(&mut stream, "event: ended").await;
    assert_eq!(ended_reason(&seen)["reason"], "token_expired");
    assert_closed(&mut stream).await;
}

/// AD-68: the event stream delivers session and security events (on PostgreSQL too:
/// this file runs there from `pg_catalogue.rs`).
#[tokio::test]
async fn the_event_stream_delivers_session_and_security_events() {
    let Env { h, c1, .. } = Env::start().await;
    let (_, key) = h.api_key(true).await.unwrap();
    let mut stream = open_events(&h, &key).await;
    let tokens = h.code_flow_tokens(&c1, "openid api", ALICE).await.unwrap();
    read_until(&mut stream, "event: session_created").await;
    // A spent refresh token presented again: reuse detection, a security event.
    let rt = tokens["refresh_token"].as_str().expect("a refresh token");
    let first = refresh(&h, &c1, rt, None).await.unwrap();
    assert_eq!(first.status, 200);
    let again = refresh(&h, &c1, rt, None).await.unwrap();
    assert_eq!(again.status, 400);
    let seen = read_until(&mut stream, "event: security_event").await;
    assert!(
        seen.contains("security.refresh_token.reuse_detected"),
        "{seen}"
    );
}

// --- API keys and their creator --------------------------------------------------------

/// AD-69: disabling an administrator revokes the API keys they created (and the keys
/// those keys created), audited with the reason; the keys stop working at once.
#[tokio::test]
async fn disabling_an_administrator_revokes_the_api_keys_they_created() {
    let Env { h, .. } = Env::start().await;
    let admin_id = h.admin_user("ops", "a long admin password").await.unwrap();
    let (mine, mine_secret) = h
        .manager
        .api_key_create(&format!("user:{admin_id}"), "ops key", false, None)
        .await
        .unwrap();
    let (child, child_secret) = h
        .manager
        .api_key_create(
            &format!("api-key:{}", mine.id),
            "made by the key",
            true,
            None,
        )
        .await
        .unwrap();
    let (_, other) = h.api_key(false).await.unwrap();
    let list = |bearer: String| {
        let h = &h;
        async move {
            http()
                .get(h.admin_url("/admin/v1/api-keys"))
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(list(mine_secret.expose().to_string()).await.status(), 200);
    let r = http()
        .post(h.admin_url(&format!("/admin/v1/users/{admin_id}/disable")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(list(mine_secret.expose().to_string()).await.status(), 401);
    assert_eq!(list(child_secret.expose().to_string()).await.status(), 401);
    let keys: Value = list(other.clone()).await.json().await.unwrap();
    for id in [&mine.id, &child.id] {
        let k = keys
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str())
            .unwrap();
        assert!(k["revoked_at"].is_i64(), "{k}");
    }
    let audit: Value = http()
        .get(h.admin_url("/admin/v1/audit?action_prefix=api_key.revoke"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit.to_string().matches("creator_disabled").count() >= 2,
        "{audit}"
    );
}

// --- refresh-token grace window --------------------------------------------------------

/// AD-77: in grace mode only the latest spent refresh token may be retried, only within
/// the window, and each retry is audited; presenting an older spent token is reuse
/// (the family is revoked).
#[tokio::test]
async fn the_grace_window_accepts_only_the_latest_spent_token_and_audits_it() {
    use latchkey_e2e::latchkey_core::manage::ClientUpdate;
    let Env { h, c1, .. } = Env::on(Harness::start_with_clock(1_700_000_000).await.unwrap()).await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                refresh_grace_secs: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let advance = |s: i64| h.clock.as_ref().expect("fixed clock").advance(s);
    let tokens = h.code_flow_tokens(&c1, "openid api", ALICE).await.unwrap();
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let r2 = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_eq!(r2.status, 200);
    let rt2 = r2.must("refresh_token");
    advance(1);
    let r3 = refresh(&h, &c1, &rt2, None).await.unwrap();
    assert_eq!(r3.status, 200);
    let rt3 = r3.must("refresh_token");
    // rt2 is the latest spent token: a retry within the window is answered, audited.
    advance(2);
    let retry = refresh(&h, &c1, &rt2, None).await.unwrap();
    assert_eq!(retry.status, 200, "{}", retry.text);
    let audited = h
        .store
        .audit_list(&Default::default())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "security.refresh_token.grace_retry")
        .count();
    assert_eq!(audited, 1);
    // rt1 was spent within the window too, but it is not the latest: reuse, and the
    // whole family dies (the retry's fresh token and rt3 included).
    let old = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_eq!(old.status, 400);
    let fresh = retry.must("refresh_token");
    for rt in [&fresh, &rt3] {
        let r = refresh(&h, &c1, rt, None).await.unwrap();
        assert_eq!(r.status, 400, "the family was revoked");
    }
}

/// AD-78: outside the window even the latest spent token is reuse.
#[tokio::test]
async fn after_the_grace_window_the_latest_spent_token_is_reuse() {
    use latchkey_e2e::latchkey_core::manage::ClientUpdate;
    let Env { h, c1, .. } = Env::on(Harness::start_with_clock(1_700_000_000).await.unwrap()).await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                refresh_grace_secs: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tokens = h.code_flow_tokens(&c1, "openid api", ALICE).await.unwrap();
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let r2 = refresh(&h, &c1, &rt1, None).await.unwrap();
    let rt2 = r2.must("refresh_token");
    h.clock.as_ref().unwrap().advance(11);
    assert_eq!(refresh(&h, &c1, &rt1, None).await.unwrap().status, 400);
    assert_eq!(refresh(&h, &c1, &rt2, None).await.unwrap().status, 400);
}

// --- logout and cookies ----------------------------------------------------------------

/// Signs alice in through the real login form in `browser` (a cookie jar).
async fn sign_in(h: &Harness, browser: &reqwest::Client) {
    let page = browser.get(h.url("/login")).send().await.unwrap();
    let body = page.text().await.unwrap();
    let r = browser
        .post(h.url("/login"))
        .form(&[
            ("username", ALICE.0),
            ("password", ALICE.1),
            ("csrf", &hidden_field(&body, "csrf").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    assert!(signed_in(h, browser).await, "sign-in did not stick");
}

/// The device page answers 200 only to a signed-in browser (else it sends it to login).
async fn signed_in(h: &Harness, browser: &reqwest::Client) -> bool {
    browser.get(h.url("/device")).send().await.unwrap().status() == 200
}

/// AD-75: `GET /logout` without an `id_token_hint` does not sign a browser out: it asks
/// (a page whose form carries a CSRF token bound to the sign-in); a post without that
/// token is refused; the confirmed post signs out and redirects.
#[tokio::test]
async fn logout_without_an_id_token_hint_asks_for_confirmation() {
    use latchkey_e2e::latchkey_core::manage::ClientUpdate;
    const BYE: &str = "https://c1.test/bye";
    let Env { h, c1, .. } = Env::start().await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                post_logout_redirect_uris: Some(vec![BYE.into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = browser();
    sign_in(&h, &b).await;
    let params = [
        ("client_id", c1.id.as_str()),
        ("post_logout_redirect_uri", BYE),
        ("state", "s-9"),
    ];
    let mut u = url::Url::parse(&h.url("/logout")).unwrap();
    u.query_pairs_mut().extend_pairs(params);
    // A link or an image tag on any page: a question, not a sign-out.
    let page = b.get(u.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign out?") && html.contains("method=\"post\""),
        "{html}"
    );
    assert!(signed_in(&h, &b).await, "a GET signed the browser out");
    // A cross-site form post without the page's token is refused.
    let forged = b.post(h.url("/logout")).form(&params).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(signed_in(&h, &b).await);
    // The confirmation itself.
    let csrf = hidden_field(&html, "csrf").expect("csrf field");
    let mut form = params.to_vec();
    form.push(("csrf", &csrf));
    let done = b.post(h.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()["location"].to_str().unwrap(),
        format!("{BYE}?state=s-9")
    );
    assert!(!signed_in(&h, &b).await, "still signed in after confirming");
}

/// AD-76: two loopback servers in one browser: their cookies carry the port in their
/// names, so signing in to one neither overwrites nor takes the other's sign-in.
#[tokio::test]
async fn two_loopback_servers_in_one_browser_keep_their_own_sign_ins() {
    let a = Env::start().await;
    let b_env = Env::start().await;
    let (ha, hb) = (&a.h, &b_env.h);
    let port = |h: &Harness| url::Url::parse(&h.issuer).unwrap().port().unwrap();
    assert_ne!(port(ha), port(hb));
    let jar = browser();
    let page = jar.get(ha.url("/login")).send().await.unwrap();
    let set: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with(&format!("lk_csrf_{}=", port(ha)))),
        "{set:?}"
    );
    sign_in(ha, &jar).await;
    assert!(!signed_in(hb, &jar).await, "A's sign-in counted at B");
    sign_in(hb, &jar).await;
    assert!(
        signed_in(ha, &jar).await,
        "signing in to B signed the browser out of A"
    );
    assert!(signed_in(hb, &jar).await);
}
