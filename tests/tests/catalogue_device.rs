//! Catalogue §1.6 DV: the Device Authorization Grant (RFC 8628), end to end: the
//! device's requests to `/device_authorization` and `/token`, and the user's
//! verification page in a real (cookie-keeping) HTTP client. The ten parallel polls of
//! DV-05 are in `concurrency.rs`.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::ClientUpdate;
use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::{hidden_field, Harness, TestClient};
use std::collections::HashSet;

const USER: (&str, &str) = ("alice", "correct horse battery");
const T0: i64 = 1_700_000_000;
const TV_NAME: &str = "Living Room TV";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

struct World {
    h: Harness,
    /// A public device client (`none`).
    tv: TestClient,
    /// Two confidential clients allowed to use the device grant.
    c1: TestClient,
    c2: TestClient,
}

async fn world_on(h: Harness) -> World {
    h.user(USER.0, USER.1).await.expect("user");
    h.scope("api", "Read the demo API").await.expect("scope");
    let tv = h
        .public(
            &[GrantType::DeviceCode, GrantType::RefreshToken],
            "",
            &["openid", "profile", "api"],
        )
        .await
        .expect("tv");
    h.manager
        .client_update(
            "test",
            &tv.id,
            ClientUpdate {
                name: Some(TV_NAME.into()),
                ..Default::default()
            },
        )
        .await
        .expect("rename");
    let grants = [GrantType::DeviceCode, GrantType::RefreshToken];
    let c1 = h
        .confidential(&grants, "", &["openid", "api"])
        .await
        .expect("C1");
    let c2 = h
        .confidential(&grants, "", &["openid", "api"])
        .await
        .expect("C2");
    World { h, tv, c1, c2 }
}

async fn world() -> World {
    world_on(Harness::start().await.expect("server")).await
}

async fn clock_world() -> World {
    world_on(Harness::start_with_clock(T0).await.expect("server")).await
}

fn advance(h: &Harness, secs: i64) {
    h.clock.as_ref().expect("fixed clock").advance(secs);
}

/// (device_code, user_code) of a fresh device authorization.
async fn start(h: &Harness, client: &TestClient, scope: &str) -> (String, String) {
    let r = device_start(h, client, scope)
        .await
        .expect("device authorization");
    assert_eq!(r.status, 200, "{}", r.text);
    (r.must("device_code"), r.must("user_code"))
}

/// The verification page refused a decision on a code that is no longer pending: it
/// treats it like any unknown code (no oracle for used or expired codes).
fn assert_not_decided(r: &Reply) {
    assert!(
        r.status == 200 || r.status == 400 || r.status == 429,
        "{}",
        r.status
    );
    assert!(
        !r.text.contains("Device connected"),
        "nothing approved: {}",
        r.text
    );
    assert!(
        r.text.contains("not valid") || r.text.contains("already used"),
        "{}",
        r.text
    );
}

/// The request is still waiting for the user (`slow_down` is a pending answer too).
fn assert_pending(r: &Reply) {
    let code = r.error().unwrap_or_default().to_string();
    assert!(
        code == "authorization_pending" || code == "slow_down",
        "{}",
        r.text
    );
    assert_oauth_error(r, 400, &code);
}

/// AZ-21 headers on an HTML response of the verification flow.
fn assert_page_headers(r: &Reply, what: &str) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(
        !csp.contains("http:") && !csp.contains("https:"),
        "{what}: no third-party hosts in {csp:?}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    let body = r.text.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "<script",
    ] {
        assert!(
            !body.contains(bad),
            "{what}: no third-party or script content ({bad})"
        );
    }
}

