//! Domain types ↔ wire DTOs. Kept here, at the edge, so `latchkey-api-types` needs no
//! dependency on the engine and the engine knows nothing of the wire.

use crate::{AdminError, AdminResult};
use latchkey_api_types::*;
use latchkey_core::manage::{
    ClientCreated as CoreClientCreated, ClientUpdate, ExchangePolicyPatch, KeyRevocation,
    KeyRotation, NewClient, NewExchangePolicy, NewScope, NewUser,
    SecretRotated as CoreSecretRotated, SecurityProfile, SessionQuery, SessionSelector,
    SettingsPatch, SettingsView,
};
use latchkey_core::model::{
    Alg, ApiKey, AuditEvent, AuditFilter, AuthMethod, Block, Client, ClientType, ExchangePolicy,
    Finding, GrantType, RevokeImpact, Scope, SessionSort, SessionStateFilter, SigningKey,
    StoreStats, TokenTypeUri, User,
};
use latchkey_core::oauth::exchange::{Evaluation, ExchangeRequest, TokenFacts};
use latchkey_core::settings::FIELDS;
use latchkey_core::store::SessionInfo;
use serde_json::Value;
use std::str::FromStr;

/// Parses one of a closed set of RFC strings, listing the accepted ones on failure.
fn parse_enum<T>(what: &str, s: &str, all: &[T]) -> Result<T, AdminError>
where
    T: FromStr + Copy + std::fmt::Display,
{
    T::from_str(s).map_err(|_| {
        let accepted: Vec<String> = all.iter().map(ToString::to_string).collect();
        let shown: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
        AdminError::invalid_input(format!(
            "unknown {what} \"{shown}\"; expected one of: {}",
            accepted.join(", ")
        ))
    })
}

pub(crate) fn parse_client_type(s: &str) -> Result<ClientType, AdminError> {
    parse_enum("client type", s, ClientType::ALL)
}

pub(crate) fn parse_auth_method(s: &str) -> Result<AuthMethod, AdminError> {
    parse_enum("auth method", s, AuthMethod::ALL)
}

pub(crate) fn parse_grant(s: &str) -> Result<GrantType, AdminError> {
    parse_enum("grant type", s, GrantType::ALL)
}

pub(crate) fn parse_alg(s: &str) -> Result<Alg, AdminError> {
    parse_enum("algorithm", s, Alg::ALL)
}

fn grants(v: &[String]) -> Result<Vec<GrantType>, AdminError> {
    v.iter().map(|g| parse_grant(g)).collect()
}

fn jwks_text(v: &Value) -> Result<String, AdminError> {
    // A JWK Set may arrive as an object or as the JSON text of one (e.g. a file's
    // contents); both are stored as text.
    match v {
        Value::String(s) => Ok(s.clone()),
        other => serde_json::to_string(other)
            .map_err(|_| AdminError::invalid_input("jwks is not valid JSON")),
    }
}

/// Stored JSON text back to a value; text that does not parse travels as a string
/// rather than failing the whole listing.
fn json_value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

pub(crate) fn new_client(req: ClientCreateRequest) -> Result<NewClient, AdminError> {
    Ok(NewClient {
        name: req.name,
        client_type: req
            .client_type
            .as_deref()
            .map(parse_client_type)
            .transpose()?,
        auth_method: req
            .auth_method
            .as_deref()
            .map(parse_auth_method)
            .transpose()?,
        grant_types: grants(&req.grant_types)?,
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        allowed_scopes: req.allowed_scopes,
        jwks: req.jwks.as_ref().map(jwks_text).transpose()?,
        jwks_uri: req.jwks_uri,
        access_token_ttl: req.access_token_ttl,
        refresh_token_ttl: req.refresh_token_ttl,
        refresh_idle_ttl: req.refresh_idle_ttl,
        refresh_grace_secs: req.refresh_grace_secs,
        require_consent: req.require_consent,
        admin_tool: req.admin_tool,
        assertion_aud_compat: req.assertion_aud_compat,
        require_pushed_authorization_requests: req.require_pushed_authorization_requests,
        allowed_origins: req.allowed_origins,
        dpop_bound_access_tokens: req.dpop_bound_access_tokens,
    })
}

