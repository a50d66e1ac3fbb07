//! Finding the key-encryption key (KEK) that wraps the private signing keys at rest.
//!
//! In order: `LATCHKEY_KEK` (the key itself, 64 hex or 43 base64url characters), then
//! `LATCHKEY_KEK_FILE` (a file holding it, e.g. a mounted secret), then a file
//! `<database file name>.kek` beside the database — created with mode 0600 on first use,
//! which the caller must announce, since losing it makes the stored keys useless.

use crate::AdminError;
use latchkey_core::crypto::Kek;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const ENV_KEK: &str = "LATCHKEY_KEK";
pub const ENV_KEK_FILE: &str = "LATCHKEY_KEK_FILE";

/// Where the KEK came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// The `LATCHKEY_KEK` environment variable.
    Env,
    /// The file named by `LATCHKEY_KEK_FILE`.
    EnvFile(PathBuf),
    /// The existing file beside the database.
    File(PathBuf),
    /// A new key, just written to this file beside the database.
    Created(PathBuf),
}

impl KekSource {
    /// The file just created, if any: the caller should tell the user to back it up.
    pub fn created(&self) -> Option<&Path> {
        match self {
            KekSource::Created(p) => Some(p),
            _ => None,
        }
    }

    /// One line for a startup log or a notice.
    pub fn describe(&self) -> String {
        match self {
            KekSource::Env => format!("key-encryption key from ${ENV_KEK}"),
            KekSource::EnvFile(p) => {
                format!("key-encryption key from {} (${ENV_KEK_FILE})", p.display())
            }
            KekSource::File(p) => format!("key-encryption key from {}", p.display()),
            KekSource::Created(p) => format!(
                "created a new key-encryption key at {} (mode 0600); back it up: without \
                 it the signing keys in this database cannot be used",
                p.display()
            ),
        }
    }
}

/// `<db file name>.kek` in the database's directory (`./latchkey.db` → `./latchkey.db.kek`).
pub fn kek_path_for(db: &Path) -> Result<PathBuf, AdminError> {
    let name = db.file_name().ok_or_else(|| {
        AdminError::invalid_input(format!(
            "database path {} does not name a file",
            db.display()
        ))
    })?;
    let mut kek_name = name.to_os_string();
    kek_name.push(".kek");
    Ok(db.with_file_name(kek_name))
}

/// Where the KEK for `db` is looked for first, in words (`latchkey backup`'s reminder
/// and the console's): the environment variable, or the file beside the database.
pub fn kek_location(db: &Path) -> String {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if set(ENV_KEK) {
        format!("in ${ENV_KEK}")
    } else if let Some(f) = std::env::var_os(ENV_KEK_FILE).filter(|v| !v.is_empty()) {
        format!("in {} (${ENV_KEK_FILE})", Path::new(&f).display())
    } else {
        match kek_path_for(db) {
            Ok(p) => format!("in {}", p.display()),
            Err(_) => "in the file <database>.kek beside the database".to_string(),
        }
    }
}

/// Loads the KEK from the environment or beside `db`, creating the file if there is
/// none. See the module documentation for the order.
pub fn load_or_create_kek(db: &Path) -> Result<(Kek, KekSource), AdminError> {
    let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    load_or_create_kek_with(
        db,
        non_empty(ENV_KEK),
        non_empty(ENV_KEK_FILE).map(PathBuf::from),
    )
}

/// The KEK for a database shared by several processes on several machines
/// (PostgreSQL): only `LATCHKEY_KEK` or `LATCHKEY_KEK_FILE`, never a file created here,
/// since every node must hold the same key and a file made on one machine would not
/// be on the others.
pub fn load_shared_kek() -> Result<(Kek, KekSource), AdminError> {
    let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (kek, file) = (non_empty(ENV_KEK), non_empty(ENV_KEK_FILE));
    if kek.is_none() && file.is_none() {
        return Err(AdminError::invalid_input(format!(
            "a PostgreSQL database needs the key-encryption key from ${ENV_KEK} or              ${ENV_KEK_FILE}, the same on every node (generate one with              `openssl rand -hex 32`)"
        )));
    }
    load_or_create_kek_with(Path::new("unused.db"), kek, file.map(PathBuf::from))
}

