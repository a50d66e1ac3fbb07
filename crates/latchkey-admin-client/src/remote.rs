//! The remote backend: every [`AdminBackend`] operation as one call of a running
//! server's admin API (`/admin/v1/…`). Each method names its operation's constant in the
//! op table (`latchkey_api_types::ops::op`), which gives the HTTP method and route, so
//! the client's paths are the server's by construction.
//!
//! Errors come back as the server's `{"code","message"}` unchanged, so a caller sees
//! the same codes as from the embedded backend; a connection that fails is
//! `unavailable`, naming the server. The bearer credential never reaches a log line or
//! an error message: it lives in [`Secret`]s and only goes into the `Authorization`
//! header.

use crate::signin::{self, now, unavailable, Credential, Secret, TokenSet};
use crate::{AdminBackend, AdminError, AdminResult, EventStream};
use futures_util::StreamExt;
use latchkey_api_types::ops::{op, AdminOp, HttpMethod};
use latchkey_api_types::*;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// A plain admin call may take this long, end to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The event stream sends a keep-alive comment well within this; silence this long
/// means the connection is gone.
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// Called with the new tokens after every refresh, so the caller can store them (a
/// rotated refresh token is the only one that still works).
pub type OnRefresh = Arc<dyn Fn(&TokenSet) + Send + Sync>;

/// [`AdminBackend`] over the admin API of a `latchkey serve`.
pub struct Remote {
    /// The admin API's origin (and path prefix, behind a proxy), without `/admin/v1`.
    base: String,
    http: reqwest::Client,
    credential: tokio::sync::Mutex<Credential>,
    on_refresh: Option<OnRefresh>,
    /// Set once a sign-in's issuer has vouched for this admin API
    /// ([`signin::vouch_stored`]); no OAuth token is sent before.
    vouched: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The unreserved characters of RFC 3986 §2.3; everything else in a path segment is
/// percent-encoded (§2.1), `/` and `?` included, so an id can never change the route.
fn encode_segment(seg: &str) -> String {
    // "." and ".." are dot-segments (§3.3) that a proxy would resolve away.
    if seg.chars().all(|c| c == '.') {
        return seg.replace('.', "%2E");
    }
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request's body, if any: serialised here so the retry after a refresh can resend it.
type Body = Option<serde_json::Value>;

fn body<T: Serialize>(v: &T) -> AdminResult<Body> {
    serde_json::to_value(v).map(Some).map_err(|e| {
        AdminError::new(
            ErrorCode::Internal,
            format!("cannot encode the request: {e}"),
        )
    })
}

/// The filter DTOs are flat structs of scalars: their JSON members become `k=v`
/// pairs, absent ones (`null`) are left out.
fn query<T: Serialize>(v: &T) -> AdminResult<String> {
    let value = serde_json::to_value(v).map_err(|e| {
        AdminError::new(ErrorCode::Internal, format!("cannot encode the query: {e}"))
    })?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            match v {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => {
                    q.append_pair(&k, &s);
                }
                other => {
                    q.append_pair(&k, &other.to_string());
                }
            }
        }
    }
    Ok(q.finish())
}

