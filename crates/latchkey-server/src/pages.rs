//! The browser side: authorization endpoint, sign-in, consent, device verification and
//! logout. Forms are CSRF-protected (a token bound to the sign-in or to a pre-login
//! cookie, plus an `Origin` check), responses to form posts are 303 (RFC 9700 §4.12),
//! and errors about the client or redirect URI are pages, never redirects.

use crate::html::{self, hidden, Notice};
use crate::http::*;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_api_types::SecurityFamily;
use latchkey_core::crypto::{b64url, ct_eq, random_token, sha256};
use latchkey_core::model::{SignIn, User};
use latchkey_core::monitor::{self, Signal};
use latchkey_core::oauth::authorize::{
    asks_admin_scopes, AuthorizeError, AuthzRequest, LoginError, PasswordChangeError,
};
use latchkey_core::oauth::consent::{ConsentOutcome, ConsentPageError, ConsentRefusal, Resumed};
use latchkey_core::oauth::error::{ErrorCode, OAuthError};
use std::net::SocketAddr;
use std::sync::Arc;

type St = State<Arc<AppState>>;
type Peer = ConnectInfo<SocketAddr>;

fn html_response(st: &AppState, status: StatusCode, body: String) -> Response {
    let mut r = (status, axum::response::Html(body)).into_response();
    html_headers(r.headers_mut(), st.hsts);
    r
}

fn error_page(st: &AppState, status: StatusCode, msg: &str) -> Response {
    html_response(st, status, html::error_page(msg))
}

/// 303 See Other: the browser follows with GET and drops the form body.
fn see_other(st: &AppState, location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return error_page(st, StatusCode::BAD_REQUEST, "Invalid redirect target."),
    }
    html_headers(r.headers_mut(), st.hsts);
    r
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(st: &AppState, r: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if st.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(m) = max_age {
        c.push_str(&format!("; Max-Age={m}"));
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Same-origin check for form posts (AZ-20 c). Browsers send `Origin` on POST; a
/// missing one (old clients, tests with plain HTTP tools) falls back to the CSRF token.
fn origin_ok(st: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        // Our pages send `Referrer-Policy: no-referrer`, under which the Fetch standard
        // ("serializing a request origin") has a browser send `Origin: null` even for a
        // same-origin form POST (Chromium does). The browser's own `Sec-Fetch-Site`,
        // which no page can set, then tells same-origin from a sandboxed or foreign one.
        Some("null") => headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin"),
        Some(o) => o == st.issuer_origin,
    }
}

/// A CSRF token bound to the sign-in: it is derived from the secret cookie value, so
/// it cannot be minted in another user's session (AZ-20 b).
fn csrf_for(sign_in_id: &str, purpose: &str) -> String {
    b64url(&sha256(format!("{purpose}\0{sign_in_id}").as_bytes())[..24])
}

async fn current_sign_in(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(SignIn, User)>, OAuthError> {
    match cookie(headers, st.session_cookie()) {
        Some(id) => st.provider.sign_in_lookup(id).await,
        None => Ok(None),
    }
}

fn ip_of(st: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    st.client_ip(peer, headers).to_string()
}

/// Tells the detections how a password check went (off the request path).
fn report_sign_in(st: &AppState, username: &str, ip: &str, ok: bool) {
    let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
        return;
    };
    let username = username.to_string();
    let signal = if ok {
        Signal::SignInSucceeded { username, addr }
    } else {
        Signal::SignInFailed { username, addr }
    };
    st.report(signal, ip);
}

pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
}

