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
/// Detection 3: failed sign-ins server-wide far above the hour's baseline.
pub const WAVE: &str = "wave";
/// Detection 4: a success from a network and browser the user has not used lately.
pub const UNFAMILIAR_SIGN_IN: &str = "unfamiliar_sign_in";
/// Detection 5: a spent refresh token replayed (tagged likely theft when the replay
/// comes from elsewhere than the family's holder).
pub const REFRESH_REUSE: &str = "refresh_reuse";
/// Detection 7: a client's tokens per minute far above its own baseline.
pub const MINT_SPIKE: &str = "mint_spike";
/// Detection 7: a client minting with a grant type or scope it never used.
pub const MINT_NEW_USE: &str = "mint_new_use";
/// Detection 8: a revoked (not expired) token presented at introspection or userinfo.
pub const REVOKED_TOKEN_REPLAY: &str = "revoked_token_replay";
/// Detection 8: one caller presenting many unknown or invalid tokens.
pub const TOKEN_SCAN: &str = "token_scan";
/// Detection 9: old client secrets, overdue rotation, keys past their schedule (daily).
pub const HYGIENE: &str = "hygiene";

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
    (
        WAVE,
        "failed sign-ins server-wide in the last hour above max(N, F × the median of the same hour on the previous D days)",
    ),
    (
        UNFAMILIAR_SIGN_IN,
        "a successful sign-in from a network (/24, IPv6 /64) and browser family absent from the user's last N successes, once the user has M",
    ),
    (
        REFRESH_REUSE,
        "a spent refresh token presented again; likely theft when the replay's address or browser differs from the family's holder",
    ),
    (
        MINT_SPIKE,
        "a client's tokens in one minute above max(N, F × its busiest minute of the previous D days)",
    ),
    (
        MINT_NEW_USE,
        "a client known for D days minting with a grant type or scope it never used",
    ),
    (
        REVOKED_TOKEN_REPLAY,
        "a revoked (not merely expired) access token presented at introspection or userinfo",
    ),
    (
        TOKEN_SCAN,
        "one caller presenting N unknown or invalid tokens at introspection or userinfo within the window",
    ),
    (
        HYGIENE,
        "daily: client secrets older than the policy age, key rotation overdue, keys past their schedule",
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
    SignInFailed {
        username: String,
        addr: IpAddr,
    },
    SignInSucceeded {
        username: String,
        addr: IpAddr,
    },
    ClientAuthFailed {
        client_id: String,
        addr: IpAddr,
    },
    /// A spent refresh token presented again (the engine has revoked its family). The
    /// token appears as its SHA-256 only, to find its place in the family.
    RefreshReused {
        client_id: String,
        session_id: String,
        token_hash: Vec<u8>,
        addr: Option<IpAddr>,
        user_agent: Option<String>,
    },
    /// A token presented at introspection or userinfo, and what it turned out to be.
    TokenPresented {
        endpoint: &'static str,
        caller: TokenCaller,
        verdict: TokenVerdict,
    },
    /// A client minted a token with a grant type or scope this node had not seen it use.
    ClientUse {
        client_id: String,
        kind: UseKind,
        value: String,
    },
    /// A browser sign-in succeeded (for `unfamiliar_sign_in`).
    SignedIn {
        sign_in_id: String,
        user_id: String,
        username: String,
        addr: Option<IpAddr>,
        user_agent: Option<String>,
    },
}

/// Where the engine reports signals: the server's bounded queue. `report` must not
/// wait (it runs on the request path); a full queue drops and counts.
pub trait SignalSink: Send + Sync {
    fn report(&self, signal: Signal, at: Timestamp);
}

/// Who presented a token: the authenticated client (introspection) and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub client_id: Option<String>,
    pub addr: Option<IpAddr>,
}

/// What a presented token was, as far as the detections care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenVerdict {
    /// Revoked, not merely expired: `why` is the revocation (`jti`, `session`,
    /// `client`, `key`); `jti` and `subject` name it without being it.
    Revoked {
        why: &'static str,
        jti: Option<String>,
        subject: Option<String>,
        client_id: Option<String>,
    },
    /// Not a token of ours at all (malformed, unknown key, bad signature, unknown).
    Invalid,
}

/// What a client used for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseKind {
    Grant,
    Scope,
}

impl UseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UseKind::Grant => "grant",
            UseKind::Scope => "scope",
        }
    }
}

/// What the detector asks for: a finding to raise (the store's `finding_raise`, merging
/// into an open finding of the same rule and subject seen since `merge_after`) and, in
/// enforce mode, a block to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    pub finding: Finding,
    pub merge_after: Timestamp,
    pub block: Option<Block>,
    /// Enforce mode of `refresh_reuse` on likely theft: revoke every session of this
    /// user id.
    pub revoke_user: Option<String>,
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

    /// One more event for `key`, in a window that starts at its first event: entries
    /// whose window has passed are dropped first (so memory stays bounded), and a key
    /// whose window has passed starts counting again.
    fn tally<K: std::hash::Hash + Eq>(
        map: &mut HashMap<K, Count>,
        key: K,
        at: Timestamp,
        window: i64,
    ) -> &mut Count {
        bound(map, |c| at - c.first <= window);
        let c = current(map, key, at, window, |c| c.first, Count::new);
        c.n += 1;
        c.last = at;
        c
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
    /// token caller (`client:ID` or an address) → unknown or invalid tokens presented.
    scan: HashMap<String, Count>,
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
            Signal::TokenPresented {
                endpoint,
                caller,
                verdict,
            } => self.token_presented(endpoint, caller, verdict, at, s, &mut out),
            // These need the store's history: the server looks it up and calls
            // `refresh_reuse`, `mint_new_use` or `unfamiliar_sign_in`.
            Signal::RefreshReused { .. } | Signal::ClientUse { .. } | Signal::SignedIn { .. } => {}
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
        new_raise(
            rule,
            severity,
            subject_kind,
            subject,
            evidence,
            (first, last, count),
            window,
            block,
        )
    }
}

