//! `latchkey-server`: the HTTP surface of Latchkey.
//!
//! Owns: the public listener (discovery, JWKS, authorize + login/consent/device pages,
//! token, introspection, revocation, userinfo, logout), the admin listener (separate,
//! loopback by default), TLS termination with certificate reload, trusted-proxy
//! handling, brute-force limits, security headers, and the background jobs (key
//! rotation, clean-up).
//!
//! Does not own: protocol decisions (those are `latchkey-core::oauth`), SQL (the store
//! crates) or argument parsing (the `latchkey` binary). Only this crate depends on axum.

pub mod admin;
pub mod api;
pub mod cors;
pub mod fetch;
pub mod html;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod monitor;
pub mod pages;
pub mod registration;
mod tls;
pub mod webhook;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::Kek;
use latchkey_core::model::Alg;
use latchkey_core::oauth::{Config, Provider};
use latchkey_core::settings::ServerSettings;
use latchkey_core::store::Store;
use latchkey_store_postgres::{PgOptions, PgStore};
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A `postgres://` URL. Its `Debug` hides the password, so a logged configuration
/// never carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL with any password replaced by `***`, for logs and `--check-config`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "<invalid database URL>".into(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Everything `latchkey serve` needs, already merged from flags, env and config file.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The SQLite file; ignored when `database` is set.
    pub db: PathBuf,
    /// A shared PostgreSQL database instead of the SQLite file (several nodes).
    pub database: Option<DatabaseUrl>,
    pub issuer: String,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub trusted_proxies: Vec<IpAddr>,
    /// The one header the trusted proxies write (`--proxy-header`).
    pub proxy_header: http::ProxyHeader,
    pub access_token_alg: Alg,
    pub synchronous_normal: bool,
    pub kek: Kek,
    /// The admin API's public URL (`--admin-url`): published in discovery as
    /// `latchkey_admin_api` and the audience of admin tokens (RFC 8707). `None`: derived
    /// from the admin listener (its address, or the issuer's host when it listens on
    /// every address, and `https` when it serves TLS).
    pub admin_url: Option<String>,
    /// The admin listener's own certificate and key; without them it serves TLS with
    /// the public listener's (`--tls-cert`/`--tls-key`) when those are given.
    pub admin_tls_cert: Option<PathBuf>,
    pub admin_tls_key: Option<PathBuf>,
    /// `--admin-insecure-http`: allows a non-loopback admin listener without TLS (a
    /// TLS-terminating proxy in front of it). Without it such a listener is refused.
    pub admin_insecure_http: bool,
    /// `--metrics-open`: `/metrics` on the admin listener answers without a credential
    /// (a scraper on a private network). Without it, an admin API key or admin token.
    pub metrics_open: bool,
    /// `--require-par`: RFC 9126 §5 `require_pushed_authorization_requests` for every
    /// client.
    pub require_pushed_authorization_requests: bool,
    /// `--registration`: dynamic client registration (RFC 7591/7592) at `/register`.
    pub registration: bool,
    /// `--dpop-nonce`: every DPoP proof must carry a nonce of this server (RFC 9449 §8).
    pub dpop_nonce: bool,
}

