//! Catalogue AD-20 … AD-29: admin tokens go only where the issuer vouches (issue 10,
//! §3 and §5). Admin tokens are audience-restricted to the admin API (RFC 8707), the
//! issuer's discovery names its admin API (`latchkey_admin_api`), the sign-in client
//! sends a token only to an admin API the issuer vouches for and checks the discovered
//! `issuer` and the authorization response's `iss` (RFC 9207), and the admin listener
//! speaks TLS. Real listeners, real HTTP; the fakes are small axum servers that log
//! every request they get.

use anyhow::Result;
use latchkey_admin_client::signin::{self, Endpoints};
use latchkey_admin_client::{AdminBackend, Credential, Remote, Secret, TokenSet};
use latchkey_e2e::catalogue::{Catalogue, ALICE};
use latchkey_e2e::latchkey_core::crypto::{random_id, Kek};
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::model::Alg;
use latchkey_e2e::latchkey_server::{self as server, ServeConfig, ServeError};
use latchkey_e2e::{pkce, query_param, Harness};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const ROOT: (&str, &str) = ("root", "root passphrase long");

/// What a fake server saw: (path, the Authorization header if any).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A listener answering `routes` (path → JSON) and 404 elsewhere, logging every request.
async fn fake(routes: HashMap<String, Value>) -> Result<(String, Log)> {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let routes = Arc::new(routes);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (seen, routes) = (seen.clone(), routes.clone());
        async move {
            let path = req.uri().path().to_string();
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            seen.lock().unwrap().push((path.clone(), auth));
            match routes.get(&path) {
                Some(v) => axum::response::IntoResponse::into_response(axum::Json(v.clone())),
                None => {
                    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_FOUND)
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, log))
}

fn health_naming(issuer: &str) -> HashMap<String, Value> {
    HashMap::from([(
        "/admin/v1/health".to_string(),
        json!({"status": "ok", "version": "0", "time": 0, "issuer": issuer}),
    )])
}

fn no_bearer(log: &Log) -> bool {
    log.lock().unwrap().iter().all(|(_, auth)| auth.is_none())
}

fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// An administrator's tokens through the console client's code flow (`resource` left
/// out: admin scopes default to the admin API as their audience).
async fn admin_tokens(h: &Harness) -> Result<Value> {
    h.admin_user(ROOT.0, ROOT.1).await?;
    h.code_flow_tokens(&h.console_client(), signin::ADMIN_SCOPE, ROOT)
        .await
}

fn token_set(h: &Harness, t: &Value) -> TokenSet {
    TokenSet {
        access_token: Secret::new(t["access_token"].as_str().unwrap_or_default()),
        refresh_token: t["refresh_token"].as_str().map(Secret::new),
        expires_at: None,
        scope: t["scope"].as_str().map(str::to_string),
        token_endpoint: h.url("/token"),
        revocation_endpoint: Some(h.url("/revoke")),
        client_id: signin::CONSOLE_CLIENT_ID.into(),
        issuer: Some(h.issuer.clone()),
    }
}

async fn admin_get(h: &Harness, bearer: &str) -> Result<u16> {
    Ok(h.http()
        .get(h.admin_url("/admin/v1/clients"))
        .bearer_auth(bearer)
        .send()
        .await?
        .status()
        .as_u16())
}

/// AD-20: the issuer's discovery (OIDC and RFC 8414 documents) says where its admin API
/// lives, under `latchkey_admin_api`: the URL the admin listener answers on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_20_discovery_names_the_admin_api_in_both_metadata_documents() -> Result<()> {
    let h = Harness::start().await?;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc: Value = h.http().get(h.url(path)).send().await?.json().await?;
        assert_eq!(doc["latchkey_admin_api"], json!(h.admin_url("")), "{path}");
    }
    let health = h.http().get(h.admin_url("/admin/v1/health")).send().await?;
    assert!(health.status().is_success());
    Ok(())
}

