//! `latchkey serve`: its flags, and their merge with the environment, the config file
//! and the defaults into [`ServeSettings`].

use crate::config::{parse_setting_value, resolve_database, Database, FileConfig};
use anyhow::{anyhow, bail, Context};
use clap::builder::BoolishValueParser;
use clap::Args;
use latchkey_core::manage::{validate_settings, DEFAULT_JWKS_MAX_AGE};
use latchkey_core::model::Alg;
use latchkey_core::settings::{ServerSettings, FIELDS};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_PUBLIC_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:8081";
pub const DEFAULT_ACCESS_TOKEN_ALG: Alg = Alg::ES256;

/// Every flag is optional here (no clap default) so that "not given" can fall through
/// to the config file before the built-in default applies.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file whose keys mirror these flags in snake_case (db, issuer, public_addr, …)
    #[arg(long, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// SQLite database file, created and migrated on first use [default: ./latchkey.db]
    #[arg(long, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL URL (postgres://…) shared by several nodes, instead of --db; needs
    /// LATCHKEY_KEK or LATCHKEY_KEK_FILE, the same on every node (LATCHKEY_DATABASE_URL,
    /// the old name of LATCHKEY_DATABASE, is read too)
    #[arg(
        long,
        env = "LATCHKEY_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Issuer URL: https://, or http:// only on a loopback address [default: http://127.0.0.1:8080]
    #[arg(long, env = "LATCHKEY_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// Listener for the public OAuth endpoints [default: 127.0.0.1:8080]
    #[arg(long, env = "LATCHKEY_PUBLIC_ADDR", value_name = "HOST:PORT")]
    pub public_addr: Option<String>,

    /// Listener for the admin API, loopback by default [default: 127.0.0.1:8081]
    #[arg(long, env = "LATCHKEY_ADMIN_ADDR", value_name = "HOST:PORT")]
    pub admin_addr: Option<String>,

    /// PEM certificate chain; serve HTTPS (reloaded when the file changes)
    #[arg(long, env = "LATCHKEY_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert
    #[arg(long, env = "LATCHKEY_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// The admin API's public URL, published in discovery (`latchkey_admin_api`) and the
    /// audience of admin tokens [default: from --admin-addr, https when it serves TLS]
    #[arg(long, env = "LATCHKEY_ADMIN_URL", value_name = "URL")]
    pub admin_url: Option<String>,

    /// PEM certificate chain for the admin listener [default: --tls-cert]
    #[arg(long, env = "LATCHKEY_ADMIN_TLS_CERT", value_name = "FILE")]
    pub admin_tls_cert: Option<PathBuf>,

    /// PEM private key for --admin-tls-cert [default: --tls-key]
    #[arg(long, env = "LATCHKEY_ADMIN_TLS_KEY", value_name = "FILE")]
    pub admin_tls_key: Option<PathBuf>,

    /// Allow a non-loopback admin listener over plain HTTP (only behind a
    /// TLS-terminating proxy; give --admin-url its https:// address)
    #[arg(
        long,
        env = "LATCHKEY_ADMIN_INSECURE_HTTP",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub admin_insecure_http: Option<bool>,

    /// IP address of a TLS-terminating proxy whose Forwarded/X-Forwarded-* headers are
    /// believed (repeatable; comma-separated in the environment)
    #[arg(
        long = "trusted-proxy",
        env = "LATCHKEY_TRUSTED_PROXY",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<String>,

    /// The one header the trusted proxies write, and the only one believed from them:
    /// forwarded (RFC 7239) or x-forwarded-for [default: x-forwarded-for]
    #[arg(long, env = "LATCHKEY_PROXY_HEADER", value_name = "HEADER")]
    pub proxy_header: Option<String>,

    /// Algorithm for access tokens: ES256, RS256 or EdDSA [default: ES256]
    #[arg(long, env = "LATCHKEY_ACCESS_TOKEN_ALG", value_name = "ALG")]
    pub access_token_alg: Option<String>,

    /// Use SQLite synchronous=NORMAL: faster, but an acknowledged write can be lost on
    /// power failure or OS crash
    #[arg(
        long,
        env = "LATCHKEY_SYNCHRONOUS_NORMAL",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub synchronous_normal: Option<bool>,

    /// Default of a runtime setting, NAME=VALUE in seconds or a duration (90m, 12h, 30d),
    /// e.g. code_ttl=120 (repeatable; comma-separated in the environment). Administrators
    /// may still override it while the server runs (`latchkey admin settings`)
    #[arg(
        long = "setting",
        env = "LATCHKEY_SETTING",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub setting: Vec<String>,

    /// Serve `GET /metrics` (Prometheus) on the admin listener without a credential;
    /// without it a scrape needs an admin API key or admin token as Bearer
    #[arg(
        long,
        env = "LATCHKEY_METRICS_OPEN",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub metrics_open: Option<bool>,

    /// Answer /authorize only with pushed authorization requests (RFC 9126 §5
    /// `require_pushed_authorization_requests`), for every client; without it a
    /// client may still be required to push (`clients update ID --require-par`)
    #[arg(
        long = "require-par",
        env = "LATCHKEY_REQUIRE_PAR",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub require_par: Option<bool>,

    /// Turn on dynamic client registration (RFC 7591/7592) at /register: clients
    /// register themselves with an initial access token an administrator made
    /// (`latchkey admin registration-tokens create`). Off by default
    #[arg(
        long,
        env = "LATCHKEY_REGISTRATION",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub registration: Option<bool>,

    /// Require a server nonce in every DPoP proof (RFC 9449 §8): a proof without one
    /// is answered `use_dpop_nonce` with a `DPoP-Nonce` header
    #[arg(
        long,
        env = "LATCHKEY_DPOP_NONCE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub dpop_nonce: Option<bool>,

    /// Log format on stderr: text (default) or json (one JSON object a line, with
    /// timestamp, level, target and fields)
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Print the effective configuration as JSON and exit
    #[arg(long)]
    pub check_config: bool,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The effective `serve` configuration. Field names and types match
