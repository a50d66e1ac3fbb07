//! The admin operations, listed once. Each row is one operation under its one name
//! (`clients_list` is `AdminBackend::clients_list`, `GET /admin/v1/clients`, the desktop
//! command `clients_list` and `api.clientsList()` in TS) with its HTTP method, route,
//! access level, summary and schemas.
//!
//! Everything that used to repeat this list by hand is derived from it: the server's
//! router, OpenAPI document and access rule ([`ADMIN_OPS`]), the remote client's paths
//! (the per-operation constants in [`op`]), the desktop shell's command list, app
//! manifest, capability and isolation allow-list ([`for_each_admin_op!`]) and the
//! console's `ui/src/lib/api/operations.gen.ts` ([`typescript`]).
//!
//! Not here: what an operation does (`latchkey_core::manage`), its Rust signature
//! (`latchkey_admin::AdminBackend`), or the desktop shell's own commands
//! (`connection_*`, `client_try`, …), which are not admin operations.

use crate::*;
use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// Every admin operation, as tokens for a callback macro in the calling crate:
/// `for_each_admin_op!(my_macro extra tokens…)` expands to
///
/// ```text
/// my_macro! { (extra tokens…)
///     clients_list GET "/admin/v1/clients" Read { "List clients" r[Vec<ClientDto>] };
///     …
/// }
/// ```
///
/// A callback matches each row as `$name:ident $method:ident $path:literal
/// $access:ident { $($rest:tt)* }` and may ignore the braces (summary and schemas, whose
/// type names resolve only in this crate). Methods are `GET`/`POST`/`PATCH`/`DELETE`;
/// access is `Open` (no credential), `Read` or `Write` (a read-write credential). In the
/// braces: the summary, then optionally `q[query DTO]`, `b[body DTO]`, `r[response
/// DTO]`, `st=status` (default 200; 204 means no body) and `sse=true`.
///
/// A new operation is one row here; the compiler and the drift tests then point at
/// every place that needs code (the trait method, the handlers, the TS wrapper).
#[macro_export]
macro_rules! for_each_admin_op {
    ($cb:ident $($extra:tt)*) => {
        $cb! { ($($extra)*)
            health_get GET "/admin/v1/health" Open { "Whether the store answers; no credential needed" r[HealthDto] };
            clients_list GET "/admin/v1/clients" Read { "List clients" r[Vec<ClientDto>] };
            client_create POST "/admin/v1/clients" Write { "Register a client; the secret is in this response only" b[ClientCreateRequest] r[ClientCreated] st=201 };
            client_get GET "/admin/v1/clients/{id}" Read { "One client (never its secret)" r[ClientDto] };
            client_update PATCH "/admin/v1/clients/{id}" Write { "Change a client" b[ClientUpdateRequest] r[ClientDto] };
            client_delete DELETE "/admin/v1/clients/{id}" Write { "Delete a client and everything issued to it" st=204 };
            client_rotate_secret POST "/admin/v1/clients/{id}/rotate-secret" Write { "New secret (shown once); older ones live on for the overlap" b[SecretRotateRequest] r[SecretRotated] };
            client_set_disabled POST "/admin/v1/clients/{id}/disabled" Write { "Disable or enable a client" b[ClientSetDisabledRequest] r[ClientDto] };
            client_impact_get GET "/admin/v1/clients/{id}/impact" Read { "What disabling or deleting a client would cut off: live sessions, refresh families, live access tokens, last issuance, tokens in the last hour" r[ClientImpactDto] };
            client_clone POST "/admin/v1/clients/{id}/clone" Write { "Copy a client's settings into a new client" b[ClientCloneRequest] r[ClientCreated] st=201 };
            scopes_list GET "/admin/v1/scopes" Read { "List scopes and the claims they release" r[Vec<ScopeDto>] };
            scope_create POST "/admin/v1/scopes" Write { "Create a scope" b[ScopeCreateRequest] r[ScopeDto] st=201 };
            scope_delete DELETE "/admin/v1/scopes/{name}" Write { "Delete a custom scope" st=204 };
            users_list GET "/admin/v1/users" Read { "List users" r[Vec<UserDto>] };
            user_create POST "/admin/v1/users" Write { "Create a user" b[UserCreateRequest] r[UserDto] st=201 };
            user_get GET "/admin/v1/users/{id}" Read { "One user, by id or username" r[UserDto] };
            user_disable POST "/admin/v1/users/{id}/disable" Write { "Disable a user and revoke their sessions" r[UserDto] };
            user_enable POST "/admin/v1/users/{id}/enable" Write { "Enable a user" r[UserDto] };
            user_update PATCH "/admin/v1/users/{id}" Write { "Change a user's name, email or administrator role (the last administrator keeps it)" b[UserUpdateRequest] r[UserDto] };
            user_password_set POST "/admin/v1/users/{id}/password" Write { "Set a user's password, or generate one shown once" b[UserPasswordSetRequest] r[UserPasswordSet] };
            user_impact_get GET "/admin/v1/users/{id}/impact" Read { "What deleting a user would cut off: live sessions, refresh families, live access tokens, last sign-in, and whether the delete is refused (last administrator)" r[UserImpactDto] };
            user_delete DELETE "/admin/v1/users/{id}" Write { "Delete a user with their sessions, sign-ins and consents (the last enabled administrator stays)" st=204 };
            keys_list GET "/admin/v1/keys" Read { "Signing keys with their lifecycle state" r[Vec<KeyDto>] };
            keys_rotate POST "/admin/v1/keys/rotate" Write { "Rotate now: the published successor signs, the old key retires" b[KeysRotateRequest] r[Vec<KeyRotatedDto>] };
            keys_schedule_get GET "/admin/v1/keys/schedule" Read { "The rotation policy and when each algorithm rotates next" r[KeysScheduleDto] };
            key_revoke POST "/admin/v1/keys/{kid}/revoke" Write { "Emergency revoke: every token the key signed becomes inactive" r[KeyRevokedDto] };
            jwks_get GET "/admin/v1/jwks" Read { "The JWK Set as relying parties see it" r[Value] };
            sessions_list GET "/admin/v1/sessions" Read { "Sessions, filtered, sorted and paginated by cursor" q[SessionFilterDto] r[SessionPageDto] };
            sessions_revoke POST "/admin/v1/sessions/revoke" Write { "Bulk revoke by ids, user, client or filter; dry_run says what it would cut off" b[SessionsRevokeRequest] r[RevokeImpactDto] };
            session_get GET "/admin/v1/sessions/{id}" Read { "One session with its live token counts" r[SessionDto] };
            session_revoke POST "/admin/v1/sessions/{id}/revoke" Write { "Revoke one session" r[RevokedDto] };
            token_introspect POST "/admin/v1/tokens/introspect" Read { "RFC 7662 answer for any token of this server" b[TokenRequest] r[Value] };
            token_revoke POST "/admin/v1/tokens/revoke" Write { "Revoke any token of this server" b[TokenRequest] r[RevokedDto] };
            audit_list GET "/admin/v1/audit" Read { "Audit events, newest first, filtered, paginated by cursor" q[AuditFilterDto] r[AuditPageDto] };
            security_events_list GET "/admin/v1/security-events" Read { "Security events only" q[AuditFilterDto] r[AuditPageDto] };
            stats_get GET "/admin/v1/stats" Read { "Tokens per minute by grant and client, active sessions, failed authentications" q[StatsRequest] r[StatsDto] };
            events_subscribe GET "/admin/v1/events" Read { "Live events (server-sent events); resume with Last-Event-ID" q[EventsQueryDto] r[AdminEventDto] sse=true };
            api_keys_list GET "/admin/v1/api-keys" Read { "Admin API keys (never the keys themselves)" r[Vec<ApiKeyDto>] };
            api_key_create POST "/admin/v1/api-keys" Write { "Create an API key; the key is in this response only" b[ApiKeyCreateRequest] r[ApiKeyCreated] st=201 };
            api_key_revoke POST "/admin/v1/api-keys/{id}/revoke" Write { "Revoke an API key" r[ApiKeyDto] };
            settings_get GET "/admin/v1/settings" Read { "Token lifetimes, key rotation and brute-force limits in force, each with its default and source" r[SettingsDto] };
            exchange_policies_list GET "/admin/v1/exchange-policies" Read { "Token exchange policies (RFC 8693); no policy, no exchange" r[Vec<ExchangePolicyDto>] };
            exchange_policy_create POST "/admin/v1/exchange-policies" Write { "Allow a token exchange: requester, subjects, targets, scopes, mode, lifetime" b[ExchangePolicyCreateRequest] r[ExchangePolicyDto] st=201 };
            exchange_policy_explain POST "/admin/v1/exchange-policies/explain" Read { "Dry run of a token exchange: the policy that would allow it and the token's claims, or the rule that refuses it; nothing is issued" b[ExchangeExplainRequest] r[ExchangeExplainDto] };
            exchange_policy_get GET "/admin/v1/exchange-policies/{id}" Read { "One token exchange policy" r[ExchangePolicyDto] };
            exchange_policy_update PATCH "/admin/v1/exchange-policies/{id}" Write { "Change a token exchange policy" b[ExchangePolicyUpdateRequest] r[ExchangePolicyDto] };
            exchange_policy_delete DELETE "/admin/v1/exchange-policies/{id}" Write { "Delete a token exchange policy" st=204 };
            settings_update PATCH "/admin/v1/settings" Write { "Set (a number) or reset to the default (null) runtime settings; every node applies them within a second" b[SettingsUpdateRequest] r[SettingsDto] };
            findings_list GET "/admin/v1/findings" Read { "Findings of the anomaly detections, newest first, filtered by severity and rule" q[FindingFilterDto] r[Vec<FindingDto>] };
            finding_get GET "/admin/v1/findings/{id}" Read { "One finding with its evidence" r[FindingDto] };
            finding_ack POST "/admin/v1/findings/{id}/ack" Write { "Acknowledge a finding (audited)" r[FindingDto] };
            blocks_list GET "/admin/v1/blocks" Read { "Addresses and networks refused at sign-in and the token endpoints, with expiry" r[Vec<BlockDto>] };
            block_add POST "/admin/v1/blocks" Write { "Block an address or network, for a while or until removed" b[BlockAddRequest] r[BlockDto] st=201 };
            block_remove POST "/admin/v1/blocks/remove" Write { "Unblock an address or network (every block of it)" b[BlockRemoveRequest] st=204 };
            security_profile_get GET "/admin/v1/security/profile" Read { "What one account, address or client did lately: failures, successes, distinct users, first and last seen, findings, blocks and a timeline" q[SecurityProfileQuery] r[SecurityProfileDto] };
            webhooks_list GET "/admin/v1/webhooks" Read { "Webhooks told of findings, with their delivery state (last success, last failure and why, consecutive failures, pending)" r[Vec<WebhookDto>] };
            webhook_create POST "/admin/v1/webhooks" Write { "Register a webhook: an https endpoint, the severities and rules it wants; its signing secret is in this response only" b[WebhookCreateRequest] r[WebhookCreated] st=201 };
            webhook_get GET "/admin/v1/webhooks/{id}" Read { "One webhook and its delivery state" r[WebhookDto] };
            webhook_update PATCH "/admin/v1/webhooks/{id}" Write { "Change a webhook's name, URL, filters or enabled flag" b[WebhookUpdateRequest] r[WebhookDto] };
            webhook_delete DELETE "/admin/v1/webhooks/{id}" Write { "Delete a webhook and its queue" st=204 };
            webhook_test POST "/admin/v1/webhooks/{id}/test" Write { "Send a signed test event now and say what the endpoint answered" r[WebhookTestDto] };
            backup_create POST "/admin/v1/backup" Write { "Back up an embedded SQLite store to a new file (0600); a server refuses (forbidden): back it up on its machine with `latchkey backup`, or pg_dump" b[BackupCreateRequest] r[BackupCreatedDto] st=201 };
            registration_tokens_list GET "/admin/v1/registration-tokens" Read { "Initial access tokens for dynamic client registration (RFC 7591), with their policies (never the tokens)" r[Vec<RegistrationTokenDto>] };
            registration_token_create POST "/admin/v1/registration-tokens" Write { "Make an initial access token scoped to the grant types, scopes and redirect URI prefixes it may register; the token is in this response only" b[RegistrationTokenCreateRequest] r[RegistrationTokenCreated] st=201 };
            registration_token_revoke POST "/admin/v1/registration-tokens/{id}/revoke" Write { "Revoke an initial access token: no further registration with it (clients already registered stay)" st=204 };
            config_export GET "/admin/v1/config" Read { "The configuration (clients, scopes, users' roles, exchange policies, runtime settings) as a sorted YAML document; secrets only as references" r[ConfigExportDto] };
            config_plan POST "/admin/v1/config/plan" Read { "What applying a configuration document would create, change (field by field) and delete, and whether the target drifted since the last apply; nothing is written" b[ConfigPlanRequest] r[ConfigPlanDto] };
            config_apply POST "/admin/v1/config/apply" Write { "Apply a configuration document in one transaction with one audit event: all or nothing, deletions only with prune" b[ConfigApplyRequest] r[ConfigAppliedDto] };
        }
    };
}

