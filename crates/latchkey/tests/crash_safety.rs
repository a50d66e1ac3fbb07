//! Crash safety (catalogue F-01, invariants I1–I5): `latchkey serve` is killed with
//! SIGKILL again and again in the middle of a write-heavy load (refresh rotations and
//! revocations). After every kill: `PRAGMA integrity_check` is ok, every acknowledged
//! refresh token is still stored and the latest one still live (unless the load itself
//! revoked the family, or its next use got no answer), every acknowledged revocation is
//! still in force, no family the load did not revoke was revoked, no family has two live
//! refresh tokens, and the server restarts cleanly. At the end the acknowledged tokens
//! are used, black-box: each one the load did not revoke still refreshes.
//!
//! What the load does in a round does not depend on the machine's speed: the server is
//! killed once the round has a random number of acknowledged writes (not after a fixed
//! time), and a revocation is a random one step in 25 (not the 25th step of a chain,
//! which a slow machine never reached before the first kill).

mod common;

use common::*;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::{random_token, sha256, Kek};
use latchkey_core::model::*;
use latchkey_core::store::SessionInfo;
use latchkey_store_sqlite::SqliteStore;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KILLS: usize = 25;
const WORKERS: usize = 16;

/// What the load was told, and what it asked for.
#[derive(Default, Clone)]
struct Journal {
    /// Refresh tokens received with a 200, per chain, in order (the seeded one first).
    issued: HashMap<usize, Vec<String>>,
    /// Chains the load sent a revocation for, answered or not: only these may be
    /// revoked, and their tokens may be purged at start-up.
    revoke_sent: HashSet<usize>,
    /// Chains whose revocation was answered with a 200.
    revoked: HashSet<usize>,
    /// Chains whose latest acknowledged token was sent again and got no answer (the
    /// kill) or no 200: it may have been rotated, so only "one live token" is known.
    in_doubt: HashSet<usize>,
}

fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed | 1;
    move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    }
}

fn rng_seed() -> u64 {
    u64::from_le_bytes(sha256(random_token().as_bytes())[..8].try_into().unwrap())
}

