//! Remote admin credentials in the OS keyring (the Secret Service on Linux: GNOME
//! Keyring, KWallet, KeePassXC), never in a file.
//!
//! Entries are named after the admin API's origin, so the CLI and the desktop console
//! share them: service `latchkey`, user `<origin>|admin` for a person's sign-in
//! ([`TokenSet`] as JSON) and `<origin>|api-key` for an admin API key.
//!
//! Owns: entry names, encoding, and the plain message when no keyring service runs.
//! Does not own: when to sign in or refresh (the callers).

use crate::signin::{check_transport, Secret, TokenSet};
use crate::AdminError;
use latchkey_api_types::ErrorCode;

const SERVICE: &str = "latchkey";

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A person's tokens from a sign-in.
    SignIn,
    /// An admin API key.
    ApiKey,
}

/// One keyring entry for one admin API.
pub struct Keyring {
    entry: keyring::Entry,
}

/// `scheme://host:port` of the admin API: the part that names whose credential it is.
pub fn origin(server: &str) -> Result<String, AdminError> {
    Ok(check_transport(server)?.origin().ascii_serialization())
}

fn keyring_error(e: keyring::Error) -> AdminError {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            AdminError::new(
                ErrorCode::Unavailable,
                format!(
                    "no OS keyring service is running ({inner}); start gnome-keyring, KWallet \
                     or KeePassXC, or use an admin API key"
                ),
            )
        }
        other => AdminError::new(
            ErrorCode::Unavailable,
            format!("the OS keyring failed: {other}"),
        ),
    }
}

impl Keyring {
    /// Opens the entry and checks that a keyring service answers, so a sign-in does not
    /// run its whole flow only to find nowhere to keep the result.
    pub fn open(server: &str, kind: EntryKind) -> Result<Keyring, AdminError> {
        let suffix = match kind {
            EntryKind::SignIn => "admin",
            EntryKind::ApiKey => "api-key",
        };
        let user = format!("{}|{suffix}", origin(server)?);
        let entry = keyring::Entry::new(SERVICE, &user).map_err(keyring_error)?;
        let k = Keyring { entry };
        k.get()?;
        Ok(k)
    }

    fn get(&self) -> Result<Option<String>, AdminError> {
        match self.entry.get_password() {
            Ok(text) => Ok(Some(text)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    pub fn load_tokens(&self) -> Result<Option<TokenSet>, AdminError> {
        match self.get()? {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|_| {
                AdminError::new(
                    ErrorCode::Unavailable,
                    "the keyring entry for this server is unreadable; sign out, then sign in",
                )
            }),
            None => Ok(None),
        }
    }

    /// Keeps what outlives the session: the refresh token and where to use it. The
    /// access token is left out when there is a refresh token (it is short-lived, and a
    /// JWT would crowd stores with small entries, such as Windows' ~2.5 KB); the loaded
    /// set is marked expired, so the first call refreshes it.
    pub fn save_tokens(&self, t: &TokenSet) -> Result<(), AdminError> {
        let kept = if t.refresh_token.is_some() {
            TokenSet {
                access_token: Secret::new(""),
                expires_at: Some(0),
                ..t.clone()
            }
        } else {
            t.clone()
        };
        let text = serde_json::to_string(&kept).map_err(|e| {
            AdminError::new(ErrorCode::Internal, format!("cannot encode tokens: {e}"))
        })?;
        self.entry.set_password(&text).map_err(keyring_error)
    }

    pub fn load_api_key(&self) -> Result<Option<Secret>, AdminError> {
        Ok(self.get()?.map(Secret::new))
    }

    pub fn save_api_key(&self, key: &Secret) -> Result<(), AdminError> {
        self.entry.set_password(key.expose()).map_err(keyring_error)
    }

    pub fn delete(&self) -> Result<(), AdminError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_named_after_the_admin_api_origin() {
        assert_eq!(
            origin("https://id.example.com/prefix/").unwrap(),
            "https://id.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8081").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert!(origin("http://id.example.com").is_err());
    }
}
