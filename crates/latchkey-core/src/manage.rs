//! Administration: the operations behind the admin CLI, the admin API and the desktop
//! console, over any [`Store`].
//!
//! Owns: validation of what an administrator registers (clients, scopes, users), secret
//! generation (shown once, stored as SHA-256), key rotation and emergency revoke, session
//! revocation, and one audit event per mutation with secrets redacted.
//!
//! Does not own: transport or presentation. Callers (`latchkey-admin`'s `Embedded`
//! backend, the server's admin routes) convert to and from wire DTOs and say who the
//! actor is. One operation keeps one name in every layer (`clients_list` here,
//! `AdminBackend::clients_list`, `GET /admin/v1/clients`).

use crate::clock::{Clock, Timestamp};
use crate::crypto::{self, Kek};
use crate::error::{CryptoError, StoreError};
use crate::keys::{self, RotationPolicy};
use crate::model::*;
use crate::settings::{ServerSettings, FIELDS};
use crate::store::{KeyUpdate, SessionInfo, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What an administrative operation can report. Each variant has a stable [`code`]
/// (`ManageError::code`) that every layer passes through unchanged; the message is for
/// humans and never carries a secret, a password or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage is temporarily unavailable, try again ({0})")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ManageError {
    pub const NOT_FOUND: &'static str = "not_found";
    pub const INVALID_INPUT: &'static str = "invalid_input";
    pub const CONFLICT: &'static str = "conflict";
    pub const UNAVAILABLE: &'static str = "unavailable";
    pub const INTERNAL: &'static str = "internal";

    pub fn code(&self) -> &'static str {
        match self {
            ManageError::NotFound(_) => Self::NOT_FOUND,
            ManageError::InvalidInput(_) => Self::INVALID_INPUT,
            ManageError::Conflict(_) => Self::CONFLICT,
            ManageError::Unavailable(_) => Self::UNAVAILABLE,
            ManageError::Internal(_) => Self::INTERNAL,
        }
    }

    fn invalid(msg: impl Into<String>) -> Self {
        ManageError::InvalidInput(msg.into())
    }
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        // The store's messages name operations and schema columns, never values, so
        // they are safe to show to an administrator.
        match e {
            StoreError::NotFound => ManageError::NotFound("not found".into()),
            StoreError::Conflict(m) => ManageError::Conflict(m),
            StoreError::Unavailable(m) => ManageError::Unavailable(m),
            StoreError::Corrupt(m) => {
                tracing::error!(target: "latchkey::manage", "corrupt store data: {m}");
                ManageError::Internal(format!("stored data is invalid: {m}"))
            }
            StoreError::Other(m) => {
                tracing::error!(target: "latchkey::manage", "store error: {m}");
                ManageError::Internal("internal storage error (see the log)".into())
            }
        }
    }
}

impl From<CryptoError> for ManageError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Decrypt => ManageError::Internal(
                "the key-encryption key cannot decrypt the stored signing keys; set \
                 LATCHKEY_KEK or LATCHKEY_KEK_FILE to the key this database was created with"
                    .into(),
            ),
            other => {
                tracing::error!(target: "latchkey::manage", "crypto error: {other}");
                ManageError::Internal(format!("cryptographic operation failed: {other}"))
            }
        }
    }
}

pub type ManageResult<T> = Result<T, ManageError>;

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

// ------------------------------------------------------------------------------------
// Limits and defaults
// ------------------------------------------------------------------------------------

pub const CLIENT_NAME_MAX: usize = 200;
pub const SCOPE_DESCRIPTION_MAX: usize = 500;
pub const REDIRECT_URI_MAX: usize = 2000;
pub const JWKS_MAX: usize = 64 * 1024;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
/// Bounds the work argon2 is asked to do on attacker-sized input.
pub const PASSWORD_MAX: usize = 1024;

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 600;
/// Access tokens are checked for revocation only at introspection and userinfo; a
/// resource server that just verifies signatures sees a revocation when the token
/// expires, so their lifetime is capped (design.md, "What revoke means").
pub const MAX_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
pub const MAX_REFRESH_TOKEN_TTL: i64 = 365 * 24 * 3600;
pub const DEFAULT_REFRESH_IDLE_TTL: i64 = 7 * 24 * 3600;
pub const MIN_REFRESH_TTL: i64 = 60;
pub const MAX_REFRESH_GRACE_SECS: i64 = 30;
pub const DEFAULT_SECRET_OVERLAP: i64 = 24 * 3600;
pub const MAX_SECRET_OVERLAP: i64 = 30 * 24 * 3600;
pub const DEFAULT_LIST_LIMIT: i64 = 100;
pub const MAX_LIST_LIMIT: i64 = 1000;

pub use crate::model::CONSOLE_CLIENT_ID;
/// Registered once; any loopback port matches it (RFC 8252 §7.3).
pub const CONSOLE_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The OIDC scopes that ship with the server (OIDC Core §5.4) and cannot be deleted.
pub const BUILTIN_SCOPES: &[(&str, &str, &[&str])] = &[
    ("openid", "Sign you in with your account", &[]),
    (
        "profile",
        "Your name and username",
        &["name", "preferred_username", "updated_at"],
    ),
    ("email", "Your email address", &["email", "email_verified"]),
    (
        "offline_access",
        "Stay connected while you are away (refresh tokens)",
        &[],
    ),
];

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

/// The JWKS `max-age` a server uses unless configured otherwise.
pub const DEFAULT_JWKS_MAX_AGE: i64 = 300;

// ------------------------------------------------------------------------------------
// Inputs and results
// ------------------------------------------------------------------------------------

/// A client to register. Unset fields take the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewClient {
    pub name: String,
    /// Default: confidential.
    pub client_type: Option<ClientType>,
    /// Default: `client_secret_basic` for confidential clients, `none` for public ones.
    pub auth_method: Option<AuthMethod>,
    /// Default (empty): `authorization_code` (RFC 7591 §2) plus `refresh_token`.
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Default (empty) for clients that act for users: the built-in OIDC scopes
    /// (`offline_access` only with the refresh grant). Empty for machine clients.
    pub allowed_scopes: Vec<String>,
    /// A JWK Set (JSON text) of public keys, for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Or the URL where the client publishes it (not both).
    pub jwks_uri: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub require_consent: Option<bool>,
    /// Marks the client as an admin tool, allowed to list the admin scopes.
    pub admin_tool: Option<bool>,
    /// `private_key_jwt`: also accept an array or endpoint-URL `aud` (default false).
    pub assertion_aud_compat: Option<bool>,
}

/// A partial update: `None` leaves a field as it is. The client type cannot change
/// (it decides whether secrets exist at all); clone the client instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub auth_method: Option<AuthMethod>,
    pub grant_types: Option<Vec<GrantType>>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    /// `Some(None)` removes the JWK Set. Leaving the `private_key_jwt` method removes
    /// it too unless a new one is given.
    pub jwks: Option<Option<String>>,
    /// `Some(None)` removes the JWK Set URL.
    pub jwks_uri: Option<Option<String>>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub require_consent: Option<bool>,
    pub admin_tool: Option<bool>,
    pub disabled: Option<bool>,
    pub assertion_aud_compat: Option<bool>,
}

/// The runtime settings as an administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsView {
    /// What the servers use now.
    pub effective: ServerSettings,
    /// What they would use for a setting nobody set.
    pub defaults: ServerSettings,
    /// The names of the settings an administrator set (even to the default's value).
    pub admin_set: BTreeSet<String>,
    /// Unix seconds of the last change, if any was made.
    pub updated_at: Option<Timestamp>,
}

/// A change to the runtime settings, by name: `Some(v)` sets a value, `None` returns
/// the setting to the server's default. Settings not named stay as they are.
pub type SettingsPatch = BTreeMap<String, Option<i64>>;

/// A registered client and, for secret-based authentication, its secret: the only
/// time the plaintext exists outside the client's hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCreated {
    pub client: Client,
    pub secret: Option<PlainSecret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRotated {
    pub client_id: String,
    pub secret: PlainSecret,
    /// When the secrets valid before this rotation stop working.
    pub previous_expire_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewScope {
    pub name: String,
    pub description: String,
    pub claims: Vec<String>,
}

/// A user to create. `Debug` omits the password.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: String,
    pub is_admin: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"..")
            .field("is_admin", &self.is_admin)
            .finish()
    }
}

/// Which key of one algorithm signed before a rotation and which signs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    pub alg: Alg,
    pub previous_kid: Option<String>,
    pub active_kid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    pub kid: String,
    pub alg: Alg,
    /// The state the key was in before the revoke.
    pub previous_state: KeyState,
    /// The key that signs for this algorithm now.
    pub active_kid: Option<String>,
}

/// Which sessions to list or revoke. `user` is a user id or a username.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery {
    pub user: Option<String>,
    pub client_id: Option<String>,
    /// Exact address, or a prefix ending in `.`, `:` or `*`.
    pub ip: Option<String>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    pub state: SessionStateFilter,
    pub sort: SessionSort,
    pub ascending: bool,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// One page of sessions; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    pub items: Vec<SessionInfo>,
    pub next_cursor: Option<String>,
}

/// The sessions a bulk revoke covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSelector {
    /// A multi-selection.
    Ids(Vec<String>),
    /// Everything of a user (id or username); also ends their sign-ins.
    User(String),
    /// Everything of a client; also moves its watermark, so client-credentials tokens
    /// issued before now are inactive too.
    Client(String),
    /// Every live session matching a filter (its state, sort, cursor and limit are
    /// ignored).
    Filter(SessionQuery),
}

/// An admin API key as listed (the key itself is never shown again).
pub const API_KEY_PREFIX: &str = "lk_";
pub const API_KEY_NAME_MAX: usize = 100;
/// Longest lifetime an API key may be given: automation keys should be rotated.
pub const API_KEY_MAX_TTL: i64 = 2 * 366 * 24 * 3600;
/// Lifetime of an API key created without one: keys expire unless `never` is asked for.
pub const API_KEY_DEFAULT_TTL: i64 = 90 * 86_400;

/// How long a new API key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLifetime {
    /// [`API_KEY_DEFAULT_TTL`].
    Default,
    Seconds(i64),
    /// Only when asked for explicitly.
    Never,
}

// ------------------------------------------------------------------------------------
// Validators (pure; also meant for dynamic client registration later)
// ------------------------------------------------------------------------------------

/// A value echoed back in an error message: control characters dropped, length bounded,
/// so a pasted blob cannot flood a terminal or a log.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

