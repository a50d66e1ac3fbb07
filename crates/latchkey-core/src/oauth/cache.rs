//! Read caches for the hot paths (client authentication, scope checks, token
//! verification). An entry is reused only while the store's cache marker
//! ([`Coordination::cache_marker`](crate::store::Coordination::cache_marker)) is the one
//! seen before the read, and never longer than a second, so a change by this process or
//! another (the CLI) is seen on the next request, while a grant's own bookkeeping (a
//! token exchange writes its lineage on every request) leaves the caches alone. Writes and single-use checks (code
//! redemption, refresh rotation) never go through here. Ages are read from the
//! provider's [`Clock`](crate::clock::Clock), so a test drives them with a fixed clock.

use super::error::OAuthResult;
use super::Provider;
use crate::clock::Timestamp;
use crate::model::{Client, ClientSecret, ExchangePolicy, Scope, Session, User};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 20_000;
/// Milliseconds an entry may be reused, marker unchanged.
const MAX_AGE_MS: i64 = 1000;

pub(crate) struct MarkerCache<K, V> {
    map: Mutex<HashMap<K, (u64, i64, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> MarkerCache<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// `now_ms`: the clock's milliseconds. An entry from the future (a clock set back)
    /// is not reused either.
    fn get(&self, key: &K, marker: Option<u64>, now_ms: i64) -> Option<V> {
        let marker = marker?;
        let map = self.map.lock().ok()?;
        let (m, at, v) = map.get(key)?;
        let age = now_ms.saturating_sub(*at);
        (*m == marker && (0..MAX_AGE_MS).contains(&age)).then(|| v.clone())
    }

    fn put(&self, key: K, marker: Option<u64>, v: V, now_ms: i64) {
        let Some(marker) = marker else {
            return;
        };
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (marker, now_ms, v));
        }
    }
}

pub(crate) struct Caches {
    clients: MarkerCache<String, Option<Client>>,
    secrets: MarkerCache<String, Vec<ClientSecret>>,
    scopes: MarkerCache<String, Option<Scope>>,
    sessions: MarkerCache<String, Option<Session>>,
    users: MarkerCache<String, Option<User>>,
    revoked_jtis: MarkerCache<String, bool>,
    /// The enabled token-exchange policies, all of them under one key: few, read by
    /// every exchange and by every request naming an audience.
    exchange_policies: MarkerCache<(), Arc<Vec<ExchangePolicy>>>,
    /// Every enabled client's web origins (CORS), under one key.
    web_origins: MarkerCache<(), Arc<std::collections::HashSet<String>>>,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Self {
            clients: MarkerCache::new(),
            secrets: MarkerCache::new(),
            scopes: MarkerCache::new(),
            sessions: MarkerCache::new(),
            users: MarkerCache::new(),
            revoked_jtis: MarkerCache::new(),
            exchange_policies: MarkerCache::new(),
            web_origins: MarkerCache::new(),
        }
    }
}

macro_rules! cached_read {
    ($name:ident, $field:ident, $key:ty, $val:ty, $read:ident) => {
        pub(crate) async fn $name(&self, key: &str) -> OAuthResult<$val> {
            self.through_cache(&self.caches.$field, key.to_string(), || {
                self.store.$read(key)
            })
            .await
        }
    };
}

impl Provider {
    /// The value for `key` from `cache` while the store's cache marker is unchanged
    /// (and the entry is younger than the TTL), otherwise `read` and remembered.
    async fn through_cache<K, V, F, Fut>(
        &self,
        cache: &MarkerCache<K, V>,
        key: K,
        read: F,
    ) -> OAuthResult<V>
    where
        K: Eq + Hash + Clone,
        V: Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, crate::error::StoreError>>,
    {
        // The marker is taken before the read: a change that lands during the read
        // alters the marker, so the entry is not reused.
        let marker = self.store.cache_marker().await;
        if let Some(v) = cache.get(&key, marker, self.clock.now_millis()) {
            return Ok(v);
        }
        // The age counts from before the read, like the marker.
        let read_at = self.clock.now_millis();
        let v = read().await?;
        cache.put(key, marker, v.clone(), read_at);
        Ok(v)
    }

