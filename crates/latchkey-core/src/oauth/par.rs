//! Pushed authorization requests, RFC 9126: the client sends its authorization request
//! over the back channel first (§2), authenticated as at the token endpoint, and sends
//! the browser to `/authorize` with only `client_id` and the `request_uri` it got (§4).
//!
//! Owns: the push (validation as at `/authorize`, the `request_uri`, its storage) and
//! the pull (finding a pushed request again for `/authorize`). Spending it is the
//! authorization's completion (`Provider::issue_code`, or a denial), one conditional
//! `UPDATE` in the store, so a `request_uri` yields one code across every node.
//!
//! Deliberately not here: request objects (`request`, RFC 9101) — refused at push and at
//! `/authorize` alike; unregistered redirect URIs from authenticated clients (§2.4 allows
//! them; Latchkey keeps exact matching, BCP-01).

use super::authorize::{AuthorizeError, AuthzRequest, Via};
use super::client_auth::Presented;
use super::dpop::ProofInput;
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::crypto::{random_token, sha256};
use crate::model::Client;
use crate::store::PushedRequest;
use serde::Serialize;
use std::collections::HashMap;

/// RFC 9126 §2.2: the URN prefix of every `request_uri` this server hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The client-authentication members of a push: checked, never stored with the
/// request (a secret or an assertion does not belong in the pushed request's row).
const CLIENT_AUTH_PARAMS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// §2.2: the 201 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

/// The stored hash of a `request_uri` (of its random part), or None if it is not one of
/// ours.
pub fn request_uri_hash(request_uri: &str) -> Option<Vec<u8>> {
    let random = request_uri.strip_prefix(REQUEST_URI_PREFIX)?;
    if random.is_empty() || random.len() > 128 {
        return None;
    }
    Some(sha256(random.as_bytes()))
}

/// A push refused for something `/authorize` would tell through the redirect or an
/// error page: at the PAR endpoint every refusal is a JSON error (§2.3).
fn as_oauth(e: AuthorizeError) -> OAuthError {
    match e {
        AuthorizeError::Page(msg) => OAuthError::invalid_request(msg),
        AuthorizeError::Redirect { error, .. } => error,
        AuthorizeError::Unavailable => OAuthError::unavailable(),
    }
}

fn invalid_request_uri() -> AuthorizeError {
    AuthorizeError::Page(
        "The request_uri is unknown, expired, already used or another application's.",
    )
}

