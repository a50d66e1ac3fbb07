//! Issue 14, "getting the news out", through the real binary: `/metrics` on the admin
//! listener (a credential unless `--metrics-open`; counters that move; an exposition
//! that parses) and `--log-format json` (one JSON object a line, no secrets).

mod common;

use common::free_port;
use latchkey_core::clock::SystemClock;
use latchkey_core::crypto::Kek;
use latchkey_core::manage::{ManagePolicy, Manager, NewClient};
use latchkey_core::model::GrantType;
use latchkey_core::store::Store;
use latchkey_store_sqlite::SqliteStore;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A client-credentials client and an admin API key in a fresh database.
async fn seed(db: &Path, kek: &Kek) -> (String, String, String) {
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let m = Manager::new(
        dyn_store,
        Arc::new(SystemClock),
        kek.clone(),
        ManagePolicy::default(),
    );
    m.ensure_builtin_scopes().await.unwrap();
    let created = m
        .client_create(
            "test",
            NewClient {
                name: "metered".into(),
                grant_types: vec![GrantType::ClientCredentials],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, key) = m
        .api_key_create("test", "scraper", true, None)
        .await
        .unwrap();
    store.close().await;
    (
        created.client.id,
        created.secret.unwrap().into_string(),
        key.into_string(),
    )
}

struct Server {
    child: Child,
    issuer: String,
    admin: String,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, kek: &Kek, extra: &[&str]) -> Server {
    let (port, admin_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port}");
    let log = dir.join(format!("serve-{port}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--db"])
        .arg(dir.join("latchkey.db"))
        .args(["--issuer", &issuer])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .args(extra)
        .env("LATCHKEY_KEK", kek.encode())
        .env("RUST_LOG", "debug,hyper=info,h2=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn latchkey serve");
    Server {
        child,
        issuer,
        admin: format!("http://127.0.0.1:{admin_port}"),
        log,
    }
}

async fn cc_token(http: &reqwest::Client, s: &Server, id: &str, secret: &str) -> String {
    let r = http
        .post(format!("{}/token", s.issuer))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn scrape(http: &reqwest::Client, s: &Server, bearer: Option<&str>) -> (u16, String) {
    let mut rb = http.get(format!("{}/metrics", s.admin));
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of `name` with every label in `labels`, parsed from the exposition (0
/// when absent); panics if the exposition does not parse.
fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let lines = exposition.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_refuse_an_unauthenticated_scrape_and_count_tokens_by_grant_and_client() {
    let dir = tempfile::tempdir().unwrap();
    let kek = Kek::generate();
    let (client, secret, key) = seed(&dir.path().join("latchkey.db"), &kek).await;
    let s = spawn(dir.path(), &kek, &[]);
    let http = reqwest::Client::new();
    common::wait_ready(&http, &s.issuer).await;

    assert_eq!(scrape(&http, &s, None).await.0, 401);
    assert_eq!(scrape(&http, &s, Some("lk_not-a-key")).await.0, 401);
    // A read-only key is enough to scrape.
    let (status, before) = scrape(&http, &s, Some(&key)).await;
    assert_eq!(status, 200, "{before}");
    let labels = [("grant", "client_credentials"), ("client", client.as_str())];
    let issued_before = sample(&before, "latchkey_tokens_issued_total", &labels);

    cc_token(&http, &s, &client, &secret).await;
    let (_, after) = scrape(&http, &s, Some(&key)).await;
    assert_eq!(
        sample(&after, "latchkey_tokens_issued_total", &labels),
        issued_before + 1.0,
        "{after}"
    );
    // The request was counted under its route, not its raw path; key ages and the
    // store's write latency are there too.
    assert!(
        sample(
            &after,
            "latchkey_http_requests_total",
            &[
                ("listener", "public"),
                ("endpoint", "/token"),
                ("outcome", "2xx")
            ]
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "latchkey_signing_key_age_seconds",
            &[("state", "active")]
        ) >= 0.0
    );
    assert!(
        after.contains("latchkey_signing_key_age_seconds{"),
        "{after}"
    );
    assert!(
        after.contains("latchkey_store_write_seconds_bucket{"),
        "{after}"
    );

    // Attacker-chosen paths do not become labels.
    for i in 0..20 {
        let _ = http
            .get(format!("{}/no-such-path-{i}", s.issuer))
            .send()
            .await;
    }
    let (_, flooded) = scrape(&http, &s, Some(&key)).await;
    assert!(!flooded.contains("no-such-path"), "{flooded}");
    assert!(
        sample(
            &flooded,
            "latchkey_http_requests_total",
            &[("listener", "public"), ("endpoint", "unmatched")]
        ) >= 20.0
    );
}

#[tokio::test]
async fn metrics_open_serves_the_scrape_without_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let kek = Kek::generate();
    seed(&dir.path().join("latchkey.db"), &kek).await;
    let s = spawn(dir.path(), &kek, &["--metrics-open"]);
    let http = reqwest::Client::new();
    common::wait_ready(&http, &s.issuer).await;
    let (status, body) = scrape(&http, &s, None).await;
    assert_eq!(status, 200);
    sample(&body, "latchkey_active_sessions", &[]);
    assert!(body.contains("latchkey_active_sessions"), "{body}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_level_target_and_message_and_carry_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let kek = Kek::generate();
    let (client, secret, key) = seed(&dir.path().join("latchkey.db"), &kek).await;
    let s = spawn(dir.path(), &kek, &["--log-format", "json"]);
    let http = reqwest::Client::new();
    common::wait_ready(&http, &s.issuer).await;
    let token = cc_token(&http, &s, &client, &secret).await;
    // A wrong secret and a wrong admin credential are logged about, not logged.
    let _ = http
        .post(format!("{}/token", s.issuer))
        .basic_auth(&client, Some("wrong-secret-value-123"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    let _ = http
        .post(format!("{}/introspect", s.issuer))
        .basic_auth(&client, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await;
    assert_eq!(scrape(&http, &s, Some(&key)).await.0, 200);
    let log_path = s.log.clone();
    drop(s);
    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut objects = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The one human line `serve` prints when it listens is not a log record.
        if line.starts_with("latchkey: ") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(v.get(field).is_some(), "no {field}: {line}");
        }
        // Our own records always say something in words; a dependency's may carry only
        // fields (sqlx's `summary`).
        if v["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("latchkey"))
        {
            assert!(v["message"].is_string(), "no message: {line}");
        }
        objects += 1;
    }
    assert!(
        text.lines()
            .any(|l| l.contains("\"message\":\"latchkey listening\"")),
        "{text}"
    );
    assert!(objects > 1, "{text}");
    for secret in [secret.as_str(), key.as_str(), token.as_str(), &kek.encode()] {
        assert!(!text.contains(secret), "a secret reached the log");
    }
    assert!(!text.contains("wrong-secret-value-123"));
}

fn admin(db: &Path, kek: &Kek, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["admin", "--db"])
        .arg(db)
        .args(args)
        .env("LATCHKEY_KEK", kek.encode())
        .output()
        .expect("run latchkey admin")
}

#[tokio::test]
async fn cli_webhooks_show_the_secret_once_refuse_private_targets_and_change_filters() {
    let dir = tempfile::tempdir().unwrap();
    let kek = Kek::generate();
    let db = dir.path().join("latchkey.db");
    seed(&db, &kek).await;
    for url in [
        "http://hooks.example.com/x",
        "https://10.0.0.7/x",
        "https://[::1]/x",
    ] {
        let out = admin(
            &db,
            &kek,
            &["webhooks", "create", "--name", "x", "--url", url],
        );
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid_input"),
            "{url}"
        );
    }
    let out = admin(
        &db,
        &kek,
        &[
            "webhooks",
            "create",
            "--name",
            "pager",
            "--url",
            "https://hooks.example.com/x",
            "--severity",
            "critical",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["severities"], serde_json::json!(["critical"]));

    let out = admin(
        &db,
        &kek,
        &[
            "webhooks",
            "update",
            &id,
            "--all-severities",
            "--rule",
            "spray",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let updated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(updated["severities"], serde_json::json!([]));
    assert_eq!(updated["rules"], serde_json::json!(["spray"]));

    let out = admin(&db, &kek, &["webhooks", "list", "--json"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(list.contains(&id) && !list.contains(&secret));
    // Not in the database file either: sealed under the KEK.
    let file = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.path().join("latchkey.db-wal")).unwrap_or_default();
    for bytes in [file, wal] {
        assert!(!String::from_utf8_lossy(&bytes).contains(&secret[6..]));
    }
    let out = admin(&db, &kek, &["webhooks", "delete", &id]);
    assert!(out.status.success());
    let out = admin(&db, &kek, &["webhooks", "get", &id]);
    assert_eq!(out.status.code(), Some(1));
}
