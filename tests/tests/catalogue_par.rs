//! Pushed authorization requests (RFC 9126), end to end: the client's push to `/par`
//! over the back channel, the browser's `/authorize` with `client_id` + `request_uri`
//! through the real login and consent forms, and the code at `/token` — the refusals
//! first (catalogue §1.3 CA for the PAR endpoint's client authentication, F-12 for
//! single use, whose race is in the store suite on both backends).

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::ClientUpdate;
use latchkey_e2e::latchkey_core::model::{AuthMethod, ClientType, GrantType};
use latchkey_e2e::latchkey_core::oauth::authorize::AuthorizeError;
use latchkey_e2e::latchkey_core::oauth::par::{request_uri_hash, REQUEST_URI_PREFIX};
use latchkey_e2e::latchkey_core::oauth::{Config, Provider};
use latchkey_e2e::{pkce, query_param, Harness, TestClient};
use std::collections::HashMap;
use std::sync::Arc;

const USER: (&str, &str) = ("alice", "correct horse battery");
const T0: i64 = 1_700_000_000;
const SCOPE: &str = "openid api";

struct World {
    h: Harness,
    /// Two confidential clients (`client_secret_basic`).
    c1: TestClient,
    c2: TestClient,
    /// A public client (`none`).
    p1: TestClient,
}

async fn world_on(h: Harness) -> World {
    h.user(USER.0, USER.1).await.expect("user");
    h.scope("api", "Read the demo API").await.expect("scope");
    let grants = [GrantType::AuthorizationCode, GrantType::RefreshToken];
    let scopes = ["openid", "profile", "api"];
    let c1 = h
        .confidential(&grants, "https://c1.test/cb", &scopes)
        .await
        .expect("c1");
    let c2 = h
        .confidential(&grants, "https://c2.test/cb", &scopes)
        .await
        .expect("c2");
    let p1 = h
        .public(&grants, "https://p1.test/cb", &scopes)
        .await
        .expect("p1");
    World { h, c1, c2, p1 }
}

async fn world() -> World {
    world_on(Harness::start().await.expect("server")).await
}

/// The parameters a client pushes (its authorization request), with `challenge`.
fn request<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", SCOPE),
        ("state", "st-par"),
        ("nonce", "n-par"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Pushes `form` as `client` (Basic with a secret, else `client_id` in the body).
async fn push(h: &Harness, client: &TestClient, form: &[(&str, &str)]) -> Reply {
    post_form(h, "/par", Some(client), form)
        .await
        .expect("push")
}

/// A successful push: the `request_uri` and the PKCE verifier that goes with it.
async fn pushed(h: &Harness, client: &TestClient) -> (String, String) {
    let (verifier, challenge) = pkce();
    let r = push(h, client, &request(client, &challenge)).await;
    assert_eq!(r.status, 201, "push: {}", r.text);
    (r.must("request_uri"), verifier)
}

fn authorize_with(h: &Harness, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&h.url("/authorize")).expect("issuer is a URL");
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    u.to_string()
}

/// GET `/authorize` in a fresh browser: (status, body).
async fn view(h: &Harness, url: &str) -> (u16, String) {
    let r = h.browser().get(url).send().await.expect("authorize");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

fn assert_request_uri_refused(status: u16, body: &str) {
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("request_uri"), "says why: {body}");
}

// --- the PAR endpoint's refusals -------------------------------------------------------

