//! The console's IPC surface through Tauri's real IPC path (`MockRuntime`, no display):
//! commands over a real embedded store, errors as `{code, message}`, secrets shown once
//! and never again, and the command lists kept in step.

use latchkey_api_types::*;
use latchkey_desktop::console::{ConsoleStatus, Opener};
use latchkey_desktop::{Console, ConsoleOptions, COMMANDS};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

struct World {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    console: Console,
    _app: tauri::App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

fn world(with_server: bool) -> World {
    world_with(with_server, Arc::new(|_: &str| {}))
}

fn world_with(with_server: bool, opener: Opener) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("console.db");
    let console = Console::with_opener(
        ConsoleOptions {
            db: db.clone(),
            port: 0,
            connections: dir.path().join("connections.json"),
        },
        opener,
    );
    let c = console.clone();
    tauri::async_runtime::block_on(async move {
        if with_server {
            c.start().await
        } else {
            c.start_without_server().await
        }
    });
    let app = latchkey_desktop::builder(mock_builder())
        .manage(console.clone())
        .build(mock_context(noop_assets()))
        .expect("app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("webview");
    World {
        _dir: dir,
        db,
        console,
        _app: app,
        webview,
    }
}

impl World {
    fn call_raw(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().expect("json body"))
    }

    fn call<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> T {
        let v = self
            .call_raw(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{cmd}: unexpected answer: {e}"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let c = self.console.clone();
        tauri::async_runtime::block_on(async move { c.shutdown().await });
    }
}

#[test]
fn the_manifest_the_handler_and_the_capability_name_the_same_commands() {
    // build.rs's app manifest is this very list.
    let build_rs = include_str!("../build.rs");
    assert!(build_rs.contains("include!(\"src/command_names.rs\")"));
    assert!(build_rs.contains(".commands(COMMANDS)"));

    let cap: Value = serde_json::from_str(include_str!("../capabilities/main.json")).expect("json");
    assert_eq!(cap["windows"], json!(["main"]));
    let granted: Vec<String> = cap["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("a plain permission").to_string())
        .collect();
    // tauri-build names each command's permission allow-<command>, hyphens for underscores.
    let expected: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    assert_eq!(
        granted, expected,
        "the capability must grant exactly the commands"
    );

    // The isolation hook lets exactly these through.
    let hook = include_str!("../../ui/isolation/index.html");
    let start = hook.find("const COMMANDS = [").expect("the hook's list");
    let end = start + hook[start..].find("];").expect("end of list");
    let allowed: Vec<&str> = hook[start..end]
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('\'')
                .and_then(|l| l.strip_suffix("',"))
        })
        .collect();
    assert_eq!(
        allowed, COMMANDS,
        "ui/isolation/index.html and COMMANDS differ"
    );

    // The handler is registered from the same list (`with_commands!(handler)` in lib.rs).
    let lib_rs = include_str!("../src/lib.rs");
    assert!(lib_rs.contains("invoke_handler(with_commands!(handler))"));
}

#[test]
fn a_fresh_store_gets_an_admin_whose_password_is_shown_once_and_a_sample_client() {
    let w = world(false);
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.state, "ready");
    assert_eq!(st.first_admin_pending.as_deref(), Some("admin"));

    let password: Option<String> = w.call("first_admin_password_take", json!({}));
    let password = password.expect("the first call shows the password");
    assert!(password.len() >= 20);
    let again: Option<String> = w.call("first_admin_password_take", json!({}));
    assert_eq!(again, None, "the password is shown once");
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.first_admin_pending, None);

    let users: Vec<UserDto> = w.call("users_list", json!({}));
    assert!(users.iter().any(|u| u.username == "admin" && u.is_admin));
    let clients: Vec<ClientDto> = w.call("clients_list", json!({}));
    assert!(clients.iter().any(|c| c.name == "Sample web app"));

    // Only the hash is stored.
    let c = w.console.clone();
    tauri::async_runtime::block_on(async move { c.shutdown().await });
    let bytes = std::fs::read(&w.db).expect("db");
    assert!(!bytes
        .windows(password.len())
        .any(|win| win == password.as_bytes()));
}

