//! `latchkey-admin`: the [`AdminBackend`] trait — every administrative operation, named
//! as in every other layer — and its [`Embedded`] implementation over `latchkey-core`'s
//! [`Manager`](latchkey_core::manage::Manager) and a SQLite file or a PostgreSQL
//! database.
//!
//! Owns: the backend-neutral admin surface the CLI (`latchkey admin`), the desktop
//! console and the server's admin routes share; conversions between domain types and
//! the wire DTOs of `latchkey-api-types`; locating or creating the key-encryption key
//! ([`load_or_create_kek`]) for the CLI and the server alike.
//!
//! Does not own: the rules (validation, secret generation, rotation, audit live in
//! `latchkey_core::manage`), SQL (`latchkey-store-sqlite`), HTTP or presentation. The
//! remote backend (admin API over HTTPS) comes later and implements the same trait, so
//! its callers cannot tell the two apart — including the error codes.

mod convert;
mod embedded;
mod kek;

pub use embedded::{Embedded, EmbeddedOptions};
pub use kek::{
    kek_path_for, load_or_create_kek, load_or_create_kek_with, load_shared_kek, KekSource,
};

use latchkey_api_types::*;
use latchkey_core::manage::ManageError;

/// An admin operation's failure: a stable `code` (`not_found`, `invalid_input`,
/// `conflict`, `unavailable`, `internal`) and a message for humans that never carries a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub code: String,
    pub message: String,
}

impl AdminError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ManageError::INVALID_INPUT, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ManageError::NOT_FOUND, message)
    }
}

impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<AdminError> for ApiErrorDto {
    fn from(e: AdminError) -> Self {
        ApiErrorDto {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<ApiErrorDto> for AdminError {
    fn from(e: ApiErrorDto) -> Self {
        Self::new(e.code, e.message)
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

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
    async fn client_clone(&self, id: &str, req: ClientCloneRequest) -> AdminResult<ClientCreated>;

    // scopes
    async fn scopes_list(&self) -> AdminResult<Vec<ScopeDto>>;
    async fn scope_create(&self, req: ScopeCreateRequest) -> AdminResult<ScopeDto>;
    async fn scope_delete(&self, name: &str) -> AdminResult<()>;

    // users
    async fn users_list(&self) -> AdminResult<Vec<UserDto>>;
    async fn user_create(&self, req: UserCreateRequest) -> AdminResult<UserDto>;
    /// `id` is a user id or a username. Also revokes all the user's sessions.
    async fn user_disable(&self, id: &str) -> AdminResult<UserDto>;

    // signing keys
    async fn keys_list(&self) -> AdminResult<Vec<KeyDto>>;
    async fn keys_rotate(&self, req: KeysRotateRequest) -> AdminResult<Vec<KeyRotatedDto>>;
    async fn key_revoke(&self, kid: &str) -> AdminResult<KeyRevokedDto>;

    // sessions
    async fn sessions_list(&self, filter: SessionFilterDto) -> AdminResult<Vec<SessionDto>>;
    async fn session_get(&self, id: &str) -> AdminResult<SessionDto>;
    async fn session_revoke(&self, id: &str) -> AdminResult<RevokedDto>;
    /// `user` is a user id or a username.
    async fn sessions_revoke_user(&self, user: &str) -> AdminResult<RevokedDto>;
    async fn sessions_revoke_client(&self, client_id: &str) -> AdminResult<RevokedDto>;

    // audit
    async fn audit_list(&self, filter: AuditFilterDto) -> AdminResult<Vec<AuditEventDto>>;
}
