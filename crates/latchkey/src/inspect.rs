//! `latchkey token inspect`: decode a token, explain its claims, check its signature
//! against the issuer's published keys (found through discovery from `iss`, or given
//! with `--issuer` / `--jwks-url`), and — with `--db` or `--server` — ask the store
//! whether it is still active and, if not, why. The verdict is the console inspector's:
//! the same core function (`latchkey_core::inspect::inspect_with`) decides it.
//!
//! Exit codes (README, "Command line"): 0 accepted (or an ID token whose checks pass),
//! 1 rejected, 2 usage or I/O error, 3 undetermined (nothing failed, but the decisive
//! check could not be made: no keys, or no store asked about revocation).

use anyhow::{anyhow, bail, Context};
use clap::Args;
use latchkey_admin::AdminBackend;
use latchkey_api_types::TokenRequest;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::inspect::{
    inspect_with, normalise, server_answer, Inspection, Normalised, Outcome, ServerAnswer,
    TokenForm,
};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Accepted: every check passes (for an ID token, every offline one).
pub const EXIT_ACCEPTED: u8 = 0;
/// Rejected: a check fails or the store answers inactive.
pub const EXIT_REJECTED: u8 = 1;
/// Bad usage, or a key set, store or server that was asked for and cannot be used.
pub const EXIT_ERROR: u8 = 2;
/// Nothing failed, but nothing decisive was checked (no keys; revocation not asked).
pub const EXIT_UNDETERMINED: u8 = 3;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token, or `-` (or nothing) to read it from stdin. `Authorization:`, `Bearer`,
    /// quotes and whitespace around it are removed (and reported)
    pub token: Option<String>,
    /// Verify against this issuer (its discovery document names the JWKS)
    #[arg(long, value_name = "URL", conflicts_with = "jwks_url")]
    pub issuer: Option<String>,
    /// Verify against this JWK Set
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// Ask this SQLite store whether the token is still active, and why not (its keys
    /// are used for the signature)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["jwks_url", "server"])]
    pub db: Option<PathBuf>,
    /// Ask this server's admin API whether the token is still active, and why not
    #[arg(long, value_name = "URL", conflicts_with = "jwks_url")]
    pub server: Option<String>,
    /// Admin API key for --server (prefer LATCHKEY_API_KEY)
    #[arg(
        long,
        env = "LATCHKEY_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        requires = "server"
    )]
    pub api_key: Option<String>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

async fn fetch_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let u = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
        bail!("refusing to fetch keys over plain HTTP from {url} (https required off loopback)");
    }
    let r = http
        .get(u)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !r.status().is_success() {
        bail!("{url} answered {}", r.status());
    }
    r.json()
        .await
        .with_context(|| format!("{url} did not return JSON"))
}