impl ServeConfig {
    /// A server on `db` at `issuer`, with every other choice at its default: no TLS, no
    /// trusted proxy, ES256 access tokens, `synchronous=FULL`, the admin URL derived
    /// from `admin_addr`. Callers set what they need on top (`ServeConfig { …, ..base }`).
    pub fn new(
        db: PathBuf,
        issuer: String,
        public_addr: SocketAddr,
        admin_addr: SocketAddr,
        kek: Kek,
    ) -> Self {
        Self {
            db,
            database: None,
            issuer,
            public_addr,
            admin_addr,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            proxy_header: http::ProxyHeader::default(),
            access_token_alg: Alg::ES256,
            synchronous_normal: false,
            kek,
            admin_url: None,
            admin_tls_cert: None,
            admin_tls_key: None,
            admin_insecure_http: false,
            metrics_open: false,
            require_pushed_authorization_requests: false,
            registration: false,
            dpop_nonce: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open the database: {0}")]
    Store(#[from] latchkey_core::error::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("signing keys: {0}")]
    Keys(String),
}

/// Checks the issuer per the CLI contract: `https://`, or `http://` only on a loopback
/// host; no query or fragment (OIDC Discovery §3, RFC 8414 §2).
pub fn validate_issuer(issuer: &str) -> Result<(), ServeError> {
    let u = url::Url::parse(issuer)
        .map_err(|_| ServeError::Config(format!("issuer {issuer:?} is not a URL")))?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(ServeError::Config(
            "the issuer must not have a query or fragment".into(),
        ));
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            if host_is_loopback(&u) {
                Ok(())
            } else {
                Err(ServeError::Config(
                    "an http:// issuer is accepted only on loopback addresses; use https://".into(),
                ))
            }
        }
        _ => Err(ServeError::Config(
            "the issuer must be an https:// URL".into(),
        )),
    }
}

/// Whether the issuer is a loopback `http://` one (local use): then client key URLs
/// on loopback may be fetched too.
pub fn issuer_is_loopback(issuer: &str) -> bool {
    url::Url::parse(issuer)
        .map(|u| host_is_loopback(&u))
        .unwrap_or(false)
}

fn host_is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The admin listener's TLS files: its own, else the public listener's.
fn admin_tls(
    cfg: &ServeConfig,
    public: Option<&(PathBuf, PathBuf)>,
) -> Result<Option<(PathBuf, PathBuf)>, ServeError> {
    match (&cfg.admin_tls_cert, &cfg.admin_tls_key) {
        (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
        (None, None) => Ok(public.cloned()),
        _ => Err(ServeError::Config(
            "--admin-tls-cert and --admin-tls-key go together".into(),
        )),
    }
}

/// §5 of issue 10: an admin listener reachable from other machines speaks TLS, unless
/// the operator says in so many words that something else protects it.
fn check_admin_listener(cfg: &ServeConfig, tls: bool) -> Result<(), ServeError> {
    if !cfg.admin_addr.ip().is_loopback() && !tls && !cfg.admin_insecure_http {
        return Err(ServeError::Config(format!(
            "the admin listener {} is not on loopback and would speak plain HTTP: give \
             --tls-cert/--tls-key (or --admin-tls-cert/--admin-tls-key), or \
             --admin-insecure-http when a TLS-terminating proxy stands in front of it",
            cfg.admin_addr
        )));
    }
    if let Some(u) = &cfg.admin_url {
        let parsed = url::Url::parse(u)
            .map_err(|_| ServeError::Config(format!("--admin-url {u:?} is not a URL")))?;
        if !matches!(parsed.scheme(), "https" | "http")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || parsed.host().is_none()
        {
            return Err(ServeError::Config(format!(
                "--admin-url {u}: an http(s):// URL without query or fragment"
            )));
        }
    }
    Ok(())
}

/// The admin API's public URL when `--admin-url` is not given: the bound address (the
/// issuer's host for an unspecified one), `https` when the listener serves TLS.
fn derived_admin_url(issuer: &str, bound: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = if bound.ip().is_unspecified() {
        url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into())
    } else {
        match bound.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        }
    };
    format!("{scheme}://{host}:{}", bound.port())
}

