//! `impl Store for SqliteStore`.
//!
//! Every mutation runs in one `BEGIN IMMEDIATE` transaction on the writer connection
//! (see `SqliteStore::write`); reads use the reader pool. Single-use objects (codes,
//! device codes, refresh tokens, authorization requests) are spent with one conditional
//! `UPDATE … WHERE <still unspent> … RETURNING`, so two racing callers cannot both see
//! "unspent" — on SQLite the single writer serialises them, and the same statement is
//! also correct under PostgreSQL's READ COMMITTED.

use crate::error::{self, db};
use crate::rows::*;
use crate::SqliteStore;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::model::*;
use latchkey_core::settings::StoredSettings;
use latchkey_core::store::{
    AuthRequest, Issuance, KeyUpdate, RotateOutcome, SessionInfo, Store, StoreResult,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeMap;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

/// The reason recorded on sessions revoked in bulk, where the trait takes none.
const REASON_USER: &str = "user_sessions_revoked";
const REASON_CLIENT: &str = "client_tokens_revoked";

fn limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// Converts a row, logging a value that no longer parses: it means a damaged file or a
/// schema written by a newer build, which an operator must hear about.
fn conv<R, T>(op: &'static str, row: R) -> StoreResult<T>
where
    T: TryFrom<R, Error = StoreError>,
{
    T::try_from(row).map_err(|e| match e {
        StoreError::Corrupt(m) => error::corrupt(op, m),
        other => other,
    })
}

fn conv_all<R, T>(op: &'static str, rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(|r| conv(op, r)).collect()
}

/// Updates and deletes of a named record report a missing one as `NotFound` (and the
/// caller's `?` drops the transaction, rolling back anything already written).
fn affected(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

// --- statements shared by several methods -------------------------------------------

/// `NotFound` unless `sql` (a `SELECT 1 … WHERE id = ?`) finds a row: a count of 0
/// would otherwise hide a typo.
async fn must_exist(
    conn: &mut SqliteConnection,
    op: &'static str,
    sql: &'static str,
    id: &str,
) -> StoreResult<()> {
    let known: Option<i64> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db(op))?;
    known.map(|_| ()).ok_or(StoreError::NotFound)
}

/// The WHERE conditions of a [`SessionFilter`] (without state, order, cursor or limit),
/// shared by the listing, the dry run and the bulk revoke so all three see one set.
fn push_session_filter<'a>(qb: &mut QueryBuilder<'a, Sqlite>, f: &'a SessionFilter) {
    push_session_filter_with(qb, f, true);
}

/// From this many sessions on, an IP prefix is "dense": its first page is found faster by
/// walking sessions in list order and skipping the others than by collecting every match
/// from the (ip, created_at, id) index and sorting them (at 1 000 000 sessions a prefix
/// matching 5 000 sessions over 250 addresses took 50 ms the index way).
const DENSE_IP_PREFIX: i64 = 2000;

/// `ip_index: false` writes the IP prefix as `+s.ip`, which keeps SQLite from using the
/// (ip, …) index for it, so the planner walks the list order's index instead.
fn push_session_filter_with<'a>(
    qb: &mut QueryBuilder<'a, Sqlite>,
    f: &'a SessionFilter,
    ip_index: bool,
) {
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            qb.push(" AND 0 = 1");
        } else {
            qb.push(" AND s.id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            sep.push_unseparated(")");
        }
    }
    if let Some(user_id) = &f.user_id {
        qb.push(" AND s.user_id = ").push_bind(user_id);
    }
    if let Some(client_id) = &f.client_id {
        qb.push(" AND s.client_id = ").push_bind(client_id);
    }
    if let Some(ip) = &f.ip {
        match ip_prefix_range(ip) {
            // A range, not LIKE or substr, so the (ip, created_at) index serves it.
            Some((low, high)) => {
                let col = if ip_index { "s.ip" } else { "+s.ip" };
                qb.push(format!(" AND {col} >= "))
                    .push_bind(low)
                    .push(format!(" AND {col} < "))
                    .push_bind(high);
            }
            None => {
                qb.push(" AND s.ip = ").push_bind(ip);
            }
        }
    }
    if let Some(from) = f.created_from {
        qb.push(" AND s.created_at >= ").push_bind(from);
    }
    if let Some(to) = f.created_to {
        qb.push(" AND s.created_at < ").push_bind(to);
    }
}

fn push_session_state<'a>(
    qb: &mut QueryBuilder<'a, Sqlite>,
    state: SessionStateFilter,
    at: Timestamp,
) {
    match state {
        SessionStateFilter::Any => {}
        SessionStateFilter::Active => {
            qb.push(" AND s.revoked_at IS NULL AND s.expires_at > ")
                .push_bind(at);
        }
        SessionStateFilter::Revoked => {
            qb.push(" AND s.revoked_at IS NOT NULL");
        }
        SessionStateFilter::Expired => {
            qb.push(" AND s.revoked_at IS NULL AND s.expires_at <= ")
                .push_bind(at);
        }
    }
}

/// What revoking the live sessions matching `f` would cut off, read on `conn` so a
/// revoke can count inside its own transaction.
async fn session_impact(
    conn: &mut SqliteConnection,
    op: &'static str,
    f: &SessionFilter,
    at: Timestamp,
) -> StoreResult<RevokeImpact> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT COUNT(*), \
         COALESCE(SUM(EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id \
           AND r.consumed_at IS NULL AND r.idle_expires_at > ",
    );
    qb.push_bind(at);
    qb.push(
        ")), 0), COALESCE(SUM((SELECT COUNT(*) FROM access_tokens a \
           WHERE a.session_id = s.id AND a.expires_at > ",
    );
    qb.push_bind(at);
    qb.push(")), 0) FROM sessions s WHERE 1 = 1");
    push_session_filter(&mut qb, f);
    push_session_state(&mut qb, SessionStateFilter::Active, at);
    let (sessions, families, tokens): (i64, i64, i64) = qb
        .build_query_as()
        .fetch_one(&mut *conn)
        .await
        .map_err(db(op))?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(RevokeImpact {
        sessions: n(sessions),
        refresh_families: n(families),
        live_access_tokens: n(tokens),
    })
}