#[test]
fn errors_arrive_as_a_code_and_a_human_message() {
    let w = world(false);
    let err = w
        .call_raw("client_get", json!({ "id": "no-such-client" }))
        .expect_err("unknown client");
    assert_eq!(err["code"], "not_found", "{err}");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));

    let err = w
        .call_raw(
            "client_create",
            json!({ "req": { "name": "x", "grant_types": ["password"] } }),
        )
        .expect_err("the password grant does not exist");
    assert_eq!(err["code"], "invalid_input", "{err}");
}

#[test]
fn settings_change_and_reset_through_the_ipc_and_a_refused_value_is_invalid_input() {
    let w = world(false);
    let s: Value = w.call("settings_get", json!({}));
    assert_eq!(s["code_ttl"]["source"], "default");
    let s: Value = w.call("settings_update", json!({ "req": { "code_ttl": 120 } }));
    assert_eq!(s["code_ttl"]["value"], 120);
    assert_eq!(s["code_ttl"]["source"], "admin");
    let err = w
        .call_raw("settings_update", json!({ "req": { "code_ttl": 1 } }))
        .expect_err("below the range");
    assert_eq!(err["code"], "invalid_input", "{err}");
    let s: Value = w.call("settings_update", json!({ "req": { "code_ttl": null } }));
    assert_eq!(s["code_ttl"]["source"], "default");
}

#[test]
fn a_client_secret_crosses_into_the_webview_once_at_creation_and_never_after() {
    let w = world(false);
    let created: Value = w.call(
        "client_create",
        json!({ "req": {
            "name": "Billing job",
            "client_type": "confidential",
            "auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"]
        }}),
    );
    let id = created["client_id"].as_str().expect("id").to_string();
    let secret = created["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();

    let got: Value = w.call("client_get", json!({ "id": id }));
    let list: Value = w.call("clients_list", json!({}));
    let audit: Value = w.call("audit_list", json!({ "filter": {} }));
    for (what, v) in [
        ("client_get", &got),
        ("clients_list", &list),
        ("audit_list", &audit),
    ] {
        let text = v.to_string();
        assert!(!text.contains(&secret), "{what} leaks the secret");
        assert!(
            !text.contains("client_secret\""),
            "{what} has a secret field"
        );
    }
}

#[test]
fn the_inspector_verifies_a_token_from_the_in_process_server_against_its_keys() {
    let w = world(true);
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.state, "ready", "{:?}", st.error);
    let created: Value = w.call(
        "client_create",
        json!({ "req": {
            "name": "Reporter",
            "client_type": "confidential",
            "auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"]
        }}),
    );
    let id = created["client_id"].as_str().expect("id").to_string();
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let issuer = st.issuer.clone();
    let token: Value = tauri::async_runtime::block_on(async move {
        reqwest::Client::new()
            .post(format!("{issuer}/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token json")
    });
    let at = token["access_token"]
        .as_str()
        .expect("access token")
        .to_string();

    let i: Value = w.call("token_inspect", json!({ "token": at }));
    assert_eq!(i["kind"], "jwt");
    assert_eq!(i["valid"], true, "{i}");
    let sig = i["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "signature")
        .expect("a signature check");
    assert_eq!(sig["ok"], true, "{sig}");

    let tampered = format!("{}x", &at[..at.len() - 1]);
    let i: Value = w.call("token_inspect", json!({ "token": tampered }));
    assert_eq!(i["valid"], false);

    let err = w
        .call_raw("token_inspect", json!({ "token": "  " }))
        .expect_err("empty");
    assert_eq!(err["code"], "invalid_input");
}

#[test]
fn a_port_in_use_is_reported_with_what_to_do() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new(ConsoleOptions {
        db: dir.path().join("c.db"),
        port,
        connections: dir.path().join("connections.json"),
    });
    let c = console.clone();
    let st = tauri::async_runtime::block_on(async move {
        c.start().await;
        c.status().await
    });
    assert_eq!(st.state, "failed");
    let e = st.error.expect("an error");
    assert_eq!(e.code, "unavailable");
    assert!(e.message.contains("--port"), "{}", e.message);
}

/// The fields of `export interface NAME { … }` in the generated ui/src/lib/api/types.gen.ts
/// (one `  name: type;` or `  name?: type;` line each, doc comments between them).
fn ts_fields(name: &str) -> Vec<String> {
    let ts = include_str!("../../ui/src/lib/api/types.gen.ts");
    let header = format!("export interface {name} {{\n");
    let start = ts
        .find(&header)
        .unwrap_or_else(|| panic!("no interface {name} in types.gen.ts"))
        + header.len();
    let mut fields = Vec::new();
    let mut in_doc = false;
    for line in ts[start..].lines() {
        let l = line.trim();
        if l == "}" {
            break;
        }
        if in_doc {
            in_doc = !l.ends_with("*/");
            continue;
        }
        if l.starts_with("/**") {
            in_doc = !l.ends_with("*/");
            continue;
        }
        let field = l.split(':').next().expect("a field line");
        fields.push(field.trim_end_matches('?').to_string());
    }
    fields.sort();
    fields
}

