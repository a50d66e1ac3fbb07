//! `latchkey config export | plan | apply` through the real binary (issue 16): on a
//! database file as scripts and CI jobs run it, and against a real `latchkey serve`
//! over its admin API with an API key. Exit codes, the confirmation rule, idempotence,
//! and that a secret taken from the environment is in no output, log line or file.

mod common;

use anyhow::{ensure, Context, Result};
use latchkey_core::crypto::Kek;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Long enough for the configured-secret rule, recognisable anywhere it might leak.
const SECRET: &str = "cli-secret-from-env-5f1b9c2e7d3a4b6c8e0f1a2b3c4d5e6f";

fn latchkey(kek: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for k in [
        "LATCHKEY_KEK_FILE",
        "LATCHKEY_DB",
        "LATCHKEY_SERVER",
        "LATCHKEY_API_KEY",
        "LATCHKEY_CONFIG",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c.env("LATCHKEY_KEK", kek).stdin(Stdio::null());
    c
}

fn config(kek: &str, db: &Path, args: &[&str]) -> Result<Output> {
    let mut c = latchkey(kek);
    c.arg("config").args(args).arg("--db").arg(db);
    Ok(c.output()?)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const DOC: &str = "version: 1
clients:
  shop:
    name: Shop
    redirect_uris: ['https://shop.example/cb']
    secret: ${env:SHOP_SECRET}
scopes:
  orders:read:
    description: Read your orders
settings:
  detect_brute_force_mode: 2
";

#[test]
fn plan_exit_codes_the_confirmation_rule_and_a_second_apply_that_changes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("cac.db");
    let kek = Kek::generate().encode();
    let file = dir.path().join("latchkey.yaml");
    std::fs::write(&file, DOC)?;
    let f = file.to_str().context("path")?;

    // A missing reference: an error naming the item, exit 1.
    let o = config(&kek, &db, &["plan", "-f", f])?;
    ensure!(o.status.code() == Some(1), "{}", text(&o));
    ensure!(
        text(&o).contains("clients.shop.secret: ${env:SHOP_SECRET}: the environment variable SHOP_SECRET is not set"),
        "{}",
        text(&o)
    );

    let with_env = |args: &[&str]| -> Result<Output> {
        let mut c = latchkey(&kek);
        c.arg("config")
            .args(args)
            .arg("--db")
            .arg(&db)
            .env("SHOP_SECRET", SECRET);
        Ok(c.output()?)
    };
    let o = with_env(&["plan", "-f", f, "--detailed-exitcode"])?;
    ensure!(o.status.code() == Some(2), "changes: exit 2\n{}", text(&o));
    let plan = String::from_utf8(o.stdout.clone())?;
    ensure!(plan.contains("+ client shop will be created"), "{plan}");
    ensure!(
        plan.contains("+ secret = from ${env:SHOP_SECRET}"),
        "{plan}"
    );
    ensure!(
        plan.contains("Plan: 3 to create, 0 to change, 0 to delete."),
        "{plan}"
    );

    // Nobody at a terminal and no --auto-approve: refused, nothing written.
    let o = with_env(&["apply", "-f", f])?;
    ensure!(o.status.code() == Some(1), "{}", text(&o));
    ensure!(text(&o).contains("stdin is not a terminal"), "{}", text(&o));
    let o = with_env(&["plan", "-f", f, "--detailed-exitcode"])?;
    ensure!(o.status.code() == Some(2), "still to do: {}", text(&o));

    let o = with_env(&["apply", "-f", f, "--auto-approve"])?;
    ensure!(o.status.success(), "{}", text(&o));
    ensure!(
        text(&o).contains("Apply complete: 3 created, 0 changed, 0 deleted."),
        "{}",
        text(&o)
    );
    let o = with_env(&["apply", "-f", f])?;
    ensure!(
        o.status.success(),
        "no changes need no confirmation: {}",
        text(&o)
    );
    ensure!(
        text(&o).contains("Apply complete: nothing to change."),
        "{}",
        text(&o)
    );
    let o = with_env(&["plan", "-f", f, "--detailed-exitcode"])?;
    ensure!(o.status.code() == Some(0), "{}", text(&o));
    ensure!(
        text(&o).contains("No drift since the last apply"),
        "{}",
        text(&o)
    );

    // The export holds the reference, not the secret, and plans clean against itself.
    let o = config(&kek, &db, &["export"])?;
    ensure!(o.status.success(), "{}", text(&o));
    let exported = String::from_utf8(o.stdout)?;
    ensure!(
        exported.contains("secret: ${env:LATCHKEY_CLIENT_SECRET_SHOP}"),
        "{exported}"
    );
    let out = dir.path().join("exported.yaml");
    std::fs::write(&out, &exported)?;
    let o = config(
        &kek,
        &db,
        &[
            "plan",
            "-f",
            out.to_str().context("path")?,
            "--detailed-exitcode",
        ],
    );
    // Its reference has no value in this environment: an error, not a guess.
    ensure!(o?.status.code() == Some(1));
    Ok(())
}

#[test]
fn a_secret_from_the_environment_reaches_no_output_no_log_line_and_no_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("cac.db");
    let kek = Kek::generate().encode();
    let file = dir.path().join("latchkey.yaml");
    std::fs::write(&file, DOC)?;
    let f = file.to_str().context("path")?;
    let mut all = String::new();
    for args in [
        vec!["plan", "-f", f],
        vec!["plan", "-f", f, "--json"],
        vec!["apply", "-f", f, "--auto-approve"],
        vec!["plan", "-f", f],
        vec!["export"],
    ] {
        let mut c = latchkey(&kek);
        c.arg("config")
            .args(&args)
            .arg("--db")
            .arg(&db)
            .env("SHOP_SECRET", SECRET)
            .env("RUST_LOG", "trace");
        let o = c.output()?;
        ensure!(o.status.success(), "{args:?}: {}", text(&o));
        all.push_str(&text(&o));
    }
    ensure!(!all.contains(SECRET), "the secret leaked:\n{all}");
    // On disk only its hash: the database, its WAL and the key file hold no plaintext.
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        let bytes = std::fs::read(&path)?;
        ensure!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is in {}",
            path.display()
        );
    }
    Ok(())
}

