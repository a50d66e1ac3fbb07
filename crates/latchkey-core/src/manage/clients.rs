use super::*;

/// A client to register. Unset fields take the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewClient {
    pub name: String,
    /// Default: confidential.
    pub client_type: Option<ClientType>,
    /// Default: `client_secret_basic` for confidential clients, `none` for public ones.
    pub auth_method: Option<AuthMethod>,
    /// Default (empty): `authorization_code` (RFC 7591 §2) plus `refresh_token`.
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Default (empty) for clients that act for users: the built-in OIDC scopes
    /// (`offline_access` only with the refresh grant). Empty for machine clients.
    pub allowed_scopes: Vec<String>,
    /// A JWK Set (JSON text) of public keys, for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Or the URL where the client publishes it (not both).
    pub jwks_uri: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub require_consent: Option<bool>,
    /// Marks the client as an admin tool, allowed to list the admin scopes.
    pub admin_tool: Option<bool>,
    /// `private_key_jwt`: also accept an array or endpoint-URL `aud` (default false).
    pub assertion_aud_compat: Option<bool>,
    /// RFC 9126 §6: only pushed authorization requests (default false).
    pub require_pushed_authorization_requests: Option<bool>,
    /// The web origins of a browser app (CORS); default: those of its redirect URIs.
    pub allowed_origins: Option<Vec<String>>,
    /// RFC 9449 §5.2: refuse token requests without a DPoP proof (default false).
    pub dpop_bound_access_tokens: Option<bool>,
}

/// A partial update: `None` leaves a field as it is. The client type cannot change
/// (it decides whether secrets exist at all); clone the client instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub auth_method: Option<AuthMethod>,
    pub grant_types: Option<Vec<GrantType>>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    /// `Some(None)` removes the JWK Set. Leaving the `private_key_jwt` method removes
    /// it too unless a new one is given.
    pub jwks: Option<Option<String>>,
    /// `Some(None)` removes the JWK Set URL.
    pub jwks_uri: Option<Option<String>>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub require_consent: Option<bool>,
    pub admin_tool: Option<bool>,
    pub disabled: Option<bool>,
    pub assertion_aud_compat: Option<bool>,
    pub require_pushed_authorization_requests: Option<bool>,
    /// `Some(None)`: the origins follow the redirect URIs again.
    pub allowed_origins: Option<Option<Vec<String>>>,
    pub dpop_bound_access_tokens: Option<bool>,
}

/// A registered client and, for secret-based authentication, its secret: the only
/// time the plaintext exists outside the client's hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCreated {
    pub client: Client,
    pub secret: Option<PlainSecret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRotated {
    pub client_id: String,
    pub secret: PlainSecret,
    /// When the secrets valid before this rotation stop working.
    pub previous_expire_at: Timestamp,
}

impl Manager {
    pub async fn clients_list(&self) -> ManageResult<Vec<Client>> {
        Ok(self.store.clients_list().await?)
    }

    pub async fn client_get(&self, id: &str) -> ManageResult<Client> {
        self.store
            .client_get(id)
            .await?
            .ok_or_else(|| ManageError::NotFound(format!("no client with id \"{}\"", shown(id))))
    }

    /// A client's tokens must expire before the key that signed them leaves the JWKS
    /// (the rule `settings_update` keeps from the other side).
    async fn check_ttl_fits_rotation(&self, access_token_ttl: i64) -> ManageResult<()> {
        let s = self.settings_effective().await?;
        ttl_fits_rotation(access_token_ttl, self.policy.jwks_max_age, s.retire_after)
    }

    async fn check_scopes_exist(&self, scopes: &[String]) -> ManageResult<()> {
        for s in scopes {
            if self.store.scope_get(s).await?.is_none() {
                return Err(ManageError::invalid(format!(
                    "scope \"{}\" does not exist; create it first",
                    shown(s)
                )));
            }
        }
        Ok(())
    }

