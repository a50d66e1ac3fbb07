//! The OAuth error type: RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
//! RFC 8628 §3.5, OIDC Core §3.1.2.6, RFC 9449 §5 and §8 (DPoP). The server maps it to status codes and headers.

use crate::error::StoreError;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidToken,
    InsufficientScope,
    /// RFC 8707 §2.
    InvalidTarget,
    /// A `request_uri` that is unknown, expired, spent or another client's (RFC 9126
    /// §4 by way of RFC 9101 §7 / OIDC Core §3.1.2.6).
    InvalidRequestUri,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidSoftwareStatement,
    /// RFC 9449 §5: the DPoP proof is missing where required, or fails a check of §4.3.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the server's nonce (sent in `DPoP-Nonce`).
    UseDpopNonce,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            UnsupportedTokenType => "unsupported_token_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            ExpiredToken => "expired_token",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            InvalidTarget => "invalid_target",
            InvalidRequestUri => "invalid_request_uri",
            InvalidRedirectUri => "invalid_redirect_uri",
            InvalidClientMetadata => "invalid_client_metadata",
            InvalidSoftwareStatement => "invalid_software_statement",
            InvalidDpopProof => "invalid_dpop_proof",
            UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status of a JSON error response with this code: 401 for client
    /// authentication (RFC 6749 §5.2), 500/503 for the server's own failures, 400 for
    /// the rest. The one mapping; the server adds the headers each code calls for.
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error with an optional description. Descriptions are fixed strings written
/// here, restricted to the RFC 6749 §5.2 character set, never user input or internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Option<Cow<'static, str>>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: &'static str) -> Self {
        Self {
            code,
            description: Some(Cow::Borrowed(description)),
        }
    }
    pub fn bare(code: ErrorCode) -> Self {
        Self {
            code,
            description: None,
        }
    }
    pub fn invalid_request(d: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }
    pub fn invalid_grant(d: &'static str) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: &'static str) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "internal error")
    }
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the server is temporarily unable to handle the request",
        )
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        // The detail goes to the log, not to the client (HD-04).
        if e.is_unavailable() {
            tracing::warn!(error = ?e, "store unavailable");
            OAuthError::unavailable()
        } else {
            tracing::error!(error = ?e, "store error");
            OAuthError::server_error()
        }
    }
}

impl From<crate::error::CryptoError> for OAuthError {
    fn from(e: crate::error::CryptoError) -> Self {
        tracing::error!(error = %e, "crypto error");
        OAuthError::server_error()
    }
}

impl From<crate::jwt::JwtError> for OAuthError {
    fn from(e: crate::jwt::JwtError) -> Self {
        tracing::error!(error = %e, "jwt error");
        OAuthError::server_error()
    }
}

pub type OAuthResult<T> = Result<T, OAuthError>;
