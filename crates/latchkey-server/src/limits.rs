//! Brute-force protection (catalogue HD-09, DV-07, F-13, AD-40…): failures are counted
//! per key (an address, an account at an address, a sign-in) in a sliding window; past
//! the limit the key is blocked with a delay that doubles on each further block.
//!
//! Limits hold under concurrency: an attempt is *reserved* before the password or code
//! is checked ([`FailureLimiter::reserve`]) and counts as a failure unless the check
//! succeeds, so a burst of N concurrent wrong passwords gets at most the allowed number
//! evaluated, whatever N is; client secrets (a hash comparison, no await) are checked and
//! counted under one lock ([`FailureLimiter`] is the core's [`FailureGate`]).
//!
//! Time is the core's [`Clock`] (milliseconds), so tests drive the limiters with a
//! `FixedClock` instead of sleeping.
//!
//! The rules are runtime settings (`latchkey_core::settings`): [`Limits::apply`] puts
//! the values in force into the limiters before each request that may count a failure.
//!
//! Also here: [`SecurityCounts`], the counted security events for floods of anonymous
//! refusals (one audit row per kind and source per flush, not one per request), and
//! [`PasswordPool`], which keeps argon2 off the async workers.

use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::PasswordVerifier;
use latchkey_core::model::NewAuditEvent;
use latchkey_core::oauth::client_auth::FailureGate;
use latchkey_core::settings::{LimitRule, ServerSettings};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub max_failures: u32,
    pub window: Duration,
    pub base_block: Duration,
}

impl From<LimitRule> for Rule {
    /// The settings are validated to positive, bounded values; anything else is
    /// clamped rather than trusted (a limit of 0 would block every first failure).
    fn from(r: LimitRule) -> Self {
        let secs = |v: i64| Duration::from_secs(v.clamp(1, 7 * 24 * 3600) as u64);
        Rule {
            max_failures: r.max_failures.clamp(1, i64::from(u32::MAX)) as u32,
            window: secs(r.window),
            base_block: secs(r.block),
        }
    }
}

#[derive(Default)]
struct Entry {
    failures: u32,
    /// Reserved attempts not yet resolved: they count as failures until they succeed.
    in_flight: u32,
    window_start: i64,
    blocked_until: Option<i64>,
    strikes: u32,
}

/// Keys for an address alone (`ip:…`) are never cleared by a success: an attacker's
/// own good sign-ins must not reset the count of the guesses sprayed from there.
fn resets_on_success(key: &str) -> bool {
    !key.starts_with("ip:")
}

pub struct FailureLimiter {
    rule: RwLock<Rule>,
    map: Mutex<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
    evaluated: AtomicU64,
}

/// Seconds to wait, rounded up: a client told to wait 1 s when 1.9 s remain would
/// retry too early.
fn wait_secs(ms: i64) -> u64 {
    ((ms.max(0) as u64).div_ceil(1000)).max(1)
}

impl FailureLimiter {
    pub fn new(rule: Rule) -> Self {
        Self::with_clock(rule, Arc::new(SystemClock))
    }

    pub fn with_clock(rule: Rule, clock: Arc<dyn Clock>) -> Self {
        Self {
            rule: RwLock::new(rule),
            map: Mutex::new(HashMap::new()),
            clock,
            evaluated: AtomicU64::new(0),
        }
    }

