//! Webhooks (issue 14) against a receiver on loopback: Standard Webhooks signatures and
//! timestamps checked with an independent HMAC, retries on the back-off schedule of a
//! stepped fixed clock, per-endpoint order, once-only delivery with two dispatchers on
//! one store (SQLite, and PostgreSQL), and the SSRF rules at registration through the
//! admin API.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use latchkey_e2e::latchkey_core::clock::{Clock, FixedClock};
use latchkey_e2e::latchkey_core::crypto::Kek;
use latchkey_e2e::latchkey_core::manage::{ManagePolicy, Manager, NewWebhook};
use latchkey_e2e::latchkey_core::model::Finding;
use latchkey_e2e::latchkey_core::store::Store;
use latchkey_e2e::latchkey_core::webhook::{retry_delay, Dispatcher, WebhookSender};
use latchkey_e2e::latchkey_server::webhook::HttpWebhookSender;
use latchkey_e2e::latchkey_store_sqlite::SqliteStore;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const T0: i64 = 1_800_000_000;

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook endpoint on loopback: records every request; answers 500 while
/// `failures` is above zero (counting down), then 204.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let (s, f) = (seen.clone(), failures.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                s.lock().unwrap().push(Received {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp").parse().unwrap_or(0),
                    signature: h("webhook-signature"),
                    body,
                });
                let failing = f
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url,
        seen,
        failures,
    }
}

/// The receiver's check, written independently of the server's code: HMAC-SHA256
/// (ring) keyed with the base64 after `whsec_`, over `id.timestamp.body`.
fn signature_valid(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signed = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    r.signature.split(' ').any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|tag| ring::hmac::verify(&key, signed.as_bytes(), &tag).is_ok())
    })
}

fn finding(n: i64, at: i64, severity: &str) -> Finding {
    Finding {
        id: format!("fd-{n}"),
        dedup_key: format!("brute_force|user:u{n}|{at}"),
        rule: "brute_force".into(),
        severity: severity.into(),
        subject_kind: "user".into(),
        subject: format!("u{n}"),
        evidence: r#"{"failures":5}"#.into(),
        action: "none (monitor mode)".into(),
        status: "open".into(),
        acked_by: None,
        acked_at: None,
        first_seen: at - 10,
        last_seen: at,
        count: 5,
        raised_at: at,
    }
}

struct Setup {
    store: Arc<dyn Store>,
    clock: FixedClock,
    kek: Kek,
    sender: Arc<dyn WebhookSender>,
    manager: Manager,
    _dir: tempfile::TempDir,
}

async fn sqlite_setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("latchkey.db"))
            .await
            .unwrap(),
    );
    setup_on(store, dir)
}

fn setup_on(store: Arc<dyn Store>, dir: tempfile::TempDir) -> Setup {
    let clock = FixedClock::new(T0);
    let kek = Kek::generate();
    // A loopback issuer's sender: http:// to loopback allowed, as for tests of key URLs.
    let sender: Arc<dyn WebhookSender> = Arc::new(HttpWebhookSender::new(true));
    let manager = Manager::new(
        store.clone(),
        Arc::new(clock.clone()),
        kek.clone(),
        ManagePolicy::default(),
    )
    .with_webhook_sender(Some(sender.clone()));
    Setup {
        store,
        clock,
        kek,
        sender,
        manager,
        _dir: dir,
    }
}

