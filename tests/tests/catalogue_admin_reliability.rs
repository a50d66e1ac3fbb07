//! Catalogue §AD (admin sign-in and hardening), reliability: a client that hangs up
//! must never break the server (issue 10 §2). (AD-82, the SQLite files' modes, is in
//! `crates/latchkey/tests/sqlite_files.rs`: it needs the real binary under a umask.)
//!
//! A request whose client disconnects or times out is a future dropped at whatever
//! `.await` it was at. Every write path must survive that: the transaction finishes or
//! rolls back, and the connection goes back clean or is discarded. AD-80 drops store
//! calls deterministically at each of their await points, in process; AD-81 does it
//! black-box, with a load that abandons hundreds of requests at random points against
//! a real server. Both run on SQLite here and on PostgreSQL in `pg_catalogue.rs`.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::clock::{Clock, SystemClock};
use latchkey_e2e::latchkey_core::crypto::{random_id, random_token, sha256};
use latchkey_e2e::latchkey_core::model::{
    AuthCode, GrantType, NewAuditEvent, RefreshToken, Session, SessionFilter,
};
use latchkey_e2e::latchkey_core::store::{Issuance, RotateOutcome, Store};
use latchkey_e2e::*;
use rand::Rng;
use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

const USER: (&str, &str) = ("alice", "correct horse battery");
const SCOPES: &[&str] = &["openid", "api"];

/// Generous: only a hung store (the bug) takes this long.
const STUCK: Duration = Duration::from_secs(60);

/// Wakes the test when the future it polls by hand can make progress.
struct Woken(tokio::sync::Notify);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }
}

/// Polls `fut` until it has been pending `polls` times (waiting for its wake-up
/// between polls, so each poll finds it at its next await point), then drops it
/// there. `Some` if it finished first.
async fn drop_at_await_point<F: Future>(fut: F, polls: usize) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let woken = Arc::new(Woken(tokio::sync::Notify::new()));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..polls {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        // A wake-up that never comes means the future is stuck: drop it anyway.
        let _ = tokio::time::timeout(STUCK, woken.0.notified()).await;
    }
    None
}

/// A session with one live refresh token, written the way a code redemption does.
struct Family {
    session: Session,
    refresh: Vec<u8>,
}

fn session(user_id: &str, client_id: &str, now: i64) -> Session {
    Session {
        id: random_id(),
        user_id: user_id.to_string(),
        client_id: client_id.to_string(),
        sign_in_id: None,
        scopes: vec!["openid".into()],
        auth_time: now,
        created_at: now,
        last_used_at: now,
        expires_at: now + 86_400,
        ip: None,
        user_agent: None,
        revoked_at: None,
        revoked_reason: None,
        resources: Vec::new(),
        parent_session_id: None,
        parent_jti: None,
    }
}

fn refresh_row(session_id: &str, client_id: &str, now: i64) -> (Vec<u8>, RefreshToken) {
    let hash = sha256(random_token().as_bytes()).to_vec();
    let row = RefreshToken {
        dpop_jkt: None,
        hash: hash.clone(),
        session_id: session_id.to_string(),
        client_id: client_id.to_string(),
        created_at: now,
        consumed_at: None,
        idle_expires_at: now + 86_400,
        ip: None,
        user_agent: None,
    };
    (hash, row)
}

fn code_row(user_id: &str, client_id: &str, now: i64) -> AuthCode {
    AuthCode {
        dpop_jkt: None,
        hash: sha256(random_token().as_bytes()).to_vec(),
        client_id: client_id.to_string(),
        user_id: user_id.to_string(),
        sign_in_id: None,
        redirect_uri: "https://rel.test/cb".into(),
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
    }
}

/// Inserts a code and redeems it (not abandoned): a fresh family.
async fn family(store: &Arc<dyn Store>, user_id: &str, client_id: &str) -> Family {
    let now = SystemClock.now();
    let code = code_row(user_id, client_id, now);
    store.auth_code_insert(&code).await.expect("code insert");
    let s = session(user_id, client_id, now);
    let (hash, rt) = refresh_row(&s.id, client_id, now);
    let issue = Issuance {
        session: Some(s.clone()),
        refresh: Some(rt),
        access: None,
        event: None,
    };
    assert!(store
        .auth_code_redeem(&code.hash, now, &issue)
        .await
        .expect("redeem"));
    Family {
        session: s,
        refresh: hash,
    }
}