/// [`load_or_create_kek`] with the environment passed in (for tests, and callers that
/// read configuration elsewhere).
pub fn load_or_create_kek_with(
    db: &Path,
    env_kek: Option<String>,
    env_kek_file: Option<PathBuf>,
) -> Result<(Kek, KekSource), AdminError> {
    if let Some(v) = env_kek {
        // The value itself is never echoed: it is the secret.
        let kek = Kek::parse(&v).map_err(|_| {
            AdminError::invalid_input(format!(
                "${ENV_KEK} is not a valid key: expected 32 bytes as 64 hex or 43 base64url characters"
            ))
        })?;
        return Ok((kek, KekSource::Env));
    }
    if let Some(path) = env_kek_file {
        let kek = read_kek_file(&path)?;
        return Ok((kek, KekSource::EnvFile(path)));
    }
    let path = kek_path_for(db)?;
    if path.exists() {
        return Ok((read_kek_file(&path)?, KekSource::File(path)));
    }
    let kek = Kek::generate();
    match write_new_kek(&path, &kek) {
        Ok(()) => Ok((kek, KekSource::Created(path))),
        // Another process (a server starting beside this CLI) created it first: use
        // theirs, or the two would encrypt keys under different KEKs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            Ok((read_kek_file(&path)?, KekSource::File(path)))
        }
        Err(e) => Err(AdminError::invalid_input(format!(
            "cannot create the key-encryption key file {}: {e}",
            path.display()
        ))),
    }
}

fn read_kek_file(path: &Path) -> Result<Kek, AdminError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AdminError::invalid_input(format!(
            "cannot read the key-encryption key file {}: {e}",
            path.display()
        ))
    })?;
    Kek::parse(&text).map_err(|_| {
        AdminError::invalid_input(format!(
            "{} does not hold a valid key-encryption key (32 bytes as 64 hex or 43 \
             base64url characters)",
            path.display()
        ))
    })
}

/// Writes a new KEK with mode 0600 from the start (never a moment world-readable),
/// refusing to overwrite an existing file, and syncs it before anything is encrypted
/// under it: a KEK lost in a crash would orphan every key sealed with it.
fn write_new_kek(path: &Path, kek: &Kek) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(format!("{}\n", kek.encode()).as_bytes())?;
    f.sync_all()?;
    // Make the new directory entry durable too; best effort, some filesystems refuse
    // to sync a directory handle.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_kek_file_sits_beside_the_database() {
        assert_eq!(
            kek_path_for(Path::new("/var/lib/latchkey/prod.db")).unwrap(),
            PathBuf::from("/var/lib/latchkey/prod.db.kek")
        );
        assert_eq!(
            kek_path_for(Path::new("latchkey.db")).unwrap(),
            PathBuf::from("latchkey.db.kek")
        );
    }

    #[test]
    fn a_missing_kek_file_is_created_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let (k1, src) = load_or_create_kek_with(&db, None, None).unwrap();
        let path = dir.path().join("x.db.kek");
        assert_eq!(src, KekSource::Created(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k2, src) = load_or_create_kek_with(&db, None, None).unwrap();
        assert_eq!(src, KekSource::File(path));
        assert_eq!(k1.encode(), k2.encode());
    }

    #[test]
    fn the_environment_takes_precedence_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let kek = Kek::generate();
        let (k, src) = load_or_create_kek_with(&db, Some(kek.encode()), None).unwrap();
        assert_eq!(src, KekSource::Env);
        assert_eq!(k.encode(), kek.encode());
        assert!(!dir.path().join("x.db.kek").exists());

        let file = dir.path().join("secret");
        std::fs::write(&file, format!("{}\n", kek.encode())).unwrap();
        let (k, src) = load_or_create_kek_with(&db, None, Some(file.clone())).unwrap();
        assert_eq!(src, KekSource::EnvFile(file));
        assert_eq!(k.encode(), kek.encode());
    }

    #[test]
    fn an_invalid_kek_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let e = load_or_create_kek_with(&db, Some("not-a-key-xyz".into()), None).unwrap_err();
        assert_eq!(e.code, "invalid_input");
        assert!(!e.message.contains("not-a-key-xyz"));
    }
}
