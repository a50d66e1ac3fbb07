//! The connection the console administers, and its start-up.
//!
//! The embedded connection: a SQLite file (the OS data directory by default), its
//! key-encryption key beside it, an [`Embedded`] admin backend on it, and the
//! authorization server on 127.0.0.1 in this process, so applications on the machine
//! can sign in against it at once. The server opens its own pool on the same file;
//! changes made here reach it as they reach a separate `latchkey serve`.

use latchkey_admin::{AdminBackend, AdminError, Embedded};
use latchkey_api_types::{ApiErrorDto, ClientCreateRequest, UserCreateRequest};
use latchkey_core::model::Alg;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::RwLock;

/// The port the in-process server listens on when none is given.
pub const DEFAULT_PORT: u16 = 9280;
/// The first admin account created on a fresh store.
pub const FIRST_ADMIN_USERNAME: &str = "admin";

#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    pub db: PathBuf,
    /// 0: any free port.
    pub port: u16,
}

/// What the UI learns about the connection. Never carries a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsoleStatus {
    /// `starting` | `ready` | `failed`.
    pub state: String,
    /// `embedded` (a remote connection comes later).
    pub kind: String,
    /// The name shown on the connection badge.
    pub name: String,
    pub db_path: String,
    pub issuer: String,
    pub port: u16,
    /// Why starting failed, as the UI shows every error.
    pub error: Option<ApiErrorDto>,
    /// The first admin's username while their generated password has not yet been
    /// shown (it is shown once, then forgotten).
    pub first_admin_pending: Option<String>,
    pub version: String,
}

struct Open {
    backend: Arc<dyn AdminBackend>,
    /// Opened here (no server): closed on shutdown.
    embedded: Option<Embedded>,
    server: Option<latchkey_server::Running>,
}

enum Phase {
    Starting,
    Ready(Box<Open>),
    Failed(AdminError),
    Stopped,
}

struct Inner {
    opts: ConsoleOptions,
    phase: RwLock<Phase>,
    /// The first admin's generated password until the UI has shown it once. Held in
    /// memory only; the store keeps the Argon2 hash.
    first_admin_password: Mutex<Option<String>>,
}

/// The console's state, managed by Tauri; cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

impl Console {
    /// A console that will open `opts` when [`start`](Self::start)ed. A port of 0 is
    /// resolved to a free one here, so the issuer is known before the server starts.
    pub fn new(mut opts: ConsoleOptions) -> Console {
        if opts.port == 0 {
            opts.port = free_port().unwrap_or(DEFAULT_PORT);
        }
        Console {
            inner: Arc::new(Inner {
                opts,
                phase: RwLock::new(Phase::Starting),
                first_admin_password: Mutex::new(None),
            }),
        }
    }

