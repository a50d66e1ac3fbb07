//! `latchkey-api-types`: the wire types of the admin API (`/admin/v1/…`), the desktop
//! IPC and `latchkey admin --json`.
//!
//! Owns: the shape of every request and response body, in snake_case JSON as in the
//! OAuth specs. Enumerations (client type, grant type, key state, …) travel as their
//! RFC strings, so a client of the API needs no Rust enum to read them.
//!
//! Does not own: any logic. No validation, no conversions from domain types (those live
//! in `latchkey-admin`, at the edge), and no dependency on `latchkey-core`, so the
//! desktop shell and remote clients can use these types without the engine.
//!
//! Types that carry a secret or a password print `..` in their `Debug` form, so a
//! stray `{:?}` in a log line cannot leak one.

pub mod codes;
pub mod ops;
pub mod shell;
pub mod ts;

pub use codes::{AuditAction, ErrorCode, EventKind, SecurityFamily};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Every error of the admin API and the IPC: a stable `code` the UI can branch on
/// (`not_found`, `invalid_input`, `conflict`, `unavailable`, `internal`, and at the
/// API edge `unauthorized`, `forbidden`) and a human message without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiErrorDto {
    /// One of [`ErrorCode`]'s strings (kept a string in Rust so a code from a newer
    /// server still parses; its schema and TS type are the union).
    #[schemars(with = "ErrorCode")]
    pub code: String,
    pub message: String,
}

// --- clients -------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientDto {
    pub client_id: String,
    pub name: String,
    /// `confidential` | `public` (RFC 6749 §2.1).
    pub client_type: String,
    /// RFC 7591 `token_endpoint_auth_method`.
    pub auth_method: String,
    /// RFC 7591 `grant_types` values.
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    /// The client's public JWK Set (`private_key_jwt`).
    pub jwks: Option<Value>,
    /// Or where the client publishes it.
    pub jwks_uri: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_grace_secs: i64,
    pub require_consent: bool,
    /// May request the admin scopes (reserved to `latchkey-console` and admin tools).
    #[serde(default)]
    pub admin_tool: bool,
    pub disabled: bool,
    /// Ships with the server (`latchkey-console`, through which administrators sign
    /// in): it cannot be deleted or disabled.
    #[serde(default)]
    pub builtin: bool,
    /// `private_key_jwt`: an assertion `aud` that is an array or an endpoint URL is also
    /// accepted (compatibility); false: only the issuer as one string.
    #[serde(default)]
    pub assertion_aud_compat: bool,
    /// RFC 9126 §6: `/authorize` answers this client only with a pushed request.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Registered by the client itself (RFC 7591 dynamic registration), not by an
    /// administrator.
    #[serde(default)]
    pub registered: bool,
    /// The web origins set for this client (CORS); `None`: they follow its redirect URIs.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// The origins in force: `allowed_origins`, or those of the redirect URIs.
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// RFC 9449 §5.2: token requests without a DPoP proof are refused.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Unix seconds; every token issued to the client before it is inactive.
    pub tokens_valid_after: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /admin/v1/clients`. Omitted fields take the server's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ClientCreateRequest {
    pub name: String,
    pub client_type: Option<String>,
    pub auth_method: Option<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub require_consent: Option<bool>,
    /// Marks the client as an admin tool: it may then list the admin scopes. Audited.
    pub admin_tool: Option<bool>,
    pub assertion_aud_compat: Option<bool>,
    /// RFC 9126 §6 (default false).
    pub require_pushed_authorization_requests: Option<bool>,
    /// Web origins of a browser app (CORS); absent: the origins of the redirect URIs.
    pub allowed_origins: Option<Vec<String>>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`.
    pub dpop_bound_access_tokens: Option<bool>,
}

/// `PATCH /admin/v1/clients/{id}`: absent fields stay as they are. `jwks: null`
/// removes the JWK Set (absent leaves it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ClientUpdateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks: Option<Option<Value>>,
    /// `null` removes the JWK Set URL; absent leaves it.
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks_uri: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_idle_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_grace_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_consent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_tool: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion_aud_compat: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// `null`: the origins follow the redirect URIs again; absent leaves them.
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_origins: Option<Option<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`,
/// via `#[serde(default)]`); plain `Option` would fold both into `None`.
fn present_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A newly registered client. Serialised flat, so the JSON has `client_id` and — this
/// once — `client_secret` at the top level, as RFC 7591 §3.2.1 responses do.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientCreated {
    #[serde(flatten)]
    pub client: ClientDto,
    /// Present for confidential clients that authenticate with a secret. Never
    /// retrievable again.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ClientCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCreated")
            .field("client", &self.client)
            .field("client_secret", &self.client_secret.as_ref().map(|_| ".."))
            .finish()
    }
}

/// `POST /admin/v1/clients/{id}/rotate_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SecretRotateRequest {
    /// Seconds the previous secrets stay valid (default 24 h).
    pub overlap_secs: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRotated {
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
    /// Unix seconds at which the secrets valid before the rotation stop working.
    pub previous_secrets_expire_at: i64,
}

impl std::fmt::Debug for SecretRotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRotated")
            .field("client_id", &self.client_id)
            .field("client_secret", &"..")
            .field(
                "previous_secrets_expire_at",
                &self.previous_secrets_expire_at,
            )
            .finish()
    }
}

/// `POST /admin/v1/clients/{id}/disabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientSetDisabledRequest {
    pub disabled: bool,
}

