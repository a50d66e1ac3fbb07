//! The `latchkey` binary as scripts use it: `latchkey admin` on a temporary database,
//! its exit codes, its JSON, and that a client secret is printed once and never again.

use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

struct Env {
    _dir: TempDir,
    db: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cli.db");
    Env { _dir: dir, db }
}

/// The binary with no inherited Latchkey configuration, so the developer's own
/// environment cannot change what a test sees.
fn latchkey() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for k in [
        "LATCHKEY_KEK",
        "LATCHKEY_KEK_FILE",
        "LATCHKEY_DB",
        "LATCHKEY_CONFIG",
        "LATCHKEY_ISSUER",
        "LATCHKEY_PUBLIC_ADDR",
        "LATCHKEY_ADMIN_ADDR",
        "LATCHKEY_TRUSTED_PROXY",
        "LATCHKEY_ACCESS_TOKEN_ALG",
        "LATCHKEY_SYNCHRONOUS_NORMAL",
        "LATCHKEY_TLS_CERT",
        "LATCHKEY_TLS_KEY",
        "LATCHKEY_SETTING",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c
}

fn admin_with_stdin(db: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = latchkey()
        .arg("admin")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latchkey");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for latchkey")
}

fn admin(db: &Path, args: &[&str]) -> Output {
    admin_with_stdin(db, args, "")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects success, returning stdout.
fn ok(db: &Path, args: &[&str]) -> String {
    let o = admin(db, args);
    assert!(
        o.status.success(),
        "latchkey admin {args:?} failed ({:?}):\n{}",
        o.status.code(),
        stderr(&o)
    );
    stdout(&o)
}

fn json(db: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(db, &a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

fn active_kids(keys: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = keys
        .as_array()
        .expect("array")
        .iter()
        .filter(|k| k["state"] == "active")
        .map(|k| {
            (
                k["alg"].as_str().unwrap_or_default().to_string(),
                k["kid"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn first_use_creates_the_database_a_kek_file_builtin_scopes_and_a_key_per_algorithm() {
    let e = env();
    let first = admin(&e.db, &["keys", "list"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("created a new key-encryption key"),
        "no KEK notice: {}",
        stderr(&first)
    );
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(
            stdout(&first)
                .lines()
                .any(|l| l.contains(alg) && l.contains("active")),
            "no active {alg} key in:\n{}",
            stdout(&first)
        );
    }
    let kek = e.db.with_file_name("cli.db.kek");
    let mode = std::fs::metadata(&kek)
        .expect("kek file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Second use: same keys, no new KEK, no notice.
    let keys = json(&e.db, &["keys", "list"]);
    let algs: Vec<String> = active_kids(&keys).into_iter().map(|(a, _)| a).collect();
    assert_eq!(algs, vec!["ES256", "EdDSA", "RS256"]);
    let again = admin(&e.db, &["scopes", "list"]);
    assert!(
        !stderr(&again).contains("key-encryption key"),
        "{}",
        stderr(&again)
    );
    for s in ["openid", "profile", "email", "offline_access"] {
        assert!(stdout(&again).contains(s), "{s} missing");
    }
}

#[test]
fn scopes_can_be_created_listed_and_deleted() {
    let e = env();
    ok(
        &e.db,
        &[
            "scopes",
            "create",
            "invoices:read",
            "--description",
            "Read your invoices",
        ],
    );
    let list = ok(&e.db, &["scopes", "list"]);
    assert!(list
        .lines()
        .any(|l| l.starts_with("invoices:read") && l.contains("Read your invoices")));
    let scopes = json(&e.db, &["scopes", "list"]);
    assert!(scopes
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "invoices:read" && s["builtin"] == false));
    ok(&e.db, &["scopes", "delete", "invoices:read"]);
    let refused = admin(&e.db, &["scopes", "delete", "openid"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).ends_with("(builtin)\n"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_client_secret_is_printed_once_and_never_again() {
    let e = env();
    ok(&e.db, &["scopes", "create", "api"]);
    let created = json(
        &e.db,
        &[
            "clients",
            "create",
            "--name",
            "Billing worker",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
        ],
    );
    let id = created["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    let secret = created["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_string();
    assert_eq!(secret.len(), 43, "256-bit base64url secret");
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["client_credentials"])
    );

    let list = ok(&e.db, &["clients", "list"]);
    assert!(
        list.lines()
            .any(|l| l.contains(&id) && l.contains("Billing worker")),
        "{list}"
    );

    let later = [
        list,
        ok(&e.db, &["clients", "get", &id]),
        ok(&e.db, &["clients", "get", &id, "--json"]),
        ok(&e.db, &["clients", "list", "--json"]),
        ok(&e.db, &["audit", "list", "--json", "--limit", "1000"]),
        ok(&e.db, &["audit", "list"]),
    ];
    for out in &later {
        assert!(
            !out.contains(&secret),
            "the secret was printed again:\n{out}"
        );
    }
    let audit: Value = serde_json::from_str(&later[4]).unwrap();
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|ev| ev["action"] == "client.create" && ev["target"] == id.as_str()));
}

#[test]
fn rotating_a_secret_prints_the_new_one_once() {
    let e = env();
    let created = json(
        &e.db,
        &[
            "clients",
            "create",
            "--name",
            "W",
            "--grant",
            "client_credentials",
        ],
    );
    let id = created["client_id"].as_str().unwrap().to_string();
    let rotated = json(&e.db, &["clients", "rotate-secret", &id, "--overlap", "60"]);
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(Some(new_secret.as_str()), created["client_secret"].as_str());
    assert!(rotated["previous_secrets_expire_at"].as_i64().is_some());
    assert!(!ok(&e.db, &["audit", "list", "--json"]).contains(&new_secret));

    ok(&e.db, &["clients", "delete", &id]);
    let gone = admin(&e.db, &["clients", "get", &id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("(not_found)"), "{}", stderr(&gone));
}

#[test]
fn a_user_is_created_with_the_password_read_from_stdin() {
    let e = env();
    let o = admin_with_stdin(
        &e.db,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let list = ok(&e.db, &["users", "list"]);
    assert!(list
        .lines()
        .any(|l| l.contains("alice") && l.contains("alice@example.com")));
    let users = ok(&e.db, &["users", "list", "--json"]);
    assert!(!users.contains("correct horse"));
    assert!(!users.contains("argon2"));

    let short = admin_with_stdin(
        &e.db,
        &["users", "create", "--username", "bob", "--password-stdin"],
        "short\n",
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("(invalid_input)"));
    assert!(!stderr(&short).contains("short\n(") && !stderr(&short).contains("\"short\""));

    let no_flag = admin(&e.db, &["users", "create", "--username", "carol"]);
    assert_eq!(
        no_flag.status.code(),
        Some(2),
        "missing --password-stdin is a usage error"
    );

    ok(&e.db, &["users", "disable", "alice"]);
    assert!(ok(&e.db, &["users", "list"]).contains("disabled"));
}

#[test]
fn rotating_keys_changes_the_active_kid() {
    let e = env();
    let before = active_kids(&json(&e.db, &["keys", "list"]));
    let rotated = json(&e.db, &["keys", "rotate", "--alg", "ES256"]);
    let r = &rotated.as_array().unwrap()[0];
    let after = active_kids(&json(&e.db, &["keys", "list"]));
    let es = |v: &[(String, String)]| {
        v.iter()
            .find(|(a, _)| a == "ES256")
            .map(|(_, k)| k.clone())
            .unwrap()
    };
    assert_ne!(es(&before), es(&after));
    assert_eq!(r["active_kid"].as_str(), Some(es(&after).as_str()));
    assert_eq!(r["previous_kid"].as_str(), Some(es(&before).as_str()));
    // Other algorithms keep their keys.
    let others = |v: &[(String, String)]| {
        v.iter()
            .filter(|(a, _)| a != "ES256")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&before), others(&after));

    let human = ok(&e.db, &["keys", "rotate"]);
    assert!(
        human.contains("RS256") && human.contains("EdDSA"),
        "{human}"
    );
}

#[test]
fn revoking_an_unknown_session_fails_with_a_clear_message() {
    let e = env();
    let o = admin(&e.db, &["sessions", "revoke", "no-such-session"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).lines().last(),
        Some("error: no session with id \"no-such-session\" (not_found)")
    );
    let by_user = admin(&e.db, &["sessions", "revoke", "--user", "nobody"]);
    assert_eq!(by_user.status.code(), Some(1));
    assert!(stderr(&by_user).contains("nobody"), "{}", stderr(&by_user));
    assert!(ok(&e.db, &["sessions", "list"]).contains("No live sessions"));
}

#[test]
fn bad_usage_exits_with_2() {
    let e = env();
    for args in [
        vec!["clients", "create"],
        vec!["clients", "create", "--name", "x", "--grant", "password"],
        vec!["clients", "create", "--name", "x", "--type", "secret"],
        vec!["keys", "rotate", "--alg", "HS256"],
        vec!["sessions", "revoke"],
        vec!["sessions", "revoke", "id", "--user", "u"],
        vec!["nonsense"],
    ] {
        let o = admin(&e.db, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn invalid_client_input_is_an_operation_error_with_its_code() {
    let e = env();
    let o = admin(
        &e.db,
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--redirect-uri",
            "http://localhost:3000/cb",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let all = stderr(&o);
    let err = all.lines().last().unwrap_or_default();
    assert!(err.starts_with("error: "), "{all}");
    assert!(
        err.contains("127.0.0.1") && err.ends_with("(invalid_input)"),
        "{all}"
    );
}

#[test]
fn serve_settings_take_the_flag_then_the_environment_then_the_config_file_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("latchkey.toml");
    std::fs::write(
        &cfg,
        "db = \"file.db\"\nissuer = \"https://file.example\"\nadmin_addr = \"127.0.0.1:9999\"\n\
         access_token_alg = \"RS256\"\ntrusted_proxy = [\"10.0.0.1\"]\n\
         [settings]\ncode_ttl = 120\nlogin_block = 45\n",
    )
    .unwrap();
    let o = latchkey()
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--issuer", "https://flag.example", "--check-config"])
        .env("LATCHKEY_DB", "/tmp/env.db")
        .env("LATCHKEY_ACCESS_TOKEN_ALG", "EdDSA")
        .env("LATCHKEY_SETTING", "code_ttl=90,id_token_ttl=15m")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["issuer"], "https://flag.example");
    assert_eq!(s["db"], "/tmp/env.db");
    assert_eq!(s["access_token_alg"], "EdDSA");
    assert_eq!(s["admin_addr"], "127.0.0.1:9999");
    assert_eq!(s["public_addr"], "127.0.0.1:8080");
    assert_eq!(s["trusted_proxies"], serde_json::json!(["10.0.0.1"]));
    assert_eq!(s["synchronous_normal"], false);
    assert_eq!(
        s["settings"],
        serde_json::json!({"code_ttl": 90, "id_token_ttl": 900, "login_block": 45})
    );

    let bad = latchkey()
        .args([
            "serve",
            "--issuer",
            "http://id.example.com",
            "--check-config",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("https"), "{}", stderr(&bad));
}

#[test]
fn the_admin_database_may_come_from_the_environment() {
    let e = env();
    let o = latchkey()
        .args(["admin", "scopes", "list", "--json"])
        .env("LATCHKEY_DB", &e.db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.db.exists());
}

#[test]
fn settings_are_set_by_flag_in_seconds_or_durations_and_reset_with_default() {
    let e = env();
    let start = json(&e.db, &["settings", "get"]);
    assert_eq!(start["code_ttl"]["source"], "default");
    let set = json(
        &e.db,
        &[
            "settings",
            "update",
            "--code-ttl",
            "2m",
            "--login-max-failures",
            "4",
        ],
    );
    assert_eq!(set["code_ttl"]["value"], 120);
    assert_eq!(set["code_ttl"]["source"], "admin");
    assert_eq!(set["login_max_failures"]["value"], 4);
    let human = ok(&e.db, &["settings", "get"]);
    assert!(human.contains("2 min (120 s)"), "{human}");

    // Out of range: the operation's error and code, exit 1, nothing stored.
    let out = admin(&e.db, &["settings", "update", "--code-ttl", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("code_ttl"), "{}", stderr(&out));
    assert!(stderr(&out).contains("(invalid_input)"), "{}", stderr(&out));
    assert_eq!(json(&e.db, &["settings", "get"]), set);

    let reset = json(&e.db, &["settings", "update", "--code-ttl", "default"]);
    assert_eq!(reset["code_ttl"]["source"], "default");
    assert_eq!(reset["code_ttl"]["value"], start["code_ttl"]["default"]);
    assert_eq!(reset["login_max_failures"]["source"], "admin");

    // Naming no setting at all is a usage error.
    assert_eq!(admin(&e.db, &["settings", "update"]).status.code(), Some(2));
}

/// A finding as a detection raises it, written straight into the database (the CLI has
/// no way to raise one, only to read and acknowledge).
fn raise_finding(db: &Path, id: &str, rule: &str, severity: &str) {
    use latchkey_e2e::latchkey_core::model::Finding;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = latchkey_e2e::latchkey_store_sqlite::SqliteStore::open(db)
            .await
            .expect("open");
        let f = Finding {
            id: id.into(),
            dedup_key: format!("{rule}|{id}"),
            rule: rule.into(),
            severity: severity.into(),
            subject_kind: "address".into(),
            subject: "203.0.113.9/32".into(),
            evidence: r#"{"usernames":10}"#.into(),
            action: "none (monitor mode)".into(),
            status: "open".into(),
            acked_by: None,
            acked_at: None,
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_060,
            count: 10,
            raised_at: 1_800_000_060,
        };
        assert!(store.finding_raise(&f, 0).await.expect("raise"));
    });
}

#[test]
fn findings_are_listed_filtered_shown_and_acknowledged_once() {
    let e = env();
    ok(&e.db, &["clients", "list"]); // creates the database
    assert_eq!(json(&e.db, &["findings", "list"]), serde_json::json!([]));
    raise_finding(&e.db, "f-spray", "spray", "high");
    raise_finding(&e.db, "f-brute", "brute_force", "medium");
    let all = json(&e.db, &["findings", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let high = json(&e.db, &["findings", "list", "--severity", "high"]);
    assert_eq!(high[0]["id"], "f-spray");
    assert_eq!(high.as_array().unwrap().len(), 1);
    let brute = json(&e.db, &["findings", "list", "--rule", "brute_force"]);
    assert_eq!(brute[0]["id"], "f-brute");
    let table = ok(&e.db, &["findings", "list"]);
    assert!(table
        .lines()
        .any(|l| l.starts_with("f-spray") && l.contains("203.0.113.9/32")));
    let bad = admin(&e.db, &["findings", "list", "--severity", "urgent"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).ends_with("(invalid_input)\n"),
        "{}",
        stderr(&bad)
    );
    let one = json(&e.db, &["findings", "get", "f-spray"]);
    assert_eq!(one["evidence"]["usernames"], 10);
    assert_eq!(one["status"], "open");
    let acked = json(&e.db, &["findings", "ack", "f-spray"]);
    assert_eq!(acked["status"], "acknowledged");
    assert!(acked["acknowledged_by"].is_string());
    json(&e.db, &["findings", "ack", "f-spray"]);
    let audit = json(&e.db, &["audit", "list", "--action", "finding.ack"]);
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    let missing = admin(&e.db, &["findings", "get", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).ends_with("(not_found)\n"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn blocks_are_added_for_a_while_listed_and_removed() {
    let e = env();
    let added = json(
        &e.db,
        &[
            "blocks",
            "add",
            "198.51.100.7/24",
            "--for",
            "2h",
            "--reason",
            "spray",
        ],
    );
    assert_eq!(added["address"], "198.51.100.0/24");
    let (created, expires) = (
        added["created_at"].as_i64().unwrap(),
        added["expires_at"].as_i64().unwrap(),
    );
    assert_eq!(expires - created, 7200);
    ok(&e.db, &["blocks", "add", "2001:db8::1"]);
    let list = json(&e.db, &["blocks", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let text = ok(&e.db, &["blocks", "list"]);
    assert!(text
        .lines()
        .any(|l| l.starts_with("2001:db8::1/128") && l.contains("when removed")));
    let wide = admin(&e.db, &["blocks", "add", "0.0.0.0/0"]);
    assert_eq!(wide.status.code(), Some(1));
    assert!(
        stderr(&wide).ends_with("(invalid_input)\n"),
        "{}",
        stderr(&wide)
    );
    let bad = admin(&e.db, &["blocks", "add", "example.com"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        admin(&e.db, &["blocks", "add", "10.0.0.1", "--for", "soon"])
            .status
            .code(),
        Some(2)
    );
    ok(&e.db, &["blocks", "remove", "198.51.100.0/24"]);
    let list = json(&e.db, &["blocks", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let again = admin(&e.db, &["blocks", "remove", "198.51.100.0/24"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).ends_with("(not_found)\n"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn users_are_updated_and_given_a_password_and_the_last_administrator_keeps_the_role() {
    let e = env();
    let created = admin_with_stdin(
        &e.db,
        &[
            "users",
            "create",
            "--username",
            "root",
            "--admin",
            "--password-stdin",
        ],
        "root's first password",
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let u = json(
        &e.db,
        &[
            "users",
            "update",
            "root",
            "--name",
            "Root Admin",
            "--email",
            "root@example.com",
        ],
    );
    assert_eq!(
        (u["name"].as_str(), u["email"].as_str()),
        (Some("Root Admin"), Some("root@example.com"))
    );
    let last = admin(&e.db, &["users", "update", "root", "--admin", "false"]);
    assert_eq!(last.status.code(), Some(1));
    assert!(stderr(&last).ends_with("(conflict)\n"), "{}", stderr(&last));
    let cleared = json(&e.db, &["users", "update", "root", "--email", ""]);
    assert!(cleared["email"].is_null());
    let generated = json(&e.db, &["users", "set-password", "root", "--generate"]);
    let password = generated["password"]
        .as_str()
        .expect("a generated password");
    assert_eq!(password.chars().count(), 24);
    assert_eq!(generated["user"]["must_change_password"], false);
    let must = json(
        &e.db,
        &[
            "users",
            "set-password",
            "root",
            "--generate",
            "--must-change-password",
        ],
    );
    assert_eq!(
        must["user"]["must_change_password"], true,
        "the next sign-in asks for a new password"
    );
    let typed = admin_with_stdin(
        &e.db,
        &[
            "users",
            "set-password",
            "root",
            "--password-stdin",
            "--json",
        ],
        "a brand new password",
    );
    assert!(typed.status.success(), "{}", stderr(&typed));
    let out: serde_json::Value = serde_json::from_slice(&typed.stdout).expect("json");
    assert!(
        out["password"].is_null(),
        "a typed password is never echoed"
    );
    // Neither password reaches the audit log.
    let audit = ok(&e.db, &["audit", "list", "--action", "user.", "--json"]);
    assert!(!audit.contains(password) && !audit.contains("a brand new password"));
    assert!(audit.contains("user.update") && audit.contains("user.set_password"));
    let neither = admin(&e.db, &["users", "set-password", "root"]);
    assert_eq!(
        neither.status.code(),
        Some(2),
        "--password-stdin or --generate is required"
    );
}

#[test]
fn a_security_profile_shows_the_findings_and_blocks_of_an_address_and_refuses_a_bad_subject() {
    let e = env();
    ok(&e.db, &["clients", "list"]); // creates the database
    raise_finding(&e.db, "f-spray", "spray", "high");
    ok(&e.db, &["blocks", "add", "203.0.113.9", "--for", "1h"]);
    let p = json(&e.db, &["security", "profile", "address", "203.0.113.9"]);
    assert_eq!(p["subject"], "203.0.113.9/32");
    assert_eq!(p["findings"][0]["id"], "f-spray");
    assert_eq!(p["blocks"].as_array().map(Vec::len), Some(1));
    assert_eq!(p["failures"], 0);
    let text = ok(&e.db, &["security", "profile", "address", "203.0.113.9"]);
    assert!(text.starts_with("address 203.0.113.9/32 since "), "{text}");
    assert!(
        text.contains("finding f-spray: spray (high), open"),
        "{text}"
    );
    let other = json(&e.db, &["security", "profile", "address", "198.51.100.1"]);
    assert_eq!(other["findings"], serde_json::json!([]));
    assert_eq!(
        admin(&e.db, &["security", "profile", "planet", "x"])
            .status
            .code(),
        Some(2)
    );
    let far = admin(
        &e.db,
        &["security", "profile", "user", "alice", "--since", "400d"],
    );
    assert_eq!(far.status.code(), Some(1));
    assert!(
        stderr(&far).ends_with("(invalid_input)\n"),
        "{}",
        stderr(&far)
    );
}

#[test]
fn detection_modes_and_severities_are_set_by_name_through_settings() {
    let e = env();
    let s = json(
        &e.db,
        &[
            "settings",
            "update",
            "--detect-spray-mode",
            "enforce",
            "--detect-spray-severity",
            "critical",
            "--detect-spray-window",
            "15m",
        ],
    );
    assert_eq!(s["detect_spray_mode"]["value"], 2);
    assert_eq!(s["detect_spray_severity"]["value"], 4);
    assert_eq!(s["detect_spray_window"]["value"], 900);
    let table = ok(&e.db, &["settings", "get"]);
    assert!(table.lines().any(|l| l.starts_with("detect_spray_mode")
        && l.contains("enforce")
        && l.contains("monitor")));
    let out = admin(
        &e.db,
        &["settings", "update", "--detect-brute-force-mode", "3"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
