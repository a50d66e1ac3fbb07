//! Issue 12: "change on next sign-in". An administrator sets a user's password with
//! `must_change_password`; the sign-in page then, after a correct password, asks for a
//! new one before the sign-in counts. In-process (the real public router, `oneshot`, a
//! temporary SQLite store, a fixed clock).

use anyhow::{anyhow, Context, Result};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use http_body_util::BodyExt;
use latchkey_e2e::hidden_field;
use latchkey_e2e::latchkey_core::clock::{Clock, FixedClock};
use latchkey_e2e::latchkey_core::crypto::Kek;
use latchkey_e2e::latchkey_core::manage::{ManagePolicy, Manager, NewUser};
use latchkey_e2e::latchkey_core::model::AuditFilter;
use latchkey_e2e::latchkey_core::oauth::{Config, Provider};
use latchkey_e2e::latchkey_core::store::Store;
use latchkey_e2e::latchkey_server as server;
use latchkey_store_sqlite::SqliteStore;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

const ISSUER: &str = "http://127.0.0.1:8080";
const FIRST: &str = "alice's first password";
const TEMPORARY: &str = "temporary password 1";
const CHOSEN: &str = "alice chose this one";

struct Page {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    /// `name=value` of every cookie the answer sets (an empty value: cleared).
    fn cookies(&self) -> HashMap<String, String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next()?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

struct Server {
    app: axum::Router,
    provider: Arc<Provider>,
    manager: Manager,
    store: Arc<SqliteStore>,
    session_cookie: String,
    _dir: tempfile::TempDir,
}

async fn server() -> Result<Server> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("latchkey.db")).await?);
    let dyn_store: Arc<dyn Store> = store.clone();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_800_000_000));
    let kek = Kek::generate();
    let manager = Manager::new(
        dyn_store.clone(),
        clock.clone(),
        kek.clone(),
        ManagePolicy::default(),
    );
    manager.ensure_builtin_scopes().await?;
    manager
        .user_create(
            "test",
            NewUser {
                username: "alice".into(),
                email: None,
                name: None,
                password: FIRST.into(),
                is_admin: false,
            },
        )
        .await?;
    let provider = Arc::new(Provider::new(dyn_store, clock, kek, Config::new(ISSUER)));
    provider.maintain_keys().await?;
    let (_ready, ready_rx) = tokio::sync::watch::channel(true);
    let st = server::app_state(provider.clone(), vec![], ready_rx);
    let session_cookie = st.session_cookie().to_string();
    Ok(Server {
        app: server::public_router(st),
        provider,
        manager,
        store,
        session_cookie,
        _dir: dir,
    })
}

impl Server {
    async fn call(&self, req: axum::http::Request<Body>) -> Result<Page> {
        let peer: SocketAddr = "127.0.0.1:40000".parse()?;
        let resp = self
            .app
            .clone()
            .layer(MockConnectInfo(peer))
            .oneshot(req)
            .await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Posts the change form with the held sign-in's cookies: the new password twice.
    async fn choose(
        &self,
        jar: &HashMap<String, String>,
        csrf: &str,
        new_password: &str,
        repeat_password: &str,
    ) -> Result<Page> {
        let form = [
            ("csrf", csrf),
            ("new_password", new_password),
            ("repeat_password", repeat_password),
        ];
        self.post("/login/password", jar, &form, None).await
    }

    async fn post(
        &self,
        path: &str,
        cookies: &HashMap<String, String>,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Result<Page> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut b = axum::http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie);
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        self.call(b.body(Body::from(body))?).await
    }

    /// GET /login then POST it: the answer and the cookies the browser now holds.
    async fn sign_in(&self, password: &str) -> Result<(Page, HashMap<String, String>)> {
        let form = self
            .call(axum::http::Request::get("/login").body(Body::empty())?)
            .await?;
        let mut jar = form.cookies();
        let csrf = hidden_field(&form.body, "csrf").ok_or_else(|| anyhow!("no csrf field"))?;
        let page = self
            .post(
                "/login",
                &jar,
                &[
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", password),
                ],
                None,
            )
            .await?;
        jar.extend(page.cookies());
        Ok((page, jar))
    }

    async fn alice(&self) -> Result<latchkey_e2e::latchkey_core::model::User> {
        self.store
            .user_by_username("alice")
            .await?
            .context("alice is gone")
    }
}

