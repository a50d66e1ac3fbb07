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
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client: Client,
    pub method: AuthMethod,
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
        let ok = match method {
            AuthMethod::ClientSecretBasic => {
                let secret = presented.basic.as_ref().map(|b| b.1.as_str()).unwrap_or("");
                self.secret_matches(&client, secret).await?
            }
            AuthMethod::ClientSecretPost => {
                let secret = body_secret.map(String::as_str).unwrap_or("");
                self.secret_matches(&client, secret).await?
            }
            AuthMethod::PrivateKeyJwt => {
                let a = assertion.map(String::as_str).unwrap_or("");
                self.assertion_valid(&client, a, endpoint).await?
            }
            AuthMethod::None => client.is_public(),
        };
        if !ok {
            return Err(self.auth_failed(&client_id, presented, endpoint).await);
        }
        Ok(Authenticated { client, method })
    }

    async fn auth_failed(&self, client_id: &str, p: &Presented, endpoint: &str) -> OAuthError {
        self.security_event(
            "anonymous",
            &format!("security.client_auth_failed.{endpoint}"),
            Some(client_id),
            p.ip.as_deref(),
        )
        .await;
        OAuthError::invalid_client()
    }

    async fn secret_matches(&self, client: &Client, secret: &str) -> OAuthResult<bool> {
        let presented = sha256(secret.as_bytes());
        let now = self.now();
        let mut ok = false;
        // Compare against every live secret without short-circuiting (overlap window).
        for s in self.cached_secrets(&client.id).await? {
            if s.expires_at.is_none_or(|e| e > now) {
                ok |= ct_eq(&presented, &s.hash);
            }
        }
        Ok(ok)
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
