//! `latchkey-admin`: the [`AdminBackend`] trait — every administrative operation, named
//! as in every other layer — and its [`Embedded`] implementation over `latchkey-core`'s
//! [`Manager`](latchkey_core::manage::Manager) and a SQLite file or a PostgreSQL
//! database. The other implementation, `Remote` over a running server's admin API
//! (`/admin/v1`), lives in `latchkey-admin-client` with the sign-in and the keyring, so
//! the server (which uses `Embedded` for its admin routes) links none of them.
//!
//! Owns: the backend-neutral admin surface the CLI (`latchkey admin`), the desktop
//! console and the server's admin routes share; conversions between domain types and
//! the wire DTOs of `latchkey-api-types`; locating or creating the key-encryption key
//! ([`load_or_create_kek`]) for the CLI and the server alike.
//!
//! Does not own: the rules (validation, secret generation, rotation, audit live in
//! `latchkey_core::manage`), SQL (`latchkey-store-sqlite`), the admin API's routes
//! (`latchkey-server`), the remote client (`latchkey-admin-client`) or presentation.
//! Both backends implement the same trait, so
//! their callers cannot tell the two apart — including the error codes (checked by
//! the conformance suite, `tests/tests/admin_conformance.rs`).

mod convert;
mod embedded;
mod kek;

pub use embedded::{Embedded, EmbeddedOptions};
pub use kek::{
    kek_location, kek_path_for, load_or_create_kek, load_or_create_kek_with, load_shared_kek,
    KekSource,
};

use latchkey_api_types::*;
use latchkey_core::manage::ManageError;

/// An admin operation's failure: a stable [`ErrorCode`] (its HTTP status is
/// `ErrorCode::http_status`, the one mapping) and a message for humans that never carries
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub code: ErrorCode,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> Self {
        Self::new(e.error_code(), e.to_string())
    }
}

impl From<AdminError> for ApiErrorDto {
    fn from(e: AdminError) -> Self {
        ApiErrorDto {
            code: e.code.into(),
            message: e.message,
        }
    }
}