impl Remote {
    /// A backend for the admin API at `server` (e.g. `https://id.example.com:8443`,
    /// or `http://127.0.0.1:8081` on loopback), authenticating with `credential`.
    pub fn new(server: &str, credential: Credential) -> AdminResult<Remote> {
        let u = signin::check_transport(server)?;
        let http = reqwest::Client::builder()
            // A redirect would re-send the bearer to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("latchkey-admin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                AdminError::new(
                    ErrorCode::Internal,
                    format!("cannot build HTTP client: {e}"),
                )
            })?;
        Ok(Remote {
            base: u.as_str().trim_end_matches('/').to_string(),
            http,
            credential: tokio::sync::Mutex::new(credential),
            on_refresh: None,
            vouched: tokio::sync::OnceCell::new(),
        })
    }

    /// Calls `f` with the new tokens after each refresh (to keep them in a keyring).
    pub fn on_refresh(mut self, f: OnRefresh) -> Self {
        self.on_refresh = Some(f);
        self
    }

    /// The server this backend talks to, as given.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// The credential as it is now (after any refresh).
    pub async fn credential(&self) -> Credential {
        self.credential.lock().await.clone()
    }

    /// The URL of `op` with its `{param}` placeholders filled, in order, from `params`
    /// (each percent-encoded as one segment).
    fn url(&self, op: &AdminOp, params: &[&str], query: Option<&str>) -> AdminResult<String> {
        let mut u = self.base.clone();
        let mut params = params.iter();
        // Every route is absolute (`/admin/v1/…`): one segment per `/`.
        for seg in op.path.trim_start_matches('/').split('/') {
            u.push('/');
            if seg.starts_with('{') {
                let Some(p) = params.next() else {
                    return Err(param_count(op));
                };
                u.push_str(&encode_segment(p));
            } else {
                u.push_str(seg);
            }
        }
        if params.next().is_some() {
            return Err(param_count(op));
        }
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            u.push('?');
            u.push_str(q);
        }
        Ok(u)
    }

    /// The bearer to send, refreshing an OAuth token that has expired (or, with
    /// `force`, one the server just refused).
    async fn bearer(&self, force_refresh: bool) -> AdminResult<Secret> {
        let mut cred = self.credential.lock().await;
        match &*cred {
            Credential::ApiKey(k) => Ok(k.clone()),
            Credential::OAuth(t) => {
                // Issue 10 §3: a person's token goes only to an admin API its issuer
                // names in discovery, checked before the first request of this backend
                // (stored sign-ins included). API keys belong to one server already.
                self.vouched
                    .get_or_try_init(|| signin::vouch_stored(&self.http, &self.base, t))
                    .await?;
                if !(force_refresh || t.expires_soon(now())) {
                    return Ok(t.access_token.clone());
                }
                let fresh = signin::refresh(&self.http, t).await?;
                if let Some(f) = &self.on_refresh {
                    f(&fresh);
                }
                let at = fresh.access_token.clone();
                *cred = Credential::OAuth(fresh);
                Ok(at)
            }
        }
    }

    async fn is_oauth(&self) -> bool {
        matches!(&*self.credential.lock().await, Credential::OAuth(_))
    }

    /// Sends one request; on a 401 with OAuth tokens, refreshes once and retries.
    /// Returns the successful response, or the server's error as an [`AdminError`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        streaming: bool,
    ) -> AdminResult<reqwest::Response> {
        let mut refreshed = false;
        loop {
            let bearer = self.bearer(refreshed).await?;
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(bearer.expose());
            if streaming {
                req = req.header(reqwest::header::ACCEPT, "text/event-stream");
            } else {
                req = req.timeout(REQUEST_TIMEOUT);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| unavailable(&format!("the admin API at {}", self.base), &e))?;
            if resp.status() == StatusCode::UNAUTHORIZED && !refreshed && self.is_oauth().await {
                refreshed = true;
                continue;
            }
            if resp.status().is_success() {
                return Ok(resp);
            }
            return Err(self.error_of(resp).await);
        }
    }

    /// The server's error body unchanged; a body that is not one (a proxy's page)
    /// becomes the code its status stands for.
    async fn error_of(&self, resp: reqwest::Response) -> AdminError {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.unwrap_or_default();
        if let Ok(e) = serde_json::from_slice::<ApiErrorDto>(&bytes) {
            return e.into();
        }
        let code = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidInput,
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ErrorCode::NotFound,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        let mut message = format!(
            "the admin API at {} answered HTTP {}",
            self.base,
            status.as_u16()
        );
        if let Some(r) = retry_after {
            message.push_str(&format!(" (retry after {r} s)"));
        }
        AdminError::new(code, message)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        op: &AdminOp,
        params: &[&str],
        query: Option<&str>,
        body: Body,
    ) -> AdminResult<T> {
        let url = self.url(op, params, query)?;
        let resp = self.send(method(op), &url, &body, false).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unavailable(&format!("the admin API at {}", self.base), &e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            AdminError::new(
                ErrorCode::Internal,
                format!(
                    "the admin API at {} sent an unexpected answer: {e}",
                    self.base
                ),
            )
        })
    }

    /// For routes that answer 204 No Content.
    async fn call_empty(&self, op: &AdminOp, params: &[&str], body: Body) -> AdminResult<()> {
        let url = self.url(op, params, None)?;
        self.send(method(op), &url, &body, false).await.map(drop)
    }
}

