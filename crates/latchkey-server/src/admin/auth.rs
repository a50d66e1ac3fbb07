//! Who is calling the admin API, and may they do this.
//!
//! Two kinds of credential, as `Authorization: Bearer …` (RFC 6750 §2.1), or for a
//! DPoP-bound access token `Authorization: DPoP …` with a proof naming this request
//! (RFC 9449 §7.1; a bound token presented as Bearer is refused, so a stolen one is no
//! key without its private key):
//! * an admin API key (`lk_…`), looked up by its SHA-256; read-only keys may only read;
//! * an access token of this server (RFC 9068 JWT, checked exactly as introspection
//!   checks it: signature, key state, expiry, every revocation) carrying
//!   `latchkey:admin` (read and write) or `latchkey:admin:read` (read only), whose
//!   subject is a live user with the admin role *now* — a demoted admin's token stops
//!   working at once, not when it expires.
//!
//! An access token must also be *for* the admin API: its `aud` names the admin API's
//! URL (RFC 8707; [`latchkey_core::oauth::resource`]). A token minted for another
//! audience — the issuer's own endpoints, another server — is refused with 401 even when
//! it carries an admin scope (AD-21), so a token that leaks from elsewhere is no key here.
//!
//! Tokens that carry `act` (RFC 8693 delegation) and tokens issued by a token exchange
//! are refused with 401 whatever they carry (issue 13).
//!
//! Whether a route writes is its access level in the op table
//! (`latchkey_api_types::ops::ADMIN_OPS`, read through [`super::openapi::is_write`]);
//! introspecting a token is a read though it is a `POST`. 401 means "who are you?" (no or unusable
//! credential), 403 "you may not" (AD-01).

use super::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_admin::{AdminError, Embedded};
use latchkey_api_types::{ErrorCode, SecurityFamily};
use latchkey_core::model::{parse_scope, ADMIN_READ_SCOPE, ADMIN_SCOPE};
use latchkey_core::oauth::dpop::{ResourceRefusal, Scheme};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// The authenticated caller: the admin backend acting as them (their name in the audit
/// log, their address as the source of every change).
#[derive(Clone)]
pub struct Caller {
    pub backend: Embedded,
    pub actor: String,
    pub can_write: bool,
}

fn unauthorized(message: &str) -> Response {
    ApiError(AdminError::new(ErrorCode::Unauthorized, message)).into_response()
}

fn forbidden(message: &str) -> Response {
    ApiError(AdminError::new(ErrorCode::Forbidden, message)).into_response()
}

/// How a request presented its access token, for the DPoP checks (RFC 9449 §7.1).
pub(super) struct Binding {
    pub scheme: Scheme,
    pub proofs: Vec<String>,
    pub method: String,
    /// The admin API's public URL plus the request path: what `htu` must name.
    pub url: String,
}

impl Binding {
    fn of(st: &AppState, req: &Request, scheme: Scheme) -> Self {
        Binding {
            scheme,
            proofs: crate::api::dpop_headers(req.headers()),
            method: req.method().as_str().to_string(),
            url: format!(
                "{}{}",
                st.provider.admin_api().unwrap_or_default(),
                req.uri().path()
            ),
        }
    }
}

/// 401 with the `DPoP` challenge (RFC 9449 §7.1) and, for `use_dpop_nonce`, the nonce.
fn dpop_refused(st: &AppState, r: ResourceRefusal) -> Response {
    let (error, message) = match r {
        ResourceRefusal::KeyMismatch => (
            "invalid_token",
            "the access token is DPoP-bound: present it as DPoP with a proof by its key",
        ),
        ResourceRefusal::InvalidProof => ("invalid_dpop_proof", "the DPoP proof is invalid"),
        ResourceRefusal::UseNonce => ("use_dpop_nonce", "the DPoP proof must carry the nonce"),
        ResourceRefusal::Unavailable => {
            return ApiError(AdminError::new(
                ErrorCode::Unavailable,
                "the replay store is unavailable",
            ))
            .into_response()
        }
    };
    let mut resp = unauthorized(message);
    let www = format!(
        "DPoP error=\"{error}\", algs=\"{}\"",
        latchkey_core::oauth::dpop::algs_list()
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&www) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if r == ResourceRefusal::UseNonce {
        if let Ok(v) = axum::http::HeaderValue::from_str(&st.provider.dpop_nonce()) {
            resp.headers_mut().insert("dpop-nonce", v);
        }
    }
    resp
}

