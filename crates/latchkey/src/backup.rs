//! `latchkey backup` and `latchkey restore`: a SQLite store copied while it serves,
//! and put back when nothing has it open. The work is `latchkey_store_sqlite::backup`;
//! this is the command line and what it tells the administrator, above all that the
//! key-encryption key is not in the backup. PostgreSQL is backed up with `pg_dump`
//! (README, "Backup and restore").

use clap::Args;
use latchkey_admin::kek_location;
use latchkey_store_sqlite::backup;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The SQLite database to back up (it may be in use by a running server)
    #[arg(long, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: PathBuf,

    /// The backup file to write (created with mode 0600; never overwritten)
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (made by `latchkey backup`)
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,

    /// The SQLite database to replace or create; refused while a process has it open
    #[arg(long, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: PathBuf,
}

pub async fn run_backup(args: BackupArgs) -> ExitCode {
    match backup::backup(&args.db, &args.to).await {
        Ok(r) => {
            println!(
                "backed up {} to {} ({} bytes, schema {:04})",
                args.db.display(),
                r.file.display(),
                r.bytes,
                r.schema_version
            );
            eprintln!(
                "note: the backup does not hold the key-encryption key (KEK), which is {}. \
                 Keep a copy of it apart from the backup: without it the signing keys in the \
                 backup cannot be used. The backup holds secrets and tokens only as hashes and \
                 the private keys sealed under the KEK.",
                kek_location(&args.db)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run_restore(args: RestoreArgs) -> ExitCode {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    match backup::restore(&args.from, &args.db, stamp).await {
        Ok(r) => {
            println!(
                "restored {} from {} (integrity ok, schema {:04}{})",
                r.db.display(),
                args.from.display(),
                r.schema.applied.last().copied().unwrap_or(0),
                if r.schema.pending.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} migration(s) run at the next start",
                        r.schema.pending.len()
                    )
                }
            );
            if let Some(p) = &r.previous {
                println!("the database that was there is kept as {}", p.display());
            }
            eprintln!(
                "note: start the server with the key-encryption key the backed-up database \
                 used, {} for this database; tokens issued after the backup was made are \
                 unknown to it (their refresh answers invalid_grant), tokens issued before \
                 still verify.",
                kek_location(&args.db)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
