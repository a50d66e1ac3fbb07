//! Brute-force protection (catalogue HD-09, DV-07, F-13): failures are counted per key
//! (an IP, an account, a client) in a sliding window; past the limit the key is blocked
//! with a delay that doubles on each further block. Successes are never throttled, so
//! legitimate load (and the benchmarks) pass untouched.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub max_failures: u32,
    pub window: Duration,
    pub base_block: Duration,
}

struct Entry {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    strikes: u32,
}

pub struct FailureLimiter {
    rule: Rule,
    map: Mutex<HashMap<String, Entry>>,
}

impl FailureLimiter {
    pub fn new(rule: Rule) -> Self {
        Self {
            rule,
            map: Mutex::new(HashMap::new()),
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
        if now.duration_since(e.window_start) > self.rule.window {
            e.failures = 0;
            e.window_start = now;
        }
        e.failures += 1;
        if e.failures > self.rule.max_failures {
            e.strikes = (e.strikes + 1).min(10);
            let block = self.rule.base_block * 2u32.pow(e.strikes - 1);
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

impl Default for Limits {
    fn default() -> Self {
        Self {
            // 10 wrong passwords per IP or account in 5 minutes.
            login: FailureLimiter::new(Rule {
                max_failures: 10,
                window: Duration::from_secs(300),
                base_block: Duration::from_secs(30),
            }),
            // 20 failed client authentications per IP or client in a minute.
            client_auth: FailureLimiter::new(Rule {
                max_failures: 20,
                window: Duration::from_secs(60),
                base_block: Duration::from_secs(30),
            }),
            // DV-07: 5 wrong user codes per IP or browser in a minute; the 6th is refused.
            device_code: FailureLimiter::new(Rule {
                max_failures: 5,
                window: Duration::from_secs(60),
                base_block: Duration::from_secs(60),
            }),
        }
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
}
