//! The embedded backend: `latchkey-core`'s admin operations on a SQLite file opened in
//! this process. Another process (`latchkey serve`) may use the same file at the same
//! time; SQLite's locking and the store's `BEGIN IMMEDIATE` writes keep both consistent,
//! and the server sees every change on its next read.

use crate::convert::*;
use crate::{AdminBackend, AdminError, AdminResult, EventStream};
use latchkey_api_types::*;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::Kek;
use latchkey_core::manage::{
    ManagePolicy, Manager, NewWebhook, ProfileSubject, UserPatch, WebhookChange,
};
use latchkey_core::model::{AuditFilter, KeyState};
use latchkey_core::oauth::Provider;
use latchkey_core::store::Store;
use latchkey_store_postgres::{PgOptions, PgStore};
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How to open an [`Embedded`] backend. The defaults are what `latchkey admin` uses.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Who the audit log names for every change made through this backend.
    pub actor: String,
    pub policy: ManagePolicy,
    pub sqlite: SqliteOptions,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            actor: "local-admin".into(),
            policy: ManagePolicy::default(),
            sqlite: SqliteOptions::default(),
        }
    }
}

/// [`AdminBackend`] over a local store.
#[derive(Clone)]
pub struct Embedded {
    manager: Manager,
    actor: String,
    /// Kept to close the pools cleanly (checkpointing the WAL) when opened from a path.
    sqlite: Option<SqliteStore>,
    /// Kept to close the pool when opened from a URL.
    postgres: Option<PgStore>,
    /// The authorization server over the same store, when one runs in this process (the
    /// server's admin API, the desktop console): token introspection and revocation
    /// need its keys and rules.
    provider: Option<Arc<Provider>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("actor", &self.actor)
            .field("with_provider", &self.provider.is_some())
            .finish_non_exhaustive()
    }
}

impl Embedded {
    /// Opens (creating and migrating if needed) the database at `db`, with `kek` for
    /// the signing keys, acting as `local-admin`.
    pub async fn open(db: &Path, kek: Kek) -> Result<Embedded, AdminError> {
        Self::open_with(db, kek, EmbeddedOptions::default()).await
    }

    /// Like [`open`](Self::open) with explicit options. On first use this creates the
    /// built-in OIDC scopes and a signing key (plus a published successor) for every
    /// algorithm, so a fresh database can sign tokens at once; and it checks that `kek`
    /// opens the stored keys, so a wrong key-encryption key is reported here rather
    /// than at the first token request.
    pub async fn open_with(
        db: &Path,
        kek: Kek,
        opts: EmbeddedOptions,
    ) -> Result<Embedded, AdminError> {
        let sqlite = SqliteStore::open_with(db, opts.sqlite.clone())
            .await
            .map_err(|e| {
                AdminError::from(latchkey_core::manage::ManageError::from(e))
                    .with_context(&format!("cannot open database {}", db.display()))
            })?;
        let store: Arc<dyn Store> = Arc::new(sqlite.clone());
        let embedded = Self::from_store(store, Arc::new(SystemClock), kek, opts);
        let embedded = Embedded {
            sqlite: Some(sqlite),
            ..embedded
        };
        embedded.prepare().await?;
        Ok(embedded)
    }

    /// Opens a PostgreSQL database shared with running `latchkey serve` nodes (migrating
    /// it if needed, under the store's advisory lock), then prepares it as
    /// [`open_with`](Self::open_with) does. Every change is announced to the nodes'
    /// caches by the store itself.
    pub async fn open_postgres(
        url: &str,
        kek: Kek,
        opts: EmbeddedOptions,
    ) -> Result<Embedded, AdminError> {
        let pg = PgStore::connect_with(
            url,
            PgOptions {
                max_connections: 4,
                // One command, nothing cached: no listener, no poll.
                follow_changes: false,
                application_name: "latchkey-admin".into(),
                ..PgOptions::default()
            },
        )
        .await
        .map_err(|e| {
            AdminError::from(latchkey_core::manage::ManageError::from(e))
                .with_context("cannot open the PostgreSQL database")
        })?;
        let store: Arc<dyn Store> = Arc::new(pg.clone());
        let embedded = Self::from_store(store, Arc::new(SystemClock), kek, opts);
        let embedded = Embedded {
            postgres: Some(pg),
            ..embedded
        };
        embedded.prepare().await?;
        Ok(embedded)
    }