    pub fn rule(&self) -> Rule {
        *self.rule.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the rule. Counts and blocks already running are kept: a key blocked
    /// under the old rule stays blocked until its time is up.
    pub fn set_rule(&self, rule: Rule) {
        // Checked under the read lock first: this runs before every request.
        if self.rule() != rule {
            *self.rule.write().unwrap_or_else(|e| e.into_inner()) = rule;
        }
    }

    /// How many checks this limiter let through (reserved attempts and gated
    /// comparisons): what a burst actually got evaluated.
    pub fn evaluated(&self) -> u64 {
        self.evaluated.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds to wait if `key` is blocked now.
    pub fn blocked(&self, key: &str) -> Option<u64> {
        let now = self.clock.now_millis();
        let map = self.lock();
        let until = map.get(key)?.blocked_until?;
        (until > now).then(|| wait_secs(until - now))
    }

    /// Why `key` may not be tried now: blocked, or its allowance already taken by
    /// attempts in flight. `None`: one more may be tried.
    fn refusal(e: &Entry, rule: &Rule, now: i64) -> Option<u64> {
        if let Some(until) = e.blocked_until.filter(|u| *u > now) {
            return Some(wait_secs(until - now));
        }
        // `max_failures` are tolerated and the next one crosses the limit: that many
        // plus one may be under evaluation or failed in this window, no more.
        (e.failures + e.in_flight > rule.max_failures)
            .then(|| wait_secs(rule.base_block.as_millis() as i64))
    }

    fn entry<'m>(
        map: &'m mut HashMap<String, Entry>,
        key: &str,
        rule: &Rule,
        now: i64,
    ) -> &'m mut Entry {
        let e = map.entry(key.to_string()).or_insert_with(|| Entry {
            window_start: now,
            ..Entry::default()
        });
        if e.blocked_until.is_some_and(|u| u <= now) {
            e.blocked_until = None;
        }
        if now - e.window_start > rule.window.as_millis() as i64 {
            e.failures = 0;
            e.window_start = now;
        }
        e
    }

    fn bound_memory(map: &mut HashMap<String, Entry>, now: i64) {
        if map.len() > 100_000 {
            // Bound memory under a spray from many addresses: forget settled entries.
            map.retain(|_, e| e.in_flight > 0 || e.blocked_until.is_some_and(|u| u > now));
        }
    }

    /// Counts one failure on an entry; the block in seconds if it crossed the limit.
    fn count_failure(e: &mut Entry, rule: &Rule, now: i64) -> Option<u64> {
        e.failures += 1;
        if e.failures > rule.max_failures {
            e.strikes = (e.strikes + 1).min(10);
            let block = rule.base_block * 2u32.pow(e.strikes - 1);
            e.blocked_until = Some(now + block.as_millis() as i64);
            e.failures = 0;
            e.window_start = now;
            return Some(block.as_secs().max(1));
        }
        None
    }

    /// Checks and counts in one step, before anything is verified: either every key
    /// may take one more attempt and each now holds one in flight (the returned
    /// [`Attempt`] counts as a failure unless [`Attempt::succeeded`] is called), or the
    /// wait in seconds of the key that refuses.
    pub fn reserve(&self, keys: &[String]) -> Result<Attempt<'_>, u64> {
        let rule = self.rule();
        let now = self.clock.now_millis();
        let mut map = self.lock();
        Self::bound_memory(&mut map, now);
        let mut wait = None;
        for k in keys {
            let e = Self::entry(&mut map, k, &rule, now);
            wait = wait.max(Self::refusal(e, &rule, now));
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for k in keys {
            Self::entry(&mut map, k, &rule, now).in_flight += 1;
        }
        self.evaluated.fetch_add(1, Ordering::SeqCst);
        Ok(Attempt {
            limiter: self,
            keys: keys.to_vec(),
            done: false,
        })
    }

    fn resolve(&self, keys: &[String], failed: bool) -> Option<u64> {
        let rule = self.rule();
        let now = self.clock.now_millis();
        let mut map = self.lock();
        let mut blocked = None;
        for k in keys {
            let e = Self::entry(&mut map, k, &rule, now);
            e.in_flight = e.in_flight.saturating_sub(1);
            if failed {
                blocked = blocked.max(Self::count_failure(e, &rule, now));
            } else if resets_on_success(k) && e.blocked_until.is_none() {
                e.failures = 0;
            }
        }
        blocked
    }

