//! "Try it": runs a client's own flow against the connected server, as the client
//! would, and hands the tokens to the inspector.
//!
//! Client credentials (RFC 6749 §4.4) go straight to the token endpoint; the
//! authorization code (§4.1, with S256 PKCE) runs in the system browser with the
//! client's registered loopback redirect on a free port (RFC 8252 §7.3). Both use the
//! `oauth2` crate, the endpoints found by discovery from the connection's issuer. The
//! client's secret, when it has one, is typed in by the administrator for this one run:
//! the console never stores it. A token exchange (RFC 8693 §2.1) is a plain form POST to
//! the token endpoint (the `oauth2` crate has no such grant), authenticated as the
//! client's own method says; the server's exchange policies decide.

use crate::console::Console;
use latchkey_admin::AdminError;
use latchkey_admin_client::dpop::{self, DpopKey};
use latchkey_admin_client::loopback::{self, CodeFlow};
use latchkey_admin_client::signin::{self, Secret};
use latchkey_api_types::ClientDto;
use latchkey_api_types::ErrorCode;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use std::time::Duration;

pub use latchkey_api_types::shell::{ClientTryRequest, ClientTryResult};

/// The grants "Try it" can run for `c`, in the order offered. Any confidential client
/// may try an exchange: whether it is allowed is its exchange policies' business, and
/// the server's refusal says which rule refused.
pub fn runnable(c: &ClientDto) -> Vec<&'static str> {
    let mut out = Vec::new();
    for g in ["authorization_code", "client_credentials"] {
        if c.grant_types.iter().any(|x| x == g) {
            out.push(g);
        }
    }
    if c.client_type == "confidential" && c.auth_method != "none" {
        out.push("token_exchange");
    }
    out
}

/// RFC 8693 §3: a short token type name (`access_token`) as its URN; a URN as it is.
fn token_type_urn(t: &str) -> String {
    if t.starts_with("urn:") {
        t.to_string()
    } else {
        format!("urn:ietf:params:oauth:token-type:{t}")
    }
}

/// RFC 8693 §2.2.1 / RFC 6749 §5.2: the token endpoint's answer to an exchange.
#[derive(serde::Deserialize)]
struct ExchangeAnswer {
    access_token: Option<String>,
    issued_token_type: Option<String>,
    token_type: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn token_exchange(
    token_endpoint: &str,
    c: &ClientDto,
    secret: Option<&Secret>,
    req: &ClientTryRequest,
    scope: &str,
    key: Option<&DpopKey>,
) -> Result<ClientTryResult, AdminError> {
    let subject = req
        .subject_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AdminError::invalid_input("paste the subject token to exchange"))?;
    let mut form: Vec<(&str, String)> = vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange".into(),
        ),
        ("subject_token", subject.into()),
        (
            "subject_token_type",
            token_type_urn(req.subject_token_type.as_deref().unwrap_or("access_token")),
        ),
    ];
    if let Some(a) = req
        .actor_token
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        form.push(("actor_token", a.into()));
        form.push(("actor_token_type", token_type_urn("access_token")));
    }
    for (k, v) in [("audience", &req.audience), ("resource", &req.resource)] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            form.push((k, v.into()));
        }
    }
    if let Some(t) = req
        .requested_token_type
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        form.push(("requested_token_type", token_type_urn(t)));
    }
    if !scope.trim().is_empty() {
        form.push(("scope", scope.trim().into()));
    }
    let pairs: Vec<(String, String)> = form.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let post = loopback::client_form_request(
        token_endpoint,
        &c.client_id,
        secret,
        c.auth_method == "client_secret_post",
        &pairs,
    )?;
    let resp = dpop::send(&signin::http_client(), key, post).await?;
    let answer: ExchangeAnswer = serde_json::from_slice(resp.body()).map_err(|_| {
        AdminError::new(
            ErrorCode::Unavailable,
            "the token endpoint's answer is not JSON",
        )
    })?;
    match (answer.access_token, answer.error) {
        (Some(token), None) => Ok(ClientTryResult {
            grant: req.grant.clone(),
            access_token: token,
            id_token: None,
            expires_in: answer.expires_in,
            scope: answer.scope,
            refresh_token_issued: answer.refresh_token.is_some(),
            redirect_uri: None,
            issued_token_type: answer.issued_token_type,
            token_type: answer.token_type,
            dpop_jkt: key.map(|k| k.jkt().to_string()),
            pushed: false,
        }),
        (_, error) => Err(AdminError::new(
            ErrorCode::Unauthorized,
            format!(
                "the server refused the exchange ({}{}); the Exchange page's explain tool says which rule",
                error.as_deref().unwrap_or("no token"),
                answer
                    .error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        )),
    }
}