/// A server's `{code, message}`. A code this build does not know (a newer server's)
/// becomes `internal`, with the server's code kept in the message so nothing is lost.
impl From<ApiErrorDto> for AdminError {
    fn from(e: ApiErrorDto) -> Self {
        match ErrorCode::parse(&e.code) {
            Some(code) => Self::new(code, e.message),
            None => Self::new(ErrorCode::Internal, format!("{} ({})", e.message, e.code)),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// The live admin events of [`AdminBackend::events_subscribe`].
pub type EventStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = AdminResult<AdminEventDto>> + Send>>;

/// Every administrative operation. One name per operation in every layer:
/// `AdminBackend::clients_list` ↔ `GET /admin/v1/clients` ↔ the Tauri command
/// `clients_list` ↔ `latchkey admin clients list`.
///
/// The backend knows who is acting (the embedded one is constructed with an actor such
/// as `local-admin`; a remote one is whoever its credentials belong to), so no method
/// takes one.
#[async_trait::async_trait]
pub trait AdminBackend: Send + Sync {
    // clients
    async fn clients_list(&self) -> AdminResult<Vec<ClientDto>>;
    async fn client_get(&self, id: &str) -> AdminResult<ClientDto>;
    /// The secret in the result is the only copy that will ever be shown.
    async fn client_create(&self, req: ClientCreateRequest) -> AdminResult<ClientCreated>;
    async fn client_update(&self, id: &str, req: ClientUpdateRequest) -> AdminResult<ClientDto>;
    async fn client_delete(&self, id: &str) -> AdminResult<()>;
    async fn client_rotate_secret(
        &self,
        id: &str,
        req: SecretRotateRequest,
    ) -> AdminResult<SecretRotated>;
    async fn client_set_disabled(&self, id: &str, disabled: bool) -> AdminResult<ClientDto>;
    /// What disabling or deleting the client would cut off (the dialogs' dry run).
    async fn client_impact_get(&self, id: &str) -> AdminResult<ClientImpactDto>;
    async fn client_clone(&self, id: &str, req: ClientCloneRequest) -> AdminResult<ClientCreated>;

    // scopes
    async fn scopes_list(&self) -> AdminResult<Vec<ScopeDto>>;
    async fn scope_create(&self, req: ScopeCreateRequest) -> AdminResult<ScopeDto>;
    async fn scope_delete(&self, name: &str) -> AdminResult<()>;

    // users
    /// With each user's last sign-in and live session count.
    async fn users_list(&self) -> AdminResult<Vec<UserDto>>;
    /// `id` is a user id or a username. Counts only; nothing changes.
    async fn user_impact_get(&self, id: &str) -> AdminResult<UserImpactDto>;
    /// `id` is a user id or a username. Revokes their sessions, then deletes them.
    async fn user_delete(&self, id: &str) -> AdminResult<()>;
    /// `id` is a user id or a username.
    async fn user_get(&self, id: &str) -> AdminResult<UserDto>;
    async fn user_create(&self, req: UserCreateRequest) -> AdminResult<UserDto>;
    /// `id` is a user id or a username. Also revokes all the user's sessions.
    async fn user_disable(&self, id: &str) -> AdminResult<UserDto>;
    async fn user_enable(&self, id: &str) -> AdminResult<UserDto>;
    /// Name, email or administrator role; the last enabled administrator keeps the role.
    async fn user_update(&self, id: &str, req: UserUpdateRequest) -> AdminResult<UserDto>;
    /// Sets the password, or generates one returned once.
    async fn user_password_set(
        &self,
        id: &str,
        req: UserPasswordSetRequest,
    ) -> AdminResult<UserPasswordSet>;

    // signing keys
    async fn keys_list(&self) -> AdminResult<Vec<KeyDto>>;
    async fn keys_rotate(&self, req: KeysRotateRequest) -> AdminResult<Vec<KeyRotatedDto>>;
    async fn key_revoke(&self, kid: &str) -> AdminResult<KeyRevokedDto>;
    async fn keys_schedule_get(&self) -> AdminResult<KeysScheduleDto>;
    /// The JWK Set exactly as relying parties fetch it.
    async fn jwks_get(&self) -> AdminResult<serde_json::Value>;

    // sessions
    async fn sessions_list(&self, filter: SessionFilterDto) -> AdminResult<SessionPageDto>;
    async fn session_get(&self, id: &str) -> AdminResult<SessionDto>;
    async fn session_revoke(&self, id: &str) -> AdminResult<RevokedDto>;
    /// Bulk revoke by ids, user, client or filter; with `dry_run`, only what it would
    /// cut off.
    async fn sessions_revoke(&self, req: SessionsRevokeRequest) -> AdminResult<RevokeImpactDto>;

    // tokens of this server
    /// RFC 7662 answer, on the administrator's authority (any client's tokens).
    async fn token_introspect(&self, req: TokenRequest) -> AdminResult<serde_json::Value>;
    async fn token_revoke(&self, req: TokenRequest) -> AdminResult<RevokedDto>;

    // audit, security events, statistics, health
    async fn audit_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto>;
    /// `audit_list` of security events only.
    async fn security_events_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto>;
    async fn stats_get(&self, req: StatsRequest) -> AdminResult<StatsDto>;
    async fn health_get(&self) -> AdminResult<HealthDto>;
    /// Live events after `after_id` (or from now on when absent), until the stream is
    /// dropped. A backend that loses its connection ends the stream with an error.
    async fn events_subscribe(&self, after_id: Option<i64>) -> AdminResult<EventStream>;

    // admin API keys
    async fn api_keys_list(&self) -> AdminResult<Vec<ApiKeyDto>>;
    /// The key in the result is the only copy that will ever be shown.
    async fn api_key_create(&self, req: ApiKeyCreateRequest) -> AdminResult<ApiKeyCreated>;
    async fn api_key_revoke(&self, id: &str) -> AdminResult<ApiKeyDto>;

    // token exchange (RFC 8693)
    async fn exchange_policies_list(&self) -> AdminResult<Vec<ExchangePolicyDto>>;
    async fn exchange_policy_get(&self, id: &str) -> AdminResult<ExchangePolicyDto>;
    async fn exchange_policy_create(
        &self,
        req: ExchangePolicyCreateRequest,
    ) -> AdminResult<ExchangePolicyDto>;
    async fn exchange_policy_update(
        &self,
        id: &str,
        req: ExchangePolicyUpdateRequest,
    ) -> AdminResult<ExchangePolicyDto>;
    async fn exchange_policy_delete(&self, id: &str) -> AdminResult<()>;
    /// Dry run of an exchange through the token endpoint's own evaluation: nothing is
    /// issued, written or audited.
    async fn exchange_policy_explain(
        &self,
        req: ExchangeExplainRequest,
    ) -> AdminResult<ExchangeExplainDto>;

    // runtime settings
    /// Token lifetimes, key rotation and limits in force, each with its default and
    /// whether an administrator set it.
    async fn settings_get(&self) -> AdminResult<SettingsDto>;
    /// Sets (a number) or resets (`null`) the named settings; every server node applies
    /// the result within about a second.
    async fn settings_update(&self, req: SettingsUpdateRequest) -> AdminResult<SettingsDto>;

    // anomaly monitoring (issue 14)
    /// Findings, newest first, filtered by severity and rule.
    async fn findings_list(&self, filter: FindingFilterDto) -> AdminResult<Vec<FindingDto>>;
    async fn finding_get(&self, id: &str) -> AdminResult<FindingDto>;
    /// Acknowledges a finding (audited); one already acknowledged is returned as it is.
    async fn finding_ack(&self, id: &str) -> AdminResult<FindingDto>;
    /// The blocks in force.
    async fn blocks_list(&self) -> AdminResult<Vec<BlockDto>>;
    /// Blocks an address or network (audited); every server node applies it within
    /// about a second.
    async fn block_add(&self, req: BlockAddRequest) -> AdminResult<BlockDto>;
    /// The drill-down behind a finding: what one account, address or client did lately.
    async fn security_profile_get(
        &self,
        q: SecurityProfileQuery,
    ) -> AdminResult<SecurityProfileDto>;
    /// Removes every block of an address or network (audited).
    async fn block_remove(&self, req: BlockRemoveRequest) -> AdminResult<()>;

    // webhooks (issue 14)
    /// Webhooks with their delivery state.
    async fn webhooks_list(&self) -> AdminResult<Vec<WebhookDto>>;
    /// Registers a webhook (audited); its signing secret is in this answer only.
    async fn webhook_create(&self, req: WebhookCreateRequest) -> AdminResult<WebhookCreated>;
    async fn webhook_get(&self, id: &str) -> AdminResult<WebhookDto>;
    /// Changes a webhook (audited before → after).
    async fn webhook_update(&self, id: &str, req: WebhookUpdateRequest) -> AdminResult<WebhookDto>;
    /// Deletes a webhook and its queue (audited).
    async fn webhook_delete(&self, id: &str) -> AdminResult<()>;
    /// Sends a signed test event now (audited) and says what the endpoint answered.
    async fn webhook_test(&self, id: &str) -> AdminResult<WebhookTestDto>;

    // backups (issue 16)
    /// Backs up an embedded SQLite store to a new file (mode 0600) while it serves. A
    /// remote server and the admin API answer `forbidden`, a PostgreSQL store `unavailable`: the
    /// admin API never writes files on the server; back those up on the server's
    /// machine (`latchkey backup`, `pg_dump`).
    async fn backup_create(&self, req: BackupCreateRequest) -> AdminResult<BackupCreatedDto>;
    // dynamic client registration (RFC 7591)
    /// Initial access tokens with their policies (never the tokens).
    async fn registration_tokens_list(&self) -> AdminResult<Vec<RegistrationTokenDto>>;
    /// Makes an initial access token (audited); the token is in this answer only.
    async fn registration_token_create(
        &self,
        req: RegistrationTokenCreateRequest,
    ) -> AdminResult<RegistrationTokenCreated>;
    /// Revokes an initial access token (audited).
    async fn registration_token_revoke(&self, id: &str) -> AdminResult<()>;

    // configuration as code (issue 16)
    /// The configuration as a sorted YAML document (secrets as references only).
    async fn config_export(&self) -> AdminResult<ConfigExportDto>;
    /// What applying a document would change, and the drift since the last apply.
    async fn config_plan(&self, req: ConfigPlanRequest) -> AdminResult<ConfigPlanDto>;
    /// Applies a document in one transaction (audited as one batch).
    async fn config_apply(&self, req: ConfigApplyRequest) -> AdminResult<ConfigAppliedDto>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_error_keeps_its_code_and_an_unknown_code_becomes_internal_without_losing_it() {
        let known: AdminError = ApiErrorDto {
            code: "conflict".into(),
            message: "the scope is in use".into(),
        }
        .into();
        assert_eq!(known.code, ErrorCode::Conflict);
        assert_eq!(known.message, "the scope is in use");

        let newer: AdminError = ApiErrorDto {
            code: "quota_exceeded".into(),
            message: "too many clients".into(),
        }
        .into();
        assert_eq!(newer.code, ErrorCode::Internal);
        assert!(
            newer.message.contains("too many clients"),
            "{}",
            newer.message
        );
        assert!(
            newer.message.contains("quota_exceeded"),
            "{}",
            newer.message
        );

        let back: ApiErrorDto = AdminError::new(ErrorCode::RateLimited, "slow down").into();
        assert_eq!(back.code, "rate_limited");
    }
}