/// GET or POST /authorize (OIDC Core §3.1.2.1 allows both).
pub async fn authorize(
    State(st): St,
    ConnectInfo(peer): Peer,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        if require_form(&headers).is_err() {
            return error_page(&st, StatusCode::BAD_REQUEST, "The request must be a form.");
        }
        Params::parse(&body)
    } else {
        Params::parse(query.unwrap_or_default().as_bytes())
    };
    let (req, client) = match st
        .provider
        .authorize_validate(&params.map, &params.refused())
        .await
    {
        Ok(x) => x,
        Err(AuthorizeError::Unavailable) => return unavailable_page(&st),
        Err(AuthorizeError::Page(msg)) => {
            record_refusal(
                &st,
                peer,
                &headers,
                SecurityFamily::AuthorizeRejected,
                Some("page"),
                params.get("client_id"),
            )
            .await;
            return error_page(&st, StatusCode::BAD_REQUEST, msg);
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            record_refusal(
                &st,
                peer,
                &headers,
                SecurityFamily::AuthorizeRejected,
                Some(error.code.as_str()),
                params.get("client_id"),
            )
            .await;
            return see_other(
                &st,
                &st.provider
                    .error_location(&redirect_uri, state.as_deref(), &error),
            );
        }
    };
    let signed_in = match current_sign_in(&st, &headers).await {
        Ok(s) => s,
        Err(_) => return unavailable_page(&st),
    };
    let signed_in = match signed_in {
        Some((sign_in, user)) => match familiar_here(&st, &sign_in, peer, &headers).await {
            Ok(true) => Some((sign_in, user)),
            // Detection 4 in enforce mode: the browser sign-in is not reused silently
            // from an unfamiliar network and browser; the password is asked again.
            Ok(false) => None,
            Err(()) => return unavailable_page(&st),
        },
        None => None,
    };
    continue_authorization(&st, req, &client, signed_in, peer, &headers).await
}