    /// The default scopes of a client that acts for users: the built-in OIDC scopes
    /// that exist in this store.
    pub(super) async fn default_scopes(&self, grants: &[GrantType]) -> ManageResult<Vec<String>> {
        let for_users = grants
            .iter()
            .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::DeviceCode));
        if !for_users {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for name in ["openid", "profile", "email", "offline_access"] {
            if name == "offline_access" && !grants.contains(&GrantType::RefreshToken) {
                continue;
            }
            if self.store.scope_get(name).await?.is_some() {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    fn new_secret(&self, client_id: &str, now: Timestamp) -> (PlainSecret, ClientSecret) {
        let plain = crypto::random_token();
        let row = ClientSecret {
            id: crypto::random_id(),
            client_id: client_id.to_string(),
            hash: crypto::sha256(plain.as_bytes()),
            created_at: now,
            expires_at: None,
        };
        (PlainSecret(plain), row)
    }

    /// Registers a client. Confidential clients with a secret-based auth method get a
    /// 256-bit secret, returned here once and stored only as its SHA-256.
    pub async fn client_create(
        &self,
        actor: &str,
        input: NewClient,
    ) -> ManageResult<ClientCreated> {
        let client = self.client_from_new(input).await?;
        self.insert_client(actor, client, AuditAction::ClientCreate.as_str(), None)
            .await
    }

    /// The client `input` describes, with every default filled in (not yet checked
    /// nor stored): what `client_create` and dynamic registration both register.
    pub(super) async fn client_from_new(&self, input: NewClient) -> ManageResult<Client> {
        let settings = self.settings_effective().await?;
        self.client_from_new_under(input, &settings).await
    }

    /// As [`client_from_new`](Self::client_from_new), the defaults taken from
    /// `settings` (configuration as code: the settings the same document sets).
    pub(super) async fn client_from_new_under(
        &self,
        input: NewClient,
        settings: &ServerSettings,
    ) -> ManageResult<Client> {
        let now = self.now();
        let client_type = input.client_type.unwrap_or(ClientType::Confidential);
        let auth_method = input.auth_method.unwrap_or(match client_type {
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
            ClientType::Public => AuthMethod::None,
        });
        let grant_types = if input.grant_types.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            dedup(&input.grant_types)
        };
        let allowed_scopes = if input.allowed_scopes.is_empty() {
            self.default_scopes(&grant_types).await?
        } else {
            dedup(&input.allowed_scopes)
        };
        // New clients take the lifetimes in force now; changing the settings later
        // leaves registered clients as they are.
        let refresh_token_ttl = input
            .refresh_token_ttl
            .unwrap_or(settings.refresh_token_ttl);
        // A browser app: a public client with web origins of its own or an https
        // redirect (a native app redirects to loopback or a private-use scheme).
        let browser_app = client_type == ClientType::Public
            && (input
                .allowed_origins
                .as_ref()
                .is_some_and(|o| !o.is_empty())
                || input
                    .redirect_uris
                    .iter()
                    .any(|u| u.starts_with("https://")));
        Ok(Client {
            id: crypto::random_id(),
            name: input.name.trim().to_string(),
            client_type,
            auth_method,
            grant_types,
            redirect_uris: dedup(&input.redirect_uris),
            post_logout_redirect_uris: dedup(&input.post_logout_redirect_uris),
            allowed_scopes,
            jwks: input.jwks,
            jwks_uri: input.jwks_uri,
            access_token_ttl: input.access_token_ttl.unwrap_or(settings.access_token_ttl),
            refresh_token_ttl,
            // A shorter absolute lifetime caps the default idle time rather than
            // making the default invalid.
            refresh_idle_ttl: input.refresh_idle_ttl.unwrap_or({
                let idle = settings.refresh_idle_ttl.min(refresh_token_ttl);
                if browser_app {
                    idle.min(crate::limits::BROWSER_REFRESH_IDLE_TTL)
                } else {
                    idle
                }
            }),
            refresh_grace_secs: input.refresh_grace_secs.unwrap_or(0),
            require_consent: input.require_consent.unwrap_or(true),
            admin_tool: input.admin_tool.unwrap_or(false),
            disabled: false,
            assertion_aud_compat: input.assertion_aud_compat.unwrap_or(false),
            require_pushed_authorization_requests: input
                .require_pushed_authorization_requests
                .unwrap_or(false),
            registered: false,
            allowed_origins: input.allowed_origins.map(|o| dedup(&o)),
            dpop_bound_access_tokens: input.dpop_bound_access_tokens.unwrap_or(false),
            // No watermark yet. Introspection requires `iat > tokens_valid_after`, so
            // `now` would deactivate tokens issued within the creation second.
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
        })
    }

    pub(super) async fn insert_client(
        &self,
        actor: &str,
        client: Client,
        action: &str,
        source: Option<&str>,
    ) -> ManageResult<ClientCreated> {
        let (plain, row, audit) = self
            .prepare_client_insert(actor, &client, action, source)
            .await?;
        self.store
            .client_insert(&client, row.as_ref(), &audit)
            .await?;
        Ok(ClientCreated {
            client,
            secret: plain,
        })
    }

    /// Checks a new client, makes its first secret (for secret-based authentication)
    /// and the audit event of its creation: everything but the write.
    pub(super) async fn prepare_client_insert(
        &self,
        actor: &str,
        client: &Client,
        action: &str,
        source: Option<&str>,
    ) -> ManageResult<(Option<PlainSecret>, Option<ClientSecret>, NewAuditEvent)> {
        validate_client(client)?;
        self.check_ttl_fits_rotation(client.access_token_ttl)
            .await?;
        self.check_scopes_exist(&client.allowed_scopes).await?;
        let now = self.now();
        let (plain, row) = if client.client_type == ClientType::Confidential
            && is_secret_based(client.auth_method)
        {
            let (p, r) = self.new_secret(&client.id, now);
            (Some(p), Some(r))
        } else {
            (None, None)
        };
        // The Client model has no secret field; the audit records only that a secret
        // was issued and its id.
        let mut after = serde_json::to_value(client)
            .map_err(|e| ManageError::Internal(format!("cannot serialise client: {e}")))?;
        if let Some(obj) = after.as_object_mut() {
            obj.insert(
                "secret_id".into(),
                row.as_ref()
                    .map(|r| Value::from(r.id.clone()))
                    .unwrap_or(Value::Null),
            );
            if let Some(src) = source {
                obj.insert("cloned_from".into(), Value::from(src));
            }
        }
        let audit = self
            .audit_event(now, actor, action)
            .target(client.id.clone())
            .after(&after);
        Ok((plain, row, audit))
    }

    pub async fn client_update(
        &self,
        actor: &str,
        id: &str,
        upd: ClientUpdate,
    ) -> ManageResult<Client> {
        let before = self.client_get(id).await?;
        let mut c = client_patched(&before, upd)?;
        if c == before {
            return Ok(before);
        }
        c.updated_at = self.now();
        validate_client(&c)?;
        if c.access_token_ttl > before.access_token_ttl {
            self.check_ttl_fits_rotation(c.access_token_ttl).await?;
        }
        self.check_scopes_exist(&c.allowed_scopes).await?;
        let audit = self
            .audit_event(c.updated_at, actor, AuditAction::ClientUpdate.as_str())
            .target(c.id.clone())
            .before(&before)
            .after(&c);
        self.store.client_update(&c, &audit).await?;
        Ok(c)
    }

    /// Deletes the client and everything that hangs off it (its sessions and tokens
    /// die with it).
    pub async fn client_delete(&self, actor: &str, id: &str) -> ManageResult<()> {
        let before = self.client_get(id).await?;
        refuse_builtin(&before, "deleted")?;
        let audit = self
            .audit_event(self.now(), actor, AuditAction::ClientDelete.as_str())
            .target(id)
            .before(&before);
        self.store.client_delete(id, &audit).await?;
        Ok(())
    }

    /// Issues a new secret. The secrets valid until now keep working for `overlap`
    /// seconds (default from the policy, 24 h) so deployments can roll over.
    pub async fn client_rotate_secret(
        &self,
        actor: &str,
        id: &str,
        overlap: Option<i64>,
    ) -> ManageResult<SecretRotated> {
        let client = self.client_get(id).await?;
        if client.client_type != ClientType::Confidential || !is_secret_based(client.auth_method) {
            return Err(ManageError::invalid(format!(
                "client \"{}\" authenticates with {}, not a client secret",
                shown(id),
                client.auth_method
            )));
        }
        let overlap = overlap.unwrap_or(self.policy.secret_overlap);
        if !(0..=MAX_SECRET_OVERLAP).contains(&overlap) {
            return Err(ManageError::invalid(format!(
                "overlap must be between 0 and {MAX_SECRET_OVERLAP} seconds"
            )));
        }
        let now = self.now();
        let (plain, row) = self.new_secret(id, now);
        let previous_expire_at = now + overlap;
        let audit = self
            .audit_event(now, actor, AuditAction::ClientRotateSecret.as_str())
            .target(id)
            .after(&json!({
                "secret_id": row.id,
                "previous_secrets_expire_at": previous_expire_at,
            }));
        self.store
            .client_secret_add(&row, previous_expire_at, &audit)
            .await?;
        Ok(SecretRotated {
            client_id: id.to_string(),
            secret: plain,
            previous_expire_at,
        })
    }

    pub async fn client_set_disabled(
        &self,
        actor: &str,
        id: &str,
        disabled: bool,
    ) -> ManageResult<Client> {
        let before = self.client_get(id).await?;
        if before.disabled == disabled {
            return Ok(before);
        }
        if disabled {
            refuse_builtin(&before, "disabled")?;
        }
        let mut c = before.clone();
        c.disabled = disabled;
        c.updated_at = self.now();
        let action = if disabled {
            AuditAction::ClientDisable.as_str()
        } else {
            AuditAction::ClientEnable.as_str()
        };
        let audit = self
            .audit_event(c.updated_at, actor, action)
            .target(id)
            .before(&before)
            .after(&c);
        self.store.client_update(&c, &audit).await?;
        Ok(c)
    }

    /// What disabling or deleting client `id` would cut off, counted now: its live
    /// sessions, their refresh families, unexpired access tokens on record, the last
    /// issuance and the tokens issued in the last hour. Nothing is changed.
    pub async fn client_impact(&self, id: &str) -> ManageResult<ClientImpact> {
        let client = self.client_get(id).await?;
        let now = self.now();
        let sessions = self
            .store
            .sessions_impact(
                &SessionFilter {
                    client_id: Some(client.id.clone()),
                    ..SessionFilter::default()
                },
                now,
            )
            .await?;
        let activity = self
            .store
            .client_activity(&client.id, now - 3600, now)
            .await?;
        Ok(ClientImpact {
            builtin: is_builtin_client(&client),
            client,
            sessions,
            activity,
        })
    }

    /// A new client with the settings of `id` (enabled, fresh id, fresh secret).
    pub async fn client_clone(
        &self,
        actor: &str,
        id: &str,
        name: Option<String>,
        redirect_uris: Option<Vec<String>>,
    ) -> ManageResult<ClientCreated> {
        let src = self.client_get(id).await?;
        let now = self.now();
        let name = match name {
            Some(n) => n.trim().to_string(),
            None => {
                let base: String = src.name.chars().take(CLIENT_NAME_MAX - 7).collect();
                format!("{base} (copy)")
            }
        };
        // The admin-tool mark is given to one client, explicitly: a copy starts
        // without it and without the admin scopes it could no longer request.
        let allowed_scopes = src
            .allowed_scopes
            .iter()
            .filter(|s| !is_admin_scope(s))
            .cloned()
            .collect();
        let client = Client {
            id: crypto::random_id(),
            name,
            allowed_scopes,
            admin_tool: false,
            disabled: false,
            // An administrator's copy, whatever the original came through.
            registered: false,
            // A fresh client has no watermark (see `client_create`).
            tokens_valid_after: 0,
            created_at: now,
            updated_at: now,
            redirect_uris: redirect_uris.unwrap_or_else(|| src.redirect_uris.clone()),
            ..src
        };
        self.insert_client(actor, client, AuditAction::ClientClone.as_str(), Some(id))
            .await
    }
}

/// Whether `c` ships with the server: the console's own client, through which every
/// administrator signs in. It cannot be deleted or disabled (that would lock the
/// administrators out), from any layer: the CLI, the admin API, the console.
pub fn is_builtin_client(c: &Client) -> bool {
    c.id == CONSOLE_CLIENT_ID
}

fn refuse_builtin(c: &Client, what: &str) -> ManageResult<()> {
    if is_builtin_client(c) {
        return Err(ManageError::Builtin(format!(
            "\"{}\" ({}) is the built-in client administrators sign in with; it cannot be {what}",
            c.name, c.id
        )));
    }
    Ok(())
}

/// What disabling or deleting a client would cut off ([`Manager::client_impact`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientImpact {
    pub client: Client,
    pub builtin: bool,
    pub sessions: RevokeImpact,
    pub activity: ClientActivity,
}