/// AD-21: the admin API refuses (401) a token of this very server, validly signed and
/// carrying `latchkey:admin` for an administrator, whose `aud` does not name it; the
/// same token for the admin API's audience passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_21_an_admin_token_for_another_audience_is_refused_by_the_admin_api() -> Result<()> {
    let h = Harness::start().await?;
    let root = h.admin_user(ROOT.0, ROOT.1).await?;
    let key = h.provider.signer(Alg::ES256).await.expect("signer");
    let now = h.provider.now();
    let forge = |aud: Value| {
        jwt::sign(
            &key,
            Some("at+jwt"),
            &json!({
                "iss": h.issuer, "sub": root, "aud": aud, "client_id": "latchkey-console",
                "iat": now, "exp": now + 300, "jti": random_id(), "scope": "latchkey:admin",
            }),
        )
        .expect("sign")
    };
    for aud in [
        json!(h.issuer),
        json!("https://elsewhere.example"),
        json!(["https://elsewhere.example"]),
    ] {
        assert_eq!(admin_get(&h, &forge(aud.clone())).await?, 401, "aud {aud}");
    }
    assert_eq!(admin_get(&h, &forge(json!(h.admin_url("")))).await?, 200);
    assert_eq!(
        admin_get(&h, &forge(json!([h.issuer, h.admin_url("")]))).await?,
        200
    );
    Ok(())
}

/// AD-22: an administrator's token is for the admin API alone (`aud` = the admin API,
/// refused at userinfo, RFC 8707 §2), and a token for the issuer's own resources (no
/// admin scope, `aud` = issuer) cannot be used at the admin API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_22_admin_tokens_serve_the_admin_api_only_and_other_tokens_do_not_serve_it() -> Result<()>
{
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let t = admin_tokens(h).await?;
    let at = t["access_token"].as_str().expect("access token");
    assert_eq!(claims_of(at)["aud"], json!(h.admin_url("")));
    assert_eq!(admin_get(h, at).await?, 200);
    let userinfo = h
        .http()
        .get(h.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await?;
    assert_eq!(userinfo.status().as_u16(), 401);

    let plain = h
        .code_flow_tokens(&h.console_client(), "openid", ALICE)
        .await?;
    let pat = plain["access_token"].as_str().expect("access token");
    assert_eq!(claims_of(pat)["aud"], json!(h.issuer));
    assert!(admin_get(h, pat).await? >= 401);
    assert_ne!(admin_get(h, pat).await?, 200);
    Ok(())
}

/// AD-23: RFC 8707 `resource` must name the admin API; anything else is `invalid_target`
/// at /token, /authorize (as a redirect to the client) and /device_authorization. The
/// admin API itself is accepted, and a refresh keeps the admin API as the audience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_23_a_resource_other_than_the_admin_api_is_invalid_target() -> Result<()> {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let other = "https://elsewhere.example/api";
    let console = h.console_client();

    let (_, challenge) = pkce();
    let authorize = format!(
        "{}?response_type=code&client_id=latchkey-console&redirect_uri={}&scope=openid%20latchkey%3Aadmin\
         &code_challenge={challenge}&code_challenge_method=S256&state=s1&resource={}",
        h.url("/authorize"),
        urlencode(&console.redirect_uri),
        urlencode(other)
    );
    let r = h.http().get(&authorize).send().await?;
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_target"),
        "{loc}"
    );

    let device = |resource: String| {
        let http = h.http();
        let url = h.url("/device_authorization");
        async move {
            http.post(url)
                .form(&[
                    ("client_id", "latchkey-console"),
                    ("scope", "openid latchkey:admin"),
                    ("resource", resource.as_str()),
                ])
                .send()
                .await
        }
    };
    let refused = device(other.to_string()).await?;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(
        refused.json::<Value>().await?["error"],
        json!("invalid_target")
    );
    assert!(device(h.admin_url("")).await?.status().is_success());

    let t = admin_tokens(h).await?;
    let rt = t["refresh_token"].as_str().expect("refresh token");
    let refresh = |resource: String| {
        let http = h.http();
        let url = h.url("/token");
        let rt = rt.to_string();
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", "latchkey-console"),
                    ("resource", resource.as_str()),
                ])
                .send()
                .await
        }
    };
    let refused = refresh(other.to_string()).await?;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(
        refused.json::<Value>().await?["error"],
        json!("invalid_target")
    );
    let ok: Value = refresh(h.admin_url("/")).await?.json().await?;
    let at = ok["access_token"].as_str().expect("refreshed");
    assert_eq!(claims_of(at)["aud"], json!(h.admin_url("")));
    Ok(())
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// AD-24: the sign-in client drops an authorization response whose `iss` is not the
/// issuer it asked (RFC 9207 §2.4, mix-up) — or has none — before the code goes
/// anywhere: the token endpoint is never called. With the right `iss` it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_24_the_sign_in_client_refuses_an_authorization_response_with_a_wrong_iss() -> Result<()>
{
    let (token_server, log) = fake(HashMap::from([(
        "/token".to_string(),
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60}),
    )]))
    .await?;
    let issuer = "https://id.example";
    for (iss, accepted) in [
        (Some("https://evil.example"), false),
        (None, false),
        (Some(issuer), true),
    ] {
        log.lock().unwrap().clear();
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let token_endpoint = format!("{token_server}/token");
        let http = signin::http_client();
        let flow = latchkey_admin_client::loopback::run(
            &http,
            latchkey_admin_client::loopback::CodeFlow {
                authorization_endpoint: "https://id.example/authorize",
                token_endpoint: &token_endpoint,
                client_id: signin::CONSOLE_CLIENT_ID,
                client_secret: None,
                secret_in_body: false,
                redirect_uri: "http://127.0.0.1/callback",
                scope: signin::ADMIN_SCOPE,
                timeout: std::time::Duration::from_secs(30),
                done_message: "done",
                issuer: Some(issuer),
                resource: None,
                dpop: None,
                par_endpoint: None,
            },
            move |url| {
                let _ = tx.send(url.to_string());
            },
        );
        // The "authorization server": answers straight to the loopback redirect.
        let browser = async {
            let url = url::Url::parse(&rx.await?)?;
            let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
            let mut back = url::Url::parse(&q["redirect_uri"])?;
            back.query_pairs_mut()
                .append_pair("code", "a-code")
                .append_pair("state", &q["state"]);
            if let Some(i) = iss {
                back.query_pairs_mut().append_pair("iss", i);
            }
            reqwest::get(back.as_str()).await?;
            anyhow::Ok(())
        };
        let (result, browsed) = tokio::join!(flow, browser);
        browsed?;
        let calls = log.lock().unwrap().len();
        if accepted {
            assert!(result.is_ok(), "{:?}", result.err());
            assert_eq!(calls, 1, "the code is exchanged");
        } else {
            let e = result.expect_err("refused");
            assert_eq!(e.code, "untrusted_server", "{}", e.message);
            assert_eq!(calls, 0, "the code never reaches the token endpoint");
        }
    }
    Ok(())
}