/// A finding (and its block) as every rule builds it; `window` sets the episode.
#[allow(clippy::too_many_arguments)]
pub fn new_raise(
    rule: &str,
    severity: i64,
    subject_kind: &str,
    subject: String,
    evidence: serde_json::Value,
    (first, last, count): (Timestamp, Timestamp, i64),
    window: i64,
    block: Option<Block>,
) -> Raise {
    {
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
            revoke_user: None,
        }
    }
}

impl Detector {
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
        let c = Count::tally(&mut self.brute, (user.to_string(), addr), at, window);
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
        bound(&mut self.client_addr, |d| at - d.last <= window);
        // One client id failing, from anywhere: the finding names the client; enforce
        // throttles that client only from the address that crossed the line, so a
        // stranger cannot lock the client out everywhere.
        let c = Count::tally(&mut self.client, client.to_string(), at, window);
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

// --- detection 8: revoked-token replay and token scanning (per node) --------------------

impl Detector {
    fn token_presented(
        &mut self,
        endpoint: &str,
        caller: &TokenCaller,
        verdict: &TokenVerdict,
        at: Timestamp,
        s: &ServerSettings,
        out: &mut Vec<Raise>,
    ) {
        if s.detect_token_replay_mode == OFF {
            return;
        }
        let addr = caller.addr.map(|a| a.to_canonical());
        let client = caller.client_id.as_deref().map(short);
        match verdict {
            TokenVerdict::Revoked {
                why,
                jti,
                subject,
                client_id,
            } => {
                // Named by the user the token was for, else its client: what an admin
                // drills down into. The token itself never appears, its `jti` does.
                let (kind, who) = match (subject, client_id) {
                    (Some(u), _) => ("user", short(u)),
                    (None, Some(c)) => ("client", short(c)),
                    (None, None) => ("token", jti.as_deref().map(short).unwrap_or_default()),
                };
                let mut r = new_raise(
                    REVOKED_TOKEN_REPLAY,
                    s.detect_token_replay_severity,
                    kind,
                    who,
                    serde_json::json!({
                        "endpoint": endpoint,
                        "revoked_by": why,
                        "jti": jti.as_deref().map(short),
                        "presented_by_client": client,
                        "presented_from": addr.map(|a| a.to_string()),
                        "at": at,
                    }),
                    (at, at, 1),
                    DAY,
                    None,
                );
                // One finding per replayed token per day, whichever node saw it.
                r.finding.dedup_key = format!(
                    "{REVOKED_TOKEN_REPLAY}|jti:{}|{}",
                    jti.as_deref().map(short).unwrap_or_default(),
                    at.div_euclid(DAY)
                );
                out.push(r);
            }
            TokenVerdict::Invalid => {
                // A resource server is counted as its client id (wherever it calls from);
                // an unauthenticated caller (userinfo) as its address.
                let key = match (&client, addr) {
                    (Some(c), _) => format!("client:{c}"),
                    (None, Some(a)) => format!("address:{}", Cidr::host(a)),
                    (None, None) => return,
                };
                let window = s.detect_token_scan_window;
                let c = Count::tally(&mut self.scan, key.clone(), at, window);
                if c.raised || c.n < s.detect_token_scan_invalid {
                    return;
                }
                c.raised = true;
                let (first, n) = (c.first, c.n);
                // Enforce refuses the scanner where it scans: a client from that address
                // (the resource server elsewhere keeps working), or the address.
                let block = match (s.detect_token_replay_mode == ENFORCE, addr) {
                    (true, Some(a)) => Some(Self::block(
                        Cidr::host(a),
                        client
                            .as_ref()
                            .map_or(String::new(), |c| format!("client:{c}")),
                        TOKEN_SCAN,
                        at,
                        s,
                    )),
                    _ => None,
                };
                let (kind, subject) = match key.split_once(':') {
                    Some(("client", c)) => ("client", c.to_string()),
                    Some((_, a)) => ("address", a.to_string()),
                    None => ("address", key.clone()),
                };
                let r = self.raise(
                    TOKEN_SCAN,
                    s.detect_token_replay_severity,
                    kind,
                    subject,
                    serde_json::json!({
                        "invalid_tokens": n,
                        "endpoint": endpoint,
                        "last_address": addr.map(|a| a.to_string()),
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
        }
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The median of a baseline (0 for none): robust to the one day an attack already ran.
pub fn median(values: &[i64]) -> i64 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    }
}

// --- detection 3: the server-wide wave (from the shared store) --------------------------

/// The windows `wave` counts failed sign-ins in at `now`: the last hour first, then the
/// same hour on each of the previous `detect_baseline_days` days (`[from, to)`).
pub fn wave_windows(now: Timestamp, s: &ServerSettings) -> Vec<(Timestamp, Timestamp)> {
    (0..=s.detect_baseline_days)
        .map(|d| (now - d * DAY - HOUR, now - d * DAY))
        .collect()
}

/// Detection 3 over the counts of [`wave_windows`]: the last hour above
/// max(`detect_wave_min_failures`, `detect_wave_factor` × the median of the baseline).
/// One finding per hour across nodes; consecutive hours merge into the open one.
pub fn wave(now: Timestamp, counts: &[i64], s: &ServerSettings) -> Option<Raise> {
    if s.detect_wave_mode == OFF {
        return None;
    }
    let (&last, baseline) = counts.split_first()?;
    let base = median(baseline);
    let threshold = s
        .detect_wave_min_failures
        .max(s.detect_wave_factor.saturating_mul(base));
    if last < threshold {
        return None;
    }
    Some(new_raise(
        WAVE,
        s.detect_wave_severity,
        "server",
        "all sign-ins".into(),
        serde_json::json!({
            "failed_sign_ins_last_hour": last,
            "baseline_median": base,
            "baseline_days": baseline,
            "threshold": threshold,
            "action": "alert only: look at the spray and brute-force findings and the failing addresses",
        }),
        (now - HOUR, now, last),
        HOUR,
        None,
    ))
}

// --- detection 7: token-minting spike and first uses (from the shared store) -------------

/// One client's minute against its own baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintMinute {
    pub client_id: String,
    /// Tokens the client got in the minute examined (every node's flushed counts).
    pub count: i64,
    /// Its busiest minute over the baseline days before the last hour (0: none).
    pub peak: i64,
}

/// Where `mint_spike` looks at `now`: the minute that ended at least `slack` seconds
/// ago (every node flushes its counts within a few seconds), and the baseline
/// `[from, to)`: the previous days up to an hour before it, so a ramp does not become
/// its own baseline.
pub fn mint_windows(
    now: Timestamp,
    slack: i64,
    s: &ServerSettings,
) -> (Timestamp, Timestamp, Timestamp) {
    let end = (now - slack).div_euclid(60) * 60;
    let minute = end - 60;
    (minute, minute - s.detect_baseline_days * DAY, minute - HOUR)
}

/// Detection 7, the rate half: a client's minute above max(`detect_mint_min_per_minute`,
/// `detect_mint_factor` × its peak). One finding per client per hour across nodes.
pub fn mint_spike(minute: Timestamp, m: &MintMinute, s: &ServerSettings) -> Option<Raise> {
    if s.detect_mint_mode == OFF {
        return None;
    }
    let threshold = s
        .detect_mint_min_per_minute
        .max(s.detect_mint_factor.saturating_mul(m.peak));
    if m.count < threshold {
        return None;
    }
    Some(new_raise(
        MINT_SPIKE,
        s.detect_mint_severity,
        "client",
        short(&m.client_id),
        serde_json::json!({
            "minute": minute,
            "tokens": m.count,
            "baseline_peak_per_minute": m.peak,
            "baseline_days": s.detect_baseline_days,
            "threshold": threshold,
            "advice": "if the client did not expect this, revoke its tokens and rotate its secret",
        }),
        (minute, minute + 59, m.count),
        HOUR,
        None,
    ))
}

/// Detection 7, the first-use half: `client_first_seen` is when the store first saw the
/// client mint anything (before this use). A client younger than the baseline days is
/// still learning what it uses, so it is not alarming.
pub fn mint_new_use(
    client_id: &str,
    kind: UseKind,
    value: &str,
    client_first_seen: Option<Timestamp>,
    at: Timestamp,
    s: &ServerSettings,
) -> Option<Raise> {
    if s.detect_mint_mode == OFF {
        return None;
    }
    let first = client_first_seen?;
    if at - first < s.detect_baseline_days * DAY {
        return None;
    }
    let (client, value) = (short(client_id), short(value));
    let mut r = new_raise(
        MINT_NEW_USE,
        s.detect_mint_severity,
        "client",
        client.clone(),
        serde_json::json!({
            "kind": kind.as_str(),
            "value": value,
            "client_known_since": first,
            "at": at,
        }),
        (at, at, 1),
        DAY,
        None,
    );
    // Each new grant type or scope is its own finding, once ever: the store records
    // the first use atomically, so only one node gets here for it.
    r.finding.dedup_key = format!("{MINT_NEW_USE}|client:{client}|{}:{value}", kind.as_str());
    r.merge_after = at + 1;
    Some(r)
}

// --- detection 5: refresh-token reuse, tagged ---------------------------------------------

/// What the store knows of a replayed refresh token's family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReuseContext {
    pub user_id: String,
    /// The replayed token's hop: 0 for the one the grant issued, 1 for its first
    /// rotation, and so on.
    pub generation: i64,
    /// The newest hop of the family.
    pub latest_generation: i64,
    /// Who spent the replayed token the first time (the request that got its
    /// successor): the family's legitimate holder at that hop.
    pub holder_ip: Option<String>,
    pub holder_user_agent: Option<String>,
}

/// Detection 5: every replay is a finding; one from another address or browser family
/// than the holder's is tagged likely theft (one severity step up, and in enforce mode
/// every session of the user is revoked).
pub fn refresh_reuse(
    client_id: &str,
    session_id: &str,
    addr: Option<IpAddr>,
    user_agent: Option<&str>,
    ctx: Option<&ReuseContext>,
    at: Timestamp,
    s: &ServerSettings,
) -> Option<Raise> {
    if s.detect_refresh_reuse_mode == OFF {
        return None;
    }
    let replay_ip = addr.map(|a| a.to_canonical().to_string());
    let replay_family = user_agent.map(ua_family);
    let (theft, why) = match ctx {
        Some(c) if c.holder_ip.is_some() || c.holder_user_agent.is_some() => {
            let ip_differs = c.holder_ip.is_some() && c.holder_ip != replay_ip;
            let ua_differs = c.holder_user_agent.as_deref().map(ua_family) != replay_family;
            match (ip_differs, ua_differs) {
                (true, true) => (true, "address and browser differ from the holder's"),
                (true, false) => (true, "address differs from the holder's"),
                (false, true) => (true, "browser differs from the holder's"),
                (false, false) => (
                    false,
                    "same address and browser as the holder (a client retrying?)",
                ),
            }
        }
        _ => (false, "holder unknown"),
    };
    let severity = if theft {
        (s.detect_refresh_reuse_severity + 1).min(4)
    } else {
        s.detect_refresh_reuse_severity
    };
    let user = ctx.map(|c| c.user_id.clone()).filter(|u| !u.is_empty());
    let revoke_user = (theft && s.detect_refresh_reuse_mode == ENFORCE)
        .then(|| user.clone())
        .flatten();
    let mut r = new_raise(
        REFRESH_REUSE,
        severity,
        if user.is_some() { "user" } else { "client" },
        user.clone().unwrap_or_else(|| short(client_id)),
        serde_json::json!({
            "tag": if theft { "likely theft" } else { "reuse" },
            "why": why,
            "client_id": short(client_id),
            "session_id": session_id,
            "replayed_generation": ctx.map(|c| c.generation),
            "latest_generation": ctx.map(|c| c.latest_generation),
            "replay_address": replay_ip,
            "replay_browser": replay_family,
            "holder_address": ctx.and_then(|c| c.holder_ip.clone()),
            "holder_browser": ctx.and_then(|c| c.holder_user_agent.as_deref().map(ua_family)),
            "family": "revoked (RFC 9700 §4.14.2)",
        }),
        (at, at, 1),
        DAY,
        None,
    );
    // One finding per family: the session is revoked, a second replay adds nothing new.
    r.finding.dedup_key = format!("{REFRESH_REUSE}|session:{session_id}");
    r.merge_after = at + 1;
    if let Some(u) = &revoke_user {
        r.finding.action = format!("revoked every session of user {u} (likely theft)");
    }
    r.revoke_user = revoke_user;
    Some(r)
}

// --- detection 4: unfamiliar sign-in -----------------------------------------------------

/// The network a sign-in is judged by: its /24 (IPv4) or /64 (IPv6).
pub fn network(addr: IpAddr) -> Cidr {
    let addr = addr.to_canonical();
    let len = if addr.is_ipv4() { 24 } else { 64 };
    Cidr {
        addr: mask(addr, len),
        len,
    }
}

/// A user agent's browser family and operating system (`Firefox/Linux`), what stays the
/// same across a browser's updates; anything unrecognised is `other`.
pub fn ua_family(ua: &str) -> String {
    let has = |p: &str| ua.contains(p);
    // Order matters: Edge and Opera say Chrome, Chrome says Safari.
    let browser = if has("Edg/") || has("Edge/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else {
        "other"
    };
    let os = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") || has("iOS") {
        "iOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS") || has("Macintosh") {
        "macOS"
    } else if has("Linux") || has("X11") {
        "Linux"
    } else {
        "other"
    };
    format!("{browser}/{os}")
}

/// The (network, browser family) a sign-in is remembered by.
pub fn familiarity_key(ip: Option<&str>, user_agent: Option<&str>) -> (String, String) {
    let net = ip
        .and_then(|i| i.parse::<IpAddr>().ok())
        .map_or_else(|| "unknown".to_string(), |a| network(a).to_string());
    (net, ua_family(user_agent.unwrap_or("")))
}

/// Whether a sign-in from `(ip, user_agent)` is unfamiliar against the user's earlier
/// successes `history` (newest first; `(ip, user_agent)` each): absent among the last
/// `detect_unfamiliar_history`, once there are `detect_unfamiliar_min_history`.
/// Familiar is the same network *and* browser family seen before: a known browser on a
/// new network (or a new browser at home) is unfamiliar.
pub fn is_unfamiliar(
    ip: Option<&str>,
    user_agent: Option<&str>,
    history: &[(Option<String>, Option<String>)],
    s: &ServerSettings,
) -> bool {
    if (history.len() as i64) < s.detect_unfamiliar_min_history {
        return false;
    }
    let key = familiarity_key(ip, user_agent);
    !history
        .iter()
        .take(usize::try_from(s.detect_unfamiliar_history).unwrap_or(usize::MAX))
        .any(|(i, u)| familiarity_key(i.as_deref(), u.as_deref()) == key)
}

/// Detection 4's finding for a sign-in already judged unfamiliar.
pub fn unfamiliar_sign_in(
    sign_in_id: &str,
    username: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
    history: usize,
    at: Timestamp,
    s: &ServerSettings,
) -> Option<Raise> {
    if s.detect_unfamiliar_mode == OFF {
        return None;
    }
    let (net, family) = familiarity_key(ip, user_agent);
    let mut r = new_raise(
        UNFAMILIAR_SIGN_IN,
        s.detect_unfamiliar_severity,
        "user",
        short(&username.to_lowercase()),
        serde_json::json!({
            "sign_in_id": sign_in_id,
            "address": ip,
            "network": net,
            "browser": family,
            "compared_with_sign_ins": history,
            "enforce": "a browser sign-in presented from an unfamiliar network and browser asks for the password again",
        }),
        (at, at, 1),
        DAY,
        None,
    );
    r.finding.dedup_key = format!("{UNFAMILIAR_SIGN_IN}|sign_in:{sign_in_id}");
    r.merge_after = at + 1;
    Some(r)
}

// --- detection 9: hygiene (daily, from the shared store) ---------------------------------

/// A live client secret and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretAge {
    pub client_id: String,
    pub secret_id: String,
    pub created_at: Timestamp,
}

/// How late a key's scheduled step may be before hygiene reports it: the rotation job
/// runs every minute, so an hour late means it is not running or keeps failing.
pub const KEY_GRACE: i64 = HOUR;

/// Detection 9 at `now`: one finding per client with a secret older than
/// `detect_hygiene_secret_age`, one per key overdue for its step. Deduplicated per day
/// across nodes; an open finding of the same subject is updated instead of repeated.
pub fn hygiene(
    now: Timestamp,
    secrets: &[SecretAge],
    keys: &[crate::model::SigningKey],
    s: &ServerSettings,
) -> Vec<Raise> {
    use crate::model::KeyState;
    if s.detect_hygiene_mode == OFF {
        return Vec::new();
    }
    let day = now.div_euclid(DAY);
    let mut out = Vec::new();
    let mut push = |kind: &str, subject: String, evidence: serde_json::Value, since: Timestamp| {
        let mut r = new_raise(
            HYGIENE,
            s.detect_hygiene_severity,
            kind,
            subject.clone(),
            evidence,
            (since, now, 1),
            DAY,
            None,
        );
        r.finding.dedup_key = format!("{HYGIENE}|{kind}:{subject}|{day}");
        out.push(r);
    };
    let mut oldest: HashMap<&str, &SecretAge> = HashMap::new();
    for sa in secrets {
        if now - sa.created_at > s.detect_hygiene_secret_age {
            let e = oldest.entry(sa.client_id.as_str()).or_insert(sa);
            if sa.created_at < e.created_at {
                *e = sa;
            }
        }
    }
    let mut clients: Vec<_> = oldest.into_values().collect();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    for sa in clients {
        push(
            "client",
            short(&sa.client_id),
            serde_json::json!({
                "problem": "client secret older than the policy age",
                "secret_id": sa.secret_id,
                "created_at": sa.created_at,
                "age_days": (now - sa.created_at) / DAY,
                "policy_days": s.detect_hygiene_secret_age / DAY,
                "advice": "rotate the client's secret",
            }),
            sa.created_at,
        );
    }
    for k in keys {
        let (problem, due) = match k.state {
            KeyState::Active => (
                "key rotation overdue",
                k.activated_at.unwrap_or(k.created_at) + s.rotate_every,
            ),
            KeyState::Retiring => (
                "retiring key past its retirement",
                k.retiring_at.unwrap_or(k.created_at) + s.retire_after,
            ),
            // A successor waits, published, until the active key is due: not late.
            KeyState::Next | KeyState::Retired | KeyState::Revoked => continue,
        };
        if now - due <= KEY_GRACE {
            continue;
        }
        push(
            "key",
            k.kid.clone(),
            serde_json::json!({
                "problem": problem,
                "state": k.state.as_str(),
                "due_at": due,
                "late_by_secs": now - due,
                "advice": "check that the key rotation job runs (latchkey admin keys list), or rotate now",
            }),
            due,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MONITOR;
    /// Failures surface as errors (`?`), not as panics on `unwrap`.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

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
    fn addresses_and_networks_are_parsed_canonical_and_too_wide_ones_refused() -> TestResult {
        assert_eq!(Cidr::parse("203.0.113.7")?.to_string(), "203.0.113.7/32");
        assert_eq!(Cidr::parse("10.1.2.3/8")?.to_string(), "10.0.0.0/8");
        assert_eq!(Cidr::parse("2001:db8::1/64")?.to_string(), "2001:db8::/64");
        assert_eq!(Cidr::parse("::ffff:192.0.2.1")?.to_string(), "192.0.2.1/32");
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
        assert!(Cidr::parse("2001:db8::/64")?.contains(ip("2001:db8::ffff:1")));
        assert!(!Cidr::parse("2001:db8::/64")?.contains(ip("2001:db8:0:1::1")));
        Ok(())
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
    fn brute_force_in_enforce_mode_blocks_only_the_account_from_that_address() -> TestResult {
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
        let b = brute[0].block.as_ref().ok_or("nothing was returned")?;
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
        Ok(())
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
    fn spray_in_enforce_mode_blocks_the_address() -> TestResult {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        let mut r = Vec::new();
        for u in 0..10 {
            r.extend(fail(&mut d, &format!("user{u}"), "203.0.113.9", T + u, &s));
        }
        let spray: Vec<_> = r.iter().filter(|r| r.finding.rule == SPRAY).collect();
        let b = spray[0].block.as_ref().ok_or("nothing was returned")?;
        assert_eq!(
            (b.cidr.as_str(), b.principal.as_str()),
            ("203.0.113.9/32", "")
        );
        assert!(spray[0]
            .finding
            .action
            .starts_with("blocked everyone from 203.0.113.9/32"));
        Ok(())
    }

    #[test]
    fn an_attacker_rotating_addresses_within_one_ipv6_64_is_counted_as_one_sprayer() -> TestResult {
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
        let set = BlockSet::new(&[spray[0].block.clone().ok_or("nothing was returned")?]);
        assert!(set
            .check(ip("2001:db8:1:2:ffff::1"), None, T + 20)
            .is_some());
        assert!(set.check(ip("2001:db8:1:3::1"), None, T + 20).is_none());
        Ok(())
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
    ) -> TestResult {
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
        let b = r[0].block.as_ref().ok_or("nothing was returned")?;
        assert_eq!(
            (b.cidr.as_str(), b.principal.as_str()),
            ("198.51.100.9/32", "client:app")
        );
        Ok(())
    }

    #[test]
    fn one_address_failing_for_several_client_ids_raises_an_address_finding() -> TestResult {
        let s = settings(ENFORCE);
        let mut d = Detector::new();
        assert!(client_fail(&mut d, "a", "198.51.100.5", T, &s).is_empty());
        assert!(client_fail(&mut d, "b", "198.51.100.5", T + 1, &s).is_empty());
        let r = client_fail(&mut d, "c", "198.51.100.5", T + 2, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.subject_kind, "address");
        assert_eq!(
            r[0].block.as_ref().ok_or("nothing was returned")?.principal,
            ""
        );
        Ok(())
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

    // --- detections 3–9 ---------------------------------------------------------------

    fn all(mode: i64) -> ServerSettings {
        ServerSettings {
            detect_wave_mode: mode,
            detect_unfamiliar_mode: mode,
            detect_refresh_reuse_mode: mode,
            detect_mint_mode: mode,
            detect_token_replay_mode: mode,
            detect_hygiene_mode: mode,
            ..ServerSettings::default()
        }
    }

    #[test]
    fn a_wave_fires_at_the_floor_or_factor_times_the_median_and_not_below() -> TestResult {
        let s = all(MONITOR);
        // A quiet server: the floor (50) decides.
        assert!(wave(T, &[49, 0, 0, 0, 0, 0, 0, 0], &s).is_none());
        let r = wave(T, &[50, 0, 0, 0, 0, 0, 0, 0], &s).ok_or("nothing was returned")?;
        assert_eq!(r.finding.rule, WAVE);
        assert_eq!(r.finding.count, 50);
        assert_eq!(r.finding.severity, "high");
        assert!(r.block.is_none(), "alerts only");
        // A busy server: 5 × the median (30) = 150; one past day's attack (900) does
        // not move the median.
        let busy = [30, 30, 28, 900, 31, 29, 30];
        let mut c = vec![149];
        c.extend(busy);
        assert!(wave(T, &c, &s).is_none());
        c[0] = 150;
        assert!(wave(T, &c, &s).is_some());
        // Two nodes in the same hour write one row.
        assert_eq!(
            wave(T, &c, &s)
                .ok_or("nothing was returned")?
                .finding
                .dedup_key,
            wave(T + 59, &c, &s)
                .ok_or("nothing was returned")?
                .finding
                .dedup_key
        );
        assert!(wave(T, &c, &all(OFF)).is_none());
        Ok(())
    }

    #[test]
    fn the_wave_windows_are_the_last_hour_then_the_same_hour_on_previous_days() {
        let w = wave_windows(T, &all(MONITOR));
        assert_eq!(w.len(), 8);
        assert_eq!(w[0], (T - HOUR, T));
        assert_eq!(w[7], (T - 7 * DAY - HOUR, T - 7 * DAY));
    }

    #[test]
    fn a_minting_spike_is_measured_against_the_clients_own_busiest_minute() -> TestResult {
        let s = all(MONITOR);
        let m = |count, peak| MintMinute {
            client_id: "app".into(),
            count,
            peak,
        };
        assert!(mint_spike(T, &m(99, 0), &s).is_none(), "below the floor");
        assert!(mint_spike(T, &m(100, 0), &s).is_some(), "at the floor");
        assert!(
            mint_spike(T, &m(899, 300), &s).is_none(),
            "a busy client's normal"
        );
        let r = mint_spike(T, &m(900, 300), &s).ok_or("nothing was returned")?;
        assert_eq!(
            (r.finding.rule.as_str(), r.finding.subject.as_str()),
            (MINT_SPIKE, "app")
        );
        assert!(mint_spike(T, &m(900, 300), &all(OFF)).is_none());
        let (minute, from, to) = mint_windows(T + 10, 15, &s);
        assert_eq!(minute % 60, 0);
        assert!(
            T + 10 - (minute + 60) >= 15,
            "the minute ended long enough ago"
        );
        assert_eq!((from, to), (minute - 7 * DAY, minute - HOUR));
        Ok(())
    }

    #[test]
    fn a_first_use_is_alarming_only_for_a_client_past_its_learning_days() -> TestResult {
        let s = all(MONITOR);
        assert!(mint_new_use("app", UseKind::Scope, "admin", None, T, &s).is_none());
        assert!(
            mint_new_use("app", UseKind::Scope, "admin", Some(T - 7 * DAY + 1), T, &s).is_none()
        );
        let r = mint_new_use("app", UseKind::Scope, "admin", Some(T - 7 * DAY), T, &s)
            .ok_or("nothing was returned")?;
        assert_eq!(r.finding.dedup_key, "mint_new_use|client:app|scope:admin");
        let g = mint_new_use("app", UseKind::Grant, "refresh_token", Some(0), T, &s)
            .ok_or("nothing was returned")?;
        assert_ne!(g.finding.dedup_key, r.finding.dedup_key);
        Ok(())
    }

    #[test]
    fn refresh_reuse_from_elsewhere_than_the_holder_is_likely_theft_and_names_the_hop() -> TestResult
    {
        let s = all(MONITOR);
        let ctx = ReuseContext {
            user_id: "u1".into(),
            generation: 2,
            latest_generation: 5,
            holder_ip: Some("192.0.2.1".into()),
            holder_user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".into()),
        };
        let same = refresh_reuse(
            "app",
            "s1",
            Some(ip("192.0.2.1")),
            Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"),
            Some(&ctx),
            T,
            &s,
        )
        .ok_or("nothing was returned")?;
        let ev: serde_json::Value = serde_json::from_str(&same.finding.evidence)?;
        assert_eq!(ev["tag"], "reuse");
        assert_eq!(ev["replayed_generation"], 2);
        assert_eq!(same.finding.severity, "high");
        let stolen = refresh_reuse(
            "app",
            "s1",
            Some(ip("203.0.113.9")),
            Some("curl/8.0"),
            Some(&ctx),
            T,
            &s,
        )
        .ok_or("nothing was returned")?;
        let ev: serde_json::Value = serde_json::from_str(&stolen.finding.evidence)?;
        assert_eq!(ev["tag"], "likely theft");
        assert_eq!(ev["latest_generation"], 5);
        assert_eq!(stolen.finding.severity, "critical");
        assert_eq!(stolen.finding.subject, "u1");
        assert!(stolen.revoke_user.is_none(), "monitor mode does nothing");
        let enforced = refresh_reuse(
            "app",
            "s1",
            Some(ip("203.0.113.9")),
            None,
            Some(&ctx),
            T,
            &all(ENFORCE),
        )
        .ok_or("nothing was returned")?;
        assert_eq!(enforced.revoke_user.as_deref(), Some("u1"));
        // The same address and browser (a client retrying) is never revoked beyond
        // the family, even in enforce mode.
        let retry = refresh_reuse(
            "app",
            "s1",
            Some(ip("192.0.2.1")),
            Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"),
            Some(&ctx),
            T,
            &all(ENFORCE),
        )
        .ok_or("nothing was returned")?;
        assert!(retry.revoke_user.is_none());
        Ok(())
    }

    #[test]
    fn user_agents_are_judged_by_browser_family_and_system() {
        assert_eq!(
            ua_family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0"),
            "Edge/Windows"
        );
        assert_eq!(
            ua_family("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"),
            "Safari/macOS"
        );
        assert_eq!(
            ua_family("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"),
            "Chrome/Android"
        );
        assert_eq!(ua_family(""), "other/other");
        assert_eq!(network(ip("198.51.100.77")).to_string(), "198.51.100.0/24");
        assert_eq!(
            network(ip("2001:db8:1:2::5")).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn a_sign_in_is_unfamiliar_only_after_the_learning_history_and_outside_it() -> TestResult {
        let s = all(MONITOR);
        let ff = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0";
        let home = |n: usize| -> Vec<(Option<String>, Option<String>)> {
            (0..n)
                .map(|i| (Some(format!("192.0.2.{}", i + 1)), Some(ff.to_string())))
                .collect()
        };
        // Four earlier successes: still learning.
        assert!(!is_unfamiliar(Some("203.0.113.5"), Some(ff), &home(4), &s));
        assert!(is_unfamiliar(Some("203.0.113.5"), Some(ff), &home(5), &s));
        // Same /24, same browser family: familiar.
        assert!(!is_unfamiliar(Some("192.0.2.200"), Some(ff), &home(5), &s));
        // Same network, another browser: unfamiliar.
        assert!(is_unfamiliar(
            Some("192.0.2.200"),
            Some("curl/8.0"),
            &home(5),
            &s
        ));
        // Only the last N count.
        let mut h = vec![(Some("10.0.0.1".to_string()), Some(ff.to_string())); 20];
        h.push((Some("203.0.113.5".into()), Some(ff.into())));
        assert!(is_unfamiliar(Some("203.0.113.5"), Some(ff), &h, &s));
        let r = unfamiliar_sign_in("si1", "Alice", Some("203.0.113.5"), Some(ff), 5, T, &s)
            .ok_or("nothing was returned")?;
        assert_eq!(
            (r.finding.rule.as_str(), r.finding.subject.as_str()),
            (UNFAMILIAR_SIGN_IN, "alice")
        );
        assert!(unfamiliar_sign_in("si1", "a", None, None, 5, T, &all(OFF)).is_none());
        Ok(())
    }

    fn presented(
        d: &mut Detector,
        caller: TokenCaller,
        verdict: TokenVerdict,
        at: Timestamp,
        s: &ServerSettings,
    ) -> Vec<Raise> {
        d.observe(
            &Signal::TokenPresented {
                endpoint: "introspect",
                caller,
                verdict,
            },
            at,
            s,
        )
    }

    #[test]
    fn token_scanning_raises_once_at_the_threshold_and_enforce_blocks_only_that_caller(
    ) -> TestResult {
        let caller = TokenCaller {
            client_id: Some("rs".into()),
            addr: Some(ip("198.51.100.3")),
        };
        for mode in [MONITOR, ENFORCE] {
            let s = all(mode);
            let mut d = Detector::new();
            for i in 0..49 {
                assert!(
                    presented(&mut d, caller.clone(), TokenVerdict::Invalid, T + i, &s).is_empty()
                );
            }
            let r = presented(&mut d, caller.clone(), TokenVerdict::Invalid, T + 49, &s);
            assert_eq!(r.len(), 1);
            assert_eq!(
                (r[0].finding.rule.as_str(), r[0].finding.subject.as_str()),
                (TOKEN_SCAN, "rs")
            );
            assert!(
                presented(&mut d, caller.clone(), TokenVerdict::Invalid, T + 50, &s).is_empty()
            );
            match mode {
                ENFORCE => {
                    let b = r[0].block.as_ref().ok_or("nothing was returned")?;
                    assert_eq!(
                        (b.cidr.as_str(), b.principal.as_str()),
                        ("198.51.100.3/32", "client:rs")
                    );
                }
                _ => assert!(r[0].block.is_none()),
            }
        }
        Ok(())
    }

    #[test]
    fn a_revoked_token_presented_is_one_finding_per_token_naming_its_user_never_the_token() {
        let s = all(MONITOR);
        let mut d = Detector::new();
        let v = TokenVerdict::Revoked {
            why: "session",
            jti: Some("j1".into()),
            subject: Some("u1".into()),
            client_id: Some("app".into()),
        };
        let caller = TokenCaller {
            client_id: None,
            addr: Some(ip("203.0.113.4")),
        };
        let r = presented(&mut d, caller.clone(), v.clone(), T, &s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].finding.rule, REVOKED_TOKEN_REPLAY);
        assert_eq!(
            (
                r[0].finding.subject_kind.as_str(),
                r[0].finding.subject.as_str()
            ),
            ("user", "u1")
        );
        assert!(r[0].finding.evidence.contains("\"jti\":\"j1\""));
        let again = presented(&mut d, caller, v, T + 5, &s);
        assert_eq!(
            again[0].finding.dedup_key, r[0].finding.dedup_key,
            "same token, same row"
        );
        let off = presented(
            &mut Detector::new(),
            TokenCaller {
                client_id: None,
                addr: None,
            },
            TokenVerdict::Invalid,
            T,
            &all(OFF),
        );
        assert!(off.is_empty());
    }

    fn key(
        kid: &str,
        state: crate::model::KeyState,
        created: Timestamp,
        activated: Option<Timestamp>,
        retiring: Option<Timestamp>,
    ) -> crate::model::SigningKey {
        crate::model::SigningKey {
            kid: kid.into(),
            alg: crate::model::Alg::ES256,
            state,
            public_jwk: "{}".into(),
            private_enc: vec![],
            created_at: created,
            activated_at: activated,
            retiring_at: retiring,
            retired_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn hygiene_reports_old_secrets_and_overdue_keys_once_a_day_and_nothing_in_order() {
        use crate::model::KeyState;
        let s = all(MONITOR);
        let age = s.detect_hygiene_secret_age;
        let secret = |c: &str, at| SecretAge {
            client_id: c.into(),
            secret_id: format!("{c}-s"),
            created_at: at,
        };
        let fresh_keys = [
            key("a", KeyState::Active, T - 10, Some(T - 10), None),
            key("n", KeyState::Next, T - 10, None, None),
        ];
        assert!(hygiene(T, &[secret("new", T - age)], &fresh_keys, &s).is_empty());
        let r = hygiene(
            T,
            &[secret("old", T - age - 1), secret("new", T - age)],
            &fresh_keys,
            &s,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].finding.subject_kind.as_str(),
                r[0].finding.subject.as_str()
            ),
            ("client", "old")
        );
        assert_eq!(
            r[0].finding.dedup_key,
            format!("hygiene|client:old|{}", T.div_euclid(DAY))
        );
        let late = [
            key(
                "a",
                KeyState::Active,
                0,
                Some(T - s.rotate_every - KEY_GRACE - 1),
                None,
            ),
            key(
                "r",
                KeyState::Retiring,
                0,
                Some(0),
                Some(T - s.retire_after - KEY_GRACE - 1),
            ),
        ];
        let r = hygiene(T, &[], &late, &s);
        let kids: Vec<&str> = r.iter().map(|r| r.finding.subject.as_str()).collect();
        assert_eq!(kids, ["a", "r"]);
        assert!(hygiene(T, &[secret("old", 0)], &late, &all(OFF)).is_empty());
    }

    #[test]
    fn a_flood_of_invalid_tokens_from_rotating_addresses_raises_a_bounded_number_of_findings() {
        let s = ServerSettings {
            detect_token_scan_invalid: 2,
            ..all(MONITOR)
        };
        let mut d = Detector::new();
        let mut n = 0;
        for a in 0..1000u32 {
            let caller = TokenCaller {
                client_id: None,
                addr: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + a))),
            };
            for _ in 0..2 {
                n += presented(&mut d, caller.clone(), TokenVerdict::Invalid, T, &s).len();
            }
        }
        assert_eq!(n, MAX_RAISES_PER_MINUTE as usize);
    }
}
