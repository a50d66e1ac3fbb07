//! Row structs, one per table, and their conversions to and from the domain types, for
//! both backends: the two schemas have the same columns, and PostgreSQL's BIGINT,
//! BOOLEAN and BYTEA decode into the same Rust types as SQLite's INTEGER and BLOB
//! (`#[derive(sqlx::FromRow)]` is generic over the row type).
//!
//! Rows mirror the columns exactly, so a schema change shows up here as a compile-time
//! or decode error rather than as a silently misread field. Conversions that can fail
//! (enum names, JSON lists) report `StoreError::Corrupt` naming the table and column but
//! never the stored value, which might be sensitive.

use latchkey_core::error::StoreError;
use latchkey_core::model::{
    ApiKey, AuditEvent, AuthCode, Block, Client, ClientRegistration, ClientSecret, DeviceCode,
    ExchangeLineage, ExchangePolicy, Finding, GrantType, RefreshToken, RegistrationPolicy,
    RegistrationToken, Scope, Session, SignIn, SigningKey, TokenTypeUri, User, Webhook,
    WebhookDelivery,
};
use latchkey_core::settings::StoredSettings;
use latchkey_core::store::{AuthRequest, PushedRequest};
use std::str::FromStr;

/// Lists (scopes, grant types, redirect URIs, claims) are stored as JSON arrays: unlike
/// space-separated text this survives any character a redirect URI may contain.
pub fn to_json_list<T: AsRef<str>>(list: &[T]) -> Result<String, StoreError> {
    let items: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).map_err(|e| StoreError::Other(format!("encoding a list: {e}")))
}

fn from_json_list(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse<T>(text: &str, what: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("{what}: {e}")))
}

