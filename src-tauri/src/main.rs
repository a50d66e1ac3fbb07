// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

//! `latchkey-desktop [--db PATH] [--port N] [--connections PATH]`: the desktop console,
//! opening on an embedded store.

use clap::Parser;
use latchkey_desktop::console::DEFAULT_PORT;
use latchkey_desktop::ConsoleOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// The Latchkey desktop console.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// SQLite store to open, created and migrated on first start
    /// [default: latchkey/latchkey.db in the OS data directory]
    #[arg(long, env = "LATCHKEY_DESKTOP_DB", value_name = "PATH")]
    db: Option<PathBuf>,

    /// Port of the authorization server on 127.0.0.1 (0: any free port)
    #[arg(long, env = "LATCHKEY_DESKTOP_PORT", value_name = "N", default_value_t = DEFAULT_PORT)]
    port: u16,

    /// The saved connections (names, colours, files, server URLs; never a credential)
    /// [default: latchkey/connections.json in the OS config directory]
    #[arg(long, env = "LATCHKEY_DESKTOP_CONNECTIONS", value_name = "PATH")]
    connections: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let db = match args.db {
        Some(db) => db,
        None => match dirs::data_dir() {
            Some(d) => d.join("latchkey").join("latchkey.db"),
            None => {
                eprintln!("error: no OS data directory (is $HOME set?); pass --db PATH");
                return ExitCode::from(2);
            }
        },
    };
    let connections = match args.connections {
        Some(p) => p,
        None => match dirs::config_dir() {
            Some(d) => d.join("latchkey").join("connections.json"),
            None => {
                eprintln!("error: no OS config directory (is $HOME set?); pass --connections PATH");
                return ExitCode::from(2);
            }
        },
    };
    match latchkey_desktop::run(ConsoleOptions {
        db,
        port: args.port,
        connections,
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