pub(crate) fn client_update(req: ClientUpdateRequest) -> Result<ClientUpdate, AdminError> {
    Ok(ClientUpdate {
        name: req.name,
        auth_method: req
            .auth_method
            .as_deref()
            .map(parse_auth_method)
            .transpose()?,
        grant_types: req.grant_types.as_deref().map(grants).transpose()?,
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        allowed_scopes: req.allowed_scopes,
        jwks: match req.jwks {
            None => None,
            Some(None) | Some(Some(Value::Null)) => Some(None),
            Some(Some(v)) => Some(Some(jwks_text(&v)?)),
        },
        jwks_uri: req.jwks_uri,
        access_token_ttl: req.access_token_ttl,
        refresh_token_ttl: req.refresh_token_ttl,
        refresh_idle_ttl: req.refresh_idle_ttl,
        refresh_grace_secs: req.refresh_grace_secs,
        require_consent: req.require_consent,
        admin_tool: req.admin_tool,
        disabled: req.disabled,
        assertion_aud_compat: req.assertion_aud_compat,
        require_pushed_authorization_requests: req.require_pushed_authorization_requests,
        allowed_origins: req.allowed_origins,
        dpop_bound_access_tokens: req.dpop_bound_access_tokens,
    })
}

pub(crate) fn client_dto(c: &Client) -> ClientDto {
    ClientDto {
        client_id: c.id.clone(),
        name: c.name.clone(),
        client_type: c.client_type.to_string(),
        auth_method: c.auth_method.to_string(),
        grant_types: c.grant_types.iter().map(ToString::to_string).collect(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        allowed_scopes: c.allowed_scopes.clone(),
        jwks: c.jwks.as_deref().map(json_value),
        jwks_uri: c.jwks_uri.clone(),
        access_token_ttl: c.access_token_ttl,
        refresh_token_ttl: c.refresh_token_ttl,
        refresh_idle_ttl: c.refresh_idle_ttl,
        refresh_grace_secs: c.refresh_grace_secs,
        require_consent: c.require_consent,
        admin_tool: c.admin_tool,
        disabled: c.disabled,
        builtin: latchkey_core::manage::is_builtin_client(c),
        assertion_aud_compat: c.assertion_aud_compat,
        require_pushed_authorization_requests: c.require_pushed_authorization_requests,
        registered: c.registered,
        allowed_origins: c.allowed_origins.clone(),
        web_origins: c.web_origins(),
        dpop_bound_access_tokens: c.dpop_bound_access_tokens,
        tokens_valid_after: c.tokens_valid_after,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub(crate) fn client_impact_dto(i: &latchkey_core::manage::ClientImpact) -> ClientImpactDto {
    ClientImpactDto {
        client_id: i.client.id.clone(),
        name: i.client.name.clone(),
        builtin: i.builtin,
        disabled: i.client.disabled,
        sessions: i.sessions.sessions,
        refresh_families: i.sessions.refresh_families,
        // Those of live sessions, and those on record outside any session.
        live_access_tokens: i.sessions.live_access_tokens + i.activity.live_access_tokens,
        last_token_at: i.activity.last_issued_at,
        tokens_last_hour: i.activity.issued_since,
    }
}

pub(crate) fn client_created(c: CoreClientCreated) -> ClientCreated {
    ClientCreated {
        client: client_dto(&c.client),
        client_secret: c.secret.map(|s| s.into_string()),
    }
}

pub(crate) fn secret_rotated(s: CoreSecretRotated) -> SecretRotated {
    SecretRotated {
        client_id: s.client_id,
        client_secret: s.secret.into_string(),
        previous_secrets_expire_at: s.previous_expire_at,
    }
}

pub(crate) fn new_scope(req: ScopeCreateRequest) -> NewScope {
    NewScope {
        name: req.name,
        description: req.description,
        claims: req.claims,
    }
}

pub(crate) fn scope_dto(s: &Scope) -> ScopeDto {
    ScopeDto {
        name: s.name.clone(),
        description: s.description.clone(),
        claims: s.claims.clone(),
        builtin: s.builtin,
        created_at: s.created_at,
    }
}

pub(crate) fn new_user(req: UserCreateRequest) -> NewUser {
    NewUser {
        username: req.username,
        email: req.email,
        name: req.name,
        password: req.password,
        is_admin: req.is_admin,
    }
}

pub(crate) fn user_dto(u: &User) -> UserDto {
    UserDto {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified,
        name: u.name.clone(),
        disabled: u.disabled,
        is_admin: u.is_admin,
        password_changed_at: u.password_changed_at,
        created_at: u.created_at,
        last_sign_in_at: None,
        live_sessions: None,
        must_change_password: u.must_change_password,
    }
}

pub(crate) fn user_impact_dto(i: &latchkey_core::manage::UserImpact) -> UserImpactDto {
    UserImpactDto {
        user: user_dto(&i.user),
        sessions: i.sessions.sessions,
        refresh_families: i.sessions.refresh_families,
        live_access_tokens: i.sessions.live_access_tokens,
        last_sign_in_at: i.last_sign_in_at,
        last_admin: i.last_admin,
    }
}

/// Everything about a key but its (encrypted) private half.
pub(crate) fn key_dto(k: &SigningKey) -> KeyDto {
    KeyDto {
        kid: k.kid.clone(),
        alg: k.alg.to_string(),
        state: k.state.to_string(),
        public_jwk: json_value(&k.public_jwk),
        created_at: k.created_at,
        activated_at: k.activated_at,
        retiring_at: k.retiring_at,
        retired_at: k.retired_at,
        revoked_at: k.revoked_at,
    }
}

pub(crate) fn key_rotated(r: KeyRotation) -> KeyRotatedDto {
    KeyRotatedDto {
        alg: r.alg.to_string(),
        previous_kid: r.previous_kid,
        active_kid: r.active_kid,
    }
}

pub(crate) fn key_revoked(r: KeyRevocation) -> KeyRevokedDto {
    KeyRevokedDto {
        kid: r.kid,
        alg: r.alg.to_string(),
        previous_state: r.previous_state.to_string(),
        active_kid: r.active_kid,
    }
}

pub(crate) fn session_dto(i: &SessionInfo) -> SessionDto {
    let s = &i.session;
    SessionDto {
        id: s.id.clone(),
        user_id: s.user_id.clone(),
        username: i.username.clone(),
        client_id: s.client_id.clone(),
        client_name: i.client_name.clone(),
        scopes: s.scopes.clone(),
        auth_time: s.auth_time,
        created_at: s.created_at,
        last_used_at: s.last_used_at,
        expires_at: s.expires_at,
        ip: s.ip.clone(),
        user_agent: s.user_agent.clone(),
        revoked_at: s.revoked_at,
        revoked_reason: s.revoked_reason.clone(),
        live_access_tokens: i.live_access_tokens,
        live_refresh_tokens: i.live_refresh_tokens,
        unfamiliar: i.unfamiliar,
    }
}

pub(crate) fn audit_filter(f: AuditFilterDto) -> AdminResult<AuditFilter> {
    let cursor = match f.cursor.as_deref() {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            AdminError::invalid_input("the cursor is not one this listing returned")
        })?),
        None => None,
    };
    let ascending = pick(
        "order",
        f.order.as_deref(),
        &[("desc", false), ("asc", true)],
    )?;
    // Newest first pages backwards from the cursor; oldest first tails forwards.
    let (before_id, after_id) = if ascending {
        (None, Some(cursor.unwrap_or(0)))
    } else {
        (cursor, None)
    };
    Ok(AuditFilter {
        actor: f.actor,
        action_prefix: f.action_prefix,
        target: f.target,
        security_only: f.security_only,
        since: f.since,
        until: f.until,
        before_id,
        after_id,
        limit: f.limit,
    })
}

