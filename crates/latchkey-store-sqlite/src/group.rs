//! Group commit for the SQLite writer: one task owns the writer connection and drains
//! the write operations queued by concurrent callers into one `BEGIN IMMEDIATE` … one
//! `COMMIT`, so N concurrent writes cost one `fsync`'d commit instead of N.
//!
//! Why it keeps today's guarantees:
//! - Durability: a caller is answered only after the `COMMIT` that holds its operation
//!   returned, i.e. (with `synchronous=FULL`) after the WAL was synced. Nothing is
//!   acknowledged that a SIGKILL or power cut could take back.
//! - Isolation between callers: each operation runs inside its own `SAVEPOINT`; one
//!   that fails is rolled back to its savepoint alone and gets its own error, and its
//!   neighbours in the batch commit. A failing `COMMIT` (e.g. a deferred foreign key)
//!   fails every operation of the batch: none of them is stored, all of them hear so.
//! - Cancel safety: a caller only waits on a reply channel. Its operation belongs to the
//!   writer task from the moment it is queued and always runs to its end (commit or
//!   rollback, never half); a caller that hung up simply misses the answer. This is the
//!   same guarantee `SqliteStore::write` gets by spawning `BEGIN IMMEDIATE`.
//! - Batches are bounded (`max_batch`), so one commit never holds the write lock for an
//!   unbounded time and a queue that never empties still commits regularly.
//! - A commit bumps the process's commit generation (the change marker's in-process
//!   part), and its publish count when an operation in it changed what the read caches
//!   hold, before anyone is answered: a caller that reads after its write returned never
//!   sees a cache entry from before it.
//! - A batch is one transaction, so an operation sees the operations before it in its
//!   batch as if they had committed. That is serial execution in queue order, and it
//!   stays true because nobody hears an answer before the batch committed: if the
//!   commit fails, every caller of the batch (including those whose operation decided
//!   to write nothing from what it read) hears the failure.
//! - Savepoints cost two round trips to SQLite's worker thread per operation, so a
//!   batch of operations that can run again (the store's, all `Clone`) is first tried
//!   without them: if every operation asks to commit, the batch commits as it stands
//!   (what a savepoint would have kept is exactly what was written). If one fails or
//!   asks to roll back, the whole transaction is rolled back and the batch runs again
//!   the careful way, each operation in its savepoint, from fresh copies: nobody has
//!   been answered and nothing was committed, so the careful run is the only one that
//!   counts. The batches after such a fall-back stay careful for a while, so a stream
//!   of failing requests cannot make every batch run twice.
//! - An operation alone in its batch (no concurrent writer) runs without a savepoint:
//!   `BEGIN IMMEDIATE`, the operation, `COMMIT` or `ROLLBACK`, as one transaction per
//!   write always did.
//!
//! - Claims (the replay store's first uses: a DPoP proof's `jti`, a client
//!   assertion's) are single-row inserts nothing else reads, so the claims queued
//!   beside each other go into the batch as one operation running one multi-row
//!   `INSERT … ON CONFLICT DO NOTHING RETURNING` (`ClaimFn`). That keeps a DPoP-bound
//!   token from costing three statements of its own, each a round trip to SQLite's
//!   worker thread (which, not the `fsync`, bounded DPoP throughput); each claimant
//!   still hears only after the commit holding its claim.
//!
//! What it does not do: it cannot re-run an operation (each is `FnOnce`), so an
//! operation whose batch failed as a whole reports the failure instead of being retried
//! (today's single-transaction path does the same). Operations that were queued but had
//! not started when their batch broke are carried into the next batch, not failed.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use latchkey_core::error::StoreError;
use latchkey_core::store::StoreResult;
use latchkey_store_sql::Finish;
use sqlx::{Connection, SqliteConnection};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Operations per commit unless the caller chooses otherwise. At a few µs of SQL per
/// operation, 64 keep one transaction well under a millisecond of lock time while
/// already dividing the `fsync` (≈ 1–4 ms here) by 64.
pub const DEFAULT_MAX_BATCH: usize = 64;

/// Batches run the careful way (savepoints) after an optimistic batch fell back.
const CAREFUL_AFTER_FALLBACK: usize = 16;

/// Turns of the scheduler the writer gives other tasks before a batch, while each
/// turn brings more writes (see `writer_task`).
const GATHER_ROUNDS: usize = 8;

/// Claims gathered into one statement at most (two bound values each: far below
/// SQLite's limit on bound parameters).
const MAX_CLAIMS: usize = 512;

/// Runs a batch's claims as one statement on the writer connection, inside the
/// batch's transaction: one answer per claim, in order, true for a first use. The
/// store passes its statement (`latchkey-store-sql`'s `jti_use_many`).
pub type ClaimFn =
    fn(&mut SqliteConnection, Vec<(String, i64)>) -> BoxFuture<'_, StoreResult<Vec<bool>>>;

/// Operations that may wait in the queue; a caller beyond that waits to enqueue
/// (back-pressure, not an error). Nothing of its operation has run while it waits, so
/// giving up there is harmless.
const QUEUE_CAPACITY: usize = 1024;

/// The writer: cheap to clone, every clone feeds the same task. The task ends, and
/// closes the connection, when the last clone is dropped and the queue is drained.
#[derive(Clone)]
pub struct GroupWriter {
    queue: mpsc::Sender<Msg>,
}

enum Msg {
    Op(Box<dyn Pending>),
    Claim(Claim),
    /// Write what was queued before, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// What the writer bumps after a commit, before it answers anyone.
#[derive(Clone, Default)]
pub struct Counters {
    /// After every commit that stored something.
    pub generation: Arc<AtomicU64>,
    /// After every commit holding an operation run with `publish`.
    pub published: Arc<AtomicU64>,
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter")
            .field("queued", &self.queued())
            .finish()
    }
}

impl GroupWriter {
    /// Hands `conn` (opened with the store's pragmas: WAL, `synchronous=FULL`,
    /// `busy_timeout`, foreign keys) to a new writer task on the current runtime.
    /// `counters` are bumped after the commits, as [`Counters`] says.
    pub fn spawn(
        conn: SqliteConnection,
        counters: Counters,
        max_batch: usize,
        claims: ClaimFn,
    ) -> (GroupWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(writer_task(conn, rx, counters, max_batch.max(1), claims));
        (GroupWriter { queue: tx }, task)
    }