/// Tokens issued, per minute, for the last hour (a ring of 60 buckets).
pub struct Metrics {
    total: AtomicU64,
    minutes: [AtomicU64; 60],
    stamps: [AtomicU64; 60],
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            total: AtomicU64::new(0),
            minutes: std::array::from_fn(|_| AtomicU64::new(0)),
            stamps: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    pub fn token_issued(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let minute = SystemClock.now() as u64 / 60;
        let i = (minute % 60) as usize;
        if self.stamps[i].swap(minute, Ordering::Relaxed) != minute {
            self.minutes[i].store(0, Ordering::Relaxed);
        }
        self.minutes[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

pub struct AppState {
    pub provider: Arc<Provider>,
    pub limits: limits::Limits,
    pub metrics: Metrics,
    pub secure_cookies: bool,
    pub hsts: bool,
    pub trusted_proxies: Vec<IpAddr>,
    /// The one forwarding header believed from them.
    pub proxy_header: http::ProxyHeader,
    /// Security events counted instead of written one by one (floods), flushed with
    /// the issuance counts.
    pub security_counts: limits::SecurityCounts,
    /// Where argon2 runs: the blocking pool, one verification per core at a time.
    pub password_pool: Arc<limits::PasswordPool>,
    /// Whether requests must have arrived over HTTPS through a trusted proxy.
    pub require_forwarded_https: bool,
    pub issuer_origin: String,
    /// (sign-in, CSRF) cookie names; see [`AppState::session_cookie`].
    pub cookie_names: (String, String),
    pub keys_ready: watch::Receiver<bool>,
    /// The admin operations over the provider's store (acting as `system` until the
    /// admin API's auth layer names the caller).
    pub admin: latchkey_admin::Embedded,
    /// Flips to true when the server stops, so endless responses (the admin event
    /// stream) end instead of holding the shutdown up.
    pub shutdown: watch::Sender<bool>,
    /// The detections' queue and the block list (issue 14).
    pub monitor: Arc<monitor::Monitor>,
    /// Whether `/metrics` answers without a credential (`--metrics-open`).
    pub metrics_open: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Reports a sign-in or client-authentication outcome to the detections; never
    /// waits. A dropped signal (full queue) is a counted security event.
    pub fn report(&self, signal: latchkey_core::monitor::Signal, ip: &str) {
        match &signal {
            latchkey_core::monitor::Signal::SignInSucceeded { .. } => metrics::sign_in("succeeded"),
            latchkey_core::monitor::Signal::SignInFailed { .. } => metrics::sign_in("failed"),
            // Counted where they are measured (tokens, client authentication) or not
            // a sign-in outcome.
            _ => {}
        }
        if !self.monitor.report(signal, self.provider.now()) {
            self.count_security_event(
                latchkey_api_types::SecurityFamily::MonitorOverflow,
                None,
                ip,
            );
        }
    }

    /// Seconds to wait if `ip` (or `principal` from there: `user:NAME`, `client:ID`)
    /// is on the block list; the refusal is a counted security event.
    pub async fn blocked(
        &self,
        ip: IpAddr,
        principal: Option<&str>,
        endpoint: &str,
    ) -> Option<u64> {
        let wait = self.monitor.blocked(&self.provider, ip, principal).await?;
        self.count_security_event(
            latchkey_api_types::SecurityFamily::Blocked,
            Some(endpoint),
            &ip.to_string(),
        );
        Some(wait)
    }

    /// The caller's address (the peer, or what the trusted proxies report).
    pub fn client_ip(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        http::client_ip(peer, headers, &self.trusted_proxies, self.proxy_header)
    }

    /// Counts a security event of a flood (written with the next flush).
    pub fn count_security_event(
        &self,
        family: latchkey_api_types::SecurityFamily,
        detail: Option<&str>,
        source: &str,
    ) {
        if matches!(
            family,
            latchkey_api_types::SecurityFamily::RateLimited
                | latchkey_api_types::SecurityFamily::Blocked
        ) {
            metrics::limited(family);
        }
        self.security_counts
            .count(family.action(detail), source, self.provider.now());
    }

    /// Writes the counted security events now; how many rows were written. A failed
    /// write keeps the counts for the next flush.
    pub async fn flush_security_counts(&self) -> usize {
        let events = self.security_counts.take();
        let mut failed = Vec::new();
        let mut written = 0;
        for ev in events {
            match self.provider.store.audit_insert(&ev).await {
                Ok(()) => written += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "recording counted security events failed; kept for the next try");
                    failed.push(ev);
                }
            }
        }
        if !failed.is_empty() {
            self.security_counts.restore(failed);
        }
        written
    }

    /// `__Host-` cookies need `Secure`; only a loopback `http://` issuer drops both.
    /// Cookies are per host, not per port (RFC 6265 §8.5), so a loopback issuer's
    /// cookies carry its port in their name (`lk_session_8080`): two loopback servers
    /// in one browser neither overwrite nor take each other's sign-in.
    pub fn session_cookie(&self) -> &str {
        &self.cookie_names.0
    }
    pub fn csrf_cookie(&self) -> &str {
        &self.cookie_names.1
    }
}

/// The sign-in and CSRF cookie names for `issuer`: `__Host-` names over https, names
/// with the port for a (loopback) `http://` issuer.
pub fn cookie_names(issuer: &str) -> (String, String) {
    match url::Url::parse(issuer) {
        Ok(u) if u.scheme() == "https" => ("__Host-lk_session".into(), "__Host-lk_csrf".into()),
        Ok(u) => {
            let port = u.port_or_known_default().unwrap_or(80);
            (format!("lk_session_{port}"), format!("lk_csrf_{port}"))
        }
        Err(_) => ("lk_session".into(), "lk_csrf".into()),
    }
}

/// Builds the shared state. `keys_ready` flips to true once signing keys exist.
pub fn app_state(
    provider: Arc<Provider>,
    trusted_proxies: Vec<IpAddr>,
    keys_ready: watch::Receiver<bool>,
) -> Arc<AppState> {
    app_state_with(
        provider,
        trusted_proxies,
        http::ProxyHeader::default(),
        keys_ready,
    )
}

/// [`app_state`] with the forwarding header the trusted proxies write.
pub fn app_state_with(
    provider: Arc<Provider>,
    trusted_proxies: Vec<IpAddr>,
    proxy_header: http::ProxyHeader,
    keys_ready: watch::Receiver<bool>,
) -> Arc<AppState> {
    let limits = limits::Limits::with_clock(&ServerSettings::default(), provider.clock.clone());
    // Client secrets are checked and counted under the limiter's lock (AD-40…), and
    // argon2 leaves the async workers.
    provider.set_client_auth_gate(limits.client_auth.clone());
    let password_pool = Arc::new(limits::PasswordPool::for_cores());
    provider.set_password_verifier(password_pool.clone());
    metrics::install_issue_observer(&provider);
    let issuer = provider.config.issuer.clone();
    let https = issuer.starts_with("https://");
    let origin = url::Url::parse(&issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let cookie_names = cookie_names(&issuer);
    // The engine's own signals (refresh reuse, tokens presented, first uses, sign-ins)
    // go to the same queue as the handlers'.
    let monitor = Arc::new(monitor::Monitor::new());
    provider.set_signal_sink(monitor.clone());
    Arc::new(AppState {
        limits,
        security_counts: limits::SecurityCounts::default(),
        password_pool,
        proxy_header,
        metrics: Metrics::default(),
        secure_cookies: https,
        hsts: https,
        require_forwarded_https: https && !trusted_proxies.is_empty(),
        trusted_proxies,
        issuer_origin: origin,
        cookie_names,
        keys_ready,
        admin: latchkey_admin::Embedded::from_manager(provider.manager(), "system")
            .with_provider(provider.clone()),
        provider,
        shutdown: watch::channel(false).0,
        monitor,
        metrics_open: std::sync::atomic::AtomicBool::new(false),
    })
}

/// Requests that need keys wait (bounded) for the first key generation at start-up, so
/// the listener can answer discovery at once on a fresh database.
async fn await_keys(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    if !*st.keys_ready.borrow() {
        let mut rx = st.keys_ready.clone();
        let ok = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|r| *r)).await;
        if !matches!(ok, Ok(Ok(_))) {
            return http::oauth_error_response(
                &latchkey_core::oauth::error::OAuthError::unavailable(),
            );
        }
    }
    next.run(req).await
}