impl Setup {
    fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            Arc::new(self.clock.clone()),
            self.kek.clone(),
            self.sender.clone(),
        )
    }

    async fn webhook(&self, url: &str, severities: &[&str]) -> (String, String) {
        let (w, secret) = self
            .manager
            .webhook_create(
                "test",
                NewWebhook {
                    name: "alerts".into(),
                    url: url.into(),
                    severities: severities.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (w.id, secret.into_string())
    }
}

#[tokio::test]
async fn a_finding_reaches_the_endpoint_signed_with_the_secret_shown_once_and_timestamped_now() {
    let s = sqlite_setup().await;
    let r = receiver().await;
    let (id, secret) = s.webhook(&r.url, &[]).await;
    // Wants only critical findings: sent nothing below.
    let critical_only = receiver().await;
    s.webhook(&critical_only.url, &["critical"]).await;
    s.clock.advance(5);
    s.store
        .finding_raise(&finding(1, s.clock.now(), "high"), 0)
        .await
        .unwrap();
    s.clock.advance(1);
    let report = s.dispatcher().step().await.unwrap();
    assert_eq!(report.delivered, 1);

    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let got = &seen[0];
    assert!(signature_valid(&secret, got), "{got:?}");
    assert_eq!(got.timestamp, s.clock.now());
    assert!(got.id.starts_with("msg_"));
    let body = got.json();
    assert_eq!(body["type"], "finding.raised");
    assert_eq!(body["data"]["id"], "fd-1");
    assert_eq!(body["data"]["rule"], "brute_force");
    // A forgery (another secret, or the body changed) does not verify.
    let forged = Received {
        body: got.body.replace("brute_force", "spray"),
        ..got.clone()
    };
    assert!(!signature_valid(&secret, &forged));
    assert!(critical_only.seen.lock().unwrap().is_empty());

    let w = s.manager.webhook_get(&id).await.unwrap();
    assert_eq!(w.last_success_at, Some(s.clock.now()));
    assert_eq!((w.pending, w.consecutive_failures), (0, 0));
    // The secret is sealed at rest: not in the database file in plaintext.
    let stored = s.store.webhook_get(&id).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&stored.secret_enc).contains(&secret[6..]));
    // Stepping again sends nothing more.
    assert_eq!(s.dispatcher().step().await.unwrap().delivered, 0);
    assert_eq!(r.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_back_off_schedule_and_holds_later_findings_in_order()
{
    let s = sqlite_setup().await;
    let r = receiver().await;
    let (id, secret) = s.webhook(&r.url, &[]).await;
    r.failures.store(2, Ordering::SeqCst);
    s.clock.advance(1);
    for n in 1..=3 {
        s.store
            .finding_raise(&finding(n, s.clock.now() + n, "high"), 0)
            .await
            .unwrap();
    }
    s.clock.advance(10);
    let d = s.dispatcher();

    // First attempt fails; the queue waits behind its head.
    let rep = d.step().await.unwrap();
    assert_eq!((rep.delivered, rep.retried), (0, 1));
    let w = s.manager.webhook_get(&id).await.unwrap();
    assert_eq!(w.consecutive_failures, 1);
    assert_eq!(w.pending, 3);
    assert_eq!(
        w.last_failure_reason.as_deref(),
        Some("the endpoint answered 500")
    );
    assert_eq!(w.last_failure_at, Some(s.clock.now()));

    // Not before its time: one second short of the first back-off, nothing is sent.
    s.clock.advance(retry_delay(1) - 1);
    assert_eq!(d.step().await.unwrap(), Default::default());
    assert_eq!(r.seen.lock().unwrap().len(), 1);
    // At the back-off: the second attempt (fails too), then the doubled wait.
    s.clock.advance(1);
    assert_eq!(d.step().await.unwrap().retried, 1);
    s.clock.advance(retry_delay(2) - 1);
    assert_eq!(d.step().await.unwrap(), Default::default());
    s.clock.advance(1);
    let rep = d.step().await.unwrap();
    assert_eq!(rep.delivered, 3);

    let seen = r.seen.lock().unwrap().clone();
    let ids: Vec<String> = seen
        .iter()
        .map(|x| x.json()["data"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["fd-1", "fd-1", "fd-1", "fd-2", "fd-3"]);
    // Every attempt of one delivery carries the same id and body, a fresh timestamp and
    // a signature over both.
    assert!(seen[0].id == seen[1].id && seen[1].id == seen[2].id);
    assert_eq!(seen[0].body, seen[2].body);
    assert!(seen[0].timestamp < seen[1].timestamp && seen[1].timestamp < seen[2].timestamp);
    assert!(seen.iter().all(|x| signature_valid(&secret, x)));
    let w = s.manager.webhook_get(&id).await.unwrap();
    assert_eq!((w.pending, w.consecutive_failures), (0, 0));
    assert_eq!(w.last_success_at, Some(s.clock.now()));
}

async fn two_dispatchers_deliver_each_finding_once_and_in_order(s: Setup) {
    let r = receiver().await;
    s.webhook(&r.url, &[]).await;
    s.clock.advance(1);
    for n in 1..=12 {
        s.store
            .finding_raise(&finding(n, s.clock.now() + n, "medium"), 0)
            .await
            .unwrap();
    }
    s.clock.advance(20);
    let (a, b) = (s.dispatcher(), s.dispatcher());
    for _ in 0..4 {
        let (ra, rb) = tokio::join!(a.step(), b.step());
        ra.unwrap();
        rb.unwrap();
    }
    let ids: Vec<String> = r
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.json()["data"]["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=12).map(|n| format!("fd-{n}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn two_dispatchers_on_one_sqlite_store_deliver_each_finding_once_and_in_order() {
    two_dispatchers_deliver_each_finding_once_and_in_order(sqlite_setup().await).await;
}

#[tokio::test]
async fn two_dispatchers_on_one_postgresql_database_deliver_each_finding_once_and_in_order() {
    let db = latchkey_e2e::pg::TestDatabase::create()
        .await
        .expect("a PostgreSQL test database");
    let store: Arc<dyn Store> = Arc::new(
        latchkey_store_postgres::PgStore::connect(&db.url)
            .await
            .unwrap(),
    );
    two_dispatchers_deliver_each_finding_once_and_in_order(setup_on(
        store,
        tempfile::tempdir().unwrap(),
    ))
    .await;
}

/// Through the admin API of a loopback server: the secret is in the creation answer
/// only, a test event arrives signed, and SSRF targets are refused at creation.
#[tokio::test]
async fn the_admin_api_shows_the_secret_once_sends_a_signed_test_and_refuses_ssrf_targets() {
    let h = latchkey_e2e::Harness::start().await.unwrap();
    let (_, key) = h.api_key(false).await.unwrap();
    let http = reqwest::Client::new();
    let r = receiver().await;
    let post = |body: Value| {
        http.post(h.admin_url("/admin/v1/webhooks"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    for url in [
        "http://hooks.example.com/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd12::1]/x",
        "https://user:pw@hooks.example.com/x",
    ] {
        let resp = post(serde_json::json!({"name": "x", "url": url}))
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], "invalid_input", "{url}");
    }
    let resp = post(serde_json::json!({"name": "x", "url": r.url, "severities": ["urgent"]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = post(
        serde_json::json!({"name": "pager", "url": r.url, "severities": ["high", "critical"]}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = created["id"].as_str().unwrap().to_string();

    let got: Value = http
        .get(h.admin_url(&format!("/admin/v1/webhooks/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(got.get("secret").is_none());
    assert!(!got.to_string().contains(&secret));

    let tested: Value = http
        .post(h.admin_url(&format!("/admin/v1/webhooks/{id}/test")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested["delivered"], true, "{tested}");
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(signature_valid(&secret, &seen[0]));
    assert_eq!(seen[0].json()["type"], "webhook.test");

    // Audited before → after, never with the secret.
    let audit: Value = http
        .get(h.admin_url("/admin/v1/audit"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(
        text.contains("webhook.create") && text.contains("webhook.test"),
        "{text}"
    );
    assert!(!text.contains(&secret));
}

#[tokio::test]
async fn a_flood_of_findings_queues_at_most_the_pending_cap_for_an_endpoint_that_is_down() {
    use latchkey_e2e::latchkey_core::webhook::MAX_PENDING;
    let s = sqlite_setup().await;
    let r = receiver().await;
    let (id, _) = s.webhook(&r.url, &[]).await;
    r.failures.store(usize::MAX, Ordering::SeqCst);
    s.clock.advance(1);
    let base = s.clock.now();
    for n in 0..(MAX_PENDING + 25) {
        s.store
            .finding_raise(&finding(n, base + n / 100, "low"), 0)
            .await
            .unwrap();
    }
    s.clock.advance(60);
    let d = s.dispatcher();
    d.step().await.unwrap();
    d.step().await.unwrap();
    let w = s.manager.webhook_get(&id).await.unwrap();
    assert_eq!(w.pending, MAX_PENDING);
    // The head was tried once and waits for its back-off; nothing else went out.
    assert_eq!(r.seen.lock().unwrap().len(), 1);
    assert_eq!(w.consecutive_failures, 1);
}
