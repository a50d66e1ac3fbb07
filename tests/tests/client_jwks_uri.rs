//! `private_key_jwt` with keys the client publishes at a `jwks_uri` (RFC 7591 §2,
//! catalogue OI-11): the server fetches them, and when the client rotates to a key
//! with a new `kid` the server fetches again (rate-limited) and accepts it.

use latchkey_e2e::latchkey_core::clock::{Clock, SystemClock};
use latchkey_e2e::latchkey_core::crypto::random_id;
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::keys::{self, LoadedKey};
use latchkey_e2e::latchkey_core::manage::NewClient;
use latchkey_e2e::latchkey_core::model::{Alg, AuthMethod, ClientType, GrantType};
use latchkey_e2e::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn new_key(kid: &str) -> (LoadedKey, Value) {
    let (der, jwk) = keys::generate(Alg::ES256, kid).unwrap();
    (LoadedKey::from_pkcs8(kid, Alg::ES256, &der).unwrap(), jwk)
}

/// The relying party's own JWKS endpoint, on loopback, serving whatever is in `keys`.
async fn rp_jwks_server(keys: Arc<Mutex<Value>>) -> (String, Arc<Mutex<usize>>) {
    let hits = Arc::new(Mutex::new(0usize));
    let h2 = hits.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let keys = keys.clone();
            let hits = h2.clone();
            async move {
                *hits.lock().unwrap() += 1;
                axum::Json(keys.lock().unwrap().clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/jwks"), hits)
}

async fn token_with(h: &Harness, client_id: &str, key: &LoadedKey) -> reqwest::Response {
    // The server's time: its fixed clock when it has one.
    let now = h
        .clock
        .as_ref()
        .map_or_else(|| SystemClock.now(), |c| c.now());
    let assertion = jwt::sign(
        key,
        None,
        &json!({"iss": client_id, "sub": client_id, "aud": h.issuer,
                "iat": now, "exp": now + 60, "jti": random_id()}),
    )
    .unwrap();
    h.http()
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn oi_11_a_client_that_rotates_its_published_keys_is_refetched_and_accepted() {
    // The re-fetch rate limit reads the provider's clock: the test moves it.
    let h = Harness::start_with_clock(SystemClock.now()).await.unwrap();
    let clock = h.clock.clone().expect("fixed clock");
    h.scope("api", "API").await.unwrap();
    let (key_a, jwk_a) = new_key("rp-a");
    let (key_b, jwk_b) = new_key("rp-b");
    let published = Arc::new(Mutex::new(json!({"keys": [jwk_a]})));
    let (jwks_uri, hits) = rp_jwks_server(published.clone()).await;
    let client = h
        .manager
        .client_create(
            "test",
            NewClient {
                name: "rp".into(),
                client_type: Some(ClientType::Confidential),
                auth_method: Some(AuthMethod::PrivateKeyJwt),
                grant_types: vec![GrantType::ClientCredentials],
                allowed_scopes: vec!["api".into()],
                jwks_uri: Some(jwks_uri),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client;

    assert_eq!(token_with(&h, &client.id, &key_a).await.status(), 200);
    assert_eq!(*hits.lock().unwrap(), 1);
    // Cached: no second fetch for a known key.
    assert_eq!(token_with(&h, &client.id, &key_a).await.status(), 200);
    assert_eq!(*hits.lock().unwrap(), 1);

    // The RP rotates to key B. An assertion with the unknown kid makes the server
    // fetch again and accept it.
    *published.lock().unwrap() = json!({"keys": [jwk_b]});
    // Within the minimum interval (300 ms in the harness) an unknown kid fetches
    // nothing; once it has passed, it fetches again.
    clock.advance_millis(299);
    assert_eq!(token_with(&h, &client.id, &key_b).await.status(), 401);
    assert_eq!(*hits.lock().unwrap(), 1);
    clock.advance_millis(1);
    assert_eq!(token_with(&h, &client.id, &key_b).await.status(), 200);
    assert_eq!(*hits.lock().unwrap(), 2);

    // Unknown kids right after a fetch do not make the server fetch again (rate limit).
    let (key_c, _) = new_key("rp-c");
    let r = token_with(&h, &client.id, &key_c).await;
    assert_eq!(r.status(), 401);
    assert_eq!(*hits.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_key_url_cannot_be_registered_next_to_inline_keys_or_over_plain_http_off_loopback() {
    let h = Harness::start().await.unwrap();
    let (_, jwk) = new_key("k");
    for (jwks, uri) in [
        (
            Some(json!({"keys": [jwk]}).to_string()),
            Some("https://rp.example/jwks"),
        ),
        (None, Some("http://rp.example/jwks")),
    ] {
        let r = h
            .manager
            .client_create(
                "test",
                NewClient {
                    name: "rp".into(),
                    auth_method: Some(AuthMethod::PrivateKeyJwt),
                    grant_types: vec![GrantType::ClientCredentials],
                    jwks,
                    jwks_uri: uri.map(str::to_string),
                    ..Default::default()
                },
            )
            .await;
        assert!(r.is_err(), "{uri:?}");
    }
}