/// One of each kind of write the token endpoints and the admin make, each finishing
/// (not abandoned); a store left inside a transaction fails or hangs on them.
async fn every_kind_of_write_succeeds(store: &Arc<dyn Store>, user_id: &str, client_id: &str) {
    let check = async {
        let f = family(store, user_id, client_id).await;
        let now = SystemClock.now();
        let (_, next) = refresh_row(&f.session.id, client_id, now);
        let rotated = store
            .refresh_rotate(&f.refresh, now, &next, None)
            .await
            .expect("refresh rotation");
        assert!(
            matches!(rotated, RotateOutcome::Rotated { .. }),
            "{rotated:?}"
        );
        assert!(store
            .session_revoke(&f.session.id, "test", now, None)
            .await
            .expect("session revoke"));
        store
            .meta_set("reliability", &random_id())
            .await
            .expect("meta write");
        store
            .audit_insert(&NewAuditEvent::new(now, "test", "test.reliability"))
            .await
            .expect("audit write");
        store.purge_expired(now).await.expect("purge");
    };
    tokio::time::timeout(STUCK, check)
        .await
        .expect("the store answers writes (not stuck inside a transaction)");
}

/// AD-80: a store write dropped at each of its await points (the future of a request
/// whose client hung up) never leaves the store unable to write: the transaction rolls
/// back or commits, the connection comes back clean or is replaced, and every kind of
/// write (code redemption, refresh rotation, revocation, admin and audit writes) still
/// succeeds afterwards. With sqlx's own `begin_with`, dropping a write right after
/// `BEGIN IMMEDIATE` ran left the SQLite writer inside a transaction for good ("attempted
/// to call begin_with at non-zero transaction depth").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_write_dropped_at_any_await_point_leaves_every_kind_of_write_working() {
    let h = Harness::start().await.expect("server");
    h.scope("api", "API").await.expect("scope");
    let user_id = h.user(USER.0, USER.1).await.expect("user");
    let client = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://rel.test/cb",
            SCOPES,
        )
        .await
        .expect("client");
    let store = h.store.clone();
    // Enough polls to get past the end of each call; the sweep stops for a kind when
    // the call finishes before being dropped.
    const MAX_POLLS: usize = 40;
    for kind in 0..4 {
        for polls in 0..MAX_POLLS {
            let f = family(&store, &user_id, &client.id).await;
            let now = SystemClock.now();
            let (_, next) = refresh_row(&f.session.id, &client.id, now);
            let code = code_row(&user_id, &client.id, now);
            if kind == 1 {
                store.auth_code_insert(&code).await.expect("code insert");
            }
            let s = session(&user_id, &client.id, now);
            let (_, rt) = refresh_row(&s.id, &client.id, now);
            let issue = Issuance {
                session: Some(s),
                refresh: Some(rt),
                access: None,
                event: None,
            };
            let finished = match kind {
                0 => drop_at_await_point(store.refresh_rotate(&f.refresh, now, &next, None), polls)
                    .await
                    .map(|r| r.map(|_| ())),
                1 => drop_at_await_point(store.auth_code_redeem(&code.hash, now, &issue), polls)
                    .await
                    .map(|r| r.map(|_| ())),
                2 => drop_at_await_point(
                    store.session_revoke(&f.session.id, "test", now, None),
                    polls,
                )
                .await
                .map(|r| r.map(|_| ())),
                _ => drop_at_await_point(store.meta_set("dropped", &random_id()), polls).await,
            };
            every_kind_of_write_succeeds(&store, &user_id, &client.id).await;
            if let Some(r) = finished {
                r.expect("a write polled to the end succeeds");
                break;
            }
        }
    }
    // At most one live refresh token per family, whatever was dropped where.
    for i in store
        .sessions_list(
            &SessionFilter {
                limit: Some(10_000),
                ..Default::default()
            },
            SystemClock.now(),
        )
        .await
        .expect("sessions")
    {
        assert!(i.live_refresh_tokens <= 1, "{}", i.session.id);
    }
}

