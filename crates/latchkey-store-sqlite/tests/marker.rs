//! The change marker's window (`SqliteOptions::marker_window`): another process's commit
//! shows once the window has passed on the store's clock, this process's own commits at
//! once, and without a window on the very next look. Time is a `FixedClock`: no sleeps.

use latchkey_core::clock::FixedClock;
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, SqliteConnection};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A commit by another process (the admin CLI), on a plain connection of its own.
async fn commit_elsewhere(path: &Path, key: &str) {
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection");
    conn.execute(sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'x')").bind(key))
        .await
        .expect("write from another process");
    conn.close().await.expect("close");
}

async fn open(path: &Path, window_ms: u64, clock: &FixedClock) -> SqliteStore {
    SqliteStore::open_with(
        path,
        SqliteOptions {
            marker_window: Duration::from_millis(window_ms),
            ..SqliteOptions::default()
        },
    )
    .await
    .expect("open")
    .with_clock(Arc::new(clock.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_s_commit_moves_the_marker_once_the_window_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let store = open(&path, 250, &clock).await;

    let before = store.change_marker();
    commit_elsewhere(&path, "a").await;
    clock.advance_millis(249);
    assert_eq!(
        store.change_marker(),
        before,
        "inside the window the last look at the files is reused"
    );
    clock.advance_millis(1);
    let after = store.change_marker();
    assert_ne!(after, before, "the window is over: the commit shows");
    assert_eq!(store.change_marker(), after, "and nothing else changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_process_s_commit_moves_the_marker_at_once_inside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let store = open(&path, 250, &clock).await;

    let before = store.change_marker();
    store.meta_set("k", "v").await.expect("write");
    assert_ne!(store.change_marker(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_window_another_process_s_commit_shows_on_the_next_look() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let store = open(&path, 0, &clock).await;

    let before = store.change_marker();
    commit_elsewhere(&path, "a").await;
    assert_ne!(
        store.change_marker(),
        before,
        "the clock did not move at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_set_back_looks_at_the_files_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let store = open(&path, 250, &clock).await;

    let before = store.change_marker();
    commit_elsewhere(&path, "a").await;
    clock.advance_millis(-1);
    assert_ne!(
        store.change_marker(),
        before,
        "a look from the future is not trusted"
    );
}

// --- the read caches' marker (`cache_marker`) ---------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_caches_do_not_hold_leaves_the_cache_marker_where_it_was() {
    // A token exchange records its lineage, access-token record and audit row on every
    // request; none of it is cached, so the caches must survive it (issue 13's bench).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let store = open(&path, 0, &clock).await;

    let before = store.cache_marker().await.expect("a marker");
    let changed = store.change_marker();
    store.meta_set("bookkeeping", "1").await.expect("write");
    assert_ne!(store.change_marker(), changed, "the files did change");
    assert_eq!(
        store.cache_marker().await,
        Some(before),
        "but nothing a cache holds did"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_this_process_moves_the_cache_marker_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    // Even inside a marker window: this process's own changes are never late.
    let store = open(&path, 250, &clock).await;

    let before = store.cache_marker().await.expect("a marker");
    store
        .access_token_revoke("some-jti", 1_700_000_600)
        .await
        .expect("revoke");
    assert_ne!(store.cache_marker().await, Some(before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_another_process_moves_the_cache_marker_on_the_next_look_and_its_bookkeeping_does_not(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.db");
    let clock = FixedClock::new(1_700_000_000);
    let server = open(&path, 0, &clock).await;
    // The admin CLI: another store on the same file, as `latchkey admin --db` opens it.
    let cli = open(&path, 0, &clock).await;

    let before = server.cache_marker().await.expect("a marker");
    cli.meta_set("bookkeeping", "1").await.expect("write");
    assert_eq!(
        server.cache_marker().await,
        Some(before),
        "another process's bookkeeping leaves the caches"
    );
    cli.access_token_revoke("some-jti", 1_700_000_600)
        .await
        .expect("revoke");
    let after = server.cache_marker().await.expect("a marker");
    assert_ne!(
        after, before,
        "the clock did not move: the revocation shows at once"
    );
    assert_eq!(
        server.cache_marker().await,
        Some(after),
        "and nothing else changed"
    );
}