#[derive(sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub client_type: String,
    pub auth_method: String,
    pub grant_types: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub allowed_scopes: String,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_grace_secs: i64,
    pub require_consent: bool,
    pub admin_tool: bool,
    pub disabled: bool,
    pub assertion_aud_compat: bool,
    pub require_pushed_authorization_requests: bool,
    pub registered: bool,
    pub allowed_origins: Option<String>,
    pub dpop_bound_access_tokens: bool,
    pub tokens_valid_after: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let grant_types = from_json_list(&r.grant_types, "clients.grant_types")?
            .iter()
            .map(|g| parse(g, "clients.grant_types"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Client {
            client_type: parse(&r.client_type, "clients.client_type")?,
            auth_method: parse(&r.auth_method, "clients.auth_method")?,
            grant_types,
            redirect_uris: from_json_list(&r.redirect_uris, "clients.redirect_uris")?,
            post_logout_redirect_uris: from_json_list(
                &r.post_logout_redirect_uris,
                "clients.post_logout_redirect_uris",
            )?,
            allowed_scopes: from_json_list(&r.allowed_scopes, "clients.allowed_scopes")?,
            id: r.id,
            name: r.name,
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            access_token_ttl: r.access_token_ttl,
            refresh_token_ttl: r.refresh_token_ttl,
            refresh_idle_ttl: r.refresh_idle_ttl,
            refresh_grace_secs: r.refresh_grace_secs,
            require_consent: r.require_consent,
            admin_tool: r.admin_tool,
            disabled: r.disabled,
            assertion_aud_compat: r.assertion_aud_compat,
            require_pushed_authorization_requests: r.require_pushed_authorization_requests,
            registered: r.registered,
            allowed_origins: r
                .allowed_origins
                .as_deref()
                .map(|o| from_json_list(o, "clients.allowed_origins"))
                .transpose()?,
            dpop_bound_access_tokens: r.dpop_bound_access_tokens,
            tokens_valid_after: r.tokens_valid_after,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_id: String,
    pub hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl From<ClientSecretRow> for ClientSecret {
    fn from(r: ClientSecretRow) -> Self {
        ClientSecret {
            id: r.id,
            client_id: r.client_id,
            hash: r.hash,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ScopeRow {
    pub name: String,
    pub description: String,
    pub claims: String,
    pub builtin: bool,
    pub created_at: i64,
}

impl TryFrom<ScopeRow> for Scope {
    type Error = StoreError;
    fn try_from(r: ScopeRow) -> Result<Self, StoreError> {
        Ok(Scope {
            claims: from_json_list(&r.claims, "scopes.claims")?,
            name: r.name,
            description: r.description,
            builtin: r.builtin,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    pub is_admin: bool,
    pub password_changed_at: i64,
    pub created_at: i64,
    pub must_change_password: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            email: r.email,
            email_verified: r.email_verified,
            name: r.name,
            password_hash: r.password_hash,
            disabled: r.disabled,
            is_admin: r.is_admin,
            password_changed_at: r.password_changed_at,
            created_at: r.created_at,
            must_change_password: r.must_change_password,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub public_jwk: String,
    pub private_enc: Vec<u8>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retiring_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for SigningKey {
    type Error = StoreError;
    fn try_from(r: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(SigningKey {
            alg: parse(&r.alg, "signing_keys.alg")?,
            state: parse(&r.state, "signing_keys.state")?,
            kid: r.kid,
            public_jwk: r.public_jwk,
            private_enc: r.private_enc,
            created_at: r.created_at,
            activated_at: r.activated_at,
            retiring_at: r.retiring_at,
            retired_at: r.retired_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SignInRow {
    pub id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

impl From<SignInRow> for SignIn {
    fn from(r: SignInRow) -> Self {
        SignIn {
            id: r.id,
            user_id: r.user_id,
            auth_time: r.auth_time,
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
            expires_at: r.expires_at,
            ended_at: r.ended_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AuthRequestRow {
    pub id: String,
    pub params: String,
    pub sign_in_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl From<AuthRequestRow> for AuthRequest {
    fn from(r: AuthRequestRow) -> Self {
        AuthRequest {
            id: r.id,
            params: r.params,
            sign_in_id: r.sign_in_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RegistrationTokenRow {
    pub id: String,
    pub hash: Vec<u8>,
    pub grant_types: String,
    pub scopes: String,
    pub redirect_uri_prefixes: String,
    pub uses_left: Option<i64>,
    pub registered: i64,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl TryFrom<RegistrationTokenRow> for RegistrationToken {
    type Error = StoreError;
    fn try_from(r: RegistrationTokenRow) -> Result<Self, StoreError> {
        let grant_types = from_json_list(&r.grant_types, "registration_tokens.grant_types")?
            .iter()
            .map(|g| parse::<GrantType>(g, "registration_tokens.grant_types"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RegistrationToken {
            id: r.id,
            hash: r.hash,
            policy: RegistrationPolicy {
                grant_types,
                scopes: from_json_list(&r.scopes, "registration_tokens.scopes")?,
                redirect_uri_prefixes: from_json_list(
                    &r.redirect_uri_prefixes,
                    "registration_tokens.redirect_uri_prefixes",
                )?,
            },
            uses_left: r.uses_left,
            registered: r.registered,
            created_at: r.created_at,
            created_by: r.created_by,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// A registration's policy as stored (`client_registrations.policy`).
pub fn policy_json(p: &RegistrationPolicy) -> Result<String, StoreError> {
    serde_json::to_string(p).map_err(|e| StoreError::Other(format!("encoding a policy: {e}")))
}

#[derive(sqlx::FromRow)]
pub struct ClientRegistrationRow {
    pub client_id: String,
    pub rat_hash: Vec<u8>,
    pub token_id: String,
    pub policy: String,
    pub created_at: i64,
}

impl TryFrom<ClientRegistrationRow> for ClientRegistration {
    type Error = StoreError;
    fn try_from(r: ClientRegistrationRow) -> Result<Self, StoreError> {
        Ok(ClientRegistration {
            policy: serde_json::from_str(&r.policy)
                .map_err(|e| StoreError::Corrupt(format!("client_registrations.policy: {e}")))?,
            client_id: r.client_id,
            rat_hash: r.rat_hash,
            token_id: r.token_id,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PushedRequestRow {
    pub hash: Vec<u8>,
    pub client_id: String,
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl From<PushedRequestRow> for PushedRequest {
    fn from(r: PushedRequestRow) -> Self {
        PushedRequest {
            hash: r.hash,
            client_id: r.client_id,
            params: r.params,
            created_at: r.created_at,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub sign_in_id: Option<String>,
    pub scopes: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    pub resources: String,
    pub parent_session_id: Option<String>,
    pub parent_jti: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            scopes: from_json_list(&r.scopes, "sessions.scopes")?,
            resources: from_json_list(&r.resources, "sessions.resources")?,
            parent_session_id: r.parent_session_id,
            parent_jti: r.parent_jti,
            id: r.id,
            user_id: r.user_id,
            client_id: r.client_id,
            sign_in_id: r.sign_in_id,
            auth_time: r.auth_time,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            ip: r.ip,
            user_agent: r.user_agent,
            revoked_at: r.revoked_at,
            revoked_reason: r.revoked_reason,
        })
    }
}

/// A session joined with the names and live-token counts the console shows.
#[derive(sqlx::FromRow)]
pub struct SessionInfoRow {
    #[sqlx(flatten)]
    pub session: SessionRow,
    pub username: String,
    pub client_name: String,
    pub live_access_tokens: i64,
    pub live_refresh_tokens: i64,
    pub unfamiliar: bool,
}

#[derive(sqlx::FromRow)]
pub struct AuthCodeRow {
    pub hash: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub sign_in_id: Option<String>,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub resources: String,
    pub dpop_jkt: Option<String>,
}

impl TryFrom<AuthCodeRow> for AuthCode {
    type Error = StoreError;
    fn try_from(r: AuthCodeRow) -> Result<Self, StoreError> {
        Ok(AuthCode {
            scopes: from_json_list(&r.scopes, "auth_codes.scopes")?,
            resources: from_json_list(&r.resources, "auth_codes.resources")?,
            hash: r.hash,
            client_id: r.client_id,
            user_id: r.user_id,
            sign_in_id: r.sign_in_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_sent: r.redirect_uri_sent,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
            session_id: r.session_id,
            ip: r.ip,
            user_agent: r.user_agent,
            dpop_jkt: r.dpop_jkt,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeviceCodeRow {
    pub hash: Vec<u8>,
    pub user_code_hash: Vec<u8>,
    pub client_id: String,
    pub scopes: String,
    pub status: String,
    pub user_id: Option<String>,
    pub sign_in_id: Option<String>,
    pub auth_time: Option<i64>,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub session_id: Option<String>,
    pub resources: String,
}

impl TryFrom<DeviceCodeRow> for DeviceCode {
    type Error = StoreError;
    fn try_from(r: DeviceCodeRow) -> Result<Self, StoreError> {
        Ok(DeviceCode {
            scopes: from_json_list(&r.scopes, "device_codes.scopes")?,
            resources: from_json_list(&r.resources, "device_codes.resources")?,
            status: parse(&r.status, "device_codes.status")?,
            hash: r.hash,
            user_code_hash: r.user_code_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            sign_in_id: r.sign_in_id,
            auth_time: r.auth_time,
            interval: r.poll_interval,
            last_polled_at: r.last_polled_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
            session_id: r.session_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub hash: Vec<u8>,
    pub session_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub consumed_at: Option<i64>,
    pub idle_expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub dpop_jkt: Option<String>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        RefreshToken {
            hash: r.hash,
            session_id: r.session_id,
            client_id: r.client_id,
            created_at: r.created_at,
            consumed_at: r.consumed_at,
            idle_expires_at: r.idle_expires_at,
            ip: r.ip,
            user_agent: r.user_agent,
            dpop_jkt: r.dpop_jkt,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
    pub security: bool,
}

impl From<AuditEventRow> for AuditEvent {
    fn from(r: AuditEventRow) -> Self {
        AuditEvent {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            before: r.before,
            after: r.after,
            ip: r.ip,
            security: r.security,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub hash: Vec<u8>,
    pub read_only: bool,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            name: r.name,
            hash: r.hash,
            read_only: r.read_only,
            created_at: r.created_at,
            created_by: r.created_by,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SettingsRow {
    pub overrides: String,
    pub version: i64,
    pub updated_at: i64,
}

impl TryFrom<SettingsRow> for StoredSettings {
    type Error = StoreError;
    fn try_from(r: SettingsRow) -> Result<Self, StoreError> {
        Ok(StoredSettings {
            values: serde_json::from_str(&r.overrides)
                .map_err(|e| StoreError::Corrupt(format!("settings.overrides: {e}")))?,
            version: r.version,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ExchangePolicyRow {
    pub id: String,
    pub enabled: bool,
    pub note: String,
    pub requester_client_id: String,
    pub subject_client_ids: String,
    pub subject_token_types: String,
    pub requester_must_be_in_subject_aud: bool,
    pub targets: String,
    pub scopes: String,
    pub mode: String,
    pub actor_client_ids: String,
    pub max_ttl_secs: i64,
    pub issued_token_types: String,
    pub max_act_depth: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn token_types(text: &str, what: &str) -> Result<Vec<TokenTypeUri>, StoreError> {
    from_json_list(text, what)?
        .iter()
        .map(|t| parse(t, what))
        .collect()
}

impl TryFrom<ExchangePolicyRow> for ExchangePolicy {
    type Error = StoreError;
    fn try_from(r: ExchangePolicyRow) -> Result<Self, StoreError> {
        Ok(ExchangePolicy {
            subject_client_ids: from_json_list(
                &r.subject_client_ids,
                "exchange_policies.subject_client_ids",
            )?,
            subject_token_types: token_types(
                &r.subject_token_types,
                "exchange_policies.subject_token_types",
            )?,
            targets: from_json_list(&r.targets, "exchange_policies.targets")?,
            scopes: from_json_list(&r.scopes, "exchange_policies.scopes")?,
            mode: parse(&r.mode, "exchange_policies.mode")?,
            actor_client_ids: from_json_list(
                &r.actor_client_ids,
                "exchange_policies.actor_client_ids",
            )?,
            issued_token_types: token_types(
                &r.issued_token_types,
                "exchange_policies.issued_token_types",
            )?,
            id: r.id,
            enabled: r.enabled,
            note: r.note,
            requester_client_id: r.requester_client_id,
            requester_must_be_in_subject_aud: r.requester_must_be_in_subject_aud,
            max_ttl_secs: r.max_ttl_secs,
            max_act_depth: r.max_act_depth,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ExchangeLineageRow {
    pub jti: String,
    pub parent_jti: Option<String>,
    pub actor_jti: Option<String>,
    pub session_id: Option<String>,
    pub requester_client_id: String,
    pub subject: String,
    pub subject_client_id: String,
    pub policy_id: String,
    pub issued_token_type: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl TryFrom<ExchangeLineageRow> for ExchangeLineage {
    type Error = StoreError;
    fn try_from(r: ExchangeLineageRow) -> Result<Self, StoreError> {
        Ok(ExchangeLineage {
            issued_token_type: parse(&r.issued_token_type, "token_exchanges.issued_token_type")?,
            jti: r.jti,
            parent_jti: r.parent_jti,
            actor_jti: r.actor_jti,
            session_id: r.session_id,
            requester_client_id: r.requester_client_id,
            subject: r.subject,
            subject_client_id: r.subject_client_id,
            policy_id: r.policy_id,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct FindingRow {
    pub id: String,
    pub dedup_key: String,
    pub rule: String,
    pub severity: String,
    pub subject_kind: String,
    pub subject: String,
    pub evidence: String,
    pub action: String,
    pub status: String,
    pub acked_by: Option<String>,
    pub acked_at: Option<i64>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
    pub raised_at: i64,
}

impl From<FindingRow> for Finding {
    fn from(r: FindingRow) -> Self {
        Finding {
            id: r.id,
            dedup_key: r.dedup_key,
            rule: r.rule,
            severity: r.severity,
            subject_kind: r.subject_kind,
            subject: r.subject,
            evidence: r.evidence,
            action: r.action,
            status: r.status,
            acked_by: r.acked_by,
            acked_at: r.acked_at,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            count: r.count,
            raised_at: r.raised_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct BlockRow {
    pub cidr: String,
    pub principal: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl From<BlockRow> for Block {
    fn from(r: BlockRow) -> Self {
        Block {
            cidr: r.cidr,
            principal: r.principal,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub secret_enc: Vec<u8>,
    pub severities: String,
    pub rules: String,
    pub enabled: bool,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub cursor_at: i64,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure_reason: Option<String>,
    pub consecutive_failures: i64,
    pub pending: i64,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            severities: from_json_list(&r.severities, "webhooks.severities")?,
            rules: from_json_list(&r.rules, "webhooks.rules")?,
            id: r.id,
            name: r.name,
            url: r.url,
            secret_enc: r.secret_enc,
            enabled: r.enabled,
            created_at: r.created_at,
            created_by: r.created_by,
            updated_at: r.updated_at,
            cursor_at: r.cursor_at,
            last_success_at: r.last_success_at,
            last_failure_at: r.last_failure_at,
            last_failure_reason: r.last_failure_reason,
            consecutive_failures: r.consecutive_failures,
            pending: r.pending,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub finding_id: String,
    pub seq_at: i64,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

impl From<WebhookDeliveryRow> for WebhookDelivery {
    fn from(r: WebhookDeliveryRow) -> Self {
        WebhookDelivery {
            id: r.id,
            webhook_id: r.webhook_id,
            finding_id: r.finding_id,
            seq_at: r.seq_at,
            payload: r.payload,
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            claimed_by: r.claimed_by,
            claimed_until: r.claimed_until,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        }
    }
}
