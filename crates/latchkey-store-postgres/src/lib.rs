//! `latchkey-store-postgres`: the Latchkey store on PostgreSQL, for several stateless
//! `latchkey serve` nodes sharing one database.
//!
//! Owns: the PostgreSQL schema and its migrations (`migrations/`, the same file names
//! as the SQLite store's), running them under an advisory lock so concurrent starts
//! serialise, the mapping of PostgreSQL failures onto [`StoreError`], cross-node cache
//! invalidation (the change marker) and the election of the one node that runs the
//! cluster-wide jobs.
//!
//! Does not own: protocol logic (`latchkey-core` decides; this crate makes each
//! [`Store`](latchkey_core::store::Store) method atomic as the trait documents it),
//! and no process management: the throwaway clusters of the tests live in `tests/`.
//!
//! Consistency across nodes. Every read and write goes to the one primary, so the
//! single-use checks (code redemption, refresh rotation, device codes, replay keys) are
//! conditional `UPDATE … RETURNING` / `INSERT … ON CONFLICT DO NOTHING` statements that
//! are atomic under READ COMMITTED: the second of two racing transactions waits for
//! the first's row lock, re-checks the condition and finds nothing to update. The only
//! copies a node keeps are the engine's short read caches, keyed on
//! [`change_marker`](latchkey_core::store::Store::change_marker). Each change those
//! caches depend on bumps the `cache_generation` row and sends `pg_notify` in its own
//! transaction; every node LISTENs (bumping its local marker on each notification and
//! on every reconnect of the listening connection, since notifications sent while it
//! was down are lost) and polls the row every [`PgOptions::poll_interval`] as the
//! backstop.

mod error;
mod store;

use latchkey_core::error::StoreError;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The channel every node LISTENs on.
pub const CHANNEL: &str = "latchkey_cache";

/// Advisory-lock keys (one 64-bit space per database). Arbitrary but fixed constants:
/// "lk" + purpose.
const MIGRATE_LOCK: i64 = 0x6c6b_0000_0000_0001;
const LEADER_LOCK: i64 = 0x6c6b_0000_0000_0002;
/// Serialises signing-key changes across nodes (transaction-scoped).
pub(crate) const KEYS_LOCK: i64 = 0x6c6b_0000_0000_0003;

/// Tunables for [`PgStore::connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before the store reports
    /// `Unavailable` (the caller's 503).
    pub acquire_timeout: Duration,
    /// Keep caches coherent with other nodes (LISTEN task and generation poll). Off for
    /// one-shot commands such as `latchkey admin`, which cache nothing.
    pub follow_changes: bool,
    /// How often the generation row is polled, the backstop for a lost notification.
    pub poll_interval: Duration,
    /// `application_name` of this process's connections (visible in pg_stat_activity).
    pub application_name: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            follow_changes: true,
            poll_interval: Duration::from_millis(500),
            application_name: "latchkey".into(),
        }
    }
}

/// Aborts the background tasks when the last clone of the store goes.
#[derive(Debug, Default)]
struct Tasks(std::sync::Mutex<Vec<JoinHandle<()>>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        if let Ok(tasks) = self.0.get_mut() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

/// The PostgreSQL-backed [`Store`](latchkey_core::store::Store). Cheap to clone:
/// clones share the pool, the marker and the background tasks.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    connect: PgConnectOptions,
    /// The change marker: bumped by this process's publishing commits, by notifications,
    /// by the poll seeing a new generation and by every LISTEN reconnect.
    marker: Arc<AtomicU64>,
    /// The connection holding the leader lock while this node leads.
    leader: Arc<tokio::sync::Mutex<Option<PgConnection>>>,
    tasks: Arc<Tasks>,
}

/// Parses a `postgres://` URL without echoing it (it may carry a password).
fn parse_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|_| {
        StoreError::Other(
            "the database URL is not a valid postgres:// URL (see the PostgreSQL \
             connection URI format)"
                .into(),
        )
    })
}

/// Whether `s` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The versions and descriptions of the migrations this build carries, in order.
pub fn known_migrations() -> Vec<(i64, String)> {
    sqlx::migrate!("./migrations")
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// Brings the schema at `url` up to date and returns the versions this call applied
/// (empty when it was current). Serialised across processes by an advisory lock held
/// on a connection of its own, so concurrent starts on an empty database run each
/// migration exactly once; refuses a database migrated by a newer build.
pub async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
    let opts = parse_url(url)?;
    migrate_with(&opts).await
}

