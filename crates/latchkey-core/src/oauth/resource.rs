//! Resource indicators (RFC 8707) for the one protected resource this server knows by
//! name: its own admin API.
//!
//! Decision: a token whose scopes include `latchkey:admin` or `latchkey:admin:read` is
//! audience-restricted to the admin API (`aud` = the admin API URL, RFC 8707 §2 /
//! RFC 9068 §3), whether or not the client sent `resource`; every other token keeps the
//! issuer as its audience. A `resource` parameter must name the admin API, else
//! `invalid_target` (§2: the server knows no other resource). So an admin token can
//! never be used at userinfo or at another server, and a plain token is refused by the
//! admin API (`latchkey-server`'s `admin::auth`).

use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::model::is_admin_scope;
use serde_json::{json, Value};

/// Compares two URLs as resource indicators: a trailing `/` on an empty path is no
/// difference (`https://a.example` and `https://a.example/` name the same resource).
pub fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl Provider {
    /// Sets the admin API's public URL (its resource indicator), once: the server knows
    /// it only after binding the admin listener.
    pub fn set_admin_api(&self, url: impl Into<String>) {
        let _ = self
            .admin_api
            .set(url.into().trim_end_matches('/').to_string());
    }

    /// The admin API's public URL, if this provider serves one.
    pub fn admin_api(&self) -> Option<&str> {
        self.admin_api.get().map(String::as_str)
    }

    /// RFC 8707 §2: checks a `resource` parameter (at /authorize, /token, or the device
    /// authorization endpoint). Absent is fine; present, it must be an absolute URI
    /// without a fragment naming the admin API.
    pub fn check_resource(&self, resource: Option<&str>) -> OAuthResult<()> {
        let Some(r) = resource else {
            return Ok(());
        };
        if r.contains('#') || !r.contains("://") {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment",
            ));
        }
        match self.admin_api() {
            Some(api) if same_resource(api, r) => Ok(()),
            _ => Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "the only resource this server issues tokens for is its admin API",
            )),
        }
    }

    /// The `aud` of an access token with these scopes: the admin API for admin tokens
    /// (when this provider serves one), the issuer otherwise.
    pub fn access_audience(&self, scopes: &[String]) -> Value {
        match self.admin_api() {
            Some(api) if scopes.iter().any(|s| is_admin_scope(s)) => json!(api),
            _ => json!(self.config.issuer),
        }
    }
}