/// Puts the brute-force limits in force now into the limiters, so an administrator's
/// change applies (through the provider's settings cache) within a second on every
/// node. A store error keeps the rules already in force.
async fn apply_limits(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    if req.method() == axum::http::Method::POST {
        match st.provider.settings().await {
            Ok(s) => st.limits.apply(&s),
            Err(e) => tracing::debug!(error = ?e, "settings unavailable; limits unchanged"),
        }
    }
    next.run(req).await
}

/// HD-05 behind a proxy: only requests that reached the proxy over HTTPS are served;
/// plain-HTTP page loads are redirected, anything else refused unprocessed.
async fn forwarded_https(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    if st.require_forwarded_https {
        let from_proxy = st.trusted_proxies.contains(&peer.ip());
        let proto = http::forwarded_proto(req.headers(), st.proxy_header);
        if !from_proxy || proto.as_deref() != Some("https") {
            if req.method() == axum::http::Method::GET {
                let target = format!(
                    "{}{}",
                    st.issuer_origin,
                    req.uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                if let Ok(v) = HeaderValue::from_str(&target) {
                    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
                    r.headers_mut().insert(header::LOCATION, v);
                    return r;
                }
            }
            return http::oauth_error_response(
                &latchkey_core::oauth::error::OAuthError::invalid_request("HTTPS is required"),
            );
        }
    }
    next.run(req).await
}

/// The public OAuth/OIDC router. Paths are relative to the issuer.
pub fn public_router(st: Arc<AppState>) -> Router {
    // Issue 15: CORS on these and no others (see cors.rs for who and why).
    let docs = cors::public_documents();
    let apps = cors::client_endpoints(st.clone());
    let mut keyed = Router::new()
        .route("/jwks", get(api::jwks).layer(docs.clone()))
        .route("/token", post(api::token).layer(apps.clone()))
        .route("/introspect", post(api::introspect))
        .route("/revoke", post(api::revoke).layer(apps.clone()))
        .route(
            "/userinfo",
            get(api::userinfo).post(api::userinfo).layer(apps.clone()),
        )
        .route(
            "/device_authorization",
            post(api::device_authorization).layer(apps.clone()),
        )
        .route("/par", post(api::par).layer(apps))
        .route("/authorize", get(pages::authorize).post(pages::authorize))
        .route("/login", get(pages::login_get).post(pages::login_post))
        .route("/login/password", post(pages::password_change_post))
        .route(
            "/consent",
            get(pages::consent_get).post(pages::consent_post),
        )
        .route("/device", get(pages::device_get).post(pages::device_post))
        .route("/logout", get(pages::logout).post(pages::logout));
    // RFC 7591/7592, off by default: no route at all unless `--registration`.
    if st.provider.config.registration {
        keyed = keyed
            .route("/register", post(registration::register))
            .route(
                "/register/{client_id}",
                get(registration::read)
                    .put(registration::update)
                    .delete(registration::delete),
            );
    }
    let keyed = keyed
        .route_layer(middleware::from_fn_with_state(st.clone(), apply_limits))
        .route_layer(middleware::from_fn_with_state(st.clone(), await_keys));
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(api::discovery).layer(docs.clone()),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(api::discovery).layer(docs),
        )
        .route("/static/style.css", get(api::style))
        .merge(keyed)
        .layer(middleware::from_fn_with_state(st.clone(), forwarded_https))
        .layer(DefaultBodyLimit::max(http::body_bytes_limit()))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn(metrics::track_public))
        .layer(middleware::from_fn(request_id))
        .with_state(st)
}

