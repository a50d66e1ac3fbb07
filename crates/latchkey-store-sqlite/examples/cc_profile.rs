//! Where the server CPU of one ES256 client-credentials token goes, without HTTP
//! (bench/cc-profile.sh runs it on a database the admin CLI provisioned): process CPU
//! (all threads, including sqlx's SQLite workers, from /proc/self/stat) per call of
//! each stage, each stage repeated N times on a warm provider.
//!
//! `cc_profile DB CLIENT_ID CLIENT_SECRET [APP_ID APP_SECRET REFRESH_TOKENS_FILE]` with
//! LATCHKEY_KEK set; N (20000) and MARKER_WINDOW_MS (0) from the environment. With the
//! optional arguments (a client with the refresh grant and tokens from bench/mint.py),
//! it also times whole refresh grants, half with RS256 ID tokens (the default) and half
//! with ES256 ones, which shows the RS256 signature's share; then the store's part of a
//! grant: its two reads, one rotation with no other writer (a transaction of its own)
//! and rotations from 16 concurrent callers (group commit: one transaction and one
//! `fsync` for the rotations queued together). The file is split in four for these.

use latchkey_core::clock::SystemClock;
use latchkey_core::crypto::Kek;
use latchkey_core::oauth::client_auth::Presented;
use latchkey_core::oauth::token::Subject;
use latchkey_core::oauth::{Config, Provider};
use latchkey_core::store::Store;
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// utime + stime of this process, in seconds.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 of the file are 12 and 13 after "pid (comm)"
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

macro_rules! stage {
    ($name:expr, $n:expr, $body:expr) => {{
        stage_total!($name, $n, {
            for _ in 0..$n {
                $body;
            }
        })
    }};
}

