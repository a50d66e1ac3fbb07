//! The domain nouns: clients, scopes, users, signing keys, sign-ins, sessions, codes,
//! refresh tokens and audit events. These are what the engine reasons about; the stores
//! have their own row types and the admin API its own DTOs.

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(UnknownValue { kind: stringify!($name), value: s.chars().take(64).collect() }) }
            }
        }
    };
}

/// A string that names no variant of a closed set (a grant type, an algorithm, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

string_enum!(
    /// RFC 6749 §2.1 client types.
    ClientType { Confidential => "confidential", Public => "public" }
);

string_enum!(
    /// RFC 7591 §2 `token_endpoint_auth_method` values we support.
    AuthMethod {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        PrivateKeyJwt => "private_key_jwt",
        None => "none",
    }
);

string_enum!(
    /// RFC 7591 §2 `grant_types` values we support. Implicit and password never.
    GrantType {
        AuthorizationCode => "authorization_code",
        ClientCredentials => "client_credentials",
        RefreshToken => "refresh_token",
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
    }
);

string_enum!(
    /// JWS algorithms we sign with. `none` and HMAC are deliberately absent.
    Alg { RS256 => "RS256", ES256 => "ES256", EdDSA => "EdDSA" }
);

string_enum!(
    /// Signing key lifecycle: next → active → retiring → retired; `revoked` is the
    /// emergency exit from any state.
    KeyState {
        Next => "next",
        Active => "active",
        Retiring => "retiring",
        Retired => "retired",
        Revoked => "revoked",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub client_type: ClientType,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    /// A JWK Set (JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where the client publishes its JWK Set instead (RFC 7591 §2), re-fetched when
    /// an assertion names an unknown `kid`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_idle_ttl: i64,
    /// Seconds during which a just-rotated refresh token may be presented again (≤ 30).
    pub refresh_grace_secs: i64,
    /// When false, consent is implied (first-party apps).
    pub require_consent: bool,
    /// Marked by an administrator as a tool that may request the admin scopes
    /// (`latchkey-console` may without the mark). Reserved: no other client can.
    #[serde(default)]
    pub admin_tool: bool,
    pub disabled: bool,
    /// `private_key_jwt` compatibility: also accept an assertion whose `aud` is an array
    /// or an endpoint URL. Off by default: `aud` must be the issuer as one string.
    #[serde(default)]
    pub assertion_aud_compat: bool,
    /// RFC 9126 §6: `/authorize` answers this client only with a pushed request
    /// (`request_uri`), never with parameters sent through the browser.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Registered through dynamic client registration (RFC 7591), not by an
    /// administrator. Set at creation only.
    #[serde(default)]
    pub registered: bool,
    /// The web origins a browser app may call the token, revocation, userinfo and
    /// device endpoints from (CORS); `None` = the origins of its redirect URIs.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: token requests without a DPoP proof
    /// are refused, so every access token of this client is sender-constrained.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Every token issued to this client before this instant is inactive.
    pub tokens_valid_after: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Client {
    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }
    /// The admin scopes are reserved to the console and to clients an administrator
    /// marked as admin tools; an old row that lists them without the mark gets nothing.
    pub fn may_request_admin_scopes(&self) -> bool {
        self.id == CONSOLE_CLIENT_ID || self.admin_tool
    }
    /// The web origins this client's pages may call from: the configured list, else
    /// the origins (scheme://host[:port]) of its http(s) redirect URIs.
    pub fn web_origins(&self) -> Vec<String> {
        match &self.allowed_origins {
            Some(list) => list.clone(),
            None => {
                let mut out: Vec<String> = Vec::new();
                for uri in &self.redirect_uris {
                    if let Some(o) = web_origin(uri) {
                        if !out.contains(&o) {
                            out.push(o);
                        }
                    }
                }
                out
            }
        }
    }
}

/// The serialised origin (RFC 6454 §6.2) of an http(s) URL, `None` for anything else
/// (a custom scheme of a native app has no web origin).
pub fn web_origin(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// The built-in public client of the console and `latchkey admin login`.
pub const CONSOLE_CLIENT_ID: &str = "latchkey-console";

/// A hashed client secret. Several may be valid during a rotation overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    pub id: String,
    pub client_id: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    pub created_at: Timestamp,
    /// `None` = valid until rotated away.
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    pub description: String,
    /// The user claims this scope releases (OIDC Core §5.4).
    pub claims: Vec<String>,
    /// The OIDC scopes ship with the server and cannot be deleted.
    pub builtin: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// argon2id PHC string. Never serialised to the wire.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    pub disabled: bool,
    pub is_admin: bool,
    pub password_changed_at: Timestamp,
    pub created_at: Timestamp,
    /// Set by an administrator with a password: the next sign-in asks the user for a
    /// new one before it counts (migration 0017).
    #[serde(default)]
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    /// The public JWK (JSON object) as published.
    pub public_jwk: String,
    /// PKCS#8 private key, AES-256-GCM encrypted under the KEK (nonce ‖ ciphertext).
    pub private_enc: Vec<u8>,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub retiring_at: Option<Timestamp>,
    pub retired_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// One authentication of a user in a browser (the SSO cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub id: String,
    pub user_id: String,
    pub auth_time: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// One user's authorization of one client (the `sid` of its tokens); owns one
/// refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub sign_in_id: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// Absolute end of the refresh family.
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
    /// RFC 8707: the resources the grant was made for; empty when it named none.
    pub resources: Vec<String>,
    /// A session a token exchange derived (its refresh family, when a policy allows one):
    /// the subject token's session and the subject token's `jti`. It is live only while
    /// both are (`Provider::session_live`).
    pub parent_session_id: Option<String>,
    pub parent_jti: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Authorization code, stored by hash, single-use (RFC 6749 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub hash: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub sign_in_id: Option<String>,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was present in the authorization request (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
    /// The session the redemption created; revoked if the code is replayed.
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// RFC 8707 §2: the `resource`/`audience` values of the authorization request.
    pub resources: Vec<String>,
    /// RFC 9449 §10: the `dpop_jkt` of the authorization request; the token request
    /// must carry a proof by that key.
    pub dpop_jkt: Option<String>,
}

string_enum!(
    DeviceStatus {
        Pending => "pending",
        Approved => "approved",
        Denied => "denied",
        Consumed => "consumed",
    }
);

/// RFC 8628 device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub hash: Vec<u8>,
    /// SHA-256 of the normalised user code.
    pub user_code_hash: Vec<u8>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    pub sign_in_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub interval: i64,
    pub last_polled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub session_id: Option<String>,
    /// RFC 8707 §2: the `resource`/`audience` values of the device authorization request.
    pub resources: Vec<String>,
}

/// A refresh token row; the family is the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: Vec<u8>,
    pub session_id: String,
    pub client_id: String,
    pub created_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
    pub idle_expires_at: Timestamp,
    /// Who obtained it (the rotating request's address and user agent; `None` for the
    /// first of a family and where unknown): the family's holder, for detection 5.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) a public client's refresh token
    /// is bound to; refreshing needs a proof by it.
    pub dpop_jkt: Option<String>,
}

/// What the server remembers of an issued session access token: enough to count live
/// tokens per session and to honour revocation by `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub jti: String,
    pub session_id: Option<String>,
    pub client_id: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

string_enum!(
    /// RFC 8693 §3 token type identifiers this server accepts as a subject or actor
    /// token, or issues. `refresh_token` is named so it can be refused by name: it is
    /// never a subject, and never issued by an exchange.
    TokenTypeUri {
        AccessToken => "urn:ietf:params:oauth:token-type:access_token",
        IdToken => "urn:ietf:params:oauth:token-type:id_token",
        RefreshToken => "urn:ietf:params:oauth:token-type:refresh_token",
    }
);

impl TokenTypeUri {
    /// The short name the admin API, the CLI and the console use (`access_token`, …).
    pub fn short(&self) -> &'static str {
        match self {
            TokenTypeUri::AccessToken => "access_token",
            TokenTypeUri::IdToken => "id_token",
            TokenTypeUri::RefreshToken => "refresh_token",
        }
    }

    /// Either form: the short name or the RFC 8693 URI.
    pub fn parse_any(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.short() == s || t.as_str() == s)
    }
}

