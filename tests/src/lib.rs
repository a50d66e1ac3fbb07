//! Test harness for the end-to-end suites in `tests/tests/`: a real `latchkey-server`
//! on a loopback port over a temporary SQLite file — or, with
//! `LATCHKEY_TEST_STORE=postgres` or in the `pg_catalogue` test binary, a database of
//! its own on a throwaway PostgreSQL cluster ([`pg`]) — seeded through the same admin operations the CLI uses, plus an
//! HTTP client that can walk the login and consent forms like a browser.

pub mod pg;

use anyhow::{anyhow, Context, Result};
use latchkey_core::clock::{Clock, FixedClock, SystemClock};
use latchkey_core::crypto::{b64url, random_token, sha256, Kek};
use latchkey_core::manage::{ManagePolicy, Manager, NewClient, NewScope, NewUser};
use latchkey_core::model::{AuthMethod, ClientType, GrantType};
use latchkey_core::oauth::{Config, Provider};
use latchkey_core::store::Store;
use latchkey_server::{Running, ServeConfig};
use latchkey_store_postgres::PgStore;
use latchkey_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use latchkey_core;
pub use latchkey_server;
pub use latchkey_store_sqlite;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub running: Option<Running>,
    pub issuer: String,
    pub manager: Manager,
    pub provider: Arc<Provider>,
    pub store: Arc<dyn Store>,
    /// The PostgreSQL database when the harness runs on PostgreSQL.
    pub pg: Option<pg::TestDatabase>,
    /// Set when started with a fixed clock.
    pub clock: Option<FixedClock>,
    /// The self-signed certificate (PEM) when serving HTTPS.
    pub ca_pem: Option<String>,
    /// The key-encryption key of the store (for a `latchkey` process opening the same
    /// file: `LATCHKEY_KEK`).
    pub kek: Kek,
}

/// A registered client and its one-time secret.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

