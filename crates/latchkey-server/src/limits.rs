//! Brute-force protection (catalogue HD-09, DV-07, F-13): failures are counted per key
//! (an IP, an account, a client) in a sliding window; past the limit the key is blocked
//! with a delay that doubles on each further block. Successes are never throttled, so
//! legitimate load (and the benchmarks) pass untouched.
//!
//! The rules are runtime settings (`latchkey_core::settings`): [`Limits::apply`] puts
//! the values in force into the limiters before each request that may count a failure.

use latchkey_core::settings::{LimitRule, ServerSettings};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

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

struct Entry {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    strikes: u32,
}

pub struct FailureLimiter {
    rule: RwLock<Rule>,
    map: Mutex<HashMap<String, Entry>>,
}

impl FailureLimiter {
    pub fn new(rule: Rule) -> Self {
        Self {
            rule: RwLock::new(rule),
            map: Mutex::new(HashMap::new()),
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

    /// Seconds to wait if `key` is blocked now.
    pub fn blocked(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let map = self.map.lock().ok()?;
        let until = map.get(key)?.blocked_until?;
        // Rounded up: a client told to wait 1 s when 1.9 s remain would retry too early.
        (until > now).then(|| (until - now).as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Records a failure; returns the block in seconds if this failure crossed the limit.
    pub fn fail(&self, key: &str) -> Option<u64> {
        let rule = self.rule();
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        if map.len() > 100_000 {
            // Bound memory under a spray from many addresses: forget settled entries.
            map.retain(|_, e| e.blocked_until.is_some_and(|u| u > now));
        }
        let e = map.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            window_start: now,
            blocked_until: None,
            strikes: 0,
        });
        if now.duration_since(e.window_start) > rule.window {
            e.failures = 0;
            e.window_start = now;
        }
        e.failures += 1;
        if e.failures > rule.max_failures {
            e.strikes = (e.strikes + 1).min(10);
            let block = rule.base_block * 2u32.pow(e.strikes - 1);
            e.blocked_until = Some(now + block);
            e.failures = 0;
            e.window_start = now;
            return Some(block.as_secs().max(1));
        }
        None
    }

    pub fn succeed(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            if map.get(key).is_some_and(|e| e.blocked_until.is_none()) {
                map.remove(key);
            }
        }
    }
}

/// The limiters of one server.
pub struct Limits {
    pub login: FailureLimiter,
    pub client_auth: FailureLimiter,
    pub device_code: FailureLimiter,
}

impl Limits {
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            login: FailureLimiter::new(settings.login_limit().into()),
            client_auth: FailureLimiter::new(settings.client_auth_limit().into()),
            device_code: FailureLimiter::new(settings.device_code_limit().into()),
        }
    }

    /// Puts the rules of `settings` in force.
    pub fn apply(&self, settings: &ServerSettings) {
        self.login.set_rule(settings.login_limit().into());
        self.client_auth
            .set_rule(settings.client_auth_limit().into());
        self.device_code
            .set_rule(settings.device_code_limit().into());
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

    #[test]
    fn the_limit_blocks_only_after_the_allowed_failures_and_then_doubles() {
        let l = FailureLimiter::new(Rule {
            max_failures: 2,
            window: Duration::from_secs(60),
            base_block: Duration::from_secs(10),
        });
        assert_eq!(l.fail("ip"), None);
        assert_eq!(l.fail("ip"), None);
        assert!(l.blocked("ip").is_none());
        assert_eq!(l.fail("ip"), Some(10));
        assert!(l.blocked("ip").is_some());
        assert!(l.blocked("other").is_none());
        l.fail("ip");
        l.fail("ip");
        assert_eq!(l.fail("ip"), Some(20));
    }

    #[test]
    fn a_new_rule_applies_to_the_next_failure() {
        let l = FailureLimiter::new(Rule {
            max_failures: 5,
            window: Duration::from_secs(60),
            base_block: Duration::from_secs(10),
        });
        assert_eq!(l.fail("ip"), None);
        l.set_rule(Rule {
            max_failures: 1,
            window: Duration::from_secs(60),
            base_block: Duration::from_secs(7),
        });
        assert_eq!(l.fail("ip"), Some(7));
    }
}
