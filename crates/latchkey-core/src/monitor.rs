//! Anomaly detections (issue 14): what a stream of sign-in and client-authentication
//! outcomes means, as findings and, in enforce mode, blocks.
//!
//! Owns: the rules ([`RULES`], stable ids), the [`Detector`] (per-node window counters,
//! pure: fed a [`Signal`] and a time, it answers with [`Raise`]s), addresses and networks
//! ([`Cidr`], the IPv6 /64 an address is counted under) and the block list as the
//! request path checks it ([`BlockSet`]).
//!
//! Does not own: where signals come from or where raises go (the server feeds the
//! detector from a bounded queue in a background task, off the request path, and writes
//! raises to the store, whose `dedup_key` makes a finding raised once across nodes), or
//! the thresholds (runtime settings, `settings::ServerSettings::detect_*`).
//!
//! Time is whatever the caller passes (the core `Clock`'s seconds), so tests drive it.

use crate::clock::Timestamp;
use crate::model::{Block, Finding};
use crate::settings::{ServerSettings, ENFORCE, OFF};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Detection 1: one account failing from one address.
pub const BRUTE_FORCE: &str = "brute_force";
/// Detection 2: many accounts failing from one address or IPv6 /64.
pub const SPRAY: &str = "spray";
/// Detection 2, its critical half: a success from an address during its spray.
pub const SPRAY_SUCCESS: &str = "spray_success";
/// Detection 6: client secret guessing.
pub const CLIENT_GUESS: &str = "client_guess";

/// The rules, with their plain-words statement (README's detections table says the
/// same).
pub const RULES: &[(&str, &str)] = &[
    (
        BRUTE_FORCE,
        "N consecutive failed sign-ins of one account from one address within the window",
    ),
    (
        SPRAY,
        "failed sign-ins for N distinct usernames from one address (IPv6: one /64) within the window",
    ),
    (
        SPRAY_SUCCESS,
        "a successful sign-in from an address while it is spraying (critical)",
    ),
    (
        CLIENT_GUESS,
        "N failed client authentications of one client id, or one address failing for N client ids, within the window",
    ),
];

/// Severities by their setting number (1..=4).
pub fn severity_name(n: i64) -> &'static str {
    match n {
        i64::MIN..=1 => "low",
        2 => "medium",
        3 => "high",
        _ => "critical",
    }
}

pub const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];

// --- addresses --------------------------------------------------------------------------

/// An address or network, canonical (host bits cleared; an IPv4-mapped IPv6 address is
/// its IPv4 address), as the block list stores and matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

/// Why a block's address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("\"{0}\" is not an IP address or network (a.b.c.d, a.b.c.d/n, x::y, x::/n)")]
    Malformed(String),
    /// Too wide a block refuses most of the internet by one typo.
    #[error("/{len} is wider than a block may be: at least /{min} for {family}")]
    TooWide {
        len: u8,
        min: u8,
        family: &'static str,
    },
}

