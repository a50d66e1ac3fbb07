//! `pg-propagation`: how long a revocation made through one node takes to show on
//! another (bench/pg.sh). For each round: a fresh session with a refresh token is
//! written to the shared database, refreshed at node A (an access token), introspected
//! at A (so A has it cached as active), revoked through node B's `/revoke`, and A's
//! introspection is polled until it says `active: false`. Prints p50, p99 and max.
//!
//! Environment: DATABASE_URL (the nodes' database), LATCHKEY_KEK is not needed (no keys
//! are touched); NODE_A, NODE_B (base URLs), CLIENT_ID/CLIENT_SECRET (a confidential
//! client with the refresh-token grant), RS_ID/RS_SECRET (a client that may introspect),
//! USER_ID, ROUNDS (default 200).

use anyhow::{anyhow, Context, Result};
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::{random_id, random_token, sha256};
use latchkey_core::model::{AuthCode, RefreshToken, Session};
use latchkey_core::store::Issuance;
use latchkey_store_postgres::{PgOptions, PgStore};
use serde_json::Value;
use std::time::{Duration, Instant};

fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = env("DATABASE_URL")?;
    let (a, b) = (env("NODE_A")?, env("NODE_B")?);
    let (cid, csec) = (env("CLIENT_ID")?, env("CLIENT_SECRET")?);
    let (rid, rsec) = (env("RS_ID")?, env("RS_SECRET")?);
    let user = env("USER_ID")?;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let store = PgStore::connect_with(
        &url,
        PgOptions {
            follow_changes: false,
            ..Default::default()
        },
    )
    .await?;
    let http = reqwest::Client::new();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let now = SystemClock.now();
        let code = random_token();
        let session = Session {
            id: random_id(),
            user_id: user.clone(),
            client_id: cid.clone(),
            sign_in_id: None,
            scopes: vec!["openid".into()],
            auth_time: now,
            created_at: now,
            last_used_at: now,
            expires_at: now + 3600,
            ip: None,
            user_agent: None,
            revoked_at: None,
            revoked_reason: None,
            resources: Vec::new(),
            parent_session_id: None,
            parent_jti: None,
        };
        store
            .auth_code_insert(&AuthCode {
                dpop_jkt: None,
                hash: sha256(code.as_bytes()),
                client_id: cid.clone(),
                user_id: user.clone(),
                sign_in_id: None,
                redirect_uri: "https://bench.test/cb".into(),
                redirect_uri_sent: true,
                scopes: vec!["openid".into()],
                nonce: None,
                code_challenge: None,
                auth_time: now,
                created_at: now,
                expires_at: now + 600,
                consumed_at: None,
                session_id: None,
                ip: None,
                user_agent: None,
                resources: Vec::new(),
            })
            .await?;
        let rt = random_token();
        let issue = Issuance {
            session: Some(session.clone()),
            refresh: Some(RefreshToken {
                dpop_jkt: None,
                hash: sha256(rt.as_bytes()),
                session_id: session.id.clone(),
                client_id: cid.clone(),
                created_at: now,
                consumed_at: None,
                idle_expires_at: now + 3600,
                ip: None,
                user_agent: None,
            }),
            access: None,
            event: None,
        };
        store
            .auth_code_redeem(&sha256(code.as_bytes()), now, &issue)
            .await?;
        let t: Value = http
            .post(format!("{a}/token"))
            .basic_auth(&cid, Some(&csec))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
            .await?
            .json()
            .await?;
        let at = t["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("refresh failed: {t}"))?;
        let rt2 = t["refresh_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no refresh token: {t}"))?;
        let active = |token: String| {
            let (http, a, rid, rsec) = (http.clone(), a.clone(), rid.clone(), rsec.clone());
            async move {
                let v: Value = http
                    .post(format!("{a}/introspect"))
                    .basic_auth(&rid, Some(&rsec))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await?
                    .json()
                    .await?;
                v["active"]
                    .as_bool()
                    .ok_or_else(|| anyhow!("introspection: {v}"))
            }
        };
        if !active(at.to_string()).await? {
            return Err(anyhow!("a fresh token introspected inactive"));
        }
        let r = http
            .post(format!("{b}/revoke"))
            .basic_auth(&cid, Some(&csec))
            .form(&[("token", rt2)])
            .send()
            .await?;
        let revoked = Instant::now();
        if !r.status().is_success() {
            return Err(anyhow!("revoke at B: {}", r.status()));
        }
        loop {
            if !active(at.to_string()).await? {
                break;
            }
            if revoked.elapsed() > Duration::from_secs(10) {
                return Err(anyhow!("A still active 10 s after the revocation"));
            }
        }
        samples.push(revoked.elapsed());
    }
    store.close().await;
    if samples.is_empty() {
        return Err(anyhow!("ROUNDS must be at least 1"));
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "RESULT propagation rounds={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        samples.len(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(pct(1.0))
    );
    Ok(())
}
