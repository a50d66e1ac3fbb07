//! The saved connections the switcher offers: embedded files and remote servers, each
//! with a name and a colour for its badge.
//!
//! The list is a JSON file in the OS config directory (`latchkey/connections.json`,
//! mode 0600, replaced atomically). It never holds a secret: a remote connection's API
//! key or sign-in lives in the OS keyring ([`latchkey_admin_client::keyring`]), or — where no
//! keyring service runs — in this process's memory until it exits.

use latchkey_admin::AdminError;
use latchkey_api_types::ErrorCode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The badge colours on offer: distinct in both themes and none of them the accent.
pub const COLOURS: &[&str] = &["green", "teal", "purple", "amber", "orange", "red", "grey"];

pub use latchkey_api_types::shell::RemoteAuth;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A SQLite file, served by the in-process authorization server.
    Embedded { db_path: String },
    /// A `latchkey serve` deployment's admin API.
    Remote {
        /// The admin API's base URL (`https://…`, or `http://` on loopback).
        server: String,
        /// Where administrators sign in, when it is not the one the server announces.
        issuer: Option<String>,
        auth: RemoteAuth,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub colour: String,
    #[serde(flatten)]
    pub target: Target,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    connections: Vec<Connection>,
}

/// The list, loaded from and saved to `path`.
pub struct Connections {
    path: PathBuf,
    list: Vec<Connection>,
}

pub fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AdminError::invalid_input(
            "a connection's name is 1 to 60 printable characters",
        ));
    }
    Ok(name.to_string())
}

pub fn check_colour(colour: &str) -> Result<String, AdminError> {
    if COLOURS.contains(&colour) {
        Ok(colour.to_string())
    } else {
        Err(AdminError::invalid_input(format!(
            "colour must be one of {}",
            COLOURS.join(", ")
        )))
    }
}

impl Connections {
    /// Reads the list; a missing file is an empty list. An unreadable one is set aside
    /// (renamed `.bad`) rather than lost or overwritten, and the list starts empty.
    pub fn load(path: &Path) -> Connections {
        let list = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<File>(&bytes) {
                Ok(f) => f.connections,
                Err(e) => {
                    let aside = path.with_extension("json.bad");
                    eprintln!(
                        "latchkey-desktop: {} is unreadable ({e}); kept as {}",
                        path.display(),
                        aside.display()
                    );
                    let _ = std::fs::rename(path, aside);
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        Connections {
            path: path.to_path_buf(),
            list,
        }
    }

    pub fn list(&self) -> &[Connection] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Connection> {
        self.list.iter().find(|c| c.id == id)
    }

    /// The saved connection for this target, if any (same file, or same server).
    pub fn find(&self, target: &Target) -> Option<&Connection> {
        self.list.iter().find(|c| same_place(&c.target, target))
    }

    /// Adds `c`, or replaces the one with its id.
    pub fn put(&mut self, c: Connection) -> Result<(), AdminError> {
        match self.list.iter_mut().find(|x| x.id == c.id) {
            Some(x) => *x = c,
            None => self.list.push(c),
        }
        self.save()
    }

    pub fn remove(&mut self, id: &str) -> Result<Option<Connection>, AdminError> {
        let Some(i) = self.list.iter().position(|c| c.id == id) else {
            return Ok(None);
        };
        let c = self.list.remove(i);
        self.save()?;
        Ok(Some(c))
    }

    fn save(&self) -> Result<(), AdminError> {
        let fail = |e: std::io::Error| {
            AdminError::new(
                ErrorCode::Unavailable,
                format!(
                    "cannot save the connections in {}: {e}",
                    self.path.display()
                ),
            )
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_vec_pretty(&File {
            connections: self.list.clone(),
        })
        .map_err(|e| {
            AdminError::new(
                ErrorCode::Internal,
                format!("cannot encode connections: {e}"),
            )
        })?;
        // Write beside, then rename: a crash mid-write leaves the old list whole.
        let tmp = self.path.with_extension("json.tmp");
        write_private(&tmp, &text).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

fn same_place(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (Target::Embedded { db_path: x }, Target::Embedded { db_path: y }) => x == y,
        (Target::Remote { server: x, .. }, Target::Remote { server: y, .. }) => {
            x.trim_end_matches('/') == y.trim_end_matches('/')
        }
        _ => false,
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(id: &str, server: &str) -> Connection {
        Connection {
            id: id.into(),
            name: "Production".into(),
            colour: "red".into(),
            target: Target::Remote {
                server: server.into(),
                issuer: None,
                auth: RemoteAuth::ApiKey,
            },
        }
    }

    #[test]
    fn the_list_survives_a_restart_and_holds_no_secret_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c").join("connections.json");
        let mut c = Connections::load(&path);
        c.put(remote("a", "https://id.example.com")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"auth\": \"api_key\""), "{text}");
        assert!(!text.contains("lk_"));
        let again = Connections::load(&path);
        assert_eq!(again.list(), c.list());
        assert!(again
            .find(&Target::Remote {
                server: "https://id.example.com/".into(),
                issuer: None,
                auth: RemoteAuth::Browser
            })
            .is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner can read the list");
        }
    }

    #[test]
    fn an_unreadable_list_is_set_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connections.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let mut c = Connections::load(&path);
        assert!(c.list().is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("connections.json.bad")).unwrap(),
            b"{ not json"
        );
        c.put(remote("b", "https://x.example")).unwrap();
        assert_eq!(Connections::load(&path).list().len(), 1);
    }

    #[test]
    fn names_and_colours_are_checked() {
        assert!(check_name("  Staging ").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a\u{0007}b").is_err());
        assert!(check_colour("red").is_ok());
        assert_eq!(check_colour("#f00").unwrap_err().code, "invalid_input");
    }
}
