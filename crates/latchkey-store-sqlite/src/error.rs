//! Mapping sqlx errors onto `StoreError`, so the engine can answer 503 for "try again",
//! 409 for a clash and 500 only for bugs.
//!
//! Messages name the operation and SQLite's error code, never SQL text or bound values:
//! they end up in logs and, for `Conflict`, possibly in an admin API response.

use latchkey_core::error::StoreError;
use sqlx::error::ErrorKind;

// Primary SQLite result codes (the low byte of an extended code).
const SQLITE_PERM: i64 = 3;
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;
const SQLITE_NOTADB: i64 = 26;

/// Maps a driver error raised while performing `op` (a trait method name).
pub(crate) fn map(op: &'static str, err: sqlx::Error) -> StoreError {
    let mapped = classify(op, err);
    // Store errors for `/metrics`: the operation and the kind, both closed sets.
    metrics::counter!("latchkey_store_errors_total", "op" => op, "kind" => error_kind(&mapped))
        .increment(1);
    match &mapped {
        StoreError::Unavailable(m) => tracing::warn!(target: "latchkey::store", "{m}"),
        StoreError::Corrupt(m) | StoreError::Other(m) => {
            tracing::error!(target: "latchkey::store", "{m}")
        }
        StoreError::Conflict(_) | StoreError::NotFound => {}
    }
    mapped
}

/// `map` partially applied, for `.map_err(db(op))`.
pub(crate) fn db(op: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| map(op, e)
}

fn classify(op: &'static str, err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Database(dbe) => {
            let code: Option<i64> = dbe.code().and_then(|c| c.parse().ok());
            let primary = code.map(|c| c & 0xff);
            match dbe.kind() {
                ErrorKind::UniqueViolation => {
                    // SQLite says "UNIQUE constraint failed: table.column": schema names
                    // only, which tells an administrator which field clashed.
                    let what = dbe
                        .message()
                        .split_once(": ")
                        .map(|(_, cols)| cols.to_owned())
                        .unwrap_or_default();
                    return StoreError::Conflict(format!("{op}: duplicate {what}"));
                }
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(format!(
                        "{op}: refers to a record that does not exist"
                    ));
                }
                ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                    return StoreError::Other(format!("{op}: constraint failed ({})", kind(code)));
                }
                _ => {}
            }
            match primary {
                Some(SQLITE_BUSY | SQLITE_LOCKED) => {
                    StoreError::Unavailable(format!("{op}: database is locked ({})", kind(code)))
                }
                Some(
                    SQLITE_FULL | SQLITE_IOERR | SQLITE_CANTOPEN | SQLITE_NOMEM | SQLITE_READONLY
                    | SQLITE_PERM | SQLITE_PROTOCOL,
                ) => StoreError::Unavailable(format!("{op}: storage failure ({})", kind(code))),
                Some(SQLITE_CORRUPT | SQLITE_NOTADB) => {
                    StoreError::Corrupt(format!("{op}: database file is damaged ({})", kind(code)))
                }
                _ => StoreError::Other(format!("{op}: database error ({})", kind(code))),
            }
        }
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable(format!("{op}: timed out waiting for a connection"))
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable(format!("{op}: store is closed")),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(format!("{op}: database worker stopped"))
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("{op}: i/o error: {e}")),
        sqlx::Error::RowNotFound => StoreError::NotFound,
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(format!("{op}: {e}")),
        sqlx::Error::Migrate(m) => migrate(op, *m),
        e => StoreError::Other(format!("{op}: {e}")),
    }
}

fn migrate(op: &'static str, err: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match err {
        // The file was migrated by a newer build, or its history was edited: running on
        // it could misread rows, so refuse rather than guess.
        M::VersionMissing(v) => StoreError::Corrupt(format!(
            "{op}: the database has migration {v}, which this build does not know: it was \
             written by a newer Latchkey; use that release or a newer one"
        )),
        e @ (M::VersionMismatch(_) | M::Dirty(_)) => {
            StoreError::Corrupt(format!("{op}: schema is not one this build knows: {e}"))
        }
        M::Execute(e) | M::ExecuteMigration(e, _) => classify(op, e),
        e => StoreError::Other(format!("{op}: {e}")),
    }
}

fn kind(code: Option<i64>) -> String {
    match code {
        Some(c) => format!("sqlite code {c}"),
        None => "no code".to_owned(),
    }
}

/// The kind of a store error, as a metric label.
fn error_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Corrupt(_) => "corrupt",
        StoreError::Other(_) => "other",
        StoreError::Conflict(_) => "conflict",
        StoreError::NotFound => "not_found",
    }
}