/// `POST /admin/v1/clients/{id}/clone`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ClientCloneRequest {
    /// Default: "<name> (copy)".
    pub name: Option<String>,
    /// The copy's redirect URIs instead of the source's: a test copy with a loopback
    /// redirect, so nobody adds one to a production client to try it.
    pub redirect_uris: Option<Vec<String>>,
}

// --- scopes --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeDto {
    pub name: String,
    /// Shown on the consent page.
    pub description: String,
    /// The user claims the scope releases (OIDC Core §5.4).
    pub claims: Vec<String>,
    pub builtin: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ScopeCreateRequest {
    pub name: String,
    pub description: String,
    pub claims: Vec<String>,
}

// --- users ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserDto {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub is_admin: bool,
    pub password_changed_at: i64,
    pub created_at: i64,
    /// The last browser sign-in on record (in the user list only; sign-ins past the
    /// retention window are gone).
    #[serde(default)]
    pub last_sign_in_at: Option<i64>,
    /// Live sessions now (in the user list only).
    #[serde(default)]
    pub live_sessions: Option<u64>,
    /// The next sign-in asks for a new password before it counts.
    #[serde(default)]
    pub must_change_password: bool,
}

/// `GET /admin/v1/users/{id}/impact`: what deleting the user would cut off, counted when
/// asked (the dry run the console shows before a delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserImpactDto {
    pub user: UserDto,
    /// Live sessions that would end.
    pub sessions: u64,
    /// Refresh-token families that would stop working.
    pub refresh_families: u64,
    /// Unexpired access tokens issued under those sessions, inactive from then on.
    pub live_access_tokens: u64,
    pub last_sign_in_at: Option<i64>,
    /// The last enabled administrator: the delete would be refused.
    pub last_admin: bool,
}

/// `PATCH /admin/v1/users/{id}`: absent fields stay; an empty name or email clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserUpdateRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    /// The last enabled administrator cannot lose the role.
    pub is_admin: Option<bool>,
}

/// `POST /admin/v1/users/{id}/password`: the password to set, or none to have one
/// generated and returned once.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserPasswordSetRequest {
    pub password: Option<String>,
    /// The user must choose a new password at their next sign-in, before it counts.
    pub must_change_password: bool,
}

impl std::fmt::Debug for UserPasswordSetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPasswordSetRequest")
            .field("password", &self.password.as_ref().map(|_| ".."))
            .field("must_change_password", &self.must_change_password)
            .finish()
    }
}

/// The user after a password change, and the generated password (shown once; only its
/// hash is stored) when none was given.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserPasswordSet {
    pub user: UserDto,
    pub password: Option<String>,
}

impl std::fmt::Debug for UserPasswordSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPasswordSet")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| ".."))
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct UserCreateRequest {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: String,
    pub is_admin: bool,
}

impl std::fmt::Debug for UserCreateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreateRequest")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"..")
            .field("is_admin", &self.is_admin)
            .finish()
    }
}

// --- signing keys ----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyDto {
    pub kid: String,
    /// `RS256` | `ES256` | `EdDSA`.
    pub alg: String,
    /// `next` | `active` | `retiring` | `retired` | `revoked`.
    pub state: String,
    /// The public JWK as published in the JWKS.
    pub public_jwk: Value,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retiring_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `POST /admin/v1/keys/rotate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct KeysRotateRequest {
    /// One algorithm, or every algorithm when absent.
    pub alg: Option<String>,
}

/// What a rotation did to one algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRotatedDto {
    pub alg: String,
    /// The key that signed before (now retiring), if any.
    pub previous_kid: Option<String>,
    /// The key that signs now.
    pub active_kid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRevokedDto {
    pub kid: String,
    pub alg: String,
    /// The state the key was in before it was revoked.
    pub previous_state: String,
    /// The key that signs for this algorithm now.
    pub active_kid: Option<String>,
}

// --- sessions --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionDto {
    /// The `sid` of the session's tokens.
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// What a revoke would cut off.
    pub live_access_tokens: i64,
    pub live_refresh_tokens: i64,
    /// Its browser sign-in came from a network and browser the user had not used in
    /// their recent sign-ins (detection `unfamiliar_sign_in`).
    pub unfamiliar: bool,
}

/// `GET /admin/v1/sessions?…`. Every field narrows the list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SessionFilterDto {
    /// A user id or a username.
    pub user: Option<String>,
    pub client_id: Option<String>,
    /// An exact address, or a prefix ending in `.`, `:` or `*` (`10.0.` matches 10.0.x.x).
    pub ip: Option<String>,
    /// Unix seconds: created at or after.
    pub created_from: Option<i64>,
    /// Unix seconds: created before.
    pub created_to: Option<i64>,
    /// `active` (default) | `revoked` | `expired` | `any`.
    pub state: Option<String>,
    /// `created_at` (default) | `last_used_at`.
    pub sort: Option<String>,
    /// `desc` (default, newest first) | `asc`.
    pub order: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Default 100, at most 1000.
    pub limit: Option<i64>,
}

/// One page of sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionPageDto {
    pub items: Vec<SessionDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /admin/v1/sessions/revoke`: exactly one of `session_ids`, `user`, `client_id`
/// or `filter`. With `dry_run` nothing changes and the answer says what would be cut off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SessionsRevokeRequest {
    pub session_ids: Option<Vec<String>>,
    /// A user id or username: every session of the user, and their sign-ins end.
    pub user: Option<String>,
    /// Every session of the client; every token issued to it before now (client
    /// credentials ones included) becomes inactive.
    pub client_id: Option<String>,
    /// Every live session matching the filter (its state, sort, cursor and limit are
    /// ignored).
    pub filter: Option<SessionFilterDto>,
    pub dry_run: bool,
}