#[tokio::test]
async fn a_required_change_holds_the_sign_in_until_the_user_chose_a_new_password_which_then_counts(
) -> Result<()> {
    let s = server().await?;
    let (_, shown) = s
        .manager
        .user_password_set("local-admin", "alice", Some(TEMPORARY), true)
        .await?;
    assert!(shown.is_none());
    assert!(s.alice().await?.must_change_password);

    // The correct (temporary) password leads to the change form, not to a sign-in.
    let (page, jar) = s.sign_in(TEMPORARY).await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Choose a new password"), "{}", page.body);
    assert!(
        !page.cookies().contains_key(&s.session_cookie),
        "no session cookie yet"
    );
    let held_name = format!("{}-pwchange", s.session_cookie);
    let held = jar
        .get(&held_name)
        .context("the held sign-in's cookie")?
        .clone();
    assert!(page.headers.get_all("set-cookie").iter().any(|v| v
        .to_str()
        .is_ok_and(|c| c.starts_with(&held_name) && c.contains("HttpOnly"))));
    // Held is not signed in: even planted as the session cookie it opens nothing.
    assert!(s.provider.sign_in_lookup(&held).await?.is_none());
    let csrf = hidden_field(&page.body, "csrf").context("csrf of the change form")?;
    assert!(
        !page.body.contains(TEMPORARY),
        "the password is never echoed"
    );

    // The old password again, two different ones: refused with the reason, still held.
    let again = s.choose(&jar, &csrf, TEMPORARY, TEMPORARY).await?;
    assert_eq!(again.status, 200);
    assert!(
        again
            .body
            .contains("different from the one you signed in with"),
        "{}",
        again.body
    );
    let differ = s
        .choose(&jar, &csrf, CHOSEN, "something else entirely")
        .await?;
    assert!(
        differ.body.contains("The two passwords differ"),
        "{}",
        differ.body
    );
    let short = s.choose(&jar, &csrf, "short", "short").await?;
    assert!(
        short.body.contains("at least 8 characters"),
        "{}",
        short.body
    );
    assert!(s.alice().await?.must_change_password);

    // The chosen password: signed in, the flag cleared, the held cookie cleared, an
    // audit event by alice herself without any hash.
    let done = s.choose(&jar, &csrf, CHOSEN, CHOSEN).await?;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("You are signed in"), "{}", done.body);
    let set = done.cookies();
    let session = set.get(&s.session_cookie).context("a session cookie")?;
    assert_eq!(set.get(&held_name).map(String::as_str), Some(""));
    let (_, user) = s
        .provider
        .sign_in_lookup(session)
        .await?
        .context("the new sign-in is live")?;
    assert!(!user.must_change_password);
    let alice = s.alice().await?;
    assert!(!alice.must_change_password);
    let events = s
        .store
        .audit_list(&AuditFilter {
            action_prefix: Some("user.set_password".into()),
            ..Default::default()
        })
        .await?;
    let own = events
        .iter()
        .find(|e| e.actor == format!("user:{}", alice.id))
        .context("the user's own change is audited")?;
    let recorded = serde_json::to_string(&own.after)?;
    assert!(!recorded.contains("argon2"), "{recorded}");
    assert!(!recorded.contains(CHOSEN), "{recorded}");

    // The form cannot be replayed, and the next sign-in with the chosen password
    // goes straight through; the temporary one no longer works.
    let replay = s
        .choose(&jar, &csrf, "yet another password", "yet another password")
        .await?;
    assert_eq!(replay.status, 400, "{}", replay.body);
    let (next, _) = s.sign_in(CHOSEN).await?;
    assert!(next.body.contains("You are signed in"), "{}", next.body);
    assert!(next.cookies().contains_key(&s.session_cookie));
    let (old, _) = s.sign_in(TEMPORARY).await?;
    assert!(
        old.body.contains("Wrong username or password"),
        "{}",
        old.body
    );
    Ok(())
}

#[tokio::test]
async fn the_change_form_refuses_a_missing_or_foreign_csrf_token_and_a_cross_site_post(
) -> Result<()> {
    let s = server().await?;
    s.manager
        .user_password_set("local-admin", "alice", Some(TEMPORARY), true)
        .await?;
    let (page, jar) = s.sign_in(TEMPORARY).await?;
    let csrf = hidden_field(&page.body, "csrf").context("csrf")?;
    let good = [("new_password", CHOSEN), ("repeat_password", CHOSEN)];

    let none = s.post("/login/password", &jar, &good, None).await?;
    assert_eq!(none.status, 403);
    // A token from another held sign-in (another browser) does not fit this one.
    let (other, _) = s.sign_in(TEMPORARY).await?;
    let foreign = hidden_field(&other.body, "csrf").context("csrf")?;
    assert_ne!(foreign, csrf);
    let mut with_foreign = vec![("csrf", foreign.as_str())];
    with_foreign.extend(good);
    assert_eq!(
        s.post("/login/password", &jar, &with_foreign, None)
            .await?
            .status,
        403
    );
    let mut with_csrf = vec![("csrf", csrf.as_str())];
    with_csrf.extend(good);
    let cross = s
        .post(
            "/login/password",
            &jar,
            &with_csrf,
            Some("https://evil.test"),
        )
        .await?;
    assert_eq!(cross.status, 403);
    // Without the held cookie there is nothing to change.
    let no_cookie = s
        .post("/login/password", &HashMap::new(), &with_csrf, None)
        .await?;
    assert_eq!(no_cookie.status, 400);
    assert!(s.alice().await?.must_change_password, "nothing was changed");
    Ok(())
}

#[tokio::test]
async fn repeated_refused_choices_hit_the_sign_in_rate_limit() -> Result<()> {
    let s = server().await?;
    s.manager
        .user_password_set("local-admin", "alice", Some(TEMPORARY), true)
        .await?;
    let (page, jar) = s.sign_in(TEMPORARY).await?;
    let csrf = hidden_field(&page.body, "csrf").context("csrf")?;
    let mut limited = None;
    for i in 0..30 {
        let p = s.choose(&jar, &csrf, TEMPORARY, TEMPORARY).await?;
        if p.status == 429 {
            limited = Some((i, p));
            break;
        }
        assert_eq!(p.status, 200);
    }
    let (_, p) = limited.context("the limiter never answered 429")?;
    assert!(p.headers.contains_key("retry-after"));
    assert!(s.alice().await?.must_change_password);
    Ok(())
}

#[tokio::test]
async fn a_password_set_without_the_flag_signs_in_directly() -> Result<()> {
    let s = server().await?;
    s.manager
        .user_password_set("local-admin", "alice", Some(TEMPORARY), false)
        .await?;
    let (page, _) = s.sign_in(TEMPORARY).await?;
    assert!(page.body.contains("You are signed in"), "{}", page.body);
    assert!(page.cookies().contains_key(&s.session_cookie));
    Ok(())
}
