//! Signing a person in to a remote server's admin API: the OAuth side of the remote
//! backend, with the built-in public client `latchkey-console` (RFC 8252 native app).
//!
//! Owns: the credential types ([`Credential`], [`TokenSet`], [`Secret`]), discovery of
//! the issuer's endpoints (OIDC Discovery §4), the device authorization grant
//! (RFC 8628 §3.1–3.5), the browser sign-in (through [`crate::loopback`], RFC 8252),
//! refresh (RFC 6749 §6) and revocation (RFC 7009 §2).
//!
//! Whom a token goes to (issue 10, §3): an admin API URL names an issuer in its health
//! answer, but only the issuer's own discovery document says where *its* admin API
//! lives (`latchkey_admin_api`). [`endpoints_for`] proceeds only when that URL is the
//! admin API we were given ([`vouch`]), so a server that names a real issuer never
//! receives that issuer's admin token; the token asked for is audience-restricted to
//! the vouched admin API (RFC 8707 `resource`), the discovered `issuer` must be the one
//! asked about, and the authorization response's `iss` must be that issuer (RFC 9207,
//! mix-up defence, checked in [`crate::loopback`]).
//!
//! Does not own: where tokens are kept ([`crate::keyring`]) or opening a browser (the
//! caller's terminal or window).

use crate::AdminError;
use latchkey_api_types::ErrorCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The built-in public client every admin sign-in uses.
pub const CONSOLE_CLIENT_ID: &str = "latchkey-console";
/// What an administrator's sign-in asks for: an ID token, a refresh token, and write
/// access to the admin API.
pub const ADMIN_SCOPE: &str = "openid offline_access latchkey:admin";

/// A secret string (API key, access or refresh token). `Debug` prints `..` and there
/// is no `Display`, so neither a log line nor an error message can carry one by
/// accident; [`expose`](Self::expose) is the one way out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// What the remote backend presents as `Authorization: Bearer …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An admin API key (`lk_…`), for automation.
    ApiKey(Secret),
    /// A person's tokens from [`CONSOLE_CLIENT_ID`], refreshed when they expire.
    OAuth(TokenSet),
}

/// Tokens from a sign-in, with the endpoints needed to keep them alive and to end them.
/// Serialisable so a keyring can hold it: it is secret as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Unix seconds; absent when the server did not say.
    pub expires_at: Option<i64>,
    pub scope: Option<String>,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub client_id: String,
    /// The issuer that minted the tokens, so a stored sign-in is checked against that
    /// issuer's discovery before it is used ([`vouch`]). Absent in entries stored by
    /// older versions: then the admin API's announced issuer is checked, and the token
    /// endpoint must be that issuer's.
    #[serde(default)]
    pub issuer: Option<String>,
}

impl TokenSet {
    /// Expired, or about to: refresh this close to the end so a request does not race
    /// the expiry in flight.
    pub fn expires_soon(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at - 30 <= now)
    }
}

/// The issuer's endpoints this module uses (OIDC Discovery §3 / RFC 8414 §2 names).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    /// RFC 9126 §5.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: every authorization request must be pushed.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Latchkey's own metadata member: the URL of the admin API this issuer vouches
    /// for, also the RFC 8707 resource indicator of its admin tokens.
    #[serde(default)]
    pub latchkey_admin_api: Option<String>,
}

/// RFC 8628 §3.2 device authorization response.
#[derive(Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    #[serde(default = "default_interval")]
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .finish_non_exhaustive()
    }
}

fn default_interval() -> u64 {
    5
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    refresh_token: Option<Secret>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A transport failure in words that say what to check (issue 12), not the HTTP
/// library's chain of causes. Names `what` (a URL: never a credential, which travels in
/// headers and bodies).
pub fn unavailable(what: &str, e: &reqwest::Error) -> AdminError {
    let chain = {
        let mut out = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            out.push_str(&format!(": {s}"));
            src = s.source();
        }
        out.to_ascii_lowercase()
    };
    let message = if chain.contains("certificate")
        || chain.contains("tls")
        || chain.contains("handshake")
    {
        format!(
            "the secure connection to {what} failed: check that the address is the server's              https URL and that this computer trusts its certificate (a self-signed one must              be added to the system's trust store)"
        )
    } else if e.is_timeout() {
        format!(
            "{what} did not answer in time: check that the server is running and that no              firewall or proxy holds the connection"
        )
    } else if e.is_connect() {
        format!(
            "nothing answers at {what}: check the address and port, and that the server is              running (`latchkey serve`)"
        )
    } else if e.is_decode() || e.is_body() {
        format!(
            "{what} answered, but not as a Latchkey server does: check that the address is              the server's, not a proxy's or another site's"
        )
    } else {
        format!("cannot reach {what}: check the address and that the server is running")
    };
    AdminError::new(ErrorCode::Unavailable, message)
}

