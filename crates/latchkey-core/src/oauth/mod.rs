//! The OAuth 2.0 / OpenID Connect engine. [`Provider`] holds the store, the clock, the
//! KEK and the configuration; each endpoint is a method in its own module. Errors are
//! [`error::OAuthError`] with the RFC codes; mapping to HTTP is the server's business.

pub mod authorize;
mod cache;
pub mod client_auth;
pub mod consent;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod exchange;
pub mod fetch;
pub mod introspect;
pub mod key_lifecycle;
pub mod par;
pub mod pkce;
pub mod registration;
pub mod resource;
pub mod token;

use crate::clock::{Clock, Timestamp};
use crate::crypto::{random_id, Kek};
use crate::keys::{self, LoadedKey};
use crate::model::{Alg, GrantType, KeyState, NewAuditEvent, TokenCount};
use crate::settings::ServerSettings;
use crate::store::Store;
use error::{OAuthError, OAuthResult};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Engine settings. Lifetimes in seconds.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier, byte-exact as published (no trailing slash added).
    pub issuer: String,
    /// The configured defaults of the runtime settings (lifetimes, rotation, limits);
    /// what an administrator sets (the admin operation `settings_update`) overrides them.
    /// Read the values in force with [`Provider::settings`], never from here.
    pub defaults: ServerSettings,
    pub device_interval: i64,
    pub auth_request_ttl: i64,
    pub access_token_alg: Alg,
    pub id_token_alg: Alg,
    /// `Cache-Control: max-age` of the JWKS; also the floor for key pre-publication.
    pub jwks_max_age: i64,
    /// How long key/client state may be cached per node before re-reading the store.
    pub cache_ttl: Duration,
    /// Leeway for `nbf`/`iat` of JWTs we receive (client assertions): CA-05 accepts +8 s.
    pub jwt_leeway: i64,
    /// Least time between two fetches of one client `jwks_uri` on an unknown `kid`.
    pub jwks_refetch_min: Duration,
    /// Lifetime of a pushed authorization request's `request_uri` (RFC 9126 §2.2
    /// `expires_in`): long enough to send the browser on, short enough that a leaked one
    /// is soon useless.
    pub par_ttl: i64,
    /// RFC 9126 §5 `require_pushed_authorization_requests`, for every client:
    /// `/authorize` answers only pushed requests.
    pub require_pushed_authorization_requests: bool,
    /// Dynamic client registration (RFC 7591/7592) at `/register`: off unless the
    /// server is started with it (`latchkey serve --registration`).
    pub registration: bool,
    /// RFC 9449 §8: every DPoP proof must carry a nonce this server provided.
    pub dpop_nonce: bool,
}

impl Config {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            defaults: ServerSettings::default(),
            device_interval: 5,
            auth_request_ttl: 900,
            access_token_alg: Alg::ES256,
            id_token_alg: Alg::RS256,
            jwks_max_age: crate::limits::DEFAULT_JWKS_MAX_AGE,
            cache_ttl: Duration::from_secs(1),
            jwt_leeway: 10,
            jwks_refetch_min: Duration::from_secs(10),
            par_ttl: 60,
            require_pushed_authorization_requests: false,
            registration: false,
            dpop_nonce: false,
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }
}

/// Keys as the engine needs them: signers for the active keys and the states of all.
pub struct KeySet {
    pub signers: HashMap<Alg, Arc<LoadedKey>>,
    /// kid → (alg, state, public JWK).
    pub by_kid: HashMap<String, (Alg, KeyState, Value)>,
    pub jwks: Value,
}

struct KeyCache {
    /// `Clock::now_millis` when the set was read; `None` forces a re-read.
    loaded_at: Option<i64>,
    set: Arc<KeySet>,
}

/// The effective settings, with the cache marker seen before they were read.
struct SettingsCache {
    /// `Clock::now_millis` when the settings were read.
    loaded_at: i64,
    marker: Option<u64>,
    settings: Arc<ServerSettings>,
}