async fn migrate_with(opts: &PgConnectOptions) -> Result<Vec<i64>, StoreError> {
    const OP: &str = "migrate";
    let mut conn = opts.connect().await.map_err(error::db(OP))?;
    let result = migrate_locked(&mut conn).await;
    // Closing the session releases the advisory lock even if the unlock failed.
    let _ = conn.close().await;
    result
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<Vec<i64>, StoreError> {
    const OP: &str = "migrate";
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(error::db(OP))?;
    let before = applied_versions(conn).await?;
    let migrator = sqlx::migrate!("./migrations");
    let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    if let Some(v) = before.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::Corrupt(format!(
            "{OP}: the database has migration {v}, which this build does not know; it was \
             migrated by a newer Latchkey"
        )));
    }
    // run_direct on the connection that holds the lock (sqlx takes its own advisory
    // lock too; both are session locks on this connection). `run` with `&mut conn`
    // would make this future not `Send`.
    migrator
        .run_direct(&mut *conn)
        .await
        .map_err(|e| error::migrate(OP, e))?;
    let after = applied_versions(conn).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(error::db(OP))?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Versions recorded by sqlx's migrator; none before the first run.
/// The migrations [`migrate`] would apply at `url`, applying none (`latchkey migrate
/// --dry-run`); refuses a database migrated by a newer build as `migrate` does.
pub async fn pending_migrations(url: &str) -> Result<Vec<(i64, String)>, StoreError> {
    const OP: &str = "migrate";
    let mut conn = parse_url(url)?.connect().await.map_err(error::db(OP))?;
    let applied = applied_versions(&mut conn).await;
    let _ = conn.close().await;
    let applied = applied?;
    let known = known_migrations();
    if let Some(v) = applied.iter().find(|v| !known.iter().any(|(k, _)| k == *v)) {
        return Err(StoreError::Corrupt(format!(
            "{OP}: the database has migration {v}, which this build does not know; it was \
             migrated by a newer Latchkey"
        )));
    }
    Ok(known
        .into_iter()
        .filter(|(v, _)| !applied.contains(v))
        .collect())
}

async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, StoreError> {
    const OP: &str = "migrate";
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(error::db(OP))?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(error::db(OP))
}

impl PgStore {
    /// Connects with the default options and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Connects, migrates (under the advisory lock) and, with `follow_changes`, starts
    /// the LISTEN task and the generation poll. Must run inside a tokio runtime.
    pub async fn connect_with(url: &str, opts: PgOptions) -> Result<PgStore, StoreError> {
        let connect = parse_url(url)?
            .application_name(&opts.application_name)
            // Statement logging at INFO would flood the log under load.
            .log_statements(tracing::log::LevelFilter::Trace);
        migrate_with(&connect).await?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(opts.acquire_timeout)
            // A connection still counted inside a transaction when it comes back (or
            // goes out) is closed rather than reused; the server rolls its work back.
            .after_release(|conn, _| Box::pin(async move { Ok(out_of_transaction(conn)) }))
            .before_acquire(|conn, _| Box::pin(async move { Ok(out_of_transaction(conn)) }))
            .connect_with(connect.clone())
            .await
            .map_err(error::db("open"))?;
        let store = PgStore {
            pool,
            connect,
            marker: Arc::new(AtomicU64::new(0)),
            leader: Arc::new(tokio::sync::Mutex::new(None)),
            tasks: Arc::new(Tasks::default()),
        };
        if opts.follow_changes {
            let listen = tokio::spawn(listen_task(store.pool.clone(), store.marker.clone()));
            let poll = tokio::spawn(poll_task(
                store.pool.clone(),
                store.marker.clone(),
                opts.poll_interval,
            ));
            if let Ok(mut t) = store.tasks.0.lock() {
                t.push(listen);
                t.push(poll);
            }
        }
        Ok(store)
    }