/// Narrowest prefixes a block may have: /8 for IPv4, /16 for IPv6.
const MIN_V4: u8 = 8;
const MIN_V6: u8 = 16;

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl Cidr {
    /// `a.b.c.d`, `a.b.c.d/n`, `x::y`, `x::/n`; host bits are cleared.
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError::Malformed(s.chars().take(64).collect());
        let (a, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let (max, min, family) = match addr {
            IpAddr::V4(_) => (32, MIN_V4, "IPv4"),
            IpAddr::V6(_) => (128, MIN_V6, "IPv6"),
        };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(bad());
        }
        if len < min {
            return Err(CidrError::TooWide { len, min, family });
        }
        Ok(Cidr {
            addr: mask(addr, len),
            len,
        })
    }

    /// The one address.
    pub fn host(addr: IpAddr) -> Cidr {
        let addr = addr.to_canonical();
        let len = if addr.is_ipv4() { 32 } else { 128 };
        Cidr { addr, len }
    }

    /// What a spray is counted under: the address (IPv4), or its /64 (IPv6), since one
    /// subscriber gets a whole /64 and can rotate through it at will.
    pub fn sprayer(addr: IpAddr) -> Cidr {
        let addr = addr.to_canonical();
        match addr {
            IpAddr::V4(_) => Cidr { addr, len: 32 },
            IpAddr::V6(_) => Cidr {
                addr: mask(addr, 64),
                len: 64,
            },
        }
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        addr.is_ipv4() == self.addr.is_ipv4() && mask(addr, self.len) == self.addr
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

// --- the block list as the request path sees it ---------------------------------------

/// The blocks in force, indexed for a lookup per request that costs one hash probe per
/// distinct prefix length in the list (usually one or two), whatever its size.
#[derive(Debug, Default)]
pub struct BlockSet {
    entries: HashMap<(IpAddr, u8, String), Option<Timestamp>>,
    lens_v4: Vec<u8>,
    lens_v6: Vec<u8>,
}

/// What a blocked request is told to wait when its block has no end (seconds).
pub const OPEN_ENDED_WAIT: u64 = 3600;

impl BlockSet {
    /// Rows whose address no longer parses (written by hand into the database) are
    /// skipped: a damaged row must not take the sign-in page down.
    pub fn new(blocks: &[Block]) -> Self {
        let mut set = BlockSet::default();
        for b in blocks {
            let Ok(c) = Cidr::parse(&b.cidr) else {
                continue;
            };
            let lens = if c.addr.is_ipv4() {
                &mut set.lens_v4
            } else {
                &mut set.lens_v6
            };
            if !lens.contains(&c.len) {
                lens.push(c.len);
            }
            set.entries
                .insert((c.addr, c.len, b.principal.clone()), b.expires_at);
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seconds to wait if `addr` is blocked at `now`, for everyone or for `principal`
    /// (`user:NAME`, `client:ID`) from there.
    pub fn check(&self, addr: IpAddr, principal: Option<&str>, now: Timestamp) -> Option<u64> {
        if self.entries.is_empty() {
            return None;
        }
        let addr = addr.to_canonical();
        let lens = if addr.is_ipv4() {
            &self.lens_v4
        } else {
            &self.lens_v6
        };
        let mut wait = None;
        for &len in lens {
            let net = mask(addr, len);
            for p in std::iter::once("").chain(principal) {
                // One allocation per probe is fine: the list is rarely non-empty.
                if let Some(exp) = self.entries.get(&(net, len, p.to_string())) {
                    let w = match exp {
                        None => OPEN_ENDED_WAIT,
                        Some(e) if *e > now => (*e - now) as u64,
                        Some(_) => continue,
                    };
                    wait = wait.max(Some(w));
                }
            }
        }
        wait
    }
}

// --- signals and the detector -----------------------------------------------------------

/// One outcome the request path reports. Never a password, secret or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    SignInFailed { username: String, addr: IpAddr },
    SignInSucceeded { username: String, addr: IpAddr },
    ClientAuthFailed { client_id: String, addr: IpAddr },
}

/// What the detector asks for: a finding to raise (the store's `finding_raise`, merging
/// into an open finding of the same rule and subject seen since `merge_after`) and, in
/// enforce mode, a block to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    pub finding: Finding,
    pub merge_after: Timestamp,
    pub block: Option<Block>,
}

#[derive(Debug, Clone)]
struct Count {
    first: Timestamp,
    last: Timestamp,
    n: i64,
    raised: bool,
}

impl Count {
    fn new(at: Timestamp) -> Self {
        Count {
            first: at,
            last: at,
            n: 0,
            raised: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Distinct {
    first: Timestamp,
    last: Timestamp,
    failures: i64,
    /// Bounded by the threshold: past it, more names add nothing to the decision.
    names: HashSet<String>,
    raised: bool,
}

impl Distinct {
    fn new(at: Timestamp) -> Self {
        Distinct {
            first: at,
            last: at,
            failures: 0,
            names: HashSet::new(),
            raised: false,
        }
    }
}

/// Past this many keys in one table, expired windows are dropped, and if that is not
/// enough the table starts afresh: memory stays bounded under traffic from many
/// addresses (at the price of forgetting windows in progress).
const MAX_KEYS: usize = 50_000;
/// Usernames, client ids are attacker-chosen: stored at most this long.
const MAX_NAME: usize = 128;
/// New findings one node raises per minute, at most: a flood from rotating addresses
/// becomes a bounded number of rows; the rest are counted ([`Detector::suppressed`]).
pub const MAX_RAISES_PER_MINUTE: u32 = 60;

fn short(s: &str) -> String {
    s.chars().take(MAX_NAME).collect()
}

fn bound<K, V>(map: &mut HashMap<K, V>, live: impl Fn(&V) -> bool) {
    if map.len() >= MAX_KEYS {
        map.retain(|_, v| live(v));
        if map.len() >= MAX_KEYS {
            map.clear();
        }
    }
}

/// A window that has run out starts again.
fn current<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    key: K,
    at: Timestamp,
    window: i64,
    first: impl Fn(&V) -> Timestamp,
    new: impl Fn(Timestamp) -> V,
) -> &mut V {
    let e = map.entry(key).or_insert_with(|| new(at));
    if at - first(e) > window {
        *e = new(at);
    }
    e
}

/// One node's detections. Counts are per node; raises are deduplicated across nodes
/// by the store (the same rule, subject and episode give the same `dedup_key`).
#[derive(Debug, Default)]
pub struct Detector {
    /// (username, address) → consecutive failures.
    brute: HashMap<(String, IpAddr), Count>,
    /// sprayer network → distinct usernames failing.
    spray: HashMap<Cidr, Distinct>,
    /// client id → failures.
    client: HashMap<String, Count>,
    /// address → distinct client ids failing.
    client_addr: HashMap<IpAddr, Distinct>,
    raises_minute: Timestamp,
    raises_in_minute: u32,
    suppressed: u64,
    next_id: u64,
}

impl Detector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Findings not raised because of [`MAX_RAISES_PER_MINUTE`].
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Feeds one signal observed at `at`; the raises it causes (usually none).
    pub fn observe(&mut self, signal: &Signal, at: Timestamp, s: &ServerSettings) -> Vec<Raise> {
        let mut out = Vec::new();
        match signal {
            Signal::SignInFailed { username, addr } => {
                let user = short(&username.to_lowercase());
                let addr = addr.to_canonical();
                self.brute_force(&user, addr, at, s, &mut out);
                self.spray_failure(&user, addr, at, s, &mut out);
            }
            Signal::SignInSucceeded { username, addr } => {
                let user = short(&username.to_lowercase());
                let addr = addr.to_canonical();
                // A success ends the account's run of consecutive failures there.
                self.brute.remove(&(user.clone(), addr));
                self.spray_success(&user, addr, at, s, &mut out);
            }
            Signal::ClientAuthFailed { client_id, addr } => {
                let client = short(client_id);
                self.client_guess(&client, addr.to_canonical(), at, s, &mut out);
            }
        }
        // The cap applies to new findings of every rule but the critical one: a
        // successful sign-in during a spray is never dropped.
        out.retain(|r| r.finding.rule == SPRAY_SUCCESS || self.allow_raise(at));
        out
    }

    fn allow_raise(&mut self, at: Timestamp) -> bool {
        let minute = at - at.rem_euclid(60);
        if minute != self.raises_minute {
            self.raises_minute = minute;
            self.raises_in_minute = 0;
        }
        if self.raises_in_minute >= MAX_RAISES_PER_MINUTE {
            self.suppressed += 1;
            return false;
        }
        self.raises_in_minute += 1;
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        rule: &str,
        severity: i64,
        subject_kind: &str,
        subject: String,
        evidence: serde_json::Value,
        (first, last, count): (Timestamp, Timestamp, i64),
        window: i64,
        block: Option<Block>,
    ) -> Raise {
        self.next_id += 1;
        let action = match &block {
            Some(b) => {
                let who = match b.principal.split_once(':') {
                    Some((kind, name)) => format!("{kind} {name} from {}", b.cidr),
                    None => format!("everyone from {}", b.cidr),
                };
                format!(
                    "blocked {who} until {}",
                    b.expires_at.map_or("removed".into(), |e| e.to_string())
                )
            }
            None => "none (monitor mode)".to_string(),
        };
        // The episode: the window-long slice of time the threshold was crossed in, so
        // nodes that cross it for the same subject in the same slice write one row.
        let episode = last.div_euclid(window.max(1));
        Raise {
            finding: Finding {
                id: crate::crypto::random_id(),
                dedup_key: format!("{rule}|{subject_kind}:{subject}|{episode}"),
                rule: rule.to_string(),
                severity: severity_name(severity).to_string(),
                subject_kind: subject_kind.to_string(),
                subject,
                evidence: evidence.to_string(),
                action,
                status: "open".into(),
                acked_by: None,
                acked_at: None,
                first_seen: first,
                last_seen: last,
                count,
                raised_at: last,
            },
            // A raise within two windows of the last one continues the same episode.
            merge_after: last - 2 * window,
            block,
        }
    }

    fn block(
        cidr: Cidr,
        principal: String,
        rule: &str,
        at: Timestamp,
        s: &ServerSettings,
    ) -> Block {
        Block {
            cidr: cidr.to_string(),
            principal,
            reason: format!("detection {rule}"),
            created_by: format!("detection:{rule}"),
            created_at: at,
            expires_at: Some(at + s.detect_block),
        }
    }

    fn brute_force(
        &mut self,
        user: &str,
        addr: IpAddr,
        at: Timestamp,
        s: &ServerSettings,
        out: &mut Vec<Raise>,
    ) {
        if s.detect_brute_force_mode == OFF {
            return;
        }
        let window = s.detect_brute_force_window;
        bound(&mut self.brute, |c| at - c.first <= window);
        let c = current(
            &mut self.brute,
            (user.to_string(), addr),
            at,
            window,
            |c| c.first,
            Count::new,
        );
        c.n += 1;
        c.last = at;
        if c.raised || c.n < s.detect_brute_force_failures {
            return;
        }
        c.raised = true;
        let (first, n) = (c.first, c.n);
        // Enforce blocks the pair only: a stranger elsewhere who types this username
        // blocks nobody but themself.
        let block = (s.detect_brute_force_mode == ENFORCE)
            .then(|| Self::block(Cidr::host(addr), format!("user:{user}"), BRUTE_FORCE, at, s));
        let r = self.raise(
            BRUTE_FORCE,
            s.detect_brute_force_severity,
            "user",
            user.to_string(),
            serde_json::json!({
                "address": addr.to_string(),
                "failures": n,
                "window": window,
                "first_seen": first,
                "last_seen": at,
            }),
            (first, at, n),
            window,
            block,
        );
        out.push(r);
    }

    fn spray_failure(
        &mut self,
        user: &str,
        addr: IpAddr,
        at: Timestamp,
        s: &ServerSettings,
        out: &mut Vec<Raise>,
    ) {
        if s.detect_spray_mode == OFF {
            return;
        }
        let window = s.detect_spray_window;
        let threshold = s.detect_spray_usernames;
        bound(&mut self.spray, |d| at - d.last <= window);
        let net = Cidr::sprayer(addr);
        let d = current(&mut self.spray, net, at, window, |d| d.first, Distinct::new);
        d.failures += 1;
        d.last = at;
        if (d.names.len() as i64) < threshold {
            d.names.insert(user.to_string());
        }
        if d.raised || (d.names.len() as i64) < threshold {
            return;
        }
        d.raised = true;
        let mut sample: Vec<&String> = d.names.iter().collect();
        sample.sort();
        sample.truncate(20);
        let evidence = serde_json::json!({
            "usernames": d.names.len(),
            "failures": d.failures,
            "sample": sample,
            "window": window,
            "first_seen": d.first,
            "last_seen": at,
        });
        let (first, n) = (d.first, d.names.len() as i64);
        let block =
            (s.detect_spray_mode == ENFORCE).then(|| Self::block(net, String::new(), SPRAY, at, s));
        let r = self.raise(
            SPRAY,
            s.detect_spray_severity,
            "address",
            net.to_string(),
            evidence,
            (first, at, n),
            window,
            block,
        );
        out.push(r);
    }

    fn spray_success(
        &mut self,
        user: &str,
        addr: IpAddr,
        at: Timestamp,
        s: &ServerSettings,
        out: &mut Vec<Raise>,
    ) {
        if s.detect_spray_mode == OFF {
            return;
        }
        let net = Cidr::sprayer(addr);
        let Some(d) = self.spray.get(&net) else {
            return;
        };
        // During the episode: after the spray finding and within a window of its last
        // failure.
        if !d.raised || at - d.last > s.detect_spray_window {
            return;
        }
        let evidence = serde_json::json!({
            "address": addr.to_string(),
            "network": net.to_string(),
            "spray_usernames": d.names.len(),
            "spray_failures": d.failures,
            "spray_first_seen": d.first,
            "signed_in_at": at,
        });
        let first = d.first;
        let r = self.raise(
            SPRAY_SUCCESS,
            4,
            "user",
            user.to_string(),
            evidence,
            (first, at, 1),
            s.detect_spray_window,
            None,
        );
        out.push(r);
    }

    fn client_guess(
        &mut self,
        client: &str,
        addr: IpAddr,
        at: Timestamp,
        s: &ServerSettings,
        out: &mut Vec<Raise>,
    ) {
        if s.detect_client_guess_mode == OFF {
            return;
        }
        let window = s.detect_client_guess_window;
        let enforce = s.detect_client_guess_mode == ENFORCE;
        bound(&mut self.client, |c| at - c.first <= window);
        bound(&mut self.client_addr, |d| at - d.last <= window);
        // One client id failing, from anywhere: the finding names the client; enforce
        // throttles that client only from the address that crossed the line, so a
        // stranger cannot lock the client out everywhere.
        let c = current(
            &mut self.client,
            client.to_string(),
            at,
            window,
            |c| c.first,
            Count::new,
        );
        c.n += 1;
        c.last = at;
        if !c.raised && c.n >= s.detect_client_guess_failures {
            c.raised = true;
            let (first, n) = (c.first, c.n);
            let block = enforce.then(|| {
                Self::block(
                    Cidr::host(addr),
                    format!("client:{client}"),
                    CLIENT_GUESS,
                    at,
                    s,
                )
            });
            let r = self.raise(
                CLIENT_GUESS,
                s.detect_client_guess_severity,
                "client",
                client.to_string(),
                serde_json::json!({
                    "failures": n,
                    "last_address": addr.to_string(),
                    "window": window,
                    "first_seen": first,
                    "last_seen": at,
                    "advice": "if the client's own traffic fails, rotate its secret",
                }),
                (first, at, n),
                window,
                block,
            );
            out.push(r);
        }
        // One address failing for several client ids.
        let threshold = s.detect_client_guess_clients;
        let d = current(
            &mut self.client_addr,
            addr,
            at,
            window,
            |d| d.first,
            Distinct::new,
        );
        d.failures += 1;
        d.last = at;
        if (d.names.len() as i64) < threshold {
            d.names.insert(client.to_string());
        }
        if d.raised || (d.names.len() as i64) < threshold {
            return;
        }
        d.raised = true;
        let mut sample: Vec<&String> = d.names.iter().collect();
        sample.sort();
        let evidence = serde_json::json!({
            "client_ids": d.names.len(),
            "failures": d.failures,
            "sample": sample,
            "window": window,
            "first_seen": d.first,
            "last_seen": at,
        });
        let (first, n) = (d.first, d.names.len() as i64);
        let block =
            enforce.then(|| Self::block(Cidr::host(addr), String::new(), CLIENT_GUESS, at, s));
        let r = self.raise(
            CLIENT_GUESS,
            s.detect_client_guess_severity,
            "address",
            Cidr::host(addr).to_string(),
            evidence,
            (first, at, n),
            window,
            block,
        );
        out.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MONITOR;

    const T: Timestamp = 1_700_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn settings(mode: i64) -> ServerSettings {
        ServerSettings {
            detect_brute_force_mode: mode,
            detect_spray_mode: mode,
            detect_client_guess_mode: mode,
            ..ServerSettings::default()
        }
    }

    fn fail(
        d: &mut Detector,
        user: &str,
        addr: &str,
        at: Timestamp,
        s: &ServerSettings,
    ) -> Vec<Raise> {
        d.observe(
            &Signal::SignInFailed {
                username: user.into(),
                addr: ip(addr),
            },
            at,
            s,
        )
    }

    fn client_fail(
        d: &mut Detector,
        client: &str,
        addr: &str,
        at: Timestamp,
        s: &ServerSettings,
    ) -> Vec<Raise> {
        d.observe(
            &Signal::ClientAuthFailed {
                client_id: client.into(),
                addr: ip(addr),
            },
            at,
            s,
        )
    }

    #[test]
    fn addresses_and_networks_are_parsed_canonical_and_too_wide_ones_refused() {
        assert_eq!(
            Cidr::parse("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            Cidr::parse("2001:db8::1/64").unwrap().to_string(),
            "2001:db8::/64"
        );
        assert_eq!(
            Cidr::parse("::ffff:192.0.2.1").unwrap().to_string(),
            "192.0.2.1/32"
        );
        assert!(matches!(
            Cidr::parse("0.0.0.0/0"),
            Err(CidrError::TooWide { .. })
        ));
        assert!(matches!(
            Cidr::parse("10.0.0.1/33"),
            Err(CidrError::Malformed(_))
        ));
        assert!(matches!(
            Cidr::parse("example.com"),
            Err(CidrError::Malformed(_))
        ));
        assert!(Cidr::parse("2001:db8::/64")
            .unwrap()
            .contains(ip("2001:db8::ffff:1")));
        assert!(!Cidr::parse("2001:db8::/64")
            .unwrap()
            .contains(ip("2001:db8:0:1::1")));
    }

    #[test]
    fn the_block_set_matches_addresses_networks_and_pairs_until_they_expire() {
        let b = |cidr: &str, principal: &str, exp: Option<Timestamp>| Block {
            cidr: cidr.into(),
            principal: principal.into(),
            reason: "t".into(),
            created_by: "t".into(),
            created_at: T,
            expires_at: exp,
        };
        let set = BlockSet::new(&[
            b("198.51.100.0/24", "", Some(T + 60)),
            b("203.0.113.7/32", "user:alice", None),
            b("2001:db8::/64", "", Some(T + 10)),
        ]);
        assert_eq!(set.check(ip("198.51.100.9"), None, T), Some(60));
        assert_eq!(set.check(ip("198.51.100.9"), None, T + 60), None, "expired");
        assert_eq!(
            set.check(ip("203.0.113.7"), Some("user:alice"), T),
            Some(OPEN_ENDED_WAIT)
        );
        assert_eq!(set.check(ip("203.0.113.7"), Some("user:bob"), T), None);
        assert_eq!(set.check(ip("203.0.113.8"), Some("user:alice"), T), None);
        assert_eq!(set.check(ip("2001:db8::abcd"), None, T), Some(10));
        assert_eq!(set.check(ip("::ffff:198.51.100.1"), None, T), Some(60));
    }

    #[test]
    fn brute_force_below_the_threshold_raises_nothing_and_at_it_exactly_one_finding() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for i in 0..9 {
            assert!(fail(&mut d, "Alice", "203.0.113.7", T + i, &s).is_empty());
        }
        let r = fail(&mut d, "alice", "203.0.113.7", T + 9, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.rule, BRUTE_FORCE);
        assert_eq!(r[0].finding.subject, "alice");
        assert_eq!(r[0].finding.count, 10);
        assert_eq!(r[0].finding.severity, "medium");
        assert!(r[0].block.is_none(), "monitor mode does nothing");
        assert_eq!(r[0].finding.action, "none (monitor mode)");
        for i in 10..30 {
            assert!(
                fail(&mut d, "alice", "203.0.113.7", T + i, &s).is_empty(),
                "once per episode"
            );
        }
    }

    #[test]
    fn brute_force_in_enforce_mode_blocks_only_the_account_from_that_address() {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        let mut raises = Vec::new();
        for i in 0..10 {
            raises.extend(fail(&mut d, "alice", "203.0.113.7", T + i, &s));
        }
        let brute: Vec<_> = raises
            .iter()
            .filter(|r| r.finding.rule == BRUTE_FORCE)
            .collect();
        assert_eq!(brute.len(), 1);
        let b = brute[0].block.as_ref().unwrap();
        assert_eq!(
            (b.cidr.as_str(), b.principal.as_str()),
            ("203.0.113.7/32", "user:alice")
        );
        assert_eq!(b.expires_at, Some(T + 9 + s.detect_block));
        let set = BlockSet::new(std::slice::from_ref(b));
        assert!(set
            .check(ip("203.0.113.7"), Some("user:alice"), T + 10)
            .is_some());
        assert!(
            set.check(ip("192.0.2.1"), Some("user:alice"), T + 10)
                .is_none(),
            "alice elsewhere is not locked out"
        );
        assert!(set
            .check(ip("203.0.113.7"), Some("user:bob"), T + 10)
            .is_none());
    }

    #[test]
    fn a_success_ends_the_run_of_consecutive_failures() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for i in 0..9 {
            fail(&mut d, "alice", "203.0.113.7", T + i, &s);
        }
        d.observe(
            &Signal::SignInSucceeded {
                username: "alice".into(),
                addr: ip("203.0.113.7"),
            },
            T + 9,
            &s,
        );
        for i in 0..9 {
            assert!(fail(&mut d, "alice", "203.0.113.7", T + 10 + i, &s).is_empty());
        }
    }

    #[test]
    fn a_window_that_ran_out_starts_the_count_again() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for i in 0..9 {
            fail(&mut d, "alice", "203.0.113.7", T + i * 100, &s);
        }
        // The ninth failure was at T+800; the window (900 s) from the first has passed.
        assert!(fail(&mut d, "alice", "203.0.113.7", T + 1000, &s).is_empty());
    }

    #[test]
    fn a_stranger_failing_as_a_user_from_many_addresses_never_blocks_that_user_from_home() {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        let mut blocks = Vec::new();
        for a in 1..=50 {
            for i in 0..12 {
                for r in fail(&mut d, "alice", &format!("198.51.100.{a}"), T + i, &s) {
                    blocks.extend(r.block);
                }
            }
        }
        assert!(
            !blocks.is_empty(),
            "the stranger's own addresses are blocked"
        );
        let set = BlockSet::new(&blocks);
        assert!(set
            .check(ip("192.0.2.10"), Some("user:alice"), T + 20)
            .is_none());
        assert!(blocks.iter().all(|b| b.principal == "user:alice"));
    }

    #[test]
    fn spray_below_the_threshold_raises_nothing_and_at_it_exactly_one_finding() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for u in 0..9 {
            assert!(fail(&mut d, &format!("user{u}"), "203.0.113.9", T + u, &s).is_empty());
        }
        // The same name again does not count twice.
        assert!(fail(&mut d, "user0", "203.0.113.9", T + 9, &s).is_empty());
        let r = fail(&mut d, "user9", "203.0.113.9", T + 10, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.rule, SPRAY);
        assert_eq!(r[0].finding.subject, "203.0.113.9/32");
        assert_eq!(r[0].finding.severity, "high");
        assert!(r[0].block.is_none());
        assert!(fail(&mut d, "user10", "203.0.113.9", T + 11, &s).is_empty());
    }

    #[test]
    fn spray_in_enforce_mode_blocks_the_address() {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        let mut r = Vec::new();
        for u in 0..10 {
            r.extend(fail(&mut d, &format!("user{u}"), "203.0.113.9", T + u, &s));
        }
        let spray: Vec<_> = r.iter().filter(|r| r.finding.rule == SPRAY).collect();
        let b = spray[0].block.as_ref().unwrap();
        assert_eq!(
            (b.cidr.as_str(), b.principal.as_str()),
            ("203.0.113.9/32", "")
        );
        assert!(spray[0]
            .finding
            .action
            .starts_with("blocked everyone from 203.0.113.9/32"));
    }

    #[test]
    fn an_attacker_rotating_addresses_within_one_ipv6_64_is_counted_as_one_sprayer() {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        let mut r = Vec::new();
        for u in 0..10 {
            r.extend(fail(
                &mut d,
                &format!("user{u}"),
                &format!("2001:db8:1:2::{:x}", u + 1),
                T + u,
                &s,
            ));
        }
        let spray: Vec<_> = r.iter().filter(|r| r.finding.rule == SPRAY).collect();
        assert_eq!(spray.len(), 1);
        assert_eq!(spray[0].finding.subject, "2001:db8:1:2::/64");
        let set = BlockSet::new(&[spray[0].block.clone().unwrap()]);
        assert!(set
            .check(ip("2001:db8:1:2:ffff::1"), None, T + 20)
            .is_some());
        assert!(set.check(ip("2001:db8:1:3::1"), None, T + 20).is_none());
    }

    #[test]
    fn a_successful_sign_in_from_a_spraying_address_is_a_critical_finding() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for u in 0..10 {
            fail(&mut d, &format!("user{u}"), "203.0.113.9", T + u, &s);
        }
        let r = d.observe(
            &Signal::SignInSucceeded {
                username: "user3".into(),
                addr: ip("203.0.113.9"),
            },
            T + 30,
            &s,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.rule, SPRAY_SUCCESS);
        assert_eq!(r[0].finding.severity, "critical");
        assert_eq!(r[0].finding.subject, "user3");
        // Elsewhere, or once the episode is over, a success is just a success.
        let elsewhere = d.observe(
            &Signal::SignInSucceeded {
                username: "user3".into(),
                addr: ip("192.0.2.1"),
            },
            T + 31,
            &s,
        );
        assert!(elsewhere.is_empty());
        let later = d.observe(
            &Signal::SignInSucceeded {
                username: "user4".into(),
                addr: ip("203.0.113.9"),
            },
            T + 9 + s.detect_spray_window + 1,
            &s,
        );
        assert!(later.is_empty());
    }

    #[test]
    fn a_success_before_the_spray_threshold_is_not_critical() {
        let s = settings(MONITOR);
        let mut d = Detector::new();
        for u in 0..5 {
            fail(&mut d, &format!("user{u}"), "203.0.113.9", T + u, &s);
        }
        let r = d.observe(
            &Signal::SignInSucceeded {
                username: "user3".into(),
                addr: ip("203.0.113.9"),
            },
            T + 6,
            &s,
        );
        assert!(r.is_empty());
    }

    #[test]
    fn client_guessing_of_one_client_raises_once_and_enforce_blocks_only_that_client_from_that_address(
    ) {
        let mut s = settings(MONITOR);
        let mut d = Detector::new();
        for i in 0..4 {
            assert!(client_fail(&mut d, "app", &format!("198.51.100.{i}"), T + i, &s).is_empty());
        }
        let r = client_fail(&mut d, "app", "198.51.100.9", T + 4, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].finding.rule.as_str(), r[0].finding.subject.as_str()),
            (CLIENT_GUESS, "app")
        );
        assert!(r[0].block.is_none());
        s.detect_client_guess_mode = ENFORCE;
        let mut d = Detector::new();
        let mut r = Vec::new();
        for i in 0..5 {
            r.extend(client_fail(&mut d, "app", "198.51.100.9", T + i, &s));
        }
        assert_eq!(r.len(), 1);
        let b = r[0].block.as_ref().unwrap();
        assert_eq!(
            (b.cidr.as_str(), b.principal.as_str()),
            ("198.51.100.9/32", "client:app")
        );
    }

    #[test]
    fn one_address_failing_for_several_client_ids_raises_an_address_finding() {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        assert!(client_fail(&mut d, "a", "198.51.100.5", T, &s).is_empty());
        assert!(client_fail(&mut d, "b", "198.51.100.5", T + 1, &s).is_empty());
        let r = client_fail(&mut d, "c", "198.51.100.5", T + 2, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.subject_kind, "address");
        assert_eq!(r[0].block.as_ref().unwrap().principal, "");
    }

    #[test]
    fn off_mode_raises_nothing() {
        let s = settings(OFF);
        let mut d = Detector::new();
        for u in 0..50 {
            assert!(fail(&mut d, &format!("user{}", u % 12), "203.0.113.9", T + u, &s).is_empty());
            assert!(client_fail(&mut d, &format!("c{u}"), "203.0.113.9", T + u, &s).is_empty());
        }
    }

    #[test]
    fn a_flood_from_rotating_addresses_raises_a_bounded_number_of_findings_per_minute() {
        let s = ServerSettings {
            detect_client_guess_mode: MONITOR,
            detect_client_guess_clients: 2,
            ..settings(OFF)
        };
        let mut d = Detector::new();
        let mut n = 0;
        for a in 0..1000u32 {
            let addr = Ipv4Addr::from(0x0a00_0000 + a).to_string();
            n += client_fail(&mut d, &format!("x{a}"), &addr, T, &s).len();
            n += client_fail(&mut d, &format!("y{a}"), &addr, T, &s).len();
        }
        assert_eq!(n, MAX_RAISES_PER_MINUTE as usize);
        assert_eq!(d.suppressed(), 1000 - u64::from(MAX_RAISES_PER_MINUTE));
    }

    #[test]
    fn nodes_that_cross_a_threshold_in_the_same_episode_compute_the_same_dedup_key() {
        let s = settings(MONITOR);
        let (mut a, mut b) = (Detector::new(), Detector::new());
        let mut ka = Vec::new();
        let mut kb = Vec::new();
        for i in 0..10 {
            ka.extend(fail(&mut a, "alice", "203.0.113.7", T + i, &s));
            kb.extend(fail(&mut b, "alice", "203.0.113.7", T + i, &s));
        }
        assert_eq!(ka[0].finding.dedup_key, kb[0].finding.dedup_key);
        assert_ne!(ka[0].finding.id, kb[0].finding.id);
    }
}
