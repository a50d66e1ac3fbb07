//! Administration: the operations behind the admin CLI, the admin API and the desktop
//! console, over any [`Store`].
//!
//! Owns: validation of what an administrator registers (`validate`), secret generation
//! (shown once, stored as SHA-256), session revocation, API keys and their
//! authentication (`api_key_auth`), and one audit event per mutation with secrets
//! redacted. One module per resource: `clients`, `scopes`, `users`, `keys`, `sessions`,
//! `console` (the built-in console client and admin scopes), `api_keys`, `settings`,
//! `audit` (also the dashboard's statistics).
//!
//! Does not own: transport or presentation. Callers (`latchkey-admin`'s `Embedded`
//! backend, the server's admin routes) convert to and from wire DTOs and say who the
//! actor is. One operation keeps one name in every layer (`clients_list` here,
//! `AdminBackend::clients_list`, `GET /admin/v1/clients`). Not the limits (`crate::limits`)
//! nor the key lifecycle the engine runs itself (`oauth::key_lifecycle`); both are
//! re-exported here so `manage::…` paths keep working.

mod api_key_auth;
mod api_keys;
mod audit;
mod clients;
mod config;
mod console;
mod exchange_policies;
mod monitor;
mod profile;
mod registration_tokens;
mod scopes;
mod sessions;
mod settings;
mod signing_keys;
#[cfg(test)]
mod tests;
mod users;
mod validate;
mod webhooks;

pub use crate::error::{ManageError, ManageResult};
pub use crate::limits::*;
pub use crate::oauth::key_lifecycle::{key_summary, KeyRevocation, KeyRotation};
pub use api_keys::*;
pub use clients::*;
pub use config::*;
pub use console::*;
pub use exchange_policies::*;
pub use profile::*;
pub use registration_tokens::*;
pub use scopes::*;
pub use sessions::*;
pub use settings::*;
pub use users::UserImpact;
pub use users::*;
pub use validate::*;
pub use webhooks::*;

use crate::clock::{Clock, Timestamp};
use crate::crypto::{self, Kek};
use crate::error::{shown, StoreError};
use crate::keys::RotationPolicy;
use crate::model::*;
use crate::settings::{ServerSettings, FIELDS};
use crate::store::{SessionInfo, Store};
use latchkey_api_types::AuditAction;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A plaintext secret, handed back exactly once. `Debug` does not print it, so it
/// cannot leak through a stray `{:?}` into a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainSecret(..)")
    }
}

pub use crate::model::CONSOLE_CLIENT_ID;

/// Knobs the operations need that are not per-call parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagePolicy {
    /// The configured defaults of the runtime settings (token lifetimes for new
    /// clients, key rotation, limits); stored admin-set values override them.
    pub defaults: ServerSettings,
    /// The JWKS `Cache-Control: max-age`: keys must be published at least this long
    /// before they sign and after the last token they signed expires.
    pub jwks_max_age: i64,
    /// How long the previous client secrets stay valid after a rotation, by default.
    pub secret_overlap: i64,
}

impl Default for ManagePolicy {
    fn default() -> Self {
        Self {
            defaults: ServerSettings::default(),
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            secret_overlap: DEFAULT_SECRET_OVERLAP,
        }
    }
}

/// Removes duplicates, keeping the first occurrence.
fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn is_secret_based(m: AuthMethod) -> bool {
    matches!(
        m,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
}

/// The administrative operations over one store. Cheap to clone.
#[derive(Clone)]
pub struct Manager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    kek: Kek,
    policy: ManagePolicy,
    /// Where the change came from (the admin API caller's address), for the audit log.
    source_ip: Option<String>,
    /// The admin API's URL when this store has one (RFC 8707 resource indicator): never
    /// a target of token exchange.
    admin_api: Option<String>,
    /// How `webhook_test` sends, and whether loopback targets are allowed.
    webhook_sender: Option<Arc<dyn crate::webhook::WebhookSender>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn clamp_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT)
}

impl Manager {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kek: Kek,
        policy: ManagePolicy,
    ) -> Self {
        Self {
            store,
            clock,
            kek,
            policy,
            source_ip: None,
            admin_api: None,
            webhook_sender: None,
        }
    }

    /// The same operations, sending webhook tests through `sender`.
    pub fn with_webhook_sender(
        mut self,
        sender: Option<Arc<dyn crate::webhook::WebhookSender>>,
    ) -> Self {
        self.webhook_sender = sender;
        self
    }

    /// The same operations, knowing the admin API's URL (policies may not target it).
    pub fn with_admin_api(mut self, url: Option<String>) -> Self {
        self.admin_api = url;
        self
    }

    /// The same operations, recording `ip` as the source of every change.
    pub fn with_source_ip(mut self, ip: Option<String>) -> Self {
        self.source_ip = ip;
        self
    }

    fn audit_event(
        &self,
        at: Timestamp,
        actor: impl Into<String>,
        action: impl Into<String>,
    ) -> NewAuditEvent {
        NewAuditEvent::new(at, actor, action).ip(self.source_ip.clone())
    }

    /// The engine over this manager's store, clock and KEK for `issuer`, for what an
    /// administrator asks of the engine without a server in this process (the explain
    /// tool of token exchange). Engine defaults otherwise.
    pub fn provider_for(&self, issuer: &str) -> crate::oauth::Provider {
        let mut config = crate::oauth::Config::new(issuer);
        config.defaults = self.policy.defaults;
        config.jwks_max_age = self.policy.jwks_max_age;
        let p = crate::oauth::Provider::new(
            self.store.clone(),
            self.clock.clone(),
            self.kek.clone(),
            config,
        );
        if let Some(api) = &self.admin_api {
            p.set_admin_api(api.clone());
        }
        p
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policy(&self) -> &ManagePolicy {
        &self.policy
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl crate::oauth::Provider {
    /// The admin operations over this provider's store, clock, KEK and settings.
    pub fn manager(&self) -> Manager {
        Manager::new(
            self.store.clone(),
            self.clock.clone(),
            self.kek().clone(),
            ManagePolicy {
                defaults: self.config.defaults,
                jwks_max_age: self.config.jwks_max_age,
                ..Default::default()
            },
        )
        .with_admin_api(self.admin_api().map(str::to_string))
        .with_webhook_sender(self.webhook_sender())
    }
}
