//! The connection the console administers: its start-up, and switching to another.
//!
//! An embedded connection: a SQLite file (the OS data directory by default), its
//! key-encryption key beside it, and the authorization server on 127.0.0.1 in this
//! process, so applications on the machine can sign in against it at once; the console
//! administers it through the server's own backend. A remote connection: a
//! `latchkey serve` deployment's admin API through [`Remote`], with an admin API key or
//! a person's browser sign-in, the credential kept in the OS keyring (or, with no
//! keyring service, in memory until the console exits) — never in the webview.
//!
//! One connection is active at a time. Switching to a remote server checks the
//! credential before letting go of the current connection; switching files stops the
//! in-process server and starts it on the new file.

use crate::connections::{self, Connection, Connections, RemoteAuth, Target};
use crate::navigation;
use latchkey_admin::{AdminBackend, AdminError, Embedded};
use latchkey_admin_client::keyring::{EntryKind, Keyring};
use latchkey_admin_client::signin;
use latchkey_admin_client::{Credential, Remote, Secret};
use latchkey_api_types::ErrorCode;
use latchkey_api_types::{ApiErrorDto, ClientCreateRequest, UserCreateRequest};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, RwLock};

/// The port the in-process server listens on when none is given.
pub const DEFAULT_PORT: u16 = 9280;
/// The first admin account created on a fresh store.
pub const FIRST_ADMIN_USERNAME: &str = "admin";

#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    pub db: PathBuf,
    /// 0: any free port.
    pub port: u16,
    /// The saved connections (no secrets in it).
    pub connections: PathBuf,
}

/// Opens an address in the system browser (replaced in tests by a scripted browser).
pub type Opener = Arc<dyn Fn(&str) + Send + Sync>;

fn system_browser() -> Opener {
    Arc::new(|url: &str| {
        if let Err(e) = open::that_detached(url) {
            eprintln!("latchkey-desktop: cannot open the system browser: {e}");
        }
    })
}

pub use latchkey_api_types::shell::ConsoleStatus;

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

/// The active connection as the status reports it.
#[derive(Clone)]
struct Active {
    conn: Connection,
    issuer: String,
    port: u16,
    credential_store: Option<&'static str>,
}

struct Inner {
    opts: ConsoleOptions,
    phase: RwLock<Phase>,
    active: Mutex<Active>,
    /// Moves on every switch: live-event subscriptions of the previous connection end.
    generation: watch::Sender<u64>,
    /// One switch at a time.
    switching: tokio::sync::Mutex<()>,
    connections: Mutex<Connections>,
    /// Remote credentials when no keyring service runs, by connection id.
    memory: Mutex<HashMap<String, Credential>>,
    /// The first admin's generated password until the UI has shown it once. Held in
    /// memory only; the store keeps the Argon2 hash.
    first_admin_password: Mutex<Option<String>>,
    nav: navigation::Policy,
    opener: Opener,
}

/// The console's state, managed by Tauri; cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

