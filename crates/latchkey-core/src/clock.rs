//! Time as the engine sees it. Every expiry decision goes through [`Clock`] so tests can
//! pin time and step it (fake-clock tests for code/refresh/device expiry), and so do the
//! sub-second caches (the read caches, the key-URL cache), through [`Clock::now_millis`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Milliseconds since the Unix epoch, for caches and limits finer than a second.
    /// The default is whole seconds, so a clock that only knows seconds still drives
    /// them (coarsely) and a test clock moves both together.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock tests move by hand. Cloning shares the same instant. It keeps milliseconds,
/// so `now()` is the whole seconds of `now_millis()`.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(at.saturating_mul(1000))))
    }
    pub fn advance(&self, secs: i64) {
        self.0
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst).div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_its_seconds_and_milliseconds_together() {
        let c = FixedClock::new(1_000);
        assert_eq!((c.now(), c.now_millis()), (1_000, 1_000_000));
        c.advance_millis(999);
        assert_eq!((c.now(), c.now_millis()), (1_000, 1_000_999));
        c.advance_millis(1);
        assert_eq!(c.now(), 1_001);
        c.advance(2);
        assert_eq!((c.now(), c.now_millis()), (1_003, 1_003_000));
        c.set(-1);
        assert_eq!((c.now(), c.now_millis()), (-1, -1_000));
    }

    #[test]
    fn the_system_clocks_milliseconds_agree_with_its_seconds() {
        let before = SystemClock.now_millis();
        let s = SystemClock.now();
        let after = SystemClock.now_millis();
        assert!(before.div_euclid(1000) <= s && s <= after.div_euclid(1000));
    }
}
