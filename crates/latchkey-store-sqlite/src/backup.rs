//! Backups, restores and schema checks of a SQLite store file (issue 16).
//!
//! Owns: a consistent copy of a live database (`VACUUM INTO`, a read transaction on
//! one snapshot: writers carry on, and the copy is a single rollback-journal file with
//! nothing in a `-wal` to lose), the checks a file must pass before it replaces a
//! store (`integrity_check`, a Latchkey schema this build can open), the in-use probe
//! and the atomic installation (beside, fsync, rename, stale `-wal`/`-shm` removed);
//! and which migrations a file has and would get (`latchkey migrate --dry-run`).
//!
//! Does not own: the key-encryption key. A backup holds the signing keys sealed under
//! it, secrets and tokens as hashes; without the KEK the keys in it cannot be used, so
//! the caller tells the administrator where the KEK is.
//!
//! Why not a file copy: in WAL mode the newest commits live in `-wal` until a
//! checkpoint, and copying the two files while a server writes gives a torn pair.

use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What can go wrong with a backup or a restore. Messages name files and migration
/// versions, never row contents.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name (a backup never overwrites a file)")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error(
        "{0} is in use by another process (a running `latchkey serve`, the desktop console \
         or `latchkey admin`); stop it first, then restore"
    )]
    InUse(PathBuf),
    #[error("{0} is not a Latchkey database: {1}")]
    NotLatchkey(PathBuf, String),
    #[error(
        "{path} was written by a newer Latchkey (it has migration {version}, which this \
         build does not know); use that release or a newer one"
    )]
    Newer { path: PathBuf, version: i64 },
    #[error("{path} has migration {version} with a different checksum than this build's (edited history?)")]
    Mismatch { path: PathBuf, version: i64 },
    #[error("{0} failed the integrity check: {1}")]
    Integrity(PathBuf, String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path}: {message}")]
    Sqlite {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io { what, path, source }
}

fn sql(what: &'static str, path: &Path) -> impl FnOnce(sqlx::Error) -> BackupError {
    let path = path.to_path_buf();
    // sqlx's message names SQLite's error, never bound values or row contents.
    move |e| BackupError::Sqlite {
        what,
        path,
        message: e.to_string(),
    }
}

/// The migrations this build carries: (version, description), in order.
pub fn known_migrations() -> Vec<(i64, String)> {
    sqlx::migrate!("./migrations")
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// Where a database file stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Versions recorded in the file, in order (empty: a new file).
    pub applied: Vec<i64>,
    /// This build's migrations the file lacks: what opening it would run.
    pub pending: Vec<(i64, String)>,
}

/// Opens an existing file without creating, migrating or changing its journal mode.
async fn open_plain(path: &Path, busy: Duration) -> Result<SqliteConnection> {
    if !path.exists() {
        return Err(BackupError::Missing(path.to_path_buf()));
    }
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(busy)
        .connect()
        .await
        .map_err(sql("cannot open", path))
}

/// Reads `_sqlx_migrations` and compares it with this build's list: a version this
/// build does not know (a newer release's) or a changed checksum is an error.
async fn schema_of(conn: &mut SqliteConnection, path: &Path) -> Result<SchemaStatus> {
    let has_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(sql("cannot read", path))?;
    let rows: Vec<(i64, Vec<u8>, bool)> = if has_table == 1 {
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("cannot read", path))?
    } else {
        Vec::new()
    };
    let migrator = sqlx::migrate!("./migrations");
    for (version, checksum, success) in &rows {
        match migrator.iter().find(|m| m.version == *version) {
            None => {
                return Err(BackupError::Newer {
                    path: path.to_path_buf(),
                    version: *version,
                })
            }
            Some(m) if m.checksum.as_ref() != checksum.as_slice() || !success => {
                return Err(BackupError::Mismatch {
                    path: path.to_path_buf(),
                    version: *version,
                })
            }
            Some(_) => {}
        }
    }
    let applied: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let pending = migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    Ok(SchemaStatus { applied, pending })
}

/// Which migrations opening `path` would run, changing nothing (`latchkey migrate
/// --dry-run`). A missing file would get every migration.
pub async fn schema_status(path: &Path) -> Result<SchemaStatus> {
    if !path.exists() {
        return Ok(SchemaStatus {
            applied: Vec::new(),
            pending: known_migrations(),
        });
    }
    let mut conn = open_plain(path, Duration::from_secs(5)).await?;
    let status = schema_of(&mut conn, path).await;
    let _ = conn.close().await;
    status
}

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    /// The newest migration in the copy.
    pub schema_version: i64,
}

fn create_private_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Makes a rename durable: the directory entry, not only the file, must reach the disk.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()
}

/// `dir/.name.suffix`: beside the target (one filesystem, so the rename is atomic),
/// hidden, and never mistaken for a finished file.
fn beside(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "latchkey.db".into());
    target.with_file_name(format!(".{name}.{suffix}"))
}

