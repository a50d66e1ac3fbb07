//! `latchkey-store-sqlite`: the Latchkey store on SQLite, the embedded default.
//!
//! Owns: the SQLite schema and its migrations (`migrations/`, the same file names as the
//! PostgreSQL store's), connection setup (WAL, `synchronous`, `busy_timeout`, foreign
//! keys), the write discipline (every write is one `BEGIN IMMEDIATE` transaction on a
//! single writer connection) and the mapping of SQLite failures onto
//! [`StoreError`].
//!
//! Does not own: protocol logic. Whether a code may be redeemed, a refresh token reused
//! within a grace window or a client authenticated is decided by `latchkey-core`; this
//! crate only makes each [`Store`](latchkey_core::store::Store) method atomic and durable
//! as the trait documents it.
//!
//! Cancellation: a request whose client hangs up is a future dropped at any `.await`,
//! and a dropped store call must never leave the writer inside a transaction (every
//! later write would fail). A write is handed to the writer task ([`GroupWriter`]) and
//! runs there to its end, committed or rolled back whole, whatever happens to the
//! caller, who only waits for the answer.
//!
//! Why one writer and a reader pool: SQLite allows one writer at a time. Funnelling
//! every write through one connection means this process never races itself for the
//! write lock, and starting each transaction with `BEGIN IMMEDIATE` takes the lock up
//! front, so a write that first reads cannot be refused with `SQLITE_BUSY` (without
//! waiting out `busy_timeout`) when another process, such as `latchkey admin` on the
//! same file, wrote in between. Reads go to a separate pool and, thanks to WAL, never
//! wait for the writer.
//!
//! Group commit (issue 11 §4): the writer drains the writes queued by concurrent callers
//! into one transaction, a savepoint each, and one `COMMIT`, so N concurrent grants cost
//! one `fsync` and write each shared B-tree page (the tail of the audit log, the expiry
//! indexes) to the WAL once instead of N times. Every caller still hears only after the
//! commit that holds its write: durability (`synchronous=FULL`) is unchanged.

pub mod backup;
mod error;
mod fs;
mod group;
mod store;

pub use group::{ClaimFn, Counters, GroupWriter, DEFAULT_MAX_BATCH};
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::error::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tunables for [`SqliteStore::open_with`]. The defaults are the durable ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `synchronous=NORMAL` instead of `FULL`. Faster, but in WAL mode a commit that was
    /// acknowledged can roll back after a power loss or OS crash (not after a process
    /// crash), and a rolled-back revocation is a revived token. Opt-in only.
    pub synchronous_normal: bool,
    /// Connections in the read pool.
    pub readers: u32,
    /// How long a statement waits for another process's lock before the store reports
    /// `Unavailable` (the caller's 503).
    pub busy_timeout: Duration,
    /// How long a caller waits for a pooled read connection before the store reports
    /// `Unavailable`. (Writes queue for the writer task, which waits up to
    /// `busy_timeout` for another process's lock.)
    pub acquire_timeout: Duration,
    /// How long the change marker reuses its look at the files (two `stat` calls) before
    /// looking again, measured on the store's clock ([`SqliteStore::with_clock`]). Zero
    /// (the default): every marker looks, so another process's commit shows on the very
    /// next read. A server may trade that for fewer system calls on its hot path: a
    /// commit by another process (the admin CLI) then shows within this window, and
    /// this process's own commits still move the marker at once. Keep it well under the
    /// engine's one-second cache bound.
    pub marker_window: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous_normal: false,
            readers: 4,
            busy_timeout: Duration::from_millis(5000),
            acquire_timeout: Duration::from_secs(10),
            marker_window: Duration::ZERO,
        }
    }
}

/// The pragmas in force on one connection, as SQLite reports them (for health checks,
/// startup logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionPragmas {
    /// `wal` when healthy.
    pub journal_mode: String,
    /// 0 = OFF, 1 = NORMAL, 2 = FULL, 3 = EXTRA.
    pub synchronous: i64,
    pub busy_timeout_ms: i64,
    pub foreign_keys: bool,
    pub journal_size_limit: i64,
    /// 2 = MEMORY.
    pub temp_store: i64,
}

