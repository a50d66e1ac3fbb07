//! Test harness for the end-to-end suites in `tests/tests/`: a real `latchkey-server`
//! on a loopback port over a temporary SQLite file, seeded through the same admin
//! operations the CLI uses, plus an HTTP client that can walk the login and consent
//! forms like a browser.

use anyhow::{anyhow, Context, Result};
use latchkey_core::clock::{Clock, FixedClock, SystemClock};
use latchkey_core::crypto::{b64url, random_token, sha256, Kek};
use latchkey_core::manage::{ManagePolicy, Manager, NewClient, NewScope, NewUser};
use latchkey_core::model::{AuthMethod, ClientType, GrantType};
use latchkey_core::oauth::{Config, Provider};
use latchkey_core::store::Store;
use latchkey_server::{Running, ServeConfig};
use latchkey_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use latchkey_core;
pub use latchkey_server;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub running: Option<Running>,
    pub issuer: String,
    pub manager: Manager,
    pub provider: Arc<Provider>,
    pub store: Arc<SqliteStore>,
    /// Set when started with a fixed clock.
    pub clock: Option<FixedClock>,
    /// The self-signed certificate (PEM) when serving HTTPS.
    pub ca_pem: Option<String>,
}

/// A registered client and its one-time secret.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
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

    /// Serves HTTPS (rustls) with a fresh self-signed certificate for 127.0.0.1.
    pub async fn start_tls() -> Result<Self> {
        Self::start_inner(None, true).await
    }

    /// Starts with a fixed clock the test can move (expiry tests).
    pub async fn start_with_clock(at: i64) -> Result<Self> {
        Self::start_inner(Some(FixedClock::new(at)), false).await
    }

    async fn start_inner(fixed: Option<FixedClock>, tls: bool) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("latchkey.db");
        let store = Arc::new(SqliteStore::open(&db).await?);
        let clock: Arc<dyn Clock> = match &fixed {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let kek = Kek::generate();
        let dyn_store: Arc<dyn Store> = store.clone();
        let manager = Manager::new(dyn_store.clone(), clock.clone(), kek.clone(), ManagePolicy::default());
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
            let provider = Arc::new(Provider::new(dyn_store.clone(), clock.clone(), kek.clone(), Config::new(&issuer)));
            let cfg = ServeConfig {
                db: db.clone(),
                issuer: issuer.clone(),
                public_addr: SocketAddr::from(([127, 0, 0, 1], port)),
                admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                tls_cert: None,
                tls_key: None,
                trusted_proxies: vec![],
                access_token_alg: latchkey_core::model::Alg::ES256,
                synchronous_normal: false,
                kek: kek.clone(),
            };
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
                        clock: fixed,
                        ca_pem,
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
        self.running.as_ref().map(|r| r.admin_addr).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn scope(&self, name: &str, description: &str) -> Result<()> {
        self.manager
            .scope_create("test", NewScope { name: name.into(), description: description.into(), claims: vec![] })
            .await?;
        Ok(())
    }

    /// A confidential client (`client_secret_basic` unless `auth` says otherwise).
    pub async fn confidential(&self, grants: &[GrantType], redirect: &str, scopes: &[&str]) -> Result<TestClient> {
        self.client(ClientType::Confidential, None, grants, redirect, scopes, None).await
    }

    pub async fn public(&self, grants: &[GrantType], redirect: &str, scopes: &[&str]) -> Result<TestClient> {
        self.client(ClientType::Public, Some(AuthMethod::None), grants, redirect, scopes, None).await
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
                    redirect_uris: if redirect.is_empty() { vec![] } else { vec![redirect.to_string()] },
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
    Some(html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">"))
}

pub fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Query parameter of a URL.
pub fn query_param(u: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
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
        self.builder().cookie_store(true).build().unwrap_or_default()
    }

    /// Walks authorize → login → consent in `browser` and returns the final redirect
    /// (to the client) — the Location header of the last 303.
    pub async fn browser_authorize(&self, browser: &reqwest::Client, authorize_url: &str, username: &str, password: &str) -> Result<String> {
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
                let next = if loc.starts_with('/') { self.url(&loc) } else { loc };
                resp = browser.get(&next).send().await?;
                continue;
            }
            let url = resp.url().to_string();
            let body = resp.text().await?;
            if url.contains("/login") {
                let mut form = vec![
                    ("username".to_string(), username.to_string()),
                    ("password".to_string(), password.to_string()),
                    ("csrf".to_string(), hidden_field(&body, "csrf").context("login csrf")?),
                ];
                for extra in ["req", "device"] {
                    if let Some(v) = hidden_field(&body, extra) {
                        form.push((extra.to_string(), v));
                    }
                }
                resp = browser.post(self.url("/login")).form(&form).send().await?;
            } else if url.contains("/consent") {
                let form = vec![
                    ("req".to_string(), hidden_field(&body, "req").context("consent req")?),
                    ("csrf".to_string(), hidden_field(&body, "csrf").context("consent csrf")?),
                    ("decision".to_string(), "approve".to_string()),
                ];
                resp = browser.post(self.url("/consent")).form(&form).send().await?;
            } else {
                return Err(anyhow!("unexpected page at {url} ({status}): {}", &body[..body.len().min(300)]));
            }
        }
    }

    /// A full authorization-code flow for `client`: returns the code.
    pub async fn get_code(&self, client: &TestClient, scope: &str, challenge: &str, user: (&str, &str)) -> Result<String> {
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
        let loc = self.browser_authorize(&b, u.as_str(), user.0, user.1).await?;
        query_param(&loc, "code").ok_or_else(|| anyhow!("no code in {loc}"))
    }

    /// POSTs a form to `path` with HTTP Basic client authentication.
    pub async fn post_basic(&self, path: &str, client: &TestClient, form: &[(&str, &str)]) -> Result<reqwest::Response> {
        Ok(self
            .http()
            .post(self.url(path))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(form)
            .send()
            .await?)
    }

    /// Code + tokens for `client`, through the real forms: (token response JSON).
    pub async fn code_flow_tokens(&self, client: &TestClient, scope: &str, user: (&str, &str)) -> Result<serde_json::Value> {
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
        let r = self.post_basic("/introspect", rs, &[("token", token)]).await?;
        Ok(r.json().await?)
    }
}
