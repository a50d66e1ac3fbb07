//! SQLite's part of the store: its dialect, its write runner and its coordination. The
//! statements themselves are `latchkey-store-sql`'s, instantiated here by
//! [`latchkey_store_sql::sql_store!`].
//!
//! Every mutation runs on the writer task ([`crate::GroupWriter`]): inside a
//! `BEGIN IMMEDIATE` transaction it shares with the writes queued beside it, in a
//! savepoint of its own; reads use the reader pool. On SQLite the single writer
//! serialises the conditional `UPDATE … RETURNING` statements that spend single-use
//! objects.

use crate::error;
use crate::SqliteStore;
use latchkey_core::store::{Coordination, StoreResult};
use latchkey_store_sql::{BoxFuture, Dialect, Finish, Write};
use sqlx::{SqliteConnection, SqlitePool};

impl Dialect for SqliteStore {
    fn map_error(op: &'static str, err: sqlx::Error) -> latchkey_core::error::StoreError {
        error::map(op, err)
    }

    /// `+s.ip` keeps SQLite from using the (ip, …) index for the range, so the planner
    /// walks the list order's index instead (for dense prefixes).
    fn ip_range_column(use_index: bool) -> &'static str {
        if use_index {
            "s.ip"
        } else {
            "+s.ip"
        }
    }

    const PROBE_DENSE_IP_PREFIX: bool = true;

    /// The single writer connection already serialises key changes.
    const LOCK_KEYS: Option<(&'static str, i64)> = None;
}

impl SqliteStore {
    /// Where reads go: the read-only pool, which WAL lets read beside the writer.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The replay store's first use, gathered by the writer with the claims queued
    /// beside it into one statement of its next commit.
    pub(crate) async fn claim(
        &self,
        key: String,
        expires_at: latchkey_core::clock::Timestamp,
    ) -> StoreResult<bool> {
        let started = std::time::Instant::now();
        let out = self.writer.claim(key, expires_at).await;
        metrics::histogram!("latchkey_store_write_seconds", "op" => "jti_use")
            .record(started.elapsed().as_secs_f64());
        out
    }

    /// Runs one write operation on the writer task (group commit: see
    /// [`crate::GroupWriter`]), which commits it (moving this process's change marker,
    /// and for a `publish` write the `cache_generation` row in the same transaction) or
    /// rolls it back as the operation says, and answers after the commit. Dropped at
    /// any `.await`, the caller only stops waiting: the operation still runs to its end
    /// and commits or rolls back whole.
    pub(crate) async fn run<T, F>(&self, w: Write, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>>
            + Clone
            + Send
            + 'static,
        T: Send + 'static,
    {
        // Store latency for `/metrics`, per operation (a trait method name: bounded).
        let started = std::time::Instant::now();
        let out = self.run_timed(w, f).await;
        metrics::histogram!("latchkey_store_write_seconds", "op" => w.op)
            .record(started.elapsed().as_secs_f64());
        out
    }

    async fn run_timed<T, F>(&self, w: Write, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>>
            + Clone
            + Send
            + 'static,
        T: Send + 'static,
    {
        // Another process sees the new generation exactly when it can see the change
        // (see `cache_marker`).
        let publish = w
            .publish
            .then_some("UPDATE cache_generation SET n = n + 1 WHERE id = 1");
        self.writer.run_op_again(w.op, publish, f).await
    }
}

/// Inherent too, so callers holding a `SqliteStore` need no trait in scope.
impl SqliteStore {
    /// See [`Coordination::change_marker`].
    pub fn change_marker(&self) -> Option<u64> {
        Some(self.marker())
    }

    /// See [`Coordination::lead_jobs`]: a SQLite file has one server, which always leads.
    pub async fn lead_jobs(&self) -> StoreResult<bool> {
        Ok(true)
    }
}

#[async_trait::async_trait]
impl Coordination for SqliteStore {
    fn change_marker(&self) -> Option<u64> {
        SqliteStore::change_marker(self)
    }

    async fn cache_marker(&self) -> Option<u64> {
        SqliteStore::cache_marker(self).await
    }

    async fn lead_jobs(&self) -> StoreResult<bool> {
        SqliteStore::lead_jobs(self).await
    }
}

latchkey_store_sql::sql_store!(crate::SqliteStore, sqlx::Sqlite);

/// The writer's [`crate::group::ClaimFn`]: the shared statement for first uses.
pub(crate) fn claim_batch(
    conn: &mut SqliteConnection,
    claims: Vec<(String, i64)>,
) -> BoxFuture<'_, StoreResult<Vec<bool>>> {
    Box::pin(async move { ops::jti_use_many(conn, &claims).await })
}