/// Whether the suites run on PostgreSQL: in the `pg_catalogue` test binary (the
/// catalogue files compiled a second time), or anywhere with
/// `LATCHKEY_TEST_STORE=postgres`.
pub fn on_postgres() -> bool {
    let by_env =
        std::env::var("LATCHKEY_TEST_STORE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"));
    let by_binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| n.starts_with("pg_catalogue"));
    by_env || by_binary
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl Harness {
    pub async fn start() -> Result<Self> {
        Self::start_inner(None, false).await
    }

    /// Starts with engine settings changed by `configure` (a feature that is off by
    /// default, such as dynamic registration), on a fixed clock at `at` if given.
    pub async fn start_configured(at: Option<i64>, configure: fn(&mut Config)) -> Result<Self> {
        Self::start_inner_with(at.map(FixedClock::new), false, configure).await
    }

    /// Serves HTTPS (rustls) with a fresh self-signed certificate for 127.0.0.1.
    pub async fn start_tls() -> Result<Self> {
        Self::start_inner(None, true).await
    }

    /// Starts with a fixed clock the test can move (expiry tests).
    pub async fn start_with_clock(at: i64) -> Result<Self> {
        Self::start_inner(Some(FixedClock::new(at)), false).await
    }

    async fn start_inner(fixed: Option<FixedClock>, tls: bool) -> Result<Self> {
        Self::start_inner_with(fixed, tls, |_| {}).await
    }

    /// A fixed clock, and every DPoP proof must carry a server nonce (RFC 9449 §8).
    pub async fn start_dpop_nonce(at: i64) -> Result<Self> {
        Self::start_inner_with(Some(FixedClock::new(at)), false, |c| c.dpop_nonce = true).await
    }

    async fn start_inner_with(
        fixed: Option<FixedClock>,
        tls: bool,
        configure: fn(&mut Config),
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("latchkey.db");
        let (store, pg): (Arc<dyn Store>, _) = if on_postgres() {
            let database = pg::TestDatabase::create().await?;
            let store = PgStore::connect(&database.url).await?;
            (Arc::new(store), Some(database))
        } else {
            (Arc::new(SqliteStore::open(&db).await?), None)
        };
        let clock: Arc<dyn Clock> = match &fixed {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let kek = Kek::generate();
        let dyn_store: Arc<dyn Store> = store.clone();
        let mut pg = pg;
        let manager = Manager::new(
            dyn_store.clone(),
            clock.clone(),
            kek.clone(),
            ManagePolicy::default(),
        );
        manager.ensure_builtin_scopes().await?;
        let (tls_files, ca_pem) = if tls {
            let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
            let cert = dir.path().join("cert.pem");
            let key = dir.path().join("key.pem");
            std::fs::write(&cert, ck.cert.pem())?;
            std::fs::write(&key, ck.signing_key.serialize_pem())?;
            (Some((cert, key)), Some(ck.cert.pem()))
        } else {
            (None, None)
        };
        // Ports are probed, then bound by the server; retry on the rare collision.
        for _ in 0..5 {
            let port = free_port();
            let scheme = if tls { "https" } else { "http" };
            let issuer = format!("{scheme}://127.0.0.1:{port}");
            let mut config = Config::new(&issuer);
            // Key-URL re-fetches are rate-limited; tests wait this long, not 10 s.
            config.jwks_refetch_min = std::time::Duration::from_millis(300);
            configure(&mut config);
            let provider = Arc::new(
                Provider::new(dyn_store.clone(), clock.clone(), kek.clone(), config)
                    .with_jwks_fetcher(Arc::new(latchkey_server::fetch::HttpJwksFetcher::new(
                        true,
                    ))),
            );
            let cfg = ServeConfig::new(
                db.clone(),
                issuer.clone(),
                SocketAddr::from(([127, 0, 0, 1], port)),
                SocketAddr::from(([127, 0, 0, 1], 0)),
                kek.clone(),
            );
            match latchkey_server::start_with(provider.clone(), cfg, tls_files.clone()).await {
                Ok(running) => {
                    let h = Harness {
                        dir,
                        db,
                        running: Some(running),
                        issuer,
                        manager,
                        provider,
                        store,
                        pg: pg.take(),
                        clock: fixed,
                        ca_pem,
                        kek: kek.clone(),
                    };
                    h.wait_ready().await?;
                    return Ok(h);
                }
                Err(latchkey_server::ServeError::Bind { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(anyhow!("no free port"))
    }

    async fn wait_ready(&self) -> Result<()> {
        let http = self.http();
        for _ in 0..300 {
            if let Ok(r) = http.get(self.url("/jwks")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(anyhow!("server did not become ready"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.running
            .as_ref()
            .map(|r| r.admin_addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn scope(&self, name: &str, description: &str) -> Result<()> {
        self.manager
            .scope_create(
                "test",
                NewScope {
                    name: name.into(),
                    description: description.into(),
                    claims: vec![],
                },
            )
            .await?;
        Ok(())
    }

    /// A confidential client (`client_secret_basic` unless `auth` says otherwise).
    pub async fn confidential(
        &self,
        grants: &[GrantType],
        redirect: &str,
        scopes: &[&str],
    ) -> Result<TestClient> {
        self.client(
            ClientType::Confidential,
            None,
            grants,
            redirect,
            scopes,
            None,
        )
        .await
    }

    pub async fn public(
        &self,
        grants: &[GrantType],
        redirect: &str,
        scopes: &[&str],
    ) -> Result<TestClient> {
        self.client(
            ClientType::Public,
            Some(AuthMethod::None),
            grants,
            redirect,
            scopes,
            None,
        )
        .await
    }

    pub async fn client(
        &self,
        kind: ClientType,
        auth: Option<AuthMethod>,
        grants: &[GrantType],
        redirect: &str,
        scopes: &[&str],
        jwks: Option<String>,
    ) -> Result<TestClient> {
        let created = self
            .manager
            .client_create(
                "test",
                NewClient {
                    name: "Test client".into(),
                    client_type: Some(kind),
                    auth_method: auth,
                    grant_types: grants.to_vec(),
                    redirect_uris: if redirect.is_empty() {
                        vec![]
                    } else {
                        vec![redirect.to_string()]
                    },
                    post_logout_redirect_uris: vec![],
                    allowed_scopes: scopes.iter().map(|s| s.to_string()).collect(),
                    jwks,
                    require_consent: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        Ok(TestClient {
            id: created.client.id.clone(),
            secret: created.secret.map(|s| s.into_string()),
            redirect_uri: redirect.to_string(),
        })
    }

    /// A user with the admin role (may be granted the admin API scopes).
    pub async fn admin_user(&self, username: &str, password: &str) -> Result<String> {
        let u = self
            .manager
            .user_create(
                "test",
                NewUser {
                    username: username.into(),
                    email: None,
                    name: None,
                    password: password.into(),
                    is_admin: true,
                },
            )
            .await?;
        Ok(u.id)
    }

    /// An admin API key (`read_only` or read-write) and its id.
    pub async fn api_key(&self, read_only: bool) -> Result<(String, String)> {
        let (key, secret) = self
            .manager
            .api_key_create("test", "test key", read_only, None)
            .await?;
        Ok((key.id, secret.into_string()))
    }

    /// One sign-in at the server's own form (GET for its CSRF token, then POST) in
    /// `browser`; the POST's answer.
    pub async fn form_login(
        &self,
        browser: &reqwest::Client,
        user: &str,
        password: &str,
    ) -> Result<reqwest::Response> {
        let page = browser.get(self.url("/login")).send().await?.text().await?;
        let csrf = hidden_field(&page, "csrf").ok_or_else(|| anyhow!("no login form"))?;
        Ok(browser
            .post(self.url("/login"))
            .form(&[("username", user), ("password", password), ("csrf", &csrf)])
            .send()
            .await?)
    }

    /// The admin API's base URL (`http://127.0.0.1:<admin port>`, `https` with TLS), as
    /// the server publishes it (`latchkey_admin_api`).
    pub fn admin_url(&self, path: &str) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{}", self.admin_addr(), path)
    }

    /// The built-in public client of the console, redirecting to a loopback port.
    pub fn console_client(&self) -> TestClient {
        TestClient {
            id: "latchkey-console".into(),
            secret: None,
            redirect_uri: "http://127.0.0.1:5555/callback".into(),
        }
    }

    pub async fn user(&self, username: &str, password: &str) -> Result<String> {
        let u = self
            .manager
            .user_create(
                "test",
                NewUser {
                    username: username.into(),
                    email: Some(format!("{username}@example.test")),
                    name: Some(format!("User {username}")),
                    password: password.into(),
                    is_admin: false,
                },
            )
            .await?;
        Ok(u.id)
    }
}

/// An HTTP client that never follows redirects (tests look at each hop).
pub fn plain_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A browser stand-in: keeps cookies, follows nothing by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A browser stand-in that connects from `addr` (a loopback address such as
/// `127.0.0.2`), so the server sees another machine.
pub fn client_from(addr: &str) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none());
    if let Ok(ip) = addr.parse::<std::net::IpAddr>() {
        b = b.local_address(ip);
    }
    b.build().unwrap_or_default()
}

/// PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = random_token();
    let challenge = b64url(&sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// Pulls `name="value"` of a hidden input out of a page.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

pub fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Query parameter of a URL.
pub fn query_param(u: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Harness {
    fn builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &self.ca_pem {
            if let Ok(c) = reqwest::Certificate::from_pem(pem.as_bytes()) {
                b = b.add_root_certificate(c);
            }
        }
        b
    }

    /// An HTTP client for this server that follows no redirects.
    pub fn http(&self) -> reqwest::Client {
        self.builder().build().unwrap_or_default()
    }

    /// A browser stand-in for this server: keeps cookies.
    pub fn browser(&self) -> reqwest::Client {
        self.builder()
            .cookie_store(true)
            .build()
            .unwrap_or_default()
    }

    /// Walks authorize → login → consent in `browser` and returns the final redirect
    /// (to the client) — the Location header of the last 303.
    pub async fn browser_authorize(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<String> {
        let mut resp = browser.get(authorize_url).send().await?;
        let mut hops = 0;
        loop {
            hops += 1;
            if hops > 10 {
                return Err(anyhow!("too many hops"));
            }
            let status = resp.status();
            if status.is_redirection() {
                let loc = location(&resp).context("redirect without Location")?;
                if !loc.starts_with('/') && !loc.starts_with(&self.issuer) {
                    return Ok(loc);
                }
                let next = if loc.starts_with('/') {
                    self.url(&loc)
                } else {
                    loc
                };
                resp = browser.get(&next).send().await?;
                continue;
            }
            let url = resp.url().to_string();
            let body = resp.text().await?;
            if url.contains("/login") {
                let mut form = vec![
                    ("username".to_string(), username.to_string()),
                    ("password".to_string(), password.to_string()),
                    (
                        "csrf".to_string(),
                        hidden_field(&body, "csrf").context("login csrf")?,
                    ),
                ];
                for extra in ["req", "device"] {
                    if let Some(v) = hidden_field(&body, extra) {
                        form.push((extra.to_string(), v));
                    }
                }
                resp = browser.post(self.url("/login")).form(&form).send().await?;
            } else if url.contains("/consent") {
                let form = vec![
                    (
                        "req".to_string(),
                        hidden_field(&body, "req").context("consent req")?,
                    ),
                    (
                        "csrf".to_string(),
                        hidden_field(&body, "csrf").context("consent csrf")?,
                    ),
                    ("decision".to_string(), "approve".to_string()),
                ];
                resp = browser
                    .post(self.url("/consent"))
                    .form(&form)
                    .send()
                    .await?;
            } else {
                return Err(anyhow!(
                    "unexpected page at {url} ({status}): {}",
                    &body[..body.len().min(300)]
                ));
            }
        }
    }

    /// A full authorization-code flow for `client`: returns the code.
    pub async fn get_code(
        &self,
        client: &TestClient,
        scope: &str,
        challenge: &str,
        user: (&str, &str),
    ) -> Result<String> {
        let b = self.browser();
        let mut u = url::Url::parse(&self.url("/authorize"))?;
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        let loc = self
            .browser_authorize(&b, u.as_str(), user.0, user.1)
            .await?;
        query_param(&loc, "code").ok_or_else(|| anyhow!("no code in {loc}"))
    }

    /// POSTs a form to `path` with HTTP Basic client authentication.
    pub async fn post_basic(
        &self,
        path: &str,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response> {
        Ok(self
            .http()
            .post(self.url(path))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(form)
            .send()
            .await?)
    }

    /// Code + tokens for `client`, through the real forms: (token response JSON).
    pub async fn code_flow_tokens(
        &self,
        client: &TestClient,
        scope: &str,
        user: (&str, &str),
    ) -> Result<serde_json::Value> {
        let (verifier, challenge) = pkce();
        let code = self.get_code(client, scope, &challenge, user).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let resp = if client.secret.is_some() {
            self.post_basic("/token", client, &form).await?
        } else {
            let mut f: Vec<(&str, &str)> = form.to_vec();
            f.push(("client_id", client.id.as_str()));
            self.http().post(self.url("/token")).form(&f).send().await?
        };
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        if !status.is_success() {
            return Err(anyhow!("token request failed: {status} {body}"));
        }
        Ok(body)
    }

    /// Introspects `token` with `rs` (a confidential client) and returns the JSON.
    pub async fn introspect(&self, rs: &TestClient, token: &str) -> Result<serde_json::Value> {
        let r = self
            .post_basic("/introspect", rs, &[("token", token)])
            .await?;
        Ok(r.json().await?)
    }
}

/// Helpers for the catalogue suites RT, CC, DV, RV, IN, OI and the concurrency tests
/// (`catalogue_*.rs`, `concurrency.rs`). Self-contained: free functions over a
/// [`Harness`], so they cannot clash with helpers other suites add.
pub mod catalogue_support {
    use super::{hidden_field, location, pkce, Harness, TestClient};
    use anyhow::{anyhow, Context, Result};
    use latchkey_core::model::{AuditEvent, AuditFilter, SessionFilter};
    use serde_json::Value;

    /// A finished HTTP exchange: status, headers, body text and (if it parses) JSON.
    #[derive(Debug, Clone)]
    pub struct Reply {
        pub status: u16,
        pub headers: reqwest::header::HeaderMap,
        pub text: String,
        pub json: Value,
    }

    impl Reply {
        pub async fn read(resp: reqwest::Response) -> Result<Reply> {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = resp.text().await?;
            let json = serde_json::from_str(&text).unwrap_or(Value::Null);
            Ok(Reply {
                status,
                headers,
                text,
                json,
            })
        }

        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }

        /// `error` of an OAuth error body.
        pub fn error(&self) -> Option<&str> {
            self.json.get("error").and_then(Value::as_str)
        }

        /// A string member of the JSON body.
        pub fn str(&self, name: &str) -> Option<&str> {
            self.json.get(name).and_then(Value::as_str)
        }

        /// A string member that must be there.
        pub fn must(&self, name: &str) -> String {
            match self.str(name) {
                Some(v) => v.to_string(),
                None => panic!("no {name} in {} {}", self.status, self.text),
            }
        }
    }

    /// RFC 6749 §5.2 error response: the status, the `error` code, JSON with
    /// `Cache-Control: no-store`, an `error_description` (if any) within the §5.2
    /// character set, and nothing internal in the body.
    pub fn assert_oauth_error(r: &Reply, status: u16, error: &str) {
        assert_eq!(r.status, status, "status of {}", r.text);
        assert_eq!(r.error(), Some(error), "error code in {}", r.text);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "JSON error body"
        );
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "errors are not cached"
        );
        if let Some(d) = r.str("error_description") {
            assert!(
                d.chars()
                    .all(|c| matches!(c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                "error_description outside the RFC 6749 §5.2 set: {d:?}"
            );
        }
        let lower = r.text.to_ascii_lowercase();
        for leak in ["sqlite", "select ", "panicked", "backtrace", ".rs:", "sqlx"] {
            assert!(
                !lower.contains(leak),
                "internal detail {leak:?} leaked: {}",
                r.text
            );
        }
        if let Some(obj) = r.json.as_object() {
            assert!(
                obj.keys()
                    .all(|k| matches!(k.as_str(), "error" | "error_description" | "error_uri")),
                "no tokens or other members in an error: {}",
                r.text
            );
        }
    }

    /// POSTs a form to `path`, authenticating as `client` the way it is registered:
    /// HTTP Basic with a secret, otherwise `client_id` in the body. `None`: no client
    /// authentication at all.
    pub async fn post_form(
        h: &Harness,
        path: &str,
        client: Option<&TestClient>,
        form: &[(&str, &str)],
    ) -> Result<Reply> {
        let http = h.http();
        let mut f: Vec<(&str, &str)> = form.to_vec();
        let req = match client {
            Some(c) if c.secret.is_some() => http
                .post(h.url(path))
                .basic_auth(&c.id, c.secret.as_deref()),
            Some(c) => {
                f.push(("client_id", c.id.as_str()));
                http.post(h.url(path))
            }
            None => http.post(h.url(path)),
        };
        Reply::read(req.form(&f).send().await?).await
    }

    /// A token request by `client`.
    pub async fn token(h: &Harness, client: &TestClient, form: &[(&str, &str)]) -> Result<Reply> {
        post_form(h, "/token", Some(client), form).await
    }

    /// `grant_type=refresh_token`, optionally with `scope`.
    pub async fn refresh(
        h: &Harness,
        client: &TestClient,
        rt: &str,
        scope: Option<&str>,
    ) -> Result<Reply> {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        token(h, client, &form).await
    }

    /// The authorization URL for `client` with PKCE `challenge`; `extra` adds or
    /// replaces nothing, it is appended (e.g. `nonce`, `max_age`).
    pub fn authorize_url(
        h: &Harness,
        client: &TestClient,
        scope: &str,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut u = url::Url::parse(&h.url("/authorize")).expect("issuer is a URL");
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st-cat")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            u.query_pairs_mut().append_pair(k, v);
        }
        u.to_string()
    }

    /// Signs in through the real forms and returns (code, PKCE verifier).
    pub async fn code_with(
        h: &Harness,
        browser: &reqwest::Client,
        client: &TestClient,
        scope: &str,
        extra: &[(&str, &str)],
        user: (&str, &str),
    ) -> Result<(String, String)> {
        let (verifier, challenge) = pkce();
        let url = authorize_url(h, client, scope, &challenge, extra);
        let loc = h.browser_authorize(browser, &url, user.0, user.1).await?;
        let code = super::query_param(&loc, "code").ok_or_else(|| anyhow!("no code in {loc}"))?;
        Ok((code, verifier))
    }

    /// Redeems a code at the token endpoint.
    pub async fn redeem(
        h: &Harness,
        client: &TestClient,
        code: &str,
        verifier: &str,
    ) -> Result<Reply> {
        token(
            h,
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", client.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Security events with exactly this action, newest first.
    pub async fn security_events(h: &Harness, action: &str) -> Result<Vec<AuditEvent>> {
        let all = h
            .store
            .audit_list(&AuditFilter {
                action_prefix: Some(action.to_string()),
                security_only: true,
                limit: Some(1000),
                ..Default::default()
            })
            .await?;
        Ok(all.into_iter().filter(|e| e.action == action).collect())
    }

    /// What exists for a client: (sessions, live access-token records, live refresh
    /// tokens). Negative tests compare it before and after: nothing may be created.
    pub async fn token_rows(h: &Harness, client_id: &str) -> Result<(usize, i64, i64)> {
        let list = h
            .store
            .sessions_list(
                &SessionFilter {
                    client_id: Some(client_id.to_string()),
                    limit: Some(1000),
                    ..Default::default()
                },
                h.provider.now(),
            )
            .await?;
        Ok((
            list.len(),
            list.iter().map(|s| s.live_access_tokens).sum(),
            list.iter().map(|s| s.live_refresh_tokens).sum(),
        ))
    }

    /// Header and claims of a JWT, unverified.
    pub fn jwt_parts(token: &str) -> (Value, Value) {
        let p = latchkey_core::jwt::parse(token).expect("a compact JWS");
        (Value::Object(p.header), Value::Object(p.claims))
    }

    /// Claims of a JWT, unverified.
    pub fn claims_of(token: &str) -> Value {
        jwt_parts(token).1
    }

    /// Verifies `token` against the server's published JWKS (key chosen by `kid`,
    /// algorithm from the key) and returns its claims.
    pub async fn verify_with_jwks(h: &Harness, token: &str) -> Result<Value> {
        let jwks: Value = h.http().get(h.url("/jwks")).send().await?.json().await?;
        let parsed = latchkey_core::jwt::parse(token).map_err(|e| anyhow!("{e}"))?;
        latchkey_core::jwt::verify_with_jwks(&parsed, &jwks).map_err(|e| anyhow!("{e}"))?;
        Ok(Value::Object(parsed.claims))
    }

    /// `POST /device_authorization` for `client`.
    pub async fn device_start(h: &Harness, client: &TestClient, scope: &str) -> Result<Reply> {
        post_form(
            h,
            "/device_authorization",
            Some(client),
            &[("scope", scope)],
        )
        .await
    }

    /// Polls the token endpoint with a device code.
    pub async fn device_poll(h: &Harness, client: &TestClient, device_code: &str) -> Result<Reply> {
        token(
            h,
            client,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
            ],
        )
        .await
    }

    /// A browser signed in as `user` through the device verification entry
    /// (GET /device → login → back to /device); returns it with the page's CSRF token.
    pub async fn device_browser(
        h: &Harness,
        user: (&str, &str),
    ) -> Result<(reqwest::Client, String)> {
        let b = h.browser();
        let resp = b.get(h.url("/device")).send().await?;
        let login = location(&resp).context("GET /device redirects to sign-in")?;
        let page = b.get(h.url(&login)).send().await?.text().await?;
        let resp = b
            .post(h.url("/login"))
            .form(&[
                ("username", user.0),
                ("password", user.1),
                ("csrf", &hidden_field(&page, "csrf").context("login csrf")?),
                ("device", &hidden_field(&page, "device").unwrap_or_default()),
            ])
            .send()
            .await?;
        let back = location(&resp).context("login redirects back to /device")?;
        let page = b.get(h.url(&back)).send().await?.text().await?;
        let csrf = hidden_field(&page, "csrf").context("device page csrf")?;
        Ok((b, csrf))
    }

    /// POSTs the verification form in `browser`.
    pub async fn device_form(
        h: &Harness,
        browser: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Result<Reply> {
        Reply::read(browser.post(h.url("/device")).form(form).send().await?).await
    }

    /// Confirms (`approve`/`deny`) `user_code` on the verification page.
    pub async fn device_decide(
        h: &Harness,
        browser: &reqwest::Client,
        csrf: &str,
        user_code: &str,
        decision: &str,
    ) -> Result<Reply> {
        device_form(
            h,
            browser,
            &[
                ("user_code", user_code),
                ("csrf", csrf),
                ("decision", decision),
            ],
        )
        .await
    }

    /// `GET /userinfo` with `Authorization: Bearer`.
    pub async fn userinfo_get(h: &Harness, token: &str) -> Result<Reply> {
        Reply::read(
            h.http()
                .get(h.url("/userinfo"))
                .bearer_auth(token)
                .send()
                .await?,
        )
        .await
    }
}

// ------------------------------------------------------------------------------------
// Helpers for the catalogue suites (catalogue_authorize/token/hardening.rs).
// ------------------------------------------------------------------------------------

/// How many rows the grant tables hold. Catalogue §1: a refused request creates none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrantRows {
    pub codes: i64,
    pub sessions: i64,
    pub refresh_tokens: i64,
    pub access_tokens: i64,
}

/// The claims (payload) of a compact JWS, unverified.
pub fn jwt_claims(token: &str) -> Result<serde_json::Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1).context("not a JWS")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

impl Harness {
    /// Counts the rows of the code and token tables, read straight from the database.
    pub async fn grant_rows(&self) -> Result<GrantRows> {
        use sqlx::Connection;
        const TABLES: [&str; 4] = ["auth_codes", "sessions", "refresh_tokens", "access_tokens"];
        let mut n = [0i64; 4];
        if let Some(pg) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(&pg.url).await?;
            for (i, table) in TABLES.iter().enumerate() {
                n[i] = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&mut conn)
                    .await?;
            }
            conn.close().await?;
        } else {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&self.db)
                .read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
            for (i, table) in TABLES.iter().enumerate() {
                n[i] = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&mut conn)
                    .await?;
            }
            conn.close().await?;
        }
        Ok(GrantRows {
            codes: n[0],
            sessions: n[1],
            refresh_tokens: n[2],
            access_tokens: n[3],
        })
    }

    /// Everything the database holds, as bytes: the SQLite file with its WAL and shared
    /// memory, or on PostgreSQL every row as JSON text plus the raw bytes of every
    /// BYTEA value (which JSON would show only as hex). For "no plaintext secret at
    /// rest" checks.
    pub async fn database_bytes(&self) -> Result<Vec<u8>> {
        use sqlx::Connection;
        let mut bytes = Vec::new();
        let Some(pg) = &self.pg else {
            for suffix in ["", "-wal", "-shm"] {
                let p = format!("{}{suffix}", self.db.display());
                if let Ok(b) = std::fs::read(&p) {
                    bytes.extend_from_slice(&b);
                }
            }
            return Ok(bytes);
        };
        let mut conn = sqlx::PgConnection::connect(&pg.url).await?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await?;
        for t in &tables {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {t} t"))
                    .fetch_all(&mut conn)
                    .await?;
            for r in rows {
                bytes.extend_from_slice(r.as_bytes());
            }
        }
        let blobs: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type = 'bytea'",
        )
        .fetch_all(&mut conn)
        .await?;
        for (t, c) in blobs {
            let vals: Vec<Option<Vec<u8>>> = sqlx::query_scalar(&format!("SELECT {c} FROM {t}"))
                .fetch_all(&mut conn)
                .await?;
            for v in vals.into_iter().flatten() {
                bytes.extend_from_slice(&v);
            }
        }
        conn.close().await?;
        Ok(bytes)
    }

    /// Security audit events whose action starts with `action_prefix`, newest first.
    pub async fn security_events(
        &self,
        action_prefix: &str,
    ) -> Result<Vec<latchkey_core::model::AuditEvent>> {
        Ok(self
            .store
            .audit_list(&latchkey_core::model::AuditFilter {
                action_prefix: Some(action_prefix.to_string()),
                security_only: true,
                ..Default::default()
            })
            .await?)
    }

    /// `/authorize?…` with exactly these parameters, in this order.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        format!("{}?{}", self.url("/authorize"), ser.finish())
    }

    /// Signs `browser` in through the bare login form (no pending request).
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> Result<reqwest::Response> {
        let page = browser.get(self.url("/login")).send().await?.text().await?;
        let csrf = hidden_field(&page, "csrf").context("login csrf")?;
        Ok(browser
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", csrf.as_str()),
            ])
            .send()
            .await?)
    }

    /// Walks `authorize_url` → login (if asked) in `browser` up to the consent page and
    /// returns its hidden `(req, csrf)` fields.
    pub async fn consent_fields(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<(String, String)> {
        let resp = browser.get(authorize_url).send().await?;
        let mut loc = location(&resp).context("authorize did not redirect")?;
        if loc.starts_with("/login") {
            let page = browser.get(self.url(&loc)).send().await?.text().await?;
            let mut form = vec![
                ("username".to_string(), username.to_string()),
                ("password".to_string(), password.to_string()),
                (
                    "csrf".to_string(),
                    hidden_field(&page, "csrf").context("login csrf")?,
                ),
            ];
            if let Some(r) = hidden_field(&page, "req") {
                form.push(("req".to_string(), r));
            }
            let resp = browser.post(self.url("/login")).form(&form).send().await?;
            loc = location(&resp).context("login did not redirect")?;
        }
        if !loc.starts_with("/consent") {
            return Err(anyhow!(
                "expected the consent page, got a redirect to {loc}"
            ));
        }
        let page = browser.get(self.url(&loc)).send().await?.text().await?;
        Ok((
            hidden_field(&page, "req").context("consent req")?,
            hidden_field(&page, "csrf").context("consent csrf")?,
        ))
    }
}

/// The catalogue's conventional setup (security-catalogue.md §1): users alice and bob,
/// scopes `api` and `admin`, confidential clients C1 and C2 (code + refresh), public
/// client P1 (loopback redirect) and a resource server RS (client credentials).
/// Everything this test process logs, captured at TRACE for secret greps (HD-02).
pub mod logs {
    use std::sync::{Arc, Mutex, OnceLock};

    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default())
                .into_owned()
        }
    }

    /// Everything logged in this process (server, engine, store and dependencies, plus
    /// `log` records through the bridge), from the first call on.
    pub fn captured_logs() -> Captured {
        static LOGS: OnceLock<Captured> = OnceLock::new();
        LOGS.get_or_init(|| {
            let c = Captured::default();
            let w = c.clone();
            // Everything at TRACE except the test's own HTTP client (reqwest and its cookie
            // jar log the cookies and URLs *they* handle; they are not the server).
            let filter = tracing_subscriber::EnvFilter::new(
                "trace,cookie_store=off,reqwest=off,hyper_util::client=off",
            );
            let installed = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(move || w.clone())
                .try_init();
            assert!(installed.is_ok(), "another global subscriber is installed");
            c
        })
        .clone()
    }
}

pub mod catalogue {
    use super::{Harness, TestClient};
    use latchkey_core::model::GrantType;

    pub const ALICE: (&str, &str) = ("alice", "correct horse battery");
    pub const BOB: (&str, &str) = ("bob", "another long passphrase");

    pub struct Catalogue {
        pub h: Harness,
        pub c1: TestClient,
        pub c2: TestClient,
        pub p1: TestClient,
        /// A resource server: a confidential client that introspects.
        pub rs: TestClient,
    }

    impl Catalogue {
        pub async fn start() -> Self {
            Self::on(Harness::start().await.expect("server")).await
        }

        pub async fn on(h: Harness) -> Self {
            h.user(ALICE.0, ALICE.1).await.expect("alice");
            h.user(BOB.0, BOB.1).await.expect("bob");
            h.scope("api", "Read the demo API").await.expect("scope");
            h.scope("admin", "Administer everything")
                .await
                .expect("scope");
            let grants = [GrantType::AuthorizationCode, GrantType::RefreshToken];
            let scopes = ["openid", "profile", "email", "api"];
            let c1 = h
                .confidential(&grants, "https://c1.test/cb", &scopes)
                .await
                .expect("C1");
            let c2 = h
                .confidential(&grants, "https://c2.test/cb", &scopes)
                .await
                .expect("C2");
            let p1 = h
                .public(&grants, "http://127.0.0.1/cb", &["openid", "api"])
                .await
                .expect("P1");
            let rs = h
                .confidential(&[GrantType::ClientCredentials], "", &["api"])
                .await
                .expect("RS");
            Catalogue { h, c1, c2, p1, rs }
        }
    }
}