/// `before` with `upd` laid over it, as `client_update` changes it (not yet validated,
/// `updated_at` untouched): also what configuration as code plans for a client.
pub(super) fn client_patched(before: &Client, upd: ClientUpdate) -> ManageResult<Client> {
    let mut c = before.clone();
    if let Some(n) = upd.name {
        c.name = n.trim().to_string();
    }
    if let Some(m) = upd.auth_method {
        c.auth_method = m;
        // Leaving private_key_jwt drops its keys unless new ones are given:
        // otherwise the update would be refused for a field nobody touched.
        if m != AuthMethod::PrivateKeyJwt && upd.jwks.is_none() {
            c.jwks = None;
        }
        if m != AuthMethod::PrivateKeyJwt && upd.jwks_uri.is_none() {
            c.jwks_uri = None;
        }
    }
    // Setting one source of keys replaces the other.
    if let Some(j) = upd.jwks {
        if j.is_some() && upd.jwks_uri.is_none() {
            c.jwks_uri = None;
        }
        c.jwks = j;
    }
    if let Some(u) = upd.jwks_uri {
        if u.is_some() {
            c.jwks = None;
        }
        c.jwks_uri = u;
    }
    if let Some(g) = upd.grant_types {
        c.grant_types = dedup(&g);
    }
    if let Some(r) = upd.redirect_uris {
        c.redirect_uris = dedup(&r);
    }
    if let Some(r) = upd.post_logout_redirect_uris {
        c.post_logout_redirect_uris = dedup(&r);
    }
    if let Some(s) = upd.allowed_scopes {
        c.allowed_scopes = dedup(&s);
    }
    if let Some(v) = upd.access_token_ttl {
        c.access_token_ttl = v;
    }
    if let Some(v) = upd.refresh_token_ttl {
        c.refresh_token_ttl = v;
    }
    if let Some(v) = upd.refresh_idle_ttl {
        c.refresh_idle_ttl = v;
    }
    if let Some(v) = upd.refresh_grace_secs {
        c.refresh_grace_secs = v;
    }
    if let Some(v) = upd.require_consent {
        c.require_consent = v;
    }
    if let Some(v) = upd.admin_tool {
        c.admin_tool = v;
    }
    if let Some(v) = upd.disabled {
        if v && !before.disabled {
            refuse_builtin(before, "disabled")?;
        }
        c.disabled = v;
    }
    if let Some(v) = upd.assertion_aud_compat {
        c.assertion_aud_compat = v;
    }
    if let Some(v) = upd.require_pushed_authorization_requests {
        c.require_pushed_authorization_requests = v;
    }
    if let Some(o) = upd.allowed_origins {
        c.allowed_origins = o.map(|o| dedup(&o));
    }
    if let Some(v) = upd.dpop_bound_access_tokens {
        c.dpop_bound_access_tokens = v;
    }
    Ok(c)
}

/// A client's tokens must expire before the key that signed them leaves the JWKS
/// (the rule `validate_settings` keeps from the other side).
pub(super) fn ttl_fits_rotation(
    access_token_ttl: i64,
    jwks_max_age: i64,
    retire_after: i64,
) -> ManageResult<()> {
    if access_token_ttl + jwks_max_age > retire_after {
        return Err(ManageError::invalid(format!(
            "access_token_ttl ({access_token_ttl} s) plus the JWKS max-age ({jwks_max_age} s) \
             must not exceed the key rotation setting retire_after ({retire_after} s)"
        )));
    }
    Ok(())
}