/// Authenticates the bearer credential and authorises the method, then hands the
/// request on with a [`Caller`] extension.
pub async fn require_admin(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    // Failed credentials are counted per address and rate-limited (AD-44): counted
    // security events, not a row each, so a flood of guesses writes a handful of rows.
    let ip = st.client_ip(peer, req.headers()).to_string();
    let key = format!("ip:{ip}");
    if let Some(wait) = st.limits.admin_auth.blocked(&key) {
        st.count_security_event(SecurityFamily::RateLimited, Some("admin"), &ip);
        let mut r = ApiError(AdminError::new(
            ErrorCode::RateLimited,
            "too many failed authentications from this address; retry later",
        ))
        .into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let failed = |resp: Response| {
        if resp.status() == axum::http::StatusCode::UNAUTHORIZED {
            st.limits.admin_auth.fail(&key);
            st.count_security_event(SecurityFamily::AdminAuthFailed, None, &ip);
        }
        resp
    };
    // No credential at all is the challenge of RFC 6750 §3, not a guess: answered 401
    // without a lookup, and not counted.
    let Some((scheme, token)) = credential(&req) else {
        return unauthorized("an admin API key or an admin access token is required");
    };
    let binding = Binding::of(&st, &req, scheme);
    let who = match identify(&st, &token, Some(&binding)).await {
        Ok(w) => w,
        Err(resp) => return failed(resp),
    };
    let (actor, can_write) = who;
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let writes = match route {
        Some(path) => super::openapi::is_write(req.method(), path.as_str()),
        None => true,
    };
    if writes && !can_write {
        return forbidden("this credential is read-only");
    }
    let backend = st
        .admin
        .clone()
        .with_actor(actor.clone())
        .with_source_ip(Some(ip));
    req.extensions_mut().insert(Caller {
        backend,
        actor,
        can_write,
    });
    next.run(req).await
}

/// `GET /metrics` (Prometheus text exposition, issue 14): any admin credential, a
/// read-only one included, unless the server runs with `--metrics-open`. Failed
/// credentials are limited and counted as on the admin API.
pub async fn metrics_get(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if !st.metrics_open.load(std::sync::atomic::Ordering::Relaxed) {
        let ip = st.client_ip(peer, req.headers()).to_string();
        let key = format!("ip:{ip}");
        if st.limits.admin_auth.blocked(&key).is_some() {
            st.count_security_event(SecurityFamily::RateLimited, Some("admin"), &ip);
            return ApiError(AdminError::new(
                ErrorCode::RateLimited,
                "too many failed authentications from this address; retry later",
            ))
            .into_response();
        }
        let Some((scheme, token)) = credential(&req) else {
            return unauthorized("an admin API key or an admin access token is required");
        };
        let binding = Binding::of(&st, &req, scheme);
        if let Err(resp) = identify(&st, &token, Some(&binding)).await {
            if resp.status() == axum::http::StatusCode::UNAUTHORIZED {
                st.limits.admin_auth.fail(&key);
                st.count_security_event(SecurityFamily::AdminAuthFailed, None, &ip);
            }
            return resp;
        }
    }
    let body = crate::metrics::render(&st).await;
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// `Authorization: Bearer …` or `Authorization: DPoP …`, the token non-empty.
fn credential(req: &Request) -> Option<(Scheme, String)> {
    crate::api::authorization_token(req.headers()).filter(|(_, t)| !t.is_empty())
}

/// `(actor, may write)` for a credential, or the response refusing it. `binding`: how
/// the request presented it, checked against the token's DPoP binding; the event stream
/// calls it again while it is open with `None` (the stream was opened with a checked
/// binding; what it re-checks is that the credential is still good).
pub(super) async fn identify(
    st: &AppState,
    token: &str,
    binding: Option<&Binding>,
) -> Result<(String, bool), Response> {
    let manager = st.admin.manager();
    if token.starts_with(latchkey_core::manage::API_KEY_PREFIX) {
        // An API key is a bearer credential; it has no key to prove.
        if binding.is_some_and(|b| b.scheme == Scheme::Dpop) {
            return Err(unauthorized("an API key is presented as Bearer, not DPoP"));
        }
        return match manager.api_key_authenticate(token).await {
            Ok(Some(key)) => Ok((format!("api-key:{}", key.id), !key.read_only)),
            Ok(None) => Err(unauthorized("the API key is unknown, revoked or expired")),
            Err(e) => Err(ApiError(AdminError::from(e)).into_response()),
        };
    }
    let claims = match st.provider.active_access_token(token).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(unauthorized(
                "the access token is invalid, expired or revoked",
            ))
        }
        Err(e) => {
            let admin = AdminError::new(
                if e.code == latchkey_core::oauth::error::ErrorCode::TemporarilyUnavailable {
                    ErrorCode::Unavailable
                } else {
                    ErrorCode::Internal
                },
                e.description().unwrap_or("token check failed").to_string(),
            );
            return Err(ApiError(admin).into_response());
        }
    };
    if let Some(b) = binding {
        st.provider
            .dpop_resource_check(&claims, token, b.scheme, &b.proofs, &b.method, &b.url)
            .await
            .map_err(|r| dpop_refused(st, r))?;
    }
    // RFC 8693: a delegated token (`act`) or any token that came out of an exchange is
    // never an admin credential, whatever its scopes and audience (ZITADEL's rule too):
    // an exchange must not become a way into the admin API.
    if claims.contains_key("act") {
        return Err(unauthorized(
            "delegated tokens (act) are never accepted by the admin API",
        ));
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        match manager.store().exchange_lineage(jti).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(unauthorized(
                    "tokens issued by token exchange are never accepted by the admin API",
                ))
            }
            Err(e) => {
                return Err(
                    ApiError(AdminError::from(latchkey_core::manage::ManageError::from(
                        e,
                    )))
                    .into_response(),
                )
            }
        }
    }
    let scopes = parse_scope(claims.get("scope").and_then(Value::as_str).unwrap_or(""));
    let can_write = scopes.iter().any(|s| s == ADMIN_SCOPE);
    let can_read = can_write || scopes.iter().any(|s| s == ADMIN_READ_SCOPE);
    if !can_read {
        return Err(forbidden(
            "the access token lacks the latchkey:admin or latchkey:admin:read scope",
        ));
    }
    if !audience_names(&claims, st.provider.admin_api()) {
        return Err(unauthorized(
            "the access token is not for this admin API (aud); sign in again",
        ));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match manager.store().user_get(sub).await {
        Ok(Some(u)) if u.is_admin && !u.disabled => Ok((format!("user:{}", u.id), can_write)),
        Ok(_) => Err(forbidden("the token's subject is not an administrator")),
        Err(e) => Err(
            ApiError(AdminError::from(latchkey_core::manage::ManageError::from(
                e,
            )))
            .into_response(),
        ),
    }
}

