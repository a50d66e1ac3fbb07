//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! Owns: the wire protocol — the initial access token (RFC 7591 §3, a bearer token an
//! administrator made, `manage::registration_tokens`), client metadata in and out
//! (§2, §3.2.1), the errors of §3.2.2, and the registration access token that reads,
//! replaces and deletes a registration (RFC 7592 §2). The client itself is made, checked
//! and audited by the admin operations (`Manager::client_register`, `client_update`,
//! `client_delete`), so a registered client meets exactly the rules an administrator's
//! does.
//!
//! Deliberately not here: open registration without a token, software statements (a
//! `software_statement` is refused, §3.2.2 `invalid_software_statement`), secret or
//! registration-access-token rotation on update (RFC 7592 §2.2 allows keeping them).

use super::error::{ErrorCode, OAuthError};
use super::Provider;
use crate::crypto::{random_token, sha256};
use crate::error::ManageError;
use crate::manage::{validate_redirect_uri, ClientUpdate, Manager, NewClient};
use crate::model::*;
use serde_json::{json, Map, Value};

/// Registration access tokens start with this, so one in a log or a paste is
/// recognisable.
pub const REGISTRATION_ACCESS_TOKEN_PREFIX: &str = "lkrat_";

/// Why a registration request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationError {
    /// No usable initial or registration access token: 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1, RFC 7592 §2).
    InvalidToken,
    /// 400 with an RFC 7591 §3.2.2 (or RFC 6749 `invalid_request`) error.
    Invalid(OAuthError),
    /// Storage trouble: 503.
    Unavailable,
}

impl From<crate::error::StoreError> for RegistrationError {
    fn from(e: crate::error::StoreError) -> Self {
        if !e.is_unavailable() {
            tracing::error!(error = ?e, "registration storage error");
        }
        RegistrationError::Unavailable
    }
}

fn metadata_error(d: &'static str) -> RegistrationError {
    RegistrationError::Invalid(OAuthError::new(ErrorCode::InvalidClientMetadata, d))
}

fn redirect_error() -> RegistrationError {
    RegistrationError::Invalid(OAuthError::new(
        ErrorCode::InvalidRedirectUri,
        "a redirect URI is not acceptable: https, or http on 127.0.0.1 or [::1], or a \
         reverse-domain private scheme; no fragment, no response parameters",
    ))
}

/// An admin-rule refusal of the metadata. The message (which may quote the input) goes
/// to the log at debug level, not to the caller; the caller gets a fixed description.
fn from_manage(e: ManageError) -> RegistrationError {
    match e {
        ManageError::InvalidInput(m) => {
            tracing::debug!(reason = %m, "registration metadata refused");
            if m.contains("initial access token") {
                metadata_error("the metadata asks for more than the initial access token allows")
            } else if m.contains("redirect URI") {
                redirect_error()
            } else {
                metadata_error("the client metadata is not acceptable")
            }
        }
        ManageError::Unavailable(_) => RegistrationError::Unavailable,
        ManageError::NotFound(_) => RegistrationError::InvalidToken,
        other => {
            tracing::error!(error = %other, "registration failed");
            RegistrationError::Unavailable
        }
    }
}

/// The client metadata of RFC 7591 §2 that Latchkey reads, from a request body.
/// Members it does not know are ignored (§2: "the authorization server MUST ignore
/// any client metadata sent by the client that it does not understand"), and so are
/// `client_id`/`client_secret` (the server assigns them).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Metadata {
    name: String,
    auth_method: AuthMethod,
    grant_types: Vec<GrantType>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    scopes: Option<Vec<String>>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    require_par: bool,
}

fn strings(v: Option<&Value>) -> Result<Option<Vec<String>>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or(()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(()),
    }
}

fn opt_str(v: Option<&Value>) -> Result<Option<String>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