fn sidecars(db: &Path) -> [PathBuf; 3] {
    let with = |s: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        PathBuf::from(p)
    };
    [with("-wal"), with("-shm"), with("-journal")]
}

/// A consistent copy of the database at `db` in `to` (mode 0600, created new), while
/// other processes keep reading and writing it. The copy is written beside `to` and
/// renamed into place once it is on disk, so `to` is either absent or complete.
pub async fn backup(db: &Path, to: &Path) -> Result<BackupReport> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let mut conn = open_plain(db, Duration::from_secs(5)).await?;
    // Refuses a file that is not ours, or is a newer release's, before copying it.
    let status = schema_of(&mut conn, db).await;
    let status = match status {
        Ok(s) if s.applied.is_empty() => Err(BackupError::NotLatchkey(
            db.to_path_buf(),
            "it has no Latchkey schema".into(),
        )),
        other => other,
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let _ = conn.close().await;
            return Err(e);
        }
    };
    let tmp = beside(to, "partial");
    let _ = std::fs::remove_file(&tmp);
    // SQLite writes into an existing empty file and keeps its mode: the copy is never
    // readable by others, whatever the umask.
    if let Err(e) = create_private_new(&tmp) {
        let _ = conn.close().await;
        return Err(io("cannot create", &tmp)(e));
    }
    let done = sqlx::query("VACUUM INTO $1")
        .bind(tmp.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(sql("cannot back up", db));
    let _ = conn.close().await;
    let finished = done.and_then(|_| {
        sync_file(&tmp).map_err(io("cannot sync", &tmp))?;
        if to.exists() {
            return Err(BackupError::Exists(to.to_path_buf()));
        }
        std::fs::rename(&tmp, to).map_err(io("cannot rename into", to))?;
        sync_dir(to).map_err(io("cannot sync the directory of", to))
    });
    if let Err(e) = finished {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        file: to.to_path_buf(),
        bytes,
        schema_version: status.applied.last().copied().unwrap_or(0),
    })
}

impl crate::SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.files[0]
    }

    /// [`backup`] of this store's file, while it serves.
    pub async fn backup_to(&self, to: &Path) -> Result<BackupReport> {
        backup(self.path(), to).await
    }
}

/// What a backup file is, once it passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupCheck {
    pub schema: SchemaStatus,
}

/// The checks a file passes before it may replace a store: SQLite's `integrity_check`
/// says ok, it holds Latchkey's tables, and its migrations are all this build's (it
/// may lack later ones, which the next open applies). Reads only.
pub async fn check(file: &Path) -> Result<BackupCheck> {
    let mut conn = match open_plain(file, Duration::from_secs(5)).await {
        Ok(c) => c,
        // "file is not a database", found by the connection's first pragma.
        Err(BackupError::Sqlite { message, .. }) => {
            return Err(BackupError::NotLatchkey(file.to_path_buf(), message))
        }
        Err(e) => return Err(e),
    };
    let result = check_conn(&mut conn, file).await;
    let _ = conn.close().await;
    result
}

async fn check_conn(conn: &mut SqliteConnection, file: &Path) -> Result<BackupCheck> {
    let verdict: String = match sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut *conn)
        .await
    {
        Ok(v) => v,
        // "file is not a database" and friends.
        Err(e) => return Err(BackupError::NotLatchkey(file.to_path_buf(), e.to_string())),
    };
    if verdict != "ok" {
        return Err(BackupError::Integrity(file.to_path_buf(), verdict));
    }
    let schema = schema_of(conn, file).await?;
    if schema.applied.first() != Some(&1) {
        return Err(BackupError::NotLatchkey(
            file.to_path_buf(),
            "it has no Latchkey schema".into(),
        ));
    }
    for table in ["clients", "signing_keys", "sessions", "audit_events"] {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        )
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .map_err(sql("cannot read", file))?;
        if n != 1 {
            return Err(BackupError::NotLatchkey(
                file.to_path_buf(),
                format!("table {table} is missing"),
            ));
        }
    }
    Ok(BackupCheck { schema })
}

/// Holds the database's write lock in exclusive locking mode, or says it is in use.
///
/// Every process with the file open in WAL mode (a server's idle pools included) holds
/// a shared lock on it, so with no busy wait this fails at once while anyone has it
/// open, and no one can open it while this is held.
async fn lock_exclusively(db: &Path) -> Result<SqliteConnection> {
    let busy = |e: &sqlx::Error| {
        e.as_database_error()
            .and_then(|d| d.code())
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6))
    };
    let conn = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .locking_mode(SqliteLockingMode::Exclusive)
        .busy_timeout(Duration::ZERO)
        .connect()
        .await;
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) if busy(&e) => return Err(BackupError::InUse(db.to_path_buf())),
        Err(e) => return Err(sql("cannot open", db)(e)),
    };
    // Reading the schema takes the lock (shared, then held); a write takes it exclusive.
    match sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await {
        Ok(_) => {}
        Err(e) => {
            let _ = conn.close().await;
            return Err(if busy(&e) {
                BackupError::InUse(db.to_path_buf())
            } else {
                sql("cannot lock", db)(e)
            });
        }
    }
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    Ok(conn)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub db: PathBuf,
    /// Where the database that was there before now is (kept, never deleted).
    pub previous: Option<PathBuf>,
    pub schema: SchemaStatus,
}

