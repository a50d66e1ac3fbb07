//! The desktop shell's own IPC types (the console's status, saved connections, "Try it")
//! and the token inspector's answer. They are not admin API bodies, but they cross the
//! same IPC boundary, so they live here to get their TypeScript from the same generator
//! as every DTO (`ui/src/lib/api/types.gen.ts`) instead of a hand-written copy that
//! could drift.
//!
//! Fields whose values form a closed set stay `String` in Rust where the shell wants to
//! answer a bad value with its own message (an IPC request) or where the value is built
//! from `&'static str`s; their schema (so their TS type) is the enum's union
//! (`#[schemars(with = …)]`), as [`crate::ApiErrorDto::code`] does.

use crate::ApiErrorDto;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where the console is in opening its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleState {
    Starting,
    Ready,
    Failed,
}

/// What a connection administers: a SQLite file served in-process, or a remote
/// `latchkey serve` deployment's admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Embedded,
    Remote,
}

/// How a remote connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAuth {
    /// An admin API key (`lk_…`).
    ApiKey,
    /// A person signed in through the system browser (code + PKCE, loopback redirect).
    Browser,
}

/// Where a remote connection's credential is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStore {
    /// The OS keyring (Secret Service).
    Keyring,
    /// No keyring service: this process's memory, forgotten when the console exits.
    Memory,
}

/// The flows "Try it" runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TryGrant {
    ClientCredentials,
    AuthorizationCode,
    /// RFC 8693: the client trades a subject token for one for another audience, as its
    /// exchange policies allow (the Exchange page's "Run this exchange").
    TokenExchange,
}

/// What the UI learns about the connection. Never carries a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct ConsoleStatus {
    #[schemars(with = "ConsoleState")]
    pub state: String,
    #[schemars(with = "ConnectionKind")]
    pub kind: String,
    /// The saved connection's id.
    pub connection_id: String,
    /// The name shown on the connection badge.
    pub name: String,
    /// The badge colour (one of the shell's `COLOURS`).
    pub colour: String,
    /// The embedded file; empty for a remote connection.
    pub db_path: String,
    /// The remote admin API; `null` for an embedded connection.
    pub server: Option<String>,
    pub issuer: String,
    /// The in-process server's port; 0 for a remote connection.
    pub port: u16,
    /// Where a remote connection's credential is kept; `null` when embedded.
    #[schemars(with = "Option<CredentialStore>")]
    pub credential_store: Option<String>,
    /// Why starting failed, as the UI shows every error.
    pub error: Option<ApiErrorDto>,
    /// The first admin's username while their generated password has not yet been
    /// shown (it is shown once, then forgotten).
    pub first_admin_pending: Option<String>,
    pub version: String,
}

/// A saved connection as the switcher lists it. No credential: only whether one is kept.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionDto {
    pub id: String,
    pub name: String,
    pub colour: String,
    #[schemars(with = "ConnectionKind")]
    pub kind: String,
    /// The database file, or the admin API's URL.
    pub location: String,
    pub issuer: Option<String>,
    /// How a remote connection authenticates; `null` when embedded.
    #[schemars(with = "Option<RemoteAuth>")]
    pub auth: Option<String>,
    pub active: bool,
    /// A remote connection's credential is stored (keyring, or memory for this run).
    pub signed_in: bool,
}

/// A connection to add (and open): an embedded file, or a remote server. `kind` and
/// `auth` are strings so that a wrong value gets the shell's own message.
#[derive(Clone, Deserialize, JsonSchema)]
pub struct ConnectionAddRequest {
    pub name: String,
    pub colour: String,
    #[schemars(with = "ConnectionKind")]
    pub kind: String,
    #[serde(default)]
    pub db_path: Option<String>,
    /// Make the file when it does not exist yet.
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<RemoteAuth>")]
    pub auth: Option<String>,
    /// Typed in once; kept in the OS keyring, never shown again.
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ConnectionAddRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionAddRequest")
            .field("name", &self.name)
            .field("colour", &self.colour)
            .field("kind", &self.kind)
            .field("db_path", &self.db_path)
            .field("create", &self.create)
            .field("server", &self.server)
            .field("issuer", &self.issuer)
            .field("auth", &self.auth)
            .field("api_key", &self.api_key.as_ref().map(|_| ".."))
            .finish()
    }
}