/// What a revoke cut off, or with `dry_run` would cut off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokeImpactDto {
    /// Live sessions that end.
    pub sessions: u64,
    /// Refresh-token families that stop working.
    pub refresh_families: u64,
    /// Unexpired access tokens of those sessions, inactive at introspection from now
    /// on (resource servers that only check signatures see them until they expire).
    pub live_access_tokens: u64,
    pub dry_run: bool,
}

/// `GET /admin/v1/clients/{id}/impact`: what disabling or deleting the client would cut
/// off, counted when asked (the dry run the console shows before either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientImpactDto {
    pub client_id: String,
    pub name: String,
    /// A built-in client: neither disable nor delete is allowed.
    pub builtin: bool,
    pub disabled: bool,
    /// Live sessions that would end.
    pub sessions: u64,
    /// Refresh-token families that would stop working.
    pub refresh_families: u64,
    /// Unexpired access tokens on record (issued under sessions), inactive at
    /// introspection from then on.
    pub live_access_tokens: u64,
    /// Unix seconds of the last token issued to the client (any grant), if any.
    pub last_token_at: Option<i64>,
    /// Tokens issued to it in the last hour (every grant).
    pub tokens_last_hour: u64,
}

/// The result of revoking one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokedDto {
    /// How many live sessions were revoked (0 when they had already ended).
    pub revoked: u64,
}

// --- audit ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEventDto {
    pub id: i64,
    pub at: i64,
    /// `local-admin`, `user:<id>`, `api-key:<id>`, `system`, …
    pub actor: String,
    /// e.g. `client.create`, `session.revoke`, `security.refresh_token.reuse_detected`.
    pub action: String,
    pub target: Option<String>,
    /// JSON values before and after the change, secrets redacted.
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<String>,
    pub security: bool,
}

/// `GET /admin/v1/audit?…`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AuditFilterDto {
    pub actor: Option<String>,
    /// Actions starting with this (`client.` for every client change).
    pub action_prefix: Option<String>,
    pub target: Option<String>,
    pub security_only: bool,
    /// Unix seconds: at or after.
    pub since: Option<i64>,
    /// Unix seconds: before.
    pub until: Option<i64>,
    /// `desc` (default, newest first) | `asc` (oldest first, as an export reads).
    pub order: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Default 100, at most 1000.
    pub limit: Option<i64>,
}

/// One page of audit events, in the order asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPageDto {
    pub items: Vec<AuditEventDto>,
    pub next_cursor: Option<String>,
}

// --- admin API keys ----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyDto {
    pub id: String,
    pub name: String,
    /// Read-only keys may only call the admin API's reads.
    pub read_only: bool,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// `POST /admin/v1/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ApiKeyCreateRequest {
    pub name: String,
    pub read_only: bool,
    /// Seconds until the key stops working; absent: the default (90 days).
    pub expires_in: Option<i64>,
    /// A key that never expires, only when asked for explicitly (not with `expires_in`).
    pub never_expires: bool,
}

/// The answer to creating an API key: the key itself, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyDto,
    /// Send as `Authorization: Bearer <api_key>`. Never shown again.
    pub api_key: String,
}

impl std::fmt::Debug for ApiKeyCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyCreated")
            .field("key", &self.key)
            .field("api_key", &"..")
            .finish()
    }
}

// --- statistics, health, keys schedule, tokens ------------------------------------------