#[tokio::test]
async fn dv_01_device_authorization_returns_codes_uris_lifetime_and_interval_with_a_strong_case_insensitive_user_code(
) {
    let World { h, tv, .. } = world().await;
    let r = device_start(&h, &tv, "openid api").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let verification = h.url("/device");
    assert_eq!(r.str("verification_uri"), Some(verification.as_str()));
    let user_code = r.must("user_code");
    let complete = r.must("verification_uri_complete");
    assert!(
        complete.starts_with(&verification) && complete.contains(&user_code),
        "{complete}"
    );
    assert!(
        r.must("device_code").len() >= 32,
        "an unguessable device code"
    );
    assert!(r.json["expires_in"].as_i64().is_some_and(|e| e > 0));
    assert_eq!(r.json["interval"].as_i64(), Some(5));

    // 8 characters from 20 consonants: 20^8 codes; no vowels, digits or look-alikes.
    let mut seen = HashSet::new();
    let mut codes = HashSet::new();
    for _ in 0..40 {
        let (_, code) = start(&h, &tv, "api").await;
        let bare: String = code.chars().filter(|c| *c != '-').collect();
        assert_eq!(bare.len(), 8, "{code}");
        for c in bare.chars() {
            assert!(ALPHABET.contains(c), "{c} in {code}");
            assert!(
                !"AEIOUY0123456789".contains(c),
                "no vowels or digits: {code}"
            );
            seen.insert(c);
        }
        codes.insert(bare);
    }
    assert_eq!(codes.len(), 40, "codes do not repeat");
    assert_eq!(
        seen.len(),
        20,
        "the whole 20-letter alphabet is used: {seen:?}"
    );

    // Case-insensitive, separators optional: the lowercase code with a space finds it.
    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    let loose = user_code.to_lowercase().replace('-', " ");
    let page = device_form(
        &h,
        &b,
        &[("user_code", loose.as_str()), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(TV_NAME),
        "the lowercase code is accepted: {}",
        page.text
    );
    let done = device_decide(&h, &b, &csrf, &user_code.to_lowercase(), "approve")
        .await
        .unwrap();
    assert_eq!(done.status, 200, "{}", done.text);
}

#[tokio::test]
async fn dv_02_polling_before_the_user_approves_is_authorization_pending() {
    let World { h, tv, c1, .. } = world().await;
    for client in [&tv, &c1] {
        let (device_code, _) = start(&h, client, "openid api").await;
        let r = device_poll(&h, client, &device_code).await.unwrap();
        assert_oauth_error(&r, 400, "authorization_pending");
        assert_eq!(token_rows(&h, &client.id).await.unwrap(), (0, 0, 0));
    }
}

#[tokio::test]
async fn dv_03_polling_twice_within_the_interval_is_slow_down_and_widens_the_interval_by_five_seconds(
) {
    let World { h, tv, .. } = clock_world().await;

    // A: pending, then too fast → slow_down; waiting the widened 10 s is fine again.
    let (a, _) = start(&h, &tv, "api").await;
    assert_oauth_error(
        &device_poll(&h, &tv, &a).await.unwrap(),
        400,
        "authorization_pending",
    );
    advance(&h, 1);
    assert_oauth_error(&device_poll(&h, &tv, &a).await.unwrap(), 400, "slow_down");
    advance(&h, 10);
    assert_oauth_error(
        &device_poll(&h, &tv, &a).await.unwrap(),
        400,
        "authorization_pending",
    );

    // B: after a slow_down the old 5 s interval is no longer enough.
    let (b, _) = start(&h, &tv, "api").await;
    assert_oauth_error(
        &device_poll(&h, &tv, &b).await.unwrap(),
        400,
        "authorization_pending",
    );
    advance(&h, 1);
    assert_oauth_error(&device_poll(&h, &tv, &b).await.unwrap(), 400, "slow_down");
    advance(&h, 6);
    assert_oauth_error(&device_poll(&h, &tv, &b).await.unwrap(), 400, "slow_down");
    assert_eq!(token_rows(&h, &tv.id).await.unwrap(), (0, 0, 0));
}

#[tokio::test]
async fn dv_04_a_denied_request_polls_access_denied_and_an_expired_one_polls_expired_token() {
    let World { h, tv, .. } = clock_world().await;

    let (denied, user_code) = start(&h, &tv, "openid api").await;
    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    let r = device_decide(&h, &b, &csrf, &user_code, "deny")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let poll = device_poll(&h, &tv, &denied).await.unwrap();
    assert_oauth_error(&poll, 400, "access_denied");
    // A denial is final: approving afterwards is refused.
    let late = device_decide(&h, &b, &csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_not_decided(&late);
    assert_oauth_error(
        &device_poll(&h, &tv, &denied).await.unwrap(),
        400,
        "access_denied",
    );

    let (expired, user_code) = start(&h, &tv, "openid api").await;
    let lifetime = device_start(&h, &tv, "api").await.unwrap().json["expires_in"]
        .as_i64()
        .unwrap();
    advance(&h, lifetime + 1);
    assert_oauth_error(
        &device_poll(&h, &tv, &expired).await.unwrap(),
        400,
        "expired_token",
    );
    // Nor can it be approved any more.
    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    let r = device_decide(&h, &b, &csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_not_decided(&r);
    assert_oauth_error(
        &device_poll(&h, &tv, &expired).await.unwrap(),
        400,
        "expired_token",
    );
    assert_eq!(token_rows(&h, &tv.id).await.unwrap(), (0, 0, 0));
}

#[tokio::test]
async fn dv_05_a_device_code_yields_tokens_once_and_a_poll_after_success_is_invalid_grant() {
    let World { h, tv, .. } = world().await;
    let (device_code, user_code) = start(&h, &tv, "openid api").await;
    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    assert_eq!(
        device_decide(&h, &b, &csrf, &user_code, "approve")
            .await
            .unwrap()
            .status,
        200
    );

    let ok = device_poll(&h, &tv, &device_code).await.unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let at = ok.must("access_token");
    assert!(ok.str("refresh_token").is_some() && ok.str("id_token").is_some());
    assert_eq!(ok.str("scope"), Some("openid api"));

    let again = device_poll(&h, &tv, &device_code).await.unwrap();
    assert_oauth_error(&again, 400, "invalid_grant");
    assert_eq!(
        token_rows(&h, &tv.id).await.unwrap().0,
        1,
        "one session, from the one success"
    );
    // The approval is not re-usable either.
    assert_not_decided(
        &device_decide(&h, &b, &csrf, &user_code, "approve")
            .await
            .unwrap(),
    );
    let intro = h.introspect(&h_rs(&h).await, &at).await.unwrap();
    assert_eq!(intro["active"], true);
}

/// A resource server for introspection.
async fn h_rs(h: &Harness) -> TestClient {
    h.confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .expect("resource server")
}

#[tokio::test]
async fn dv_06_another_client_polling_with_a_device_code_gets_invalid_grant() {
    let World { h, c1, c2, .. } = world().await;
    let (device_code, user_code) = start(&h, &c1, "openid api").await;

    let r = device_poll(&h, &c2, &device_code).await.unwrap();
    assert_oauth_error(&r, 400, "invalid_grant");
    // The owner's request is untouched.
    assert_pending(&device_poll(&h, &c1, &device_code).await.unwrap());

    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    assert_eq!(
        device_decide(&h, &b, &csrf, &user_code, "approve")
            .await
            .unwrap()
            .status,
        200
    );
    let r = device_poll(&h, &c2, &device_code).await.unwrap();
    assert_oauth_error(&r, 400, "invalid_grant");
    assert_eq!(
        token_rows(&h, &c2.id).await.unwrap(),
        (0, 0, 0),
        "nothing issued to C2"
    );
    let ok = device_poll(&h, &c1, &device_code).await.unwrap();
    assert_eq!(
        ok.status, 200,
        "the owner still gets its tokens: {}",
        ok.text
    );
}

#[tokio::test]
async fn dv_07_a_sixth_wrong_user_code_within_a_minute_is_refused_with_429() {
    let World { h, tv, .. } = world().await;
    let (device_code, user_code) = start(&h, &tv, "api").await;
    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    let wrong = [
        "BCDF-GHJK",
        "LMNP-QRST",
        "VWXZ-BCDF",
        "GHJK-LMNP",
        "QRST-VWXZ",
    ];
    for code in wrong.iter().filter(|c| **c != user_code) {
        let r = device_form(&h, &b, &[("user_code", code), ("csrf", csrf.as_str())])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "attempt with {code}");
        assert!(
            r.text.contains("not valid"),
            "the page says the code is wrong"
        );
    }
    let sixth = device_form(
        &h,
        &b,
        &[("user_code", "ZZZZ-ZZZZ"), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(sixth.status, 429, "{}", sixth.text);
    assert!(sixth
        .header("retry-after")
        .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)));
    // While blocked, even the right code is not looked up, from this browser or
    // another one on the same address.
    let blocked = device_decide(&h, &b, &csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_eq!(blocked.status, 429);
    let (other, other_csrf) = device_browser(&h, USER).await.unwrap();
    let blocked = device_form(
        &h,
        &other,
        &[
            ("user_code", user_code.as_str()),
            ("csrf", other_csrf.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(blocked.status, 429);
    assert_pending(&device_poll(&h, &tv, &device_code).await.unwrap());
    let events = security_events(&h, "security.device_code.wrong_user_code")
        .await
        .unwrap();
    assert!(
        events.len() >= 5,
        "wrong codes are security events: {}",
        events.len()
    );
}

#[tokio::test]
async fn dv_07_the_verification_page_names_the_client_and_scopes_and_needs_a_csrf_token_and_explicit_confirmation(
) {
    let World { h, tv, .. } = world().await;
    let (device_code, user_code) = start(&h, &tv, "openid profile api").await;
    let (b, csrf) = device_browser(&h, USER).await.unwrap();

    // Without (or with a foreign) CSRF token: refused, nothing looked up or decided.
    for form in [
        vec![("user_code", user_code.as_str())],
        vec![("user_code", user_code.as_str()), ("decision", "approve")],
        vec![
            ("user_code", user_code.as_str()),
            ("csrf", "forged"),
            ("decision", "approve"),
        ],
    ] {
        let r = device_form(&h, &b, &form).await.unwrap();
        assert_eq!(r.status, 403, "{form:?}");
        assert!(!r.text.contains(TV_NAME));
    }
    // A token from another user's session does not work here either.
    h.user("mallory", "mallory's own password").await.unwrap();
    let (_, mallory_csrf) = device_browser(&h, ("mallory", "mallory's own password"))
        .await
        .unwrap();
    let r = device_decide(&h, &b, &mallory_csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    // Cross-site form posts are refused even with the right token.
    let r = Reply::read(
        b.post(h.url("/device"))
            .header("origin", "https://evil.test")
            .form(&[
                ("user_code", user_code.as_str()),
                ("csrf", csrf.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert_pending(&device_poll(&h, &tv, &device_code).await.unwrap());

    // Following verification_uri_complete only pre-fills the code: nothing is decided.
    let prefilled = Reply::read(
        b.get(h.url(&format!("/device?user_code={user_code}")))
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(prefilled.status, 200);
    assert!(prefilled.text.contains(&user_code) && !prefilled.text.contains("value=\"approve\""));
    assert_pending(&device_poll(&h, &tv, &device_code).await.unwrap());

    // Entering the code shows who asks for what, and decides nothing yet.
    let page = device_form(
        &h,
        &b,
        &[("user_code", user_code.as_str()), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.text.contains(TV_NAME), "names the client");
    for s in ["openid", "profile", "api", "Read the demo API"] {
        assert!(page.text.contains(s), "lists scope {s}");
    }
    assert!(
        page.text.contains("name=\"decision\" value=\"approve\""),
        "asks for confirmation"
    );
    assert_eq!(
        hidden_field(&page.text, "csrf").as_deref(),
        Some(csrf.as_str())
    );
    assert_pending(&device_poll(&h, &tv, &device_code).await.unwrap());

    assert_eq!(
        device_decide(&h, &b, &csrf, &user_code, "approve")
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        device_poll(&h, &tv, &device_code).await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn dv_08_every_verification_page_denies_framing_referrers_and_caching() {
    let World { h, tv, .. } = world().await;
    let (_, user_code) = start(&h, &tv, "api").await;

    let anonymous = h.browser();
    let r = Reply::read(
        anonymous
            .get(h.url(&format!("/device?user_code={user_code}")))
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 303, "not signed in: sent to the login page");
    assert_page_headers(&r, "redirect to login");
    let r = Reply::read(
        anonymous
            .post(h.url("/device"))
            .form(&[("user_code", user_code.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert_page_headers(&r, "POST without a sign-in");

    let (b, csrf) = device_browser(&h, USER).await.unwrap();
    let entry = Reply::read(b.get(h.url("/device")).send().await.unwrap())
        .await
        .unwrap();
    assert_eq!(entry.status, 200);
    assert_page_headers(&entry, "code entry page");
    let confirm = device_form(
        &h,
        &b,
        &[("user_code", user_code.as_str()), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(confirm.status, 200);
    assert_page_headers(&confirm, "confirmation page");
    let forged = device_form(&h, &b, &[("user_code", user_code.as_str()), ("csrf", "x")])
        .await
        .unwrap();
    assert_eq!(forged.status, 403);
    assert_page_headers(&forged, "CSRF error page");
    let wrong = device_form(
        &h,
        &b,
        &[("user_code", "BBBB-BBBB"), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_page_headers(&wrong, "wrong code page");
    let done = device_decide(&h, &b, &csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_eq!(done.status, 200);
    assert_page_headers(&done, "result page");
    let again = device_decide(&h, &b, &csrf, &user_code, "approve")
        .await
        .unwrap();
    assert_page_headers(&again, "already-used page");
}
