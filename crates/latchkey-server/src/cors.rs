//! CORS (the Fetch standard's CORS protocol) for browser apps, issue 15.
//!
//! Which endpoints answer CORS, and to whom:
//! * discovery and JWKS: every origin (`*`). They are public documents anybody can read
//!   with any HTTP client; a browser app must be able to find the endpoints and keys
//!   before it is anybody's.
//! * token, revocation, userinfo and device authorization: only an origin some enabled
//!   client lists among its web origins (by default the origins of its redirect URIs).
//!   The client is known only after the body is read and the client authenticated, so
//!   the layer asks the cheaper question ("is this origin anybody's?", a cached set) and
//!   the engine the exact one: a request with an `Origin` authenticates only a client
//!   that lists it (`authenticate_client`), so a page of app A cannot redeem or revoke
//!   app B's tokens even though A's origin passes the layer. At userinfo the token is
//!   the credential; an allowed origin may present any token it holds.
//! * nothing else: introspection is server to server, the pages are navigated to, never
//!   fetched, and the admin API is not a browser API (no CORS means a web page in an
//!   admin's browser cannot read anything from it).
//!
//! No credentials mode: nothing here reads cookies, so `Access-Control-Allow-Credentials`
//! is never sent and a page's cookies never ride along usefully. Preflights are answered
//! by the layer (before routing, so a POST-only route still answers `OPTIONS`).

use crate::AppState;
use axum::http::{header, HeaderName, HeaderValue, Method};
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

fn dpop() -> HeaderName {
    HeaderName::from_static("dpop")
}

fn dpop_nonce() -> HeaderName {
    HeaderName::from_static("dpop-nonce")
}

/// Discovery and JWKS: any origin, GET only.
pub fn public_documents() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// Token, revocation, userinfo, device authorization: the registered web origins.
/// Requests may carry `Authorization` (Basic for a confidential client, Bearer/DPoP at
/// userinfo) and a `DPoP` proof; the page may read `DPoP-Nonce` and `WWW-Authenticate`.
pub fn client_endpoints(st: Arc<AppState>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, _parts| {
                let st = st.clone();
                async move {
                    let Ok(origin) = origin.to_str() else {
                        return false;
                    };
                    // A store that cannot answer allows nothing (fail closed).
                    st.provider.origin_registered(origin).await.unwrap_or(false)
                }
            },
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, dpop()])
        .expose_headers([dpop_nonce(), header::WWW_AUTHENTICATE])
        .max_age(PREFLIGHT_MAX_AGE)
}
