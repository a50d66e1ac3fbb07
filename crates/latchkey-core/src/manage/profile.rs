//! The Security page's drill-down (issue 14): what one account, address or client did
//! lately, put together from what the store already holds — the flagged audit events of
//! failed sign-ins and client authentications, the sessions it opened, the findings about
//! it and the blocks on it. Nothing here writes.
use super::*;
use crate::monitor::Cidr;
use std::net::IpAddr;

/// How far back a profile may look (the detections' longest window is a day; a week of
/// history shows the pattern around it).
const PROFILE_DEFAULT_SECS: i64 = 7 * 24 * 3600;
const PROFILE_MAX_SECS: i64 = 90 * 24 * 3600;
/// Rows read per source: a profile answers at once even for an address that failed a
/// million times; past this it says it is truncated.
const PROFILE_ROWS: i64 = 1000;
/// Entries on the timeline, newest first.
const TIMELINE_MAX: usize = 200;

/// Who a profile is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSubject {
    /// A username as typed at sign-in (it need not exist: sprays try names that do not).
    User(String),
    /// An address or network.
    Address(Cidr),
    /// A client id as presented (it need not exist either).
    Client(String),
}

impl ProfileSubject {
    /// `kind` is `user`, `address` or `client`, as findings name their subjects.
    pub fn parse(kind: &str, subject: &str) -> ManageResult<ProfileSubject> {
        let s = subject.trim();
        if s.is_empty() || s.chars().count() > 256 {
            return Err(ManageError::invalid(
                "the subject is a username, an address or network, or a client id (1 to 256 characters)",
            ));
        }
        match kind {
            "user" => Ok(ProfileSubject::User(s.to_string())),
            "client" => Ok(ProfileSubject::Client(s.to_string())),
            "address" => Cidr::parse(s)
                .map(ProfileSubject::Address)
                .map_err(|e| ManageError::invalid(e.to_string())),
            other => Err(ManageError::invalid(format!(
                "\"{}\" is not a subject kind; the kinds are user, address, client",
                shown(other)
            ))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ProfileSubject::User(_) => "user",
            ProfileSubject::Address(_) => "address",
            ProfileSubject::Client(_) => "client",
        }
    }

    fn shown(&self) -> String {
        match self {
            ProfileSubject::User(s) | ProfileSubject::Client(s) => s.clone(),
            ProfileSubject::Address(c) => c.to_string(),
        }
    }

    /// Whether a recorded address (as text) lies in this subject's network.
    fn holds(&self, ip: Option<&str>) -> bool {
        match (self, ip.and_then(|i| i.parse::<IpAddr>().ok())) {
            (ProfileSubject::Address(c), Some(a)) => c.contains(a),
            _ => false,
        }
    }
}

/// One thing on a profile's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEntry {
    pub at: Timestamp,
    /// `failure` | `success` | `finding`.
    pub kind: &'static str,
    /// In words: "wrong username or password", "signed in to Billing", "spray (high)".
    pub what: String,
    pub user: Option<String>,
    pub address: Option<String>,
    pub client: Option<String>,
}

/// What one subject did since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityProfile {
    /// `user` | `address` | `client`.
    pub kind: &'static str,
    /// Canonical: an address is shown as its network (`a.b.c.d/32`).
    pub subject: String,
    pub since: Timestamp,
    /// Failed sign-ins (user, address) and failed client authentications (client,
    /// address).
    pub failures: i64,
    /// Sessions opened (an authorization granted, or client credentials on a session).
    pub successes: i64,
    /// Usernames tried or signed in, over failures and successes.
    pub distinct_users: i64,
    pub distinct_addresses: i64,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub findings: Vec<Finding>,
    /// Blocks in force that reach this subject.
    pub blocks: Vec<Block>,
    pub timeline: Vec<ProfileEntry>,
    /// A source had more rows than are read: counts are lower bounds.
    pub truncated: bool,
}

/// Words for a flagged failure's action.
fn failure_words(action: &str) -> String {
    if action == "security.login_failed" {
        "wrong username or password".into()
    } else if let Some(endpoint) = action.strip_prefix("security.client_auth_failed.") {
        format!("client authentication failed at /{endpoint}")
    } else {
        "client authentication failed".into()
    }
}