    /// The pool, for tests and tools that need a raw connection.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stops the background tasks, gives up leadership and closes the pool.
    pub async fn close(&self) {
        if let Ok(mut t) = self.tasks.0.lock() {
            for h in t.drain(..) {
                h.abort();
            }
        }
        if let Some(conn) = self.leader.lock().await.take() {
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }

    pub(crate) fn bump(&self) {
        self.marker.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn marker(&self) -> u64 {
        self.marker.load(Ordering::Acquire)
    }

    /// Whether this node holds the leader lock, taking it if it is free. The lock is a
    /// session-level advisory lock on a dedicated connection: it is released when that
    /// connection ends, so a node that dies or loses its connection hands over to the
    /// next node that asks.
    pub(crate) async fn lead(&self) -> Result<bool, StoreError> {
        const OP: &str = "lead_jobs";
        let mut held = self.leader.lock().await;
        if let Some(conn) = held.as_mut() {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            // The session is gone and the lock with it; another node may have it now.
            *held = None;
        }
        let mut conn = self.connect.connect().await.map_err(error::db(OP))?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(error::db(OP))?;
        if got {
            *held = Some(conn);
        } else {
            let _ = conn.close().await;
        }
        Ok(got)
    }
}

/// Whether a pooled connection is clean. A dropped `Transaction` queues its `ROLLBACK`
/// and lowers the depth at once, so a non-zero depth here means one was lost.
fn out_of_transaction(conn: &mut PgConnection) -> bool {
    use sqlx::TransactionManager;
    let clean = sqlx::postgres::PgTransactionManager::get_transaction_depth(conn) == 0;
    if !clean {
        tracing::warn!(target: "latchkey::store", "a connection was left inside a transaction; discarding it");
    }
    clean
}

/// LISTENs for change notifications. `try_recv` reports a lost connection as
/// `Ok(None)` and reconnects (and re-LISTENs) on the next call; whatever was sent in
/// between is lost, so every reconnect flushes the caches by bumping the marker.
async fn listen_task(pool: PgPool, marker: Arc<AtomicU64>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(target: "latchkey::store", error = %e, "LISTEN connection failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(target: "latchkey::store", error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        marker.fetch_add(1, Ordering::AcqRel);
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {
                    marker.fetch_add(1, Ordering::AcqRel);
                }
                Ok(None) => {
                    tracing::warn!(target: "latchkey::store", "LISTEN connection lost; reconnecting and flushing caches");
                    marker.fetch_add(1, Ordering::AcqRel);
                }
                Err(e) => {
                    tracing::warn!(target: "latchkey::store", error = %e, "LISTEN failed; reconnecting and flushing caches");
                    marker.fetch_add(1, Ordering::AcqRel);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
    }
}

/// The backstop: a notification can be lost (listener down, reconnect race); the
/// generation row cannot.
async fn poll_task(pool: PgPool, marker: Arc<AtomicU64>, every: Duration) {
    let mut last: Option<i64> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sqlx::query_scalar::<_, i64>("SELECT n FROM cache_generation WHERE id = 1")
            .fetch_one(&pool)
            .await
        {
            Ok(n) => {
                if last != Some(n) {
                    if last.is_some() {
                        marker.fetch_add(1, Ordering::AcqRel);
                    }
                    last = Some(n);
                }
            }
            Err(e) => {
                // Unknown state: nothing cached may be trusted until reads work again.
                marker.fetch_add(1, Ordering::AcqRel);
                tracing::debug!(target: "latchkey::store", error = %e, "generation poll failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_migration_files_have_the_same_names_as_the_sqlite_stores() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let pg = names(&here.join("migrations"));
        let sqlite = names(&here.join("../latchkey-store-sqlite/migrations"));
        assert!(!pg.is_empty());
        assert_eq!(pg, sqlite);
    }

    #[test]
    fn the_embedded_migrations_are_the_files_in_order() {
        let v: Vec<i64> = super::known_migrations().iter().map(|m| m.0).collect();
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(v, sorted);
        assert_eq!(v.first(), Some(&1));
    }

    #[test]
    fn only_postgres_urls_are_taken_for_urls() {
        assert!(super::is_postgres_url("postgres://u@h/db"));
        assert!(super::is_postgres_url("postgresql://h/db"));
        assert!(!super::is_postgres_url("./latchkey.db"));
        assert!(!super::is_postgres_url("/var/lib/postgres.db"));
    }
}
