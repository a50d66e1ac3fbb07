//! Catalogue AD (issue 10 §5) through the real `latchkey` binary: a wrong
//! key-encryption key, the health answer when the signing keys cannot be used, API key
//! lifetimes, and terminal-safe tables.

mod common;

use common::free_port;
use latchkey_core::clock::SystemClock;
use latchkey_core::crypto::Kek;
use latchkey_core::manage::{ManagePolicy, Manager};
use latchkey_core::model::NewAuditEvent;
use latchkey_core::store::Store;
use latchkey_store_sqlite::SqliteStore;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn latchkey() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for k in [
        "LATCHKEY_KEK",
        "LATCHKEY_KEK_FILE",
        "LATCHKEY_DB",
        "LATCHKEY_DATABASE",
        "LATCHKEY_CONFIG",
        "LATCHKEY_ISSUER",
        "LATCHKEY_PUBLIC_ADDR",
        "LATCHKEY_ADMIN_ADDR",
        "LATCHKEY_SETTING",
        "LATCHKEY_SERVER",
        "LATCHKEY_API_KEY",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c
}

fn admin(db: &Path, kek: &Kek, args: &[&str]) -> Output {
    latchkey()
        .arg("admin")
        .arg("--db")
        .arg(db)
        .args(args)
        .env("LATCHKEY_KEK", kek.encode())
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey admin")
}

async fn manager(db: &Path, kek: &Kek) -> (Arc<SqliteStore>, Manager) {
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let m = Manager::new(
        dyn_store,
        Arc::new(SystemClock),
        kek.clone(),
        ManagePolicy::default(),
    );
    (store, m)
}

/// `latchkey serve` on free loopback ports; stderr captured.
fn serve(db: &Path, kek: &Kek) -> (Child, String, String) {
    let (port, admin_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port}");
    let child = latchkey()
        .args(["serve", "--db"])
        .arg(db)
        .args(["--issuer", &issuer])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .env("LATCHKEY_KEK", kek.encode())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latchkey serve");
    (child, issuer, format!("http://127.0.0.1:{admin_port}"))
}

/// Waits (generous deadline, for a hang only) until the child exits.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("latchkey serve did not exit: it started with a wrong key-encryption key");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn health(http: &reqwest::Client, admin_url: &str) -> Option<(u16, serde_json::Value)> {
    let r = http
        .get(format!("{admin_url}/admin/v1/health"))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

