//! Request parsing and response shaping shared by every route: form bodies with
//! duplicate detection, the `Authorization` header, the client's address (believing
//! forwarding headers only from trusted proxies), and the security headers.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use latchkey_core::oauth::error::{ErrorCode, OAuthError};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Parameters of a form or query string, with the names that appeared more than once
/// (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub map: HashMap<String, String>,
    pub duplicated: Vec<String>,
}

impl Params {
    pub fn parse(bytes: &[u8]) -> Self {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(bytes) {
            if p.map.contains_key(k.as_ref()) {
                if !p.duplicated.iter().any(|d| d == k.as_ref()) {
                    p.duplicated.push(k.to_string());
                }
            } else {
                p.map.insert(k.into_owned(), v.into_owned());
            }
        }
        p
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
}

/// RFC 6749 App. B: a form body, and only that.
pub fn require_form(headers: &HeaderMap) -> Result<(), OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}

/// Parses `Authorization: Basic` per RFC 6749 §2.3.1 (id and secret are form-encoded
/// before base64). `Err` when the header is present but malformed.
pub fn basic_auth(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(v) = v.to_str() else {
        return Err(OAuthError::invalid_client());
    };
    let Some((scheme, rest)) = v.split_once(' ') else {
        return Err(OAuthError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| OAuthError::invalid_client())?;
    let text = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(OAuthError::invalid_client)?;
    let dec = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((dec(id), dec(secret))))
}

/// `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_string())
}

/// The hops a trusted proxy reports, nearest last: RFC 7239 `Forwarded: for=…` if
/// present, else `X-Forwarded-For`. Entries that are not IP addresses (obfuscated
/// identifiers, `unknown`) come back as `None`.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    if let Some(fwd) = headers.get("forwarded").and_then(|v| v.to_str().ok()) {
        let hops = fwd
            .split(',')
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    if !k.trim().eq_ignore_ascii_case("for") {
                        return None;
                    }
                    // for="[2001:db8::1]:4711" / for=192.0.2.60:8080 / for=192.0.2.60
                    let v = v.trim().trim_matches('"');
                    let host = match v.strip_prefix('[') {
                        Some(rest) => rest.split(']').next().unwrap_or(""),
                        None => v.split(':').next().unwrap_or(""),
                    };
                    host.parse::<IpAddr>().ok()
                })
            })
            .collect();
        return Some(hops);
    }
    let xff = headers.get("x-forwarded-for")?.to_str().ok()?;
    Some(
        xff.split(',')
            .map(|h| h.trim().parse::<IpAddr>().ok())
            .collect(),
    )
}

/// The caller's address: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most address the trusted proxies report that is not itself a trusted
/// proxy. Headers from anyone else are ignored (they are trivially forged).
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer_ip = peer.ip();
    if !trusted.contains(&peer_ip) {
        return peer_ip;
    }
    let Some(hops) = forwarded_hops(headers) else {
        return peer_ip;
    };
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if !trusted.contains(ip) => return *ip,
            Some(_) => continue,
            None => break,
        }
    }
    peer_ip
}

/// The scheme the client used, as a trusted proxy reports it (`Forwarded: proto=`,
/// else `X-Forwarded-Proto`).
pub fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    if let Some(fwd) = headers.get("forwarded").and_then(|v| v.to_str().ok()) {
        // The first element is the one the client-facing proxy wrote.
        let first = fwd.split(',').next().unwrap_or("");
        return first.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("proto")
                .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
        });
    }
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Security headers for every HTML page (AZ-21): no framing, no referrer, no caching,
/// no third-party anything.
pub fn html_headers(h: &mut HeaderMap, hsts: bool) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

pub fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

pub fn json_response(status: StatusCode, body: &Value) -> Response<axum::body::Body> {
    let mut r = (status, axum::Json(body.clone())).into_response();
    no_store(r.headers_mut());
    r
}

/// RFC 6749 §5.2 error body, with the status and headers each code calls for.
pub fn oauth_error_response(e: &OAuthError) -> Response<axum::body::Body> {
    let status = match e.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut body = serde_json::json!({"error": e.code.as_str()});
    if let Some(d) = e.description() {
        body["error_description"] = Value::from(sanitize_description(d));
    }
    let mut r = json_response(status, &body);
    match e.code {
        ErrorCode::InvalidClient => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"latchkey\", charset=\"UTF-8\""),
            );
        }
        ErrorCode::TemporarilyUnavailable => {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    r
}

/// RFC 6749 §5.2: `error_description` is %x20-21 / %x23-5B / %x5D-7E.
pub fn sanitize_description(d: &str) -> String {
    d.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

pub fn too_many(retry_after: u64) -> Response<axum::body::Body> {
    let mut r = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &serde_json::json!({"error": "slow_down", "error_description": "too many failed attempts, retry later"}),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub fn body_bytes_limit() -> usize {
    64 * 1024
}

pub type Body = Bytes;

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 443);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        assert_eq!(client_ip(peer, &h, &[proxy]).to_string(), "198.51.100.7");
        // The same header from an untrusted peer is ignored.
        assert_eq!(client_ip(peer, &h, &[]).to_string(), "10.0.0.1");
    }

    #[test]
    fn rfc_7239_forwarded_wins_and_handles_ports_quotes_and_ipv6() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 443);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"",
            ),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_ip(peer, &h, &[proxy]).to_string(), "2001:db8::1");
        assert_eq!(forwarded_proto(&h).as_deref(), Some("https"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(peer, &h, &[proxy]), proxy);
        let h = headers(&[("x-forwarded-proto", "HTTP")]);
        assert_eq!(forwarded_proto(&h).as_deref(), Some("http"));
    }
}