fn json_fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    f.sort();
    f
}

#[test]
fn the_shells_own_typescript_types_name_every_field_the_rust_side_sends() {
    // Their TypeScript is generated from the same Rust types that serialise them; this
    // holds the generated declarations to what the commands really send.
    let w = world(false);
    let st: Value = w.call("console_status", json!({}));
    assert_eq!(json_fields(&st), ts_fields("ConsoleStatus"));
    let list: Value = w.call("connections_list", json!({}));
    assert_eq!(json_fields(&list[0]), ts_fields("ConnectionDto"));

    let jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2ln";
    let i: Value = w.call("token_inspect", json!({ "token": jwt }));
    assert_eq!(json_fields(&i), ts_fields("Inspection"));
    assert_eq!(json_fields(&i["checks"][0]), ts_fields("InspectionCheck"));
    assert_eq!(json_fields(&i["claim_lines"][0]), ts_fields("ClaimLine"));
}

// --- connections and "Try it" against a separate server ---------------------------------

use latchkey_e2e::Harness;

/// A `latchkey serve` of its own (temp SQLite, admin API on loopback) for the console
/// to connect to.
fn remote_server() -> Arc<Harness> {
    tauri::async_runtime::block_on(async {
        let h = Harness::start().await.expect("remote server");
        h.admin_user("root", "root passphrase long")
            .await
            .expect("admin user");
        Arc::new(h)
    })
}

/// A system browser that signs in as `user` and follows the redirect to the console's
/// loopback listener, as a person would.
fn scripted_browser(h: Arc<Harness>, user: (&'static str, &'static str)) -> Opener {
    Arc::new(move |url: &str| {
        let (h, url) = (h.clone(), url.to_string());
        tauri::async_runtime::spawn(async move {
            let back = h
                .browser_authorize(&h.browser(), &url, user.0, user.1)
                .await
                .expect("sign in on the server's pages");
            reqwest::get(&back).await.expect("the loopback redirect");
        });
    })
}

/// A console with no server of its own, connected to a separate server with an admin
/// API key, whose system browser signs in as root.
fn console_on_remote() -> (Arc<Harness>, World) {
    let remote = remote_server();
    let (_, key) = tauri::async_runtime::block_on(remote.api_key(false)).expect("api key");
    let w = world_with(
        false,
        scripted_browser(remote.clone(), ("root", "root passphrase long")),
    );
    let _: ConsoleStatus = w.call(
        "connection_add",
        json!({ "req": {
            "name": "Remote", "colour": "purple", "kind": "remote",
            "server": remote.admin_url(""), "auth": "api_key", "api_key": key,
        }}),
    );
    (remote, w)
}

