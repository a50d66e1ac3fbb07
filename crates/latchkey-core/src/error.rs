//! Typed errors of the core and of every store. The OAuth error type with the RFC codes
//! lives in `oauth::error`; this is what goes wrong underneath it.

/// What a store can report. Backends map their driver errors onto these so the engine
/// can tell "try again later" (503) from "your input clashes" (409/400) from a bug.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is locked, full, or unreachable right now; the caller may retry.
    #[error("storage temporarily unavailable")]
    Unavailable(String),
    /// A stored value does not parse (corrupt row, newer schema).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("storage error")]
    Other(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Errors of key handling and cryptography.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the key-encryption key cannot decrypt stored keys (wrong KEK?)")]
    Decrypt,
    #[error("key generation failed")]
    KeyGen,
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    #[error("signing failed")]
    Sign,
}
