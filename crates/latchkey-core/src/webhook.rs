//! Webhooks (issue 14): telling an administrator's endpoints about findings.
//!
//! Owns: the signature (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with a `whsec_…`
//! secret, HMAC on `aws-lc-rs`), the endpoint rules checked at registration (the
//! `jwks_uri` fetcher's SSRF rules, [`crate::net`]), the payload of a finding, the retry
//! schedule, and the [`Dispatcher`]: a step that queues new findings for every enabled
//! webhook from its cursor and sends each webhook's oldest pending delivery.
//!
//! Several nodes on one database run a dispatcher each, and each finding reaches each
//! endpoint once: queuing is `INSERT … ON CONFLICT DO NOTHING` on the unique (webhook,
//! finding) pair, and sending needs a claim, one conditional `UPDATE` that one node wins
//! (a lease: a node that dies mid-send leaves it to another after [`LEASE_SECS`], so a
//! receiver may see an id twice then and deduplicates on `webhook-id`). One webhook's
//! deliveries go out in finding order: only the head of its queue is ever attempted, and
//! it holds the others back while it waits for its retry.
//!
//! Does not own: the HTTP request (a [`WebhookSender`]; the server's resolves the host,
//! refuses non-public addresses and connects to the address it checked) nor the timer
//! (the server's background task calls [`Dispatcher::step`]; every schedule reads the
//! [`Clock`], so tests step a fixed clock and the dispatcher by hand).

use crate::clock::{Clock, Timestamp};
use crate::crypto::{self, Kek};
use crate::error::StoreError;
use crate::model::{DeliveryOutcome, Finding, Webhook, WebhookDelivery};
use crate::store::Store;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use std::sync::Arc;

/// The prefix of a signing secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// Attempts before a delivery is given up (the last one ~4 h after the first).
pub const MAX_ATTEMPTS: i64 = 12;
/// The first retry waits this long; each next one twice as long, up to [`MAX_DELAY`].
pub const FIRST_DELAY: i64 = 5;
pub const MAX_DELAY: i64 = 3600;
/// How long a node holds a delivery it is sending before another may take it.
pub const LEASE_SECS: i64 = 60;
/// Findings raised this long before a webhook's cursor are looked at again, so a
/// finding written by a node whose clock is behind is not skipped.
pub const OVERLAP_SECS: i64 = 300;
/// At most this many deliveries wait per webhook; past it new findings wait in the
/// findings table (bounded itself) until the endpoint drains its queue.
pub const MAX_PENDING: i64 = 1000;
/// Findings looked at per webhook and step.
const SCAN_LIMIT: i64 = 1000;
/// Deliveries sent per webhook and step.
const SENDS_PER_STEP: usize = 50;
/// Longest error text kept (what the console shows as the reason).
const ERROR_MAX: usize = 200;

/// Sends one signed request; the server's implementation enforces where it may connect.
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync + 'static {
    /// POSTs `body` (JSON) with `headers` to `url`; the status, or why there is none.
    async fn send(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<u16, String>;
    /// Whether `http://` loopback endpoints are allowed (a server whose own issuer is
    /// on loopback: development and tests), as for client key URLs.
    fn allows_loopback(&self) -> bool;
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!(
        "{SECRET_PREFIX}{}",
        STANDARD.encode(crypto::random_bytes::<32>())
    )
}