/// Produces a JSON Schema in a caller's generator (so shared DTOs become references).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The HTTP methods the admin API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Patch,
    Delete,
}

impl HttpMethod {
    /// The method token (RFC 9110 §9), upper case.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (load balancers and monitors call it).
    Open,
    /// Any admin credential, read-only ones included.
    Read,
    /// A read-write credential.
    Write,
}

impl Access {
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Open => "open",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One admin operation (one row of [`for_each_admin_op!`]).
#[derive(Clone, Copy)]
pub struct AdminOp {
    /// The operation's name in every layer (and OpenAPI `operationId`).
    pub name: &'static str,
    pub method: HttpMethod,
    /// With `{param}` placeholders, as axum and OpenAPI both write them.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub query: Option<SchemaFn>,
    pub body: Option<SchemaFn>,
    /// `None`: no body (204).
    pub response: Option<SchemaFn>,
    pub status: u16,
    /// `text/event-stream` instead of JSON.
    pub sse: bool,
}

impl std::fmt::Debug for AdminOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.name, self.method.as_str(), self.path)
    }
}

impl AdminOp {
    /// Needs a read-write credential.
    pub const fn writes(&self) -> bool {
        matches!(self.access, Access::Write)
    }

    /// Needs a credential at all.
    pub const fn secured(&self) -> bool {
        !matches!(self.access, Access::Open)
    }

