//! Upgrades keep data (issue 16). `fixtures/upgrade/v0.1.0.db` is a database written by
//! the 0.1.0 schema (migrations up to 0015) with a confidential client, a user, signing
//! keys and a session, sealed under the test-only KEK in `v0.1.0.db.kek`;
//! `v0.1.0-tokens.json` records what it issued (an access token, a refresh token, the
//! client's secret: test-only secrets, for this test alone). Every build from now on
//! opens a copy (all its migrations run), verifies the access token against the JWKS,
//! authenticates the client with its secret and refreshes the refresh token, on a fixed
//! clock just after the tokens were issued. This test stays forever: a migration that
//! breaks an old database fails it.
//!
//! How the fixture was made (once, on commit "upgrades: a v0.1.0 fixture database"):
//! `LATCHKEY_WRITE_FIXTURE=1 cargo nextest run -p latchkey-e2e --test upgrade
//! --run-ignored only write_the_upgrade_fixture`. Do not regenerate it with a later
//! build: that would prove nothing. A later release adds its own fixture beside it.

use latchkey_e2e::latchkey_core::clock::FixedClock;
use latchkey_e2e::latchkey_core::crypto::{random_id, random_token, sha256, Kek};
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::manage::{ManagePolicy, Manager, NewClient, NewScope, NewUser};
use latchkey_e2e::latchkey_core::model::*;
use latchkey_e2e::latchkey_core::oauth::client_auth::Presented;
use latchkey_e2e::latchkey_core::oauth::{Config, Provider};
use latchkey_e2e::latchkey_core::store::{Issuance, Store};
use latchkey_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ISSUER: &str = "https://upgrade.latchkey.test";
/// The fixture's tokens are dated here; the test's clock stands a minute later.
const ISSUED_AT: i64 = 1_800_000_000;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade")
}

fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn basic(id: &str, secret: &str) -> Presented {
    Presented {
        basic: Some((id.to_string(), secret.to_string())),
        ..Presented::default()
    }
}

#[tokio::test]
#[ignore = "writes the committed fixture; run once, see the module doc"]
async fn write_the_upgrade_fixture() -> anyhow::Result<()> {
    if std::env::var("LATCHKEY_WRITE_FIXTURE").as_deref() != Ok("1") {
        return Ok(());
    }
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir)?;
    let work = tempfile::tempdir()?;
    let db = work.path().join("v0.1.0.db");
    let kek = Kek::generate();
    let clock = Arc::new(FixedClock::new(ISSUED_AT));
    let store = SqliteStore::open(&db).await?;
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let m = Manager::new(
        shared.clone(),
        clock.clone(),
        kek.clone(),
        ManagePolicy::default(),
    );
    m.ensure_builtin_scopes().await?;
    m.ensure_keys().await?;
    m.scope_create(
        "fixture",
        NewScope {
            name: "api".into(),
            description: "The fixture's API".into(),
            claims: vec![],
        },
    )
    .await?;
    let user = m
        .user_create(
            "fixture",
            NewUser {
                username: "alice".into(),
                password: "a long fixture password".into(),
                ..Default::default()
            },
        )
        .await?;
    let created = m
        .client_create(
            "fixture",
            NewClient {
                name: "upgrade fixture".into(),
                grant_types: vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ],
                redirect_uris: vec!["https://app.upgrade.test/cb".into()],
                allowed_scopes: vec!["openid".into(), "api".into()],
                ..Default::default()
            },
        )
        .await?;
    let client_id = created.client.id.clone();
    let secret = created
        .secret
        .ok_or_else(|| anyhow::anyhow!("a confidential client has a secret"))?
        .into_string();

    // A session with a refresh token, written as a code redemption writes it.
    let rt = random_token();
    let code = random_token();
    let session = Session {
        id: random_id(),
        user_id: user.id.clone(),
        client_id: client_id.clone(),
        sign_in_id: None,
        scopes: vec!["openid".into()],
        auth_time: ISSUED_AT,
        created_at: ISSUED_AT,
        last_used_at: ISSUED_AT,
        expires_at: ISSUED_AT + 30 * 86_400,
        ip: None,
        user_agent: None,
        revoked_at: None,
        revoked_reason: None,
        resources: Vec::new(),
        parent_session_id: None,
        parent_jti: None,
    };
    shared
        .auth_code_insert(&AuthCode {
            hash: sha256(code.as_bytes()),
            client_id: client_id.clone(),
            user_id: user.id.clone(),
            sign_in_id: None,
            redirect_uri: "https://app.upgrade.test/cb".into(),
            redirect_uri_sent: true,
            scopes: vec!["openid".into()],
            nonce: None,
            code_challenge: None,
            auth_time: ISSUED_AT,
            created_at: ISSUED_AT,
            expires_at: ISSUED_AT + 60,
            consumed_at: None,
            session_id: None,
            ip: None,
            user_agent: None,
            resources: Vec::new(),
            dpop_jkt: None,
        })
        .await?;
    let issue = Issuance {
        refresh: Some(RefreshToken {
            hash: sha256(rt.as_bytes()),
            session_id: session.id.clone(),
            client_id: client_id.clone(),
            created_at: ISSUED_AT,
            consumed_at: None,
            idle_expires_at: ISSUED_AT + 7 * 86_400,
            ip: None,
            user_agent: None,
            dpop_jkt: None,
        }),
        session: Some(session),
        access: None,
        event: None,
    };
    anyhow::ensure!(
        shared
            .auth_code_redeem(&sha256(code.as_bytes()), ISSUED_AT, &issue)
            .await?
    );

    // An access token from the engine itself (client credentials).
    let p = Provider::new(shared.clone(), clock, kek.clone(), Config::new(ISSUER));
    let cc = p
        .token(
            &form(&[("grant_type", "client_credentials"), ("scope", "api")]),
            &basic(&client_id, &secret),
        )
        .await
        .map_err(|e| anyhow::anyhow!("client credentials: {e:?}"))?;
    store.close().await;

    // Compact, single-file (VACUUM INTO), as a backup is.
    let out = dir.join("v0.1.0.db");
    let _ = std::fs::remove_file(&out);
    latchkey_store_sqlite::backup::backup(&db, &out).await?;
    std::fs::write(dir.join("v0.1.0.db.kek"), kek.encode() + "\n")?;
    let tokens = json!({
        "note": "test-only secrets for tests/tests/upgrade.rs; never a real deployment's",
        "issuer": ISSUER,
        "issued_at": ISSUED_AT,
        "client_id": client_id,
        "client_secret": secret,
        "user": "alice",
        "access_token": cc.access_token,
        "refresh_token": rt,
    });
    std::fs::write(
        dir.join("v0.1.0-tokens.json"),
        serde_json::to_string_pretty(&tokens)? + "\n",
    )?;
    Ok(())
}

