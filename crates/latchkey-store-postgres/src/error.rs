//! Mapping sqlx errors onto `StoreError`, so the engine can answer 503 for "try again",
//! 409 for a clash and 500 only for bugs.
//!
//! Messages name the operation and PostgreSQL's SQLSTATE, never SQL text or bound
//! values: they end up in logs and, for `Conflict`, possibly in an admin API response.

use latchkey_core::error::StoreError;
use sqlx::error::ErrorKind;

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
            let code = dbe.code().map(|c| c.into_owned()).unwrap_or_default();
            match dbe.kind() {
                ErrorKind::UniqueViolation => {
                    // The constraint name is schema, not data: it tells an administrator
                    // which field clashed.
                    let what = dbe.constraint().unwrap_or_default().to_owned();
                    return StoreError::Conflict(format!("{op}: duplicate {what}"));
                }
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(format!(
                        "{op}: refers to a record that does not exist"
                    ));
                }
                ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                    return StoreError::Other(format!("{op}: constraint failed (SQLSTATE {code})"));
                }
                _ => {}
            }
            let class = code.get(..2).unwrap_or_default();
            match (class, code.as_str()) {
                // Serialization failure / deadlock (after the retries), connection
                // exceptions, insufficient resources, operator intervention (shutdown,
                // cancel), lock not available, read-only standby.
                (_, "40001" | "40P01") => {
                    StoreError::Unavailable(format!("{op}: {RETRY_TAG} (SQLSTATE {code})"))
                }
                (_, "55P03" | "25006") | ("08" | "53" | "57", _) => StoreError::Unavailable(
                    format!("{op}: database busy or unreachable (SQLSTATE {code})"),
                ),
                (_, "XX001" | "XX002") => {
                    StoreError::Corrupt(format!("{op}: database is damaged (SQLSTATE {code})"))
                }
                _ => StoreError::Other(format!("{op}: database error (SQLSTATE {code})")),
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
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("{op}: tls error: {e}")),
        sqlx::Error::Protocol(e) => StoreError::Unavailable(format!("{op}: protocol error: {e}")),
        sqlx::Error::RowNotFound => StoreError::NotFound,
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(format!("{op}: {e}")),
        sqlx::Error::Migrate(m) => migrate(op, *m),
        // Configuration errors carry the connection URL's parts, never its password.
        sqlx::Error::Configuration(_) => {
            StoreError::Other(format!("{op}: invalid database URL or connection options"))
        }
        e => StoreError::Other(format!("{op}: {e}")),
    }
}

pub(crate) fn migrate(op: &'static str, err: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match err {
        // The database was migrated by a newer build, or its history was edited: running
        // on it could misread rows, so refuse rather than guess.
        e @ (M::VersionMissing(_) | M::VersionMismatch(_) | M::Dirty(_)) => {
            StoreError::Corrupt(format!("{op}: schema is not one this build knows: {e}"))
        }
        M::Execute(e) | M::ExecuteMigration(e, _) => classify(op, e),
        e => StoreError::Other(format!("{op}: {e}")),
    }
}

/// What `classify` says for SQLSTATE 40001/40P01; [`is_retry`] recognises it.
const RETRY_TAG: &str = "transaction rolled back by a concurrent one";

/// Whether a mapped error is a serialization failure or deadlock worth running again.
pub(crate) fn is_retry(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains(RETRY_TAG))
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
