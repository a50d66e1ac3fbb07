//! Security catalogue §1.1 (AZ): the authorization endpoint, sign-in and consent,
//! end to end against a real server on loopback.
//!
//! Conventions (catalogue §1): an "error page" is a 400 HTML page without `Location`;
//! a "redirect error" is a 302/303 to the registered redirect URI with `error`, the
//! `state` echoed byte for byte and `iss`. Every refused request is checked to have
//! created no code or token row and to have left a security audit event.
//!
//! AZ-25 (dynamically registered clients) has no test: dynamic client registration
//! is not built.

use latchkey_e2e::latchkey_core::manage::NewClient;
use latchkey_e2e::latchkey_core::model::{ClientType, GrantType};
use latchkey_e2e::*;

const ALICE: (&str, &str) = ("alice", "correct horse battery");
const BOB: (&str, &str) = latchkey_e2e::catalogue::BOB;
/// A state that survives only a byte-exact echo: non-ASCII, reserved and HTML characters.
const STATE: &str = "st-ü/+ &=?<b>\"'%20";

type Env = latchkey_e2e::catalogue::Catalogue;

async fn env() -> Env {
    Env::start().await
}

async fn env_on(h: Harness) -> Env {
    Env::on(h).await
}

/// A valid authorization request for `c` (openid + api, PKCE S256), in the usual order.
fn valid<'a>(c: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", c.id.as_str()),
        ("redirect_uri", c.redirect_uri.as_str()),
        ("scope", "openid api"),
        ("state", STATE),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// `base` with `key` set to `value` (added if absent) or removed (`None`).
fn with<'a>(
    base: &[(&'a str, &'a str)],
    key: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = base.iter().filter(|(k, _)| *k != key).cloned().collect();
    if let Some(v) = value {
        out.push((key, v));
    }
    out
}

/// Catalogue "error page": 400 HTML, no Location, nothing from the request echoed raw.
async fn assert_error_page(resp: reqwest::Response, what: &str) -> String {
    assert_eq!(resp.status(), 400, "{what}: status");
    assert!(
        location(&resp).is_none(),
        "{what}: an error page must not redirect"
    );
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/html"), "{what}: content type {ct}");
    let body = resp.text().await.expect("body");
    assert!(
        !body.contains("<script") && !body.contains("<b>"),
        "{what}: unescaped input in the page"
    );
    assert!(
        !body.contains("evil.test"),
        "{what}: the page must not link to the unregistered target"
    );
    body
}

/// Catalogue "redirect error": 302/303 to `redirect_uri` with `error`, state and iss.
fn assert_redirect_error(
    h: &Harness,
    resp: &reqwest::Response,
    redirect_uri: &str,
    error: &str,
) -> String {
    assert!(
        matches!(resp.status().as_u16(), 302 | 303),
        "expected a redirect error {error}, got {}",
        resp.status()
    );
    let loc = location(resp).expect("Location");
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    assert!(
        loc.starts_with(&format!("{redirect_uri}{sep}")),
        "redirected to {loc}, not {redirect_uri}"
    );
    assert_eq!(query_param(&loc, "error").as_deref(), Some(error), "{loc}");
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some(STATE),
        "state must be echoed byte-exact: {loc}"
    );
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some(h.issuer.as_str()),
        "{loc}"
    );
    assert!(query_param(&loc, "code").is_none(), "{loc}");
    loc
}

/// No code or token row exists, and `n` refusals were audited under `action_prefix`.
async fn assert_refused(h: &Harness, action_prefix: &str, n: usize) {
    assert_eq!(
        h.grant_rows().await.unwrap(),
        GrantRows::default(),
        "a refused request created rows"
    );
    let events = h.security_events(action_prefix).await.unwrap();
    assert_eq!(
        events.len(),
        n,
        "security events {action_prefix}*: {events:?}"
    );
}

async fn get(h: &Harness, params: &[(&str, &str)]) -> reqwest::Response {
    h.http()
        .get(h.authorize_url(params))
        .send()
        .await
        .expect("GET /authorize")
}

