//! Shared by the tests that drive the real `latchkey` binary: start `latchkey serve`
//! on a free loopback port, wait until it answers, and seed a store with a client, a
//! user and sessions the way a code redemption writes them.
#![allow(dead_code)]

use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::{random_id, random_token, sha256, Kek};
use latchkey_core::manage::{ManagePolicy, Manager, NewClient, NewUser};
use latchkey_core::model::*;
use latchkey_core::store::{Issuance, Store};
use latchkey_store_sqlite::SqliteStore;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CHAINS: usize = 64;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until a `latchkey serve` started with `stderr(Stdio::piped())` says it is
/// listening (its "latchkey: issuer … · public … · admin …" line, printed once both
/// listeners are bound). Event-driven: the line arrives when the server is ready, on a
/// fast machine or a slow one; the 120 s bound only turns a hang into a failure.
/// Returns what the server printed up to then.
pub fn wait_listening(child: &mut Child) -> String {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr(Stdio::piped())");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("latchkey: issuer ") {
                let _ = tx.send(Ok(seen));
                // Keep draining: a closed pipe would fail the server's later writes.
                lines.for_each(drop);
                return;
            }
        }
        let _ = tx.send(Err(seen));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(seen)) => seen,
        Ok(Err(seen)) => panic!("latchkey serve exited before listening:\n{seen}"),
        Err(_) => panic!("latchkey serve did not say it was listening"),
    }
}

pub fn spawn_server(db: &Path, kek: &str) -> (Child, String) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--db"])
        .arg(db)
        .args([
            "--issuer",
            &issuer,
            "--public-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("LATCHKEY_KEK", kek)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn latchkey serve");
    (child, issuer)
}

pub async fn wait_ready(http: &reqwest::Client, issuer: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    // I5: restart is automatic and quick; no manual repair.
    loop {
        if let Ok(r) = http.get(format!("{issuer}/jwks")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server did not restart within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn seed(db: &Path, kek: &Kek) -> (String, String, String) {
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let m = Manager::new(
        dyn_store.clone(),
        Arc::new(SystemClock),
        kek.clone(),
        ManagePolicy::default(),
    );
    m.ensure_builtin_scopes().await.unwrap();
    let user = m
        .user_create(
            "test",
            NewUser {
                username: "crash".into(),
                password: "long enough password".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let created = m
        .client_create(
            "test",
            NewClient {
                name: "crash".into(),
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                redirect_uris: vec!["https://c.test/cb".into()],
                allowed_scopes: vec!["openid".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.close().await;
    (
        created.client.id,
        created.secret.unwrap().into_string(),
        user.id,
    )
}

/// One session + refresh token per chain, written the way a code redemption does.
pub async fn seed_chains(db: &Path, client_id: &str, user_id: &str) -> Vec<(String, String)> {
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let now = SystemClock.now();
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let code = random_token();
        let session = Session {
            id: random_id(),
            user_id: user_id.to_string(),
            client_id: client_id.to_string(),
            sign_in_id: None,
            scopes: vec!["openid".into()],
            auth_time: now,
            created_at: now,
            last_used_at: now,
            expires_at: now + 86400,
            ip: None,
            user_agent: None,
            revoked_at: None,
            revoked_reason: None,
            resources: Vec::new(),
            parent_session_id: None,
            parent_jti: None,
        };
        dyn_store
            .auth_code_insert(&AuthCode {
                dpop_jkt: None,
                hash: sha256(code.as_bytes()),
                client_id: client_id.to_string(),
                user_id: user_id.to_string(),
                sign_in_id: None,
                redirect_uri: "https://c.test/cb".into(),
                redirect_uri_sent: true,
                scopes: vec!["openid".into()],
                nonce: None,
                code_challenge: None,
                auth_time: now,
                created_at: now,
                expires_at: now + 600,
                consumed_at: None,
                session_id: None,
                ip: None,
                user_agent: None,
                resources: Vec::new(),
            })
            .await
            .unwrap();
        let rt = random_token();
        let issue = Issuance {
            session: Some(session.clone()),
            refresh: Some(RefreshToken {
                dpop_jkt: None,
                hash: sha256(rt.as_bytes()),
                session_id: session.id.clone(),
                client_id: client_id.to_string(),
                created_at: now,
                consumed_at: None,
                idle_expires_at: now + 86400,
                ip: None,
                user_agent: None,
            }),
            access: None,
            event: None,
        };
        assert!(dyn_store
            .auth_code_redeem(&sha256(code.as_bytes()), now, &issue)
            .await
            .unwrap());
        chains.push((session.id, rt));
    }
    store.close().await;
    chains
}

/// `latchkey admin --db DB ARGS…` with the KEK given and nothing else of the caller's
/// environment that would pick another database, key or log level.
pub fn admin(db: &Path, kek: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for k in [
        "LATCHKEY_KEK_FILE",
        "LATCHKEY_DB",
        "LATCHKEY_CONFIG",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c.env("LATCHKEY_KEK", kek)
        .arg("admin")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run latchkey")
}
