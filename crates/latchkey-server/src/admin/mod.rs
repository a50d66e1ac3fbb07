//! The admin API (`/admin/v1/…`) on the admin listener: one route per
//! [`AdminBackend`] method, same name, over the server's own store.
//!
//! Who may call it ([`auth`]): bearer access tokens of this server carrying
//! `latchkey:admin` (or `latchkey:admin:read`, reads only) whose subject is a live user
//! with the admin role, or admin API keys (`lk_…`, read-only or read-write, expiring).
//! Never cookies, so nothing here can be driven cross-site (AD-05), and no CORS
//! headers are ever sent (AD-02).
//!
//! Every route and its schemas are listed once, in `latchkey_api_types::ops` (the op
//! table every layer derives from): the router ([`routes`]), the OpenAPI document
//! (`/admin/v1/openapi.json`), the access rule and the tests all walk it.

pub mod auth;
pub mod openapi;
mod routes;

use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use latchkey_admin::AdminError;
use latchkey_api_types::ApiErrorDto;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The admin listener's router: health and the OpenAPI document unauthenticated,
/// everything else behind [`auth::require_admin`].
pub fn admin_router(st: Arc<AppState>) -> Router {
    routes::router(st)
        .layer(axum::middleware::from_fn(crate::metrics::track_admin))
        // Admin bodies are small JSON documents; a client JWK Set is the largest.
        .layer(DefaultBodyLimit::max(256 * 1024))
}

/// An admin operation's failure on the wire: `{code, message}` with the status its
/// code implies, never cached.
#[derive(Debug)]
pub struct ApiError(pub AdminError);

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        ApiError(e)
    }
}

/// The status of an error code: `ErrorCode::http_status`, the one mapping.
pub fn status_for(code: latchkey_api_types::ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_for(self.0.code);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The message is already free of secrets; the log keeps it for operators.
            tracing::error!(code = %self.0.code, message = %self.0.message, "admin API error");
        }
        let body = ApiErrorDto::from(self.0);
        let mut r = (status, axum::Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match status {
            StatusCode::UNAUTHORIZED => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"latchkey-admin\""),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body whose every rejection (bad JSON, wrong type, missing content type, too
/// large) is an `invalid_input` error in the API's own shape, not axum's plain text.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError(json_rejection(e))),
        }
    }
}

fn json_rejection(e: JsonRejection) -> AdminError {
    let message = match e {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON (Content-Type: application/json)".to_string()
        }
        JsonRejection::BytesRejection(_) => "the body is too large or unreadable".to_string(),
        other => format!("invalid JSON body: {}", bounded(&other.body_text())),
    };
    AdminError::invalid_input(message)
}

/// Query parameters, with rejections as `invalid_input`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError(query_rejection(e))),
        }
    }
}

fn query_rejection(e: QueryRejection) -> AdminError {
    AdminError::invalid_input(format!(
        "invalid query parameters: {}",
        bounded(&e.body_text())
    ))
}

/// Serde's messages quote the offending input; keep them short and printable.
fn bounded(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// 201 with a JSON body (creations).
pub fn created<T: serde::Serialize>(v: T) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}
