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

/// The parameters RFC 8707 §2 (`resource`) and RFC 8693 §2.1 (`audience`) let a
/// request repeat: one token for several targets.
pub const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// Parameters of a form or query string, with the names that appeared more than once
/// (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").
/// A repeatable parameter ([`REPEATABLE`]) is handed on as one value, its occurrences
/// space-separated as the core reads them (`oauth::resource::target_values`); one of
/// its values that is empty or holds whitespace would blur that, so it is named in
/// `malformed` and the request refused.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub map: HashMap<String, String>,
    pub duplicated: Vec<String>,
    pub malformed: Vec<String>,
}

impl Params {
    pub fn parse(bytes: &[u8]) -> Self {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(bytes) {
            if REPEATABLE.contains(&k.as_ref()) {
                if (v.is_empty() || v.contains(char::is_whitespace))
                    && !p.malformed.iter().any(|m| m == k.as_ref())
                {
                    p.malformed.push(k.to_string());
                }
                match p.map.get_mut(k.as_ref()) {
                    Some(joined) => {
                        joined.push(' ');
                        joined.push_str(&v);
                    }
                    None => {
                        p.map.insert(k.into_owned(), v.into_owned());
                    }
                }
                continue;
            }
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

    /// The names refused as a whole: repeated single-valued ones, then malformed
    /// repeatable ones.
    pub fn refused(&self) -> Vec<String> {
        self.duplicated
            .iter()
            .chain(&self.malformed)
            .cloned()
            .collect()
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

/// Which header the trusted proxies write (`--proxy-header`). Only that one is
/// believed: a proxy that writes `X-Forwarded-For` passes a client's own `Forwarded`
/// through untouched, and the other way round, so believing both would let the client
/// choose its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyHeader {
    /// RFC 7239 `Forwarded: for=…` (with `proto=`).
    Forwarded,
    /// `X-Forwarded-For` (with `X-Forwarded-Proto`), what most proxies write.
    #[default]
    XForwardedFor,
}

impl ProxyHeader {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProxyHeader::Forwarded => "forwarded",
            ProxyHeader::XForwardedFor => "x-forwarded-for",
        }
    }
}

impl std::str::FromStr for ProxyHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "forwarded" => Ok(ProxyHeader::Forwarded),
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            other => Err(format!(
                "proxy header {other:?}: expected forwarded or x-forwarded-for"
            )),
        }
    }
}

/// Every line of a header, in order, as one comma-separated list (RFC 9110 §5.3: a
/// recipient may combine lines so; each proxy may add its own line).
fn all_lines(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

/// The `for=` of one RFC 7239 element: `for="[2001:db8::1]:4711"`,
/// `for=192.0.2.60:8080`, `for=192.0.2.60`. Obfuscated identifiers and `unknown` are
/// `None`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        let host = match v.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None if v.matches(':').count() > 1 => v,
            None => v.split(':').next().unwrap_or(""),
        };
        host.parse::<IpAddr>().ok()
    })
}

/// The hops the configured header reports across all its lines, nearest last.
/// Entries that are not IP addresses come back as `None`.
fn forwarded_hops(headers: &HeaderMap, which: ProxyHeader) -> Vec<Option<IpAddr>> {
    match which {
        ProxyHeader::Forwarded => all_lines(headers, "forwarded")
            .iter()
            .map(|e| forwarded_for(e))
            .collect(),
        ProxyHeader::XForwardedFor => all_lines(headers, "x-forwarded-for")
            .iter()
            .map(|h| {
                let h = h.trim_matches('"');
                // `[v6]:port` and `v4:port` forms some proxies write.
                let host = match h.strip_prefix('[') {
                    Some(rest) => rest.split(']').next().unwrap_or(""),
                    None if h.matches(':').count() == 1 => h.split(':').next().unwrap_or(""),
                    None => h,
                };
                host.parse::<IpAddr>().ok()
            })
            .collect(),
    }
}

/// The caller's address: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most address in the configured header that is not itself a trusted
/// proxy (everything left of it was written by the client or its side and is trivially
/// forged). Headers from anyone else are ignored.
pub fn client_ip(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[IpAddr],
    which: ProxyHeader,
) -> IpAddr {
    let peer_ip = peer.ip();
    if !trusted.contains(&peer_ip) {
        return peer_ip;
    }
    for hop in forwarded_hops(headers, which).iter().rev() {
        match hop {
            Some(ip) if !trusted.contains(ip) => return *ip,
            Some(_) => continue,
            None => break,
        }
    }
    peer_ip
}

