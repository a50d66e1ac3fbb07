use super::*;

/// Registered once; any loopback port matches it (RFC 8252 §7.3).
pub const CONSOLE_REDIRECT_URI: &str = "http://127.0.0.1/callback";

impl Manager {
    /// The admin API's scopes and the built-in public client `latchkey-console` through
    /// which the desktop console and `latchkey admin login` obtain admin tokens
    /// (authorization code + PKCE with a loopback redirect on any port, RFC 8252 §7.3;
    /// or the device flow). Idempotent; returns whether anything was created.
    pub async fn ensure_console_client(&self) -> ManageResult<bool> {
        let mut created = self.ensure_admin_scopes().await?;
        if self.store.client_get(CONSOLE_CLIENT_ID).await?.is_some() {
            return Ok(created);
        }
        created |= self.insert_console_client().await?;
        Ok(created)
    }

    /// The OIDC scopes and the two admin scopes, whichever command opens the database
    /// first (the server, the admin CLI, the console): the console client lists `openid`
    /// and friends, and an admin tool can be given `latchkey:admin` before any server
    /// ran. Idempotent; returns whether anything was created.
    pub async fn ensure_admin_scopes(&self) -> ManageResult<bool> {
        let mut created = self.ensure_builtin_scopes().await? > 0;
        for (name, description) in [
            (ADMIN_SCOPE, "Administer this Latchkey server"),
            (
                ADMIN_READ_SCOPE,
                "Read this Latchkey server's configuration, sessions and audit log",
            ),
        ] {
            if self.store.scope_get(name).await?.is_some() {
                continue;
            }
            let now = self.now();
            let scope = Scope {
                name: name.to_string(),
                description: description.to_string(),
                claims: vec![],
                builtin: true,
                created_at: now,
            };
            let audit = self
                .audit_event(now, "system", AuditAction::ScopeCreate.as_str())
                .target(name)
                .after(&scope);
            match self.store.scope_insert(&scope, &audit).await {
                Ok(()) => created = true,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }

    async fn insert_console_client(&self) -> ManageResult<bool> {
        let now = self.now();
        let client = Client {
            id: CONSOLE_CLIENT_ID.to_string(),
            name: "Latchkey console".into(),
            client_type: ClientType::Public,
            auth_method: AuthMethod::None,
            grant_types: vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::DeviceCode,
            ],
            redirect_uris: vec![CONSOLE_REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            allowed_scopes: [
                "openid",
                "profile",
                "offline_access",
                ADMIN_SCOPE,
                ADMIN_READ_SCOPE,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            jwks: None,
            jwks_uri: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: 12 * 3600,
            refresh_idle_ttl: 2 * 3600,
            refresh_grace_secs: 0,
            // First-party, but a native app: every request still meets the approval
            // page (RFC 8252 §8.6), see `Provider::needs_consent`.
            require_consent: false,
            admin_tool: false,
            disabled: false,
            assertion_aud_compat: false,
            require_pushed_authorization_requests: false,
            registered: false,
            allowed_origins: None,
            dpop_bound_access_tokens: false,
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
        };
        match self
            .insert_client("system", client, AuditAction::ClientCreate.as_str(), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(ManageError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