/// Whether a browser sign-in may be reused from this request (detection 4, enforce
/// mode only): from the network and browser family it was made from, or one among the
/// user's recent successes, or for a user still without a history. Costs a store read
/// only when the request comes from elsewhere than the sign-in.
async fn familiar_here(
    st: &AppState,
    sign_in: &SignIn,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<bool, ()> {
    let s = st.provider.settings().await.map_err(|_| ())?;
    if s.detect_unfamiliar_mode != latchkey_core::settings::ENFORCE {
        return Ok(true);
    }
    let ip = ip_of(st, peer, headers);
    let ua = user_agent(headers);
    let here = monitor::familiarity_key(Some(&ip), ua.as_deref());
    if monitor::familiarity_key(sign_in.ip.as_deref(), sign_in.user_agent.as_deref()) == here {
        return Ok(true);
    }
    let history = st
        .provider
        .store
        .sign_in_history(&sign_in.user_id, "", s.detect_unfamiliar_history)
        .await
        .map_err(|_| ())?;
    Ok(!monitor::is_unfamiliar(
        Some(&ip),
        ua.as_deref(),
        &history,
        &s,
    ))
}

/// Catalogue §1: a refused authorization request or consent submission leaves a
/// security audit event (the client id as sent, truncated; never other input).
async fn record_refusal(
    st: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    family: SecurityFamily,
    detail: Option<&str>,
    client_id: Option<&str>,
) {
    let ip = ip_of(st, peer, headers);
    st.provider
        .security_event("anonymous", family, detail, client_id, Some(&ip))
        .await;
}

fn unavailable_page(st: &AppState) -> Response {
    let mut r = error_page(
        st,
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable. Try again shortly.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// After validation (or after the login form): sign in if needed, ask consent if
/// needed, else issue the code.
async fn continue_authorization(
    st: &AppState,
    req: AuthzRequest,
    client: &latchkey_core::model::Client,
    signed_in: Option<(SignIn, User)>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Response {
    let p = &st.provider;
    let redirect_err = |e: OAuthError| {
        see_other(
            st,
            &p.error_location(&req.redirect_uri, req.state.as_deref(), &e),
        )
    };
    if p.needs_login(&req, signed_in.as_ref().map(|s| &s.0)) {
        if req.prompt_has("none") {
            return redirect_err(OAuthError::new(
                ErrorCode::LoginRequired,
                "the user is not signed in",
            ));
        }
        let mut req = req;
        // Asked once: after this login, prompt=login/max_age are satisfied.
        req.prompt.retain(|x| x != "login");
        req.max_age = None;
        return match p.park_request(&req, None).await {
            Ok(id) => see_other(st, &format!("/login?req={id}")),
            Err(_) => unavailable_page(st),
        };
    }
    let Some((sign_in, user)) = signed_in else {
        return unavailable_page(st);
    };
    match p.needs_consent(&req, client, &user.id).await {
        Ok(true) => {
            if req.prompt_has("none") {
                return redirect_err(OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "consent is required",
                ));
            }
            match p.park_request(&req, Some(&sign_in.id)).await {
                Ok(id) => see_other(st, &format!("/consent?req={id}")),
                Err(_) => unavailable_page(st),
            }
        }
        Ok(false) => {
            let ip = ip_of(st, peer, headers);
            match p
                .issue_code(&req, &sign_in, Some(&ip), user_agent(headers).as_deref())
                .await
            {
                Ok(loc) => see_other(st, &loc),
                Err(e) => redirect_err(e),
            }
        }
        Err(_) => unavailable_page(st),
    }
}

fn login_form(
    st: &AppState,
    fields: &[(&str, &str)],
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let token = random_token();
    let mut h = hidden("csrf", &token);
    for (k, v) in fields {
        h.push_str(&hidden(k, v));
    }
    let mut r = html_response(st, status, html::login_page(&h, error, username));
    set_cookie(st, &mut r, st.csrf_cookie(), &token, Some(3600));
    r
}

/// GET /login: the form, carrying what to continue with afterwards.
pub async fn login_get(State(st): St, RawQuery(query): RawQuery) -> Response {
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    let mut fields = Vec::new();
    if let Some(r) = q.get("req") {
        fields.push(("req", r));
    }
    if let Some(d) = q.get("device") {
        fields.push(("device", d));
    }
    login_form(&st, &fields, None, "", StatusCode::OK)
}

/// POST /login: checks the password, starts a sign-in (new id: no fixation) and
/// continues the parked authorization request or the device flow.
pub async fn login_post(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = Params::parse(&body);
    let ip = ip_of(&st, peer, &headers);
    let username = f.get("username").unwrap_or("").trim().to_string();
    let password = f.get("password").unwrap_or("");
    let mut carry: Vec<(&str, &str)> = Vec::new();
    if let Some(r) = f.get("req") {
        carry.push(("req", r));
    }
    if let Some(d) = f.get("device") {
        carry.push(("device", d));
    }
    let csrf_ok = match (cookie(&headers, st.csrf_cookie()), f.get("csrf")) {
        (Some(c), Some(t)) => ct_eq(c.as_bytes(), t.as_bytes()),
        _ => false,
    };
    if !origin_ok(&st, &headers) || !csrf_ok {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "The form expired or came from another site. Go back and try again.",
        );
    }
    // Lockout is per account *at an address* (a stranger elsewhere cannot lock a user
    // out), with a cap per address against spraying many accounts (AD-41). The
    // attempt is reserved before the password is checked: concurrent wrong passwords
    // cannot all be evaluated before the first is counted (AD-40).
    // The block list (issue 14): the address, or this account from it. Refused like
    // a limiter's block, with the wait, before the password is looked at.
    let principal = format!("user:{}", username.to_lowercase());
    if let Ok(addr) = ip.parse::<std::net::IpAddr>() {
        if let Some(wait) = st.blocked(addr, Some(&principal), "login").await {
            let mut r = login_form(
                &st,
                &carry,
                Some("Too many failed attempts. Wait a moment and try again."),
                &username,
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    }
    let attempt = match st.limits.login.reserve(&login_keys(&username, &ip)) {
        Ok(a) => a,
        Err(wait) => {
            st.count_security_event(SecurityFamily::RateLimited, Some("login"), &ip);
            let mut r = login_form(
                &st,
                &carry,
                Some("Too many failed attempts. Wait a moment and try again."),
                &username,
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    };
    let ua = user_agent(&headers);
    let (sign_in, user, cookie_value) = match st
        .provider
        .login(&username, password, Some(&ip), ua.as_deref())
        .await
    {
        Ok(x) => {
            attempt.succeeded();
            report_sign_in(&st, &username, &ip, true);
            x
        }
        Err(LoginError::Invalid) => {
            report_sign_in(&st, &username, &ip, false);
            // The failure that crosses the limit is a 429 too, with its Retry-After (HD-09).
            let wait = attempt.failed();
            let status = if wait.is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::OK
            };
            let mut r = login_form(
                &st,
                &carry,
                Some("Wrong username or password."),
                &username,
                status,
            );
            if let Some(v) = wait.and_then(|w| HeaderValue::from_str(&w.to_string()).ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(LoginError::Unavailable) => {
            attempt.released();
            return unavailable_page(&st);
        }
    };
    // The administrator required a new password: the sign-in just started is held back
    // (no session cookie; `sign_in_lookup` refuses it) until the user chose one.
    if user.must_change_password {
        return password_change_form(
            &st,
            &carry,
            &sign_in,
            &user,
            Some(&cookie_value),
            None,
            StatusCode::OK,
        );
    }
    let mut resp = after_sign_in(&st, &f, sign_in, user, peer, &headers).await;
    set_cookie(&st, &mut resp, st.session_cookie(), &cookie_value, None);
    resp
}

/// Where a sign-in continues: the parked authorization request, the device flow, or a
/// page saying the browser is signed in.
async fn after_sign_in(
    st: &AppState,
    f: &Params,
    sign_in: SignIn,
    user: User,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Response {
    if let Some(req_id) = f.get("req") {
        match st.provider.resume_parked(req_id).await {
            Ok(Resumed::Ready(ready)) => {
                let (req, client) = *ready;
                continue_authorization(st, req, &client, Some((sign_in, user)), peer, headers).await
            }
            Ok(Resumed::ClientGone) => error_page(
                st,
                StatusCode::BAD_REQUEST,
                "The application is no longer available.",
            ),
            Ok(Resumed::Expired) => error_page(
                st,
                StatusCode::BAD_REQUEST,
                "This sign-in request has expired. Start again from the application.",
            ),
            Err(_) => unavailable_page(st),
        }
    } else if let Some(code) = f.get("device") {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("user_code", code);
        see_other(st, &format!("/device?{}", ser.finish()))
    } else {
        html_response(
            st,
            StatusCode::OK,
            html::message_page("Signed in", "You are signed in. You can close this window."),
        )
    }
}

/// The cookie that carries a sign-in held back for a password change (HttpOnly like
/// the session's; never a session itself).
fn password_cookie(st: &AppState) -> String {
    format!("{}-pwchange", st.session_cookie())
}

/// How long the change-password form may wait (the held sign-in lives no longer than
/// its own lifetime either).
const PASSWORD_CHANGE_SECS: i64 = 600;

/// The change-password form, its CSRF token bound to the held sign-in (AZ-20 b), and
/// (the first time) the cookie that holds that sign-in.
fn password_change_form(
    st: &AppState,
    carry: &[(&str, &str)],
    sign_in: &SignIn,
    user: &User,
    cookie_value: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut h = hidden("csrf", &csrf_for(&sign_in.id, "password-change"));
    for (k, v) in carry {
        h.push_str(&hidden(k, v));
    }
    let mut r = html_response(
        st,
        status,
        html::password_change_page(&h, error, &user.username),
    );
    if let Some(c) = cookie_value {
        set_cookie(
            st,
            &mut r,
            &password_cookie(st),
            c,
            Some(PASSWORD_CHANGE_SECS),
        );
    }
    r
}

/// POST /login/password: the new password of a user whose administrator required a
/// change, after a correct password. CSRF (token bound to the held sign-in, `Origin`)
/// and the sign-in limiter as on `/login`; then the sign-in continues where `/login`
/// would have gone.
pub async fn password_change_post(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = Params::parse(&body);
    let ip = ip_of(&st, peer, &headers);
    let mut carry: Vec<(&str, &str)> = Vec::new();
    if let Some(r) = f.get("req") {
        carry.push(("req", r));
    }
    if let Some(d) = f.get("device") {
        carry.push(("device", d));
    }
    let expired = |st: &AppState| {
        error_page(
            st,
            StatusCode::BAD_REQUEST,
            "This sign-in has expired. Start again from the application.",
        )
    };
    let Some(held) = cookie(&headers, &password_cookie(&st)).map(str::to_string) else {
        return expired(&st);
    };
    let (sign_in, user) = match st.provider.pending_password_change(&held).await {
        Ok(Some(x)) => x,
        Ok(None) => return expired(&st),
        Err(_) => return unavailable_page(&st),
    };
    let csrf_ok = f.get("csrf").is_some_and(|t| {
        ct_eq(
            t.as_bytes(),
            csrf_for(&sign_in.id, "password-change").as_bytes(),
        )
    });
    if !origin_ok(&st, &headers) || !csrf_ok {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "The form expired or came from another site. Go back and try again.",
        );
    }
    let attempt = match st.limits.login.reserve(&login_keys(&user.username, &ip)) {
        Ok(a) => a,
        Err(wait) => {
            st.count_security_event(SecurityFamily::RateLimited, Some("login"), &ip);
            let mut r = password_change_form(
                &st,
                &carry,
                &sign_in,
                &user,
                None,
                Some("Too many attempts. Wait a moment and try again."),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    };
    let ua = user_agent(&headers);
    let new = f.get("new_password").unwrap_or("");
    let repeated = f.get("repeat_password").unwrap_or("");
    match st
        .provider
        .change_password_at_sign_in(&held, new, repeated, Some(&ip), ua.as_deref())
        .await
    {
        Ok((sign_in, user, cookie_value)) => {
            attempt.succeeded();
            let mut resp = after_sign_in(&st, &f, sign_in, user, peer, &headers).await;
            set_cookie(&st, &mut resp, st.session_cookie(), &cookie_value, None);
            set_cookie(&st, &mut resp, &password_cookie(&st), "", Some(0));
            resp
        }
        Err(
            e @ (PasswordChangeError::Weak(_)
            | PasswordChangeError::Reused
            | PasswordChangeError::Mismatch),
        ) => {
            let wait = attempt.failed();
            let status = if wait.is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::OK
            };
            let msg = format!("{}.", upper_first(&e.to_string()));
            let mut r =
                password_change_form(&st, &carry, &sign_in, &user, None, Some(&msg), status);
            if let Some(v) = wait.and_then(|w| HeaderValue::from_str(&w.to_string()).ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(PasswordChangeError::Expired) => {
            attempt.released();
            expired(&st)
        }
        Err(PasswordChangeError::Unavailable) => {
            attempt.released();
            unavailable_page(&st)
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// GET /consent?req=…
pub async fn consent_get(State(st): St, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    let Some(req_id) = q.get("req") else {
        return error_page(&st, StatusCode::BAD_REQUEST, "Missing request.");
    };
    let Ok(Some((sign_in, user))) = current_sign_in(&st, &headers).await else {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "You are not signed in. Start again from the application.",
        );
    };
    let prompt = match st.provider.consent_prompt(req_id, &sign_in.id).await {
        Ok(p) => p,
        Err(ConsentPageError::Expired) => {
            return error_page(
                &st,
                StatusCode::BAD_REQUEST,
                "This request has expired or was already answered.",
            )
        }
        Err(ConsentPageError::ClientGone) => {
            return error_page(
                &st,
                StatusCode::BAD_REQUEST,
                "The application is no longer available.",
            )
        }
        Err(ConsentPageError::Unavailable) => return unavailable_page(&st),
    };
    let req = &prompt.request;
    let fields = format!("{}{}", hidden("req", req_id), hidden("csrf", &req.csrf));
    let native = prompt.native;
    let mut notices = Vec::new();
    if native {
        // RFC 8252 §8.6: the person must see which program will receive the answer.
        notices.push(Notice::Note(match prompt.loopback_port {
            Some(port) => format!(
                "This is an application on a computer, not a website: Latchkey cannot \
                 check which program it is. Allowing hands the access to whatever program \
                 listens on this computer's loopback port {port} ({}).",
                req.redirect_uri
            ),
            None => format!(
                "This is an application on a device, not a website: Latchkey cannot check \
                 which program it is. Allowing hands the access to the app that opens {}.",
                req.redirect_uri
            ),
        }));
    }
    if prompt.admin_scopes && user.is_admin {
        notices.push(admin_warning(&st));
    }
    if native || prompt.admin_scopes {
        notices.push(Notice::Note(
            "If you did not just start this sign-in yourself, choose Deny.".into(),
        ));
    }
    let title = if native {
        "Approve this application?"
    } else {
        "Allow access?"
    };
    html_response(
        &st,
        StatusCode::OK,
        html::decision_page(
            title,
            "/consent",
            &prompt.client_name,
            &prompt.scopes,
            &notices,
            &fields,
            &user.username,
        ),
    )
}

/// What the admin scopes mean, in plain words, on the approval and device pages.
fn admin_warning(st: &AppState) -> Notice {
    Notice::Warning(format!(
        "This grants administrator access to this server ({}): the application can \
         change clients, keys, users and settings, and revoke sessions, as you.",
        st.provider.config.issuer
    ))
}

/// POST /consent: bound to (sign-in, request id, client, code challenge) through the
/// parked request; single use (AZ-20). Every refused submission is audited.
pub async fn consent_post(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = consent_post_checked(State(st.clone()), ConnectInfo(peer), headers.clone(), body).await;
    if matches!(r.status(), StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN) {
        record_refusal(
            &st,
            peer,
            &headers,
            SecurityFamily::ConsentRejected,
            None,
            None,
        )
        .await;
    }
    r
}

async fn consent_post_checked(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !origin_ok(&st, &headers) {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "Cross-site form submission refused.",
        );
    }
    let f = Params::parse(&body);
    let (Some(req_id), Some(csrf)) = (f.get("req"), f.get("csrf")) else {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "The form is missing its anti-forgery token.",
        );
    };
    let Ok(Some((sign_in, _user))) = current_sign_in(&st, &headers).await else {
        return error_page(&st, StatusCode::FORBIDDEN, "You are not signed in.");
    };
    let ip = ip_of(&st, peer, &headers);
    let outcome = st
        .provider
        .consent_decide(
            req_id,
            csrf,
            f.get("decision") == Some("approve"),
            &sign_in,
            Some(&ip),
            user_agent(&headers).as_deref(),
        )
        .await;
    match outcome {
        ConsentOutcome::Redirect(loc) => see_other(&st, &loc),
        ConsentOutcome::SignInAgain(id) => see_other(&st, &format!("/login?req={id}")),
        ConsentOutcome::Unavailable => unavailable_page(&st),
        ConsentOutcome::Refused(why) => {
            let (status, msg) = match why {
                ConsentRefusal::UnknownRequest => (StatusCode::BAD_REQUEST, "Unknown request."),
                ConsentRefusal::OtherSession => (
                    StatusCode::FORBIDDEN,
                    "This request belongs to another session.",
                ),
                ConsentRefusal::CsrfMismatch => (
                    StatusCode::FORBIDDEN,
                    "The anti-forgery token does not match.",
                ),
                ConsentRefusal::AlreadyAnswered => (
                    StatusCode::BAD_REQUEST,
                    "This request has expired or was already answered.",
                ),
            };
            error_page(&st, status, msg)
        }
    }
}

/// GET /device[?user_code=…]: the code entry form (after sign-in).
pub async fn device_get(State(st): St, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let q = Params::parse(query.unwrap_or_default().as_bytes());
    let code = q.get("user_code").unwrap_or("");
    let Ok(Some((sign_in, _))) = current_sign_in(&st, &headers).await else {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("device", code);
        return see_other(&st, &format!("/login?{}", ser.finish()));
    };
    let fields = hidden("csrf", &csrf_for(&sign_in.id, "device"));
    html_response(
        &st,
        StatusCode::OK,
        html::device_entry_page(&fields, code, None),
    )
}

/// POST /device: looks up the code (rate-limited, DV-07) and shows who asks for what,
/// or records the decision when `decision` is present.
pub async fn device_post(
    State(st): St,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !origin_ok(&st, &headers) {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "Cross-site form submission refused.",
        );
    }
    let f = Params::parse(&body);
    let Ok(Some((sign_in, user))) = current_sign_in(&st, &headers).await else {
        return error_page(&st, StatusCode::FORBIDDEN, "You are not signed in.");
    };
    let expected = csrf_for(&sign_in.id, "device");
    if !f
        .get("csrf")
        .is_some_and(|t| ct_eq(t.as_bytes(), expected.as_bytes()))
    {
        return error_page(
            &st,
            StatusCode::FORBIDDEN,
            "The anti-forgery token does not match.",
        );
    }
    let ip = ip_of(&st, peer, &headers);
    let keys = [format!("ip:{ip}"), format!("signin:{}", sign_in.id)];
    // Reserved before the code is looked up (AD-40): concurrent guesses count at once.
    let attempt = match st.limits.device_code.reserve(&keys) {
        Ok(a) => a,
        Err(wait) => {
            st.count_security_event(SecurityFamily::RateLimited, Some("device"), &ip);
            let mut r = html_response(
                &st,
                StatusCode::TOO_MANY_REQUESTS,
                html::device_entry_page(
                    &hidden("csrf", &expected),
                    "",
                    Some("Too many wrong codes. Wait a minute and try again."),
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    };
    let code = f.get("user_code").unwrap_or("").to_string();
    let found = match st.provider.device_lookup(&code).await {
        Ok(x) => x,
        Err(_) => {
            attempt.released();
            return unavailable_page(&st);
        }
    };
    let Some((dc, client)) = found else {
        let blocked = attempt.failed();
        let status = if blocked.is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::OK
        };
        if status == StatusCode::OK {
            st.provider
                .security_event(
                    &format!("user:{}", user.id),
                    SecurityFamily::DeviceCodeWrongUserCode,
                    None,
                    None,
                    Some(&ip),
                )
                .await;
        }
        let mut r = html_response(
            &st,
            status,
            html::device_entry_page(
                &hidden("csrf", &expected),
                &code,
                Some("That code is not valid or has expired."),
            ),
        );
        // The attempt that crosses the limit gets a 429 like the blocked ones after it,
        // and with it the wait (RFC 6585 §4).
        if let Some(wait) = blocked {
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        return r;
    };
    attempt.succeeded();
    // The admin scopes need a recent sign-in here too: the device flow must not be a
    // quieter way to the same power.
    if st.provider.admin_reauth_due(&dc.scopes, &sign_in) {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("device", &code);
        return see_other(&st, &format!("/login?{}", ser.finish()));
    }
    match f.get("decision") {
        None => {
            let scopes = st.provider.scope_descriptions(&dc.scopes).await;
            let mut notices = Vec::new();
            if asks_admin_scopes(&dc.scopes) && user.is_admin {
                notices.push(admin_warning(&st));
            }
            notices.push(Notice::Note(
                "Only continue if you started this on your own device just now. Nobody \
                 from support will ever ask you for this code."
                    .into(),
            ));
            let fields = format!(
                "{}{}",
                hidden("csrf", &expected),
                hidden("user_code", &code)
            );
            html_response(
                &st,
                StatusCode::OK,
                html::decision_page(
                    "Connect this device?",
                    "/device",
                    &client.name,
                    &scopes,
                    &notices,
                    &fields,
                    &user.username,
                ),
            )
        }
        Some(d) => {
            let approve = d == "approve";
            match st.provider.device_decide(&code, approve, &sign_in).await {
                Ok(true) if approve => html_response(
                    &st,
                    StatusCode::OK,
                    html::message_page("Device connected", "You can return to your device now."),
                ),
                Ok(true) => html_response(
                    &st,
                    StatusCode::OK,
                    html::message_page("Request denied", "The device was not given access."),
                ),
                Ok(false) => error_page(
                    &st,
                    StatusCode::BAD_REQUEST,
                    "This code was already used or has expired.",
                ),
                Err(_) => unavailable_page(&st),
            }
        }
    }
}

/// GET or POST /logout (OIDC RP-Initiated Logout §2).
///
/// Without a valid `id_token_hint` the request may come from anyone (a link on any
/// page, an image tag), so a browser that is signed in is asked first (§2: "the OP
/// SHOULD ask the End-User whether to log out"): a confirmation page whose form posts
/// back with a CSRF token bound to the sign-in. A request with a genuine hint, or from a
/// browser with nothing to sign out of, proceeds at once; a bad hint or redirect target
/// is an error page either way (OI-12).
pub async fn logout(
    State(st): St,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        Params::parse(&body)
    } else {
        Params::parse(query.unwrap_or_default().as_bytes())
    };
    if !params.duplicated.is_empty() {
        return error_page(&st, StatusCode::BAD_REQUEST, "A parameter is repeated.");
    }
    let sign_in = cookie(&headers, st.session_cookie()).map(str::to_string);
    let hinted = params
        .map
        .get("id_token_hint")
        .is_some_and(|h| !h.is_empty());
    if let (false, Some(id)) = (hinted, sign_in.as_deref()) {
        // Validate first (no sign-out happens without a cookie): a bad target is an
        // error page, not a confirmation.
        if let Err(msg) = st.provider.end_session(&params.map, None).await {
            return error_page(&st, StatusCode::BAD_REQUEST, msg);
        }
        let expected = csrf_for(id, "logout");
        let confirmed = method == Method::POST
            && origin_ok(&st, &headers)
            && params
                .map
                .get("csrf")
                .is_some_and(|c| ct_eq(c.as_bytes(), expected.as_bytes()));
        if !confirmed {
            if method == Method::POST {
                return error_page(
                    &st,
                    StatusCode::FORBIDDEN,
                    "The sign-out was not confirmed on this server's page.",
                );
            }
            let mut fields = String::new();
            for name in ["client_id", "post_logout_redirect_uri", "state"] {
                if let Some(v) = params.map.get(name) {
                    fields.push_str(&html::hidden(name, v));
                }
            }
            fields.push_str(&html::hidden("csrf", &expected));
            let body = format!(
                "<p>Do you want to sign out of this server?</p>\
<form method=\"post\" action=\"/logout\">{fields}<button type=\"submit\">Sign out</button></form>"
            );
            return html_response(&st, StatusCode::OK, html::page("Sign out?", &body));
        }
    }
    match st
        .provider
        .end_session(&params.map, sign_in.as_deref())
        .await
    {
        Ok(target) => {
            let mut r = match target {
                Some(loc) => see_other(&st, &loc),
                None => html_response(
                    &st,
                    StatusCode::OK,
                    html::message_page("Signed out", "You are signed out."),
                ),
            };
            set_cookie(&st, &mut r, st.session_cookie(), "", Some(0));
            r
        }
        Err(msg) => error_page(&st, StatusCode::BAD_REQUEST, msg),
    }
}

/// The sign-in limiter's keys: this user from this address, and the address alone, so
/// the password form and the required password change share one budget.
fn login_keys(username: &str, ip: &str) -> [String; 2] {
    [
        format!("user:{}@ip:{ip}", username.to_lowercase()),
        format!("ip:{ip}"),
    ]
}
