//! Resource indicators (RFC 8707) and the `audience` parameter (RFC 8693 §2.1).
//!
//! The audiences this server knows by name: its own admin API, and what its enabled
//! token-exchange policies name — the services allowed to exchange (their client ids,
//! the middle hop that receives a user's token) and the targets those exchanges are
//! for. Anything else is `invalid_target` (RFC 8707 §2: the server knows no such
//! resource); nothing defaults to the requester's own identity.
//!
//! Decision for the admin API: a token whose scopes include `latchkey:admin` or
//! `latchkey:admin:read` is audience-restricted to the admin API (`aud` = the admin API
//! URL, RFC 8707 §2 / RFC 9068 §3), whether or not the client sent `resource`; every
//! other token keeps the issuer as its audience unless the client asked for another
//! known audience. So an admin token can never be used at userinfo or at another
//! server, and a plain token is refused by the admin API (`latchkey-server`'s
//! `admin::auth`).
//!
//! "Only the scopes valid for them" (RFC 8707 §2.2): the admin scopes are valid only at
//! the admin API, so a token for any other audience never carries them.

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

    /// RFC 8707 §2 and RFC 8693 §2.1: the audience a request asks for, from its
    /// `resource` (an absolute URI without a fragment) and `audience` (a logical name)
    /// parameters, at /authorize, /token and the device authorization endpoint. Absent
    /// is fine (`None`); both present must agree; the value must be an audience this
    /// server knows, else `invalid_target`.
    pub async fn requested_target(
        &self,
        resource: Option<&str>,
        audience: Option<&str>,
    ) -> OAuthResult<Option<String>> {
        let target = match (resource, audience) {
            (None, None) => return Ok(None),
            (Some(r), Some(a)) if !same_resource(r, a) => {
                return Err(OAuthError::invalid_request(
                    "resource and audience name different targets",
                ))
            }
            (Some(r), _) => {
                if r.contains('#') || !r.contains("://") {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidTarget,
                        "resource must be an absolute URI without a fragment",
                    ));
                }
                r
            }
            (None, Some(a)) => a,
        };
        if target.is_empty() {
            return Err(OAuthError::invalid_request(
                "an empty audience is not allowed",
            ));
        }
        if self
            .admin_api()
            .is_some_and(|api| same_resource(api, target))
        {
            return Ok(Some(target.trim_end_matches('/').to_string()));
        }
        let known = self.enabled_exchange_policies().await?.iter().any(|p| {
            p.requester_client_id == target || p.targets.iter().any(|t| same_resource(t, target))
        });
        if !known {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "the requested resource or audience is not known to this server",
            ));
        }
        Ok(Some(target.to_string()))
    }

    /// Whether `target` is this server's admin API.
    pub fn is_admin_api(&self, target: &str) -> bool {
        self.admin_api()
            .is_some_and(|api| same_resource(api, target))
    }

    /// The access token's `aud` and scopes for a request that asked for `target`: the
    /// admin API keeps today's rule ([`Self::access_audience`]); another audience gets
    /// the token with the admin scopes removed (they are valid only at the admin API).
    pub fn target_audience(&self, target: Option<&str>, scopes: &[String]) -> (Value, Vec<String>) {
        match target {
            Some(t) if !self.is_admin_api(t) => (
                json!(t),
                scopes
                    .iter()
                    .filter(|s| !is_admin_scope(s))
                    .cloned()
                    .collect(),
            ),
            _ => (self.access_audience(scopes), scopes.to_vec()),
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