/// `GET /admin/v1/stats?minutes=N`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StatsRequest {
    /// The window, 1 to 1440 minutes (default 60).
    pub minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenCountDto {
    /// Start of the minute, Unix seconds.
    pub minute: i64,
    pub grant_type: String,
    pub client_id: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityCountDto {
    pub action: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsDto {
    pub window_minutes: i64,
    /// Tokens issued per minute by grant and client (minutes with none are absent).
    pub tokens_per_minute: Vec<TokenCountDto>,
    pub active_sessions: i64,
    pub clients: i64,
    pub users: i64,
    /// Failed client authentications and sign-ins in the window.
    pub failed_authentications: i64,
    /// Every security event in the window, per action.
    pub security_events: Vec<SecurityCountDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthDto {
    /// `ok` when the store answers and the signing keys can be used; `keys_unusable`
    /// otherwise (answered with 503); `starting` before the first keys exist.
    pub status: String,
    pub version: String,
    /// Unix seconds on the server.
    pub time: i64,
    /// The authorization server's issuer, where admin sign-in happens (absent when the
    /// backend runs no authorization server).
    #[serde(default)]
    pub issuer: Option<String>,
    /// `ok`; `unusable` when the key-encryption key cannot open the signing keys (a
    /// wrong KEK: nothing can be signed, and status is not `ok`); `none` before the
    /// first keys exist.
    #[serde(default)]
    pub keys: String,
}

/// When each algorithm's keys change next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyScheduleDto {
    pub alg: String,
    pub active_kid: Option<String>,
    pub active_since: Option<i64>,
    /// The published successor that will sign next.
    pub next_kid: Option<String>,
    /// When the scheduled rotation makes `next_kid` active.
    pub next_rotation_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeysScheduleDto {
    /// Seconds a key signs before it is rotated.
    pub rotate_every: i64,
    /// Seconds a successor is published before it signs.
    pub prepublish: i64,
    /// Seconds a retired-from-signing key stays published.
    pub retire_after: i64,
    pub algorithms: Vec<KeyScheduleDto>,
}

/// `POST /admin/v1/tokens/introspect` and `/admin/v1/tokens/revoke`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TokenRequest {
    pub token: String,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenRequest { token: .. }")
    }
}

// --- token exchange (RFC 8693) -------------------------------------------------------------

/// A token-exchange policy: what a requester may exchange, for whom and for what. Token
/// types are short names (`access_token`, `id_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExchangePolicyDto {
    pub id: String,
    pub enabled: bool,
    pub note: String,
    /// The confidential client that calls /token.
    pub requester_client_id: String,
    /// Whose tokens it may present; empty: any client's.
    pub subject_client_ids: Vec<String>,
    pub subject_token_types: Vec<String>,
    /// The requester must be in the subject token's `aud` or be its client.
    pub requester_must_be_in_subject_aud: bool,
    /// Audiences / resource indicators the new tokens may be for.
    pub targets: Vec<String>,
    /// Empty: any subset of the subject's scopes; otherwise only these.
    pub scopes: Vec<String>,
    /// `impersonation` | `delegation` | `either`.
    pub mode: String,
    /// Clients whose tokens may be actor tokens; empty: only the requester's own.
    pub actor_client_ids: Vec<String>,
    pub max_ttl_secs: i64,
    pub issued_token_types: Vec<String>,
    pub max_act_depth: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /admin/v1/exchange-policies`. Absent fields take the defaults: enabled,
/// `access_token` in and out, requester must be in the subject's `aud`, mode
/// `impersonation`, lifetime cap 300 s, `act` depth 3.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ExchangePolicyCreateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub requester_client_id: String,
    pub subject_client_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_token_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_must_be_in_subject_aud: Option<bool>,
    pub targets: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub actor_client_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_act_depth: Option<i64>,
}

/// `PATCH /admin/v1/exchange-policies/{id}`: each present field replaces the policy's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ExchangePolicyUpdateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_client_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_token_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_must_be_in_subject_aud: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_client_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_act_depth: Option<i64>,
}

/// `POST /admin/v1/exchange-policies/explain`: a token exchange as `requester_client_id`
/// would send it (RFC 8693 §2.1), evaluated by the server's own rules and not carried
/// out. Token types default to `access_token`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ExchangeExplainRequest {
    pub requester_client_id: String,
    pub subject_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_token_type: Option<String>,
}

impl std::fmt::Debug for ExchangeExplainRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeExplainRequest")
            .field("requester_client_id", &self.requester_client_id)
            .field("subject_token", &"..")
            .field("actor_token", &self.actor_token.as_ref().map(|_| ".."))
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What the evaluation learnt of a subject or actor token (identity claims only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExchangeTokenFactsDto {
    pub token_type: String,
    pub sub: String,
    pub client_id: String,
    pub aud: Vec<String>,
    pub scopes: Vec<String>,
    pub exp: i64,
    pub jti: Option<String>,
    pub sid: Option<String>,
    /// The token's own actor chain (RFC 8693 §4.1).
    pub act: Option<Value>,
}

/// One policy's verdict on an explained exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExchangePolicyVerdictDto {
    pub policy_id: String,
    pub matched: bool,
    /// The first rule of this policy the request failed (`policy.target`, …).
    pub rule: Option<String>,
    pub reason: Option<String>,
}

/// The answer of the explain tool: allowed (which policy, and the claims of the token
/// that would be issued) or refused (the error /token would answer, and exactly which
/// rule refused and why). Nothing was issued or audited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExchangeExplainDto {
    pub allowed: bool,
    /// The policy that allows it.
    pub policy_id: Option<String>,
    /// Refused: the OAuth error code /token would answer (RFC 8693 §2.2.2) …
    pub error: Option<String>,
    /// … its fixed description …
    pub error_description: Option<String>,
    /// … and, for the administrator only, the rule and why.
    pub rule: Option<String>,
    pub detail: Option<String>,
    pub subject: Option<ExchangeTokenFactsDto>,
    pub actor: Option<ExchangeTokenFactsDto>,
    pub policies: Vec<ExchangePolicyVerdictDto>,
    /// Allowed: what would be issued (RFC 8693 §2.2.1), and its claims.
    pub issued_token_type: Option<String>,
    /// `Bearer`, or `N_A` for an ID token.
    pub token_type: Option<String>,
    pub expires_in: Option<i64>,
    pub audience: Option<String>,
    pub scopes: Vec<String>,
    pub claims: Option<Value>,
    /// Allowed: whether a refresh token would come with the access token (the policy
    /// names `refresh_token` and the subject is a user's session token without `act`).
    #[serde(default)]
    pub refresh_token: bool,
}

// --- anomaly monitoring (issue 14) -------------------------------------------------------

/// A finding a detection raised: what it saw, about whom, what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FindingDto {
    pub id: String,
    /// The detection's stable id: `brute_force`, `spray`, `spray_success`,
    /// `client_guess`.
    pub rule: String,
    /// `low` | `medium` | `high` | `critical`.
    pub severity: String,
    /// `user` | `address` | `client`.
    pub subject_kind: String,
    /// The username, address or network (`a.b.c.d/32`, `x::/64`), or client id.
    pub subject: String,
    /// Counts and what they were counted over (never a password or token).
    pub evidence: serde_json::Value,
    /// What was done automatically (enforce mode), or `none (monitor mode)`.
    pub action: String,
    /// `open` | `acknowledged`.
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The count the rule compared with its threshold.
    pub count: i64,
    pub raised_at: i64,
}

/// `GET /admin/v1/findings?…`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FindingFilterDto {
    /// Only this severity.
    pub severity: Option<String>,
    /// Only this rule id.
    pub rule: Option<String>,
    /// At most this many (default 100, at most 1000), newest first.
    pub limit: Option<i64>,
}

/// An address or network refused at sign-in and at the token endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockDto {
    /// Canonical `a.b.c.d/n` or `x::/n`.
    pub address: String,
    /// Absent: everyone from there. `user:NAME` or `client:ID`: only that account or
    /// client from there (what a brute force earns, so a stranger elsewhere cannot
    /// lock the account out).
    pub principal: Option<String>,
    pub reason: String,
    /// An administrator, or `detection:<rule>`.
    pub created_by: String,
    pub created_at: i64,
    /// Absent: until removed.
    pub expires_at: Option<i64>,
}

/// `POST /admin/v1/blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BlockAddRequest {
    /// An address (`203.0.113.7`, `2001:db8::1`) or network (`198.51.100.0/24`).
    pub address: String,
    /// Seconds the block lasts; absent: until removed.
    pub expires_in: Option<i64>,
    pub reason: Option<String>,
}

/// `POST /admin/v1/blocks/remove`: every block of that address or network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BlockRemoveRequest {
    pub address: String,
}

