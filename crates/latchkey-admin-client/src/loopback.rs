//! The authorization code flow of a native app (RFC 8252 §7.3): code + S256 PKCE
//! (RFC 7636) in the system browser, redirected to a one-shot listener on 127.0.0.1,
//! the code exchanged with the `oauth2` crate.
//!
//! One implementation serves the administrator's own sign-in (`latchkey admin login`,
//! the console's "sign in with the browser") and the console's "Try it" of a client.
//!
//! Owns: the loopback listener, the state check (RFC 6749 §10.12), the code exchange.
//! Does not own: opening the browser (the caller's: a terminal prints the address, the
//! desktop shell asks the OS) or keeping the tokens.

use crate::dpop::{self, DpopKey};
use crate::signin::Secret;
use crate::AdminError;
use latchkey_api_types::ErrorCode;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, ExtraTokenFields,
    PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One run of the flow.
pub struct CodeFlow<'a> {
    pub authorization_endpoint: &'a str,
    pub token_endpoint: &'a str,
    pub client_id: &'a str,
    /// For a confidential client; `None` for a public one (PKCE alone).
    pub client_secret: Option<&'a Secret>,
    /// `client_secret_post` rather than HTTP Basic (RFC 6749 §2.3.1).
    pub secret_in_body: bool,
    /// A registered loopback redirect URI (`http://127.0.0.1/…`, `http://[::1]/…` or
    /// `http://localhost/…`). The listener takes any free port and the request names it:
    /// RFC 8252 §7.3 has the server accept a loopback redirect on any port.
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    /// How long the person has to finish in the browser.
    pub timeout: Duration,
    /// What the page at the redirect says once the browser lands there.
    pub done_message: &'a str,
    /// The issuer whose authorization endpoint this is: when given, the response's
    /// `iss` must be exactly it (RFC 9207 §2.4, mix-up defence), error responses too.
    pub issuer: Option<&'a str>,
    /// RFC 8707 resource indicator sent with the request and the code exchange.
    pub resource: Option<&'a str>,
    /// RFC 9449: bind the code (`dpop_jkt`, §10) and the tokens to this key; the code
    /// exchange (and the push) carry its proofs.
    pub dpop: Option<std::sync::Arc<DpopKey>>,
    /// RFC 9126: push the request to this endpoint first and send the browser only
    /// `client_id` + `request_uri`.
    pub par_endpoint: Option<&'a str>,
}

/// The token response, every token a [`Secret`].
#[derive(Clone)]
pub struct CodeTokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    /// `Bearer`, or `DPoP` for tokens bound to the flow's key (RFC 9449 §5).
    pub token_type: Option<String>,
}

impl std::fmt::Debug for CodeTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeTokens")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// OIDC Core §3.1.3.3: the ID token travels beside the OAuth fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type Client = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The listener's address and the redirect URI naming its port.
fn loopback_target(redirect_uri: &str) -> Result<(std::net::IpAddr, url::Url), AdminError> {
    let u = url::Url::parse(redirect_uri).map_err(|_| {
        AdminError::invalid_input(format!("{redirect_uri:?} is not a redirect URI"))
    })?;
    let ip = match u.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => std::net::IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => std::net::IpAddr::V6(ip),
        Some(url::Host::Domain("localhost")) => std::net::IpAddr::from([127, 0, 0, 1]),
        _ => {
            return Err(AdminError::invalid_input(format!(
                "{redirect_uri} is not a loopback redirect URI (http://127.0.0.1/…)"
            )))
        }
    };
    if u.scheme() != "http" {
        return Err(AdminError::invalid_input(format!(
            "{redirect_uri}: a loopback redirect is plain http:// (RFC 8252 §7.3)"
        )));
    }
    Ok((ip, u))
}

fn exchange_error<RE: std::error::Error + 'static>(
    endpoint: &str,
    e: RequestTokenError<RE, BasicErrorResponse>,
) -> AdminError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let error = r.error().as_ref();
            let code = match error {
                "invalid_grant" | "access_denied" => ErrorCode::Unauthorized,
                "invalid_client" | "unauthorized_client" => ErrorCode::Unauthorized,
                "invalid_scope" => ErrorCode::Forbidden,
                "temporarily_unavailable" => ErrorCode::Unavailable,
                _ => ErrorCode::InvalidInput,
            };
            let msg = match r.error_description() {
                Some(d) => format!("{error}: {d}"),
                None => error.to_string(),
            };
            AdminError::new(code, format!("the token endpoint refused the code ({msg})"))
        }
        // The HTTP function already said what to check (`signin::unavailable`).
        RequestTokenError::Request(e) => AdminError::new(ErrorCode::Unavailable, e.to_string()),
        RequestTokenError::Parse(..) => AdminError::new(
            ErrorCode::Unavailable,
            format!("{endpoint} answered with an unreadable token response"),
        ),
        RequestTokenError::Other(m) => {
            AdminError::new(ErrorCode::Unavailable, format!("{endpoint}: {m}"))
        }
    }
}

