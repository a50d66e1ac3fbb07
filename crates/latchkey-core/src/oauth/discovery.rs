//! OpenID Provider metadata (OIDC Discovery §3) and RFC 8414 authorization server
//! metadata. One document serves both; only what is implemented is advertised.

use super::Provider;
use serde_json::{json, Value};

impl Provider {
    pub fn discovery(&self) -> Value {
        let e = |p: &str| self.config.endpoint(p);
        let mut doc = json!({
            "issuer": self.config.issuer,
            "authorization_endpoint": e("/authorize"),
            "token_endpoint": e("/token"),
            "userinfo_endpoint": e("/userinfo"),
            "jwks_uri": e("/jwks"),
            "introspection_endpoint": e("/introspect"),
            "revocation_endpoint": e("/revoke"),
            "device_authorization_endpoint": e("/device_authorization"),
            "end_session_endpoint": e("/logout"),
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                super::exchange::GRANT_TYPE
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.config.id_token_alg.as_str()],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid",
                "name", "preferred_username", "email", "email_verified", "updated_at"
            ],
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "pushed_authorization_request_endpoint": e("/par"),
            "require_pushed_authorization_requests":
                self.config.require_pushed_authorization_requests,
            "dpop_signing_alg_values_supported": super::dpop::SIGNING_ALGS
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
        });
        // Latchkey's own member (RFC 8414 §2 allows additional ones): where the admin
        // API lives, so a sign-in client sends an admin token only to an admin API the
        // issuer vouches for, never to whatever URL named this issuer. It is also the
        // RFC 8707 resource indicator of admin tokens.
        if self.config.registration {
            doc["registration_endpoint"] = json!(e("/register"));
        }
        if let Some(api) = self.admin_api() {
            doc["latchkey_admin_api"] = json!(api);
        }
        doc
    }
}
