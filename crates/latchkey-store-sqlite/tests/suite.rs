//! The shared store suite on a temp-file SQLite database, plus what only SQLite has:
//! its pragmas, several handles on one file (`latchkey serve` and the `latchkey admin`
//! CLI), lock waits and schema versioning.

use latchkey_core::error::StoreError;
use latchkey_core::model::NewAuditEvent;
use latchkey_core::store::{Issuance, RotateOutcome};
use latchkey_core::store_suite::{self, access, client, code, refresh, session, user, T0};
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, SqliteConnection};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// A store on a fresh file in its own temp dir, removed when dropped.
struct TestDb {
    dir: TempDir,
    store: SqliteStore,
}

impl TestDb {
    async fn new() -> Self {
        Self::with(SqliteOptions::default()).await
    }

    async fn with(opts: SqliteOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open_with(&dir.path().join("latchkey.db"), opts)
            .await
            .expect("open");
        Self { dir, store }
    }

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("latchkey.db")
    }
}

latchkey_core::store_suite_tests!(TestDb::new());

/// A plain connection to the file, standing in for another process (sqlite3 CLI).
async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection")
}

fn ev(action: &str, target: &str) -> NewAuditEvent {
    NewAuditEvent::new(T0, "local-admin", action).target(target)
}

/// A client, a user and a live session with refresh token `rt`, redeemed from a code.
async fn family(store: &SqliteStore, tag: &str, rt: &str) -> (String, String, String) {
    let (c, u, s) = (format!("c-{tag}"), format!("u-{tag}"), format!("s-{tag}"));
    store
        .client_insert(&client(&c), None, &ev("client.create", &c))
        .await
        .expect("client");
    store
        .user_insert(&user(&u), &ev("user.create", &u))
        .await
        .expect("user");
    store
        .auth_code_insert(&code(&format!("code-{tag}"), &c, &u))
        .await
        .expect("code");
    let issue = Issuance {
        session: Some(session(&s, &u, &c)),
        refresh: Some(refresh(rt, &s, &c)),
        access: None,
        event: None,
    };
    assert!(store
        .auth_code_redeem(format!("code-{tag}").as_bytes(), T0 + 1, &issue)
        .await
        .expect("redeem"));
    (c, u, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_on_one_shared_file() {
    let db = TestDb::new().await;
    store_suite::run_all(db.store()).await;
    assert_eq!(db.store().integrity_check().await.expect("check"), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_and_synchronous_full_are_in_force_on_every_connection() {
    let db = TestDb::new().await;
    for pragmas in [
        db.store().writer_pragmas().await.expect("writer"),
        db.store().reader_pragmas().await.expect("reader"),
    ] {
        assert_eq!(pragmas.journal_mode, "wal");
        assert_eq!(pragmas.synchronous, 2, "FULL");
        assert_eq!(pragmas.busy_timeout_ms, 5000);
        assert!(pragmas.foreign_keys);
        assert_eq!(pragmas.journal_size_limit, 67_108_864);
        assert_eq!(pragmas.temp_store, 2, "MEMORY");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_normal_is_an_explicit_opt_in() {
    let db = TestDb::with(SqliteOptions {
        synchronous_normal: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        db.store()
            .writer_pragmas()
            .await
            .expect("writer")
            .synchronous,
        1
    );
    assert_eq!(
        db.store()
            .reader_pragmas()
            .await
            .expect("reader")
            .synchronous,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_created_and_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new.db");
    let store = SqliteStore::open(&path).await.expect("open");
    assert!(path.exists());
    store.close().await;
    let bad = SqliteStore::open(&dir.path().join("no/such/dir/x.db")).await;
    assert!(bad.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_a_file_keeps_its_data_and_migrates_nothing_twice() {
    let db = TestDb::new().await;
    db.store().meta_set("k", "v").await.expect("set");
    db.store().close().await;
    let again = SqliteStore::open(&db.path()).await.expect("reopen");
    assert_eq!(
        again.meta_get("k").await.expect("get").as_deref(),
        Some("v")
    );
    let mut conn = raw(&db.path()).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let known = sqlx::migrate!("./migrations").iter().count() as i64;
    assert_eq!(applied, known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_migrated_by_a_newer_build_is_refused() {
    let db = TestDb::new().await;
    db.store().close().await;
    let mut conn = raw(&db.path()).await;
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .await
    .expect("fake a newer migration");
    conn.close().await.expect("close");
    let refused = SqliteStore::open(&db.path()).await;
    assert!(
        matches!(refused, Err(StoreError::Corrupt(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_on_the_same_file_sees_writes_at_once() {
    let db = TestDb::new().await;
    let cli = SqliteStore::open(&db.path()).await.expect("second open");
    let c = client("c-shared");
    db.store()
        .client_insert(&c, None, &ev("client.create", &c.id))
        .await
        .expect("insert");
    assert_eq!(cli.client_get(&c.id).await.expect("get"), Some(c.clone()));
    let n = cli
        .sessions_revoke_client(&c.id, T0 + 5, None)
        .await
        .expect("revoke from the CLI");
    assert_eq!(n.sessions, 0);
    let seen = db
        .store()
        .client_get(&c.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(seen.tokens_valid_after, T0 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_succeeds_while_another_connection_holds_a_read() {
    let db = TestDb::new().await;
    db.store().meta_set("k", "before").await.expect("set");
    let mut reader = raw(&db.path()).await;
    reader.execute("BEGIN").await.expect("begin");
    let seen: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'k'")
        .fetch_one(&mut reader)
        .await
        .expect("read");
    assert_eq!(seen, "before");

    // The reader's transaction stays open throughout: a writer that waited for
    // readers would wait out busy_timeout and fail here, however fast the machine.
    db.store()
        .meta_set("k", "after")
        .await
        .expect("WAL writers do not wait for readers");
    // The reader keeps its snapshot; the store's own readers see the write.
    let still: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'k'")
        .fetch_one(&mut reader)
        .await
        .expect("read");
    assert_eq!(still, "before");
    assert_eq!(
        db.store().meta_get("k").await.expect("get").as_deref(),
        Some("after")
    );
    reader.execute("COMMIT").await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_out_another_process_holding_the_write_lock() {
    // A busy_timeout no busy machine reaches: the write must wait, never give up.
    let db = TestDb::with(SqliteOptions {
        busy_timeout: Duration::from_secs(120),
        ..Default::default()
    })
    .await;
    let mut other = raw(&db.path()).await;
    other.execute("BEGIN IMMEDIATE").await.expect("lock");
    other
        .execute("INSERT INTO meta (key, value) VALUES ('other', '1')")
        .await
        .expect("write");
    let store = db.store().clone();
    let asked = std::sync::Arc::new(tokio::sync::Notify::new());
    let mine = tokio::spawn({
        let asked = asked.clone();
        async move {
            asked.notify_one();
            store.meta_set("mine", "2").await
        }
    });
    // Once the write has been asked for, it cannot finish (neither written nor refused:
    // the busy timeout is far beyond any machine's pace) until the other process lets
    // go. Ordering, not elapsed time: the write was asked for before this check.
    asked.notified().await;
    tokio::task::yield_now().await;
    assert!(
        !mine.is_finished(),
        "the write finished while another process held the write lock: {:?}",
        mine.await
    );
    other.execute("COMMIT").await.expect("commit");
    mine.await.expect("join").expect("waits, then writes");
    assert_eq!(
        db.store().meta_get("other").await.expect("get").as_deref(),
        Some("1")
    );
    assert_eq!(
        db.store().meta_get("mine").await.expect("get").as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_busy_timeout_is_unavailable_and_then_recovers() {
    let db = TestDb::with(SqliteOptions {
        busy_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut other = raw(&db.path()).await;
    other.execute("BEGIN IMMEDIATE").await.expect("lock");
    let busy = db.store().meta_set("k", "v").await;
    assert!(matches!(busy, Err(StoreError::Unavailable(_))), "{busy:?}");
    // Reads are not blocked by a writer.
    assert_eq!(
        db.store().meta_get("k").await.expect("read under lock"),
        None
    );
    other.execute("ROLLBACK").await.expect("release");
    db.store().meta_set("k", "v").await.expect("recovered");
    assert_eq!(
        db.store().meta_get("k").await.expect("get").as_deref(),
        Some("v")
    );
}

/// Two handles on one file (server and CLI) racing to rotate one refresh token: the
/// immediate write lock plus busy_timeout make every loser a clean `AlreadyConsumed`,
/// never a `SQLITE_BUSY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_racing_from_two_stores_on_one_file_succeed_exactly_once() {
    let db = TestDb::new().await;
    let cli = SqliteStore::open(&db.path()).await.expect("second open");
    let (c, _, s) = family(db.store(), "two-rt", "rt-two").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = if i % 2 == 0 {
            db.store().clone()
        } else {
            cli.clone()
        };
        let next = refresh(&format!("rt-two-{i}"), &s, &c);
        let at = access(&format!("jti-two-{i}"), Some(&s), &c);
        tasks.push(tokio::spawn(async move {
            store
                .refresh_rotate(b"rt-two", T0 + 5, &next, Some(&at))
                .await
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(RotateOutcome::Rotated { .. }) => rotated += 1,
            Ok(RotateOutcome::AlreadyConsumed { .. }) => {}
            other => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    let live = db
        .store()
        .sessions_list(&Default::default(), T0 + 6)
        .await
        .expect("list");
    assert_eq!(live[0].live_refresh_tokens, 1);
    assert_eq!(live[0].live_access_tokens, 1);
}

/// `refresh_reissue` reads the session before it writes. In a deferred transaction that
/// read-then-write fails at once with `SQLITE_BUSY` (busy_timeout not honoured) whenever
/// the other handle committed in between; `BEGIN IMMEDIATE` makes every call wait its
/// turn instead. Also: however many reissues race, one live refresh token remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reissues_racing_from_two_stores_never_fail_with_busy() {
    let db = TestDb::new().await;
    let cli = SqliteStore::open(&db.path()).await.expect("second open");
    let (c, _, s) = family(db.store(), "two-reissue", "rt-two-reissue").await;
    // Spend the first token, so it is the latest spent one every retry presents.
    let second = refresh("rt-two-reissue-next", &s, &c);
    db.store()
        .refresh_rotate(b"rt-two-reissue", T0 + 4, &second, None)
        .await
        .expect("rotate");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 {
            db.store().clone()
        } else {
            cli.clone()
        };
        let next = refresh(&format!("rt-two-reissue-{i}"), &s, &c);
        let sid = s.clone();
        tasks.push(tokio::spawn(async move {
            store
                .refresh_reissue(&sid, b"rt-two-reissue", T0 + 5, &next, None)
                .await
        }));
    }
    for t in tasks {
        let reissued = t.await.expect("join").expect("no SQLITE_BUSY");
        assert!(reissued);
    }
    let listed = db
        .store()
        .sessions_list(&Default::default(), T0 + 6)
        .await
        .expect("list");
    assert_eq!(listed[0].live_refresh_tokens, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_racing_from_two_stores_on_one_file_succeed_exactly_once() {
    let db = TestDb::new().await;
    let cli = SqliteStore::open(&db.path()).await.expect("second open");
    let (c, u, _) = family(db.store(), "two-code", "rt-two-code").await;
    db.store()
        .auth_code_insert(&code("code-two-race", &c, &u))
        .await
        .expect("code");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            db.store().clone()
        } else {
            cli.clone()
        };
        let s = format!("s-two-race-{i}");
        let issue = Issuance {
            session: Some(session(&s, &u, &c)),
            refresh: Some(refresh(&format!("rt-{s}"), &s, &c)),
            access: Some(access(&format!("jti-{s}"), Some(&s), &c)),
            event: None,
        };
        tasks.push(tokio::spawn(async move {
            store
                .auth_code_redeem(b"code-two-race", T0 + 5, &issue)
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.expect("join").expect("no error, only losers") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_update_never_moves_the_watermark_back() {
    let db = TestDb::new().await;
    let c = client("c-watermark");
    db.store()
        .client_insert(&c, None, &ev("client.create", &c.id))
        .await
        .expect("insert");
    // An edit based on a copy loaded before "revoke all tokens".
    let stale = db
        .store()
        .client_get(&c.id)
        .await
        .expect("get")
        .expect("row");
    db.store()
        .sessions_revoke_client(&c.id, T0 + 100, None)
        .await
        .expect("revoke");
    let mut edit = stale;
    edit.name = "Edited".into();
    db.store()
        .client_update(&edit, &ev("client.update", &c.id))
        .await
        .expect("update");
    let now = db
        .store()
        .client_get(&c.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (now.name.as_str(), now.tokens_valid_after),
        ("Edited", T0 + 100)
    );
    // Moving it forward through an update still works.
    edit.tokens_valid_after = T0 + 200;
    db.store()
        .client_update(&edit, &ev("client.update", &c.id))
        .await
        .expect("update");
    let now = db
        .store()
        .client_get(&c.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(now.tokens_valid_after, T0 + 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_into_another_family_is_refused() {
    let db = TestDb::new().await;
    let (c, _, _) = family(db.store(), "fam-a", "rt-fam-a").await;
    let (_, _, other) = family(db.store(), "fam-b", "rt-fam-b").await;
    let stray = refresh("rt-stray", &other, &c);
    let r = db
        .store()
        .refresh_rotate(b"rt-fam-a", T0 + 5, &stray, None)
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let old = db
        .store()
        .refresh_get(b"rt-fam-a")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(old.consumed_at, None, "nothing was written");
    assert_eq!(
        db.store().refresh_get(b"rt-stray").await.expect("get"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_check_reports_ok_and_no_foreign_key_is_dangling() {
    let db = TestDb::new().await;
    let (c, _, _) = family(db.store(), "integrity", "rt-integrity").await;
    db.store()
        .client_delete(&c, &ev("client.delete", &c))
        .await
        .expect("delete");
    assert_eq!(db.store().integrity_check().await.expect("check"), "ok");
    let mut conn = raw(&db.path()).await;
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .expect("fk check");
    assert!(dangling.is_empty());
}

/// A dense IP prefix (2 000 matches or more) is listed by walking the list order with
/// the IP index left out (`+s.ip`), a sparse one through the IP index: either way the
/// same rows in the same order, page after page, ties on the sort key included; and a
/// rare state (revoked) keeps the IP index.
#[tokio::test]
async fn dense_ip_prefix_pages_like_a_sparse_one() {
    use latchkey_core::model::{SessionCursor, SessionFilter, SessionSort, SessionStateFilter};
    let db = TestDb::new().await;
    let s = db.store();
    s.client_insert(&client("c-d"), None, &ev("client.create", "c-d"))
        .await
        .expect("client");
    s.user_insert(&user("u-d"), &ev("user.create", "u-d"))
        .await
        .expect("user");
    // 6000 sessions: even ones in 10.9.*, odd ones in 10.8.*; every 10th revoked; two
    // sessions per creation second.
    let mut conn = raw(&db.path()).await;
    conn.execute(
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999) \
             INSERT INTO sessions (id, user_id, client_id, sign_in_id, scopes, auth_time, \
               created_at, last_used_at, expires_at, ip, user_agent, revoked_at, revoked_reason) \
             SELECT printf('s%05d', i), 'u-d', 'c-d', NULL, '[\"openid\"]', {T0}, {T0} + i / 2, \
               {T0} + i, {T0} + 100000, \
               CASE WHEN i % 2 = 0 THEN '10.9.' ELSE '10.8.' END || (i % 250) || '.1', 'test', \
               CASE WHEN i % 10 = 0 THEN {T0} + 5 END, CASE WHEN i % 10 = 0 THEN 'test' END \
             FROM n"
        )
        .as_str(),
    )
    .await
    .expect("seed");
    let now = T0 + 10;
    for (state, sort) in [
        (SessionStateFilter::Active, SessionSort::CreatedAt),
        (SessionStateFilter::Any, SessionSort::CreatedAt),
        (SessionStateFilter::Active, SessionSort::LastUsedAt),
        (SessionStateFilter::Revoked, SessionSort::CreatedAt),
    ] {
        let mut want: Vec<(i64, i64, String)> = (0..6000i64)
            .filter(|i| i % 2 == 0)
            .filter(|i| match state {
                SessionStateFilter::Active => i % 10 != 0,
                SessionStateFilter::Revoked => i % 10 == 0,
                _ => true,
            })
            .map(|i| (T0 + i / 2, T0 + i, format!("s{i:05}")))
            .collect();
        match sort {
            SessionSort::CreatedAt => want.sort_by(|a, b| (b.0, &b.2).cmp(&(a.0, &a.2))),
            SessionSort::LastUsedAt => want.sort_by(|a, b| (b.1, &b.2).cmp(&(a.1, &a.2))),
        }
        let want: Vec<String> = want.into_iter().map(|w| w.2).collect();
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .sessions_list(
                    &SessionFilter {
                        ip: Some("10.9.".into()),
                        state,
                        sort,
                        limit: Some(50),
                        after: after.clone(),
                        ..SessionFilter::default()
                    },
                    now,
                )
                .await
                .expect("page");
            let Some(last) = page.last() else { break };
            after = Some(SessionCursor {
                key: match sort {
                    SessionSort::CreatedAt => last.session.created_at,
                    SessionSort::LastUsedAt => last.session.last_used_at,
                },
                id: last.session.id.clone(),
            });
            got.extend(page.iter().map(|p| p.session.id.clone()));
        }
        assert_eq!(got.len(), want.len(), "{state:?} {sort:?}: row count");
        assert!(got == want, "{state:?} {sort:?}: order differs");
    }
}
