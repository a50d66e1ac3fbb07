//! TypeScript declarations of every DTO, generated from their JSON Schemas (the same
//! schemas the admin API's OpenAPI document uses), for the desktop console's IPC layer.
//! The output is committed (`ui/src/lib/api/types.gen.ts`) and a test fails when it
//! drifts from the Rust types; `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types`
//! rewrites it.

use crate::shell::*;
use crate::*;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

macro_rules! all_types {
    ($gen:ident; $($t:ty),+ $(,)?) => {
        $( $gen.subschema_for::<$t>(); )+
    };
}

/// Every DTO's schema, by type name.
pub fn schemas() -> Map<String, Value> {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/$defs".into())
        .into_generator();
    all_types!(g;
        ApiErrorDto, ClientDto, ClientCreateRequest, ClientUpdateRequest, ClientCreated,
        SecretRotateRequest, SecretRotated, ClientSetDisabledRequest, ClientCloneRequest,
        ScopeDto, ScopeCreateRequest, UserDto, UserCreateRequest, KeyDto, KeysRotateRequest,
        KeyRotatedDto, KeyRevokedDto, SessionDto, SessionFilterDto, SessionPageDto,
        SessionsRevokeRequest, RevokeImpactDto, ClientImpactDto, UserImpactDto, RevokedDto, AuditEventDto, AuditFilterDto,
        AuditPageDto, ApiKeyDto, ApiKeyCreateRequest, ApiKeyCreated, StatsRequest,
        TokenCountDto, SecurityCountDto, StatsDto, HealthDto, KeyScheduleDto,
        KeysScheduleDto, TokenRequest, AdminEventDto, SettingDto, SettingsDto,
        SettingsUpdateRequest, FindingDto, FindingFilterDto, BlockDto, BlockAddRequest,
        UserUpdateRequest, UserPasswordSetRequest, UserPasswordSet,
        BlockRemoveRequest, SecurityProfileQuery, SecurityProfileDto, ProfileEntryDto, ErrorCode,
        EventKind, AuditAction, SecurityFamily,
        ExchangePolicyDto, ExchangePolicyCreateRequest, ExchangePolicyUpdateRequest,
        ExchangeExplainRequest, ExchangeExplainDto, ExchangeTokenFactsDto,
        ExchangePolicyVerdictDto, WebhookDto, WebhookCreateRequest, WebhookCreated,
        WebhookUpdateRequest, WebhookTestDto, BackupCreateRequest, BackupCreatedDto,
        WebhookUpdateRequest, WebhookTestDto, RegistrationTokenDto,
        RegistrationTokenCreateRequest, RegistrationTokenCreated,
        ConfigFileDto, ConfigPlanRequest, ConfigApplyRequest, ConfigExportDto,
        ConfigFieldChangeDto, ConfigChangeDto, ConfigDriftDto, ConfigPlanDto, ConfigAppliedDto,
        // The shell's own and the inspector's (`shell`).
        ConsoleStatus, ConnectionDto, ConnectionAddRequest, ClientTryRequest,
        ClientTryResult, Inspection, InactiveReason, ServerAnswer,
    );
    g.definitions().clone()
}

/// The whole generated file.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from the Rust types in crates/latchkey-api-types. Do not edit:\n\
         // run `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types` after changing them.\n\
         /* eslint-disable */\n\n\
         /** Any JSON value (`serde_json::Value`, whose schema allows everything). */\n\
         export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };\n\n",
    );
    let defs = schemas();
    let mut names: Vec<&String> = defs.keys().collect();
    names.sort();
    for name in names {
        let schema = &defs[name];
        doc(&mut out, schema, "");
        match (
            schema.get("type").and_then(Value::as_str),
            schema.get("properties"),
        ) {
            (Some("object"), Some(Value::Object(props))) => {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                out.push_str(&format!("export interface {name} {{\n"));
                for (field, p) in props {
                    doc(&mut out, p, "  ");
                    let opt = if required.contains(&field.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    out.push_str(&format!("  {field}{opt}: {};\n", ts_type(p)));
                }
                out.push_str("}\n\n");
            }
            _ => out.push_str(&format!("export type {name} = {};\n\n", ts_type(schema))),
        }
    }
    // The one derived table the console needs at run time: which pages an audited
    // action concerns, decided by `AuditAction::event_kind`, never by the action's text.
    out.push_str(
        "/** Which live event each audit action is (`AuditAction::event_kind`). */\n\
         export const AUDIT_ACTION_EVENT_KINDS: Record<AuditAction, EventKind> = {\n",
    );
    for a in AuditAction::ALL {
        out.push_str(&format!("  '{a}': '{}',\n", a.event_kind()));
    }
    out.push_str("};\n");
    out
}

fn doc(out: &mut String, schema: &Value, indent: &str) {
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        let d = d.replace("*/", "* /");
        if d.contains('\n') {
            out.push_str(&format!("{indent}/**\n"));
            for line in d.lines() {
                out.push_str(&format!("{indent} * {line}\n"));
            }
            out.push_str(&format!("{indent} */\n"));
        } else {
            out.push_str(&format!("{indent}/** {d} */\n"));
        }
    }
}

fn ts_type(s: &Value) -> String {
    // `serde_json::Value`'s schema is `true`: any JSON at all.
    if s == &Value::Bool(true) {
        return "JsonValue".into();
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or("unknown").to_string();
    }
    if let Some(any) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        let parts: Vec<String> = any.iter().map(ts_type).collect();
        return parts.join(" | ");
    }
    // A closed set of strings (the enums in `codes`): a union of literals.
    if let Some(c) = s.get("const").and_then(Value::as_str) {
        return format!("'{c}'");
    }
    if let Some(Value::Array(vs)) = s.get("enum") {
        let parts: Vec<String> = vs
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("'{v}'"))
            .collect();
        if !parts.is_empty() {
            return parts.join(" | ");
        }
    }
    match s.get("type") {
        Some(Value::Array(ts)) => {
            let parts: Vec<String> = ts
                .iter()
                .filter_map(Value::as_str)
                .map(|t| single(t, s))
                .collect();
            parts.join(" | ")
        }
        Some(Value::String(t)) => single(t, s),
        _ => "unknown".into(),
    }
}

fn single(t: &str, s: &Value) -> String {
    match t {
        "string" => "string".into(),
        "integer" | "number" => "number".into(),
        "boolean" => "boolean".into(),
        "null" => "null".into(),
        "array" => {
            let item = s
                .get("items")
                .map(ts_type)
                .unwrap_or_else(|| "unknown".into());
            if item.contains(' ') {
                format!("({item})[]")
            } else {
                format!("{item}[]")
            }
        }
        "object" => match s.get("additionalProperties") {
            Some(ap) if ap.is_object() || ap == &Value::Bool(true) => {
                format!("Record<string, {}>", ts_type(ap))
            }
            _ => "Record<string, unknown>".into(),
        },
        _ => "unknown".into(),
    }
}