/// HD-04: a bug that panics in a handler answers 500 `server_error` (with the request
/// id, nothing else) instead of dropping the connection.
pub(crate) async fn catch_panic(req: Request<axum::body::Body>, next: Next) -> Response {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(r) => r,
        Err(_) => {
            tracing::error!("request handler panicked");
            http::oauth_error_response(&latchkey_core::oauth::error::OAuthError::server_error())
        }
    }
}

/// HD-04: every response carries a correlation id (`X-Request-Id`), and everything
/// logged while handling the request carries the same id (a span field), so an
/// operator can find the detail behind an opaque 5xx answer.
async fn request_id(req: Request<axum::body::Body>, next: Next) -> Response {
    use tracing::Instrument;
    // A per-process random prefix and a counter: unique without a syscall per request.
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(latchkey_core::crypto::random_id);
    let id = format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed));
    let span = tracing::info_span!("request", request_id = %id);
    let mut r = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

pub use admin::admin_router;

/// How often issuance counts go to the store.
const STATS_FLUSH: Duration = Duration::from_secs(5);

/// How long a `latchkey serve` on SQLite reuses its look at the database files before
/// looking for another process's commit (the admin CLI's) again. Without it, every
/// cached read makes two `stat` calls, and after each of this server's own commits (a
/// DPoP proof's `jti`, a token exchange's lineage) re-reads the generation row. A
/// change made with the CLI shows within this window, well inside the one second
/// design.md promises; this process's own changes show at once.
const CHANGE_WINDOW: Duration = Duration::from_millis(200);

