//! Real OAuth/OIDC client libraries (`oauth2`, `openidconnect`) against a real server
//! on loopback, signing in through the real login and consent forms over HTTP.

use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::*;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    IntrospectionUrl, PkceCodeChallenge, RedirectUrl, RefreshToken, RevocationUrl, Scope,
    StandardRevocableToken, TokenIntrospectionResponse, TokenResponse, TokenUrl,
};

const USER: (&str, &str) = ("alice", "correct horse battery");

async fn setup() -> (Harness, TestClient) {
    setup_on(Harness::start().await.expect("server")).await
}

async fn setup_on(h: Harness) -> (Harness, TestClient) {
    h.user(USER.0, USER.1).await.expect("user");
    h.scope("api", "Read the demo API").await.expect("scope");
    let c = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://c1.test/cb",
            &["openid", "profile", "email", "api"],
        )
        .await
        .expect("client");
    (h, c)
}

#[tokio::test]
async fn the_oauth2_crate_completes_code_flow_with_pkce_refresh_introspection_and_revocation_over_tls(
) {
    // Over HTTPS: the oauth2 crate refuses a plain-HTTP revocation endpoint (RFC 7009 §2).
    let (h, c) = setup_on(Harness::start_tls().await.expect("TLS server")).await;
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_auth_uri(AuthUrl::new(h.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(h.url("/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(h.url("/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(h.url("/revoke")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("api".into()))
        .set_pkce_challenge(challenge)
        .url();
    let redirect = h
        .browser_authorize(&h.browser(), auth_url.as_str(), USER.0, USER.1)
        .await
        .expect("sign in");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(h.issuer.as_str())
    );
    let code = query_param(&redirect, "code").expect("code");

    let http = h.http();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let at = tokens.access_token().clone();
    let rt = tokens.refresh_token().expect("refresh token").clone();

    let intro = client
        .introspect(&at)
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(intro.active());

    let refreshed = client
        .exchange_refresh_token(&rt)
        .request_async(&http)
        .await
        .expect("refresh");
    let rt2 = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(rt.secret(), rt2.secret());
    // The spent token is refused (rotation).
    assert!(client
        .exchange_refresh_token(&RefreshToken::new(rt.secret().clone()))
        .request_async(&http)
        .await
        .is_err());

    // Revocation of the new refresh token ends the session, so its access tokens die.
    let at2 = refreshed.access_token().clone();
    client
        .revoke_token(StandardRevocableToken::RefreshToken(rt2))
        .unwrap()
        .request_async(&http)
        .await
        .expect("revoke");
    let intro = client
        .introspect(&at2)
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(!intro.active());
}

#[tokio::test]
async fn the_oauth2_crate_gets_client_credentials_tokens_without_refresh_or_id_token() {
    let (h, _) = setup().await;
    let m2m = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new(m2m.id.clone()))
        .set_client_secret(ClientSecret::new(m2m.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(h.url("/token")).unwrap());
    let tok = client
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .request_async(&plain_http())
        .await
        .expect("client credentials");
    assert!(tok.refresh_token().is_none());
    assert_eq!(tok.scopes().unwrap()[0].as_str(), "api");
    let intro = h
        .introspect(&m2m, tok.access_token().secret())
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], format!("client:{}", m2m.id));
}

#[tokio::test]
async fn the_oauth2_crate_completes_the_device_flow_approved_on_the_verification_page() {
    let (h, _) = setup().await;
    let tv = h
        .public(
            &[GrantType::DeviceCode, GrantType::RefreshToken],
            "",
            &["openid", "api"],
        )
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new(tv.id.clone()))
        .set_auth_uri(AuthUrl::new(h.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(h.url("/token")).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(h.url("/device_authorization")).unwrap(),
        );
    let http = plain_http();
    let details: oauth2::StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("api".into()))
        .request_async(&http)
        .await
        .expect("device authorization");

    // The user signs in and approves in a browser, while the device polls.
    let user_code = details.user_code().secret().clone();
    let complete = details
        .verification_uri_complete()
        .map(|u| u.secret().clone())
        .expect("verification_uri_complete");
    let hb = {
        let h_url = h.issuer.clone();
        let b = browser();
        async move {
            let resp = b.get(&complete).send().await.unwrap();
            let login = location(&resp).unwrap();
            let page = b
                .get(format!("{h_url}{login}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let resp = b
                .post(format!("{h_url}/login"))
                .form(&[
                    ("username", USER.0),
                    ("password", USER.1),
                    ("csrf", &hidden_field(&page, "csrf").unwrap()),
                    ("device", &hidden_field(&page, "device").unwrap()),
                ])
                .send()
                .await
                .unwrap();
            let entry = location(&resp).unwrap();
            let page = b
                .get(format!("{h_url}{entry}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let csrf = hidden_field(&page, "csrf").unwrap();
            let confirm = b
                .post(format!("{h_url}/device"))
                .form(&[("user_code", user_code.as_str()), ("csrf", &csrf)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(confirm.contains("Test client"), "the page names the client");
            assert!(confirm.contains("api"), "the page lists the scopes");
            let done = b
                .post(format!("{h_url}/device"))
                .form(&[
                    ("user_code", user_code.as_str()),
                    ("csrf", &csrf),
                    ("decision", "approve"),
                ])
                .send()
                .await
                .unwrap();
            assert!(done.status().is_success());
        }
    };
    let poll = client.exchange_device_access_token(&details).request_async(
        &http,
        tokio::time::sleep,
        Some(std::time::Duration::from_secs(60)),
    );
    let (tok, ()) = tokio::join!(poll, hb);
    let tok = tok.expect("device token");
    assert!(tok.refresh_token().is_some());
}

#[tokio::test]
async fn the_openidconnect_crate_discovers_the_server_and_validates_its_id_token() {
    use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
    use openidconnect::{AuthenticationFlow, IssuerUrl, Nonce, TokenResponse as _};
    let (h, c) = setup().await;
    let http = plain_http();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(h.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        openidconnect::ClientId::new(c.id.clone()),
        Some(openidconnect::ClientSecret::new(c.secret.clone().unwrap())),
    )
    .set_redirect_uri(openidconnect::RedirectUrl::new(c.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let (url, _csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            openidconnect::CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(openidconnect::Scope::new("profile".into()))
        .add_scope(openidconnect::Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let redirect = h
        .browser_authorize(&browser(), url.as_str(), USER.0, USER.1)
        .await
        .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let tokens = client
        .exchange_code(openidconnect::AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token");
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("ID token validates (signature via JWKS, iss, aud, nonce, exp)");
    assert_eq!(claims.issuer().as_str(), h.issuer);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.test")
    );
    // at_hash binds the access token to the ID token (OIDC Core §3.1.3.6).
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
}