    /// The names of the path's `{param}` placeholders, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }
}

const fn row(
    name: &'static str,
    method: HttpMethod,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> AdminOp {
    AdminOp {
        name,
        method,
        path,
        access,
        summary,
        query: None,
        body: None,
        response: None,
        status: 200,
        sse: false,
    }
}

macro_rules! method {
    (GET) => {
        HttpMethod::Get
    };
    (POST) => {
        HttpMethod::Post
    };
    (PATCH) => {
        HttpMethod::Patch
    };
    (DELETE) => {
        HttpMethod::Delete
    };
}

macro_rules! table {
    (() $( $name:ident $method:ident $path:literal $access:ident {
        $summary:literal $( q[$q:ty] )? $( b[$b:ty] )? $( r[$r:ty] )? $( st=$st:literal )?
        $( sse=$sse:literal )? } ; )*) => {
        /// One constant per operation, named like it, for callers that address a
        /// single operation (the remote client: `op::client_get`).
        #[allow(non_upper_case_globals)]
        pub mod op {
            use super::*;
            $( pub const $name: AdminOp = AdminOp {
                $( query: Some(s::<$q> as SchemaFn), )?
                $( body: Some(s::<$b> as SchemaFn), )?
                $( response: Some(s::<$r> as SchemaFn), )?
                $( status: $st, )?
                $( sse: $sse, )?
                ..row(stringify!($name), method!($method), $path, Access::$access, $summary)
            }; )*
        }

        /// Every admin operation, in the order of [`for_each_admin_op!`].
        pub const ADMIN_OPS: &[AdminOp] = &[ $( op::$name, )* ];
    };
}

for_each_admin_op!(table);

/// The query of `GET /admin/v1/events` (documented only: the server reads it, and
/// `Last-Event-ID`, itself).
#[derive(JsonSchema)]
pub struct EventsQueryDto {
    /// Resume after this audit event id (or send `Last-Event-ID`).
    pub after_id: Option<i64>,
}

/// The operation with this name.
pub fn by_name(name: &str) -> Option<&'static AdminOp> {
    ADMIN_OPS.iter().find(|o| o.name == name)
}