/// `GET /admin/v1/security/profile?kind=…&subject=…`: the drill-down behind a finding.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SecurityProfileQuery {
    /// `user` | `address` | `client`, as findings name their subjects.
    pub kind: String,
    /// A username as typed, an address or network, or a client id.
    pub subject: String,
    /// Unix seconds; default a week ago, at most 90 days back.
    pub since: Option<i64>,
}

/// One thing on a security profile's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileEntryDto {
    pub at: i64,
    /// `failure` | `success` | `finding`.
    pub kind: String,
    /// In words: "wrong username or password", "signed in to Billing", "spray (high)".
    pub what: String,
    pub user: Option<String>,
    pub address: Option<String>,
    pub client: Option<String>,
}

/// What one account, address or client did lately, from the audit log, the sessions,
/// the findings and the blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityProfileDto {
    pub kind: String,
    /// Canonical: an address is shown as its network (`a.b.c.d/32`).
    pub subject: String,
    pub since: i64,
    /// Failed sign-ins and failed client authentications.
    pub failures: i64,
    /// Sessions opened.
    pub successes: i64,
    pub distinct_users: i64,
    pub distinct_addresses: i64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub findings: Vec<FindingDto>,
    /// Blocks in force that reach this subject.
    pub blocks: Vec<BlockDto>,
    /// Newest first, at most 200.
    pub timeline: Vec<ProfileEntryDto>,
    /// A source had more rows than are read: the counts are lower bounds.
    pub truncated: bool,
}

// --- dynamic client registration (RFC 7591) -------------------------------------------------

/// An initial access token (never the token itself): what clients registered with it
/// may have, and how much of it is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrationTokenDto {
    pub id: String,
    /// The grant types a registered client may list.
    pub grant_types: Vec<String>,
    /// The scopes a registered client may list.
    pub scopes: Vec<String>,
    /// Every redirect URI must start with one of these; empty: any acceptable one.
    pub redirect_uri_prefixes: Vec<String>,
    /// Registrations still allowed; `null`: any number until it expires.
    pub uses_left: Option<i64>,
    /// Clients registered with it so far.
    pub registered: i64,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// `POST /admin/v1/registration-tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationTokenCreateRequest {
    /// RFC 7591 `grant_types` values; empty: `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Empty: the built-in OIDC scopes.
    pub scopes: Vec<String>,
    /// e.g. `https://app.example/`; empty: any redirect URI the registration rules accept.
    pub redirect_uri_prefixes: Vec<String>,
    /// Seconds until it expires (60 s to a year); absent: one day.
    pub expires_in: Option<i64>,
    /// How many clients it may register; absent: any number until it expires.
    pub uses: Option<i64>,
}

/// The answer to making an initial access token: the token, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrationTokenCreated {
    #[serde(flatten)]
    pub registration_token: RegistrationTokenDto,
    /// `lkreg_…`: the bearer token for `POST /register`. Never shown again.
    pub token: String,
}

impl std::fmt::Debug for RegistrationTokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationTokenCreated")
            .field("registration_token", &self.registration_token)
            .field("token", &"..")
            .finish()
    }
}

// --- webhooks (issue 14) ------------------------------------------------------------------

/// An endpoint told of findings, with the state of its deliveries (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookDto {
    pub id: String,
    pub name: String,
    /// `https://…` (`http://` only to loopback on a development server).
    pub url: String,
    /// The severities it is sent; empty: every severity.
    pub severities: Vec<String>,
    /// The rule ids it is sent; empty: every rule.
    pub rules: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    /// Why the last attempt failed (the endpoint's status, or the connection error).
    pub last_failure_reason: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i64,
    /// Deliveries waiting (a failing endpoint holds its queue, in order).
    pub pending: i64,
}

/// `POST /admin/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookCreateRequest {
    pub name: String,
    pub url: String,
    /// `low` | `medium` | `high` | `critical`; empty or absent: every severity.
    pub severities: Vec<String>,
    /// Rule ids (`brute_force`, `spray`, …); empty or absent: every rule.
    pub rules: Vec<String>,
    /// Absent: enabled.
    pub enabled: Option<bool>,
}