/// A running server: its bound addresses, and a handle to stop it.
pub struct Running {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The admin API's public URL, as discovery publishes it.
    pub admin_url: String,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.state.shutdown.send_replace(true);
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }

    /// Waits until the server stops (Ctrl-C / SIGTERM are handled by [`serve`]).
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Opens the store, starts both listeners and the background jobs, with the built-in
/// defaults of the runtime settings.
pub async fn start(cfg: ServeConfig) -> Result<Running, ServeError> {
    start_configured(cfg, ServerSettings::default()).await
}

/// [`start`] with configured defaults of the runtime settings (`latchkey serve
/// --setting`, `[settings]` in the TOML file): what every setting no administrator set
/// takes. Kept out of [`ServeConfig`] so embedders that build one need not know them.
pub async fn start_configured(
    cfg: ServeConfig,
    defaults: ServerSettings,
) -> Result<Running, ServeError> {
    validate_issuer(&cfg.issuer)?;
    let https_issuer = cfg.issuer.starts_with("https://");
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => {
            return Err(ServeError::Config(
                "--tls-cert and --tls-key go together".into(),
            ))
        }
    };
    check_admin_listener(&cfg, admin_tls(&cfg, tls.as_ref())?.is_some())?;
    if https_issuer && tls.is_none() && cfg.trusted_proxies.is_empty() {
        return Err(ServeError::Config(
            "an https:// issuer needs --tls-cert/--tls-key, or --trusted-proxy naming the TLS-terminating proxy".into(),
        ));
    }
    let store: Arc<dyn Store> = match &cfg.database {
        Some(url) => Arc::new(
            PgStore::connect_with(
                &url.0,
                PgOptions {
                    application_name: format!("latchkey-serve-{}", std::process::id()),
                    ..PgOptions::default()
                },
            )
            .await?,
        ),
        None => Arc::new(
            SqliteStore::open_with(
                &cfg.db,
                SqliteOptions {
                    synchronous_normal: cfg.synchronous_normal,
                    marker_window: CHANGE_WINDOW,
                    ..SqliteOptions::default()
                },
            )
            .await?,
        ),
    };
    let mut config = Config::new(cfg.issuer.clone());
    config.access_token_alg = cfg.access_token_alg;
    config.defaults = defaults;
    config.require_pushed_authorization_requests = cfg.require_pushed_authorization_requests;
    config.registration = cfg.registration;
    config.dpop_nonce = cfg.dpop_nonce;
    let fetcher = Arc::new(fetch::HttpJwksFetcher::new(issuer_is_loopback(&cfg.issuer)));
    let provider = Arc::new(
        Provider::new(store, Arc::new(SystemClock), cfg.kek.clone(), config)
            .with_jwks_fetcher(fetcher),
    );
    // A wrong key-encryption key would start a server that answers 500/503 on /jwks
    // and /token while its health says ok: refuse to start instead.
    match provider.manager().keys_unusable().await {
        Ok(None) => {}
        Ok(Some(kid)) => {
            return Err(ServeError::Keys(format!(
                "the key-encryption key does not match this database: it cannot decrypt \
                 signing key {kid}. Start with the key-encryption key the database was \
                 created with (LATCHKEY_KEK, or the key file beside the database)"
            )))
        }
        Err(e) => return Err(ServeError::Keys(e.to_string())),
    }
    start_with(provider, cfg, tls).await
}