    /// The issuer of the in-process server: plain HTTP, which the server allows only on
    /// loopback.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.opts.port)
    }

    /// Opens the store and starts the server; the outcome is what
    /// [`status`](Self::status) reports from then on.
    pub async fn start(&self) {
        let phase = match self.open(true).await {
            Ok(p) => p,
            Err(e) => Phase::Failed(e),
        };
        *self.inner.phase.write().await = phase;
    }

    /// Like [`start`](Self::start) without the HTTP server (tests of the commands).
    pub async fn start_without_server(&self) {
        let phase = match self.open(false).await {
            Ok(p) => p,
            Err(e) => Phase::Failed(e),
        };
        *self.inner.phase.write().await = phase;
    }

    async fn open(&self, serve: bool) -> Result<Phase, AdminError> {
        let db = &self.inner.opts.db;
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                AdminError::new(
                    "unavailable",
                    format!("cannot create the data directory {}: {e}", dir.display()),
                )
            })?;
        }
        let (kek, _source) = latchkey_admin::load_or_create_kek(db)?;
        // Migrate, create the keys and seed before the server starts: its key job and a
        // second first-use preparation running at once on a fresh store would both
        // create keys (two active keys per algorithm).
        let embedded = Embedded::open(db, kek.clone()).await?;
        if let Err(e) = self.seed(&embedded).await {
            embedded.close().await;
            return Err(e);
        }
        if !serve {
            return Ok(Phase::Ready(Box::new(Open {
                backend: Arc::new(embedded.clone()),
                embedded: Some(embedded),
                server: None,
            })));
        }
        embedded.close().await;
        let cfg = latchkey_server::ServeConfig {
            db: db.clone(),
            database: None,
            issuer: self.issuer(),
            public_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, self.inner.opts.port)),
            // The admin HTTP API is not what the console uses; keep it off a fixed port.
            admin_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: vec![],
            access_token_alg: Alg::ES256,
            synchronous_normal: false,
            kek,
        };
        let server = latchkey_server::start(cfg).await.map_err(|e| {
            let hint = match &e {
                latchkey_server::ServeError::Bind { .. } => format!(
                    " (is another server using port {}? start the console with --port N)",
                    self.inner.opts.port
                ),
                _ => String::new(),
            };
            AdminError::new("unavailable", format!("{e}{hint}"))
        })?;
        // The server's own backend: one pool on the file, and the provider that token
        // introspection, revocation, statistics and live events need.
        let backend = server.state.admin.clone().with_actor("local-admin");
        Ok(Phase::Ready(Box::new(Open {
            backend: Arc::new(backend),
            embedded: None,
            server: Some(server),
        })))
    }

    /// First start: an admin user with a generated password (kept in memory until the
    /// UI shows it once) and a sample client, so no page is empty.
    async fn seed(&self, backend: &Embedded) -> Result<(), AdminError> {
        if backend.users_list().await?.is_empty() {
            let password = latchkey_core::crypto::random_token();
            backend
                .user_create(UserCreateRequest {
                    username: FIRST_ADMIN_USERNAME.into(),
                    name: Some("Administrator".into()),
                    email: None,
                    password: password.clone(),
                    is_admin: true,
                })
                .await?;
            if let Ok(mut slot) = self.inner.first_admin_password.lock() {
                *slot = Some(password);
            }
        }
        if backend.clients_list().await?.is_empty() {
            // Its secret is dropped here: nobody has asked for it. "Rotate secret" in the
            // console issues one to copy when the sample is actually used.
            backend
                .client_create(ClientCreateRequest {
                    name: "Sample web app".into(),
                    client_type: Some("confidential".into()),
                    auth_method: Some("client_secret_basic".into()),
                    grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                    redirect_uris: vec!["http://127.0.0.1:3000/callback".into()],
                    allowed_scopes: vec![
                        "openid".into(),
                        "profile".into(),
                        "email".into(),
                        "offline_access".into(),
                    ],
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// The backend, or why there is none (still starting, or failed).
    pub async fn backend(&self) -> Result<Arc<dyn AdminBackend>, AdminError> {
        match &*self.inner.phase.read().await {
            Phase::Ready(open) => Ok(open.backend.clone()),
            Phase::Starting => Err(AdminError::new(
                "unavailable",
                "the console is still opening the database; try again in a moment",
            )),
            Phase::Failed(e) => Err(e.clone()),
            Phase::Stopped => Err(AdminError::new("unavailable", "the console is closing")),
        }
    }

    pub async fn status(&self) -> ConsoleStatus {
        let (state, error) = match &*self.inner.phase.read().await {
            Phase::Starting => ("starting", None),
            Phase::Ready(_) => ("ready", None),
            Phase::Failed(e) => ("failed", Some(ApiErrorDto::from(e.clone()))),
            Phase::Stopped => ("failed", None),
        };
        let pending = self
            .inner
            .first_admin_password
            .lock()
            .map(|p| p.is_some())
            .unwrap_or(false);
        let db = &self.inner.opts.db;
        ConsoleStatus {
            state: state.into(),
            kind: "embedded".into(),
            name: db
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "latchkey.db".into()),
            db_path: db.display().to_string(),
            issuer: self.issuer(),
            port: self.inner.opts.port,
            error,
            first_admin_pending: pending.then(|| FIRST_ADMIN_USERNAME.to_string()),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// The first admin's password, once: later calls get `None`.
    pub fn first_admin_password_take(&self) -> Option<String> {
        self.inner
            .first_admin_password
            .lock()
            .ok()
            .and_then(|mut p| p.take())
    }

    /// Stops the server and closes the store (checkpointing the WAL).
    pub async fn shutdown(&self) {
        let phase = std::mem::replace(&mut *self.inner.phase.write().await, Phase::Stopped);
        if let Phase::Ready(open) = phase {
            if let Some(s) = open.server {
                s.stop().await;
            }
            if let Some(e) = open.embedded {
                e.close().await;
            }
        }
    }
}

fn free_port() -> Option<u16> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}