/// The answer to registering a webhook: its signing secret, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// `whsec_…`: the HMAC key of the `webhook-signature` header (Standard Webhooks).
    /// Never shown again.
    pub secret: String,
}

impl std::fmt::Debug for WebhookCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCreated")
            .field("webhook", &self.webhook)
            .field("secret", &"..")
            .finish()
    }
}

/// `PATCH /admin/v1/webhooks/{id}`: each present field replaces the webhook's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookUpdateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severities: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// What a signed test event met at the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookTestDto {
    /// The endpoint answered 2xx.
    pub delivered: bool,
    /// Its status, when it answered.
    pub status: Option<u16>,
    /// Why it was not delivered.
    pub error: Option<String>,
}

// --- runtime settings --------------------------------------------------------------------

/// One runtime setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingDto {
    /// The value in force.
    pub value: i64,
    /// The server's configured default, used whenever no administrator set a value.
    pub default: i64,
    /// `default` (nobody set it) | `admin` (an administrator set it, perhaps to the
    /// default's value).
    pub source: String,
}

/// `GET /admin/v1/settings`: token lifetimes, key rotation and brute-force limits, as
/// every server node applies them. Durations are in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingsDto {
    /// Access-token lifetime given to new clients (seconds).
    pub access_token_ttl: SettingDto,
    /// Absolute refresh-token lifetime given to new clients (seconds).
    pub refresh_token_ttl: SettingDto,
    /// Refresh-token idle lifetime given to new clients (seconds).
    pub refresh_idle_ttl: SettingDto,
    /// Authorization code lifetime (seconds).
    pub code_ttl: SettingDto,
    /// ID token lifetime (seconds).
    pub id_token_ttl: SettingDto,
    /// Device code lifetime (seconds).
    pub device_code_ttl: SettingDto,
    /// Browser sign-in (SSO cookie) lifetime (seconds).
    pub sign_in_ttl: SettingDto,
    /// Seconds a key signs before the scheduled rotation replaces it.
    pub rotate_every: SettingDto,
    /// Seconds a successor is published before it signs (≥ the JWKS max-age).
    pub prepublish: SettingDto,
    /// Seconds a key stays published after it stops signing.
    pub retire_after: SettingDto,
    /// Wrong passwords allowed per IP or account within the window.
    pub login_max_failures: SettingDto,
    /// Window of the password limit (seconds).
    pub login_window: SettingDto,
    /// First block after the password limit (seconds; doubles on each further block).
    pub login_block: SettingDto,
    /// Failed client authentications allowed per IP within the window.
    pub client_auth_max_failures: SettingDto,
    /// Window of the client authentication limit (seconds).
    pub client_auth_window: SettingDto,
    /// First block after the client authentication limit (seconds).
    pub client_auth_block: SettingDto,
    /// Wrong user codes allowed per IP or browser within the window.
    pub device_code_max_failures: SettingDto,
    /// Window of the device code limit (seconds).
    pub device_code_window: SettingDto,
    /// First block after the device code limit (seconds).
    pub device_code_block: SettingDto,
    /// Detection `brute_force` (one account from one address): 0 off, 1 monitor, 2 enforce.
    pub detect_brute_force_mode: SettingDto,
    /// Consecutive failed sign-ins of one account from one address that raise `brute_force`.
    pub detect_brute_force_failures: SettingDto,
    /// Window of `brute_force` (seconds).
    pub detect_brute_force_window: SettingDto,
    /// Severity of `brute_force`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_brute_force_severity: SettingDto,
    /// Detection `spray` (many accounts from one address or IPv6 /64): 0 off, 1 monitor, 2 enforce.
    pub detect_spray_mode: SettingDto,
    /// Distinct usernames failing from one address or /64 that raise `spray`.
    pub detect_spray_usernames: SettingDto,
    /// Window of `spray` (seconds); a success from the address within it after the finding is `spray_success` (critical).
    pub detect_spray_window: SettingDto,
    /// Severity of `spray`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_spray_severity: SettingDto,
    /// Detection `client_guess` (client secret guessing): 0 off, 1 monitor, 2 enforce.
    pub detect_client_guess_mode: SettingDto,
    /// Failed client authentications of one client id that raise `client_guess`.
    pub detect_client_guess_failures: SettingDto,
    /// Distinct client ids one address fails for that raise `client_guess`.
    pub detect_client_guess_clients: SettingDto,
    /// Window of `client_guess` (seconds).
    pub detect_client_guess_window: SettingDto,
    /// Severity of `client_guess`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_client_guess_severity: SettingDto,
    /// How long an enforce-mode block lasts (seconds).
    pub detect_block: SettingDto,
    /// Detection `wave` (server-wide failed sign-ins far above the hour's baseline): 0 off, 1 monitor, 2 enforce (alerts only either way).
    pub detect_wave_mode: SettingDto,
    /// Failed sign-ins in the last hour below which `wave` never fires.
    pub detect_wave_min_failures: SettingDto,
    /// How many times the baseline (median of the same hour on the previous days) the last hour must exceed.
    pub detect_wave_factor: SettingDto,
    /// Previous days the `wave` and `mint_spike` baselines read.
    pub detect_baseline_days: SettingDto,
    /// Severity of `wave`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_wave_severity: SettingDto,
    /// Detection `unfamiliar_sign_in`: 0 off, 1 monitor, 2 enforce (a browser sign-in presented from an unfamiliar network and browser asks for the password again).
    pub detect_unfamiliar_mode: SettingDto,
    /// How many of the user's latest successful sign-ins count as familiar.
    pub detect_unfamiliar_history: SettingDto,
    /// Successful sign-ins a user needs before any can be unfamiliar.
    pub detect_unfamiliar_min_history: SettingDto,
    /// Severity of `unfamiliar_sign_in`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_unfamiliar_severity: SettingDto,
    /// Detection `refresh_reuse` (a spent refresh token replayed): 0 off, 1 monitor, 2 enforce (likely theft revokes every session of the user).
    pub detect_refresh_reuse_mode: SettingDto,
    /// Severity of `refresh_reuse`; a replay tagged likely theft is one step higher.
    pub detect_refresh_reuse_severity: SettingDto,
    /// Detection `mint_spike` (a client's tokens per minute far above its own baseline, or a grant type or scope it never used): 0 off, 1 monitor, 2 enforce (alerts only either way).
    pub detect_mint_mode: SettingDto,
    /// Tokens in one minute below which `mint_spike` never fires for a client.
    pub detect_mint_min_per_minute: SettingDto,
    /// How many times the client's busiest minute of the baseline days its last minute must exceed.
    pub detect_mint_factor: SettingDto,
    /// Severity of `mint_spike`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_mint_severity: SettingDto,
    /// Detections `revoked_token_replay` and `token_scan` (introspection and userinfo): 0 off, 1 monitor, 2 enforce (a scanning caller is blocked there).
    pub detect_token_replay_mode: SettingDto,
    /// Unknown or invalid tokens one caller presents within the window that raise `token_scan`.
    pub detect_token_scan_invalid: SettingDto,
    /// Window of `token_scan` (seconds).
    pub detect_token_scan_window: SettingDto,
    /// Severity of `revoked_token_replay` and `token_scan`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_token_replay_severity: SettingDto,
    /// Detection `hygiene` (daily: old client secrets, overdue key rotation, keys past their schedule): 0 off, 1 monitor, 2 enforce (alerts only either way).
    pub detect_hygiene_mode: SettingDto,
    /// Age past which a client secret is reported (seconds).
    pub detect_hygiene_secret_age: SettingDto,
    /// Severity of `hygiene`: 1 low, 2 medium, 3 high, 4 critical.
    pub detect_hygiene_severity: SettingDto,
    /// How long a session is kept after it was revoked or expired (seconds).
    pub retain_sessions: SettingDto,
    /// How long a browser sign-in is kept after it ended or expired (seconds).
    pub retain_signins: SettingDto,
    /// How long audit events and issuance counts are kept (seconds).
    pub retain_audit: SettingDto,
    /// Unix seconds of the last change; absent while every setting is the default.
    pub updated_at: Option<i64>,
}