/// What to connect to: a saved connection, or a new one to save once it works.
pub struct ConnectRequest {
    pub conn: Connection,
    /// A credential typed in just now (an API key), replacing any stored one.
    pub credential: Option<Credential>,
    /// For a new embedded file: create it when missing.
    pub create: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the console down with it: the data is plain.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_id() -> String {
    latchkey_core::crypto::random_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

impl Console {
    /// A console that will open `opts` when [`start`](Self::start)ed. A port of 0 is
    /// resolved to a free one here, so the issuer is known before the server starts.
    pub fn new(opts: ConsoleOptions) -> Console {
        Console::with_opener(opts, system_browser())
    }

    /// [`new`](Self::new) with another way of opening the browser (tests sign in with a
    /// scripted one).
    pub fn with_opener(mut opts: ConsoleOptions, opener: Opener) -> Console {
        if opts.port == 0 {
            opts.port = free_port().unwrap_or(DEFAULT_PORT);
        }
        let mut list = Connections::load(&opts.connections);
        let target = Target::Embedded {
            db_path: opts.db.display().to_string(),
        };
        let conn = match list.find(&target) {
            Some(c) => c.clone(),
            None => {
                let c = Connection {
                    id: new_id(),
                    name: opts
                        .db
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "latchkey.db".into()),
                    colour: "green".into(),
                    target,
                };
                if let Err(e) = list.put(c.clone()) {
                    eprintln!("latchkey-desktop: {}", e.message);
                }
                c
            }
        };
        let issuer = local_issuer(opts.port);
        Console {
            inner: Arc::new(Inner {
                nav: navigation::Policy::new(issuer.clone()),
                active: Mutex::new(Active {
                    conn,
                    port: opts.port,
                    issuer,
                    credential_store: None,
                }),
                opts,
                phase: RwLock::new(Phase::Starting),
                generation: watch::channel(0).0,
                switching: tokio::sync::Mutex::new(()),
                connections: Mutex::new(list),
                memory: Mutex::new(HashMap::new()),
                first_admin_password: Mutex::new(None),
                opener,
            }),
        }
    }

    /// The navigation lock of the window, following the active connection.
    pub fn navigation(&self) -> navigation::Policy {
        self.inner.nav.clone()
    }

    /// The issuer of the connected server: for the embedded connection the in-process
    /// server (plain HTTP, which the server allows only on loopback).
    pub fn issuer(&self) -> String {
        lock(&self.inner.active).issuer.clone()
    }

    pub fn opener(&self) -> Opener {
        self.inner.opener.clone()
    }

    /// Opens the store and starts the server; the outcome is what
    /// [`status`](Self::status) reports from then on.
    pub async fn start(&self) {
        let db = self.inner.opts.db.clone();
        let phase = match self.open_embedded(&db, true).await {
            Ok(p) => Phase::Ready(Box::new(p)),
            Err(e) => Phase::Failed(e),
        };
        *self.inner.phase.write().await = phase;
    }

    /// Like [`start`](Self::start) without the HTTP server (tests of the commands).
    pub async fn start_without_server(&self) {
        let db = self.inner.opts.db.clone();
        let phase = match self.open_embedded(&db, false).await {
            Ok(p) => Phase::Ready(Box::new(p)),
            Err(e) => Phase::Failed(e),
        };
        *self.inner.phase.write().await = phase;
    }

    async fn open_embedded(&self, db: &Path, serve: bool) -> Result<Open, AdminError> {
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                AdminError::new(
                    ErrorCode::Unavailable,
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
            return Ok(Open {
                backend: Arc::new(embedded.clone()),
                embedded: Some(embedded),
                server: None,
            });
        }
        embedded.close().await;
        let port = self.inner.opts.port;
        let cfg = latchkey_server::ServeConfig::new(
            db.to_path_buf(),
            local_issuer(port),
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            // The admin HTTP API is not what the console uses; keep it off a fixed port.
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            kek,
        );
        let server = latchkey_server::start(cfg).await.map_err(|e| {
            let hint = match &e {
                latchkey_server::ServeError::Bind { .. } => format!(
                    " (is another server using port {port}? start the console with --port N)"
                ),
                _ => String::new(),
            };
            AdminError::new(ErrorCode::Unavailable, format!("{e}{hint}"))
        })?;
        // The server's own backend: one pool on the file, and the provider that token
        // introspection, revocation, statistics and live events need.
        let backend = server.state.admin.clone().with_actor("local-admin");
        Ok(Open {
            backend: Arc::new(backend),
            embedded: None,
            server: Some(server),
        })
    }

    /// First start of a file: an admin user with a generated password (kept in memory
    /// until the UI shows it once) and a sample client, so no page is empty.
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
            *lock(&self.inner.first_admin_password) = Some(password);
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
                ErrorCode::Unavailable,
                "the console is still opening the connection; try again in a moment",
            )),
            Phase::Failed(e) => Err(e.clone()),
            Phase::Stopped => Err(AdminError::new(
                ErrorCode::Unavailable,
                "the console is closing",
            )),
        }
    }

    /// Ends when the console switches to another connection (live-event relays stop).
    pub fn switched(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    pub async fn status(&self) -> ConsoleStatus {
        let (state, error) = match &*self.inner.phase.read().await {
            Phase::Starting => ("starting", None),
            Phase::Ready(_) => ("ready", None),
            Phase::Failed(e) => ("failed", Some(ApiErrorDto::from(e.clone()))),
            Phase::Stopped => ("failed", None),
        };
        let pending = lock(&self.inner.first_admin_password).is_some();
        let a = lock(&self.inner.active).clone();
        let (kind, db_path, server) = match &a.conn.target {
            Target::Embedded { db_path } => ("embedded", db_path.clone(), None),
            Target::Remote { server, .. } => ("remote", String::new(), Some(server.clone())),
        };
        ConsoleStatus {
            state: state.into(),
            kind: kind.into(),
            connection_id: a.conn.id,
            name: a.conn.name,
            colour: a.conn.colour,
            db_path,
            server,
            issuer: a.issuer,
            port: a.port,
            credential_store: a.credential_store.map(str::to_string),
            error,
            first_admin_pending: pending.then(|| FIRST_ADMIN_USERNAME.to_string()),
            version: concat!(
                env!("CARGO_PKG_VERSION"),
                " (commit ",
                env!("LATCHKEY_COMMIT"),
                ")"
            )
            .into(),
        }
    }

    /// The first admin's password, once: later calls get `None`.
    pub fn first_admin_password_take(&self) -> Option<String> {
        lock(&self.inner.first_admin_password).take()
    }

    /// The saved connections, and which one is active.
    pub fn connections(&self) -> (Vec<Connection>, String) {
        let list = lock(&self.inner.connections).list().to_vec();
        (list, lock(&self.inner.active).conn.id.clone())
    }

    /// Whether a stored credential exists for a remote connection (keyring or memory).
    pub async fn has_credential(&self, conn: &Connection) -> bool {
        matches!(self.stored_credential(conn).await, Ok(Some(_)))
    }

    async fn stored_credential(
        &self,
        conn: &Connection,
    ) -> Result<Option<(Credential, &'static str)>, AdminError> {
        let Target::Remote { server, auth, .. } = &conn.target else {
            return Ok(None);
        };
        if let Some(c) = lock(&self.inner.memory).get(&conn.id) {
            return Ok(Some((c.clone(), "memory")));
        }
        let (server, auth) = (server.clone(), *auth);
        let found = tokio::task::spawn_blocking(move || -> Result<_, AdminError> {
            let ring = Keyring::open(&server, entry_kind(auth))?;
            Ok(match auth {
                RemoteAuth::ApiKey => ring.load_api_key()?.map(Credential::ApiKey),
                RemoteAuth::Browser => ring.load_tokens()?.map(Credential::OAuth),
            })
        })
        .await
        .map_err(|e| AdminError::new(ErrorCode::Internal, format!("keyring task: {e}")))?;
        match found {
            Ok(c) => Ok(c.map(|c| (c, "keyring"))),
            // No keyring service: nothing stored, not an error.
            Err(e) if e.code == "unavailable" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Keeps `cred` in the keyring, or in memory when no keyring service runs; says which.
    async fn store_credential(&self, conn: &Connection, cred: &Credential) -> &'static str {
        let Target::Remote { server, auth, .. } = &conn.target else {
            return "memory";
        };
        let (server, auth, c) = (server.clone(), *auth, cred.clone());
        let saved = tokio::task::spawn_blocking(move || -> Result<(), AdminError> {
            let ring = Keyring::open(&server, entry_kind(auth))?;
            match &c {
                Credential::ApiKey(k) => ring.save_api_key(k),
                Credential::OAuth(t) => ring.save_tokens(t),
            }
        })
        .await;
        if matches!(saved, Ok(Ok(()))) {
            lock(&self.inner.memory).remove(&conn.id);
            "keyring"
        } else {
            lock(&self.inner.memory).insert(conn.id.clone(), cred.clone());
            "memory"
        }
    }

    /// Makes `req.conn` the active connection and saves it in the list. A remote
    /// server is checked (reachable, credential accepted) before the current connection
    /// is let go, so a typo or a wrong key leaves the console where it was.
    pub async fn connect(&self, req: ConnectRequest) -> Result<ConsoleStatus, AdminError> {
        let _one = self.inner.switching.lock().await;
        let ConnectRequest {
            mut conn,
            credential,
            create,
        } = req;
        conn.name = connections::check_name(&conn.name)?;
        conn.colour = connections::check_colour(&conn.colour)?;
        match conn.target.clone() {
            Target::Remote {
                server,
                issuer,
                auth,
            } => {
                signin::check_transport(&server)?;
                if let Some(i) = &issuer {
                    signin::check_transport(i)?;
                }
                // `kept`: where an already stored credential lives; `None` for a new one.
                let (cred, kept) = match credential {
                    Some(c) => (c, None),
                    None => match self.stored_credential(&conn).await? {
                        Some((c, at)) => (c, Some(at)),
                        None if auth == RemoteAuth::Browser => (
                            self.browser_sign_in(&server, issuer.as_deref()).await?,
                            None,
                        ),
                        None => {
                            return Err(AdminError::new(
                                ErrorCode::Unauthorized,
                                format!("no API key is stored for {server}; enter it to connect"),
                            ))
                        }
                    },
                };
                let remote = Remote::new(&server, cred.clone())?;
                let health = remote.health_get().await?;
                // A read the credential must be good for (health needs none).
                remote.scopes_list().await?;
                let store = match kept {
                    Some(at) => at,
                    None => self.store_credential(&conn, &cred).await,
                };
                let remote = self.keep_refreshed(remote, &conn, store);
                let issuer = issuer
                    .or(health.issuer)
                    .unwrap_or_else(|| server.trim_end_matches('/').to_string());
                self.let_go().await;
                self.install(
                    Phase::Ready(Box::new(Open {
                        backend: Arc::new(remote),
                        embedded: None,
                        server: None,
                    })),
                    Active {
                        conn: conn.clone(),
                        issuer,
                        port: 0,
                        credential_store: Some(store),
                    },
                )
                .await;
            }
            Target::Embedded { db_path } => {
                let path = PathBuf::from(&db_path);
                if !path.is_absolute() {
                    return Err(AdminError::invalid_input(
                        "give the database file's full path (starting with /)",
                    ));
                }
                if path.is_dir() {
                    return Err(AdminError::invalid_input(format!(
                        "{db_path} is a directory; name a database file in it"
                    )));
                }
                // Refused before anything is let go: a typo must not stop the server or
                // make an empty store. The switcher answers `not_found` by asking whether
                // to create one, and only then sends `create`.
                if !path.exists() && !create {
                    return Err(AdminError::not_found(format!(
                        "there is no database at {db_path}; check the path, or create a new store there"
                    )));
                }
                let previous = self.let_go().await;
                *self.inner.phase.write().await = Phase::Starting;
                let port = self.inner.opts.port;
                let active = Active {
                    conn: conn.clone(),
                    issuer: local_issuer(port),
                    port,
                    credential_store: None,
                };
                match self.open_embedded(&path, true).await {
                    Ok(open) => self.install(Phase::Ready(Box::new(open)), active).await,
                    Err(e) => {
                        // Back to where it was, so one bad file does not leave the
                        // console with nothing to administer.
                        if let Some((prev_conn, Some(prev))) = previous {
                            let restored = self.open_embedded(Path::new(&prev), true).await;
                            let prev_active = Active {
                                conn: prev_conn,
                                issuer: local_issuer(port),
                                port,
                                credential_store: None,
                            };
                            match restored {
                                Ok(open) => {
                                    self.install(Phase::Ready(Box::new(open)), prev_active)
                                        .await
                                }
                                Err(_) => self.install(Phase::Failed(e.clone()), active).await,
                            }
                        } else {
                            self.install(Phase::Failed(e.clone()), active).await;
                        }
                        return Err(e);
                    }
                }
            }
        }
        self.remember(conn)?;
        Ok(self.status().await)
    }

    /// Saves `conn`, replacing an earlier entry for the same file or server.
    fn remember(&self, conn: Connection) -> Result<(), AdminError> {
        let mut list = lock(&self.inner.connections);
        if let Some(same) = list.find(&conn.target) {
            if same.id != conn.id {
                let old = same.id.clone();
                list.remove(&old)?;
            }
        }
        list.put(conn)
    }

    /// Saves refreshed tokens where the sign-in is kept (a rotated refresh token is the
    /// only one that still works).
    fn keep_refreshed(&self, remote: Remote, conn: &Connection, store: &'static str) -> Remote {
        let Target::Remote { server, .. } = &conn.target else {
            return remote;
        };
        let (server, id, inner) = (server.clone(), conn.id.clone(), self.inner.clone());
        remote.on_refresh(Arc::new(move |t| {
            if store == "keyring" {
                if let Ok(ring) = Keyring::open(&server, EntryKind::SignIn) {
                    if ring.save_tokens(t).is_ok() {
                        return;
                    }
                }
            }
            lock(&inner.memory).insert(id.clone(), Credential::OAuth(t.clone()));
        }))
    }

    async fn browser_sign_in(
        &self,
        server: &str,
        issuer: Option<&str>,
    ) -> Result<Credential, AdminError> {
        let http = signin::http_client();
        let ep = signin::endpoints_for(&http, server, issuer).await?;
        let opener = self.inner.opener.clone();
        let tokens = signin::browser_sign_in(&http, &ep, move |url| opener(url)).await?;
        if !tokens
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .any(|s| s == latchkey_core::model::ADMIN_SCOPE)
        {
            let _ = signin::revoke(&http, &tokens).await;
            return Err(AdminError::new(
                ErrorCode::Forbidden,
                "signed in, but this account is not an administrator of the server",
            ));
        }
        Ok(Credential::OAuth(tokens))
    }

    /// Stops the current connection; returns it (and its file, when embedded).
    async fn let_go(&self) -> Option<(Connection, Option<String>)> {
        self.close(Phase::Starting).await;
        let a = lock(&self.inner.active).conn.clone();
        let file = match &a.target {
            Target::Embedded { db_path } => Some(db_path.clone()),
            Target::Remote { .. } => None,
        };
        Some((a, file))
    }

    async fn install(&self, phase: Phase, active: Active) {
        self.inner.nav.set_issuer(&active.issuer);
        *lock(&self.inner.active) = active;
        *self.inner.phase.write().await = phase;
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// Renames or recolours a saved connection (the active one's badge too).
    pub fn connection_update(
        &self,
        id: &str,
        name: Option<String>,
        colour: Option<String>,
    ) -> Result<Connection, AdminError> {
        let mut list = lock(&self.inner.connections);
        let mut c = list
            .get(id)
            .cloned()
            .ok_or_else(|| AdminError::not_found("no such connection"))?;
        if let Some(n) = name {
            c.name = connections::check_name(&n)?;
        }
        if let Some(col) = colour {
            c.colour = connections::check_colour(&col)?;
        }
        list.put(c.clone())?;
        let mut a = lock(&self.inner.active);
        if a.conn.id == c.id {
            a.conn = c.clone();
        }
        Ok(c)
    }

    /// Forgets a saved connection and its stored credential: a browser sign-in's
    /// refresh token is revoked at the server first (RFC 7009), then the keyring entry
    /// goes. An embedded file itself stays on disk. Says what happened.
    pub async fn connection_remove(&self, id: &str) -> Result<String, AdminError> {
        if lock(&self.inner.active).conn.id == id {
            return Err(AdminError::new(
                ErrorCode::Conflict,
                "this is the connection in use; switch to another one first",
            ));
        }
        let Some(c) = lock(&self.inner.connections).get(id).cloned() else {
            return Err(AdminError::not_found("no such connection"));
        };
        let mut said = format!("Forgot {}.", c.name);
        if let Ok(Some((Credential::OAuth(t), _))) = self.stored_credential(&c).await {
            said = match signin::revoke(&signin::http_client(), &t).await {
                Ok(()) => format!(
                    "Signed out of {}: the sign-in is revoked at the server.",
                    c.name
                ),
                Err(e) => format!(
                    "Forgot {} here, but the server could not revoke the sign-in ({}); it \
                     stays valid until it expires.",
                    c.name, e.message
                ),
            };
        }
        lock(&self.inner.memory).remove(id);
        if let Target::Remote { server, auth, .. } = &c.target {
            let (server, auth) = (server.clone(), *auth);
            let deleted = tokio::task::spawn_blocking(move || {
                Keyring::open(&server, entry_kind(auth)).and_then(|r| r.delete())
            })
            .await;
            if let Ok(Err(e)) = deleted {
                if e.code != "unavailable" {
                    said.push_str(&format!(
                        " The keyring entry could not be removed: {}",
                        e.message
                    ));
                }
            }
        }
        lock(&self.inner.connections).remove(id)?;
        Ok(said)
    }

    /// Stops the server and closes the store (checkpointing the WAL).
    pub async fn shutdown(&self) {
        self.close(Phase::Stopped).await;
    }

    /// Ends the open connection (its live-event relays, its server, its store) and
    /// leaves the console in `next`.
    async fn close(&self, next: Phase) {
        let phase = std::mem::replace(&mut *self.inner.phase.write().await, next);
        self.inner.generation.send_modify(|g| *g += 1);
        if let Phase::Ready(open) = phase {
            if let Some(s) = open.server {
                s.stop().await;
            }
            if let Some(e) = open.embedded {
                e.close().await;
            }
        }
    }

    /// A new connection's id.
    pub fn new_connection_id() -> String {
        new_id()
    }
}

fn entry_kind(auth: RemoteAuth) -> EntryKind {
    match auth {
        RemoteAuth::ApiKey => EntryKind::ApiKey,
        RemoteAuth::Browser => EntryKind::SignIn,
    }
}

fn local_issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// An API key typed into the console, as the credential to present.
pub fn api_key(key: &str) -> Result<Credential, AdminError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(AdminError::invalid_input("enter the admin API key (lk_…)"));
    }
    Ok(Credential::ApiKey(Secret::new(key)))
}

fn free_port() -> Option<u16> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}