fn method(op: &AdminOp) -> Method {
    match op.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
    }
}

/// A method below passed the wrong number of path parameters for its route: a bug
/// here, reported rather than sent somewhere else.
fn param_count(op: &AdminOp) -> AdminError {
    AdminError::new(
        ErrorCode::Internal,
        format!(
            "{} needs its route's path parameters ({})",
            op.name, op.path
        ),
    )
}

#[async_trait::async_trait]
impl AdminBackend for Remote {
    async fn clients_list(&self) -> AdminResult<Vec<ClientDto>> {
        self.call(&op::clients_list, &[], None, None).await
    }

    async fn client_get(&self, id: &str) -> AdminResult<ClientDto> {
        self.call(&op::client_get, &[id], None, None).await
    }

    async fn client_create(&self, req: ClientCreateRequest) -> AdminResult<ClientCreated> {
        self.call(&op::client_create, &[], None, body(&req)?).await
    }

    async fn client_update(&self, id: &str, req: ClientUpdateRequest) -> AdminResult<ClientDto> {
        self.call(&op::client_update, &[id], None, body(&req)?)
            .await
    }

    async fn client_delete(&self, id: &str) -> AdminResult<()> {
        self.call_empty(&op::client_delete, &[id], None).await
    }

    async fn client_rotate_secret(
        &self,
        id: &str,
        req: SecretRotateRequest,
    ) -> AdminResult<SecretRotated> {
        self.call(&op::client_rotate_secret, &[id], None, body(&req)?)
            .await
    }

    async fn client_set_disabled(&self, id: &str, disabled: bool) -> AdminResult<ClientDto> {
        let req = ClientSetDisabledRequest { disabled };
        self.call(&op::client_set_disabled, &[id], None, body(&req)?)
            .await
    }

    async fn client_impact_get(&self, id: &str) -> AdminResult<ClientImpactDto> {
        self.call(&op::client_impact_get, &[id], None, None).await
    }

    async fn user_impact_get(&self, id: &str) -> AdminResult<UserImpactDto> {
        self.call(&op::user_impact_get, &[id], None, None).await
    }

    async fn user_delete(&self, id: &str) -> AdminResult<()> {
        self.call_empty(&op::user_delete, &[id], None).await
    }

    async fn client_clone(&self, id: &str, req: ClientCloneRequest) -> AdminResult<ClientCreated> {
        self.call(&op::client_clone, &[id], None, body(&req)?).await
    }

    async fn scopes_list(&self) -> AdminResult<Vec<ScopeDto>> {
        self.call(&op::scopes_list, &[], None, None).await
    }

    async fn scope_create(&self, req: ScopeCreateRequest) -> AdminResult<ScopeDto> {
        self.call(&op::scope_create, &[], None, body(&req)?).await
    }

    async fn scope_delete(&self, name: &str) -> AdminResult<()> {
        self.call_empty(&op::scope_delete, &[name], None).await
    }

    async fn users_list(&self) -> AdminResult<Vec<UserDto>> {
        self.call(&op::users_list, &[], None, None).await
    }

    async fn user_get(&self, id: &str) -> AdminResult<UserDto> {
        self.call(&op::user_get, &[id], None, None).await
    }

    async fn user_create(&self, req: UserCreateRequest) -> AdminResult<UserDto> {
        self.call(&op::user_create, &[], None, body(&req)?).await
    }

    async fn user_disable(&self, id: &str) -> AdminResult<UserDto> {
        self.call(&op::user_disable, &[id], None, None).await
    }

