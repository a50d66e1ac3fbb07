//! Browser apps (issue 15): CORS on the endpoints a single-page app calls, none
//! elsewhere, per-client web origins; and a real browser (headless Chromium through
//! playwright-core, `tests/browser/`) running a browser app from another loopback
//! origin, while a page from an origin no client lists is refused by the browser.

use anyhow::{anyhow, Context, Result};
use latchkey_e2e::latchkey_core::manage::ClientUpdate;
use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::*;
use serde_json::Value;

const ALICE: (&str, &str) = ("alice", "correct horse battery");

/// A preflight as a browser sends it before a POST with a `DPoP` header.
async fn preflight(h: &Harness, path: &str, origin: &str) -> Result<reqwest::Response> {
    Ok(h.http()
        .request(reqwest::Method::OPTIONS, h.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type,dpop")
        .send()
        .await?)
}

fn acao(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn spa_client(h: &Harness, redirect: &str) -> Result<TestClient> {
    h.public(
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect,
        &["openid", "offline_access"],
    )
    .await
}

/// An origin no client lists gets no CORS answer anywhere; the pages, introspection
/// and the admin API answer none even to a registered origin (AZ-22).
#[tokio::test]
async fn cors_is_refused_to_unknown_origins_and_absent_where_no_browser_app_belongs() -> Result<()>
{
    let h = Harness::start().await?;
    spa_client(&h, "https://app.example/cb").await?;
    for path in ["/token", "/revoke", "/userinfo", "/device_authorization"] {
        let r = preflight(&h, path, "https://evil.example").await?;
        assert_eq!(acao(&r), None, "{path}");
    }
    for path in ["/introspect", "/authorize", "/login", "/consent"] {
        let r = preflight(&h, path, "https://app.example").await?;
        assert_eq!(acao(&r), None, "{path}");
        let r = h
            .http()
            .get(h.url(path))
            .header("Origin", "https://app.example")
            .send()
            .await?;
        assert_eq!(acao(&r), None, "{path}");
    }
    let admin = format!("http://{}/admin/v1/clients", h.admin_addr());
    let r = h
        .http()
        .request(reqwest::Method::OPTIONS, &admin)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await?;
    assert_eq!(acao(&r), None, "admin API");
    Ok(())
}

/// A client's origins (derived from its redirect URIs) get the preflight answered with
/// the methods and headers a DPoP-using app needs, and may read `DPoP-Nonce` and
/// `WWW-Authenticate`; discovery and JWKS answer every origin.
#[tokio::test]
async fn a_clients_origin_gets_cors_on_token_revocation_userinfo_and_device_endpoints() -> Result<()>
{
    let h = Harness::start().await?;
    spa_client(&h, "https://app.example/cb").await?;
    for path in ["/token", "/revoke", "/userinfo", "/device_authorization"] {
        let r = preflight(&h, path, "https://app.example").await?;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(acao(&r).as_deref(), Some("https://app.example"), "{path}");
        let allowed = r
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(allowed.contains("dpop"), "{path}: {allowed}");
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "no credentials mode"
        );
    }
    let r = h
        .http()
        .get(h.url("/userinfo"))
        .header("Origin", "https://app.example")
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    assert_eq!(acao(&r).as_deref(), Some("https://app.example"));
    let exposed = r
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce") && exposed.contains("www-authenticate"));
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let r = h
            .http()
            .get(h.url(path))
            .header("Origin", "https://anyone.example")
            .send()
            .await?;
        assert_eq!(acao(&r).as_deref(), Some("*"), "{path}");
    }
    Ok(())
}

