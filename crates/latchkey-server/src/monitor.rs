//! The detections, run off the request path (issue 14), and the block list the request
//! path checks.
//!
//! Handlers [`Monitor::report`] what happened (a failed or successful sign-in, a failed
//! client authentication) into a bounded queue and move on: a full queue drops the
//! signal and counts it (`security.monitor_overflow`), it never makes a request wait. A
//! background task ([`Monitor::run`]) feeds the queue to the core's
//! [`Detector`](latchkey_core::monitor::Detector) and writes what it raises: the finding
//! (the store keeps one per rule, subject and episode across nodes), a
//! `security.finding_raised.<rule>` event for the live feed, and in enforce mode the
//! block.
//!
//! Blocks are checked on every sign-in and token-endpoint request against a snapshot
//! ([`BlockSet`]) reloaded at most once a second on the engine's clock, or at once after
//! this process changed the list, so the check itself is a hash probe.

use latchkey_api_types::SecurityFamily;
use latchkey_core::clock::Timestamp;
use latchkey_core::monitor::{BlockSet, Detector, Signal};
use latchkey_core::oauth::Provider;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, Notify};

/// Signals waiting for the detector, at most. A burst past this is dropped and counted:
/// detections are evidence, not a gate; the limiters still stop the burst itself.
pub const QUEUE: usize = 4096;
/// The block list is re-read at most this often (milliseconds of the engine's clock), so
/// a block added by another node or process applies here within a second.
const BLOCKS_MAX_AGE_MS: i64 = 1000;
/// Findings are kept 90 days, and at most this many (the lead node trims them).
pub const FINDINGS_KEEP: i64 = 10_000;
pub const FINDINGS_MAX_AGE: i64 = 90 * 24 * 3600;

struct Snapshot {
    set: Arc<BlockSet>,
    loaded_at_ms: i64,
    generation: u64,
}

pub struct Monitor {
    tx: mpsc::Sender<(Signal, Timestamp)>,
    rx: tokio::sync::Mutex<mpsc::Receiver<(Signal, Timestamp)>>,
    wake: Notify,
    detector: Mutex<Detector>,
    overflow: AtomicU64,
    processed: AtomicU64,
    blocks: RwLock<Snapshot>,
    /// Moves when this process changes the list: the next check re-reads it.
    generation: AtomicU64,
    reloading: tokio::sync::Mutex<()>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self::new()
    }
}

impl Monitor {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Monitor {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            wake: Notify::new(),
            detector: Mutex::new(Detector::new()),
            overflow: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            blocks: RwLock::new(Snapshot {
                set: Arc::new(BlockSet::default()),
                loaded_at_ms: i64::MIN,
                generation: u64::MAX,
            }),
            generation: AtomicU64::new(0),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Queues a signal for the detections; never waits. False: the queue was full and
    /// the signal was dropped (counted in [`Monitor::overflow`]).
    pub fn report(&self, signal: Signal, at: Timestamp) -> bool {
        match self.tx.try_send((signal, at)) {
            Ok(()) => {
                self.wake.notify_one();
                true
            }
            Err(_) => {
                self.overflow.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Signals dropped because the queue was full.
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Signals the detector has seen.
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    /// Findings the detector did not raise because of its per-minute cap.
    pub fn suppressed(&self) -> u64 {
        self.detector
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .suppressed()
    }

    /// Makes the next block check re-read the list (after a change by this process).
    pub fn invalidate_blocks(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs the detector over every queued signal now and writes what it raises. The
    /// background task calls this when woken; tests call it to process what they sent
    /// without waiting for the task.
    pub async fn drain(&self, provider: &Provider) {
        let mut rx = self.rx.lock().await;
        while let Ok((signal, at)) = rx.try_recv() {
            self.process(provider, &signal, at).await;
        }
    }

    async fn process(&self, provider: &Provider, signal: &Signal, at: Timestamp) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        let settings = match provider.settings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "detections skipped a signal: settings unavailable");
                return;
            }
        };
        let raises = self
            .detector
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(signal, at, &settings);
        for r in raises {
            let f = &r.finding;
            match provider.store.finding_raise(f, r.merge_after).await {
                Ok(true) => {
                    tracing::warn!(rule = %f.rule, severity = %f.severity, subject_kind = %f.subject_kind, subject = %f.subject, "finding raised");
                    provider
                        .security_event(
                            "detection",
                            SecurityFamily::FindingRaised,
                            Some(&f.rule),
                            Some(&f.id),
                            None,
                        )
                        .await;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, rule = %f.rule, "recording a finding failed"),
            }
            if let Some(b) = &r.block {
                match provider.store.block_put(b, None).await {
                    Ok(()) => self.invalidate_blocks(),
                    Err(e) => tracing::warn!(error = %e, "recording a block failed"),
                }
            }
        }
    }

    /// The background task: processes signals as they arrive, until `stop` flips.
    pub async fn run(
        self: Arc<Self>,
        provider: Arc<Provider>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            self.drain(&provider).await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }

    /// Seconds to wait if `addr` (or `principal` from there) is blocked now. Re-reads
    /// the list when it is older than a second or this process changed it; a failed
    /// read keeps the previous list (a store outage must not open or shut every door).
    pub async fn blocked(
        &self,
        provider: &Provider,
        addr: IpAddr,
        principal: Option<&str>,
    ) -> Option<u64> {
        let now_ms = provider.clock.now_millis();
        let generation = self.generation.load(Ordering::SeqCst);
        let set = {
            let s = self.blocks.read().unwrap_or_else(|e| e.into_inner());
            let age = now_ms.saturating_sub(s.loaded_at_ms);
            if s.generation == generation && (0..BLOCKS_MAX_AGE_MS).contains(&age) {
                Some(s.set.clone())
            } else {
                None
            }
        };
        let set = match set {
            Some(s) => s,
            None => self.reload(provider, now_ms, generation).await,
        };
        set.check(addr, principal, now_ms.div_euclid(1000))
    }

    async fn reload(&self, provider: &Provider, now_ms: i64, generation: u64) -> Arc<BlockSet> {
        let current = || {
            self.blocks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .set
                .clone()
        };
        // One request re-reads; the others meanwhile use the list they have.
        let Ok(_guard) = self.reloading.try_lock() else {
            return current();
        };
        match provider.store.blocks_list(now_ms.div_euclid(1000)).await {
            Ok(list) => {
                let set = Arc::new(BlockSet::new(&list));
                *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = Snapshot {
                    set: set.clone(),
                    loaded_at_ms: now_ms,
                    generation,
                };
                set
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the block list failed; using the previous one");
                current()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Signal {
        Signal::SignInFailed {
            username: "alice".into(),
            addr: "192.0.2.1".parse().unwrap(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_the_signal_instead_of_making_the_request_wait() {
        let m = Monitor::new();
        for i in 0..QUEUE {
            assert!(m.report(failed(), i as Timestamp));
        }
        assert!(!m.report(failed(), 0));
        assert!(!m.report(failed(), 0));
        assert_eq!(m.overflow(), 2);
        assert_eq!(
            m.processed(),
            0,
            "nothing is evaluated on the caller's side"
        );
    }
}
