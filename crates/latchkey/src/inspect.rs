//! `latchkey token inspect`: decode a token, explain its claims, and check its
//! signature against the issuer's published keys (found through discovery from `iss`,
//! or given with `--issuer` / `--jwks-url`).

use anyhow::{anyhow, bail, Context};
use clap::Args;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::inspect::{inspect, Inspection, TokenForm};
use serde_json::Value;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token, or `-` (or nothing) to read it from stdin
    pub token: Option<String>,
    /// Verify against this issuer (its discovery document names the JWKS)
    #[arg(long, value_name = "URL", conflicts_with = "jwks_url")]
    pub issuer: Option<String>,
    /// Verify against this JWK Set
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
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

fn print_human(i: &Inspection) {
    println!("{}", i.verdict);
    println!();
    for c in &i.checks {
        let mark = match c.ok {
            Some(true) => "✔",
            Some(false) => "✘",
            None => "·",
        };
        println!("  {mark} {:<11} {}", c.name, c.detail);
    }
    if i.kind == TokenForm::Jwt {
        println!("\nHeader");
        for (k, v) in &i.header {
            println!("  {k:<10} {v}");
        }
        println!("\nClaims");
        for l in &i.claim_lines {
            println!(
                "  {:<18} {:<40} {}",
                l.claim,
                l.value.to_string(),
                l.meaning
            );
        }
    }
}

pub async fn run(args: InspectArgs) -> ExitCode {
    match run_inner(args).await {
        Ok(valid) => {
            if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(args: InspectArgs) -> anyhow::Result<bool> {
    let token = match args.token.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the token from stdin")?;
            s
        }
        Some(t) => t.to_string(),
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        bail!("no token given");
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    // Without flags, the issuer named inside the token is used (found via discovery).
    let unverified_iss = latchkey_core::jwt::parse(&token)
        .ok()
        .and_then(|p| p.str_claim("iss").map(str::to_string));
    let issuer = args.issuer.clone().or_else(|| {
        if args.jwks_url.is_none() {
            unverified_iss.clone()
        } else {
            None
        }
    });
    let (jwks, key_error) = match (&args.jwks_url, &issuer) {
        (Some(u), _) => (Some(fetch_json(&http, u).await?), None),
        (None, Some(iss)) => match jwks_for(&http, iss).await {
            Ok(j) => (Some(j), None),
            // An explicit --issuer that fails is an error; an issuer taken from the
            // (untrusted) token is reported and the rest of the inspection still shown.
            Err(e) if args.issuer.is_some() => return Err(e),
            Err(e) => (None, Some(format!("{e:#}"))),
        },
        (None, None) => (None, None),
    };
    let i = inspect(
        &token,
        jwks.as_ref(),
        args.issuer.as_deref().or(issuer.as_deref()),
        SystemClock.now(),
        0,
    );
    if args.json {
        let mut v = serde_json::to_value(&i)?;
        if let Some(e) = key_error {
            v["key_error"] = Value::from(e);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        if let Some(e) = key_error {
            eprintln!("note: keys not fetched: {e}");
        }
        print_human(&i);
    }
    Ok(i.valid)
}
