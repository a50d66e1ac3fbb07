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
