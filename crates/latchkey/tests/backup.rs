//! `latchkey backup` and `latchkey restore` through the real binary (issue 16,
//! catalogue F-15): a backup made while `latchkey serve` answers refresh grants holds
//! every write acknowledged before it began, passes `integrity_check`, and a server on
//! the restored file (same KEK) verifies the tokens issued before it; a restore over the
//! database a server holds is refused and changes nothing.
//!
//! The load stops on a count of acknowledged writes, never on a timer, so a slow
//! machine tests the same thing as a fast one.

mod common;

use common::*;
use latchkey_core::crypto::{sha256, Kek};
use latchkey_store_sqlite::SqliteStore;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn latchkey(args: &[&str], kek: &Kek) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_KEK", kek.encode())
        .output()
        .expect("run latchkey")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// One acknowledged refresh grant: when its answer arrived, and what it carried.
#[derive(Clone)]
struct Ack {
    at: Instant,
    refresh_token: String,
    access_token: String,
}

async fn introspect(
    http: &reqwest::Client,
    issuer: &str,
    client: (&str, &str),
    token: &str,
) -> anyhow::Result<Value> {
    Ok(http
        .post(format!("{issuer}/introspect"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", token)])
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_write_acknowledged_before_it_began(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let live = dir.path().join("live.db");
    let kek = Kek::generate();
    let (client_id, secret, user_id) = seed(&live, &kek).await;
    let chains = seed_chains(&live, &client_id, &user_id).await;
    let (child, issuer) = spawn_server(&live, &kek.encode());
    let server = Server(child);
    let http = reqwest::Client::new();
    wait_ready(&http, &issuer).await;

    // The load: every chain refreshed in turn by four workers, each answer journaled.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let mine: Vec<String> = chains
            .iter()
            .skip(w)
            .step_by(4)
            .map(|(_, rt)| rt.clone())
            .collect();
        let (http, issuer, client_id, secret) = (
            http.clone(),
            issuer.clone(),
            client_id.clone(),
            secret.clone(),
        );
        let (acks, stop, count) = (acks.clone(), stop.clone(), count.clone());
        workers.push(tokio::spawn(async move {
            let mut current = mine;
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                let k = i % current.len();
                i += 1;
                let resp = http
                    .post(format!("{issuer}/token"))
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", current[k].as_str()),
                    ])
                    .send()
                    .await;
                let Ok(resp) = resp else { continue };
                if !resp.status().is_success() {
                    continue;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    continue;
                };
                let at = Instant::now();
                let (Some(rt), Some(access)) = (
                    body["refresh_token"].as_str(),
                    body["access_token"].as_str(),
                ) else {
                    continue;
                };
                current[k] = rt.to_string();
                acks.lock().expect("journal").push(Ack {
                    at,
                    refresh_token: rt.to_string(),
                    access_token: access.to_string(),
                });
                count.fetch_add(1, Ordering::AcqRel);
            }
        }));
    }
    let wait_for = |n: usize| {
        let count = count.clone();
        async move {
            let deadline = Instant::now() + std::time::Duration::from_secs(120);
            while count.load(Ordering::Acquire) < n {
                assert!(Instant::now() < deadline, "the load stalled");
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(60).await;

    // The backup, while the workers keep writing.
    let backup_file = dir.path().join("backup.db");
    let began = Instant::now();
    let before_count = count.load(Ordering::Acquire);
    let (b, k) = (backup_file.clone(), kek.clone());
    let l = live.clone();
    let out = tokio::task::spawn_blocking(move || {
        latchkey(&["backup", "--db", path(&l), "--to", path(&b)], &k)
    })
    .await?;
    let finished = Instant::now();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "backup failed: {stderr}");
    assert!(stdout.contains("backed up"), "{stdout}");
    assert!(
        stderr.contains("does not hold the key-encryption key"),
        "the KEK reminder: {stderr}"
    );
    assert!(
        !stderr.contains(&kek.encode()),
        "the KEK itself is never printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup_file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is readable by its owner only");
    }
    // Writes after the backup, so there is something it must not have.
    wait_for(count.load(Ordering::Acquire) + 20).await;

    // A restore over the database the server holds is refused, and changes nothing.
    let out = latchkey(
        &["restore", "--from", path(&backup_file), "--db", path(&live)],
        &kek,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no copy left beside it: {names:?}"
    );

    stop.store(true, Ordering::Release);
    for w in workers {
        w.await?;
    }
    drop(server);
    let acks = acks.lock().expect("journal").clone();
    let before: Vec<&Ack> = acks.iter().filter(|a| a.at < began).collect();
    let after: Vec<&Ack> = acks.iter().filter(|a| a.at > finished).collect();
    assert!(before.len() >= before_count.min(60), "journal");
    assert!(!after.is_empty());

    // Restored into a new place, with the KEK beside it.
    let restored = dir.path().join("restored.db");
    let out = latchkey(
        &[
            "restore",
            "--from",
            path(&backup_file),
            "--db",
            path(&restored),
        ],
        &kek,
    );
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("integrity ok"));

    let store = SqliteStore::open(&restored).await?;
    assert_eq!(store.integrity_check().await?, "ok");
    for a in &before {
        assert!(
            store
                .refresh_get(&sha256(a.refresh_token.as_bytes()))
                .await?
                .is_some(),
            "a refresh token acknowledged before the backup began is in it"
        );
    }
    store.close().await;

    // The restored server (same KEK) verifies tokens issued before the backup; tokens
    // issued after it are unknown there, so their refresh is invalid_grant.
    // The same issuer (and so the same port): a token names its issuer.
    let port = issuer.rsplit(':').next().unwrap_or_default().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--db", path(&restored), "--issuer", &issuer])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("LATCHKEY_KEK", kek.encode())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let _server = Server(child);
    wait_ready(&http, &issuer).await;
    let newest_before = before.last().expect("acks before the backup");
    let answer = introspect(
        &http,
        &issuer,
        (&client_id, &secret),
        &newest_before.access_token,
    )
    .await?;
    assert_eq!(answer["active"], true, "{answer}");
    let late = after.last().expect("acks after the backup");
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", late.refresh_token.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await?;
    assert_eq!(body["error"], "invalid_grant");
    Ok(())
}
