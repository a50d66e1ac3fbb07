//! The handlers: each one parses, calls the [`AdminBackend`] method of the same name as
//! the caller, and answers. No rules here; they live in `latchkey_core::manage`.

use super::auth::{require_admin, Caller};
use super::{created, ApiResult, Body, Query};
use crate::AppState;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use latchkey_admin::AdminBackend;
use latchkey_api_types::ops::{op, AdminOp, HttpMethod};
use latchkey_api_types::*;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

type R = Router<Arc<AppState>>;

/// Adds one operation's route, from the op table, to the open router (no credential)
/// or the guarded one (behind [`require_admin`]), by its access level.
fn add<H, T>(open: R, guarded: R, op: &AdminOp, handler: H) -> (R, R)
where
    H: Handler<T, Arc<AppState>>,
    T: 'static,
{
    let filter = match op.method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Delete => MethodFilter::DELETE,
    };
    // Routes on the same path merge their methods (axum's `Router::route`).
    let route = on(filter, handler);
    if op.secured() {
        (open, guarded.route(op.path, route))
    } else {
        (open.route(op.path, route), guarded)
    }
}

/// One `add` per row of the op table, each with the handler of the same name, so a
/// route can neither be missing nor point at another operation's handler.
macro_rules! admin_routes {
    (($open:ident, $guarded:ident) $( $name:ident $method:ident $path:literal $access:ident { $($rest:tt)* } ; )*) => {
        $( let ($open, $guarded) = add($open, $guarded, &op::$name, $name); )*
    };
}

pub(super) fn router(st: Arc<AppState>) -> Router {
    let open: R = Router::new()
        .route("/admin/v1/openapi.json", get(openapi_json))
        .route("/metrics", get(super::auth::metrics_get));
    let guarded: R = Router::new();
    latchkey_api_types::for_each_admin_op!(admin_routes open, guarded);
    let guarded = guarded.route_layer(axum::middleware::from_fn_with_state(
        st.clone(),
        require_admin,
    ));
    open.merge(guarded).fallback(not_found).with_state(st)
}

async fn not_found() -> super::ApiError {
    super::ApiError(latchkey_admin::AdminError::not_found(
        "no such admin API route (see /admin/v1/openapi.json)",
    ))
}

async fn openapi_json() -> Response {
    Json(super::openapi::document()).into_response()
}

/// Unauthenticated: load balancers and monitors call it. Says only whether the store
/// answers and keys exist, plus the version.
async fn health_get(State(st): State<Arc<AppState>>) -> Response {
    let ready = *st.keys_ready.borrow();
    match st.admin.health_get().await {
        // A wrong key-encryption key: the store answers but nothing can be signed.
        Ok(h) if h.keys == "unusable" => (StatusCode::SERVICE_UNAVAILABLE, Json(h)).into_response(),
        Ok(h) if ready => Json(h).into_response(),
        Ok(h) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthDto {
                status: "starting".into(),
                ..h
            }),
        )
            .into_response(),
        Err(e) => super::ApiError(e).into_response(),
    }
}

type C = Extension<Caller>;

// --- clients ---------------------------------------------------------------------------

async fn clients_list(Extension(c): C) -> ApiResult<Json<Vec<ClientDto>>> {
    Ok(Json(c.backend.clients_list().await?))
}
async fn client_get(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<ClientDto>> {
    Ok(Json(c.backend.client_get(&id).await?))
}
async fn client_create(
    Extension(c): C,
    Body(req): Body<ClientCreateRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.client_create(req).await?))
}
async fn client_update(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<ClientUpdateRequest>,
) -> ApiResult<Json<ClientDto>> {
    Ok(Json(c.backend.client_update(&id, req).await?))
}
async fn client_delete(Extension(c): C, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.backend.client_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn client_rotate_secret(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<SecretRotateRequest>,
) -> ApiResult<Json<SecretRotated>> {
    Ok(Json(c.backend.client_rotate_secret(&id, req).await?))
}
async fn client_set_disabled(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<ClientSetDisabledRequest>,
) -> ApiResult<Json<ClientDto>> {
    Ok(Json(
        c.backend.client_set_disabled(&id, req.disabled).await?,
    ))
}
async fn client_impact_get(
    Extension(c): C,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientImpactDto>> {
    Ok(Json(c.backend.client_impact_get(&id).await?))
}
async fn client_clone(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<ClientCloneRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.client_clone(&id, req).await?))
}