/// What the load was told, per refresh family (one per redeemed code).
#[derive(Default)]
struct Journal {
    /// The last refresh token answered with a 200 whose next use (if any) was answered
    /// too: it must still work, unless the load revoked the family.
    current: Vec<Option<String>>,
    /// Families the load sent a revocation for (answered or not).
    revoke_sent: HashSet<usize>,
    /// Families whose revocation was answered with a 200.
    revoked: HashSet<usize>,
    /// Every status the server answered.
    statuses: Vec<u16>,
    abandoned: usize,
}

enum Op {
    Redeem,
    Refresh(usize, String),
    Revoke(usize, String),
}

/// AD-81: a load that abandons hundreds of code redemptions, refreshes and revocations
/// at random points (the client gives up after a random fraction of a request's time
/// and closes the connection) against a real server never gets a 500; afterwards every
/// kind of write still succeeds, every acknowledged refresh token of a family the load
/// did not revoke still refreshes, every acknowledged revocation holds, and no family
/// has two live refresh tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_abandons_requests_at_random_points_never_breaks_the_server() {
    const ABANDON_TARGET: usize = 300;
    const WORKERS: usize = 8;
    let h = Arc::new(Harness::start().await.expect("server"));
    h.scope("api", "API").await.expect("scope");
    h.user(USER.0, USER.1).await.expect("user");
    let client = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://rel.test/cb",
            SCOPES,
        )
        .await
        .expect("client");
    // One browser signs in once, before the load (every sign-in renews the cookie);
    // the load's authorizations reuse that sign-in.
    let browser = h.browser();
    let (code, verifier) = code_with(&h, &browser, &client, "openid api", &[], USER)
        .await
        .expect("sign-in");
    assert_eq!(
        redeem(&h, &client, &code, &verifier)
            .await
            .expect("redeem")
            .status,
        200
    );
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (h, client, browser, journal) =
            (h.clone(), client.clone(), browser.clone(), journal.clone());
        workers.push(tokio::spawn(async move {
            let http = h.http();
            let mut mine: Option<(usize, String)> = None;
            loop {
                if journal.lock().unwrap().abandoned >= ABANDON_TARGET {
                    return;
                }
                let op = match mine.take() {
                    None => Op::Redeem,
                    Some((i, rt)) if rand::thread_rng().gen_ratio(1, 8) => Op::Revoke(i, rt),
                    Some((i, rt)) => Op::Refresh(i, rt),
                };
                let req = match &op {
                    Op::Redeem => {
                        let (code, verifier) =
                            code_with(&h, &browser, &client, "openid api", &[], USER)
                                .await
                                .expect("a code (not abandoned)");
                        http.post(h.url("/token"))
                            .basic_auth(&client.id, client.secret.as_deref())
                            .form(&[
                                ("grant_type", "authorization_code"),
                                ("code", code.as_str()),
                                ("redirect_uri", client.redirect_uri.as_str()),
                                ("code_verifier", verifier.as_str()),
                            ])
                    }
                    Op::Refresh(_, rt) => http
                        .post(h.url("/token"))
                        .basic_auth(&client.id, client.secret.as_deref())
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)]),
                    Op::Revoke(i, rt) => {
                        journal.lock().unwrap().revoke_sent.insert(*i);
                        http.post(h.url("/revoke"))
                            .basic_auth(&client.id, client.secret.as_deref())
                            .form(&[("token", rt.as_str())])
                    }
                };
                // Give up somewhere between before the request is written and after
                // the server has answered; most land while the server is working.
                let patience = Duration::from_micros(rand::thread_rng().gen_range(0..20_000));
                let answer = tokio::time::timeout(patience, async {
                    let r = req.send().await?;
                    let status = r.status().as_u16();
                    let body = r.text().await?;
                    Ok::<_, reqwest::Error>((status, body))
                })
                .await;
                let mut j = journal.lock().unwrap();
                let (status, body) = match answer {
                    Ok(Ok(answered)) => answered,
                    Ok(Err(e)) => panic!("the server dropped a request it had: {e}"),
                    Err(_) => {
                        // Abandoned: whether it happened is unknown, so the family is
                        // neither used again (that could look like reuse) nor checked.
                        j.abandoned += 1;
                        if let Op::Refresh(i, _) | Op::Revoke(i, _) = op {
                            j.current[i] = None;
                        }
                        continue;
                    }
                };
                j.statuses.push(status);
                // Each family is used by one worker, one request at a time, so every
                // request it answers must succeed (or say "try later").
                if status != 200 && status != 503 {
                    let what = match &op {
                        Op::Redeem => "a code redemption".to_string(),
                        Op::Refresh(i, _) => format!("family {i}: a refresh"),
                        Op::Revoke(i, _) => format!("family {i}: a revocation"),
                    };
                    drop(j);
                    panic!("{what} was answered {status}: {body}");
                }
                match op {
                    Op::Redeem if status == 200 => {
                        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
                        let rt = v["refresh_token"]
                            .as_str()
                            .expect("refresh_token")
                            .to_string();
                        j.current.push(Some(rt.clone()));
                        mine = Some((j.current.len() - 1, rt));
                    }
                    Op::Refresh(i, _) if status == 200 => {
                        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
                        let rt = v["refresh_token"]
                            .as_str()
                            .expect("refresh_token")
                            .to_string();
                        j.current[i] = Some(rt.clone());
                        mine = Some((i, rt));
                    }
                    Op::Revoke(i, _) if status == 200 => {
                        j.revoked.insert(i);
                    }
                    // 503: the outcome is unknown; the family is left alone.
                    Op::Refresh(i, _) | Op::Revoke(i, _) => j.current[i] = None,
                    Op::Redeem => {}
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("a worker");
    }
    let j = std::mem::take(&mut *journal.lock().unwrap());
    let errors: Vec<u16> = j
        .statuses
        .iter()
        .copied()
        .filter(|s| *s >= 500 && *s != 503)
        .collect();
    assert!(errors.is_empty(), "the server answered {errors:?}");
    assert!(j.abandoned >= ABANDON_TARGET);

    // Every kind of write still succeeds, end to end (the abandoned requests may still
    // be finishing on the server: the first of these waits for them).
    let http = h.http();
    let (code, verifier) = code_with(&h, &browser, &client, "openid api", &[], USER)
        .await
        .expect("code");
    let r = redeem(&h, &client, &code, &verifier).await.expect("redeem");
    assert_eq!(r.status, 200, "code redemption: {}", r.text);
    let r = refresh(&h, &client, &r.must("refresh_token"), None)
        .await
        .expect("refresh");
    assert_eq!(r.status, 200, "refresh: {}", r.text);
    let revoke = http
        .post(h.url("/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", r.must("refresh_token").as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), 200, "revocation");
    h.confidential(
        &[GrantType::ClientCredentials],
        "https://other.test/cb",
        &["api"],
    )
    .await
    .expect("an admin write");

    // The crash test's invariants, on a server that kept running.
    for (i, rt) in j.current.iter().enumerate() {
        let Some(rt) = rt else { continue };
        let r = refresh(&h, &client, rt, None).await.expect("refresh");
        if j.revoked.contains(&i) {
            assert_oauth_error(&r, 400, "invalid_grant");
        } else if !j.revoke_sent.contains(&i) {
            assert_eq!(
                r.status, 200,
                "family {i}: an acknowledged refresh token was lost"
            );
        }
    }
    for i in h
        .store
        .sessions_list(
            &SessionFilter {
                limit: Some(10_000),
                ..Default::default()
            },
            SystemClock.now(),
        )
        .await
        .expect("sessions")
    {
        assert!(
            i.live_refresh_tokens <= 1,
            "family {} has {} live refresh tokens",
            i.session.id,
            i.live_refresh_tokens
        );
    }
}