    /// Claims `key` until `expires_at` in the writer's next commit, gathered with the
    /// other claims queued beside it into one statement (see the module header).
    /// `Ok(true)` for a first use, once that commit returned.
    pub async fn claim(&self, key: String, expires_at: i64) -> StoreResult<bool> {
        const OP: &str = "jti_use";
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Msg::Claim(Claim {
                key,
                expires_at,
                reply,
            }))
            .await
            .map_err(|_| stopped(OP))?;
        answer.await.map_err(|_| stopped(OP))?
    }

    /// Runs `f` inside a write transaction this writer opened (with a savepoint of its
    /// own when it shares the transaction) and answers once the transaction committed.
    /// `f` must not begin, commit or roll back a transaction itself. `op` names the
    /// operation in errors.
    ///
    /// Dropping the returned future never interrupts `f`: once queued, it runs to the
    /// end on the writer task and its effects commit or roll back whole.
    pub async fn run<T, F>(&self, op: &'static str, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<T>> + Send + 'static,
    {
        self.run_op(op, None, move |c| {
            Box::pin(async move { f(c).await.map(Finish::Commit) })
        })
        .await
    }

    /// [`Self::run`] for an operation that says how it ends: `Finish::Rollback` undoes
    /// what it wrote (its savepoint) and still answers its value once the batch
    /// committed. `publish`: a statement run in the operation's savepoint after it asked
    /// to commit (SQLite's `cache_generation` bump), and the publish count moves with
    /// the commit.
    pub async fn run_op<T, F>(
        &self,
        op: &'static str,
        publish: Option<&'static str>,
        f: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>> + Send + 'static,
    {
        self.queue_op(op, publish, f, None).await
    }

    /// [`Self::run_op`] for an operation that can run again (`Clone`): in a batch, it
    /// is first tried without a savepoint of its own (see the module header).
    pub async fn run_op_again<T, F>(
        &self,
        op: &'static str,
        publish: Option<&'static str>,
        f: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>>
            + Clone
            + Send
            + 'static,
    {
        self.queue_op(op, publish, f, Some(<F as Clone>::clone))
            .await
    }

    /// Queues one operation (`copy`: how to copy it, when it can run again) and waits
    /// for its answer.
    async fn queue_op<T, F>(
        &self,
        op: &'static str,
        publish: Option<&'static str>,
        f: F,
        copy: Option<fn(&F) -> F>,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Op {
            op,
            publish,
            f,
            copy,
            reply,
        };
        self.queue
            .send(Msg::Op(Box::new(job)))
            .await
            .map_err(|_| stopped(op))?;
        answer.await.map_err(|_| stopped(op))?
    }

    /// Writes what is queued, closes the connection (SQLite checkpoints the WAL when
    /// the last connection to the file closes) and stops: later operations are refused
    /// as `Unavailable`. Returns at once if the writer has already stopped.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.queue.send(Msg::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Operations waiting in the queue (not counting the batch being written).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

fn stopped(op: &'static str) -> StoreError {
    StoreError::Unavailable(format!("{op}: the writer has stopped"))
}

/// A queued operation, its result type erased so one queue carries them all.
trait Pending: Send {
    fn op(&self) -> &'static str;
    /// Callers it answers (a batch's claims are one operation answering each claimant).
    fn callers(&self) -> usize {
        1
    }
    /// Runs the operation on `conn` (inside its savepoint) and keeps its result.
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> BoxFuture<'_, Box<dyn Ran>>;
    /// Whether [`Pending::attempt`] can run a copy.
    fn copyable(&self) -> bool;
    /// Runs a copy of the operation on `conn` (no savepoint: the optimistic try of a
    /// batch), keeping this one to answer with ([`Pending::settle`]) or to run again
    /// carefully. `None`: it cannot be copied, and the batch goes the careful way.
    fn attempt<'c>(&self, conn: &'c mut SqliteConnection) -> Option<BoxFuture<'c, Attempt>>;
    /// What `run` would have kept, from an attempt of this operation's.
    fn settle(self: Box<Self>, attempt: Attempt) -> Box<dyn Ran>;
    /// Answers without running (the batch could not start).
    fn fail(self: Box<Self>, err: StoreError);
}

/// One optimistic try of an operation, its result's type erased.
struct Attempt {
    /// It asked to commit (not `Rollback`, not an error): the batch may commit it as is.
    commit: bool,
    published: bool,
    result: Box<dyn std::any::Any + Send>,
}

/// An operation that ran and waits for its batch's commit.
trait Ran: Send {
    /// The operation asked to commit (not `Rollback`, not an error).
    fn ok(&self) -> bool;
    /// `ok`, and it changed what the read caches hold.
    fn published(&self) -> bool;
    /// `Err`: the batch was not stored, whatever this operation returned.
    fn answer(self: Box<Self>, batch: Result<(), &StoreError>);
}

struct Op<T, F> {
    op: &'static str,
    publish: Option<&'static str>,
    f: F,
    /// `F::clone` when the operation can run again.
    copy: Option<fn(&F) -> F>,
    reply: oneshot::Sender<StoreResult<T>>,
}

/// Runs one operation and, if it asked to commit, its publish statement; a panic is
/// the operation's error (a bug in one operation must not take the writer down).
async fn execute<T, F>(
    op: &'static str,
    publish: Option<&'static str>,
    f: F,
    conn: &mut SqliteConnection,
) -> (StoreResult<Finish<T>>, bool)
where
    F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>>,
{
    let mut result = match AssertUnwindSafe(async { f(&mut *conn).await })
        .catch_unwind()
        .await
    {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(target: "latchkey::store", "{op}: the write operation panicked; rolled back");
            Err(StoreError::Other(format!(
                "{op}: the write operation failed"
            )))
        }
    };
    let published = match (publish, &result) {
        (Some(sql), Ok(Finish::Commit(_))) => {
            // In the operation's own transaction: another process sees the new
            // generation exactly when it can see the change.
            if let Err(e) = exec(conn, sql).await {
                result = Err(crate::error::map(op, e));
            }
            result.is_ok()
        }
        _ => false,
    };
    (result, published)
}

struct Outcome<T> {
    result: StoreResult<Finish<T>>,
    publish: bool,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Pending for Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<T>>> + Send + 'static,
{
    fn op(&self) -> &'static str {
        self.op
    }

    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> BoxFuture<'_, Box<dyn Ran>> {
        let Op {
            op,
            publish,
            f,
            reply,
            ..
        } = *self;
        Box::pin(async move {
            let (result, publish) = execute(op, publish, f, conn).await;
            Box::new(Outcome {
                result,
                publish,
                reply,
            }) as Box<dyn Ran>
        })
    }

    fn copyable(&self) -> bool {
        self.copy.is_some()
    }

    fn attempt<'c>(&self, conn: &'c mut SqliteConnection) -> Option<BoxFuture<'c, Attempt>> {
        let f = (self.copy?)(&self.f);
        let (op, publish) = (self.op, self.publish);
        Some(Box::pin(async move {
            let (result, published) = execute(op, publish, f, conn).await;
            Attempt {
                commit: matches!(result, Ok(Finish::Commit(_))),
                published,
                result: Box::new(result),
            }
        }))
    }

    fn settle(self: Box<Self>, attempt: Attempt) -> Box<dyn Ran> {
        let op = self.op;
        let result = attempt
            .result
            .downcast::<StoreResult<Finish<T>>>()
            .map(|r| *r)
            .unwrap_or_else(|_| {
                Err(StoreError::Other(format!(
                    "{op}: the write operation failed"
                )))
            });
        Box::new(Outcome {
            result,
            publish: attempt.published,
            reply: self.reply,
        })
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

impl<T: Send + 'static> Ran for Outcome<T> {
    fn ok(&self) -> bool {
        matches!(self.result, Ok(Finish::Commit(_)))
    }

    fn published(&self) -> bool {
        self.publish
    }

    fn answer(self: Box<Self>, batch: Result<(), &StoreError>) {
        // A `Rollback` answer was decided on what the batch had written before it, so
        // it too stands only if the batch committed.
        let result = match (self.result, batch) {
            (Ok(Finish::Commit(v) | Finish::Rollback(v)), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(replicate(e)),
            (Err(e), _) => Err(e),
        };
        // The caller may have hung up; its operation is done either way.
        let _ = self.reply.send(result);
    }
}

/// One queued claim.
struct Claim {
    key: String,
    expires_at: i64,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The claims of one batch, run as one operation of it.
struct Claims {
    run: ClaimFn,
    claims: Vec<Claim>,
}

struct Claimed {
    result: StoreResult<Vec<bool>>,
    replies: Vec<oneshot::Sender<StoreResult<bool>>>,
}

impl Pending for Claims {
    fn op(&self) -> &'static str {
        "jti_use"
    }

    fn callers(&self) -> usize {
        self.claims.len()
    }

    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> BoxFuture<'_, Box<dyn Ran>> {
        let Claims { run, claims } = *self;
        let (keys, replies): (Vec<_>, Vec<_>) = claims
            .into_iter()
            .map(|c| ((c.key, c.expires_at), c.reply))
            .unzip();
        let n = keys.len();
        Box::pin(async move {
            // As for any operation: a panic is this operation's error, not the writer's end.
            let result = match AssertUnwindSafe(run(&mut *conn, keys)).catch_unwind().await {
                Ok(Ok(won)) if won.len() == n => Ok(won),
                Ok(Ok(_)) => Err(StoreError::Other(
                    "jti_use: the claim statement answered the wrong number of claims".into(),
                )),
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    tracing::error!(target: "latchkey::store", "jti_use: the claim statement panicked; rolled back");
                    Err(StoreError::Other(
                        "jti_use: the write operation failed".into(),
                    ))
                }
            };
            Box::new(Claimed { result, replies }) as Box<dyn Ran>
        })
    }

    fn copyable(&self) -> bool {
        true
    }

    fn attempt<'c>(&self, conn: &'c mut SqliteConnection) -> Option<BoxFuture<'c, Attempt>> {
        let keys: Vec<(String, i64)> = self
            .claims
            .iter()
            .map(|c| (c.key.clone(), c.expires_at))
            .collect();
        let n = keys.len();
        let run = self.run;
        Some(Box::pin(async move {
            let result = match AssertUnwindSafe(run(&mut *conn, keys)).catch_unwind().await {
                Ok(Ok(won)) if won.len() == n => Ok(won),
                _ => Err(StoreError::Other(
                    "jti_use: the write operation failed".into(),
                )),
            };
            Attempt {
                commit: result.is_ok(),
                published: false,
                result: Box::new(result),
            }
        }))
    }

    fn settle(self: Box<Self>, attempt: Attempt) -> Box<dyn Ran> {
        let result = attempt
            .result
            .downcast::<StoreResult<Vec<bool>>>()
            .map(|r| *r)
            .unwrap_or_else(|_| {
                Err(StoreError::Other(
                    "jti_use: the write operation failed".into(),
                ))
            });
        let replies = self.claims.into_iter().map(|c| c.reply).collect();
        Box::new(Claimed { result, replies })
    }

    fn fail(self: Box<Self>, err: StoreError) {
        for c in self.claims {
            let _ = c.reply.send(Err(replicate(&err)));
        }
    }
}