/// A page of audit events; a full page carries the cursor of the next one.
pub(crate) fn audit_page(items: Vec<AuditEvent>, limit: i64) -> AuditPageDto {
    let next_cursor = match items.last() {
        Some(last) if i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit => {
            Some(last.id.to_string())
        }
        _ => None,
    };
    AuditPageDto {
        items: items.iter().map(audit_dto).collect(),
        next_cursor,
    }
}

/// What the console's live views care about in an audited action (decided once, by
/// `AuditAction::event_kind`).
pub(crate) fn event_kind(e: &AuditEvent) -> &'static str {
    latchkey_api_types::EventKind::of(&e.action, e.security).as_str()
}

pub(crate) fn admin_event(e: &AuditEvent) -> AdminEventDto {
    AdminEventDto {
        kind: event_kind(e).to_string(),
        event: audit_dto(e),
    }
}

pub(crate) fn session_query(f: SessionFilterDto) -> AdminResult<SessionQuery> {
    use SessionStateFilter as St;
    let state = pick(
        "state",
        f.state.as_deref(),
        &[
            ("active", St::Active),
            ("revoked", St::Revoked),
            ("expired", St::Expired),
            ("any", St::Any),
        ],
    )?;
    let sort = pick(
        "sort",
        f.sort.as_deref(),
        &[
            ("created_at", SessionSort::CreatedAt),
            ("last_used_at", SessionSort::LastUsedAt),
        ],
    )?;
    let ascending = pick(
        "order",
        f.order.as_deref(),
        &[("desc", false), ("asc", true)],
    )?;
    Ok(SessionQuery {
        user: f.user,
        client_id: f.client_id,
        ip: f.ip,
        created_from: f.created_from,
        created_to: f.created_to,
        state,
        sort,
        ascending,
        cursor: f.cursor,
        limit: f.limit,
    })
}

