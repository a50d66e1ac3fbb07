//! PostgreSQL's part of the store: its dialect, its write runner (retries, the
//! generation row and `pg_notify`) and its coordination (the change marker and the
//! leader lock). The statements themselves are `latchkey-store-sql`'s, instantiated
//! here by [`latchkey_store_sql::sql_store!`].
//!
//! Every mutation is one READ COMMITTED transaction from the pool. Single-use objects
//! are spent with one conditional `UPDATE … WHERE <still unspent> … RETURNING`: a
//! second, racing transaction blocks on the first's row lock, re-evaluates the
//! condition against the committed row and updates nothing, so two callers cannot both
//! see "unspent" on any number of nodes. The grant and revocation operations are retried
//! on SQLSTATE 40001/40P01 (a bounded number of times, then `Unavailable`, i.e.
//! `temporarily_unavailable`).
//!
//! Changes the engine's read caches depend on (clients, secrets, scopes, users, keys,
//! revocations, API keys, settings) commit through `PgStore::publish`, which bumps the
//! generation row and notifies the other nodes in the same transaction.

use crate::error::{self, db};
use crate::PgStore;
use latchkey_core::error::StoreError;
use latchkey_core::store::{Coordination, StoreResult};
use latchkey_store_sql::{BoxFuture, Dialect, Finish, Write};
use sqlx::{PgConnection, PgPool, Postgres};

impl Dialect for PgStore {
    fn map_error(op: &'static str, err: sqlx::Error) -> StoreError {
        error::map(op, err)
    }

    /// COLLATE "C": the range is byte-wise whatever the database's collation, as the
    /// (ip COLLATE "C", …) index is.
    fn ip_range_column(_use_index: bool) -> &'static str {
        "s.ip COLLATE \"C\""
    }

    const PROBE_DENSE_IP_PREFIX: bool = false;

    /// Key changes from different nodes queue here, so the "two active keys" check sees
    /// every committed change (READ COMMITTED alone would let two new active keys pass).
    const LOCK_KEYS: Option<(&'static str, i64)> =
        Some(("SELECT pg_advisory_xact_lock($1)", crate::KEYS_LOCK));
}

/// How often a transaction that PostgreSQL rolled back for a serialization failure or
/// a deadlock is run again before the caller gets `Unavailable` (a 503 with
/// `temporarily_unavailable`, never a 500).
const MAX_RETRIES: u32 = 4;

/// Runs `attempt` again on SQLSTATE 40001/40P01, with a short growing pause so the
/// transactions that collided do not collide again in lockstep.
async fn retrying<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if error::is_retry(&e) && tries < MAX_RETRIES => {
                tries += 1;
                let pause = 5 * u64::from(tries) + u64::from(std::process::id() % 7);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
}

impl PgStore {
    /// Where reads go: the one pool (every node reads the primary).
    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The replay store's first use: one retried write of its own (every node's
    /// claims meet in the table's primary key).
    pub(crate) async fn claim(
        &self,
        key: String,
        expires_at: latchkey_core::clock::Timestamp,
    ) -> StoreResult<bool> {
        self.run(Write::new("jti_use").retry(), move |c| {
            Box::pin(async move {
                let won = ops::jti_use_many(c, &[(key, expires_at)]).await?;
                Ok(Finish::Commit(won.first().copied().unwrap_or(false)))
            })
        })
        .await
    }

    /// Runs one write operation in its own transaction: again (a fresh clone of `f`)
    /// after a serialization failure or deadlock when `w.retry`, through
    /// [`Self::publish`] when `w.publish`.
    pub(crate) async fn run<T, F>(&self, w: Write, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut PgConnection) -> BoxFuture<'_, StoreResult<Finish<T>>>
            + Send
            + Clone
            + 'static,
        T: Send + 'static,
    {
        // Store latency for `/metrics`, per operation (a trait method name: bounded).
        let started = std::time::Instant::now();
        let out = if w.retry {
            retrying(|| self.run_once(w, f.clone())).await
        } else {
            self.run_once(w, f).await
        };
        metrics::histogram!("latchkey_store_write_seconds", "op" => w.op)
            .record(started.elapsed().as_secs_f64());
        out
    }

    async fn run_once<T, F>(&self, w: Write, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut PgConnection) -> BoxFuture<'_, StoreResult<Finish<T>>> + Send + 'static,
        T: Send + 'static,
    {
        let mut tx = self.write(w.op).await?;
        match f(&mut tx).await? {
            Finish::Commit(v) => {
                if w.publish {
                    self.publish(tx, w.op).await?;
                } else {
                    tx.commit().await.map_err(db(w.op))?;
                }
                Ok(v)
            }
            Finish::Rollback(v) => {
                // A failed rollback only means the connection is discarded by the pool
                // or rolls back when next used: logged, not returned.
                if let Err(e) = tx.rollback().await {
                    let _ = error::map(w.op, e);
                }
                Ok(v)
            }
        }
    }

    /// Starts a transaction. sqlx 0.8's `begin` is not cancel-safe on PostgreSQL: it
    /// counts the transaction only once the server has answered `BEGIN`, so a future
    /// dropped while waiting (a client that hung up) leaves the session inside a
    /// transaction that nothing rolls back, and the pool hands it to the next caller.
    /// In a spawned task it always runs to the end; if the caller is gone by then, the
    /// task's output (the transaction) is dropped, which rolls it back.
    async fn write(
        &self,
        op: &'static str,
    ) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|e| StoreError::Unavailable(format!("{op}: begin: {e}")))?
            .map_err(db(op))
    }

    /// Commits a change the read caches depend on: bumps the generation row and queues
    /// the notification in the same transaction (PostgreSQL delivers it at commit, and
    /// not at all on rollback), then moves this node's own marker.
    async fn publish(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
        op: &'static str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "WITH g AS (UPDATE cache_generation SET n = n + 1 WHERE id = 1 RETURNING n) \
             SELECT pg_notify($1, n::text) FROM g",
        )
        .bind(crate::CHANNEL)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        tx.commit().await.map_err(db(op))?;
        self.bump();
        Ok(())
    }
}

/// Inherent too, so callers holding a `PgStore` need no trait in scope.
impl PgStore {
    /// See [`Coordination::change_marker`].
    pub fn change_marker(&self) -> Option<u64> {
        Some(self.marker())
    }

    /// See [`Coordination::lead_jobs`]: the leader lock.
    pub async fn lead_jobs(&self) -> StoreResult<bool> {
        self.lead().await
    }
}

#[async_trait::async_trait]
impl Coordination for PgStore {
    fn change_marker(&self) -> Option<u64> {
        PgStore::change_marker(self)
    }

    async fn lead_jobs(&self) -> StoreResult<bool> {
        PgStore::lead_jobs(self).await
    }
}

latchkey_store_sql::sql_store!(crate::PgStore, sqlx::Postgres);
