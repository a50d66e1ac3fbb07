//! The IPC commands: each a thin call on [`AdminBackend`](latchkey_admin::AdminBackend)
//! with the trait method's name, arguments in snake_case, and failures as
//! `{code, message}` ([`ApiErrorDto`]) the UI can branch on.

use crate::console::{Console, ConsoleStatus};
use futures_util::StreamExt;
use latchkey_api_types::*;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::inspect::Inspection;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;

type CmdResult<T> = Result<T, ApiErrorDto>;

#[tauri::command(rename_all = "snake_case")]
pub async fn console_status(console: State<'_, Console>) -> CmdResult<ConsoleStatus> {
    Ok(console.status().await)
}

/// The first admin's generated password, shown once: `null` on every later call.
#[tauri::command(rename_all = "snake_case")]
pub fn first_admin_password_take(console: State<'_, Console>) -> Option<String> {
    console.first_admin_password_take()
}

// --- clients ---------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn clients_list(console: State<'_, Console>) -> CmdResult<Vec<ClientDto>> {
    Ok(console.backend().await?.clients_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_get(console: State<'_, Console>, id: String) -> CmdResult<ClientDto> {
    Ok(console.backend().await?.client_get(&id).await?)
}

/// The secret in the answer is the only copy ever shown.
#[tauri::command(rename_all = "snake_case")]
pub async fn client_create(
    console: State<'_, Console>,
    req: ClientCreateRequest,
) -> CmdResult<ClientCreated> {
    Ok(console.backend().await?.client_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_update(
    console: State<'_, Console>,
    id: String,
    req: ClientUpdateRequest,
) -> CmdResult<ClientDto> {
    Ok(console.backend().await?.client_update(&id, req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_delete(console: State<'_, Console>, id: String) -> CmdResult<()> {
    Ok(console.backend().await?.client_delete(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_rotate_secret(
    console: State<'_, Console>,
    id: String,
    req: SecretRotateRequest,
) -> CmdResult<SecretRotated> {
    Ok(console
        .backend()
        .await?
        .client_rotate_secret(&id, req)
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_set_disabled(
    console: State<'_, Console>,
    id: String,
    disabled: bool,
) -> CmdResult<ClientDto> {
    Ok(console
        .backend()
        .await?
        .client_set_disabled(&id, disabled)
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn client_clone(
    console: State<'_, Console>,
    id: String,
    req: ClientCloneRequest,
) -> CmdResult<ClientCreated> {
    Ok(console.backend().await?.client_clone(&id, req).await?)
}

// --- scopes ----------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn scopes_list(console: State<'_, Console>) -> CmdResult<Vec<ScopeDto>> {
    Ok(console.backend().await?.scopes_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn scope_create(
    console: State<'_, Console>,
    req: ScopeCreateRequest,
) -> CmdResult<ScopeDto> {
    Ok(console.backend().await?.scope_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn scope_delete(console: State<'_, Console>, name: String) -> CmdResult<()> {
    Ok(console.backend().await?.scope_delete(&name).await?)
}

// --- users -----------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn users_list(console: State<'_, Console>) -> CmdResult<Vec<UserDto>> {
    Ok(console.backend().await?.users_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_get(console: State<'_, Console>, id: String) -> CmdResult<UserDto> {
    Ok(console.backend().await?.user_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_create(
    console: State<'_, Console>,
    req: UserCreateRequest,
) -> CmdResult<UserDto> {
    Ok(console.backend().await?.user_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_disable(console: State<'_, Console>, id: String) -> CmdResult<UserDto> {
    Ok(console.backend().await?.user_disable(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_enable(console: State<'_, Console>, id: String) -> CmdResult<UserDto> {
    Ok(console.backend().await?.user_enable(&id).await?)
}

// --- signing keys ------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn keys_list(console: State<'_, Console>) -> CmdResult<Vec<KeyDto>> {
    Ok(console.backend().await?.keys_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn keys_rotate(
    console: State<'_, Console>,
    req: KeysRotateRequest,
) -> CmdResult<Vec<KeyRotatedDto>> {
    Ok(console.backend().await?.keys_rotate(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn key_revoke(console: State<'_, Console>, kid: String) -> CmdResult<KeyRevokedDto> {
    Ok(console.backend().await?.key_revoke(&kid).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn keys_schedule_get(console: State<'_, Console>) -> CmdResult<KeysScheduleDto> {
    Ok(console.backend().await?.keys_schedule_get().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn jwks_get(console: State<'_, Console>) -> CmdResult<Value> {
    Ok(console.backend().await?.jwks_get().await?)
}

// --- sessions ----------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn sessions_list(
    console: State<'_, Console>,
    filter: SessionFilterDto,
) -> CmdResult<SessionPageDto> {
    Ok(console.backend().await?.sessions_list(filter).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn session_get(console: State<'_, Console>, id: String) -> CmdResult<SessionDto> {
    Ok(console.backend().await?.session_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn session_revoke(console: State<'_, Console>, id: String) -> CmdResult<RevokedDto> {
    Ok(console.backend().await?.session_revoke(&id).await?)
}

/// Revokes by ids, user, client or filter; with `dry_run`, says what it would cut off
/// (what the UI shows before asking to confirm).
#[tauri::command(rename_all = "snake_case")]
pub async fn sessions_revoke(
    console: State<'_, Console>,
    req: SessionsRevokeRequest,
) -> CmdResult<RevokeImpactDto> {
    Ok(console.backend().await?.sessions_revoke(req).await?)
}

// --- tokens ------------------------------------------------------------------------------

/// Takes `token` apart and checks it against the connected server: its signature
/// against the JWK Set the server publishes (retiring keys included), its issuer, its
/// times. Nothing of the token is stored or logged.
#[tauri::command(rename_all = "snake_case")]
pub async fn token_inspect(console: State<'_, Console>, token: String) -> CmdResult<Inspection> {
    if token.trim().is_empty() {
        return Err(ApiErrorDto {
            code: "invalid_input".into(),
            message: "paste a token to inspect".into(),
        });
    }
    let jwks = console.backend().await?.jwks_get().await?;
    let issuer = console.issuer();
    Ok(latchkey_core::inspect::inspect(
        &token,
        Some(&jwks),
        Some(&issuer),
        SystemClock.now(),
        0,
    ))
}

/// RFC 7662 answer of the connected server, on the administrator's authority.
#[tauri::command(rename_all = "snake_case")]
pub async fn token_introspect(console: State<'_, Console>, req: TokenRequest) -> CmdResult<Value> {
    Ok(console.backend().await?.token_introspect(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn token_revoke(console: State<'_, Console>, req: TokenRequest) -> CmdResult<RevokedDto> {
    Ok(console.backend().await?.token_revoke(req).await?)
}

// --- audit, statistics, health, live events ---------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn audit_list(
    console: State<'_, Console>,
    filter: AuditFilterDto,
) -> CmdResult<AuditPageDto> {
    Ok(console.backend().await?.audit_list(filter).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn security_events_list(
    console: State<'_, Console>,
    filter: AuditFilterDto,
) -> CmdResult<AuditPageDto> {
    Ok(console
        .backend()
        .await?
        .security_events_list(filter)
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn stats_get(console: State<'_, Console>, req: StatsRequest) -> CmdResult<StatsDto> {
    Ok(console.backend().await?.stats_get(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn health_get(console: State<'_, Console>) -> CmdResult<HealthDto> {
    Ok(console.backend().await?.health_get().await?)
}

/// Live events (sessions created and revoked, keys rotated, clients changed, security
/// events) pushed to `on_event` until the webview drops the channel or the backend's
/// stream ends.
#[tauri::command(rename_all = "snake_case")]
pub async fn events_subscribe(
    console: State<'_, Console>,
    after_id: Option<i64>,
    on_event: Channel<AdminEventDto>,
) -> CmdResult<()> {
    let mut stream = console.backend().await?.events_subscribe(after_id).await?;
    tauri::async_runtime::spawn(async move {
        while let Some(Ok(ev)) = stream.next().await {
            if on_event.send(ev).is_err() {
                break;
            }
        }
    });
    Ok(())
}

// --- admin API keys ----------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn api_keys_list(console: State<'_, Console>) -> CmdResult<Vec<ApiKeyDto>> {
    Ok(console.backend().await?.api_keys_list().await?)
}

/// The key in the answer is the only copy ever shown.
#[tauri::command(rename_all = "snake_case")]
pub async fn api_key_create(
    console: State<'_, Console>,
    req: ApiKeyCreateRequest,
) -> CmdResult<ApiKeyCreated> {
    Ok(console.backend().await?.api_key_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn api_key_revoke(console: State<'_, Console>, id: String) -> CmdResult<ApiKeyDto> {
    Ok(console.backend().await?.api_key_revoke(&id).await?)
}

// --- runtime settings -------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn settings_get(console: State<'_, Console>) -> CmdResult<SettingsDto> {
    Ok(console.backend().await?.settings_get().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn settings_update(
    console: State<'_, Console>,
    req: SettingsUpdateRequest,
) -> CmdResult<SettingsDto> {
    Ok(console.backend().await?.settings_update(req).await?)
}