/// The HMAC key of a `whsec_…` secret.
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`, or `None` for a malformed
/// secret.
pub fn sign(secret: &str, id: &str, timestamp: Timestamp, body: &str) -> Option<String> {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret_key(secret)?);
    let tag = hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", STANDARD.encode(tag.as_ref())))
}

/// A receiver's check (tests, and the README's example): one of the space-separated
/// `v1,` signatures matches and the timestamp is within `tolerance` seconds of `now`.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: Timestamp,
    body: &str,
    signatures: &str,
    now: Timestamp,
    tolerance: i64,
) -> bool {
    if (now - timestamp).abs() > tolerance {
        return false;
    }
    let Some(expected) = sign(secret, id, timestamp, body) else {
        return false;
    };
    signatures
        .split(' ')
        .any(|s| crypto::ct_eq(s.as_bytes(), expected.as_bytes()))
}

/// The headers of one attempt.
pub fn headers(
    secret: &str,
    id: &str,
    timestamp: Timestamp,
    body: &str,
) -> Option<Vec<(String, String)>> {
    Some(vec![
        ("webhook-id".into(), id.to_string()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            sign(secret, id, timestamp, body)?,
        ),
        ("content-type".into(), "application/json".into()),
    ])
}

/// The wait before attempt `attempts + 1`, after `attempts` failed ones (≥ 1).
pub fn retry_delay(attempts: i64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 20) as u32;
    (FIRST_DELAY << doublings).min(MAX_DELAY)
}

/// The body sent for a finding (frozen when queued; retries send the same bytes).
pub fn finding_payload(f: &Finding) -> String {
    let evidence: serde_json::Value =
        serde_json::from_str(&f.evidence).unwrap_or(serde_json::Value::Null);
    json!({
        "type": "finding.raised",
        "timestamp": f.raised_at,
        "data": {
            "id": f.id,
            "rule": f.rule,
            "severity": f.severity,
            "subject_kind": f.subject_kind,
            "subject": f.subject,
            "action": f.action,
            "count": f.count,
            "evidence": evidence,
            "first_seen": f.first_seen,
            "last_seen": f.last_seen,
            "raised_at": f.raised_at,
        }
    })
    .to_string()
}

/// The body of `webhook_test`.
pub fn test_payload(webhook_id: &str, at: Timestamp) -> String {
    json!({
        "type": "webhook.test",
        "timestamp": at,
        "data": {"webhook_id": webhook_id, "message": "a test event from Latchkey"}
    })
    .to_string()
}

/// Whether a webhook wants a finding (empty lists: everything).
pub fn wants(w: &Webhook, f: &Finding) -> bool {
    (w.severities.is_empty() || w.severities.contains(&f.severity))
        && (w.rules.is_empty() || w.rules.contains(&f.rule))
}

/// The endpoint rules checked when a webhook is registered or changed (RG-05, as for
/// client key URLs): `https://`, or `http://` on loopback where loopback is allowed; no
/// credentials in the URL, no fragment; an address literal must be public (or loopback
/// where allowed). Names are resolved and checked again on every delivery.
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<url::Url, String> {
    if raw.len() > 2048 {
        return Err("the URL is longer than 2048 characters".into());
    }
    let u = url::Url::parse(raw).map_err(|_| "not an absolute URL".to_string())?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL may not carry credentials (user:password@)".into());
    }
    if u.fragment().is_some() {
        return Err("the URL may not have a fragment".into());
    }
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err("the URL has no host".into()),
    };
    match u.scheme() {
        "https" => {}
        "http" if loopback && allow_loopback => {}
        "http" => {
            return Err("webhooks are delivered over https:// only (http:// only to loopback on a development server)".into())
        }
        _ => return Err("webhooks are delivered over https:// only".into()),
    }
    if loopback && !allow_loopback {
        return Err("loopback addresses are refused as webhook targets".into());
    }
    let literal = match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal {
        if !loopback && !crate::net::is_public(ip) {
            return Err(format!(
                "{ip} is not a public address (private, link-local and reserved ranges are refused)"
            ));
        }
    }
    Ok(u)
}

/// What one step did (tests and the log).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    pub queued: u64,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
}

