//! Typed errors of the core and of every store. The OAuth error type with the RFC codes
//! lives in `oauth::error`; this is what goes wrong underneath it.

use latchkey_api_types::ErrorCode;

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

/// What an administrative operation can report. Each variant has a stable [`code`]
/// (`ManageError::code`) that every layer passes through unchanged; the message is for
/// humans and never carries a secret, a password or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Conflict(String),
    /// A built-in client or scope that cannot be deleted or disabled.
    #[error("{0}")]
    Builtin(String),
    #[error("storage is temporarily unavailable, try again ({0})")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ManageError {
    pub const NOT_FOUND: &'static str = ErrorCode::NotFound.as_str();
    pub const INVALID_INPUT: &'static str = ErrorCode::InvalidInput.as_str();
    pub const CONFLICT: &'static str = ErrorCode::Conflict.as_str();
    pub const BUILTIN: &'static str = ErrorCode::Builtin.as_str();
    pub const UNAVAILABLE: &'static str = ErrorCode::Unavailable.as_str();
    pub const INTERNAL: &'static str = ErrorCode::Internal.as_str();

    /// The wire code (`ApiErrorDto::code`); its HTTP status is `ErrorCode::http_status`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ManageError::NotFound(_) => ErrorCode::NotFound,
            ManageError::InvalidInput(_) => ErrorCode::InvalidInput,
            ManageError::Conflict(_) => ErrorCode::Conflict,
            ManageError::Builtin(_) => ErrorCode::Builtin,
            ManageError::Unavailable(_) => ErrorCode::Unavailable,
            ManageError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        ManageError::InvalidInput(msg.into())
    }
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        // The store's messages name operations and schema columns, never values, so
        // they are safe to show to an administrator.
        match e {
            StoreError::NotFound => ManageError::NotFound("not found".into()),
            StoreError::Conflict(m) => ManageError::Conflict(m),
            StoreError::Unavailable(m) => ManageError::Unavailable(m),
            StoreError::Corrupt(m) => {
                tracing::error!(target: "latchkey::manage", "corrupt store data: {m}");
                ManageError::Internal(format!("stored data is invalid: {m}"))
            }
            StoreError::Other(m) => {
                tracing::error!(target: "latchkey::manage", "store error: {m}");
                ManageError::Internal("internal storage error (see the log)".into())
            }
        }
    }
}

impl From<CryptoError> for ManageError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Decrypt => ManageError::Internal(
                "the key-encryption key cannot decrypt the stored signing keys; set \
                 LATCHKEY_KEK or LATCHKEY_KEK_FILE to the key this database was created with"
                    .into(),
            ),
            other => {
                tracing::error!(target: "latchkey::manage", "crypto error: {other}");
                ManageError::Internal(format!("cryptographic operation failed: {other}"))
            }
        }
    }
}

pub type ManageResult<T> = Result<T, ManageError>;

/// A value echoed back in an error message: control characters dropped, length bounded,
/// so a pasted blob cannot flood a terminal or a log.
pub(crate) fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}
