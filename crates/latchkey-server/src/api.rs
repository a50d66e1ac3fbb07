//! The JSON endpoints: discovery, JWKS, token, introspection, revocation, userinfo and
//! device authorization. Each one parses, calls the engine, and shapes the answer per
//! its RFC; no protocol decisions are made here.

use crate::http::*;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_api_types::SecurityFamily;
use latchkey_core::monitor::Signal;
use latchkey_core::oauth::client_auth::{Presented, CLIENT_AUTH_THROTTLED};
use latchkey_core::oauth::dpop::{self, ResourceRefusal, Scheme};
use latchkey_core::oauth::error::{ErrorCode, OAuthError};
use latchkey_core::oauth::introspect::{BearerError, ResourceRequest};
use std::net::SocketAddr;
use std::sync::Arc;

type St = State<Arc<AppState>>;
type Peer = ConnectInfo<SocketAddr>;

pub async fn discovery(State(st): St) -> Response {
    let mut r = axum::Json(st.provider.discovery()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

pub async fn jwks(State(st): St) -> Response {
    match st.provider.jwks().await {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            if let Ok(h) = HeaderValue::from_str(&format!(
                "public, max-age={}",
                st.provider.config.jwks_max_age
            )) {
                r.headers_mut().insert(header::CACHE_CONTROL, h);
            }
            r
        }
        Err(e) => oauth_error_response(&e),
    }
}

/// Parses a client-authenticated form POST; on success returns params + presented
/// credentials, on failure the finished error response (built once per failed
/// request, so its size does not matter).
#[allow(clippy::result_large_err)]
fn client_form(
    st: &AppState,
    endpoint: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Params, Presented, String), Response> {
    let addr = st.client_ip(peer, headers);
    let ip = addr.to_string();
    let key = format!("ip:{ip}");
    // A blocked address is answered before anything is parsed or looked up, and its
    // refusals are counted, not written one by one (AD-43).
    if let Some(wait) = st.limits.client_auth.blocked(&key) {
        st.count_security_event(SecurityFamily::RateLimited, Some(endpoint), &ip);
        return Err(too_many(wait));
    }
    // Malformed requests are unauthenticated failures too: counted per address, so a
    // flood of them is cut off like a flood of wrong secrets.
    let malformed = |e: &OAuthError| {
        st.limits.client_auth.fail(&key);
        oauth_error_response(e)
    };
    require_form(headers).map_err(|e| malformed(&e))?;
    let params = Params::parse(body);
    if !params.duplicated.is_empty() {
        return Err(malformed(&OAuthError::invalid_request(
            "a parameter is repeated",
        )));
    }
    // RFC 8707 §2: a resource value must be an absolute URI (never empty, never with a
    // space); an audience value the same, as the form hands several on space-separated.
    if !params.malformed.is_empty() {
        return Err(malformed(&OAuthError::invalid_request(
            "a resource or audience value is empty or contains whitespace",
        )));
    }
    let basic = basic_auth(headers).map_err(|e| malformed(&e))?;
    Ok((
        params,
        Presented {
            basic,
            ip: Some(ip),
            user_agent: crate::pages::user_agent(headers),
            dpop: dpop_headers(headers),
            origin: headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        },
        key,
    ))
}

/// Every `DPoP` header value, in order (RFC 9449 §4.3 refuses more than one). A value
/// that is not visible ASCII stays in the list as an empty string, which no check
/// accepts.
pub fn dpop_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("dpop")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect()
}

/// RFC 9449 §8.1: the nonce the client must put in its next proof.
fn add_dpop_nonce(st: &AppState, r: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(&st.provider.dpop_nonce()) {
        r.headers_mut().insert("dpop-nonce", v);
    }
}

/// The block list (issue 14): the caller's address, or the client it names from
/// there. Refused like a limiter's block (429 with the wait, RFC 6585 §4).
async fn block_refusal(
    st: &AppState,
    endpoint: &str,
    params: &Params,
    presented: &Presented,
) -> Option<Response> {
    let addr: std::net::IpAddr = presented.ip.as_deref()?.parse().ok()?;
    let client = presented_client(params, presented).map(|c| format!("client:{c}"));
    let wait = st.blocked(addr, client.as_deref(), endpoint).await?;
    Some(too_many(wait))
}

/// The client id a request names (Basic user, or the form's `client_id`).
fn presented_client<'a>(params: &'a Params, presented: &'a Presented) -> Option<&'a str> {
    presented
        .basic
        .as_ref()
        .map(|b| b.0.as_str())
        .or(params.get("client_id"))
}