    async fn user_enable(&self, id: &str) -> AdminResult<UserDto> {
        self.call(&op::user_enable, &[id], None, None).await
    }

    async fn user_update(&self, id: &str, req: UserUpdateRequest) -> AdminResult<UserDto> {
        self.call(&op::user_update, &[id], None, body(&req)?).await
    }

    async fn user_password_set(
        &self,
        id: &str,
        req: UserPasswordSetRequest,
    ) -> AdminResult<UserPasswordSet> {
        self.call(&op::user_password_set, &[id], None, body(&req)?)
            .await
    }

    async fn keys_list(&self) -> AdminResult<Vec<KeyDto>> {
        self.call(&op::keys_list, &[], None, None).await
    }

    async fn keys_rotate(&self, req: KeysRotateRequest) -> AdminResult<Vec<KeyRotatedDto>> {
        self.call(&op::keys_rotate, &[], None, body(&req)?).await
    }

    async fn key_revoke(&self, kid: &str) -> AdminResult<KeyRevokedDto> {
        self.call(&op::key_revoke, &[kid], None, None).await
    }

    async fn keys_schedule_get(&self) -> AdminResult<KeysScheduleDto> {
        self.call(&op::keys_schedule_get, &[], None, None).await
    }

    async fn jwks_get(&self) -> AdminResult<serde_json::Value> {
        self.call(&op::jwks_get, &[], None, None).await
    }

    async fn sessions_list(&self, filter: SessionFilterDto) -> AdminResult<SessionPageDto> {
        let q = query(&filter)?;
        self.call(&op::sessions_list, &[], Some(&q), None).await
    }

    async fn session_get(&self, id: &str) -> AdminResult<SessionDto> {
        self.call(&op::session_get, &[id], None, None).await
    }

    async fn session_revoke(&self, id: &str) -> AdminResult<RevokedDto> {
        self.call(&op::session_revoke, &[id], None, None).await
    }

    async fn sessions_revoke(&self, req: SessionsRevokeRequest) -> AdminResult<RevokeImpactDto> {
        self.call(&op::sessions_revoke, &[], None, body(&req)?)
            .await
    }

    async fn token_introspect(&self, req: TokenRequest) -> AdminResult<serde_json::Value> {
        self.call(&op::token_introspect, &[], None, body(&req)?)
            .await
    }

    async fn token_revoke(&self, req: TokenRequest) -> AdminResult<RevokedDto> {
        self.call(&op::token_revoke, &[], None, body(&req)?).await
    }

    async fn audit_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto> {
        let q = query(&filter)?;
        self.call(&op::audit_list, &[], Some(&q), None).await
    }

    async fn security_events_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto> {
        let q = query(&filter)?;
        self.call(&op::security_events_list, &[], Some(&q), None)
            .await
    }

    async fn stats_get(&self, req: StatsRequest) -> AdminResult<StatsDto> {
        let q = query(&req)?;
        self.call(&op::stats_get, &[], Some(&q), None).await
    }