    /// The enabled token-exchange policies (RFC 8693), cached like the other hot reads.
    pub(crate) async fn enabled_exchange_policies(&self) -> OAuthResult<Arc<Vec<ExchangePolicy>>> {
        self.through_cache(&self.caches.exchange_policies, (), || async {
            let all = self.store.exchange_policies_list().await?;
            Ok(Arc::new(all.into_iter().filter(|p| p.enabled).collect()))
        })
        .await
    }

    /// Whether `session` may still be used: live itself and, for a session a token
    /// exchange derived (RFC 8693, a refresh family a policy allowed), every session and
    /// subject token it came from still live and its client still enabled. Checked on
    /// every use rather than cascaded on every revocation, so each way of ending the
    /// subject (its session, its family, the token itself, its client, its user) reaches
    /// the derived family without each having to know about it.
    pub(crate) async fn session_live(
        &self,
        session: &Session,
        now: Timestamp,
    ) -> OAuthResult<bool> {
        // Derived sessions come from tokens of live sessions, so a chain is short; the
        // bound only keeps a corrupt cycle from looping.
        const MAX_DEPTH: usize = 8;
        let mut current = session.clone();
        for _ in 0..MAX_DEPTH {
            if !current.is_live(now) {
                return Ok(false);
            }
            if let Some(jti) = &current.parent_jti {
                if self.cached_jti_revoked(jti).await? {
                    return Ok(false);
                }
            }
            let Some(parent) = current.parent_session_id.clone() else {
                return Ok(true);
            };
            let Some(p) = self.cached_session(&parent).await? else {
                return Ok(false);
            };
            match self.cached_client(&p.client_id).await? {
                Some(c) if !c.disabled && p.created_at > c.tokens_valid_after => {}
                _ => return Ok(false),
            }
            current = p;
        }
        Ok(false)
    }

    /// Whether any enabled client lists `origin` among its web origins: the CORS
    /// layer's question, asked on every cross-origin request, so cached like the rest.
    pub async fn origin_registered(&self, origin: &str) -> OAuthResult<bool> {
        let all = self
            .through_cache(&self.caches.web_origins, (), || async {
                let clients = self.store.clients_list().await?;
                Ok(Arc::new(
                    clients
                        .iter()
                        .filter(|c| !c.disabled)
                        .flat_map(|c| c.web_origins())
                        .collect(),
                ))
            })
            .await?;
        Ok(all.contains(origin))
    }

    cached_read!(cached_client, clients, String, Option<Client>, client_get);
    cached_read!(
        cached_secrets,
        secrets,
        String,
        Vec<ClientSecret>,
        client_secrets
    );
    cached_read!(cached_scope, scopes, String, Option<Scope>, scope_get);
    cached_read!(
        cached_session,
        sessions,
        String,
        Option<Session>,
        session_get
    );
    cached_read!(cached_user, users, String, Option<User>, user_get);
    cached_read!(
        cached_jti_revoked,
        revoked_jtis,
        String,
        bool,
        access_token_revoked
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_reused_for_under_a_second_of_the_clock_and_only_under_its_marker() {
        let c: MarkerCache<String, i32> = MarkerCache::new();
        let t = 1_000_000;
        c.put("k".into(), Some(7), 1, t);
        assert_eq!(c.get(&"k".into(), Some(7), t), Some(1));
        assert_eq!(c.get(&"k".into(), Some(7), t + 999), Some(1));
        assert_eq!(c.get(&"k".into(), Some(7), t + 1000), None, "too old");
        assert_eq!(c.get(&"k".into(), Some(8), t), None, "marker moved");
        assert_eq!(c.get(&"k".into(), None, t), None, "no marker");
        assert_eq!(c.get(&"k".into(), Some(7), t - 1), None, "clock set back");
        c.put("n".into(), None, 2, t);
        assert_eq!(c.get(&"n".into(), None, t), None);
    }
}