/// `latchkey_server::ServeConfig` (minus the KEK, which is loaded separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServeSettings {
    pub db: PathBuf,
    /// The PostgreSQL URL, password redacted when printed.
    #[serde(serialize_with = "redacted")]
    pub database: Option<String>,
    pub issuer: String,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub admin_url: Option<String>,
    pub admin_tls_cert: Option<PathBuf>,
    pub admin_tls_key: Option<PathBuf>,
    pub admin_insecure_http: bool,
    pub trusted_proxies: Vec<IpAddr>,
    /// `forwarded` or `x-forwarded-for`.
    pub proxy_header: String,
    pub access_token_alg: Alg,
    pub synchronous_normal: bool,
    pub metrics_open: bool,
    /// `--require-par`.
    pub require_pushed_authorization_requests: bool,
    /// `--registration`.
    pub registration: bool,
    pub dpop_nonce: bool,
    /// The runtime settings' defaults given by `--setting` or `[settings]`, by name;
    /// every other setting keeps its built-in default.
    pub settings: BTreeMap<String, i64>,
}

impl ServeSettings {
    /// The built-in defaults with the configured ones laid over them.
    pub fn setting_defaults(&self) -> ServerSettings {
        ServerSettings::effective(&ServerSettings::default(), &self.settings)
    }
}

/// `[settings]` from the file, then `LATCHKEY_SETTING` over it, then `--setting
/// NAME=VALUE` over that (per name: a flag does not hide the environment's other
/// names), checked by the same rules an administrator's change is (a configured
/// default the server could not honour is a start-up error, not a surprise later).
fn resolve_setting_defaults(
    flags: &[String],
    env: Option<&str>,
    file: &FileConfig,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (name, value) in file.settings.iter().flatten() {
        let v = value
            .resolve()
            .map_err(|e| anyhow!("[settings] {name}: {e}"))?;
        out.insert(name.clone(), v);
    }
    let env_items: Vec<String> = env
        .map(|e| e.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    // clap already put LATCHKEY_SETTING into `flags` when no flag was given; laying it
    // down twice changes nothing.
    for (source, items) in [("LATCHKEY_SETTING", &env_items[..]), ("--setting", flags)] {
        for s in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (name, value) = s
                .split_once('=')
                .ok_or_else(|| anyhow!("{source} {s:?}: expected NAME=VALUE, e.g. code_ttl=120"))?;
            let value = parse_setting_value(value).map_err(|e| anyhow!("{source} {name}: {e}"))?;
            out.insert(name.trim().to_string(), value);
        }
    }
    for name in out.keys() {
        if ServerSettings::field(name).is_none() {
            let known: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
            bail!(
                "unknown setting {name:?}; the settings are {}",
                known.join(", ")
            );
        }
    }
    let effective = ServerSettings::effective(&ServerSettings::default(), &out);
    let named = out.keys().map(String::as_str).collect();
    validate_settings(&effective, &named, DEFAULT_JWKS_MAX_AGE, 0)
        .map_err(|e| anyhow!("setting {e}"))?;
    Ok(out)
}