    /// Records a failure; returns the block in seconds if this failure crossed the limit.
    /// For refusals that are counted after the fact (malformed requests, admin API
    /// credentials): nothing secret is being guessed, the limit only bounds the work.
    pub fn fail(&self, key: &str) -> Option<u64> {
        let rule = self.rule();
        let now = self.clock.now_millis();
        let mut map = self.lock();
        Self::bound_memory(&mut map, now);
        let e = Self::entry(&mut map, key, &rule, now);
        Self::count_failure(e, &rule, now)
    }

    pub fn succeed(&self, key: &str) {
        let mut map = self.lock();
        if map
            .get(key)
            .is_some_and(|e| e.blocked_until.is_none() && e.in_flight == 0)
        {
            map.remove(key);
        }
    }
}

impl FailureGate for FailureLimiter {
    /// The comparison runs under the limiter's lock, so concurrent guesses are
    /// evaluated one after the other and none is evaluated past the limit.
    fn evaluate(&self, key: &str, check: &mut dyn FnMut() -> bool) -> Result<bool, u64> {
        let rule = self.rule();
        let now = self.clock.now_millis();
        let mut map = self.lock();
        Self::bound_memory(&mut map, now);
        let e = Self::entry(&mut map, key, &rule, now);
        if let Some(w) = Self::refusal(e, &rule, now) {
            return Err(w);
        }
        self.evaluated.fetch_add(1, Ordering::SeqCst);
        let ok = check();
        if !ok {
            Self::count_failure(e, &rule, now);
        }
        Ok(ok)
    }

    fn blocked(&self, key: &str) -> Option<u64> {
        FailureLimiter::blocked(self, key)
    }
}

/// A reserved attempt: a failure unless it succeeds (also when the request is
/// dropped half-way, e.g. the client hung up during the password check).
pub struct Attempt<'a> {
    limiter: &'a FailureLimiter,
    keys: Vec<String>,
    done: bool,
}

impl Attempt<'_> {
    /// The check failed: counted; the block in seconds if this crossed the limit.
    pub fn failed(mut self) -> Option<u64> {
        self.done = true;
        self.limiter.resolve(&self.keys, true)
    }

    /// The check succeeded: the reservation is released and the account's count
    /// cleared (never an address's).
    pub fn succeeded(mut self) {
        self.done = true;
        self.limiter.resolve(&self.keys, false);
    }

    /// Neither (e.g. the store was unavailable): released, nothing counted.
    pub fn released(mut self) {
        self.done = true;
        let rule = self.limiter.rule();
        let now = self.limiter.clock.now_millis();
        let mut map = self.limiter.lock();
        for k in &self.keys {
            let e = FailureLimiter::entry(&mut map, k, &rule, now);
            e.in_flight = e.in_flight.saturating_sub(1);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.limiter.resolve(&self.keys, true);
        }
    }
}

/// Security events counted instead of written one by one: a flood of anonymous
/// refusals (requests answered 429, failed admin API credentials) becomes one audit
/// row per kind, source and minute per flush, each carrying its count.
#[derive(Default)]
pub struct SecurityCounts {
    map: Mutex<HashMap<(String, String, i64), Counted>>,
}

struct Counted {
    count: u64,
    first_at: i64,
    last_at: i64,
}

/// Past this many distinct (kind, source) pairs between two flushes, new sources are
/// folded into one `*` source, so a spray from many addresses stays a bounded write.
const COUNTED_KEYS_MAX: usize = 1000;

impl SecurityCounts {
    /// `action` is taken owned: callers build it (`SecurityFamily::action`) and it
    /// becomes the key as it is.
    pub fn count(&self, action: impl Into<String>, source: &str, now: i64) {
        let minute = now - now.rem_euclid(60);
        let mut key = (action.into(), source.chars().take(64).collect(), minute);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= COUNTED_KEYS_MAX && !map.contains_key(&key) {
            key.1 = "*".into();
        }
        let c = map.entry(key).or_insert(Counted {
            count: 0,
            first_at: now,
            last_at: now,
        });
        c.count += 1;
        c.last_at = now;
    }