impl Provider {
    /// RFC 9126 §2.1: authenticates the client as the token endpoint does, validates the
    /// request as `/authorize` would, stores it and answers the `request_uri`.
    /// `duplicated` as for `authorize_validate`.
    pub async fn push_authorization_request(
        &self,
        form: &HashMap<String, String>,
        duplicated: &[String],
        presented: &Presented,
    ) -> OAuthResult<PushedResponse> {
        // The PAR endpoint is an endpoint of this issuer like the token endpoint; a
        // client assertion's audience rules are the same (`"par"` names its URL).
        let auth = self.authenticate_client(form, presented, "par").await?;
        let client = auth.client;
        // §2.1: a request_uri inside a push is refused (it would nest requests).
        if form.contains_key("request_uri") {
            return Err(OAuthError::invalid_request(
                "request_uri is not allowed in a pushed authorization request",
            ));
        }
        let mut params: HashMap<String, String> = form
            .iter()
            .filter(|(k, _)| !CLIENT_AUTH_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // §2.1: the client_id of the body, if any, names the authenticated client.
        match params.get("client_id") {
            Some(id) if id != &client.id => {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the authenticated client",
                ))
            }
            Some(_) => {}
            None => {
                params.insert("client_id".to_string(), client.id.clone());
            }
        }
        // RFC 9449 §10.1: a DPoP header at the push binds the code as `dpop_jkt` does;
        // with both, they must name the same key. Checked after client authentication,
        // so an unauthenticated push never writes a jti.
        if !presented.dpop.is_empty() {
            let proof = self
                .dpop_proof(&ProofInput {
                    headers: &presented.dpop,
                    method: "POST",
                    url: &self.config.endpoint("/par"),
                    access_token: None,
                })
                .await?;
            if let Some(p) = proof {
                match params.get("dpop_jkt") {
                    Some(j) if j != &p.jkt => {
                        return Err(OAuthError::new(
                            ErrorCode::InvalidDpopProof,
                            "dpop_jkt does not match the key of the DPoP proof",
                        ))
                    }
                    Some(_) => {}
                    None => {
                        params.insert("dpop_jkt".to_string(), p.jkt);
                    }
                }
            }
        }
        let (_req, validated) = self
            .validate_params(&params, duplicated, Via::Push)
            .await
            .map_err(as_oauth)?;
        if validated.id != client.id {
            return Err(OAuthError::invalid_request(
                "client_id does not match the authenticated client",
            ));
        }
        let now = self.now();
        let random = random_token();
        let stored = serde_json::to_string(&params).map_err(|_| OAuthError::server_error())?;
        self.store
            .pushed_request_insert(&PushedRequest {
                hash: sha256(random.as_bytes()),
                client_id: client.id.clone(),
                params: stored,
                created_at: now,
                expires_at: now + self.config.par_ttl,
                consumed_at: None,
            })
            .await?;
        Ok(PushedResponse {
            request_uri: format!("{REQUEST_URI_PREFIX}{random}"),
            expires_in: self.config.par_ttl,
        })
    }

    /// RFC 9126 §4: `/authorize` with a `request_uri`. Only the pushed parameters count;
    /// the `client_id` sent beside it must be the pusher's. Not spent here: viewing the
    /// login or consent page again (a reload, a back button) works until the
    /// authorization completes (FAPI 2.0 Security Profile §5.3.2.2 note 3).
    pub(crate) async fn pushed_authorize_validate(
        &self,
        params: &HashMap<String, String>,
        duplicated: &[String],
    ) -> Result<(AuthzRequest, Client), AuthorizeError> {
        if duplicated
            .iter()
            .any(|d| d == "client_id" || d == "request_uri")
        {
            return Err(AuthorizeError::Page(
                "The request repeats client_id or request_uri.",
            ));
        }
        let Some(client_id) = params.get("client_id").filter(|c| !c.is_empty()) else {
            return Err(AuthorizeError::Page("The request has no client_id."));
        };
        let Some(hash) = params.get("request_uri").and_then(|u| request_uri_hash(u)) else {
            return Err(invalid_request_uri());
        };
        let pushed = match self.store.pushed_request_get(&hash).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(invalid_request_uri()),
            Err(e) if e.is_unavailable() => return Err(AuthorizeError::Unavailable),
            Err(e) => {
                tracing::error!(error = ?e, "pushed request lookup failed");
                return Err(AuthorizeError::Unavailable);
            }
        };
        // One answer for every reason, so the page is no oracle for another client's
        // request_uri.
        if &pushed.client_id != client_id
            || pushed.consumed_at.is_some()
            || pushed.expires_at <= self.now()
        {
            return Err(invalid_request_uri());
        }
        let Ok(stored) = serde_json::from_str::<HashMap<String, String>>(&pushed.params) else {
            return Err(invalid_request_uri());
        };
        // Validated again: the client or its scopes may have changed since the push.
        self.validate_params(&stored, &[], Via::Pulled(hash)).await
    }

    /// Spends a pushed request whose authorization ended without a code (the user
    /// denied). Whether it was still unspent does not change the answer.
    pub async fn spend_pushed(&self, req: &AuthzRequest) -> OAuthResult<()> {
        if let Some(hash) = &req.pushed {
            self.store
                .pushed_request_consume(hash, &req.client_id, self.now())
                .await?;
        }
        Ok(())
    }
}
