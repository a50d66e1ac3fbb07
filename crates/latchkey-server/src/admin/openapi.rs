//! The admin API described once: [`OPERATIONS`] lists every route with its operation id
//! (the `AdminBackend` method name), whether it writes, and its schemas. The OpenAPI 3.1
//! document is generated from it and from the DTOs' JSON Schemas (schemars), and the
//! auth middleware reads `write` from it, so the document, the access rule and the
//! tests cannot disagree.

use axum::http::Method;
use latchkey_api_types::*;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// One admin API route.
pub struct Operation {
    pub method: &'static str,
    /// With `{param}` placeholders, as axum and OpenAPI both write them.
    pub path: &'static str,
    /// The `AdminBackend` method (and OpenAPI `operationId`).
    pub name: &'static str,
    pub summary: &'static str,
    /// Needs a read-write credential.
    pub write: bool,
    /// Whether a credential is needed at all.
    pub secured: bool,
    pub query: Option<SchemaFn>,
    pub body: Option<SchemaFn>,
    /// `None`: no body (204).
    pub response: Option<SchemaFn>,
    pub status: u16,
    /// `text/event-stream` instead of JSON.
    pub sse: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    name: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        name,
        summary,
        write: false,
        secured: true,
        query: None,
        body: None,
        response: None,
        status: 200,
        sse: false,
    }
}

macro_rules! ops {
    ($( $method:literal $path:literal $name:ident $summary:literal
        $( w=$w:literal )? $( q[$q:ty] )? $( b[$b:ty] )? $( r[$r:ty] )? $( st=$st:literal )?
        $( open=$open:literal )? $( sse=$sse:literal )? ; )*) => {
        /// Every admin API route.
        pub const OPERATIONS: &[Operation] = &[
            $( Operation {
                $( write: $w, )?
                $( query: Some(s::<$q> as SchemaFn), )?
                $( body: Some(s::<$b> as SchemaFn), )?
                $( response: Some(s::<$r> as SchemaFn), )?
                $( status: $st, )?
                $( secured: !$open, )?
                $( sse: $sse, )?
                ..op($method, $path, stringify!($name), $summary)
            }, )*
        ];
    };
}

ops! {
    "get" "/admin/v1/health" health_get "Whether the store answers; no credential needed" r[HealthDto] open=true;
    "get" "/admin/v1/clients" clients_list "List clients" r[Vec<ClientDto>];
    "post" "/admin/v1/clients" client_create "Register a client; the secret is in this response only" w=true b[ClientCreateRequest] r[ClientCreated] st=201;
    "get" "/admin/v1/clients/{id}" client_get "One client (never its secret)" r[ClientDto];
    "patch" "/admin/v1/clients/{id}" client_update "Change a client" w=true b[ClientUpdateRequest] r[ClientDto];
    "delete" "/admin/v1/clients/{id}" client_delete "Delete a client and everything issued to it" w=true st=204;
    "post" "/admin/v1/clients/{id}/rotate-secret" client_rotate_secret "New secret (shown once); older ones live on for the overlap" w=true b[SecretRotateRequest] r[SecretRotated];
    "post" "/admin/v1/clients/{id}/disabled" client_set_disabled "Disable or enable a client" w=true b[ClientSetDisabledRequest] r[ClientDto];
    "post" "/admin/v1/clients/{id}/clone" client_clone "Copy a client's settings into a new client" w=true b[ClientCloneRequest] r[ClientCreated] st=201;
    "get" "/admin/v1/scopes" scopes_list "List scopes and the claims they release" r[Vec<ScopeDto>];
    "post" "/admin/v1/scopes" scope_create "Create a scope" w=true b[ScopeCreateRequest] r[ScopeDto] st=201;
    "delete" "/admin/v1/scopes/{name}" scope_delete "Delete a custom scope" w=true st=204;
    "get" "/admin/v1/users" users_list "List users" r[Vec<UserDto>];
    "post" "/admin/v1/users" user_create "Create a user" w=true b[UserCreateRequest] r[UserDto] st=201;
    "get" "/admin/v1/users/{id}" user_get "One user, by id or username" r[UserDto];
    "post" "/admin/v1/users/{id}/disable" user_disable "Disable a user and revoke their sessions" w=true r[UserDto];
    "post" "/admin/v1/users/{id}/enable" user_enable "Enable a user" w=true r[UserDto];
    "get" "/admin/v1/keys" keys_list "Signing keys with their lifecycle state" r[Vec<KeyDto>];
    "post" "/admin/v1/keys/rotate" keys_rotate "Rotate now: the published successor signs, the old key retires" w=true b[KeysRotateRequest] r[Vec<KeyRotatedDto>];
    "get" "/admin/v1/keys/schedule" keys_schedule_get "The rotation policy and when each algorithm rotates next" r[KeysScheduleDto];
    "post" "/admin/v1/keys/{kid}/revoke" key_revoke "Emergency revoke: every token the key signed becomes inactive" w=true r[KeyRevokedDto];
    "get" "/admin/v1/jwks" jwks_get "The JWK Set as relying parties see it" r[Value];
    "get" "/admin/v1/sessions" sessions_list "Sessions, filtered, sorted and paginated by cursor" q[SessionFilterDto] r[SessionPageDto];
    "post" "/admin/v1/sessions/revoke" sessions_revoke "Bulk revoke by ids, user, client or filter; dry_run says what it would cut off" w=true b[SessionsRevokeRequest] r[RevokeImpactDto];
    "get" "/admin/v1/sessions/{id}" session_get "One session with its live token counts" r[SessionDto];
    "post" "/admin/v1/sessions/{id}/revoke" session_revoke "Revoke one session" w=true r[RevokedDto];
    "post" "/admin/v1/tokens/introspect" token_introspect "RFC 7662 answer for any token of this server" b[TokenRequest] r[Value];
    "post" "/admin/v1/tokens/revoke" token_revoke "Revoke any token of this server" w=true b[TokenRequest] r[RevokedDto];
    "get" "/admin/v1/audit" audit_list "Audit events, newest first, filtered, paginated by cursor" q[AuditFilterDto] r[AuditPageDto];
    "get" "/admin/v1/security-events" security_events_list "Security events only" q[AuditFilterDto] r[AuditPageDto];
    "get" "/admin/v1/stats" stats_get "Tokens per minute by grant and client, active sessions, failed authentications" q[StatsRequest] r[StatsDto];
    "get" "/admin/v1/events" events_subscribe "Live events (server-sent events); resume with Last-Event-ID" q[EventsQueryDto] r[AdminEventDto] sse=true;
    "get" "/admin/v1/api-keys" api_keys_list "Admin API keys (never the keys themselves)" r[Vec<ApiKeyDto>];
    "post" "/admin/v1/api-keys" api_key_create "Create an API key; the key is in this response only" w=true b[ApiKeyCreateRequest] r[ApiKeyCreated] st=201;
    "post" "/admin/v1/api-keys/{id}/revoke" api_key_revoke "Revoke an API key" w=true r[ApiKeyDto];
    "get" "/admin/v1/settings" settings_get "Token lifetimes, key rotation and brute-force limits in force, each with its default and source" r[SettingsDto];
    "patch" "/admin/v1/settings" settings_update "Set (a number) or reset to the default (null) runtime settings; every node applies them within a second" w=true b[SettingsUpdateRequest] r[SettingsDto];
}