impl Metadata {
    fn parse(body: &Value, id_token_alg: Alg) -> Result<Metadata, RegistrationError> {
        let Some(m) = body.as_object() else {
            return Err(metadata_error("the request body must be a JSON object"));
        };
        let get = |k: &str| m.get(k);
        if get("software_statement").is_some() {
            return Err(RegistrationError::Invalid(OAuthError::new(
                ErrorCode::InvalidSoftwareStatement,
                "software statements are not accepted by this server",
            )));
        }
        let redirect_uris = strings(get("redirect_uris"))
            .map_err(|_| redirect_error())?
            .unwrap_or_default();
        let post_logout_redirect_uris = strings(get("post_logout_redirect_uris"))
            .map_err(|_| redirect_error())?
            .unwrap_or_default();
        for u in redirect_uris.iter().chain(&post_logout_redirect_uris) {
            validate_redirect_uri(u).map_err(|_| redirect_error())?;
        }
        let auth_method = match opt_str(get("token_endpoint_auth_method")) {
            Err(()) => {
                return Err(metadata_error(
                    "token_endpoint_auth_method must be a string",
                ))
            }
            Ok(None) => AuthMethod::ClientSecretBasic,
            Ok(Some(s)) => s
                .parse()
                .map_err(|_| metadata_error("unsupported token_endpoint_auth_method"))?,
        };
        let grant_types = match strings(get("grant_types")) {
            Err(()) => return Err(metadata_error("grant_types must be a list of strings")),
            // §2: the default is authorization_code.
            Ok(None) => vec![GrantType::AuthorizationCode],
            Ok(Some(list)) => list
                .iter()
                .map(|g| g.parse::<GrantType>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| metadata_error("unsupported grant type"))?,
        };
        // §2: response_types defaults to ["code"] and must agree with grant_types
        // (§2.1); only the code response type exists here.
        match strings(get("response_types")) {
            Err(()) => return Err(metadata_error("response_types must be a list of strings")),
            Ok(None) => {}
            Ok(Some(list)) => {
                if list.iter().any(|r| r != "code") {
                    return Err(metadata_error("only the code response type is supported"));
                }
                if list.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
                    return Err(metadata_error(
                        "the authorization_code grant needs the code response type",
                    ));
                }
            }
        }
        // OIDC Registration §2, RFC 8725 §3.1: ID tokens are signed with the server's
        // asymmetric algorithm, never `none` nor an HMAC.
        match opt_str(get("id_token_signed_response_alg")) {
            Ok(None) => {}
            Ok(Some(a)) if a == id_token_alg.as_str() => {}
            _ => {
                return Err(metadata_error(
                    "id_token_signed_response_alg must be the server's ID token algorithm",
                ))
            }
        }
        let scopes = match get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_scope(s)),
            Some(_) => return Err(metadata_error("scope must be a space-separated string")),
        };
        let name = match opt_str(get("client_name")) {
            Err(()) => return Err(metadata_error("client_name must be a string")),
            Ok(n) => n.unwrap_or_else(|| "Registered client".to_string()),
        };
        let jwks = match get("jwks") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => return Err(metadata_error("jwks must be a JWK Set object")),
        };
        let jwks_uri =
            opt_str(get("jwks_uri")).map_err(|_| metadata_error("jwks_uri must be a string"))?;
        let require_par = match get("require_pushed_authorization_requests") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(metadata_error(
                    "require_pushed_authorization_requests must be a boolean",
                ))
            }
        };
        Ok(Metadata {
            name,
            auth_method,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            jwks,
            jwks_uri,
            require_par,
        })
    }

    fn client_type(&self) -> ClientType {
        if self.auth_method == AuthMethod::None {
            ClientType::Public
        } else {
            ClientType::Confidential
        }
    }
}