/// The request passed validation: the browser is sent on to sign in.
fn assert_sent_to_login(resp: &reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 303, "{what}");
    let loc = location(resp).unwrap_or_default();
    assert!(loc.starts_with("/login?req="), "{what}: {loc}");
}

#[tokio::test]
async fn az_01_an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let p = with(
        &valid(&c1, &ch),
        "redirect_uri",
        Some("https://evil.test/cb"),
    );
    assert_error_page(get(&h, &p).await, "unregistered redirect").await;
    // The same with an invalid scope on top: still a page, never a redirect to evil.test.
    let p = with(&p, "scope", Some("nonexistent"));
    assert_error_page(get(&h, &p).await, "unregistered redirect + bad scope").await;
    assert_refused(&h, "security.authorize_rejected", 2).await;
}

#[tokio::test]
async fn az_02_an_unknown_client_id_gets_an_error_page_and_no_redirect() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let p = with(&valid(&c1, &ch), "client_id", Some("unknown"));
    assert_error_page(get(&h, &p).await, "unknown client").await;
    let p = with(&p, "client_id", Some("<script>alert(1)</script>"));
    assert_error_page(get(&h, &p).await, "unknown client with markup").await;
    let p = with(&p, "client_id", None);
    assert_error_page(get(&h, &p).await, "no client_id").await;
    assert_refused(&h, "security.authorize_rejected.page", 3).await;
}

