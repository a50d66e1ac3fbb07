//! Client authentication at the token, introspection, revocation and device endpoints:
//! RFC 6749 §2.3 (`client_secret_basic`, `client_secret_post`), RFC 7523 §3 and OIDC
//! Core §9 (`private_key_jwt`), and `none` for public clients.

use super::error::{OAuthError, OAuthResult};
use super::Provider;
use crate::crypto::{ct_eq, sha256};
use crate::jwt;
use crate::model::{AuthMethod, Client};
use serde_json::Value;
use std::collections::HashMap;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the request carried, before anything is checked.
#[derive(Debug, Default, Clone)]
pub struct Presented {
    /// From `Authorization: Basic` (already form-url-decoded per RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    pub ip: Option<String>,
    /// The `User-Agent` (truncated), for the detections only.
    pub user_agent: Option<String>,
    /// Every `DPoP` header value (RFC 9449 §4.3 wants exactly one; checked by
    /// `dpop::check_proof`). Never logged.
    pub dpop: Vec<String>,
    /// The `Origin` a browser sent (RFC 6454 §7): a web page's request authenticates
    /// only a client that lists that origin.
    pub origin: Option<String>,
}

/// The server's brute-force limiter for client credentials (HD-09, AD-40…), keyed
/// by the caller's address. Checking and counting are one step, so concurrent guesses
/// cannot all slip past the limit before any of them is counted.
pub trait FailureGate: Send + Sync {
    /// Under one lock: `Err(wait in seconds)` if `key` may not be tried now; otherwise
    /// runs `check` and counts a failure if it answers false.
    fn evaluate(&self, key: &str, check: &mut dyn FnMut() -> bool) -> Result<bool, u64>;
    /// Seconds to wait if `key` is blocked now.
    fn blocked(&self, key: &str) -> Option<u64>;
}

/// The description of the refusal when the limiter stopped a check: the server answers
/// it with 429 and `Retry-After` (RFC 6585 §4), not as an OAuth error.
pub const CLIENT_AUTH_THROTTLED: &str = "too many failed client authentications, retry later";

fn throttled() -> OAuthError {
    OAuthError::new(super::error::ErrorCode::SlowDown, CLIENT_AUTH_THROTTLED)
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
    pub method: AuthMethod,
}

/// The limiter's key for a request: its address.
fn gate_key(p: &Presented) -> Option<String> {
    p.ip.as_deref().map(|ip| format!("ip:{ip}"))
}

/// Compares against every live secret without short-circuiting (overlap window).
fn secret_matches(live: &[Vec<u8>], secret: &str) -> bool {
    let presented = sha256(secret.as_bytes());
    let mut ok = false;
    for h in live {
        ok |= ct_eq(&presented, h);
    }
    ok
}

