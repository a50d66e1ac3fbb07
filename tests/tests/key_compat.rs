//! Keys and tokens written by an earlier build keep working: `fixtures/keys-v1.db` is a
//! SQLite database written by the code before JOSE moved from `ring`/`rsa` to
//! `jsonwebtoken`/`aws-lc-rs` (commit 3cd8b62), holding one active key per algorithm
//! sealed under [`FIXTURE_KEK`], and `fixtures/keys-v1-tokens.json` tokens those keys
//! signed. How it was made: `cargo nextest run -p latchkey-e2e --test key_compat
//! --run-ignored only write_the_key_fixture` on that commit (the ignored test below, with
//! `LATCHKEY_WRITE_FIXTURE=1`). Regenerating it with today's code would prove nothing:
//! leave the committed files alone.

use latchkey_e2e::latchkey_core::clock::FixedClock;
use latchkey_e2e::latchkey_core::crypto::Kek;
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::keys;
use latchkey_e2e::latchkey_core::model::{Alg, KeyState};
use latchkey_e2e::latchkey_core::oauth::{Config, Provider};
use latchkey_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A test-only KEK (never a real one): 32 bytes 0x00..0x1f in hex.
const FIXTURE_KEK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ISSUER: &str = "https://fixture.latchkey.test";
/// The fixture's tokens are dated here; the clock of the test stands just after it.
const ISSUED_AT: i64 = 1_800_000_000;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

#[tokio::test]
#[ignore = "writes the committed fixture; run once on the old code, see the module doc"]
async fn write_the_key_fixture() {
    if std::env::var("LATCHKEY_WRITE_FIXTURE").as_deref() != Ok("1") {
        return;
    }
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("keys-v1.db");
    let _ = std::fs::remove_file(&db);
    let kek = Kek::parse(FIXTURE_KEK).unwrap();
    let store = SqliteStore::open(&db).await.unwrap();
    let mut tokens = Vec::new();
    for alg in Alg::ALL {
        let key = keys::new_signing_key(*alg, KeyState::Active, &kek, ISSUED_AT).unwrap();
        store.keys_apply(&[], Some(&key), None).await.unwrap();
        let loaded = keys::load(&key, &kek).unwrap();
        let at = jwt::sign(
            &loaded,
            Some("at+jwt"),
            &json!({
                "iss": ISSUER, "sub": "client:fixture", "aud": ISSUER, "client_id": "fixture",
                "iat": ISSUED_AT, "exp": ISSUED_AT + 3600, "jti": format!("jti-{alg}"),
                "scope": "api",
            }),
        )
        .unwrap();
        let id = jwt::sign(
            &loaded,
            Some("JWT"),
            &json!({
                "iss": ISSUER, "sub": "user-1", "aud": "fixture", "azp": "fixture",
                "iat": ISSUED_AT, "exp": ISSUED_AT + 3600,
                "at_hash": jwt::half_hash(*alg, &at),
            }),
        )
        .unwrap();
        tokens
            .push(json!({"alg": alg.as_str(), "kid": key.kid, "access_token": at, "id_token": id}));
    }
    store.close().await;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("keys-v1.db{suffix}")));
    }
    std::fs::write(
        dir.join("keys-v1-tokens.json"),
        serde_json::to_string_pretty(&tokens).unwrap() + "\n",
    )
    .unwrap();
}

/// A copy of the fixture in a temporary directory: opening brings the schema up to date
/// and writes a WAL, and the committed file must stay as the old code wrote it.
async fn open_fixture() -> (tempfile::TempDir, SqliteStore) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("keys-v1.db");
    std::fs::copy(fixture_dir().join("keys-v1.db"), &db).unwrap();
    let store = SqliteStore::open(&db).await.unwrap();
    (tmp, store)
}

fn fixture_tokens() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture_dir().join("keys-v1-tokens.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn provider(store: SqliteStore) -> Provider {
    Provider::new(
        Arc::new(store),
        Arc::new(FixedClock::new(ISSUED_AT + 60)),
        Kek::parse(FIXTURE_KEK).unwrap(),
        Config::new(ISSUER),
    )
}

#[tokio::test]
async fn tokens_signed_by_keys_an_earlier_build_stored_still_verify_against_the_published_jwks() {
    let (_tmp, store) = open_fixture().await;
    let p = provider(store);
    let jwks = p.jwks().await.unwrap();
    let tokens = fixture_tokens();
    assert_eq!(tokens.len(), Alg::ALL.len());
    for t in &tokens {
        for which in ["access_token", "id_token"] {
            let token = t[which].as_str().unwrap();
            let parsed = jwt::parse(token).unwrap();
            let key = jwt::verify_with_jwks(&parsed, &jwks)
                .unwrap_or_else(|e| panic!("{} {which}: {e}", t["alg"]));
            assert_eq!(key["kid"], t["kid"]);
            // The same bytes with one claim changed must not verify: the test can fail.
            let parts: Vec<&str> = token.split('.').collect();
            let forged = format!(
                "{}.{}.{}",
                parts[0],
                latchkey_e2e::latchkey_core::crypto::b64url(br#"{"sub":"admin"}"#),
                parts[2]
            );
            assert!(jwt::verify_with_jwks(&jwt::parse(&forged).unwrap(), &jwks).is_err());
        }
        let alg: Alg = t["alg"].as_str().unwrap().parse().unwrap();
        let id = jwt::parse(t["id_token"].as_str().unwrap()).unwrap();
        assert_eq!(
            id.str_claim("at_hash"),
            Some(jwt::half_hash(alg, t["access_token"].as_str().unwrap()).as_str())
        );
    }
}

#[tokio::test]
async fn keys_an_earlier_build_sealed_still_open_and_sign_tokens_that_verify() {
    let (_tmp, store) = open_fixture().await;
    let p = provider(store);
    let jwks = p.jwks().await.unwrap();
    let tokens = fixture_tokens();
    for alg in Alg::ALL {
        let signer = p.signer(*alg).await.unwrap();
        let old_kid = tokens
            .iter()
            .find(|t| t["alg"] == alg.as_str())
            .and_then(|t| t["kid"].as_str())
            .unwrap();
        // The key that signs is the stored one (no new key was made on open).
        assert_eq!(signer.kid, old_kid);
        assert_eq!(signer.alg, *alg);
        let token = jwt::sign(
            &signer,
            Some("at+jwt"),
            &json!({"iss": ISSUER, "sub": "u", "iat": ISSUED_AT + 60, "exp": ISSUED_AT + 120}),
        )
        .unwrap();
        let parsed = jwt::parse(&token).unwrap();
        assert_eq!(parsed.alg(), Some(alg.as_str()));
        let key = jwt::verify_with_jwks(&parsed, &jwks).unwrap();
        assert_eq!(key["kid"], old_kid);
    }
    // The sealed bytes are bound to their kid: opened under another, they do not load.
    let stored = p.store.keys_list().await.unwrap();
    let kek = Kek::parse(FIXTURE_KEK).unwrap();
    for k in &stored {
        assert!(keys::load(k, &kek).is_ok());
        let mut renamed = k.clone();
        renamed.kid.push('x');
        assert!(keys::load(&renamed, &kek).is_err());
    }
}