/// Runs the flow: `open` is handed the authorization URL (to open in the system
/// browser), then the listener waits for the redirect.
pub async fn run(
    http: &reqwest::Client,
    flow: CodeFlow<'_>,
    open: impl FnOnce(&str),
) -> Result<CodeTokens, AdminError> {
    let (ip, mut redirect) = loopback_target(flow.redirect_uri)?;
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.map_err(|e| {
        AdminError::new(
            ErrorCode::Unavailable,
            format!("cannot listen on {ip}: {e}"),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| AdminError::new(ErrorCode::Unavailable, format!("loopback listener: {e}")))?
        .port();
    let _ = redirect.set_port(Some(port));
    let path = redirect.path().to_string();
    let bad = |what: &str| AdminError::new(ErrorCode::Unavailable, format!("bad {what} endpoint"));
    let mut client: Client = oauth2::Client::new(ClientId::new(flow.client_id.into()))
        .set_auth_uri(
            AuthUrl::new(flow.authorization_endpoint.into()).map_err(|_| bad("authorization"))?,
        )
        .set_token_uri(TokenUrl::new(flow.token_endpoint.into()).map_err(|_| bad("token"))?)
        .set_redirect_uri(
            RedirectUrl::new(redirect.to_string())
                .map_err(|_| AdminError::invalid_input("bad redirect URI"))?,
        );
    if let Some(secret) = flow.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        if flow.secret_in_body {
            client = client.set_auth_type(AuthType::RequestBody);
        }
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut authorize = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(flow.scope.split_whitespace().map(|s| Scope::new(s.into())))
        .set_pkce_challenge(challenge);
    if let Some(r) = flow.resource {
        authorize = authorize.add_extra_param("resource", r);
    }
    if let Some(k) = &flow.dpop {
        authorize = authorize.add_extra_param("dpop_jkt", k.jkt());
    }
    let (mut url, state) = authorize.url();
    if let Some(endpoint) = flow.par_endpoint {
        let request_uri = push(http, &flow, endpoint, &url).await?;
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("client_id", flow.client_id)
            .append_pair("request_uri", &request_uri);
    }
    open(url.as_str());
    let params = tokio::time::timeout(
        flow.timeout,
        wait_for_redirect(&listener, &path, flow.done_message),
    )
    .await
    .map_err(|_| {
        AdminError::new(
            ErrorCode::Unauthorized,
            format!(
                "no sign-in within {} minutes; start again",
                flow.timeout.as_secs().div_ceil(60)
            ),
        )
    })??;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // RFC 6749 §10.12: the state binds the answer to this request.
    if get("state") != Some(state.secret().as_str()) {
        return Err(AdminError::new(
            ErrorCode::Unauthorized,
            "the sign-in answer did not match this request (state mismatch); start again",
        ));
    }
    // RFC 9207 §2.4: an answer from another issuer than the one asked (a mix-up) is
    // dropped before anything in it is used.
    if let Some(expected) = flow.issuer {
        if get("iss") != Some(expected) {
            return Err(AdminError::new(
                ErrorCode::UntrustedServer,
                format!(
                    "the sign-in answer did not come from {expected} (iss {}); start again",
                    get("iss").unwrap_or("missing")
                ),
            ));
        }
    }
    if let Some(err) = get("error") {
        return Err(AdminError::new(
            if err == "access_denied" {
                ErrorCode::Forbidden
            } else {
                ErrorCode::Unauthorized
            },
            format!(
                "sign-in refused ({err}{})",
                get("error_description")
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let code = get("code").ok_or_else(|| {
        AdminError::new(
            ErrorCode::Unauthorized,
            "the sign-in answer carried no code",
        )
    })?;
    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code.into()))
        .set_pkce_verifier(verifier);
    if let Some(r) = flow.resource {
        exchange = exchange.add_extra_param("resource", r);
    }
    let t = exchange
        .request_async(&dpop::Http {
            http: http.clone(),
            key: flow.dpop.clone(),
        })
        .await
        .map_err(|e| exchange_error(flow.token_endpoint, e))?;
    Ok(CodeTokens {
        access_token: Secret::new(t.access_token().secret().clone()),
        refresh_token: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
        id_token: t.extra_fields().id_token.clone().map(Secret::new),
        expires_in: t.expires_in().map(|d| d.as_secs() as i64),
        scope: t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        token_type: Some(dpop::token_type_name(t.token_type().as_ref())),
    })
}

/// A form POST to `endpoint` authenticated as a client of the token endpoint is
/// (RFC 6749 §2.3.1): HTTP Basic with the id and secret form-urlencoded first, or both
/// in the body; a public client names itself with `client_id` in the body.
pub fn client_form_request(
    endpoint: &str,
    client_id: &str,
    secret: Option<&Secret>,
    secret_in_body: bool,
    pairs: &[(String, String)],
) -> Result<oauth2::HttpRequest, AdminError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    let has_id = pairs.iter().any(|(k, _)| k == "client_id");
    let mut req = oauth2::http::Request::builder()
        .method("POST")
        .uri(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    match secret {
        Some(s) if secret_in_body => {
            if !has_id {
                form.append_pair("client_id", client_id);
            }
            form.append_pair("client_secret", s.expose());
        }
        Some(s) => {
            use base64::Engine;
            let enc =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(client_id), enc(s.expose()));
            req = req.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            );
        }
        None if !has_id => {
            form.append_pair("client_id", client_id);
        }
        None => {}
    }
    req.body(form.finish().into_bytes())
        .map_err(|_| AdminError::invalid_input(format!("{endpoint}: not a request")))
}

/// RFC 9126 §2: pushes the request `authorize` carries (its query), authenticated as the
/// token endpoint would authenticate the client; answers the `request_uri`.
async fn push(
    http: &reqwest::Client,
    flow: &CodeFlow<'_>,
    endpoint: &str,
    authorize: &url::Url,
) -> Result<String, AdminError> {
    let pairs: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let req = client_form_request(
        endpoint,
        flow.client_id,
        flow.client_secret,
        flow.secret_in_body,
        &pairs,
    )?;
    let resp = dpop::send(http, flow.dpop.as_deref(), req).await?;
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
    match body.get("request_uri").and_then(|v| v.as_str()) {
        Some(uri) if resp.status().as_u16() == 201 => Ok(uri.to_string()),
        _ => Err(AdminError::new(
            ErrorCode::Unauthorized,
            format!(
                "the PAR endpoint refused the request ({}{})",
                body.get("error")
                    .and_then(|v| v.as_str())
                    .unwrap_or("no request_uri"),
                body.get("error_description")
                    .and_then(|v| v.as_str())
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// Serves the loopback listener until a request for `path` arrives; returns its query
/// parameters. Other requests (a browser's `/favicon.ico`) get a 404.
pub async fn wait_for_redirect(
    listener: &tokio::net::TcpListener,
    path: &str,
    done_message: &str,
) -> Result<Vec<(String, String)>, AdminError> {
    loop {
        let (mut sock, _) = listener.accept().await.map_err(|e| {
            AdminError::new(ErrorCode::Unavailable, format!("loopback listener: {e}"))
        })?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        // The request line is all that matters; stop at the end of the head.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        let (got, query) = target.split_once('?').unwrap_or((target, ""));
        if got != path {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let body = format!(
            "<!doctype html><title>Latchkey</title><p>{}</p>",
            done_message
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        );
        // The page carries no token, but keep it out of caches and other origins.
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        let _ = sock.shutdown().await;
        return Ok(url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_loopback_listener_returns_the_callback_query_and_ignores_other_paths() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter =
            tokio::spawn(async move { wait_for_redirect(&listener, "/callback", "done").await });
        let http = reqwest::Client::new();
        let r = http
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let r = http
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=abc&state=x%20y"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let params = waiter.await.unwrap().unwrap();
        assert_eq!(
            params,
            vec![
                ("code".into(), "abc".into()),
                ("state".into(), "x y".into())
            ]
        );
    }

    #[test]
    fn only_a_plain_http_loopback_redirect_can_be_listened_on() {
        assert!(loopback_target("http://127.0.0.1/callback").is_ok());
        assert!(loopback_target("http://[::1]:3000/cb").is_ok());
        assert!(loopback_target("http://localhost:3000/cb").is_ok());
        for bad in [
            "https://app.example/cb",
            "http://app.example/cb",
            "https://127.0.0.1/cb",
            "com.example.app:/cb",
            "not a url",
        ] {
            let e = loopback_target(bad).unwrap_err();
            assert_eq!(e.code, "invalid_input", "{bad}");
        }
    }
}
