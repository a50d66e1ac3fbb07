//! The authorization endpoint: RFC 6749 §4.1.1–4.1.2 with PKCE (RFC 7636, S256 only),
//! OIDC Core §3.1.2 (`nonce`, `prompt`, `max_age`), RFC 9207 (`iss` in every response),
//! RFC 8252 §7.3 (loopback redirect with any port) — plus sign-in and consent.

use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::{pkce, Provider};
use crate::crypto::{random_id, random_token, sha256};
use crate::model::*;
use crate::store::AuthRequest;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Anti-forgery value for the consent form.
    pub csrf: String,
    /// RFC 8707 §2: the checked `resource`/`audience` values; they go on the code. A
    /// request parked before this field existed reads as none.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The hash of the pushed request this came from (RFC 9126), spent when the
    /// authorization completes.
    #[serde(default)]
    pub pushed: Option<Vec<u8>>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code will be bound to.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

impl AuthzRequest {
    pub fn prompt_has(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// Where the parameters being validated came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    /// Sent through the browser to `/authorize`.
    Browser,
    /// Sent to the PAR endpoint by an authenticated client (RFC 9126 §2.1).
    Push,
    /// Loaded at `/authorize` from the pushed request with this hash (RFC 9126 §4).
    Pulled(Vec<u8>),
}

/// Why an authorization request fails, and where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Client or redirect URI cannot be trusted: show an error page, never redirect
    /// (RFC 6749 §4.1.2.1 first paragraph).
    Page(&'static str),
    /// Tell the client through its (validated) redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
    /// Storage trouble while validating: a 503 page, nothing about the request decided.
    Unavailable,
}

impl From<OAuthError> for AuthorizeError {
    fn from(e: OAuthError) -> Self {
        match e.code {
            ErrorCode::TemporarilyUnavailable => AuthorizeError::Unavailable,
            _ => AuthorizeError::Page("The request could not be processed."),
        }
    }
}

/// Exact string match, except that a registered loopback IP redirect (RFC 8252 §7.3)
/// matches the same URI with any port.
pub fn redirect_uri_matches(registered: &str, candidate: &str) -> bool {
    if registered == candidate {
        return true;
    }
    for prefix in ["http://127.0.0.1", "http://[::1]"] {
        if let (Some(r), Some(c)) = (
            registered.strip_prefix(prefix),
            candidate.strip_prefix(prefix),
        ) {
            let strip_port = |s: &str| -> Option<String> {
                match s.strip_prefix(':') {
                    Some(rest) => {
                        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                        if digits == 0 || digits > 5 {
                            return None;
                        }
                        Some(rest[digits..].to_string())
                    }
                    None => Some(s.to_string()),
                }
            };
            if let (Some(r), Some(c)) = (strip_port(r), strip_port(c)) {
                if (r.is_empty() || r.starts_with('/') || r.starts_with('?')) && r == c {
                    return true;
                }
            }
        }
    }
    false
}

/// How recent a sign-in must be for a request that asks for the admin scopes: older,
/// and the password is asked again (as with `prompt=login`).
pub const ADMIN_REAUTH_SECS: i64 = 300;

/// Whether a redirect URI is a native app's (RFC 8252 §7): a loopback address (§7.3) or
/// a private-use URI scheme (§7.1). Such a client's identity cannot be assured (§8.6).
pub fn is_native_redirect(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => match u.scheme() {
            "https" => false,
            "http" => loopback_port(uri).is_some(),
            _ => true,
        },
        Err(_) => true,
    }
}

/// The port of a loopback redirect URI (`http://127.0.0.1:P/…`, `[::1]`, `localhost`).
pub fn loopback_port(uri: &str) -> Option<u16> {
    let u = url::Url::parse(uri).ok()?;
    if u.scheme() != "http" {
        return None;
    }
    let loopback = match u.host()? {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => d == "localhost",
    };
    loopback.then(|| u.port_or_known_default()).flatten()
}

/// Whether the request asks for `latchkey:admin` or `latchkey:admin:read`.
pub fn asks_admin_scopes(scopes: &[String]) -> bool {
    scopes.iter().any(|s| is_admin_scope(s))
}