/// Runs a client's own flow ("Try it").
#[derive(Clone, Deserialize, JsonSchema)]
pub struct ClientTryRequest {
    pub id: String,
    #[schemars(with = "TryGrant")]
    pub grant: String,
    /// The client's secret for a confidential client; used once, never kept.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Space-separated; default: what the client may ask for, for this grant.
    #[serde(default)]
    pub scope: Option<String>,
    /// Token exchange: the token traded (RFC 8693 §2.1 `subject_token`) …
    #[serde(default)]
    pub subject_token: Option<String>,
    /// … its type (`access_token` | `id_token`, or the full URN; default access token) …
    #[serde(default)]
    pub subject_token_type: Option<String>,
    /// … the actor's token for delegation (an access token) …
    #[serde(default)]
    pub actor_token: Option<String>,
    /// … and what the new token is for (one of the two).
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    /// `access_token` (default) | `id_token`, or the full URN.
    #[serde(default)]
    pub requested_token_type: Option<String>,
    /// RFC 9449: bind the tokens to a key the console makes for this run and forgets
    /// after it (always on for a client whose tokens must be DPoP-bound).
    #[serde(default)]
    pub dpop: bool,
    /// RFC 9126: push the authorization request first (authorization code only; always
    /// on for a client or server that requires it).
    #[serde(default)]
    pub par: bool,
}

impl std::fmt::Debug for ClientTryRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTryRequest")
            .field("id", &self.id)
            .field("grant", &self.grant)
            .field("client_secret", &self.client_secret.as_ref().map(|_| ".."))
            .field("scope", &self.scope)
            .field("subject_token", &self.subject_token.as_ref().map(|_| ".."))
            .field("subject_token_type", &self.subject_token_type)
            .field("actor_token", &self.actor_token.as_ref().map(|_| ".."))
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("requested_token_type", &self.requested_token_type)
            .field("dpop", &self.dpop)
            .field("par", &self.par)
            .finish()
    }
}

/// The tokens "Try it" got, for the inspector. The refresh token is not handed over:
/// the inspector has no use for it, and it would outlive the look.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct ClientTryResult {
    #[schemars(with = "TryGrant")]
    pub grant: String,
    pub access_token: String,
    pub id_token: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    pub refresh_token_issued: bool,
    /// The redirect used (authorization code only).
    pub redirect_uri: Option<String>,
    /// Token exchange: what `access_token` holds (RFC 8693 §2.2.1 `issued_token_type`;
    /// an ID token comes with `token_type` `N_A`).
    #[serde(default)]
    pub issued_token_type: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    /// RFC 7638 thumbprint of the run's DPoP key, which the tokens' `cnf.jkt` names.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// The authorization request went through the PAR endpoint.
    #[serde(default)]
    pub pushed: bool,
}

impl std::fmt::Debug for ClientTryResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTryResult")
            .field("grant", &self.grant)
            .field("access_token", &"..")
            .field("id_token", &self.id_token.as_ref().map(|_| ".."))
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token_issued", &self.refresh_token_issued)
            .field("redirect_uri", &self.redirect_uri)
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("dpop_jkt", &self.dpop_jkt)
            .field("pushed", &self.pushed)
            .finish()
    }
}

// --- the token inspector ---------------------------------------------------------------

/// What was inspected: a JWT taken apart, or an opaque token (nothing to read in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenForm {
    Jwt,
    Opaque,
}

/// One acceptance check of the inspector (signature, expiry, issuer, …).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, JsonSchema)]
pub struct InspectionCheck {
    pub name: &'static str,
    /// `null` = could not be checked (e.g. no keys available).
    pub ok: Option<bool>,
    pub detail: String,
}

/// One claim, with its meaning in plain words.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, JsonSchema)]
pub struct ClaimLine {
    pub claim: String,
    pub value: Value,
    pub meaning: String,
}

/// Why the server holds a token inactive: the closed part of the admin introspection's
/// `inactive_reason` (never sent by the public RFC 7662 endpoint, whose inactive answer is
/// a bare `{"active": false}`, §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InactiveCode {
    /// Not a token of any form this server issues.
    Malformed,
    /// A JWT that is not an access token (an ID token): only access and refresh tokens
    /// are introspectable.
    NotIntrospectable,
    /// Signed with a key this server never had (or has forgotten).
    UnknownKey,
    /// Signed with a key revoked in an emergency: every token it signed is inactive.
    KeyRevoked,
    /// Signed with a key no longer published.
    KeyRetired,
    /// The signature does not verify (altered, or forged with our `kid`).
    BadSignature,
    /// `iss` is not this server.
    WrongIssuer,
    /// No `exp`/`iat`/`jti`/`client_id`: not one of our access tokens.
    MissingClaims,
    Expired,
    NotYetValid,
    /// Its client no longer exists.
    ClientDeleted,
    ClientDisabled,
    /// The client's tokens were revoked after this one was issued (its watermark moved).
    ClientTokensRevoked,
    /// Its session was revoked (by an administrator, its client, reuse detection, …).
    SessionRevoked,
    SessionExpired,
    /// Its user is disabled.
    UserDisabled,
    /// This one token was revoked (RFC 7009).
    Revoked,
    /// A refresh token already exchanged for a newer one.
    RefreshSpent,
    /// A refresh token unused for longer than its idle lifetime.
    RefreshIdle,
    /// An opaque token this server does not know.
    Unknown,
}