/// Starts listeners for an already-built provider (tests use this with a fixed clock).
pub async fn start_with(
    provider: Arc<Provider>,
    cfg: ServeConfig,
    tls: Option<(PathBuf, PathBuf)>,
) -> Result<Running, ServeError> {
    let admin_tls = admin_tls(&cfg, tls.as_ref())?;
    check_admin_listener(&cfg, admin_tls.is_some())?;
    let (ready_tx, ready_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Webhook requests leave through the SSRF-checked sender (loopback only on a
    // loopback issuer, as for client key URLs); set before the admin backend is made,
    // so `webhook_test` and the URL rules use it. An embedder's own sender wins.
    provider.set_webhook_sender(Arc::new(webhook::HttpWebhookSender::new(
        issuer_is_loopback(&cfg.issuer),
    )));
    let state = app_state_with(
        provider.clone(),
        cfg.trusted_proxies.clone(),
        cfg.proxy_header,
        ready_rx,
    );
    state
        .metrics_open
        .store(cfg.metrics_open, Ordering::Relaxed);

    let public = tokio::net::TcpListener::bind(cfg.public_addr)
        .await
        .map_err(|e| ServeError::Bind {
            addr: cfg.public_addr,
            source: e,
        })?;
    let admin = tokio::net::TcpListener::bind(cfg.admin_addr)
        .await
        .map_err(|e| ServeError::Bind {
            addr: cfg.admin_addr,
            source: e,
        })?;
    let public_addr = public.local_addr().map_err(|e| ServeError::Bind {
        addr: cfg.public_addr,
        source: e,
    })?;
    let admin_addr = admin.local_addr().map_err(|e| ServeError::Bind {
        addr: cfg.admin_addr,
        source: e,
    })?;

    let admin_url = cfg
        .admin_url
        .clone()
        .unwrap_or_else(|| derived_admin_url(&cfg.issuer, admin_addr, admin_tls.is_some()))
        .trim_end_matches('/')
        .to_string();
    provider.set_admin_api(admin_url.clone());

    let mut tasks = Vec::new();
    let public_app =
        public_router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some((cert, key)) => {
            tasks.push(tls::serve_tls(public, public_app, cert, key, stop_rx.clone()).await?);
        }
        None => {
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let r = axum::serve(public, public_app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "public listener failed");
                }
            }));
        }
    }
    let admin_app = admin_router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    match admin_tls {
        Some((cert, key)) => {
            tasks.push(tls::serve_tls(admin, admin_app, cert, key, stop_rx.clone()).await?);
        }
        None => {
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let r = axum::serve(admin, admin_app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "admin listener failed");
                }
            }));
        }
    }

    // Issuance counts: kept in memory per request, added to the store's per-minute
    // totals every few seconds (and once more on the way out).
    let p = provider.clone();
    let st = state.clone();
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        // The schedule reads the engine's clock, not the timer: the timer only wakes the
        // task, so under a fixed clock (tests) nothing is flushed behind a test's back
        // and a flood's count does not split into rows by how fast the machine is.
        let period = STATS_FLUSH.as_millis() as i64;
        let mut last = p.clock.now_millis();
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(STATS_FLUSH) => false,
                _ = rx.wait_for(|s| *s) => true,
            };
            let now = p.clock.now_millis();
            if !stopping && now - last < period {
                continue;
            }
            last = now;
            // Counted security events (floods): a handful of rows, whatever the flood.
            st.flush_security_counts().await;
            let counts = p.take_token_counts();
            if !counts.is_empty() {
                if let Err(e) = p.store.stats_record(&counts).await {
                    tracing::warn!(error = %e, "recording token statistics failed; kept for the next try");
                    p.restore_token_counts(counts);
                }
            }
            if stopping {
                break;
            }
        }
    }));

    // Detections: off the request path, fed by the handlers' bounded queue.
    tasks.push(tokio::spawn(
        state.monitor.clone().run(provider.clone(), stop_rx.clone()),
    ));

    // Webhooks: every node dispatches; the store's claims make each delivery once.
    if let Some(sender) = provider.webhook_sender() {
        tasks.push(tokio::spawn(webhook::run(
            provider.clone(),
            sender,
            stop_rx.clone(),
        )));
    }

    // Keys: made (first start) or brought up to date, then kept rotating on schedule,
    // with the clean-up of expired rows. On a shared database only the elected node
    // runs these jobs (two nodes rotating at once would each activate a key); the
    // others are ready as soon as the leader's keys are there.
    let p = provider.clone();
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        // The admin scopes and the console's public client, so `latchkey admin login`
        // and the desktop console can sign in to any server.
        if let Err(e) = p.manager().ensure_console_client().await {
            tracing::warn!(error = %e, "could not create the latchkey-console client");
        }
        loop {
            let lead = p.store.lead_jobs().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "leader election failed; skipping the jobs");
                false
            });
            if lead {
                match p.maintain_keys().await {
                    Ok(()) => {
                        let _ = ready_tx.send(true);
                    }
                    Err(e) => tracing::error!(error = %e, "key maintenance failed"),
                }
                if let Err(e) = p.store.purge_expired(p.now()).await {
                    tracing::warn!(error = %e, "clean-up of expired rows failed");
                }
                // Retention (issue 16): what ended longer ago than the settings keep it.
                match p.settings().await {
                    Ok(s) => match latchkey_core::retention::apply(&*p.store, &s, p.now()).await {
                        Ok(r) => tracing::debug!(
                            sessions = r.sessions,
                            sign_ins = r.sign_ins,
                            audit = r.audit,
                            batches = r.batches,
                            "retention"
                        ),
                        Err(e) => tracing::warn!(error = %e, "retention clean-up failed"),
                    },
                    Err(e) => tracing::warn!(error = ?e, "retention skipped: settings unreadable"),
                }
                // Findings are bounded in age and number, whatever a flood raised.
                if let Err(e) = p
                    .store
                    .findings_trim(p.now() - monitor::FINDINGS_MAX_AGE, monitor::FINDINGS_KEEP)
                    .await
                {
                    tracing::warn!(error = %e, "trimming findings failed");
                }
                // Finished webhook deliveries are kept a month.
                if let Err(e) = p
                    .store
                    .webhook_deliveries_trim(p.now() - 30 * 24 * 3600)
                    .await
                {
                    tracing::warn!(error = %e, "trimming webhook deliveries failed");
                }
            } else if !*ready_tx.borrow() {
                let alg = p.config.access_token_alg;
                if p.keys().await.is_ok_and(|k| k.signers.contains_key(&alg)) {
                    let _ = ready_tx.send(true);
                }
            }
            let wait = if *ready_tx.borrow() { 60 } else { 2 };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = rx.wait_for(|s| *s) => break,
            }
        }
    }));

    Ok(Running {
        public_addr,
        admin_addr,
        admin_url,
        state,
        shutdown: stop_tx,
        tasks,
    })
}