string_enum!(
    /// RFC 8693 §1.1: impersonation (no actor token; the new token is the subject's) or
    /// delegation (an actor token; the new token names the actor in `act`).
    ExchangeMode {
        Impersonation => "impersonation",
        Delegation => "delegation",
        Either => "either",
    }
);

/// An administrator's permission for token exchange (RFC 8693). Deny by default: an
/// exchange happens only when an enabled policy allows every part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangePolicy {
    pub id: String,
    pub enabled: bool,
    pub note: String,
    /// The authenticated confidential client that calls /token.
    pub requester_client_id: String,
    /// Whose tokens it may present (the subject token's `client_id`/`azp`); empty: any.
    pub subject_client_ids: Vec<String>,
    /// Which kinds of subject token (never `refresh_token`).
    pub subject_token_types: Vec<TokenTypeUri>,
    /// The requester must be named in the subject token's `aud`, or be the client the
    /// subject token was issued to.
    pub requester_must_be_in_subject_aud: bool,
    /// The audiences / resource indicators the new token may be for.
    pub targets: Vec<String>,
    /// Empty: any subset of the subject's scopes; otherwise only these (and still only
    /// those the subject has).
    pub scopes: Vec<String>,
    pub mode: ExchangeMode,
    /// Clients whose tokens may be actor tokens; empty: only the requester's own.
    pub actor_client_ids: Vec<String>,
    /// Upper bound of the new token's lifetime; it never outlives the subject token.
    pub max_ttl_secs: i64,
    /// What may be issued (never `refresh_token`).
    pub issued_token_types: Vec<TokenTypeUri>,
    /// Longest `act` chain the new token may carry.
    pub max_act_depth: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the server remembers of an exchanged token: where it came from, so that