/// Whether the token's `aud` (a string or an array, RFC 7519 §4.1.3) names the admin
/// API. Without a known admin API URL nothing matches: fail closed.
fn audience_names(claims: &serde_json::Map<String, Value>, admin_api: Option<&str>) -> bool {
    let Some(api) = admin_api else {
        return false;
    };
    let same = |v: &Value| {
        v.as_str()
            .is_some_and(|a| latchkey_core::oauth::resource::same_resource(a, api))
    };
    match claims.get("aud") {
        Some(Value::Array(list)) => list.iter().any(same),
        Some(v) => same(v),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    fn audience_names(claims: &Value, api: Option<&str>) -> bool {
        super::audience_names(claims.as_object().unwrap(), api)
    }

    #[test]
    fn only_a_token_whose_audience_names_the_admin_api_passes() {
        let api = Some("https://admin.example:8443");
        assert!(audience_names(
            &json!({"aud": "https://admin.example:8443"}),
            api
        ));
        assert!(audience_names(
            &json!({"aud": "https://admin.example:8443/"}),
            api
        ));
        assert!(audience_names(
            &json!({"aud": ["https://rs.example", "https://admin.example:8443"]}),
            api
        ));
        assert!(!audience_names(&json!({"aud": "https://id.example"}), api));
        assert!(!audience_names(
            &json!({"aud": "https://admin.example"}),
            api
        ));
        assert!(!audience_names(&json!({}), api));
        assert!(!audience_names(
            &json!({"aud": "https://admin.example:8443"}),
            None
        ));
    }
}