/// The SQLite-backed [`Store`](latchkey_core::store::Store). Cheap to clone: clones
/// share the pools.
#[derive(Clone)]
pub struct SqliteStore {
    /// The one writer connection's task: every write, group-committed.
    writer: GroupWriter,
    reader: SqlitePool,
    /// The database and its WAL, whose size and mtime reveal commits by other processes.
    files: Arc<[PathBuf; 2]>,
    /// Bumped after every commit of this process.
    generation: Arc<AtomicU64>,
    /// Bumped after every commit of this process that changed what the read caches hold
    /// (a `publish` write, which also bumps the `cache_generation` row in its
    /// transaction). Part of [`Self::cache_marker`], so this process's own changes show
    /// at once even when the files' mtime is too coarse to tell two commits apart.
    published: Arc<AtomicU64>,
    /// The last look at the `cache_generation` row: (the files' marker it was read
    /// under, the row's value). Reused while the files are unchanged.
    seen_generation: Arc<Mutex<Option<(u64, i64)>>>,
    /// [`SqliteOptions::marker_window`] in milliseconds; 0 = look every time.
    marker_window_ms: i64,
    /// The last look at the files: (clock milliseconds before the look, what it saw).
    /// Shared by clones, so all of a server's handlers reuse one look.
    last_look: Arc<Mutex<Option<(i64, u64)>>>,
    /// Times the marker window; only read when the window is not zero.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("files", &self.files)
            .field("generation", &self.generation)
            .field("published", &self.published)
            .field("marker_window_ms", &self.marker_window_ms)
            .finish_non_exhaustive()
    }
}

