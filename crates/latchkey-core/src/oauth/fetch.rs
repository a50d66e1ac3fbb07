//! Keys a client publishes at its `jwks_uri` (RFC 7591 §2) for `private_key_jwt`.
//! The engine does no I/O itself: the server hands it a [`JwksFetcher`]. Fetched sets
//! are cached; an assertion naming an unknown `kid` triggers one re-fetch, at most once
//! per `jwks_refetch_min` per URL, so a client can rotate its keys (OI-11) without a
//! stranger being able to make us hammer its server. Ages are read from the provider's
//! [`Clock`](crate::clock::Clock) (milliseconds), so tests step them with a fixed clock.

use super::Provider;
use serde_json::Value;
use std::time::Duration;

/// How long a fetched JWK Set is used before it is fetched again anyway.
pub const JWKS_CACHE_TTL: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
pub trait JwksFetcher: Send + Sync + 'static {
    /// The JWK Set at `uri`. The implementation enforces where it may connect (no
    /// private or loopback addresses in production), timeouts and a size cap. The
    /// error text is for the log only.
    async fn fetch_jwks(&self, uri: &str) -> Result<Value, String>;
}

impl Provider {
    /// The client's published keys: cached, or fetched. `refresh`: the cached set lacks
    /// the key an assertion names, so fetch again unless that was done very recently.
    pub(crate) async fn remote_jwks(&self, uri: &str, refresh: bool) -> Option<Value> {
        let cached = self
            .remote_keys
            .lock()
            .ok()
            .and_then(|m| m.get(uri).cloned());
        let now_ms = self.clock.now_millis();
        if let Some((at, value)) = &cached {
            let max_age = if refresh {
                self.config.jwks_refetch_min
            } else {
                JWKS_CACHE_TTL
            };
            // A set stamped in the future (the clock was set back) is stale.
            let age = now_ms.saturating_sub(*at);
            let fresh_enough =
                (0..i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX)).contains(&age);
            if fresh_enough {
                return value.clone();
            }
        }
        let fetcher = self.jwks_fetcher.as_ref()?;
        let fetched = match fetcher.fetch_jwks(uri).await {
            Ok(v) if v.get("keys").and_then(Value::as_array).is_some() => Some(v),
            Ok(_) => {
                tracing::warn!(uri, "client jwks_uri did not return a JWK Set");
                None
            }
            Err(e) => {
                tracing::warn!(uri, error = %e, "client jwks_uri fetch failed");
                None
            }
        };
        // A failed fetch keeps the last good set (and still counts for the rate limit).
        let value = fetched.or_else(|| cached.and_then(|(_, v)| v));
        if let Ok(mut m) = self.remote_keys.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(uri.to_string(), (self.clock.now_millis(), value.clone()));
        }
        value
    }
}
