//! `latchkey`: the command-line entry point.
//!
//! Owns: argument parsing (flags, `LATCHKEY_*` environment variables and the TOML config
//! file, in that order of precedence), the human and JSON output of `latchkey admin`,
//! and exit codes (0 ok, 1 an operation failed, 2 bad usage; `token inspect` adds 3,
//! undetermined, and reads 1 as "the token would be rejected": see `inspect.rs`).
//!
//! Does not own: what the commands do. `serve` hands its settings to
//! `latchkey-server`; `admin` goes through `latchkey-admin`'s `AdminBackend`, the same
//! operations the admin API and the desktop console use.

mod admin;
mod backup;
mod config;
mod config_code;
mod inspect;
mod migrate;
mod output;
#[cfg(feature = "remote")]
mod remote;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `latchkey --version`: the release and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LATCHKEY_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version = VERSION,
    about = "An OAuth 2.0 / OpenID Connect identity server",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process, like `admin::Resource`: boxing the big variant would
// only add noise.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the authorization server
    Serve(serve::ServeArgs),
    /// Administer clients, scopes, users, keys, sessions and the audit log
    Admin(admin::AdminArgs),
    /// Configuration as code: export, plan and apply clients, scopes, users' roles,
    /// exchange policies and runtime settings as YAML
    Config(config_code::ConfigArgs),
    /// Bring the database schema up to date, then exit
    Migrate(migrate::MigrateArgs),
    /// Copy a SQLite database consistently, also while a server uses it
    Backup(backup::BackupArgs),
    /// Replace a SQLite database with a backup (refused while it is in use)
    Restore(backup::RestoreArgs),
    /// Work with tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Decode a token, explain its claims and verify it against the issuer's keys
    Inspect(inspect::InspectArgs),
}

fn init_tracing(format: serve::LogFormat) {
    // Warnings and errors only by default: stdout belongs to the command's output and
    // stderr to its messages. `RUST_LOG` widens it.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        serve::LogFormat::Text => builder.try_init(),
        // One JSON object a line (`serve --log-format json`), for log shippers: the
        // span fields (the request id) flattened beside the event's own.
        serve::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit with 2 here, before anything is opened.
    let cli = Cli::parse();
    init_tracing(match &cli.command {
        Command::Serve(args) => args.log_format.unwrap_or_default(),
        _ => serve::LogFormat::Text,
    });
    match cli.command {
        Command::Serve(args) => serve::run_serve(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Config(args) => config_code::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Backup(args) => backup::run_backup(args).await,
        Command::Restore(args) => backup::run_restore(args).await,
        Command::Token {
            command: TokenCommand::Inspect(args),
        } => inspect::run(args).await,
    }
}
