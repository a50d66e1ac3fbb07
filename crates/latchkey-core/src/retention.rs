//! Retention (issue 16): the leader's clean-up deletes what ended long enough ago —
//! revoked and expired sessions (their refresh tokens and access-token records with
//! them), ended sign-ins, and audit events with the per-minute issuance counts — after
//! the runtime settings `retain_sessions`, `retain_signins` and `retain_audit`.
//!
//! Owns: the cutoffs and the batching. Each store call is one short transaction of at
//! most [`BATCH`] rows, so a large backlog (the first run on a year-old database) never
//! holds SQLite's write lock for long: token issuance queues behind one batch at most.
//! A run stops after [`MAX_BATCHES`] per kind; the next run (a minute later) goes on.
//!
//! Does not own: the statements (`latchkey-store-sql`) or the schedule (the server's
//! leader job). Never touches a live row: only rows that ended are candidates, and the
//! cutoffs are at least a day back (the settings' bounds).

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::settings::ServerSettings;
use crate::store::Store;

/// Rows per transaction.
pub const BATCH: u32 = 500;
/// Batches per kind and run: 50 000 rows of each a minute is far above what any server
/// writes, so a backlog still shrinks, while one run stays short.
pub const MAX_BATCHES: u32 = 100;

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub sessions: u64,
    pub sign_ins: u64,
    pub audit: u64,
    pub batches: u32,
}

/// The instants before which each kind goes, at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub sessions: Timestamp,
    pub sign_ins: Timestamp,
    pub audit: Timestamp,
}

impl Cutoffs {
    pub fn at(settings: &ServerSettings, now: Timestamp) -> Cutoffs {
        Cutoffs {
            sessions: now - settings.retain_sessions,
            sign_ins: now - settings.retain_signins,
            audit: now - settings.retain_audit,
        }
    }
}

/// One retention run at `now`.
pub async fn apply(
    store: &dyn Store,
    settings: &ServerSettings,
    now: Timestamp,
) -> Result<RetentionReport, StoreError> {
    let cut = Cutoffs::at(settings, now);
    let mut report = RetentionReport::default();
    let full = u64::from(BATCH);
    for _ in 0..MAX_BATCHES {
        let n = store.sessions_purge_ended(cut.sessions, BATCH).await?;
        report.sessions += n;
        report.batches += 1;
        if n < full {
            break;
        }
    }
    for _ in 0..MAX_BATCHES {
        let n = store.sign_ins_purge_ended(cut.sign_ins, BATCH).await?;
        report.sign_ins += n;
        report.batches += 1;
        if n < full {
            break;
        }
    }
    for _ in 0..MAX_BATCHES {
        let n = store.audit_purge_before(cut.audit, BATCH).await?;
        report.audit += n;
        report.batches += 1;
        if n < full {
            break;
        }
    }
    Ok(report)
}