/// Why the server answers inactive, with when and by whom when the store knows (the
/// audit log, the session's revocation, the client's watermark).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InactiveReason {
    pub code: InactiveCode,
    /// One sentence for people.
    pub detail: String,
    /// When it became inactive for this reason (Unix seconds), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// Who made it so (an audit actor: `local-admin`, `user:<id>`, `client:<id>`, …),
    /// when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The server's answer about a token (admin introspection), as the inspector reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServerAnswer {
    pub active: bool,
    /// `Bearer` (an access token) or `refresh_token`, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_reason: Option<InactiveReason>,
    /// RFC 8693 lineage: the tokens this one was exchanged from, nearest first (empty for
    /// a token no exchange issued).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanged_from: Vec<ExchangeStep>,
}

/// One step of a token's exchange lineage: the token that step issued, the token it was
/// exchanged from, who asked and which policy allowed it. Identifiers only, no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExchangeStep {
    pub jti: String,
    #[serde(default)]
    pub parent_jti: Option<String>,
    pub policy_id: String,
    pub requester_client_id: String,
    pub subject_client_id: String,
    /// `access_token` or `id_token`.
    pub issued_token_type: String,
    pub issued_at: i64,
}

/// The inspector's one verdict, combining the offline checks with the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InspectionOutcome {
    /// Every check passes and the server answers active.
    Active,
    /// Every offline check passes (signature, issuer, times) but no server was asked,
    /// so revocation is unknown.
    ValidOffline,
    /// An ID token whose offline checks pass: ID tokens are not introspectable, so
    /// there is nothing more to ask (neutral, never "inactive").
    NotIntrospectable,
    /// A check fails or the server answers inactive: it would be refused.
    Rejected,
    /// Nothing failed, but nothing decisive could be checked (no keys for the
    /// signature, an opaque token with no server to ask).
    Undetermined,
}

/// A token taken apart: every claim explained and, check by check, whether it would be
/// accepted and why not (`latchkey token inspect`, the console's token page).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, JsonSchema)]
pub struct Inspection {
    pub kind: TokenForm,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub claim_lines: Vec<ClaimLine>,
    pub checks: Vec<InspectionCheck>,
    /// What was stripped from the pasted text before inspecting it (`Authorization:`,
    /// `Bearer `, quotes, whitespace), in words; empty when nothing was.
    pub removed: Vec<String>,
    /// The server's answer, when it was asked and answered.
    pub server: Option<ServerAnswer>,
    /// The one verdict.
    pub outcome: InspectionOutcome,
    /// One sentence: the verdict and its reason.
    pub verdict: String,
    /// `outcome` is `active`, `valid_offline` or `not_introspectable`.
    pub valid: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Failures surface as errors (`?`), not as panics on `unwrap`.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_shell_requests_and_try_results_never_print_a_secret_in_debug() -> TestResult {
        let add: ConnectionAddRequest = serde_json::from_value(serde_json::json!({
            "name": "prod", "colour": "red", "kind": "remote",
            "server": "https://id.example", "auth": "api_key", "api_key": "lk_live_SECRET1"
        }))?;
        let try_req: ClientTryRequest = serde_json::from_value(serde_json::json!({
            "id": "c1", "grant": "token_exchange", "client_secret": "SECRET2",
            "subject_token": "SECRET5", "actor_token": "SECRET6", "audience": "orders-api"
        }))?;
        let try_res = ClientTryResult {
            grant: "client_credentials".into(),
            access_token: "SECRET3".into(),
            id_token: Some("SECRET4".into()),
            expires_in: Some(300),
            scope: None,
            refresh_token_issued: false,
            redirect_uri: None,
            issued_token_type: None,
            token_type: None,
            dpop_jkt: None,
            pushed: false,
        };
        let printed = format!("{add:?} {try_req:?} {try_res:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(
            printed.contains("prod") && printed.contains("c1") && printed.contains("orders-api"),
            "{printed}"
        );
        Ok(())
    }

    #[test]
    fn closed_sets_travel_as_their_snake_case_strings() -> TestResult {
        assert_eq!(serde_json::to_value(RemoteAuth::ApiKey)?, "api_key");
        assert_eq!(serde_json::to_value(TokenForm::Opaque)?, "opaque");
        assert_eq!(
            serde_json::to_value(InactiveCode::ClientDisabled)?,
            "client_disabled"
        );
        assert_eq!(
            serde_json::to_value(InspectionOutcome::NotIntrospectable)?,
            "not_introspectable"
        );
        assert_eq!(
            serde_json::to_value(TryGrant::AuthorizationCode)?,
            "authorization_code"
        );
        Ok(())
    }
}
