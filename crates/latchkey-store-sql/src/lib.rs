//! `latchkey-store-sql`: the Latchkey store's SQL, written once for both backends.
//!
//! Owns: every statement the store runs, the row structs and their conversions to the
//! domain types ([`rows`]), and the shape of a write (one atomic operation run on a
//! connection inside a transaction the backend opened, [`Write`] and [`Finish`]).
//!
//! Does not own: connections, pragmas, migrations, transactions, retries, the change
//! marker or leader election. Those are each backend's (`latchkey-store-sqlite`,
//! `latchkey-store-postgres`), and so is the mapping of driver errors (through
//! [`Dialect`]).
//!
//! How it is shared: sqlx's executor and encoding traits cannot be named generically
//! over `sqlx::Database` without a where-clause on every function (and the futures then
//! stop being provably `Send`), and sqlx's `Any` driver rewrites placeholders to `?`,
//! which PostgreSQL rejects. So the statements live in one definition, the
//! [`sql_store!`] macro, which each backend instantiates for its own database type:
//! the text of every statement exists once, and the compiler checks it against both
//! drivers. Placeholders are `$N` throughout (SQLite binds `$N` to argument N, which a
//! test here checks), and SQL is the portable subset both accept (`CASE` instead of
//! `GREATEST`, `CAST(… AS BIGINT)` around sums, `= TRUE` for booleans, aliased
//! subqueries). The few fragments that must differ come from [`Dialect`].

pub mod rows;
mod store;

#[doc(hidden)]
pub use async_trait;
#[doc(hidden)]
pub use latchkey_core;
#[doc(hidden)]
pub use serde_json;
#[doc(hidden)]
pub use sqlx;

use latchkey_core::error::StoreError;
use latchkey_core::store::StoreResult;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what a write operation hands its backend's runner.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What differs between the backends, as small as it could be kept.
pub trait Dialect {
    /// Maps a driver error raised while performing `op` (a trait method name), logging
    /// what an operator must hear about.
    fn map_error(op: &'static str, err: sqlx::Error) -> StoreError;

    /// The session IP column as compared against an IP-prefix range. `use_index: false`
    /// asks for a form the planner cannot serve from the (ip, …) index (SQLite: `+s.ip`),
    /// for prefixes dense enough that walking the list order is faster; PostgreSQL
    /// compares byte-wise (`COLLATE "C"`, matching its index) and ignores the hint.
    fn ip_range_column(use_index: bool) -> &'static str;

    /// Whether `sessions_list` first counts an IP prefix's matches (up to a bound) to
    /// choose the index, as SQLite's planner needs.
    const PROBE_DENSE_IP_PREFIX: bool;

    /// A statement and its one argument that serialise signing-key changes inside the
    /// transaction (PostgreSQL: a transaction-scoped advisory lock, so the "two active
    /// keys" check sees every committed change). SQLite's single writer needs none.
    const LOCK_KEYS: Option<(&'static str, i64)>;
}

/// How a backend runs one write operation: its name (for errors and logs), whether it
/// changes what the engines' read caches hold, and whether it may be run again after
/// the database rolled it back for a serialization failure or deadlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    pub op: &'static str,
    /// Changes clients, secrets, scopes, users, keys, revocations, API keys, settings
    /// or exchange policies (what the engine's read caches hold): both backends bump the
    /// `cache_generation` row in the same transaction (PostgreSQL also notifies the
    /// other nodes), which moves `Coordination::cache_marker`. A write without it (a
    /// grant's records, an audit row) leaves the caches alone.
    pub publish: bool,
    /// A grant or revocation PostgreSQL retries on SQLSTATE 40001/40P01.
    pub retry: bool,
}

impl Write {
    pub const fn new(op: &'static str) -> Self {
        Write {
            op,
            publish: false,
            retry: false,
        }
    }

    pub const fn publish(self) -> Self {
        Write {
            publish: true,
            ..self
        }
    }

    pub const fn retry(self) -> Self {
        Write {
            retry: true,
            ..self
        }
    }
}

/// How a write operation ends. `Rollback` undoes what the operation wrote (e.g. a
/// refresh token consumed before its session turned out dead) and still answers `T`;
/// an `Err` rolls back too. A group-commit writer maps these onto savepoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish<T> {
    Commit(T),
    Rollback(T),
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

/// A listing's page size: the caller's, clamped, or the default.
pub fn limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// A value read back that does not fit the domain type.
pub fn corrupt(op: &'static str, what: impl std::fmt::Display) -> StoreError {
    let e = StoreError::Corrupt(format!("{op}: {what}"));
    tracing::error!(target: "latchkey::store", "{e:?}");
    e
}

/// Converts a row, logging a value that no longer parses: it means a damaged file or a
/// schema written by a newer build, which an operator must hear about.
pub fn conv<R, T>(op: &'static str, row: R) -> StoreResult<T>
where
    T: TryFrom<R, Error = StoreError>,
{
    T::try_from(row).map_err(|e| match e {
        StoreError::Corrupt(m) => corrupt(op, m),
        other => other,
    })
}

pub fn conv_all<R, T>(op: &'static str, rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(|r| conv(op, r)).collect()
}

/// Updates and deletes of a named record report a missing one as `NotFound` (and the
/// caller's `?` ends the transaction, rolling back anything already written).
pub fn affected(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    /// The statements are written with `$N` for both backends; SQLite reads `$1` as a
    /// named parameter, and sqlx-sqlite binds it to argument N by its number.
    #[tokio::test]
    async fn sqlite_binds_dollar_n_to_argument_n_whatever_the_order_or_repetition() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let row: (String, String, String, i64) = sqlx::query_as("SELECT $2, $1, $2, $3 + $3")
            .bind("first")
            .bind("second")
            .bind(20_i64)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row, ("second".into(), "first".into(), "second".into(), 40));
    }

    #[test]
    fn a_write_is_plain_until_marked_and_marks_combine() {
        let w = super::Write::new("op");
        assert!(!w.publish && !w.retry);
        let w = w.publish().retry();
        assert!(w.publish && w.retry);
        assert_eq!(w.op, "op");
    }
}