#[test]
fn an_api_key_connects_to_a_remote_server_and_a_wrong_one_leaves_the_console_where_it_was() {
    let remote = remote_server();
    let (_, key) = tauri::async_runtime::block_on(remote.api_key(false)).expect("api key");
    let w = world(true);
    let local: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(local.kind, "embedded");
    let add = |api_key: &str| {
        w.call_raw(
            "connection_add",
            json!({ "req": {
                "name": "Production", "colour": "red", "kind": "remote",
                "server": remote.admin_url(""), "auth": "api_key", "api_key": api_key,
            }}),
        )
    };

    let e = add("lk_wrong").unwrap_err();
    assert_eq!(e["code"], "unauthorized", "{e}");
    let still: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(still.connection_id, local.connection_id);
    assert_eq!(still.state, "ready");
    let e = add("").unwrap_err();
    assert_eq!(e["code"], "invalid_input");

    let st: ConsoleStatus = serde_json::from_value(add(&key).expect("connect")).expect("status");
    assert_eq!(
        (st.kind.as_str(), st.name.as_str(), st.colour.as_str()),
        ("remote", "Production", "red")
    );
    assert_eq!(st.issuer, remote.issuer);
    assert_eq!(st.server.as_deref(), Some(remote.admin_url("").as_str()));
    // This machine runs no Secret Service: the key is held in memory, and says so.
    assert!(
        matches!(st.credential_store.as_deref(), Some("memory" | "keyring")),
        "{st:?}"
    );

    // The pages now show the remote server's data.
    let mine: Vec<ClientDto> = w.call("clients_list", json!({}));
    let remote_clients =
        tauri::async_runtime::block_on(remote.manager.clients_list()).expect("remote clients");
    assert_eq!(mine.len(), remote_clients.len());
    assert!(!mine.iter().any(|c| c.name == "Sample web app"));

    let list: Vec<Value> = w.call("connections_list", json!({}));
    assert_eq!(list.len(), 2);
    let prod = list
        .iter()
        .find(|c| c["name"] == "Production")
        .expect("saved");
    assert_eq!(prod["active"], true);
    assert_eq!(prod["signed_in"], true);
    let saved = std::fs::read_to_string(w.db.with_file_name("connections.json")).expect("file");
    assert!(
        !saved.contains(&key),
        "the key is not in the connections file"
    );
    assert!(!serde_json::to_string(&list).unwrap().contains(&key));
    let e = w
        .call_raw("connection_remove", json!({ "id": prod["id"] }))
        .unwrap_err();
    assert_eq!(e["code"], "conflict", "the connection in use stays");

    // Back to the local file, and to production again without retyping the key.
    let back: ConsoleStatus = w.call("connection_open", json!({ "id": local.connection_id }));
    assert_eq!(back.kind, "embedded");
    assert_eq!(back.state, "ready");
    let clients: Vec<ClientDto> = w.call("clients_list", json!({}));
    assert!(clients.iter().any(|c| c.name == "Sample web app"));
    let again: ConsoleStatus = w.call("connection_open", json!({ "id": prod["id"] }));
    assert_eq!(again.kind, "remote");

    // Renamed and recoloured; then forgotten once not in use.
    let upd: Value = w.call(
        "connection_update",
        json!({ "id": prod["id"], "name": "Prod EU", "colour": "orange" }),
    );
    assert_eq!(upd["colour"], "orange");
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.name, "Prod EU");
    let e = w
        .call_raw(
            "connection_update",
            json!({ "id": prod["id"], "colour": "#ff0000" }),
        )
        .unwrap_err();
    assert_eq!(e["code"], "invalid_input");
    let _: ConsoleStatus = w.call("connection_open", json!({ "id": local.connection_id }));
    let said: String = w.call("connection_remove", json!({ "id": prod["id"] }));
    assert!(said.contains("Prod EU"), "{said}");
    let list: Vec<Value> = w.call("connections_list", json!({}));
    assert_eq!(list.len(), 1);
}

#[test]
fn an_administrator_signs_in_to_a_remote_server_through_the_browser() {
    let remote = remote_server();
    let w = world_with(
        false,
        scripted_browser(remote.clone(), ("root", "root passphrase long")),
    );
    let st: ConsoleStatus = w.call(
        "connection_add",
        json!({ "req": {
            "name": "Staging", "colour": "amber", "kind": "remote",
            "server": remote.admin_url(""), "auth": "browser",
        }}),
    );
    assert_eq!(st.kind, "remote");
    assert_eq!(st.issuer, remote.issuer);
    // Changes are made as that person.
    let _: Value = w.call(
        "scope_create",
        json!({ "req": { "name": "from-console", "description": "made remotely", "claims": [] } }),
    );
    let audit: AuditPageDto = w.call(
        "audit_list",
        json!({ "filter": { "action_prefix": "scope.create" } }),
    );
    assert!(
        audit.items[0].actor.starts_with("user:"),
        "{:?}",
        audit.items[0]
    );
}

#[test]
fn a_non_administrator_signing_in_gets_no_connection() {
    let remote = remote_server();
    tauri::async_runtime::block_on(remote.user("alice", "alice passphrase long")).expect("user");
    let w = world_with(
        false,
        scripted_browser(remote.clone(), ("alice", "alice passphrase long")),
    );
    let e = w
        .call_raw(
            "connection_add",
            json!({ "req": {
                "name": "Staging", "colour": "amber", "kind": "remote",
                "server": remote.admin_url(""), "auth": "browser",
            }}),
        )
        .unwrap_err();
    assert_eq!(e["code"], "forbidden", "{e}");
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.kind, "embedded");
}