fn redacted<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_some(&latchkey_server::DatabaseUrl(u.clone()).redacted()),
        None => s.serialize_none(),
    }
}

fn parse_addr(flag: &str, v: &str) -> anyhow::Result<SocketAddr> {
    v.parse().map_err(|_| {
        anyhow!("--{flag} {v:?} is not an IP address with a port, e.g. 127.0.0.1:8080")
    })
}

impl ServeArgs {
    /// Merges flags and environment (already in `self`) with the config file and the
    /// defaults, and checks the result.
    pub fn resolve(mut self) -> anyhow::Result<ServeSettings> {
        let file = FileConfig::load(self.config.as_deref())?;
        self.database = self.database.or_else(crate::config::database_url_alias);
        let env_settings = std::env::var("LATCHKEY_SETTING").ok();
        self.resolve_with_env(&file, env_settings.as_deref())
    }

    /// [`Self::resolve_with_env`] without a `LATCHKEY_SETTING` beyond what clap read.
    #[cfg(test)]
    pub fn resolve_with(self, file: &FileConfig) -> anyhow::Result<ServeSettings> {
        self.resolve_with_env(file, None)
    }

    /// `env_settings` is `LATCHKEY_SETTING`, merged under the `--setting` flags.
    pub fn resolve_with_env(
        self,
        file: &FileConfig,
        env_settings: Option<&str>,
    ) -> anyhow::Result<ServeSettings> {
        let issuer = self
            .issuer
            .or_else(|| file.issuer.clone())
            .unwrap_or_else(|| DEFAULT_ISSUER.to_string());
        latchkey_server::validate_issuer(&issuer)
            .map_err(|e| anyhow!("--issuer {issuer:?}: {e}"))?;
        let public_addr = self
            .public_addr
            .or_else(|| file.public_addr.clone())
            .unwrap_or_else(|| DEFAULT_PUBLIC_ADDR.to_string());
        let admin_addr = self
            .admin_addr
            .or_else(|| file.admin_addr.clone())
            .unwrap_or_else(|| DEFAULT_ADMIN_ADDR.to_string());
        let tls_cert = self.tls_cert.or_else(|| file.tls_cert.clone());
        let tls_key = self.tls_key.or_else(|| file.tls_key.clone());
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key must be given together");
        }
        let admin_tls_cert = self.admin_tls_cert.or_else(|| file.admin_tls_cert.clone());
        let admin_tls_key = self.admin_tls_key.or_else(|| file.admin_tls_key.clone());
        if admin_tls_cert.is_some() != admin_tls_key.is_some() {
            bail!("--admin-tls-cert and --admin-tls-key must be given together");
        }
        let proxies = if self.trusted_proxy.is_empty() {
            file.trusted_proxy.clone().unwrap_or_default()
        } else {
            self.trusted_proxy
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpAddr>()
                    .map_err(|_| anyhow!("--trusted-proxy {p:?} is not an IP address"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let proxy_header = match self.proxy_header.or_else(|| file.proxy_header.clone()) {
            Some(h) => h
                .parse::<latchkey_server::http::ProxyHeader>()
                .map_err(|e| anyhow!("--proxy-header: {e}"))?,
            None => latchkey_server::http::ProxyHeader::default(),
        }
        .as_str()
        .to_string();
        let access_token_alg = match self
            .access_token_alg
            .or_else(|| file.access_token_alg.clone())
        {
            Some(a) => a
                .parse::<Alg>()
                .map_err(|_| anyhow!("--access-token-alg {a:?}: expected ES256, RS256 or EdDSA"))?,
            None => DEFAULT_ACCESS_TOKEN_ALG,
        };
        let (db, database) = match resolve_database(self.db, self.database, file)? {
            Database::Sqlite(p) => (p, None),
            Database::Postgres(u) => (PathBuf::from(crate::config::DEFAULT_DB), Some(u)),
        };
        Ok(ServeSettings {
            db,
            database,
            issuer,
            public_addr: parse_addr("public-addr", &public_addr)?,
            admin_addr: parse_addr("admin-addr", &admin_addr)?,
            tls_cert,
            tls_key,
            admin_url: self.admin_url.or_else(|| file.admin_url.clone()),
            admin_tls_cert,
            admin_tls_key,
            admin_insecure_http: self
                .admin_insecure_http
                .or(file.admin_insecure_http)
                .unwrap_or(false),
            trusted_proxies,
            proxy_header,
            access_token_alg,
            synchronous_normal: self
                .synchronous_normal
                .or(file.synchronous_normal)
                .unwrap_or(false),
            metrics_open: self.metrics_open.or(file.metrics_open).unwrap_or(false),
            require_pushed_authorization_requests: self
                .require_par
                .or(file.require_par)
                .unwrap_or(false),
            registration: self.registration.or(file.registration).unwrap_or(false),
            settings: resolve_setting_defaults(&self.setting, env_settings, file)?,
            dpop_nonce: self.dpop_nonce.or(file.dpop_nonce).unwrap_or(false),
        })
    }
}

/// `latchkey serve`.
pub async fn run_serve(args: ServeArgs) -> ExitCode {
    let check_only = args.check_config;
    let settings = match args.resolve().context("invalid serve configuration") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        match serde_json::to_string_pretty(&settings) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let kek = match &settings.database {
        Some(_) => latchkey_admin::load_shared_kek(),
        None => latchkey_admin::load_or_create_kek(&settings.db),
    };
    let (kek, source) = match kek {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {} ({})", e.message, e.code);
            return ExitCode::FAILURE;
        }
    };
    if source.created().is_some() {
        eprintln!("latchkey: {}", source.describe());
    }
    let defaults = settings.setting_defaults();
    let cfg = latchkey_server::ServeConfig {
        db: settings.db,
        database: settings.database.map(latchkey_server::DatabaseUrl),
        issuer: settings.issuer,
        public_addr: settings.public_addr,
        admin_addr: settings.admin_addr,
        tls_cert: settings.tls_cert,
        tls_key: settings.tls_key,
        trusted_proxies: settings.trusted_proxies,
        proxy_header: settings.proxy_header.parse().unwrap_or_default(),
        access_token_alg: settings.access_token_alg,
        synchronous_normal: settings.synchronous_normal,
        kek,
        admin_url: settings.admin_url,
        admin_tls_cert: settings.admin_tls_cert,
        admin_tls_key: settings.admin_tls_key,
        admin_insecure_http: settings.admin_insecure_http,
        metrics_open: settings.metrics_open,
        require_pushed_authorization_requests: settings.require_pushed_authorization_requests,
        registration: settings.registration,
        dpop_nonce: settings.dpop_nonce,
    };
    match latchkey_server::serve_configured(cfg, defaults).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingValue;

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let s = ServeArgs::default()
            .resolve_with(&FileConfig::default())
            .unwrap();
        assert_eq!(s.db, PathBuf::from("./latchkey.db"));
        assert_eq!(s.issuer, DEFAULT_ISSUER);
        assert_eq!(s.public_addr.to_string(), DEFAULT_PUBLIC_ADDR);
        assert_eq!(s.admin_addr.to_string(), DEFAULT_ADMIN_ADDR);
        assert_eq!(s.access_token_alg, Alg::ES256);
        assert!(!s.synchronous_normal);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.proxy_header, "x-forwarded-for");
    }

    #[test]
    fn the_proxy_header_comes_from_the_flag_or_the_file_and_nothing_else_is_accepted() {
        let file = FileConfig {
            proxy_header: Some("Forwarded".into()),
            ..Default::default()
        };
        let s = ServeArgs::default().resolve_with(&file).unwrap();
        assert_eq!(s.proxy_header, "forwarded");
        let args = ServeArgs {
            proxy_header: Some("x-forwarded-for".into()),
            ..Default::default()
        };
        assert_eq!(
            args.resolve_with(&file).unwrap().proxy_header,
            "x-forwarded-for"
        );
        let args = ServeArgs {
            proxy_header: Some("x-real-ip".into()),
            ..Default::default()
        };
        assert!(args.resolve_with(&FileConfig::default()).is_err());
    }

    #[test]
    fn a_flag_beats_the_config_file_which_beats_the_default() {
        let file = FileConfig {
            issuer: Some("https://file.example".into()),
            admin_addr: Some("127.0.0.1:9001".into()),
            trusted_proxy: Some(vec!["10.0.0.1".into()]),
            access_token_alg: Some("EdDSA".into()),
            synchronous_normal: Some(true),
            ..Default::default()
        };
        let args = ServeArgs {
            issuer: Some("https://flag.example".into()),
            synchronous_normal: Some(false),
            ..Default::default()
        };
        let s = args.resolve_with(&file).unwrap();
        assert_eq!(s.issuer, "https://flag.example");
        assert_eq!(s.admin_addr.to_string(), "127.0.0.1:9001");
        assert_eq!(s.public_addr.to_string(), DEFAULT_PUBLIC_ADDR);
        assert_eq!(
            s.trusted_proxies,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(s.access_token_alg, Alg::EdDSA);
        assert!(!s.synchronous_normal);
    }

    #[test]
    fn an_http_issuer_is_refused_unless_it_is_loopback() {
        let check_issuer = |i: &str| {
            ServeArgs {
                issuer: Some(i.to_string()),
                ..Default::default()
            }
            .resolve_with(&FileConfig::default())
        };
        for ok in [
            "https://id.example.com",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
        ] {
            assert!(check_issuer(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://id.example.com",
            "http://10.0.0.1",
            "ftp://x",
            "https://x/?a=b",
            "not a url",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_needs_both_a_certificate_and_a_key() {
        let args = ServeArgs {
            tls_cert: Some("c.pem".into()),
            ..Default::default()
        };
        assert!(args.resolve_with(&FileConfig::default()).is_err());
    }

    #[test]
    fn bad_addresses_and_algorithms_are_refused() {
        let args = ServeArgs {
            public_addr: Some("nowhere".into()),
            ..Default::default()
        };
        assert!(args.resolve_with(&FileConfig::default()).is_err());
        let args = ServeArgs {
            access_token_alg: Some("HS256".into()),
            ..Default::default()
        };
        assert!(args.resolve_with(&FileConfig::default()).is_err());
    }

    #[test]
    fn setting_defaults_come_from_the_file_and_the_flag_wins_per_name() {
        let file = FileConfig {
            settings: Some(BTreeMap::from([
                ("code_ttl".to_string(), SettingValue::Number(120)),
                ("login_block".to_string(), SettingValue::Number(90)),
            ])),
            ..Default::default()
        };
        let args = ServeArgs {
            setting: vec!["code_ttl=90".into(), "id_token_ttl=15m".into()],
            ..Default::default()
        };
        let s = args.resolve_with(&file).unwrap();
        let d = s.setting_defaults();
        assert_eq!((d.code_ttl, d.id_token_ttl, d.login_block), (90, 900, 90));
        assert_eq!(d.sign_in_ttl, ServerSettings::default().sign_in_ttl);
    }

    #[test]
    fn an_unknown_or_out_of_range_setting_default_is_refused_naming_it() {
        for (flag, name) in [
            ("code_tll=90", "code_tll"),
            ("code_ttl=5", "code_ttl"),
            ("code_ttl", "code_ttl"),
            ("prepublish=60", "prepublish"),
        ] {
            let args = ServeArgs {
                setting: vec![flag.into()],
                ..Default::default()
            };
            let e = args.resolve_with(&FileConfig::default()).unwrap_err();
            assert!(format!("{e:#}").contains(name), "{flag}: {e:#}");
        }
    }

    #[test]
    fn durations_in_the_config_files_settings_are_read_like_the_flags() -> anyhow::Result<()> {
        let text = "[settings]\nsign_in_ttl = \"2h\"\ncode_ttl = 120\nlogin_block = \"90\"\n";
        let file: FileConfig = toml::from_str(text)?;
        let d = ServeArgs::default().resolve_with(&file)?.setting_defaults();
        assert_eq!((d.sign_in_ttl, d.code_ttl, d.login_block), (7200, 120, 90));
        let bad: FileConfig = toml::from_str("[settings]\ncode_ttl = \"2 fortnights\"\n")?;
        let e = ServeArgs::default().resolve_with(&bad).unwrap_err();
        assert!(format!("{e:#}").contains("code_ttl"), "{e:#}");
        Ok(())
    }

    #[test]
    fn latchkey_setting_still_applies_beside_a_setting_flag_and_the_flag_wins_per_name(
    ) -> anyhow::Result<()> {
        let args = ServeArgs {
            setting: vec!["code_ttl=90".into()],
            ..Default::default()
        };
        let s =
            args.resolve_with_env(&FileConfig::default(), Some("code_ttl=30,sign_in_ttl=2h"))?;
        let d = s.setting_defaults();
        assert_eq!((d.code_ttl, d.sign_in_ttl), (90, 7200));
        Ok(())
    }
}