impl Ran for Claimed {
    fn ok(&self) -> bool {
        self.result.is_ok()
    }

    fn published(&self) -> bool {
        false
    }

    fn answer(self: Box<Self>, batch: Result<(), &StoreError>) {
        match (self.result, batch) {
            (Ok(won), Ok(())) => {
                for (reply, first) in self.replies.into_iter().zip(won) {
                    let _ = reply.send(Ok(first));
                }
            }
            (Ok(_), Err(e)) | (Err(_), Err(e)) => {
                for reply in self.replies {
                    let _ = reply.send(Err(replicate(e)));
                }
            }
            (Err(e), Ok(())) => {
                for reply in self.replies {
                    let _ = reply.send(Err(replicate(&e)));
                }
            }
        }
    }
}

/// One error for each caller of a failed batch (`StoreError` is not `Clone`).
fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

async fn writer_task(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Msg>,
    counters: Counters,
    max_batch: usize,
    run_claims: ClaimFn,
) {
    let mut queue: VecDeque<Box<dyn Pending>> = VecDeque::new();
    let mut claims: Vec<Claim> = Vec::new();
    let mut closing: Option<oneshot::Sender<()>> = None;
    // Batches still to run the careful way after an optimistic one fell back.
    let mut careful = 0usize;
    loop {
        if queue.is_empty() && claims.is_empty() {
            if closing.is_some() {
                break;
            }
            match rx.recv().await {
                Some(Msg::Op(job)) => queue.push_back(job),
                Some(Msg::Claim(c)) => claims.push(c),
                Some(Msg::Close(reply)) => {
                    closing = Some(reply);
                    continue;
                }
                None => break,
            }
        }
        // Let the tasks that are ready now run first, for as long as each round brings
        // more writes: under load they are requests a step away from queueing their
        // own write, which then shares this commit instead of waiting for the next (a
        // commit costs far more than a turn of the scheduler). An idle server loses
        // one trip through the scheduler; no clock is involved.
        for _ in 0..GATHER_ROUNDS {
            tokio::task::yield_now().await;
            let before = queue.len() + claims.len();
            while closing.is_none() && queue.len() < max_batch && claims.len() < MAX_CLAIMS {
                match rx.try_recv() {
                    Ok(Msg::Op(job)) => queue.push_back(job),
                    Ok(Msg::Claim(c)) => claims.push(c),
                    Ok(Msg::Close(reply)) => closing = Some(reply),
                    Err(_) => break,
                }
            }
            let full = queue.len() >= max_batch || claims.len() >= MAX_CLAIMS;
            if closing.is_some() || full || queue.len() + claims.len() == before {
                break;
            }
        }
        // The claims ride as one operation, first, so a full queue of operations
        // never holds them back.
        let mut batch: Vec<Box<dyn Pending>> = Vec::with_capacity(max_batch + 1);
        if !claims.is_empty() {
            let n = claims.len().min(MAX_CLAIMS);
            batch.push(Box::new(Claims {
                run: run_claims,
                claims: claims.drain(..n).collect(),
            }));
        }
        let n = queue.len().min(max_batch);
        batch.extend(queue.drain(..n));
        // How well commits are shared, for `/metrics`.
        metrics::histogram!("latchkey_store_commit_callers")
            .record(batch.iter().map(|j| j.callers()).sum::<usize>() as f64);
        let carried = write_batch(&mut conn, batch, &counters, &mut careful).await;
        for job in carried.into_iter().rev() {
            queue.push_front(job);
        }
    }
    // Operations sent after the close hear that the writer stopped (their reply
    // channel is dropped with the queue).
    rx.close();
    let _ = conn.close().await;
    if let Some(reply) = closing {
        let _ = reply.send(());
    }
}