/// The stored id of the sign-in whose cookie holds `cookie`.
pub fn sign_in_id_for(cookie: &str) -> String {
    crate::crypto::b64url(&sha256(cookie.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong username or password (one answer for both, no user enumeration).
    Invalid,
    Unavailable,
}

/// Why the password a user chose at sign-in (their administrator required a change) was
/// not taken. The messages are for the page; none echoes a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordChangeError {
    /// No sign-in is waiting for a change (expired, ended, or the cookie is gone).
    #[error("this sign-in has expired; sign in again")]
    Expired,
    /// Too short or too long.
    #[error("{0}")]
    Weak(String),
    /// The same password as the one set by the administrator.
    #[error("choose a password different from the one you signed in with")]
    Reused,
    /// The two fields differ.
    #[error("the two passwords differ")]
    Mismatch,
    #[error("the service is unavailable")]
    Unavailable,
}

impl Provider {
    /// Validates an authorization request (GET query or POST form, OIDC Core §3.1.2.1).
    /// `duplicated` lists parameter names that appeared more than once (RFC 6749 §3.1),
    /// and repeatable ones (`resource`, `audience`) with an empty or spaced value.
    ///
    /// A request naming a `request_uri` is answered from the pushed request alone
    /// (RFC 9126 §4); the `client_id` beside it must be the one that pushed it.
    pub async fn authorize_validate(
        &self,
        params: &HashMap<String, String>,
        duplicated: &[String],
    ) -> Result<(AuthzRequest, Client), AuthorizeError> {
        if params.get("request_uri").is_some_and(|v| !v.is_empty()) {
            return self.pushed_authorize_validate(params, duplicated).await;
        }
        self.validate_params(params, duplicated, Via::Browser).await
    }

    /// The validation `/authorize` and the PAR endpoint share (RFC 9126 §2.1: "the
    /// same as at the authorization endpoint").
    pub(crate) async fn validate_params(
        &self,
        params: &HashMap<String, String>,
        duplicated: &[String],
        via: Via,
    ) -> Result<(AuthzRequest, Client), AuthorizeError> {
        let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        if duplicated
            .iter()
            .any(|d| d == "client_id" || d == "redirect_uri")
        {
            return Err(AuthorizeError::Page(
                "The request repeats client_id or redirect_uri.",
            ));
        }
        let Some(client_id) = get("client_id") else {
            return Err(AuthorizeError::Page("The request has no client_id."));
        };
        let client = match self.cached_client(client_id).await? {
            Some(c) if !c.disabled => c,
            _ => {
                return Err(AuthorizeError::Page(
                    "The application (client_id) is not known.",
                ))
            }
        };
        let scope_str = get("scope").unwrap_or("");
        let scopes = parse_scope(scope_str);
        let is_oidc = scopes.iter().any(|s| s == "openid");
        let (redirect_uri, sent) = match get("redirect_uri") {
            Some(r) => {
                if !client
                    .redirect_uris
                    .iter()
                    .any(|reg| redirect_uri_matches(reg, r))
                {
                    return Err(AuthorizeError::Page(
                        "The redirect_uri is not registered for this application.",
                    ));
                }
                (r.to_string(), true)
            }
            None => {
                // OIDC Core §3.1.2.1 makes redirect_uri REQUIRED; plain OAuth may omit
                // it only when exactly one is registered (RFC 6749 §3.1.2.3).
                if is_oidc || client.redirect_uris.len() != 1 {
                    return Err(AuthorizeError::Page("The request has no redirect_uri."));
                }
                (client.redirect_uris[0].clone(), false)
            }
        };
        let state = params.get("state").cloned();
        let fail = |e: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error: e,
        };
        // RFC 9126 §5: a client (or a server) that requires PAR is not answered from
        // parameters that came through the browser.
        if via == Via::Browser
            && (self.config.require_pushed_authorization_requests
                || client.require_pushed_authorization_requests)
        {
            return Err(fail(OAuthError::invalid_request(
                "pushed authorization requests are required: push the request first",
            )));
        }
        if !duplicated.is_empty() {
            return Err(fail(OAuthError::invalid_request(
                "a parameter is repeated, or a resource or audience value is empty",
            )));
        }
        match get("response_type") {
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "response_type is required",
                )))
            }
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )))
            }
        }
        if let Some(m) = get("response_mode") {
            if m != "query" {
                return Err(fail(OAuthError::invalid_request(
                    "only response_mode=query is supported",
                )));
            }
        }
        if get("request").is_some() || get("request_uri").is_some() {
            return Err(fail(OAuthError::invalid_request(
                "request objects are not supported",
            )));
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            )));
        }
        let Some(challenge) = get("code_challenge") else {
            return Err(fail(OAuthError::invalid_request("code_challenge required")));
        };
        if get("code_challenge_method") != Some("S256") {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            )));
        }
        if !pkce::is_valid_s256_challenge(challenge) {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge is malformed",
            )));
        }
        if scopes.is_empty() {
            return Err(fail(OAuthError::invalid_scope("scope is required")));
        }
        self.check_scopes(&client, &scopes).await.map_err(fail)?;
        let resources = self
            .requested_targets(get("resource"), get("audience"))
            .await
            .map_err(fail)?;
        let prompt: Vec<String> = get("prompt").map(parse_scope).unwrap_or_default();
        for p in &prompt {
            if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
                return Err(fail(OAuthError::invalid_request(
                    "unsupported prompt value",
                )));
            }
        }
        if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
            return Err(fail(OAuthError::invalid_request(
                "prompt=none cannot be combined",
            )));
        }
        let max_age = match get("max_age") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    return Err(fail(OAuthError::invalid_request(
                        "max_age must be a non-negative integer",
                    )))
                }
            },
        };
        // RFC 9449 §10: a JWK SHA-256 thumbprint (RFC 7638), base64url, 43 characters.
        let dpop_jkt = get("dpop_jkt").map(str::to_string);
        if dpop_jkt.as_ref().is_some_and(|j| {
            j.len() != 43
                || !j
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err(fail(OAuthError::invalid_request(
                "dpop_jkt must be a JWK SHA-256 thumbprint",
            )));
        }
        let nonce = get("nonce").map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.len() > 512)
            || state.as_ref().is_some_and(|s| s.len() > 2048)
        {
            return Err(fail(OAuthError::invalid_request("state or nonce too long")));
        }
        Ok((
            AuthzRequest {
                client_id: client.id.clone(),
                redirect_uri,
                redirect_uri_sent: sent,
                scopes,
                state,
                nonce,
                code_challenge: challenge.to_string(),
                prompt,
                max_age,
                login_hint: get("login_hint").map(|s| s.chars().take(128).collect()),
                csrf: random_token(),
                resources,
                pushed: match via {
                    Via::Pulled(hash) => Some(hash),
                    Via::Browser | Via::Push => None,
                },
                dpop_jkt,
            },
            client,
        ))
    }

    /// Every requested scope must exist (AZ-11: unknown → `invalid_scope`) and be
    /// allowed for the client.
    pub async fn check_scopes(&self, client: &Client, scopes: &[String]) -> OAuthResult<()> {
        for s in scopes {
            if !is_valid_scope_token(s) {
                return Err(OAuthError::invalid_scope("malformed scope"));
            }
            if !client.allowed_scopes.iter().any(|a| a == s) {
                return Err(OAuthError::invalid_scope(
                    "scope not allowed for this client",
                ));
            }
            // Checked at every request, not only when the client is saved: a row written
            // before the reservation may still list an admin scope.
            if is_admin_scope(s) && !client.may_request_admin_scopes() {
                return Err(OAuthError::invalid_scope(
                    "the admin scopes are reserved to latchkey-console and admin tools",
                ));
            }
            if self.cached_scope(s).await?.is_none() {
                return Err(OAuthError::invalid_scope("unknown scope"));
            }
        }
        Ok(())
    }

    /// `redirect_uri` plus response parameters and `iss` (RFC 9207), keeping any query
    /// the registered URI already has (AZ-04).
    pub fn redirect_location(&self, redirect_uri: &str, params: &[(&str, &str)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            ser.append_pair(k, v);
        }
        ser.append_pair("iss", &self.config.issuer);
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        format!("{redirect_uri}{sep}{}", ser.finish())
    }

    pub fn error_location(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        e: &OAuthError,
    ) -> String {
        let mut p: Vec<(&str, &str)> = vec![("error", e.code.as_str())];
        if let Some(d) = e.description() {
            p.push(("error_description", d));
        }
        if let Some(s) = state {
            p.push(("state", s));
        }
        self.redirect_location(redirect_uri, &p)
    }

    /// Whether the signed-in user must (re)authenticate for this request (OIDC Core
    /// §3.1.2.1 `prompt=login`, `max_age`).
    pub fn needs_login(&self, req: &AuthzRequest, sign_in: Option<&SignIn>) -> bool {
        match sign_in {
            None => true,
            Some(s) => {
                req.prompt_has("login")
                    || req.max_age.is_some_and(|m| self.now() - s.auth_time > m)
                    || self.admin_reauth_due(&req.scopes, s)
            }
        }
    }

    /// A request for the admin scopes needs a sign-in of the last few minutes, read on
    /// the core clock: a stolen or forgotten browser session alone grants no admin power.
    pub fn admin_reauth_due(&self, scopes: &[String], sign_in: &SignIn) -> bool {
        asks_admin_scopes(scopes) && self.now() - sign_in.auth_time > ADMIN_REAUTH_SECS
    }

    /// Whether consent must be asked (and thus, with `prompt=none`, `consent_required`).
    pub async fn needs_consent(
        &self,
        req: &AuthzRequest,
        client: &Client,
        user_id: &str,
    ) -> OAuthResult<bool> {
        if req.prompt_has("consent") {
            return Ok(true);
        }
        // RFC 8252 §8.6: a public native client's identity cannot be assured (any local
        // process can listen on a loopback port), so no request of one is answered
        // without the user's interaction: the approval page every time, whatever was
        // remembered or configured. Same for the admin scopes, whatever the client.
        if (client.is_public() && is_native_redirect(&req.redirect_uri))
            || asks_admin_scopes(&req.scopes)
        {
            return Ok(true);
        }
        if !client.require_consent {
            return Ok(false);
        }
        let granted = self.store.consent_get(user_id, &client.id).await?;
        Ok(!req.scopes.iter().all(|s| granted.contains(s)))
    }

    /// A live sign-in and its (enabled) user, from the SSO cookie value.
    pub async fn sign_in_lookup(&self, cookie: &str) -> OAuthResult<Option<(SignIn, User)>> {
        let Some(s) = self.store.sign_in_get(&sign_in_id_for(cookie)).await? else {
            return Ok(None);
        };
        if s.ended_at.is_some() || s.expires_at <= self.now() {
            return Ok(None);
        }
        match self.cached_user(&s.user_id).await? {
            // A user who must change their password has no usable sign-in until they
            // did: the sign-in their password started waits for it (below).
            Some(u)
                if !u.disabled
                    && !u.must_change_password
                    && u.password_changed_at <= s.auth_time =>
            {
                Ok(Some((s, u)))
            }
            _ => Ok(None),
        }
    }

    /// The sign-in a correct password started for a user who must change their
    /// password first (read from the store, not a cache: it decides a credential).
    pub async fn pending_password_change(
        &self,
        cookie: &str,
    ) -> OAuthResult<Option<(SignIn, User)>> {
        let Some(s) = self.store.sign_in_get(&sign_in_id_for(cookie)).await? else {
            return Ok(None);
        };
        if s.ended_at.is_some() || s.expires_at <= self.now() {
            return Ok(None);
        }
        match self.store.user_get(&s.user_id).await? {
            Some(u)
                if !u.disabled
                    && u.must_change_password
                    && u.password_changed_at <= s.auth_time =>
            {
                Ok(Some((s, u)))
            }
            _ => Ok(None),
        }
    }

    /// The user's own new password, after the administrator required a change: checked
    /// (length, not the password just used), stored as an argon2id hash with the flag
    /// cleared and an audit event by the user, the waiting sign-in ended, and a new one
    /// started (its `auth_time` after the change, so `sign_in_lookup` accepts it).
    /// Returns the new sign-in, its user and the cookie value.
    pub async fn change_password_at_sign_in(
        &self,
        cookie: &str,
        new_password: &str,
        repeated: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(SignIn, User, String), PasswordChangeError> {
        let unavailable = |e: OAuthError| {
            tracing::error!(error = ?e, "password change: store unavailable");
            PasswordChangeError::Unavailable
        };
        let (pending, user) = self
            .pending_password_change(cookie)
            .await
            .map_err(unavailable)?
            .ok_or(PasswordChangeError::Expired)?;
        crate::manage::validate_password(new_password)
            .map_err(|e| PasswordChangeError::Weak(e.to_string()))?;
        if !crate::crypto::ct_eq(new_password.as_bytes(), repeated.as_bytes()) {
            return Err(PasswordChangeError::Mismatch);
        }
        let reused = self
            .password_verifier()
            .verify(new_password.to_string(), Some(user.password_hash.clone()))
            .await;
        if reused {
            return Err(PasswordChangeError::Reused);
        }
        let now = self.now();
        let mut after = user.clone();
        after.password_hash = crate::crypto::hash_password(new_password)
            .map_err(|_| PasswordChangeError::Unavailable)?;
        after.password_changed_at = now;
        after.must_change_password = false;
        // `User` skips `password_hash` when serialised: the audit holds no hash.
        let audit = crate::model::NewAuditEvent::new(
            now,
            format!("user:{}", user.id),
            latchkey_api_types::AuditAction::UserSetPassword.as_str(),
        )
        .target(user.id.clone())
        .ip(ip.map(str::to_string))
        .before(&user)
        .after(&after);
        self.store
            .user_update(&after, &audit)
            .await
            .map_err(|e| unavailable(e.into()))?;
        self.store
            .sign_in_end(&pending.id, now)
            .await
            .map_err(|e| unavailable(e.into()))?;
        self.start_sign_in(&after, ip, user_agent)
            .await
            .map_err(|_| PasswordChangeError::Unavailable)
    }

    /// Checks a password and starts a sign-in (a new id every time: no session fixation).
    /// Returns the sign-in, its user and the cookie value to hand to the browser.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(SignIn, User, String), LoginError> {
        let user = match self.store.user_by_username(username).await {
            Ok(u) => u,
            Err(e) if e.is_unavailable() => return Err(LoginError::Unavailable),
            Err(e) => {
                tracing::error!(error = ?e, "user lookup failed");
                return Err(LoginError::Unavailable);
            }
        };
        // argon2 runs where the server's verifier puts it (off the async workers).
        let verified = self
            .password_verifier()
            .verify(
                password.to_string(),
                user.as_ref().map(|u| u.password_hash.clone()),
            )
            .await;
        let ok_user = user.filter(|u| verified && !u.disabled);
        let Some(user) = ok_user else {
            let target: String = username.chars().take(64).collect();
            self.security_event(
                "anonymous",
                latchkey_api_types::SecurityFamily::LoginFailed,
                None,
                Some(&target),
                ip,
            )
            .await;
            return Err(LoginError::Invalid);
        };
        self.start_sign_in(&user, ip, user_agent).await
    }

    /// A new sign-in of `user` (its id derived from a fresh cookie value).
    async fn start_sign_in(
        &self,
        user: &User,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(SignIn, User, String), LoginError> {
        let now = self.now();
        // The browser holds a random value; the store only its hash (HD-03), so a copy
        // of the database cannot be used to take over live sign-ins.
        let ttl = self
            .settings()
            .await
            .map_err(|_| LoginError::Unavailable)?
            .sign_in_ttl;
        let cookie = random_token();
        let sign_in = SignIn {
            id: sign_in_id_for(&cookie),
            user_id: user.id.clone(),
            auth_time: now,
            ip: ip.map(str::to_string),
            user_agent: user_agent.map(|u| u.chars().take(256).collect()),
            created_at: now,
            expires_at: now + ttl,
            ended_at: None,
        };
        self.store.sign_in_insert(&sign_in).await.map_err(|e| {
            tracing::error!(error = ?e, "sign-in insert failed");
            LoginError::Unavailable
        })?;
        self.signal(crate::monitor::Signal::SignedIn {
            sign_in_id: sign_in.id.clone(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            addr: ip.and_then(|i| i.parse().ok()),
            user_agent: sign_in.user_agent.clone(),
        });
        Ok((sign_in, user.clone(), cookie))
    }

    /// Ends the sign-in behind an SSO cookie value.
    pub async fn logout_sign_in(&self, cookie: &str) -> OAuthResult<()> {
        self.store
            .sign_in_end(&sign_in_id_for(cookie), self.now())
            .await?;
        Ok(())
    }

    /// Parks a request that needs the consent page; returns its id.
    pub async fn park_request(
        &self,
        req: &AuthzRequest,
        sign_in_id: Option<&str>,
    ) -> OAuthResult<String> {
        let now = self.now();
        let id = random_id();
        let params = serde_json::to_string(req).map_err(|_| OAuthError::server_error())?;
        self.store
            .auth_request_insert(&AuthRequest {
                id: id.clone(),
                params,
                sign_in_id: sign_in_id.map(str::to_string),
                created_at: now,
                expires_at: now + self.config.auth_request_ttl,
                consumed_at: None,
            })
            .await?;
        Ok(id)
    }

    /// A parked request, if it is still pending and was parked under this sign-in
    /// (`None`: parked before anyone signed in, waiting for the login form).
    pub async fn parked_request(
        &self,
        id: &str,
        sign_in_id: Option<&str>,
    ) -> OAuthResult<Option<AuthzRequest>> {
        let Some(r) = self.store.auth_request_get(id).await? else {
            return Ok(None);
        };
        if r.consumed_at.is_some()
            || r.expires_at <= self.now()
            || r.sign_in_id.as_deref() != sign_in_id
        {
            return Ok(None);
        }
        Ok(serde_json::from_str(&r.params).ok())
    }

    /// Single use: false if the consent form was already submitted (AZ-20 d).
    pub async fn consume_parked(&self, id: &str) -> OAuthResult<bool> {
        Ok(self.store.auth_request_consume(id, self.now()).await?)
    }

    pub async fn record_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> OAuthResult<()> {
        let mut all = self.store.consent_get(user_id, client_id).await?;
        for s in scopes {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        self.store
            .consent_put(user_id, client_id, &all, self.now())
            .await?;
        Ok(())
    }

    /// Issues the authorization code and returns the success redirect.
    pub async fn issue_code(
        &self,
        req: &AuthzRequest,
        sign_in: &SignIn,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> OAuthResult<String> {
        let now = self.now();
        let code = random_token();
        let record = AuthCode {
            hash: sha256(code.as_bytes()),
            client_id: req.client_id.clone(),
            user_id: sign_in.user_id.clone(),
            sign_in_id: Some(sign_in.id.clone()),
            redirect_uri: req.redirect_uri.clone(),
            redirect_uri_sent: req.redirect_uri_sent,
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: Some(req.code_challenge.clone()),
            auth_time: sign_in.auth_time,
            created_at: now,
            expires_at: now + self.settings().await?.code_ttl,
            consumed_at: None,
            session_id: None,
            ip: ip.map(str::to_string),
            user_agent: user_agent.map(|u| u.chars().take(256).collect()),
            resources: req.resources.clone(),
            dpop_jkt: req.dpop_jkt.clone(),
        };
        match &req.pushed {
            None => self.store.auth_code_insert(&record).await?,
            // RFC 9126 §4 and FAPI 2.0 §5.3.2.2: a request_uri is spent when the
            // authorization completes, in the transaction that writes the code, so of
            // two browsers (or two nodes) completing it only one gets a code.
            Some(hash) => {
                let spent = self
                    .store
                    .auth_code_insert_pushed(&record, hash, &req.client_id, now)
                    .await?;
                if !spent {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidRequestUri,
                        "the request_uri has expired or was already used",
                    ));
                }
            }
        }
        let mut p: Vec<(&str, &str)> = vec![("code", &code)];
        if let Some(s) = &req.state {
            p.push(("state", s));
        }
        Ok(self.redirect_location(&req.redirect_uri, &p))
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_uri_matches as m;

    #[test]
    fn loopback_redirects_match_with_any_port_but_nothing_else_changes() {
        let reg = "http://127.0.0.1/cb";
        assert!(m(reg, "http://127.0.0.1:54321/cb"));
        assert!(!m(reg, "http://127.0.0.1:54321/cb?x=1"));
        assert!(!m(reg, "http://localhost:54321/cb"));
        assert!(!m(reg, "http://[::1]:5/cb"));
        assert!(!m(reg, "http://10.0.0.5:5/cb"));
        assert!(!m(reg, "http://127.0.0.1:54321/cb/x"));
        assert!(!m(reg, "http://127.0.0.1.evil.test/cb"));
        assert!(!m(reg, "http://127.0.0.1:/cb"));
        assert!(m("http://[::1]/cb", "http://[::1]:8080/cb"));
    }

    #[test]
    fn other_redirects_match_only_byte_for_byte() {
        assert!(m("https://c1.test/cb?a=1", "https://c1.test/cb?a=1"));
        assert!(!m("https://c1.test/cb?a=1", "https://c1.test/cb?a=2"));
        assert!(!m("https://c1.test/cb", "https://c1.test/cb?a=1"));
        assert!(!m("https://c1.test/cb", "https://C1.test/cb"));
        assert!(!m("https://c1.test/cb", "https://c1.test/cb/"));
    }
}