/// The engine's answer to a refused request. Failed client authentications were
/// already checked and counted by the limiter (the engine's `FailureGate`); one it
/// stopped because the address is blocked is a 429 with the wait (RFC 6585 §4).
fn refusal(
    st: &AppState,
    endpoint: &str,
    key: &str,
    params: &Params,
    presented: &Presented,
    e: &OAuthError,
) -> Response {
    // A failed client authentication is a signal for the detections (secret guessing).
    if e.code == ErrorCode::InvalidClient {
        if let (Some(client_id), Some(ip)) =
            (presented_client(params, presented), presented.ip.as_deref())
        {
            if let Ok(addr) = ip.parse() {
                st.report(
                    Signal::ClientAuthFailed {
                        client_id: client_id.to_string(),
                        addr,
                    },
                    ip,
                );
            }
        }
    }
    if e.code == ErrorCode::SlowDown && e.description() == Some(CLIENT_AUTH_THROTTLED) {
        let ip = presented.ip.as_deref().unwrap_or("");
        st.count_security_event(SecurityFamily::RateLimited, Some(endpoint), ip);
        return too_many(st.limits.client_auth.blocked(key).unwrap_or(1));
    }
    oauth_error_response(e)
}

/// Runs an engine call in a task of its own. A client that hangs up drops the handler's
/// future at whatever await it is in; the grant and revocation paths take more than one
/// store call (a reuse detected, then the family revoked; a code redeemed, then its
/// audit), so they must finish whatever the client does. Each store call is safe to drop
/// on its own (the store's `write`); this keeps the sequence whole. The task runs in the
/// request's span, so its log lines keep the request's correlation id. A panic in the
/// task is answered as the engine's `server_error`, never as a dropped connection.
async fn run_to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, OAuthError>> + Send + 'static,
) -> Result<T, OAuthError> {
    use tracing::Instrument;
    tokio::spawn(work.in_current_span())
        .await
        .unwrap_or_else(|_| Err(OAuthError::server_error()))
}

pub async fn token(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, presented, key) = match client_form(&st, "token", peer, &headers, &body) {
        Ok(x) => x,
        Err(r) => {
            // Malformed requests (wrong content type, repeated parameters) count as
            // refusals too; throttled ones (429) are not recorded again.
            if r.status() == StatusCode::BAD_REQUEST {
                let p = Presented {
                    basic: None,
                    ip: Some(st.client_ip(peer, &headers).to_string()),
                    user_agent: None,
                    dpop: Vec::new(),
                    origin: None,
                };
                let e = OAuthError::invalid_request("malformed token request");
                record_token_rejection(&st, &Params::default(), &p, &e).await;
            }
            return r;
        }
    };
    if let Some(r) = block_refusal(&st, "token", &params, &presented).await {
        return r;
    }
    let outcome = {
        let (provider, map, presented) =
            (st.provider.clone(), params.map.clone(), presented.clone());
        run_to_completion(async move { provider.token(&map, &presented).await }).await
    };
    match outcome {
        Ok(resp) => {
            st.metrics.token_issued();
            let mut r = json_response(
                StatusCode::OK,
                &serde_json::to_value(&resp).unwrap_or_default(),
            );
            // A fresh nonce for the client's next proof (RFC 9449 §8.2).
            if !presented.dpop.is_empty() && st.provider.dpop_nonce_required() {
                add_dpop_nonce(&st, &mut r);
            }
            r
        }
        Err(e) => {
            record_token_rejection(&st, &params, &presented, &e).await;
            let mut r = refusal(&st, "token", &key, &params, &presented, &e);
            if e.code == ErrorCode::UseDpopNonce {
                add_dpop_nonce(&st, &mut r);
            }
            r
        }
    }
}

/// Catalogue §1: every refused token request leaves a security audit event. Failed
/// client authentication is already recorded by the engine (as are code and refresh
/// token reuse, under their own actions); device-flow polling answers are not refusals.
async fn record_token_rejection(
    st: &AppState,
    params: &Params,
    presented: &Presented,
    e: &OAuthError,
) {
    if !matches!(
        e.code,
        ErrorCode::InvalidRequest
            | ErrorCode::InvalidDpopProof
            | ErrorCode::InvalidGrant
            | ErrorCode::UnauthorizedClient
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::InvalidScope
    ) {
        return;
    }
    let client = presented
        .basic
        .as_ref()
        .map(|b| b.0.as_str())
        .or(params.get("client_id"));
    st.provider
        .security_event(
            "anonymous",
            SecurityFamily::TokenRejected,
            Some(e.code.as_str()),
            client,
            presented.ip.as_deref(),
        )
        .await;
}

pub async fn introspect(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, presented, key) = match client_form(&st, "introspect", peer, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = block_refusal(&st, "introspect", &params, &presented).await {
        return r;
    }
    match st.provider.introspect(&params.map, &presented).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => refusal(&st, "introspect", &key, &params, &presented, &e),
    }
}

pub async fn revoke(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, presented, key) = match client_form(&st, "revoke", peer, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = block_refusal(&st, "revoke", &params, &presented).await {
        return r;
    }
    let outcome = {
        let (provider, map, presented) =
            (st.provider.clone(), params.map.clone(), presented.clone());
        run_to_completion(async move { provider.revoke(&map, &presented).await }).await
    };
    match outcome {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => refusal(&st, "revoke", &key, &params, &presented, &e),
    }
}

pub async fn device_authorization(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, presented, key) =
        match client_form(&st, "device_authorization", peer, &headers, &body) {
            Ok(x) => x,
            Err(r) => return r,
        };
    if let Some(r) = block_refusal(&st, "device_authorization", &params, &presented).await {
        return r;
    }
    match st
        .provider
        .device_authorization(&params.map, &presented)
        .await
    {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => refusal(&st, "device_authorization", &key, &params, &presented, &e),
    }
}

