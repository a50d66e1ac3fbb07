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
use latchkey_core::monitor::{self as rules, BlockSet, Detector, Raise, Signal};
use latchkey_core::oauth::Provider;
use latchkey_core::settings::ServerSettings;
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
    /// The scheduled detections (3, 7, 9): the minute, hour slice and day each last
    /// ran for on this node (the store's `dedup_key` makes the findings once across
    /// nodes whichever node runs first).
    schedule: tokio::sync::Mutex<Schedule>,
}

#[derive(Debug, Default)]
struct Schedule {
    wave_minute: Option<Timestamp>,
    mint_minute: Option<Timestamp>,
    hygiene_day: Option<Timestamp>,
}

/// Seconds after a minute ends before `mint_spike` reads it: every node flushes its
/// issuance counts to the store within a few seconds.
pub const MINT_SLACK: i64 = 15;

impl rules::SignalSink for Monitor {
    fn report(&self, signal: Signal, at: Timestamp) {
        // A dropped signal is counted in `overflow`; the engine never waits.
        let _ = Monitor::report(self, signal, at);
    }
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
            schedule: tokio::sync::Mutex::new(Schedule::default()),
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
        let raises = match signal {
            Signal::RefreshReused { .. } | Signal::ClientUse { .. } | Signal::SignedIn { .. } => {
                self.with_history(provider, signal, at, &settings).await
            }
            _ => self
                .detector
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .observe(signal, at, &settings),
        };
        self.record(provider, raises).await;
    }

    /// The detections that read the store's history for one signal (4, 5, 7's first
    /// uses). A store error skips the signal: detections are evidence, not a gate.
    async fn with_history(
        &self,
        provider: &Provider,
        signal: &Signal,
        at: Timestamp,
        s: &ServerSettings,
    ) -> Vec<Raise> {
        let store = &provider.store;
        let found: Result<Option<Raise>, latchkey_core::error::StoreError> = async {
            Ok(match signal {
                Signal::RefreshReused {
                    client_id,
                    session_id,
                    token_hash,
                    addr,
                    user_agent,
                } => {
                    if s.detect_refresh_reuse_mode == latchkey_core::settings::OFF {
                        return Ok(None);
                    }
                    let ctx = store.refresh_reuse_context(token_hash).await?;
                    rules::refresh_reuse(
                        client_id,
                        session_id,
                        *addr,
                        user_agent.as_deref(),
                        ctx.as_ref(),
                        at,
                        s,
                    )
                }
                Signal::ClientUse {
                    client_id,
                    kind,
                    value,
                } => {
                    if s.detect_mint_mode == latchkey_core::settings::OFF {
                        return Ok(None);
                    }
                    match store.client_use_note(client_id, *kind, value, at).await? {
                        Some(first) => rules::mint_new_use(client_id, *kind, value, first, at, s),
                        None => None,
                    }
                }
                Signal::SignedIn {
                    sign_in_id,
                    user_id,
                    username,
                    addr,
                    user_agent,
                } => {
                    if s.detect_unfamiliar_mode == latchkey_core::settings::OFF {
                        return Ok(None);
                    }
                    let history = store
                        .sign_in_history(user_id, sign_in_id, s.detect_unfamiliar_history)
                        .await?;
                    let ip = addr.map(|a| a.to_string());
                    if !rules::is_unfamiliar(ip.as_deref(), user_agent.as_deref(), &history, s) {
                        return Ok(None);
                    }
                    store.sign_in_mark_unfamiliar(sign_in_id).await?;
                    rules::unfamiliar_sign_in(
                        sign_in_id,
                        username,
                        ip.as_deref(),
                        user_agent.as_deref(),
                        history.len(),
                        at,
                        s,
                    )
                }
                _ => None,
            })
        }
        .await;
        match found {
            Ok(r) => r.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "a detection could not read the store; signal skipped");
                Vec::new()
            }
        }
    }

    /// Runs the scheduled detections that are due at the engine's clock: `wave` once a
    /// minute, `mint_spike` once per minute that ended [`MINT_SLACK`] ago, `hygiene`
    /// once a day. They read what every node wrote to the store, so they are the same
    /// on every node; each finding is written once across nodes. The background task
    /// calls this every few seconds; tests call it after moving their fixed clock.
    pub async fn tick(&self, provider: &Provider) {
        let now = provider.now();
        let settings = match provider.settings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "scheduled detections skipped: settings unavailable");
                return;
            }
        };
        let s = &settings;
        let mut sched = self.schedule.lock().await;
        let mut raises = Vec::new();
        let minute = now.div_euclid(60) * 60;
        if s.detect_wave_mode != latchkey_core::settings::OFF && sched.wave_minute != Some(minute) {
            sched.wave_minute = Some(minute);
            let action = latchkey_api_types::SecurityFamily::LoginFailed.action(None);
            match provider
                .store
                .audit_action_counts(&action, &rules::wave_windows(now, s))
                .await
            {
                Ok(counts) => raises.extend(rules::wave(now, &counts, s)),
                Err(e) => tracing::warn!(error = %e, "wave detection could not count sign-ins"),
            }
        }
        let (mint_minute, from, to) = rules::mint_windows(now, MINT_SLACK, s);
        if s.detect_mint_mode != latchkey_core::settings::OFF
            && sched.mint_minute != Some(mint_minute)
        {
            sched.mint_minute = Some(mint_minute);
            match provider.store.mint_minutes(mint_minute, from, to).await {
                Ok(list) => raises.extend(
                    list.iter()
                        .filter_map(|m| rules::mint_spike(mint_minute, m, s)),
                ),
                Err(e) => tracing::warn!(error = %e, "mint_spike could not read the counts"),
            }
        }
        let day = now.div_euclid(24 * 3600);
        if s.detect_hygiene_mode != latchkey_core::settings::OFF && sched.hygiene_day != Some(day) {
            sched.hygiene_day = Some(day);
            let secrets = provider.store.client_secret_ages(now).await;
            let keys = provider.store.keys_list().await;
            match (secrets, keys) {
                (Ok(secrets), Ok(keys)) => raises.extend(rules::hygiene(now, &secrets, &keys, s)),
                (Err(e), _) | (_, Err(e)) => {
                    // Try again on the next tick rather than tomorrow.
                    sched.hygiene_day = None;
                    tracing::warn!(error = %e, "hygiene could not read secrets and keys");
                }
            }
        }
        // Written before the schedule is released, so a concurrent `tick` that finds
        // the work done returns after the findings are in the store.
        self.record(provider, raises).await;
        drop(sched);
    }

    /// Writes what the detections raised: the finding (once across nodes), its event,
    /// and in enforce mode the block or the revocation.
    async fn record(&self, provider: &Provider, raises: Vec<Raise>) {
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
            if let Some(user_id) = &r.revoke_user {
                let audit = latchkey_core::model::NewAuditEvent::new(
                    provider.now(),
                    format!("detection:{}", f.rule),
                    latchkey_api_types::AuditAction::SessionRevokeUser.as_str(),
                )
                .target(user_id.clone());
                if let Err(e) = provider
                    .store
                    .sessions_revoke_user(user_id, provider.now(), Some(&audit))
                    .await
                {
                    tracing::warn!(error = %e, "revoking a user's sessions failed");
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
        // The scheduled detections are looked at every few seconds of real time; what
        // is due is decided on the engine's clock (`tick`).
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.drain(&provider).await;
            let due = tokio::select! {
                _ = self.wake.notified() => false,
                _ = every.tick() => true,
                _ = stop.wait_for(|s| *s) => break,
            };
            if due {
                self.tick(&provider).await;
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
            addr: std::net::IpAddr::from([192, 0, 2, 1]),
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