/// Writes one batch and answers its callers. Returns the operations that never started
/// because the transaction broke under an earlier one; they go first in the next batch.
async fn write_batch(
    conn: &mut SqliteConnection,
    mut batch: Vec<Box<dyn Pending>>,
    counters: &Counters,
    careful: &mut usize,
) -> Vec<Box<dyn Pending>> {
    let first = batch.first().map(|j| j.op()).unwrap_or("write");
    if let Err(e) = begin(conn).await {
        let err = crate::error::map(first, e);
        for job in batch {
            job.fail(replicate(&err));
        }
        return Vec::new();
    }
    if batch.len() == 1 {
        if let Some(job) = batch.pop() {
            write_alone(conn, job, counters).await;
        }
        return Vec::new();
    }

    if *careful > 0 {
        *careful -= 1;
    } else if batch.iter().all(|j| j.copyable()) {
        let (tried, attempts) = optimistic(conn, batch).await;
        batch = tried;
        match attempts {
            Some(attempts) => {
                let ran = batch
                    .into_iter()
                    .zip(attempts)
                    .map(|(job, attempt)| job.settle(attempt))
                    .collect();
                finish(conn, ran, counters).await;
                return Vec::new();
            }
            None => {
                // Undo the try whole and start the careful run in a fresh transaction.
                *careful = CAREFUL_AFTER_FALLBACK;
                rollback(conn).await;
                if let Err(e) = begin(conn).await {
                    let err = crate::error::map(first, e);
                    for job in batch {
                        job.fail(replicate(&err));
                    }
                    return Vec::new();
                }
            }
        }
    }

    let mut ran: Vec<Box<dyn Ran>> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let mut broken: Option<StoreError> = None;
    for job in jobs.by_ref() {
        let op = job.op();
        if let Err(e) = exec(conn, "SAVEPOINT op").await {
            // Failed before it started: this operation hears why; the batch is unsure.
            let err = crate::error::map(op, e);
            job.fail(replicate(&err));
            broken = Some(err);
            break;
        }
        let outcome = job.run(conn).await;
        let closed = if outcome.ok() {
            exec(conn, "RELEASE op").await
        } else {
            // Undo this operation alone. If SQLite already rolled the whole transaction
            // back (an I/O error, a full disk), the savepoint is gone and this fails:
            // then nothing of the batch is stored, and everyone must hear so.
            match exec(conn, "ROLLBACK TO op").await {
                Ok(()) => exec(conn, "RELEASE op").await,
                Err(e) => Err(e),
            }
        };
        ran.push(outcome);
        if let Err(e) = closed {
            broken = Some(crate::error::map(op, e));
            break;
        }
    }

    if let Some(err) = broken {
        rollback(conn).await;
        for r in ran {
            r.answer(Err(&err));
        }
        return jobs.collect();
    }

    finish(conn, ran, counters).await;
    Vec::new()
}

/// The optimistic try of a batch (see the module header): every operation's copy in
/// turn, no savepoints. `Some` (one attempt per operation) only if every one asked to
/// commit; `None` as soon as one did not or cannot be copied, leaving the transaction
/// for the caller to roll back.
async fn optimistic(
    conn: &mut SqliteConnection,
    batch: Vec<Box<dyn Pending>>,
) -> (Vec<Box<dyn Pending>>, Option<Vec<Attempt>>) {
    let mut attempts = Vec::with_capacity(batch.len());
    for i in 0..batch.len() {
        // The batch is only borrowed to make the copy: the running copy holds the
        // connection alone.
        let Some(run) = batch[i].attempt(conn) else {
            return (batch, None);
        };
        let attempt = run.await;
        if !attempt.commit {
            return (batch, None);
        }
        attempts.push(attempt);
    }
    (batch, Some(attempts))
}

/// One operation, no concurrent writer: the transaction is its own, so no savepoint.
async fn write_alone(conn: &mut SqliteConnection, job: Box<dyn Pending>, counters: &Counters) {
    let op = job.op();
    let outcome = job.run(conn).await;
    if outcome.ok() {
        finish(conn, vec![outcome], counters).await;
        return;
    }
    // Nothing to keep: roll the transaction back. The operation's answer does not
    // depend on that rollback (it wrote nothing that stays), but a rollback that fails
    // leaves the connection inside the transaction, which `begin` clears next time.
    if let Err(e) = exec(conn, "ROLLBACK").await {
        let _ = crate::error::map(op, e);
    }
    outcome.answer(Ok(()));
}