/// RFC 9126 §2: the pushed authorization request endpoint. POST only (the router
/// answers other methods 405); client authentication and its limits as at `/token`;
/// 201 with the `request_uri` (§2.2), errors as at `/token` (§2.3).
pub async fn par(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, presented, key) = match client_form(&st, "par", peer, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = block_refusal(&st, "par", &params, &presented).await {
        return r;
    }
    match st
        .provider
        .push_authorization_request(&params.map, &params.refused(), &presented)
        .await
    {
        Ok(v) => json_response(StatusCode::CREATED, &serde_json::json!(v)),
        Err(e) => {
            let mut r = refusal(&st, "par", &key, &params, &presented, &e);
            if e.code == ErrorCode::UseDpopNonce {
                add_dpop_nonce(&st, &mut r);
            }
            r
        }
    }
}

/// RFC 9449 §7.1: a refusal under the `DPoP` scheme names the error and the
/// algorithms a proof may use; `use_dpop_nonce` comes with the nonce.
fn dpop_error(st: &AppState, error: &str) -> Response {
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    let www = format!(
        "DPoP realm=\"latchkey\", error=\"{error}\", algs=\"{}\"",
        dpop::algs_list()
    );
    if let Ok(v) = HeaderValue::from_str(&www) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if error == "use_dpop_nonce" {
        add_dpop_nonce(st, &mut r);
    }
    no_store(r.headers_mut());
    r
}

fn bearer_error(st: &AppState, e: BearerError, scheme: Scheme) -> Response {
    let (status, www) = match e {
        BearerError::Dpop(ResourceRefusal::KeyMismatch) => return dpop_error(st, "invalid_token"),
        BearerError::Dpop(ResourceRefusal::InvalidProof) => {
            return dpop_error(st, "invalid_dpop_proof")
        }
        BearerError::Dpop(ResourceRefusal::UseNonce) => return dpop_error(st, "use_dpop_nonce"),
        BearerError::Dpop(ResourceRefusal::Unavailable) => {
            return oauth_error_response(&OAuthError::unavailable());
        }
        BearerError::InvalidToken if scheme == Scheme::Dpop => {
            return dpop_error(st, "invalid_token")
        }
        BearerError::Missing => (StatusCode::UNAUTHORIZED, "Bearer realm=\"latchkey\""),
        BearerError::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"latchkey\", error=\"invalid_token\"",
        ),
        BearerError::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "Bearer realm=\"latchkey\", error=\"insufficient_scope\", scope=\"openid\"",
        ),
        BearerError::Unavailable => {
            return oauth_error_response(&OAuthError::unavailable());
        }
    };
    let mut r = status.into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(www));
    no_store(r.headers_mut());
    r
}

/// OIDC Core §5.3: GET or POST with the header, or POST with a form body
/// (RFC 6750 §2.2). Query tokens are refused (RFC 6750 §2.3, RFC 9700 §4.3.2).
pub async fn userinfo(
    State(st): St,
    ConnectInfo(peer): Peer,
    method: axum::http::Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // An address blocked for scanning tokens (detection 8 in enforce mode) is refused
    // here too, like at the other token endpoints.
    let addr = st.client_ip(peer, &headers);
    if let Some(wait) = st.blocked(addr, None, "userinfo").await {
        return too_many(wait);
    }
    // RFC 6750 §3, §3.1: no usable token in the request, so the Bearer challenge,
    // with error="invalid_request".
    let refuse = |d: &'static str| {
        let mut r = oauth_error_response(&OAuthError::invalid_request(d));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"latchkey\", error=\"invalid_request\""),
        );
        r
    };
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    if q.get("access_token").is_some() {
        return refuse("access tokens are not accepted in the query string");
    }
    let (scheme, header_token) = match authorization_token(&headers) {
        Some((s, t)) => (s, Some(t)),
        None => (Scheme::Bearer, None),
    };
    let body_token = if !body.is_empty() && require_form(&headers).is_ok() {
        Params::parse(&body).get("access_token").map(str::to_string)
    } else {
        None
    };
    if header_token.is_some() && body_token.is_some() {
        return refuse("more than one access token presented");
    }
    let ip = addr.to_string();
    let proofs = dpop_headers(&headers);
    let token = header_token.or(body_token);
    let req = ResourceRequest {
        token: token.as_deref(),
        scheme,
        dpop: &proofs,
        method: method.as_str(),
        path: "/userinfo",
    };
    match st.provider.userinfo_request(&req, Some(&ip)).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => bearer_error(&st, e, scheme),
    }
}

/// `Authorization: Bearer <token>` (RFC 6750 §2.1) or `Authorization: DPoP <token>`
/// (RFC 9449 §7.1); the scheme name is case-insensitive (RFC 9110 §11.1).
pub fn authorization_token(headers: &HeaderMap) -> Option<(Scheme, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((scheme, rest.trim().to_string()))
}

pub async fn style() -> Response {
    let mut r = crate::html::STYLE.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}