    async fn health_get(&self) -> AdminResult<HealthDto> {
        // No credential needed (monitoring probes have none), so none is sent: a
        // health check must not trigger a refresh.
        let url = self.url(&op::health_get, &[], None)?;
        let resp = self
            .http
            .request(method(&op::health_get), &url)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(&format!("the admin API at {}", self.base), &e))?;
        if !resp.status().is_success() {
            return Err(self.error_of(resp).await);
        }
        resp.json().await.map_err(|e| {
            AdminError::new(
                ErrorCode::Internal,
                format!(
                    "the admin API at {} sent an unexpected answer: {e}",
                    self.base
                ),
            )
        })
    }

    async fn events_subscribe(&self, after_id: Option<i64>) -> AdminResult<EventStream> {
        let q = after_id.map(|id| format!("after_id={id}"));
        let url = self.url(&op::events_subscribe, &[], q.as_deref())?;
        let resp = self
            .send(method(&op::events_subscribe), &url, &None, true)
            .await?;
        let server = self.base.clone();
        Ok(Box::pin(sse_events(resp.bytes_stream(), server)))
    }

    async fn api_keys_list(&self) -> AdminResult<Vec<ApiKeyDto>> {
        self.call(&op::api_keys_list, &[], None, None).await
    }

    async fn api_key_create(&self, req: ApiKeyCreateRequest) -> AdminResult<ApiKeyCreated> {
        self.call(&op::api_key_create, &[], None, body(&req)?).await
    }

    async fn api_key_revoke(&self, id: &str) -> AdminResult<ApiKeyDto> {
        self.call(&op::api_key_revoke, &[id], None, None).await
    }

    async fn settings_get(&self) -> AdminResult<SettingsDto> {
        self.call(&op::settings_get, &[], None, None).await
    }

    async fn settings_update(&self, req: SettingsUpdateRequest) -> AdminResult<SettingsDto> {
        self.call(&op::settings_update, &[], None, body(&req)?)
            .await
    }

    async fn exchange_policies_list(&self) -> AdminResult<Vec<ExchangePolicyDto>> {
        self.call(&op::exchange_policies_list, &[], None, None)
            .await
    }

    async fn exchange_policy_get(&self, id: &str) -> AdminResult<ExchangePolicyDto> {
        self.call(&op::exchange_policy_get, &[id], None, None).await
    }

    async fn exchange_policy_create(
        &self,
        req: ExchangePolicyCreateRequest,
    ) -> AdminResult<ExchangePolicyDto> {
        self.call(&op::exchange_policy_create, &[], None, body(&req)?)
            .await
    }

    async fn exchange_policy_update(
        &self,
        id: &str,
        req: ExchangePolicyUpdateRequest,
    ) -> AdminResult<ExchangePolicyDto> {
        self.call(&op::exchange_policy_update, &[id], None, body(&req)?)
            .await
    }

    async fn exchange_policy_delete(&self, id: &str) -> AdminResult<()> {
        self.call_empty(&op::exchange_policy_delete, &[id], None)
            .await
    }

    async fn exchange_policy_explain(
        &self,
        req: ExchangeExplainRequest,
    ) -> AdminResult<ExchangeExplainDto> {
        self.call(&op::exchange_policy_explain, &[], None, body(&req)?)
            .await
    }

    async fn findings_list(&self, filter: FindingFilterDto) -> AdminResult<Vec<FindingDto>> {
        let q = query(&filter)?;
        self.call(&op::findings_list, &[], Some(&q), None).await
    }

    async fn finding_get(&self, id: &str) -> AdminResult<FindingDto> {
        self.call(&op::finding_get, &[id], None, None).await
    }

    async fn finding_ack(&self, id: &str) -> AdminResult<FindingDto> {
        self.call(&op::finding_ack, &[id], None, None).await
    }

    async fn blocks_list(&self) -> AdminResult<Vec<BlockDto>> {
        self.call(&op::blocks_list, &[], None, None).await
    }

    async fn block_add(&self, req: BlockAddRequest) -> AdminResult<BlockDto> {
        self.call(&op::block_add, &[], None, body(&req)?).await
    }

    async fn block_remove(&self, req: BlockRemoveRequest) -> AdminResult<()> {
        self.call_empty(&op::block_remove, &[], body(&req)?).await
    }

    async fn security_profile_get(
        &self,
        q: SecurityProfileQuery,
    ) -> AdminResult<SecurityProfileDto> {
        let q = query(&q)?;
        self.call(&op::security_profile_get, &[], Some(&q), None)
            .await
    }

    async fn webhooks_list(&self) -> AdminResult<Vec<WebhookDto>> {
        self.call(&op::webhooks_list, &[], None, None).await
    }

    async fn webhook_create(&self, req: WebhookCreateRequest) -> AdminResult<WebhookCreated> {
        self.call(&op::webhook_create, &[], None, body(&req)?).await
    }

    async fn webhook_get(&self, id: &str) -> AdminResult<WebhookDto> {
        self.call(&op::webhook_get, &[id], None, None).await
    }

    async fn webhook_update(&self, id: &str, req: WebhookUpdateRequest) -> AdminResult<WebhookDto> {
        self.call(&op::webhook_update, &[id], None, body(&req)?)
            .await
    }

    async fn webhook_delete(&self, id: &str) -> AdminResult<()> {
        self.call_empty(&op::webhook_delete, &[id], None).await
    }

    async fn webhook_test(&self, id: &str) -> AdminResult<WebhookTestDto> {
        self.call(&op::webhook_test, &[id], None, None).await
    }

    /// Answered here, without a request: a server never writes a file an admin API
    /// caller names, and its operator backs it up on its machine.
    async fn backup_create(&self, _req: BackupCreateRequest) -> AdminResult<BackupCreatedDto> {
        Err(AdminError::new(
            ErrorCode::Forbidden,
            "backup is not available for a remote server: run `latchkey backup --db PATH \
             --to FILE` on the server (SQLite), or pg_dump (PostgreSQL)",
        ))
    }

    async fn config_export(&self) -> AdminResult<ConfigExportDto> {
        self.call(&op::config_export, &[], None, None).await
    }

    /// The secrets the document references travel to the server in this body (as a
    /// client secret does to `client_create`), over the admin API's TLS.
    async fn config_plan(&self, req: ConfigPlanRequest) -> AdminResult<ConfigPlanDto> {
        self.call(&op::config_plan, &[], None, body(&req)?).await
    }

    async fn config_apply(&self, req: ConfigApplyRequest) -> AdminResult<ConfigAppliedDto> {
        self.call(&op::config_apply, &[], None, body(&req)?).await
    }

    async fn registration_tokens_list(&self) -> AdminResult<Vec<RegistrationTokenDto>> {
        self.call(&op::registration_tokens_list, &[], None, None)
            .await
    }

    async fn registration_token_create(
        &self,
        req: RegistrationTokenCreateRequest,
    ) -> AdminResult<RegistrationTokenCreated> {
        self.call(&op::registration_token_create, &[], None, body(&req)?)
            .await
    }

    async fn registration_token_revoke(&self, id: &str) -> AdminResult<()> {
        self.call_empty(&op::registration_token_revoke, &[id], None)
            .await
    }
}