    /// The counts since the previous call, as audit events to write.
    pub fn take(&self) -> Vec<NewAuditEvent> {
        let map = std::mem::take(&mut *self.map.lock().unwrap_or_else(|e| e.into_inner()));
        map.into_iter()
            .map(|((action, source, minute), c)| {
                NewAuditEvent::new(c.last_at, "anonymous", action)
                    .ip((source != "*").then_some(source))
                    .after(&serde_json::json!({
                        "count": c.count,
                        "minute": minute,
                        "first_at": c.first_at,
                        "last_at": c.last_at,
                    }))
                    .security()
            })
            .collect()
    }

    /// Puts back events whose write failed, for the next flush.
    pub fn restore(&self, events: Vec<NewAuditEvent>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for ev in events {
            let v: serde_json::Value = ev
                .after
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
            let key = (ev.action, ev.ip.unwrap_or_else(|| "*".into()), n("minute"));
            let c = map.entry(key).or_insert(Counted {
                count: 0,
                first_at: n("first_at"),
                last_at: n("last_at"),
            });
            c.count += n("count").max(0) as u64;
        }
    }
}

/// argon2id off the async workers: on the blocking pool, at most one verification
/// per core at a time, so a burst of sign-ins queues here instead of stalling `/jwks`
/// and `/token` on the runtime's few worker threads.
pub struct PasswordPool {
    permits: Arc<tokio::sync::Semaphore>,
}

impl PasswordPool {
    pub fn new(size: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(size.max(1))),
        }
    }

    /// Sized to the machine's cores.
    pub fn for_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The permits, so tests can hold them all and show the rest of the server
    /// still answers.
    pub fn permits(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.permits
    }
}

#[async_trait::async_trait]
impl PasswordVerifier for PasswordPool {
    async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            latchkey_core::crypto::verify_or_burn(&password, phc.as_deref())
        })
        .await
        .unwrap_or(false)
    }
}

/// The limiters of one server.
pub struct Limits {
    pub login: FailureLimiter,
    pub client_auth: Arc<FailureLimiter>,
    pub device_code: FailureLimiter,
    /// Failed admin API credentials, per address: [`admin_rule`].
    pub admin_auth: FailureLimiter,
}

/// The admin API's rule: the client-authentication one with ten times the failures.
/// Admin credentials are 256-bit keys or signed tokens, not guessable; the limit bounds
/// the work and the rows a flood causes, and a console or script that fires a few dozen
/// stale credentials at once is not locked out by it.
pub fn admin_rule(settings: &ServerSettings) -> Rule {
    let mut r: Rule = settings.client_auth_limit().into();
    r.max_failures = r.max_failures.saturating_mul(10);
    r
}

impl Limits {
    pub fn new(settings: &ServerSettings) -> Self {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    pub fn with_clock(settings: &ServerSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            login: FailureLimiter::with_clock(settings.login_limit().into(), clock.clone()),
            client_auth: Arc::new(FailureLimiter::with_clock(
                settings.client_auth_limit().into(),
                clock.clone(),
            )),
            device_code: FailureLimiter::with_clock(
                settings.device_code_limit().into(),
                clock.clone(),
            ),
            admin_auth: FailureLimiter::with_clock(admin_rule(settings), clock),
        }
    }

    /// Puts the rules of `settings` in force.
    pub fn apply(&self, settings: &ServerSettings) {
        self.login.set_rule(settings.login_limit().into());
        self.client_auth
            .set_rule(settings.client_auth_limit().into());
        self.device_code
            .set_rule(settings.device_code_limit().into());
        self.admin_auth.set_rule(admin_rule(settings));
    }
}