/// AD-25: an admin API URL whose health names the real issuer, but which that issuer
/// does not name as its admin API, never receives a bearer: the sign-in stops with both
/// URLs, and a stored sign-in pointed at it is refused before any authenticated call.
/// The same tokens work at the admin API the issuer names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_25_a_fake_admin_api_naming_the_real_issuer_never_receives_a_token() -> Result<()> {
    let h = Harness::start().await?;
    let (fake_url, log) = fake(health_naming(&h.issuer)).await?;
    let http = signin::http_client();
    let e = signin::endpoints_for(&http, &fake_url, None)
        .await
        .expect_err("not vouched for");
    assert_eq!(e.code, "untrusted_server");
    assert!(e.message.contains(&fake_url), "{}", e.message);
    assert!(e.message.contains(&h.admin_url("")), "{}", e.message);
    // Even naming the issuer explicitly (`--issuer`) does not make it vouch.
    let e = signin::endpoints_for(&http, &fake_url, Some(&h.issuer))
        .await
        .expect_err("not vouched for");
    assert_eq!(e.code, "untrusted_server");

    let t = admin_tokens(&h).await?;
    for set in [
        token_set(&h, &t),
        // An entry stored before the issuer was kept: checked through the announced one.
        TokenSet {
            issuer: None,
            ..token_set(&h, &t)
        },
    ] {
        let remote = Remote::new(&fake_url, Credential::OAuth(set.clone()))?;
        let e = remote.clients_list().await.expect_err("refused");
        assert_eq!(e.code, "untrusted_server", "{}", e.message);
        let real = Remote::new(&h.admin_url(""), Credential::OAuth(set))?;
        assert!(!real.clients_list().await?.is_empty());
    }
    assert!(no_bearer(&log), "{:?}", log.lock().unwrap());
    assert!(!log.lock().unwrap().is_empty(), "the fake was asked");
    // The real one vouched: the sign-in proceeds, asking for the admin API's audience.
    let ep = signin::endpoints_for(&http, &h.admin_url(""), None).await?;
    assert_eq!(
        ep.latchkey_admin_api.as_deref(),
        Some(h.admin_url("").as_str())
    );
    Ok(())
}

