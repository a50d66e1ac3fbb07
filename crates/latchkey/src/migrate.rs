//! `latchkey migrate [--db PATH | --database URL]`: brings the schema up to date and
//! exits. `serve` and `admin` migrate on start as well; this is for deployments that
//! migrate as a separate, explicit step before rolling out new nodes. On PostgreSQL it
//! runs under the store's advisory lock, so it is safe while nodes start.
//! `--dry-run` says which migrations would run and runs none.

use crate::config::{resolve_database, Database, FileConfig};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// SQLite database file [default: ./latchkey.db]
    #[arg(long, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL URL (postgres://…); LATCHKEY_DATABASE_URL is read too
    #[arg(
        long,
        env = "LATCHKEY_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Say which migrations would run, and run none
    #[arg(long)]
    pub dry_run: bool,

    /// TOML config file (only its `db` and `database` keys matter here)
    #[arg(long, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn print_pending(pending: &[(i64, String)]) {
    if pending.is_empty() {
        println!("schema up to date: no migration would run");
        return;
    }
    println!("would run {} migration(s):", pending.len());
    for (v, d) in pending {
        println!("  {v:04} {d}");
    }
}

pub async fn run(args: MigrateArgs) -> ExitCode {
    let url = args.database.or_else(crate::config::database_url_alias);
    let database = FileConfig::load(args.config.as_deref())
        .and_then(|file| resolve_database(args.db, url, &file));
    let database = match database {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.dry_run {
        let pending = match &database {
            Database::Postgres(url) => latchkey_store_postgres::pending_migrations(url)
                .await
                .map_err(|e| e.to_string()),
            Database::Sqlite(path) => latchkey_store_sqlite::backup::schema_status(path)
                .await
                .map(|s| s.pending)
                .map_err(|e| e.to_string()),
        };
        return match pending {
            Ok(p) => {
                print_pending(&p);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
        Database::Sqlite(path) => {
            let before = latchkey_store_sqlite::backup::schema_status(&path).await;
            match latchkey_store_sqlite::SqliteStore::open(&path).await {
                Ok(store) => {
                    store.close().await;
                    match before {
                        Ok(s) if !s.pending.is_empty() => {
                            let list: Vec<String> =
                                s.pending.iter().map(|(v, _)| format!("{v:04}")).collect();
                            println!(
                                "applied migrations {} ({})",
                                list.join(", "),
                                path.display()
                            );
                        }
                        _ => println!("schema up to date ({})", path.display()),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