/// `ui/src/lib/api/operations.gen.ts`: the operations' names as a TS union and the
/// table itself, so the console's IPC wrapper can only name operations that exist and a
/// test can check it has one method per operation.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from crates/latchkey-api-types/src/ops.rs (the one list of admin\n\
         // operations). Do not edit: run `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types`\n\
         // after changing it.\n\
         /* eslint-disable */\n\n\
         /** Every admin operation's name: the AdminBackend method, the IPC command, the\n \
         * OpenAPI operationId. */\n\
         export type AdminOpName =\n",
    );
    for o in ADMIN_OPS {
        out.push_str(&format!("  | '{}'\n", o.name));
    }
    out.push_str(";\n\n");
    out.push_str(
        "export interface AdminOp {\n  name: AdminOpName;\n  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';\n  path: string;\n  /** `open`: no credential; `write`: a read-write credential. */\n  access: 'open' | 'read' | 'write';\n}\n\n",
    );
    out.push_str("export const ADMIN_OPS: readonly AdminOp[] = [\n");
    for o in ADMIN_OPS {
        out.push_str(&format!(
            "  {{ name: '{}', method: '{}', path: '{}', access: '{}' }},\n",
            o.name,
            o.method.as_str(),
            o.path,
            o.access.as_str()
        ));
    }
    out.push_str("];\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_so_are_method_and_path() {
        let mut names: Vec<&str> = ADMIN_OPS.iter().map(|o| o.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ADMIN_OPS.len());
        let mut routes: Vec<(&str, &str)> = ADMIN_OPS
            .iter()
            .map(|o| (o.method.as_str(), o.path))
            .collect();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), ADMIN_OPS.len());
    }

    #[test]
    fn every_route_is_under_admin_v1_and_204s_have_no_body() {
        for o in ADMIN_OPS {
            assert!(o.path.starts_with("/admin/v1/"), "{o:?}");
            assert_eq!(o.status == 204, o.response.is_none(), "{o:?}");
        }
        assert_eq!(op::client_get.path_params().collect::<Vec<_>>(), vec!["id"]);
        assert!(op::token_introspect.method == HttpMethod::Post && !op::token_introspect.writes());
        assert!(!op::health_get.secured());
    }
}