pub fn validate_client_name(name: &str) -> ManageResult<()> {
    if name.trim().is_empty() {
        return Err(ManageError::invalid("client name must not be empty"));
    }
    if name.chars().count() > CLIENT_NAME_MAX {
        return Err(ManageError::invalid(format!(
            "client name must be at most {CLIENT_NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ManageError::invalid(
            "client name must not contain control characters",
        ));
    }
    Ok(())
}

/// Parameters an authorization server adds to the redirect; a registered URI that
/// already carries one would let the response be confused or overridden
/// (RFC 6749 §4.1.2, RFC 9207 §2, RFC 9700 §4.1).
const OAUTH_RESPONSE_PARAMS: &[&str] = &[
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// Schemes that execute or read locally instead of navigating to an application.
const DANGEROUS_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "about", "blob"];

/// A redirect URI a client may register:
///
/// * absolute, without a fragment (RFC 6749 §3.1.2), without user info, no wildcards
///   (matching is exact, RFC 9700 §4.1.3);
/// * `https`, or `http` only on the loopback IP literals `127.0.0.1` / `[::1]`
///   (RFC 8252 §7.3; `localhost` is refused, §8.3), or a private-use scheme in
///   reverse-domain form such as `com.example.app:/callback` (RFC 8252 §7.1);
/// * no `javascript:`, `data:`, `file:`; no OAuth response parameters in the query.
pub fn validate_redirect_uri(uri: &str) -> ManageResult<()> {
    let bad = |why: &str| {
        Err(ManageError::invalid(format!(
            "redirect URI \"{}\" {why}",
            shown(uri)
        )))
    };
    if uri.is_empty() {
        return Err(ManageError::invalid("redirect URI must not be empty"));
    }
    if uri.len() > REDIRECT_URI_MAX {
        return bad(&format!("is longer than {REDIRECT_URI_MAX} bytes"));
    }
    // Matching is by exact string; the URL parser would silently trim or re-encode
    // these, so the registered and the presented strings could differ.
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain whitespace or control characters");
    }
    if uri.contains('#') {
        return bad("must not contain a fragment (RFC 6749 §3.1.2)");
    }
    let url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return bad("is not an absolute URI (RFC 6749 §3.1.2)"),
    };
    let scheme = url.scheme();
    if DANGEROUS_SCHEMES.contains(&scheme) {
        return bad(&format!(
            "uses the {scheme}: scheme, which is never allowed"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user information");
    }
    match scheme {
        "https" => match url.host_str() {
            None | Some("") => return bad("has no host"),
            Some(h) if h.contains('*') => {
                return bad("must not contain wildcards (redirect URIs match exactly)")
            }
            Some(_) => {}
        },
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) if ip == std::net::Ipv4Addr::LOCALHOST => {}
            Some(url::Host::Ipv6(ip)) if ip == std::net::Ipv6Addr::LOCALHOST => {}
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                return bad(
                    "uses http://localhost; use http://127.0.0.1 or http://[::1] instead \
                     (RFC 8252 §8.3)",
                )
            }
            _ => {
                return bad(
                    "uses http on a non-loopback host; use https, or http only on \
                     127.0.0.1 or [::1] (RFC 8252 §7.3)",
                )
            }
        },
        other => {
            // RFC 8252 §7.1: private-use schemes for native apps, in reverse domain
            // name notation so they are unlikely to collide with another app's.
            if !other.contains('.') {
                return bad(
                    "uses a custom scheme without a dot; native apps must use a \
                     reverse-domain scheme such as com.example.app:/callback (RFC 8252 §7.1)",
                );
            }
            if !url.path().starts_with('/') {
                return bad("must have a path after the scheme, as in com.example.app:/callback");
            }
        }
    }
    if let Some((k, _)) = url
        .query_pairs()
        .find(|(k, _)| OAUTH_RESPONSE_PARAMS.contains(&k.as_ref()))
    {
        return bad(&format!(
            "must not carry the OAuth response parameter \"{}\" in its query",
            shown(&k)
        ));
    }
    Ok(())
}

/// A JWK Set of public keys for `private_key_jwt` (RFC 7517 §5, RFC 7523 §2.2): an
/// object with a non-empty `keys` array; each key of a type we verify with; no private
/// or symmetric key material (a client must never send us its private key).
pub fn validate_jwks(jwks: &str) -> ManageResult<()> {
    if jwks.len() > JWKS_MAX {
        return Err(ManageError::invalid(format!(
            "jwks must be at most {JWKS_MAX} bytes"
        )));
    }
    let v: Value =
        serde_json::from_str(jwks).map_err(|_| ManageError::invalid("jwks is not valid JSON"))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| ManageError::invalid("jwks must be a JSON object with a \"keys\" array"))?;
    if keys.is_empty() {
        return Err(ManageError::invalid("jwks must contain at least one key"));
    }
    for (i, k) in keys.iter().enumerate() {
        let obj = k
            .as_object()
            .ok_or_else(|| ManageError::invalid(format!("jwks key #{i} is not an object")))?;
        // Private parts of RSA/EC/OKP keys and the value of symmetric keys.
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if obj.contains_key(private) {
                return Err(ManageError::invalid(format!(
                    "jwks key #{i} contains private key material (\"{private}\"); \
                     register the public key only"
                )));
            }
        }
        if crate::jwt::jwk_alg(k).is_none() {
            return Err(ManageError::invalid(format!(
                "jwks key #{i} is not an RSA, P-256 or Ed25519 public key usable with \
                 RS256, ES256 or EdDSA"
            )));
        }
    }
    Ok(())
}

fn validate_ttls(c: &Client) -> ManageResult<()> {
    if !(1..=MAX_ACCESS_TOKEN_TTL).contains(&c.access_token_ttl) {
        return Err(ManageError::invalid(format!(
            "access_token_ttl must be between 1 and {MAX_ACCESS_TOKEN_TTL} seconds"
        )));
    }
    if !(MIN_REFRESH_TTL..=MAX_REFRESH_TOKEN_TTL).contains(&c.refresh_token_ttl) {
        return Err(ManageError::invalid(format!(
            "refresh_token_ttl must be between {MIN_REFRESH_TTL} and {MAX_REFRESH_TOKEN_TTL} seconds"
        )));
    }
    if !(MIN_REFRESH_TTL..=c.refresh_token_ttl).contains(&c.refresh_idle_ttl) {
        return Err(ManageError::invalid(format!(
            "refresh_idle_ttl must be between {MIN_REFRESH_TTL} seconds and refresh_token_ttl"
        )));
    }
    if !(0..=MAX_REFRESH_GRACE_SECS).contains(&c.refresh_grace_secs) {
        return Err(ManageError::invalid(format!(
            "refresh_grace_secs must be between 0 and {MAX_REFRESH_GRACE_SECS}"
        )));
    }
    Ok(())
}

/// A client's JWK Set URL: absolute `https://` (plain `http://` only on a loopback
/// address, for local development), no credentials, no fragment. Where it may point
/// is checked again at fetch time, against the address it resolves to.
pub fn validate_jwks_uri(uri: &str) -> ManageResult<()> {
    if uri.len() > REDIRECT_URI_MAX {
        return Err(ManageError::invalid("jwks_uri is too long"));
    }
    let u = url::Url::parse(uri)
        .map_err(|_| ManageError::invalid("jwks_uri must be an absolute URL"))?;
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(ManageError::invalid(
            "jwks_uri must not carry a fragment or credentials",
        ));
    }
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match u.scheme() {
        "https" if u.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(ManageError::invalid(
            "jwks_uri must be an https:// URL (http:// only on a loopback address)",
        )),
    }
}

/// Every rule a client must satisfy that needs nothing but the client itself (scope
/// existence is checked against the store separately).
pub fn validate_client(c: &Client) -> ManageResult<()> {
    validate_client_name(&c.name)?;
    if c.grant_types.is_empty() {
        return Err(ManageError::invalid(
            "a client needs at least one grant type",
        ));
    }
    let has = |g| c.grant_types.contains(&g);
    match c.client_type {
        ClientType::Public => {
            // RFC 6749 §2.1: a public client cannot keep a credential, so it cannot
            // authenticate, and client_credentials would be anyone's token.
            if c.auth_method != AuthMethod::None {
                return Err(ManageError::invalid(
                    "public clients cannot authenticate; their auth method must be \"none\"",
                ));
            }
            if has(GrantType::ClientCredentials) {
                return Err(ManageError::invalid(
                    "public clients may not use the client_credentials grant",
                ));
            }
        }
        ClientType::Confidential => {
            if c.auth_method == AuthMethod::None {
                return Err(ManageError::invalid(
                    "confidential clients must authenticate; use client_secret_basic, \
                     client_secret_post or private_key_jwt",
                ));
            }
        }
    }
    if has(GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(ManageError::invalid(
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if has(GrantType::RefreshToken)
        && !has(GrantType::AuthorizationCode)
        && !has(GrantType::DeviceCode)
    {
        return Err(ManageError::invalid(
            "the refresh_token grant is only allowed together with authorization_code \
             or the device_code grant",
        ));
    }
    match (&c.jwks, &c.jwks_uri, c.auth_method) {
        (Some(_), Some(_), _) => {
            // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
            return Err(ManageError::invalid(
                "give the client's keys either inline (jwks) or by URL (jwks_uri), not both",
            ));
        }
        (None, None, AuthMethod::PrivateKeyJwt) => {
            return Err(ManageError::invalid(
                "private_key_jwt needs the client's public keys: a JWK Set (jwks) or its URL (jwks_uri)",
            ))
        }
        (Some(j), None, AuthMethod::PrivateKeyJwt) => validate_jwks(j)?,
        (None, Some(u), AuthMethod::PrivateKeyJwt) => validate_jwks_uri(u)?,
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err(ManageError::invalid(
                "jwks and jwks_uri are only used with the private_key_jwt auth method",
            ))
        }
        (None, None, _) => {}
    }
    for u in &c.redirect_uris {
        validate_redirect_uri(u)?;
    }
    for u in &c.post_logout_redirect_uris {
        validate_redirect_uri(u).map_err(|e| {
            ManageError::invalid(format!("post-logout {}", e.to_string().trim_start()))
        })?;
    }
    for s in &c.allowed_scopes {
        if !is_valid_scope_token(s) {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a valid scope name (RFC 6749 §3.3)",
                shown(s)
            )));
        }
        if is_admin_scope(s) && !c.may_request_admin_scopes() {
            return Err(ManageError::invalid(format!(
                "\"{s}\" is reserved to {CONSOLE_CLIENT_ID} and to clients marked as admin \
                 tools (admin_tool); an application holding it would hold administrator power"
            )));
        }
    }
    validate_ttls(c)
}

pub fn validate_scope(s: &NewScope) -> ManageResult<()> {
    if !is_valid_scope_token(&s.name) {
        return Err(ManageError::invalid(format!(
            "\"{}\" is not a valid scope name: 1 to 128 printable ASCII characters \
             without spaces, quotes or backslashes (RFC 6749 §3.3)",
            shown(&s.name)
        )));
    }
    if s.description.chars().count() > SCOPE_DESCRIPTION_MAX {
        return Err(ManageError::invalid(format!(
            "scope description must be at most {SCOPE_DESCRIPTION_MAX} characters"
        )));
    }
    if s.description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ManageError::invalid(
            "scope description must not contain control characters",
        ));
    }
    for c in &s.claims {
        let ok = !c.is_empty()
            && c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if !ok {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a valid claim name",
                shown(c)
            )));
        }
    }
    Ok(())
}