impl Provider {
    /// Authenticates the calling client. Every failure is the same `invalid_client`
    /// (no hint whether the client exists), recorded as a security event.
    pub async fn authenticate_client(
        &self,
        form: &HashMap<String, String>,
        presented: &Presented,
        endpoint: &str,
    ) -> OAuthResult<Authenticated> {
        let body_secret = form.get("client_secret");
        let assertion = form.get("client_assertion");
        let assertion_type = form.get("client_assertion_type");
        let body_id = form.get("client_id");

        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        let methods = presented.basic.is_some() as u8
            + body_secret.is_some() as u8
            + assertion.is_some() as u8;
        if methods > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method used",
            ));
        }

        let (client_id, method) = if let Some((id, _)) = &presented.basic {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the credentials",
                ));
            }
            (id.clone(), AuthMethod::ClientSecretBasic)
        } else if let Some(a) = assertion {
            if assertion_type.map(String::as_str) != Some(JWT_BEARER_ASSERTION) {
                return Err(OAuthError::invalid_request(
                    "unsupported client_assertion_type",
                ));
            }
            // Unparseable, issuer-less or mismatched assertions are failed client
            // authentications like any other, and recorded as such.
            let claimed = body_id.map(String::as_str).unwrap_or("");
            let Some(iss) = jwt::parse(a)
                .ok()
                .and_then(|p| p.str_claim("iss").map(str::to_string))
            else {
                return Err(self.auth_failed(claimed, presented, endpoint).await);
            };
            if body_id.is_some_and(|b| *b != iss) {
                return Err(self.auth_failed(claimed, presented, endpoint).await);
            }
            (iss, AuthMethod::PrivateKeyJwt)
        } else if let Some(id) = body_id {
            let m = if body_secret.is_some() {
                AuthMethod::ClientSecretPost
            } else {
                AuthMethod::None
            };
            (id.clone(), m)
        } else {
            // No client identified at all: still a failed authentication.
            return Err(self.auth_failed("", presented, endpoint).await);
        };

        let client = match self.cached_client(&client_id).await? {
            Some(c) if !c.disabled => c,
            _ => {
                // Same work as a real comparison, so timing does not reveal existence:
                // the secrets lookup (it finds nothing) and a hash comparison (CA-02).
                let _ = self.cached_secrets(&client_id).await;
                let _ = ct_eq(&sha256(b"x"), &sha256(b"y"));
                return Err(self.auth_failed(&client_id, presented, endpoint).await);
            }
        };
        if client.auth_method != method {
            return Err(self.auth_failed(&client_id, presented, endpoint).await);
        }
        // Secrets are compared and the outcome counted in one step (under the
        // limiter's lock); the other methods are checked first and counted after.
        let (ok, counted) = match method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                let secret = if method == AuthMethod::ClientSecretBasic {
                    presented.basic.as_ref().map(|b| b.1.as_str()).unwrap_or("")
                } else {
                    body_secret.map(String::as_str).unwrap_or("")
                };
                let live = self.live_secret_hashes(&client).await?;
                let mut compare = || secret_matches(&live, secret);
                match (self.client_auth_gate(), gate_key(presented)) {
                    (Some(g), Some(k)) => {
                        (g.evaluate(&k, &mut compare).map_err(|_| throttled())?, true)
                    }
                    _ => (compare(), false),
                }
            }
            AuthMethod::PrivateKeyJwt => {
                if let (Some(g), Some(k)) = (self.client_auth_gate(), gate_key(presented)) {
                    if g.blocked(&k).is_some() {
                        return Err(throttled());
                    }
                }
                let a = assertion.map(String::as_str).unwrap_or("");
                (self.assertion_valid(&client, a, endpoint).await?, false)
            }
            AuthMethod::None => (client.is_public(), false),
        };
        if !ok {
            return Err(if counted {
                self.auth_failed_counted(&client_id, presented, endpoint)
                    .await
            } else {
                self.auth_failed(&client_id, presented, endpoint).await
            });
        }
        // CORS lets a page read the answer when its origin is any client's; the page
        // may act only for a client that names its origin (issue 15), so a site that
        // obtained another app's code cannot redeem it from its own pages.
        if let Some(origin) = &presented.origin {
            if !client.web_origins().iter().any(|o| o == origin) {
                return Err(OAuthError::invalid_request(
                    "the request's Origin is not one of this client's web origins",
                ));
            }
        }
        Ok(Authenticated { client, method })
    }

    /// A failed authentication not yet counted by the limiter: counted now (or refused
    /// unrecorded when the address is already blocked), then recorded.
    async fn auth_failed(&self, client_id: &str, p: &Presented, endpoint: &str) -> OAuthError {
        if let (Some(g), Some(k)) = (self.client_auth_gate(), gate_key(p)) {
            if g.evaluate(&k, &mut || false).is_err() {
                return throttled();
            }
        }
        self.auth_failed_counted(client_id, p, endpoint).await
    }

    async fn auth_failed_counted(
        &self,
        client_id: &str,
        p: &Presented,
        endpoint: &str,
    ) -> OAuthError {
        self.security_event(
            "anonymous",
            latchkey_api_types::SecurityFamily::ClientAuthFailed,
            Some(endpoint),
            Some(client_id),
            p.ip.as_deref(),
        )
        .await;
        OAuthError::invalid_client()
    }

    /// The hashes of the client's secrets live now (several during an overlap window).
    async fn live_secret_hashes(&self, client: &Client) -> OAuthResult<Vec<Vec<u8>>> {
        let now = self.now();
        Ok(self
            .cached_secrets(&client.id)
            .await?
            .into_iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .map(|s| s.hash)
            .collect())
    }

    /// RFC 7523 §3 checks, with the algorithm taken from the client's registered key.
    async fn assertion_valid(
        &self,
        client: &Client,
        assertion: &str,
        endpoint: &str,
    ) -> OAuthResult<bool> {
        let Ok(parsed) = jwt::parse(assertion) else {
            return Ok(false);
        };
        let keys = match (&client.jwks, &client.jwks_uri) {
            (Some(text), _) => serde_json::from_str::<Value>(text).ok(),
            (None, Some(uri)) => self.remote_jwks(uri, false).await,
            (None, None) => None,
        };
        let Some(keys) = keys else {
            return Ok(false);
        };
        match jwt::verify_with_jwks(&parsed, &keys) {
            Ok(_) => {}
            // OI-11: the client may have rotated its keys; look once more (rate-limited).
            Err(jwt::JwtError::UnknownKey) if client.jwks.is_none() => {
                let uri = client.jwks_uri.as_deref().unwrap_or_default();
                match self.remote_jwks(uri, true).await {
                    Some(fresh) if jwt::verify_with_jwks(&parsed, &fresh).is_ok() => {}
                    _ => return Ok(false),
                }
            }
            Err(_) => return Ok(false),
        }
        let now = self.now();
        let leeway = self.config.jwt_leeway;
        let c = &parsed.claims;
        let iss = parsed.str_claim("iss");
        let sub = parsed.str_claim("sub");
        if iss != Some(client.id.as_str()) || sub != Some(client.id.as_str()) {
            return Ok(false);
        }
        // aud: the issuer identifier as one string (RFC 7523bis / OIDC Core errata after
        // the 2025 audience-injection findings): an array or an endpoint URL lets an
        // assertion made for one server be replayed at another that shares an endpoint
        // name. Clients that cannot yet send that may be switched to the old rule
        // (`assertion_aud_compat`): the issuer or an endpoint URL, every listed one ours.
        if client.assertion_aud_compat {
            let ours = [
                self.config.issuer.clone(),
                self.config.endpoint("/token"),
                self.config.endpoint(&format!("/{endpoint}")),
            ];
            let auds: Vec<&str> = match c.get("aud") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if auds.is_empty() || !auds.iter().all(|a| ours.iter().any(|o| o == a)) {
                return Ok(false);
            }
        } else if c.get("aud").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Ok(false);
        }
        let Some(exp) = parsed.int_claim("exp") else {
            return Ok(false);
        };
        if exp <= now - leeway || exp > now + 3600 {
            return Ok(false);
        }
        if parsed
            .int_claim("nbf")
            .is_some_and(|nbf| nbf > now + leeway)
        {
            return Ok(false);
        }
        if parsed
            .int_claim("iat")
            .is_some_and(|iat| iat > now + leeway)
        {
            return Ok(false);
        }
        let Some(jti) = parsed.str_claim("jti") else {
            return Ok(false);
        };
        // Replay protection: each assertion is accepted once until it expires.
        let replay_key = format!("assertion:{}:{}", client.id, jti);
        if !self.store.jti_use(&replay_key, exp + leeway).await? {
            return Ok(false);
        }
        Ok(true)
    }
}