fn lifecycle_error(e: crate::error::ManageError) -> OAuthError {
    match e {
        crate::error::ManageError::Unavailable(_) => OAuthError::unavailable(),
        other => {
            tracing::error!(error = %other, "key maintenance failed");
            OAuthError::server_error()
        }
    }
}

pub struct Provider {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    kek: Kek,
    keys: RwLock<KeyCache>,
    settings: RwLock<Option<SettingsCache>>,
    caches: cache::Caches,
    jwks_fetcher: Option<Arc<dyn fetch::JwksFetcher>>,
    /// Client JWK Sets fetched from `jwks_uri`: URL → (when, in the clock's
    /// milliseconds, the set if any).
    remote_keys: std::sync::Mutex<HashMap<String, (i64, Option<Value>)>>,
    /// SHA-256 of access tokens whose signature verified → their `exp`.
    verified: std::sync::Mutex<HashMap<Vec<u8>, Timestamp>>,
    /// Token responses per (minute, grant, client) since the last flush. Counted in
    /// memory so issuing a client-credentials token still writes nothing; the server
    /// flushes them to the store every few seconds (`take_token_counts`).
    issued: std::sync::Mutex<HashMap<(Timestamp, &'static str, String), i64>>,
    /// Where argon2 runs (the server puts it on a bounded blocking pool).
    password_verifier: RwLock<Arc<dyn crate::crypto::PasswordVerifier>>,
    /// The server's brute-force limiter for client credentials, if any.
    client_auth_gate: RwLock<Option<Arc<dyn client_auth::FailureGate>>>,
    /// The admin API's public URL (RFC 8707 resource indicator), set once by the server.
    admin_api: std::sync::OnceLock<String>,
    /// Where the engine reports what the detections need (issue 14), if anywhere: the
    /// server's queue, which never makes a request wait.
    signals: RwLock<Option<Arc<dyn crate::monitor::SignalSink>>>,
    /// client id → the grant types and scopes this process has seen it mint with, so
    /// only a first use becomes a signal (detection 7).
    uses_seen: std::sync::Mutex<HashMap<String, std::collections::HashSet<String>>>,
    /// Told of every issuance (grant, client id) as it happens: the server's metrics.
    issue_observer: std::sync::OnceLock<IssueObserver>,
    /// Where webhook requests go out (the server's SSRF-checked client), set once.
    webhook_sender: std::sync::OnceLock<Arc<dyn crate::webhook::WebhookSender>>,
}

/// Clients whose uses one process remembers; past it the memory starts afresh (a use
/// seen again is then one more signal, which the store answers "not new").
const USES_SEEN_MAX: usize = 10_000;

/// Called with (grant type, client id) for every token response; must not block.
pub type IssueObserver = Arc<dyn Fn(&'static str, &str) + Send + Sync>;

/// Bound on remembered signatures; past it, expired entries go, then all.
const VERIFIED_CACHE_MAX: usize = 100_000;

impl Provider {
    /// Sets how webhook requests are sent (once; later calls are ignored).
    pub fn set_webhook_sender(&self, sender: Arc<dyn crate::webhook::WebhookSender>) {
        let _ = self.webhook_sender.set(sender);
    }

    pub fn webhook_sender(&self) -> Option<Arc<dyn crate::webhook::WebhookSender>> {
        self.webhook_sender.get().cloned()
    }

    /// Sets the observer told of every issuance (once; later calls are ignored).
    pub fn set_issue_observer(&self, observer: IssueObserver) {
        let _ = self.issue_observer.set(observer);
    }

    fn count_issued(&self, grant: &'static str, client_id: &str) {
        if let Some(o) = self.issue_observer.get() {
            o(grant, client_id);
        }
        let now = self.clock.now();
        let minute = now - now.rem_euclid(60);
        let mut map = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((minute, grant, client_id.to_string()))
            .or_insert(0) += 1;
    }

    /// The issuance counts since the previous call, for `Store::stats_record`. A caller
    /// whose write fails hands them back with `restore_token_counts`.
    pub fn take_token_counts(&self) -> Vec<TokenCount> {
        let map = std::mem::take(&mut *self.issued.lock().unwrap_or_else(|e| e.into_inner()));
        map.into_iter()
            .map(|((minute, grant, client_id), count)| TokenCount {
                minute,
                grant: grant.to_string(),
                client_id,
                count,
            })
            .collect()
    }

    pub fn restore_token_counts(&self, counts: Vec<TokenCount>) {
        let mut map = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        for c in counts {
            let grant = if c.grant == exchange::GRANT_TYPE {
                exchange::GRANT_TYPE
            } else {
                GrantType::from_str(&c.grant)
                    .map(|g| g.as_str())
                    .unwrap_or("unknown")
            };
            *map.entry((c.minute, grant, c.client_id)).or_insert(0) += c.count;
        }
    }

    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, kek: Kek, config: Config) -> Self {
        Self {
            store,
            clock,
            config,
            kek,
            keys: RwLock::new(KeyCache {
                loaded_at: None,
                set: Arc::new(KeySet {
                    signers: HashMap::new(),
                    by_kid: HashMap::new(),
                    jwks: json!({"keys": []}),
                }),
            }),
            settings: RwLock::new(None),
            verified: std::sync::Mutex::new(HashMap::new()),
            issued: std::sync::Mutex::new(HashMap::new()),
            caches: cache::Caches::new(),
            jwks_fetcher: None,
            remote_keys: std::sync::Mutex::new(HashMap::new()),
            password_verifier: RwLock::new(Arc::new(crate::crypto::InlineVerifier)),
            client_auth_gate: RwLock::new(None),
            admin_api: std::sync::OnceLock::new(),
            signals: RwLock::new(None),
            uses_seen: std::sync::Mutex::new(HashMap::new()),
            issue_observer: std::sync::OnceLock::new(),
            webhook_sender: std::sync::OnceLock::new(),
        }
    }

    /// Sends the detections' signals to `sink` from now on.
    pub fn set_signal_sink(&self, sink: Arc<dyn crate::monitor::SignalSink>) {
        *self.signals.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Reports a signal to the detections, if a sink is set; never waits.
    pub(crate) fn signal(&self, signal: crate::monitor::Signal) {
        let sink = self
            .signals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(sink) = sink {
            sink.report(signal, self.now());
        }
    }

    /// A minted token's grant type and scopes: a first use in this process becomes a
    /// signal (the store decides whether it is a first use of all).
    pub(crate) fn note_use(&self, grant: &str, client_id: &str, scope: &str) {
        if self
            .signals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
        {
            return;
        }
        let mut fresh = Vec::new();
        {
            let mut seen = self.uses_seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() >= USES_SEEN_MAX && !seen.contains_key(client_id) {
                seen.clear();
            }
            let known = seen.entry(client_id.to_string()).or_default();
            let uses = std::iter::once((crate::monitor::UseKind::Grant, grant)).chain(
                scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(|s| (crate::monitor::UseKind::Scope, s)),
            );
            for (kind, value) in uses {
                let key = format!("{}:{value}", kind.as_str());
                if !known.contains(&key) {
                    known.insert(key);
                    fresh.push((kind, value.to_string()));
                }
            }
        }
        for (kind, value) in fresh {
            self.signal(crate::monitor::Signal::ClientUse {
                client_id: client_id.to_string(),
                kind,
                value,
            });
        }
    }

    /// Runs password checks through `v` from now on.
    pub fn set_password_verifier(&self, v: Arc<dyn crate::crypto::PasswordVerifier>) {
        *self
            .password_verifier
            .write()
            .unwrap_or_else(|e| e.into_inner()) = v;
    }

    pub(crate) fn password_verifier(&self) -> Arc<dyn crate::crypto::PasswordVerifier> {
        self.password_verifier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks and counts client credentials through `gate` from now on.
    pub fn set_client_auth_gate(&self, gate: Arc<dyn client_auth::FailureGate>) {
        *self
            .client_auth_gate
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    pub(crate) fn client_auth_gate(&self) -> Option<Arc<dyn client_auth::FailureGate>> {
        self.client_auth_gate
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Lets `private_key_jwt` clients publish their keys at a `jwks_uri`.
    pub fn with_jwks_fetcher(mut self, fetcher: Arc<dyn fetch::JwksFetcher>) -> Self {
        self.jwks_fetcher = Some(fetcher);
        self
    }

    pub(crate) fn signature_known(&self, fingerprint: &[u8], now: Timestamp) -> bool {
        self.verified
            .lock()
            .map(|m| m.get(fingerprint).is_some_and(|exp| *exp > now))
            .unwrap_or(false)
    }

    pub(crate) fn remember_signature(&self, fingerprint: Vec<u8>, exp: Timestamp, now: Timestamp) {
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_CACHE_MAX {
                m.retain(|_, e| *e > now);
                if m.len() >= VERIFIED_CACHE_MAX {
                    m.clear();
                }
            }
            m.insert(fingerprint, exp);
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The key-encryption key, for the admin operations over this provider
    /// (`manage`'s `Provider::manager`).
    pub(crate) fn kek(&self) -> &Kek {
        &self.kek
    }

    fn key_lifecycle(&self) -> key_lifecycle::KeyLifecycle {
        key_lifecycle::KeyLifecycle::new(self.store.clone(), self.clock.clone(), self.kek.clone())
    }

    /// Brings the keys of every algorithm in line with the rotation policy (creating
    /// them on first start). Called at start-up and by the scheduler.
    pub async fn maintain_keys(&self) -> OAuthResult<()> {
        let rotation = self.settings().await?.rotation();
        self.key_lifecycle()
            .ensure_keys_with(&rotation)
            .await
            .map_err(lifecycle_error)?;
        self.invalidate_keys();
        Ok(())
    }

    /// Rotate-now for one algorithm (the pre-published successor signs at once);
    /// `actor` is recorded in the audit log. The rotation policy is read from the store,
    /// not the settings cache, as an admin rotation does.
    pub async fn rotate_alg(&self, alg: Alg, actor: &str) -> OAuthResult<()> {
        let stored = self.store.settings_get().await?;
        let rotation = ServerSettings::effective(&self.config.defaults, &stored.values).rotation();
        self.key_lifecycle()
            .keys_rotate(actor, Some(alg), &rotation)
            .await
            .map_err(lifecycle_error)?;
        self.invalidate_keys();
        Ok(())
    }

    /// Whether something read at `at` (milliseconds on the provider's clock) may still be
    /// reused at `now`. A read stamped in the future (the clock was set back) is stale.
    fn within_cache_ttl(&self, at: i64, now: i64) -> bool {
        let ttl = i64::try_from(self.config.cache_ttl.as_millis()).unwrap_or(i64::MAX);
        (0..ttl).contains(&now.saturating_sub(at))
    }

    pub fn invalidate_keys(&self) {
        if let Ok(mut c) = self.keys.write() {
            c.loaded_at = None;
        }
    }

    /// The current key set, re-read from the store at most once per `cache_ttl` so that
    /// a rotation or emergency revoke made by another process (the CLI, another node)
    /// takes effect within that bound.
    pub async fn keys(&self) -> OAuthResult<Arc<KeySet>> {
        let now = self.clock.now_millis();
        if let Ok(c) = self.keys.read() {
            if c.loaded_at.is_some_and(|at| self.within_cache_ttl(at, now)) {
                return Ok(c.set.clone());
            }
        }
        let rows = self.store.keys_list().await?;
        let mut signers = HashMap::new();
        let mut by_kid = HashMap::new();
        let mut published = Vec::new();
        // Reuse already-decrypted signers: decrypting and parsing RSA keys per reload
        // would cost milliseconds.
        let previous = self.keys.read().map(|c| c.set.clone()).ok();
        for k in &rows {
            let jwk: Value = serde_json::from_str(&k.public_jwk).unwrap_or(Value::Null);
            if keys::is_published(k.state) && jwk.is_object() {
                published.push(jwk.clone());
            }
            by_kid.insert(k.kid.clone(), (k.alg, k.state, jwk));
            if k.state == KeyState::Active {
                let newer = signers
                    .get(&k.alg)
                    .map(|s: &Arc<LoadedKey>| s.kid != k.kid)
                    .unwrap_or(true);
                if newer {
                    let reuse = previous
                        .as_ref()
                        .and_then(|p| p.signers.get(&k.alg))
                        .filter(|s| s.kid == k.kid)
                        .cloned();
                    let signer = match reuse {
                        Some(s) => s,
                        None => Arc::new(keys::load(k, &self.kek)?),
                    };
                    signers.insert(k.alg, signer);
                }
            }
        }
        let set = Arc::new(KeySet {
            signers,
            by_kid,
            jwks: json!({ "keys": published }),
        });
        if let Ok(mut c) = self.keys.write() {
            c.set = set.clone();
            c.loaded_at = Some(now);
        }
        Ok(set)
    }

    /// The settings in force: the configured defaults with what an administrator set
    /// laid over them. Reused while the store's cache marker stays put, and never
    /// longer than `cache_ttl`, so a change through any process or node applies here
    /// within that bound, as a client or key change does.
    pub async fn settings(&self) -> OAuthResult<Arc<ServerSettings>> {
        // The marker is taken before the read: a change that lands during the read
        // alters it, so the stale result is not reused.
        let marker = self.store.cache_marker().await;
        let now = self.clock.now_millis();
        if let Ok(c) = self.settings.read() {
            if let Some(c) = c.as_ref() {
                if c.marker == marker && self.within_cache_ttl(c.loaded_at, now) {
                    return Ok(c.settings.clone());
                }
            }
        }
        let stored = self.store.settings_get().await?;
        let settings = Arc::new(ServerSettings::effective(
            &self.config.defaults,
            &stored.values,
        ));
        if let Ok(mut c) = self.settings.write() {
            *c = Some(SettingsCache {
                loaded_at: now,
                marker,
                settings: settings.clone(),
            });
        }
        Ok(settings)
    }

    pub async fn signer(&self, alg: Alg) -> OAuthResult<Arc<LoadedKey>> {
        let set = self.keys().await?;
        match set.signers.get(&alg) {
            Some(s) => Ok(s.clone()),
            None => {
                tracing::error!(alg = %alg, "no active signing key");
                Err(OAuthError::unavailable())
            }
        }
    }

    pub async fn jwks(&self) -> OAuthResult<Value> {
        Ok(self.keys().await?.jwks.clone())
    }

    /// Records a security event (audit, flagged) and logs it. Never fails the request:
    /// a store error here is logged. `target` comes from the request, so it is capped.
    pub async fn security_event(
        &self,
        actor: &str,
        family: latchkey_api_types::SecurityFamily,
        detail: Option<&str>,
        target: Option<&str>,
        ip: Option<&str>,
    ) {
        let action = family.action(detail);
        let mut ev = NewAuditEvent::new(self.now(), actor, &action)
            .ip(ip.map(str::to_string))
            .security();
        if let Some(t) = target {
            ev = ev.target(t.chars().take(128).collect::<String>());
        }
        tracing::warn!(action = %action, actor, "security event");
        if let Err(e) = self.store.audit_insert(&ev).await {
            tracing::error!(error = ?e, "failed to record security event");
        }
    }

    pub fn new_jti(&self) -> String {
        random_id()
    }
}