/// The scheme the client used, as a trusted proxy reports it in the configured
/// header's family (`Forwarded: proto=`, or `X-Forwarded-Proto`).
pub fn forwarded_proto(headers: &HeaderMap, which: ProxyHeader) -> Option<String> {
    match which {
        ProxyHeader::Forwarded => {
            // The first element is the one the client-facing proxy wrote.
            let lines = all_lines(headers, "forwarded");
            let first = lines.first()?;
            first.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("proto")
                    .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
            })
        }
        ProxyHeader::XForwardedFor => all_lines(headers, "x-forwarded-proto")
            .first()
            .map(|v| v.to_ascii_lowercase()),
    }
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
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
    fn resource_and_audience_may_repeat_other_parameters_may_not_and_a_spaced_value_is_malformed() {
        let p = Params::parse(
            b"resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&scope=x&scope=y",
        );
        assert_eq!(
            p.get("resource"),
            Some("https://a.example https://b.example")
        );
        assert_eq!(p.duplicated, vec!["scope".to_string()]);
        assert!(p.malformed.is_empty());
        // A space inside one value would split it in two: refused, as is an empty one.
        let p = Params::parse(b"audience=a+b");
        assert_eq!(p.malformed, vec!["audience".to_string()]);
        let p = Params::parse(b"audience=a&audience=");
        assert_eq!(p.malformed, vec!["audience".to_string()]);
        assert_eq!(p.refused(), vec!["audience".to_string()]);
    }

    const XFF: ProxyHeader = ProxyHeader::XForwardedFor;
    const FWD: ProxyHeader = ProxyHeader::Forwarded;

    fn lines(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 443);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        assert_eq!(
            client_ip(peer, &h, &[proxy], XFF).to_string(),
            "198.51.100.7"
        );
        // The same header from an untrusted peer is ignored.
        assert_eq!(client_ip(peer, &h, &[], XFF).to_string(), "10.0.0.1");
    }

    #[test]
    fn only_the_configured_header_is_believed() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 443);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"",
            ),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "http"),
        ]);
        assert_eq!(
            client_ip(peer, &h, &[proxy], FWD).to_string(),
            "2001:db8::1"
        );
        assert_eq!(forwarded_proto(&h, FWD).as_deref(), Some("https"));
        assert_eq!(
            client_ip(peer, &h, &[proxy], XFF).to_string(),
            "203.0.113.9"
        );
        assert_eq!(forwarded_proto(&h, XFF).as_deref(), Some("http"));
        // A proxy that writes X-Forwarded-For passes a forged Forwarded through.
        let h = headers(&[("forwarded", "for=192.0.2.1")]);
        assert_eq!(client_ip(peer, &h, &[proxy], XFF), proxy);
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(peer, &h, &[proxy], FWD), proxy);
        let h = headers(&[("x-forwarded-proto", "HTTP")]);
        assert_eq!(forwarded_proto(&h, XFF).as_deref(), Some("http"));
    }

    #[test]
    fn every_line_counts_and_the_right_most_untrusted_address_wins() {
        let p1: IpAddr = "10.0.0.1".parse().unwrap();
        let p2: IpAddr = "10.0.0.2".parse().unwrap();
        let peer = SocketAddr::new(p1, 443);
        // The client forged the left-most entries; the second proxy added a line.
        let h = lines(&[
            ("x-forwarded-for", "1.2.3.4, 10.0.0.2"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.2"),
        ]);
        assert_eq!(
            client_ip(peer, &h, &[p1, p2], XFF).to_string(),
            "198.51.100.7"
        );
        let h = lines(&[
            ("forwarded", "for=1.2.3.4"),
            ("forwarded", "for=198.51.100.7:5555;proto=https"),
            ("forwarded", "for=10.0.0.2"),
        ]);
        assert_eq!(
            client_ip(peer, &h, &[p1, p2], FWD).to_string(),
            "198.51.100.7"
        );
        // Port and bracket forms of X-Forwarded-For.
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443, 192.0.2.9:80")]);
        assert_eq!(client_ip(peer, &h, &[p1], XFF).to_string(), "192.0.2.9");
        let h = headers(&[("x-forwarded-for", "2001:db8::7")]);
        assert_eq!(client_ip(peer, &h, &[p1], XFF).to_string(), "2001:db8::7");
        // Everything in the header is a trusted proxy: the peer itself.
        let h = headers(&[("x-forwarded-for", "10.0.0.2")]);
        assert_eq!(client_ip(peer, &h, &[p1, p2], XFF), p1);
    }
}