async fn insert_audit(
    conn: &mut SqliteConnection,
    op: &'static str,
    ev: &NewAuditEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, before, after, ip, security) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(ev.at)
    .bind(&ev.actor)
    .bind(&ev.action)
    .bind(&ev.target)
    .bind(&ev.before)
    .bind(&ev.after)
    .bind(&ev.ip)
    .bind(ev.security)
    .execute(&mut *conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

async fn insert_audit_opt(
    conn: &mut SqliteConnection,
    op: &'static str,
    ev: Option<&NewAuditEvent>,
) -> StoreResult<()> {
    match ev {
        Some(ev) => insert_audit(conn, op, ev).await,
        None => Ok(()),
    }
}

async fn insert_secret(
    conn: &mut SqliteConnection,
    op: &'static str,
    s: &ClientSecret,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.client_id)
    .bind(&s.hash)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut *conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

async fn insert_session(
    conn: &mut SqliteConnection,
    op: &'static str,
    s: &Session,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, client_id, sign_in_id, scopes, auth_time, \
         created_at, last_used_at, expires_at, ip, user_agent, revoked_at, revoked_reason) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.user_id)
    .bind(&s.client_id)
    .bind(&s.sign_in_id)
    .bind(to_json_list(&s.scopes)?)
    .bind(s.auth_time)
    .bind(s.created_at)
    .bind(s.last_used_at)
    .bind(s.expires_at)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .bind(s.revoked_at)
    .bind(&s.revoked_reason)
    .execute(&mut *conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

async fn insert_refresh(
    conn: &mut SqliteConnection,
    op: &'static str,
    r: &RefreshToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, session_id, client_id, created_at, consumed_at, \
         idle_expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.hash)
    .bind(&r.session_id)
    .bind(&r.client_id)
    .bind(r.created_at)
    .bind(r.consumed_at)
    .bind(r.idle_expires_at)
    .execute(&mut *conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

async fn insert_access(
    conn: &mut SqliteConnection,
    op: &'static str,
    a: &AccessTokenRecord,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_tokens (jti, session_id, client_id, issued_at, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&a.jti)
    .bind(&a.session_id)
    .bind(&a.client_id)
    .bind(a.issued_at)
    .bind(a.expires_at)
    .execute(&mut *conn)
    .await
    .map_err(db(op))?;
    Ok(())
}

/// Session first: the refresh token and access record refer to it.
async fn insert_issuance(
    conn: &mut SqliteConnection,
    op: &'static str,
    issue: &Issuance,
) -> StoreResult<()> {
    if let Some(s) = &issue.session {
        insert_session(conn, op, s).await?;
    }
    if let Some(r) = &issue.refresh {
        insert_refresh(conn, op, r).await?;
    }
    if let Some(ev) = &issue.event {
        insert_audit(conn, op, ev).await?;
    }
    if let Some(a) = &issue.access {
        insert_access(conn, op, a).await?;
    }
    Ok(())
}

async fn session_in_tx(
    conn: &mut SqliteConnection,
    op: &'static str,
    id: &str,
) -> StoreResult<Option<Session>> {
    let row: Option<SessionRow> = sqlx::query_as("SELECT * FROM sessions WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db(op))?;
    row.map(|r| conv(op, r)).transpose()
}

/// The new refresh token must continue the family being rotated; one filed under
/// another session would outlive that session's revocation.
fn same_family(op: &'static str, new_refresh: &RefreshToken, session_id: &str) -> StoreResult<()> {
    if new_refresh.session_id == session_id {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "{op}: the new refresh token belongs to another session"
        )))
    }
}

async fn touch_session(
    conn: &mut SqliteConnection,
    op: &'static str,
    id: &str,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db(op))?;
    Ok(())
}