/// `PATCH /admin/v1/settings`: a number sets a setting, `null` returns it to the
/// server's default, an absent field leaves it as it is. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdateRequest {
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_idle_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_token_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_code_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign_in_ttl: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotate_every: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub prepublish: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub retire_after: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub login_max_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub login_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub login_block: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_auth_max_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_auth_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_auth_block: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_code_max_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_code_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_code_block: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_brute_force_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_brute_force_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_brute_force_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_brute_force_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_spray_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_spray_usernames: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_spray_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_spray_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_client_guess_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_client_guess_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_client_guess_clients: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_client_guess_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_client_guess_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_block: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_wave_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_wave_min_failures: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_wave_factor: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_baseline_days: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_wave_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_unfamiliar_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_unfamiliar_history: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_unfamiliar_min_history: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_unfamiliar_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_refresh_reuse_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_refresh_reuse_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_mint_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_mint_min_per_minute: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_mint_factor: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_mint_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_token_replay_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_token_scan_invalid: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_token_scan_window: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_token_replay_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_hygiene_mode: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_hygiene_secret_age: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub detect_hygiene_severity: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub retain_sessions: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub retain_signins: Option<Option<i64>>,
    #[serde(
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub retain_audit: Option<Option<i64>>,
}

// --- backups (issue 16) --------------------------------------------------------------------

/// Where to write a backup of an embedded store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupCreateRequest {
    /// The backup file to create (a new file; an existing one is never overwritten).
    pub path: String,
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupCreatedDto {
    /// The file written (mode 0600).
    pub path: String,
    pub bytes: u64,
    /// The newest migration in the copy.
    pub schema_version: i64,
    /// Where the key-encryption key is, which the backup does not hold.
    pub kek_location: String,
}

// --- configuration as code (issue 16) -------------------------------------------------------

/// One YAML file of a configuration document. A plan or an apply takes the base first,
/// then the overlays merged over it in order (`latchkey.yaml`, `latchkey.staging.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFileDto {
    /// Its name in error messages (the file's path).
    pub name: String,
    pub yaml: String,
}

/// What to plan: the document and the values of its secret references.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigPlanRequest {
    pub files: Vec<ConfigFileDto>,
    /// The values of the document's `${env:NAME}` / `${file:PATH}` references, resolved
    /// on the caller's side (the server never reads its own environment or files for
    /// them), by reference. Never returned, logged or audited; a reference without a
    /// value is planned without checking the secret.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Delete what the target has and the document does not (otherwise listed as
    /// skipped).
    pub prune: bool,
}

impl std::fmt::Debug for ConfigPlanRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigPlanRequest")
            .field("files", &self.files)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("prune", &self.prune)
            .finish()
    }
}