/// Commits the batch and answers its operations; bumps the counters first.
async fn finish(conn: &mut SqliteConnection, ran: Vec<Box<dyn Ran>>, counters: &Counters) {
    match exec(conn, "COMMIT").await {
        Ok(()) => {
            if ran.iter().any(|r| r.ok()) {
                counters.generation.fetch_add(1, Ordering::Release);
            }
            if ran.iter().any(|r| r.published()) {
                counters.published.fetch_add(1, Ordering::Release);
            }
            for r in ran {
                r.answer(Ok(()));
            }
        }
        Err(e) => {
            let err = crate::error::map("commit", e);
            // A failed COMMIT (a deferred constraint, an I/O error) can leave the
            // transaction open: close it so the next batch starts clean.
            rollback(conn).await;
            for r in ran {
                r.answer(Err(&err));
            }
        }
    }
}

/// `BEGIN IMMEDIATE`: takes the write lock now, waiting up to `busy_timeout` for
/// another process (the admin CLI) to release it. A connection found still inside a
/// transaction (a rollback that itself failed) is rolled back once and retried, so one
/// bad moment does not fail every later batch.
async fn begin(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    match exec(conn, "BEGIN IMMEDIATE").await {
        Err(sqlx::Error::Database(e)) if e.message().contains("within a transaction") => {
            rollback(conn).await;
            exec(conn, "BEGIN IMMEDIATE").await
        }
        r => r,
    }
}