/// Explicit rollback on the paths that decide not to write; a failure here only means
/// the connection will roll back when it is next used, so it is logged, not returned.
async fn rollback(tx: sqlx::Transaction<'static, Sqlite>, op: &'static str) {
    if let Err(e) = tx.rollback().await {
        let _ = error::map(op, e);
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn change_marker(&self) -> Option<u64> {
        Some(self.marker())
    }

    // --- clients -----------------------------------------------------------------

    async fn client_get(&self, id: &str) -> StoreResult<Option<Client>> {
        const OP: &str = "client_get";
        let row: Option<ClientRow> = sqlx::query_as("SELECT * FROM clients WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn clients_list(&self) -> StoreResult<Vec<Client>> {
        const OP: &str = "clients_list";
        let rows: Vec<ClientRow> = sqlx::query_as("SELECT * FROM clients ORDER BY name, id")
            .fetch_all(&self.reader)
            .await
            .map_err(db(OP))?;
        conv_all(OP, rows)
    }

    async fn client_insert(
        &self,
        client: &Client,
        secret: Option<&ClientSecret>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        const OP: &str = "client_insert";
        if let Some(s) = secret {
            if s.client_id != client.id {
                return Err(StoreError::Other(format!(
                    "{OP}: the secret belongs to another client"
                )));
            }
        }
        let grant_types: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO clients (id, name, client_type, auth_method, grant_types, \
             redirect_uris, post_logout_redirect_uris, allowed_scopes, jwks, jwks_uri, access_token_ttl, \
             refresh_token_ttl, refresh_idle_ttl, refresh_grace_secs, require_consent, disabled, \
             tokens_valid_after, created_at, updated_at, admin_tool, assertion_aud_compat) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.auth_method.as_str())
        .bind(to_json_list(&grant_types)?)
        .bind(to_json_list(&client.redirect_uris)?)
        .bind(to_json_list(&client.post_logout_redirect_uris)?)
        .bind(to_json_list(&client.allowed_scopes)?)
        .bind(&client.jwks)
        .bind(&client.jwks_uri)
        .bind(client.access_token_ttl)
        .bind(client.refresh_token_ttl)
        .bind(client.refresh_idle_ttl)
        .bind(client.refresh_grace_secs)
        .bind(client.require_consent)
        .bind(client.disabled)
        .bind(client.tokens_valid_after)
        .bind(client.created_at)
        .bind(client.updated_at)
        .bind(client.admin_tool)
        .bind(client.assertion_aud_compat)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        if let Some(s) = secret {
            insert_secret(&mut tx, OP, s).await?;
        }
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    /// The watermark only moves forward here: an edit made from a client loaded before
    /// a concurrent "revoke all tokens" must not write the old watermark back and
    /// revive the revoked tokens. `created_at` is immutable.
    async fn client_update(&self, client: &Client, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "client_update";
        let grant_types: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "UPDATE clients SET name = ?, client_type = ?, auth_method = ?, grant_types = ?, \
             redirect_uris = ?, post_logout_redirect_uris = ?, allowed_scopes = ?, jwks = ?, jwks_uri = ?, \
             access_token_ttl = ?, refresh_token_ttl = ?, refresh_idle_ttl = ?, \
             refresh_grace_secs = ?, require_consent = ?, disabled = ?, \
             tokens_valid_after = CASE WHEN tokens_valid_after > ? THEN tokens_valid_after \
             ELSE ? END, updated_at = ?, admin_tool = ?, assertion_aud_compat = ? WHERE id = ?",
        )
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.auth_method.as_str())
        .bind(to_json_list(&grant_types)?)
        .bind(to_json_list(&client.redirect_uris)?)
        .bind(to_json_list(&client.post_logout_redirect_uris)?)
        .bind(to_json_list(&client.allowed_scopes)?)
        .bind(&client.jwks)
        .bind(&client.jwks_uri)
        .bind(client.access_token_ttl)
        .bind(client.refresh_token_ttl)
        .bind(client.refresh_idle_ttl)
        .bind(client.refresh_grace_secs)
        .bind(client.require_consent)
        .bind(client.disabled)
        .bind(client.tokens_valid_after)
        .bind(client.tokens_valid_after)
        .bind(client.updated_at)
        .bind(client.admin_tool)
        .bind(client.assertion_aud_compat)
        .bind(&client.id)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        affected(done.rows_affected())?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    async fn client_delete(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "client_delete";
        let mut tx = self.write(OP).await?;
        // Secrets, consents, codes, device codes, sessions, refresh tokens and access
        // records go with it through ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM clients WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        affected(done.rows_affected())?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        const OP: &str = "client_secrets";
        let rows: Vec<ClientSecretRow> = sqlx::query_as(
            "SELECT * FROM client_secrets WHERE client_id = ? ORDER BY created_at, id",
        )
        .bind(client_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db(OP))?;
        Ok(rows.into_iter().map(ClientSecret::from).collect())
    }

    /// "Still valid" is judged at `old_expire_at`: a secret expiring later is cut back
    /// to the overlap, one expiring sooner (or already expired) keeps its own, earlier
    /// end. A rotation never extends a secret's life.
    async fn client_secret_add(
        &self,
        secret: &ClientSecret,
        old_expire_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        const OP: &str = "client_secret_add";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "UPDATE client_secrets SET expires_at = ? \
             WHERE client_id = ? AND id <> ? AND (expires_at IS NULL OR expires_at > ?)",
        )
        .bind(old_expire_at)
        .bind(&secret.client_id)
        .bind(&secret.id)
        .bind(old_expire_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_secret(&mut tx, OP, secret).await?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    // --- scopes ------------------------------------------------------------------

    async fn scope_get(&self, name: &str) -> StoreResult<Option<Scope>> {
        const OP: &str = "scope_get";
        let row: Option<ScopeRow> = sqlx::query_as("SELECT * FROM scopes WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn scopes_list(&self) -> StoreResult<Vec<Scope>> {
        const OP: &str = "scopes_list";
        let rows: Vec<ScopeRow> = sqlx::query_as("SELECT * FROM scopes ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(db(OP))?;
        conv_all(OP, rows)
    }

    async fn scope_insert(&self, scope: &Scope, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "scope_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO scopes (name, description, claims, builtin, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&scope.name)
        .bind(&scope.description)
        .bind(to_json_list(&scope.claims)?)
        .bind(scope.builtin)
        .bind(scope.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    /// Built-in (OIDC) scopes are refused with `Conflict` even if the engine forgot to
    /// check: deleting `openid` would break every client at once.
    async fn scope_delete(&self, name: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "scope_delete";
        let mut tx = self.write(OP).await?;
        let builtin: Option<bool> = sqlx::query_scalar("SELECT builtin FROM scopes WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(OP))?;
        match builtin {
            None => return Err(StoreError::NotFound),
            Some(true) => {
                return Err(StoreError::Conflict(format!(
                    "{OP}: built-in scopes cannot be deleted"
                )))
            }
            Some(false) => {}
        }
        sqlx::query("DELETE FROM scopes WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    // --- users -------------------------------------------------------------------

    async fn user_get(&self, id: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("user_get"))?;
        Ok(row.map(User::from))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("user_by_username"))?;
        Ok(row.map(User::from))
    }

    async fn users_list(&self) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.reader)
            .await
            .map_err(db("users_list"))?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn user_insert(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "user_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO users (id, username, email, email_verified, name, password_hash, \
             disabled, is_admin, password_changed_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.disabled)
        .bind(user.is_admin)
        .bind(user.password_changed_at)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    async fn user_update(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "user_update";
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "UPDATE users SET username = ?, email = ?, email_verified = ?, name = ?, \
             password_hash = ?, disabled = ?, is_admin = ?, password_changed_at = ? \
             WHERE id = ?",
        )
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.disabled)
        .bind(user.is_admin)
        .bind(user.password_changed_at)
        .bind(&user.id)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        affected(done.rows_affected())?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    // --- signing keys ------------------------------------------------------------

    async fn keys_list(&self) -> StoreResult<Vec<SigningKey>> {
        const OP: &str = "keys_list";
        let rows: Vec<SigningKeyRow> =
            sqlx::query_as("SELECT * FROM signing_keys ORDER BY created_at, kid")
                .fetch_all(&self.reader)
                .await
                .map_err(db(OP))?;
        conv_all(OP, rows)
    }

    /// An unknown `kid` in `updates` fails the whole call with `NotFound`, so a rotation
    /// never half-applies.
    async fn keys_apply(
        &self,
        updates: &[KeyUpdate],
        insert: Option<&SigningKey>,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()> {
        const OP: &str = "keys_apply";
        let mut tx = self.write(OP).await?;
        for u in updates {
            // Column names come from this fixed table, never from input.
            let stamp = match u.state {
                KeyState::Next => None,
                KeyState::Active => Some("activated_at"),
                KeyState::Retiring => Some("retiring_at"),
                KeyState::Retired => Some("retired_at"),
                KeyState::Revoked => Some("revoked_at"),
            };
            let done = match stamp {
                None => sqlx::query("UPDATE signing_keys SET state = ? WHERE kid = ?")
                    .bind(u.state.as_str())
                    .bind(&u.kid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(OP))?,
                Some(col) => sqlx::query(&format!(
                    "UPDATE signing_keys SET state = ?, {col} = ? WHERE kid = ?"
                ))
                .bind(u.state.as_str())
                .bind(u.at)
                .bind(&u.kid)
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?,
            };
            affected(done.rows_affected())?;
        }
        if let Some(k) = insert {
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, state, public_jwk, private_enc, created_at, \
                 activated_at, retiring_at, retired_at, revoked_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&k.kid)
            .bind(k.alg.as_str())
            .bind(k.state.as_str())
            .bind(&k.public_jwk)
            .bind(&k.private_enc)
            .bind(k.created_at)
            .bind(k.activated_at)
            .bind(k.retiring_at)
            .bind(k.retired_at)
            .bind(k.revoked_at)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        // Two processes planning on the same old key set (a first `latchkey admin` and
        // `latchkey serve` on a new file) would each add an active key: whoever commits
        // second is refused and re-plans.
        let doubled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM signing_keys WHERE state IN ('active', 'next') \
             GROUP BY alg, state HAVING COUNT(*) > 1)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db(OP))?;
        if doubled > 0 {
            rollback(tx, OP).await;
            return Err(StoreError::Conflict(
                "the signing keys changed meanwhile (two active or next keys for one algorithm)"
                    .into(),
            ));
        }
        insert_audit_opt(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    // --- sign-ins and consent ----------------------------------------------------

    async fn sign_in_insert(&self, s: &SignIn) -> StoreResult<()> {
        const OP: &str = "sign_in_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO sign_ins (id, user_id, auth_time, ip, user_agent, created_at, \
             expires_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(s.auth_time)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.ended_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn sign_in_get(&self, id: &str) -> StoreResult<Option<SignIn>> {
        let row: Option<SignInRow> = sqlx::query_as("SELECT * FROM sign_ins WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("sign_in_get"))?;
        Ok(row.map(SignIn::from))
    }

    /// Idempotent: the first end time stands, and an unknown id is not an error (the
    /// cookie may outlive the row).
    async fn sign_in_end(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        const OP: &str = "sign_in_end";
        let mut tx = self.write(OP).await?;
        sqlx::query("UPDATE sign_ins SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn consent_get(&self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        const OP: &str = "consent_get";
        let scopes: Option<String> =
            sqlx::query_scalar("SELECT scopes FROM consents WHERE user_id = ? AND client_id = ?")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.reader)
                .await
                .map_err(db(OP))?;
        match scopes {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| error::corrupt(OP, format!("consents.scopes: {e}"))),
        }
    }

    /// Replaces the consented scopes; merging with earlier consent is the engine's call.
    async fn consent_put(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        at: Timestamp,
    ) -> StoreResult<()> {
        const OP: &str = "consent_put";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scopes, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, client_id) \
             DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(to_json_list(scopes)?)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn auth_request_insert(&self, req: &AuthRequest) -> StoreResult<()> {
        const OP: &str = "auth_request_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO auth_requests (id, params, sign_in_id, created_at, expires_at, \
             consumed_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&req.id)
        .bind(&req.params)
        .bind(&req.sign_in_id)
        .bind(req.created_at)
        .bind(req.expires_at)
        .bind(req.consumed_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn auth_request_get(&self, id: &str) -> StoreResult<Option<AuthRequest>> {
        let row: Option<AuthRequestRow> =
            sqlx::query_as("SELECT * FROM auth_requests WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reader)
                .await
                .map_err(db("auth_request_get"))?;
        Ok(row.map(AuthRequest::from))
    }

    async fn auth_request_consume(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        const OP: &str = "auth_request_consume";
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "UPDATE auth_requests SET consumed_at = ? \
             WHERE id = ? AND consumed_at IS NULL AND expires_at > ?",
        )
        .bind(at)
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await?;
        Ok(done.rows_affected() == 1)
    }

    // --- authorization codes -----------------------------------------------------

    async fn auth_code_insert(&self, c: &AuthCode) -> StoreResult<()> {
        const OP: &str = "auth_code_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO auth_codes (hash, client_id, user_id, sign_in_id, redirect_uri, \
             redirect_uri_sent, scopes, nonce, code_challenge, auth_time, created_at, \
             expires_at, consumed_at, session_id, ip, user_agent) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.hash)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.sign_in_id)
        .bind(&c.redirect_uri)
        .bind(c.redirect_uri_sent)
        .bind(to_json_list(&c.scopes)?)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(c.auth_time)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.consumed_at)
        .bind(&c.session_id)
        .bind(&c.ip)
        .bind(&c.user_agent)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn auth_code_get(&self, hash: &[u8]) -> StoreResult<Option<AuthCode>> {
        const OP: &str = "auth_code_get";
        let row: Option<AuthCodeRow> = sqlx::query_as("SELECT * FROM auth_codes WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn auth_code_redeem(
        &self,
        hash: &[u8],
        at: Timestamp,
        issue: &Issuance,
    ) -> StoreResult<bool> {
        const OP: &str = "auth_code_redeem";
        let session_id = issue.session.as_ref().map(|s| s.id.as_str());
        let mut tx = self.write(OP).await?;
        let spent: Option<Vec<u8>> = sqlx::query_scalar(
            "UPDATE auth_codes SET consumed_at = ?, session_id = ? \
             WHERE hash = ? AND consumed_at IS NULL AND expires_at > ? RETURNING hash",
        )
        .bind(at)
        .bind(session_id)
        .bind(hash)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;
        if spent.is_none() {
            rollback(tx, OP).await;
            return Ok(false);
        }
        insert_issuance(&mut tx, OP, issue).await?;
        self.commit(tx, OP).await?;
        Ok(true)
    }

    // --- refresh tokens ----------------------------------------------------------

    async fn refresh_get(&self, hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row: Option<RefreshTokenRow> =
            sqlx::query_as("SELECT * FROM refresh_tokens WHERE hash = ?")
                .bind(hash)
                .fetch_optional(&self.reader)
                .await
                .map_err(db("refresh_get"))?;
        Ok(row.map(RefreshToken::from))
    }

    async fn refresh_rotate(
        &self,
        old: &[u8],
        at: Timestamp,
        new_refresh: &RefreshToken,
        access: Option<&AccessTokenRecord>,
    ) -> StoreResult<RotateOutcome> {
        const OP: &str = "refresh_rotate";
        let mut tx = self.write(OP).await?;
        let spent: Option<(String, i64)> = sqlx::query_as(
            "UPDATE refresh_tokens SET consumed_at = ? \
             WHERE hash = ? AND consumed_at IS NULL RETURNING session_id, idle_expires_at",
        )
        .bind(at)
        .bind(old)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;

        let Some((session_id, idle_expires_at)) = spent else {
            // Not spendable: tell reuse (which the engine answers by revoking the family)
            // apart from a token we never issued.
            let prev: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT session_id, consumed_at FROM refresh_tokens WHERE hash = ?")
                    .bind(old)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OP))?;
            rollback(tx, OP).await;
            return match prev {
                None => Ok(RotateOutcome::NotFound),
                Some((session_id, Some(consumed_at))) => Ok(RotateOutcome::AlreadyConsumed {
                    session_id,
                    consumed_at,
                }),
                // The UPDATE above would have spent it; only a damaged index gets here.
                Some((_, None)) => Err(error::corrupt(OP, "unconsumed token not updatable")),
            };
        };

        let session = session_in_tx(&mut tx, OP, &session_id).await?;
        let live = idle_expires_at > at && session.as_ref().is_some_and(|s| s.is_live(at));
        let Some(mut session) = session.filter(|_| live) else {
            rollback(tx, OP).await;
            return Ok(RotateOutcome::Dead);
        };
        same_family(OP, new_refresh, &session_id)?;
        insert_refresh(&mut tx, OP, new_refresh).await?;
        // The grace window accepts only the latest spent token: the live token's parent.
        sqlx::query("UPDATE refresh_tokens SET parent_hash = ? WHERE hash = ?")
            .bind(old)
            .bind(&new_refresh.hash)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        if let Some(a) = access {
            insert_access(&mut tx, OP, a).await?;
        }
        touch_session(&mut tx, OP, &session_id, at).await?;
        self.commit(tx, OP).await?;
        session.last_used_at = at;
        Ok(RotateOutcome::Rotated {
            session: Box::new(session),
        })
    }

    /// False (nothing written) when the family is revoked or expired: a grace-window
    /// retry must not resurrect a family revoked in the meantime.
    async fn refresh_reissue(
        &self,
        session_id: &str,
        spent: &[u8],
        at: Timestamp,
        new_refresh: &RefreshToken,
        access: Option<&AccessTokenRecord>,
    ) -> StoreResult<bool> {
        const OP: &str = "refresh_reissue";
        let mut tx = self.write(OP).await?;
        let live = session_in_tx(&mut tx, OP, session_id)
            .await?
            .is_some_and(|s| s.is_live(at));
        if !live {
            rollback(tx, OP).await;
            return Ok(false);
        }
        same_family(OP, new_refresh, session_id)?;
        // Only the latest spent token of the family (the live token's parent) may be
        // retried; an older one is reuse.
        let latest: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE session_id = ? AND consumed_at IS NULL AND parent_hash = ?")
            .bind(session_id)
            .bind(spent)
            .fetch_one(&mut *tx)
            .await
            .map_err(db(OP))?;
        if latest == 0 {
            rollback(tx, OP).await;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE refresh_tokens SET consumed_at = ? WHERE session_id = ? AND consumed_at IS NULL",
        )
        .bind(at)
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_refresh(&mut tx, OP, new_refresh).await?;
        sqlx::query("UPDATE refresh_tokens SET parent_hash = ? WHERE hash = ?")
            .bind(spent)
            .bind(&new_refresh.hash)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        if let Some(a) = access {
            insert_access(&mut tx, OP, a).await?;
        }
        touch_session(&mut tx, OP, session_id, at).await?;
        self.commit(tx, OP).await?;
        Ok(true)
    }

    // --- device codes (RFC 8628) -------------------------------------------------

    async fn device_insert(&self, dc: &DeviceCode) -> StoreResult<()> {
        const OP: &str = "device_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO device_codes (hash, user_code_hash, client_id, scopes, status, user_id, \
             sign_in_id, auth_time, poll_interval, last_polled_at, created_at, expires_at, \
             session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&dc.hash)
        .bind(&dc.user_code_hash)
        .bind(&dc.client_id)
        .bind(to_json_list(&dc.scopes)?)
        .bind(dc.status.as_str())
        .bind(&dc.user_id)
        .bind(&dc.sign_in_id)
        .bind(dc.auth_time)
        .bind(dc.interval)
        .bind(dc.last_polled_at)
        .bind(dc.created_at)
        .bind(dc.expires_at)
        .bind(&dc.session_id)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn device_get(&self, hash: &[u8]) -> StoreResult<Option<DeviceCode>> {
        const OP: &str = "device_get";
        let row: Option<DeviceCodeRow> =
            sqlx::query_as("SELECT * FROM device_codes WHERE hash = ?")
                .bind(hash)
                .fetch_optional(&self.reader)
                .await
                .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn device_by_user_code(&self, user_code_hash: &[u8]) -> StoreResult<Option<DeviceCode>> {
        const OP: &str = "device_by_user_code";
        let row: Option<DeviceCodeRow> =
            sqlx::query_as("SELECT * FROM device_codes WHERE user_code_hash = ?")
                .bind(user_code_hash)
                .fetch_optional(&self.reader)
                .await
                .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn device_touch(&self, hash: &[u8], at: Timestamp, interval: i64) -> StoreResult<()> {
        const OP: &str = "device_touch";
        let mut tx = self.write(OP).await?;
        sqlx::query("UPDATE device_codes SET last_polled_at = ?, poll_interval = ? WHERE hash = ?")
            .bind(at)
            .bind(interval)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn device_decide(
        &self,
        user_code_hash: &[u8],
        approve: bool,
        user_id: &str,
        sign_in_id: Option<&str>,
        auth_time: Timestamp,
        at: Timestamp,
    ) -> StoreResult<bool> {
        const OP: &str = "device_decide";
        let status = if approve {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "UPDATE device_codes SET status = ?, user_id = ?, sign_in_id = ?, auth_time = ? \
             WHERE user_code_hash = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(status.as_str())
        .bind(user_id)
        .bind(sign_in_id)
        .bind(auth_time)
        .bind(user_code_hash)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn device_redeem(
        &self,
        hash: &[u8],
        at: Timestamp,
        issue: &Issuance,
    ) -> StoreResult<bool> {
        const OP: &str = "device_redeem";
        let session_id = issue.session.as_ref().map(|s| s.id.as_str());
        let mut tx = self.write(OP).await?;
        let spent: Option<Vec<u8>> = sqlx::query_scalar(
            "UPDATE device_codes SET status = 'consumed', session_id = ? \
             WHERE hash = ? AND status = 'approved' AND expires_at > ? RETURNING hash",
        )
        .bind(session_id)
        .bind(hash)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;
        if spent.is_none() {
            rollback(tx, OP).await;
            return Ok(false);
        }
        insert_issuance(&mut tx, OP, issue).await?;
        self.commit(tx, OP).await?;
        Ok(true)
    }

    // --- sessions and revocation -------------------------------------------------

    async fn session_get(&self, id: &str) -> StoreResult<Option<Session>> {
        const OP: &str = "session_get";
        let row: Option<SessionRow> = sqlx::query_as("SELECT * FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db(OP))?;
        row.map(|r| conv(OP, r)).transpose()
    }

    async fn sessions_list(
        &self,
        filter: &SessionFilter,
        at: Timestamp,
    ) -> StoreResult<Vec<SessionInfo>> {
        const OP: &str = "sessions_list";
        // A prefix's match count, probed up to DENSE_IP_PREFIX through the IP index
        // (cheap: it stops there), decides which index serves the page. Only for the
        // states most sessions are in: walking the list order for a rare state (revoked,
        // expired) would skip most of the table (measured: 28 ms → 1.2 s for revoked).
        let common_state = matches!(
            filter.state,
            SessionStateFilter::Active | SessionStateFilter::Any
        );
        let ip_index = match filter.ip.as_deref().and_then(ip_prefix_range) {
            Some((low, high)) if common_state => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM sessions WHERE ip >= ? AND ip < ? LIMIT ?)",
                )
                .bind(low)
                .bind(high)
                .bind(DENSE_IP_PREFIX)
                .fetch_one(&self.reader)
                .await
                .map_err(db(OP))?;
                n < DENSE_IP_PREFIX
            }
            _ => true,
        };
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT s.*, u.username AS username, c.name AS client_name, \
             (SELECT COUNT(*) FROM access_tokens a \
              WHERE a.session_id = s.id AND a.expires_at > ",
        );
        qb.push_bind(at);
        qb.push(
            ") AS live_access_tokens, \
             CASE WHEN s.revoked_at IS NULL AND s.expires_at > ",
        );
        qb.push_bind(at);
        qb.push(
            " THEN (SELECT COUNT(*) FROM refresh_tokens r \
              WHERE r.session_id = s.id AND r.consumed_at IS NULL AND r.idle_expires_at > ",
        );
        qb.push_bind(at);
        qb.push(
            ") ELSE 0 END AS live_refresh_tokens \
             FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN clients c ON c.id = s.client_id \
             WHERE 1 = 1",
        );
        push_session_filter_with(&mut qb, filter, ip_index);
        push_session_state(&mut qb, filter.state, at);
        let (col, dir, cmp) = match (filter.sort, filter.ascending) {
            (SessionSort::CreatedAt, false) => ("s.created_at", "DESC", "<"),
            (SessionSort::CreatedAt, true) => ("s.created_at", "ASC", ">"),
            (SessionSort::LastUsedAt, false) => ("s.last_used_at", "DESC", "<"),
            (SessionSort::LastUsedAt, true) => ("s.last_used_at", "ASC", ">"),
        };
        if let Some(c) = &filter.after {
            // Keyset pagination: a row value comparison the index can seek to.
            qb.push(format!(" AND ({col}, s.id) {cmp} ("))
                .push_bind(c.key)
                .push(", ")
                .push_bind(&c.id)
                .push(")");
        }
        qb.push(format!(" ORDER BY {col} {dir}, s.id {dir} LIMIT "))
            .push_bind(limit(filter.limit));
        let rows: Vec<SessionInfoRow> = qb
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db(OP))?;
        rows.into_iter()
            .map(|r| {
                Ok(SessionInfo {
                    session: conv(OP, r.session)?,
                    username: r.username,
                    client_name: r.client_name,
                    live_access_tokens: r.live_access_tokens,
                    live_refresh_tokens: r.live_refresh_tokens,
                })
            })
            .collect()
    }

    /// An unknown or already-dead session is not an error (RFC 7009 revocation of a
    /// dead token succeeds); the audit event, if any, is written either way because it
    /// records the request. A session that expired but was never revoked is marked
    /// revoked too, so the console shows why it ended.
    async fn session_revoke(
        &self,
        id: &str,
        reason: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<bool> {
        const OP: &str = "session_revoke";
        let mut tx = self.write(OP).await?;
        let expires_at: Option<i64> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND revoked_at IS NULL RETURNING expires_at",
        )
        .bind(at)
        .bind(reason)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_audit_opt(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await?;
        Ok(expires_at.is_some_and(|e| e > at))
    }

    /// `NotFound` for an unknown user: a count of 0 would otherwise hide a typo.
    async fn sessions_revoke_user(
        &self,
        user_id: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<RevokeImpact> {
        const OP: &str = "sessions_revoke_user";
        let mut tx = self.write(OP).await?;
        must_exist(&mut tx, OP, "SELECT 1 FROM users WHERE id = ?", user_id).await?;
        let filter = SessionFilter {
            user_id: Some(user_id.to_string()),
            ..SessionFilter::default()
        };
        let impact = session_impact(&mut tx, OP, &filter, at).await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(at)
        .bind(REASON_USER)
        .bind(user_id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        // Ending the sign-ins makes the next authorization ask for the password again,
        // instead of minting a fresh session from the still-valid SSO cookie.
        sqlx::query("UPDATE sign_ins SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL")
            .bind(at)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        insert_audit_opt(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await?;
        Ok(impact)
    }

    /// `NotFound` for an unknown client. The watermark never moves backwards.
    async fn sessions_revoke_client(
        &self,
        client_id: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<RevokeImpact> {
        const OP: &str = "sessions_revoke_client";
        let mut tx = self.write(OP).await?;
        let moved = sqlx::query(
            "UPDATE clients SET tokens_valid_after = \
             CASE WHEN tokens_valid_after > ? THEN tokens_valid_after ELSE ? END WHERE id = ?",
        )
        .bind(at)
        .bind(at)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        affected(moved.rows_affected())?;
        let filter = SessionFilter {
            client_id: Some(client_id.to_string()),
            ..SessionFilter::default()
        };
        let impact = session_impact(&mut tx, OP, &filter, at).await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(at)
        .bind(REASON_CLIENT)
        .bind(client_id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_audit_opt(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await?;
        Ok(impact)
    }

    async fn sessions_impact(
        &self,
        filter: &SessionFilter,
        at: Timestamp,
    ) -> StoreResult<RevokeImpact> {
        const OP: &str = "sessions_impact";
        let mut conn = self.reader.acquire().await.map_err(db(OP))?;
        session_impact(&mut conn, OP, filter, at).await
    }

    async fn sessions_revoke_matching(
        &self,
        filter: &SessionFilter,
        reason: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<RevokeImpact> {
        const OP: &str = "sessions_revoke_matching";
        let mut tx = self.write(OP).await?;
        let impact = session_impact(&mut tx, OP, filter, at).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE sessions SET revoked_at = ");
        qb.push_bind(at)
            .push(", revoked_reason = ")
            .push_bind(reason)
            .push(" WHERE id IN (SELECT s.id FROM sessions s WHERE 1 = 1");
        push_session_filter(&mut qb, filter);
        push_session_state(&mut qb, SessionStateFilter::Active, at);
        qb.push(")");
        qb.build().execute(&mut *tx).await.map_err(db(OP))?;
        let mut ev = audit.clone();
        if ev.after.is_none() {
            ev.after = Some(impact.to_json());
        }
        insert_audit(&mut tx, OP, &ev).await?;
        self.commit(tx, OP).await?;
        Ok(impact)
    }

    /// Revoking twice keeps the later expiry, so the entry outlives every copy.
    async fn access_token_revoke(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        const OP: &str = "access_token_revoke";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES (?, ?) \
             ON CONFLICT (jti) DO UPDATE SET expires_at = \
             CASE WHEN revoked_jtis.expires_at > excluded.expires_at \
             THEN revoked_jtis.expires_at ELSE excluded.expires_at END",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    async fn access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let hit: Option<i64> = sqlx::query_scalar("SELECT 1 FROM revoked_jtis WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("access_token_revoked"))?;
        Ok(hit.is_some())
    }

    /// First use wins through the primary key; an entry stays until `purge_expired`
    /// removes it after `expires_at`, by which time the JWT it guards is expired too.
    async fn jti_use(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool> {
        const OP: &str = "jti_use";
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "INSERT INTO used_jtis (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await?;
        Ok(done.rows_affected() == 1)
    }

    // --- audit -------------------------------------------------------------------

    async fn audit_insert(&self, event: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "audit_insert";
        let mut tx = self.write(OP).await?;
        insert_audit(&mut tx, OP, event).await?;
        self.commit(tx, OP).await
    }

    /// Newest first (by id); `before_id` pages backwards.
    async fn audit_list(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        const OP: &str = "audit_list";
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT * FROM audit_events WHERE 1 = 1");
        if let Some(actor) = &filter.actor {
            qb.push(" AND actor = ").push_bind(actor);
        }
        if let Some(prefix) = &filter.action_prefix {
            // substr, not LIKE: SQLite's LIKE ignores ASCII case and treats `_` and `%`
            // as wildcards, and action names contain underscores.
            let len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
            qb.push(" AND substr(action, 1, ")
                .push_bind(len)
                .push(") = ")
                .push_bind(prefix);
        }
        if let Some(target) = &filter.target {
            qb.push(" AND target = ").push_bind(target);
        }
        if filter.security_only {
            qb.push(" AND security = 1");
        }
        if let Some(since) = filter.since {
            qb.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            qb.push(" AND at < ").push_bind(until);
        }
        if let Some(after_id) = filter.after_id {
            qb.push(" AND id > ").push_bind(after_id);
            qb.push(" ORDER BY id ASC LIMIT ");
        } else {
            if let Some(before_id) = filter.before_id {
                qb.push(" AND id < ").push_bind(before_id);
            }
            qb.push(" ORDER BY id DESC LIMIT ");
        }
        qb.push_bind(limit(filter.limit));
        let rows: Vec<AuditEventRow> = qb
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db(OP))?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    // --- admin API keys ----------------------------------------------------------

    async fn api_key_insert(&self, key: &ApiKey, audit: &NewAuditEvent) -> StoreResult<()> {
        const OP: &str = "api_key_insert";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, hash, read_only, created_at, created_by, \
             expires_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.hash)
        .bind(key.read_only)
        .bind(key.created_at)
        .bind(&key.created_by)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .bind(key.last_used_at)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await
    }

    async fn api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("api_key_by_hash"))?;
        Ok(row.map(ApiKey::from))
    }

    async fn api_keys_list(&self) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> =
            sqlx::query_as("SELECT * FROM api_keys ORDER BY created_at DESC, id")
                .fetch_all(&self.reader)
                .await
                .map_err(db("api_keys_list"))?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn api_key_revoke(
        &self,
        id: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        const OP: &str = "api_key_revoke";
        let mut tx = self.write(OP).await?;
        must_exist(&mut tx, OP, "SELECT 1 FROM api_keys WHERE id = ?", id).await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?;
        insert_audit(&mut tx, OP, audit).await?;
        self.commit(tx, OP).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn api_key_touch(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        const OP: &str = "api_key_touch";
        let mut tx = self.write(OP).await?;
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    // --- statistics ----------------------------------------------------------------

    async fn stats_record(&self, counts: &[TokenCount]) -> StoreResult<()> {
        const OP: &str = "stats_record";
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.write(OP).await?;
        for c in counts {
            sqlx::query(
                "INSERT INTO token_stats (minute, grant_type, client_id, count) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (minute, grant_type, client_id) \
                 DO UPDATE SET count = count + excluded.count",
            )
            .bind(c.minute)
            .bind(&c.grant)
            .bind(&c.client_id)
            .bind(c.count)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        self.commit(tx, OP).await
    }

    async fn stats(&self, since: Timestamp, at: Timestamp) -> StoreResult<StoreStats> {
        const OP: &str = "stats";
        let mut conn = self.reader.acquire().await.map_err(db(OP))?;
        let tokens: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT minute, grant_type, client_id, count FROM token_stats \
             WHERE minute >= ? ORDER BY minute, grant_type, client_id",
        )
        .bind(since - since.rem_euclid(60))
        .fetch_all(&mut *conn)
        .await
        .map_err(db(OP))?;
        let active_sessions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?",
        )
        .bind(at)
        .fetch_one(&mut *conn)
        .await
        .map_err(db(OP))?;
        let clients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
            .fetch_one(&mut *conn)
            .await
            .map_err(db(OP))?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *conn)
            .await
            .map_err(db(OP))?;
        let security_events: Vec<(String, i64)> = sqlx::query_as(
            "SELECT action, COUNT(*) FROM audit_events WHERE security = 1 AND at >= ? \
             GROUP BY action ORDER BY action",
        )
        .bind(since)
        .fetch_all(&mut *conn)
        .await
        .map_err(db(OP))?;
        Ok(StoreStats {
            tokens: tokens
                .into_iter()
                .map(|(minute, grant, client_id, count)| TokenCount {
                    minute,
                    grant,
                    client_id,
                    count,
                })
                .collect(),
            active_sessions,
            clients,
            users,
            security_events,
        })
    }

    // --- runtime settings ----------------------------------------------------------

    async fn settings_get(&self) -> StoreResult<StoredSettings> {
        const OP: &str = "settings_get";
        let row: SettingsRow =
            sqlx::query_as("SELECT overrides, version, updated_at FROM settings WHERE id = 1")
                .fetch_one(&self.reader)
                .await
                .map_err(db(OP))?;
        conv(OP, row)
    }

    /// The version check is part of the `UPDATE`, so of two writers that read the same
    /// version exactly one succeeds.
    async fn settings_put(
        &self,
        values: &BTreeMap<String, i64>,
        expected_version: i64,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        const OP: &str = "settings_put";
        let text = serde_json::to_string(values)
            .map_err(|e| StoreError::Other(format!("{OP}: encoding the settings: {e}")))?;
        let mut tx = self.write(OP).await?;
        let done = sqlx::query(
            "UPDATE settings SET overrides = ?, version = version + 1, updated_at = ? WHERE id = 1 AND version = ?",
        )
        .bind(text)
        .bind(at)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        if done.rows_affected() == 0 {
            rollback(tx, OP).await;
            return Ok(false);
        }
        insert_audit(&mut tx, OP, audit).await?;
        // The commit moves this process's marker, and the file's size and mtime move
        // every other process's.
        self.commit(tx, OP).await?;
        Ok(true)
    }

    // --- housekeeping ------------------------------------------------------------

    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("meta_get"))
    }

    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()> {
        const OP: &str = "meta_set";
        let mut tx = self.write(OP).await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        self.commit(tx, OP).await
    }

    /// One short transaction per table rather than one long one, so a large purge does
    /// not hold the write lock against token issuance. Sessions and sign-ins are kept
    /// (the console's history); every refresh token of a dead family goes, while spent
    /// tokens of live families stay because reuse detection needs them.
    async fn purge_expired(&self, at: Timestamp) -> StoreResult<u64> {
        const OP: &str = "purge_expired";
        const PURGES: &[&str] = &[
            "DELETE FROM auth_codes WHERE expires_at <= ?",
            "DELETE FROM device_codes WHERE expires_at <= ?",
            "DELETE FROM auth_requests WHERE expires_at <= ?",
            "DELETE FROM refresh_tokens WHERE session_id IN \
             (SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= ?)",
            "DELETE FROM revoked_jtis WHERE expires_at <= ?",
            "DELETE FROM used_jtis WHERE expires_at <= ?",
            "DELETE FROM access_tokens WHERE expires_at <= ?",
        ];
        let mut removed = 0;
        for sql in PURGES {
            let mut tx = self.write(OP).await?;
            let done = sqlx::query(sql)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?;
            self.commit(tx, OP).await?;
            removed += done.rows_affected();
        }
        Ok(removed)
    }
}