async fn jwks_for(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Value> {
    let disc = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let meta = fetch_json(http, &disc).await?;
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if meta.get("issuer").and_then(Value::as_str) != Some(issuer) {
        bail!("the discovery document at {disc} names another issuer");
    }
    let jwks_uri = meta
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{disc} has no jwks_uri"))?;
    fetch_json(http, jwks_uri).await
}

fn human(i: &Inspection, notes: &[String]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{}", i.verdict);
    if !i.removed.is_empty() {
        let _ = writeln!(o, "(removed from the input: {})", i.removed.join(", "));
    }
    for n in notes {
        let _ = writeln!(o, "note: {n}");
    }
    let _ = writeln!(o);
    for c in &i.checks {
        let mark = match c.ok {
            Some(true) => "✔",
            Some(false) => "✘",
            None => "·",
        };
        let _ = writeln!(o, "  {mark} {:<11} {}", c.name, c.detail);
    }
    if i.kind == TokenForm::Jwt {
        let _ = writeln!(o, "\nHeader");
        for (k, v) in &i.header {
            let _ = writeln!(o, "  {k:<10} {v}");
        }
        let _ = writeln!(o, "\nClaims");
        for l in &i.claim_lines {
            let _ = writeln!(
                o,
                "  {:<18} {:<40} {}",
                l.claim,
                l.value.to_string(),
                l.meaning
            );
        }
    }
    o
}

/// The exit code of a verdict.
pub fn exit_code(o: Outcome) -> u8 {
    match o {
        Outcome::Active | Outcome::NotIntrospectable => EXIT_ACCEPTED,
        Outcome::Rejected => EXIT_REJECTED,
        Outcome::ValidOffline | Outcome::Undetermined => EXIT_UNDETERMINED,
    }
}

pub async fn run(args: InspectArgs) -> ExitCode {
    let json = args.json;
    let (i, notes) = match run_inner(args).await {
        Ok(x) => x,
        Err(e) => {
            // Never the token: errors name URLs and files only.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = exit_code(i.outcome);
    let text = if json {
        let mut v = match serde_json::to_value(&i) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        };
        if !notes.is_empty() {
            v["notes"] = Value::from(notes);
        }
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        human(&i, &notes)
    };
    // Written in one go and never with `println!`, which panics when the reader has
    // gone (`| head`): a closed pipe ends the command quietly, with the verdict's code.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: writing the output: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    ExitCode::from(code)
}

/// What the store says about the token, and its published keys.
async fn ask_store(
    backend: &dyn AdminBackend,
    token: &Normalised,
) -> anyhow::Result<(Value, ServerAnswer)> {
    let jwks = backend
        .jwks_get()
        .await
        .map_err(|e| anyhow!("{} ({})", e.message, e.code))?;
    let answer = backend
        .token_introspect(TokenRequest {
            token: token.token.clone(),
        })
        .await
        .map_err(|e| anyhow!("{} ({})", e.message, e.code))?;
    Ok((jwks, server_answer(&answer)))
}

async fn run_inner(args: InspectArgs) -> anyhow::Result<(Inspection, Vec<String>)> {
    let raw = match args.token.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the token from stdin")?;
            s
        }
        Some(t) => t.to_string(),
    };
    let token = normalise(&raw);
    if token.token.is_empty() {
        bail!("no token given");
    }
    let mut notes = Vec::new();
    // The issuer named inside the (untrusted) token: where to look for its keys.
    let unverified_iss = latchkey_core::jwt::parse_structure(&token.token)
        .ok()
        .and_then(|p| p.str_claim("iss").map(str::to_string));

    if let Some(db) = &args.db {
        if !db.exists() {
            bail!("no database at {}", db.display());
        }
        let (kek, _) = latchkey_admin::load_or_create_kek(db)
            .map_err(|e| anyhow!("{} ({})", e.message, e.code))?;
        let issuer = args
            .issuer
            .clone()
            .or_else(|| unverified_iss.clone())
            .unwrap_or_default();
        if args.issuer.is_none() {
            notes.push("issuer not checked: give --issuer to check iss".into());
        }
        let backend = latchkey_admin::Embedded::open(db, kek.clone())
            .await
            .map_err(|e| anyhow!("{} ({})", e.message, e.code))?
            .with_own_provider(&issuer, kek);
        let asked = ask_store(&backend, &token).await;
        backend.close().await;
        let (jwks, answer) = asked?;
        let i = inspect_with(
            &token,
            Some(&jwks),
            args.issuer.as_deref(),
            Some(answer),
            SystemClock.now(),
            0,
        );
        return Ok((i, notes));
    }
    if let Some(server) = &args.server {
        let (jwks, answer) = ask_server(server, args.api_key.clone(), &token).await?;
        let i = inspect_with(
            &token,
            Some(&jwks),
            args.issuer.as_deref(),
            Some(answer),
            SystemClock.now(),
            0,
        );
        if args.issuer.is_none() {
            notes.push("issuer not checked: give --issuer to check iss".into());
        }
        return Ok((i, notes));
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    let issuer = args.issuer.clone().or_else(|| {
        if args.jwks_url.is_none() {
            unverified_iss.clone()
        } else {
            None
        }
    });
    let jwks = match (&args.jwks_url, &issuer) {
        (Some(u), _) => Some(fetch_json(&http, u).await?),
        (None, Some(iss)) => match jwks_for(&http, iss).await {
            Ok(j) => Some(j),
            // An explicit --issuer that fails is an error; an issuer taken from the
            // (untrusted) token is reported and the rest of the inspection still shown.
            Err(e) if args.issuer.is_some() => return Err(e),
            Err(e) => {
                notes.push(format!("keys not fetched: {e:#}"));
                None
            }
        },
        (None, None) => None,
    };
    let i = inspect_with(
        &token,
        jwks.as_ref(),
        issuer.as_deref(),
        None,
        SystemClock.now(),
        0,
    );
    Ok((i, notes))
}

#[cfg(feature = "remote")]
async fn ask_server(
    server: &str,
    api_key: Option<String>,
    token: &Normalised,
) -> anyhow::Result<(Value, ServerAnswer)> {
    let backend = crate::remote::backend(server, api_key)
        .map_err(|e| anyhow!("{} ({})", e.message, e.code))?;
    ask_store(&backend, token).await
}

#[cfg(not(feature = "remote"))]
async fn ask_server(
    server: &str,
    _api_key: Option<String>,
    _token: &Normalised,
) -> anyhow::Result<(Value, ServerAnswer)> {
    bail!(
        "this latchkey was built without remote administration (cargo feature `remote`), \
         so it cannot ask {server}; use --db"
    )
}
