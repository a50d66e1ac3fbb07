//! The TOML configuration file (`--config FILE`). Its keys are the long flag names in
//! snake_case (`db`, `issuer`, `public_addr`, …). Precedence, everywhere:
//! command-line flag > `LATCHKEY_*` environment variable > this file > built-in default.
//! Clap handles the first two (each flag is an `Option` with an `env` fallback); the
//! merge with this file and the defaults happens in one place per command.

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DB: &str = "./latchkey.db";

/// Every key the file may hold. Unknown keys are an error, so a typo (`isuser = …`)
/// does not silently fall back to a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub db: Option<PathBuf>,
    /// A `postgres://` URL: serve from a shared PostgreSQL database instead of `db`.
    pub database: Option<String>,
    pub issuer: Option<String>,
    pub public_addr: Option<String>,
    pub admin_addr: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub admin_url: Option<String>,
    pub admin_tls_cert: Option<PathBuf>,
    pub admin_tls_key: Option<PathBuf>,
    pub admin_insecure_http: Option<bool>,
    /// `--trusted-proxy` is repeatable; here it is a list.
    #[serde(alias = "trusted_proxies")]
    pub trusted_proxy: Option<Vec<String>>,
    /// `--proxy-header`: `forwarded` or `x-forwarded-for`.
    pub proxy_header: Option<String>,
    pub access_token_alg: Option<String>,
    pub synchronous_normal: Option<bool>,
    /// `--metrics-open`.
    pub metrics_open: Option<bool>,
    /// `--require-par`.
    pub require_par: Option<bool>,
    /// `--registration`.
    pub registration: Option<bool>,
    /// `--dpop-nonce`.
    pub dpop_nonce: Option<bool>,
    /// `[settings]`: defaults of the runtime settings by name, in seconds (or counts) or
    /// as a duration string, e.g. `code_ttl = 120`, `sign_in_ttl = "2h"`.
    /// `LATCHKEY_SETTING`, then `--setting NAME=VALUE`, win per name.
    pub settings: Option<std::collections::BTreeMap<String, SettingValue>>,
}

/// A `[settings]` value: a number, or a string the flags also accept (`"2h"`, `"90m"`,
/// `"120"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    Number(i64),
    Text(String),
}

impl SettingValue {
    /// The value in seconds (or a count).
    pub fn resolve(&self) -> Result<i64, String> {
        match self {
            SettingValue::Number(n) => Ok(*n),
            SettingValue::Text(t) => parse_setting_value(t),
        }
    }
}

/// Seconds or a count (`120`), or a duration (`90m`, `12h`, `30d`): one rule for
/// `--setting`, `LATCHKEY_SETTING` and `[settings]`.
pub fn parse_setting_value(v: &str) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) => Ok(n),
        Err(_) => crate::admin::parse_duration(v),
    }
}

impl FileConfig {
    /// Reads `path` if given; no file means every key unset.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut cfg: FileConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        // Relative paths in the file are relative to the file, not to wherever the
        // command happens to be started from.
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for p in [
            &mut cfg.db,
            &mut cfg.tls_cert,
            &mut cfg.tls_key,
            &mut cfg.admin_tls_cert,
            &mut cfg.admin_tls_key,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }
}

/// The database path for any command: flag/env, then the file, then `./latchkey.db`.
pub fn resolve_db(flag_or_env: Option<PathBuf>, file: &FileConfig) -> PathBuf {
    flag_or_env
        .or_else(|| file.db.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
}

/// Where the data lives, for any command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The environment variable that used to name `--database`, before it followed the
/// `LATCHKEY_<FLAG>` rule (`LATCHKEY_DATABASE`); still read, after the new name.
pub const DATABASE_URL_ALIAS: &str = "LATCHKEY_DATABASE_URL";

/// `LATCHKEY_DATABASE_URL` when set and not empty: callers use it only when neither
/// `--database` nor `LATCHKEY_DATABASE` gave a URL.
pub fn database_url_alias() -> Option<String> {
    std::env::var(DATABASE_URL_ALIAS)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `--database`/`LATCHKEY_DATABASE` (or its old name `LATCHKEY_DATABASE_URL`), then the
/// file's `database`, select PostgreSQL;
/// otherwise the SQLite path as [`resolve_db`] finds it. Both on the command line (or
/// in the environment) is a mistake worth refusing rather than guessing about.
pub fn resolve_database(
    db_flag_or_env: Option<PathBuf>,
    url_flag_or_env: Option<String>,
    file: &FileConfig,
) -> anyhow::Result<Database> {
    let url_flag = url_flag_or_env.filter(|u| !u.trim().is_empty());
    if url_flag.is_some() && db_flag_or_env.is_some() {
        anyhow::bail!("give either --db (SQLite file) or --database (PostgreSQL URL), not both");
    }
    let url = match url_flag {
        Some(u) => Some(u),
        None if db_flag_or_env.is_some() => None,
        None => file.database.clone().filter(|u| !u.trim().is_empty()),
    };
    match url {
        Some(u) if latchkey_store_postgres::is_postgres_url(&u) => Ok(Database::Postgres(u)),
        // Never echo the value: it may carry a password.
        Some(_) => anyhow::bail!("--database must be a postgres:// or postgresql:// URL"),
        None => Ok(Database::Sqlite(resolve_db(db_flag_or_env, file))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_in_the_config_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "isuser = \"https://x\"\n").unwrap();
        let e = FileConfig::load(Some(&p)).unwrap_err();
        assert!(format!("{e:#}").contains("isuser"), "{e:#}");
    }

    #[test]
    fn relative_paths_in_the_config_file_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "db = \"data/l.db\"\ntrusted_proxy = [\"10.0.0.1\"]\nsynchronous_normal = true\n",
        )
        .unwrap();
        let c = FileConfig::load(Some(&p)).unwrap();
        assert_eq!(c.db, Some(dir.path().join("data/l.db")));
        assert_eq!(c.trusted_proxy, Some(vec!["10.0.0.1".to_string()]));
        assert_eq!(c.synchronous_normal, Some(true));
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_db_keeps_selecting_sqlite() {
        let none = FileConfig::default();
        assert_eq!(
            resolve_database(None, Some("postgres://h/db".into()), &none).unwrap(),
            Database::Postgres("postgres://h/db".into())
        );
        assert_eq!(
            resolve_database(Some("x.db".into()), None, &none).unwrap(),
            Database::Sqlite("x.db".into())
        );
        let file = FileConfig {
            database: Some("postgresql://h/db".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve_database(None, None, &file).unwrap(),
            Database::Postgres("postgresql://h/db".into())
        );
        // A --db flag beats the file's database.
        assert_eq!(
            resolve_database(Some("x.db".into()), None, &file).unwrap(),
            Database::Sqlite("x.db".into())
        );
        assert!(
            resolve_database(Some("x.db".into()), Some("postgres://h/d".into()), &none).is_err()
        );
        let e = resolve_database(None, Some("mysql://u:pw@h/d".into()), &none).unwrap_err();
        assert!(!format!("{e:#}").contains("pw"));
    }

    #[test]
    fn the_database_path_prefers_the_flag_then_the_file_then_the_default() {
        let file = FileConfig {
            db: Some("file.db".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve_db(Some("flag.db".into()), &file),
            PathBuf::from("flag.db")
        );
        assert_eq!(resolve_db(None, &file), PathBuf::from("file.db"));
        assert_eq!(
            resolve_db(None, &FileConfig::default()),
            PathBuf::from(DEFAULT_DB)
        );
    }
}
