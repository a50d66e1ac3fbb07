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

/// The values of a repeatable target parameter as the server's parser hands them on:
/// every occurrence, space-separated (a resource URI cannot hold a space, and the parser
/// refuses an audience that does). Empty values are refused by the caller.
pub fn target_values(v: Option<&str>) -> Vec<&str> {
    v.map(|v| v.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// RFC 8707 §2.2: the targets of a token request made on a grant (a code, a device
/// code, a refresh token) that named `granted` at authorization time. A request that
/// names none gets the grant's; one that names some may only narrow them
/// (`invalid_target` otherwise: a grant for one service cannot be redeemed for
/// another). A grant that named none keeps today's rule: any known target.
pub fn grant_targets(asked: &[String], granted: &[String]) -> OAuthResult<Vec<String>> {
    if granted.is_empty() {
        return Ok(asked.to_vec());
    }
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    if asked
        .iter()
        .all(|a| granted.iter().any(|g| same_resource(a, g)))
    {
        return Ok(asked.to_vec());
    }
    Err(OAuthError::new(
        ErrorCode::InvalidTarget,
        "the requested resource is not among those the grant was made for",
    ))
}

/// RFC 8707 §2 / RFC 8693 §2.1: the targets of a request, without repeats, in the
/// order asked. `resource` values must be absolute URIs without a fragment
/// (`invalid_target`); `resource` and `audience` together must name the same set
/// (`invalid_request`), so neither can smuggle in a target the other does not show.
pub fn parse_targets(resource: Option<&str>, audience: Option<&str>) -> OAuthResult<Vec<String>> {
    if resource.is_some_and(|r| r.trim().is_empty())
        || audience.is_some_and(|a| a.trim().is_empty())
    {
        return Err(OAuthError::invalid_request(
            "an empty audience is not allowed",
        ));
    }
    let resources = target_values(resource);
    let audiences = target_values(audience);
    if resources
        .iter()
        .any(|r| r.contains('#') || !r.contains("://"))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource must be an absolute URI without a fragment",
        ));
    }
    let covered =
        |from: &[&str], to: &[&str]| from.iter().all(|a| to.iter().any(|b| same_resource(a, b)));
    let agree = covered(&resources, &audiences) && covered(&audiences, &resources);
    if !resources.is_empty() && !audiences.is_empty() && !agree {
        return Err(OAuthError::invalid_request(
            "resource and audience name different targets",
        ));
    }
    let chosen = if resources.is_empty() {
        audiences
    } else {
        resources
    };
    let mut out: Vec<String> = Vec::with_capacity(chosen.len());
    for t in chosen {
        if !out.iter().any(|o| same_resource(o, t)) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

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

    /// RFC 8707 §2 and RFC 8693 §2.1: the audiences a request asks for, from its
    /// `resource` (absolute URIs without a fragment) and `audience` (logical names)
    /// parameters, at /authorize, /token and the device authorization endpoint. Both
    /// may be repeated; the server's parser hands each on as one space-separated value
    /// (see [`target_values`]). Absent is fine (empty); both present must name the same
    /// set; every value must be an audience this server knows, else `invalid_target`;
    /// the admin API never shares a token with another audience.
    pub async fn requested_targets(
        &self,
        resource: Option<&str>,
        audience: Option<&str>,
    ) -> OAuthResult<Vec<String>> {
        let targets = parse_targets(resource, audience)?;
        if targets.is_empty() {
            return Ok(targets);
        }
        let policies = self.enabled_exchange_policies().await?;
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            if self.is_admin_api(&target) {
                out.push(target.trim_end_matches('/').to_string());
                continue;
            }
            let known = policies.iter().any(|p| {
                p.requester_client_id == target
                    || p.targets.iter().any(|t| same_resource(t, &target))
            });
            if !known {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "the requested resource or audience is not known to this server",
                ));
            }
            out.push(target);
        }
        if out.len() > 1 && out.iter().any(|t| self.is_admin_api(t)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "the admin API cannot share a token with other audiences",
            ));
        }
        Ok(out)
    }

    /// Whether `target` is this server's admin API.
    pub fn is_admin_api(&self, target: &str) -> bool {
        self.admin_api()
            .is_some_and(|api| same_resource(api, target))
    }

    /// The access token's `aud` and scopes for a request that asked for `targets`
    /// (already checked by [`Self::requested_targets`]): none, or only the admin API,
    /// keeps today's rule ([`Self::access_audience`]); otherwise `aud` names them (a
    /// string for one, an array for several, RFC 7519 §4.1.3) and the token keeps only
    /// the scopes valid for every one of them (RFC 8707 §2.2): the admin scopes are
    /// valid only at the admin API, so they go.
    pub fn target_audience(&self, targets: &[String], scopes: &[String]) -> (Value, Vec<String>) {
        if targets.is_empty() || targets.iter().all(|t| self.is_admin_api(t)) {
            return (self.access_audience(scopes), scopes.to_vec());
        }
        let aud = match targets {
            [one] => json!(one),
            many => json!(many),
        };
        (
            aud,
            scopes
                .iter()
                .filter(|s| !is_admin_scope(s))
                .cloned()
                .collect(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_that_named_resources_gives_them_by_default_and_lets_a_request_only_narrow_them() {
        let granted = vec![
            "https://a.example".to_string(),
            "https://b.example".to_string(),
        ];
        assert_eq!(
            super::grant_targets(&[], &granted).ok(),
            Some(granted.clone())
        );
        let narrow = vec!["https://b.example/".to_string()];
        assert_eq!(super::grant_targets(&narrow, &granted).ok(), Some(narrow));
        let other = vec!["https://c.example".to_string()];
        assert_eq!(
            super::grant_targets(&other, &granted).map_err(|e| e.code),
            Err(ErrorCode::InvalidTarget)
        );
        // A grant that named nothing keeps the rule of the token request alone.
        assert_eq!(super::grant_targets(&other, &[]).ok(), Some(other));
        assert_eq!(super::grant_targets(&[], &[]).ok(), Some(vec![]));
    }

    #[test]
    fn several_targets_are_read_in_order_without_repeats_and_a_conflict_is_refused() {
        let t = parse_targets(
            Some("https://a.example/ https://b.example https://a.example"),
            None,
        )
        .expect("targets");
        assert_eq!(t, vec!["https://a.example/", "https://b.example"]);
        // audience and resource naming the same set, in another order: fine.
        let t = parse_targets(
            Some("https://a.example https://b.example"),
            Some("https://b.example/ https://a.example"),
        )
        .expect("same set");
        assert_eq!(t.len(), 2);
        // One more on either side is a conflict, not a union.
        let e = parse_targets(Some("https://a.example"), Some("https://a.example billing"))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = parse_targets(Some("https://a.example billing"), None).unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidTarget,
            "a resource must be an absolute URI"
        );
        assert!(parse_targets(None, None).expect("none").is_empty());
        assert_eq!(
            parse_targets(None, Some(" ")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
