//! The storage contract, one narrow trait per noun (clients, scopes, users, keys,
//! sessions and tokens, audit, settings, API keys, and the store's coordination with
//! other processes), as fosite splits its storage. [`Store`] is their union: backends
//! (SQLite, PostgreSQL) implement the narrow traits and get `Store` from the blanket
//! impl; `store_suite` is the one behaviour test suite every backend runs.
//!
//! Everything that must be atomic is one trait method, so each backend can make it one
//! transaction: redeeming a code and issuing its tokens, rotating a refresh token,
//! consuming a device code, and every admin mutation together with its audit event.

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::model::*;
use std::collections::BTreeMap;

pub type StoreResult<T> = Result<T, StoreError>;

/// The rows a successful grant writes, all in the transaction that consumes the grant.
#[derive(Debug, Clone, Default)]
pub struct Issuance {
    /// A new session (authorization code and device code grants).
    pub session: Option<Session>,
    pub refresh: Option<RefreshToken>,
    pub access: Option<AccessTokenRecord>,
    /// The activity event for a new session (`session.create`), written with it so the
    /// live event feed and the audit log never miss or invent one.
    pub event: Option<NewAuditEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was live and is now consumed; the new rows are written.
    Rotated {
        session: Box<Session>,
    },
    /// The token was already spent at `consumed_at` (reuse, or a retry within grace).
    AlreadyConsumed {
        session_id: String,
        consumed_at: Timestamp,
    },
    /// The family is revoked or expired, or the token's idle time ran out.
    Dead,
    NotFound,
}

/// A change of one key's state, applied with its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUpdate {
    pub kid: String,
    pub state: KeyState,
    pub at: Timestamp,
}

/// A session with the counts an administrator needs before revoking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session: Session,
    pub username: String,
    pub client_name: String,
    pub live_access_tokens: i64,
    pub live_refresh_tokens: i64,
    /// Its browser sign-in was judged unfamiliar (detection 4).
    pub unfamiliar: bool,
}

/// A pending authorization request, held server-side between the authorize call and
/// the consent decision so the consent form cannot be forged or replayed (AZ-20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub id: String,
    /// The validated request, JSON.
    pub params: String,
    pub sign_in_id: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
}

/// A pushed authorization request (RFC 9126 §2): the parameters a client sent to the
/// PAR endpoint, found again by the hash of its `request_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequest {
    /// SHA-256 of the random part of the `request_uri`.
    pub hash: Vec<u8>,
    pub client_id: String,
    /// The pushed form, a JSON object of name → value, as sent.
    pub params: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
}

/// What a store is among processes and nodes: its change marker and the election of
/// the node that runs the cluster-wide jobs. Each backend answers these its own way.
#[async_trait::async_trait]
pub trait Coordination: Send + Sync {
    /// A cheap value (no I/O) that changes whenever the stored data may have changed,
    /// from this process or any other. It may move on every commit (SQLite) or only on
    /// the changes the read caches depend on (PostgreSQL's `publish` writes); pollers of
    /// append-only data (the audit stream) therefore still poll now and then when it
    /// stands still. `None`: no such value.
    fn change_marker(&self) -> Option<u64> {
        None
    }

    /// What the engine's read caches are checked against (a read is reused only while
    /// this is unchanged, and never longer than a second): it must move, in this
    /// process at once and in the others on their next look, with every commit that
    /// changes what they hold — clients, secrets, scopes, users, keys, sessions,
    /// revocations, settings, API keys, exchange policies (the store's `publish`
    /// writes) — and should not move for a grant's bookkeeping (access-token records,
    /// exchange lineage, audit rows), which would empty the caches on every token a
    /// writing grant issues. May read one row. `None`: nothing is cached. By default
    /// the change marker, which moves at least as often.
    async fn cache_marker(&self) -> Option<u64> {
        self.change_marker()
    }

    /// Whether this process should run the cluster-wide jobs (scheduled key rotation,
    /// purge of expired rows) now. A store shared by several server nodes elects one
    /// at a time (PostgreSQL: an advisory lock held on a connection of its own, so a
    /// dead node hands over); a store used by one server always says yes.
    async fn lead_jobs(&self) -> StoreResult<bool> {
        Ok(true)
    }
}