/// A fake admin API whose health names `issuer`; keeps every request head it gets.
fn fake_admin_api(issuer: &str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, issuer) = (log.clone(), issuer.to_string());
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                match sock.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let health = head.starts_with("GET /admin/v1/health ");
            seen.lock().unwrap().push(head);
            let body = format!(r#"{{"status":"ok","version":"0","time":0,"issuer":"{issuer}"}}"#);
            let resp = if health {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            };
            let _ = sock.write_all(resp.as_bytes());
        }
    });
    (url, log)
}

/// AD-31: "Add a connection" to an admin API whose health names a real issuer that does
/// not vouch for it stops before any sign-in: `untrusted_server` with both URLs, no
/// browser opened, no bearer sent, and the console stays where it was.
#[test]
fn adding_an_admin_api_its_issuer_does_not_vouch_for_stops_before_any_sign_in() {
    let remote = remote_server();
    let (fake, log) = fake_admin_api(&remote.issuer);
    let opened = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = opened.clone();
    let w = world_with(
        false,
        Arc::new(move |_: &str| flag.store(true, std::sync::atomic::Ordering::SeqCst)),
    );
    let e = w
        .call_raw(
            "connection_add",
            json!({ "req": {
                "name": "Phish", "colour": "amber", "kind": "remote",
                "server": fake, "auth": "browser",
            }}),
        )
        .unwrap_err();
    assert_eq!(e["code"], "untrusted_server", "{e}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(message.contains(&fake), "{message}");
    assert!(message.contains(&remote.admin_url("")), "{message}");
    assert!(
        !opened.load(std::sync::atomic::Ordering::SeqCst),
        "no browser"
    );
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|h| !h.to_ascii_lowercase().contains("\nauthorization:")),
        "{seen:?}"
    );
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(st.kind, "embedded");
}

#[test]
fn a_new_embedded_file_is_created_only_when_asked_and_gets_its_own_first_admin() {
    let w = world(true);
    let _ = w.call::<Option<String>>("first_admin_password_take", json!({}));
    let other = w.db.with_file_name("second.db");
    let req = |create: bool| {
        json!({ "req": {
            "name": "Second", "colour": "teal", "kind": "embedded",
            "db_path": other.display().to_string(), "create": create,
        }})
    };
    let e = w.call_raw("connection_add", req(false)).unwrap_err();
    assert_eq!(e["code"], "not_found");
    // Refused before anything was let go: still on the first store, the file not made
    // (the switcher asks on `not_found`, then sends `create`).
    let st: ConsoleStatus = w.call("console_status", json!({}));
    assert_eq!(
        (st.state.as_str(), st.db_path.as_str()),
        ("ready", w.db.display().to_string().as_str())
    );
    assert!(!other.exists(), "no file is made without create");
    let e = w
        .call_raw(
            "connection_add",
            json!({ "req": { "name": "Rel", "colour": "teal", "kind": "embedded", "db_path": "rel.db", "create": true }}),
        )
        .unwrap_err();
    assert_eq!(e["code"], "invalid_input");
    let st: ConsoleStatus = w.call("connection_add", req(true));
    assert_eq!((st.kind.as_str(), st.state.as_str()), ("embedded", "ready"));
    assert_eq!(st.db_path, other.display().to_string());
    assert_eq!(st.first_admin_pending.as_deref(), Some("admin"));
    let pw: Option<String> = w.call("first_admin_password_take", json!({}));
    assert!(pw.is_some(), "the new file's admin password is shown once");
    // The in-process server now serves the new file, on the same port.
    let issuer = st.issuer.clone();
    let disc = tauri::async_runtime::block_on(async move {
        reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await?
            .json::<Value>()
            .await
    })
    .expect("discovery");
    assert_eq!(disc["issuer"], st.issuer);
}

