//! Fetching a client's `jwks_uri` without becoming an SSRF proxy (catalogue RG-05):
//! `https://` only; the host is resolved first and every address must be public (no
//! loopback, private, link-local, CGNAT, multicast or unspecified ranges); the
//! connection is pinned to the checked address; no redirects; 5 s timeout; 64 KiB cap.
//! A server whose own issuer is on loopback (local development, tests) may also fetch
//! `http://` from loopback. Proxy environment variables are ignored: a proxy would
//! connect wherever it likes after our address check. Concurrent fetches of one URL are
//! one request (single flight), so a burst of assertions naming an unknown `kid` cannot
//! turn into a burst against the client's server.

use futures_util::future::{BoxFuture, FutureExt, Shared};
use latchkey_core::oauth::fetch::JwksFetcher;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

const MAX_BYTES: usize = 64 * 1024;

type Flight = Shared<BoxFuture<'static, Result<Value, String>>>;

pub struct HttpJwksFetcher {
    allow_loopback: bool,
    in_flight: Mutex<HashMap<String, Flight>>,
}

impl HttpJwksFetcher {
    pub fn new(allow_loopback: bool) -> Self {
        Self {
            allow_loopback,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// How many callers are waiting on the fetch of `uri` now (tests).
    #[cfg(test)]
    fn waiting(&self, uri: &str) -> usize {
        self.in_flight
            .lock()
            .unwrap()
            .get(uri)
            .and_then(Shared::strong_count)
            .map_or(0, |n| n - 1)
    }
}

/// The SSRF rule, in the core so webhook registration checks the same ranges.
pub use latchkey_core::net::is_public;

#[async_trait::async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch_jwks(&self, uri: &str) -> Result<Value, String> {
        let flight = {
            let mut m = self.in_flight.lock().map_err(|_| "poisoned".to_string())?;
            m.entry(uri.to_string())
                .or_insert_with(|| {
                    fetch_once(self.allow_loopback, uri.to_string())
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let out = flight.clone().await;
        // The first caller back ends the flight; a later call fetches anew.
        if let Ok(mut m) = self.in_flight.lock() {
            if m.get(uri).is_some_and(|f| f.ptr_eq(&flight)) {
                m.remove(uri);
            }
        }
        out
    }
}

/// An HTTP client that can reach `u` only at an address checked to be public (or
/// loopback, when `allow_loopback` and every answer is loopback), for the `jwks_uri`
/// fetcher and webhook deliveries alike. No proxy (HTTPS_PROXY would send the request
/// elsewhere than the checked address), no redirects, and the connection goes to the
/// address that was checked, not to a second DNS answer (no rebinding).
pub(crate) async fn pinned_client(
    u: &url::Url,
    allow_loopback: bool,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Client, String> {
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
    let loopback_ok = allow_loopback && addrs.iter().all(|a| a.ip().is_loopback());
    if !loopback_ok && !addrs.iter().all(|a| is_public(a.ip())) {
        return Err(format!("{host} resolves to a non-public address"));
    }
    match u.scheme() {
        "https" => {}
        "http" if loopback_ok => {}
        _ => return Err(format!("only https:// {what} are called")),
    }
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .resolve(&bare_host, addr)
        .build()
        .map_err(|e| e.to_string())
}

async fn fetch_once(allow_loopback: bool, uri: String) -> Result<Value, String> {
    {
        let uri = uri.as_str();
        let u = url::Url::parse(uri).map_err(|_| "not a URL".to_string())?;
        let client = pinned_client(&u, allow_loopback, Duration::from_secs(5), "key URLs").await?;
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

    /// AD-72 (with RG-05): NAT64 and 6to4 forms of private addresses are not public.
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
            // NAT64 and 6to4 forms of private addresses.
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::5db8:d822",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:2800:220:1::1".parse().unwrap()));
        assert!(is_public("64:ff9b::5db8:d822".parse().unwrap()));
        assert!(is_public("2002:5db8:d822::1".parse().unwrap()));
    }

    /// A JWKS server on loopback that counts connections and answers only once `gate`
    /// has permits.
    async fn gated_jwks_server() -> (
        String,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
        std::sync::Arc<tokio::sync::Semaphore>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        // Closed until the test adds permits: answers wait however late they arrive.
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (h, g) = (hits.clone(), gate.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = g.acquire().await.map(|p| p.forget());
                    let body = r#"{"keys":[]}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        (url, hits, gate)
    }

    /// AD-73: concurrent re-fetches of one client's key URL are one request.
    #[tokio::test]
    async fn concurrent_fetches_of_one_key_url_are_one_request() {
        use std::sync::atomic::Ordering;
        let (url, hits, gate) = gated_jwks_server().await;
        let f = std::sync::Arc::new(HttpJwksFetcher::new(true));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (f, url) = (f.clone(), url.clone());
                tokio::spawn(async move { f.fetch_jwks(&url).await })
            })
            .collect();
        // Every caller is waiting and the server has seen the request: no timing involved.
        while f.waiting(&url) < 8 || hits.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(64);
        for c in callers {
            assert_eq!(c.await.unwrap().unwrap(), serde_json::json!({"keys": []}));
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(f.waiting(&url), 0);
    }

    /// AD-74: the fetcher ignores proxy environment variables.
    #[tokio::test]
    async fn proxy_environment_variables_are_ignored() {
        use std::sync::atomic::Ordering;
        // A "proxy" that would answer if it were used; nextest runs each test in its
        // own process, so the variables reach no other test.
        let (proxy_url, proxy_hits, _proxy_gate) = gated_jwks_server().await;
        let proxy = proxy_url.trim_end_matches("/jwks").to_string();
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::set_var(var, &proxy);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        let (url, hits, gate) = gated_jwks_server().await;
        let f = std::sync::Arc::new(HttpJwksFetcher::new(true));
        let call = {
            let (f, url) = (f.clone(), url.clone());
            tokio::spawn(async move { f.fetch_jwks(&url).await })
        };
        while hits.load(Ordering::SeqCst) == 0 && proxy_hits.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            proxy_hits.load(Ordering::SeqCst),
            0,
            "the request went to the proxy"
        );
        gate.add_permits(64);
        assert!(call.await.unwrap().is_ok());
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
