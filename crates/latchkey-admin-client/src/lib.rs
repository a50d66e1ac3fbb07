//! `latchkey-admin-client`: the remote side of administration, for the CLI
//! (`latchkey admin --server …`) and the desktop console.
//!
//! Owns: [`Remote`], the [`AdminBackend`] over a running server's admin API
//! (`/admin/v1`, each operation's method and route read from the op table in
//! `latchkey_api_types::ops`); the administrator's sign-in ([`signin`]: discovery, device
//! flow, browser sign-in, refresh, revocation); the native-app code flow with its
//! loopback listener ([`loopback`], also the console's "Try it"); and the OS keyring
//! entries the CLI and the console share ([`keyring`]).
//!
//! Does not own: the [`AdminBackend`] trait, its errors or the embedded backend
//! (`latchkey-admin`), nor anything a server needs. It is a crate of its own so that
//! `latchkey serve` (and `latchkey-server`) link no keyring, no `oauth2` and no
//! streaming HTTP client: only the CLI (cargo feature `remote` of `latchkey`) and the
//! desktop shell depend on it.

pub mod dpop;
pub mod keyring;
pub mod loopback;
mod remote;
pub mod signin;

pub use latchkey_admin::{AdminBackend, AdminError, AdminResult, EventStream};
pub use remote::{OnRefresh, Remote};
pub use signin::{Credential, Secret, TokenSet};
