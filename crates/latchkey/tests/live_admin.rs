//! `latchkey admin --db` against the file a running `latchkey serve` uses: its changes
//! reach the server within a second (the server looks at the files for another
//! process's commit every 200 ms; a key revocation within its key set's one-second
//! cache bound).

mod common;

use common::*;
use latchkey_core::crypto::Kek;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn admin(db: &Path, kek: &Kek, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("admin")
        .arg("--db")
        .arg(db)
        .args(args)
        .arg("--json")
        .env("LATCHKEY_KEK", kek.encode())
        .output()
        .expect("run latchkey admin");
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long a test waits for a change made by another process to show: only a bug
/// takes this long; a busy machine may take seconds.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_with_the_cli_reach_a_running_server_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let kek = Kek::generate();
    let (client_id, secret, user_id) = seed(&db, &kek).await;
    let chains = seed_chains(&db, &client_id, &user_id).await;
    let (child, issuer) = spawn_server(&db, &kek.encode());
    let _server = Server(child);
    let http = reqwest::Client::new();
    wait_ready(&http, &issuer).await;

    // A session's tokens work …
    let (sid, rt) = &chains[0];
    let tok: Value = http
        .post(format!("{issuer}/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = tok["access_token"].as_str().unwrap().to_string();
    let rt2 = tok["refresh_token"].as_str().unwrap().to_string();
    let introspect = |token: String| {
        let (http, issuer, client_id, secret) = (
            http.clone(),
            issuer.clone(),
            client_id.clone(),
            secret.clone(),
        );
        async move {
            http.post(format!("{issuer}/introspect"))
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(introspect(at.clone()).await["active"], true);

    // … until the CLI revokes the session: the server sees it within its change window.
    admin(&db, &kek, &["sessions", "revoke", sid]);
    let started = Instant::now();
    // Each look is a real request to the server, so no pause is needed between them.
    while introspect(at.clone()).await != serde_json::json!({"active": false}) {
        // Normally within 200 ms; the deadline only catches a change never seen.
        assert!(started.elapsed() < PATIENCE, "session revocation not seen");
    }
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt2.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A client created with the CLI can get tokens within a second.
    admin(
        &db,
        &kek,
        &["scopes", "create", "api", "--description", "API"],
    );
    let created = admin(
        &db,
        &kek,
        &[
            "clients",
            "create",
            "--name",
            "m2m",
            "--type",
            "confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
        ],
    );
    let (id2, secret2) = (
        created["client_id"].as_str().unwrap().to_string(),
        created["client_secret"].as_str().unwrap().to_string(),
    );
    let started = Instant::now();
    let cc_token = loop {
        let r = http
            .post(format!("{issuer}/token"))
            .basic_auth(&id2, Some(&secret2))
            .form(&[("grant_type", "client_credentials"), ("scope", "api")])
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_string();
        }
        // Normally on the next request (the caches follow the file's change marker);
        // the deadline only catches a change never seen, however busy the machine.
        assert!(started.elapsed() < PATIENCE, "new client never usable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // An emergency key revocation with the CLI makes the tokens it signed inactive
    // within a second (the server re-reads keys at most once a second).
    assert_eq!(introspect(cc_token.clone()).await["active"], true);
    let kid = {
        let header = cc_token.split('.').next().unwrap();
        let bytes = latchkey_core::crypto::b64url_decode(header).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    admin(&db, &kek, &["keys", "revoke", &kid]);
    let started = Instant::now();
    loop {
        if introspect(cc_token.clone()).await == serde_json::json!({"active": false}) {
            break;
        }
        // Normally within a second (the key set's cache bound); see above.
        assert!(started.elapsed() < PATIENCE, "key revocation not seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And signing goes on with the successor.
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(&id2, Some(&secret2))
        .form(&[("grant_type", "client_credentials"), ("scope", "api")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