/// Origins set by hand replace the derived ones; a disabled client's origins are
/// nobody's.
#[tokio::test]
async fn edited_origins_replace_the_derived_ones_and_disabled_clients_have_none() -> Result<()> {
    let h = Harness::start().await?;
    let c = spa_client(&h, "https://app.example/cb").await?;
    h.manager
        .client_update(
            "test",
            &c.id,
            ClientUpdate {
                allowed_origins: Some(Some(vec!["https://web.example".into()])),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(
        acao(&preflight(&h, "/token", "https://web.example").await?).as_deref(),
        Some("https://web.example")
    );
    assert_eq!(
        acao(&preflight(&h, "/token", "https://app.example").await?),
        None
    );
    h.manager
        .client_update(
            "test",
            &c.id,
            ClientUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(
        acao(&preflight(&h, "/token", "https://web.example").await?),
        None
    );
    // An origin is written as a browser sends it; anything else is refused.
    for bad in [
        "https://web.example/",
        "https://web.example/app",
        "http://web.example",
        "*",
        "null",
        "HTTPS://WEB.EXAMPLE",
    ] {
        let r = h
            .manager
            .client_update(
                "test",
                &c.id,
                ClientUpdate {
                    allowed_origins: Some(Some(vec![bad.into()])),
                    ..Default::default()
                },
            )
            .await;
        assert!(r.is_err(), "{bad} accepted");
    }
    Ok(())
}

/// A page may act only for a client that lists its origin: app A's page cannot use
/// app B's credentials (or code) at the token endpoint, though A's origin passes CORS.
#[tokio::test]
async fn a_page_may_act_only_for_a_client_that_lists_its_origin() -> Result<()> {
    let h = Harness::start().await?;
    spa_client(&h, "https://a.example/cb").await?;
    let b = h
        .confidential(&[GrantType::ClientCredentials], "", &[])
        .await?;
    let r = h
        .http()
        .post(h.url("/token"))
        .basic_auth(&b.id, b.secret.as_deref())
        .header("Origin", "https://a.example")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    assert_eq!(acao(&r).as_deref(), Some("https://a.example"));
    let body: Value = r.json().await?;
    assert_eq!(body["error"], "invalid_request", "{body}");
    // Without an Origin (a server, not a page) B gets its token.
    let r = h
        .post_basic("/token", &b, &[("grant_type", "client_credentials")])
        .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}

/// Serves `body` for every GET on a fresh loopback port; returns the origin.
async fn serve_page(body: String) -> Result<String> {
    use axum::response::Html;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { Html(body) }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(origin)
}

/// The real browser: the app's own origin signs in with the code flow and PKCE, then
/// `/token` (DPoP-bound), `/userinfo` (with its proof, and refused as Bearer),
/// refresh and `/revoke` from page JavaScript; a page from another origin cannot read
/// the token endpoint or userinfo (the browser refuses it), only discovery.
#[tokio::test]
async fn a_browser_app_on_another_origin_runs_the_code_flow_and_a_foreign_page_is_refused(
) -> Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(anyhow!(
            "tests/browser/node_modules is missing: run `make setup` (npm ci in tests/browser)"
        ));
    }
    let h = Harness::start().await?;
    h.user(ALICE.0, ALICE.1).await?;
    // The app's origin is known only once its port is: serve, then register.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let spa_origin = format!("http://{}", listener.local_addr()?);
    let client = spa_client(&h, &format!("{spa_origin}/cb")).await?;
    let html = std::fs::read_to_string(dir.join("spa.html"))?
        .replace("__ISSUER__", &h.issuer)
        .replace("__CLIENT_ID__", &client.id);
    let app = axum::Router::new().fallback(move || {
        let html = html.clone();
        async move { axum::response::Html(html) }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let evil = serve_page("<!doctype html><title>elsewhere</title><p>elsewhere</p>".into()).await?;

    let out = tokio::process::Command::new("node")
        .arg(dir.join("spa.mjs"))
        .env("ISSUER", &h.issuer)
        .env("SPA_URL", &spa_origin)
        .env("EVIL_URL", &evil)
        .env("USERNAME", ALICE.0)
        .env("PASSWORD", ALICE.1)
        .output()
        .await
        .context("running node tests/browser/spa.mjs")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| {
            format!(
                "browser run printed no report: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    assert!(report.get("error").is_none(), "{report}");
    let spa = &report["spa"];
    assert!(spa.get("error").is_none(), "{report}");
    assert_eq!(spa["state_ok"], true, "{report}");
    assert_eq!(spa["iss"], h.issuer.as_str(), "{report}");
    assert_eq!(spa["token_status"], 200, "{report}");
    assert_eq!(spa["token_type"], "DPoP", "{report}");
    assert_eq!(spa["has_refresh"], true, "{report}");
    assert_eq!(spa["userinfo_status"], 200, "{report}");
    assert!(spa["sub"].is_string(), "{report}");
    assert_eq!(spa["bearer_status"], 401, "{report}");
    assert!(
        spa["bearer_www"]
            .as_str()
            .is_some_and(|w| w.starts_with("DPoP ") && w.contains("invalid_token")),
        "{report}"
    );
    assert_eq!(spa["refresh_status"], 200, "{report}");
    assert_eq!(spa["rotated"], true, "{report}");
    assert_eq!(spa["revoke_status"], 200, "{report}");
    assert_eq!(spa["after_revoke"], "invalid_grant", "{report}");
    let foreign = &report["evil"];
    assert_eq!(foreign["token"], "refused", "{report}");
    assert_eq!(foreign["token_with_dpop"], "refused", "{report}");
    assert_eq!(foreign["userinfo"], "refused", "{report}");
    assert_eq!(foreign["discovery"], "read 200", "{report}");
    Ok(())
}

/// A real browser posts our sign-in form with `Origin: null` (the pages'
/// `Referrer-Policy: no-referrer`); that is accepted only when the browser's own
/// `Sec-Fetch-Site` says same-origin, never from a cross-site or sandboxed page.
#[tokio::test]
async fn a_null_origin_sign_in_post_passes_only_when_the_browser_says_same_origin() -> Result<()> {
    let h = Harness::start().await?;
    h.user(ALICE.0, ALICE.1).await?;
    let c = spa_client(&h, "https://app.example/cb").await?;
    let (_, challenge) = pkce();
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        h.url("/authorize"),
        c.id
    );
    for (site, ok) in [
        ("cross-site", false),
        ("same-site", false),
        ("same-origin", true),
    ] {
        let b = h.browser();
        let first = b.get(&url).send().await?;
        let login = location(&first).context("authorize redirects to sign-in")?;
        let page = b.get(h.url(&login)).send().await?.text().await?;
        let mut form = vec![
            ("username", ALICE.0.to_string()),
            ("password", ALICE.1.to_string()),
            ("csrf", hidden_field(&page, "csrf").context("csrf")?),
        ];
        if let Some(req) = hidden_field(&page, "req") {
            form.push(("req", req));
        }
        let r = b
            .post(h.url("/login"))
            .header("Origin", "null")
            .header("Sec-Fetch-Site", site)
            .form(&form)
            .send()
            .await?;
        assert_eq!(r.status().is_redirection(), ok, "{site}: {}", r.status());
    }
    Ok(())
}