/// Checks that `url` may carry credentials: `https://`, or `http://` on a loopback host
/// only (RFC 8252 §8.3 allows cleartext nowhere else).
pub fn check_transport(url: &str) -> Result<url::Url, AdminError> {
    let u = url::Url::parse(url)
        .map_err(|_| AdminError::invalid_input(format!("{url:?} is not a URL")))?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(AdminError::invalid_input(format!(
            "{url} must not have a query or fragment"
        )));
    }
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match u.scheme() {
        "https" => Ok(u),
        "http" if loopback => Ok(u),
        "http" => Err(AdminError::invalid_input(format!(
            "{url}: credentials are sent over https:// only (http:// is accepted on loopback \
             addresses alone)"
        ))),
        other => Err(AdminError::invalid_input(format!(
            "{url}: unsupported scheme {other}; use https://"
        ))),
    }
}

/// The HTTP client for sign-in calls: no redirects (a token endpoint that redirects is
/// misconfigured, and following it could hand a code or refresh token to another host).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Reads `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4).
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, AdminError> {
    let base = check_transport(issuer)?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        base.as_str().trim_end_matches('/')
    );
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| unavailable(issuer, &e))?;
    if !resp.status().is_success() {
        return Err(AdminError::new(
            ErrorCode::Unavailable,
            format!(
                "{issuer} has no OpenID discovery document (HTTP {}); is it the issuer URL?",
                resp.status().as_u16()
            ),
        ));
    }
    let ep: Endpoints = resp.json().await.map_err(|e| {
        AdminError::new(
            ErrorCode::Unavailable,
            format!("{issuer}: unreadable discovery document: {e}"),
        )
    })?;
    // OIDC Discovery §4.3, RFC 8414 §3.3: the document must name the issuer we asked
    // about, or its endpoints are someone else's (mix-up).
    if ep.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(AdminError::new(
            ErrorCode::UntrustedServer,
            format!(
                "the discovery document at {issuer} names another issuer ({}); not signing in",
                ep.issuer
            ),
        ));
    }
    for u in [&ep.token_endpoint, &ep.authorization_endpoint]
        .into_iter()
        .chain(ep.device_authorization_endpoint.as_ref())
        .chain(ep.revocation_endpoint.as_ref())
    {
        check_transport(u)?;
    }
    Ok(ep)
}

async fn token_call(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<Result<TokenResponse, OAuthErrorBody>, AdminError> {
    let resp = http
        .post(endpoint)
        .form(form)
        .send()
        .await
        .map_err(|e| unavailable(endpoint, &e))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| unavailable(endpoint, &e))?;
    if status.is_success() {
        serde_json::from_slice(&bytes).map(Ok).map_err(|_| {
            AdminError::new(
                ErrorCode::Unavailable,
                format!("{endpoint} answered with an unreadable token response"),
            )
        })
    } else {
        match serde_json::from_slice::<OAuthErrorBody>(&bytes) {
            Ok(e) => Ok(Err(e)),
            Err(_) => Err(AdminError::new(
                ErrorCode::Unavailable,
                format!("{endpoint} answered HTTP {}", status.as_u16()),
            )),
        }
    }
}

fn token_set(t: TokenResponse, ep: &Endpoints) -> TokenSet {
    console_tokens(t.access_token, t.refresh_token, t.expires_in, t.scope, ep)
}

/// The console client's tokens from `ep`, with their lifetime made absolute.
fn console_tokens(
    access_token: Secret,
    refresh_token: Option<Secret>,
    expires_in: Option<i64>,
    scope: Option<String>,
    ep: &Endpoints,
) -> TokenSet {
    TokenSet {
        access_token,
        refresh_token,
        expires_at: expires_in.map(|s| now() + s),
        scope,
        token_endpoint: ep.token_endpoint.clone(),
        revocation_endpoint: ep.revocation_endpoint.clone(),
        client_id: CONSOLE_CLIENT_ID.into(),
        issuer: Some(ep.issuer.clone()),
    }
}