/// Queues and sends deliveries; see the module comment. One per node.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    kek: Kek,
    sender: Arc<dyn WebhookSender>,
    node: String,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kek: Kek,
        sender: Arc<dyn WebhookSender>,
    ) -> Self {
        Self {
            store,
            clock,
            kek,
            sender,
            node: crypto::random_id(),
        }
    }

    /// One pass over every enabled webhook: queue what is new, send what is due.
    /// Webhooks are served one after another; each gets at most a few sends per step.
    pub async fn step(&self) -> Result<StepReport, StoreError> {
        let mut report = StepReport::default();
        for w in self.store.webhooks_list().await? {
            if !w.enabled {
                continue;
            }
            report.queued += self.enqueue(&w).await?;
            self.send_due(&w, &mut report).await?;
        }
        Ok(report)
    }

    async fn enqueue(&self, w: &Webhook) -> Result<u64, StoreError> {
        if w.pending >= MAX_PENDING {
            return Ok(0);
        }
        let now = self.clock.now();
        let from = w.cursor_at - OVERLAP_SECS;
        let found = self.store.findings_since(from, SCAN_LIMIT).await?;
        let Some(last) = found.last().map(|f| f.raised_at) else {
            return Ok(0);
        };
        // A full batch moves the cursor past its last second (less the overlap the
        // next scan adds back), so a flood cannot pin the scan in one place.
        let cursor = if found.len() as i64 >= SCAN_LIMIT {
            (last + OVERLAP_SECS).max(w.cursor_at + 1)
        } else {
            last.max(w.cursor_at)
        };
        let room = (MAX_PENDING - w.pending).max(0) as usize;
        let list: Vec<WebhookDelivery> = found
            .iter()
            // Findings from before the webhook existed are not news to it.
            .filter(|f| f.raised_at >= w.created_at && wants(w, f))
            .take(room)
            .map(|f| WebhookDelivery {
                id: format!("msg_{}", crypto::random_id()),
                webhook_id: w.id.clone(),
                finding_id: f.id.clone(),
                seq_at: f.raised_at,
                payload: finding_payload(f),
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                claimed_by: None,
                claimed_until: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
            })
            .collect();
        self.store.webhook_enqueue(&w.id, &list, cursor).await
    }

    async fn send_due(&self, w: &Webhook, report: &mut StepReport) -> Result<(), StoreError> {
        let secret = match self.kek.open(&w.secret_enc, w.id.as_bytes()) {
            Ok(s) => String::from_utf8(s).unwrap_or_default(),
            Err(_) => {
                tracing::error!(webhook = %w.id, "a webhook's secret does not open under this KEK");
                return Ok(());
            }
        };
        for _ in 0..SENDS_PER_STEP {
            let now = self.clock.now();
            let Some(d) = self.store.webhook_delivery_head(&w.id).await? else {
                return Ok(());
            };
            // The head waits for its retry, or another node is sending it: the rest of
            // the queue waits behind it (order).
            if d.next_attempt_at > now || d.claimed_until.is_some_and(|u| u > now) {
                return Ok(());
            }
            if !self
                .store
                .webhook_delivery_claim(&d.id, &self.node, now, now + LEASE_SECS)
                .await?
            {
                return Ok(());
            }
            let outcome = match headers(&secret, &d.id, now, &d.payload) {
                None => DeliveryOutcome::Failed {
                    error: "the webhook's secret is malformed".into(),
                },
                Some(h) => match self.sender.send(&w.url, &h, &d.payload).await {
                    Ok(status) if (200..300).contains(&status) => DeliveryOutcome::Delivered,
                    other => {
                        let error: String = match other {
                            Ok(status) => format!("the endpoint answered {status}"),
                            Err(e) => e,
                        }
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(ERROR_MAX)
                        .collect();
                        let attempts = d.attempts + 1;
                        if attempts >= MAX_ATTEMPTS {
                            DeliveryOutcome::Failed { error }
                        } else {
                            DeliveryOutcome::Retry {
                                next_at: self.clock.now() + retry_delay(attempts),
                                error,
                            }
                        }
                    }
                },
            };
            let at = self.clock.now();
            self.store
                .webhook_delivery_finish(&d.id, &self.node, &outcome, at)
                .await?;
            match outcome {
                DeliveryOutcome::Delivered => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => {
                    report.retried += 1;
                    return Ok(());
                }
                // Given up: the next one may go.
                DeliveryOutcome::Failed { .. } => report.failed += 1,
            }
        }
        Ok(())
    }
}

impl crate::oauth::Provider {
    /// A dispatcher over this engine's store, clock and KEK (which stays inside).
    pub fn webhook_dispatcher(&self, sender: Arc<dyn WebhookSender>) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            self.clock.clone(),
            self.kek().clone(),
            sender,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Failures surface as errors (`?`), not as panics on `unwrap`.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The Standard Webhooks reference vector (its libraries' tests).
    #[test]
    fn signatures_match_the_standard_webhooks_reference_vector() -> TestResult {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig =
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).ok_or("no signature")?;
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &format!("v1,bogus {sig}"),
            1614265330 + 10,
            300
        ));
        // Another body, id, timestamp or secret: no match; too old or too new: refused.
        assert!(!verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            "{}",
            &sig,
            1614265330,
            300
        ));
        assert!(!verify(
            secret,
            "msg_other",
            1614265330,
            body,
            &sig,
            1614265330,
            300
        ));
        assert!(!verify(
            &new_secret(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &sig,
            1614265330,
            300
        ));
        assert!(!verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &sig,
            1614265330 + 301,
            300
        ));
        Ok(())
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay(1), 5);
        assert_eq!(retry_delay(2), 10);
        assert_eq!(retry_delay(3), 20);
        assert_eq!(retry_delay(11), 3600);
        assert_eq!(retry_delay(40), 3600);
    }

    #[test]
    fn a_new_secret_is_whsec_and_32_random_bytes() -> TestResult {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(SECRET_PREFIX) && a != b);
        assert_eq!(secret_key(&a).ok_or("not a secret")?.len(), 32);
        Ok(())
    }

    #[test]
    fn targets_must_be_https_and_public_unless_loopback_is_allowed() {
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://10.0.0.1/x",
            "https://192.168.1.20/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://100.64.0.1/x",
            "https://user:pass@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "http://127.0.0.1:9/x",
            "https://127.0.0.1/x",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("https://hooks.example.com/latchkey", false).is_ok());
        assert!(check_url("https://93.184.216.34/x", false).is_ok());
        // Loopback only where allowed, and still never a private address.
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("http://localhost:9/x", true).is_ok());
        assert!(check_url("http://10.0.0.1/x", true).is_err());
        assert!(check_url("https://10.0.0.1/x", true).is_err());
    }
}
