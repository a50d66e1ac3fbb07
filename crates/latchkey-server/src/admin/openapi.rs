//! The admin API's OpenAPI 3.1 document, generated from the one list of operations
//! (`latchkey_api_types::ops::ADMIN_OPS`: operation id, method, route, access, schemas)
//! and the DTOs' JSON Schemas (schemars). The auth middleware reads each route's access
//! level from the same list ([`is_write`]), so the document, the access rule, the router
//! and the tests cannot disagree.

use axum::http::Method;
use latchkey_api_types::ops::{AdminOp, ADMIN_OPS};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};

/// Whether the route (as matched by axum) needs a read-write credential. Unknown
/// routes count as writes: the safe default.
pub fn is_write(method: &Method, path: &str) -> bool {
    ADMIN_OPS
        .iter()
        .find(|o| o.path == path && o.method.as_str() == method.as_str())
        .is_none_or(AdminOp::writes)
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut gen = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas".into())
        .into_generator();
    let mut paths = Map::new();
    for o in ADMIN_OPS {
        let mut params: Vec<Value> = o
            .path_params()
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
        if o.secured() {
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
        // OpenAPI's path item keys are the methods in lower case.
        entry[o.method.as_str().to_ascii_lowercase()] = opv;
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

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiErrorDto"}}}
    })
}

fn responses(o: &AdminOp, gen: &mut SchemaGenerator) -> Value {
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
    if o.secured() {
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
    if o.writes() {
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
