//! `latchkey migrate [--db PATH | --database URL]`: brings the schema up to date and
//! exits. `serve` and `admin` migrate on start as well; this is for deployments that
//! migrate as a separate, explicit step before rolling out new nodes. On PostgreSQL it
//! runs under the store's advisory lock, so it is safe while nodes start.

use crate::config::{resolve_database, Database, FileConfig};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// SQLite database file [default: ./latchkey.db]
    #[arg(long, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL URL (postgres://…)
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// TOML config file (only its `db` and `database` keys matter here)
    #[arg(long, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub async fn run(args: MigrateArgs) -> ExitCode {
    let database = FileConfig::load(args.config.as_deref())
        .and_then(|file| resolve_database(args.db, args.database, &file));
    let database = match database {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match database {
        Database::Postgres(url) => match latchkey_store_postgres::migrate(&url).await {
            Ok(applied) if applied.is_empty() => {
                println!("schema up to date");
                ExitCode::SUCCESS
            }
            Ok(applied) => {
                let list: Vec<String> = applied.iter().map(|v| format!("{v:04}")).collect();
                println!("applied migrations {}", list.join(", "));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Database::Sqlite(path) => match latchkey_store_sqlite::SqliteStore::open(&path).await {
            Ok(store) => {
                store.close().await;
                println!("schema up to date ({})", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