    /// Over any store (tests, or a server that already holds one). Does not run the
    /// first-use preparation; call [`prepare`](Self::prepare) for that.
    pub fn from_store(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kek: Kek,
        opts: EmbeddedOptions,
    ) -> Embedded {
        Embedded {
            manager: Manager::new(store, clock, kek, opts.policy),
            actor: opts.actor,
            sqlite: None,
            postgres: None,
            provider: None,
        }
    }

    /// Over a ready-made manager (the server's, which shares its provider's store,
    /// clock, KEK and rotation policy).
    pub fn from_manager(manager: Manager, actor: impl Into<String>) -> Embedded {
        Embedded {
            manager,
            actor: actor.into(),
            sqlite: None,
            postgres: None,
            provider: None,
        }
    }

    /// Checks the KEK against the stored keys, then makes sure the built-in scopes (OIDC
    /// and admin) exist and every algorithm has a signing key. Idempotent.
    ///
    /// Only missing keys are created here: scheduled rotation stays with the server,
    /// whose rotation policy this process may not share.
    pub async fn prepare(&self) -> AdminResult<()> {
        // The KEK check comes first: with the wrong KEK, creating a missing key would
        // leave the store holding keys sealed under two different KEKs.
        self.manager.verify_kek().await?;
        self.manager.ensure_admin_scopes().await?;
        if !self.manager.keys_complete().await? {
            self.manager.ensure_keys().await?;
        }
        Ok(())
    }

