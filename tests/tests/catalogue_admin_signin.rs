//! Security catalogue §AD (admin sign-in and hardening), part B1: native approval and
//! reserved admin scopes (issue 10 §3). Real server on loopback, real HTTP; the
//! "browser" is a reqwest client with a cookie jar in which the administrator is
//! signed in, and the "web page" is whatever request a page could make it send.

use latchkey_e2e::catalogue::ALICE;
use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::NewClient;
use latchkey_e2e::latchkey_core::model::{Client, ClientType, GrantType, ADMIN_SCOPE};
use latchkey_e2e::*;
use serde_json::{json, Value};

const ADMIN: (&str, &str) = ("root", "a long admin passphrase");
const T0: i64 = 1_700_000_000;
/// The console's sign-in scope (crates/latchkey-admin/src/signin.rs).
const CONSOLE_SCOPE: &str = "openid offline_access latchkey:admin";
/// A loopback port of the attacker's choosing.
const EVIL_REDIRECT: &str = "http://127.0.0.1:4444/callback";

async fn server(clock: bool) -> Harness {
    let h = if clock {
        Harness::start_with_clock(T0).await
    } else {
        Harness::start().await
    }
    .expect("server");
    h.admin_user(ADMIN.0, ADMIN.1).await.expect("admin");
    h.user(ALICE.0, ALICE.1).await.expect("alice");
    h
}

/// The console client, redirecting to the attacker's port.
fn console_at(h: &Harness, redirect: &str) -> TestClient {
    TestClient {
        redirect_uri: redirect.into(),
        ..h.console_client()
    }
}

/// A browser in which `user` is signed in (the bare login form).
async fn signed_in(h: &Harness, user: (&str, &str)) -> reqwest::Client {
    let b = h.browser();
    let r = h.sign_in(&b, user.0, user.1).await.expect("sign in");
    assert!(r.status().is_success(), "sign-in: {}", r.status());
    b
}

/// What `browser` is answered for `url`, without following: (status, Location).
async fn hop(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let r = browser.get(url).send().await.expect("request");
    (r.status().as_u16(), location(&r).unwrap_or_default())
}