fn oauth_failure(e: OAuthErrorBody) -> AdminError {
    let code = match e.error.as_str() {
        "invalid_grant" | "access_denied" | "expired_token" => ErrorCode::Unauthorized,
        "invalid_scope" => ErrorCode::Forbidden,
        "temporarily_unavailable" => ErrorCode::Unavailable,
        _ => ErrorCode::InvalidInput,
    };
    let msg = match e.error_description {
        Some(d) => format!("{}: {d}", e.error),
        None => e.error,
    };
    AdminError::new(code, format!("sign-in refused ({msg})"))
}

/// RFC 8628 §3.1: asks for a user code.
pub async fn device_authorize(
    http: &reqwest::Client,
    ep: &Endpoints,
    scope: &str,
) -> Result<DeviceAuthorization, AdminError> {
    let endpoint = ep.device_authorization_endpoint.as_deref().ok_or_else(|| {
        AdminError::new(
            ErrorCode::Unavailable,
            format!("{} does not offer the device flow", ep.issuer),
        )
    })?;
    let mut form = vec![("client_id", CONSOLE_CLIENT_ID), ("scope", scope)];
    if let Some(r) = &ep.latchkey_admin_api {
        form.push(("resource", r.as_str()));
    }
    let resp = http
        .post(endpoint)
        .form(&form)
        .send()
        .await
        .map_err(|e| unavailable(endpoint, &e))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| unavailable(endpoint, &e))?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<OAuthErrorBody>(&bytes) {
            Ok(e) => oauth_failure(e),
            Err(_) => AdminError::new(
                ErrorCode::Unavailable,
                format!("{endpoint} answered HTTP {}", status.as_u16()),
            ),
        });
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        AdminError::new(
            ErrorCode::Unavailable,
            format!("{endpoint}: unreadable device authorization response"),
        )
    })
}

/// RFC 8628 §3.4–3.5: polls the token endpoint until the user decides, honouring
/// `slow_down`, and gives up when the code expires.
pub async fn device_poll(
    http: &reqwest::Client,
    ep: &Endpoints,
    auth: &DeviceAuthorization,
) -> Result<TokenSet, AdminError> {
    let deadline = now() + auth.expires_in.max(1);
    let mut interval = auth.interval.max(1);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", auth.device_code.expose()),
            ("client_id", CONSOLE_CLIENT_ID),
        ];
        // RFC 8707 §2.2: the token is for the admin API, and only for it.
        if let Some(r) = &ep.latchkey_admin_api {
            form.push(("resource", r.as_str()));
        }
        match token_call(http, &ep.token_endpoint, &form).await? {
            Ok(t) => return Ok(token_set(t, ep)),
            Err(e) if e.error == "authorization_pending" => {}
            // §3.5: "the interval MUST be increased by 5 seconds for this and all
            // subsequent requests".
            Err(e) if e.error == "slow_down" => interval += 5,
            Err(e) => return Err(oauth_failure(e)),
        }
        if now() >= deadline {
            return Err(AdminError::new(
                ErrorCode::Unauthorized,
                "the user code expired before anyone approved it; run login again",
            ));
        }
    }
}

/// RFC 8252 §7.3: the administrator signs in with the authorization code + PKCE in the
/// system browser (`open` is handed the address), redirected to a loopback listener
/// on any port.
pub async fn browser_sign_in(
    http: &reqwest::Client,
    ep: &Endpoints,
    open: impl FnOnce(&str),
) -> Result<TokenSet, AdminError> {
    let t = crate::loopback::run(
        http,
        crate::loopback::CodeFlow {
            authorization_endpoint: &ep.authorization_endpoint,
            token_endpoint: &ep.token_endpoint,
            client_id: CONSOLE_CLIENT_ID,
            client_secret: None,
            secret_in_body: false,
            redirect_uri: "http://127.0.0.1/callback",
            scope: ADMIN_SCOPE,
            timeout: Duration::from_secs(300),
            done_message: "Signed in to Latchkey. You may close this tab.",
            issuer: Some(&ep.issuer),
            resource: ep.latchkey_admin_api.as_deref(),
            dpop: None,
            par_endpoint: None,
        },
        open,
    )
    .await?;
    Ok(console_tokens(
        t.access_token,
        t.refresh_token,
        t.expires_in,
        t.scope,
        ep,
    ))
}

/// Where an administrator of the admin API at `server` signs in: `issuer` when given,
/// else the issuer the admin API's health answer names, else the admin API's own origin
/// (both served behind one proxy). Only when that issuer vouches for `server` as its
/// admin API ([`vouch`]); otherwise an `untrusted_server` error naming both URLs.
pub async fn endpoints_for(
    http: &reqwest::Client,
    server: &str,
    issuer: Option<&str>,
) -> Result<Endpoints, AdminError> {
    let announced = match issuer {
        Some(_) => None,
        None => announced_issuer(http, server).await,
    };
    let issuer = issuer.or(announced.as_deref()).unwrap_or(server);
    let ep = discover(http, issuer).await.map_err(|e| {
        if issuer == server {
            AdminError::new(
                e.code,
                format!(
                    "{}; name the authorization server's URL (the issuer)",
                    e.message
                ),
            )
        } else {
            e
        }
    })?;
    vouch(&ep, server)?;
    Ok(ep)
}