/// The client's metadata as the server holds it (RFC 7591 §3.2.1: the effective
/// values, whatever was asked).
fn client_metadata(p: &Provider, c: &Client) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("client_id".into(), json!(c.id));
    m.insert("client_id_issued_at".into(), json!(c.created_at));
    m.insert("client_name".into(), json!(c.name));
    m.insert(
        "token_endpoint_auth_method".into(),
        json!(c.auth_method.as_str()),
    );
    m.insert(
        "grant_types".into(),
        json!(c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
    );
    let response_types: Vec<&str> = if c.allows_grant(GrantType::AuthorizationCode) {
        vec!["code"]
    } else {
        vec![]
    };
    m.insert("response_types".into(), json!(response_types));
    m.insert("redirect_uris".into(), json!(c.redirect_uris));
    if !c.post_logout_redirect_uris.is_empty() {
        m.insert(
            "post_logout_redirect_uris".into(),
            json!(c.post_logout_redirect_uris),
        );
    }
    m.insert("scope".into(), json!(c.allowed_scopes.join(" ")));
    if let Some(j) = c.jwks.as_deref() {
        if let Ok(v) = serde_json::from_str::<Value>(j) {
            m.insert("jwks".into(), v);
        }
    }
    if let Some(u) = &c.jwks_uri {
        m.insert("jwks_uri".into(), json!(u));
    }
    m.insert(
        "id_token_signed_response_alg".into(),
        json!(p.config.id_token_alg.as_str()),
    );
    m.insert(
        "require_pushed_authorization_requests".into(),
        json!(c.require_pushed_authorization_requests),
    );
    m.insert(
        "registration_client_uri".into(),
        json!(p.config.endpoint(&format!("/register/{}", c.id))),
    );
    m
}

