//! The `latchkey admin exchange-policies` contract (issue 13): create prints the policy
//! with its id, list and get show it, explain runs the token endpoint's own evaluation on
//! a token from a file and says which policy allows it or which rule refuses it, and
//! delete removes it — all on a database file, as scripts use the CLI.

mod common;
use common::admin;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::Kek;
use latchkey_core::oauth::token::Subject;
use latchkey_core::oauth::{Config, Provider};
use latchkey_core::store::Store;
use latchkey_store_sqlite::SqliteStore;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

const TARGET: &str = "https://downstream.example/api";

fn ok(db: &Path, kek: &str, args: &[&str]) -> String {
    let o = admin(db, kek, args);
    assert!(
        o.status.success(),
        "latchkey admin {args:?} failed ({:?}):\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(db: &Path, kek: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(db, kek, &a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

/// A client-credentials access token of `client_id`, signed with the database's own
/// active key, as `latchkey serve` would issue it.
async fn subject_token(db: &Path, kek: &Kek, client_id: &str) -> String {
    let store = Arc::new(SqliteStore::open(db).await.expect("open"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let provider = Provider::new(
        dyn_store.clone(),
        Arc::new(SystemClock),
        kek.clone(),
        Config::new("http://issuer.test"),
    );
    let client = dyn_store
        .client_get(client_id)
        .await
        .unwrap()
        .expect("client");
    let minted = provider
        .mint_access(
            &client,
            &Subject {
                user: None,
                session: None,
            },
            &["api".to_string()],
            SystemClock.now(),
        )
        .await
        .expect("mint");
    store.close().await;
    minted.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_policies_are_created_listed_explained_and_deleted_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let kek = Kek::generate();
    let enc = kek.encode();
    ok(
        &db,
        &enc,
        &["scopes", "create", "api", "--description", "API"],
    );
    let svc = json(
        &db,
        &enc,
        &[
            "clients",
            "create",
            "--name",
            "svc",
            "--type",
            "confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
        ],
    );
    let svc = svc["client"]["client_id"]
        .as_str()
        .or(svc["client_id"].as_str())
        .expect("client_id")
        .to_string();

    let created = json(
        &db,
        &enc,
        &[
            "exchange-policies",
            "create",
            "--requester",
            &svc,
            "--target",
            TARGET,
            "--target",
            "downstream",
            "--subject-client",
            &svc,
            "--scope",
            "api",
            "--mode",
            "either",
            "--max-ttl",
            "120",
        ],
    );
    let id = created["id"].as_str().expect("policy id").to_string();
    assert!(id.starts_with("xp_"), "{created}");
    assert_eq!(
        created["targets"],
        serde_json::json!([TARGET, "downstream"])
    );
    assert_eq!(created["mode"], "either");
    assert_eq!(created["max_ttl_secs"], 120);
    assert_eq!(created["requester_must_be_in_subject_aud"], true);
    // The human form prints the id too.
    let human = ok(
        &db,
        &enc,
        &[
            "exchange-policies",
            "create",
            "--requester",
            &svc,
            "--target",
            "other",
            "--disabled",
        ],
    );
    assert!(human.contains("Created exchange policy xp_"), "{human}");

    let list = json(&db, &enc, &["exchange-policies", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert!(ok(&db, &enc, &["exchange-policies", "list"]).contains(&id));
    assert_eq!(
        json(&db, &enc, &["exchange-policies", "get", &id])["id"],
        id.as_str()
    );

    // A refused policy is an operation error with its code (exit 1), not a crash.
    let bad = admin(
        &db,
        &enc,
        &[
            "exchange-policies",
            "create",
            "--requester",
            &svc,
            "--target",
            TARGET,
            "--scope",
            "latchkey:admin",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_input"));

    let token = subject_token(&db, &kek, &svc).await;
    let file = dir.path().join("subject.jwt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let yes = json(
        &db,
        &enc,
        &[
            "exchange-policies",
            "explain",
            "--requester",
            &svc,
            "--target",
            TARGET,
            "--subject-token-file",
            &file,
        ],
    );
    assert_eq!(yes["allowed"], true, "{yes}");
    assert_eq!(yes["policy_id"], id.as_str());
    assert_eq!(yes["claims"]["aud"], TARGET);
    assert_eq!(yes["claims"]["sub"], format!("client:{svc}").as_str());
    assert!(yes["expires_in"].as_i64().unwrap() <= 120);

    let no = admin(
        &db,
        &enc,
        &[
            "exchange-policies",
            "explain",
            "--requester",
            &svc,
            "--target",
            "https://elsewhere.example/",
            "--subject-token-file",
            &file,
        ],
    );
    assert!(no.status.success(), "a refusal is an answer, not a failure");
    let text = String::from_utf8_lossy(&no.stdout);
    assert!(text.contains("Refused"), "{text}");
    assert!(text.contains("invalid_target"), "{text}");
    assert!(text.contains("policy.target"), "{text}");
    assert!(!text.contains(&token), "the token is never echoed");

    ok(&db, &enc, &["exchange-policies", "delete", &id]);
    let list = json(&db, &enc, &["exchange-policies", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}