    /// Token introspection and revocation through `provider` (which must share this
    /// backend's store).
    pub fn with_provider(mut self, provider: Arc<Provider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Token introspection and revocation through an authorization engine of its own
    /// over this backend's store, for `issuer` (the CLI's `token inspect --db`, which
    /// runs no server). `kek` must be the one this backend was opened with.
    pub fn with_own_provider(self, issuer: &str, kek: Kek) -> Self {
        let provider = Provider::new(
            self.manager.store().clone(),
            Arc::new(SystemClock),
            kek,
            latchkey_core::oauth::Config::new(issuer),
        );
        self.with_provider(Arc::new(provider))
    }

    fn provider(&self) -> AdminResult<&Arc<Provider>> {
        self.provider.as_ref().ok_or_else(|| {
            AdminError::unavailable(
                "token introspection and revocation need the authorization server: \
                 run them against `latchkey serve` (or use `latchkey token inspect`)",
            )
        })
    }

    /// The same backend acting as someone else (as recorded in the audit log).
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The same backend recording `ip` as the source address of every change it makes.
    pub fn with_source_ip(mut self, ip: Option<String>) -> Self {
        self.manager = self.manager.with_source_ip(ip);
        self
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The domain operations underneath, for callers that need more than the trait
    /// (e.g. the server's key scheduler calling `ensure_keys`).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The same backend, sending webhook tests through `sender` (whose rules also
    /// decide whether loopback endpoints may be registered).
    pub fn with_webhook_sender(
        mut self,
        sender: std::sync::Arc<dyn latchkey_core::webhook::WebhookSender>,
    ) -> Self {
        self.manager = self.manager.with_webhook_sender(Some(sender));
        self
    }

    /// Closes the database (checkpointing the WAL). Later calls fail as unavailable.
    pub async fn close(&self) {
        if let Some(s) = &self.sqlite {
            s.close().await;
        }
        if let Some(p) = &self.postgres {
            p.close().await;
        }
    }
}

impl AdminError {
    /// Prefixes the message with what was being attempted.
    fn with_context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

#[async_trait::async_trait]
impl AdminBackend for Embedded {
    async fn clients_list(&self) -> AdminResult<Vec<ClientDto>> {
        Ok(self
            .manager
            .clients_list()
            .await?
            .iter()
            .map(client_dto)
            .collect())
    }

    async fn client_get(&self, id: &str) -> AdminResult<ClientDto> {
        Ok(client_dto(&self.manager.client_get(id).await?))
    }

    async fn client_create(&self, req: ClientCreateRequest) -> AdminResult<ClientCreated> {
        let input = new_client(req)?;
        Ok(client_created(
            self.manager.client_create(&self.actor, input).await?,
        ))
    }

    async fn client_update(&self, id: &str, req: ClientUpdateRequest) -> AdminResult<ClientDto> {
        let upd = client_update(req)?;
        Ok(client_dto(
            &self.manager.client_update(&self.actor, id, upd).await?,
        ))
    }

    async fn client_delete(&self, id: &str) -> AdminResult<()> {
        Ok(self.manager.client_delete(&self.actor, id).await?)
    }

    async fn client_rotate_secret(
        &self,
        id: &str,
        req: SecretRotateRequest,
    ) -> AdminResult<SecretRotated> {
        Ok(secret_rotated(
            self.manager
                .client_rotate_secret(&self.actor, id, req.overlap_secs)
                .await?,
        ))
    }

    async fn client_set_disabled(&self, id: &str, disabled: bool) -> AdminResult<ClientDto> {
        Ok(client_dto(
            &self
                .manager
                .client_set_disabled(&self.actor, id, disabled)
                .await?,
        ))
    }

    async fn client_impact_get(&self, id: &str) -> AdminResult<ClientImpactDto> {
        Ok(client_impact_dto(&self.manager.client_impact(id).await?))
    }

    async fn client_clone(&self, id: &str, req: ClientCloneRequest) -> AdminResult<ClientCreated> {
        Ok(client_created(
            self.manager
                .client_clone(&self.actor, id, req.name, req.redirect_uris)
                .await?,
        ))
    }

    async fn scopes_list(&self) -> AdminResult<Vec<ScopeDto>> {
        Ok(self
            .manager
            .scopes_list()
            .await?
            .iter()
            .map(scope_dto)
            .collect())
    }

    async fn scope_create(&self, req: ScopeCreateRequest) -> AdminResult<ScopeDto> {
        Ok(scope_dto(
            &self
                .manager
                .scope_create(&self.actor, new_scope(req))
                .await?,
        ))
    }

    async fn scope_delete(&self, name: &str) -> AdminResult<()> {
        Ok(self.manager.scope_delete(&self.actor, name).await?)
    }

    async fn users_list(&self) -> AdminResult<Vec<UserDto>> {
        let activity: std::collections::HashMap<String, latchkey_core::model::UserActivity> = self
            .manager
            .users_activity()
            .await?
            .into_iter()
            .map(|a| (a.user_id.clone(), a))
            .collect();
        Ok(self
            .manager
            .users_list()
            .await?
            .iter()
            .map(|u| {
                let mut d = user_dto(u);
                let a = activity.get(&u.id);
                d.last_sign_in_at = a.and_then(|a| a.last_sign_in_at);
                d.live_sessions = Some(a.map_or(0, |a| a.live_sessions));
                d
            })
            .collect())
    }

    async fn user_impact_get(&self, id: &str) -> AdminResult<UserImpactDto> {
        Ok(user_impact_dto(&self.manager.user_impact(id).await?))
    }

    async fn user_delete(&self, id: &str) -> AdminResult<()> {
        Ok(self.manager.user_delete(&self.actor, id).await?)
    }

    async fn user_get(&self, id: &str) -> AdminResult<UserDto> {
        Ok(user_dto(&self.manager.user_get(id).await?))
    }

    async fn user_create(&self, req: UserCreateRequest) -> AdminResult<UserDto> {
        Ok(user_dto(
            &self.manager.user_create(&self.actor, new_user(req)).await?,
        ))
    }

    async fn user_disable(&self, id: &str) -> AdminResult<UserDto> {
        Ok(user_dto(&self.manager.user_disable(&self.actor, id).await?))
    }

    async fn user_enable(&self, id: &str) -> AdminResult<UserDto> {
        Ok(user_dto(&self.manager.user_enable(&self.actor, id).await?))
    }

    async fn user_update(&self, id: &str, req: UserUpdateRequest) -> AdminResult<UserDto> {
        let patch = UserPatch {
            name: req.name,
            email: req.email,
            is_admin: req.is_admin,
        };
        Ok(user_dto(
            &self.manager.user_update(&self.actor, id, patch).await?,
        ))
    }

    async fn user_password_set(
        &self,
        id: &str,
        req: UserPasswordSetRequest,
    ) -> AdminResult<UserPasswordSet> {
        let (user, password) = self
            .manager
            .user_password_set(
                &self.actor,
                id,
                req.password.as_deref(),
                req.must_change_password,
            )
            .await?;
        Ok(UserPasswordSet {
            user: user_dto(&user),
            password,
        })
    }

    async fn keys_list(&self) -> AdminResult<Vec<KeyDto>> {
        Ok(self
            .manager
            .keys_list()
            .await?
            .iter()
            .map(key_dto)
            .collect())
    }

    async fn keys_rotate(&self, req: KeysRotateRequest) -> AdminResult<Vec<KeyRotatedDto>> {
        let alg = req.alg.as_deref().map(parse_alg).transpose()?;
        let rotated = self.manager.keys_rotate(&self.actor, alg).await?;
        // As for a revoke: the new key signs on this node at once.
        if let Some(p) = &self.provider {
            p.invalidate_keys();
        }
        Ok(rotated.into_iter().map(key_rotated).collect())
    }

    async fn key_revoke(&self, kid: &str) -> AdminResult<KeyRevokedDto> {
        let revoked = self.manager.key_revoke(&self.actor, kid).await?;
        // The engine this backend serves with caches its key set for up to a second: an
        // emergency revoke through its own admin API takes effect here at once (other
        // nodes and processes re-read within the second, as before).
        if let Some(p) = &self.provider {
            p.invalidate_keys();
        }
        Ok(key_revoked(revoked))
    }

    async fn keys_schedule_get(&self) -> AdminResult<KeysScheduleDto> {
        // The rotation policy in force, admin-set values included: the schedule moves
        // as soon as an administrator changes it.
        let policy = self.manager.settings_get().await?.effective.rotation();
        let keys = self.manager.keys_list().await?;
        let mut algorithms = Vec::new();
        for alg in latchkey_core::model::Alg::ALL {
            let of = |state: KeyState| {
                keys.iter()
                    .filter(|k| k.alg == *alg && k.state == state)
                    .max_by_key(|k| k.created_at)
            };
            let active = of(KeyState::Active);
            let next = of(KeyState::Next);
            let active_since = active.and_then(|k| k.activated_at);
            algorithms.push(KeyScheduleDto {
                alg: alg.as_str().to_string(),
                active_kid: active.map(|k| k.kid.clone()),
                active_since,
                next_kid: next.map(|k| k.kid.clone()),
                next_rotation_at: active_since.map(|t| t + policy.rotate_every),
            });
        }
        Ok(KeysScheduleDto {
            rotate_every: policy.rotate_every,
            prepublish: policy.prepublish,
            retire_after: policy.retire_after,
            algorithms,
        })
    }

    async fn jwks_get(&self) -> AdminResult<serde_json::Value> {
        let keys = self.manager.keys_list().await?;
        let published: Vec<serde_json::Value> = keys
            .iter()
            .filter(|k| latchkey_core::keys::is_published(k.state))
            .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
            .collect();
        Ok(serde_json::json!({ "keys": published }))
    }

    async fn sessions_list(&self, filter: SessionFilterDto) -> AdminResult<SessionPageDto> {
        let page = self.manager.sessions_list(session_query(filter)?).await?;
        Ok(SessionPageDto {
            items: page.items.iter().map(session_dto).collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn session_get(&self, id: &str) -> AdminResult<SessionDto> {
        Ok(session_dto(&self.manager.session_get(id).await?))
    }

    async fn session_revoke(&self, id: &str) -> AdminResult<RevokedDto> {
        let was_live = self.manager.session_revoke(&self.actor, id).await?;
        Ok(RevokedDto {
            revoked: u64::from(was_live),
        })
    }

    async fn sessions_revoke(&self, req: SessionsRevokeRequest) -> AdminResult<RevokeImpactDto> {
        let dry_run = req.dry_run;
        let sel = session_selector(req)?;
        let impact = self
            .manager
            .sessions_revoke(&self.actor, &sel, dry_run)
            .await?;
        Ok(impact_dto(impact, dry_run))
    }

    async fn token_introspect(&self, req: TokenRequest) -> AdminResult<serde_json::Value> {
        self.provider()?
            .introspect_as_admin(req.token.trim())
            .await
            .map_err(oauth_error)
    }

    async fn token_revoke(&self, req: TokenRequest) -> AdminResult<RevokedDto> {
        let live = self
            .provider()?
            .revoke_as_admin(&self.actor, req.token.trim())
            .await
            .map_err(oauth_error)?;
        Ok(RevokedDto {
            revoked: u64::from(live),
        })
    }

    async fn audit_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto> {
        let f = audit_filter(filter)?;
        let limit = clamp(f.limit);
        let items = self
            .manager
            .audit_list(AuditFilter {
                limit: Some(limit),
                ..f
            })
            .await?;
        Ok(audit_page(items, limit))
    }

    async fn security_events_list(&self, filter: AuditFilterDto) -> AdminResult<AuditPageDto> {
        self.audit_list(AuditFilterDto {
            security_only: true,
            ..filter
        })
        .await
    }

    async fn stats_get(&self, req: StatsRequest) -> AdminResult<StatsDto> {
        let minutes = req.minutes.unwrap_or(60).clamp(1, 1440);
        Ok(stats_dto(self.manager.stats(minutes).await?, minutes))
    }

    async fn health_get(&self) -> AdminResult<HealthDto> {
        // A read that touches the store: a health answer must not lie about it.
        self.manager
            .store()
            .meta_get("schema")
            .await
            .map_err(|e| AdminError::from(latchkey_core::manage::ManageError::from(e)))?;
        let unusable = self.manager.keys_unusable().await?;
        let any = !self
            .manager
            .store()
            .keys_list()
            .await
            .map_err(|e| AdminError::from(latchkey_core::manage::ManageError::from(e)))?
            .is_empty();
        Ok(HealthDto {
            status: if unusable.is_some() {
                "keys_unusable"
            } else {
                "ok"
            }
            .into(),
            version: env!("CARGO_PKG_VERSION").into(),
            time: self.manager.now(),
            issuer: self.provider.as_ref().map(|p| p.config.issuer.clone()),
            keys: match (&unusable, any) {
                (Some(_), _) => "unusable",
                (None, true) => "ok",
                (None, false) => "none",
            }
            .into(),
        })
    }

    async fn events_subscribe(&self, after_id: Option<i64>) -> AdminResult<EventStream> {
        let store = self.manager.store().clone();
        let start = match after_id {
            Some(id) => id,
            None => latest_event_id(&*store).await?,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            (
                store,
                start,
                std::collections::VecDeque::new(),
                None::<u64>,
                0u32,
            ),
            |(store, mut last, mut queue, mut marker, mut skipped)| async move {
                loop {
                    if let Some(e) = queue.pop_front() {
                        return Some((Ok(e), (store, last, queue, marker, skipped)));
                    }
                    // The change marker makes most idle polls free; a store without one
                    // is polled anyway. A marker need not move on every commit (on
                    // PostgreSQL only changes the read caches depend on move it, and a
                    // new session or a security event is not one), so an unchanged
                    // marker skips at most MARKER_SKIPS polls in a row.
                    let now_marker = store.change_marker();
                    if now_marker.is_some() && now_marker == marker && skipped < MARKER_SKIPS {
                        skipped += 1;
                        tokio::time::sleep(EVENT_POLL).await;
                        continue;
                    }
                    skipped = 0;
                    let filter = AuditFilter {
                        after_id: Some(last),
                        limit: Some(500),
                        ..AuditFilter::default()
                    };
                    match store.audit_list(&filter).await {
                        Ok(events) => {
                            if events.is_empty() {
                                marker = now_marker;
                                tokio::time::sleep(EVENT_POLL).await;
                                continue;
                            }
                            for e in &events {
                                last = last.max(e.id);
                                queue.push_back(admin_event(e));
                            }
                        }
                        Err(e) => {
                            let err = AdminError::from(latchkey_core::manage::ManageError::from(e));
                            return Some((Err(err), (store, last, queue, marker, skipped)));
                        }
                    }
                }
            },
        )))
    }

    async fn api_keys_list(&self) -> AdminResult<Vec<ApiKeyDto>> {
        Ok(self
            .manager
            .api_keys_list()
            .await?
            .iter()
            .map(api_key_dto)
            .collect())
    }

    async fn api_key_create(&self, req: ApiKeyCreateRequest) -> AdminResult<ApiKeyCreated> {
        let (key, secret) = self
            .manager
            .api_key_create_with(
                &self.actor,
                &req.name,
                req.read_only,
                match (req.expires_in, req.never_expires) {
                    (None, false) => latchkey_core::manage::ApiKeyLifetime::Default,
                    (Some(s), false) => latchkey_core::manage::ApiKeyLifetime::Seconds(s),
                    (None, true) => latchkey_core::manage::ApiKeyLifetime::Never,
                    (Some(_), true) => {
                        return Err(AdminError::invalid_input(
                            "expires_in and never_expires exclude each other",
                        ))
                    }
                },
            )
            .await?;
        Ok(ApiKeyCreated {
            key: api_key_dto(&key),
            api_key: secret.into_string(),
        })
    }

    async fn api_key_revoke(&self, id: &str) -> AdminResult<ApiKeyDto> {
        Ok(api_key_dto(
            &self.manager.api_key_revoke(&self.actor, id).await?,
        ))
    }

    async fn settings_get(&self) -> AdminResult<SettingsDto> {
        settings_dto(&self.manager.settings_get().await?)
    }

    async fn settings_update(&self, req: SettingsUpdateRequest) -> AdminResult<SettingsDto> {
        let patch = settings_patch(&req)?;
        settings_dto(&self.manager.settings_update(&self.actor, patch).await?)
    }

    async fn exchange_policies_list(&self) -> AdminResult<Vec<ExchangePolicyDto>> {
        Ok(self
            .manager
            .exchange_policies_list()
            .await?
            .iter()
            .map(exchange_policy_dto)
            .collect())
    }

    async fn exchange_policy_get(&self, id: &str) -> AdminResult<ExchangePolicyDto> {
        Ok(exchange_policy_dto(
            &self.manager.exchange_policy_get(id).await?,
        ))
    }

    async fn exchange_policy_create(
        &self,
        req: ExchangePolicyCreateRequest,
    ) -> AdminResult<ExchangePolicyDto> {
        Ok(exchange_policy_dto(
            &self
                .manager
                .exchange_policy_create(&self.actor, new_exchange_policy(req))
                .await?,
        ))
    }

    async fn exchange_policy_update(
        &self,
        id: &str,
        req: ExchangePolicyUpdateRequest,
    ) -> AdminResult<ExchangePolicyDto> {
        Ok(exchange_policy_dto(
            &self
                .manager
                .exchange_policy_update(&self.actor, id, exchange_policy_patch(req))
                .await?,
        ))
    }

    async fn exchange_policy_delete(&self, id: &str) -> AdminResult<()> {
        Ok(self.manager.exchange_policy_delete(&self.actor, id).await?)
    }

    async fn exchange_policy_explain(
        &self,
        req: ExchangeExplainRequest,
    ) -> AdminResult<ExchangeExplainDto> {
        if req.requester_client_id.trim().is_empty() || req.subject_token.trim().is_empty() {
            return Err(AdminError::invalid_input(
                "name the requester client and paste a subject token",
            ));
        }
        let request = exchange_request(&req);
        let ev = match &self.provider {
            Some(p) => {
                p.explain_exchange(req.requester_client_id.trim(), &request)
                    .await
            }
            // No server in this process (the CLI on a database file): the engine over
            // this store, for the issuer the token names. Its signature is still checked
            // against this store's keys, so the name alone proves nothing.
            None => {
                let issuer = latchkey_core::jwt::parse_structure(&request.subject_token)
                    .ok()
                    .and_then(|p| p.str_claim("iss").map(str::to_string))
                    .unwrap_or_default();
                self.manager
                    .provider_for(&issuer)
                    .explain_exchange(req.requester_client_id.trim(), &request)
                    .await
            }
        }
        .map_err(oauth_error)?;
        Ok(exchange_explain_dto(&ev))
    }

    async fn findings_list(&self, filter: FindingFilterDto) -> AdminResult<Vec<FindingDto>> {
        Ok(self
            .manager
            .findings_list(
                filter.severity.as_deref(),
                filter.rule.as_deref(),
                filter.limit,
            )
            .await?
            .iter()
            .map(finding_dto)
            .collect())
    }

    async fn finding_get(&self, id: &str) -> AdminResult<FindingDto> {
        Ok(finding_dto(&self.manager.finding_get(id).await?))
    }

    async fn finding_ack(&self, id: &str) -> AdminResult<FindingDto> {
        Ok(finding_dto(
            &self.manager.finding_ack(&self.actor, id).await?,
        ))
    }

    async fn blocks_list(&self) -> AdminResult<Vec<BlockDto>> {
        Ok(self
            .manager
            .blocks_list()
            .await?
            .iter()
            .map(block_dto)
            .collect())
    }

    async fn block_add(&self, req: BlockAddRequest) -> AdminResult<BlockDto> {
        Ok(block_dto(
            &self
                .manager
                .block_add(
                    &self.actor,
                    &req.address,
                    req.expires_in,
                    req.reason.as_deref(),
                )
                .await?,
        ))
    }

    async fn block_remove(&self, req: BlockRemoveRequest) -> AdminResult<()> {
        Ok(self.manager.block_remove(&self.actor, &req.address).await?)
    }

    async fn security_profile_get(
        &self,
        q: SecurityProfileQuery,
    ) -> AdminResult<SecurityProfileDto> {
        let subject = ProfileSubject::parse(&q.kind, &q.subject)?;
        Ok(security_profile_dto(
            &self.manager.security_profile_get(&subject, q.since).await?,
        ))
    }

    async fn webhooks_list(&self) -> AdminResult<Vec<WebhookDto>> {
        Ok(self
            .manager
            .webhooks_list()
            .await?
            .iter()
            .map(webhook_dto)
            .collect())
    }

    async fn webhook_create(&self, req: WebhookCreateRequest) -> AdminResult<WebhookCreated> {
        let (w, secret) = self
            .manager
            .webhook_create(
                &self.actor,
                NewWebhook {
                    name: req.name,
                    url: req.url,
                    severities: req.severities,
                    rules: req.rules,
                    enabled: req.enabled,
                },
            )
            .await?;
        Ok(WebhookCreated {
            webhook: webhook_dto(&w),
            secret: secret.into_string(),
        })
    }

    async fn webhook_get(&self, id: &str) -> AdminResult<WebhookDto> {
        Ok(webhook_dto(&self.manager.webhook_get(id).await?))
    }

    async fn webhook_update(&self, id: &str, req: WebhookUpdateRequest) -> AdminResult<WebhookDto> {
        let change = WebhookChange {
            name: req.name,
            url: req.url,
            severities: req.severities,
            rules: req.rules,
            enabled: req.enabled,
        };
        Ok(webhook_dto(
            &self.manager.webhook_update(&self.actor, id, change).await?,
        ))
    }

    async fn webhook_delete(&self, id: &str) -> AdminResult<()> {
        Ok(self.manager.webhook_delete(&self.actor, id).await?)
    }

    async fn webhook_test(&self, id: &str) -> AdminResult<WebhookTestDto> {
        let r = self.manager.webhook_test(&self.actor, id).await?;
        Ok(WebhookTestDto {
            delivered: r.delivered,
            status: r.status,
            error: r.error,
        })
    }

    async fn config_export(&self) -> AdminResult<ConfigExportDto> {
        let (yaml, fingerprint) = self.manager.config_export().await?;
        Ok(ConfigExportDto { yaml, fingerprint })
    }

    async fn config_plan(&self, req: ConfigPlanRequest) -> AdminResult<ConfigPlanDto> {
        let input = latchkey_core::manage::ConfigInput {
            files: req.files,
            secrets: req.secrets,
            prune: req.prune,
        };
        Ok(self.manager.config_plan(&input).await?)
    }

    async fn config_apply(&self, req: ConfigApplyRequest) -> AdminResult<ConfigAppliedDto> {
        let input = latchkey_core::manage::ConfigInput {
            files: req.files,
            secrets: req.secrets,
            prune: req.prune,
        };
        let (plan, applied) = self
            .manager
            .config_apply(&self.actor, &input, req.expected_plan.as_deref())
            .await?;
        Ok(ConfigAppliedDto { plan, applied })
    }

    async fn backup_create(&self, req: BackupCreateRequest) -> AdminResult<BackupCreatedDto> {
        let Some(sqlite) = &self.sqlite else {
            return Err(AdminError::unavailable(if self.postgres.is_some() {
                "a PostgreSQL store is backed up with pg_dump (see the README, Backup and restore)"
            } else {
                "backups of a server's store are made on the server's machine: \
                 `latchkey backup --db PATH --to FILE` (SQLite) or pg_dump (PostgreSQL); \
                 the admin API never writes files"
            }));
        };
        let to = std::path::PathBuf::from(req.path.trim());
        if req.path.trim().is_empty() || !to.is_absolute() {
            return Err(AdminError::invalid_input(
                "the backup path must be an absolute file path",
            ));
        }
        let r = sqlite.backup_to(&to).await.map_err(backup_error)?;
        tracing::info!(file = %r.file.display(), bytes = r.bytes, "backup written");
        Ok(BackupCreatedDto {
            path: r.file.display().to_string(),
            bytes: r.bytes,
            schema_version: r.schema_version,
            kek_location: crate::kek_location(sqlite.path()),
        })
    }
    async fn registration_tokens_list(&self) -> AdminResult<Vec<RegistrationTokenDto>> {
        Ok(self
            .manager
            .registration_tokens_list()
            .await?
            .iter()
            .map(registration_token_dto)
            .collect())
    }

    async fn registration_token_create(
        &self,
        req: RegistrationTokenCreateRequest,
    ) -> AdminResult<RegistrationTokenCreated> {
        let (t, token) = self
            .manager
            .registration_token_create(&self.actor, new_registration_token(req)?)
            .await?;
        Ok(RegistrationTokenCreated {
            registration_token: registration_token_dto(&t),
            token: token.into_string(),
        })
    }

    async fn registration_token_revoke(&self, id: &str) -> AdminResult<()> {
        Ok(self
            .manager
            .registration_token_revoke(&self.actor, id)
            .await?)
    }
}

/// How often an idle event subscription looks for news: the console's live views lag
/// by at most this.
const EVENT_POLL: Duration = Duration::from_millis(250);

/// Polls an unchanged change marker may skip in a row before the store is asked anyway:
/// events that do not move the marker arrive within `(MARKER_SKIPS + 1) × EVENT_POLL`.
const MARKER_SKIPS: u32 = 3;

async fn latest_event_id(store: &dyn Store) -> AdminResult<i64> {
    let newest = store
        .audit_list(&AuditFilter {
            limit: Some(1),
            ..AuditFilter::default()
        })
        .await
        .map_err(|e| AdminError::from(latchkey_core::manage::ManageError::from(e)))?;
    Ok(newest.first().map_or(0, |e| e.id))
}

fn clamp(limit: Option<i64>) -> i64 {
    limit.unwrap_or(100).clamp(1, 1000)
}

/// An OAuth error met on the admin path, as an admin error with the same words.
fn oauth_error(e: latchkey_core::oauth::error::OAuthError) -> AdminError {
    use latchkey_core::oauth::error::ErrorCode as OAuthCode;
    let code = match e.code {
        OAuthCode::TemporarilyUnavailable => ErrorCode::Unavailable,
        OAuthCode::ServerError => ErrorCode::Internal,
        _ => ErrorCode::InvalidInput,
    };
    let message = e.description().unwrap_or(e.code.as_str()).to_string();
    AdminError::new(code, message)
}

/// A backup's failure as an admin error: a file in the way or a bad place is the
/// caller's to fix, the rest is the store's.
fn backup_error(e: latchkey_store_sqlite::backup::BackupError) -> AdminError {
    use latchkey_store_sqlite::backup::BackupError as B;
    match e {
        B::Exists(_) => AdminError::new(ErrorCode::Conflict, e.to_string()),
        B::Io { .. } | B::Missing(_) => AdminError::invalid_input(e.to_string()),
        _ => AdminError::unavailable(e.to_string()),
    }
}