fn default_scope(c: &ClientDto, grant: &str) -> String {
    c.allowed_scopes
        .iter()
        // Client credentials act for no user: the OIDC scopes do not apply (and
        // offline_access is meaningless without a user).
        .filter(|s| {
            grant == "authorization_code"
                || !matches!(
                    s.as_str(),
                    "openid" | "profile" | "email" | "address" | "phone" | "offline_access"
                )
        })
        // The admin scopes are granted to administrators only; asking for them in a
        // trial would only be narrowed away.
        .filter(|s| !s.starts_with("latchkey:"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn client_try(
    console: &Console,
    req: ClientTryRequest,
) -> Result<ClientTryResult, AdminError> {
    let c = console.backend().await?.client_get(&req.id).await?;
    if c.disabled {
        return Err(AdminError::new(
            ErrorCode::Conflict,
            "the client is disabled: the server refuses it every token; enable it first",
        ));
    }
    if !runnable(&c).contains(&req.grant.as_str()) {
        return Err(AdminError::invalid_input(format!(
            "this client is not registered for {}; it can try: {}",
            req.grant,
            runnable(&c).join(", ")
        )));
    }
    let secret = match (c.client_type.as_str(), c.auth_method.as_str()) {
        ("public", _) | (_, "none") => None,
        (_, "client_secret_basic" | "client_secret_post") => {
            match req.client_secret.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => Some(Secret::new(s)),
                _ => {
                    return Err(AdminError::invalid_input(
                        "enter the client's secret (it is used for this try and not kept)",
                    ))
                }
            }
        }
        (_, other) => {
            return Err(AdminError::invalid_input(format!(
                "a {other} client signs its own assertions with its private key, which the \
                 console does not hold; try it from the application"
            )))
        }
    };
    let in_body = c.auth_method == "client_secret_post";
    let scope = req
        .scope
        .clone()
        // An exchange asks for no scope by default: the subject's, narrowed by the policy.
        .unwrap_or_else(|| match req.grant.as_str() {
            "token_exchange" => String::new(),
            g => default_scope(&c, g),
        });
    let http = signin::http_client();
    let ep = signin::discover(&http, &console.issuer()).await?;
    // A client whose tokens must be bound gets nothing without a proof (RFC 9449 §5.2),
    // and one that must push is refused at /authorize without a push (RFC 9126 §6):
    // the try runs them so rather than fail.
    let shared = if req.dpop || c.dpop_bound_access_tokens {
        Some(std::sync::Arc::new(DpopKey::generate()?))
    } else {
        None
    };
    let key = shared.as_deref();
    let par = req.par
        || c.require_pushed_authorization_requests
        || ep.require_pushed_authorization_requests;
    let par_endpoint = match (par, req.grant.as_str()) {
        (true, "authorization_code") => Some(
            ep.pushed_authorization_request_endpoint
                .clone()
                .ok_or_else(|| {
                    AdminError::new(
                        ErrorCode::Unavailable,
                        "the server has no PAR endpoint (pushed_authorization_request_endpoint)",
                    )
                })?,
        ),
        _ => None,
    };
    match req.grant.as_str() {
        "token_exchange" => {
            token_exchange(&ep.token_endpoint, &c, secret.as_ref(), &req, &scope, key).await
        }
        "client_credentials" => {
            let token_url = TokenUrl::new(ep.token_endpoint.clone())
                .map_err(|_| AdminError::new(ErrorCode::Unavailable, "bad token endpoint"))?;
            let mut client =
                BasicClient::new(ClientId::new(c.client_id.clone())).set_token_uri(token_url);
            if let Some(s) = &secret {
                client = client.set_client_secret(ClientSecret::new(s.expose().into()));
                if in_body {
                    client = client.set_auth_type(AuthType::RequestBody);
                }
            }
            let t = client
                .exchange_client_credentials()
                .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.into())))
                .request_async(&dpop::Http {
                    http: http.clone(),
                    key: shared.clone(),
                })
                .await
                .map_err(|e| match e {
                    oauth2::RequestTokenError::ServerResponse(r) => AdminError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "the server refused the client ({}{})",
                            r.error().as_ref(),
                            r.error_description()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        ),
                    ),
                    other => AdminError::new(
                        ErrorCode::Unavailable,
                        format!("token request to {} failed: {other}", ep.token_endpoint),
                    ),
                })?;
            Ok(ClientTryResult {
                grant: req.grant,
                access_token: t.access_token().secret().clone(),
                id_token: None,
                expires_in: t.expires_in().map(|d| d.as_secs() as i64),
                scope: t
                    .scopes()
                    .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
                refresh_token_issued: t.refresh_token().is_some(),
                redirect_uri: None,
                issued_token_type: None,
                token_type: Some(dpop::token_type_name(t.token_type().as_ref())),
                dpop_jkt: key.map(|k| k.jkt().to_string()),
                pushed: false,
            })
        }
        _ => {
            let redirect = c
                .redirect_uris
                .iter()
                .find(|u| {
                    url::Url::parse(u).is_ok_and(|u| {
                        u.scheme() == "http"
                            && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
                    })
                })
                .ok_or_else(|| {
                    AdminError::invalid_input(
                        "Try it receives the code on this computer, so the client needs a \
                         loopback redirect URI (http://127.0.0.1/…); add one, or try the \
                         flow from the application",
                    )
                })?
                .clone();
            let opener = console.opener();
            let t = loopback::run(
                &http,
                CodeFlow {
                    authorization_endpoint: &ep.authorization_endpoint,
                    token_endpoint: &ep.token_endpoint,
                    client_id: &c.client_id,
                    client_secret: secret.as_ref(),
                    secret_in_body: in_body,
                    redirect_uri: &redirect,
                    scope: &scope,
                    timeout: Duration::from_secs(300),
                    done_message: "Signed in. The tokens are in the Latchkey console's \
                                   inspector; you may close this tab.",
                    issuer: None,
                    resource: None,
                    dpop: shared.clone(),
                    par_endpoint: par_endpoint.as_deref(),
                },
                move |url| opener(url),
            )
            .await?;
            Ok(ClientTryResult {
                grant: req.grant,
                access_token: t.access_token.expose().to_string(),
                id_token: t.id_token.map(|s| s.expose().to_string()),
                expires_in: t.expires_in,
                scope: t.scope,
                refresh_token_issued: t.refresh_token.is_some(),
                redirect_uri: Some(redirect),
                issued_token_type: None,
                token_type: t.token_type,
                dpop_jkt: key.map(|k| k.jkt().to_string()),
                pushed: par_endpoint.is_some(),
            })
        }
    }
}