#[test]
fn export_plan_and_apply_go_to_the_server_named_by_server_with_an_api_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("remote.db");
    let kek = Kek::generate().encode();
    let o = latchkey(&kek)
        .args(["admin", "--db"])
        .arg(&db)
        .args(["api-keys", "create", "--name", "config tests", "--json"])
        .output()?;
    ensure!(o.status.success(), "{}", text(&o));
    let created: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let key = created["api_key"].as_str().context("api_key")?.to_string();

    let (port, admin_port) = (common::free_port(), common::free_port());
    let mut child = latchkey(&kek)
        .args(["serve", "--db"])
        .arg(&db)
        .args(["--issuer", &format!("http://127.0.0.1:{port}")])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let _server_log = common::wait_listening(&mut child);
    let admin = format!("http://127.0.0.1:{admin_port}");
    let file = dir.path().join("latchkey.yaml");
    std::fs::write(&file, DOC)?;
    let f = file.to_str().context("path")?;
    let remote = |args: &[&str]| -> Result<Output> {
        let mut c = latchkey(&kek);
        c.arg("config")
            .args(args)
            .args(["--server", &admin])
            .env("LATCHKEY_API_KEY", &key)
            .env("SHOP_SECRET", SECRET);
        Ok(c.output()?)
    };
    let result = (|| -> Result<()> {
        let o = remote(&["plan", "-f", f, "--detailed-exitcode"])?;
        ensure!(o.status.code() == Some(2), "{}", text(&o));
        let o = remote(&["apply", "-f", f, "--auto-approve"])?;
        ensure!(o.status.success(), "{}", text(&o));
        let o = remote(&["export"])?;
        ensure!(o.status.success(), "{}", text(&o));
        let exported = String::from_utf8(o.stdout)?;
        ensure!(exported.contains("  shop:\n"), "{exported}");
        ensure!(
            exported.contains("detect_brute_force_mode: 2"),
            "{exported}"
        );
        let o = remote(&["plan", "-f", f, "--detailed-exitcode"])?;
        ensure!(o.status.code() == Some(0), "{}", text(&o));
        ensure!(
            text(&o).contains("by api-key:"),
            "the API key is the actor: {}",
            text(&o)
        );

        // A read-only key plans too, but its secret values are not compared (no oracle
        // for a credential that cannot change them): another value shows no change.
        let mut c = latchkey(&kek);
        c.args([
            "admin", "--server", &admin, "api-keys", "create", "--name", "ci plan",
        ])
        .args(["--read-only", "--json"])
        .env("LATCHKEY_API_KEY", &key);
        let o = c.output()?;
        ensure!(o.status.success(), "{}", text(&o));
        let ro: serde_json::Value = serde_json::from_slice(&o.stdout)?;
        let ro_key = ro["api_key"].as_str().context("api_key")?.to_string();
        let guess = format!("{SECRET}-guess");
        let mut c = latchkey(&kek);
        c.args([
            "config",
            "plan",
            "-f",
            f,
            "--detailed-exitcode",
            "--server",
            &admin,
        ])
        .env("LATCHKEY_API_KEY", &ro_key)
        .env("SHOP_SECRET", &guess);
        let o = c.output()?;
        ensure!(o.status.code() == Some(0), "{}", text(&o));
        ensure!(text(&o).contains("was not compared"), "{}", text(&o));
        // The same value with the read-write key is a change to apply.
        let mut c = latchkey(&kek);
        c.args([
            "config",
            "plan",
            "-f",
            f,
            "--detailed-exitcode",
            "--server",
            &admin,
        ])
        .env("LATCHKEY_API_KEY", &key)
        .env("SHOP_SECRET", &guess);
        let o = c.output()?;
        ensure!(o.status.code() == Some(2), "{}", text(&o));
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