async fn rollback(conn: &mut SqliteConnection) {
    if let Err(e) = exec(conn, "ROLLBACK").await {
        tracing::warn!(target: "latchkey::store", "rollback of a failed write batch: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::ConnectOptions;
    use std::path::Path;

    fn options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
    }

    async fn setup(path: &Path) -> SqliteConnection {
        let mut conn = options(path).connect().await.unwrap();
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS child (
                 id  INTEGER PRIMARY KEY,
                 pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
             );
             CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at INTEGER);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn
    }

    fn insert(id: i64) -> impl FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<()>> {
        move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO parent (id) VALUES (?)")
                    .bind(id)
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::db("insert"))?;
                Ok(())
            })
        }
    }

    /// The tests' claim statement: the store's shape (one multi-row insert, the won
    /// keys returned) on a table of their own, counting its calls in `CLAIM_CALLS`.
    fn claim_keys(
        c: &mut SqliteConnection,
        claims: Vec<(String, i64)>,
    ) -> BoxFuture<'_, StoreResult<Vec<bool>>> {
        Box::pin(async move {
            CLAIM_CALLS.fetch_add(1, Ordering::SeqCst);
            let mut won = Vec::new();
            for (key, exp) in &claims {
                let done = sqlx::query(
                    "INSERT INTO claims (key, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(key)
                .bind(exp)
                .execute(&mut *c)
                .await
                .map_err(crate::error::db("claim"))?;
                won.push(done.rows_affected() == 1);
            }
            Ok(won)
        })
    }

    static CLAIM_CALLS: AtomicU64 = AtomicU64::new(0);

    async fn claimed(path: &Path) -> anyhow::Result<Vec<String>> {
        let mut c = options(path).connect().await?;
        Ok(sqlx::query_scalar("SELECT key FROM claims ORDER BY key")
            .fetch_all(&mut c)
            .await?)
    }

    async fn ids(path: &Path) -> Vec<i64> {
        let mut c = options(path).connect().await.unwrap();
        sqlx::query_scalar("SELECT id FROM parent ORDER BY id")
            .fetch_all(&mut c)
            .await
            .unwrap()
    }

    /// Starts an operation that holds the writer until `release` fires, and waits until
    /// it runs: whatever is queued meanwhile forms the next batch.
    async fn hold(w: &GroupWriter) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let w = w.clone();
        let h = tokio::spawn(async move {
            w.run("hold", move |_c| {
                Box::pin(async move {
                    let _ = started_tx.send(());
                    let _ = released.await;
                    Ok(())
                })
            })
            .await
            .unwrap();
        });
        started.await.unwrap();
        (release, h)
    }

    fn counters(gen: &Arc<AtomicU64>) -> Counters {
        Counters {
            generation: gen.clone(),
            published: Arc::default(),
        }
    }

    /// A writer on a fresh file (kept while the returned directory lives), its commit
    /// generation, and batches of at most `max_batch`.
    async fn writer(
        max_batch: usize,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        Arc<AtomicU64>,
        GroupWriter,
    ) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("g.db");
        let gen = Arc::new(AtomicU64::new(0));
        let (w, _task) =
            GroupWriter::spawn(setup(&path).await, counters(&gen), max_batch, claim_keys);
        (dir, path, gen, w)
    }

    /// Queues a child whose parent does not exist: the deferred foreign key lets the
    /// statement (and a savepoint) pass and fails the batch's COMMIT.
    fn orphan(w: &GroupWriter) -> tokio::task::JoinHandle<StoreResult<()>> {
        let w = w.clone();
        tokio::spawn(async move {
            w.run("orphan", |c| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO child (id, pid) VALUES (1, 999)")
                        .execute(&mut *c)
                        .await
                        .map_err(crate::error::db("orphan"))?;
                    Ok(())
                })
            })
            .await
        })
    }

    async fn until_queued(w: &GroupWriter, n: usize) {
        while w.queued() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn an_acknowledged_write_survives_closing_and_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let gen = Arc::new(AtomicU64::new(0));
        let (w, task) = GroupWriter::spawn(setup(&path).await, counters(&gen), 8, claim_keys);
        w.run("insert", insert(1)).await.unwrap();
        assert_eq!(
            gen.load(Ordering::Acquire),
            1,
            "the commit bumped the generation"
        );
        drop(w);
        task.await.unwrap();
        assert_eq!(ids(&path).await, vec![1]);
    }

    #[tokio::test]
    async fn a_failing_operation_in_a_batch_rolls_back_alone_and_its_neighbours_commit() {
        let (_dir, path, gen, w) = writer(8).await;
        let (release, held) = hold(&w).await;

        let a = tokio::spawn({
            let w = w.clone();
            async move { w.run("a", insert(10)).await }
        });
        until_queued(&w, 1).await;
        // Writes a row, then clashes with row 10 (from `a`, same batch): must lose both.
        let bad = tokio::spawn({
            let w = w.clone();
            async move {
                w.run("bad", |c| {
                    Box::pin(async move {
                        insert(20)(&mut *c).await?;
                        insert(10)(&mut *c).await
                    })
                })
                .await
            }
        });
        until_queued(&w, 2).await;
        let b = tokio::spawn({
            let w = w.clone();
            async move { w.run("b", insert(30)).await }
        });
        until_queued(&w, 3).await;
        release.send(()).unwrap();
        held.await.unwrap();

        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        let err = bad.await.unwrap().unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "its own error: {err:?}"
        );
        assert_eq!(ids(&path).await, vec![10, 30]);
        assert_eq!(
            gen.load(Ordering::Acquire),
            2,
            "one commit for the hold, one for the batch of three"
        );
    }

    #[tokio::test]
    async fn a_rollback_in_a_batch_undoes_only_its_own_writes_and_still_answers_its_value(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db");
        let gen = Arc::new(AtomicU64::new(0));
        let published = Arc::new(AtomicU64::new(0));
        let counters = Counters {
            generation: gen.clone(),
            published: published.clone(),
        };
        let (w, _task) = GroupWriter::spawn(setup(&path).await, counters, 8, claim_keys);
        // A table standing in for `cache_generation`.
        w.run("table", |c| {
            Box::pin(async move {
                sqlx::query("CREATE TABLE n (v INTEGER NOT NULL); INSERT INTO n VALUES (0);")
                    .execute(&mut *c)
                    .await
                    .map_err(crate::error::db("table"))?;
                Ok(())
            })
        })
        .await?;
        let bump = Some("UPDATE n SET v = v + 1");
        let (release, held) = hold(&w).await;
        let kept = tokio::spawn({
            let w = w.clone();
            async move {
                w.run_op("kept", bump, |c| {
                    Box::pin(async move { insert(1)(&mut *c).await.map(Finish::Commit) })
                })
                .await
            }
        });
        until_queued(&w, 1).await;
        let undone = tokio::spawn({
            let w = w.clone();
            async move {
                w.run_op("undone", bump, |c| {
                    Box::pin(async move {
                        insert(2)(&mut *c).await?;
                        Ok(Finish::Rollback(7))
                    })
                })
                .await
            }
        });
        until_queued(&w, 2).await;
        release.send(()).map_err(|_| "the hold ended early")?;
        held.await?;
        kept.await??;
        assert_eq!(undone.await??, 7);
        assert_eq!(ids(&path).await, vec![1]);
        let mut c = options(&path).connect().await?;
        let n: i64 = sqlx::query_scalar("SELECT v FROM n")
            .fetch_one(&mut c)
            .await?;
        assert_eq!(
            n, 1,
            "only the committed operation bumped the generation row"
        );
        assert_eq!(published.load(Ordering::Acquire), 1);
        assert_eq!(
            gen.load(Ordering::Acquire),
            3,
            "table, hold, then the batch"
        );
        Ok(())
    }

    #[tokio::test]
    async fn after_close_the_queue_is_written_and_later_writes_are_unavailable(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db");
        let gen = Arc::new(AtomicU64::new(0));
        let (w, task) = GroupWriter::spawn(setup(&path).await, counters(&gen), 8, claim_keys);
        w.run("row", insert(1)).await?;
        w.close().await;
        let late = w.run("late", insert(2)).await;
        assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
        task.await?;
        assert_eq!(ids(&path).await, vec![1]);
        Ok(())
    }

    #[tokio::test]
    async fn a_commit_failure_reaches_every_caller_of_the_batch_and_stores_none_of_it() {
        let (_dir, path, gen, w) = writer(8).await;
        let (release, held) = hold(&w).await;

        let mut callers = Vec::new();
        callers.push(tokio::spawn({
            let w = w.clone();
            async move { w.run("a", insert(1)).await }
        }));
        until_queued(&w, 1).await;
        // A child whose parent does not exist: the deferred foreign key lets the
        // statement and the savepoint pass and fails the COMMIT.
        callers.push(orphan(&w));
        until_queued(&w, 2).await;
        callers.push(tokio::spawn({
            let w = w.clone();
            async move { w.run("b", insert(2)).await }
        }));
        until_queued(&w, 3).await;
        release.send(()).unwrap();
        held.await.unwrap();

        for c in callers {
            let r = c.await.unwrap();
            assert!(r.is_err(), "every caller of the failed batch hears it");
        }
        assert_eq!(ids(&path).await, Vec::<i64>::new());
        assert_eq!(gen.load(Ordering::Acquire), 1, "only the hold committed");

        // The writer is not stuck inside the failed transaction.
        w.run("after", insert(3)).await.unwrap();
        assert_eq!(ids(&path).await, vec![3]);
    }

    #[tokio::test]
    async fn claims_queued_together_run_as_one_statement_in_one_commit_and_each_claimant_hears_its_own_answer(
    ) -> anyhow::Result<()> {
        let (_dir, path, gen, w) = writer(8).await;
        assert!(w.claim("seen".into(), 10).await?);
        let (release, held) = hold(&w).await;
        let calls_before = CLAIM_CALLS.load(Ordering::SeqCst);

        let mut callers = Vec::new();
        for (i, key) in ["a", "seen", "b", "a"].into_iter().enumerate() {
            callers.push(tokio::spawn({
                let w = w.clone();
                async move { w.claim(key.into(), 10).await }
            }));
            until_queued(&w, i + 1).await;
        }
        callers.push(tokio::spawn({
            let w = w.clone();
            async move { w.run("row", insert(1)).await.map(|()| true) }
        }));
        until_queued(&w, 5).await;
        release
            .send(())
            .map_err(|()| anyhow::anyhow!("the hold ended early"))?;
        held.await?;

        let mut answers = Vec::new();
        for c in callers {
            answers.push(c.await??);
        }
        assert_eq!(
            answers,
            vec![true, false, true, false, true],
            "a first use wins; a key seen before or earlier in the batch does not"
        );
        assert_eq!(claimed(&path).await?, vec!["a", "b", "seen"]);
        assert_eq!(ids(&path).await, vec![1]);
        assert_eq!(
            gen.load(Ordering::Acquire),
            3,
            "the first claim, the hold, then the claims with the row in one commit"
        );
        assert!(
            CLAIM_CALLS.load(Ordering::SeqCst) - calls_before >= 1,
            "the statement ran"
        );
        Ok(())
    }

    #[tokio::test]
    async fn claims_in_a_batch_whose_commit_fails_hear_the_failure_and_are_not_stored(
    ) -> anyhow::Result<()> {
        let (_dir, path, _gen, w) = writer(8).await;
        let (release, held) = hold(&w).await;
        let claim = tokio::spawn({
            let w = w.clone();
            async move { w.claim("k".into(), 10).await }
        });
        until_queued(&w, 1).await;
        let orphan = orphan(&w);
        until_queued(&w, 2).await;
        release
            .send(())
            .map_err(|()| anyhow::anyhow!("the hold ended early"))?;
        held.await?;
        assert!(claim.await?.is_err(), "the claim was not stored");
        assert!(orphan.await?.is_err());
        assert!(claimed(&path).await?.is_empty());
        // A claim is never half-remembered: the same key is a first use afterwards.
        assert!(w.claim("k".into(), 10).await?);
        Ok(())
    }

    /// An operation the writer may run again (the store's kind): inserts `id` (or, with
    /// `then_rollback`, inserts it and asks to roll back, answering `id`), counting its
    /// runs in `runs`.
    fn insert_again(
        id: i64,
        then_rollback: bool,
        runs: Arc<AtomicU64>,
    ) -> impl FnOnce(&mut SqliteConnection) -> BoxFuture<'_, StoreResult<Finish<i64>>>
           + Clone
           + Send
           + 'static {
        move |c| {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                insert(id)(&mut *c).await?;
                Ok(if then_rollback {
                    Finish::Rollback(id)
                } else {
                    Finish::Commit(id)
                })
            })
        }
    }

    /// Queues `ops` (id, then_rollback) behind a hold, releases it, and answers each.
    async fn batch_again(
        w: &GroupWriter,
        ops: &[(i64, bool)],
        runs: &Arc<AtomicU64>,
    ) -> anyhow::Result<Vec<StoreResult<i64>>> {
        let (release, held) = hold(w).await;
        let mut callers = Vec::new();
        for (i, (id, rollback)) in ops.iter().copied().enumerate() {
            callers.push(tokio::spawn({
                let (w, runs) = (w.clone(), runs.clone());
                async move {
                    w.run_op_again("row", None, insert_again(id, rollback, runs))
                        .await
                }
            }));
            until_queued(w, i + 1).await;
        }
        release
            .send(())
            .map_err(|()| anyhow::anyhow!("the hold ended early"))?;
        held.await?;
        let mut answers = Vec::new();
        for c in callers {
            answers.push(c.await?);
        }
        Ok(answers)
    }

    #[tokio::test]
    async fn a_batch_of_operations_that_can_run_again_commits_in_one_try_when_all_succeed(
    ) -> anyhow::Result<()> {
        let (_dir, path, gen, w) = writer(8).await;
        let runs = Arc::new(AtomicU64::new(0));
        let answers = batch_again(&w, &[(1, false), (2, false), (3, false)], &runs).await?;
        assert_eq!(
            answers.into_iter().collect::<StoreResult<Vec<_>>>()?,
            vec![1, 2, 3]
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3, "each operation ran once");
        assert_eq!(ids(&path).await, vec![1, 2, 3]);
        assert_eq!(gen.load(Ordering::Acquire), 2, "the hold, then one commit");
        Ok(())
    }

    #[tokio::test]
    async fn a_failing_operation_sends_its_batch_the_careful_way_where_it_alone_fails(
    ) -> anyhow::Result<()> {
        let (_dir, path, _gen, w) = writer(8).await;
        w.run("seed", insert(2)).await?;
        let runs = Arc::new(AtomicU64::new(0));
        // 2 exists: that insert fails after 1 was written in the same transaction.
        let answers = batch_again(&w, &[(1, false), (2, false), (3, false)], &runs).await?;
        assert_eq!(answers[0].as_ref().ok(), Some(&1));
        assert!(answers[1].is_err(), "the clash fails alone");
        assert_eq!(answers[2].as_ref().ok(), Some(&3));
        assert_eq!(ids(&path).await, vec![1, 2, 3]);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2 + 3,
            "the try stopped at the clash; the careful run ran all three"
        );

        // The batches right after a fall-back go the careful way at once (each
        // operation runs once, in its savepoint), and still commit together.
        runs.store(0, Ordering::SeqCst);
        let answers = batch_again(&w, &[(4, false), (1, false), (5, false)], &runs).await?;
        assert!(answers[0].is_ok() && answers[1].is_err() && answers[2].is_ok());
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(ids(&path).await, vec![1, 2, 3, 4, 5]);
        Ok(())
    }

    #[tokio::test]
    async fn a_rollback_in_a_batch_tried_without_savepoints_undoes_only_its_own_write(
    ) -> anyhow::Result<()> {
        let (_dir, path, _gen, w) = writer(8).await;
        let runs = Arc::new(AtomicU64::new(0));
        let answers = batch_again(&w, &[(1, false), (2, true), (3, false)], &runs).await?;
        assert_eq!(
            answers.into_iter().collect::<StoreResult<Vec<_>>>()?,
            vec![1, 2, 3],
            "a rollback still answers its value"
        );
        assert_eq!(ids(&path).await, vec![1, 3], "row 2 rolled back alone");
        Ok(())
    }

    #[tokio::test]
    async fn a_dropped_caller_s_operation_still_runs_to_its_end_and_commits_whole() {
        let (_dir, path, _gen, w) = writer(8).await;

        let (started_tx, started) = oneshot::channel::<()>();
        let (go_on, wait) = oneshot::channel::<()>();
        let caller = tokio::spawn({
            let w = w.clone();
            async move {
                w.run("two rows", move |c| {
                    Box::pin(async move {
                        insert(1)(&mut *c).await?;
                        let _ = started_tx.send(());
                        let _ = wait.await;
                        insert(2)(&mut *c).await
                    })
                })
                .await
            }
        });
        started.await.unwrap();
        caller.abort(); // the client hung up half-way through the operation
        assert!(caller.await.unwrap_err().is_cancelled());
        go_on.send(()).unwrap();

        // Writes are answered in order: once this one is back, the first is committed.
        w.run("next", insert(3)).await.unwrap();
        assert_eq!(ids(&path).await, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_dropped_caller_s_failing_operation_rolls_back_whole() {
        let (_dir, path, _gen, w) = writer(8).await;
        w.run("seed", insert(2)).await.unwrap();

        let (started_tx, started) = oneshot::channel::<()>();
        let (go_on, wait) = oneshot::channel::<()>();
        let caller = tokio::spawn({
            let w = w.clone();
            async move {
                w.run("clash", move |c| {
                    Box::pin(async move {
                        insert(1)(&mut *c).await?;
                        let _ = started_tx.send(());
                        let _ = wait.await;
                        insert(2)(&mut *c).await
                    })
                })
                .await
            }
        });
        started.await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        go_on.send(()).unwrap();

        w.run("next", insert(3)).await.unwrap();
        assert_eq!(
            ids(&path).await,
            vec![2, 3],
            "row 1 rolled back with its operation"
        );
    }

    #[tokio::test]
    async fn a_panicking_operation_fails_alone_and_the_writer_keeps_writing() {
        let (_dir, path, _gen, w) = writer(8).await;
        let r: StoreResult<()> = w
            .run("boom", |c| {
                Box::pin(async move {
                    insert(1)(&mut *c).await?;
                    panic!("a bug in an operation");
                })
            })
            .await;
        assert!(matches!(r, Err(StoreError::Other(_))));
        w.run("next", insert(2)).await.unwrap();
        assert_eq!(ids(&path).await, vec![2]);
    }

    #[tokio::test]
    async fn a_batch_holds_at_most_max_batch_operations() {
        let (_dir, path, gen, w) = writer(2).await;
        let (release, held) = hold(&w).await;
        let mut callers = Vec::new();
        for i in 1..=5 {
            callers.push(tokio::spawn({
                let w = w.clone();
                async move { w.run("row", insert(i)).await }
            }));
            until_queued(&w, i as usize).await;
        }
        release.send(()).unwrap();
        held.await.unwrap();
        for c in callers {
            c.await.unwrap().unwrap();
        }
        assert_eq!(ids(&path).await, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            gen.load(Ordering::Acquire),
            1 + 3,
            "the hold, then 2 + 2 + 1"
        );
    }

    #[tokio::test]
    async fn a_write_waits_for_another_process_s_lock_and_then_commits() {
        let (_dir, path, _gen, w) = writer(8).await;
        // Another connection (the admin CLI) holds the write lock.
        let mut other = options(&path).connect().await.unwrap();
        exec(&mut other, "BEGIN IMMEDIATE").await.unwrap();
        let pending = tokio::spawn({
            let w = w.clone();
            async move { w.run("row", insert(1)).await }
        });
        exec(&mut other, "INSERT INTO parent (id) VALUES (7)")
            .await
            .unwrap();
        exec(&mut other, "COMMIT").await.unwrap();
        pending.await.unwrap().unwrap();
        assert_eq!(ids(&path).await, vec![1, 7]);
    }

    /// Micro-benchmark (not a test of behaviour): many concurrent single-row writes
    /// through the group writer vs one `BEGIN IMMEDIATE … COMMIT` per write on one
    /// pooled connection (today's path), both `synchronous=FULL` on the same disk.
    ///
    /// `GROUP_BENCH_DIR=/path GROUP_BENCH_WRITES=4000 GROUP_BENCH_CALLERS=64 cargo test
    /// --release -p latchkey-store-sqlite group::tests::group_commit_throughput --
    /// --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: run by hand, as the doc comment above says"]
    async fn group_commit_throughput() {
        let env = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let writes = env("GROUP_BENCH_WRITES", 4000);
        let callers = env("GROUP_BENCH_CALLERS", 64);
        let max_batch = env("GROUP_BENCH_MAX_BATCH", DEFAULT_MAX_BATCH);
        let base = std::env::var("GROUP_BENCH_DIR").unwrap_or_else(|_| ".".into());
        let dir = tempfile::tempdir_in(base).unwrap();
        // Process CPU (all threads, kernel included: the fsync's work is CPU too), in
        // seconds, from /proc/self/stat; 0 where there is none.
        let cpu = || {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<f64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
        };

        // Today's path: one transaction per write on a one-connection pool.
        let path = dir.path().join("single.db");
        drop(setup(&path).await);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(&path))
            .await
            .unwrap();
        let (t, c0) = (std::time::Instant::now(), cpu());
        let per = writes / callers;
        let mut hs = Vec::new();
        for c in 0..callers {
            let pool = pool.clone();
            hs.push(tokio::spawn(async move {
                for i in 0..per {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                    sqlx::query("INSERT INTO parent (id) VALUES (?)")
                        .bind((c * per + i) as i64)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let (single, single_cpu) = (t.elapsed(), cpu() - c0);

        let path = dir.path().join("group.db");
        let gen = Arc::new(AtomicU64::new(0));
        let (w, _task) =
            GroupWriter::spawn(setup(&path).await, counters(&gen), max_batch, claim_keys);
        let (t, c0) = (std::time::Instant::now(), cpu());
        let mut hs = Vec::new();
        for c in 0..callers {
            let w = w.clone();
            hs.push(tokio::spawn(async move {
                for i in 0..per {
                    w.run("row", insert((c * per + i) as i64)).await.unwrap();
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        let (group, group_cpu) = (t.elapsed(), cpu() - c0);
        let n = (per * callers) as f64;
        let commits = gen.load(Ordering::Acquire);
        println!(
            "group-commit bench: {} writes, {callers} concurrent callers, synchronous=FULL, dir {}",
            per * callers,
            dir.path().display()
        );
        println!(
            "  one transaction per write: {:>8.0} writes/s ({:.2} s, {:.0} µs CPU/write)",
            n / single.as_secs_f64(),
            single.as_secs_f64(),
            single_cpu * 1e6 / n
        );
        println!(
            "  group commit (max {max_batch}):   {:>8.0} writes/s ({:.2} s, {:.0} µs CPU/write, {commits} commits, {:.1} writes/commit)",
            n / group.as_secs_f64(),
            group.as_secs_f64(),
            group_cpu * 1e6 / n,
            n / commits.max(1) as f64
        );
        println!(
            "  speed-up: {:.1}×",
            single.as_secs_f64() / group.as_secs_f64()
        );
    }
}
