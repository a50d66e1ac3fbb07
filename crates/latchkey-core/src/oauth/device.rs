//! Device Authorization Grant, RFC 8628 §3.1–3.3 (the polling side is in `token`).

use super::client_auth::Presented;
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::crypto::{random_bytes, random_token, sha256};
use crate::model::*;
use serde_json::{json, Value};
use std::collections::HashMap;

/// §6.1: 20 consonants, no vowels (no words) and nothing easily confused; 8 of them
/// give 20^8 ≈ 2^34.6 codes.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

pub fn new_user_code() -> String {
    let bytes = random_bytes::<8>();
    let chars: String = bytes
        .iter()
        // 256 = 12·20 + 16: reject-free modulo has a tiny bias; acceptable for an
        // 8-character code that lives minutes and is rate-limited.
        .map(|b| USER_CODE_ALPHABET[(*b as usize) % 20] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Case-insensitive, ignores separators (§6.1). None if it cannot be a user code.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let n: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (n.len() == 8 && n.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(n)
}

impl Provider {
    /// §3.1–3.2.
    pub async fn device_authorization(
        &self,
        form: &HashMap<String, String>,
        presented: &Presented,
    ) -> OAuthResult<Value> {
        let auth = self
            .authenticate_client(form, presented, "device_authorization")
            .await?;
        let client = auth.client;
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the device authorization grant",
            ));
        }
        let scopes = parse_scope(form.get("scope").map(String::as_str).unwrap_or(""));
        if scopes.is_empty() {
            return Err(OAuthError::invalid_scope("scope is required"));
        }
        self.check_scopes(&client, &scopes).await?;
        // A user code is easy to phish ("enter this code to fix your account"): the
        // admin scopes go through the device flow only for the console itself.
        if super::authorize::asks_admin_scopes(&scopes) && client.id != CONSOLE_CLIENT_ID {
            return Err(OAuthError::invalid_scope(
                "the admin scopes are available in the device flow only to latchkey-console",
            ));
        }
        let resources = self
            .requested_targets(
                form.get("resource").map(String::as_str),
                form.get("audience").map(String::as_str),
            )
            .await?;
        let now = self.now();
        let device_code = random_token();
        let ttl = self.settings().await?.device_code_ttl;
        let user_code = new_user_code();
        let normalized = normalize_user_code(&user_code).unwrap_or_default();
        self.store
            .device_insert(&DeviceCode {
                hash: sha256(device_code.as_bytes()),
                user_code_hash: sha256(normalized.as_bytes()),
                client_id: client.id.clone(),
                scopes,
                status: DeviceStatus::Pending,
                user_id: None,
                sign_in_id: None,
                auth_time: None,
                interval: self.config.device_interval,
                last_polled_at: None,
                created_at: now,
                expires_at: now + ttl,
                session_id: None,
                resources,
            })
            .await?;
        let uri = self.config.endpoint("/device");
        Ok(json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "verification_uri_complete": format!("{uri}?user_code={user_code}"),
            "expires_in": ttl,
            "interval": self.config.device_interval,
        }))
    }

    /// A pending, unexpired device request and its client, for the verification page.
    pub async fn device_lookup(
        &self,
        user_code: &str,
    ) -> OAuthResult<Option<(DeviceCode, Client)>> {
        let Some(n) = normalize_user_code(user_code) else {
            return Ok(None);
        };
        let Some(dc) = self
            .store
            .device_by_user_code(&sha256(n.as_bytes()))
            .await?
        else {
            return Ok(None);
        };
        if dc.status != DeviceStatus::Pending || dc.expires_at <= self.now() {
            return Ok(None);
        }
        Ok(self.cached_client(&dc.client_id).await?.map(|c| (dc, c)))
    }

    /// The user's decision on the verification page (§3.3). False if the code is no
    /// longer pending.
    pub async fn device_decide(
        &self,
        user_code: &str,
        approve: bool,
        sign_in: &SignIn,
    ) -> OAuthResult<bool> {
        let Some(n) = normalize_user_code(user_code) else {
            return Ok(false);
        };
        Ok(self
            .store
            .device_decide(
                &sha256(n.as_bytes()),
                approve,
                &sign_in.user_id,
                Some(&sign_in.id),
                sign_in.auth_time,
                self.now(),
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_case_and_separator_insensitive() {
        let c = new_user_code();
        assert_eq!(c.len(), 9);
        let n = normalize_user_code(&c).unwrap();
        assert_eq!(normalize_user_code(&c.to_lowercase()).unwrap(), n);
        assert_eq!(normalize_user_code(&c.replace('-', " ")).unwrap(), n);
    }

    #[test]
    fn user_codes_never_contain_vowels_or_ambiguous_characters() {
        for _ in 0..200 {
            let c = new_user_code();
            assert!(!c.chars().any(|ch| "AEIOUY01".contains(ch)), "{c}");
        }
        assert!(normalize_user_code("ABCD-EFGH").is_none());
        assert!(normalize_user_code("BCDF-GHJ").is_none());
    }
}