// --- scopes, users ---------------------------------------------------------------------

async fn scopes_list(Extension(c): C) -> ApiResult<Json<Vec<ScopeDto>>> {
    Ok(Json(c.backend.scopes_list().await?))
}
async fn scope_create(Extension(c): C, Body(req): Body<ScopeCreateRequest>) -> ApiResult<Response> {
    Ok(created(c.backend.scope_create(req).await?))
}
async fn scope_delete(Extension(c): C, Path(name): Path<String>) -> ApiResult<StatusCode> {
    c.backend.scope_delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn users_list(Extension(c): C) -> ApiResult<Json<Vec<UserDto>>> {
    Ok(Json(c.backend.users_list().await?))
}
async fn user_get(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<UserDto>> {
    Ok(Json(c.backend.user_get(&id).await?))
}
async fn user_create(Extension(c): C, Body(req): Body<UserCreateRequest>) -> ApiResult<Response> {
    Ok(created(c.backend.user_create(req).await?))
}
async fn user_disable(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<UserDto>> {
    Ok(Json(c.backend.user_disable(&id).await?))
}
async fn user_enable(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<UserDto>> {
    Ok(Json(c.backend.user_enable(&id).await?))
}
async fn user_update(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<UserUpdateRequest>,
) -> ApiResult<Json<UserDto>> {
    Ok(Json(c.backend.user_update(&id, req).await?))
}
async fn user_password_set(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<UserPasswordSetRequest>,
) -> ApiResult<Json<UserPasswordSet>> {
    Ok(Json(c.backend.user_password_set(&id, req).await?))
}
async fn user_impact_get(
    Extension(c): C,
    Path(id): Path<String>,
) -> ApiResult<Json<UserImpactDto>> {
    Ok(Json(c.backend.user_impact_get(&id).await?))
}
async fn user_delete(Extension(c): C, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.backend.user_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- keys ------------------------------------------------------------------------------

async fn keys_list(Extension(c): C) -> ApiResult<Json<Vec<KeyDto>>> {
    Ok(Json(c.backend.keys_list().await?))
}
async fn keys_rotate(
    Extension(c): C,
    Body(req): Body<KeysRotateRequest>,
) -> ApiResult<Json<Vec<KeyRotatedDto>>> {
    Ok(Json(c.backend.keys_rotate(req).await?))
}
async fn key_revoke(Extension(c): C, Path(kid): Path<String>) -> ApiResult<Json<KeyRevokedDto>> {
    Ok(Json(c.backend.key_revoke(&kid).await?))
}
async fn keys_schedule_get(Extension(c): C) -> ApiResult<Json<KeysScheduleDto>> {
    Ok(Json(c.backend.keys_schedule_get().await?))
}
async fn jwks_get(Extension(c): C) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(c.backend.jwks_get().await?))
}

// --- sessions and tokens ---------------------------------------------------------------

async fn sessions_list(
    Extension(c): C,
    Query(f): Query<SessionFilterDto>,
) -> ApiResult<Json<SessionPageDto>> {
    Ok(Json(c.backend.sessions_list(f).await?))
}
async fn session_get(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<SessionDto>> {
    Ok(Json(c.backend.session_get(&id).await?))
}
async fn session_revoke(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<RevokedDto>> {
    Ok(Json(c.backend.session_revoke(&id).await?))
}
async fn sessions_revoke(
    Extension(c): C,
    Body(req): Body<SessionsRevokeRequest>,
) -> ApiResult<Json<RevokeImpactDto>> {
    Ok(Json(c.backend.sessions_revoke(req).await?))
}
async fn token_introspect(
    Extension(c): C,
    Body(req): Body<TokenRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(c.backend.token_introspect(req).await?))
}
async fn token_revoke(
    Extension(c): C,
    Body(req): Body<TokenRequest>,
) -> ApiResult<Json<RevokedDto>> {
    Ok(Json(c.backend.token_revoke(req).await?))
}

// --- audit, stats, events --------------------------------------------------------------

async fn audit_list(
    Extension(c): C,
    Query(f): Query<AuditFilterDto>,
) -> ApiResult<Json<AuditPageDto>> {
    Ok(Json(c.backend.audit_list(f).await?))
}
async fn security_events_list(
    Extension(c): C,
    Query(f): Query<AuditFilterDto>,
) -> ApiResult<Json<AuditPageDto>> {
    Ok(Json(c.backend.security_events_list(f).await?))
}
async fn stats_get(Extension(c): C, Query(q): Query<StatsRequest>) -> ApiResult<Json<StatsDto>> {
    Ok(Json(c.backend.stats_get(q).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EventsQuery {
    after_id: Option<i64>,
}

/// How often an open event stream re-checks its credential when no event woke it (a
/// token that expires while nothing happens still ends the stream within this).
const CREDENTIAL_RECHECK: Duration = Duration::from_secs(5);

/// Server-sent events (HTML Living Standard §9.2): `id` is the audit event id, so a
/// reconnecting client's `Last-Event-ID` resumes exactly where it left off.
///
/// The credential is checked again before each batch of events and every
/// [`CREDENTIAL_RECHECK`]: when the API key is revoked or expires, the token expires or
/// is revoked, or the administrator is disabled or demoted, the stream sends one last
/// `ended` event saying why (`{"reason", "message"}`) and closes. Revoking a key or
/// disabling a user is itself an audited change, so the stream wakes for it at once.
async fn events_subscribe(
    State(st): State<Arc<AppState>>,
    Extension(c): C,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mut stopping = st.shutdown.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // The same credential the auth layer accepted (it is there, or we would not be here).
    let credential = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_default();
    let stream = c.backend.events_subscribe(q.after_id.or(resume)).await?;

    enum Wake {
        Event(Box<latchkey_admin::AdminResult<AdminEventDto>>),
        Recheck,
    }
    let ticks = futures_util::stream::unfold((), |_| async {
        tokio::time::sleep(CREDENTIAL_RECHECK).await;
        Some((Wake::Recheck, ()))
    });
    // One credential check per batch of ready events, not per event.
    let merged = futures_util::stream::select(stream.map(|e| Wake::Event(Box::new(e))), ticks)
        .take_until(async move {
            let _ = stopping.wait_for(|s| *s).await;
        })
        .ready_chunks(64)
        .boxed();
    let events = futures_util::stream::unfold(
        (merged, st, credential, false),
        |(mut merged, st, credential, ended)| async move {
            if ended {
                return None;
            }
            let batch = merged.next().await?;
            let mut out = Vec::new();
            let mut end = false;
            if super::auth::identify(&st, &credential, None).await.is_err() {
                let (reason, message) = why_refused(&st, &credential).await;
                if let Ok(ev) = Event::default()
                    .event("ended")
                    .json_data(serde_json::json!({"reason": reason, "message": message}))
                {
                    out.push(Ok::<_, std::convert::Infallible>(ev));
                }
                end = true;
            } else {
                for wake in batch {
                    match wake {
                        Wake::Recheck => {}
                        Wake::Event(e) => match *e {
                            Ok(e) => {
                                if let Ok(ev) = Event::default()
                                    .id(e.event.id.to_string())
                                    .event(e.kind.clone())
                                    .json_data(&e)
                                {
                                    out.push(Ok(ev));
                                }
                            }
                            Err(_) => {
                                end = true;
                                break;
                            }
                        },
                    }
                }
            }
            Some((
                futures_util::stream::iter(out),
                (merged, st, credential, end),
            ))
        },
    )
    .flatten();
    Ok(Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("keep-alive"),
        )
        .into_response())
}

/// Why a credential that was accepted when the stream opened is refused now, in words
/// for the final `ended` event (no secret in it: the key or token is never echoed).
async fn why_refused(st: &AppState, credential: &str) -> (&'static str, &'static str) {
    let m = st.admin.manager();
    let now = m.now();
    if credential.starts_with(latchkey_core::manage::API_KEY_PREFIX) {
        let hash = latchkey_core::crypto::sha256(credential.as_bytes());
        return match m.store().api_key_by_hash(&hash).await {
            Ok(Some(k)) if k.revoked_at.is_some() => ("api_key_revoked", "the API key was revoked"),
            Ok(Some(k)) if k.expires_at.is_some_and(|e| e <= now) => {
                ("api_key_expired", "the API key expired")
            }
            _ => ("credential_refused", "the API key is no longer accepted"),
        };
    }
    let Ok(parsed) = latchkey_core::jwt::parse(credential) else {
        return (
            "credential_refused",
            "the access token is no longer accepted",
        );
    };
    if parsed.int_claim("exp").is_some_and(|exp| exp <= now) {
        return ("token_expired", "the access token expired");
    }
    let sub = parsed.str_claim("sub").unwrap_or_default();
    match m.store().user_get(sub).await {
        Ok(Some(u)) if u.disabled => ("admin_disabled", "the administrator was disabled"),
        Ok(Some(u)) if !u.is_admin => ("admin_demoted", "the user is no longer an administrator"),
        Ok(None) => ("admin_disabled", "the administrator no longer exists"),
        _ => ("token_revoked", "the access token was revoked"),
    }
}

// --- API keys --------------------------------------------------------------------------

async fn api_keys_list(Extension(c): C) -> ApiResult<Json<Vec<ApiKeyDto>>> {
    Ok(Json(c.backend.api_keys_list().await?))
}
async fn api_key_create(
    Extension(c): C,
    Body(req): Body<ApiKeyCreateRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.api_key_create(req).await?))
}
async fn api_key_revoke(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<ApiKeyDto>> {
    Ok(Json(c.backend.api_key_revoke(&id).await?))
}

// --- runtime settings ------------------------------------------------------------------

async fn settings_get(Extension(c): C) -> ApiResult<Json<SettingsDto>> {
    Ok(Json(c.backend.settings_get().await?))
}
async fn settings_update(
    Extension(c): C,
    Body(req): Body<SettingsUpdateRequest>,
) -> ApiResult<Json<SettingsDto>> {
    Ok(Json(c.backend.settings_update(req).await?))
}

// --- token exchange (RFC 8693) ---------------------------------------------------------

async fn exchange_policies_list(Extension(c): C) -> ApiResult<Json<Vec<ExchangePolicyDto>>> {
    Ok(Json(c.backend.exchange_policies_list().await?))
}
async fn exchange_policy_create(
    Extension(c): C,
    Body(req): Body<ExchangePolicyCreateRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.exchange_policy_create(req).await?))
}
async fn exchange_policy_get(
    Extension(c): C,
    Path(id): Path<String>,
) -> ApiResult<Json<ExchangePolicyDto>> {
    Ok(Json(c.backend.exchange_policy_get(&id).await?))
}
async fn exchange_policy_update(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<ExchangePolicyUpdateRequest>,
) -> ApiResult<Json<ExchangePolicyDto>> {
    Ok(Json(c.backend.exchange_policy_update(&id, req).await?))
}
async fn exchange_policy_delete(Extension(c): C, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.backend.exchange_policy_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn exchange_policy_explain(
    Extension(c): C,
    Body(req): Body<ExchangeExplainRequest>,
) -> ApiResult<Json<ExchangeExplainDto>> {
    Ok(Json(c.backend.exchange_policy_explain(req).await?))
}

// --- anomaly monitoring ------------------------------------------------------------------

async fn findings_list(
    Extension(c): C,
    Query(f): Query<FindingFilterDto>,
) -> ApiResult<Json<Vec<FindingDto>>> {
    Ok(Json(c.backend.findings_list(f).await?))
}
async fn finding_get(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<FindingDto>> {
    Ok(Json(c.backend.finding_get(&id).await?))
}
async fn finding_ack(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<FindingDto>> {
    Ok(Json(c.backend.finding_ack(&id).await?))
}
async fn blocks_list(Extension(c): C) -> ApiResult<Json<Vec<BlockDto>>> {
    Ok(Json(c.backend.blocks_list().await?))
}
/// This node's block list is re-read on its next check, so the block applies to the
/// very next request here (other nodes: within a second).
async fn block_add(
    State(st): State<Arc<AppState>>,
    Extension(c): C,
    Body(req): Body<BlockAddRequest>,
) -> ApiResult<Response> {
    let b = c.backend.block_add(req).await?;
    st.monitor.invalidate_blocks();
    Ok(created(b))
}
async fn security_profile_get(
    Extension(c): C,
    Query(q): Query<SecurityProfileQuery>,
) -> ApiResult<Json<SecurityProfileDto>> {
    Ok(Json(c.backend.security_profile_get(q).await?))
}
async fn block_remove(
    State(st): State<Arc<AppState>>,
    Extension(c): C,
    Body(req): Body<BlockRemoveRequest>,
) -> ApiResult<StatusCode> {
    c.backend.block_remove(req).await?;
    st.monitor.invalidate_blocks();
    Ok(StatusCode::NO_CONTENT)
}

async fn webhooks_list(Extension(c): C) -> ApiResult<Json<Vec<WebhookDto>>> {
    Ok(Json(c.backend.webhooks_list().await?))
}
async fn webhook_create(
    Extension(c): C,
    Body(req): Body<WebhookCreateRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.webhook_create(req).await?))
}
async fn webhook_get(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<WebhookDto>> {
    Ok(Json(c.backend.webhook_get(&id).await?))
}
async fn webhook_update(
    Extension(c): C,
    Path(id): Path<String>,
    Body(req): Body<WebhookUpdateRequest>,
) -> ApiResult<Json<WebhookDto>> {
    Ok(Json(c.backend.webhook_update(&id, req).await?))
}
async fn webhook_delete(Extension(c): C, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.backend.webhook_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn webhook_test(Extension(c): C, Path(id): Path<String>) -> ApiResult<Json<WebhookTestDto>> {
    Ok(Json(c.backend.webhook_test(&id).await?))
}
// --- configuration as code ---------------------------------------------------------------

async fn config_export(Extension(c): C) -> ApiResult<Json<ConfigExportDto>> {
    Ok(Json(c.backend.config_export().await?))
}
async fn config_plan(
    Extension(c): C,
    Body(mut req): Body<ConfigPlanRequest>,
) -> ApiResult<Json<ConfigPlanDto>> {
    // A plan with secret values says whether each matches a client's current secret: an
    // oracle without the token endpoint's failure limits, so only for read-write
    // credentials. A read-only one (a CI plan job) gets the plan without comparing them.
    if !c.can_write {
        req.secrets.clear();
    }
    Ok(Json(c.backend.config_plan(req).await?))
}
async fn config_apply(
    Extension(c): C,
    Body(req): Body<ConfigApplyRequest>,
) -> ApiResult<Json<ConfigAppliedDto>> {
    Ok(Json(c.backend.config_apply(req).await?))
}

/// Refused here, whatever the backend: a file path chosen by an admin API caller is
/// never written on the server's machine. Backups are made there, by its operator.
async fn backup_create(
    Extension(_c): C,
    Body(_req): Body<BackupCreateRequest>,
) -> ApiResult<Json<BackupCreatedDto>> {
    // 403, not 503: nothing to retry, the operation is not offered here.
    Err(super::ApiError(latchkey_admin::AdminError::new(
        ErrorCode::Forbidden,
        "backup is not available through a server's admin API: run `latchkey backup --db PATH \
         --to FILE` on the server (SQLite), or pg_dump (PostgreSQL)",
    )))
}

async fn registration_tokens_list(Extension(c): C) -> ApiResult<Json<Vec<RegistrationTokenDto>>> {
    Ok(Json(c.backend.registration_tokens_list().await?))
}
async fn registration_token_create(
    Extension(c): C,
    Body(req): Body<RegistrationTokenCreateRequest>,
) -> ApiResult<Response> {
    Ok(created(c.backend.registration_token_create(req).await?))
}
async fn registration_token_revoke(
    Extension(c): C,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    c.backend.registration_token_revoke(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
