//! Catalogue §1.10 RG (and OI-05): dynamic client registration (RFC 7591) and its
//! management protocol (RFC 7592), end to end against a server started with
//! registration on; initial access tokens made through the admin operations (and once
//! through the admin API). The refusals first.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::crypto::sha256;
use latchkey_e2e::latchkey_core::manage::NewRegistrationToken;
use latchkey_e2e::latchkey_core::model::{AuditFilter, GrantType};
use latchkey_e2e::latchkey_core::oauth::Config;
use latchkey_e2e::{pkce, query_param, Harness, TestClient};
use serde_json::{json, Value};

const USER: (&str, &str) = ("alice", "correct horse battery");
const T0: i64 = 1_700_000_000;

fn registration_on(c: &mut Config) {
    c.registration = true;
}

async fn server() -> Harness {
    let h = Harness::start_configured(None, registration_on)
        .await
        .expect("server");
    h.user(USER.0, USER.1).await.expect("user");
    h.scope("api", "Read the demo API").await.expect("scope");
    h
}

/// An initial access token for the code flow (and client credentials), scopes
/// `openid api`, redirect URIs under `https://app.test/`.
async fn initial_token(h: &Harness, uses: Option<i64>) -> (String, String) {
    let (t, plain) = h
        .manager
        .registration_token_create(
            "test",
            NewRegistrationToken {
                grant_types: vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ],
                scopes: vec!["openid".into(), "api".into()],
                redirect_uri_prefixes: vec!["https://app.test/".into()],
                expires_in: Some(3600),
                uses,
            },
        )
        .await
        .expect("initial access token");
    (t.id, plain.into_string())
}

fn metadata() -> Value {
    json!({
        "client_name": "Registered app",
        "redirect_uris": ["https://app.test/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid api",
    })
}

async fn send(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut req = h.http().request(method, h.url(path));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(v) = body {
        req = req.json(v);
    }
    Reply::read(req.send().await.expect("send"))
        .await
        .expect("read")
}

async fn register(h: &Harness, token: Option<&str>, body: &Value) -> Reply {
    send(h, reqwest::Method::POST, "/register", token, Some(body)).await
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text);
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(www.starts_with("Bearer"), "{www}");
    assert!(www.contains("error=\"invalid_token\""), "{www}");
}

fn client_of(r: &Reply) -> TestClient {
    TestClient {
        id: r.must("client_id"),
        secret: r.str("client_secret").map(str::to_string),
        redirect_uri: "https://app.test/cb".into(),
    }
}

// --- off by default ------------------------------------------------------------------------

#[tokio::test]
async fn registration_is_off_by_default_and_then_neither_routed_nor_advertised() {
    let h = Harness::start().await.expect("server");
    let r = register(&h, Some("lkreg_anything"), &metadata()).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let disc: Value = h
        .http()
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert!(disc.get("registration_endpoint").is_none(), "{disc}");

    let h = server().await;
    let disc: Value = h
        .http()
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(disc["registration_endpoint"], h.url("/register"));
}

// --- RG-07: the initial access token --------------------------------------------------------

#[tokio::test]
async fn rg07_registration_without_or_with_a_wrong_initial_access_token_is_refused_with_401() {
    let h = server().await;
    let (id, token) = initial_token(&h, None).await;
    let before = h.manager.clients_list().await.expect("clients").len();
    assert_invalid_token(&register(&h, None, &metadata()).await);
    assert_invalid_token(&register(&h, Some("lkreg_not-a-token"), &metadata()).await);
    // A registration access token is not an initial access token.
    let ok = register(&h, Some(&token), &metadata()).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let rat = ok.must("registration_access_token");
    assert_invalid_token(&register(&h, Some(&rat), &metadata()).await);
    // Revoked: refused from then on.
    h.manager
        .registration_token_revoke("test", &id)
        .await
        .expect("revoke");
    assert_invalid_token(&register(&h, Some(&token), &metadata()).await);
    assert_eq!(
        h.manager.clients_list().await.expect("clients").len(),
        before + 1,
        "only the one good registration made a client"
    );
}

#[tokio::test]
async fn rg07_an_expired_initial_access_token_is_refused() {
    let h = Harness::start_configured(Some(T0), registration_on)
        .await
        .expect("server");
    h.scope("api", "Read the demo API").await.expect("scope");
    let (_, token) = initial_token(&h, None).await;
    h.clock.as_ref().expect("clock").advance(3600);
    assert_invalid_token(&register(&h, Some(&token), &metadata()).await);
}