pub(crate) fn session_selector(req: SessionsRevokeRequest) -> AdminResult<SessionSelector> {
    let mut given = Vec::new();
    if let Some(ids) = req.session_ids {
        given.push(SessionSelector::Ids(ids));
    }
    if let Some(u) = req.user {
        given.push(SessionSelector::User(u));
    }
    if let Some(c) = req.client_id {
        given.push(SessionSelector::Client(c));
    }
    if let Some(f) = req.filter {
        given.push(SessionSelector::Filter(session_query(f)?));
    }
    match given.len() {
        1 => Ok(given.remove(0)),
        _ => Err(AdminError::invalid_input(
            "give exactly one of session_ids, user, client_id or filter",
        )),
    }
}

pub(crate) fn impact_dto(i: RevokeImpact, dry_run: bool) -> RevokeImpactDto {
    RevokeImpactDto {
        sessions: i.sessions,
        refresh_families: i.refresh_families,
        live_access_tokens: i.live_access_tokens,
        dry_run,
    }
}

pub(crate) fn finding_dto(f: &Finding) -> FindingDto {
    FindingDto {
        id: f.id.clone(),
        rule: f.rule.clone(),
        severity: f.severity.clone(),
        subject_kind: f.subject_kind.clone(),
        subject: f.subject.clone(),
        evidence: json_value(&f.evidence),
        action: f.action.clone(),
        status: f.status.clone(),
        acknowledged_by: f.acked_by.clone(),
        acknowledged_at: f.acked_at,
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        count: f.count,
        raised_at: f.raised_at,
    }
}

pub(crate) fn security_profile_dto(p: &SecurityProfile) -> SecurityProfileDto {
    SecurityProfileDto {
        kind: p.kind.to_string(),
        subject: p.subject.clone(),
        since: p.since,
        failures: p.failures,
        successes: p.successes,
        distinct_users: p.distinct_users,
        distinct_addresses: p.distinct_addresses,
        first_seen: p.first_seen,
        last_seen: p.last_seen,
        findings: p.findings.iter().map(finding_dto).collect(),
        blocks: p.blocks.iter().map(block_dto).collect(),
        timeline: p
            .timeline
            .iter()
            .map(|e| ProfileEntryDto {
                at: e.at,
                kind: e.kind.to_string(),
                what: e.what.clone(),
                user: e.user.clone(),
                address: e.address.clone(),
                client: e.client.clone(),
            })
            .collect(),
        truncated: p.truncated,
    }
}

pub(crate) fn registration_token_dto(
    t: &latchkey_core::model::RegistrationToken,
) -> RegistrationTokenDto {
    RegistrationTokenDto {
        id: t.id.clone(),
        grant_types: t
            .policy
            .grant_types
            .iter()
            .map(ToString::to_string)
            .collect(),
        scopes: t.policy.scopes.clone(),
        redirect_uri_prefixes: t.policy.redirect_uri_prefixes.clone(),
        uses_left: t.uses_left,
        registered: t.registered,
        created_at: t.created_at,
        created_by: t.created_by.clone(),
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    }
}

