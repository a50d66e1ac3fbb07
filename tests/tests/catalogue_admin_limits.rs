//! Catalogue AD (admin sign-in and hardening), part C: limits that hold under
//! concurrency and floods (issue 10 §4, and failed admin API authentications of §5).
//!
//! Black-box against real listeners. Attackers and legitimate callers are told apart
//! the way the server sees them, by their address: on Linux the whole of 127.0.0.0/8
//! is loopback, so a client bound to 127.0.0.2 is "another machine".
//!
//! No assertion depends on machine speed: bursts are made deterministic by holding the
//! argon2 pool's permits (so every request of a burst is in the server at once), and
//! limiter windows never run out during a test (minutes long).

use futures_util::stream::{self, StreamExt};
use latchkey_e2e::latchkey_core::model::{AuditEvent, AuditFilter, GrantType};
use latchkey_e2e::latchkey_server::http::ProxyHeader;
use latchkey_e2e::latchkey_server::AppState;
use latchkey_e2e::{hidden_field, Harness};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cookie-keeping client that connects from `from` (a loopback address).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn state(h: &Harness) -> Arc<AppState> {
    h.running.as_ref().unwrap().state.clone()
}

/// The login form's anti-forgery token for `browser` (the cookie is kept by it).
async fn login_csrf(h: &Harness, browser: &reqwest::Client) -> String {
    let page = browser
        .get(h.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden_field(&page, "csrf").expect("login csrf")
}

/// A login POST with a fresh form (each answer may set a new anti-forgery cookie).
async fn post_login(
    h: &Harness,
    browser: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = login_csrf(h, browser).await;
    let csrf = csrf.as_str();
    browser
        .post(h.url("/login"))
        .form(&[("username", user), ("password", password), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

fn started_a_sign_in(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap_or("").contains("lk_session"))
}

async fn security_rows(h: &Harness) -> Vec<AuditEvent> {
    h.store
        .audit_list(&AuditFilter {
            security_only: true,
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The count a counted security event carries (1 for an event written on its own).
fn count_of(e: &AuditEvent) -> u64 {
    e.after
        .as_deref()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        .and_then(|v| v.get("count").and_then(serde_json::Value::as_u64))
        .unwrap_or(1)
}

/// AD-40: a burst of concurrent wrong passwords for one account from one address gets
/// at most the allowed failures (plus the one that crosses the limit) evaluated; every
/// other request of the burst is answered 429 without its password being checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_is_evaluated_at_most_the_limit_times() {
    let h = Harness::start().await.unwrap();
    h.user("alice", "alice's long password").await.unwrap();
    let st = state(&h);
    let limit = st.limits.login.rule().max_failures as usize;
    // Thirty browsers at one address, each with its form ready.
    let mut browsers = Vec::new();
    for _ in 0..30 {
        let b = client_from("127.0.0.1");
        let csrf = login_csrf(&h, &b).await;
        browsers.push((b, csrf));
    }

    // Every argon2 permit is held: a request whose password is being checked waits
    // here, so the whole burst is inside the server at once.
    let pool = st.password_pool.permits().clone();
    let held = pool
        .clone()
        .acquire_many_owned(pool.available_permits() as u32)
        .await
        .unwrap();
    const BURST: usize = 30;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (b, c) in browsers {
        let (tx, url) = (tx.clone(), h.url("/login"));
        tokio::spawn(async move {
            let r = b
                .post(url)
                .form(&[
                    ("username", "alice"),
                    ("password", "wrong"),
                    ("csrf", c.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let _ = tx.send(r.status().as_u16());
        });
    }
    drop(tx);
    // Those not admitted are refused at once, while the admitted ones still wait.
    let mut refused_early = 0;
    while refused_early < BURST - (limit + 1) {
        let s = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the requests past the limit must be refused without waiting")
            .unwrap();
        assert_eq!(s, 429, "nothing is evaluated while the permits are held");
        refused_early += 1;
    }
    drop(held);
    let mut statuses = Vec::new();
    while let Some(s) = rx.recv().await {
        statuses.push(s);
    }
    let evaluated = st.limits.login.evaluated() as usize;
    let audited = h
        .security_events("security.login_failed")
        .await
        .unwrap()
        .len();
    assert!(
        evaluated <= limit + 1,
        "{evaluated} wrong passwords evaluated for a limit of {limit}"
    );
    assert_eq!(audited, evaluated, "each evaluated failure is audited once");
    assert_eq!(statuses.len() + refused_early, BURST);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // The account is now blocked from this address, even for the right password.
    let r = post_login(
        &h,
        &client_from("127.0.0.1"),
        "alice",
        "alice's long password",
    )
    .await;
    assert_eq!(r.status(), 429);
}

/// AD-41: lockout is per account at an address: a burst for `admin` from address A
/// blocks A, while `admin` still signs in from address B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_lock_the_admin_out_from_another_address() {
    let h = Harness::start().await.unwrap();
    h.admin_user("admin", "the admin's long password")
        .await
        .unwrap();
    let stranger = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(
            post_login(&h, &stranger, "admin", "guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let r = post_login(&h, &stranger, "admin", "the admin's long password").await;
    assert_eq!(r.status(), 429, "blocked from the stranger's address");
    assert!(!started_a_sign_in(&r));

    let admin = client_from("127.0.0.3");
    let r = post_login(&h, &admin, "admin", "the admin's long password").await;
    assert_ne!(r.status(), 429);
    assert!(started_a_sign_in(&r), "the admin signs in from elsewhere");
}

/// AD-42: argon2 runs on the blocking pool behind a semaphore sized to the cores: with
/// every permit held and forty sign-ins queued behind it, `/jwks` and `/token` answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_waiting_for_argon2_never_stall_jwks_or_token() {
    let h = Harness::start().await.unwrap();
    h.user("carol", "carol's long password").await.unwrap();
    h.scope("api", "Read the demo API").await.unwrap();
    let svc = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .unwrap();
    let st = state(&h);
    let pool = st.password_pool.permits().clone();
    let held = pool
        .clone()
        .acquire_many_owned(pool.available_permits() as u32)
        .await
        .unwrap();

    const BURST: usize = 40;
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..BURST {
        // Each from its own address: one account, forty places, no limit involved.
        let b = client_from(&format!("127.0.1.{}", i + 1));
        let csrf = login_csrf(&h, &b).await;
        let (url, done) = (h.url("/login"), done.clone());
        tasks.push(tokio::spawn(async move {
            let r = b
                .post(url)
                .form(&[
                    ("username", "carol"),
                    ("password", "carol's long password"),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await
                .unwrap();
            done.fetch_add(1, Ordering::SeqCst);
            started_a_sign_in(&r)
        }));
    }
    let jwks = h.http().get(h.url("/jwks")).send().await.unwrap();
    assert_eq!(jwks.status(), 200);
    let token = h
        .post_basic("/token", &svc, &[("grant_type", "client_credentials")])
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "the sign-ins were all still waiting for argon2 while /jwks and /token answered"
    );
    drop(held);
    for t in tasks {
        assert!(t.await.unwrap(), "every queued sign-in completes");
    }

    // Without holding anything: a burst of forty, and /jwks answers before it is over.
    let done = Arc::new(AtomicUsize::new(0));
    let mut browsers = Vec::new();
    for i in 0..BURST {
        let b = client_from(&format!("127.0.2.{}", i + 1));
        let csrf = login_csrf(&h, &b).await;
        browsers.push((b, csrf));
    }
    let mut tasks = Vec::new();
    for (b, csrf) in browsers {
        let (url, done) = (h.url("/login"), done.clone());
        tasks.push(tokio::spawn(async move {
            let _ = b
                .post(url)
                .form(&[
                    ("username", "carol"),
                    ("password", "carol's long password"),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await;
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let started = Instant::now();
    let jwks = h.http().get(h.url("/jwks")).send().await.unwrap();
    let jwks_took = started.elapsed();
    assert_eq!(jwks.status(), 200);
    let finished_before = done.load(Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let burst_took = started.elapsed();
    eprintln!(
        "AD-42: /jwks during a burst of {BURST} sign-ins: {jwks_took:?} (burst {burst_took:?}, {finished_before} sign-ins done before it)"
    );
    assert!(
        finished_before < BURST,
        "/jwks answered before the burst of sign-ins was over"
    );
}

/// AD-43: 2,000 bad `/token` requests in a burst from one address (unknown client ids,
/// wrong secrets, malformed bodies): legitimate token requests from another address
/// beside them all succeed, the flood gets 401/400 then 429 (never a 5xx), and the
/// security rows written stay bounded — the refusals past the limit are counted into a
/// handful of rows whose counts add up to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_bad_token_requests_leave_legitimate_ones_untouched_and_write_few_rows() {
    let h = Harness::start().await.unwrap();
    h.scope("api", "Read the demo API").await.unwrap();
    let svc = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .unwrap();
    let st = state(&h);
    let before = security_rows(&h).await.len();

    const FLOOD: usize = 2000;
    let attacker = client_from("127.0.0.2");
    let url = h.url("/token");
    let svc_id = svc.id.clone();
    let flood = stream::iter(0..FLOOD)
        .map(|i| {
            let (a, url, svc_id) = (attacker.clone(), url.clone(), svc_id.clone());
            async move {
                let req = match i % 3 {
                    0 => a
                        .post(&url)
                        .basic_auth(format!("no-such-client-{i}"), Some("x"))
                        .form(&[("grant_type", "client_credentials")]),
                    1 => a
                        .post(&url)
                        .basic_auth(&svc_id, Some("wrong secret"))
                        .form(&[("grant_type", "client_credentials")]),
                    _ => a
                        .post(&url)
                        .header("content-type", "text/plain")
                        .body("grant_type=client_credentials"),
                };
                req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<u16>>();

    let legit = async {
        let http = client_from("127.0.0.1");
        let mut statuses = Vec::new();
        let mut slowest = Duration::ZERO;
        for _ in 0..100 {
            let t = Instant::now();
            let r = http
                .post(h.url("/token"))
                .basic_auth(&svc.id, svc.secret.as_deref())
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            slowest = slowest.max(t.elapsed());
            statuses.push(r.status().as_u16());
        }
        (statuses, slowest)
    };
    let (flood, (legit, slowest)) = tokio::join!(flood, legit);
    eprintln!("AD-43: slowest legitimate /token during the flood: {slowest:?}");

    assert!(legit.iter().all(|s| *s == 200), "legitimate: {legit:?}");
    let throttled = flood.iter().filter(|s| **s == 429).count();
    assert!(
        flood.iter().all(|s| matches!(s, 400 | 401 | 429)),
        "flood answers: {:?}",
        flood
            .iter()
            .filter(|s| !matches!(s, 400 | 401 | 429))
            .collect::<Vec<_>>()
    );
    let limit = st.limits.client_auth.rule().max_failures as usize;
    assert!(
        throttled >= FLOOD - 2 * (limit + 1),
        "only {throttled} of {FLOOD} throttled"
    );

    st.flush_security_counts().await;
    let rows = security_rows(&h).await;
    let written = rows.len() - before;
    eprintln!("AD-43: {written} security rows for {FLOOD} bad requests");
    assert!(
        written <= 2 * (limit + 1) + 10,
        "{written} security rows for {FLOOD} bad requests"
    );
    let counted: u64 = rows
        .iter()
        .filter(|e| e.action == "security.rate_limited.token")
        .map(count_of)
        .sum();
    assert_eq!(
        counted, throttled as u64,
        "every throttled request is in a counted event"
    );
}

/// AD-44: failed admin API authentications are rate-limited per address and recorded
/// as counted security events; the administrator elsewhere is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_api_authentications_are_counted_and_rate_limited() {
    // A fixed clock: the server's periodic flush (every 5 s of its clock) cannot split
    // the count into several rows however slowly the requests below run.
    let h = Harness::start_with_clock(1_700_000_000).await.unwrap();
    let (_, key) = h.api_key(true).await.unwrap();
    let st = state(&h);
    let attacker = client_from("127.0.0.2");
    let limit = st.limits.admin_auth.rule().max_failures as usize;
    let tries = limit + 20;
    let mut statuses = Vec::new();
    for i in 0..tries {
        let r = attacker
            .get(h.admin_url("/admin/v1/clients"))
            .bearer_auth(format!("lk_guess{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..=limit].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(
        statuses[limit + 1..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    // Even the right key is not looked at from the blocked address…
    let r = attacker
        .get(h.admin_url("/admin/v1/clients"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // …while the administrator elsewhere works.
    let r = client_from("127.0.0.1")
        .get(h.admin_url("/admin/v1/clients"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    st.flush_security_counts().await;
    let rows = security_rows(&h).await;
    let failed: Vec<&AuditEvent> = rows
        .iter()
        .filter(|e| e.action == "security.admin_auth_failed")
        .collect();
    assert_eq!(failed.len(), 1, "one counted row, not one per failure");
    assert_eq!(count_of(failed[0]), (limit + 1) as u64);
    assert_eq!(failed[0].ip.as_deref(), Some("127.0.0.2"));
    let limited: u64 = rows
        .iter()
        .filter(|e| e.action == "security.rate_limited.admin")
        .map(count_of)
        .sum();
    assert_eq!(limited, (tries - (limit + 1) + 1) as u64);
}

/// A server behind a "proxy" at 127.0.0.1 that writes `header`.
/// (The same engine as `h`'s server, on a second pair of listeners.)
async fn behind_proxy(h: &Harness, header: ProxyHeader) -> latchkey_e2e::latchkey_server::Running {
    let cfg = latchkey_e2e::latchkey_server::ServeConfig {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap()],
        proxy_header: header,
        ..latchkey_e2e::latchkey_server::ServeConfig::new(
            h.db.clone(),
            h.issuer.clone(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            latchkey_e2e::latchkey_core::crypto::Kek::generate(),
        )
    };
    latchkey_e2e::latchkey_server::start_with(h.provider.clone(), cfg, None)
        .await
        .unwrap()
}

/// AD-45: behind a trusted proxy only the configured header is believed, across all
/// its lines, right-most address first, skipping trusted proxies: a client's forged
/// left-most entries and a header of the other kind change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_only_its_header_is_believed_right_to_left_across_lines() {
    let h = Harness::start().await.unwrap();
    h.scope("api", "Read the demo API").await.unwrap();
    let svc = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .unwrap();
    for (header, lines, other) in [
        (
            ProxyHeader::XForwardedFor,
            vec![
                ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
                ("x-forwarded-for", "10.0.0.9"),
            ],
            ("forwarded", "for=7.7.7.7"),
        ),
        (
            ProxyHeader::Forwarded,
            vec![
                ("forwarded", "for=6.6.6.6, for=203.0.113.7;proto=http"),
                ("forwarded", "for=10.0.0.9"),
            ],
            ("x-forwarded-for", "7.7.7.7"),
        ),
    ] {
        let running = behind_proxy(&h, header).await;
        let url = format!("http://{}/token", running.public_addr);
        let mut b = h
            .http()
            .post(&url)
            .basic_auth(&svc.id, Some("wrong secret"))
            .form(&[("grant_type", "client_credentials")]);
        for (k, v) in &lines {
            b = b.header(*k, *v);
        }
        b = b.header(other.0, other.1);
        let r = b.send().await.unwrap();
        assert_eq!(r.status(), 401);
        running.stop().await;
        let ev = h
            .security_events("security.client_auth_failed.token")
            .await
            .unwrap();
        assert_eq!(
            ev[0].ip.as_deref(),
            Some("203.0.113.7"),
            "{header:?}: the right-most untrusted address of the configured header"
        );
    }
}