/// `latchkey serve`: starts, prints where it listens, runs until Ctrl-C or SIGTERM.
pub async fn serve(cfg: ServeConfig) -> Result<(), ServeError> {
    serve_configured(cfg, ServerSettings::default()).await
}

/// [`serve`] with configured defaults of the runtime settings (see [`start_configured`]).
pub async fn serve_configured(
    cfg: ServeConfig,
    defaults: ServerSettings,
) -> Result<(), ServeError> {
    let running = start_configured(cfg.clone(), defaults).await?;
    tracing::info!(
        issuer = %cfg.issuer,
        public = %running.public_addr,
        admin = %running.admin_addr,
        admin_api = %running.admin_url,
        "latchkey listening"
    );
    eprintln!(
        "latchkey: issuer {} · public {} · admin {} ({})",
        cfg.issuer, running.public_addr, running.admin_addr, running.admin_url
    );
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_server_error_without_internals() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let v: Vec<u8> = Vec::new();
                    // An out-of-bounds index: the kind of bug the layer must contain.
                    format!("{}", v[usize::from(v.is_empty())])
                }),
            )
            .layer(middleware::from_fn(catch_panic));
        let r = app
            .oneshot(
                Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "server_error");
        assert!(!String::from_utf8_lossy(&body).contains("index out of bounds"));
    }

    #[test]
    fn the_admin_url_follows_the_listener_unless_it_listens_everywhere() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            derived_admin_url("https://id.example", a("127.0.0.1:8081"), false),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            derived_admin_url("https://id.example", a("0.0.0.0:8443"), true),
            "https://id.example:8443"
        );
        assert_eq!(
            derived_admin_url("https://id.example", a("[::1]:9"), true),
            "https://[::1]:9"
        );
    }

    #[test]
    fn http_issuers_are_accepted_only_on_loopback() {
        assert!(validate_issuer("http://127.0.0.1:8080").is_ok());
        assert!(validate_issuer("http://[::1]:8080").is_ok());
        assert!(validate_issuer("http://localhost:8080").is_ok());
        assert!(validate_issuer("https://as.test").is_ok());
        assert!(validate_issuer("http://as.test").is_err());
        assert!(validate_issuer("http://10.0.0.5").is_err());
        assert!(validate_issuer("https://as.test/?x=1").is_err());
        assert!(validate_issuer("ftp://as.test").is_err());
    }
}