pub(crate) fn new_registration_token(
    req: RegistrationTokenCreateRequest,
) -> Result<latchkey_core::manage::NewRegistrationToken, AdminError> {
    Ok(latchkey_core::manage::NewRegistrationToken {
        grant_types: grants(&req.grant_types)?,
        scopes: req.scopes,
        redirect_uri_prefixes: req.redirect_uri_prefixes,
        expires_in: req.expires_in,
        uses: req.uses,
    })
}

pub(crate) fn webhook_dto(w: &latchkey_core::model::Webhook) -> WebhookDto {
    WebhookDto {
        id: w.id.clone(),
        name: w.name.clone(),
        url: w.url.clone(),
        severities: w.severities.clone(),
        rules: w.rules.clone(),
        enabled: w.enabled,
        created_at: w.created_at,
        created_by: w.created_by.clone(),
        updated_at: w.updated_at,
        last_success_at: w.last_success_at,
        last_failure_at: w.last_failure_at,
        last_failure_reason: w.last_failure_reason.clone(),
        consecutive_failures: w.consecutive_failures,
        pending: w.pending,
    }
}

pub(crate) fn block_dto(b: &Block) -> BlockDto {
    BlockDto {
        address: b.cidr.clone(),
        principal: (!b.principal.is_empty()).then(|| b.principal.clone()),
        reason: b.reason.clone(),
        created_by: b.created_by.clone(),
        created_at: b.created_at,
        expires_at: b.expires_at,
    }
}

pub(crate) fn api_key_dto(k: &ApiKey) -> ApiKeyDto {
    ApiKeyDto {
        id: k.id.clone(),
        name: k.name.clone(),
        read_only: k.read_only,
        created_at: k.created_at,
        created_by: k.created_by.clone(),
        expires_at: k.expires_at,
        revoked_at: k.revoked_at,
        last_used_at: k.last_used_at,
    }
}

pub(crate) fn stats_dto(s: StoreStats, minutes: i64) -> StatsDto {
    let failed_authentications = s
        .security_events
        .iter()
        .filter(|(a, _)| {
            SecurityFamily::of(a).is_some_and(SecurityFamily::is_failed_authentication)
        })
        .map(|(_, n)| n)
        .sum();
    StatsDto {
        window_minutes: minutes,
        tokens_per_minute: s
            .tokens
            .into_iter()
            .map(|t| TokenCountDto {
                minute: t.minute,
                grant_type: t.grant,
                client_id: t.client_id,
                count: t.count,
            })
            .collect(),
        active_sessions: s.active_sessions,
        clients: s.clients,
        users: s.users,
        failed_authentications,
        security_events: s
            .security_events
            .into_iter()
            .map(|(action, count)| SecurityCountDto { action, count })
            .collect(),
    }
}

/// One of a few named choices; absent means the first. The error lists them all.
fn pick<T: Copy>(what: &str, given: Option<&str>, choices: &[(&str, T)]) -> AdminResult<T> {
    let Some(given) = given else {
        return choices
            .first()
            .map(|c| c.1)
            .ok_or_else(|| AdminError::invalid_input(format!("no {what} is possible")));
    };
    choices
        .iter()
        .find(|(name, _)| *name == given)
        .map(|c| c.1)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|c| c.0).collect();
            AdminError::invalid_input(format!(
                "{what} \"{}\" is not one of {}",
                shown(given),
                names.join(", ")
            ))
        })
}

/// Echoed input, bounded and without control characters.
fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

pub(crate) fn audit_dto(e: &AuditEvent) -> AuditEventDto {
    AuditEventDto {
        id: e.id,
        at: e.at,
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        before: e.before.as_deref().map(json_value),
        after: e.after.as_deref().map(json_value),
        ip: e.ip.clone(),
        security: e.security,
    }
}

/// The settings as the wire shows them. Built through JSON from the one list of
/// settings in core, so a setting added there cannot be forgotten here without the
/// test below failing.
pub(crate) fn settings_dto(v: &SettingsView) -> AdminResult<SettingsDto> {
    let mut m = serde_json::Map::new();
    for f in FIELDS {
        let source = if v.admin_set.contains(f.name) {
            "admin"
        } else {
            "default"
        };
        m.insert(
            f.name.to_string(),
            serde_json::json!({
                "value": f.get(&v.effective),
                "default": f.get(&v.defaults),
                "source": source,
            }),
        );
    }
    m.insert("updated_at".into(), serde_json::json!(v.updated_at));
    serde_json::from_value(Value::Object(m)).map_err(|e| {
        AdminError::new(
            ErrorCode::Internal,
            format!("cannot describe the settings: {e}"),
        )
    })
}