/// revoking the subject token revokes it (and its own descendants), and so the console
/// can show the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeLineage {
    /// The new token's `jti` (ID tokens issued by an exchange get one too).
    pub jti: String,
    /// The subject token's `jti`; `None` when the subject was an ID token.
    pub parent_jti: Option<String>,
    pub actor_jti: Option<String>,
    /// The subject's session, inherited by the new token.
    pub session_id: Option<String>,
    pub requester_client_id: String,
    pub subject: String,
    pub subject_client_id: String,
    pub policy_id: String,
    pub issued_token_type: TokenTypeUri,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    /// `local-admin`, `user:<id>`, `client:<id>`, `api-key:<id>`, `anonymous`, `system`.
    pub actor: String,
    /// e.g. `client.create`, `session.revoke`, `security.refresh_token.reuse_detected`.
    pub action: String,
    pub target: Option<String>,
    /// JSON, secrets redacted.
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
    pub security: bool,
}

/// An audit event about to be written (the store assigns `id`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAuditEvent {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
    pub security: bool,
}

impl NewAuditEvent {
    pub fn new(at: Timestamp, actor: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            ..Default::default()
        }
    }
    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }
    pub fn before<T: Serialize>(mut self, v: &T) -> Self {
        self.before = serde_json::to_string(v).ok();
        self
    }
    pub fn after<T: Serialize>(mut self, v: &T) -> Self {
        self.after = serde_json::to_string(v).ok();
        self
    }
    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }
    pub fn security(mut self) -> Self {
        self.security = true;
        self
    }
}

/// Which sessions a listing or a bulk revoke covers. Every field narrows the set; the
/// same filter drives the admin list, the dry run and the revoke, so what the dry run
/// counted is exactly what the revoke cuts off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Exactly these sessions (a multi-selection in the console).
    pub ids: Option<Vec<String>>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// Exact address, or a prefix when it ends with `.`, `:` or `*` (`10.0.` → 10.0.x.x).
    pub ip: Option<String>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created strictly before.
    pub created_to: Option<Timestamp>,
    /// State at the instant passed with the query.
    pub state: SessionStateFilter,
    pub sort: SessionSort,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// Keyset cursor: the sort key and id of the last row of the previous page.
    pub after: Option<SessionCursor>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionStateFilter {
    #[default]
    Any,
    /// Neither revoked nor expired.
    Active,
    Revoked,
    /// Ran out without being revoked.
    Expired,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSort {
    #[default]
    CreatedAt,
    LastUsedAt,
}

/// Position after which the next page starts: the sort key of the last row and its id
/// (the tie-breaker), so pages stay stable while sessions are created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub key: Timestamp,
    pub id: String,
}