const JOURNAL_SIZE_LIMIT: &str = "67108864";

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` with the default, durable
    /// options, and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens with explicit options. Fails if the file cannot be put in WAL mode (e.g. a
    /// read-only directory) or carries a schema newer than this build.
    pub async fn open_with(path: &Path, opts: SqliteOptions) -> Result<SqliteStore, StoreError> {
        if let Err(fstype) = fs::check_local(path) {
            return Err(StoreError::Unavailable(format!(
                "open: the database is on a network filesystem ({fstype}); SQLite's WAL mode \
                 needs a local disk. Use a local path, or PostgreSQL for shared storage"
            )));
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if opts.synchronous_normal {
                SqliteSynchronous::Normal
            } else {
                SqliteSynchronous::Full
            })
            // Applied by sqlx with sqlite3_busy_timeout(), the call behind the pragma.
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true)
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT)
            .pragma("temp_store", "MEMORY");
        // macOS `fsync` does not flush the drive cache; FULL durability needs F_FULLFSYNC
        // there. A no-op on other systems.
        let base = if opts.synchronous_normal {
            base
        } else {
            base.pragma("fullfsync", "ON")
        };

        // The database, its WAL and its shared-memory index hold hashes of live tokens
        // and sealed keys: readable by the owner only, whatever the umask.
        fs::create_private(path).map_err(|e| {
            StoreError::Unavailable(format!("open: cannot create the database file: {e}"))
        })?;
        // Connecting applies the pragmas; the switch of a brand-new file to WAL needs
        // its exclusive lock, and SQLite answers "locked" at once, without the busy
        // handler, while another process (the console and `latchkey serve` started
        // together) is making the same switch. That ends in milliseconds: retry within
        // the busy timeout.
        let mut waited = std::time::Duration::ZERO;
        let mut writer = loop {
            match base.connect().await {
                Ok(c) => break c,
                Err(sqlx::Error::Database(e))
                    if e.message().contains("locked") && waited < opts.busy_timeout =>
                {
                    let pause = std::time::Duration::from_millis(20);
                    tokio::time::sleep(pause).await;
                    waited += pause;
                }
                Err(e) => return Err(error::db("open")(e)),
            }
        };

        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut writer)
            .await
            .map_err(error::db("open"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let _ = writer.close().await;
            return Err(StoreError::Unavailable(format!(
                "open: journal_mode is {mode:?}, not wal (is the file on a network share?)"
            )));
        }

        // Two processes opening a new file at once (the console and `latchkey serve`, a
        // script starting both) both see "not applied" and race to apply the same
        // migration; each runs in a transaction, so the loser changed nothing and, once
        // the winner is done, finds everything applied. Retry for a few seconds.
        let migrator = sqlx::migrate!("./migrations");
        // On a one-connection pool of its own, not on `writer`: sqlx's `run` on a
        // `&mut SqliteConnection` is not `Send` (a higher-ranked `Acquire` bound), and
        // opening a store must be spawnable (the console opens its store in a task).
        let migrations = match SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.clone())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let _ = writer.close().await;
                return Err(error::map("migrate", e));
            }
        };
        let mut attempt = 0;
        loop {
            match migrator.run(&migrations).await {
                Ok(()) => break,
                Err(e)
                    if attempt < 40
                        && !matches!(
                            e,
                            sqlx::migrate::MigrateError::VersionMissing(_)
                                | sqlx::migrate::MigrateError::VersionMismatch(_)
                        ) =>
                {
                    attempt += 1;
                    tracing::debug!(target: "latchkey::store", "migration raced another process ({e}); retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 + 10 * attempt)).await;
                }
                Err(e) => {
                    migrations.close().await;
                    let _ = writer.close().await;
                    return Err(error::map("migrate", e.into()));
                }
            }
        }
        migrations.close().await;

        // Readers refuse writes outright, so a write that slips past the writer pool is
        // a loud bug rather than a deferred transaction racing for the lock.
        let reader = match SqlitePoolOptions::new()
            .max_connections(opts.readers.max(1))
            .min_connections(0)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.pragma("query_only", "ON"))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = writer.close().await;
                return Err(error::map("open", e));
            }
        };

        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        // SQLite creates these with the database file's mode, but one made by an older
        // build (or by hand) may be wider; narrow all three.
        for f in [path.as_os_str(), &wal, &shm] {
            fs::restrict(Path::new(f));
        }
        let counters = Counters::default();
        // The task is not joined: it ends when the last clone of the store is dropped
        // (or at `close`), after writing what was queued.
        let (writer, _task) = GroupWriter::spawn(
            writer,
            counters.clone(),
            DEFAULT_MAX_BATCH,
            store::claim_batch,
        );
        Ok(SqliteStore {
            writer,
            reader,
            files: Arc::new([path.to_path_buf(), PathBuf::from(wal)]),
            generation: counters.generation,
            published: counters.published,
            seen_generation: Arc::new(Mutex::new(None)),
            marker_window_ms: i64::try_from(opts.marker_window.as_millis()).unwrap_or(i64::MAX),
            last_look: Arc::new(Mutex::new(None)),
            clock: Arc::new(SystemClock),
        })
    }

    /// The clock that times [`SqliteOptions::marker_window`] (the system clock unless
    /// set): the server passes the engine's, tests a fixed one.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SqliteStore {
        self.clock = clock;
        self
    }

    /// `PRAGMA integrity_check`: `"ok"` on a healthy file, otherwise the first problem.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.reader)
            .await
            .map_err(error::db("integrity_check"))
    }

    /// The pragmas in force on the writer connection (read inside a write
    /// transaction of its own, which writes nothing).
    pub async fn writer_pragmas(&self) -> Result<ConnectionPragmas, StoreError> {
        self.writer
            .run_op("pragmas", None, |conn| {
                Box::pin(async move {
                    read_pragmas(conn)
                        .await
                        .map(latchkey_store_sql::Finish::Rollback)
                })
            })
            .await
    }

    /// The pragmas in force on a reader connection.
    pub async fn reader_pragmas(&self) -> Result<ConnectionPragmas, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(error::db("pragmas"))?;
        read_pragmas(&mut conn).await
    }

    /// Closes the read pool (waiting for connections in use to be returned) and the
    /// writer (after what was queued is written). SQLite checkpoints the WAL when the
    /// last connection to the file closes.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// See [`Coordination::cache_marker`](latchkey_core::store::Coordination::cache_marker):
    /// moves when a commit by this process or any other changed what the read caches
    /// hold, and not for a grant's bookkeeping (an access-token record, an exchange's
    /// lineage, an audit row), so a server that writes on every request (token
    /// exchange) keeps its caches. The files' marker (two `stat` calls, as
    /// [`Self::change_marker`]) says whether any process committed since the last look;
    /// only then is the `cache_generation` row read, one indexed read on the reader
    /// pool. The files are looked at before the row is read, so a change that lands
    /// between the two moves the files again and the row is read again next time.
    /// `None` (nothing cached) if the row cannot be read.
    pub async fn cache_marker(&self) -> Option<u64> {
        let files = self.files_marker();
        let known = self
            .seen_generation
            .lock()
            .ok()
            .and_then(|seen| seen.filter(|(f, _)| *f == files).map(|(_, n)| n));
        let n = match known {
            Some(n) => n,
            None => {
                let n: i64 = sqlx::query_scalar("SELECT n FROM cache_generation WHERE id = 1")
                    .fetch_one(&self.reader)
                    .await
                    .ok()?;
                if let Ok(mut seen) = self.seen_generation.lock() {
                    *seen = Some((files, n));
                }
                n
            }
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.published.load(Ordering::Acquire).hash(&mut h);
        n.hash(&mut h);
        Some(h.finish())
    }

    /// See [`Store::change_marker`]: this process's commit count, plus size and mtime of
    /// the database and its WAL (every commit by any process appends to the WAL; a
    /// checkpoint rewrites the database). Two `stat` calls, no query; with a
    /// [`SqliteOptions::marker_window`], at most one pair per window. The commit count
    /// is read every time, so this process's commits move the marker at once.
    pub(crate) fn marker(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.generation.load(Ordering::Acquire).hash(&mut h);
        self.files_marker().hash(&mut h);
        h.finish()
    }

    fn files_marker(&self) -> u64 {
        if self.marker_window_ms <= 0 {
            return self.look_at_files();
        }
        // Taken before the look, so the window never outlasts what the look can vouch
        // for; a clock set back (age < 0) looks again.
        let now = self.clock.now_millis();
        if let Ok(last) = self.last_look.lock() {
            if let Some((at, seen)) = *last {
                if (0..self.marker_window_ms).contains(&now.saturating_sub(at)) {
                    return seen;
                }
            }
        }
        let seen = self.look_at_files();
        if let Ok(mut last) = self.last_look.lock() {
            // Keep the newer of two racing looks.
            if last.is_none_or(|(at, _)| at <= now) {
                *last = Some((now, seen));
            }
        }
        seen
    }

    fn look_at_files(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for f in self.files.iter() {
            if let Ok(m) = std::fs::metadata(f) {
                m.len().hash(&mut h);
                if let Ok(t) = m.modified() {
                    t.hash(&mut h);
                }
            }
        }
        h.finish()
    }
}

async fn read_pragmas(conn: &mut sqlx::SqliteConnection) -> Result<ConnectionPragmas, StoreError> {
    async fn one<T>(conn: &mut sqlx::SqliteConnection, sql: &'static str) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> + Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(error::db("pragmas"))
    }
    Ok(ConnectionPragmas {
        journal_mode: one(conn, "PRAGMA journal_mode").await?,
        synchronous: one(conn, "PRAGMA synchronous").await?,
        busy_timeout_ms: one(conn, "PRAGMA busy_timeout").await?,
        foreign_keys: one::<i64>(conn, "PRAGMA foreign_keys").await? != 0,
        journal_size_limit: one(conn, "PRAGMA journal_size_limit").await?,
        temp_store: one(conn, "PRAGMA temp_store").await?,
    })
}
