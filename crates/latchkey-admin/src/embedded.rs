//! The embedded backend: `latchkey-core`'s admin operations on a SQLite file opened in
//! this process. Another process (`latchkey serve`) may use the same file at the same
//! time; SQLite's locking and the store's `BEGIN IMMEDIATE` writes keep both consistent,
//! and the server sees every change on its next read.

use crate::convert::*;
use crate::{AdminBackend, AdminError, AdminResult};
use latchkey_api_types::*;
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::crypto::Kek;
use latchkey_core::manage::{ManagePolicy, Manager, SessionQuery};
use latchkey_core::store::Store;
use latchkey_store_postgres::{PgOptions, PgStore};
use latchkey_store_sqlite::{SqliteOptions, SqliteStore};
use std::path::Path;
use std::sync::Arc;

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
#[derive(Debug, Clone)]
pub struct Embedded {
    manager: Manager,
    actor: String,
    /// Kept to close the pools cleanly (checkpointing the WAL) when opened from a path.
    sqlite: Option<SqliteStore>,
    /// Kept to close the pool when opened from a URL.
    postgres: Option<PgStore>,
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
        }
    }

    /// Checks the KEK against the stored keys, then makes sure the built-in scopes exist
    /// and every algorithm has a signing key. Idempotent.
    ///
    /// Only missing keys are created here: scheduled rotation stays with the server,
    /// whose rotation policy this process may not share.
    pub async fn prepare(&self) -> AdminResult<()> {
        // The KEK check comes first: with the wrong KEK, creating a missing key would
        // leave the store holding keys sealed under two different KEKs.
        self.manager.verify_kek().await?;
        self.manager.ensure_builtin_scopes().await?;
        if !self.manager.keys_complete().await? {
            self.manager.ensure_keys().await?;
        }
        Ok(())
    }

    /// The same backend acting as someone else (as recorded in the audit log).
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
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

    async fn client_clone(&self, id: &str, req: ClientCloneRequest) -> AdminResult<ClientCreated> {
        Ok(client_created(
            self.manager.client_clone(&self.actor, id, req.name).await?,
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
        Ok(self
            .manager
            .users_list()
            .await?
            .iter()
            .map(user_dto)
            .collect())
    }

    async fn user_create(&self, req: UserCreateRequest) -> AdminResult<UserDto> {
        Ok(user_dto(
            &self.manager.user_create(&self.actor, new_user(req)).await?,
        ))
    }

    async fn user_disable(&self, id: &str) -> AdminResult<UserDto> {
        Ok(user_dto(&self.manager.user_disable(&self.actor, id).await?))
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
        Ok(self
            .manager
            .keys_rotate(&self.actor, alg)
            .await?
            .into_iter()
            .map(key_rotated)
            .collect())
    }

    async fn key_revoke(&self, kid: &str) -> AdminResult<KeyRevokedDto> {
        Ok(key_revoked(
            self.manager.key_revoke(&self.actor, kid).await?,
        ))
    }

    async fn sessions_list(&self, filter: SessionFilterDto) -> AdminResult<Vec<SessionDto>> {
        let q = SessionQuery {
            user: filter.user,
            client_id: filter.client_id,
            include_inactive: filter.include_inactive,
            limit: filter.limit,
        };
        Ok(self
            .manager
            .sessions_list(q)
            .await?
            .iter()
            .map(session_dto)
            .collect())
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

    async fn sessions_revoke_user(&self, user: &str) -> AdminResult<RevokedDto> {
        Ok(RevokedDto {
            revoked: self.manager.sessions_revoke_user(&self.actor, user).await?,
        })
    }

    async fn sessions_revoke_client(&self, client_id: &str) -> AdminResult<RevokedDto> {
        Ok(RevokedDto {
            revoked: self
                .manager
                .sessions_revoke_client(&self.actor, client_id)
                .await?,
        })
    }

    async fn audit_list(&self, filter: AuditFilterDto) -> AdminResult<Vec<AuditEventDto>> {
        Ok(self
            .manager
            .audit_list(audit_filter(filter))
            .await?
            .iter()
            .map(audit_dto)
            .collect())
    }
}