/// Whether two URLs name the same place: scheme, host and port (the scheme's default
/// port made explicit) and the path without a trailing `/`. Case of scheme and host
/// does not matter (RFC 3986 §6.2.2.1); nothing else is forgiven.
pub fn same_url(a: &str, b: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(a), url::Url::parse(b)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        && a.query() == b.query()
}

/// Issue 10 §3: an admin token goes only to an admin API its issuer vouches for. `ep`
/// is the issuer's discovery; `server` the admin API about to receive the token.
pub fn vouch(ep: &Endpoints, server: &str) -> Result<(), AdminError> {
    match &ep.latchkey_admin_api {
        Some(api) if same_url(api, server) => Ok(()),
        Some(api) => Err(AdminError::new(
            ErrorCode::UntrustedServer,
            format!(
                "{server} is not the admin API of {}: the issuer says its admin API is {api}; \
                 no token was sent to {server}",
                ep.issuer
            ),
        )),
        None => Err(AdminError::new(
            ErrorCode::UntrustedServer,
            format!(
                "{} does not say where its admin API is (no latchkey_admin_api in its \
                 discovery document), so it does not vouch for {server}; no token was sent \
                 to {server}",
                ep.issuer
            ),
        )),
    }
}

/// Checks, before a stored sign-in is first used, that `server` is still the admin API
/// of the issuer that minted `t`, and that `t`'s token endpoint is that issuer's.
pub async fn vouch_stored(
    http: &reqwest::Client,
    server: &str,
    t: &TokenSet,
) -> Result<(), AdminError> {
    let issuer = match &t.issuer {
        Some(i) => i.clone(),
        None => announced_issuer(http, server).await.ok_or_else(|| {
            AdminError::new(
                ErrorCode::UntrustedServer,
                format!(
                    "{server} names no issuer and the stored sign-in does not say which \
                     issuer it is from; sign in again (login)"
                ),
            )
        })?,
    };
    let ep = discover(http, &issuer).await?;
    vouch(&ep, server)?;
    if !same_url(&ep.token_endpoint, &t.token_endpoint) {
        return Err(AdminError::new(
            ErrorCode::UntrustedServer,
            format!(
                "the stored sign-in for {server} was not issued by {issuer}; sign in again \
                 (login)"
            ),
        ));
    }
    Ok(())
}

/// The issuer in `GET /admin/v1/health`, if the server says.
async fn announced_issuer(http: &reqwest::Client, server: &str) -> Option<String> {
    let url = format!("{}/admin/v1/health", server.trim_end_matches('/'));
    let health: latchkey_api_types::HealthDto =
        http.get(url).send().await.ok()?.json().await.ok()?;
    health.issuer
}

/// RFC 6749 §6. Keeps the old refresh token when the server does not rotate it.
pub async fn refresh(http: &reqwest::Client, t: &TokenSet) -> Result<TokenSet, AdminError> {
    let Some(rt) = &t.refresh_token else {
        return Err(AdminError::new(
            ErrorCode::Unauthorized,
            "the sign-in has expired and has no refresh token; sign in again (login)",
        ));
    };
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.expose()),
        ("client_id", t.client_id.as_str()),
    ];
    match token_call(http, &t.token_endpoint, &form).await? {
        Ok(r) => Ok(TokenSet {
            access_token: r.access_token,
            refresh_token: r.refresh_token.or_else(|| t.refresh_token.clone()),
            expires_at: r.expires_in.map(|s| now() + s),
            scope: r.scope.or_else(|| t.scope.clone()),
            ..t.clone()
        }),
        Err(e) if e.error == "invalid_grant" => Err(AdminError::new(
            ErrorCode::Unauthorized,
            "the sign-in has ended (refresh token expired or revoked); sign in again (login)",
        )),
        Err(e) => Err(oauth_failure(e)),
    }
}