impl Provider {
    /// RFC 7591 §3.1: registers a client with initial access token `bearer`. The answer
    /// (§3.2.1, 201) carries the client's secret and its registration access token,
    /// the only time either exists in plaintext.
    pub async fn register_client(
        &self,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<Value, RegistrationError> {
        let Some(bearer) = bearer.filter(|b| !b.is_empty()) else {
            return Err(RegistrationError::InvalidToken);
        };
        let token = match self
            .store
            .registration_token_by_hash(&sha256(bearer.as_bytes()))
            .await?
        {
            Some(t) if t.usable_at(self.now()) => t,
            _ => return Err(RegistrationError::InvalidToken),
        };
        let md = Metadata::parse(body, self.config.id_token_alg)?;
        let input = NewClient {
            name: md.name.clone(),
            client_type: Some(md.client_type()),
            auth_method: Some(md.auth_method),
            grant_types: md.grant_types.clone(),
            redirect_uris: md.redirect_uris.clone(),
            post_logout_redirect_uris: md.post_logout_redirect_uris.clone(),
            // Without `scope`, everything the token allows (§2: the server picks).
            allowed_scopes: md
                .scopes
                .clone()
                .unwrap_or_else(|| token.policy.scopes.clone()),
            jwks: md.jwks.clone(),
            jwks_uri: md.jwks_uri.clone(),
            require_pushed_authorization_requests: Some(md.require_par),
            ..Default::default()
        };
        let rat = format!("{REGISTRATION_ACCESS_TOKEN_PREFIX}{}", random_token());
        let created = self
            .manager()
            .client_register(&token, input, sha256(rat.as_bytes()))
            .await
            .map_err(from_manage)?
            .ok_or(RegistrationError::InvalidToken)?;
        let mut m = client_metadata(self, &created.client);
        if let Some(s) = created.secret {
            m.insert("client_secret".into(), json!(s.expose()));
            // §3.2.1: 0 = the secret does not expire.
            m.insert("client_secret_expires_at".into(), json!(0));
        }
        m.insert("registration_access_token".into(), json!(rat));
        Ok(Value::Object(m))
    }

    /// The registration behind registration access token `bearer`, if it is the one of
    /// `client_id` (RFC 7592 §2: another client's token is as good as none).
    async fn registration_of(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<(ClientRegistration, Client), RegistrationError> {
        let Some(bearer) = bearer.filter(|b| !b.is_empty()) else {
            return Err(RegistrationError::InvalidToken);
        };
        let reg = match self
            .store
            .client_registration_by_rat(&sha256(bearer.as_bytes()))
            .await?
        {
            Some(r) if r.client_id == client_id => r,
            _ => return Err(RegistrationError::InvalidToken),
        };
        match self.store.client_get(client_id).await? {
            Some(c) => Ok((reg, c)),
            None => Err(RegistrationError::InvalidToken),
        }
    }

    /// RFC 7592 §2.1: the client's current metadata.
    pub async fn registration_read(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<Value, RegistrationError> {
        let (_, client) = self.registration_of(client_id, bearer).await?;
        let mut m = client_metadata(self, &client);
        // §3: the answer names the token to use next; it is unchanged (no rotation).
        m.insert(
            "registration_access_token".into(),
            json!(bearer.unwrap_or_default()),
        );
        Ok(Value::Object(m))
    }

    /// RFC 7592 §2.2: replaces the client's metadata (fields left out take their
    /// defaults), held to the policy of the token it was registered with.
    pub async fn registration_update(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<Value, RegistrationError> {
        let (reg, client) = self.registration_of(client_id, bearer).await?;
        // §2.2: the body names the client, and a secret in it must be the current one.
        if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
            return Err(RegistrationError::Invalid(OAuthError::invalid_request(
                "client_id must be the registered client's",
            )));
        }
        if let Some(s) = body.get("client_secret") {
            let presented = s.as_str().map(|s| sha256(s.as_bytes()));
            let now = self.now();
            let live = self.store.client_secrets(client_id).await?;
            let matches = presented.is_some_and(|p| {
                live.iter().any(|l| {
                    l.expires_at.is_none_or(|e| e > now) && crate::crypto::ct_eq(&l.hash, &p)
                })
            });
            if !matches {
                return Err(RegistrationError::Invalid(OAuthError::invalid_request(
                    "client_secret is not the client's current secret",
                )));
            }
        }
        let md = Metadata::parse(body, self.config.id_token_alg)?;
        if md.client_type() != client.client_type {
            return Err(metadata_error(
                "token_endpoint_auth_method cannot turn a confidential client into a public one \
                 or back; register a new client",
            ));
        }
        let scopes = md
            .scopes
            .clone()
            .unwrap_or_else(|| reg.policy.scopes.clone());
        let mut replaced = client.clone();
        replaced.grant_types = md.grant_types.clone();
        replaced.allowed_scopes = scopes.clone();
        replaced.redirect_uris = md.redirect_uris.clone();
        replaced.post_logout_redirect_uris = md.post_logout_redirect_uris.clone();
        Manager::check_registration_policy(&reg.policy, &replaced).map_err(from_manage)?;
        let updated = self
            .manager()
            .client_update(
                &format!("registration:{client_id}"),
                client_id,
                ClientUpdate {
                    name: Some(md.name),
                    auth_method: Some(md.auth_method),
                    grant_types: Some(md.grant_types),
                    redirect_uris: Some(md.redirect_uris),
                    post_logout_redirect_uris: Some(md.post_logout_redirect_uris),
                    allowed_scopes: Some(scopes),
                    jwks: Some(md.jwks),
                    jwks_uri: Some(md.jwks_uri),
                    require_pushed_authorization_requests: Some(md.require_par),
                    ..Default::default()
                },
            )
            .await
            .map_err(from_manage)?;
        let mut m = client_metadata(self, &updated);
        m.insert(
            "registration_access_token".into(),
            json!(bearer.unwrap_or_default()),
        );
        Ok(Value::Object(m))
    }

    /// RFC 7592 §2.3: deletes the client — its secret, its registration access token
    /// and every token issued to it stop working at once.
    pub async fn registration_delete(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<(), RegistrationError> {
        self.registration_of(client_id, bearer).await?;
        self.manager()
            .client_delete(&format!("registration:{client_id}"), client_id)
            .await
            .map_err(from_manage)
    }
}
