//! Fetching a client's `jwks_uri` without becoming an SSRF proxy (catalogue RG-05):
//! `https://` only; the host is resolved first and every address must be public (no
//! loopback, private, link-local, CGNAT, multicast or unspecified ranges); the
//! connection is pinned to the checked address; no redirects; 5 s timeout; 64 KiB cap.
//! A server whose own issuer is on loopback (local development, tests) may also fetch
//! `http://` from loopback.

use latchkey_core::oauth::fetch::JwksFetcher;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const MAX_BYTES: usize = 64 * 1024;

pub struct HttpJwksFetcher {
    allow_loopback: bool,
}

impl HttpJwksFetcher {
    pub fn new(allow_loopback: bool) -> Self {
        Self { allow_loopback }
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[async_trait::async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch_jwks(&self, uri: &str) -> Result<Value, String> {
        let u = url::Url::parse(uri).map_err(|_| "not a URL".to_string())?;
        let host = u.host_str().ok_or("no host")?.to_string();
        let port = u.port_or_known_default().ok_or("no port")?;
        let bare_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare_host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let addr = *addrs.first().ok_or("no address")?;
        let loopback_ok = self.allow_loopback && addrs.iter().all(|a| a.ip().is_loopback());
        if !loopback_ok && !addrs.iter().all(|a| is_public(a.ip())) {
            return Err(format!("{host} resolves to a non-public address"));
        }
        match u.scheme() {
            "https" => {}
            "http" if loopback_ok => {}
            _ => return Err("only https:// key URLs are fetched".into()),
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            // Connect to the address that was checked, not to a second DNS answer.
            .resolve(&bare_host, addr)
            .build()
            .map_err(|e| e.to_string())?;
        let mut resp = client
            .get(u)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("answered {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("JWK Set larger than 64 KiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| "not JSON".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_mapped_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:2800:220:1::1".parse().unwrap()));
    }

    #[tokio::test]
    async fn loopback_and_http_key_urls_are_refused_in_production_mode() {
        let f = HttpJwksFetcher::new(false);
        for uri in [
            "https://127.0.0.1:5432/jwks",
            "http://127.0.0.1/jwks",
            "https://[::1]/jwks",
            "file:///etc/passwd",
        ] {
            assert!(f.fetch_jwks(uri).await.is_err(), "{uri}");
        }
    }
}
