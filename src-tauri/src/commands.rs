//! The IPC commands: each a thin call on [`AdminBackend`](latchkey_admin::AdminBackend)
//! with the trait method's name, arguments in snake_case, and failures as
//! `{code, message}` ([`ApiErrorDto`]) the UI can branch on.

use crate::connections::{Connection, RemoteAuth, Target};
use crate::console::{self, ConnectRequest, Console, ConsoleStatus};
use crate::try_it;
use futures_util::StreamExt;
use latchkey_api_types::shell::{
    ClientTryRequest, ClientTryResult, ConnectionAddRequest, ConnectionDto,
};
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

// --- connections -----------------------------------------------------------------------

fn connection_dto(c: Connection, active: &str, signed_in: bool) -> ConnectionDto {
    let (kind, location, issuer, auth) = match c.target {
        Target::Embedded { db_path } => ("embedded", db_path, None, None),
        Target::Remote {
            server,
            issuer,
            auth,
        } => (
            "remote",
            server,
            issuer,
            Some(match auth {
                RemoteAuth::ApiKey => "api_key",
                RemoteAuth::Browser => "browser",
            }),
        ),
    };
    ConnectionDto {
        active: c.id == active,
        id: c.id,
        name: c.name,
        colour: c.colour,
        kind: kind.into(),
        location,
        issuer,
        auth: auth.map(str::to_string),
        signed_in,
    }
}

fn invalid(message: &str) -> ApiErrorDto {
    ApiErrorDto {
        code: "invalid_input".into(),
        message: message.into(),
    }
}

#[tauri::command(rename_all = "snake_case")]
pub async fn connections_list(console: State<'_, Console>) -> CmdResult<Vec<ConnectionDto>> {
    let (list, active) = console.connections();
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let signed_in = console.has_credential(&c).await;
        out.push(connection_dto(c, &active, signed_in));
    }
    Ok(out)
}

/// Switches to a saved connection. `api_key` replaces the stored key of an API-key
/// connection; a browser connection with no sign-in opens the system browser.
#[tauri::command(rename_all = "snake_case")]
pub async fn connection_open(
    console: State<'_, Console>,
    id: String,
    api_key: Option<String>,
) -> CmdResult<ConsoleStatus> {
    let Some(conn) = console.connections().0.into_iter().find(|c| c.id == id) else {
        return Err(ApiErrorDto {
            code: "not_found".into(),
            message: "no such connection".into(),
        });
    };
    let credential = match api_key.as_deref() {
        Some(k) => Some(console::api_key(k)?),
        None => None,
    };
    Ok(console
        .connect(ConnectRequest {
            conn,
            credential,
            create: false,
        })
        .await?)
}