#[tokio::test]
async fn an_initial_access_token_registers_at_most_its_uses_even_when_raced() {
    let h = server().await;
    let (_, token) = initial_token(&h, Some(1)).await;
    let body = metadata();
    let attempts = (0..6).map(|_| register(&h, Some(&token), &body));
    // Polled together: every request is in flight before any answer.
    let results = futures_util::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 201) {
        assert_invalid_token(r);
    }
    let listed = h.manager.registration_tokens_list().await.expect("list");
    assert_eq!(listed[0].uses_left, Some(0));
    assert_eq!(listed[0].registered, 1);
}

#[tokio::test]
async fn a_flood_of_wrong_tokens_from_one_address_is_cut_off_with_429() {
    let h = server().await;
    let mut throttled = false;
    for _ in 0..200 {
        let r = register(&h, Some("lkreg_guess"), &metadata()).await;
        if r.status == 429 {
            assert!(r.header("retry-after").is_some());
            throttled = true;
            break;
        }
        assert_invalid_token(&r);
    }
    assert!(throttled, "guessing is limited");
}

// --- metadata: what is refused ----------------------------------------------------------------

#[tokio::test]
async fn metadata_the_policy_forbids_is_refused_with_invalid_client_metadata() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let cases = [
        // A grant the token does not allow.
        json!({"redirect_uris": ["https://app.test/cb"], "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"], "scope": "openid"}),
        // A scope it does not allow, and an admin scope.
        json!({"redirect_uris": ["https://app.test/cb"], "scope": "openid profile"}),
        json!({"redirect_uris": ["https://app.test/cb"], "scope": "latchkey:admin"}),
        // A redirect URI outside its prefixes.
        json!({"redirect_uris": ["https://other.test/cb"], "scope": "openid"}),
        // Grants Latchkey never has, and response types other than code.
        json!({"redirect_uris": ["https://app.test/cb"], "grant_types": ["implicit"]}),
        json!({"redirect_uris": ["https://app.test/cb"], "grant_types": ["password"]}),
        json!({"redirect_uris": ["https://app.test/cb"], "response_types": ["token"]}),
        // Not an object.
        json!(["redirect_uris"]),
        json!({"redirect_uris": ["https://app.test/cb"], "token_endpoint_auth_method": "client_secret_jwt"}),
    ];
    for body in cases {
        let r = register(&h, Some(&token), &body).await;
        assert!(r.status == 400, "{body}: {} {}", r.status, r.text);
        assert!(
            matches!(
                r.error(),
                Some("invalid_client_metadata" | "invalid_redirect_uri")
            ),
            "{body}: {}",
            r.text
        );
        assert_oauth_error(&r, 400, r.error().unwrap_or_default());
    }
    assert!(
        !h.manager
            .clients_list()
            .await
            .expect("clients")
            .iter()
            .any(|c| c.registered),
        "nothing registered"
    );
}

#[tokio::test]
async fn oi05_an_id_token_algorithm_of_none_or_hs256_is_refused() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    for alg in ["none", "HS256", "ES256"] {
        let mut body = metadata();
        body["id_token_signed_response_alg"] = json!(alg);
        let r = register(&h, Some(&token), &body).await;
        assert_oauth_error(&r, 400, "invalid_client_metadata");
    }
    let mut body = metadata();
    body["id_token_signed_response_alg"] = json!("RS256");
    assert_eq!(register(&h, Some(&token), &body).await.status, 201);
}

#[tokio::test]
async fn rg02_rg03_rg12_unacceptable_redirect_uris_are_refused_with_invalid_redirect_uri() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    for uri in [
        "https://app.test/cb#frag",
        "http://app.test/cb",
        "JavaScript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "/relative/cb",
        "https://app.test/cb?code=x&state=y&iss=z",
    ] {
        let body = json!({"redirect_uris": [uri], "scope": "openid"});
        let r = register(&h, Some(&token), &body).await;
        assert_oauth_error(&r, 400, "invalid_redirect_uri");
    }
}

#[tokio::test]
async fn a_software_statement_is_refused() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let mut body = metadata();
    body["software_statement"] = json!("eyJhbGciOiJSUzI1NiJ9.e30.sig");
    let r = register(&h, Some(&token), &body).await;
    assert_oauth_error(&r, 400, "invalid_software_statement");
}