/// RFC 7009 §2.1: revokes the refresh token (and with it, on this server, the
/// session's access tokens). Without a revocation endpoint there is nothing to call.
pub async fn revoke(http: &reqwest::Client, t: &TokenSet) -> Result<(), AdminError> {
    let Some(endpoint) = &t.revocation_endpoint else {
        return Ok(());
    };
    let (token, hint) = match &t.refresh_token {
        Some(rt) => (rt.expose(), "refresh_token"),
        None => (t.access_token.expose(), "access_token"),
    };
    let resp = http
        .post(endpoint)
        .form(&[
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", t.client_id.as_str()),
        ])
        .send()
        .await
        .map_err(|e| unavailable(endpoint, &e))?;
    // §2.2: 200 whether or not the token was valid.
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(AdminError::new(
            ErrorCode::Unavailable,
            format!(
                "{endpoint} refused the revocation (HTTP {})",
                resp.status().as_u16()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    /// Issue 12: a refused connection says what to check, not reqwest's chain of causes.
    #[tokio::test]
    async fn a_server_that_is_not_running_is_reported_with_what_to_check() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("its address").port()
        };
        let url = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let e = http_client()
            .get(&url)
            .send()
            .await
            .expect_err("nothing listens there");
        let msg = unavailable(&url, &e).to_string();
        assert!(
            msg.starts_with(&format!("nothing answers at {url}")),
            "{msg}"
        );
        assert!(msg.contains("check the address and port"), "{msg}");
        assert!(!msg.contains("error sending request"), "{msg}");
    }

    use super::*;

    #[test]
    fn secrets_and_token_sets_never_print_their_values() {
        let t = TokenSet {
            access_token: Secret::new("at-value-123"),
            refresh_token: Some(Secret::new("rt-value-456")),
            expires_at: Some(1),
            scope: None,
            token_endpoint: "https://id.example/token".into(),
            revocation_endpoint: None,
            client_id: CONSOLE_CLIENT_ID.into(),
            issuer: None,
        };
        let shown = format!("{:?} {:?}", t, Credential::ApiKey(Secret::new("lk_key789")));
        assert!(!shown.contains("at-value-123"));
        assert!(!shown.contains("rt-value-456"));
        assert!(!shown.contains("lk_key789"));
    }

    #[test]
    fn credentials_travel_over_https_or_loopback_http_only() {
        assert!(check_transport("https://id.example").is_ok());
        assert!(check_transport("http://127.0.0.1:8081").is_ok());
        assert!(check_transport("http://[::1]:8081").is_ok());
        assert!(check_transport("http://localhost:8081").is_ok());
        let e = check_transport("http://id.example").unwrap_err();
        assert_eq!(e.code, "invalid_input");
        assert!(check_transport("ftp://id.example").is_err());
        assert!(check_transport("https://id.example/?x=1").is_err());
    }

    fn endpoints(api: Option<&str>) -> Endpoints {
        Endpoints {
            issuer: "https://id.example".into(),
            authorization_endpoint: "https://id.example/authorize".into(),
            token_endpoint: "https://id.example/token".into(),
            device_authorization_endpoint: None,
            revocation_endpoint: None,
            pushed_authorization_request_endpoint: None,
            require_pushed_authorization_requests: false,
            latchkey_admin_api: api.map(str::to_string),
        }
    }

    #[test]
    fn a_token_goes_only_to_the_admin_api_the_issuer_names() {
        let ep = endpoints(Some("https://admin.example:8443"));
        assert!(vouch(&ep, "https://admin.example:8443").is_ok());
        assert!(vouch(&ep, "https://ADMIN.example:8443/").is_ok());
        for other in [
            "https://admin.example",
            "http://admin.example:8443",
            "https://evil.example:8443",
            "https://admin.example:8443/other",
        ] {
            let e = vouch(&ep, other).unwrap_err();
            assert_eq!(e.code, "untrusted_server");
            assert!(e.message.contains(other), "{}", e.message);
            assert!(
                e.message.contains("https://admin.example:8443"),
                "{}",
                e.message
            );
        }
        assert!(same_url("https://a.example", "https://a.example:443/"));
        let e = vouch(&endpoints(None), "https://admin.example").unwrap_err();
        assert_eq!(e.code, "untrusted_server");
    }

    #[test]
    fn a_token_is_refreshed_shortly_before_it_expires() {
        let mut t = TokenSet {
            access_token: Secret::new("a"),
            refresh_token: None,
            expires_at: Some(1000),
            scope: None,
            token_endpoint: String::new(),
            revocation_endpoint: None,
            client_id: String::new(),
            issuer: None,
        };
        assert!(!t.expires_soon(900));
        assert!(t.expires_soon(975));
        t.expires_at = None;
        assert!(!t.expires_soon(i64::MAX));
    }
}