impl Default for Limits {
    /// The built-in limits (HD-09, DV-07): see `ServerSettings::default`.
    fn default() -> Self {
        Self::new(&ServerSettings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::clock::FixedClock;

    fn limiter(max: u32, block: u64) -> (FailureLimiter, FixedClock) {
        let clock = FixedClock::new(1_000_000);
        let l = FailureLimiter::with_clock(
            Rule {
                max_failures: max,
                window: Duration::from_secs(60),
                base_block: Duration::from_secs(block),
            },
            Arc::new(clock.clone()),
        );
        (l, clock)
    }

    #[test]
    fn the_limit_blocks_only_after_the_allowed_failures_and_then_doubles() {
        let (l, clock) = limiter(2, 10);
        assert_eq!(l.fail("ip"), None);
        assert_eq!(l.fail("ip"), None);
        assert!(l.blocked("ip").is_none());
        assert_eq!(l.fail("ip"), Some(10));
        assert_eq!(l.blocked("ip"), Some(10));
        assert!(l.blocked("other").is_none());
        clock.advance(9);
        assert_eq!(l.blocked("ip"), Some(1));
        clock.advance(1);
        assert!(l.blocked("ip").is_none(), "the first block is over");
        l.fail("ip");
        l.fail("ip");
        assert_eq!(
            l.fail("ip"),
            Some(20),
            "the second block lasts twice as long"
        );
    }

    #[test]
    fn a_new_rule_applies_to_the_next_failure() {
        let (l, _) = limiter(5, 10);
        assert_eq!(l.fail("ip"), None);
        l.set_rule(Rule {
            max_failures: 1,
            window: Duration::from_secs(60),
            base_block: Duration::from_secs(7),
        });
        assert_eq!(l.fail("ip"), Some(7));
    }

    #[test]
    fn reserved_attempts_count_before_they_are_resolved() {
        let (l, _) = limiter(2, 10);
        let keys = ["user:a@ip:x".to_string(), "ip:x".to_string()];
        let held: Vec<_> = (0..3).map(|_| l.reserve(&keys).unwrap()).collect();
        assert!(
            l.reserve(&keys).is_err(),
            "a fourth is refused while three are out"
        );
        assert_eq!(l.evaluated(), 3);
        let blocks: Vec<_> = held.into_iter().map(Attempt::failed).collect();
        assert_eq!(blocks.iter().flatten().count(), 1, "{blocks:?}");
        assert!(l.blocked("ip:x").is_some());
    }

    #[test]
    fn a_dropped_attempt_is_a_failure_and_a_success_clears_the_account_not_the_address() {
        let (l, _) = limiter(3, 10);
        let keys = ["user:a@ip:x".to_string(), "ip:x".to_string()];
        drop(l.reserve(&keys).unwrap());
        l.reserve(&keys).unwrap().failed();
        l.reserve(&keys).unwrap().succeeded();
        let map = l.lock();
        assert_eq!(map["user:a@ip:x"].failures, 0);
        assert_eq!(map["ip:x"].failures, 2);
        assert_eq!(map["ip:x"].in_flight, 0);
    }

    #[test]
    fn a_window_that_has_passed_forgets_the_failures() {
        let (l, clock) = limiter(2, 10);
        l.fail("k");
        l.fail("k");
        clock.advance(61);
        assert_eq!(l.fail("k"), None);
        assert_eq!(l.fail("k"), None);
    }

    #[test]
    fn gated_comparisons_stop_at_the_limit() {
        let (l, _) = limiter(2, 10);
        let mut runs = 0;
        for _ in 0..10 {
            let _ = FailureGate::evaluate(&l, "ip:x", &mut || {
                runs += 1;
                false
            });
        }
        assert_eq!(runs, 3);
    }

    #[test]
    fn counted_events_fold_a_flood_into_one_row_per_kind_and_source() {
        let c = SecurityCounts::default();
        for i in 0..2000 {
            c.count("security.rate_limited.token", "10.0.0.1", 600 + i % 30);
        }
        c.count("security.admin_auth_failed", "10.0.0.2", 610);
        let rows = c.take();
        assert_eq!(rows.len(), 2);
        let flood = rows
            .iter()
            .find(|r| r.action == "security.rate_limited.token")
            .unwrap();
        assert!(flood.after.as_deref().unwrap().contains("\"count\":2000"));
        assert!(c.take().is_empty());
        c.restore(rows);
        assert_eq!(c.take().len(), 2);
    }
}
