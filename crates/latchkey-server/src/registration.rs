//! Dynamic client registration over HTTP (RFC 7591 §3, RFC 7592 §2): `POST /register`
//! and `GET|PUT|DELETE /register/{client_id}`, routed only when the server runs with
//! `--registration`. The engine (`latchkey_core::oauth::registration`) decides; this
//! module parses, limits and shapes the answers.
//!
//! A wrong or missing token counts as a failed client authentication of the caller's
//! address (the same limiter as `/token`), so guessing tokens is cut off with 429 like
//! guessing secrets; a valid initial access token registers at most its `uses`.

use crate::http::*;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_api_types::SecurityFamily;
use latchkey_core::oauth::error::OAuthError;
use latchkey_core::oauth::registration::RegistrationError;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

type St = State<Arc<AppState>>;
type Peer = ConnectInfo<SocketAddr>;

/// The limiter key of a caller.
fn key_of(st: &AppState, peer: SocketAddr, headers: &HeaderMap) -> (String, String) {
    let ip = st.client_ip(peer, headers).to_string();
    (format!("ip:{ip}"), ip)
}

fn refused(st: &AppState, key: &str, ip: &str, e: RegistrationError) -> Response {
    match e {
        RegistrationError::InvalidToken => {
            st.limits.client_auth.fail(key);
            st.count_security_event(SecurityFamily::TokenRejected, Some("registration"), ip);
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latchkey\", error=\"invalid_token\""),
            );
            no_store(r.headers_mut());
            r
        }
        RegistrationError::Invalid(e) => oauth_error_response(&e),
        RegistrationError::Unavailable => oauth_error_response(&OAuthError::unavailable()),
    }
}

/// The JSON body of a registration request (RFC 7591 §3.1: `application/json`).
#[allow(clippy::result_large_err)]
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(oauth_error_response(&OAuthError::invalid_request(
            "the body must be application/json",
        )));
    }
    serde_json::from_slice(body).map_err(|_| {
        oauth_error_response(&OAuthError::new(
            latchkey_core::oauth::error::ErrorCode::InvalidClientMetadata,
            "the body is not JSON",
        ))
    })
}

/// A blocked caller is answered before anything is looked up.
fn throttled(st: &AppState, key: &str, ip: &str) -> Option<Response> {
    let wait = st.limits.client_auth.blocked(key)?;
    st.count_security_event(SecurityFamily::RateLimited, Some("registration"), ip);
    Some(too_many(wait))
}

/// `POST /register` (RFC 7591 §3.1): 201 with the client information (§3.2.1).
pub async fn register(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, ip) = key_of(&st, peer, &headers);
    if let Some(r) = throttled(&st, &key, &ip) {
        return r;
    }
    let body = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match st
        .provider
        .register_client(bearer(&headers).as_deref(), &body)
        .await
    {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(e) => refused(&st, &key, &ip, e),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(st): St,
    ConnectInfo(peer): Peer,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (key, ip) = key_of(&st, peer, &headers);
    if let Some(r) = throttled(&st, &key, &ip) {
        return r;
    }
    match st
        .provider
        .registration_read(&client_id, bearer(&headers).as_deref())
        .await
    {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => refused(&st, &key, &ip, e),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2).
pub async fn update(
    State(st): St,
    ConnectInfo(peer): Peer,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, ip) = key_of(&st, peer, &headers);
    if let Some(r) = throttled(&st, &key, &ip) {
        return r;
    }
    let body = match json_body(&headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match st
        .provider
        .registration_update(&client_id, bearer(&headers).as_deref(), &body)
        .await
    {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => refused(&st, &key, &ip, e),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): 204.
pub async fn delete(
    State(st): St,
    ConnectInfo(peer): Peer,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (key, ip) = key_of(&st, peer, &headers);
    if let Some(r) = throttled(&st, &key, &ip) {
        return r;
    }
    match st
        .provider
        .registration_delete(&client_id, bearer(&headers).as_deref())
        .await
    {
        Ok(()) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => refused(&st, &key, &ip, e),
    }
}
