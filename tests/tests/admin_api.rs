//! The admin API on its own listener (issue 3): who may call it (AD-01, walked over
//! every route of the OpenAPI document), secrets only in create/rotate responses
//! (AD-03), bulk revoke with a dry run, the live event stream, admin tokens through the
//! built-in console client, and a property-based run against the OpenAPI document with
//! zero 5xx.

use anyhow::{anyhow, Context, Result};
use futures_util::StreamExt;
use latchkey_e2e::catalogue::{Catalogue, ALICE};
use latchkey_e2e::{Harness, TestClient};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::time::Duration;

const ADMIN: (&str, &str) = ("root", "admin pass phrase 1");

/// How long a test waits for an event or a flush: only a bug takes this long; a busy
/// machine may take seconds.
const EVENT_PATIENCE: Duration = Duration::from_secs(60);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

async fn openapi(h: &Harness) -> Result<Value> {
    Ok(http()
        .get(h.admin_url("/admin/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?)
}

/// (method, path template, operation) for every route in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "no-such-thing"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(
    h: &Harness,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Result<reqwest::Response> {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())?;
    let mut rb = http().request(m, h.admin_url(path));
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    Ok(rb.send().await?)
}

/// `call` that must succeed, returning the JSON body.
async fn json_of(
    h: &Harness,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<&Value>,
) -> Value {
    let r = call(h, method, path, Some(bearer), body).await.unwrap();
    assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    r.json().await.unwrap()
}

/// Reads an SSE body until `needle` has appeared `times` times (or panics at `deadline`).
async fn read_events<S, B>(
    stream: &mut S,
    needle: &str,
    times: usize,
    deadline: tokio::time::Instant,
) -> String
where
    S: futures_util::Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut seen = String::new();
    while seen.matches(needle).count() < times {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("event before the deadline")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    seen
}

/// The `id:` of the first event in an SSE text.
fn first_event_id(text: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix("id: ").and_then(|v| v.trim().parse().ok()))
        .expect("an event id")
}

/// An access token from the real authorization-code flow of the console client.
async fn console_token(h: &Harness, user: (&str, &str), scope: &str) -> Result<Value> {
    let console: TestClient = h.console_client();
    h.code_flow_tokens(&console, scope, user).await
}

#[tokio::test]
async fn every_route_refuses_no_credential_a_user_token_and_a_read_only_key_on_writes() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let user_token = h
        .code_flow_tokens(&cat.c1, "openid profile", ALICE)
        .await
        .unwrap();
    let user_at = user_token["access_token"].as_str().unwrap().to_string();
    let (_, read_key) = h.api_key(true).await.unwrap();
    let (_, write_key) = h.api_key(false).await.unwrap();
    let doc = openapi(h).await.unwrap();
    let ops = operations(&doc);
    assert!(
        ops.len() >= 30,
        "the document lists {} operations",
        ops.len()
    );
    let mut secured = 0;
    for (method, path, op) in &ops {
        let url = concrete(path);
        let open = op["security"].as_array().is_some_and(|s| s.is_empty());
        let no_cred = call(h, method, &url, None, None).await.unwrap();
        if open {
            assert!(
                no_cred.status().is_success(),
                "{method} {path}: {}",
                no_cred.status()
            );
            continue;
        }
        secured += 1;
        assert_eq!(no_cred.status(), 401, "{method} {path} without credentials");
        assert!(
            no_cred.headers().get("www-authenticate").is_some(),
            "{method} {path}"
        );
        let body: Value = no_cred.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{method} {path}");

        let garbage = call(h, method, &url, Some("not-a-token"), None)
            .await
            .unwrap();
        assert_eq!(
            garbage.status(),
            401,
            "{method} {path} with a garbage token"
        );
        let revoked_key = call(h, method, &url, Some("lk_unknownkeyunknownkey"), None)
            .await
            .unwrap();
        assert_eq!(
            revoked_key.status(),
            401,
            "{method} {path} with an unknown key"
        );

        let as_user = call(h, method, &url, Some(&user_at), None).await.unwrap();
        assert_eq!(
            as_user.status(),
            403,
            "{method} {path} with a user token (openid)"
        );
        let body: Value = as_user.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");

        // Whether it writes is the op table's access level (introspection and the
        // exchange dry run are reads though they are POSTs).
        let write = latchkey_api_types::ops::ADMIN_OPS
            .iter()
            .find(|o| op["operationId"] == o.name)
            .map_or(method != "get", |o| o.writes());
        let ro = call(h, method, &url, Some(&read_key), None).await.unwrap();
        if write {
            assert_eq!(ro.status(), 403, "{method} {path} with a read-only key");
        } else {
            assert!(
                ro.status() != 401 && ro.status() != 403,
                "{method} {path}: a read-only key may read, got {}",
                ro.status()
            );
        }
        let rw = call(h, method, &url, Some(&write_key), None).await.unwrap();
        assert!(
            rw.status() != 401 && rw.status() != 403 && !rw.status().is_server_error(),
            "{method} {path} with a read-write key: {}",
            rw.status()
        );
    }
    assert!(secured >= 30);
    // AD-02: the admin listener sends no CORS headers, even when asked.
    let pre = http()
        .request(reqwest::Method::OPTIONS, h.admin_url("/admin/v1/clients"))
        .header("origin", "https://evil.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(pre.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn admin_scopes_are_granted_to_administrators_only_and_their_tokens_work() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    h.admin_user(ADMIN.0, ADMIN.1).await.unwrap();
    let tokens = console_token(h, ADMIN, "openid latchkey:admin")
        .await
        .unwrap();
    assert!(tokens["scope"].as_str().unwrap().contains("latchkey:admin"));
    let at = tokens["access_token"].as_str().unwrap();
    let r = call(h, "get", "/admin/v1/clients", Some(at), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Writes are audited with the admin as the actor and the caller's address.
    let created = call(
        h,
        "post",
        "/admin/v1/scopes",
        Some(at),
        Some(&json!({"name": "reports", "description": "Read reports"})),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let audit: Value = call(
        h,
        "get",
        "/admin/v1/audit?action_prefix=scope.create&target=reports",
        Some(at),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ev = &audit["items"][0];
    assert!(ev["actor"].as_str().unwrap().starts_with("user:"), "{ev}");
    assert_eq!(ev["ip"], "127.0.0.1");

    // A non-admin asking for the admin scope gets a token without it (RFC 6749 §3.3).
    let plain = console_token(h, ALICE, "openid latchkey:admin")
        .await
        .unwrap();
    assert!(
        !plain["scope"]
            .as_str()
            .unwrap_or("")
            .contains("latchkey:admin"),
        "{plain}"
    );
    let r = call(
        h,
        "get",
        "/admin/v1/clients",
        plain["access_token"].as_str(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);

    // Read-only admin tokens read but do not write.
    let ro = console_token(h, ADMIN, "openid latchkey:admin:read")
        .await
        .unwrap();
    let ro_at = ro["access_token"].as_str().unwrap();
    assert_eq!(
        call(h, "get", "/admin/v1/sessions", Some(ro_at), None)
            .await
            .unwrap()
            .status(),
        200
    );
    let w = call(
        h,
        "post",
        "/admin/v1/keys/rotate",
        Some(ro_at),
        Some(&json!({})),
    )
    .await
    .unwrap();
    assert_eq!(w.status(), 403);

    // A revoked admin token is refused at once (the admin API checks like introspection).
    let revoked = call(
        h,
        "post",
        "/admin/v1/tokens/revoke",
        Some(at),
        Some(&json!({"token": ro_at})),
    )
    .await
    .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        call(h, "get", "/admin/v1/sessions", Some(ro_at), None)
            .await
            .unwrap()
            .status(),
        401
    );

    // Client credentials can never carry an admin scope, even for a client marked as
    // an admin tool (the only kind that may list it).
    let created = h
        .manager
        .client_create(
            "test",
            latchkey_core::manage::NewClient {
                name: "m2m".into(),
                grant_types: vec![latchkey_core::model::GrantType::ClientCredentials],
                allowed_scopes: vec!["latchkey:admin".into()],
                admin_tool: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let m2m = TestClient {
        id: created.client.id,
        secret: created.secret.map(|s| s.into_string()),
        redirect_uri: String::new(),
    };
    let r = h
        .post_basic(
            "/token",
            &m2m,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "latchkey:admin"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn a_client_secret_is_only_in_the_create_and_rotate_answers_never_in_reads_events_logs_or_audit(
) {
    let logs = latchkey_e2e::logs::captured_logs();
    let h = Harness::start().await.unwrap();
    let (_, key) = h.api_key(false).await.unwrap();
    let events = http()
        .get(h.admin_url("/admin/v1/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = events.bytes_stream();

    let created: Value = call(
        &h,
        "post",
        "/admin/v1/clients",
        Some(&key),
        Some(&json!({"name": "Billing", "grant_types": ["client_credentials"], "allowed_scopes": []})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret1 = created["client_secret"].as_str().unwrap().to_string();
    let rotated: Value = call(
        &h,
        "post",
        &format!("/admin/v1/clients/{id}/rotate-secret"),
        Some(&key),
        Some(&json!({"overlap_secs": 60})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret2 = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(secret1, secret2);

    // The live stream saw the creation and the rotation as client changes.
    let deadline = tokio::time::Instant::now() + EVENT_PATIENCE;
    let seen = read_events(&mut stream, "event: client_changed", 2, deadline).await;
    assert!(seen.contains(&id));

    let mut reads = vec![seen];
    for path in [
        format!("/admin/v1/clients/{id}"),
        "/admin/v1/clients".to_string(),
        "/admin/v1/audit?limit=1000".to_string(),
        "/admin/v1/security-events".to_string(),
    ] {
        reads.push(
            call(&h, "get", &path, Some(&key), None)
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    for body in &reads {
        assert!(
            !body.contains(&secret1),
            "the first secret was shown again: {body}"
        );
        assert!(
            !body.contains(&secret2),
            "the second secret was shown again: {body}"
        );
    }
    // The audit log has the changes, without the secrets.
    assert!(reads[3].contains("client.create") && reads[3].contains("client.rotate_secret"));
    // The same for API keys: the key only in its create answer.
    let made: Value = call(
        &h,
        "post",
        "/admin/v1/api-keys",
        Some(&key),
        Some(&json!({"name": "deploy", "read_only": true, "expires_in": 3600})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let new_key = made["api_key"].as_str().unwrap();
    assert!(new_key.starts_with("lk_"));
    let listed = call(&h, "get", "/admin/v1/api-keys", Some(&key), None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("deploy") && !listed.contains(new_key));
    let audit = call(&h, "get", "/admin/v1/audit", Some(&key), None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(new_key));
    // The new key works, read-only, and is named as the actor; revoked, it stops.
    assert_eq!(
        call(&h, "get", "/admin/v1/clients", Some(new_key), None)
            .await
            .unwrap()
            .status(),
        200
    );
    let kid = made["id"].as_str().unwrap();
    let r = call(
        &h,
        "post",
        &format!("/admin/v1/api-keys/{kid}/revoke"),
        Some(&key),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        call(&h, "get", "/admin/v1/clients", Some(new_key), None)
            .await
            .unwrap()
            .status(),
        401
    );
    // Nor did any of it reach a log line, at TRACE.
    let logged = logs.text();
    assert!(logged.contains("admin"), "the capture saw the run");
    for secret in [secret1.as_str(), secret2.as_str(), new_key, key.as_str()] {
        assert!(!logged.contains(secret), "a secret was logged");
    }
}

#[tokio::test]
async fn a_bulk_revoke_cuts_off_what_its_dry_run_announced_and_the_tokens_go_inactive() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let (_, key) = h.api_key(false).await.unwrap();
    let mut ats = Vec::new();
    for _ in 0..3 {
        let t = h
            .code_flow_tokens(&cat.c1, "openid profile", ALICE)
            .await
            .unwrap();
        ats.push(t["access_token"].as_str().unwrap().to_string());
    }
    let bob = h
        .code_flow_tokens(&cat.c1, "openid", latchkey_e2e::catalogue::BOB)
        .await
        .unwrap();

    let page: Value = json_of(
        h,
        "get",
        "/admin/v1/sessions?user=alice&limit=2",
        &key,
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"]
        .as_str()
        .context("a second page")
        .unwrap();
    let page2: Value = json_of(
        h,
        "get",
        &format!("/admin/v1/sessions?user=alice&limit=2&cursor={cursor}"),
        &key,
        None,
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());

    let filter = json!({"filter": {"user": "alice", "client_id": cat.c1.id, "ip": "127.0.0."}});
    let mut dry = filter.clone();
    dry["dry_run"] = json!(true);
    let would: Value = json_of(h, "post", "/admin/v1/sessions/revoke", &key, Some(&dry)).await;
    assert_eq!(
        would,
        json!({"sessions": 3, "refresh_families": 3, "live_access_tokens": 3, "dry_run": true})
    );
    for at in &ats {
        assert_eq!(h.introspect(&cat.rs, at).await.unwrap()["active"], true);
    }
    let did: Value = json_of(h, "post", "/admin/v1/sessions/revoke", &key, Some(&filter)).await;
    assert_eq!(
        did,
        json!({"sessions": 3, "refresh_families": 3, "live_access_tokens": 3, "dry_run": false})
    );
    for at in &ats {
        assert_eq!(h.introspect(&cat.rs, at).await.unwrap()["active"], false);
    }
    // Bob was not covered.
    assert_eq!(
        h.introspect(&cat.rs, bob["access_token"].as_str().unwrap())
            .await
            .unwrap()["active"],
        true
    );
    // Bad selectors are clear errors.
    let two = call(
        h,
        "post",
        "/admin/v1/sessions/revoke",
        Some(&key),
        Some(&json!({"user": "alice", "client_id": cat.c1.id})),
    )
    .await
    .unwrap();
    assert_eq!(two.status(), 400);
    let bad_state = call(
        h,
        "get",
        "/admin/v1/sessions?state=sleepy",
        Some(&key),
        None,
    )
    .await
    .unwrap();
    assert_eq!(bad_state.status(), 400);
    let bad_cursor = call(h, "get", "/admin/v1/sessions?cursor=%%%", Some(&key), None)
        .await
        .unwrap();
    assert_eq!(bad_cursor.status(), 400);
    let nobody = call(h, "get", "/admin/v1/sessions?user=nobody", Some(&key), None)
        .await
        .unwrap();
    assert_eq!(nobody.status(), 404);

    // Stats saw the code grants (flushed every few seconds): polled until a generous
    // deadline, since a busy machine may miss a flush or two.
    let mut issued = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let st: Value = json_of(h, "get", "/admin/v1/stats?minutes=10", &key, None).await;
        issued = st["tokens_per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["grant_type"] == "authorization_code")
            .map(|t| t["count"].as_i64().unwrap())
            .sum::<i64>();
        if issued >= 4 {
            assert_eq!(st["active_sessions"], 1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(issued, 4);
}

#[tokio::test]
async fn the_event_stream_reports_new_sessions_and_resumes_from_last_event_id() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let (_, key) = h.api_key(true).await.unwrap();
    let resp = http()
        .get(h.admin_url("/admin/v1/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    h.code_flow_tokens(&cat.c1, "openid", ALICE).await.unwrap();
    let deadline = tokio::time::Instant::now() + EVENT_PATIENCE;
    let seen = read_events(&mut stream, "event: session_created", 1, deadline).await;
    let id = first_event_id(&seen);
    drop(stream);
    // A later reconnect with Last-Event-ID gets what happened meanwhile, and nothing
    // from before.
    h.code_flow_tokens(&cat.c1, "openid", ALICE).await.unwrap();
    let resp = http()
        .get(h.admin_url("/admin/v1/events"))
        .bearer_auth(&key)
        .header("last-event-id", id.to_string())
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let again = read_events(&mut stream, "event: session_created", 1, deadline).await;
    let first_id = first_event_id(&again);
    assert!(first_id > id);
}

// --- property-based run against the OpenAPI document ------------------------------------

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .rsplit('/')
            .next()
            .and_then(|n| doc["components"]["schemas"].get(n))
            .unwrap_or(schema),
        None => schema,
    }
}

fn nasty_string(rng: &mut StdRng) -> String {
    const POOL: &[&str] = &[
        "",
        " ",
        "a",
        "openid",
        "client_credentials",
        "confidential",
        "public",
        "ES256",
        "RS256",
        "none",
        "https://app.test/cb",
        "http://127.0.0.1/cb",
        "javascript:alert(1)",
        "../../etc/passwd",
        "%00",
        "\u{0}",
        "é漢字🙂",
        "' OR 1=1 --",
        "{\"keys\":[]}",
        "active",
        "revoked",
        "any",
        "last_used_at",
        "asc",
        "10.0.",
        "*",
        "-1",
        "99999999999999999999",
    ];
    if rng.gen_bool(0.15) {
        "x".repeat(rng.gen_range(300..5000))
    } else {
        POOL[rng.gen_range(0..POOL.len())].to_string()
    }
}

fn gen_value(doc: &Value, schema: &Value, rng: &mut StdRng, depth: u32) -> Value {
    let schema = resolve(doc, schema);
    // Sometimes the wrong type altogether.
    if depth > 3 || rng.gen_bool(0.1) {
        return match rng.gen_range(0..6) {
            0 => Value::Null,
            1 => json!(rng.gen::<i64>()),
            2 => json!(nasty_string(rng)),
            3 => json!([]),
            4 => json!({}),
            _ => json!(true),
        };
    }
    if let Some(any) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        if !any.is_empty() {
            let pick = &any[rng.gen_range(0..any.len())];
            return gen_value(doc, pick, rng, depth + 1);
        }
    }
    let ty = match schema.get("type") {
        Some(Value::Array(ts)) if !ts.is_empty() => ts[rng.gen_range(0..ts.len())]
            .as_str()
            .unwrap_or("string")
            .to_string(),
        Some(Value::String(t)) => t.clone(),
        _ => "string".into(),
    };
    match ty.as_str() {
        "null" => Value::Null,
        "boolean" => json!(rng.gen_bool(0.5)),
        "integer" | "number" => {
            let choices = [
                0i64,
                -1,
                1,
                60,
                3600,
                i64::MAX,
                i64::MIN,
                rng.gen_range(-100_000..100_000),
            ];
            json!(choices[rng.gen_range(0..choices.len())])
        }
        "array" => {
            let item = schema.get("items").cloned().unwrap_or(json!({}));
            let n = rng.gen_range(0..4);
            Value::Array(
                (0..n)
                    .map(|_| gen_value(doc, &item, rng, depth + 1))
                    .collect(),
            )
        }
        "object" => {
            let mut m = Map::new();
            for (k, p) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if rng.gen_bool(0.7) {
                    m.insert(k.clone(), gen_value(doc, p, rng, depth + 1));
                }
            }
            if rng.gen_bool(0.1) {
                m.insert("unexpected_field".into(), json!(nasty_string(rng)));
            }
            Value::Object(m)
        }
        _ => json!(nasty_string(rng)),
    }
}

fn query_string(doc: &Value, op: &Value, rng: &mut StdRng) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] != "query" || !rng.gen_bool(0.5) {
            continue;
        }
        let v = gen_value(doc, &p["schema"], rng, 2);
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        pairs.append_pair(p["name"].as_str().unwrap_or("x"), &text);
    }
    pairs.finish()
}

#[tokio::test]
async fn random_and_malformed_requests_from_the_openapi_document_never_get_a_5xx() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let (_, key) = h.api_key(false).await.unwrap();
    let doc = openapi(h).await.unwrap();
    let seed: u64 = std::env::var("LATCHKEY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let rounds: usize = std::env::var("LATCHKEY_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    eprintln!("fuzz seed {seed} (LATCHKEY_FUZZ_SEED to replay), {rounds} rounds per operation");
    let mut rng = StdRng::seed_from_u64(seed);
    let known = [cat.c1.id.clone(), "alice".into(), "openid".into()];
    let mut sent = 0;
    let mut failures = Vec::new();
    for (method, path, op) in operations(&doc) {
        if op["operationId"] == "events_subscribe" {
            continue; // a stream; covered above
        }
        for _ in 0..rounds {
            let url: String = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        let raw = if rng.gen_bool(0.3) {
                            known[rng.gen_range(0..known.len())].clone()
                        } else {
                            nasty_string(&mut rng)
                        };
                        url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>()
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let qs = query_string(&doc, &op, &mut rng);
            let full = if qs.is_empty() {
                url.clone()
            } else {
                format!("{url}?{qs}")
            };
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut rb = http().request(m, h.admin_url(&full)).bearer_auth(&key);
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                rb = match rng.gen_range(0..10) {
                    0 => rb
                        .header("content-type", "application/json")
                        .body("{not json"),
                    1 => rb.body("plain text"),
                    _ => rb.json(&gen_value(&doc, schema, &mut rng, 0)),
                };
            }
            let r = rb
                .send()
                .await
                .map_err(|e| anyhow!("{method} {full}: {e}"))
                .unwrap();
            sent += 1;
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if status.is_server_error() {
                failures.push(format!("{method} {full} → {status}: {body}"));
            } else if !status.is_success() {
                let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| {
                    panic!("{method} {full} → {status} with a non-JSON body: {body}")
                });
                assert!(
                    v["code"].is_string() && v["message"].is_string(),
                    "{method} {full}: {v}"
                );
            }
        }
    }
    eprintln!("sent {sent} requests");
    assert!(
        failures.is_empty(),
        "seed {seed}: {} 5xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent > 300);
}

#[tokio::test]
async fn the_audit_log_pages_both_ways_and_filters_by_actor_action_target_and_time() {
    let h = Harness::start().await.unwrap();
    let (key_id, key) = h.api_key(false).await.unwrap();
    for i in 0..5 {
        let r = call(
            &h,
            "post",
            "/admin/v1/scopes",
            Some(&key),
            Some(&json!({"name": format!("s{i}"), "description": "d"})),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
    }
    let actor = format!("api-key:{key_id}");
    let get = |q: String| {
        let h = &h;
        let key = key.clone();
        async move {
            let v: Value = json_of(h, "get", &format!("/admin/v1/audit?{q}"), &key, None).await;
            v
        }
    };
    let targets = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let newest = get(format!("actor={actor}&limit=2")).await;
    assert_eq!(targets(&newest), ["s4", "s3"]);
    let older = get(format!(
        "actor={actor}&limit=2&cursor={}",
        newest["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(targets(&older), ["s2", "s1"]);
    let oldest = get(format!("actor={actor}&order=asc&limit=3")).await;
    assert_eq!(targets(&oldest), ["s0", "s1", "s2"]);
    let rest = get(format!(
        "actor={actor}&order=asc&limit=3&cursor={}",
        oldest["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(targets(&rest), ["s3", "s4"]);
    assert!(rest["next_cursor"].is_null());
    let one = get("action_prefix=scope.create&target=s2".into()).await;
    assert_eq!(targets(&one), ["s2"]);
    let now = one["items"][0]["at"].as_i64().unwrap();
    let none = get(format!("actor={actor}&until={}", now - 3600)).await;
    assert!(targets(&none).is_empty());
    let all = get(format!(
        "actor={actor}&since={}&until={}",
        now - 60,
        now + 60
    ))
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let bad = call(
        &h,
        "get",
        "/admin/v1/audit?order=sideways",
        Some(&key),
        None,
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_event_stream_ends_when_the_server_stops_and_health_names_the_issuer() {
    let mut h = Harness::start().await.unwrap();
    let health: Value = http()
        .get(h.admin_url("/admin/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["issuer"], h.issuer.as_str());
    let (_, key) = h.api_key(true).await.unwrap();
    let resp = http()
        .get(h.admin_url("/admin/v1/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let stopped = tokio::time::timeout(Duration::from_secs(4), h.stop()).await;
    assert!(stopped.is_ok(), "stopping waited on the open event stream");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the event stream stayed open after the server stopped"
    );
}