async fn check_invariants(db: &Path, journal: &Journal, sessions: &[(String, String)]) {
    let store = SqliteStore::open(db).await.expect("reopen after kill");
    // I1.
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
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
    let live: HashMap<&str, i64> = infos
        .iter()
        .map(|i| (i.session.id.as_str(), i.live_refresh_tokens))
        .collect();
    for (chain, (session_id, _)) in sessions.iter().enumerate() {
        let s = store.session_get(session_id).await.unwrap().unwrap();
        // I2: every acknowledged revocation is still in force.
        if journal.revoked.contains(&chain) {
            assert!(
                s.revoked_at.is_some(),
                "chain {chain}: an acknowledged revocation came back"
            );
        }
        if journal.revoke_sent.contains(&chain) {
            // Revoked (acknowledged or not): the start-up clean-up may have removed
            // its refresh tokens, as it should.
            continue;
        }
        // Nothing but the load's own revocations revokes a family.
        assert!(
            s.revoked_at.is_none(),
            "chain {chain}: revoked, but the load never asked for it ({:?})",
            s.revoked_reason
        );
        // I2: every acknowledged refresh token of a live family is durable (spent ones
        // stay for reuse detection) …
        let tokens = journal.issued.get(&chain).map(Vec::as_slice).unwrap_or(&[]);
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
        // … and the latest is still live, unless its next use is in doubt; either way
        // the family still has exactly one live token.
        if let Some(last) = tokens.last() {
            if !journal.in_doubt.contains(&chain) {
                let rt = store
                    .refresh_get(&sha256(last.as_bytes()))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(
                    rt.consumed_at.is_none(),
                    "chain {chain}: the latest acknowledged refresh token was spent"
                );
            }
        }
        assert_eq!(
            live.get(session_id.as_str()).copied(),
            Some(1),
            "chain {chain}: a live family without exactly one live refresh token"
        );
    }
    // I3: at most one live refresh token per family.
    for i in &infos {
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
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let journal = Arc::new(Mutex::new(Journal::default()));
    // The current refresh token of each chain (None once revoked or in doubt).
    let current: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(Vec::new()));
    let mut next_rand = rng(rng_seed());
    let mut total_acks = 0usize;
    for round in 0..KILLS {
        // Fresh families for this round (the server is down, as after a crash).
        let fresh = seed_chains(&db, &client_id, &user_id).await;
        let base = round * CHAINS;
        {
            let mut cur = current.lock().unwrap();
            let mut j = journal.lock().unwrap();
            for (i, (_, rt)) in fresh.iter().enumerate() {
                cur.push(Some(rt.clone()));
                j.issued.insert(base + i, vec![rt.clone()]);
            }
        }
        sessions.extend(fresh);
        let (mut child, issuer) = spawn_server(&db, &kek.encode());
        wait_ready(&http, &issuer).await;
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
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
            let mut roll = rng(rng_seed());
            workers.push(tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let chain = base + (w + i * WORKERS) % CHAINS;
                    i += 1;
                    let Some(rt) = current.lock().unwrap()[chain].clone() else {
                        // A dead chain: yield so the other workers (and the timer) run.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    // One step in 25 revokes the chain; the rest rotate.
                    if roll(25) == 0 {
                        // Recorded before sending: if the kill eats the answer, the
                        // revocation may still have committed.
                        journal.lock().unwrap().revoke_sent.insert(chain);
                        current.lock().unwrap()[chain] = None;
                        let r = http
                            .post(format!("{issuer}/revoke"))
                            .basic_auth(&client_id, Some(&secret))
                            .form(&[("token", rt.as_str())])
                            .send()
                            .await;
                        if matches!(&r, Ok(resp) if resp.status() == 200) {
                            journal.lock().unwrap().revoked.insert(chain);
                            acks.fetch_add(1, Ordering::Relaxed);
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
                    let answer = match r {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            resp.text().await.ok().map(|body| (status, body))
                        }
                        Err(_) => None,
                    };
                    let Some((status, body)) = answer else {
                        // Connection died (the kill): the rotation may or may not have
                        // committed; the old token is then either live or superseded.
                        // Stop using this chain to avoid tripping reuse detection.
                        journal.lock().unwrap().in_doubt.insert(chain);
                        current.lock().unwrap()[chain] = None;
                        continue;
                    };
                    // An acknowledged token of a family the load did not revoke is
                    // never refused: 200, or 503 when the store is busy.
                    assert!(
                        status == 200 || status == 503,
                        "chain {chain}: an acknowledged refresh token was refused: {status} {body}"
                    );
                    if status != 200 {
                        journal.lock().unwrap().in_doubt.insert(chain);
                        current.lock().unwrap()[chain] = None;
                        continue;
                    }
                    let body: serde_json::Value =
                        serde_json::from_str(&body).expect("a 200 carries JSON");
                    let new_rt = body["refresh_token"].as_str().unwrap().to_string();
                    journal
                        .lock()
                        .unwrap()
                        .issued
                        .entry(chain)
                        .or_default()
                        .push(new_rt.clone());
                    current.lock().unwrap()[chain] = Some(new_rt);
                    acks.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Kill once this round has a random number of acknowledged writes (a slow
        // machine takes longer to get there, not fewer writes), then a random few
        // milliseconds later so the kill lands anywhere in a request.
        let target = 10 + next_rand(150) as usize;
        let deadline = Instant::now() + Duration::from_secs(120);
        while acks.load(Ordering::Relaxed) < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(next_rand(20))).await;
        // SIGKILL mid-write: no chance to flush or close anything.
        child.kill().expect("kill -9");
        let _ = child.wait();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("worker");
        }
        total_acks += acks.load(Ordering::Relaxed);
        let snapshot = journal.lock().unwrap().clone();
        check_invariants(&db, &snapshot, &sessions).await;
    }
    assert!(
        total_acks > KILLS,
        "the load made progress ({total_acks} acknowledged writes)"
    );

    // The promise, black-box: after all the kills, every latest acknowledged token of
    // a family the load did not revoke (and did not leave in doubt) still refreshes,
    // and every acknowledged revocation still refuses.
    let j = journal.lock().unwrap().clone();
    let (mut child, issuer) = spawn_server(&db, &kek.encode());
    wait_ready(&http, &issuer).await;
    let mut used = 0;
    for (chain, tokens) in &j.issued {
        let Some(last) = tokens.last() else { continue };
        let expect = if j.revoked.contains(chain) {
            400
        } else if j.revoke_sent.contains(chain) || j.in_doubt.contains(chain) {
            continue;
        } else {
            200
        };
        let r = http
            .post(format!("{issuer}/token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", last)])
            .send()
            .await
            .expect("refresh");
        assert_eq!(
            r.status().as_u16(),
            expect,
            "chain {chain}: the latest acknowledged token after the kills"
        );
        used += 1;
    }
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(used > 0, "some acknowledged tokens were checked");
}