/// Replaces (or creates) the database at `db` with the backup `from`, after checking
/// it ([`check`]), unless another process has `db` open. The copy is written beside
/// `db`, synced, and renamed over it; the database that was there is kept beside it
/// (`.NAME.before-restore-SECONDS`), its stale `-wal`/`-shm` removed so SQLite cannot
/// replay an old log into the restored file.
pub async fn restore(from: &Path, db: &Path, stamp: i64) -> Result<RestoreReport> {
    if !from.exists() {
        return Err(BackupError::Missing(from.to_path_buf()));
    }
    // Refuse early, before copying anything; checked again right before the swap.
    if db.exists() {
        let _ = lock_exclusively(db).await?.close().await;
    }
    let tmp = beside(db, "restoring");
    let _ = std::fs::remove_file(&tmp);
    for s in sidecars(&tmp) {
        let _ = std::fs::remove_file(s);
    }
    // The copy, not the backup, is checked: what is checked is what gets installed,
    // and the backup file is never opened for writing.
    let copied = (|| {
        let mut src = std::fs::File::open(from).map_err(io("cannot read", from))?;
        let mut dst = create_private_new(&tmp).map_err(io("cannot create", &tmp))?;
        std::io::copy(&mut src, &mut dst).map_err(io("cannot write", &tmp))?;
        dst.sync_all().map_err(io("cannot sync", &tmp))
    })();
    let cleanup = |tmp: &Path| {
        let _ = std::fs::remove_file(tmp);
        for s in sidecars(tmp) {
            let _ = std::fs::remove_file(s);
        }
    };
    if let Err(e) = copied {
        cleanup(&tmp);
        return Err(e);
    }
    let checked = match check(&tmp).await {
        Ok(c) => c,
        Err(e) => {
            cleanup(&tmp);
            // Name the file the administrator gave, not the hidden copy.
            return Err(rename_in_error(e, &tmp, from));
        }
    };
    let mut previous = None;
    if db.exists() {
        let lock = match lock_exclusively(db).await {
            Ok(l) => l,
            Err(e) => {
                cleanup(&tmp);
                return Err(e);
            }
        };
        // Closing the last connection checkpoints the old WAL into the old file, so the
        // copy kept aside is whole on its own. A hard link keeps it without a moment in
        // which `db` is missing (a server started then would create an empty one).
        let _ = lock.close().await;
        let aside = beside(db, &format!("before-restore-{stamp}"));
        let kept =
            std::fs::hard_link(db, &aside).or_else(|_| std::fs::copy(db, &aside).map(|_| ()));
        if let Err(e) = kept {
            cleanup(&tmp);
            return Err(io("cannot keep a copy of", db)(e));
        }
        previous = Some(aside);
    }
    for s in sidecars(db) {
        match std::fs::remove_file(&s) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                cleanup(&tmp);
                return Err(io("cannot remove the stale", &s)(e));
            }
        }
    }
    if let Err(e) = std::fs::rename(&tmp, db) {
        cleanup(&tmp);
        return Err(io("cannot rename into", db)(e));
    }
    sync_dir(db).map_err(io("cannot sync the directory of", db))?;
    Ok(RestoreReport {
        db: db.to_path_buf(),
        previous,
        schema: checked.schema,
    })
}