#[tokio::test]
async fn a_get_on_the_par_endpoint_is_refused_with_405() {
    let w = world().await;
    let r = w.h.http().get(w.h.url("/par")).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn a_push_without_or_with_wrong_client_authentication_is_refused_with_invalid_client() {
    let w = world().await;
    let (_, challenge) = pkce();
    let mut form = request(&w.c1, &challenge);
    form.push(("client_id", w.c1.id.as_str()));
    let none = post_form(&w.h, "/par", None, &form).await.expect("push");
    assert_oauth_error(&none, 401, "invalid_client");
    let wrong = TestClient {
        secret: Some("not-the-secret".into()),
        ..w.c1.clone()
    };
    let r = push(&w.h, &wrong, &request(&w.c1, &challenge)).await;
    assert_oauth_error(&r, 401, "invalid_client");
    assert!(r.header("www-authenticate").is_some());
}

#[tokio::test]
async fn a_push_containing_a_request_uri_is_refused() {
    let w = world().await;
    let (first, _) = pushed(&w.h, &w.c1).await;
    let (_, challenge) = pkce();
    let mut form = request(&w.c1, &challenge);
    form.push(("request_uri", first.as_str()));
    assert_oauth_error(&push(&w.h, &w.c1, &form).await, 400, "invalid_request");
}

#[tokio::test]
async fn a_push_is_validated_as_authorize_would_validate_it() {
    let w = world().await;
    let (_, challenge) = pkce();
    let base = request(&w.c1, &challenge);
    let with = |k: &'static str, v: &'static str| -> Vec<(&str, &str)> {
        let mut f: Vec<(&str, &str)> = base.iter().filter(|(n, _)| *n != k).copied().collect();
        if !v.is_empty() {
            f.push((k, v));
        }
        f
    };
    // PKCE S256 required (par-ensure-pkce-required, par-plain-pkce-rejected).
    let r = push(&w.h, &w.c1, &with("code_challenge", "")).await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = push(&w.h, &w.c1, &with("code_challenge_method", "plain")).await;
    assert_oauth_error(&r, 400, "invalid_request");
    // Redirect URIs match exactly, at push time too (BCP-01).
    let r = push(&w.h, &w.c1, &with("redirect_uri", "https://evil.test/cb")).await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = push(&w.h, &w.c1, &with("response_type", "token")).await;
    assert_oauth_error(&r, 400, "unsupported_response_type");
    let r = push(&w.h, &w.c1, &with("scope", "openid latchkey:admin")).await;
    assert_oauth_error(&r, 400, "invalid_scope");
    let r = push(&w.h, &w.c1, &with("request", "eyJhbGciOiJub25lIn0.e30.")).await;
    assert_oauth_error(&r, 400, "invalid_request");
    // The body's client_id names the authenticated client, no other.
    let mut other = base.clone();
    other.push(("client_id", w.c2.id.as_str()));
    let r = push(&w.h, &w.c1, &other).await;
    assert_oauth_error(&r, 400, "invalid_request");
    // A repeated parameter is refused before anything is stored.
    let mut twice = base.clone();
    twice.push(("scope", "openid"));
    assert_oauth_error(&push(&w.h, &w.c1, &twice).await, 400, "invalid_request");
}

// --- the request_uri at /authorize: refusals ---------------------------------------------

#[tokio::test]
async fn an_expired_request_uri_is_refused_at_authorize() {
    let w = world_on(Harness::start_with_clock(T0).await.expect("server")).await;
    let r = {
        let (_, challenge) = pkce();
        push(&w.h, &w.c1, &request(&w.c1, &challenge)).await
    };
    assert_eq!(r.status, 201, "{}", r.text);
    let expires_in = r.json["expires_in"].as_i64().expect("expires_in");
    assert!(
        (10..=600).contains(&expires_in),
        "short-lived: {expires_in}"
    );
    let url = authorize_with(&w.h, &w.c1.id, &r.must("request_uri"));
    let clock = w.h.clock.as_ref().expect("fixed clock");
    clock.advance(expires_in - 1);
    let (status, _) = view(&w.h, &url).await;
    assert_eq!(status, 303, "still good one second before expiry");
    clock.advance(1);
    let (status, body) = view(&w.h, &url).await;
    assert_request_uri_refused(status, &body);
}

#[tokio::test]
async fn a_reused_request_uri_is_refused_once_the_authorization_completed() {
    let w = world().await;
    let (request_uri, verifier) = pushed(&w.h, &w.c1).await;
    let url = authorize_with(&w.h, &w.c1.id, &request_uri);
    let loc =
        w.h.browser_authorize(&w.h.browser(), &url, USER.0, USER.1)
            .await
            .expect("first completion");
    let code = query_param(&loc, "code").expect("code");
    let (status, body) = view(&w.h, &url).await;
    assert_request_uri_refused(status, &body);
    // A browser already signed in is refused too, not handed a second code.
    let again =
        w.h.browser_authorize(&w.h.browser(), &url, USER.0, USER.1)
            .await;
    assert!(again.is_err(), "no second code: {again:?}");
    let tokens = redeem(&w.h, &w.c1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

#[tokio::test]
async fn another_clients_request_uri_is_refused_and_stays_good_for_its_own_client() {
    let w = world().await;
    let (request_uri, verifier) = pushed(&w.h, &w.c1).await;
    let (status, body) = view(&w.h, &authorize_with(&w.h, &w.c2.id, &request_uri)).await;
    assert_request_uri_refused(status, &body);
    // No client_id at all is refused as well.
    let mut bare = url::Url::parse(&w.h.url("/authorize")).expect("url");
    bare.query_pairs_mut()
        .append_pair("request_uri", &request_uri);
    let (status, _) = view(&w.h, bare.as_str()).await;
    assert_eq!(status, 400);
    // The refusal did not spend it (no denial of service against the pusher).
    let loc =
        w.h.browser_authorize(
            &w.h.browser(),
            &authorize_with(&w.h, &w.c1.id, &request_uri),
            USER.0,
            USER.1,
        )
        .await
        .expect("own client");
    assert!(loc.starts_with(&w.c1.redirect_uri), "{loc}");
    let code = query_param(&loc, "code").expect("code");
    let tokens = redeem(&w.h, &w.c1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    // Another client cannot redeem the code either (RFC 6749 §4.1.3).
    let stolen = redeem(&w.h, &w.c2, &code, &verifier).await.expect("redeem");
    assert_eq!(stolen.status, 400);
}

#[tokio::test]
async fn a_request_uri_this_server_did_not_issue_is_refused() {
    let w = world().await;
    for bogus in [
        format!("{REQUEST_URI_PREFIX}made-up"),
        "https://c1.test/request.jwt".to_string(),
        REQUEST_URI_PREFIX.to_string(),
    ] {
        let (status, body) = view(&w.h, &authorize_with(&w.h, &w.c1.id, &bogus)).await;
        assert_request_uri_refused(status, &body);
    }
}

#[tokio::test]
async fn denying_consent_spends_the_request_uri() {
    let w = world().await;
    let (request_uri, _) = pushed(&w.h, &w.c1).await;
    let url = authorize_with(&w.h, &w.c1.id, &request_uri);
    let b = w.h.browser();
    // Sign in, then answer the consent page with "deny".
    let resp = b.get(&url).send().await.expect("authorize");
    let login = w.h.url(&latchkey_e2e::location(&resp).expect("to login"));
    let page = b
        .get(&login)
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("body");
    let form = [
        ("username", USER.0.to_string()),
        ("password", USER.1.to_string()),
        (
            "csrf",
            latchkey_e2e::hidden_field(&page, "csrf").expect("csrf"),
        ),
        (
            "req",
            latchkey_e2e::hidden_field(&page, "req").expect("req"),
        ),
    ];
    let resp = b
        .post(w.h.url("/login"))
        .form(&form)
        .send()
        .await
        .expect("login");
    let consent = w.h.url(&latchkey_e2e::location(&resp).expect("to consent"));
    let page = b
        .get(&consent)
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("body");
    let form = [
        (
            "req",
            latchkey_e2e::hidden_field(&page, "req").expect("req"),
        ),
        (
            "csrf",
            latchkey_e2e::hidden_field(&page, "csrf").expect("csrf"),
        ),
        ("decision", "deny".to_string()),
    ];
    let resp = b
        .post(w.h.url("/consent"))
        .form(&form)
        .send()
        .await
        .expect("deny");
    let loc = latchkey_e2e::location(&resp).expect("redirect");
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    let (status, body) = view(&w.h, &url).await;
    assert_request_uri_refused(status, &body);
}

// --- the request_uri at /authorize: what works ---------------------------------------------

#[tokio::test]
async fn a_request_uri_survives_repeated_views_until_the_authorization_completes() {
    let w = world().await;
    let (request_uri, verifier) = pushed(&w.h, &w.c1).await;
    let url = authorize_with(&w.h, &w.c1.id, &request_uri);
    for _ in 0..3 {
        let (status, _) = view(&w.h, &url).await;
        assert_eq!(status, 303, "to the login page, not spent");
    }
    let loc =
        w.h.browser_authorize(&w.h.browser(), &url, USER.0, USER.1)
            .await
            .expect("completes");
    let code = query_param(&loc, "code").expect("code");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-par"));
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some(w.h.issuer.as_str())
    );
    let tokens = redeem(&w.h, &w.c1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let id = claims_of(&tokens.must("id_token"));
    assert_eq!(id["nonce"], "n-par", "the pushed nonce");
}

#[tokio::test]
async fn only_the_pushed_parameters_count_at_authorize() {
    let w = world().await;
    let (request_uri, verifier) = pushed(&w.h, &w.c1).await;
    let mut u = url::Url::parse(&authorize_with(&w.h, &w.c1.id, &request_uri)).expect("url");
    // Parameters the browser adds (or an attacker changes) are not the request.
    u.query_pairs_mut()
        .append_pair("redirect_uri", "https://evil.test/cb")
        .append_pair("scope", "openid profile")
        .append_pair("state", "forged")
        .append_pair("code_challenge", "A".repeat(43).as_str());
    let loc =
        w.h.browser_authorize(&w.h.browser(), u.as_str(), USER.0, USER.1)
            .await
            .expect("completes");
    assert!(loc.starts_with(&w.c1.redirect_uri), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-par"));
    let code = query_param(&loc, "code").expect("code");
    let tokens = redeem(&w.h, &w.c1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "the pushed challenge: {}", tokens.text);
    assert_eq!(tokens.str("scope"), Some(SCOPE));
}

#[tokio::test]
async fn a_public_client_pushes_with_its_client_id_and_the_row_keeps_no_credentials() {
    let w = world().await;
    let (request_uri, verifier) = pushed(&w.h, &w.p1).await;
    let loc =
        w.h.browser_authorize(
            &w.h.browser(),
            &authorize_with(&w.h, &w.p1.id, &request_uri),
            USER.0,
            USER.1,
        )
        .await
        .expect("completes");
    let code = query_param(&loc, "code").expect("code");
    let tokens = redeem(&w.h, &w.p1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);

    // A confidential client's push with its secret in the body (`client_secret_post`):
    // the stored request has the authorization parameters, not the secret, and only
    // the request_uri's hash names it.
    let post =
        w.h.client(
            ClientType::Confidential,
            Some(AuthMethod::ClientSecretPost),
            &[GrantType::AuthorizationCode],
            "https://post.test/cb",
            &["openid", "api"],
            None,
        )
        .await
        .expect("client_secret_post client");
    let (_, challenge) = pkce();
    let mut form = request(&post, &challenge);
    let secret = post.secret.clone().expect("secret");
    form.push(("client_id", post.id.as_str()));
    form.push(("client_secret", secret.as_str()));
    let r = post_form(&w.h, "/par", None, &form).await.expect("push");
    assert_eq!(r.status, 201, "{}", r.text);
    let request_uri = r.must("request_uri");
    let hash = request_uri_hash(&request_uri).expect("ours");
    let row =
        w.h.store
            .pushed_request_get(&hash)
            .await
            .expect("get")
            .expect("row");
    assert!(!row.params.contains(&secret), "{}", row.params);
    assert!(!row.params.contains("client_secret"), "{}", row.params);
    let random = request_uri.trim_start_matches(REQUEST_URI_PREFIX);
    assert!(random.len() >= 32, "unguessable: {random}");
    assert!(w
        .h
        .store
        .pushed_request_get(random.as_bytes())
        .await
        .expect("get")
        .is_none());
}

#[tokio::test]
async fn the_par_answer_is_201_json_not_cached() {
    let w = world().await;
    let (_, challenge) = pkce();
    let r = push(&w.h, &w.c1, &request(&w.c1, &challenge)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.must("request_uri").starts_with(REQUEST_URI_PREFIX));
    assert!(r.json["expires_in"].as_i64().is_some_and(|e| e > 0));
}

// --- require_pushed_authorization_requests -----------------------------------------------

#[tokio::test]
async fn a_client_that_requires_par_is_refused_without_a_push_and_served_with_one() {
    let w = world().await;
    w.h.manager
        .client_update(
            "test",
            &w.c1.id,
            ClientUpdate {
                require_pushed_authorization_requests: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("require PAR");
    let (_, challenge) = pkce();
    let direct = authorize_url(&w.h, &w.c1, SCOPE, &challenge, &[]);
    let resp = w.h.browser().get(&direct).send().await.expect("authorize");
    let loc = latchkey_e2e::location(&resp).expect("error redirect");
    assert!(loc.starts_with(&w.c1.redirect_uri), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&loc, "code").is_none());
    // Other clients are not affected.
    let other = authorize_url(&w.h, &w.c2, SCOPE, &challenge, &[]);
    let resp = w.h.browser().get(&other).send().await.expect("authorize");
    assert!(latchkey_e2e::location(&resp).is_some_and(|l| l.starts_with("/login")));
    // With a push it works.
    let (request_uri, verifier) = pushed(&w.h, &w.c1).await;
    let loc =
        w.h.browser_authorize(
            &w.h.browser(),
            &authorize_with(&w.h, &w.c1.id, &request_uri),
            USER.0,
            USER.1,
        )
        .await
        .expect("completes");
    let code = query_param(&loc, "code").expect("code");
    let tokens = redeem(&w.h, &w.c1, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

#[tokio::test]
async fn the_server_wide_requirement_refuses_every_unpushed_request_and_is_advertised() {
    let w = world().await;
    let disc: serde_json::Value =
        w.h.http()
            .get(w.h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery")
            .json()
            .await
            .expect("json");
    assert_eq!(
        disc["pushed_authorization_request_endpoint"],
        w.h.url("/par")
    );
    assert_eq!(disc["require_pushed_authorization_requests"], false);

    // The same store behind an engine configured to require PAR of everyone.
    let mut config = Config::new(&w.h.issuer);
    config.require_pushed_authorization_requests = true;
    let strict = Arc::new(Provider::new(
        w.h.store.clone(),
        w.h.provider.clock.clone(),
        w.h.kek.clone(),
        config,
    ));
    assert_eq!(
        strict.discovery()["require_pushed_authorization_requests"],
        true
    );
    let (_, challenge) = pkce();
    let params: HashMap<String, String> = request(&w.c2, &challenge)
        .into_iter()
        .chain([("client_id", w.c2.id.as_str())])
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match strict.authorize_validate(&params, &[]).await {
        Err(AuthorizeError::Redirect { error, .. }) => {
            assert_eq!(error.code.as_str(), "invalid_request")
        }
        other => panic!("refused through the redirect: {other:?}"),
    }
    // A request pushed (through the running server) passes the strict engine.
    let (request_uri, _) = pushed(&w.h, &w.c2).await;
    let pulled: HashMap<String, String> = [
        ("client_id".to_string(), w.c2.id.clone()),
        ("request_uri".to_string(), request_uri),
    ]
    .into_iter()
    .collect();
    let (req, _) = strict
        .authorize_validate(&pulled, &[])
        .await
        .expect("pushed request accepted");
    assert_eq!(req.state.as_deref(), Some("st-par"));
    assert!(req.pushed.is_some());
}

// --- a real client -----------------------------------------------------------------------

/// The `oauth2` crate has no PAR call of its own: it builds the authorization request
/// (PKCE, state, scopes), which is pushed as a form, and exchanges the code.
#[tokio::test]
async fn the_oauth2_crate_completes_a_code_flow_started_with_a_push() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
        RedirectUrl, Scope, TokenResponse, TokenUrl,
    };
    let w = world().await;
    let client = BasicClient::new(ClientId::new(w.c1.id.clone()))
        .set_client_secret(ClientSecret::new(w.c1.secret.clone().expect("secret")))
        .set_auth_uri(AuthUrl::new(w.h.url("/authorize")).expect("url"))
        .set_token_uri(TokenUrl::new(w.h.url("/token")).expect("url"))
        .set_redirect_uri(RedirectUrl::new(w.c1.redirect_uri.clone()).expect("url"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("api".into()))
        .set_pkce_challenge(challenge)
        .url();
    let form: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    let r =
        w.h.http()
            .post(w.h.url("/par"))
            .basic_auth(&w.c1.id, w.c1.secret.as_deref())
            .form(&form)
            .send()
            .await
            .expect("push");
    assert_eq!(r.status().as_u16(), 201);
    let body: serde_json::Value = r.json().await.expect("json");
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    let redirect =
        w.h.browser_authorize(
            &w.h.browser(),
            &authorize_with(&w.h, &w.c1.id, request_uri),
            USER.0,
            USER.1,
        )
        .await
        .expect("sign in");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&redirect, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&w.h.http())
        .await
        .expect("token exchange");
    assert!(!tokens.access_token().secret().is_empty());
}