/// The query of `GET /admin/v1/events` (documented only).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct EventsQueryDto {
    /// Resume after this audit event id (or send `Last-Event-ID`).
    after_id: Option<i64>,
}

/// Whether the route (as matched by axum) needs a read-write credential. Unknown
/// routes count as writes: the safe default.
pub fn is_write(method: &Method, path: &str) -> bool {
    OPERATIONS
        .iter()
        .find(|o| o.path == path && o.method.eq_ignore_ascii_case(method.as_str()))
        .is_none_or(|o| o.write)
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut gen = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas".into())
        .into_generator();
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut params: Vec<Value> = path_params(o.path)
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if let Some(q) = o.query {
            let schema = q(&mut gen).to_value();
            let resolved = resolve(&schema, gen.definitions());
            if let Some(props) = resolved.get("properties").and_then(Value::as_object) {
                for (name, p) in props {
                    let mut pv =
                        json!({"name": name, "in": "query", "required": false, "schema": p});
                    if let Some(d) = p.get("description") {
                        pv["description"] = d.clone();
                    }
                    params.push(pv);
                }
            }
        }
        let mut opv = json!({
            "operationId": o.name,
            "summary": o.summary,
            "parameters": params,
            "responses": responses(o, &mut gen),
        });
        if o.secured {
            opv["security"] = json!([{"bearer": []}]);
        } else {
            opv["security"] = json!([]);
        }
        if let Some(b) = o.body {
            opv["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": b(&mut gen).to_value()}},
            });
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = opv;
    }
    let mut schemas = gen.definitions().clone();
    schemas.insert(
        "ApiErrorDto".into(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": latchkey_api_types::ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                "message": {"type": "string"}
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Latchkey admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every administrative operation of a Latchkey server. Authenticate with `Authorization: Bearer` and an admin API key (`lk_…`) or an access token of this server with scope `latchkey:admin` (read-write) or `latchkey:admin:read` (read-only)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Admin API key or admin access token"}
            }
        }
    })
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiErrorDto"}}}
    })
}

fn responses(o: &Operation, gen: &mut SchemaGenerator) -> Value {
    let mut r = Map::new();
    let ok = match (o.response, o.sse) {
        (Some(f), true) => json!({
            "description": "A stream of events; each `data:` is one of these",
            "content": {"text/event-stream": {"schema": f(gen).to_value()}}
        }),
        (Some(f), false) => json!({
            "description": "Success",
            "content": {"application/json": {"schema": f(gen).to_value()}}
        }),
        (None, _) => json!({"description": "Done"}),
    };
    r.insert(o.status.to_string(), ok);
    r.insert("400".into(), error_response("invalid_input"));
    if o.secured {
        r.insert(
            "401".into(),
            error_response("unauthorized: no or unusable credential"),
        );
        r.insert(
            "403".into(),
            error_response("forbidden: the credential may not do this"),
        );
    }
    if o.path.contains('{') {
        r.insert("404".into(), error_response("not_found"));
    }
    if o.write {
        r.insert("409".into(), error_response("conflict"));
    }
    r.insert(
        "503".into(),
        error_response("unavailable: try again (Retry-After)"),
    );
    Value::Object(r)
}

/// Follows one `$ref` into the definitions (query DTOs are always references).
fn resolve(schema: &Value, defs: &Map<String, Value>) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .rsplit('/')
            .next()
            .and_then(|name| defs.get(name))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    }
}