/// What to apply: as a plan, plus the plan the caller approved.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigApplyRequest {
    pub files: Vec<ConfigFileDto>,
    /// As in [`ConfigPlanRequest::secrets`]; every reference a change needs must have
    /// its value here.
    pub secrets: std::collections::BTreeMap<String, String>,
    pub prune: bool,
    /// The `plan_id` of the plan that was shown: refused (`conflict`) if the target
    /// changed since, so what is applied is what was approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_plan: Option<String>,
}

impl std::fmt::Debug for ConfigApplyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigApplyRequest")
            .field("files", &self.files)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("prune", &self.prune)
            .field("expected_plan", &self.expected_plan)
            .finish()
    }
}

/// The target's configuration as a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigExportDto {
    /// The YAML document (sorted, deterministic; secrets only as references).
    pub yaml: String,
    /// SHA-256 (hex) of `yaml`: what drift is judged by.
    pub fingerprint: String,
}

/// One field of a change: `old` → `new` as short text (JSON for lists); `None` where
/// there is nothing (a create's old side, a delete's new side). Secrets never appear:
/// only `(secret)` or the reference a new one comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigFieldChangeDto {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One item a plan creates, changes or deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigChangeDto {
    /// `client`, `scope`, `user`, `exchange_policy` or `setting`.
    pub kind: String,
    /// Its key in the document (client id, scope name, username, policy id, setting).
    pub id: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub fields: Vec<ConfigFieldChangeDto>,
}

/// Whether the target changed since the last apply recorded in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ConfigDriftDto {
    /// When the last apply ran (Unix seconds); `None`: never applied.
    pub last_applied_at: Option<i64>,
    pub last_applied_by: Option<String>,
    /// The target no longer matches what that apply left (someone changed it
    /// elsewhere: the console, the CLI, the admin API).
    pub drifted: bool,
}

/// What applying a document would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigPlanDto {
    /// In the order they would be applied.
    pub changes: Vec<ConfigChangeDto>,
    /// Deletions left out because `prune` was not asked for.
    pub skipped: Vec<ConfigChangeDto>,
    /// Things to know that are not changes (a secret not checked, …).
    pub notes: Vec<String>,
    pub drift: ConfigDriftDto,
    /// Identifies this plan (the target's state and the changes): an apply with
    /// `expected_plan` runs only if it would do exactly this.
    pub plan_id: String,
    /// SHA-256 (hex) of the export the target will have after the apply.
    pub fingerprint: String,
}

/// The outcome of an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigAppliedDto {
    /// What was applied (no changes: nothing was).
    pub plan: ConfigPlanDto,
    /// Whether anything was written.
    pub applied: bool,
}

// --- live events -------------------------------------------------------------------------

/// One event of `GET /admin/v1/events` (server-sent events, `event:` = `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdminEventDto {
    /// Which pages it concerns: [`EventKind::of`] the audit event.
    #[schemars(with = "EventKind")]
    pub kind: String,
    /// The audit event behind it (secrets redacted there already).
    pub event: AuditEventDto,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientDto {
        ClientDto {
            client_id: "abc".into(),
            name: "App".into(),
            client_type: "confidential".into(),
            auth_method: "client_secret_basic".into(),
            grant_types: vec!["client_credentials".into()],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            allowed_scopes: vec![],
            jwks: None,
            jwks_uri: None,
            access_token_ttl: 600,
            refresh_token_ttl: 1,
            refresh_idle_ttl: 1,
            refresh_grace_secs: 0,
            require_consent: true,
            admin_tool: false,
            disabled: false,
            builtin: false,
            assertion_aud_compat: false,
            require_pushed_authorization_requests: false,
            registered: false,
            allowed_origins: None,
            web_origins: vec![],
            dpop_bound_access_tokens: false,
            tokens_valid_after: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_created_client_has_its_id_and_secret_at_the_top_level() {
        let c = ClientCreated {
            client: client(),
            client_secret: Some("s3cret".into()),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["client_id"], "abc");
        assert_eq!(v["client_secret"], "s3cret");
        let back: ClientCreated = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn debug_forms_never_print_secrets_or_passwords() {
        let c = ClientCreated {
            client: client(),
            client_secret: Some("s3cret".into()),
        };
        assert!(!format!("{c:?}").contains("s3cret"));
        let u = UserCreateRequest {
            password: "hunter22".into(),
            ..Default::default()
        };
        assert!(!format!("{u:?}").contains("hunter22"));
    }

    #[test]
    fn an_update_tells_a_null_jwks_from_an_absent_one() {
        let absent: ClientUpdateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.jwks, None);
        let null: ClientUpdateRequest = serde_json::from_str(r#"{"jwks":null}"#).unwrap();
        assert_eq!(null.jwks, Some(None));
        let set: ClientUpdateRequest = serde_json::from_str(r#"{"jwks":{"keys":[]}}"#).unwrap();
        assert!(matches!(set.jwks, Some(Some(_))));
    }

    #[test]
    fn a_settings_update_tells_a_reset_from_an_absent_field_and_refuses_unknown_ones() {
        let r: SettingsUpdateRequest =
            serde_json::from_str(r#"{"code_ttl":120,"login_block":null}"#).unwrap();
        assert_eq!(r.code_ttl, Some(Some(120)));
        assert_eq!(r.login_block, Some(None));
        assert_eq!(r.id_token_ttl, None);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"code_ttl": 120, "login_block": null})
        );
        let e = serde_json::from_str::<SettingsUpdateRequest>(r#"{"code_tll":1}"#).unwrap_err();
        assert!(e.to_string().contains("code_tll"), "{e}");
    }
}
