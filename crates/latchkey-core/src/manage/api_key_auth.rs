use super::*;

impl Manager {
    /// The usable key a bearer value names, if any. Records the use at most once a
    /// minute (it is informational and a write per request would be waste).
    pub async fn api_key_authenticate(&self, presented: &str) -> ManageResult<Option<ApiKey>> {
        if !presented.starts_with(API_KEY_PREFIX) || presented.len() > 200 {
            return Ok(None);
        }
        let hash = crypto::sha256(presented.as_bytes());
        let now = self.now();
        let Some(key) = self.store.api_key_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !key.is_usable(now) {
            return Ok(None);
        }
        // A key dies with its creator: disabling an administrator revokes their keys
        // (see `user_disable`); this also covers keys made before that rule existed.
        if !self.api_key_creator_live(&key).await? {
            return Ok(None);
        }
        if key.last_used_at.is_none_or(|t| now - t >= 60) {
            if let Err(e) = self.store.api_key_touch(&key.id, now).await {
                tracing::warn!(target: "latchkey::manage", "api_key_touch failed: {e}");
            }
        }
        Ok(Some(key))
    }
}