/// Adds a connection and switches to it (a remote one only once its credential works).
#[tauri::command(rename_all = "snake_case")]
pub async fn connection_add(
    console: State<'_, Console>,
    req: ConnectionAddRequest,
) -> CmdResult<ConsoleStatus> {
    let target = match req.kind.as_str() {
        "embedded" => Target::Embedded {
            db_path: req
                .db_path
                .clone()
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| invalid("give the database file's path"))?
                .trim()
                .to_string(),
        },
        "remote" => Target::Remote {
            server: req
                .server
                .clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| invalid("give the server's admin API URL"))?
                .trim()
                .trim_end_matches('/')
                .to_string(),
            issuer: req
                .issuer
                .clone()
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty()),
            auth: match req.auth.as_deref() {
                Some("api_key") => RemoteAuth::ApiKey,
                Some("browser") => RemoteAuth::Browser,
                _ => return Err(invalid("auth must be api_key or browser")),
            },
        },
        _ => return Err(invalid("kind must be embedded or remote")),
    };
    let credential = match (&target, req.api_key.as_deref()) {
        (
            Target::Remote {
                auth: RemoteAuth::ApiKey,
                ..
            },
            key,
        ) => Some(console::api_key(key.unwrap_or_default())?),
        _ => None,
    };
    let conn = Connection {
        id: Console::new_connection_id(),
        name: req.name,
        colour: req.colour,
        target,
    };
    Ok(console
        .connect(ConnectRequest {
            conn,
            credential,
            create: req.create,
        })
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn connection_update(
    console: State<'_, Console>,
    id: String,
    name: Option<String>,
    colour: Option<String>,
) -> CmdResult<ConnectionDto> {
    let c = console.connection_update(&id, name, colour)?;
    let active = console.connections().1;
    let signed_in = console.has_credential(&c).await;
    Ok(connection_dto(c, &active, signed_in))
}

/// Forgets a connection and its stored credential (not the database file); the answer
/// says what happened (a browser sign-in is revoked at the server first).
#[tauri::command(rename_all = "snake_case")]
pub async fn connection_remove(console: State<'_, Console>, id: String) -> CmdResult<String> {
    Ok(console.connection_remove(&id).await?)
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

/// Runs the client's flow against the connected server; the tokens go to the inspector.
#[tauri::command(rename_all = "snake_case")]
pub async fn client_try(
    console: State<'_, Console>,
    req: ClientTryRequest,
) -> CmdResult<ClientTryResult> {
    Ok(try_it::client_try(&console, req).await?)
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

/// What disabling or deleting the client would cut off: the dialogs show it before
/// anyone confirms.
#[tauri::command(rename_all = "snake_case")]
pub async fn client_impact_get(
    console: State<'_, Console>,
    id: String,
) -> CmdResult<ClientImpactDto> {
    Ok(console.backend().await?.client_impact_get(&id).await?)
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

#[tauri::command(rename_all = "snake_case")]
pub async fn user_update(
    console: State<'_, Console>,
    id: String,
    req: UserUpdateRequest,
) -> CmdResult<UserDto> {
    Ok(console.backend().await?.user_update(&id, req).await?)
}

/// The generated password reaches the webview once, for the one-time-secret dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn user_password_set(
    console: State<'_, Console>,
    id: String,
    req: UserPasswordSetRequest,
) -> CmdResult<UserPasswordSet> {
    Ok(console.backend().await?.user_password_set(&id, req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_impact_get(console: State<'_, Console>, id: String) -> CmdResult<UserImpactDto> {
    Ok(console.backend().await?.user_impact_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn user_delete(console: State<'_, Console>, id: String) -> CmdResult<()> {
    Ok(console.backend().await?.user_delete(&id).await?)
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
/// times, and the server's own answer (admin introspection, with the reason a token is
/// inactive), combined into one verdict by the same core function as `latchkey token
/// inspect`. What people paste around a token (`Authorization: Bearer`, quotes,
/// whitespace) is removed first and reported. Nothing of the token is stored or logged.
#[tauri::command(rename_all = "snake_case")]
pub async fn token_inspect(console: State<'_, Console>, token: String) -> CmdResult<Inspection> {
    let token = latchkey_core::inspect::normalise(&token);
    if token.token.is_empty() {
        return Err(ApiErrorDto {
            code: "invalid_input".into(),
            message: "paste a token to inspect".into(),
        });
    }
    let backend = console.backend().await?;
    let jwks = backend.jwks_get().await?;
    // The verdict never claims more than was checked: no answer leaves revocation
    // unknown ("valid offline"), never "valid".
    let answer = backend
        .token_introspect(TokenRequest {
            token: token.token.clone(),
        })
        .await
        .ok()
        .map(|a| latchkey_core::inspect::server_answer(&a));
    let issuer = console.issuer();
    Ok(latchkey_core::inspect::inspect_with(
        &token,
        Some(&jwks),
        Some(&issuer),
        answer,
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
    let mut switched = console.switched();
    switched.mark_unchanged();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::select! {
                ev = stream.next() => match ev {
                    Some(Ok(ev)) => {
                        if on_event.send(ev).is_err() {
                            break;
                        }
                    }
                    _ => break,
                },
                // Another connection now: its events are not this stream's.
                _ = switched.changed() => break,
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

// --- token exchange (RFC 8693) ---------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policies_list(
    console: State<'_, Console>,
) -> CmdResult<Vec<ExchangePolicyDto>> {
    Ok(console.backend().await?.exchange_policies_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policy_get(
    console: State<'_, Console>,
    id: String,
) -> CmdResult<ExchangePolicyDto> {
    Ok(console.backend().await?.exchange_policy_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policy_create(
    console: State<'_, Console>,
    req: ExchangePolicyCreateRequest,
) -> CmdResult<ExchangePolicyDto> {
    Ok(console.backend().await?.exchange_policy_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policy_update(
    console: State<'_, Console>,
    id: String,
    req: ExchangePolicyUpdateRequest,
) -> CmdResult<ExchangePolicyDto> {
    Ok(console
        .backend()
        .await?
        .exchange_policy_update(&id, req)
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policy_delete(console: State<'_, Console>, id: String) -> CmdResult<()> {
    Ok(console.backend().await?.exchange_policy_delete(&id).await?)
}

/// Dry run: the server's own evaluation; nothing is issued. The tokens pasted here go to
/// the backend only (the embedded engine, or the connected server's admin API).
#[tauri::command(rename_all = "snake_case")]
pub async fn exchange_policy_explain(
    console: State<'_, Console>,
    req: ExchangeExplainRequest,
) -> CmdResult<ExchangeExplainDto> {
    Ok(console
        .backend()
        .await?
        .exchange_policy_explain(req)
        .await?)
}

// --- anomaly monitoring -----------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn findings_list(
    console: State<'_, Console>,
    filter: FindingFilterDto,
) -> CmdResult<Vec<FindingDto>> {
    Ok(console.backend().await?.findings_list(filter).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn finding_get(console: State<'_, Console>, id: String) -> CmdResult<FindingDto> {
    Ok(console.backend().await?.finding_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn finding_ack(console: State<'_, Console>, id: String) -> CmdResult<FindingDto> {
    Ok(console.backend().await?.finding_ack(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn blocks_list(console: State<'_, Console>) -> CmdResult<Vec<BlockDto>> {
    Ok(console.backend().await?.blocks_list().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn block_add(console: State<'_, Console>, req: BlockAddRequest) -> CmdResult<BlockDto> {
    Ok(console.backend().await?.block_add(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn security_profile_get(
    console: State<'_, Console>,
    q: SecurityProfileQuery,
) -> CmdResult<SecurityProfileDto> {
    Ok(console.backend().await?.security_profile_get(q).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn block_remove(console: State<'_, Console>, req: BlockRemoveRequest) -> CmdResult<()> {
    Ok(console.backend().await?.block_remove(req).await?)
}

// --- dynamic client registration (RFC 7591) -----------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn registration_tokens_list(
    console: State<'_, Console>,
) -> CmdResult<Vec<RegistrationTokenDto>> {
    Ok(console.backend().await?.registration_tokens_list().await?)
}

/// The answer carries the initial access token: the console shows it once
/// (SecretDialog) and keeps no copy.
#[tauri::command(rename_all = "snake_case")]
pub async fn registration_token_create(
    console: State<'_, Console>,
    req: RegistrationTokenCreateRequest,
) -> CmdResult<RegistrationTokenCreated> {
    Ok(console
        .backend()
        .await?
        .registration_token_create(req)
        .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn registration_token_revoke(console: State<'_, Console>, id: String) -> CmdResult<()> {
    Ok(console
        .backend()
        .await?
        .registration_token_revoke(&id)
        .await?)
}

// --- configuration as code ---------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn config_export(console: State<'_, Console>) -> CmdResult<ConfigExportDto> {
    Ok(console.backend().await?.config_export().await?)
}

/// The console sends no secret values: its plans compare everything but secrets.
#[tauri::command(rename_all = "snake_case")]
pub async fn config_plan(
    console: State<'_, Console>,
    req: ConfigPlanRequest,
) -> CmdResult<ConfigPlanDto> {
    Ok(console.backend().await?.config_plan(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn config_apply(
    console: State<'_, Console>,
    req: ConfigApplyRequest,
) -> CmdResult<ConfigAppliedDto> {
    Ok(console.backend().await?.config_apply(req).await?)
}

// --- webhooks -----------------------------------------------------------------------------

#[tauri::command(rename_all = "snake_case")]
pub async fn webhooks_list(console: State<'_, Console>) -> CmdResult<Vec<WebhookDto>> {
    Ok(console.backend().await?.webhooks_list().await?)
}

/// The answer carries the signing secret: the console shows it once (SecretDialog) and
/// keeps no copy.
#[tauri::command(rename_all = "snake_case")]
pub async fn webhook_create(
    console: State<'_, Console>,
    req: WebhookCreateRequest,
) -> CmdResult<WebhookCreated> {
    Ok(console.backend().await?.webhook_create(req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn webhook_get(console: State<'_, Console>, id: String) -> CmdResult<WebhookDto> {
    Ok(console.backend().await?.webhook_get(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn webhook_update(
    console: State<'_, Console>,
    id: String,
    req: WebhookUpdateRequest,
) -> CmdResult<WebhookDto> {
    Ok(console.backend().await?.webhook_update(&id, req).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn webhook_delete(console: State<'_, Console>, id: String) -> CmdResult<()> {
    Ok(console.backend().await?.webhook_delete(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn webhook_test(console: State<'_, Console>, id: String) -> CmdResult<WebhookTestDto> {
    Ok(console.backend().await?.webhook_test(&id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn backup_create(
    console: State<'_, Console>,
    req: BackupCreateRequest,
) -> CmdResult<BackupCreatedDto> {
    Ok(console.backend().await?.backup_create(req).await?)
}
