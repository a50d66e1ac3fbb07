//! Crash safety (catalogue F-01, invariants I1–I5): `latchkey serve` is killed with
//! SIGKILL again and again in the middle of a write-heavy load (refresh rotations and
//! revocations). After every kill: `PRAGMA integrity_check` is ok, every refresh token
//! the load received a 200 for is still stored, every acknowledged revocation is still
//! in force, no family has two live refresh tokens, and the server restarts cleanly.

mod common;

use common::*;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::{random_token, sha256, Kek};
use latchkey_core::model::*;
use latchkey_core::store::{SessionInfo, Store};
use latchkey_store_sqlite::SqliteStore;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KILLS: usize = 25;
const WORKERS: usize = 16;

/// What the load was told: acknowledged facts the server must never forget.
#[derive(Default, Clone)]
struct Journal {
    /// Refresh tokens received with a 200, per chain, in order.
    issued: HashMap<usize, Vec<String>>,
    /// Chains whose refresh token was revoked with a 200.
    revoked: Vec<usize>,
}

async fn check_invariants(db: &Path, journal: &Journal, sessions: &[(String, String)]) {
    let store = SqliteStore::open(db).await.expect("reopen after kill");
    // I1.
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    // I2: every acknowledged refresh token is durable.
    for (chain, tokens) in &journal.issued {
        for t in tokens {
            assert!(
                store
                    .refresh_get(&sha256(t.as_bytes()))
                    .await
                    .unwrap()
                    .is_some(),
                "chain {chain}: an acknowledged refresh token was lost"
            );
        }
    }
    // I2: every acknowledged revocation is still in force.
    for chain in &journal.revoked {
        let s = store
            .session_get(&sessions[*chain].0)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.revoked_at.is_some(),
            "chain {chain}: an acknowledged revocation came back"
        );
    }
    // I3: at most one live refresh token per family.
    let infos: Vec<SessionInfo> = store
        .sessions_list(
            &SessionFilter {
                limit: Some(10_000),
                ..Default::default()
            },
            SystemClock.now(),
        )
        .await
        .unwrap();
    for i in infos {
        assert!(
            i.live_refresh_tokens <= 1,
            "family {} has {} live refresh tokens",
            i.session.id,
            i.live_refresh_tokens
        );
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tokens_and_revocations_survive_repeated_sigkill_under_write_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let kek = Kek::generate();
    let (client_id, secret, user_id) = seed(&db, &kek).await;
    let mut sessions: Vec<(String, String)> = Vec::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let journal = Arc::new(Mutex::new(Journal::default()));
    // The current refresh token of each chain (None once revoked).
    let current: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(Vec::new()));
    let mut rng_state =
        u64::from_le_bytes(sha256(random_token().as_bytes())[..8].try_into().unwrap());
    let mut next_rand = move |n: u64| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state % n
    };
    let mut total_acks = 0usize;
    for round in 0..KILLS {
        // Fresh families for this round (the server is down, as after a crash).
        let fresh = seed_chains(&db, &client_id, &user_id).await;
        {
            let mut cur = current.lock().unwrap();
            for (_, rt) in &fresh {
                cur.push(Some(rt.clone()));
            }
        }
        sessions.extend(fresh);
        let base = round * CHAINS;
        let (mut child, issuer) = spawn_server(&db, &kek.encode());
        wait_ready(&http, &issuer).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (http, issuer, client_id, secret) = (
                http.clone(),
                issuer.clone(),
                client_id.clone(),
                secret.clone(),
            );
            let (journal, current, stop, acks) =
                (journal.clone(), current.clone(), stop.clone(), acks.clone());
            workers.push(tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let chain = base + (w + i * WORKERS) % CHAINS;
                    i += 1;
                    let Some(rt) = current.lock().unwrap()[chain].clone() else {
                        // A dead chain: yield so the other workers (and the timer) run.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    // Every 25th step of a chain revokes it; the rest rotate.
                    if i.is_multiple_of(25) {
                        let r = http
                            .post(format!("{issuer}/revoke"))
                            .basic_auth(&client_id, Some(&secret))
                            .form(&[("token", rt.as_str())])
                            .send()
                            .await;
                        if matches!(&r, Ok(resp) if resp.status() == 200) {
                            journal.lock().unwrap().revoked.push(chain);
                            current.lock().unwrap()[chain] = None;
                            acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        continue;
                    }
                    let r = http
                        .post(format!("{issuer}/token"))
                        .basic_auth(&client_id, Some(&secret))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", rt.as_str()),
                        ])
                        .send()
                        .await;
                    let Ok(resp) = r else {
                        // Connection died (the kill): the rotation may or may not have
                        // committed; the old token is then either live or superseded.
                        // Stop using this chain to avoid tripping reuse detection.
                        current.lock().unwrap()[chain] = None;
                        continue;
                    };
                    let status = resp.status().as_u16();
                    assert!(status < 500 || status == 503, "unexpected {status}");
                    if status == 200 {
                        let body: serde_json::Value = match resp.json().await {
                            Ok(b) => b,
                            Err(_) => {
                                current.lock().unwrap()[chain] = None;
                                continue;
                            }
                        };
                        let new_rt = body["refresh_token"].as_str().unwrap().to_string();
                        journal
                            .lock()
                            .unwrap()
                            .issued
                            .entry(chain)
                            .or_default()
                            .push(new_rt.clone());
                        current.lock().unwrap()[chain] = Some(new_rt);
                        acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    } else {
                        current.lock().unwrap()[chain] = None;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + next_rand(1200))).await;
        // SIGKILL mid-write: no chance to flush or close anything.
        child.kill().expect("kill -9");
        let _ = child.wait();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.await.expect("worker");
        }
        total_acks += acks.load(std::sync::atomic::Ordering::Relaxed);
        let snapshot = journal.lock().unwrap().clone();
        check_invariants(&db, &snapshot, &sessions).await;
    }
    assert!(
        total_acks > KILLS,
        "the load made progress ({total_acks} acknowledged writes)"
    );
}
