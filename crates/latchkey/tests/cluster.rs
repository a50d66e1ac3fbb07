//! Two real `latchkey serve` nodes on one PostgreSQL database (issue 5): revocation
//! through one node seen by the other, with and without its LISTEN connection, a
//! refresh storm across both, key rotation under load with a relying party verifying
//! every token, and a node killed mid-load. Plus `latchkey admin --database` and
//! `latchkey migrate` on PostgreSQL.
//!
//! Both nodes share one issuer (as behind a load balancer) and listen on their own
//! loopback ports; the tests address each node directly.

use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::{random_id, random_token, sha256, Kek};
use latchkey_core::manage::{ManagePolicy, Manager, NewClient, NewUser};
use latchkey_core::model::*;
use latchkey_core::store::{Issuance, Store};
use latchkey_e2e::pg::TestDatabase;
use latchkey_store_postgres::PgStore;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Client {
    id: String,
    secret: String,
}

/// A node: a `latchkey serve --database …` child process, killed on drop.
struct Node {
    child: Child,
    base: String,
    admin: String,
    port: u16,
}

impl Node {
    fn spawn(url: &str, kek: &str, issuer: &str, port: u16) -> Node {
        let admin_port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(["serve", "--database", url, "--issuer", issuer])
            .args(["--public-addr", &format!("127.0.0.1:{port}")])
            .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
            .env("LATCHKEY_KEK", kek)
            .env_remove("LATCHKEY_DB")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn latchkey serve");
        Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `application_name` of this node's database connections.
    fn app_name(&self) -> String {
        format!("latchkey-serve-{}", self.child.id())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(self.url("/jwks")).send().await {
                if r.status().is_success() {
                    let jwks: Value = r.json().await.unwrap_or(Value::Null);
                    if jwks["keys"].as_array().is_some_and(|k| !k.is_empty()) {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} never became ready",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A database seeded with a user, a code+refresh client `app` (no grace window, so a
/// replayed refresh token never succeeds) and a client-credentials client `rs`, and
/// two nodes serving it.
struct World {
    a: Node,
    b: Node,
    app: Client,
    rs: Client,
    /// A read-write admin API key (`Authorization: Bearer …`).
    api_key: String,
    user_id: String,
    store: PgStore,
    db: TestDatabase,
    kek: String,
    issuer: String,
    http: reqwest::Client,
}

impl World {
    async fn start() -> World {
        let db = TestDatabase::create().await.expect("database");
        let kek = Kek::generate();
        let store = PgStore::connect(&db.url).await.expect("store");
        let m = Manager::new(
            Arc::new(store.clone()) as Arc<dyn Store>,
            Arc::new(SystemClock),
            kek.clone(),
            ManagePolicy::default(),
        );
        m.ensure_builtin_scopes().await.unwrap();
        m.ensure_keys().await.unwrap();
        let user = m
            .user_create(
                "test",
                NewUser {
                    username: "alice".into(),
                    password: "correct horse battery".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let app = m
            .client_create(
                "test",
                NewClient {
                    name: "app".into(),
                    grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                    redirect_uris: vec!["https://app.test/cb".into()],
                    allowed_scopes: vec!["openid".into()],
                    refresh_grace_secs: Some(0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let rs = m
            .client_create(
                "test",
                NewClient {
                    name: "rs".into(),
                    grant_types: vec![GrantType::ClientCredentials],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (_, api_key) = m
            .api_key_create("test", "cluster test", false, None)
            .await
            .unwrap();
        let (pa, pb) = (free_port(), free_port());
        let issuer = format!("http://127.0.0.1:{pa}");
        let kek = kek.encode();
        let a = Node::spawn(&db.url, &kek, &issuer, pa);
        let b = Node::spawn(&db.url, &kek, &issuer, pb);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        a.wait_ready(&http).await;
        b.wait_ready(&http).await;
        World {
            a,
            b,
            app: Client {
                id: app.client.id,
                secret: app.secret.expect("secret").into_string(),
            },
            rs: Client {
                id: rs.client.id,
                secret: rs.secret.expect("secret").into_string(),
            },
            api_key: api_key.into_string(),
            user_id: user.id,
            store,
            db,
            kek,
            issuer,
            http,
        }
    }

    /// `n` live sessions of alice at `app`, each with its refresh token, written the way
    /// a code redemption writes them.
    async fn families(&self, n: usize) -> Vec<(String, String)> {
        let now = SystemClock.now();
        let mut out = Vec::new();
        for _ in 0..n {
            let code = random_token();
            let session = Session {
                id: random_id(),
                user_id: self.user_id.clone(),
                client_id: self.app.id.clone(),
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
            };
            self.store
                .auth_code_insert(&AuthCode {
                    dpop_jkt: None,
                    hash: sha256(code.as_bytes()),
                    client_id: self.app.id.clone(),
                    user_id: self.user_id.clone(),
                    sign_in_id: None,
                    redirect_uri: "https://app.test/cb".into(),
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
                    client_id: self.app.id.clone(),
                    created_at: now,
                    consumed_at: None,
                    idle_expires_at: now + 86_400,
                    ip: None,
                    user_agent: None,
                }),
                access: None,
                event: None,
            };
            assert!(self
                .store
                .auth_code_redeem(&sha256(code.as_bytes()), now, &issue)
                .await
                .unwrap());
            out.push((session.id, rt));
        }
        out
    }

    async fn post(
        &self,
        node: &Node,
        path: &str,
        who: &Client,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        match self
            .http
            .post(node.url(path))
            .basic_auth(&who.id, Some(&who.secret))
            .form(form)
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            // A refused or reset connection: counted apart from HTTP answers.
            Err(_) => (0, Value::Null),
        }
    }

    /// Refreshes `rt` at `node`: (access token, new refresh token).
    async fn refresh(&self, node: &Node, rt: &str) -> (String, String) {
        let (status, body) = self
            .post(
                node,
                "/token",
                &self.app,
                &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["access_token"].as_str().unwrap().to_string(),
            body["refresh_token"].as_str().unwrap().to_string(),
        )
    }

    async fn active_at(&self, node: &Node, token: &str) -> bool {
        let (status, body) = self
            .post(node, "/introspect", &self.rs, &[("token", token)])
            .await;
        assert_eq!(status, 200, "{body}");
        body["active"].as_bool().expect("active")
    }

    /// Polls `node`'s introspection of `token` until it says inactive; how long that took.
    async fn inactive_within(&self, node: &Node, token: &str, bound: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < bound {
            if !self.active_at(node, token).await {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .env("LATCHKEY_KEK", &self.kek)
            .env("LATCHKEY_DATABASE_URL", &self.db.url)
            .env_remove("LATCHKEY_DB")
            .output()
            .expect("run latchkey")
    }
}

/// How long a test waits for a change on one node to show on the other. The design
/// bound is a second (NOTIFY, or the 500 ms generation poll) and the tests print what
/// they measured; the assertion only catches a change that never arrives, since a busy
/// machine can take seconds over any one request.
const PROPAGATION_BOUND: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_revoked_through_node_b_introspects_inactive_on_node_a() {
    let w = World::start().await;
    let fams = w.families(3).await;

    // Through B's revocation endpoint (RFC 7009): the refresh token's family dies.
    let (at, rt) = w.refresh(&w.a, &fams[0].1).await;
    assert!(
        w.active_at(&w.a, &at).await,
        "active before (and cached on A)"
    );
    let (status, _) = w
        .post(&w.b, "/revoke", &w.app, &[("token", rt.as_str())])
        .await;
    assert_eq!(status, 200);
    let took = w.inactive_within(&w.a, &at, PROPAGATION_BOUND).await;
    assert!(took.is_some(), "A still says active long after B revoked");
    eprintln!("revocation through B's /revoke seen by A after {took:?}");

    // Through `latchkey admin --database … sessions revoke`, another process entirely.
    let (at, _) = w.refresh(&w.a, &fams[1].1).await;
    assert!(w.active_at(&w.a, &at).await);
    // `--`: a session id is base64url and may begin with '-'.
    let out = w.cli(&["admin", "sessions", "revoke", "--", &fams[1].0]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = w.inactive_within(&w.a, &at, PROPAGATION_BOUND).await;
    assert!(
        took.is_some(),
        "A still says active long after the CLI revoked"
    );
    eprintln!("revocation through the CLI seen by A after {took:?}");

    // Through B's admin API.
    let (at, _) = w.refresh(&w.a, &fams[2].1).await;
    assert!(w.active_at(&w.a, &at).await);
    let r = w
        .http
        .post(format!(
            "{}/admin/v1/sessions/{}/revoke",
            w.b.admin, fams[2].0
        ))
        .bearer_auth(&w.api_key)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let took = w.inactive_within(&w.a, &at, PROPAGATION_BOUND).await;
    assert!(
        took.is_some(),
        "A still says active long after B's admin API revoked"
    );
    eprintln!("revocation through B's admin API seen by A after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_reaches_node_a_even_after_its_listen_connection_was_killed() {
    let w = World::start().await;
    let fams = w.families(2).await;
    let (at, rt) = w.refresh(&w.a, &fams[0].1).await;
    assert!(w.active_at(&w.a, &at).await);
    let killed =
        w.db.terminate_backends(Some(&w.a.app_name()), "LISTEN")
            .await
            .unwrap();
    assert_eq!(killed, 1, "A's LISTEN connection");
    // Revoke at once, while A may still be reconnecting: the notification can be lost;
    // the reconnect flush or the generation poll must still get A there.
    let (status, _) = w
        .post(&w.b, "/revoke", &w.app, &[("token", rt.as_str())])
        .await;
    assert_eq!(status, 200);
    assert!(
        w.inactive_within(&w.a, &at, PROPAGATION_BOUND)
            .await
            .is_some(),
        "A still says active long after B revoked"
    );
    // And A listens again: the next revocation arrives the ordinary way.
    let (at, rt) = w.refresh(&w.a, &fams[1].1).await;
    assert!(w.active_at(&w.a, &at).await);
    w.post(&w.b, "/revoke", &w.app, &[("token", rt.as_str())])
        .await;
    assert!(w
        .inactive_within(&w.a, &at, PROPAGATION_BOUND)
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_storm_across_both_nodes_succeeds_exactly_once_per_family_without_5xx() {
    let w = World::start().await;
    let fams = w.families(24).await;
    // Every refresh token is sent four times at once, twice to each node.
    let w = &w;
    let mut calls = Vec::new();
    for (i, (_, rt)) in fams.iter().enumerate() {
        for k in 0..4 {
            let node = if (i + k) & 1 == 0 { &w.a } else { &w.b };
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            calls.push(async move { (i, w.post(node, "/token", &w.app, &form).await) });
        }
    }
    let results = futures_util::future::join_all(calls).await;
    let mut wins = vec![0; fams.len()];
    for (i, (status, body)) in &results {
        assert!(*status != 0 && *status < 500, "status {status}: {body}");
        if *status == 200 {
            wins[*i] += 1;
        } else {
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert!(
        wins.iter().all(|&n| n == 1),
        "successes per family: {wins:?}"
    );
}

/// Waits until each node's JWKS lists every key the store publishes.
async fn both_nodes_publish_the_stores_keys(w: &World) {
    let deadline = Instant::now() + PROPAGATION_BOUND;
    loop {
        let want: Vec<String> = w
            .store
            .keys_list()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| latchkey_core::keys::is_published(k.state))
            .map(|k| k.kid)
            .collect();
        let mut everywhere = true;
        for node in [&w.a, &w.b] {
            let jwks: Value = match w.http.get(node.url("/jwks")).send().await {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            let have: Vec<&str> = jwks["keys"]
                .as_array()
                .map(|a| a.iter().filter_map(|k| k["kid"].as_str()).collect())
                .unwrap_or_default();
            everywhere &= want.iter().all(|k| have.contains(&k.as_str()));
        }
        if everywhere {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes never published the store's keys"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_keys_under_load_never_fails_a_relying_party_verifying_through_jwks() {
    let w = Arc::new(World::start().await);
    let stop = Arc::new(AtomicBool::new(false));
    let (verified, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (w, stop, verified, failed) =
            (w.clone(), stop.clone(), verified.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            // The relying party: one JWKS copy, fetched again only for an unknown kid,
            // from whichever node it happens to ask.
            let mut jwks: Value = w
                .http
                .get(w.b.url("/jwks"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let node = if (n + worker) & 1 == 0 { &w.a } else { &w.b };
                let (status, body) = w
                    .post(
                        node,
                        "/token",
                        &w.rs,
                        &[("grant_type", "client_credentials")],
                    )
                    .await;
                if status != 200 {
                    eprintln!("token request failed: {status} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let token = body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let Ok(parsed) = latchkey_core::jwt::parse(&token) else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let mut ok = latchkey_core::jwt::verify_with_jwks(&parsed, &jwks).is_ok();
                if !ok {
                    let other = if n & 1 == 0 { &w.b } else { &w.a };
                    if let Ok(r) = w.http.get(other.url("/jwks")).send().await {
                        jwks = r.json().await.unwrap_or(Value::Null);
                    }
                    ok = latchkey_core::jwt::verify_with_jwks(&parsed, &jwks).is_ok();
                }
                if ok {
                    verified.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("verification failed for kid {:?}", parsed.header.get("kid"));
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Three rotations, each once both nodes publish every key the store does (so the
    // key a rotation promotes was pre-published everywhere: the property under test,
    // not a second of wall-clock that a busy machine may not give the nodes' caches).
    let mut kids = Vec::new();
    for _ in 0..3 {
        both_nodes_publish_the_stores_keys(&w).await;
        let out = w.cli(&["admin", "keys", "rotate", "--alg", "ES256", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        kids.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    // Tokens from the last key too, then stop.
    both_nodes_publish_the_stores_keys(&w).await;
    let after = verified.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
    let deadline = Instant::now() + PROPAGATION_BOUND;
    while verified.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < after + 20
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let (v, f) = (
        verified.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    eprintln!("verified {v} tokens across 3 rotations");
    assert_eq!(f, 0, "{f} failures out of {}", v + f);
    assert!(v > 0);
    // The tokens really came from more than one key.
    let keys = w.store.keys_list().await.unwrap();
    let es256: Vec<_> = keys.iter().filter(|k| k.alg == Alg::ES256).collect();
    assert!(es256.len() >= 4, "three rotations made new keys: {kids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_one_node_mid_load_leaves_the_other_serving_and_it_restarts_cleanly() {
    let mut w = World::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let http = w.http.clone();
    let (b_url, rs_id, rs_secret) = (w.b.url("/token"), w.rs.id.clone(), w.rs.secret.clone());
    let (ok, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (http, stop, ok, bad) = (http.clone(), stop.clone(), ok.clone(), bad.clone());
        let (url, id, secret) = (b_url.clone(), rs_id.clone(), rs_secret.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // SIGKILL: no shutdown, its connections (and the leader lock, if it held it) just go.
    w.a.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let port = w.a.port;
    w.a = Node::spawn(&w.db.url, &w.kek, &w.issuer, port);
    w.a.wait_ready(&w.http).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let (ok, bad) = (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed));
    eprintln!("B served {ok} tokens while A was killed and restarted");
    assert_eq!(bad, 0, "B failed {bad} of {} requests", ok + bad);
    assert!(ok > 0);
    // The restarted A serves, and B still introspects its tokens.
    let (status, body) = w
        .post(
            &w.a,
            "/token",
            &w.rs,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert!(w.active_at(&w.b, &token).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_cli_administers_a_postgres_database_like_a_file_and_migrate_is_idempotent() {
    let db = TestDatabase::create().await.unwrap();
    let kek = Kek::generate().encode();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .env("LATCHKEY_KEK", &kek)
            .env_remove("LATCHKEY_DB")
            .env_remove("LATCHKEY_DATABASE_URL")
            .output()
            .expect("run latchkey")
    };
    let out = run(&["migrate", "--database", &db.url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied migrations 0001"));
    let out = run(&["migrate", "--database", &db.url]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "schema up to date"
    );

    let out = run(&["admin", "--database", &db.url, "scopes", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scopes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(scopes
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "openid"));
    let out = run(&["admin", "--database", &db.url, "keys", "list", "--json"]);
    assert!(out.status.success());
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!keys.as_array().unwrap().is_empty(), "first use made keys");

    // Without a KEK in the environment a shared database is refused, not given a new key.
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["admin", "--database", &db.url, "keys", "list"])
        .env_remove("LATCHKEY_KEK")
        .env_remove("LATCHKEY_KEK_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_KEK"));
    // Both --db and --database is a usage error.
    let out = run(&[
        "admin",
        "--db",
        "x.db",
        "--database",
        &db.url,
        "keys",
        "list",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