/// A patch by name: a number sets, `null` returns to the default; absent fields are
/// left out by the DTO's serialisation.
pub(crate) fn settings_patch(req: &SettingsUpdateRequest) -> AdminResult<SettingsPatch> {
    let v = serde_json::to_value(req).map_err(|e| {
        AdminError::new(ErrorCode::Internal, format!("cannot read the change: {e}"))
    })?;
    let mut patch = SettingsPatch::new();
    for (name, value) in v.as_object().into_iter().flatten() {
        let value = match value {
            Value::Null => None,
            other => Some(other.as_i64().ok_or_else(|| {
                AdminError::invalid_input(format!("{name} must be a whole number"))
            })?),
        };
        patch.insert(name.clone(), value);
    }
    Ok(patch)
}

// --- token exchange ------------------------------------------------------------------

fn short_types(v: &[TokenTypeUri]) -> Vec<String> {
    v.iter().map(|t| t.short().to_string()).collect()
}

pub(crate) fn exchange_policy_dto(p: &ExchangePolicy) -> ExchangePolicyDto {
    ExchangePolicyDto {
        id: p.id.clone(),
        enabled: p.enabled,
        note: p.note.clone(),
        requester_client_id: p.requester_client_id.clone(),
        subject_client_ids: p.subject_client_ids.clone(),
        subject_token_types: short_types(&p.subject_token_types),
        requester_must_be_in_subject_aud: p.requester_must_be_in_subject_aud,
        targets: p.targets.clone(),
        scopes: p.scopes.clone(),
        mode: p.mode.as_str().to_string(),
        actor_client_ids: p.actor_client_ids.clone(),
        max_ttl_secs: p.max_ttl_secs,
        issued_token_types: short_types(&p.issued_token_types),
        max_act_depth: p.max_act_depth,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

pub(crate) fn new_exchange_policy(r: ExchangePolicyCreateRequest) -> NewExchangePolicy {
    NewExchangePolicy {
        enabled: r.enabled,
        note: r.note,
        requester_client_id: r.requester_client_id,
        subject_client_ids: r.subject_client_ids,
        subject_token_types: r.subject_token_types,
        requester_must_be_in_subject_aud: r.requester_must_be_in_subject_aud,
        targets: r.targets,
        scopes: r.scopes,
        mode: r.mode,
        actor_client_ids: r.actor_client_ids,
        max_ttl_secs: r.max_ttl_secs,
        issued_token_types: r.issued_token_types,
        max_act_depth: r.max_act_depth,
    }
}

pub(crate) fn exchange_policy_patch(r: ExchangePolicyUpdateRequest) -> ExchangePolicyPatch {
    ExchangePolicyPatch {
        enabled: r.enabled,
        note: r.note,
        requester_client_id: r.requester_client_id,
        subject_client_ids: r.subject_client_ids,
        subject_token_types: r.subject_token_types,
        requester_must_be_in_subject_aud: r.requester_must_be_in_subject_aud,
        targets: r.targets,
        scopes: r.scopes,
        mode: r.mode,
        actor_client_ids: r.actor_client_ids,
        max_ttl_secs: r.max_ttl_secs,
        issued_token_types: r.issued_token_types,
        max_act_depth: r.max_act_depth,
    }
}

/// The explain tool's request, as the token endpoint would read it: token types default
/// to access tokens; an empty string is as absent.
pub(crate) fn exchange_request(r: &ExchangeExplainRequest) -> ExchangeRequest {
    let some = |v: &Option<String>| {
        v.as_ref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string())
    };
    let access = TokenTypeUri::AccessToken.as_str().to_string();
    let actor_token = some(&r.actor_token);
    ExchangeRequest {
        subject_token: r.subject_token.trim().to_string(),
        subject_token_type: some(&r.subject_token_type).unwrap_or_else(|| access.clone()),
        actor_token_type: actor_token
            .as_ref()
            .map(|_| some(&r.actor_token_type).unwrap_or(access)),
        actor_token,
        resource: some(&r.resource),
        audience: some(&r.audience),
        scope: some(&r.scope),
        requested_token_type: some(&r.requested_token_type),
    }
}

fn token_facts_dto(f: &TokenFacts) -> ExchangeTokenFactsDto {
    ExchangeTokenFactsDto {
        token_type: f.token_type.short().to_string(),
        sub: f.sub.clone(),
        client_id: f.client_id.clone(),
        aud: f.aud.clone(),
        scopes: f.scopes.clone(),
        exp: f.exp,
        jti: f.jti.clone(),
        sid: f.sid.clone(),
        act: f.act.clone(),
    }
}

pub(crate) fn exchange_explain_dto(ev: &Evaluation) -> ExchangeExplainDto {
    let mut dto = ExchangeExplainDto {
        allowed: ev.outcome.is_ok(),
        policy_id: None,
        error: None,
        error_description: None,
        rule: None,
        detail: None,
        subject: ev.subject.as_ref().map(token_facts_dto),
        actor: ev.actor.as_ref().map(token_facts_dto),
        policies: ev
            .policies
            .iter()
            .map(|v| ExchangePolicyVerdictDto {
                policy_id: v.policy_id.clone(),
                matched: v.matched,
                rule: v.rule.map(str::to_string),
                reason: v.reason.clone(),
            })
            .collect(),
        issued_token_type: None,
        token_type: None,
        expires_in: None,
        audience: None,
        scopes: Vec::new(),
        claims: None,
        refresh_token: false,
    };
    match &ev.outcome {
        Ok(p) => {
            dto.policy_id = Some(p.policy_id.clone());
            dto.issued_token_type = Some(p.issued_token_type.as_str().to_string());
            dto.token_type = Some(
                if p.issued_token_type == TokenTypeUri::IdToken {
                    "N_A"
                } else {
                    "Bearer"
                }
                .to_string(),
            );
            dto.expires_in = Some(p.expires_in);
            // Several audiences as the form carries them, space-separated.
            dto.audience = Some(p.audience.join(" "));
            dto.scopes = p.scopes.clone();
            dto.claims = Some(p.claims.clone());
            dto.refresh_token = p.with_refresh;
        }
        Err(r) => {
            dto.error = Some(r.error.code.as_str().to_string());
            dto.error_description = r.error.description().map(str::to_string);
            dto.rule = Some(r.rule.to_string());
            dto.detail = Some(r.detail.clone());
        }
    }
    dto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_grant_type_lists_the_accepted_ones() {
        let e = parse_grant("password").unwrap_err();
        assert_eq!(e.code, "invalid_input");
        assert!(e.message.contains("client_credentials"), "{}", e.message);
    }

    #[test]
    fn a_jwks_given_as_text_or_as_an_object_is_stored_as_text() {
        let obj = serde_json::json!({"keys": []});
        assert_eq!(jwks_text(&obj).unwrap(), r#"{"keys":[]}"#);
        assert_eq!(jwks_text(&Value::String("{}".into())).unwrap(), "{}");
    }

    #[test]
    fn every_core_setting_is_on_the_wire_with_its_source() {
        use latchkey_core::settings::ServerSettings;
        let defaults = ServerSettings::default();
        let view = SettingsView {
            effective: ServerSettings {
                code_ttl: 120,
                ..defaults
            },
            defaults,
            admin_set: ["code_ttl".to_string()].into(),
            updated_at: Some(5),
        };
        let dto = settings_dto(&view).unwrap();
        assert_eq!(dto.code_ttl.value, 120);
        assert_eq!(dto.code_ttl.default, defaults.code_ttl);
        assert_eq!(dto.code_ttl.source, "admin");
        assert_eq!(dto.login_block.source, "default");
        let wire = serde_json::to_value(&dto).unwrap();
        let mut on_wire: Vec<&str> = wire
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "updated_at")
            .collect();
        let mut in_core: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        on_wire.sort();
        in_core.sort();
        assert_eq!(on_wire, in_core);
    }

    #[test]
    fn a_settings_patch_names_what_it_sets_and_what_it_resets() {
        let req = SettingsUpdateRequest {
            code_ttl: Some(Some(90)),
            retire_after: Some(None),
            ..Default::default()
        };
        let patch = settings_patch(&req).unwrap();
        assert_eq!(
            patch,
            SettingsPatch::from([
                ("code_ttl".to_string(), Some(90)),
                ("retire_after".to_string(), None)
            ])
        );
    }
}