/// `10.0.` / `2001:db8:` / `10.0*` → the half-open string range `[low, high)` of
/// addresses starting with the prefix, so a store can answer an IP-prefix filter from an
/// index; `None` for an exact address.
pub fn ip_prefix_range(ip: &str) -> Option<(String, String)> {
    let prefix = ip.strip_suffix('*').unwrap_or(ip);
    if prefix.len() == ip.len() && !(ip.ends_with('.') || ip.ends_with(':')) {
        return None;
    }
    let mut high: Vec<char> = prefix.chars().collect();
    let last = high.pop()?;
    let next = char::from_u32(u32::from(last) + 1)?;
    high.push(next);
    Some((prefix.to_string(), high.into_iter().collect()))
}

/// What a revoke cuts off (or, in a dry run, would cut off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RevokeImpact {
    /// Live sessions that end.
    pub sessions: u64,
    /// Of those, the ones with a live refresh token: each is one family that stops working.
    pub refresh_families: u64,
    /// Unexpired access tokens issued under those sessions, which introspect inactive
    /// from then on.
    pub live_access_tokens: u64,
}

/// Filters for audit listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action_prefix: Option<String>,
    pub target: Option<String>,
    pub security_only: bool,
    pub since: Option<Timestamp>,
    /// Strictly before this instant.
    pub until: Option<Timestamp>,
    /// Page backwards (newest first): events with a smaller id.
    pub before_id: Option<i64>,
    /// Tail forwards (oldest first): events with a larger id. Used by the live event
    /// feed; takes precedence over `before_id`.
    pub after_id: Option<i64>,
    pub limit: Option<i64>,
}

/// An admin API key for automation. The key itself is shown once at creation and kept
/// only as its SHA-256 (it is 256 random bits, so a slow hash adds nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub hash: Vec<u8>,
    /// Read-only keys may call only the admin API's reads.
    pub read_only: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl RevokeImpact {
    /// The audit record's `after` for a bulk revoke.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ApiKey {
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Tokens issued in one minute for one grant and client (the dashboard's chart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenCount {
    /// Start of the minute, seconds since the epoch.
    pub minute: Timestamp,
    pub grant: String,
    pub client_id: String,
    pub count: i64,
}

/// One client's token activity (what disabling or deleting it would cut off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientActivity {
    /// Unexpired access tokens on record that belong to no session (those of sessions
    /// are counted with them, `RevokeImpact`).
    pub live_access_tokens: u64,
    /// Tokens of every grant issued since the `since` asked for.
    pub issued_since: u64,
    /// The last issuance, to the minute (or the second, for a recorded access token).
    pub last_issued_at: Option<Timestamp>,
}

/// A user's activity as the Users page lists it (issue 12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserActivity {
    pub user_id: String,
    /// The last browser sign-in on record (sign-ins older than the retention window are
    /// gone, so "none" reads "not within the retention window").
    pub last_sign_in_at: Option<Timestamp>,
    /// Sessions neither revoked nor expired now.
    pub live_sessions: u64,
}

/// What the dashboard shows, read in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub tokens: Vec<TokenCount>,
    pub active_sessions: i64,
    pub clients: i64,
    pub users: i64,
    /// Security events since the window start, per action.
    pub security_events: Vec<(String, i64)>,
}

/// The admin API's scopes: full access, and read-only access.
pub const ADMIN_SCOPE: &str = "latchkey:admin";
pub const ADMIN_READ_SCOPE: &str = "latchkey:admin:read";

pub fn is_admin_scope(s: &str) -> bool {
    s == ADMIN_SCOPE || s == ADMIN_READ_SCOPE
}

/// Split and deduplicate a space-separated scope string (RFC 6749 §3.3), keeping order.
pub fn parse_scope(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(' ').filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == part) {
            out.push(part.to_string());
        }
    }
    out
}

/// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

pub fn join_scope(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Admin-set values as stored: by name, with a version that every write moves, so a
/// write based on an older read can be refused rather than undo a concurrent one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSettings {
    pub values: std::collections::BTreeMap<String, i64>,
    pub version: i64,
    /// Unix seconds of the last write (0: never written).
    pub updated_at: i64,
}

/// A finding: what a detection saw (issue 14), raised once per rule, subject and
/// episode across every node (`dedup_key`, unique in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    /// Rule id, subject and episode: two nodes that see the same episode compute the
    /// same key, and the store keeps the first insert.
    pub dedup_key: String,
    pub rule: String,
    /// `low` | `medium` | `high` | `critical`.
    pub severity: String,
    /// `user` | `address` | `client`.
    pub subject_kind: String,
    pub subject: String,
    /// JSON: counts and what they were counted over (never a password or token).
    pub evidence: String,
    /// What was done automatically (`none` in monitor mode).
    pub action: String,
    /// `open` | `acknowledged`.
    pub status: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<Timestamp>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The count the rule compares with its threshold (failures, usernames, clients).
    pub count: i64,
    pub raised_at: Timestamp,
}

