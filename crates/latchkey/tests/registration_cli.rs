//! The CLI side of issue 15's PAR and dynamic registration: `latchkey admin
//! registration-tokens create|list|revoke` (the token printed once, never listed) and
//! `clients create|update --require-par`, on a database file as scripts use them.

mod common;
use common::admin;
use latchkey_core::crypto::Kek;
use serde_json::Value;
use std::path::Path;

fn json(db: &Path, kek: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = admin(db, kek, &a);
    assert!(
        o.status.success(),
        "latchkey admin {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON")
}

#[test]
fn an_initial_access_token_is_printed_once_with_its_policy_listed_without_it_and_revoked() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    let kek = Kek::generate().encode();
    let created = json(
        &db,
        &kek,
        &[
            "registration-tokens",
            "create",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--redirect-uri-prefix",
            "https://app.example/",
            "--expires-in",
            "2h",
            "--uses",
            "3",
        ],
    );
    let token = created["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("lkreg_"), "{created}");
    assert_eq!(created["scopes"], serde_json::json!(["openid", "profile"]));
    assert_eq!(
        created["redirect_uri_prefixes"],
        serde_json::json!(["https://app.example/"])
    );
    assert_eq!(created["uses_left"], 3);
    assert_eq!(
        created["expires_at"].as_i64().unwrap() - created["created_at"].as_i64().unwrap(),
        7200
    );
    let id = created["id"].as_str().expect("id").to_string();

    let list = json(&db, &kek, &["registration-tokens", "list"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert!(!list.to_string().contains(&token), "never listed");
    let text = admin(&db, &kek, &["registration-tokens", "list"]);
    assert!(!String::from_utf8_lossy(&text.stdout).contains(&token));

    // A policy the server refuses is refused at the CLI with the server's reason.
    let bad = admin(
        &db,
        &kek,
        &["registration-tokens", "create", "--scope", "latchkey:admin"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("reserved"));

    let revoked = json(&db, &kek, &["registration-tokens", "revoke", &id]);
    assert_eq!(revoked["revoked"], true);
    let list = json(&db, &kek, &["registration-tokens", "list"]);
    assert!(list[0]["revoked_at"].as_i64().is_some(), "{list}");
}

#[test]
fn clients_create_and_update_set_and_clear_require_par() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("p.db");
    let kek = Kek::generate().encode();
    let c = json(
        &db,
        &kek,
        &[
            "clients",
            "create",
            "--name",
            "par-app",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid",
            "--require-par",
        ],
    );
    let id = c["client_id"].as_str().expect("id").to_string();
    assert_eq!(c["require_pushed_authorization_requests"], true, "{c}");
    let off = json(
        &db,
        &kek,
        &["clients", "update", &id, "--require-par", "false"],
    );
    assert_eq!(off["require_pushed_authorization_requests"], false, "{off}");
    let get = admin(&db, &kek, &["clients", "get", &id]);
    assert!(String::from_utf8_lossy(&get.stdout).contains("require_pushed_authorization_requests"));
}