/// An admin-tool client (confidential, https redirect) that may request the admin scopes.
async fn admin_tool(h: &Harness, require_consent: bool) -> TestClient {
    let created = h
        .manager
        .client_create(
            "test",
            NewClient {
                name: "Ops dashboard".into(),
                client_type: Some(ClientType::Confidential),
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                redirect_uris: vec!["https://ops.test/cb".into()],
                allowed_scopes: vec!["openid".into(), "offline_access".into(), ADMIN_SCOPE.into()],
                require_consent: Some(require_consent),
                admin_tool: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("admin tool");
    TestClient {
        id: created.client.id,
        secret: created.secret.map(|s| s.into_string()),
        redirect_uri: "https://ops.test/cb".into(),
    }
}

/// Writes a client row as an old database could hold it (bypassing the manager's checks).
async fn force_row(h: &Harness, id: &str, edit: impl FnOnce(&mut Client)) {
    let mut c = h.store.client_get(id).await.unwrap().expect("client");
    edit(&mut c);
    let audit = latchkey_e2e::latchkey_core::model::NewAuditEvent {
        at: T0,
        actor: "test".into(),
        action: "client.update".into(),
        ..Default::default()
    };
    // The write moves the store's change marker: the provider's cache sees it.
    h.store.client_update(&c, &audit).await.unwrap();
}

/// AD-01: a page in the admin's browser sends it to `/authorize` for `latchkey-console`
/// with its own PKCE challenge and loopback port: the answer is the approval page naming
/// the application, the port and the administrator access — never a code — and only the
/// approval POST produces the code.
#[tokio::test]
async fn a_page_in_the_admins_browser_gets_no_code_for_the_console_without_the_approval_post() {
    let h = server(false).await;
    let browser = signed_in(&h, ADMIN).await;
    let console = console_at(&h, EVIL_REDIRECT);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&h, &console, CONSOLE_SCOPE, &challenge, &[]);
    let (status, loc) = hop(&browser, &url).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/consent?req="), "went to {loc}");
    assert!(!loc.contains("code="), "{loc}");
    assert_eq!(h.grant_rows().await.unwrap().codes, 0, "no code was issued");

    let page = browser.get(h.url(&loc)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Latchkey console"), "names the application");
    assert!(
        page.contains("port 4444"),
        "names the loopback port: {page}"
    );
    assert!(
        page.contains("grants administrator access to this server"),
        "says what is granted"
    );
    assert_eq!(h.grant_rows().await.unwrap().codes, 0);

    let form = [
        ("req", hidden_field(&page, "req").unwrap()),
        ("csrf", hidden_field(&page, "csrf").unwrap()),
        ("decision", "approve".to_string()),
    ];
    let r = browser
        .post(h.url("/consent"))
        .header("origin", h.issuer.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    let loc = location(&r).unwrap();
    assert!(loc.starts_with(EVIL_REDIRECT), "{loc}");
    let code = query_param(&loc, "code").expect("code after the approval");
    let tokens = redeem(&h, &console, &code, &verifier).await.unwrap();
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert!(tokens.must("scope").contains(ADMIN_SCOPE));
}

/// AD-02: `prompt=none` for a public native client answers `consent_required`, never a
/// code, even for a signed-in administrator and without admin scopes.
#[tokio::test]
async fn prompt_none_for_a_native_public_client_answers_consent_required_never_a_code() {
    let h = server(false).await;
    let browser = signed_in(&h, ADMIN).await;
    let console = console_at(&h, EVIL_REDIRECT);
    let (_, challenge) = pkce();
    for scope in ["openid", CONSOLE_SCOPE] {
        let url = authorize_url(&h, &console, scope, &challenge, &[("prompt", "none")]);
        let (status, loc) = hop(&browser, &url).await;
        assert_eq!(status, 303);
        assert!(loc.starts_with(EVIL_REDIRECT), "{loc}");
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("consent_required"),
            "{scope}: {loc}"
        );
        assert!(query_param(&loc, "code").is_none());
    }
    assert_eq!(h.grant_rows().await.unwrap().codes, 0);
}

/// AD-03: the approval POST without its CSRF token, with another request's token, or
/// from a foreign `Origin` is a 403 and issues no code; the genuine one still works.
#[tokio::test]
async fn an_approval_post_without_csrf_or_from_a_foreign_origin_is_refused_and_issues_no_code() {
    let h = server(false).await;
    let browser = h.browser();
    let console = console_at(&h, EVIL_REDIRECT);
    let (_, challenge) = pkce();
    let url = authorize_url(&h, &console, CONSOLE_SCOPE, &challenge, &[]);
    let (req, csrf) = h
        .consent_fields(&browser, &url, ADMIN.0, ADMIN.1)
        .await
        .unwrap();
    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut rb = browser.post(h.url("/consent")).form(&form);
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb.send()
    };
    let approve = |csrf: &str| {
        vec![
            ("req", req.clone()),
            ("csrf", csrf.to_string()),
            ("decision", "approve".to_string()),
        ]
    };
    let no_csrf = vec![("req", req.clone()), ("decision", "approve".to_string())];
    for (name, form, origin) in [
        ("no csrf", no_csrf, None),
        (
            "wrong csrf",
            approve("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
        ),
        ("foreign origin", approve(&csrf), Some("https://evil.test")),
        ("null origin", approve(&csrf), Some("null")),
    ] {
        let r = post(form, origin).await.unwrap();
        assert_eq!(r.status(), 403, "{name}");
        assert!(location(&r).is_none(), "{name}: no redirect");
        assert_eq!(h.grant_rows().await.unwrap().codes, 0, "{name}: no code");
    }
    let r = post(approve(&csrf), Some(leak(&h.issuer))).await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(query_param(&location(&r).unwrap(), "code").is_some());
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// AD-04: a request for the admin scopes on a sign-in older than five minutes (the core
/// clock) goes to the password form again; one without them goes on to the approval
/// page; and an approval page left open past the window asks for the password too.
#[tokio::test]
async fn an_admin_scope_request_on_a_stale_sign_in_asks_for_the_password_again() {
    let h = server(true).await;
    let clock = h.clock.clone().expect("fixed clock");
    let browser = signed_in(&h, ADMIN).await;
    let console = console_at(&h, EVIL_REDIRECT);
    let (_, challenge) = pkce();
    let admin_url = authorize_url(&h, &console, CONSOLE_SCOPE, &challenge, &[]);
    let plain_url = authorize_url(&h, &console, "openid", &challenge, &[]);

    clock.advance(300);
    let (_, loc) = hop(&browser, &admin_url).await;
    assert!(loc.starts_with("/consent"), "within the window: {loc}");
    // The approval page stays open past the window: its POST asks for the password.
    let page = browser
        .get(h.url(&loc))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    clock.advance(1);
    let r = browser
        .post(h.url("/consent"))
        .form(&[
            ("req", hidden_field(&page, "req").unwrap()),
            ("csrf", hidden_field(&page, "csrf").unwrap()),
            ("decision", "approve".into()),
        ])
        .send()
        .await
        .unwrap();
    let loc = location(&r).unwrap_or_default();
    assert!(loc.starts_with("/login?req="), "stale approval: {loc}");
    assert_eq!(h.grant_rows().await.unwrap().codes, 0);

    let (_, loc) = hop(&browser, &admin_url).await;
    assert!(
        loc.starts_with("/login?req="),
        "stale sign-in, admin scope: {loc}"
    );
    let (_, plain) = hop(&browser, &plain_url).await;
    assert!(plain.starts_with("/consent"), "no admin scope: {plain}");

    // Entering the password again leads to the approval page, then the code.
    let redirect = h
        .browser_authorize(&browser, &admin_url, ADMIN.0, ADMIN.1)
        .await
        .unwrap();
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
}

/// AD-05: consent remembered for an admin tool does not skip the approval when the
/// request asks for the admin scopes (it still does for the other scopes), and a client
/// that needs no consent meets the approval page for them too.
#[tokio::test]
async fn remembered_consent_still_requires_the_approval_for_admin_scopes() {
    let h = server(false).await;
    let tool = admin_tool(&h, true).await;
    let browser = h.browser();
    let (_, challenge) = pkce();
    let admin = authorize_url(&h, &tool, "openid latchkey:admin", &challenge, &[]);
    let plain = authorize_url(&h, &tool, "openid", &challenge, &[]);
    let first = h
        .browser_authorize(&browser, &admin, ADMIN.0, ADMIN.1)
        .await
        .unwrap();
    assert!(query_param(&first, "code").is_some());
    let (_, loc) = hop(&browser, &plain).await;
    assert!(
        loc.starts_with("https://ops.test/cb?code="),
        "remembered: {loc}"
    );
    let (_, loc) = hop(&browser, &admin).await;
    assert!(loc.starts_with("/consent"), "admin scope again: {loc}");

    let silent = admin_tool(&h, false).await;
    let url = authorize_url(&h, &silent, "openid latchkey:admin", &challenge, &[]);
    let (_, loc) = hop(&browser, &url).await;
    assert!(loc.starts_with("/consent"), "no-consent client: {loc}");
    let url = authorize_url(&h, &silent, "openid", &challenge, &[]);
    let (_, loc) = hop(&browser, &url).await;
    assert!(loc.starts_with("https://ops.test/cb?code="), "{loc}");
}

async fn admin_api(
    h: &Harness,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = h
        .http()
        .request(method, h.admin_url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// AD-06: a client cannot be given `latchkey:admin` (create, update, clone) unless an
/// administrator marks it as an admin tool, and the mark is in the audit log.
#[tokio::test]
async fn a_normal_client_cannot_be_given_the_admin_scopes_and_marking_an_admin_tool_is_audited() {
    let h = server(false).await;
    let (_, key) = h.api_key(false).await.unwrap();
    let base = json!({
        "name": "Shop",
        "client_type": "confidential",
        "redirect_uris": ["https://shop.test/cb"],
        "allowed_scopes": ["openid", "latchkey:admin"],
    });
    let (status, body) = admin_api(
        &h,
        &key,
        reqwest::Method::POST,
        "/admin/v1/clients",
        base.clone(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("reserved"),
        "{body}"
    );
    for scope in ["latchkey:admin:read"] {
        let mut b = base.clone();
        b["allowed_scopes"] = json!(["openid", scope]);
        let (status, _) = admin_api(&h, &key, reqwest::Method::POST, "/admin/v1/clients", b).await;
        assert_eq!(status, 400, "{scope}");
    }

    let mut ok = base.clone();
    ok["allowed_scopes"] = json!(["openid"]);
    let (status, created) =
        admin_api(&h, &key, reqwest::Method::POST, "/admin/v1/clients", ok).await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    let path = format!("/admin/v1/clients/{id}");
    let (status, body) = admin_api(
        &h,
        &key,
        reqwest::Method::PATCH,
        &path,
        json!({"allowed_scopes": ["openid", "latchkey:admin"]}),
    )
    .await;
    assert_eq!(status, 400, "update: {body}");

    let (status, body) = admin_api(
        &h,
        &key,
        reqwest::Method::PATCH,
        &path,
        json!({"allowed_scopes": ["openid", "latchkey:admin"], "admin_tool": true}),
    )
    .await;
    assert_eq!(status, 200, "marked: {body}");
    assert_eq!(body["admin_tool"], true);
    let audit = h
        .store
        .audit_list(&latchkey_e2e::latchkey_core::model::AuditFilter {
            action_prefix: Some("client.update".into()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let marked = audit
        .iter()
        .find(|e| e.target.as_deref() == Some(id.as_str()))
        .expect("the marking is audited");
    let before: Value = serde_json::from_str(marked.before.as_deref().unwrap()).unwrap();
    let after: Value = serde_json::from_str(marked.after.as_deref().unwrap()).unwrap();
    assert_eq!(before["admin_tool"], false);
    assert_eq!(after["admin_tool"], true);

    // A copy of the console or of an admin tool is neither: no mark, no admin scope.
    for src in ["latchkey-console", id.as_str()] {
        let (status, copy) = admin_api(
            &h,
            &key,
            reqwest::Method::POST,
            &format!("/admin/v1/clients/{src}/clone"),
            json!({}),
        )
        .await;
        assert_eq!(status, 201, "clone {src}: {copy}");
        assert_eq!(copy["admin_tool"], false);
        let scopes = copy["allowed_scopes"].as_array().unwrap();
        assert!(!scopes
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("latchkey:admin")));
    }
}

/// AD-07: a client whose row already lists `latchkey:admin` (written before the
/// reservation) is refused it at authorize (`invalid_scope`), at the device
/// authorization endpoint, and at refresh for a session granted while it was marked.
#[tokio::test]
async fn an_old_client_row_listing_an_admin_scope_cannot_use_it_anywhere() {
    let h = server(false).await;
    let cat_client = h
        .public(
            &[
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::DeviceCode,
            ],
            "https://spa.test/cb",
            &["openid", "offline_access"],
        )
        .await
        .unwrap();
    force_row(&h, &cat_client.id, |c| {
        c.allowed_scopes.push(ADMIN_SCOPE.into())
    })
    .await;
    let browser = signed_in(&h, ADMIN).await;
    let (_, challenge) = pkce();
    let url = authorize_url(&h, &cat_client, "openid latchkey:admin", &challenge, &[]);
    let (_, loc) = hop(&browser, &url).await;
    assert!(loc.starts_with("https://spa.test/cb"), "{loc}");
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    let r = device_start(&h, &cat_client, "openid latchkey:admin")
        .await
        .unwrap();
    assert_oauth_error(&r, 400, "invalid_scope");

    // Granted while marked, then the mark is gone: the refresh token no longer carries
    // admin power.
    let tool = admin_tool(&h, true).await;
    let tokens = h
        .code_flow_tokens(&tool, "openid offline_access latchkey:admin", ADMIN)
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    force_row(&h, &tool.id, |c| c.admin_tool = false).await;
    let r = refresh(&h, &tool, &rt, None).await.unwrap();
    assert_oauth_error(&r, 400, "invalid_scope");
    let r = refresh(&h, &tool, &rt, Some("openid")).await.unwrap();
    assert_eq!(r.status, 200, "without the admin scope: {}", r.text);
}

/// AD-08: the device flow gives the admin scopes to `latchkey-console` only — not even
/// to a marked admin tool.
#[tokio::test]
async fn the_device_flow_refuses_admin_scopes_to_every_client_but_the_console() {
    let h = server(false).await;
    let created = h
        .manager
        .client_create(
            "test",
            NewClient {
                name: "TV app".into(),
                client_type: Some(ClientType::Public),
                grant_types: vec![GrantType::DeviceCode],
                allowed_scopes: vec!["openid".into(), ADMIN_SCOPE.into()],
                admin_tool: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tv = TestClient {
        id: created.client.id,
        secret: None,
        redirect_uri: String::new(),
    };
    let r = device_start(&h, &tv, "openid latchkey:admin")
        .await
        .unwrap();
    assert_oauth_error(&r, 400, "invalid_scope");
    let r = device_start(&h, &tv, "openid").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = device_start(&h, &h.console_client(), CONSOLE_SCOPE)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
}

/// AD-09: the verification page for a console device request says in plain words that
/// it grants administrator access to this server.
#[tokio::test]
async fn the_console_device_verification_page_says_it_grants_administrator_access() {
    let h = server(false).await;
    let r = device_start(&h, &h.console_client(), CONSOLE_SCOPE)
        .await
        .unwrap();
    let user_code = r.must("user_code");
    let (b, csrf) = device_browser(&h, ADMIN).await.unwrap();
    let page = device_form(&h, &b, &[("user_code", &user_code), ("csrf", &csrf)])
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("This grants administrator access to this server"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&h.issuer), "names the server");
}

/// AD-10: `latchkey serve`'s start on a brand-new database (never opened by the admin
/// CLI) creates the built-in scopes and `latchkey-console`: the console's sign-in
/// request is valid (it goes to the login form, not an error page).
#[tokio::test]
async fn serve_on_a_brand_new_database_has_latchkey_console_and_the_openid_scope() {
    if on_postgres() {
        // The harness creates every PostgreSQL database through the manager; the start
        // path and `ensure_console_client` are the same code for both stores.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let cfg = latchkey_e2e::latchkey_server::ServeConfig::new(
        db.clone(),
        issuer.clone(),
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        latchkey_e2e::latchkey_core::crypto::Kek::generate(),
    );
    let running = latchkey_e2e::latchkey_server::start(cfg)
        .await
        .expect("serve");
    let http = plain_http();
    let mut ready = false;
    for _ in 0..500 {
        if let Ok(r) = http.get(format!("{issuer}/jwks")).send().await {
            if r.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "the server became ready");
    let disco: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scopes = disco["scopes_supported"].to_string();
    assert!(scopes.contains("\"openid\""), "{scopes}");
    let (_, challenge) = pkce();
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "latchkey-console")
        .append_pair("redirect_uri", "http://127.0.0.1:5555/callback")
        .append_pair("scope", CONSOLE_SCOPE)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let r = http.get(u.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert!(location(&r).unwrap().starts_with("/login?req="));
    running.stop().await;
}