/// `$body` does `$n` calls' work at once (e.g. concurrent callers).
macro_rules! stage_total {
    ($name:expr, $n:expr, $body:expr) => {{
        let (c0, w0) = (cpu_s(), std::time::Instant::now());
        $body;
        let (cpu, wall) = (cpu_s() - c0, w0.elapsed().as_secs_f64());
        println!(
            "{:<44} {:>8.1} µs CPU/call {:>8.1} µs wall/call",
            $name,
            cpu * 1e6 / $n as f64,
            wall * 1e6 / $n as f64
        );
    }};
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (db, id, secret, refresh) = match args.as_slice() {
        [db, id, secret] => (db, id, secret, None),
        [db, id, secret, app, app_secret, file] => (db, id, secret, Some((app, app_secret, file))),
        _ => {
            return Err(
                "usage: cc_profile DB CLIENT_ID CLIENT_SECRET [APP_ID APP_SECRET FILE]".into(),
            )
        }
    };
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20000);
    let window: u64 = std::env::var("MARKER_WINDOW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kek_text = std::env::var("LATCHKEY_KEK")?;
    let kek = Kek::parse(&kek_text)?;
    let store = SqliteStore::open_with(
        std::path::Path::new(db),
        SqliteOptions {
            marker_window: Duration::from_millis(window),
            ..SqliteOptions::default()
        },
    )
    .await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let provider = Provider::new(
        store.clone(),
        Arc::new(SystemClock),
        kek,
        Config::new("http://127.0.0.1:3200"),
    );
    provider.manager().ensure_keys().await?;
    let mut form = HashMap::new();
    form.insert("grant_type".to_string(), "client_credentials".to_string());
    form.insert("scope".to_string(), "api".to_string());
    let presented = Presented {
        basic: Some((id.clone(), secret.clone())),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        dpop: Vec::new(),
        origin: None,
    };
    let first = provider.token(&form, &presented).await?;
    assert!(!first.access_token.is_empty());
    let client = store.client_get(id).await?.ok_or("no such client")?;
    let scopes = vec!["api".to_string()];
    println!("N={n} marker_window={window} ms; process CPU per call (all threads):");

    stage!(
        "change_marker()",
        n,
        std::hint::black_box(store.change_marker())
    );
    stage!(
        "authenticate_client (cached reads + secret)",
        n,
        provider
            .authenticate_client(&form, &presented, "token")
            .await?
    );
    stage!(
        "mint_access (claims + ES256 JWS)",
        n,
        provider
            .mint_access(
                &client,
                &Subject {
                    user: None,
                    session: None
                },
                &scopes,
                1_800_000_000,
            )
            .await?
    );
    stage!(
        "token() client_credentials, whole",
        n,
        provider.token(&form, &presented).await?
    );

    if let Some((app, app_secret, file)) = refresh {
        let tokens: Vec<String> = std::fs::read_to_string(file)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let quarter = tokens.len() / 4;
        let (grants, writes) = tokens.split_at(2 * quarter);
        let half = grants.len() / 2;
        let tokens = grants;
        let app_presented = Presented {
            basic: Some((app.clone(), app_secret.clone())),
            ip: Some("127.0.0.1".into()),
            user_agent: None,
            dpop: Vec::new(),
            origin: None,
        };
        for (alg, part) in [
            (latchkey_core::model::Alg::RS256, &tokens[..half]),
            (latchkey_core::model::Alg::ES256, &tokens[half..]),
        ] {
            let mut config = Config::new("http://127.0.0.1:3200");
            config.id_token_alg = alg;
            let p = Provider::new(
                store.clone(),
                Arc::new(SystemClock),
                Kek::parse(&kek_text)?,
                config,
            );
            let mut it = part.iter();
            let m = part.len();
            stage!(
                format!("token() refresh_token, whole, {alg:?} ID token"),
                m,
                {
                    let mut f = HashMap::new();
                    f.insert("grant_type".to_string(), "refresh_token".to_string());
                    f.insert(
                        "refresh_token".to_string(),
                        it.next().cloned().unwrap_or_default(),
                    );
                    p.token(&f, &app_presented).await?
                }
            );
        }

        let (alone, together) = writes.split_at(writes.len() / 2);
        let hash = |t: &String| latchkey_core::crypto::sha256(t.as_bytes());
        let now = latchkey_core::clock::Clock::now(&SystemClock);
        let rt = store
            .refresh_get(&hash(&together[0]))
            .await?
            .ok_or("no such refresh token")?;
        stage!("store reads of a grant (refresh_get + session_get)", n, {
            store.refresh_get(&rt.hash).await?;
            store.session_get(&rt.session_id).await?
        });
        let rotate = move |store: Arc<dyn Store>, token: String| async move {
            let old = latchkey_core::crypto::sha256(token.as_bytes());
            let Some(rt) = store.refresh_get(&old).await? else {
                return Err::<(), Box<dyn std::error::Error>>("no such refresh token".into());
            };
            let next = latchkey_core::model::RefreshToken {
                hash: latchkey_core::crypto::sha256(
                    latchkey_core::crypto::random_token().as_bytes(),
                ),
                session_id: rt.session_id.clone(),
                client_id: rt.client_id.clone(),
                created_at: now,
                consumed_at: None,
                idle_expires_at: now + 3600,
                ip: None,
                user_agent: None,
                dpop_jkt: None,
            };
            let access = latchkey_core::model::AccessTokenRecord {
                jti: latchkey_core::crypto::random_id(),
                session_id: Some(rt.session_id.clone()),
                client_id: rt.client_id.clone(),
                issued_at: now,
                expires_at: now + 600,
            };
            store
                .refresh_rotate(&old, now, &next, Some(&access))
                .await?;
            Ok(())
        };
        let mut it = alone.iter();
        stage!(
            "refresh_get + refresh_rotate, one writer",
            alone.len(),
            rotate(store.clone(), it.next().cloned().unwrap_or_default()).await?
        );
        let callers = 16;
        let per = together.len() / callers;
        stage_total!(
            format!("refresh_get + refresh_rotate, {callers} concurrent writers"),
            per * callers,
            {
                let mut tasks = Vec::new();
                for c in 0..callers {
                    let part: Vec<String> = together[c * per..(c + 1) * per].to_vec();
                    let store = store.clone();
                    tasks.push(tokio::spawn(async move {
                        for t in part {
                            rotate(store.clone(), t).await.map_err(|e| e.to_string())?;
                        }
                        Ok::<(), String>(())
                    }));
                }
                for t in tasks {
                    t.await??;
                }
            }
        );
    }
    Ok(())
}