impl Manager {
    /// The drill-down behind a finding: failures, successes, distinct users and
    /// addresses, first and last seen, findings and blocks, and a timeline.
    pub async fn security_profile_get(
        &self,
        subject: &ProfileSubject,
        since: Option<Timestamp>,
    ) -> ManageResult<SecurityProfile> {
        let now = self.now();
        let since = match since {
            None => now - PROFILE_DEFAULT_SECS,
            Some(s) if s >= now - PROFILE_MAX_SECS && s <= now => s,
            Some(_) => {
                return Err(ManageError::invalid(format!(
                    "since is at most {} days back and not in the future",
                    PROFILE_MAX_SECS / 86400
                )))
            }
        };
        let mut truncated = false;

        // Failures: flagged audit events, one per failed attempt (the audit log keeps the
        // name as typed and the address).
        let prefixes: &[&str] = match subject {
            ProfileSubject::User(_) => &["security.login_failed"],
            ProfileSubject::Client(_) => &["security.client_auth_failed"],
            ProfileSubject::Address(_) => &["security.login_failed", "security.client_auth_failed"],
        };
        let target = match subject {
            ProfileSubject::User(u) | ProfileSubject::Client(u) => Some(u.clone()),
            ProfileSubject::Address(_) => None,
        };
        let mut failures = Vec::new();
        for prefix in prefixes {
            let rows = self
                .store
                .audit_list(&AuditFilter {
                    action_prefix: Some((*prefix).to_string()),
                    target: target.clone(),
                    security_only: true,
                    since: Some(since),
                    limit: Some(PROFILE_ROWS),
                    ..Default::default()
                })
                .await?;
            truncated |= rows.len() as i64 >= PROFILE_ROWS;
            failures.extend(rows.into_iter().filter(|e| match subject {
                ProfileSubject::Address(_) => subject.holds(e.ip.as_deref()),
                _ => true,
            }));
        }

        // Successes: sessions opened since then.
        let mut filter = SessionFilter {
            created_from: Some(since),
            limit: Some(PROFILE_ROWS),
            ..Default::default()
        };
        let mut no_user = false;
        match subject {
            ProfileSubject::User(name) => match self.store.user_by_username(name).await? {
                Some(u) => filter.user_id = Some(u.id),
                None => no_user = true,
            },
            ProfileSubject::Client(id) => filter.client_id = Some(id.clone()),
            ProfileSubject::Address(c) => {
                // One host: the store filters; a network is filtered here.
                let host = if c.addr.is_ipv4() { 32 } else { 128 };
                if c.len == host {
                    filter.ip = Some(c.addr.to_string());
                }
            }
        }
        let sessions = if no_user {
            Vec::new()
        } else {
            let rows = self.store.sessions_list(&filter, now).await?;
            truncated |= rows.len() as i64 >= PROFILE_ROWS;
            rows.into_iter()
                .filter(|s| match subject {
                    ProfileSubject::Address(_) => subject.holds(s.session.ip.as_deref()),
                    _ => true,
                })
                .collect::<Vec<_>>()
        };

        // Findings and blocks about the subject.
        let findings: Vec<Finding> = self
            .store
            .findings_list(&FindingFilter {
                limit: PROFILE_ROWS,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|f| f.subject_kind == subject.kind())
            .filter(|f| match subject {
                ProfileSubject::User(u) => f.subject.eq_ignore_ascii_case(u),
                ProfileSubject::Client(c) => f.subject == *c,
                ProfileSubject::Address(c) => Cidr::parse(&f.subject)
                    .map(|fc| c.contains(fc.addr) || fc.contains(c.addr))
                    .unwrap_or(false),
            })
            .collect();
        let blocks: Vec<Block> = self
            .store
            .blocks_list(now)
            .await?
            .into_iter()
            .filter(|b| match subject {
                ProfileSubject::User(u) => b.principal.eq_ignore_ascii_case(&format!("user:{u}")),
                ProfileSubject::Client(c) => b.principal == format!("client:{c}"),
                ProfileSubject::Address(c) => Cidr::parse(&b.cidr)
                    .map(|bc| bc.contains(c.addr) || c.contains(bc.addr))
                    .unwrap_or(false),
            })
            .collect();

        let mut users = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        let mut timeline = Vec::with_capacity(failures.len() + sessions.len() + findings.len());
        for e in &failures {
            let user = (e.action == "security.login_failed")
                .then(|| e.target.clone())
                .flatten();
            let client = (e.action != "security.login_failed")
                .then(|| e.target.clone())
                .flatten();
            if let Some(u) = &user {
                users.insert(u.to_lowercase());
            }
            if let Some(a) = &e.ip {
                addresses.insert(a.clone());
            }
            timeline.push(ProfileEntry {
                at: e.at,
                kind: "failure",
                what: failure_words(&e.action),
                user,
                address: e.ip.clone(),
                client,
            });
        }
        for s in &sessions {
            users.insert(s.username.to_lowercase());
            if let Some(a) = &s.session.ip {
                addresses.insert(a.clone());
            }
            timeline.push(ProfileEntry {
                at: s.session.created_at,
                kind: "success",
                what: format!("signed in to {}", s.client_name),
                user: Some(s.username.clone()),
                address: s.session.ip.clone(),
                client: Some(s.session.client_id.clone()),
            });
        }
        for f in &findings {
            timeline.push(ProfileEntry {
                at: f.raised_at,
                kind: "finding",
                what: format!("{} ({})", f.rule, f.severity),
                user: None,
                address: None,
                client: None,
            });
        }
        let first_seen = timeline
            .iter()
            .filter(|e| e.kind != "finding")
            .map(|e| e.at)
            .min();
        let last_seen = timeline
            .iter()
            .filter(|e| e.kind != "finding")
            .map(|e| e.at)
            .max();
        timeline.sort_by_key(|e| std::cmp::Reverse(e.at));
        truncated |= timeline.len() > TIMELINE_MAX;
        timeline.truncate(TIMELINE_MAX);
        Ok(SecurityProfile {
            kind: subject.kind(),
            subject: subject.shown(),
            since,
            failures: failures.len() as i64,
            successes: sessions.len() as i64,
            distinct_users: users.len() as i64,
            distinct_addresses: addresses.len() as i64,
            first_seen,
            last_seen,
            findings,
            blocks,
            timeline,
            truncated,
        })
    }
}