/// One parsed server-sent event (HTML Living Standard §9.2.6, "Interpreting an event
/// stream"): only the fields this API sends.
#[derive(Debug, Default, PartialEq, Eq)]
struct SseEvent {
    data: String,
    event: Option<String>,
    id: Option<String>,
}

/// Splits complete events off the front of `buf`; what is left is an incomplete one.
/// Comment lines (`: keep-alive`) are dropped; an event without data is not dispatched.
fn take_events(buf: &mut String) -> Vec<SseEvent> {
    let mut out = Vec::new();
    // The caller has turned CRLF and CR line ends into LF, so one rule splits events.
    while let Some(end) = buf.find("\n\n") {
        let block: String = buf.drain(..end + 2).collect();
        let mut ev = SseEvent::default();
        let mut has_data = false;
        for line in block.lines() {
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    if has_data {
                        ev.data.push('\n');
                    }
                    ev.data.push_str(value);
                    has_data = true;
                }
                "event" => ev.event = Some(value.to_string()),
                "id" => ev.id = Some(value.to_string()),
                _ => {}
            }
        }
        if has_data {
            out.push(ev);
        }
    }
    out
}

/// The admin events of an SSE body. The stream ends with an `unavailable` error when
/// the connection drops or ends (the server never ends it on its own): reconnecting,
/// with the last event's id as `after_id`, is the caller's decision.
fn sse_events<S, B>(
    bytes: S,
    server: String,
) -> impl futures_util::Stream<Item = AdminResult<AdminEventDto>> + Send
where
    S: futures_util::Stream<Item = reqwest::Result<B>> + Send + 'static,
    B: AsRef<[u8]>,
{
    struct St<S> {
        bytes: std::pin::Pin<Box<S>>,
        buf: String,
        pending: std::collections::VecDeque<AdminResult<AdminEventDto>>,
        done: bool,
        server: String,
    }
    let st = St {
        bytes: Box::pin(bytes),
        buf: String::new(),
        pending: Default::default(),
        done: false,
        server,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            match st.bytes.next().await {
                Some(Ok(chunk)) => {
                    st.buf.push_str(&String::from_utf8_lossy(chunk.as_ref()));
                    if st.buf.contains('\r') {
                        st.buf = st.buf.replace("\r\n", "\n").replace('\r', "\n");
                    }
                    for ev in take_events(&mut st.buf) {
                        // The server's last word when our credential stopped being good
                        // (key revoked or expired, token expired, administrator disabled).
                        if ev.event.as_deref() == Some("ended") {
                            let why: serde_json::Value =
                                serde_json::from_str(&ev.data).unwrap_or_default();
                            let message = why["message"].as_str().unwrap_or("credential refused");
                            st.pending.push_back(Err(AdminError::new(
                                ErrorCode::Unauthorized,
                                format!("{} ended the event stream: {message}", st.server),
                            )));
                            st.done = true;
                            break;
                        }
                        let parsed = serde_json::from_str::<AdminEventDto>(&ev.data).map_err(|e| {
                            AdminError::new(
                                ErrorCode::Internal,
                                format!(
                                    "the admin API at {} sent an unreadable event: {e}",
                                    st.server
                                ),
                            )
                        });
                        st.pending.push_back(parsed);
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    st.pending.push_back(Err(AdminError::new(
                        ErrorCode::Unavailable,
                        format!("lost the event stream of {}: {e}", st.server),
                    )));
                }
                None => {
                    st.done = true;
                    st.pending.push_back(Err(AdminError::new(
                        ErrorCode::Unavailable,
                        format!("the event stream of {} ended", st.server),
                    )));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded_so_an_id_cannot_change_the_route() {
        assert_eq!(encode_segment("abc-DEF_1.2~"), "abc-DEF_1.2~");
        assert_eq!(encode_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn filters_become_flat_query_strings_without_absent_fields() {
        let q = query(&SessionFilterDto {
            user: Some("alice smith".into()),
            limit: Some(5),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(q, "limit=5&user=alice+smith");
        let q = query(&AuditFilterDto {
            security_only: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(q, "security_only=true");
    }

    #[test]
    fn server_sent_events_are_split_and_comments_skipped() {
        let mut buf = String::from(
            ": keep-alive\n\nid: 7\nevent: client_changed\ndata: {\"a\":1}\n\nid: 8\ndata: x\ndata: y\n\nid: 9\nda",
        );
        let evs = take_events(&mut buf);
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    data: "{\"a\":1}".into(),
                    event: Some("client_changed".into()),
                    id: Some("7".into())
                },
                SseEvent {
                    data: "x\ny".into(),
                    event: None,
                    id: Some("8".into())
                },
            ]
        );
        assert_eq!(buf, "id: 9\nda");
    }

    #[test]
    fn a_remote_over_plain_http_is_refused_unless_on_loopback() {
        let key = || Credential::ApiKey(Secret::new("lk_x"));
        assert!(Remote::new("http://127.0.0.1:8081", key()).is_ok());
        let e = Remote::new("http://admin.example:8081", key()).unwrap_err();
        assert_eq!(e.code, "invalid_input");
        let r = Remote::new("https://admin.example/", key()).unwrap();
        assert_eq!(
            r.url(&op::client_get, &["a b"], Some("x=1")).unwrap(),
            "https://admin.example/admin/v1/clients/a%20b?x=1"
        );
        assert_eq!(
            r.url(&op::session_revoke, &["../x"], None).unwrap(),
            "https://admin.example/admin/v1/sessions/..%2Fx/revoke"
        );
        // A route's parameters are all filled, never fewer or more.
        assert!(r.url(&op::client_get, &[], None).is_err());
        assert!(r.url(&op::clients_list, &["x"], None).is_err());
        assert!(!format!("{r:?}").contains("lk_x"));
    }
}
