//! The shared store suite on PostgreSQL (a database of its own per case), plus what only
//! the PostgreSQL store has: migrations under an advisory lock, refusing a newer
//! schema, change notification between nodes and the leader lock.

use latchkey_core::model::NewAuditEvent;
use latchkey_core::store_suite::{self, client, T0};
use latchkey_e2e::pg::TestDatabase;
use latchkey_store_postgres::{PgOptions, PgStore};
use sqlx::Connection;
use std::time::{Duration, Instant};

struct TestDb {
    // Field order: the store's pool closes before the database is dropped.
    store: PgStore,
    _db: TestDatabase,
}

impl TestDb {
    async fn new() -> Self {
        let db = TestDatabase::create().await.expect("test database");
        let store = PgStore::connect(&db.url).await.expect("connect");
        Self { store, _db: db }
    }

    fn store(&self) -> &PgStore {
        &self.store
    }
}

latchkey_core::store_suite_tests!(TestDb::new());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_on_one_shared_database() {
    let db = TestDb::new().await;
    store_suite::run_all(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_on_an_empty_database_run_each_migration_exactly_once() {
    let db = TestDatabase::create().await.unwrap();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { latchkey_store_postgres::migrate(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for s in starts {
        applied.extend(s.await.unwrap().expect("migrate"));
    }
    applied.sort();
    let known: Vec<i64> = latchkey_store_postgres::known_migrations()
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        applied, known,
        "each migration applied by exactly one start"
    );
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let rows: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows, known);
    conn.close().await.unwrap();
    // And a later start has nothing left to do.
    assert!(latchkey_store_postgres::migrate(&db.url)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_build_is_refused() {
    let db = TestDatabase::create().await.unwrap();
    latchkey_store_postgres::migrate(&db.url).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, '\\x00'::bytea, 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let err = PgStore::connect(&db.url).await.unwrap_err();
    assert!(
        matches!(err, latchkey_core::error::StoreError::Corrupt(ref m) if m.contains("newer")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_refused_without_echoing_its_password() {
    let err = PgStore::connect("postgres://u:hunter2@127.0.0.1:notaport/db")
        .await
        .unwrap_err();
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

/// How long a test waits for something another connection does (a notification, the
/// poll, a reconnect): generous, since only a bug takes this long, and a busy machine
/// may take seconds.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits (bounded) for `store`'s change marker to move away from `before`.
async fn marker_moves(store: &PgStore, before: Option<u64>) -> bool {
    let until = Instant::now() + PATIENCE;
    while Instant::now() < until {
        if store.change_marker() != before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits until `store`'s LISTEN connection is up: its task moves the marker (from 0)
/// once it is listening, so a change after this is notified to it.
async fn listening(store: &PgStore) {
    assert!(
        marker_moves(store, Some(0)).await,
        "the LISTEN connection never came up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_moves_the_other_nodes_marker() {
    let db = TestDatabase::create().await.unwrap();
    let a = PgStore::connect(&db.url).await.unwrap();
    let b = PgStore::connect(&db.url).await.unwrap();
    // B listens (its first connect bumps the marker once).
    listening(&b).await;
    let before = b.change_marker();
    a.client_insert(
        &client("c-notify"),
        None,
        &NewAuditEvent::new(T0, "test", "client.create"),
    )
    .await
    .unwrap();
    assert!(marker_moves(&b, before).await, "B never saw A's change");
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_catches_a_change_whose_notification_was_lost() {
    let db = TestDatabase::create().await.unwrap();
    let a = PgStore::connect(&db.url).await.unwrap();
    let b = PgStore::connect_with(
        &db.url,
        PgOptions {
            poll_interval: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    listening(&b).await;
    let before = b.change_marker();
    // A change made behind the store's back: the generation moves, no NOTIFY is sent.
    // The poll compares with its previous reading, so a change before its first one
    // goes unseen: change again until it notices, within a generous deadline.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let until = Instant::now() + PATIENCE;
    let mut noticed = false;
    while !noticed && Instant::now() < until {
        sqlx::query("UPDATE cache_generation SET n = n + 1")
            .execute(&mut conn)
            .await
            .unwrap();
        let again = Instant::now() + Duration::from_secs(2);
        while !noticed && Instant::now() < again {
            noticed = b.change_marker() != before;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    conn.close().await.unwrap();
    assert!(noticed, "the poll never noticed");
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_listen_connection_flushes_the_caches() {
    let db = TestDatabase::create().await.unwrap();
    let a = PgStore::connect(&db.url).await.unwrap();
    listening(&a).await;
    let before = a.change_marker();
    assert!(db.terminate_backends(None, "LISTEN").await.unwrap() >= 1);
    assert!(marker_moves(&a, before).await);
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_at_a_time_leads_and_a_closed_leader_hands_over() {
    let db = TestDatabase::create().await.unwrap();
    let a = PgStore::connect(&db.url).await.unwrap();
    let b = PgStore::connect(&db.url).await.unwrap();
    assert!(a.lead_jobs().await.unwrap());
    assert!(a.lead_jobs().await.unwrap(), "the leader keeps leading");
    assert!(!b.lead_jobs().await.unwrap());
    a.close().await;
    let until = Instant::now() + PATIENCE;
    let mut took_over = false;
    while Instant::now() < until && !took_over {
        took_over = b.lead_jobs().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(took_over, "B never took over after A closed");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_through_one_node_reaches_the_other_nodes_engine() {
    use latchkey_core::clock::SystemClock;
    use latchkey_core::crypto::Kek;
    use latchkey_core::manage::{ManagePolicy, Manager, SettingsPatch};
    use latchkey_core::oauth::{Config, Provider};
    use std::sync::Arc;

    let db = TestDatabase::create().await.unwrap();
    let a = PgStore::connect(&db.url).await.unwrap();
    let b = PgStore::connect(&db.url).await.unwrap();
    listening(&b).await;
    let kek = Kek::generate();
    let node_b = Provider::new(
        Arc::new(b.clone()),
        Arc::new(SystemClock),
        kek.clone(),
        Config::new("http://127.0.0.1:9"),
    );
    // B has read (and cached) the defaults.
    assert_eq!(node_b.settings().await.unwrap().code_ttl, 60);
    let admin_a = Manager::new(
        Arc::new(a.clone()),
        Arc::new(SystemClock),
        kek,
        ManagePolicy::default(),
    );
    let started = Instant::now();
    admin_a
        .settings_update(
            "test",
            SettingsPatch::from([("code_ttl".to_string(), Some(120))]),
        )
        .await
        .unwrap();
    loop {
        if node_b.settings().await.unwrap().code_ttl == 120 {
            break;
        }
        // Normally within a second (the settings cache's bound); the deadline only
        // catches a change that never arrives, whatever the machine's load.
        assert!(
            started.elapsed() < PATIENCE,
            "node B still used the old settings"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.close().await;
    b.close().await;
}

/// Issue 14: two nodes sharing PostgreSQL each run their own detections over their own
/// share of a spray; the finding is raised once, not once per node, and both nodes'
/// enforce-mode blocks land as one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_is_raised_once_across_two_nodes_on_one_database() {
    use latchkey_core::monitor::{Detector, Signal, SPRAY};
    use latchkey_core::settings::{ServerSettings, ENFORCE};
    let db = TestDatabase::create().await.unwrap();
    let node_a = PgStore::connect(&db.url).await.unwrap();
    let node_b = PgStore::connect(&db.url).await.unwrap();
    let settings = ServerSettings {
        detect_spray_mode: ENFORCE,
        detect_spray_usernames: 5,
        ..ServerSettings::default()
    };
    // The load balancer sends every request to both (the worst case: each node alone
    // crosses the threshold at the same moment).
    let (mut a, mut b) = (Detector::new(), Detector::new());
    let (mut raises_a, mut raises_b) = (Vec::new(), Vec::new());
    for i in 0..8 {
        let s = Signal::SignInFailed {
            username: format!("user{i}"),
            addr: "2001:db8:7:7::1".parse().unwrap(),
        };
        raises_a.extend(a.observe(&s, T0 + i, &settings));
        raises_b.extend(b.observe(&s, T0 + i, &settings));
    }
    assert_eq!((raises_a.len(), raises_b.len()), (1, 1));
    let (ra, rb) = (&raises_a[0], &raises_b[0]);
    let (fa, fb) = tokio::join!(
        node_a.finding_raise(&ra.finding, ra.merge_after),
        node_b.finding_raise(&rb.finding, rb.merge_after),
    );
    assert_eq!(
        [fa.unwrap(), fb.unwrap()].iter().filter(|n| **n).count(),
        1,
        "exactly one node's insert is new"
    );
    let (ba, bb) = tokio::join!(
        node_a.block_put(ra.block.as_ref().unwrap(), None),
        node_b.block_put(rb.block.as_ref().unwrap(), None),
    );
    ba.unwrap();
    bb.unwrap();
    let findings = node_b
        .findings_list(&latchkey_core::model::FindingFilter {
            rule: Some(SPRAY.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].subject, "2001:db8:7:7::/64");
    let blocks = node_a.blocks_list(T0 + 10).await.unwrap();
    assert_eq!(blocks.len(), 1);
    // A later raise by either node in the same episode grows the one finding.
    let mut later = rb.finding.clone();
    later.id = "later".into();
    later.dedup_key = "other-episode-key".into();
    later.last_seen = T0 + 100;
    later.count = 9;
    assert!(!node_a.finding_raise(&later, T0).await.unwrap());
    let f = node_b.finding_get(&findings[0].id).await.unwrap().unwrap();
    assert_eq!((f.count, f.last_seen), (9, T0 + 100));
}

/// Issue 14, detections 3, 7 and 9: they read what every node wrote to the shared
/// database, so two nodes that run them at the same moment see the same thing; the
/// wave, a client's first use of a scope and a hygiene finding are each raised once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_detections_raise_each_finding_once_across_two_nodes() {
    use latchkey_core::clock::FixedClock;
    use latchkey_core::crypto::Kek;
    use latchkey_core::manage::{ManagePolicy, Manager, NewClient};
    use latchkey_core::model::{ClientType, FindingFilter, GrantType};
    use latchkey_core::monitor::{Signal, UseKind, HYGIENE, MINT_NEW_USE, WAVE};
    use latchkey_core::oauth::{Config, Provider};
    use latchkey_server::monitor::Monitor;
    use std::sync::Arc;

    const DAY: i64 = 24 * 3600;
    let db = TestDatabase::create().await.unwrap();
    let (a, b) = (
        PgStore::connect(&db.url).await.unwrap(),
        PgStore::connect(&db.url).await.unwrap(),
    );
    let clock = FixedClock::new(T0);
    let kek = Kek::generate();
    let admin = Manager::new(
        Arc::new(a.clone()),
        Arc::new(clock.clone()),
        kek.clone(),
        ManagePolicy::default(),
    );
    admin
        .settings_update(
            "test",
            latchkey_core::manage::SettingsPatch::from([
                ("detect_wave_min_failures".to_string(), Some(5)),
                ("detect_hygiene_secret_age".to_string(), Some(DAY)),
            ]),
        )
        .await
        .unwrap();
    let app = admin
        .client_create(
            "test",
            NewClient {
                name: "app".into(),
                client_type: Some(ClientType::Confidential),
                grant_types: vec![GrantType::ClientCredentials],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client
        .id;
    let node = |store: &PgStore| {
        Provider::new(
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
            kek.clone(),
            Config::new("http://127.0.0.1:9"),
        )
    };
    let (pa, pb) = (node(&a), node(&b));
    let (ma, mb) = (Monitor::new(), Monitor::new());
    // Two days on: the secret is past its age, and 6 failed sign-ins in the last hour
    // (no baseline: the floor of 5 decides).
    clock.set(T0 + 2 * DAY);
    for _ in 0..6 {
        a.audit_insert(
            &NewAuditEvent::new(T0 + 2 * DAY - 60, "anonymous", "security.login_failed").security(),
        )
        .await
        .unwrap();
    }
    tokio::join!(ma.tick(&pa), mb.tick(&pb));
    // The client, known for 8 days, uses a scope for the first time, seen by both
    // nodes (each process's first sight of it) at once.
    a.client_use_note(&app, UseKind::Grant, "client_credentials", T0)
        .await
        .unwrap();
    clock.set(T0 + 8 * DAY);
    let first_use = Signal::ClientUse {
        client_id: app.clone(),
        kind: UseKind::Scope,
        value: "reports".into(),
    };
    assert!(ma.report(first_use.clone(), T0 + 8 * DAY));
    assert!(mb.report(first_use, T0 + 8 * DAY));
    tokio::join!(ma.drain(&pa), mb.drain(&pb));
    let list = |rule: &str| {
        let a = a.clone();
        let rule = rule.to_string();
        async move {
            a.findings_list(&FindingFilter {
                rule: Some(rule),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(list(WAVE).await.len(), 1);
    let hygiene = list(HYGIENE).await;
    assert_eq!(hygiene.len(), 1);
    assert_eq!(hygiene[0].subject, app);
    let first = list(MINT_NEW_USE).await;
    assert_eq!(first.len(), 1);
    assert!(first[0].evidence.contains("\"value\":\"reports\""));
}