/// Clients and their secrets.
#[async_trait::async_trait]
pub trait ClientStore: Send + Sync {
    // --- clients -----------------------------------------------------------------
    async fn client_get(&self, id: &str) -> StoreResult<Option<Client>>;
    async fn clients_list(&self) -> StoreResult<Vec<Client>>;
    /// Inserts the client with its first secret (if any) and the audit event.
    async fn client_insert(
        &self,
        client: &Client,
        secret: Option<&ClientSecret>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    async fn client_update(&self, client: &Client, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes the client and everything that hangs off it (secrets, codes, sessions,
    /// refresh tokens, access-token records, consents).
    async fn client_delete(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<()>;
    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>>;
    /// Adds a secret; every other secret of the client that is still valid gets
    /// `expires_at = old_expire_at` (the rotation overlap).
    async fn client_secret_add(
        &self,
        secret: &ClientSecret,
        old_expire_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
}

/// The scopes clients may ask for.
#[async_trait::async_trait]
pub trait ScopeStore: Send + Sync {
    // --- scopes ------------------------------------------------------------------
    async fn scope_get(&self, name: &str) -> StoreResult<Option<Scope>>;
    async fn scopes_list(&self) -> StoreResult<Vec<Scope>>;
    async fn scope_insert(&self, scope: &Scope, audit: &NewAuditEvent) -> StoreResult<()>;
    async fn scope_delete(&self, name: &str, audit: &NewAuditEvent) -> StoreResult<()>;
}

/// Users, their sign-ins and their consent.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    // --- users -------------------------------------------------------------------
    async fn user_get(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn users_list(&self) -> StoreResult<Vec<User>>;
    async fn user_insert(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()>;
    async fn user_update(&self, user: &User, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes the user with their sessions, sign-ins, consents and pending codes (the
    /// schema cascades), and the audit event, in one transaction. `false`: no such user.
    async fn user_delete(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Every user's last sign-in and live session count, at `at`.
    async fn users_activity(&self, at: Timestamp) -> StoreResult<Vec<UserActivity>>;

    // --- sign-ins and consent ----------------------------------------------------
    async fn sign_in_insert(&self, sign_in: &SignIn) -> StoreResult<()>;
    async fn sign_in_get(&self, id: &str) -> StoreResult<Option<SignIn>>;
    async fn sign_in_end(&self, id: &str, at: Timestamp) -> StoreResult<()>;
    async fn consent_get(&self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>>;
    async fn consent_put(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        at: Timestamp,
    ) -> StoreResult<()>;
}

/// Signing keys.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    // --- signing keys ------------------------------------------------------------
    async fn keys_list(&self) -> StoreResult<Vec<SigningKey>>;
    /// Applies state changes and inserts a new key in one transaction. Refuses
    /// (`Conflict`, nothing written) to leave two `active` or two `next` keys for one
    /// algorithm: the caller planned on a key set another process has changed since.
    async fn keys_apply(
        &self,
        updates: &[KeyUpdate],
        insert: Option<&SigningKey>,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()>;
}

/// Sessions and everything that is spent once or revoked: authorization requests and
/// codes, refresh tokens, device codes, the access-token denylist and the replay store.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    // --- authorization requests --------------------------------------------------
    async fn auth_request_insert(&self, req: &AuthRequest) -> StoreResult<()>;
    async fn auth_request_get(&self, id: &str) -> StoreResult<Option<AuthRequest>>;
    /// Marks it consumed if it was not yet and has not expired; false otherwise.
    async fn auth_request_consume(&self, id: &str, at: Timestamp) -> StoreResult<bool>;

    // --- authorization codes -----------------------------------------------------
    async fn auth_code_insert(&self, code: &AuthCode) -> StoreResult<()>;
    async fn auth_code_get(&self, hash: &[u8]) -> StoreResult<Option<AuthCode>>;
    /// One conditional `UPDATE … RETURNING` (unconsumed, unexpired) in the transaction
    /// that writes `issue`. False when the code was already consumed or expired; then
    /// nothing is written.
    async fn auth_code_redeem(
        &self,
        hash: &[u8],
        at: Timestamp,
        issue: &Issuance,
    ) -> StoreResult<bool>;

    // --- refresh tokens ----------------------------------------------------------
    async fn refresh_get(&self, hash: &[u8]) -> StoreResult<Option<RefreshToken>>;
    /// Consumes `old` if unconsumed, its session live and its idle time not passed, and
    /// writes `new_refresh` + `access` and touches the session, in one transaction.
    async fn refresh_rotate(
        &self,
        old: &[u8],
        at: Timestamp,
        new_refresh: &RefreshToken,
        access: Option<&AccessTokenRecord>,
    ) -> StoreResult<RotateOutcome>;
    /// Grace-window retry of the spent token `spent`: consumes every unconsumed token
    /// of the family and writes a fresh pair, keeping at most one live refresh token per
    /// family. False (nothing written) when the family has ended or `spent` is not the
    /// latest spent token (the parent of the family's live token).
    async fn refresh_reissue(
        &self,
        session_id: &str,
        spent: &[u8],
        at: Timestamp,
        new_refresh: &RefreshToken,
        access: Option<&AccessTokenRecord>,
    ) -> StoreResult<bool>;

    // --- device codes (RFC 8628) -------------------------------------------------
    async fn device_insert(&self, dc: &DeviceCode) -> StoreResult<()>;
    async fn device_get(&self, hash: &[u8]) -> StoreResult<Option<DeviceCode>>;
    async fn device_by_user_code(&self, user_code_hash: &[u8]) -> StoreResult<Option<DeviceCode>>;
    /// Records a poll (and a possibly widened interval).
    async fn device_touch(&self, hash: &[u8], at: Timestamp, interval: i64) -> StoreResult<()>;
    /// Approves or denies a pending, unexpired code; false if it was not pending.
    async fn device_decide(
        &self,
        user_code_hash: &[u8],
        approve: bool,
        user_id: &str,
        sign_in_id: Option<&str>,
        auth_time: Timestamp,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// approved → consumed atomically, writing `issue`; false if not approved/expired.
    async fn device_redeem(
        &self,
        hash: &[u8],
        at: Timestamp,
        issue: &Issuance,
    ) -> StoreResult<bool>;

    // --- sessions and revocation -------------------------------------------------
    async fn session_get(&self, id: &str) -> StoreResult<Option<Session>>;
    async fn sessions_list(
        &self,
        filter: &SessionFilter,
        at: Timestamp,
    ) -> StoreResult<Vec<SessionInfo>>;
    /// Revokes one session (its refresh family dies with it). Returns whether it was
    /// live before.
    async fn session_revoke(
        &self,
        id: &str,
        reason: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<bool>;
    /// Revokes every live session of a user and ends their sign-ins. Returns what it
    /// cut off, counted in the same transaction.
    async fn sessions_revoke_user(
        &self,
        user_id: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<RevokeImpact>;
    /// Revokes every live session of a client and moves its `tokens_valid_after`.
    /// Returns what it cut off among sessions, counted in the same transaction.
    async fn sessions_revoke_client(
        &self,
        client_id: &str,
        at: Timestamp,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<RevokeImpact>;
    /// Counts what revoking the live sessions matching `filter` would cut off (the
    /// dry run the console shows before anyone confirms). `filter.state`, sort, cursor
    /// and limit are ignored: a revoke always covers every live match.
    async fn sessions_impact(
        &self,
        filter: &SessionFilter,
        at: Timestamp,
    ) -> StoreResult<RevokeImpact>;
    /// Revokes every live session matching `filter` (as counted by `sessions_impact`, in
    /// the same transaction), with one audit event for the whole operation.
    async fn sessions_revoke_matching(
        &self,
        filter: &SessionFilter,
        reason: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<RevokeImpact>;
    /// Denylists one access token by `jti` until its expiry (RFC 7009 for JWT ATs),
    /// with every token exchanged from it, directly or down a chain (RFC 8693 lineage).
    async fn access_token_revoke(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()>;
    async fn access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Replay store for one-time JWT ids (client assertions, later DPoP proofs): records
    /// `key` until `expires_at` and returns true, or returns false if it was already
    /// recorded. Atomic (a unique key), so two concurrent uses cannot both succeed.
    async fn jti_use(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool>;

    // --- housekeeping ------------------------------------------------------------
    /// Deletes expired codes, device codes, auth requests, spent refresh tokens of dead
    /// families, expired denylist entries and access-token records. Returns rows removed.
    async fn purge_expired(&self, at: Timestamp) -> StoreResult<u64>;
    /// Retention: deletes up to `limit` sessions that were revoked or expired at or
    /// before `before` (with their refresh tokens and access-token records), in one
    /// short transaction. Live sessions are never touched. Returns rows removed; fewer
    /// than `limit` means none is left.
    async fn sessions_purge_ended(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
    /// Retention: deletes up to `limit` sign-ins that ended or expired at or before
    /// `before`, in one short transaction.
    async fn sign_ins_purge_ended(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// The audit log and the issuance statistics (the console's events and dashboard).
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    // --- audit -------------------------------------------------------------------
    async fn audit_insert(&self, event: &NewAuditEvent) -> StoreResult<()>;
    /// Retention: deletes up to `limit` audit events (and per-minute issuance counts)
    /// from at or before `before`, in one short transaction. Returns rows removed.
    async fn audit_purge_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
    async fn audit_list(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;

    // --- statistics ----------------------------------------------------------------
    /// Adds issuance counts (one node's counters since its last flush) to the
    /// per-minute totals.
    async fn stats_record(&self, counts: &[TokenCount]) -> StoreResult<()>;
    /// Issuance since `since`, live-session, client and user counts at `at`, and
    /// security events since `since`.
    async fn stats(&self, since: Timestamp, at: Timestamp) -> StoreResult<StoreStats>;
    /// One client's token activity at `at`: unexpired access tokens on record outside
    /// any session, tokens issued since `since` and the last issuance (from
    /// the issuance counts, every grant, to the minute, and the access-token records).
    async fn client_activity(
        &self,
        client_id: &str,
        since: Timestamp,
        at: Timestamp,
    ) -> StoreResult<ClientActivity>;
}

/// The runtime settings and the store's own key-value metadata.
#[async_trait::async_trait]
pub trait SettingsStore: Send + Sync {
    // --- runtime settings ----------------------------------------------------------
    /// The admin-set settings, by name (none, version 0, until the first write).
    async fn settings_get(&self) -> StoreResult<StoredSettings>;
    /// Replaces the admin-set settings with `values` and writes `audit`, in one
    /// transaction, if the stored version is still `expected_version`; otherwise writes
    /// nothing and returns false (another administrator changed them since the caller
    /// read them). Like every change the read caches depend on, it moves the change
    /// marker of every process and node.
    async fn settings_put(
        &self,
        values: &BTreeMap<String, i64>,
        expected_version: i64,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;

    // --- metadata ----------------------------------------------------------------
    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>>;
    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// Admin API keys.
#[async_trait::async_trait]
pub trait ApiKeyStore: Send + Sync {
    // --- admin API keys ----------------------------------------------------------
    async fn api_key_insert(&self, key: &ApiKey, audit: &NewAuditEvent) -> StoreResult<()>;
    async fn api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<ApiKey>>;
    async fn api_keys_list(&self) -> StoreResult<Vec<ApiKey>>;
    /// Returns whether the key existed and was not yet revoked.
    async fn api_key_revoke(
        &self,
        id: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// Records a use (callers throttle this; it is informational).
    async fn api_key_touch(&self, id: &str, at: Timestamp) -> StoreResult<()>;
}

/// Token exchange (RFC 8693): the administrators' policies and the lineage of every
/// exchanged token.
#[async_trait::async_trait]
pub trait ExchangeStore: Send + Sync {
    async fn exchange_policies_list(&self) -> StoreResult<Vec<ExchangePolicy>>;
    async fn exchange_policy_get(&self, id: &str) -> StoreResult<Option<ExchangePolicy>>;
    async fn exchange_policy_insert(
        &self,
        policy: &ExchangePolicy,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// `NotFound` if there is no such policy.
    async fn exchange_policy_update(
        &self,
        policy: &ExchangePolicy,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// `NotFound` if there is no such policy.
    async fn exchange_policy_delete(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Records an exchange in one transaction: the lineage row, the access-token record
    /// (counted in its session like any other), the derived refresh family when a policy
    /// allowed one (its session, its first refresh token and its `session.create` event)
    /// and the audit event. Returns false and writes nothing when the parent token was
    /// denylisted meanwhile, so a revocation that races the exchange cannot leave a
    /// child alive.
    async fn exchange_record(
        &self,
        lineage: &ExchangeLineage,
        access: Option<&AccessTokenRecord>,
        family: Option<&Issuance>,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// The lineage of one exchanged token, if it is one.
    async fn exchange_lineage(&self, jti: &str) -> StoreResult<Option<ExchangeLineage>>;
}

/// Anomaly monitoring: findings and address blocks (issue 14).
#[async_trait::async_trait]
pub trait MonitorStore: Send + Sync {
    // --- findings ------------------------------------------------------------------
    /// Raises `f` unless it is already raised: an open finding of the same rule and
    /// subject seen within `merge_after` (≥ that timestamp), or one with the same
    /// `dedup_key` (another node's insert of the same episode), is updated instead
    /// (its `last_seen` and `count` grow) and false is returned. True: a new row.
    async fn finding_raise(&self, f: &Finding, merge_after: Timestamp) -> StoreResult<bool>;
    async fn findings_list(&self, filter: &FindingFilter) -> StoreResult<Vec<Finding>>;
    async fn finding_get(&self, id: &str) -> StoreResult<Option<Finding>>;
    /// Marks a finding acknowledged (by, at) and writes `audit`, in one transaction.
    /// `NotFound` if there is no such finding; false if it was already acknowledged
    /// (nothing written).
    async fn finding_ack(
        &self,
        id: &str,
        by: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// Deletes findings raised before `before`, and beyond the newest `keep` (rows
    /// raised at the same second as the last kept one may stay): what bounds the table
    /// under a flood. Returns rows removed.
    async fn findings_trim(&self, before: Timestamp, keep: i64) -> StoreResult<u64>;

    // --- blocks --------------------------------------------------------------------
    /// Adds or replaces the block of (`cidr`, `principal`); writes `audit` if given
    /// (automatic blocks are recorded by their finding instead). A replaced block keeps
    /// the later of the two expiries, so a detection cannot shorten a manual block.
    async fn block_put(&self, block: &Block, audit: Option<&NewAuditEvent>) -> StoreResult<()>;
    /// Removes every block of `cidr` (whatever its principal) and writes `audit`;
    /// false (nothing written) if there was none.
    async fn block_remove(&self, cidr: &str, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// The blocks still in force at `at`.
    async fn blocks_list(&self, at: Timestamp) -> StoreResult<Vec<Block>>;

    // --- the history the detections read (3–9) --------------------------------------
    /// Audit events of exactly `action` in each `[from, to)` window, in order.
    async fn audit_action_counts(
        &self,
        action: &str,
        windows: &[(Timestamp, Timestamp)],
    ) -> StoreResult<Vec<i64>>;
    /// Every client that minted in the minute starting at `minute` (all nodes' flushed
    /// counts), with its busiest minute in `[baseline_from, baseline_to)`.
    async fn mint_minutes(
        &self,
        minute: Timestamp,
        baseline_from: Timestamp,
        baseline_to: Timestamp,
    ) -> StoreResult<Vec<crate::monitor::MintMinute>>;
    /// Records that `client_id` minted with this grant type or scope at `at`. `None` if
    /// it had before; otherwise `Some(first)`, when the client first minted anything
    /// (`None` inside: this is its first use of all). Atomic across nodes: of two
    /// concurrent first uses one is new.
    async fn client_use_note(
        &self,
        client_id: &str,
        kind: crate::monitor::UseKind,
        value: &str,
        at: Timestamp,
    ) -> StoreResult<Option<Option<Timestamp>>>;
    /// Client secrets still usable at `at`, oldest first.
    async fn client_secret_ages(
        &self,
        at: Timestamp,
    ) -> StoreResult<Vec<crate::monitor::SecretAge>>;
    /// Where a spent refresh token stands in its family, and who spent it first.
    async fn refresh_reuse_context(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<crate::monitor::ReuseContext>>;
    /// The user's successful sign-ins other than `except`, newest first, at most
    /// `limit`: (address, user agent).
    async fn sign_in_history(
        &self,
        user_id: &str,
        except: &str,
        limit: i64,
    ) -> StoreResult<Vec<(Option<String>, Option<String>)>>;
    /// Marks a sign-in unfamiliar (detection 4).
    async fn sign_in_mark_unfamiliar(&self, id: &str) -> StoreResult<()>;
}

/// Webhooks (issue 14): the endpoints, and the queue of deliveries several nodes share.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts a webhook and writes `audit`, in one transaction.
    async fn webhook_insert(&self, w: &Webhook, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Replaces a webhook's settings (name, url, severities, rules, enabled,
    /// updated_at) and writes `audit`; `NotFound` if there is none.
    async fn webhook_update(&self, w: &Webhook, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a webhook with its deliveries and writes `audit`; false (nothing
    /// written) if there was none.
    async fn webhook_delete(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Every webhook with its pending count, oldest first.
    async fn webhooks_list(&self) -> StoreResult<Vec<Webhook>>;
    async fn webhook_get(&self, id: &str) -> StoreResult<Option<Webhook>>;
    /// Findings raised at or after `from`, oldest first, at most `limit`.
    async fn findings_since(&self, from: Timestamp, limit: i64) -> StoreResult<Vec<Finding>>;
    /// Queues deliveries (a delivery of the same webhook and finding already queued,
    /// by this node or another, is left alone: `ON CONFLICT DO NOTHING`) and moves the
    /// webhook's cursor forward to `cursor_at`. How many were new.
    async fn webhook_enqueue(
        &self,
        webhook_id: &str,
        deliveries: &[WebhookDelivery],
        cursor_at: Timestamp,
    ) -> StoreResult<u64>;
    /// The webhook's oldest pending delivery (the head of its queue).
    async fn webhook_delivery_head(&self, webhook_id: &str)
        -> StoreResult<Option<WebhookDelivery>>;
    /// Claims a pending delivery for `node` until `until`, if it is due at `now` and no
    /// live claim holds it: one conditional `UPDATE`, so of several nodes one wins.
    async fn webhook_delivery_claim(
        &self,
        id: &str,
        node: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Records an attempt's outcome on the delivery `node` holds, and the webhook's
    /// last success or failure, in one transaction; false if the claim was lost.
    async fn webhook_delivery_finish(
        &self,
        id: &str,
        node: &str,
        outcome: &DeliveryOutcome,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes finished deliveries (delivered or failed) created before `before`.
    async fn webhook_deliveries_trim(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Pushed authorization requests (RFC 9126).
#[async_trait::async_trait]
pub trait ParStore: Send + Sync {
    async fn pushed_request_insert(&self, req: &PushedRequest) -> StoreResult<()>;
    async fn pushed_request_get(&self, hash: &[u8]) -> StoreResult<Option<PushedRequest>>;
    /// Spends the pushed request `hash` (of `client_id`, unspent, not expired at `at`) and
    /// inserts `code` in one transaction: false, and nothing written, if another
    /// request (on this node or another) spent it first (F-12).
    async fn auth_code_insert_pushed(
        &self,
        code: &AuthCode,
        hash: &[u8],
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Spends it without a code (the user denied): false if it was spent already.
    async fn pushed_request_consume(
        &self,
        hash: &[u8],
        client_id: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
}

/// Dynamic client registration (RFC 7591/7592): initial access tokens and the
/// registrations made with them.
#[async_trait::async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Inserts an initial access token and writes `audit`, in one transaction.
    async fn registration_token_insert(
        &self,
        t: &RegistrationToken,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Every initial access token, newest first.
    async fn registration_tokens_list(&self) -> StoreResult<Vec<RegistrationToken>>;
    async fn registration_token_by_hash(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<RegistrationToken>>;
    /// Revokes it at `at` and writes `audit`; false (nothing written) if there is none
    /// or it was revoked already.
    async fn registration_token_revoke(
        &self,
        id: &str,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// Registers a client: spends one use of initial access token `reg.token_id` (live
    /// at `at`: not revoked, not expired, a use left) and inserts the client, its
    /// first secret, the registration row and `audit`, all in one transaction. False,
    /// and nothing written, if the token could not be spent (several registrations
    /// racing for its last use: exactly one wins).
    async fn client_register(
        &self,
        client: &Client,
        secret: Option<&ClientSecret>,
        reg: &ClientRegistration,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// The registration whose registration access token hashes to `rat_hash`.
    async fn client_registration_by_rat(
        &self,
        rat_hash: &[u8],
    ) -> StoreResult<Option<ClientRegistration>>;
}

/// One write of a configuration-as-code batch (`manage::config`): the same rows and
/// per-item audit events the single admin operations write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWrite {
    /// The admin-set runtime settings as a whole, if still at `expected_version`.
    Settings {
        values: BTreeMap<String, i64>,
        expected_version: i64,
        at: Timestamp,
        audit: NewAuditEvent,
    },
    ScopeInsert {
        scope: Scope,
        audit: NewAuditEvent,
    },
    /// A custom scope's description and claims.
    ScopeUpdate {
        scope: Scope,
        audit: NewAuditEvent,
    },
    ScopeDelete {
        name: String,
        audit: NewAuditEvent,
    },
    UserInsert {
        user: User,
        audit: NewAuditEvent,
    },
    UserUpdate {
        user: User,
        audit: NewAuditEvent,
    },
    ClientInsert {
        client: Client,
        secret: Option<ClientSecret>,
        audit: NewAuditEvent,
    },
    ClientUpdate {
        client: Client,
        audit: NewAuditEvent,
    },
    /// A new secret; the older ones stop at `old_expire_at` (as a rotation).
    ClientSecretAdd {
        secret: ClientSecret,
        old_expire_at: Timestamp,
        audit: NewAuditEvent,
    },
    ClientDelete {
        id: String,
        audit: NewAuditEvent,
    },
    PolicyInsert {
        policy: ExchangePolicy,
        audit: NewAuditEvent,
    },
    PolicyUpdate {
        policy: ExchangePolicy,
        audit: NewAuditEvent,
    },
    PolicyDelete {
        id: String,
        audit: NewAuditEvent,
    },
}

/// A configuration apply: its writes in order, the `meta` row that records it (the
/// fingerprint drift is judged against) and the one audit event of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBatch {
    pub writes: Vec<ConfigWrite>,
    pub meta_key: String,
    pub meta_value: String,
    pub audit: NewAuditEvent,
}

#[async_trait::async_trait]
pub trait ConfigStore: Send + Sync {
    /// Every write of `batch`, its meta row and its audit event in one transaction:
    /// any failure (a conflict, a row another administrator removed meanwhile, settings
    /// saved meanwhile) rolls all of it back.
    async fn config_apply(&self, batch: &ConfigBatch) -> StoreResult<()>;
}

/// The whole store: every noun's trait. Backends implement the narrow traits; a caller
/// that needs everything (the engine, the admin service) holds an `Arc<dyn Store>`, and
/// a feature that touches one noun can name just that trait.
pub trait Store:
    Coordination
    + ClientStore
    + ScopeStore
    + UserStore
    + KeyStore
    + SessionStore
    + AuditStore
    + SettingsStore
    + ApiKeyStore
    + ExchangeStore
    + MonitorStore
    + WebhookStore
    + ParStore
    + RegistrationStore
    + ConfigStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Coordination
        + ClientStore
        + ScopeStore
        + UserStore
        + KeyStore
        + SessionStore
        + AuditStore
        + SettingsStore
        + ApiKeyStore
        + ExchangeStore
        + MonitorStore
        + WebhookStore
        + ParStore
        + RegistrationStore
        + ConfigStore
        + Send
        + Sync
        + 'static
{
}