#[tokio::test]
async fn az_04_a_registered_redirect_uri_with_a_query_matches_only_byte_for_byte_and_keeps_its_query(
) {
    let Env { h, c1, .. } = env().await;
    let cq = h
        .confidential(
            &[GrantType::AuthorizationCode],
            "https://c1.test/cb?a=1",
            &["openid", "api"],
        )
        .await
        .unwrap();
    let (_, ch) = pkce();

    // Exactly the registered URI: success, and the response keeps a=1 in front.
    let loc = h
        .browser_authorize(
            &h.browser(),
            &h.authorize_url(&valid(&cq, &ch)),
            ALICE.0,
            ALICE.1,
        )
        .await
        .unwrap();
    assert!(loc.starts_with("https://c1.test/cb?a=1&code="), "{loc}");
    let u = url::Url::parse(&loc).unwrap();
    let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["a", "code", "state", "iss"], "{loc}");
    assert_eq!(query_param(&loc, "a").as_deref(), Some("1"));
    let before = h.grant_rows().await.unwrap();
    assert_eq!(before.codes, 1);

    // A different query value, and a query added to a URI registered without one.
    let p = with(
        &valid(&cq, &ch),
        "redirect_uri",
        Some("https://c1.test/cb?a=2"),
    );
    assert_error_page(get(&h, &p).await, "?a=2").await;
    let p = with(
        &valid(&c1, &ch),
        "redirect_uri",
        Some("https://c1.test/cb?a=1"),
    );
    assert_error_page(get(&h, &p).await, "query added").await;
    assert_eq!(h.grant_rows().await.unwrap(), before);
    assert_eq!(
        h.security_events("security.authorize_rejected.page")
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn az_05_a_loopback_redirect_of_a_native_client_may_change_only_the_port() {
    let Env { h, p1, .. } = env().await;
    let (_, ch) = pkce();

    let refused = [
        "http://127.0.0.1:54321/cb?x=1",
        "http://localhost:54321/cb",
        "http://[::1]:5/cb",
        "http://10.0.0.5:5/cb",
        "http://127.0.0.1:54321/cb/x",
        "http://127.0.0.1.evil.test/cb",
    ];
    for r in refused {
        let p = with(&valid(&p1, &ch), "redirect_uri", Some(r));
        assert_error_page(get(&h, &p).await, r).await;
    }
    assert_refused(&h, "security.authorize_rejected.page", refused.len()).await;

    // Any port on the registered loopback IP: success, to exactly the URI sent.
    let p = with(
        &valid(&p1, &ch),
        "redirect_uri",
        Some("http://127.0.0.1:54321/cb"),
    );
    let loc = h
        .browser_authorize(&h.browser(), &h.authorize_url(&p), ALICE.0, ALICE.1)
        .await
        .unwrap();
    assert!(loc.starts_with("http://127.0.0.1:54321/cb?code="), "{loc}");

    // [::1] with a port is fine once [::1] is what the client registered.
    let p6 = h
        .public(
            &[GrantType::AuthorizationCode],
            "http://[::1]/cb",
            &["openid", "api"],
        )
        .await
        .unwrap();
    let p = with(&valid(&p6, &ch), "redirect_uri", Some("http://[::1]:5/cb"));
    assert_sent_to_login(&get(&h, &p).await, "[::1] registered");
}

#[tokio::test]
async fn az_06_an_oidc_request_without_redirect_uri_for_a_client_with_two_uris_gets_an_error_page()
{
    let Env { h, .. } = env().await;
    let c3 = h
        .manager
        .client_create(
            "test",
            NewClient {
                name: "C3".into(),
                client_type: Some(ClientType::Confidential),
                grant_types: vec![GrantType::AuthorizationCode],
                redirect_uris: vec!["https://c3.test/a".into(), "https://c3.test/b".into()],
                allowed_scopes: vec!["openid".into(), "api".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client;
    let c3 = TestClient {
        id: c3.id,
        secret: None,
        redirect_uri: String::new(),
    };
    let (_, ch) = pkce();
    let p = with(&valid(&c3, &ch), "redirect_uri", None);
    assert_error_page(get(&h, &p).await, "OIDC, two URIs, none sent").await;
    let p = with(&p, "scope", Some("api"));
    assert_error_page(get(&h, &p).await, "OAuth, two URIs, none sent").await;
    assert_refused(&h, "security.authorize_rejected.page", 2).await;

    // One registered URI: plain OAuth may omit it (RFC 6749 §3.1.2.3), OIDC may not.
    let one = h
        .confidential(
            &[GrantType::AuthorizationCode],
            "https://one.test/cb",
            &["openid", "api"],
        )
        .await
        .unwrap();
    let p = with(
        &with(&valid(&one, &ch), "redirect_uri", None),
        "scope",
        Some("api"),
    );
    assert_sent_to_login(&get(&h, &p).await, "OAuth, one URI, none sent");
    let p = with(&valid(&one, &ch), "redirect_uri", None);
    assert_error_page(get(&h, &p).await, "OIDC, one URI, none sent").await;
}

#[tokio::test]
async fn az_07_a_request_without_response_type_gets_a_redirect_error_invalid_request() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let p = with(&valid(&c1, &ch), "response_type", None);
    assert_redirect_error(&h, &get(&h, &p).await, &c1.redirect_uri, "invalid_request");
    assert_refused(&h, "security.authorize_rejected.invalid_request", 1).await;
}

#[tokio::test]
async fn az_08_response_types_token_and_code_id_token_get_unsupported_response_type() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    for rt in ["token", "code id_token", "id_token", "code token"] {
        let p = with(&valid(&c1, &ch), "response_type", Some(rt));
        let resp = get(&h, &p).await;
        let loc = assert_redirect_error(&h, &resp, &c1.redirect_uri, "unsupported_response_type");
        assert!(!loc.contains('#'), "no fragment response: {loc}");
    }
    assert_refused(
        &h,
        "security.authorize_rejected.unsupported_response_type",
        4,
    )
    .await;
}

#[tokio::test]
async fn az_09_a_public_client_without_code_challenge_gets_invalid_request() {
    let Env { h, p1, .. } = env().await;
    let (_, ch) = pkce();
    let p = with(
        &with(&valid(&p1, &ch), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let resp = get(&h, &p).await;
    let loc = assert_redirect_error(&h, &resp, &p1.redirect_uri, "invalid_request");
    let desc = query_param(&loc, "error_description").unwrap_or_default();
    assert!(desc.contains("code_challenge required"), "{desc}");
    assert_refused(&h, "security.authorize_rejected.invalid_request", 1).await;
}

#[tokio::test]
async fn az_10_plain_and_malformed_pkce_challenges_get_invalid_request() {
    let Env { h, p1, .. } = env().await;
    let (_, ch) = pkce();
    let len42 = "a".repeat(42);
    let len129 = "a".repeat(129);
    let bad_chars = format!("{}+/=", "a".repeat(40));
    let cases: Vec<(&str, &str, &str)> = vec![
        ("plain", ch.as_str(), "method plain"),
        ("S256", len42.as_str(), "42 chars"),
        ("S256", len129.as_str(), "129 chars"),
        ("S256", bad_chars.as_str(), "+/= chars"),
        ("S512", ch.as_str(), "method S512"),
    ];
    for (method, challenge, what) in &cases {
        let p = with(
            &with(&valid(&p1, &ch), "code_challenge", Some(challenge)),
            "code_challenge_method",
            Some(method),
        );
        let resp = get(&h, &p).await;
        assert_eq!(
            query_param(
                &assert_redirect_error(&h, &resp, &p1.redirect_uri, "invalid_request"),
                "error"
            )
            .as_deref(),
            Some("invalid_request"),
            "{what}"
        );
    }
    // A challenge without any method defaults to plain (RFC 7636 §4.3): refused too.
    let p = with(&valid(&p1, &ch), "code_challenge_method", None);
    assert_redirect_error(&h, &get(&h, &p).await, &p1.redirect_uri, "invalid_request");
    assert_refused(
        &h,
        "security.authorize_rejected.invalid_request",
        cases.len() + 1,
    )
    .await;
}

#[tokio::test]
async fn az_11_an_unknown_scope_gets_a_redirect_error_invalid_scope() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let p = with(&valid(&c1, &ch), "scope", Some("openid unknown_scope"));
    assert_redirect_error(&h, &get(&h, &p).await, &c1.redirect_uri, "invalid_scope");
    // A scope that exists but is not allowed for the client is refused the same way.
    // `admin` exists (catalogue world) but C1 may not ask for it.
    let p = with(&valid(&c1, &ch), "scope", Some("openid admin"));
    assert_redirect_error(&h, &get(&h, &p).await, &c1.redirect_uri, "invalid_scope");
    assert_refused(&h, "security.authorize_rejected.invalid_scope", 2).await;
}

#[tokio::test]
async fn az_13_unknown_parameters_and_reordered_parameters_and_scopes_still_succeed() {
    let Env { h, c1, .. } = env().await;
    let (verifier, ch) = pkce();
    let p: Vec<(&str, &str)> = vec![
        ("state", STATE),
        ("extra", "foobar"),
        ("code_challenge_method", "S256"),
        ("scope", "api openid"),
        ("client_id", c1.id.as_str()),
        ("nonce", "n-1"),
        ("redirect_uri", c1.redirect_uri.as_str()),
        ("code_challenge", ch.as_str()),
        ("response_type", "code"),
    ];
    let loc = h
        .browser_authorize(&h.browser(), &h.authorize_url(&p), ALICE.0, ALICE.1)
        .await
        .unwrap();
    assert_eq!(query_param(&loc, "state").as_deref(), Some(STATE));
    assert!(
        query_param(&loc, "extra").is_none(),
        "the extra parameter is not echoed: {loc}"
    );
    let code = query_param(&loc, "code").expect("code");
    let r = h
        .post_basic(
            "/token",
            &c1,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &c1.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["id_token"].is_string());
    let mut granted: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    granted.sort();
    assert_eq!(granted, ["api", "openid"]);
}

#[tokio::test]
async fn az_14_an_authorization_request_sent_as_a_post_form_behaves_like_get() {
    let Env { h, c1, .. } = env().await;
    let (verifier, ch) = pkce();
    let b = h.browser();
    let resp = b
        .post(h.url("/authorize"))
        .form(&valid(&c1, &ch))
        .send()
        .await
        .unwrap();
    assert_sent_to_login(&resp, "POST authorize");
    let loc = h
        .browser_authorize(&b, &h.url(&location(&resp).unwrap()), ALICE.0, ALICE.1)
        .await
        .unwrap();
    assert_eq!(query_param(&loc, "state").as_deref(), Some(STATE));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(h.issuer.as_str()));
    let code = query_param(&loc, "code").expect("code");
    let r = h
        .post_basic(
            "/token",
            &c1,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &c1.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Errors are the same as for GET: a page for a bad redirect, a redirect otherwise.
    let bad = with(
        &valid(&c1, &ch),
        "redirect_uri",
        Some("https://evil.test/cb"),
    );
    let resp = h
        .http()
        .post(h.url("/authorize"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_error_page(resp, "POST, unregistered redirect").await;
    let missing = with(&valid(&c1, &ch), "response_type", None);
    let via_post = h
        .http()
        .post(h.url("/authorize"))
        .form(&missing)
        .send()
        .await
        .unwrap();
    let via_get = get(&h, &missing).await;
    let a = assert_redirect_error(&h, &via_post, &c1.redirect_uri, "invalid_request");
    let b2 = assert_redirect_error(&h, &via_get, &c1.redirect_uri, "invalid_request");
    assert_eq!(a, b2, "POST and GET give the same redirect");
}

#[tokio::test]
async fn az_16_success_and_error_redirects_carry_iss_and_metadata_announces_it() {
    let Env { h, c1, .. } = env().await;
    let meta: serde_json::Value = h
        .http()
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(meta["issuer"], h.issuer.as_str());

    let (_, ch) = pkce();
    let ok = h
        .browser_authorize(
            &h.browser(),
            &h.authorize_url(&valid(&c1, &ch)),
            ALICE.0,
            ALICE.1,
        )
        .await
        .unwrap();
    assert!(query_param(&ok, "code").is_some());
    assert_eq!(
        query_param(&ok, "iss").as_deref(),
        Some(h.issuer.as_str()),
        "{ok}"
    );

    for (k, v, err) in [
        ("scope", Some("openid unknown_scope"), "invalid_scope"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("code_challenge", None, "invalid_request"),
    ] {
        let p = with(&valid(&c1, &ch), k, v);
        assert_redirect_error(&h, &get(&h, &p).await, &c1.redirect_uri, err);
    }
}

#[tokio::test]
async fn az_17_prompt_none_gives_login_required_without_a_session_and_consent_required_without_consent(
) {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let b = h.browser();
    let p = with(&valid(&c1, &ch), "prompt", Some("none"));

    let resp = b.get(h.authorize_url(&p)).send().await.unwrap();
    assert_redirect_error(&h, &resp, &c1.redirect_uri, "login_required");

    let signed_in = h.sign_in(&b, ALICE.0, ALICE.1).await.unwrap();
    assert_eq!(signed_in.status(), 200);
    let resp = b.get(h.authorize_url(&p)).send().await.unwrap();
    assert_redirect_error(&h, &resp, &c1.redirect_uri, "consent_required");
    assert_eq!(h.grant_rows().await.unwrap(), GrantRows::default());

    // Once consent is on record, prompt=none succeeds silently.
    h.browser_authorize(&b, &h.authorize_url(&valid(&c1, &ch)), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let resp = b.get(h.authorize_url(&p)).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let loc = location(&resp).unwrap();
    assert!(loc.starts_with("https://c1.test/cb?code="), "{loc}");
}

/// Redeems `code` for C1 and returns the ID token's `auth_time`.
async fn auth_time_of(h: &Harness, c1: &TestClient, code: &str, verifier: &str) -> i64 {
    let r = h
        .post_basic(
            "/token",
            c1,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &c1.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = jwt_claims(body["id_token"].as_str().expect("id_token")).unwrap();
    claims["auth_time"].as_i64().expect("auth_time")
}

#[tokio::test]
async fn az_18_max_age_and_prompt_login_force_reauthentication_with_a_later_auth_time() {
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Env { h, c1, .. } = env_on(Harness::start_with_clock(t0).await.unwrap()).await;
    let clock = h.clock.clone().unwrap();
    let b = h.browser();

    // First sign-in (and consent).
    let (v1, ch1) = pkce();
    let loc = h
        .browser_authorize(&b, &h.authorize_url(&valid(&c1, &ch1)), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let first = auth_time_of(&h, &c1, &query_param(&loc, "code").unwrap(), &v1).await;
    assert_eq!(first, t0);

    // "Wait 2 s", then max_age=1: the live sign-in is too old, so the user signs in again.
    clock.advance(2);
    let (v2, ch2) = pkce();
    let url = h.authorize_url(&with(&valid(&c1, &ch2), "max_age", Some("1")));
    let resp = b.get(&url).send().await.unwrap();
    assert_sent_to_login(&resp, "max_age=1");
    let loc = h
        .browser_authorize(&b, &h.url(&location(&resp).unwrap()), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let second = auth_time_of(&h, &c1, &query_param(&loc, "code").unwrap(), &v2).await;
    assert!(
        second > first,
        "auth_time {second} must be later than {first}"
    );

    // Control: without max_age the same sign-in is reused, no login form.
    let (_, ch3) = pkce();
    let resp = b
        .get(h.authorize_url(&valid(&c1, &ch3)))
        .send()
        .await
        .unwrap();
    assert!(location(&resp)
        .unwrap()
        .starts_with("https://c1.test/cb?code="));

    // prompt=login forces a fresh sign-in even though the last one is recent.
    clock.advance(2);
    let (v4, ch4) = pkce();
    let url = h.authorize_url(&with(&valid(&c1, &ch4), "prompt", Some("login")));
    let resp = b.get(&url).send().await.unwrap();
    assert_sent_to_login(&resp, "prompt=login");
    let loc = h
        .browser_authorize(&b, &h.url(&location(&resp).unwrap()), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let third = auth_time_of(&h, &c1, &query_param(&loc, "code").unwrap(), &v4).await;
    assert!(
        third > second,
        "auth_time {third} must be later than {second}"
    );
}

#[tokio::test]
async fn az_19_denying_consent_redirects_access_denied_with_state_and_iss() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let b = h.browser();
    let (req, csrf) = h
        .consent_fields(&b, &h.authorize_url(&valid(&c1, &ch)), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let resp = b
        .post(h.url("/consent"))
        .form(&[
            ("req", req.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_redirect_error(&h, &resp, &c1.redirect_uri, "access_denied");
    assert_eq!(h.grant_rows().await.unwrap(), GrantRows::default());
    // The denial is final: the same form cannot be approved afterwards.
    let again = b
        .post(h.url("/consent"))
        .form(&[
            ("req", req.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(h.grant_rows().await.unwrap().codes, 0);
}

#[tokio::test]
async fn az_20_consent_posts_without_csrf_with_a_foreign_token_or_cross_site_are_refused_and_replays_fail(
) {
    // Bob is part of the catalogue world.
    let Env { h, c1, .. } = env().await;
    let (va, cha) = pkce();
    let (_, chb) = pkce();
    let alice = h.browser();
    let bob = h.browser();
    let (req_a, csrf_a) = h
        .consent_fields(
            &alice,
            &h.authorize_url(&valid(&c1, &cha)),
            ALICE.0,
            ALICE.1,
        )
        .await
        .unwrap();
    let (req_b, csrf_b) = h
        .consent_fields(&bob, &h.authorize_url(&valid(&c1, &chb)), BOB.0, BOB.1)
        .await
        .unwrap();
    assert_ne!(csrf_a, csrf_b);

    let post = |b: &reqwest::Client, req: &str, csrf: Option<&str>, origin: Option<&str>| {
        let mut form = vec![
            ("req", req.to_string()),
            ("decision", "approve".to_string()),
        ];
        if let Some(c) = csrf {
            form.push(("csrf", c.to_string()));
        }
        let mut r = b.post(h.url("/consent")).form(&form);
        if let Some(o) = origin {
            r = r.header("Origin", o.to_string());
        }
        r.send()
    };

    // (a) no CSRF token, or an empty one.
    let r = post(&alice, &req_a, None, None).await.unwrap();
    assert_eq!(r.status(), 403, "(a) no token");
    let r = post(&alice, &req_a, Some(""), None).await.unwrap();
    assert_eq!(r.status(), 403, "(a) empty token");
    // (b) a token minted in another user's session: with Bob's own request, and with
    // Alice's request replayed from Bob's session.
    let r = post(&bob, &req_b, Some(&csrf_a), None).await.unwrap();
    assert_eq!(r.status(), 403, "(b) Alice's token on Bob's request");
    let r = post(&bob, &req_a, Some(&csrf_a), None).await.unwrap();
    assert_eq!(r.status(), 403, "(b) Alice's request in Bob's session");
    // A token of another request of the same session does not fit either.
    let (_, ch_a2) = pkce();
    let (req_a2, csrf_a2) = h
        .consent_fields(
            &alice,
            &h.authorize_url(&valid(&c1, &ch_a2)),
            ALICE.0,
            ALICE.1,
        )
        .await
        .unwrap();
    assert_ne!(req_a2, req_a);
    let r = post(&alice, &req_a, Some(&csrf_a2), None).await.unwrap();
    assert_eq!(r.status(), 403, "token of another request");
    // (c) cross-site.
    let r = post(&alice, &req_a, Some(&csrf_a), Some("https://evil.test"))
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "(c) cross-site Origin");
    let r = post(&alice, &req_a, Some(&csrf_a), Some("null"))
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "(c) opaque Origin");
    assert_refused(&h, "security.consent_rejected", 7).await;

    // The genuine submission (same-origin) still works, exactly once.
    let ok = post(&alice, &req_a, Some(&csrf_a), Some(&h.issuer))
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let loc = location(&ok).unwrap();
    let code = query_param(&loc, "code").expect("code");
    // (d) replay: 400, nothing new issued.
    let again = post(&alice, &req_a, Some(&csrf_a), Some(&h.issuer))
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "(d) replay");
    assert_eq!(h.grant_rows().await.unwrap().codes, 1);
    assert_eq!(
        h.security_events("security.consent_rejected")
            .await
            .unwrap()
            .len(),
        8
    );

    // The code is bound to the challenge of Alice's request.
    let r = h
        .post_basic(
            "/token",
            &c1,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &c1.redirect_uri),
                ("code_verifier", &va),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = jwt_claims(body["access_token"].as_str().unwrap()).unwrap();
    let alice_id = h.store.user_by_username("alice").await.unwrap().unwrap().id;
    assert_eq!(claims["sub"], alice_id.as_str());
}

/// AZ-21 headers on one HTML response.
fn assert_page_headers(resp: &reqwest::Response, what: &str) {
    let hd = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = hd("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(
        !csp.contains("http:") && !csp.contains("https:") && !csp.contains('*'),
        "{what}: CSP allows other hosts: {csp}"
    );
    assert_eq!(hd("x-frame-options"), "DENY", "{what}");
    assert_eq!(hd("referrer-policy"), "no-referrer", "{what}");
    assert!(hd("cache-control").contains("no-store"), "{what}");
}

async fn assert_page(resp: reqwest::Response, status: u16, what: &str) {
    assert_eq!(resp.status(), status, "{what}");
    assert_page_headers(&resp, what);
    let body = resp.text().await.unwrap();
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "action=\"http",
        "<script",
    ] {
        assert!(
            !body.contains(attr),
            "{what}: third-party or script reference {attr}"
        );
    }
}

#[tokio::test]
async fn az_21_authorization_login_consent_device_and_error_pages_forbid_framing_caching_and_referrers(
) {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let b = h.browser();

    // The authorization redirect itself and the error page.
    let resp = b
        .get(h.authorize_url(&valid(&c1, &ch)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_page_headers(&resp, "authorize redirect");
    let login_path = location(&resp).unwrap();
    let bad = with(&valid(&c1, &ch), "client_id", Some("unknown"));
    assert_page(
        h.http().get(h.authorize_url(&bad)).send().await.unwrap(),
        400,
        "authorize error page",
    )
    .await;

    // Login (form, and after a wrong password).
    assert_page(
        b.get(h.url(&login_path)).send().await.unwrap(),
        200,
        "login page",
    )
    .await;
    let wrong = h
        .sign_in(&h.browser(), ALICE.0, "wrong password")
        .await
        .unwrap();
    assert_page(wrong, 200, "login page after a wrong password").await;

    // Consent.
    let (req, _) = h
        .consent_fields(&b, &h.authorize_url(&valid(&c1, &ch)), ALICE.0, ALICE.1)
        .await
        .unwrap();
    let consent = b
        .get(h.url(&format!("/consent?req={req}")))
        .send()
        .await
        .unwrap();
    assert_page(consent, 200, "consent page").await;
    assert_page(
        b.get(h.url("/consent")).send().await.unwrap(),
        400,
        "consent error page",
    )
    .await;

    // Device verification (signed in, and not).
    assert_page(
        b.get(h.url("/device")).send().await.unwrap(),
        200,
        "device page",
    )
    .await;
    let resp = h
        .http()
        .get(h.url("/device?user_code=ABCD-EFGH"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_page_headers(&resp, "device redirect to login");
}

#[tokio::test]
async fn az_22_the_authorization_endpoint_sends_no_cors_headers() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let url = h.authorize_url(&valid(&c1, &ch));
    let preflight = h
        .http()
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://c1.test")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    let get_ok = h
        .http()
        .get(&url)
        .header("Origin", "https://c1.test")
        .send()
        .await
        .unwrap();
    let bad = with(&valid(&c1, &ch), "scope", Some("unknown_scope"));
    let get_err = h
        .http()
        .get(h.authorize_url(&bad))
        .header("Origin", "https://c1.test")
        .send()
        .await
        .unwrap();
    for (what, r) in [
        ("OPTIONS", &preflight),
        ("GET", &get_ok),
        ("GET error", &get_err),
    ] {
        assert!(!r.status().is_server_error(), "{what}");
        for hname in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "access-control-allow-methods",
        ] {
            assert!(r.headers().get(hname).is_none(), "{what}: {hname} present");
        }
    }
}

#[tokio::test]
async fn az_23_the_login_form_post_answers_303_never_307_or_308() {
    let Env { h, c1, .. } = env().await;
    let (_, ch) = pkce();
    let b = h.browser();
    let resp = b
        .get(h.authorize_url(&valid(&c1, &ch)))
        .send()
        .await
        .unwrap();
    let login = location(&resp).unwrap();
    let page = b
        .get(h.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_field(&page, "csrf").unwrap();
    let req = hidden_field(&page, "req").unwrap();

    // A wrong password re-shows the form; it is not a redirect at all.
    let wrong = b
        .post(h.url("/login"))
        .form(&[
            ("username", ALICE.0),
            ("password", "nope"),
            ("csrf", &csrf),
            ("req", &req),
        ])
        .send()
        .await
        .unwrap();
    assert!(!matches!(wrong.status().as_u16(), 307 | 308));
    let page = wrong.text().await.unwrap();
    let csrf = hidden_field(&page, "csrf").unwrap();

    // The right password: 303 to the consent page (a 307 would re-POST the password).
    let ok = b
        .post(h.url("/login"))
        .form(&[
            ("username", ALICE.0),
            ("password", ALICE.1),
            ("csrf", &csrf),
            ("req", &req),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let consent = location(&ok).unwrap();
    assert!(consent.starts_with("/consent?req="), "{consent}");

    // The consent POST answers 303 too.
    let page = b
        .get(h.url(&consent))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(h.url("/consent"))
        .form(&[
            ("req", hidden_field(&page, "req").unwrap().as_str()),
            ("csrf", hidden_field(&page, "csrf").unwrap().as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}