/// AD-26: a discovery document that names another issuer than the one asked about is
/// refused (OIDC Discovery §4.3, RFC 8414 §3.3): its endpoints are not that issuer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_26_a_discovery_document_naming_another_issuer_is_refused() -> Result<()> {
    let h = Harness::start().await?;
    let doc: Value = h
        .http()
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let (fake_issuer, log) = fake(HashMap::from([(
        "/.well-known/openid-configuration".to_string(),
        doc,
    )]))
    .await?;
    let e = signin::discover(&signin::http_client(), &fake_issuer)
        .await
        .expect_err("another issuer's document");
    assert_eq!(e.code, "untrusted_server");
    assert!(e.message.contains(&h.issuer), "{}", e.message);
    assert!(no_bearer(&log));
    let ep: Endpoints = signin::discover(&signin::http_client(), &h.issuer).await?;
    assert_eq!(ep.issuer, h.issuer);
    Ok(())
}

fn serve_config(dir: &std::path::Path, port: u16, admin: SocketAddr) -> ServeConfig {
    ServeConfig::new(
        dir.join("latchkey.db"),
        format!("https://127.0.0.1:{port}"),
        SocketAddr::from(([127, 0, 0, 1], port)),
        admin,
        Kek::generate(),
    )
}

/// The status of `url` once the fresh server has made its keys (health says 503 until
/// then), or the last one seen after 20 s.
async fn ready(http: &reqwest::Client, url: &str) -> u16 {
    let mut last = 0;
    for _ in 0..400 {
        last = match http.get(url).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        if last == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// AD-27: with `--tls-cert/--tls-key` the admin listener serves TLS with the same
/// certificate (or its own `--admin-tls-cert/--admin-tls-key`): the admin health answers
/// over https, plain http gets no answer, and discovery names an `https://` admin API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_27_the_admin_listener_serves_tls_with_the_configured_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let write = |name: &str| -> Result<(std::path::PathBuf, std::path::PathBuf, String)> {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
        let (cert, key) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&cert, ck.cert.pem())?;
        std::fs::write(&key, ck.signing_key.serialize_pem())?;
        Ok((cert, key, ck.cert.pem()))
    };
    let (cert, key, public_pem) = write("public")?;
    let (admin_cert, admin_key, admin_pem) = write("admin")?;
    for own in [false, true] {
        let port = free_port();
        let mut cfg = serve_config(dir.path(), port, SocketAddr::from(([127, 0, 0, 1], 0)));
        cfg.db = dir.path().join(format!("tls-{own}.db"));
        cfg.tls_cert = Some(cert.clone());
        cfg.tls_key = Some(key.clone());
        if own {
            cfg.admin_tls_cert = Some(admin_cert.clone());
            cfg.admin_tls_key = Some(admin_key.clone());
        }
        let running = server::start(cfg).await?;
        let admin = running.admin_addr;
        assert_eq!(running.admin_url, format!("https://{admin}"));
        let pem = if own { &admin_pem } else { &public_pem };
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?)
            .build()?;
        let health = ready(&trusting, &format!("https://{admin}/admin/v1/health")).await;
        assert_eq!(health, 200);
        let plain = reqwest::Client::new()
            .get(format!("http://{admin}/admin/v1/health"))
            .send()
            .await;
        assert!(
            plain.map(|r| !r.status().is_success()).unwrap_or(true),
            "plain http must not be served"
        );
        let public = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(public_pem.as_bytes())?)
            .build()?;
        let doc: Value = public
            .get(format!(
                "https://127.0.0.1:{port}/.well-known/openid-configuration"
            ))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(doc["latchkey_admin_api"], json!(format!("https://{admin}")));
        running.stop().await;
    }
    Ok(())
}

/// AD-28: an admin listener off loopback over plain HTTP is refused at start, with a
/// message naming the ways out; `--admin-insecure-http` (a TLS-terminating proxy in
/// front) lets it start, its `--admin-url` published as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_28_a_non_loopback_admin_listener_needs_tls_or_an_explicit_insecure_flag() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let everywhere = SocketAddr::from(([0, 0, 0, 0], 0));
    let mut cfg = serve_config(dir.path(), free_port(), everywhere);
    cfg.issuer = format!("http://127.0.0.1:{}", cfg.public_addr.port());
    match server::start(cfg.clone()).await {
        Err(ServeError::Config(msg)) => {
            assert!(msg.contains("--admin-insecure-http"), "{msg}");
            assert!(msg.contains("--tls-cert"), "{msg}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a public admin listener over plain HTTP must not start"),
    }
    cfg.admin_insecure_http = true;
    cfg.admin_url = Some("https://admin.example:8443/".into());
    let running = server::start(cfg).await?;
    assert_eq!(running.admin_url, "https://admin.example:8443");
    let port = running.admin_addr.port();
    let health = ready(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port}/admin/v1/health"),
    )
    .await;
    assert_eq!(health, 200);
    running.stop().await;
    Ok(())
}
