use super::*;

/// How long a new API key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLifetime {
    /// [`API_KEY_DEFAULT_TTL`].
    Default,
    Seconds(i64),
    /// Only when asked for explicitly.
    Never,
}

/// What the audit log records of an API key (never the key or its hash).
pub fn api_key_summary(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "read_only": k.read_only,
        "expires_at": k.expires_at,
    })
}

impl Manager {
    /// Revokes every live API key the user created, and the keys those keys created,
    /// each audited as `api_key.revoke` with the reason. Repeating it (disabling again)
    /// finishes a revocation an interruption left half done.
    pub(super) async fn api_keys_revoke_created_by(
        &self,
        actor: &str,
        user_id: &str,
        now: Timestamp,
    ) -> ManageResult<()> {
        let keys = self.store.api_keys_list().await?;
        let mut creators = vec![format!("user:{user_id}")];
        let mut seen = std::collections::HashSet::new();
        while let Some(creator) = creators.pop() {
            for k in keys.iter().filter(|k| k.created_by == creator) {
                if !seen.insert(k.id.clone()) {
                    continue;
                }
                creators.push(format!("api-key:{}", k.id));
                if k.revoked_at.is_some() {
                    continue;
                }
                let audit = self
                    .audit_event(now, actor, AuditAction::ApiKeyRevoke.as_str())
                    .target(k.id.clone())
                    .after(&serde_json::json!({"reason": "creator_disabled", "user_id": user_id}));
                match self.store.api_key_revoke(&k.id, now, &audit).await {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Whether the administrator behind a key (directly, or through the key that
    /// created it) is still enabled. Keys made by the CLI on the database itself have
    /// no user behind them.
    pub(super) async fn api_key_creator_live(&self, key: &ApiKey) -> ManageResult<bool> {
        let mut creator = key.created_by.clone();
        for _ in 0..8 {
            if let Some(uid) = creator.strip_prefix("user:") {
                return Ok(self.store.user_get(uid).await?.is_some_and(|u| !u.disabled));
            }
            let Some(kid) = creator.strip_prefix("api-key:") else {
                return Ok(true);
            };
            let Some(parent) = self
                .store
                .api_keys_list()
                .await?
                .into_iter()
                .find(|k| k.id == kid)
            else {
                return Ok(true);
            };
            creator = parent.created_by;
        }
        Ok(true)
    }

    pub async fn api_keys_list(&self) -> ManageResult<Vec<ApiKey>> {
        Ok(self.store.api_keys_list().await?)
    }

    /// Creates an API key that expires after `expires_in` seconds, or after
    /// [`API_KEY_DEFAULT_TTL`] when `None`.
    pub async fn api_key_create(
        &self,
        actor: &str,
        name: &str,
        read_only: bool,
        expires_in: Option<i64>,
    ) -> ManageResult<(ApiKey, PlainSecret)> {
        let lifetime = expires_in.map_or(ApiKeyLifetime::Default, ApiKeyLifetime::Seconds);
        self.api_key_create_with(actor, name, read_only, lifetime)
            .await
    }

    /// Creates an API key; the returned secret is the only copy there will ever be.
    pub async fn api_key_create_with(
        &self,
        actor: &str,
        name: &str,
        read_only: bool,
        lifetime: ApiKeyLifetime,
    ) -> ManageResult<(ApiKey, PlainSecret)> {
        let expires_in = match lifetime {
            ApiKeyLifetime::Default => Some(API_KEY_DEFAULT_TTL),
            ApiKeyLifetime::Seconds(s) => Some(s),
            ApiKeyLifetime::Never => None,
        };
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > API_KEY_NAME_MAX
            || name.chars().any(char::is_control)
        {
            return Err(ManageError::InvalidInput(format!(
                "an API key needs a name of 1 to {API_KEY_NAME_MAX} printable characters"
            )));
        }
        if let Some(ttl) = expires_in {
            if ttl <= 0 || ttl > API_KEY_MAX_TTL {
                return Err(ManageError::InvalidInput(format!(
                    "expires_in must be between 1 second and {} days",
                    API_KEY_MAX_TTL / 86_400
                )));
            }
        }
        let now = self.now();
        let secret = format!("{API_KEY_PREFIX}{}", crypto::random_token());
        let key = ApiKey {
            id: crypto::random_id(),
            name: name.to_string(),
            hash: crypto::sha256(secret.as_bytes()),
            read_only,
            created_at: now,
            created_by: actor.to_string(),
            expires_at: expires_in.map(|t| now + t),
            revoked_at: None,
            last_used_at: None,
        };
        let audit = self
            .audit_event(now, actor, AuditAction::ApiKeyCreate.as_str())
            .target(key.id.clone())
            .after(&api_key_summary(&key));
        self.store.api_key_insert(&key, &audit).await?;
        Ok((key, PlainSecret(secret)))
    }

    pub async fn api_key_revoke(&self, actor: &str, id: &str) -> ManageResult<ApiKey> {
        let now = self.now();
        let audit = self
            .audit_event(now, actor, AuditAction::ApiKeyRevoke.as_str())
            .target(id);
        match self.store.api_key_revoke(id, now, &audit).await {
            Err(StoreError::NotFound) => {
                return Err(ManageError::NotFound(format!(
                    "no API key with id \"{}\"",
                    shown(id)
                )))
            }
            other => other?,
        };
        self.store
            .api_keys_list()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| ManageError::NotFound(format!("no API key with id \"{}\"", shown(id))))
    }
}
