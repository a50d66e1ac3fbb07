//! Issue 16 through the real binary: `--version` names the commit, `migrate --dry-run`
//! says what would run and runs nothing, a database from a newer release is refused
//! with words that say so, and the configuration rules the README states hold
//! (`LATCHKEY_DATABASE` and its old name, `LATCHKEY_SETTING` beside `--setting`,
//! durations in the TOML file's `[settings]`).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn latchkey(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.args(args);
    // The tests' own environment must not leak in (`--help` would even show it).
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LATCHKEY_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latchkey")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn the_version_names_the_release_and_the_commit() {
    let out = latchkey(&["--version"], &[]);
    assert!(out.status.success());
    let line = text(&out.stdout);
    let expected = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        line.trim(),
        format!("latchkey {} (commit {expected})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_dry_run_migration_says_what_would_run_and_runs_none() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("m.db");
    let out = latchkey(&["migrate", "--db", p(&db), "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("would run "), "{said}");
    assert!(said.contains("0001 init"), "{said}");
    assert!(said.contains("0015 retention"), "{said}");
    assert!(!db.exists(), "a dry run creates nothing");

    let out = latchkey(&["migrate", "--db", p(&db)], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("applied migrations 0001"));
    let out = latchkey(&["migrate", "--db", p(&db), "--dry-run"], &[]);
    assert_eq!(
        text(&out.stdout).trim(),
        "schema up to date: no migration would run"
    );
    Ok(())
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused_in_plain_words() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("newer.db");
    assert!(latchkey(&["migrate", "--db", p(&db)], &[]).status.success());
    {
        use sqlx::{ConnectOptions, Connection};
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'from a later release', 1, x'00', 0)",
        )
        .execute(&mut c)
        .await?;
        c.close().await?;
    }
    for args in [
        vec!["migrate", "--db", p(&db)],
        vec!["migrate", "--db", p(&db), "--dry-run"],
        vec!["admin", "--db", p(&db), "clients", "list"],
    ] {
        let out = latchkey(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("9999"), "{args:?}: {err}");
        assert!(err.contains("newer Latchkey"), "{args:?}: {err}");
    }
    Ok(())
}

fn check_config(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["serve", "--check-config"];
    all.extend_from_slice(args);
    let out = latchkey(&all, env);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn latchkey_database_follows_the_flag_rule_and_the_old_name_still_works() {
    let url = "postgres://latchkey:s3cret@db.example/latchkey";
    for var in ["LATCHKEY_DATABASE", "LATCHKEY_DATABASE_URL"] {
        let c = check_config(&[], &[(var, url)]);
        let shown = c["database"].as_str().unwrap_or_default();
        assert!(shown.starts_with("postgres://latchkey"), "{var}: {c}");
        assert!(!shown.contains("s3cret"), "the password is redacted");
    }
    // The new name wins over the old one.
    let c = check_config(
        &[],
        &[
            ("LATCHKEY_DATABASE", "postgres://new@h/db"),
            ("LATCHKEY_DATABASE_URL", "postgres://old@h/db"),
        ],
    );
    assert!(
        c["database"].as_str().unwrap_or_default().contains("new@"),
        "{c}"
    );
}

#[test]
fn latchkey_setting_and_setting_flags_merge_with_the_flag_winning_per_name() {
    let c = check_config(
        &["--setting", "code_ttl=90"],
        &[("LATCHKEY_SETTING", "code_ttl=30,sign_in_ttl=2h")],
    );
    assert_eq!(c["settings"]["code_ttl"], 90, "{c}");
    assert_eq!(c["settings"]["sign_in_ttl"], 7200, "{c}");
}

#[test]
fn durations_in_the_config_files_settings_table_are_accepted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("latchkey.toml");
    std::fs::write(
        &cfg,
        "db = \"l.db\"\n[settings]\nsign_in_ttl = \"2h\"\nretain_audit = \"30d\"\ncode_ttl = 120\n",
    )?;
    let c = check_config(&["--config", p(&cfg)], &[]);
    assert_eq!(c["settings"]["sign_in_ttl"], 7200, "{c}");
    assert_eq!(c["settings"]["retain_audit"], 30 * 86400, "{c}");
    assert_eq!(c["settings"]["code_ttl"], 120, "{c}");
    Ok(())
}

/// `docs/configuration.md` is the commands' own `--help`, so the reference cannot drift
/// from the flags: this fails when the committed file differs, and
/// `LATCHKEY_UPDATE_DOCS=1 cargo nextest run -p latchkey -E 'test(configuration_reference)'`
/// rewrites it.
#[test]
fn the_configuration_reference_is_the_flags_own_help() -> anyhow::Result<()> {
    let mut doc = String::from(
        "# Configuration reference\n\n\
         Generated from the flags by `crates/latchkey/tests/run_for_real.rs` \
         (`the_configuration_reference_is_the_flags_own_help`); do not edit by hand: run\n\
         `LATCHKEY_UPDATE_DOCS=1 cargo nextest run -p latchkey -E 'test(configuration_reference)'`\n\
         after changing a flag.\n\n\
         Every `serve` flag is also read from the environment variable shown beside it \
         (`LATCHKEY_<FLAG>`) and from the snake_case key of the TOML file given with \
         `--config` (`public_addr = \"0.0.0.0:8080\"`, `[settings]` for `--setting`); a \
         flag wins over the environment, which wins over the file. `LATCHKEY_SETTING` and \
         `--setting` merge, the flag winning per name. `LATCHKEY_DATABASE_URL` is still read \
         as the old name of `LATCHKEY_DATABASE`.\n",
    );
    for cmd in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
    ] {
        let out = latchkey(cmd, &[]);
        anyhow::ensure!(out.status.success(), "{cmd:?}");
        doc.push_str(&format!(
            "\n## `latchkey {}`\n\n```text\n{}```\n",
            cmd[0],
            text(&out.stdout)
        ));
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    if std::env::var("LATCHKEY_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(&file, &doc)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/configuration.md differs from the flags' help; rewrite it with \
         LATCHKEY_UPDATE_DOCS=1 (see this test's doc comment)"
    );
    Ok(())
}