/// AD-61: a server whose key-encryption key does not open the database's signing keys
/// refuses to start, saying so (and not the key), instead of answering 500 on /jwks.
#[tokio::test]
async fn a_wrong_key_encryption_key_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kek.db");
    let (right, wrong) = (Kek::generate(), Kek::generate());
    {
        let (store, m) = manager(&db, &right).await;
        assert!(m.ensure_keys().await.unwrap() > 0);
        store.close().await;
    }
    let (mut child, _, _) = serve(&db, &wrong);
    let status = wait_exit(&mut child);
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "started with a wrong KEK");
    assert!(
        err.contains("key-encryption key does not match this database"),
        "{err}"
    );
    assert!(!err.contains(&wrong.encode()) && !err.contains(&right.encode()));

    // Control: the right key starts it, and health says the keys are fine.
    let (mut child, _, admin_url) = serve(&db, &right);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let h = loop {
        if let Some((200, h)) = health(&http, &admin_url).await {
            break h;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited with the right KEK"
        );
        assert!(Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(h["status"], "ok");
    assert_eq!(h["keys"], "ok");
    let _ = child.kill();
    let _ = child.wait();
}

/// AD-62: when a signing key appears that the running server's KEK cannot open (a
/// node with another KEK rotated the shared keys), health says so and is not 200.
#[tokio::test]
async fn health_reports_signing_keys_the_key_encryption_key_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("health.db");
    let (right, other) = (Kek::generate(), Kek::generate());
    {
        let (store, m) = manager(&db, &right).await;
        m.ensure_keys().await.unwrap();
        store.close().await;
    }
    let (mut child, _, admin_url) = serve(&db, &right);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(health(&http, &admin_url).await, Some((200, _))) {
        assert!(child.try_wait().unwrap().is_none(), "exited");
        assert!(Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another process with another KEK rotates: the new published key is sealed
    // under a key this server does not have.
    {
        let (store, m) = manager(&db, &other).await;
        m.keys_rotate("test", None).await.unwrap();
        store.close().await;
    }
    let (status, h) = health(&http, &admin_url).await.expect("health answers");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["keys"], "unusable");
    assert_ne!(h["status"], "ok");
}

/// AD-63: an API key created without a lifetime expires after the stated default (90
/// days); `never` is honoured only when asked for.
#[tokio::test]
async fn api_keys_expire_after_90_days_unless_never_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let kek = Kek::generate();
    let create = |extra: &[&str]| {
        let mut args = vec!["--json", "api-keys", "create", "--name", "ci"];
        args.extend_from_slice(extra);
        let o = admin(&db, &kek, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let k = create(&[]);
    let (made, expires) = (k["created_at"].as_i64().unwrap(), k["expires_at"].as_i64());
    assert_eq!(expires, Some(made + 90 * 86_400));
    let k = create(&["--expires-in", "12h"]);
    assert_eq!(
        k["expires_at"].as_i64(),
        Some(k["created_at"].as_i64().unwrap() + 12 * 3600)
    );
    let k = create(&["--expires-in", "never"]);
    assert!(k["expires_at"].is_null(), "{k}");
    // The human text states the expiry.
    let o = admin(&db, &kek, &["api-keys", "create", "--name", "human"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("expiring 20"));
}

/// AD-60: values anonymous requests can set (a username tried at sign-in, a client id
/// sent to /token) reach the audit table; the CLI prints their control characters as
/// visible escapes instead of letting them drive the terminal.
#[tokio::test]
async fn cli_tables_show_control_characters_from_anonymous_input_as_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let kek = Kek::generate();
    let evil = "x\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{9b}31m\u{202e}nimda";
    {
        let (store, _m) = manager(&db, &kek).await;
        let now = latchkey_core::clock::Clock::now(&SystemClock);
        store
            .audit_insert(
                &NewAuditEvent::new(now, "anonymous", "security.client_auth_failed.token")
                    .target(evil),
            )
            .await
            .unwrap();
        store.close().await;
    }
    let o = admin(&db, &kek, &["audit", "list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the terminal: {out:?}"
    );
    assert!(
        out.contains(r"x\x1b]0;owned\x07\x1b[2J\x0d\x9b31m\u{202e}nimda"),
        "{out}"
    );
}

/// AD-65 (CLI): `--assertion-aud-compat` turns the private_key_jwt audience
/// compatibility switch on at creation, `=false` turns it off again; off by default.
#[tokio::test]
async fn the_assertion_audience_compatibility_switch_is_a_cli_flag_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("compat.db");
    let kek = Kek::generate();
    let (_, jwk) = latchkey_core::keys::generate(latchkey_core::model::Alg::ES256, "k1").unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::json!({ "keys": [jwk] }).to_string()).unwrap();
    let jwks = jwks.to_str().unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "clients",
            "create",
            "--name",
            "m2m",
            "--grant",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            jwks,
        ];
        args.extend_from_slice(extra);
        let o = admin(&db, &kek, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(create(&[])["assertion_aud_compat"], false);
    let on = create(&["--assertion-aud-compat"]);
    assert_eq!(on["assertion_aud_compat"], true, "{on}");
    let id = on["client_id"].as_str().unwrap().to_string();
    let o = admin(
        &db,
        &kek,
        &[
            "--json",
            "clients",
            "update",
            "--assertion-aud-compat=false",
            "--",
            &id,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let off: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(off["assertion_aud_compat"], false, "{off}");
}