#[test]
fn try_it_runs_client_credentials_and_the_code_flow_and_hands_over_the_tokens() {
    let (_remote, w) = console_on_remote();
    let m2m: ClientCreated = w.call(
        "client_create",
        json!({ "req": { "name": "Batch", "client_type": "confidential",
            "grant_types": ["client_credentials"], "allowed_scopes": [] } }),
    );
    let secret = m2m.client_secret.clone().expect("secret");
    let e = w
        .call_raw(
            "client_try",
            json!({ "req": { "id": m2m.client.client_id, "grant": "client_credentials" } }),
        )
        .unwrap_err();
    assert_eq!(
        e["code"], "invalid_input",
        "a confidential client needs its secret"
    );
    let e = w
        .call_raw("client_try", json!({ "req": { "id": m2m.client.client_id, "grant": "client_credentials", "client_secret": "wrong" } }))
        .unwrap_err();
    assert_eq!(e["code"], "unauthorized", "{e}");
    let t: Value = w.call(
        "client_try",
        json!({ "req": { "id": m2m.client.client_id, "grant": "client_credentials", "client_secret": secret } }),
    );
    let inspected: Value = w.call("token_inspect", json!({ "token": t["access_token"] }));
    assert_eq!(inspected["valid"], true, "{inspected}");
    assert_eq!(inspected["claims"]["client_id"], m2m.client.client_id);

    let web: ClientCreated = w.call(
        "client_create",
        json!({ "req": { "name": "Local web", "client_type": "public", "auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["http://127.0.0.1:3000/callback"],
            "allowed_scopes": ["openid", "profile", "offline_access"] } }),
    );
    let t: Value = w.call(
        "client_try",
        json!({ "req": { "id": web.client.client_id, "grant": "authorization_code" } }),
    );
    assert!(t["id_token"].is_string(), "{t}");
    assert_eq!(json_fields(&t), ts_fields("ClientTryResult"));
    assert_eq!(t["refresh_token_issued"], true);
    assert!(
        t.get("refresh_token").is_none(),
        "no refresh token crosses over"
    );
    let id: Value = w.call("token_inspect", json!({ "token": t["id_token"] }));
    assert_eq!(id["valid"], true, "{id}");
    let intro: Value = w.call(
        "token_introspect",
        json!({ "req": { "token": t["access_token"] } }),
    );
    assert_eq!(intro["active"], true);

    let e = w
        .call_raw(
            "client_try",
            json!({ "req": { "id": web.client.client_id, "grant": "client_credentials" } }),
        )
        .unwrap_err();
    assert_eq!(e["code"], "invalid_input", "only the client's own grants");
}

/// RFC 9449 / RFC 9126 in "Try it": a client whose tokens must be DPoP-bound is run with
/// a throwaway key (its token says `DPoP` and its `cnf.jkt` is that key, which the
/// inspector names), and a client that must push runs the code flow through the PAR
/// endpoint, with the code bound to the key as well.
#[test]
fn try_it_binds_the_tokens_to_a_throwaway_dpop_key_and_pushes_the_request_with_par() {
    let (_remote, w) = console_on_remote();
    let bound: ClientCreated = w.call(
        "client_create",
        json!({ "req": { "name": "Bound batch", "client_type": "confidential",
            "grant_types": ["client_credentials"], "allowed_scopes": [],
            "dpop_bound_access_tokens": true } }),
    );
    let secret = bound.client_secret.clone().expect("secret");
    let t: Value = w.call(
        "client_try",
        json!({ "req": { "id": bound.client.client_id, "grant": "client_credentials", "client_secret": secret } }),
    );
    assert_eq!(t["token_type"], "DPoP", "{t}");
    let jkt = t["dpop_jkt"]
        .as_str()
        .expect("the key's thumbprint")
        .to_string();
    let inspected: Value = w.call("token_inspect", json!({ "token": t["access_token"] }));
    assert_eq!(inspected["claims"]["cnf"]["jkt"], jkt, "{inspected}");
    assert!(
        inspected
            .to_string()
            .contains(&format!("thumbprint is {jkt}")),
        "the inspector names the key: {inspected}"
    );

    let pushed: ClientCreated = w.call(
        "client_create",
        json!({ "req": { "name": "Pushed app", "client_type": "public", "auth_method": "none",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["http://127.0.0.1:3000/callback"],
            "allowed_scopes": ["openid"],
            "require_pushed_authorization_requests": true } }),
    );
    let t: Value = w.call(
        "client_try",
        json!({ "req": { "id": pushed.client.client_id, "grant": "authorization_code", "dpop": true } }),
    );
    assert_eq!(t["pushed"], true, "{t}");
    assert!(
        t["token_type"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("dpop")),
        "{t}"
    );
    let inspected: Value = w.call("token_inspect", json!({ "token": t["access_token"] }));
    assert_eq!(
        inspected["claims"]["cnf"]["jkt"], t["dpop_jkt"],
        "{inspected}"
    );
}