fn rename_in_error(e: BackupError, tmp: &Path, from: &Path) -> BackupError {
    let fix = |p: PathBuf| if p == tmp { from.to_path_buf() } else { p };
    match e {
        BackupError::NotLatchkey(p, m) => BackupError::NotLatchkey(fix(p), m),
        BackupError::Newer { path, version } => BackupError::Newer {
            path: fix(path),
            version,
        },
        BackupError::Mismatch { path, version } => BackupError::Mismatch {
            path: fix(path),
            version,
        },
        BackupError::Integrity(p, m) => BackupError::Integrity(fix(p), m),
        BackupError::Sqlite {
            what,
            path,
            message,
        } => BackupError::Sqlite {
            what,
            path: fix(path),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    async fn store_with_meta(path: &Path, value: &str) -> SqliteStore {
        let s = SqliteStore::open(path).await.expect("open");
        s.meta_set("backup.test", value).await.expect("meta");
        s
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_backup_of_an_open_store_is_a_private_complete_file_that_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("a.db");
        let s = store_with_meta(&db, "one").await;
        let to = dir.path().join("a.backup");
        let r = s.backup_to(&to).await.expect("backup");
        assert_eq!(
            r.schema_version,
            known_migrations().last().map(|m| m.0).unwrap_or(0)
        );
        #[cfg(unix)]
        assert_eq!(mode(&to), 0o600);
        // A single file: nothing of it lives in a -wal beside it.
        for side in sidecars(&to) {
            assert!(!side.exists(), "{}", side.display());
        }
        assert!(matches!(
            s.backup_to(&to).await,
            Err(BackupError::Exists(_))
        ));
        s.close().await;
        let checked = check(&to).await.expect("check");
        assert!(checked.schema.pending.is_empty());
        let copy = SqliteStore::open(&to).await.expect("open the copy");
        assert_eq!(
            copy.meta_get("backup.test").await.expect("meta").as_deref(),
            Some("one")
        );
        copy.close().await;
    }

    #[tokio::test]
    async fn a_restore_over_a_database_in_use_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("live.db");
        let s = store_with_meta(&db, "live").await;
        let backup_file = dir.path().join("b.db");
        s.backup_to(&backup_file).await.expect("backup");
        s.meta_set("backup.test", "after").await.expect("meta");
        let e = restore(&backup_file, &db, 1).await.expect_err("in use");
        assert!(matches!(e, BackupError::InUse(_)), "{e}");
        assert!(e.to_string().contains("in use"), "{e}");
        assert_eq!(
            s.meta_get("backup.test").await.expect("meta").as_deref(),
            Some("after")
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        s.close().await;
    }

    #[tokio::test]
    async fn a_restore_replaces_a_stopped_database_and_keeps_the_old_one_aside() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("live.db");
        let s = store_with_meta(&db, "backed-up").await;
        let backup_file = dir.path().join("b.db");
        s.backup_to(&backup_file).await.expect("backup");
        s.meta_set("backup.test", "later").await.expect("meta");
        s.close().await;
        let r = restore(&backup_file, &db, 42).await.expect("restore");
        let aside = r.previous.expect("the old database is kept");
        assert!(
            aside.ends_with(".live.db.before-restore-42"),
            "{}",
            aside.display()
        );
        #[cfg(unix)]
        assert_eq!(mode(&db), 0o600);
        let back = SqliteStore::open(&db).await.expect("open restored");
        assert_eq!(back.integrity_check().await.expect("check"), "ok");
        assert_eq!(
            back.meta_get("backup.test").await.expect("meta").as_deref(),
            Some("backed-up")
        );
        back.close().await;
        let old = SqliteStore::open(&aside).await.expect("open the old one");
        assert_eq!(
            old.meta_get("backup.test").await.expect("meta").as_deref(),
            Some("later")
        );
        old.close().await;
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_latchkey_database_or_is_from_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("target.db");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database at all, just some bytes").expect("write");
        let e = restore(&junk, &db, 1).await.expect_err("junk");
        assert!(matches!(e, BackupError::NotLatchkey(..)), "{e}");
        assert!(!db.exists(), "nothing installed");

        let other = dir.path().join("other.db");
        let conn = SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true)
            .connect()
            .await;
        let mut conn = conn.expect("sqlite");
        sqlx::query("CREATE TABLE notes (x TEXT)")
            .execute(&mut conn)
            .await
            .expect("create");
        let _ = conn.close().await;
        let e = restore(&other, &db, 1).await.expect_err("not ours");
        assert!(e.to_string().contains("not a Latchkey database"), "{e}");

        let newer = dir.path().join("newer.db");
        store_with_meta(&newer, "x").await.close().await;
        let mut conn = open_plain(&newer, Duration::from_secs(1))
            .await
            .expect("open");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .expect("insert");
        let _ = conn.close().await;
        let e = restore(&newer, &db, 1).await.expect_err("newer");
        assert!(e.to_string().contains("newer Latchkey"), "{e}");
        assert!(e.to_string().contains(&newer.display().to_string()), "{e}");
        assert!(!db.exists());
        let e = SqliteStore::open(&newer)
            .await
            .expect_err("open refuses it too");
        assert!(e.to_string().contains("newer Latchkey"), "{e}");
    }

    #[tokio::test]
    async fn the_dry_run_lists_what_a_new_or_current_file_would_get() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("new.db");
        let s = schema_status(&db).await.expect("status");
        assert_eq!(s.pending, known_migrations());
        assert!(!db.exists(), "the dry run creates nothing");
        SqliteStore::open(&db).await.expect("open").close().await;
        let s = schema_status(&db).await.expect("status");
        assert!(s.pending.is_empty());
        assert_eq!(s.applied.len(), known_migrations().len());
    }
}
