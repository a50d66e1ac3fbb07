//! The SQLite files of a running `latchkey serve` are private to its user (issue 10
//! §5): they hold hashes of live tokens and the sealed signing keys.

mod common;

use common::*;
use latchkey_core::crypto::Kek;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The database, its WAL and its shared-memory index.
fn files(db: &Path) -> [PathBuf; 3] {
    ["", "-wal", "-shm"].map(|s| {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        PathBuf::from(p)
    })
}

/// `latchkey serve` on `db` under umask 000, as a careless service manager would
/// start it. Killed when dropped.
struct Served(std::process::Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve_with_open_umask(db: &Path, kek: &str) -> Served {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let child = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--db"])
        .arg(db)
        .args([
            "--issuer",
            &issuer,
            "--public-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("LATCHKEY_KEK", kek)
        .env_remove("LATCHKEY_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn latchkey serve");
    let served = Served(child);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    wait_ready(&http, &issuer).await;
    served
}

/// AD-82: the SQLite database, its WAL and its shared-memory index are created mode
/// 0600 whatever the umask, and a database left readable to others (an older build, a
/// copy) is narrowed to 0600 when the server opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_and_its_wal_and_shm_files_are_private_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let kek = Kek::generate().encode();

    // A new database, created by the server itself under umask 000 (it writes its
    // signing keys at start, so the WAL and the index exist while it runs).
    let db = dir.path().join("fresh.db");
    let served = serve_with_open_umask(&db, &kek).await;
    for f in files(&db) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    drop(served);

    // A database someone made world-readable: narrowed at the next start.
    for f in files(&db) {
        if f.exists() {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let served = serve_with_open_umask(&db, &kek).await;
    for f in files(&db) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    drop(served);
}