pub fn validate_username(u: &str) -> ManageResult<()> {
    let ok = !u.is_empty()
        && u.len() <= USERNAME_MAX
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "username must be 1 to {USERNAME_MAX} characters from A-Z a-z 0-9 . _ @ -"
        )))
    }
}

pub fn validate_password(p: &str) -> ManageResult<()> {
    // Never echo the password, not even its length.
    let n = p.chars().count();
    if n < PASSWORD_MIN {
        return Err(ManageError::invalid(format!(
            "password must be at least {PASSWORD_MIN} characters"
        )));
    }
    if n > PASSWORD_MAX {
        return Err(ManageError::invalid(format!(
            "password must be at most {PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

pub fn validate_email(e: &str) -> ManageResult<()> {
    // Deliberately loose (the only real check is a mail being delivered): one `@` with
    // something on both sides, no spaces, a sane length.
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "\"{}\" is not an email address",
            shown(e)
        )))
    }
}

/// The rules of the runtime settings. Only rules that involve a setting in `changed`
/// are checked, so a questionable configured default never blocks an unrelated edit.
/// `longest_client_ttl`: the longest access-token lifetime of a registered client.
pub fn validate_settings(
    s: &ServerSettings,
    changed: &BTreeSet<&str>,
    jwks_max_age: i64,
    longest_client_ttl: i64,
) -> ManageResult<()> {
    let touched = |names: &[&str]| names.iter().any(|n| changed.contains(n));
    for f in FIELDS.iter().filter(|f| changed.contains(f.name)) {
        let v = f.get(s);
        if !(f.min..=f.max).contains(&v) {
            let unit = if f.name.ends_with("_max_failures") {
                "failures"
            } else {
                "seconds"
            };
            return Err(ManageError::invalid(format!(
                "{} must be between {} and {} {unit}",
                f.name, f.min, f.max
            )));
        }
    }
    if touched(&["refresh_idle_ttl", "refresh_token_ttl"])
        && s.refresh_idle_ttl > s.refresh_token_ttl
    {
        return Err(ManageError::invalid(format!(
            "refresh_idle_ttl ({} s) must not exceed refresh_token_ttl ({} s)",
            s.refresh_idle_ttl, s.refresh_token_ttl
        )));
    }
    // A key must be in every relying party's cached JWKS before it signs.
    if touched(&["prepublish"]) && s.prepublish < jwks_max_age {
        return Err(ManageError::invalid(format!(
            "prepublish ({} s) must be at least the JWKS max-age ({jwks_max_age} s), so \
             relying parties have fetched a key before it signs",
            s.prepublish
        )));
    }
    if touched(&["rotate_every", "prepublish"]) && s.rotate_every < s.prepublish {
        return Err(ManageError::invalid(format!(
            "rotate_every ({} s) must be at least prepublish ({} s)",
            s.rotate_every, s.prepublish
        )));
    }
    // A retiring key stays published until every token it signed has expired and
    // every cached copy of the JWKS without it could be stale (OIDC Core §10.1.1).
    if touched(&["retire_after", "access_token_ttl", "id_token_ttl"]) {
        let longest = s
            .access_token_ttl
            .max(s.id_token_ttl)
            .max(longest_client_ttl);
        if s.retire_after < longest + jwks_max_age {
            return Err(ManageError::invalid(format!(
                "retire_after ({} s) must be at least the longest token lifetime ({longest} s, \
                 access or ID token, registered clients included) plus the JWKS max-age \
                 ({jwks_max_age} s)",
                s.retire_after
            )));
        }
    }
    Ok(())
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

/// The audit form of a signing key: everything but the (encrypted) private half.
pub fn key_summary(k: &SigningKey) -> Value {
    json!({
        "kid": k.kid,
        "alg": k.alg.as_str(),
        "state": k.state.as_str(),
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retiring_at": k.retiring_at,
        "retired_at": k.retired_at,
        "revoked_at": k.revoked_at,
    })
}

fn active_kid(keys: &[SigningKey], alg: Alg) -> Option<String> {
    keys.iter()
        .filter(|k| k.alg == alg && k.state == KeyState::Active)
        .max_by_key(|k| k.activated_at.unwrap_or(k.created_at))
        .map(|k| k.kid.clone())
}

// ------------------------------------------------------------------------------------
// The operations
// ------------------------------------------------------------------------------------

/// The administrative operations over one store. Cheap to clone.
#[derive(Clone)]
pub struct Manager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    kek: Kek,
    policy: ManagePolicy,
    /// Where the change came from (the admin API caller's address), for the audit log.
    source_ip: Option<String>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
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
        }
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

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policy(&self) -> &ManagePolicy {
        &self.policy
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // --- clients -----------------------------------------------------------------

    pub async fn clients_list(&self) -> ManageResult<Vec<Client>> {
        Ok(self.store.clients_list().await?)
    }

    pub async fn client_get(&self, id: &str) -> ManageResult<Client> {
        self.store
            .client_get(id)
            .await?
            .ok_or_else(|| ManageError::NotFound(format!("no client with id \"{}\"", shown(id))))
    }

    /// A client's tokens must expire before the key that signed them leaves the JWKS
    /// (the rule `settings_update` keeps from the other side).
    async fn check_ttl_fits_rotation(&self, access_token_ttl: i64) -> ManageResult<()> {
        let s = self.settings_effective().await?;
        if access_token_ttl + self.policy.jwks_max_age > s.retire_after {
            return Err(ManageError::invalid(format!(
                "access_token_ttl ({access_token_ttl} s) plus the JWKS max-age ({} s) must not \
                 exceed the key rotation setting retire_after ({} s)",
                self.policy.jwks_max_age, s.retire_after
            )));
        }
        Ok(())
    }

    async fn check_scopes_exist(&self, scopes: &[String]) -> ManageResult<()> {
        for s in scopes {
            if self.store.scope_get(s).await?.is_none() {
                return Err(ManageError::invalid(format!(
                    "scope \"{}\" does not exist; create it first",
                    shown(s)
                )));
            }
        }
        Ok(())
    }

    /// The default scopes of a client that acts for users: the built-in OIDC scopes
    /// that exist in this store.
    async fn default_scopes(&self, grants: &[GrantType]) -> ManageResult<Vec<String>> {
        let for_users = grants
            .iter()
            .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::DeviceCode));
        if !for_users {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for name in ["openid", "profile", "email", "offline_access"] {
            if name == "offline_access" && !grants.contains(&GrantType::RefreshToken) {
                continue;
            }
            if self.store.scope_get(name).await?.is_some() {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    fn new_secret(&self, client_id: &str, now: Timestamp) -> (PlainSecret, ClientSecret) {
        let plain = crypto::random_token();
        let row = ClientSecret {
            id: crypto::random_id(),
            client_id: client_id.to_string(),
            hash: crypto::sha256(plain.as_bytes()),
            created_at: now,
            expires_at: None,
        };
        (PlainSecret(plain), row)
    }

    /// Registers a client. Confidential clients with a secret-based auth method get a
    /// 256-bit secret, returned here once and stored only as its SHA-256.
    pub async fn client_create(
        &self,
        actor: &str,
        input: NewClient,
    ) -> ManageResult<ClientCreated> {
        let now = self.now();
        let client_type = input.client_type.unwrap_or(ClientType::Confidential);
        let auth_method = input.auth_method.unwrap_or(match client_type {
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
            ClientType::Public => AuthMethod::None,
        });
        let grant_types = if input.grant_types.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            dedup(&input.grant_types)
        };
        let allowed_scopes = if input.allowed_scopes.is_empty() {
            self.default_scopes(&grant_types).await?
        } else {
            dedup(&input.allowed_scopes)
        };
        // New clients take the lifetimes in force now; changing the settings later
        // leaves registered clients as they are.
        let settings = self.settings_effective().await?;
        let refresh_token_ttl = input
            .refresh_token_ttl
            .unwrap_or(settings.refresh_token_ttl);
        let client = Client {
            id: crypto::random_id(),
            name: input.name.trim().to_string(),
            client_type,
            auth_method,
            grant_types,
            redirect_uris: dedup(&input.redirect_uris),
            post_logout_redirect_uris: dedup(&input.post_logout_redirect_uris),
            allowed_scopes,
            jwks: input.jwks,
            jwks_uri: input.jwks_uri,
            access_token_ttl: input.access_token_ttl.unwrap_or(settings.access_token_ttl),
            refresh_token_ttl,
            // A shorter absolute lifetime caps the default idle time rather than
            // making the default invalid.
            refresh_idle_ttl: input
                .refresh_idle_ttl
                .unwrap_or(settings.refresh_idle_ttl.min(refresh_token_ttl)),
            refresh_grace_secs: input.refresh_grace_secs.unwrap_or(0),
            require_consent: input.require_consent.unwrap_or(true),
            admin_tool: input.admin_tool.unwrap_or(false),
            disabled: false,
            assertion_aud_compat: input.assertion_aud_compat.unwrap_or(false),
            // No watermark yet. Introspection requires `iat > tokens_valid_after`, so
            // `now` would deactivate tokens issued within the creation second.
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
        };
        self.insert_client(actor, client, "client.create", None)
            .await
    }

    async fn insert_client(
        &self,
        actor: &str,
        client: Client,
        action: &str,
        source: Option<&str>,
    ) -> ManageResult<ClientCreated> {
        validate_client(&client)?;
        self.check_ttl_fits_rotation(client.access_token_ttl)
            .await?;
        self.check_scopes_exist(&client.allowed_scopes).await?;
        let now = self.now();
        let (plain, row) = if client.client_type == ClientType::Confidential
            && is_secret_based(client.auth_method)
        {
            let (p, r) = self.new_secret(&client.id, now);
            (Some(p), Some(r))
        } else {
            (None, None)
        };
        // The Client model has no secret field; the audit records only that a secret
        // was issued and its id.
        let mut after = serde_json::to_value(&client)
            .map_err(|e| ManageError::Internal(format!("cannot serialise client: {e}")))?;
        if let Some(obj) = after.as_object_mut() {
            obj.insert(
                "secret_id".into(),
                row.as_ref()
                    .map(|r| Value::from(r.id.clone()))
                    .unwrap_or(Value::Null),
            );
            if let Some(src) = source {
                obj.insert("cloned_from".into(), Value::from(src));
            }
        }
        let audit = self
            .audit_event(now, actor, action)
            .target(client.id.clone())
            .after(&after);
        self.store
            .client_insert(&client, row.as_ref(), &audit)
            .await?;
        Ok(ClientCreated {
            client,
            secret: plain,
        })
    }

    pub async fn client_update(
        &self,
        actor: &str,
        id: &str,
        upd: ClientUpdate,
    ) -> ManageResult<Client> {
        let before = self.client_get(id).await?;
        let mut c = before.clone();
        if let Some(n) = upd.name {
            c.name = n.trim().to_string();
        }
        if let Some(m) = upd.auth_method {
            c.auth_method = m;
            // Leaving private_key_jwt drops its keys unless new ones are given:
            // otherwise the update would be refused for a field nobody touched.
            if m != AuthMethod::PrivateKeyJwt && upd.jwks.is_none() {
                c.jwks = None;
            }
            if m != AuthMethod::PrivateKeyJwt && upd.jwks_uri.is_none() {
                c.jwks_uri = None;
            }
        }
        // Setting one source of keys replaces the other.
        if let Some(j) = upd.jwks {
            if j.is_some() && upd.jwks_uri.is_none() {
                c.jwks_uri = None;
            }
            c.jwks = j;
        }
        if let Some(u) = upd.jwks_uri {
            if u.is_some() {
                c.jwks = None;
            }
            c.jwks_uri = u;
        }
        if let Some(g) = upd.grant_types {
            c.grant_types = dedup(&g);
        }
        if let Some(r) = upd.redirect_uris {
            c.redirect_uris = dedup(&r);
        }
        if let Some(r) = upd.post_logout_redirect_uris {
            c.post_logout_redirect_uris = dedup(&r);
        }
        if let Some(s) = upd.allowed_scopes {
            c.allowed_scopes = dedup(&s);
        }
        if let Some(v) = upd.access_token_ttl {
            c.access_token_ttl = v;
        }
        if let Some(v) = upd.refresh_token_ttl {
            c.refresh_token_ttl = v;
        }
        if let Some(v) = upd.refresh_idle_ttl {
            c.refresh_idle_ttl = v;
        }
        if let Some(v) = upd.refresh_grace_secs {
            c.refresh_grace_secs = v;
        }
        if let Some(v) = upd.require_consent {
            c.require_consent = v;
        }
        if let Some(v) = upd.admin_tool {
            c.admin_tool = v;
        }
        if let Some(v) = upd.disabled {
            c.disabled = v;
        }
        if let Some(v) = upd.assertion_aud_compat {
            c.assertion_aud_compat = v;
        }
        if c == before {
            return Ok(before);
        }
        c.updated_at = self.now();
        validate_client(&c)?;
        if c.access_token_ttl > before.access_token_ttl {
            self.check_ttl_fits_rotation(c.access_token_ttl).await?;
        }
        self.check_scopes_exist(&c.allowed_scopes).await?;
        let audit = self
            .audit_event(c.updated_at, actor, "client.update")
            .target(c.id.clone())
            .before(&before)
            .after(&c);
        self.store.client_update(&c, &audit).await?;
        Ok(c)
    }

    /// Deletes the client and everything that hangs off it (its sessions and tokens
    /// die with it).
    pub async fn client_delete(&self, actor: &str, id: &str) -> ManageResult<()> {
        let before = self.client_get(id).await?;
        let audit = self
            .audit_event(self.now(), actor, "client.delete")
            .target(id)
            .before(&before);
        self.store.client_delete(id, &audit).await?;
        Ok(())
    }

    /// Issues a new secret. The secrets valid until now keep working for `overlap`
    /// seconds (default from the policy, 24 h) so deployments can roll over.
    pub async fn client_rotate_secret(
        &self,
        actor: &str,
        id: &str,
        overlap: Option<i64>,
    ) -> ManageResult<SecretRotated> {
        let client = self.client_get(id).await?;
        if client.client_type != ClientType::Confidential || !is_secret_based(client.auth_method) {
            return Err(ManageError::invalid(format!(
                "client \"{}\" authenticates with {}, not a client secret",
                shown(id),
                client.auth_method
            )));
        }
        let overlap = overlap.unwrap_or(self.policy.secret_overlap);
        if !(0..=MAX_SECRET_OVERLAP).contains(&overlap) {
            return Err(ManageError::invalid(format!(
                "overlap must be between 0 and {MAX_SECRET_OVERLAP} seconds"
            )));
        }
        let now = self.now();
        let (plain, row) = self.new_secret(id, now);
        let previous_expire_at = now + overlap;
        let audit = self
            .audit_event(now, actor, "client.rotate_secret")
            .target(id)
            .after(&json!({
                "secret_id": row.id,
                "previous_secrets_expire_at": previous_expire_at,
            }));
        self.store
            .client_secret_add(&row, previous_expire_at, &audit)
            .await?;
        Ok(SecretRotated {
            client_id: id.to_string(),
            secret: plain,
            previous_expire_at,
        })
    }

    pub async fn client_set_disabled(
        &self,
        actor: &str,
        id: &str,
        disabled: bool,
    ) -> ManageResult<Client> {
        let before = self.client_get(id).await?;
        if before.disabled == disabled {
            return Ok(before);
        }
        let mut c = before.clone();
        c.disabled = disabled;
        c.updated_at = self.now();
        let action = if disabled {
            "client.disable"
        } else {
            "client.enable"
        };
        let audit = self
            .audit_event(c.updated_at, actor, action)
            .target(id)
            .before(&before)
            .after(&c);
        self.store.client_update(&c, &audit).await?;
        Ok(c)
    }

    /// A new client with the settings of `id` (enabled, fresh id, fresh secret).
    pub async fn client_clone(
        &self,
        actor: &str,
        id: &str,
        name: Option<String>,
    ) -> ManageResult<ClientCreated> {
        let src = self.client_get(id).await?;
        let now = self.now();
        let name = match name {
            Some(n) => n.trim().to_string(),
            None => {
                let base: String = src.name.chars().take(CLIENT_NAME_MAX - 7).collect();
                format!("{base} (copy)")
            }
        };
        // The admin-tool mark is given to one client, explicitly: a copy starts
        // without it and without the admin scopes it could no longer request.
        let allowed_scopes = src
            .allowed_scopes
            .iter()
            .filter(|s| !is_admin_scope(s))
            .cloned()
            .collect();
        let client = Client {
            id: crypto::random_id(),
            name,
            allowed_scopes,
            admin_tool: false,
            disabled: false,
            // A fresh client has no watermark (see `client_create`).
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
            ..src
        };
        self.insert_client(actor, client, "client.clone", Some(id))
            .await
    }

    // --- scopes ------------------------------------------------------------------

    pub async fn scopes_list(&self) -> ManageResult<Vec<Scope>> {
        Ok(self.store.scopes_list().await?)
    }

    pub async fn scope_create(&self, actor: &str, input: NewScope) -> ManageResult<Scope> {
        validate_scope(&input)?;
        if self.store.scope_get(&input.name).await?.is_some() {
            return Err(ManageError::Conflict(format!(
                "scope \"{}\" already exists",
                shown(&input.name)
            )));
        }
        let now = self.now();
        let scope = Scope {
            name: input.name,
            description: input.description.trim().to_string(),
            claims: dedup(&input.claims),
            builtin: false,
            created_at: now,
        };
        let audit = self
            .audit_event(now, actor, "scope.create")
            .target(scope.name.clone())
            .after(&scope);
        self.store.scope_insert(&scope, &audit).await?;
        Ok(scope)
    }

    /// Deletes a custom scope. Built-in scopes are refused, and so is a scope some
    /// client is still allowed (remove it from those clients first), so no client is
    /// left pointing at a scope that does not exist.
    pub async fn scope_delete(&self, actor: &str, name: &str) -> ManageResult<()> {
        let scope =
            self.store.scope_get(name).await?.ok_or_else(|| {
                ManageError::NotFound(format!("no scope named \"{}\"", shown(name)))
            })?;
        if scope.builtin {
            return Err(ManageError::Conflict(format!(
                "\"{}\" is a built-in OpenID Connect scope and cannot be deleted",
                scope.name
            )));
        }
        let users: Vec<String> = self
            .store
            .clients_list()
            .await?
            .into_iter()
            .filter(|c| c.allowed_scopes.iter().any(|s| s == name))
            .map(|c| format!("{} ({})", c.name, c.id))
            .collect();
        if !users.is_empty() {
            let more = if users.len() > 3 {
                format!(" and {} more", users.len() - 3)
            } else {
                String::new()
            };
            return Err(ManageError::Conflict(format!(
                "scope \"{}\" is still allowed for {}{more}; remove it from those clients first",
                scope.name,
                users[..users.len().min(3)].join(", ")
            )));
        }
        let audit = self
            .audit_event(self.now(), actor, "scope.delete")
            .target(name)
            .before(&scope);
        self.store.scope_delete(name, &audit).await?;
        Ok(())
    }

    /// Creates the OIDC scopes (`openid`, `profile`, `email`, `offline_access`) that
    /// are missing. Idempotent; returns how many it created.
    pub async fn ensure_builtin_scopes(&self) -> ManageResult<usize> {
        let mut created = 0;
        for (name, description, claims) in BUILTIN_SCOPES {
            if self.store.scope_get(name).await?.is_some() {
                continue;
            }
            let now = self.now();
            let scope = Scope {
                name: (*name).to_string(),
                description: (*description).to_string(),
                claims: claims.iter().map(|c| (*c).to_string()).collect(),
                builtin: true,
                created_at: now,
            };
            let audit = self
                .audit_event(now, "system", "scope.create")
                .target(*name)
                .after(&scope);
            match self.store.scope_insert(&scope, &audit).await {
                Ok(()) => created += 1,
                // Another process (the server, a second CLI) got there first.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }

    // --- users -------------------------------------------------------------------

    pub async fn users_list(&self) -> ManageResult<Vec<User>> {
        Ok(self.store.users_list().await?)
    }

    /// A user by id or, failing that, by username.
    pub async fn user_get(&self, id_or_username: &str) -> ManageResult<User> {
        if let Some(u) = self.store.user_get(id_or_username).await? {
            return Ok(u);
        }
        self.store
            .user_by_username(id_or_username)
            .await?
            .ok_or_else(|| {
                ManageError::NotFound(format!(
                    "no user with id or username \"{}\"",
                    shown(id_or_username)
                ))
            })
    }

    pub async fn user_create(&self, actor: &str, input: NewUser) -> ManageResult<User> {
        validate_username(&input.username)?;
        validate_password(&input.password)?;
        let email = input
            .email
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        if let Some(e) = &email {
            validate_email(e)?;
        }
        let name = input
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if let Some(n) = &name {
            if n.chars().count() > 200 || n.chars().any(char::is_control) {
                return Err(ManageError::invalid(
                    "name must be at most 200 characters without control characters",
                ));
            }
        }
        if self
            .store
            .user_by_username(&input.username)
            .await?
            .is_some()
        {
            return Err(ManageError::Conflict(format!(
                "username \"{}\" is already taken",
                input.username
            )));
        }
        let password_hash = crypto::hash_password(&input.password)
            .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
        let now = self.now();
        let user = User {
            id: crypto::random_id(),
            username: input.username,
            email,
            email_verified: false,
            name,
            password_hash,
            disabled: false,
            is_admin: input.is_admin,
            password_changed_at: now,
            created_at: now,
        };
        // `User` skips `password_hash` when serialised, so the audit never holds it.
        let audit = self
            .audit_event(now, actor, "user.create")
            .target(user.id.clone())
            .after(&user);
        self.store.user_insert(&user, &audit).await?;
        Ok(user)
    }

    /// Disables a user and revokes all their sessions and sign-ins, so nothing they
    /// hold keeps working. Safe to repeat: a disabled user's sessions are revoked again.
    pub async fn user_disable(&self, actor: &str, id_or_username: &str) -> ManageResult<User> {
        let before = self.user_get(id_or_username).await?;
        let now = self.now();
        let mut user = before.clone();
        if !before.disabled {
            user.disabled = true;
            let audit = self
                .audit_event(now, actor, "user.disable")
                .target(user.id.clone())
                .before(&before)
                .after(&user);
            // Disable first: from here on no new session can start, then the live
            // ones are cut.
            self.store.user_update(&user, &audit).await?;
        }
        let audit = self
            .audit_event(now, actor, "session.revoke_user")
            .target(user.id.clone());
        self.store
            .sessions_revoke_user(&user.id, now, Some(&audit))
            .await?;
        self.api_keys_revoke_created_by(actor, &user.id, now)
            .await?;
        Ok(user)
    }

    /// Revokes every live API key the user created, and the keys those keys created,
    /// each audited as `api_key.revoke` with the reason. Repeating it (disabling again)
    /// finishes a revocation an interruption left half done.
    async fn api_keys_revoke_created_by(
        &self,
        actor: &str,
        user_id: &str,
        now: Timestamp,
    ) -> ManageResult<()> {
        let keys = self.store.api_keys_list().await?;
        let mut creators = vec![format!("user:{user_id}")];
        let mut seen = std::collections::HashSet::new();
        while let Some(creator) = creators.pop() {
            for k in keys.iter().filter(|k| k.created_by == creator) {
                if !seen.insert(k.id.clone()) {
                    continue;
                }
                creators.push(format!("api-key:{}", k.id));
                if k.revoked_at.is_some() {
                    continue;
                }
                let audit = self
                    .audit_event(now, actor, "api_key.revoke")
                    .target(k.id.clone())
                    .after(&serde_json::json!({"reason": "creator_disabled", "user_id": user_id}));
                match self.store.api_key_revoke(&k.id, now, &audit).await {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Whether the administrator behind a key (directly, or through the key that
    /// created it) is still enabled. Keys made by the CLI on the database itself have
    /// no user behind them.
    async fn api_key_creator_live(&self, key: &ApiKey) -> ManageResult<bool> {
        let mut creator = key.created_by.clone();
        for _ in 0..8 {
            if let Some(uid) = creator.strip_prefix("user:") {
                return Ok(self.store.user_get(uid).await?.is_some_and(|u| !u.disabled));
            }
            let Some(kid) = creator.strip_prefix("api-key:") else {
                return Ok(true);
            };
            let Some(parent) = self
                .store
                .api_keys_list()
                .await?
                .into_iter()
                .find(|k| k.id == kid)
            else {
                return Ok(true);
            };
            creator = parent.created_by;
        }
        Ok(true)
    }

    pub async fn user_enable(&self, actor: &str, id_or_username: &str) -> ManageResult<User> {
        let before = self.user_get(id_or_username).await?;
        if !before.disabled {
            return Ok(before);
        }
        let mut user = before.clone();
        user.disabled = false;
        let audit = self
            .audit_event(self.now(), actor, "user.enable")
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }

    pub async fn user_set_password(
        &self,
        actor: &str,
        id_or_username: &str,
        password: &str,
    ) -> ManageResult<User> {
        validate_password(password)?;
        let before = self.user_get(id_or_username).await?;
        let now = self.now();
        let mut user = before.clone();
        user.password_hash = crypto::hash_password(password)
            .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
        user.password_changed_at = now;
        let audit = self
            .audit_event(now, actor, "user.set_password")
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }

    // --- signing keys ------------------------------------------------------------

    pub async fn keys_list(&self) -> ManageResult<Vec<SigningKey>> {
        Ok(self.store.keys_list().await?)
    }

    /// Applies one planned step: state changes plus, optionally, a new key.
    async fn apply_key_plan(
        &self,
        actor: &str,
        action: &str,
        alg: Alg,
        keys: &[SigningKey],
        updates: Vec<KeyUpdate>,
        new_state: Option<KeyState>,
    ) -> ManageResult<()> {
        let now = self.now();
        let new_key = match new_state {
            Some(state) => Some(keys::new_signing_key(alg, state, &self.kek, now)?),
            None => None,
        };
        let before: Vec<Value> = keys
            .iter()
            .filter(|k| updates.iter().any(|u| u.kid == k.kid))
            .map(key_summary)
            .collect();
        let after = json!({
            "changes": updates
                .iter()
                .map(|u| json!({"kid": u.kid, "state": u.state.as_str()}))
                .collect::<Vec<_>>(),
            "new_key": new_key.as_ref().map(key_summary),
        });
        let audit = self
            .audit_event(now, actor, action)
            .target(alg.as_str())
            .before(&before)
            .after(&after);
        self.store
            .keys_apply(&updates, new_key.as_ref(), Some(&audit))
            .await?;
        Ok(())
    }

    /// Brings one algorithm's keys in line with the rotation policy (at most three
    /// steps: e.g. create active, then publish a successor). Returns the steps applied.
    async fn ensure_alg(
        &self,
        actor: &str,
        action: &str,
        alg: Alg,
        rotation: &RotationPolicy,
    ) -> ManageResult<usize> {
        let mut steps = 0;
        for _ in 0..6 {
            let keys = self.store.keys_list().await?;
            let (updates, new_state) = keys::plan_rotation(&keys, alg, rotation, self.now(), false);
            if updates.is_empty() && new_state.is_none() {
                break;
            }
            match self
                .apply_key_plan(actor, action, alg, &keys, updates, new_state)
                .await
            {
                Ok(()) => steps += 1,
                // Another process (a second node, the CLI) moved the keys first: plan
                // again on what it left.
                Err(ManageError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(steps)
    }

    /// The scheduled part of the key lifecycle, for every algorithm (RS256, ES256 and
    /// EdDSA are always kept): creates missing keys, publishes successors, promotes
    /// due ones and retires old ones. What the server's scheduler calls; idempotent.
    pub async fn ensure_keys(&self) -> ManageResult<usize> {
        let rotation = self.settings_effective().await?.rotation();
        self.ensure_keys_with(&rotation).await
    }

    /// [`ensure_keys`](Self::ensure_keys) under a rotation policy the caller already
    /// holds (the server's job passes its cached settings).
    pub async fn ensure_keys_with(&self, rotation: &RotationPolicy) -> ManageResult<usize> {
        let mut steps = 0;
        for alg in Alg::ALL {
            steps += self
                .ensure_alg("system", "key.schedule", *alg, rotation)
                .await?;
        }
        Ok(steps)
    }

    /// Whether every algorithm has a key that signs.
    pub async fn keys_complete(&self) -> ManageResult<bool> {
        let keys = self.store.keys_list().await?;
        Ok(Alg::ALL.iter().all(|a| active_kid(&keys, *a).is_some()))
    }

    /// Checks that the KEK opens this store's signing keys, so a wrong or lost KEK is
    /// reported up front rather than at the first token request.
    pub async fn verify_kek(&self) -> ManageResult<()> {
        if let Some(kid) = self.keys_unusable().await? {
            return Err(ManageError::Internal(format!(
                "the key-encryption key does not match this database: it cannot decrypt \
                 signing key {kid}"
            )));
        }
        Ok(())
    }

    /// The first published signing key (next, active or retiring) whose private half
    /// the KEK cannot open, if any: with a wrong KEK nothing can be signed, so the
    /// server refuses to start and its health says so.
    pub async fn keys_unusable(&self) -> ManageResult<Option<String>> {
        let keys = self.store.keys_list().await?;
        Ok(keys
            .iter()
            .filter(|k| keys::is_published(k.state) && !k.private_enc.is_empty())
            .find(|k| keys::load(k, &self.kek).is_err())
            .map(|k| k.kid.clone()))
    }

    /// Rotate now: for `alg` (or every algorithm) the published successor starts
    /// signing at once and the current key starts retiring; a new successor is then
    /// published. Returns, per algorithm, which key signed before and which signs now.
    pub async fn keys_rotate(
        &self,
        actor: &str,
        alg: Option<Alg>,
    ) -> ManageResult<Vec<KeyRotation>> {
        let algs: Vec<Alg> = match alg {
            Some(a) => vec![a],
            None => Alg::ALL.to_vec(),
        };
        let rotation = self.settings_effective().await?.rotation();
        let mut out = Vec::new();
        for alg in algs {
            let previous = active_kid(&self.store.keys_list().await?, alg);
            // Up to three steps: publish a successor if there is none, then swap.
            for _ in 0..3 {
                let keys = self.store.keys_list().await?;
                let current = active_kid(&keys, alg);
                if current.is_some() && current != previous {
                    break;
                }
                let (updates, new_state) =
                    keys::plan_rotation(&keys, alg, &rotation, self.now(), true);
                if updates.is_empty() && new_state.is_none() {
                    break;
                }
                self.apply_key_plan(actor, "key.rotate", alg, &keys, updates, new_state)
                    .await?;
            }
            self.ensure_alg(actor, "key.rotate", alg, &rotation).await?;
            let active = active_kid(&self.store.keys_list().await?, alg).ok_or_else(|| {
                ManageError::Internal(format!("rotation left no active {alg} key"))
            })?;
            out.push(KeyRotation {
                alg,
                previous_kid: previous,
                active_kid: active,
            });
        }
        Ok(out)
    }

    /// Emergency revoke of a (possibly compromised) key: every token it signed becomes
    /// inactive. If it was signing, its published successor takes over at once (or a
    /// new key is made), in the same transaction, so signing never stops.
    pub async fn key_revoke(&self, actor: &str, kid: &str) -> ManageResult<KeyRevocation> {
        let keys = self.store.keys_list().await?;
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| {
                ManageError::NotFound(format!("no signing key with kid \"{}\"", shown(kid)))
            })?
            .clone();
        if key.state == KeyState::Revoked {
            return Ok(KeyRevocation {
                kid: key.kid,
                alg: key.alg,
                previous_state: KeyState::Revoked,
                active_kid: active_kid(&keys, key.alg),
            });
        }
        let now = self.now();
        let mut updates = vec![KeyUpdate {
            kid: key.kid.clone(),
            state: KeyState::Revoked,
            at: now,
        }];
        let mut new_key = None;
        if key.state == KeyState::Active {
            let successor = keys
                .iter()
                .filter(|k| k.alg == key.alg && k.state == KeyState::Next)
                .max_by_key(|k| k.created_at);
            match successor {
                Some(n) => updates.push(KeyUpdate {
                    kid: n.kid.clone(),
                    state: KeyState::Active,
                    at: now,
                }),
                None => {
                    new_key = Some(keys::new_signing_key(
                        key.alg,
                        KeyState::Active,
                        &self.kek,
                        now,
                    )?)
                }
            }
        }
        let after = json!({
            "changes": updates
                .iter()
                .map(|u| json!({"kid": u.kid, "state": u.state.as_str()}))
                .collect::<Vec<_>>(),
            "new_key": new_key.as_ref().map(key_summary),
        });
        let audit = self
            .audit_event(now, actor, "key.revoke")
            .target(key.kid.clone())
            .before(&key_summary(&key))
            .after(&after)
            .security();
        self.store
            .keys_apply(&updates, new_key.as_ref(), Some(&audit))
            .await?;
        // Publish a fresh successor for the next rotation.
        let rotation = self.settings_effective().await?.rotation();
        self.ensure_alg(actor, "key.revoke", key.alg, &rotation)
            .await?;
        Ok(KeyRevocation {
            kid: key.kid,
            alg: key.alg,
            previous_state: key.state,
            active_kid: active_kid(&self.store.keys_list().await?, key.alg),
        })
    }

    // --- sessions ----------------------------------------------------------------

    /// The admin API's scopes and the built-in public client `latchkey-console` through
    /// which the desktop console and `latchkey admin login` obtain admin tokens
    /// (authorization code + PKCE with a loopback redirect on any port, RFC 8252 §7.3;
    /// or the device flow). Idempotent; returns whether anything was created.
    pub async fn ensure_console_client(&self) -> ManageResult<bool> {
        let mut created = self.ensure_admin_scopes().await?;
        if self.store.client_get(CONSOLE_CLIENT_ID).await?.is_some() {
            return Ok(created);
        }
        created |= self.insert_console_client().await?;
        Ok(created)
    }

    /// The OIDC scopes and the two admin scopes, whichever command opens the database
    /// first (the server, the admin CLI, the console): the console client lists `openid`
    /// and friends, and an admin tool can be given `latchkey:admin` before any server
    /// ran. Idempotent; returns whether anything was created.
    pub async fn ensure_admin_scopes(&self) -> ManageResult<bool> {
        let mut created = self.ensure_builtin_scopes().await? > 0;
        for (name, description) in [
            (ADMIN_SCOPE, "Administer this Latchkey server"),
            (
                ADMIN_READ_SCOPE,
                "Read this Latchkey server's configuration, sessions and audit log",
            ),
        ] {
            if self.store.scope_get(name).await?.is_some() {
                continue;
            }
            let now = self.now();
            let scope = Scope {
                name: name.to_string(),
                description: description.to_string(),
                claims: vec![],
                builtin: true,
                created_at: now,
            };
            let audit = self
                .audit_event(now, "system", "scope.create")
                .target(name)
                .after(&scope);
            match self.store.scope_insert(&scope, &audit).await {
                Ok(()) => created = true,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }

    async fn insert_console_client(&self) -> ManageResult<bool> {
        let now = self.now();
        let client = Client {
            id: CONSOLE_CLIENT_ID.to_string(),
            name: "Latchkey console".into(),
            client_type: ClientType::Public,
            auth_method: AuthMethod::None,
            grant_types: vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::DeviceCode,
            ],
            redirect_uris: vec![CONSOLE_REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            allowed_scopes: [
                "openid",
                "profile",
                "offline_access",
                ADMIN_SCOPE,
                ADMIN_READ_SCOPE,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            jwks: None,
            jwks_uri: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: 12 * 3600,
            refresh_idle_ttl: 2 * 3600,
            refresh_grace_secs: 0,
            // First-party, but a native app: every request still meets the approval
            // page (RFC 8252 §8.6), see `Provider::needs_consent`.
            require_consent: false,
            admin_tool: false,
            disabled: false,
            assertion_aud_compat: false,
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
        };
        match self
            .insert_client("system", client, "client.create", None)
            .await
        {
            Ok(_) => Ok(true),
            Err(ManageError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Resolves the names in a query (username → id) and checks the references exist,
    /// so an unknown user or client is a clear `not_found`, not an empty list.
    async fn session_filter(&self, q: &SessionQuery) -> ManageResult<SessionFilter> {
        let user_id = match &q.user {
            Some(u) => Some(self.user_get(u).await?.id),
            None => None,
        };
        if let Some(c) = &q.client_id {
            self.client_get(c).await?;
        }
        if let Some(ip) = &q.ip {
            if ip.is_empty() || ip.len() > 64 || ip.chars().any(|c| c.is_control() || c == ' ') {
                return Err(ManageError::InvalidInput(format!(
                    "ip filter \"{}\" is not an address or address prefix",
                    shown(ip)
                )));
            }
        }
        if let (Some(from), Some(to)) = (q.created_from, q.created_to) {
            if from >= to {
                return Err(ManageError::InvalidInput(
                    "created_from must be before created_to".into(),
                ));
            }
        }
        let after = match &q.cursor {
            Some(c) => Some(decode_session_cursor(c, q.sort)?),
            None => None,
        };
        Ok(SessionFilter {
            ids: None,
            user_id,
            client_id: q.client_id.clone(),
            ip: q.ip.clone(),
            created_from: q.created_from,
            created_to: q.created_to,
            state: q.state,
            sort: q.sort,
            ascending: q.ascending,
            after,
            limit: Some(clamp_limit(q.limit)),
        })
    }

    /// One page of sessions, keyset-paginated (stable while sessions are created).
    pub async fn sessions_list(&self, q: SessionQuery) -> ManageResult<SessionPage> {
        let filter = self.session_filter(&q).await?;
        let limit = filter.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        let items = self.store.sessions_list(&filter, self.now()).await?;
        let next_cursor = match items.last() {
            Some(last) if i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit => {
                Some(encode_session_cursor(&last.session, q.sort))
            }
            _ => None,
        };
        Ok(SessionPage { items, next_cursor })
    }

    pub async fn session_get(&self, id: &str) -> ManageResult<SessionInfo> {
        let filter = SessionFilter {
            ids: Some(vec![id.to_string()]),
            limit: Some(1),
            ..SessionFilter::default()
        };
        self.store
            .sessions_list(&filter, self.now())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ManageError::NotFound(format!("no session with id \"{}\"", shown(id))))
    }

    async fn selector_filter(&self, sel: &SessionSelector) -> ManageResult<SessionFilter> {
        Ok(match sel {
            SessionSelector::Ids(ids) => {
                if ids.is_empty() {
                    return Err(ManageError::InvalidInput("no sessions selected".into()));
                }
                if ids.len() > MAX_LIST_LIMIT as usize {
                    return Err(ManageError::InvalidInput(format!(
                        "at most {MAX_LIST_LIMIT} sessions can be selected at once; \
                         revoke by filter instead"
                    )));
                }
                SessionFilter {
                    ids: Some(ids.clone()),
                    ..SessionFilter::default()
                }
            }
            SessionSelector::User(u) => SessionFilter {
                user_id: Some(self.user_get(u).await?.id),
                ..SessionFilter::default()
            },
            SessionSelector::Client(c) => {
                self.client_get(c).await?;
                SessionFilter {
                    client_id: Some(c.clone()),
                    ..SessionFilter::default()
                }
            }
            SessionSelector::Filter(q) => {
                let f = self.session_filter(q).await?;
                SessionFilter {
                    after: None,
                    limit: None,
                    state: SessionStateFilter::Active,
                    ..f
                }
            }
        })
    }

    /// Revokes what `sel` covers, or with `dry_run` only counts what it would cut off.
    /// The dry run and the revoke use one filter, so the count shown before confirming
    /// is what the revoke does (sessions created in between aside).
    pub async fn sessions_revoke(
        &self,
        actor: &str,
        sel: &SessionSelector,
        dry_run: bool,
    ) -> ManageResult<RevokeImpact> {
        let filter = self.selector_filter(sel).await?;
        let now = self.now();
        if dry_run {
            return Ok(self.store.sessions_impact(&filter, now).await?);
        }
        match sel {
            SessionSelector::User(_) => {
                let user_id = filter.user_id.clone().unwrap_or_default();
                let audit = self
                    .audit_event(now, actor, "session.revoke_user")
                    .target(user_id.clone());
                Ok(self
                    .store
                    .sessions_revoke_user(&user_id, now, Some(&audit))
                    .await?)
            }
            SessionSelector::Client(c) => {
                let audit = self
                    .audit_event(now, actor, "session.revoke_client")
                    .target(c.clone());
                Ok(self
                    .store
                    .sessions_revoke_client(c, now, Some(&audit))
                    .await?)
            }
            SessionSelector::Ids(ids) => {
                let audit = self
                    .audit_event(now, actor, "session.revoke_selected")
                    .before(&json!({ "ids": ids }));
                Ok(self
                    .store
                    .sessions_revoke_matching(&filter, "revoked by administrator", now, &audit)
                    .await?)
            }
            SessionSelector::Filter(q) => {
                let audit = self
                    .audit_event(now, actor, "session.revoke_filter")
                    .before(&json!({
                        "user": q.user, "client_id": q.client_id, "ip": q.ip,
                        "created_from": q.created_from, "created_to": q.created_to,
                    }));
                Ok(self
                    .store
                    .sessions_revoke_matching(&filter, "revoked by administrator", now, &audit)
                    .await?)
            }
        }
    }

    /// Revokes one session: its refresh tokens stop working and its access tokens read
    /// inactive. Returns whether it was live (false: it had already ended).
    pub async fn session_revoke(&self, actor: &str, id: &str) -> ManageResult<bool> {
        let s = self.store.session_get(id).await?.ok_or_else(|| {
            ManageError::NotFound(format!("no session with id \"{}\"", shown(id)))
        })?;
        let now = self.now();
        let audit = self
            .audit_event(now, actor, "session.revoke")
            .target(id)
            .before(&s);
        Ok(self
            .store
            .session_revoke(id, "revoked by administrator", now, Some(&audit))
            .await?)
    }

    /// Revokes every live session of a user (id or username) and ends their sign-ins.
    pub async fn sessions_revoke_user(
        &self,
        actor: &str,
        user: &str,
    ) -> ManageResult<RevokeImpact> {
        self.sessions_revoke(actor, &SessionSelector::User(user.to_string()), false)
            .await
    }

    /// Revokes every live session of a client and moves its `tokens_valid_after`, so
    /// every token issued to it before now (client-credentials ones too) is inactive.
    pub async fn sessions_revoke_client(
        &self,
        actor: &str,
        client_id: &str,
    ) -> ManageResult<RevokeImpact> {
        self.sessions_revoke(
            actor,
            &SessionSelector::Client(client_id.to_string()),
            false,
        )
        .await
    }

    // --- admin API keys ----------------------------------------------------------

    pub async fn api_keys_list(&self) -> ManageResult<Vec<ApiKey>> {
        Ok(self.store.api_keys_list().await?)
    }

    /// Creates an API key that expires after `expires_in` seconds, or after
    /// [`API_KEY_DEFAULT_TTL`] when `None`.
    pub async fn api_key_create(
        &self,
        actor: &str,
        name: &str,
        read_only: bool,
        expires_in: Option<i64>,
    ) -> ManageResult<(ApiKey, PlainSecret)> {
        let lifetime = expires_in.map_or(ApiKeyLifetime::Default, ApiKeyLifetime::Seconds);
        self.api_key_create_with(actor, name, read_only, lifetime)
            .await
    }

    /// Creates an API key; the returned secret is the only copy there will ever be.
    pub async fn api_key_create_with(
        &self,
        actor: &str,
        name: &str,
        read_only: bool,
        lifetime: ApiKeyLifetime,
    ) -> ManageResult<(ApiKey, PlainSecret)> {
        let expires_in = match lifetime {
            ApiKeyLifetime::Default => Some(API_KEY_DEFAULT_TTL),
            ApiKeyLifetime::Seconds(s) => Some(s),
            ApiKeyLifetime::Never => None,
        };
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > API_KEY_NAME_MAX
            || name.chars().any(char::is_control)
        {
            return Err(ManageError::InvalidInput(format!(
                "an API key needs a name of 1 to {API_KEY_NAME_MAX} printable characters"
            )));
        }
        if let Some(ttl) = expires_in {
            if ttl <= 0 || ttl > API_KEY_MAX_TTL {
                return Err(ManageError::InvalidInput(format!(
                    "expires_in must be between 1 second and {} days",
                    API_KEY_MAX_TTL / 86_400
                )));
            }
        }
        let now = self.now();
        let secret = format!("{API_KEY_PREFIX}{}", crypto::random_token());
        let key = ApiKey {
            id: crypto::random_id(),
            name: name.to_string(),
            hash: crypto::sha256(secret.as_bytes()),
            read_only,
            created_at: now,
            created_by: actor.to_string(),
            expires_at: expires_in.map(|t| now + t),
            revoked_at: None,
            last_used_at: None,
        };
        let audit = self
            .audit_event(now, actor, "api_key.create")
            .target(key.id.clone())
            .after(&api_key_summary(&key));
        self.store.api_key_insert(&key, &audit).await?;
        Ok((key, PlainSecret(secret)))
    }

    pub async fn api_key_revoke(&self, actor: &str, id: &str) -> ManageResult<ApiKey> {
        let now = self.now();
        let audit = self.audit_event(now, actor, "api_key.revoke").target(id);
        match self.store.api_key_revoke(id, now, &audit).await {
            Err(StoreError::NotFound) => {
                return Err(ManageError::NotFound(format!(
                    "no API key with id \"{}\"",
                    shown(id)
                )))
            }
            other => other?,
        };
        self.store
            .api_keys_list()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| ManageError::NotFound(format!("no API key with id \"{}\"", shown(id))))
    }

    /// The usable key a bearer value names, if any. Records the use at most once a
    /// minute (it is informational and a write per request would be waste).
    pub async fn api_key_authenticate(&self, presented: &str) -> ManageResult<Option<ApiKey>> {
        if !presented.starts_with(API_KEY_PREFIX) || presented.len() > 200 {
            return Ok(None);
        }
        let hash = crypto::sha256(presented.as_bytes());
        let now = self.now();
        let Some(key) = self.store.api_key_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !key.is_usable(now) {
            return Ok(None);
        }
        // A key dies with its creator: disabling an administrator revokes their keys
        // (see `user_disable`); this also covers keys made before that rule existed.
        if !self.api_key_creator_live(&key).await? {
            return Ok(None);
        }
        if key.last_used_at.is_none_or(|t| now - t >= 60) {
            if let Err(e) = self.store.api_key_touch(&key.id, now).await {
                tracing::warn!(target: "latchkey::manage", "api_key_touch failed: {e}");
            }
        }
        Ok(Some(key))
    }

    // --- runtime settings ----------------------------------------------------------

    /// The settings in force: the policy's defaults with the stored admin-set values
    /// laid over them.
    async fn settings_effective(&self) -> ManageResult<ServerSettings> {
        let stored = self.store.settings_get().await?;
        Ok(ServerSettings::effective(
            &self.policy.defaults,
            &stored.values,
        ))
    }

    pub async fn settings_get(&self) -> ManageResult<SettingsView> {
        let stored = self.store.settings_get().await?;
        Ok(self.settings_view(&stored.values, stored.updated_at))
    }

    fn settings_view(&self, values: &BTreeMap<String, i64>, updated_at: Timestamp) -> SettingsView {
        SettingsView {
            effective: ServerSettings::effective(&self.policy.defaults, values),
            defaults: self.policy.defaults,
            admin_set: values
                .keys()
                .filter(|k| ServerSettings::field(k).is_some())
                .cloned()
                .collect(),
            updated_at: (updated_at > 0).then_some(updated_at),
        }
    }

    /// Applies `patch` (set or back to default, by name) after checking every rule the
    /// changed settings take part in; writes the new admin-set values and the audit
    /// event (the changed settings, before → after) in one transaction. Running servers
    /// pick the change up through their caches within a second.
    pub async fn settings_update(
        &self,
        actor: &str,
        patch: SettingsPatch,
    ) -> ManageResult<SettingsView> {
        for name in patch.keys() {
            if ServerSettings::field(name).is_none() {
                return Err(ManageError::invalid(format!(
                    "\"{}\" is not a setting; the settings are {}",
                    shown(name),
                    FIELDS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        // Another administrator may save between our read and our write: the store
        // refuses a write based on an older version, and the patch is applied again
        // to what they left (it names only the settings this caller changed).
        for _ in 0..5 {
            let stored = self.store.settings_get().await?;
            let mut values = stored.values.clone();
            for (name, v) in &patch {
                match v {
                    Some(v) => values.insert(name.clone(), *v),
                    None => values.remove(name),
                };
            }
            let before = self.settings_view(&stored.values, stored.updated_at);
            if values == stored.values {
                return Ok(before);
            }
            let now = self.now();
            let after = self.settings_view(&values, now);
            let changed: BTreeSet<&str> = patch.keys().map(String::as_str).collect();
            validate_settings(
                &after.effective,
                &changed,
                self.policy.jwks_max_age,
                self.longest_client_access_token_ttl().await?,
            )?;
            let describe = |v: &SettingsView| -> Value {
                changed
                    .iter()
                    .filter_map(|name| {
                        let f = ServerSettings::field(name)?;
                        let source = if v.admin_set.contains(*name) {
                            "admin"
                        } else {
                            "default"
                        };
                        Some((
                            name.to_string(),
                            json!({"value": f.get(&v.effective), "source": source}),
                        ))
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            let audit = self
                .audit_event(now, actor, "settings.update")
                .target("settings")
                .before(&describe(&before))
                .after(&describe(&after));
            if self
                .store
                .settings_put(&values, stored.version, now, &audit)
                .await?
            {
                return Ok(after);
            }
        }
        Err(ManageError::Conflict(
            "the settings kept changing while this change was being saved; try again".into(),
        ))
    }

    async fn longest_client_access_token_ttl(&self) -> ManageResult<i64> {
        Ok(self
            .store
            .clients_list()
            .await?
            .iter()
            .map(|c| c.access_token_ttl)
            .max()
            .unwrap_or(0))
    }

    // --- statistics ----------------------------------------------------------------

    /// The dashboard's numbers over the last `minutes` minutes (1 to 1440).
    pub async fn stats(&self, minutes: i64) -> ManageResult<StoreStats> {
        let minutes = minutes.clamp(1, 1440);
        let now = self.now();
        Ok(self.store.stats(now - minutes * 60, now).await?)
    }

    // --- audit -------------------------------------------------------------------

    /// Newest first; `limit` defaults to 100 and is capped at 1000.
    pub async fn audit_list(&self, filter: AuditFilter) -> ManageResult<Vec<AuditEvent>> {
        let filter = AuditFilter {
            limit: Some(clamp_limit(filter.limit)),
            ..filter
        };
        Ok(self.store.audit_list(&filter).await?)
    }
}

/// What the audit log records of an API key (never the key or its hash).
pub fn api_key_summary(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "read_only": k.read_only,
        "expires_at": k.expires_at,
    })
}

fn encode_session_cursor(s: &Session, sort: SessionSort) -> String {
    let (tag, key) = match sort {
        SessionSort::CreatedAt => ('c', s.created_at),
        SessionSort::LastUsedAt => ('u', s.last_used_at),
    };
    crypto::b64url(format!("{tag}:{key}:{}", s.id).as_bytes())
}

fn decode_session_cursor(c: &str, sort: SessionSort) -> ManageResult<SessionCursor> {
    let bad = || ManageError::InvalidInput("the cursor is not one this listing returned".into());
    let raw = crypto::b64url_decode(c).ok_or_else(bad)?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.splitn(3, ':');
    let tag = parts.next().ok_or_else(bad)?;
    let key: Timestamp = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let id = parts.next().ok_or_else(bad)?.to_string();
    let expected = match sort {
        SessionSort::CreatedAt => "c",
        SessionSort::LastUsedAt => "u",
    };
    if tag != expected {
        return Err(ManageError::InvalidInput(
            "the cursor belongs to a listing with another sort order".into(),
        ));
    }
    Ok(SessionCursor { key, id })
}

fn clamp_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(names: &[&'static str]) -> BTreeSet<&'static str> {
        names.iter().copied().collect()
    }

    #[test]
    fn a_setting_out_of_its_range_is_refused_naming_the_field() {
        let s = ServerSettings {
            code_ttl: 0,
            ..Default::default()
        };
        let e = validate_settings(&s, &changed(&["code_ttl"]), 300, 0).unwrap_err();
        assert_eq!(e.code(), ManageError::INVALID_INPUT);
        assert!(
            e.to_string()
                .starts_with("code_ttl must be between 10 and 600"),
            "{e}"
        );
        let s = ServerSettings {
            login_max_failures: -1,
            ..Default::default()
        };
        let e = validate_settings(&s, &changed(&["login_max_failures"]), 300, 0).unwrap_err();
        assert!(e.to_string().contains("login_max_failures"), "{e}");
    }

    #[test]
    fn keys_must_outlive_the_longest_token_plus_the_jwks_max_age() {
        let ok = ServerSettings {
            retire_after: 3600 + 300,
            access_token_ttl: 600,
            id_token_ttl: 600,
            ..Default::default()
        };
        // A registered client with a one-hour access token sets the floor.
        assert!(validate_settings(&ok, &changed(&["retire_after"]), 300, 3600).is_ok());
        let short = ServerSettings {
            retire_after: 3600 + 299,
            ..ok
        };
        let e = validate_settings(&short, &changed(&["retire_after"]), 300, 3600).unwrap_err();
        assert!(e.to_string().starts_with("retire_after"), "{e}");
        // Raising the default access-token lifetime past it is caught from that side too.
        let longer = ServerSettings {
            access_token_ttl: 3600,
            retire_after: 3600,
            ..ok
        };
        assert!(validate_settings(&longer, &changed(&["access_token_ttl"]), 300, 0).is_err());
    }

    #[test]
    fn a_successor_is_published_at_least_one_jwks_max_age_before_it_signs() {
        let s = ServerSettings {
            prepublish: 299,
            ..Default::default()
        };
        let e = validate_settings(&s, &changed(&["prepublish"]), 300, 0).unwrap_err();
        assert!(e.to_string().starts_with("prepublish"), "{e}");
        let s = ServerSettings {
            rotate_every: 3600,
            prepublish: 7200,
            ..Default::default()
        };
        let e = validate_settings(&s, &changed(&["rotate_every"]), 300, 0).unwrap_err();
        assert!(e.to_string().starts_with("rotate_every"), "{e}");
    }

    #[test]
    fn rules_of_settings_nobody_changed_do_not_block_an_edit() {
        // A configured default that breaks a rule is the operator's business; an edit of
        // an unrelated setting still goes through.
        let s = ServerSettings {
            prepublish: 0,
            code_ttl: 120,
            ..Default::default()
        };
        assert!(validate_settings(&s, &changed(&["code_ttl"]), 300, 0).is_ok());
        assert!(validate_settings(&s, &changed(&["prepublish"]), 300, 0).is_err());
    }

    #[test]
    fn the_refresh_idle_time_cannot_exceed_the_absolute_lifetime() {
        let s = ServerSettings {
            refresh_token_ttl: 3600,
            refresh_idle_ttl: 7200,
            ..Default::default()
        };
        let e = validate_settings(&s, &changed(&["refresh_token_ttl"]), 300, 0).unwrap_err();
        assert!(e.to_string().starts_with("refresh_idle_ttl"), "{e}");
    }

    #[test]
    fn a_jwks_uri_must_be_https_or_loopback_http_without_credentials_or_fragment() {
        assert!(validate_jwks_uri("https://rp.example/jwks.json").is_ok());
        assert!(validate_jwks_uri("http://127.0.0.1:8443/jwks").is_ok());
        for bad in [
            "http://rp.example/jwks",
            "file:///etc/passwd",
            "https://user:pw@rp.example/jwks",
            "https://rp.example/jwks#x",
            "/jwks",
        ] {
            assert!(validate_jwks_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inline_keys_and_a_key_url_cannot_both_be_registered() {
        let mut c = client(
            ClientType::Confidential,
            AuthMethod::PrivateKeyJwt,
            &[GrantType::ClientCredentials],
            &[],
        );
        c.jwks_uri = Some("https://rp.example/jwks".into());
        assert!(validate_client(&c).is_ok());
        c.jwks = Some(r#"{"keys":[]}"#.into());
        assert!(validate_client(&c).is_err());
    }

    fn client(t: ClientType, m: AuthMethod, grants: &[GrantType], uris: &[&str]) -> Client {
        Client {
            id: "c".into(),
            name: "App".into(),
            client_type: t,
            auth_method: m,
            grant_types: grants.to_vec(),
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            allowed_scopes: vec!["openid".into()],
            jwks: None,
            jwks_uri: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            refresh_idle_ttl: DEFAULT_REFRESH_IDLE_TTL,
            refresh_grace_secs: 0,
            require_consent: true,
            admin_tool: false,
            disabled: false,
            assertion_aud_compat: false,
            tokens_valid_after: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn code(r: ManageResult<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn https_and_loopback_http_redirect_uris_are_accepted() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/callback",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(code(validate_redirect_uri(ok)), "ok", "{ok}");
        }
    }

    #[test]
    fn http_localhost_is_refused_per_rfc_8252_section_8_3() {
        let e = validate_redirect_uri("http://localhost:8080/cb").unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().contains("127.0.0.1"), "{e}");
    }

    #[test]
    fn plain_http_on_a_public_host_is_refused() {
        assert_eq!(
            code(validate_redirect_uri("http://app.example.com/cb")),
            "invalid_input"
        );
        assert_eq!(
            code(validate_redirect_uri("http://10.0.0.1/cb")),
            "invalid_input"
        );
    }

    #[test]
    fn fragments_relative_uris_and_dangerous_schemes_are_refused() {
        for bad in [
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb#",
            "/cb",
            "cb",
            "//app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "myapp:/cb",
            "https://*.example.com/cb",
            "https://user:pw@app.example.com/cb",
            " https://app.example.com/cb",
            "",
        ] {
            assert_eq!(code(validate_redirect_uri(bad)), "invalid_input", "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_carrying_oauth_response_parameters_are_refused() {
        for bad in [
            "https://app.example.com/cb?code=x",
            "https://app.example.com/cb?a=1&state=x",
            "https://app.example.com/cb?iss=x",
            "https://app.example.com/cb?error=x",
        ] {
            assert_eq!(code(validate_redirect_uri(bad)), "invalid_input", "{bad}");
        }
        assert_eq!(
            code(validate_redirect_uri("https://app.example.com/cb?codec=x")),
            "ok"
        );
    }

    #[test]
    fn a_jwks_with_a_private_key_is_refused() {
        let with_d = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#;
        let e = validate_jwks(with_d).unwrap_err();
        assert!(e.to_string().contains("private"));
        assert!(!e.to_string().contains("secret\""));
        assert_eq!(
            code(validate_jwks(&format!(r#"{{"keys":[{EC_JWK}]}}"#))),
            "ok"
        );
    }

    #[test]
    fn a_jwks_must_be_an_object_with_usable_public_keys() {
        for bad in [
            "not json",
            "[]",
            r#"{"keys":[]}"#,
            r#"{"keys":["x"]}"#,
            r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#,
            r#"{"keys":[{"kty":"EC","crv":"P-384","x":"a","y":"b"}]}"#,
        ] {
            assert_eq!(code(validate_jwks(bad)), "invalid_input", "{bad}");
        }
    }

    #[test]
    fn a_public_client_must_use_auth_method_none() {
        let c = client(
            ClientType::Public,
            AuthMethod::ClientSecretBasic,
            &[GrantType::AuthorizationCode],
            &["http://127.0.0.1/cb"],
        );
        assert_eq!(code(validate_client(&c)), "invalid_input");
    }

    #[test]
    fn a_public_client_may_not_use_client_credentials() {
        let c = client(
            ClientType::Public,
            AuthMethod::None,
            &[GrantType::ClientCredentials],
            &[],
        );
        assert_eq!(code(validate_client(&c)), "invalid_input");
    }

    #[test]
    fn a_confidential_client_may_not_use_auth_method_none() {
        let c = client(
            ClientType::Confidential,
            AuthMethod::None,
            &[GrantType::ClientCredentials],
            &[],
        );
        assert_eq!(code(validate_client(&c)), "invalid_input");
    }

    #[test]
    fn the_authorization_code_grant_requires_a_redirect_uri() {
        let c = client(
            ClientType::Confidential,
            AuthMethod::ClientSecretBasic,
            &[GrantType::AuthorizationCode],
            &[],
        );
        assert!(validate_client(&c)
            .unwrap_err()
            .to_string()
            .contains("redirect URI"));
    }

    #[test]
    fn refresh_tokens_come_only_with_a_user_facing_grant() {
        let cc = client(
            ClientType::Confidential,
            AuthMethod::ClientSecretBasic,
            &[GrantType::ClientCredentials, GrantType::RefreshToken],
            &[],
        );
        assert_eq!(code(validate_client(&cc)), "invalid_input");
        let device = client(
            ClientType::Public,
            AuthMethod::None,
            &[GrantType::DeviceCode, GrantType::RefreshToken],
            &[],
        );
        assert_eq!(code(validate_client(&device)), "ok");
    }

    #[test]
    fn private_key_jwt_requires_a_jwks_and_other_methods_refuse_one() {
        let mut c = client(
            ClientType::Confidential,
            AuthMethod::PrivateKeyJwt,
            &[GrantType::ClientCredentials],
            &[],
        );
        assert_eq!(code(validate_client(&c)), "invalid_input");
        c.jwks = Some(format!(r#"{{"keys":[{EC_JWK}]}}"#));
        assert_eq!(code(validate_client(&c)), "ok");
        c.auth_method = AuthMethod::ClientSecretBasic;
        assert_eq!(code(validate_client(&c)), "invalid_input");
    }

    #[test]
    fn token_lifetimes_are_bounded() {
        let base = client(
            ClientType::Confidential,
            AuthMethod::ClientSecretBasic,
            &[GrantType::ClientCredentials],
            &[],
        );
        let mut c = base.clone();
        c.access_token_ttl = 3601;
        assert_eq!(code(validate_client(&c)), "invalid_input");
        let mut c = base.clone();
        c.refresh_grace_secs = 31;
        assert_eq!(code(validate_client(&c)), "invalid_input");
        let mut c = base.clone();
        c.refresh_idle_ttl = c.refresh_token_ttl + 1;
        assert_eq!(code(validate_client(&c)), "invalid_input");
        assert_eq!(code(validate_client(&base)), "ok");
    }

    #[test]
    fn client_names_must_be_present_and_short() {
        assert_eq!(code(validate_client_name("  ")), "invalid_input");
        assert_eq!(
            code(validate_client_name(&"x".repeat(201))),
            "invalid_input"
        );
        assert_eq!(code(validate_client_name(&"é".repeat(200))), "ok");
    }

    #[test]
    fn scope_names_follow_the_rfc_6749_grammar_and_descriptions_are_bounded() {
        let s = |n: &str, d: &str| NewScope {
            name: n.into(),
            description: d.into(),
            claims: vec![],
        };
        assert_eq!(code(validate_scope(&s("api:read", "Read"))), "ok");
        assert_eq!(code(validate_scope(&s("api read", ""))), "invalid_input");
        assert_eq!(code(validate_scope(&s("", ""))), "invalid_input");
        assert_eq!(
            code(validate_scope(&s("a", &"d".repeat(501)))),
            "invalid_input"
        );
    }

    #[test]
    fn usernames_allow_only_a_small_character_set() {
        assert_eq!(code(validate_username("alice.smith@example-1_x")), "ok");
        assert_eq!(code(validate_username("")), "invalid_input");
        assert_eq!(code(validate_username("al ice")), "invalid_input");
        assert_eq!(code(validate_username("ålice")), "invalid_input");
        assert_eq!(code(validate_username(&"a".repeat(65))), "invalid_input");
    }

    #[test]
    fn passwords_need_eight_characters_and_errors_never_echo_them() {
        let e = validate_password("short1").unwrap_err();
        assert!(!e.to_string().contains("short1"));
        assert_eq!(code(validate_password("long enough")), "ok");
    }

    #[test]
    fn email_addresses_need_one_at_sign_with_both_sides() {
        assert_eq!(code(validate_email("a@example.com")), "ok");
        for bad in ["a", "@b", "a@", "a b@c", "a@b@c"] {
            assert_eq!(code(validate_email(bad)), "invalid_input", "{bad}");
        }
    }

    #[test]
    fn a_key_summary_never_contains_the_private_half() {
        let kek = Kek::generate();
        let k = keys::new_signing_key(Alg::ES256, KeyState::Active, &kek, 1).unwrap();
        let v = key_summary(&k);
        assert!(v.get("private_enc").is_none());
        assert_eq!(v["kid"], k.kid.as_str());
    }

    #[test]
    fn the_plain_secret_debug_form_hides_the_value() {
        let s = PlainSecret("hunter2-hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn store_errors_map_onto_stable_codes() {
        assert_eq!(ManageError::from(StoreError::NotFound).code(), "not_found");
        assert_eq!(
            ManageError::from(StoreError::Conflict("x".into())).code(),
            "conflict"
        );
        assert_eq!(
            ManageError::from(StoreError::Unavailable("x".into())).code(),
            "unavailable"
        );
        assert_eq!(
            ManageError::from(StoreError::Other("x".into())).code(),
            "internal"
        );
    }
}