#[tokio::test]
async fn rg04_privileged_fields_and_a_chosen_client_id_are_ignored_and_the_answer_is_the_effective_metadata(
) {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let mut body = metadata();
    for (k, v) in [
        ("foo", json!("bar")),
        ("skip_consent", json!(true)),
        ("require_consent", json!(false)),
        ("admin_tool", json!(true)),
        ("client_id", json!("alice")),
        ("client_secret", json!("chosen")),
    ] {
        body[k] = v;
    }
    let r = register(&h, Some(&token), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.must("client_id");
    assert_ne!(id, "alice");
    assert_ne!(r.str("client_secret"), Some("chosen"));
    assert!(r.json.get("foo").is_none());
    let c = h.manager.client_get(&id).await.expect("client");
    assert!(c.require_consent && !c.admin_tool && c.registered);
    assert_eq!(r.json["scope"], "openid api");
    assert_eq!(r.json["token_endpoint_auth_method"], "client_secret_basic");
}

// --- RG-01: a registration that works ------------------------------------------------------------

#[tokio::test]
async fn rg01_a_registration_returns_its_credentials_once_and_the_client_signs_users_in() {
    let h = server().await;
    let (token_id, token) = initial_token(&h, None).await;
    let r = register(&h, Some(&token), &metadata()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    for k in [
        "client_id",
        "client_secret",
        "registration_access_token",
        "registration_client_uri",
    ] {
        assert!(r.str(k).is_some_and(|v| !v.is_empty()), "{k} in {}", r.text);
    }
    assert!(r.json["client_id_issued_at"].as_i64().is_some());
    assert_eq!(r.json["client_secret_expires_at"], 0);
    let client = client_of(&r);
    assert_eq!(
        r.must("registration_client_uri"),
        h.url(&format!("/register/{}", client.id))
    );
    // Marked and audited as a registration by the token.
    let c = h.manager.client_get(&client.id).await.expect("client");
    assert!(c.registered);
    let events = h
        .store
        .audit_list(&AuditFilter {
            action_prefix: Some("client.register".into()),
            limit: Some(10),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, format!("registration:{token_id}"));
    // No secret of any kind in the audit log (HD-02).
    let all = h
        .store
        .audit_list(&AuditFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("audit");
    let text = format!("{all:?}");
    for secret in [
        token.as_str(),
        r.must("client_secret").as_str(),
        r.must("registration_access_token").as_str(),
    ] {
        assert!(!text.contains(secret), "a secret in the audit log");
    }
    // Only hashes are stored.
    let stored = h.manager.registration_tokens_list().await.expect("list");
    assert_eq!(stored[0].hash, sha256(token.as_bytes()));

    // The registered client signs a user in (code flow + PKCE) with its new secret.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&h, &client, "openid api", &challenge, &[]);
    let loc = h
        .browser_authorize(&h.browser(), &url, USER.0, USER.1)
        .await
        .expect("sign in");
    let code = query_param(&loc, "code").expect("code");
    let tokens = redeem(&h, &client, &code, &verifier).await.expect("redeem");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

#[tokio::test]
async fn the_oauth2_crate_uses_a_registered_client_for_client_credentials() {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let r = register(
        &h,
        Some(&token),
        &json!({"client_name": "machine", "grant_types": ["client_credentials"], "scope": "api"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let client = BasicClient::new(ClientId::new(r.must("client_id")))
        .set_client_secret(ClientSecret::new(r.must("client_secret")))
        .set_token_uri(TokenUrl::new(h.url("/token")).expect("url"));
    let tokens = client
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .request_async(&h.http())
        .await
        .expect("client credentials");
    assert!(!tokens.access_token().secret().is_empty());
}

// --- RFC 7592: read, replace, delete --------------------------------------------------------------

#[tokio::test]
async fn rg08_the_registration_is_read_only_with_its_own_registration_access_token() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let a = register(&h, Some(&token), &metadata()).await;
    let b = register(&h, Some(&token), &metadata()).await;
    let (a_id, a_rat) = (a.must("client_id"), a.must("registration_access_token"));
    let b_id = b.must("client_id");
    let path = format!("/register/{a_id}");
    let ok = send(&h, reqwest::Method::GET, &path, Some(&a_rat), None).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["client_id"], a_id.as_str());
    assert_eq!(ok.json["redirect_uris"], json!(["https://app.test/cb"]));
    assert!(
        ok.json.get("client_secret").is_none(),
        "never the secret again"
    );
    assert_invalid_token(&send(&h, reqwest::Method::GET, &path, Some("lkrat_wrong"), None).await);
    assert_invalid_token(&send(&h, reqwest::Method::GET, &path, None, None).await);
    // A's token on B's URI.
    let other = format!("/register/{b_id}");
    assert_invalid_token(&send(&h, reqwest::Method::GET, &other, Some(&a_rat), None).await);
    // The initial access token is not a registration access token.
    assert_invalid_token(&send(&h, reqwest::Method::GET, &path, Some(&token), None).await);
}

#[tokio::test]
async fn rg09_a_replacement_must_name_the_client_and_its_current_secret_and_replaces_everything() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let mut body = metadata();
    body["post_logout_redirect_uris"] = json!(["https://app.test/bye"]);
    let r = register(&h, Some(&token), &body).await;
    let (id, rat, secret) = (
        r.must("client_id"),
        r.must("registration_access_token"),
        r.must("client_secret"),
    );
    let path = format!("/register/{id}");
    let put = |b: Value| {
        let (h, path, rat) = (&h, path.clone(), rat.clone());
        async move { send(h, reqwest::Method::PUT, &path, Some(&rat), Some(&b)).await }
    };
    let mut wrong_id = metadata();
    wrong_id["client_id"] = json!("someone-else");
    assert_oauth_error(&put(wrong_id).await, 400, "invalid_request");
    let mut wrong_secret = metadata();
    wrong_secret["client_id"] = json!(id);
    wrong_secret["client_secret"] = json!("not-the-secret");
    assert_oauth_error(&put(wrong_secret).await, 400, "invalid_request");
    // Beyond the registering token's policy, as at registration.
    let mut wider = metadata();
    wider["client_id"] = json!(id);
    wider["scope"] = json!("openid profile");
    assert_oauth_error(&put(wider).await, 400, "invalid_client_metadata");
    // A full replacement: what is left out (post_logout_redirect_uris) is gone.
    let mut full = metadata();
    full["client_id"] = json!(id);
    full["client_secret"] = json!(secret);
    full["client_name"] = json!("Renamed");
    let ok = put(full).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["client_name"], "Renamed");
    assert!(
        ok.json.get("post_logout_redirect_uris").is_none(),
        "{}",
        ok.text
    );
    let c = h.manager.client_get(&id).await.expect("client");
    assert!(c.post_logout_redirect_uris.is_empty());
    assert_eq!(c.name, "Renamed");
}

#[tokio::test]
async fn rg10_after_delete_the_registration_token_secret_client_id_and_tokens_are_all_dead() {
    let h = server().await;
    let (_, token) = initial_token(&h, None).await;
    let r = register(&h, Some(&token), &metadata()).await;
    let client = client_of(&r);
    let rat = r.must("registration_access_token");
    let tokens = h
        .code_flow_tokens(&client, "openid api", USER)
        .await
        .expect("tokens");
    let at = tokens["access_token"].as_str().expect("at").to_string();
    let rs = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .expect("resource server");
    assert_eq!(
        h.introspect(&rs, &at).await.expect("introspect")["active"],
        true
    );

    let path = format!("/register/{}", client.id);
    let del = send(&h, reqwest::Method::DELETE, &path, Some(&rat), None).await;
    assert_eq!(del.status, 204, "{}", del.text);
    assert_invalid_token(&send(&h, reqwest::Method::GET, &path, Some(&rat), None).await);
    let (_, challenge) = pkce();
    let resp = h
        .browser()
        .get(authorize_url(&h, &client, "openid", &challenge, &[]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status().as_u16(), 400, "an error page, no redirect");
    let cc = post_form(
        &h,
        "/token",
        Some(&client),
        &[("grant_type", "client_credentials")],
    )
    .await
    .expect("token");
    assert_oauth_error(&cc, 401, "invalid_client");
    assert_eq!(
        h.introspect(&rs, &at).await.expect("introspect")["active"],
        false
    );
}

// --- the admin operations -------------------------------------------------------------------------

#[tokio::test]
async fn initial_access_tokens_are_created_listed_and_revoked_through_the_admin_api() {
    let h = server().await;
    let (_, key) = h.api_key(false).await.expect("api key");
    let http = h.http();
    let created: Value = {
        let r = http
            .post(h.admin_url("/admin/v1/registration-tokens"))
            .bearer_auth(&key)
            .json(&json!({"grant_types": ["authorization_code"], "scopes": ["openid"],
                          "redirect_uri_prefixes": ["https://app.test/"], "expires_in": 600, "uses": 2}))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status().as_u16(), 201);
        r.json().await.expect("json")
    };
    let token = created["token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    assert!(token.starts_with("lkreg_"));
    assert_eq!(created["uses_left"], 2);
    let list: Value = http
        .get(h.admin_url("/admin/v1/registration-tokens"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(!list.to_string().contains(&token), "never listed");
    assert_eq!(list[0]["id"], created["id"]);
    // The admin scopes cannot be handed out through registration.
    let r = http
        .post(h.admin_url("/admin/v1/registration-tokens"))
        .bearer_auth(&key)
        .json(&json!({"scopes": ["latchkey:admin"]}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status().as_u16(), 400);
    let id = created["id"].as_str().expect("id");
    let r = http
        .post(h.admin_url(&format!("/admin/v1/registration-tokens/{id}/revoke")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status().as_u16(), 204);
    assert_invalid_token(&register(&h, Some(&token), &metadata()).await);
}