#[tokio::test]
async fn a_v0_1_0_database_opens_and_its_tokens_and_clients_still_work() -> anyhow::Result<()> {
    let dir = fixture_dir();
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("v0.1.0-tokens.json"))?)?;
    let kek = Kek::parse(std::fs::read_to_string(dir.join("v0.1.0.db.kek"))?.trim())
        .map_err(|e| anyhow::anyhow!("fixture KEK: {e:?}"))?;
    let s = |k: &str| -> anyhow::Result<String> {
        recorded[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("{k} missing from the fixture"))
    };
    let (client_id, secret) = (s("client_id")?, s("client_secret")?);

    // A copy: opening runs every migration of this build, and the committed file must
    // stay as 0.1.0 wrote it.
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("v0.1.0.db");
    std::fs::copy(dir.join("v0.1.0.db"), &db)?;
    let store = SqliteStore::open(&db).await?;
    assert_eq!(store.integrity_check().await?, "ok");
    let p = Provider::new(
        Arc::new(store.clone()),
        Arc::new(FixedClock::new(ISSUED_AT + 60)),
        kek,
        Config::new(ISSUER),
    );

    // The access token verifies against the JWKS and introspects active, the client
    // authenticating with its secret.
    let access = s("access_token")?;
    let jwks = p.jwks().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let parsed = jwt::parse(&access).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    jwt::verify_with_jwks(&parsed, &jwks).map_err(|e| anyhow::anyhow!("verify: {e:?}"))?;
    let answer = p
        .introspect(&form(&[("token", &access)]), &basic(&client_id, &secret))
        .await
        .map_err(|e| anyhow::anyhow!("introspect: {e:?}"))?;
    assert_eq!(answer["active"], true, "{answer}");
    let wrong = p
        .introspect(
            &form(&[("token", &access)]),
            &basic(&client_id, "not the secret"),
        )
        .await;
    assert!(wrong.is_err(), "a wrong secret is refused");

    // The refresh token refreshes (and rotates).
    let rt = s("refresh_token")?;
    let refreshed = p
        .token(
            &form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)]),
            &basic(&client_id, &secret),
        )
        .await
        .map_err(|e| anyhow::anyhow!("refresh: {e:?}"))?;
    assert!(refreshed.refresh_token.is_some_and(|n| n != rt));
    let new_access = jwt::parse(&refreshed.access_token).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    jwt::verify_with_jwks(
        &new_access,
        &p.jwks().await.map_err(|e| anyhow::anyhow!("{e:?}"))?,
    )
    .map_err(|e| anyhow::anyhow!("the new token verifies: {e:?}"))?;
    store.close().await;
    Ok(())
}
