//! `latchkey admin --server URL` against a real `latchkey serve` on loopback: an API
//! key made with `--db` on the server's file, then lists and creates over the admin
//! API; API keys shown once; the audit log exported as JSON lines; `login` refusing
//! plainly where no keyring service runs; the remote event stream ending when the
//! server goes away.

use futures_util::StreamExt;
use latchkey_admin_client::{AdminBackend, Credential, Remote, Secret};
use latchkey_core::crypto::Kek;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `latchkey serve` child process, killed on drop.
struct Server {
    child: Child,
    admin: String,
    _dir: tempfile::TempDir,
    db: PathBuf,
    kek: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn latchkey(kek: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.env("LATCHKEY_KEK", kek)
        .env_remove("LATCHKEY_DB")
        .env_remove("LATCHKEY_SERVER")
        .env_remove("LATCHKEY_API_KEY")
        .env_remove("LATCHKEY_CONFIG")
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run latchkey")
}

fn ok_json(o: Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Starts a server on a fresh database and returns it with a read-write API key made
/// with `latchkey admin --db` on the same file before the server starts.
async fn server() -> (Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("remote.db");
    let kek = Kek::generate().encode();
    let mut c = latchkey(&kek);
    c.args(["admin", "--db"]).arg(&db).args([
        "api-keys",
        "create",
        "--name",
        "cli tests",
        "--json",
    ]);
    let created = ok_json(run(c));
    let key = created["api_key"].as_str().expect("api_key").to_string();

    let (port, admin_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port}");
    let child = latchkey(&kek)
        .args(["serve", "--db"])
        .arg(&db)
        .args(["--issuer", &issuer])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        // A configured default, which the settings must report as the default.
        .args(["--setting", "sign_in_ttl=2h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn latchkey serve");
    let admin = format!("http://127.0.0.1:{admin_port}");
    let s = Server {
        child,
        admin,
        _dir: dir,
        db,
        kek,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http
            .get(format!("{}/admin/v1/health", s.admin))
            .send()
            .await
        {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (s, key)
}

impl Server {
    /// `latchkey admin --server URL <args>` with the key in the environment.
    fn admin(&self, key: &str, args: &[&str]) -> Output {
        let mut c = latchkey(&self.kek);
        c.args(["admin", "--server", &self.admin])
            .args(args)
            .env("LATCHKEY_API_KEY", key);
        run(c)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_and_a_create_go_to_the_server_named_by_server_with_an_api_key() {
    let (s, key) = server().await;
    // The key as a flag this time (the environment is the other way).
    let mut c = latchkey(&s.kek);
    c.args(["admin", "--server", &s.admin, "--api-key", &key])
        .args(["clients", "create", "--name", "Remote app", "--json"])
        .args(["--redirect-uri", "https://remote.test/cb"]);
    let created = ok_json(run(c));
    let id = created["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    assert!(created["client_secret"].as_str().is_some());

    let list = ok_json(s.admin(&key, &["clients", "list", "--json"]));
    let ids: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");

    // It went through the server: the audit log names the API key as the actor.
    let mut c = latchkey(&s.kek);
    c.args(["admin", "--db"]).arg(&s.db).args([
        "audit",
        "list",
        "--action",
        "client.create",
        "--json",
    ]);
    let audit = ok_json(run(c));
    let actor = audit["items"][0]["actor"].as_str().unwrap_or_default();
    assert!(actor.starts_with("api-key:"), "actor {actor}");

    // A bulk revoke by address, as a dry run: nothing live there, nothing changes.
    let dry = ok_json(s.admin(
        &key,
        &["sessions", "revoke", "--ip", "10.0.", "--dry-run", "--json"],
    ));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["sessions"], 0);

    // A wrong key: the server's code, exit 1, and the key itself is never echoed.
    let out = s.admin("lk_wrong_key_value", &["clients", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(unauthorized)"), "{err}");
    assert!(!err.contains("lk_wrong_key_value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_over_server_is_what_the_database_holds() {
    let (s, key) = server().await;
    let set = ok_json(s.admin(
        &key,
        &["settings", "update", "--device-code-ttl", "5m", "--json"],
    ));
    assert_eq!(set["device_code_ttl"]["value"], 300);
    assert_eq!(set["device_code_ttl"]["source"], "admin");
    // The server's configured default (`--setting sign_in_ttl=2h`), not the built-in one.
    assert_eq!(set["sign_in_ttl"]["default"], 7200);
    assert_eq!(set["sign_in_ttl"]["value"], 7200);
    assert_eq!(set["sign_in_ttl"]["source"], "default");
    let mut c = latchkey(&s.kek);
    c.args(["admin", "--db"])
        .arg(&s.db)
        .args(["settings", "get", "--json"]);
    let local = ok_json(run(c));
    assert_eq!(local["device_code_ttl"], set["device_code_ttl"]);
    let out = s.admin(&key, &["settings", "update", "--device-code-ttl", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("device_code_ttl") && err.contains("(invalid_input)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_printed_once_and_never_listed() {
    let (s, key) = server().await;
    let created = ok_json(s.admin(
        &key,
        &[
            "api-keys",
            "create",
            "--name",
            "nightly export",
            "--read-only",
            "--expires-in",
            "30d",
            "--json",
        ],
    ));
    let new_key = created["api_key"].as_str().expect("api_key").to_string();
    assert!(new_key.starts_with("lk_"));
    assert_eq!(created["read_only"], true);
    let expires = created["expires_at"].as_i64().expect("expires_at");
    let made = created["created_at"].as_i64().expect("created_at");
    assert_eq!(expires - made, 30 * 86_400);

    let list = s.admin(&key, &["api-keys", "list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    let parsed: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
    assert!(!text.contains(&new_key) && !text.contains(&key));
    let human = s.admin(&key, &["api-keys", "list"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("nightly export"));
    assert!(!human.contains(&new_key));

    // The new key works, read-only: a read passes, a write is forbidden.
    assert!(s.admin(&new_key, &["users", "list"]).status.success());
    let w = s.admin(&new_key, &["scopes", "create", "reports"]);
    assert_eq!(w.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&w.stderr).contains("(forbidden)"));

    let id = created["id"].as_str().expect("id");
    let revoked = ok_json(s.admin(&key, &["api-keys", "revoke", id, "--json"]));
    assert!(revoked["revoked_at"].as_i64().is_some());
    let after = s.admin(&new_key, &["users", "list"]);
    assert_eq!(after.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_export_prints_the_whole_log_as_json_lines() {
    let (s, key) = server().await;
    for i in 0..5 {
        let name = format!("scope{i}");
        assert!(s.admin(&key, &["scopes", "create", &name]).status.success());
    }
    let out = s.admin(&key, &["audit", "export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    let ids: Vec<i64> = events.iter().filter_map(|e| e["id"].as_i64()).collect();
    assert_eq!(ids.len(), events.len());
    assert!(
        ids.windows(2).all(|p| p[0] < p[1]),
        "oldest first, no repeats"
    );
    let scopes = events
        .iter()
        .filter(|e| {
            e["action"] == "scope.create"
                && e["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("api-key:"))
        })
        .count();
    assert_eq!(scopes, 5);
    // Everything the server holds, not just a first page: the same count as the file.
    let mut c = latchkey(&s.kek);
    c.args(["admin", "--db"])
        .arg(&s.db)
        .args(["audit", "list", "--limit", "1000", "--json"]);
    let all = ok_json(run(c));
    assert_eq!(all["items"].as_array().map(Vec::len), Some(events.len()));

    let filtered = s.admin(
        &key,
        &["audit", "export", "--action", "scope.", "--since", "1d"],
    );
    let lines = String::from_utf8_lossy(&filtered.stdout).lines().count();
    let expected = events
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("scope."))
        })
        .count();
    assert!(expected >= 5);
    assert_eq!(lines, expected);
}

#[test]
fn login_without_a_keyring_service_fails_plainly_and_writes_no_file() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "admin",
            "--server",
            "http://127.0.0.1:9",
            "login",
            "--device",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_RUNTIME_DIR", home.path().join("run"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no OS keyring service is running"), "{err}");
    assert!(err.contains("--api-key"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(files_under(home.path()).is_empty(), "no file written");
}

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_event_stream_ends_with_unavailable_when_the_server_goes_away() {
    let (mut s, key) = server().await;
    let remote = Remote::new(&s.admin, Credential::ApiKey(Secret::new(key))).expect("remote");
    let mut events = remote.events_subscribe(None).await.expect("subscribed");
    remote
        .scope_create(latchkey_api_types::ScopeCreateRequest {
            name: "watched".into(),
            ..Default::default()
        })
        .await
        .expect("scope");
    let first = tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("an event in time")
        .expect("an item")
        .expect("an event");
    assert_eq!(first.event.action, "scope.create");
    let _ = s.child.kill();
    let _ = s.child.wait();
    let end = tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("the stream notices");
    let e = end.expect("an error item, not a silent end").unwrap_err();
    assert_eq!(e.code, "unavailable");
    assert!(e.message.contains(&s.admin), "{}", e.message);
}
