//! `pg-cluster -- COMMAND [ARGS…]`: starts a throwaway PostgreSQL cluster (see
//! `latchkey_e2e::pg`), runs COMMAND with `DATABASE_URL` pointing at its `postgres`
//! database, stops the cluster and exits with COMMAND's status. `make test` runs the
//! test suites under it so every test process shares one cluster; `make serve-cluster`
//! runs the demo under it.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).skip_while(|a| a == "--").collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("usage: pg-cluster -- COMMAND [ARGS…]");
        return ExitCode::from(2);
    };
    let cluster = match latchkey_e2e::pg::Cluster::start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pg-cluster: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("pg-cluster: PostgreSQL at {}", cluster.admin_url());
    // Ctrl-C reaches the child too (same process group); this process only has to
    // outlive it to stop the cluster afterwards.
    let _ = ctrlc_ignore();
    let status = Command::new(cmd)
        .args(rest)
        .env("DATABASE_URL", cluster.admin_url())
        .status();
    drop(cluster);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("pg-cluster: cannot run {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ignores SIGINT in this process (the child still gets it) by installing a tokio
/// signal handler on a runtime that lives for the rest of the process.
fn ctrlc_ignore() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sig = rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    })?;
    // Registering the handler replaces the default action (terminate); keeping the
    // stream and the runtime alive keeps it registered.
    std::mem::forget(sig);
    std::mem::forget(rt);
    Ok(())
}