/// Which findings to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub severity: Option<String>,
    pub rule: Option<String>,
    pub status: Option<String>,
    /// At most this many (the store caps it too).
    pub limit: i64,
}

/// An address or network refused at sign-in and at the token endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Canonical `a.b.c.d/n` or `x::/n` (see `monitor::Cidr`).
    pub cidr: String,
    /// `''`: everyone from there; `user:NAME` or `client:ID`: only that account or
    /// client from there (a pair block).
    pub principal: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: Timestamp,
    /// `None`: until an administrator removes it.
    pub expires_at: Option<Timestamp>,
}

/// A webhook: an HTTPS endpoint told of findings (issue 14), with the severities and
/// rules it wants and the state of its deliveries.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    /// The signing secret (`whsec_…`) sealed under the KEK with the id as associated
    /// data: it must be read back to sign, so it cannot be a hash.
    pub secret_enc: Vec<u8>,
    /// Empty: every severity.
    pub severities: Vec<String>,
    /// Rule ids; empty: every rule.
    pub rules: Vec<String>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    /// Findings raised from here on (less the dispatcher's overlap) are considered.
    pub cursor_at: Timestamp,
    pub last_success_at: Option<Timestamp>,
    pub last_failure_at: Option<Timestamp>,
    pub last_failure_reason: Option<String>,
    pub consecutive_failures: i64,
    /// Deliveries waiting (read from the store; ignored on writes).
    pub pending: i64,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// One finding to deliver to one webhook: its body is fixed when queued, its id is
/// the `webhook-id` every attempt carries (receivers deduplicate on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    pub finding_id: String,
    /// The finding's `raised_at`: deliveries of one webhook go out in this order.
    pub seq_at: Timestamp,
    pub payload: String,
    /// `pending` | `delivered` | `failed` (gave up).
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// How an attempt ended, as the dispatcher records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at `next_at`.
    Retry {
        next_at: Timestamp,
        error: String,
    },
    /// Given up after the last attempt.
    Failed {
        error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parsing_drops_duplicates_and_empty_parts() {
        assert_eq!(parse_scope("openid  email openid"), vec!["openid", "email"]);
    }

    #[test]
    fn grant_types_round_trip_through_their_rfc_names() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), *g);
        }
        assert!("password".parse::<GrantType>().is_err());
    }

    #[test]
    fn scope_tokens_reject_quotes_backslashes_and_spaces() {
        assert!(is_valid_scope_token("latchkey:admin"));
        assert!(!is_valid_scope_token("a\"b"));
        assert!(!is_valid_scope_token("a\\b"));
        assert!(!is_valid_scope_token("a b"));
    }
}

/// What an initial access token lets a client register (RFC 7591 §3: the server's
/// policy for "open" registration with a token). Kept with each client registered
/// under it, so an update (RFC 7592 §2.2) is held to the same bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegistrationPolicy {
    /// The grant types a registered client may list.
    pub grant_types: Vec<GrantType>,
    /// The scopes a registered client may list.
    pub scopes: Vec<String>,
    /// Every redirect URI must start with one of these; empty: any redirect URI the
    /// registration rules accept.
    pub redirect_uri_prefixes: Vec<String>,
}

/// An initial access token (RFC 7591 §3), made by an administrator. The token itself
/// is shown once; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    pub id: String,
    pub hash: Vec<u8>,
    pub policy: RegistrationPolicy,
    /// Registrations still allowed; `None`: any number until it expires.
    pub uses_left: Option<i64>,
    /// Clients registered with it so far.
    pub registered: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl RegistrationToken {
    /// Whether it may register a client at `now`.
    pub fn usable_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.uses_left.is_none_or(|n| n > 0)
    }
}

/// A client registered through RFC 7591: the hash of its registration access token
/// (RFC 7592 §3) and the policy it was registered under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: String,
    pub rat_hash: Vec<u8>,
    pub token_id: String,
    pub policy: RegistrationPolicy,
    pub created_at: Timestamp,
}
