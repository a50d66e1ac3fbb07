//! `latchkey admin [--db PATH | --database URL | --server URL [--api-key KEY]]
//! <resource> <verb> … [--json]`: every command goes through the [`AdminBackend`] trait —
//! the embedded backend on a SQLite file or a shared PostgreSQL database, or the remote
//! one on a server's admin API — so the CLI, the admin API and the console share one set
//! of operations and errors.
//!
//! Exit codes: 0 success, 1 an operation failed (`error: <message> (<code>)` on
//! stderr), 2 bad usage (clap).

use crate::config::{resolve_database, Database, FileConfig};
use crate::output::{duration, emit, opt, opt_time, short_grant, time, Table};
use clap::{ArgGroup, Args, Subcommand};
use latchkey_admin::{
    load_or_create_kek, load_shared_kek, AdminBackend, AdminError, Embedded, EmbeddedOptions,
};
use latchkey_api_types::*;
use serde::Serialize;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// What an admin command acts on: a database (SQLite file or PostgreSQL URL) or a
/// server's admin API. Shared by `latchkey admin` and `latchkey config`.
#[derive(Debug, Args)]
pub struct Target {
    /// SQLite database file, created and migrated on first use [default: ./latchkey.db]
    #[arg(long, global = true, env = "LATCHKEY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL URL (postgres://…) of a cluster's shared database, instead of --db
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// TOML config file (only its `db` and `database` keys matter here)
    #[arg(long, global = true, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Administer the server whose admin API is at URL (https://, or http:// on
    /// loopback) instead of a database file
    #[arg(long, global = true, env = "LATCHKEY_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// Admin API key for --server (prefer LATCHKEY_API_KEY: other users see flags in `ps`);
    /// without one, the tokens of `login` are used
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub target: Target,

    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub resource: Resource,
}

// Parsed once per process; boxing the big variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Resource {
    /// OAuth clients (applications)
    Clients {
        #[command(subcommand)]
        verb: ClientsCmd,
    },
    /// Scopes and the claims they release
    Scopes {
        #[command(subcommand)]
        verb: ScopesCmd,
    },
    /// Users who sign in
    Users {
        #[command(subcommand)]
        verb: UsersCmd,
    },
    /// Signing keys and their rotation
    Keys {
        #[command(subcommand)]
        verb: KeysCmd,
    },
    /// Live sessions (one user's authorization of one client)
    Sessions {
        #[command(subcommand)]
        verb: SessionsCmd,
    },
    /// The audit log of admin changes and security events
    Audit {
        #[command(subcommand)]
        verb: AuditCmd,
    },
    /// Admin API keys for automation (sent as `Authorization: Bearer <key>`)
    ApiKeys {
        #[command(subcommand)]
        verb: ApiKeysCmd,
    },
    /// Token exchange (RFC 8693) policies: who may trade which tokens for what; no
    /// policy, no exchange
    ExchangePolicies {
        #[command(subcommand)]
        verb: ExchangePoliciesCmd,
    },
    /// Token lifetimes, key rotation and brute-force limits, changeable at runtime
    Settings {
        #[command(subcommand)]
        verb: SettingsCmd,
    },
    /// Findings of the anomaly detections (brute force, spray, client secret guessing)
    Findings {
        #[command(subcommand)]
        verb: FindingsCmd,
    },
    /// Addresses and networks refused at sign-in and at the token endpoints
    Blocks {
        #[command(subcommand)]
        verb: BlocksCmd,
    },
    /// What one account, address or client did lately (the Security page's drill-down)
    Security {
        #[command(subcommand)]
        verb: SecurityCmd,
    },
    /// HTTPS endpoints told of findings, signed (Standard Webhooks) and retried
    Webhooks {
        #[command(subcommand)]
        verb: WebhooksCmd,
    },
    /// Initial access tokens for dynamic client registration (RFC 7591; the server
    /// runs with `serve --registration`)
    RegistrationTokens {
        #[command(subcommand)]
        verb: RegistrationTokensCmd,
    },
    /// Tokens issued per minute, live sessions, failed authentications
    Stats {
        /// The window in minutes (1–1440)
        #[arg(long, value_name = "N", default_value_t = 60)]
        minutes: i64,
    },
    /// Sign in to --server as an administrator; the tokens go to the OS keyring
    Login {
        /// Use the device flow (enter a code on another device) instead of this
        /// machine's browser
        #[arg(long)]
        device: bool,
        /// The authorization server's issuer URL, when it is not the --server origin
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
    /// Revoke the sign-in's refresh token and remove it from the OS keyring
    Logout,
}

/// The grant types `--grant` accepts (RFC 7591 `grant_types`), plus `device_code` as a
/// shorthand for its URN.
fn parse_grant(s: &str) -> Result<String, String> {
    match s {
        "authorization_code" | "client_credentials" | "refresh_token" => Ok(s.to_string()),
        "device_code" | "urn:ietf:params:oauth:grant-type:device_code" => {
            Ok("urn:ietf:params:oauth:grant-type:device_code".to_string())
        }
        _ => Err(
            "expected authorization_code, client_credentials, refresh_token or \
             urn:ietf:params:oauth:grant-type:device_code"
                .to_string(),
        ),
    }
}

const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// The client settings `create` and `update` share. On `update`, a list flag replaces
/// the whole list and an absent flag leaves the setting as it is.
#[derive(Debug, Args)]
pub struct ClientSettingsArgs {
    /// Grant type (repeatable) [create default: authorization_code + refresh_token]
    #[arg(long = "grant", value_name = "G", value_parser = parse_grant, value_delimiter = ',')]
    pub grants: Vec<String>,
    /// Exact redirect URI (repeatable)
    #[arg(long = "redirect-uri", value_name = "U")]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to (repeatable)
    #[arg(long = "post-logout-redirect-uri", value_name = "U")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scope (repeatable, or space/comma separated) [create default: the OIDC scopes for user-facing clients]
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Token endpoint auth method [create default: client_secret_basic, or none for public clients]
    #[arg(long, value_name = "M", value_parser = AUTH_METHODS)]
    pub auth_method: Option<String>,
    /// File holding the client's public JWK Set (for private_key_jwt)
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    pub jwks: Option<PathBuf>,
    /// URL where the client publishes its JWK Set (for private_key_jwt)
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// Access token lifetime in seconds [create default: 600, at most 3600]
    #[arg(long, value_name = "SECS")]
    pub access_token_ttl: Option<i64>,
    /// Absolute refresh token lifetime in seconds [create default: 30 days]
    #[arg(long, value_name = "SECS")]
    pub refresh_token_ttl: Option<i64>,
    /// Refresh token idle lifetime in seconds [create default: 7 days]
    #[arg(long, value_name = "SECS")]
    pub refresh_idle_ttl: Option<i64>,
    /// Seconds a just-rotated refresh token may be retried (0–30) [create default: 0]
    #[arg(long, value_name = "SECS")]
    pub refresh_grace: Option<i64>,
    /// private_key_jwt compatibility: also accept an assertion whose aud is an array or
    /// an endpoint URL (`=false` to turn it off again) [create default: off, aud must be
    /// the issuer]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub assertion_aud_compat: Option<bool>,
    /// Answer /authorize only with pushed authorization requests (RFC 9126)
    /// (`=false` to turn it off again) [create default: off]
    #[arg(long = "require-par", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub require_par: Option<bool>,
    /// Web origin a browser app calls from (repeatable; CORS), e.g.
    /// https://app.example [create default: the origins of the redirect URIs]
    #[arg(
        long = "origin",
        value_name = "URL",
        conflicts_with = "derived_origins"
    )]
    pub origins: Vec<String>,
    /// The web origins follow the redirect URIs again (update; drops --origin values)
    #[arg(long)]
    pub derived_origins: bool,
    /// Require DPoP (RFC 9449): token requests without a proof are refused
    /// (`--dpop-bound false` to lift it) [create default: off]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub dpop_bound: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    /// Display name (shown on the consent page)
    #[arg(long)]
    pub name: String,
    #[arg(long = "type", value_name = "TYPE", value_parser = ["confidential", "public"], default_value = "confidential")]
    pub client_type: String,
    #[command(flatten)]
    pub settings: ClientSettingsArgs,
    /// Skip the consent page (first-party apps)
    #[arg(long)]
    pub no_consent: bool,
    /// Mark as an admin tool: it may then list the admin scopes (latchkey:admin,
    /// latchkey:admin:read) and act with an administrator's power. Audited.
    #[arg(long)]
    pub admin_tool: bool,
}

#[derive(Debug, Args)]
pub struct ClientUpdateArgs {
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: ClientSettingsArgs,
    #[arg(long, value_name = "BOOL")]
    pub require_consent: Option<bool>,
    /// Mark (`--admin-tool`, `--admin-tool true`) or unmark (`--admin-tool false`) the
    /// client as an admin tool, which may list the admin scopes. Audited.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub admin_tool: Option<bool>,
    #[arg(long, value_name = "BOOL")]
    pub disabled: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCmd {
    /// Register a client; prints its secret, once
    Create(ClientCreateArgs),
    List,
    Get {
        id: String,
    },
    /// Change a client; list flags replace the whole list
    Update(ClientUpdateArgs),
    /// Delete a client and every session and token it has
    Delete {
        id: String,
    },
    /// Issue a new secret; the old ones keep working for the overlap
    RotateSecret {
        id: String,
        /// Seconds the previous secrets stay valid [default: 86400]
        #[arg(long, value_name = "SECS")]
        overlap: Option<i64>,
    },
    /// Refuse all new requests from a client
    Disable {
        id: String,
    },
    Enable {
        id: String,
    },
    /// Register a new client with the settings of an existing one
    Clone {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The copy's redirect URI instead of the source's (repeatable), e.g. a
        /// loopback one for a test copy
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopesCmd {
    Create {
        name: String,
        /// Shown on the consent page
        #[arg(long, default_value = "")]
        description: String,
        /// A user claim the scope releases (repeatable)
        #[arg(long = "claim", value_name = "CLAIM")]
        claims: Vec<String>,
    },
    List,
    Delete {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Full name
        #[arg(long)]
        name: Option<String>,
        /// May administer the server through the admin API
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (never from the command line, where
        /// other users and the shell history would see it)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    List,
    /// One user, by id or username
    Get {
        id: String,
    },
    /// Disable a user (by id or username) and revoke all their sessions
    Disable {
        id: String,
    },
    /// Delete a user (by id or username) with their sessions, sign-ins and consents; the
    /// last enabled administrator cannot be deleted
    Delete {
        id: String,
        /// Only say what the delete would cut off; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Let a disabled user sign in again
    Enable {
        id: String,
    },
    /// Change a user's name, email or administrator role (an empty value clears a name or
    /// email; the last enabled administrator keeps the role)
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// true or false
        #[arg(long, value_name = "BOOL")]
        admin: Option<bool>,
    },
    /// Set a user's password: read from standard input, or generated and printed once
    SetPassword {
        id: String,
        /// Read the new password from standard input
        #[arg(
            long,
            conflicts_with = "generate",
            required_unless_present = "generate"
        )]
        password_stdin: bool,
        /// Generate a password and print it once (only its hash is stored)
        #[arg(long)]
        generate: bool,
        /// The user must choose a new password at their next sign-in
        #[arg(long)]
        must_change_password: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    List,
    /// Rotate now: the published successor starts signing, the current key retires
    Rotate {
        #[arg(long, value_parser = ["ES256", "RS256", "EdDSA"])]
        alg: Option<String>,
    },
    /// Emergency revoke: every token the key signed becomes inactive
    Revoke {
        kid: String,
    },
    /// When each algorithm's key rotates next
    Schedule,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCmd {
    List {
        /// A user id or username
        #[arg(long)]
        user: Option<String>,
        /// A client id
        #[arg(long)]
        client: Option<String>,
        /// An address, or a prefix ending in `.`, `:` or `*`
        #[arg(long)]
        ip: Option<String>,
        /// Include revoked and expired sessions (same as `--state any`)
        #[arg(long, conflicts_with = "state")]
        all: bool,
        /// active (default), revoked, expired or any
        #[arg(long, value_parser = ["active", "revoked", "expired", "any"])]
        state: Option<String>,
        /// Created at or after WHEN (Unix seconds, YYYY-MM-DD[THH:MM[:SS]], or a
        /// duration ago such as 7d)
        #[arg(long, value_name = "WHEN", value_parser = parse_when)]
        since: Option<i64>,
        /// Created before WHEN
        #[arg(long, value_name = "WHEN", value_parser = parse_when)]
        until: Option<i64>,
        /// created_at (default) or last_used_at
        #[arg(long, value_parser = ["created_at", "last_used_at"])]
        sort: Option<String>,
        /// desc (default, newest first) or asc
        #[arg(long, value_parser = ["desc", "asc"])]
        order: Option<String>,
        #[arg(long, value_name = "N")]
        limit: Option<i64>,
        /// The next_cursor printed with the previous page
        #[arg(long)]
        cursor: Option<String>,
    },
    Get {
        /// Session ids are base64url and may begin with `-`
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Revoke one session, or every session of a user, of a client or from an address
    #[command(group(ArgGroup::new("what").required(true).args(["id", "user", "client", "ip"])))]
    Revoke {
        /// Session ids are base64url and may begin with `-`
        #[arg(allow_hyphen_values = true)]
        id: Option<String>,
        /// Every session of this user (id or username); also ends their sign-ins
        #[arg(long)]
        user: Option<String>,
        /// Every session of this client; also makes all its earlier tokens inactive
        #[arg(long)]
        client: Option<String>,
        /// Every live session from this address, or a prefix ending in `.`, `:` or `*`
        #[arg(long)]
        ip: Option<String>,
        /// Only say what the revoke would cut off
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which audit events (shared by `audit list` and `audit export`).
#[derive(Debug, Clone, Args)]
pub struct AuditFilterArgs {
    /// Only events by this actor (`local-admin`, `user:<id>`, `api-key:<id>`, …)
    #[arg(long)]
    actor: Option<String>,
    /// Only actions starting with this prefix, e.g. `client.`
    #[arg(long, value_name = "PREFIX")]
    action: Option<String>,
    /// Only events about this target (a client id, user id, kid, …)
    #[arg(long)]
    target: Option<String>,
    /// Only security events
    #[arg(long)]
    security: bool,
    /// At or after WHEN (Unix seconds, YYYY-MM-DD[THH:MM[:SS]], or a duration ago
    /// such as 7d)
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    since: Option<i64>,
    /// Before WHEN
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    until: Option<i64>,
    /// desc (newest first; the default of `list`) or asc (oldest first; the default of
    /// `export`)
    #[arg(long, value_parser = ["desc", "asc"])]
    order: Option<String>,
}

impl AuditFilterArgs {
    fn dto(self, limit: i64, cursor: Option<String>) -> AuditFilterDto {
        AuditFilterDto {
            actor: self.actor,
            action_prefix: self.action,
            target: self.target,
            security_only: self.security,
            since: self.since,
            until: self.until,
            order: self.order,
            cursor,
            limit: Some(limit),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Newest first
    List {
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: i64,
        /// The next_cursor printed with the previous page
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
    /// The whole (filtered) log as JSON lines on stdout, oldest first
    Export {
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCmd {
    /// Create a key; prints it once
    Create {
        #[arg(long)]
        name: String,
        /// May only call the admin API's reads
        #[arg(long)]
        read_only: bool,
        /// Stops working after DURATION (e.g. 30d, 12h, 90m), or `never` (asked for
        /// explicitly) [default: 90d]
        #[arg(long, alias = "expires", value_name = "DURATION|never", value_parser = parse_key_lifetime)]
        expires_in: Option<KeyLifetime>,
    },
    /// Every key, never the key itself
    List,
    /// The key stops working at once
    Revoke { id: String },
}

const EXCHANGE_MODES: [&str; 3] = ["impersonation", "delegation", "either"];
const TOKEN_TYPES: [&str; 2] = ["access_token", "id_token"];
/// What an exchange may issue: `refresh_token` means a refresh token may come with the
/// exchanged access token (never on its own, never as a subject).
const ISSUED_TOKEN_TYPES: [&str; 3] = ["access_token", "id_token", "refresh_token"];

/// The policy fields `create` and `update` share. On `update`, a list flag replaces the
/// whole list and an absent flag leaves the field as it is.
#[derive(Debug, Args)]
pub struct ExchangePolicyArgs {
    /// Audience or resource the new tokens may be for (repeatable)
    #[arg(long = "target", value_name = "AUDIENCE")]
    pub targets: Vec<String>,
    /// Client whose tokens may be presented as subject (repeatable) [default: any]
    #[arg(long = "subject-client", value_name = "CLIENT_ID")]
    pub subject_clients: Vec<String>,
    /// Scope the new tokens may carry (repeatable, or space/comma separated) [default:
    /// any subset of the subject token's]
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// impersonation (no actor token), delegation (actor token, `act` claim) or either
    /// [create default: impersonation]
    #[arg(long, value_name = "MODE", value_parser = EXCHANGE_MODES)]
    pub mode: Option<String>,
    /// Client whose tokens may be actor tokens (repeatable) [default: the requester's own]
    #[arg(long = "actor", value_name = "CLIENT_ID")]
    pub actors: Vec<String>,
    /// Longest lifetime of a new token in seconds; never past the subject's [create
    /// default: 300]
    #[arg(long, value_name = "SECS")]
    pub max_ttl: Option<i64>,
    /// Subject token type accepted (repeatable) [create default: access_token]
    #[arg(long = "subject-token-type", value_name = "TYPE", value_parser = TOKEN_TYPES)]
    pub subject_token_types: Vec<String>,
    /// Token type that may be issued (repeatable; refresh_token: a refresh token may come
    /// with the access token, for a user's token without act) [create default:
    /// access_token]
    #[arg(long = "issue", value_name = "TYPE", value_parser = ISSUED_TOKEN_TYPES)]
    pub issued_token_types: Vec<String>,
    /// Whether the requester must be in the subject token's aud (or be its client)
    /// [create default: true]
    #[arg(long, value_name = "BOOL")]
    pub requester_in_aud: Option<bool>,
    /// Longest act chain (delegation depth) [create default: 3]
    #[arg(long, value_name = "N")]
    pub max_act_depth: Option<i64>,
    /// A note for other administrators
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ExchangePoliciesCmd {
    /// Allow REQUESTER to exchange tokens for TARGET(s); prints the policy with its id
    Create {
        /// The confidential client that calls /token
        #[arg(long, value_name = "CLIENT_ID")]
        requester: String,
        #[command(flatten)]
        fields: ExchangePolicyArgs,
        /// Create it disabled
        #[arg(long)]
        disabled: bool,
    },
    /// Every policy
    List,
    /// One policy
    Get { id: String },
    /// Change a policy: each flag given replaces that field
    Update {
        id: String,
        /// Move the policy to another requester client
        #[arg(long, value_name = "CLIENT_ID")]
        requester: Option<String>,
        #[command(flatten)]
        fields: ExchangePolicyArgs,
        /// Enable (`true`) or disable (`false`) the policy
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
    },
    /// Delete a policy (exchanges it allowed stop at once)
    Delete { id: String },
    /// Dry run: which policy would allow REQUESTER's exchange and what token would come
    /// out, or which rule refuses it and why. Nothing is issued.
    Explain {
        #[arg(long, value_name = "CLIENT_ID")]
        requester: String,
        /// The audience or resource asked for
        #[arg(long, value_name = "AUDIENCE")]
        target: String,
        /// File holding the subject token (`-` for stdin)
        #[arg(long, value_name = "F")]
        subject_token_file: PathBuf,
        /// File holding the actor token (delegation)
        #[arg(long, value_name = "F")]
        actor_token_file: Option<PathBuf>,
        /// The subject token's type [default: access_token]
        #[arg(long, value_name = "TYPE", value_parser = TOKEN_TYPES)]
        subject_token_type: Option<String>,
        /// The actor token's type [default: access_token]
        #[arg(long, value_name = "TYPE", value_parser = TOKEN_TYPES)]
        actor_token_type: Option<String>,
        /// Scope asked for (space separated)
        #[arg(long, value_name = "S")]
        scope: Option<String>,
        /// The token type asked for [default: access_token]
        #[arg(long, value_name = "TYPE", value_parser = TOKEN_TYPES)]
        requested_token_type: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FindingsCmd {
    /// Findings, newest first
    List {
        /// Only this severity: low, medium, high, critical
        #[arg(long, value_name = "S")]
        severity: Option<String>,
        /// Only this rule: brute_force, spray, spray_success, client_guess
        #[arg(long, value_name = "R")]
        rule: Option<String>,
        /// At most this many (1–1000)
        #[arg(long, value_name = "N")]
        limit: Option<i64>,
    },
    /// One finding with its evidence
    Get { id: String },
    /// Acknowledge a finding (audited)
    Ack { id: String },
}

#[derive(Debug, Subcommand)]
pub enum BlocksCmd {
    /// The blocks in force, with expiry
    List,
    /// Block an address or network (e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/64)
    Add {
        #[arg(value_name = "ADDRESS|CIDR")]
        address: String,
        /// Lasts DURATION (e.g. 30m, 12h, 7d) [default: until removed]
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        for_: Option<i64>,
        /// Why (shown in the list and the audit log)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unblock an address or network (every block of it)
    Remove {
        #[arg(value_name = "ADDRESS|CIDR")]
        address: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecurityCmd {
    /// Failures, successes, distinct users and addresses, first and last seen, findings,
    /// blocks and a timeline of one account, address or client
    Profile {
        /// What SUBJECT is
        #[arg(value_parser = ["user", "address", "client"])]
        kind: String,
        /// A username as typed, an address or network (203.0.113.7, 2001:db8::/64), or a client id
        subject: String,
        /// From when: Unix seconds, YYYY-MM-DD[THH:MM[:SS]] (UTC) or a duration back
        /// like 24h (at most 90 days) [default: 7d]
        #[arg(long, value_name = "WHEN", value_parser = parse_when)]
        since: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistrationTokensCmd {
    /// Make an initial access token; prints it once. What it may register: the grant
    /// types, scopes and redirect URI prefixes given (defaults: authorization_code +
    /// refresh_token, the built-in OIDC scopes, any acceptable redirect URI)
    Create {
        /// A grant type registered clients may have (repeatable)
        #[arg(long = "grant", value_name = "G")]
        grants: Vec<String>,
        /// A scope registered clients may have (repeatable, or space/comma separated)
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
        /// Every redirect URI must start with one of these (repeatable), e.g.
        /// https://app.example/
        #[arg(long = "redirect-uri-prefix", value_name = "P")]
        redirect_uri_prefixes: Vec<String>,
        /// Stops working after DURATION (e.g. 1h, 7d) [default: 1d, at most 365d]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<i64>,
        /// How many clients it may register [default: any number until it expires]
        #[arg(long, value_name = "N")]
        uses: Option<i64>,
    },
    /// Every initial access token with its policy, never the token itself
    List,
    /// No further registration with it (registered clients stay)
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCmd {
    /// Webhooks with their delivery state
    List,
    /// Register a webhook; its signing secret (whsec_…) is shown only this once
    Create {
        /// A name for people
        #[arg(long)]
        name: String,
        /// The endpoint: https://… (the SSRF rules of client key URLs apply)
        #[arg(long)]
        url: String,
        /// Send only this severity (repeatable): low, medium, high, critical [default: all]
        #[arg(long = "severity", value_name = "S")]
        severities: Vec<String>,
        /// Send only this rule (repeatable): brute_force, spray, spray_success,
        /// client_guess [default: all]
        #[arg(long = "rule", value_name = "R")]
        rules: Vec<String>,
        /// Register it disabled
        #[arg(long)]
        disabled: bool,
    },
    /// One webhook and its delivery state
    Get { id: String },
    /// Change a webhook: what is given changes
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
        /// Send only these severities (repeatable; replaces the list)
        #[arg(long = "severity", value_name = "S", conflicts_with = "all_severities")]
        severities: Vec<String>,
        /// Send every severity
        #[arg(long)]
        all_severities: bool,
        /// Send only these rules (repeatable; replaces the list)
        #[arg(long = "rule", value_name = "R", conflicts_with = "all_rules")]
        rules: Vec<String>,
        /// Send every rule
        #[arg(long)]
        all_rules: bool,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    /// Delete a webhook and its queue
    Delete { id: String },
    /// Send a signed test event now and show what the endpoint answered
    Test { id: String },
}

// Parsed once per process, like `Resource`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    /// Every setting: the value in force, the default, and whether an admin set it
    Get,
    /// Change settings: a value sets one (seconds, or 90m, 12h, 30d), `default` resets it
    Update(SettingsUpdateArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct SettingsUpdateArgs {
    /// Access-token lifetime for new clients
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    access_token_ttl: Option<SettingArg>,
    /// Absolute refresh-token lifetime for new clients
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    refresh_token_ttl: Option<SettingArg>,
    /// Refresh-token idle lifetime for new clients
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    refresh_idle_ttl: Option<SettingArg>,
    /// Authorization code lifetime
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    code_ttl: Option<SettingArg>,
    /// ID token lifetime
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    id_token_ttl: Option<SettingArg>,
    /// Device code lifetime
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    device_code_ttl: Option<SettingArg>,
    /// Browser sign-in (SSO cookie) lifetime
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    sign_in_ttl: Option<SettingArg>,
    /// How long a key signs before it is rotated
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    rotate_every: Option<SettingArg>,
    /// How long a successor is published before it signs
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    prepublish: Option<SettingArg>,
    /// How long a key stays published after it stops signing
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    retire_after: Option<SettingArg>,
    /// Wrong passwords allowed per IP or account in the window (a count)
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    login_max_failures: Option<SettingArg>,
    /// Window of the password limit
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    login_window: Option<SettingArg>,
    /// First block after the password limit (doubles each time)
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    login_block: Option<SettingArg>,
    /// Failed client authentications allowed per IP in the window (a count)
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    client_auth_max_failures: Option<SettingArg>,
    /// Window of the client authentication limit
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    client_auth_window: Option<SettingArg>,
    /// First block after the client authentication limit
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    client_auth_block: Option<SettingArg>,
    /// Wrong user codes allowed per IP or browser in the window (a count)
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    device_code_max_failures: Option<SettingArg>,
    /// Window of the device code limit
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    device_code_window: Option<SettingArg>,
    /// First block after the device code limit
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    device_code_block: Option<SettingArg>,
    /// Detection `brute_force` (one account from one address)
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_brute_force_mode: Option<SettingArg>,
    /// Consecutive failed sign-ins of one account from one address that raise `brute_force`.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_brute_force_failures: Option<SettingArg>,
    /// Window of `brute_force` (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_brute_force_window: Option<SettingArg>,
    /// Severity of `brute_force`
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_brute_force_severity: Option<SettingArg>,
    /// Detection `spray` (many accounts from one address or IPv6 /64)
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_spray_mode: Option<SettingArg>,
    /// Distinct usernames failing from one address or /64 that raise `spray`.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_spray_usernames: Option<SettingArg>,
    /// Window of `spray` (seconds); a success from the address within it after the finding is `spray_success` (critical).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_spray_window: Option<SettingArg>,
    /// Severity of `spray`
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_spray_severity: Option<SettingArg>,
    /// Detection `client_guess` (client secret guessing)
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_client_guess_mode: Option<SettingArg>,
    /// Failed client authentications of one client id that raise `client_guess`.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_client_guess_failures: Option<SettingArg>,
    /// Distinct client ids one address fails for that raise `client_guess`.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_client_guess_clients: Option<SettingArg>,
    /// Window of `client_guess` (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_client_guess_window: Option<SettingArg>,
    /// Severity of `client_guess`
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_client_guess_severity: Option<SettingArg>,
    /// How long an enforce-mode block lasts (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_block: Option<SettingArg>,
    /// Detection `wave` (server-wide failed sign-ins far above the hour's baseline): 0 off, 1 monitor, 2 enforce (alerts only either way).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_wave_mode: Option<SettingArg>,
    /// Failed sign-ins in the last hour below which `wave` never fires.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_wave_min_failures: Option<SettingArg>,
    /// How many times the baseline (median of the same hour on the previous days) the last hour must exceed.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_wave_factor: Option<SettingArg>,
    /// Previous days the `wave` and `mint_spike` baselines read.
    #[arg(long, value_name = "DAYS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_baseline_days: Option<SettingArg>,
    /// Severity of `wave`: 1 low, 2 medium, 3 high, 4 critical.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_wave_severity: Option<SettingArg>,
    /// Detection `unfamiliar_sign_in`: 0 off, 1 monitor, 2 enforce (a browser sign-in presented from an unfamiliar network and browser asks for the password again).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_unfamiliar_mode: Option<SettingArg>,
    /// How many of the user's latest successful sign-ins count as familiar.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_unfamiliar_history: Option<SettingArg>,
    /// Successful sign-ins a user needs before any can be unfamiliar.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_unfamiliar_min_history: Option<SettingArg>,
    /// Severity of `unfamiliar_sign_in`: 1 low, 2 medium, 3 high, 4 critical.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_unfamiliar_severity: Option<SettingArg>,
    /// Detection `refresh_reuse` (a spent refresh token replayed): 0 off, 1 monitor, 2 enforce (likely theft revokes every session of the user).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_refresh_reuse_mode: Option<SettingArg>,
    /// Severity of `refresh_reuse`; a replay tagged likely theft is one step higher.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_refresh_reuse_severity: Option<SettingArg>,
    /// Detection `mint_spike` (a client's tokens per minute far above its own baseline, or a grant type or scope it never used): 0 off, 1 monitor, 2 enforce (alerts only either way).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_mint_mode: Option<SettingArg>,
    /// Tokens in one minute below which `mint_spike` never fires for a client.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_mint_min_per_minute: Option<SettingArg>,
    /// How many times the client's busiest minute of the baseline days its last minute must exceed.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_mint_factor: Option<SettingArg>,
    /// Severity of `mint_spike`: 1 low, 2 medium, 3 high, 4 critical.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_mint_severity: Option<SettingArg>,
    /// Detections `revoked_token_replay` and `token_scan` (introspection and userinfo): 0 off, 1 monitor, 2 enforce (a scanning caller is blocked there).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_token_replay_mode: Option<SettingArg>,
    /// Unknown or invalid tokens one caller presents within the window that raise `token_scan`.
    #[arg(long, value_name = "N", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_token_scan_invalid: Option<SettingArg>,
    /// Window of `token_scan` (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_token_scan_window: Option<SettingArg>,
    /// Severity of `revoked_token_replay` and `token_scan`: 1 low, 2 medium, 3 high, 4 critical.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_token_replay_severity: Option<SettingArg>,
    /// Detection `hygiene` (daily: old client secrets, overdue key rotation, keys past their schedule): 0 off, 1 monitor, 2 enforce (alerts only either way).
    #[arg(long, value_name = "MODE", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_hygiene_mode: Option<SettingArg>,
    /// Age past which a client secret is reported (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_hygiene_secret_age: Option<SettingArg>,
    /// Severity of `hygiene`: 1 low, 2 medium, 3 high, 4 critical.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_setting, allow_hyphen_values = true)]
    detect_hygiene_severity: Option<SettingArg>,
    /// How long a session is kept after it was revoked or expired (1 d–10 y)
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    retain_sessions: Option<SettingArg>,
    /// How long a browser sign-in is kept after it ended or expired (1 d–10 y)
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    retain_signins: Option<SettingArg>,
    /// How long audit events and issuance counts are kept (7 d–10 y)
    #[arg(long, value_name = "SECS", value_parser = parse_setting, allow_hyphen_values = true)]
    retain_audit: Option<SettingArg>,
}

/// One `settings update` flag: a value, or back to the server's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingArg {
    Set(i64),
    Default,
}

impl SettingArg {
    fn into_patch(self) -> Option<i64> {
        match self {
            SettingArg::Set(v) => Some(v),
            SettingArg::Default => None,
        }
    }
}

/// `default`, a whole number (seconds or a count; range checks are the server's, so
/// `--db` and `--server` refuse the same values with the same message), or a duration.
fn parse_setting(s: &str) -> Result<SettingArg, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("default") {
        return Ok(SettingArg::Default);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(SettingArg::Set(n));
    }
    // Detection modes and severities by name (the settings store them as numbers).
    let named = ["off", "monitor", "enforce"]
        .iter()
        .position(|m| s.eq_ignore_ascii_case(m))
        .or_else(|| {
            ["low", "medium", "high", "critical"]
                .iter()
                .position(|m| s.eq_ignore_ascii_case(m))
                .map(|i| i + 1)
        });
    if let Some(n) = named {
        return Ok(SettingArg::Set(n as i64));
    }
    parse_duration(s)
        .map(SettingArg::Set)
        .map_err(|e| format!("{e}, or `default`"))
}

impl SettingsUpdateArgs {
    fn into_request(self) -> SettingsUpdateRequest {
        SettingsUpdateRequest {
            access_token_ttl: self.access_token_ttl.map(SettingArg::into_patch),
            refresh_token_ttl: self.refresh_token_ttl.map(SettingArg::into_patch),
            refresh_idle_ttl: self.refresh_idle_ttl.map(SettingArg::into_patch),
            code_ttl: self.code_ttl.map(SettingArg::into_patch),
            id_token_ttl: self.id_token_ttl.map(SettingArg::into_patch),
            device_code_ttl: self.device_code_ttl.map(SettingArg::into_patch),
            sign_in_ttl: self.sign_in_ttl.map(SettingArg::into_patch),
            rotate_every: self.rotate_every.map(SettingArg::into_patch),
            prepublish: self.prepublish.map(SettingArg::into_patch),
            retire_after: self.retire_after.map(SettingArg::into_patch),
            login_max_failures: self.login_max_failures.map(SettingArg::into_patch),
            login_window: self.login_window.map(SettingArg::into_patch),
            login_block: self.login_block.map(SettingArg::into_patch),
            client_auth_max_failures: self.client_auth_max_failures.map(SettingArg::into_patch),
            client_auth_window: self.client_auth_window.map(SettingArg::into_patch),
            client_auth_block: self.client_auth_block.map(SettingArg::into_patch),
            device_code_max_failures: self.device_code_max_failures.map(SettingArg::into_patch),
            device_code_window: self.device_code_window.map(SettingArg::into_patch),
            device_code_block: self.device_code_block.map(SettingArg::into_patch),
            detect_brute_force_mode: self.detect_brute_force_mode.map(SettingArg::into_patch),
            detect_brute_force_failures: self
                .detect_brute_force_failures
                .map(SettingArg::into_patch),
            detect_brute_force_window: self.detect_brute_force_window.map(SettingArg::into_patch),
            detect_brute_force_severity: self
                .detect_brute_force_severity
                .map(SettingArg::into_patch),
            detect_spray_mode: self.detect_spray_mode.map(SettingArg::into_patch),
            detect_spray_usernames: self.detect_spray_usernames.map(SettingArg::into_patch),
            detect_spray_window: self.detect_spray_window.map(SettingArg::into_patch),
            detect_spray_severity: self.detect_spray_severity.map(SettingArg::into_patch),
            detect_client_guess_mode: self.detect_client_guess_mode.map(SettingArg::into_patch),
            detect_client_guess_failures: self
                .detect_client_guess_failures
                .map(SettingArg::into_patch),
            detect_client_guess_clients: self
                .detect_client_guess_clients
                .map(SettingArg::into_patch),
            detect_client_guess_window: self.detect_client_guess_window.map(SettingArg::into_patch),
            detect_client_guess_severity: self
                .detect_client_guess_severity
                .map(SettingArg::into_patch),
            detect_block: self.detect_block.map(SettingArg::into_patch),
            detect_wave_mode: self.detect_wave_mode.map(SettingArg::into_patch),
            detect_wave_min_failures: self.detect_wave_min_failures.map(SettingArg::into_patch),
            detect_wave_factor: self.detect_wave_factor.map(SettingArg::into_patch),
            detect_baseline_days: self.detect_baseline_days.map(SettingArg::into_patch),
            detect_wave_severity: self.detect_wave_severity.map(SettingArg::into_patch),
            detect_unfamiliar_mode: self.detect_unfamiliar_mode.map(SettingArg::into_patch),
            detect_unfamiliar_history: self.detect_unfamiliar_history.map(SettingArg::into_patch),
            detect_unfamiliar_min_history: self
                .detect_unfamiliar_min_history
                .map(SettingArg::into_patch),
            detect_unfamiliar_severity: self.detect_unfamiliar_severity.map(SettingArg::into_patch),
            detect_refresh_reuse_mode: self.detect_refresh_reuse_mode.map(SettingArg::into_patch),
            detect_refresh_reuse_severity: self
                .detect_refresh_reuse_severity
                .map(SettingArg::into_patch),
            detect_mint_mode: self.detect_mint_mode.map(SettingArg::into_patch),
            detect_mint_min_per_minute: self.detect_mint_min_per_minute.map(SettingArg::into_patch),
            detect_mint_factor: self.detect_mint_factor.map(SettingArg::into_patch),
            detect_mint_severity: self.detect_mint_severity.map(SettingArg::into_patch),
            detect_token_replay_mode: self.detect_token_replay_mode.map(SettingArg::into_patch),
            detect_token_scan_invalid: self.detect_token_scan_invalid.map(SettingArg::into_patch),
            detect_token_scan_window: self.detect_token_scan_window.map(SettingArg::into_patch),
            detect_token_replay_severity: self
                .detect_token_replay_severity
                .map(SettingArg::into_patch),
            detect_hygiene_mode: self.detect_hygiene_mode.map(SettingArg::into_patch),
            detect_hygiene_secret_age: self.detect_hygiene_secret_age.map(SettingArg::into_patch),
            detect_hygiene_severity: self.detect_hygiene_severity.map(SettingArg::into_patch),
            retain_sessions: self.retain_sessions.map(SettingArg::into_patch),
            retain_signins: self.retain_signins.map(SettingArg::into_patch),
            retain_audit: self.retain_audit.map(SettingArg::into_patch),
        }
    }
}

/// `30d`, `12h`, `90m`, `45s`, `2w` (or plain seconds) as seconds.
/// `api-keys create --expires-in`: a duration, or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLifetime {
    Never,
    Secs(i64),
}

fn parse_key_lifetime(s: &str) -> Result<KeyLifetime, String> {
    if s.trim().eq_ignore_ascii_case("never") {
        return Ok(KeyLifetime::Never);
    }
    parse_duration(s).map(KeyLifetime::Secs)
}

pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, like 30d, 12h or 90m"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{s:?}: the unit must be s, m, h, d or w")),
    };
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(format!("{s:?}: must be positive and reasonably sized")),
    }
}

/// Unix seconds; `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC); or a duration ago.
fn parse_when(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(d) = parse_duration(s) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        return Ok(now - d);
    }
    let bad = || {
        format!("{s:?}: expected Unix seconds, YYYY-MM-DD[THH:MM[:SS]] (UTC) or a duration like 7d")
    };
    let s2 = s.trim_end_matches('Z');
    let (date, clock) = s2.split_once(['T', ' ']).unwrap_or((s2, "00:00:00"));
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&t.len()) {
        return Err(bad());
    }
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (hh, mm) = (num(t[0])?, num(t[1])?);
    let ss = t.get(2).map(|x| num(x)).transpose()?.unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Howard Hinnant's days-from-civil (proleptic Gregorian), the inverse of output::time.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// What a command prints: a JSON value for `--json`, text otherwise.
struct Out {
    json: bool,
}

impl Out {
    fn show<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<(), AdminError> {
        if self.json {
            let s = serde_json::to_string_pretty(value).map_err(|e| {
                AdminError::new(ErrorCode::Internal, format!("cannot encode JSON: {e}"))
            })?;
            emit(&s);
        } else {
            emit(&human(value));
        }
        Ok(())
    }
}

/// Splits `--scope "openid profile"` and `--scope openid,profile` into names.
fn split_scopes(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn read_jwks(path: &PathBuf) -> Result<serde_json::Value, AdminError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AdminError::invalid_input(format!("cannot read --jwks file {}: {e}", path.display()))
    })?;
    serde_json::from_str(&text).map_err(|_| {
        AdminError::invalid_input(format!("--jwks file {} is not valid JSON", path.display()))
    })
}

fn read_password() -> Result<String, AdminError> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        // Without a terminal-control dependency the input cannot be hidden; say so.
        eprint!("Password (visible as you type; end with Enter): ");
        stdin
            .read_line(&mut text)
            .map_err(|e| AdminError::invalid_input(format!("cannot read the password: {e}")))?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| AdminError::invalid_input(format!("cannot read the password: {e}")))?;
    }
    // Strip exactly one line ending (`echo pw |`), keep everything else as typed.
    let pw = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if pw.contains('\n') {
        return Err(AdminError::invalid_input(
            "the password on standard input must be a single line",
        ));
    }
    Ok(pw.to_string())
}

pub(crate) fn err_line(e: &AdminError) -> String {
    format!("error: {} ({})", e.message, e.code)
}

/// `latchkey admin …`.
pub async fn run(args: AdminArgs) -> ExitCode {
    let out = Out { json: args.json };
    let Target {
        db,
        database,
        config,
        server,
        api_key,
    } = args.target;
    if let Some(server) = server {
        return finish(run_remote(&server, api_key, &out, args.resource).await);
    }
    if matches!(args.resource, Resource::Login { .. } | Resource::Logout) {
        eprintln!("error: login and logout need --server URL (the admin API to sign in to)");
        return ExitCode::from(2);
    }
    let backend = match open_embedded(db, database, config.as_deref()).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let result = dispatch(&backend, &out, args.resource).await;
    backend.close().await;
    finish(result)
}

/// The embedded backend on the database that `--db`, `--database` (or their
/// environment variables) or the config file name, with its key-encryption key;
/// what went wrong is printed, and the exit code returned. `latchkey config` opens its
/// target the same way.
pub(crate) async fn open_embedded(
    db: Option<PathBuf>,
    database: Option<String>,
    config: Option<&std::path::Path>,
) -> Result<Embedded, ExitCode> {
    let file = match FileConfig::load(config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(ExitCode::from(2));
        }
    };
    let database = match resolve_database(
        db,
        database.or_else(crate::config::database_url_alias),
        &file,
    ) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(ExitCode::from(2));
        }
    };
    let kek = match &database {
        Database::Sqlite(db) => load_or_create_kek(db),
        Database::Postgres(_) => load_shared_kek(),
    };
    let (kek, source) = match kek {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{}", err_line(&e));
            return Err(ExitCode::FAILURE);
        }
    };
    if source.created().is_some() {
        eprintln!("notice: {}", source.describe());
    }
    let opened = match &database {
        Database::Sqlite(db) => Embedded::open(db, kek).await,
        Database::Postgres(url) => {
            Embedded::open_postgres(url, kek, EmbeddedOptions::default()).await
        }
    };
    let backend = match opened {
        // Webhook tests leave through the server's SSRF-checked sender; no loopback
        // targets from a database file (no issuer to say this is a development server).
        Ok(b) => b.with_webhook_sender(std::sync::Arc::new(
            latchkey_server::webhook::HttpWebhookSender::new(false),
        )),
        Err(e) => {
            eprintln!("{}", err_line(&e));
            if let Some(path) = source.created() {
                eprintln!(
                    "note: the key-encryption key at {} was created by this run; if the \
                     database was made with another key, delete that file and set \
                     LATCHKEY_KEK or LATCHKEY_KEK_FILE",
                    path.display()
                );
            }
            return Err(ExitCode::FAILURE);
        }
    };
    Ok(backend)
}

pub(crate) fn finish(result: Result<(), AdminError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", err_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `--server URL`: sign-in commands, or any other command on the remote backend.
#[cfg(feature = "remote")]
async fn run_remote(
    server: &str,
    api_key: Option<String>,
    out: &Out,
    r: Resource,
) -> Result<(), AdminError> {
    match r {
        Resource::Login { device, issuer } => {
            crate::remote::login(server, issuer.as_deref(), device).await
        }
        Resource::Logout => crate::remote::logout(server).await,
        r => {
            let backend = crate::remote::backend(server, api_key)?;
            dispatch(&backend, out, r).await
        }
    }
}

/// A `latchkey` built without the `remote` feature (a headless server) administers
/// only its own database.
#[cfg(not(feature = "remote"))]
async fn run_remote(
    server: &str,
    _api_key: Option<String>,
    _out: &Out,
    _r: Resource,
) -> Result<(), AdminError> {
    Err(AdminError::invalid_input(format!(
        "this latchkey was built without remote administration (cargo feature `remote`), \
         so it cannot reach {server}; use --db or --database, or a full build"
    )))
}

async fn dispatch(b: &dyn AdminBackend, out: &Out, r: Resource) -> Result<(), AdminError> {
    match r {
        Resource::Clients { verb } => clients(b, out, verb).await,
        Resource::Scopes { verb } => scopes(b, out, verb).await,
        Resource::Users { verb } => users(b, out, verb).await,
        Resource::Keys { verb } => keys(b, out, verb).await,
        Resource::Sessions { verb } => sessions(b, out, verb).await,
        Resource::Audit { verb } => audit(b, out, verb).await,
        Resource::ApiKeys { verb } => api_keys(b, out, verb).await,
        Resource::ExchangePolicies { verb } => exchange_policies(b, out, verb).await,
        Resource::Settings { verb } => settings(b, out, verb).await,
        Resource::Findings { verb } => findings(b, out, verb).await,
        Resource::Blocks { verb } => blocks(b, out, verb).await,
        Resource::Security { verb } => security(b, out, verb).await,
        Resource::Webhooks { verb } => webhooks(b, out, verb).await,
        Resource::RegistrationTokens { verb } => registration_tokens(b, out, verb).await,
        Resource::Stats { minutes } => stats(b, out, minutes).await,
        Resource::Login { .. } | Resource::Logout => Err(AdminError::invalid_input(
            "login and logout need --server URL",
        )),
    }
}

// --- clients ---------------------------------------------------------------------------

fn client_status(c: &ClientDto) -> &'static str {
    if c.disabled {
        "disabled"
    } else {
        "enabled"
    }
}

fn client_details(c: &ClientDto) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    let grants: Vec<String> = c
        .grant_types
        .iter()
        .map(|g| short_grant(g).to_string())
        .collect();
    let mut t = Table::new(&["FIELD", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("client_id", c.client_id.clone()),
        ("name", c.name.clone()),
        ("type", c.client_type.clone()),
        ("auth_method", c.auth_method.clone()),
        ("grant_types", list(&grants)),
        ("redirect_uris", list(&c.redirect_uris)),
        (
            "post_logout_redirect_uris",
            list(&c.post_logout_redirect_uris),
        ),
        ("allowed_scopes", list(&c.allowed_scopes)),
        (
            "jwks",
            match &c.jwks {
                Some(j) => format!(
                    "{} key(s)",
                    j.get("keys").and_then(|k| k.as_array()).map_or(0, Vec::len)
                ),
                None => "-".into(),
            },
        ),
        ("jwks_uri", c.jwks_uri.clone().unwrap_or_else(|| "-".into())),
        ("access_token_ttl", duration(c.access_token_ttl)),
        ("refresh_token_ttl", duration(c.refresh_token_ttl)),
        ("refresh_idle_ttl", duration(c.refresh_idle_ttl)),
        ("refresh_grace", duration(c.refresh_grace_secs)),
        (
            "assertion_aud_compat",
            if c.assertion_aud_compat {
                "on (array or endpoint aud accepted)"
            } else {
                "off"
            }
            .into(),
        ),
        (
            "web_origins",
            format!(
                "{}{}",
                list(&c.web_origins),
                if c.allowed_origins.is_none() {
                    " (from the redirect URIs)"
                } else {
                    ""
                }
            ),
        ),
        (
            "dpop_bound",
            if c.dpop_bound_access_tokens {
                "on (a DPoP proof is required)"
            } else {
                "off"
            }
            .into(),
        ),
        ("require_consent", c.require_consent.to_string()),
        (
            "require_pushed_authorization_requests",
            c.require_pushed_authorization_requests.to_string(),
        ),
        ("admin_tool", c.admin_tool.to_string()),
        ("status", client_status(c).to_string()),
        ("tokens_valid_after", time(c.tokens_valid_after)),
        ("created_at", time(c.created_at)),
        ("updated_at", time(c.updated_at)),
    ];
    for (k, v) in rows {
        t.row(vec![k.to_string(), v]);
    }
    t.render()
}

fn created_text(c: &ClientCreated, verb: &str) -> String {
    let mut s = format!(
        "{verb} {} client \"{}\".\nclient_id      {}\n",
        c.client.client_type, c.client.name, c.client.client_id
    );
    match &c.client_secret {
        Some(secret) => {
            s.push_str(&format!("client_secret  {secret}\n"));
            s.push_str(
                "The client secret is shown only this once: store it now. \
                 It cannot be displayed again (rotate it if it is lost).\n",
            );
        }
        None => s.push_str(&format!(
            "No client secret ({}).\n",
            if c.client.client_type == "public" {
                "public clients do not authenticate"
            } else {
                "it authenticates with private_key_jwt"
            }
        )),
    }
    s
}

/// On stderr, so `--json` output stays parseable.
fn warn_admin_tool() {
    eprintln!(
        "warning: an admin tool may request latchkey:admin: any administrator who signs in \
         to it hands it full control of this server. Mark only applications you trust as \
         much as the console."
    );
}

async fn clients(b: &dyn AdminBackend, out: &Out, verb: ClientsCmd) -> Result<(), AdminError> {
    match verb {
        ClientsCmd::Create(a) => {
            let c = a.settings;
            let req = ClientCreateRequest {
                name: a.name,
                client_type: Some(a.client_type),
                auth_method: c.auth_method,
                grant_types: c.grants,
                redirect_uris: c.redirect_uris,
                post_logout_redirect_uris: c.post_logout_redirect_uris,
                allowed_scopes: split_scopes(&c.scopes),
                jwks: c.jwks.as_ref().map(read_jwks).transpose()?,
                jwks_uri: c.jwks_uri,
                access_token_ttl: c.access_token_ttl,
                refresh_token_ttl: c.refresh_token_ttl,
                refresh_idle_ttl: c.refresh_idle_ttl,
                refresh_grace_secs: c.refresh_grace,
                require_consent: a.no_consent.then_some(false),
                admin_tool: a.admin_tool.then_some(true),
                assertion_aud_compat: c.assertion_aud_compat,
                require_pushed_authorization_requests: c.require_par,
                allowed_origins: (!c.origins.is_empty()).then_some(c.origins),
                dpop_bound_access_tokens: c.dpop_bound,
            };
            if a.admin_tool {
                warn_admin_tool();
            }
            let created = b.client_create(req).await?;
            out.show(&created, |c| created_text(c, "Created"))
        }
        ClientsCmd::List => {
            let list = b.clients_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No clients yet — register one with `latchkey admin clients create --name NAME`.".into();
                }
                let mut t = Table::new(&["CLIENT_ID", "NAME", "TYPE", "AUTH", "GRANTS", "STATUS"]);
                for c in list {
                    t.row(vec![
                        c.client_id.clone(),
                        c.name.clone(),
                        c.client_type.clone(),
                        c.auth_method.clone(),
                        c.grant_types.iter().map(|g| short_grant(g)).collect::<Vec<_>>().join(","),
                        client_status(c).into(),
                    ]);
                }
                t.render()
            })
        }
        ClientsCmd::Get { id } => {
            let c = b.client_get(&id).await?;
            out.show(&c, client_details)
        }
        ClientsCmd::Update(a) => {
            let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
            let c = a.settings;
            let req = ClientUpdateRequest {
                name: a.name,
                auth_method: c.auth_method,
                grant_types: non_empty(c.grants),
                redirect_uris: non_empty(c.redirect_uris),
                post_logout_redirect_uris: non_empty(c.post_logout_redirect_uris),
                allowed_scopes: non_empty(split_scopes(&c.scopes)),
                jwks: c.jwks.as_ref().map(read_jwks).transpose()?.map(Some),
                jwks_uri: c.jwks_uri.map(Some),
                access_token_ttl: c.access_token_ttl,
                refresh_token_ttl: c.refresh_token_ttl,
                refresh_idle_ttl: c.refresh_idle_ttl,
                refresh_grace_secs: c.refresh_grace,
                require_consent: a.require_consent,
                admin_tool: a.admin_tool,
                disabled: a.disabled,
                assertion_aud_compat: c.assertion_aud_compat,
                require_pushed_authorization_requests: c.require_par,
                allowed_origins: if c.derived_origins {
                    Some(None)
                } else {
                    non_empty(c.origins).map(Some)
                },
                dpop_bound_access_tokens: c.dpop_bound,
            };
            if a.admin_tool == Some(true) {
                warn_admin_tool();
            }
            let c = b.client_update(&a.id, req).await?;
            out.show(&c, client_details)
        }
        ClientsCmd::Delete { id } => {
            b.client_delete(&id).await?;
            out.show(
                &serde_json::json!({ "deleted": true, "client_id": id }),
                |_| format!("Deleted client {id} and every session and token it had."),
            )
        }
        ClientsCmd::RotateSecret { id, overlap } => {
            let r = b
                .client_rotate_secret(
                    &id,
                    SecretRotateRequest {
                        overlap_secs: overlap,
                    },
                )
                .await?;
            out.show(&r, |r| {
                format!(
                    "New secret for client {}.\nclient_secret  {}\nShown only this once: store it now. \
                     The previous secrets keep working until {}.\n",
                    r.client_id,
                    r.client_secret,
                    time(r.previous_secrets_expire_at)
                )
            })
        }
        ClientsCmd::Disable { id } => {
            let c = b.client_set_disabled(&id, true).await?;
            out.show(&c, |c| {
                format!("Disabled client {} ({}).", c.client_id, c.name)
            })
        }
        ClientsCmd::Enable { id } => {
            let c = b.client_set_disabled(&id, false).await?;
            out.show(&c, |c| {
                format!("Enabled client {} ({}).", c.client_id, c.name)
            })
        }
        ClientsCmd::Clone {
            id,
            name,
            redirect_uris,
        } => {
            let redirect_uris = (!redirect_uris.is_empty()).then_some(redirect_uris);
            let created = b
                .client_clone(
                    &id,
                    ClientCloneRequest {
                        name,
                        redirect_uris,
                    },
                )
                .await?;
            out.show(&created, |c| created_text(c, "Cloned into"))
        }
    }
}

// --- scopes ----------------------------------------------------------------------------

async fn scopes(b: &dyn AdminBackend, out: &Out, verb: ScopesCmd) -> Result<(), AdminError> {
    match verb {
        ScopesCmd::Create {
            name,
            description,
            claims,
        } => {
            let s = b
                .scope_create(ScopeCreateRequest {
                    name,
                    description,
                    claims,
                })
                .await?;
            out.show(&s, |s| format!("Created scope {}.", s.name))
        }
        ScopesCmd::List => {
            let list = b.scopes_list().await?;
            out.show(&list, |list| {
                let mut t = Table::new(&["NAME", "BUILTIN", "CLAIMS", "DESCRIPTION"]);
                for s in list {
                    t.row(vec![
                        s.name.clone(),
                        if s.builtin { "yes" } else { "no" }.into(),
                        if s.claims.is_empty() {
                            "-".into()
                        } else {
                            s.claims.join(",")
                        },
                        opt(Some(&s.description)),
                    ]);
                }
                t.render()
            })
        }
        ScopesCmd::Delete { name } => {
            b.scope_delete(&name).await?;
            out.show(
                &serde_json::json!({ "deleted": true, "name": name }),
                |_| format!("Deleted scope {name}."),
            )
        }
    }
}

// --- users -----------------------------------------------------------------------------

async fn users(b: &dyn AdminBackend, out: &Out, verb: UsersCmd) -> Result<(), AdminError> {
    match verb {
        UsersCmd::Create {
            username,
            email,
            name,
            admin,
            password_stdin: _,
        } => {
            let password = read_password()?;
            let u = b
                .user_create(UserCreateRequest {
                    username,
                    email,
                    name,
                    password,
                    is_admin: admin,
                })
                .await?;
            out.show(&u, |u| {
                format!("Created user {} (id {}).", u.username, u.id)
            })
        }
        UsersCmd::List => {
            let list = b.users_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No users yet — create one with `latchkey admin users create --username NAME --password-stdin`.".into();
                }
                let mut t = Table::new(&["ID", "USERNAME", "EMAIL", "ADMIN", "STATUS", "CREATED"]);
                for u in list {
                    t.row(vec![
                        u.id.clone(),
                        u.username.clone(),
                        opt(u.email.as_deref()),
                        if u.is_admin { "yes" } else { "no" }.into(),
                        if u.disabled { "disabled" } else { "enabled" }.into(),
                        time(u.created_at),
                    ]);
                }
                t.render()
            })
        }
        UsersCmd::Get { id } => {
            let u = b.user_get(&id).await?;
            out.show(&u, user_details)
        }
        UsersCmd::Update {
            id,
            name,
            email,
            admin,
        } => {
            let u = b
                .user_update(
                    &id,
                    UserUpdateRequest {
                        name,
                        email,
                        is_admin: admin,
                    },
                )
                .await?;
            out.show(&u, user_details)
        }
        UsersCmd::SetPassword {
            id,
            password_stdin,
            generate: _,
            must_change_password,
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let r = b
                .user_password_set(
                    &id,
                    UserPasswordSetRequest {
                        password,
                        must_change_password,
                    },
                )
                .await?;
            out.show(&r, |r| match &r.password {
                Some(p) => format!(
                    "New password of {} (shown once; only its hash is stored):\n{p}\n",
                    r.user.username
                ),
                None => format!("Set the password of {}.", r.user.username),
            })
        }
        UsersCmd::Enable { id } => {
            let u = b.user_enable(&id).await?;
            out.show(&u, |u| {
                format!("Enabled user {} (id {}).", u.username, u.id)
            })
        }
        UsersCmd::Disable { id } => {
            let u = b.user_disable(&id).await?;
            out.show(&u, |u| {
                format!(
                    "Disabled user {} (id {}); all their sessions are revoked.",
                    u.username, u.id
                )
            })
        }
        UsersCmd::Delete { id, dry_run } => {
            let i = b.user_impact_get(&id).await?;
            let cut = format!(
                "{} live session(s), {} refresh famil{}, {} live access token(s)",
                i.sessions,
                i.refresh_families,
                if i.refresh_families == 1 { "y" } else { "ies" },
                i.live_access_tokens
            );
            if dry_run {
                return out.show(&i, |i| {
                    format!(
                        "Deleting user {} (id {}) would end {cut}{}.",
                        i.user.username,
                        i.user.id,
                        if i.last_admin {
                            "; it is refused: they are the last enabled administrator"
                        } else {
                            ""
                        }
                    )
                });
            }
            b.user_delete(&i.user.id).await?;
            out.show(
                &serde_json::json!({ "deleted": true, "user_id": i.user.id, "impact": i }),
                |_| {
                    format!(
                        "Deleted user {} (id {}); ended {cut}.",
                        i.user.username, i.user.id
                    )
                },
            )
        }
    }
}

fn user_details(u: &UserDto) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("id", u.id.clone()),
        ("username", u.username.clone()),
        ("email", opt(u.email.as_deref())),
        ("email_verified", u.email_verified.to_string()),
        ("name", opt(u.name.as_deref())),
        ("admin", u.is_admin.to_string()),
        (
            "status",
            if u.disabled { "disabled" } else { "enabled" }.into(),
        ),
        ("password_changed_at", time(u.password_changed_at)),
        ("created_at", time(u.created_at)),
    ];
    for (k, v) in rows {
        t.row(vec![k.to_string(), v]);
    }
    t.render()
}

// --- settings ------------------------------------------------------------------------------

fn settings_table(s: &SettingsDto) -> String {
    let rows: [(&str, &SettingDto); 58] = [
        ("access_token_ttl", &s.access_token_ttl),
        ("refresh_token_ttl", &s.refresh_token_ttl),
        ("refresh_idle_ttl", &s.refresh_idle_ttl),
        ("code_ttl", &s.code_ttl),
        ("id_token_ttl", &s.id_token_ttl),
        ("device_code_ttl", &s.device_code_ttl),
        ("sign_in_ttl", &s.sign_in_ttl),
        ("rotate_every", &s.rotate_every),
        ("prepublish", &s.prepublish),
        ("retire_after", &s.retire_after),
        ("login_max_failures", &s.login_max_failures),
        ("login_window", &s.login_window),
        ("login_block", &s.login_block),
        ("client_auth_max_failures", &s.client_auth_max_failures),
        ("client_auth_window", &s.client_auth_window),
        ("client_auth_block", &s.client_auth_block),
        ("device_code_max_failures", &s.device_code_max_failures),
        ("device_code_window", &s.device_code_window),
        ("device_code_block", &s.device_code_block),
        ("detect_brute_force_mode", &s.detect_brute_force_mode),
        (
            "detect_brute_force_failures",
            &s.detect_brute_force_failures,
        ),
        ("detect_brute_force_window", &s.detect_brute_force_window),
        (
            "detect_brute_force_severity",
            &s.detect_brute_force_severity,
        ),
        ("detect_spray_mode", &s.detect_spray_mode),
        ("detect_spray_usernames", &s.detect_spray_usernames),
        ("detect_spray_window", &s.detect_spray_window),
        ("detect_spray_severity", &s.detect_spray_severity),
        ("detect_client_guess_mode", &s.detect_client_guess_mode),
        (
            "detect_client_guess_failures",
            &s.detect_client_guess_failures,
        ),
        (
            "detect_client_guess_clients",
            &s.detect_client_guess_clients,
        ),
        ("detect_client_guess_window", &s.detect_client_guess_window),
        (
            "detect_client_guess_severity",
            &s.detect_client_guess_severity,
        ),
        ("detect_block", &s.detect_block),
        ("detect_wave_mode", &s.detect_wave_mode),
        ("detect_wave_min_failures", &s.detect_wave_min_failures),
        ("detect_wave_factor", &s.detect_wave_factor),
        ("detect_baseline_days", &s.detect_baseline_days),
        ("detect_wave_severity", &s.detect_wave_severity),
        ("detect_unfamiliar_mode", &s.detect_unfamiliar_mode),
        ("detect_unfamiliar_history", &s.detect_unfamiliar_history),
        (
            "detect_unfamiliar_min_history",
            &s.detect_unfamiliar_min_history,
        ),
        ("detect_unfamiliar_severity", &s.detect_unfamiliar_severity),
        ("detect_refresh_reuse_mode", &s.detect_refresh_reuse_mode),
        (
            "detect_refresh_reuse_severity",
            &s.detect_refresh_reuse_severity,
        ),
        ("detect_mint_mode", &s.detect_mint_mode),
        ("detect_mint_min_per_minute", &s.detect_mint_min_per_minute),
        ("detect_mint_factor", &s.detect_mint_factor),
        ("detect_mint_severity", &s.detect_mint_severity),
        ("detect_token_replay_mode", &s.detect_token_replay_mode),
        ("detect_token_scan_invalid", &s.detect_token_scan_invalid),
        ("detect_token_scan_window", &s.detect_token_scan_window),
        (
            "detect_token_replay_severity",
            &s.detect_token_replay_severity,
        ),
        ("detect_hygiene_mode", &s.detect_hygiene_mode),
        ("detect_hygiene_secret_age", &s.detect_hygiene_secret_age),
        ("detect_hygiene_severity", &s.detect_hygiene_severity),
        ("retain_sessions", &s.retain_sessions),
        ("retain_signins", &s.retain_signins),
        ("retain_audit", &s.retain_audit),
    ];
    let mut t = Table::new(&["SETTING", "VALUE", "DEFAULT", "SOURCE"]);
    for (name, v) in rows {
        let show = |x: i64| {
            let human = duration(x);
            if name.ends_with("_mode") {
                mode_name(x)
            } else if name.ends_with("_severity") {
                severity_name(x)
            } else if ["_max_failures", "_failures", "_usernames", "_clients"]
                .iter()
                .any(|s| name.ends_with(s))
            {
                x.to_string()
            } else if human == format!("{x} s") {
                human
            } else {
                format!("{human} ({x} s)")
            }
        };
        t.row(vec![
            name.to_string(),
            show(v.value),
            show(v.default),
            v.source.clone(),
        ]);
    }
    let changed = match s.updated_at {
        Some(at) => format!("Last changed {}.", time(at)),
        None => "Every setting is the server's default.".to_string(),
    };
    format!("{}{changed}\n", t.render())
}

/// A detection mode as the settings table shows it.
fn mode_name(x: i64) -> String {
    match x {
        0 => "off".into(),
        1 => "monitor".into(),
        2 => "enforce".into(),
        _ => x.to_string(),
    }
}

/// A detection severity as the settings table shows it.
fn severity_name(x: i64) -> String {
    match x {
        1 => "low".into(),
        2 => "medium".into(),
        3 => "high".into(),
        4 => "critical".into(),
        _ => x.to_string(),
    }
}

async fn settings(b: &dyn AdminBackend, out: &Out, verb: SettingsCmd) -> Result<(), AdminError> {
    let s = match verb {
        SettingsCmd::Get => b.settings_get().await?,
        SettingsCmd::Update(a) => b.settings_update(a.into_request()).await?,
    };
    out.show(&s, settings_table)
}

// --- keys ------------------------------------------------------------------------------

async fn keys(b: &dyn AdminBackend, out: &Out, verb: KeysCmd) -> Result<(), AdminError> {
    match verb {
        KeysCmd::List => {
            let list = b.keys_list().await?;
            out.show(&list, |list| {
                let mut t = Table::new(&[
                    "KID",
                    "ALG",
                    "STATE",
                    "CREATED",
                    "ACTIVATED",
                    "RETIRING",
                    "ENDED",
                ]);
                for k in list {
                    t.row(vec![
                        k.kid.clone(),
                        k.alg.clone(),
                        k.state.clone(),
                        time(k.created_at),
                        opt_time(k.activated_at),
                        opt_time(k.retiring_at),
                        opt_time(k.revoked_at.or(k.retired_at)),
                    ]);
                }
                t.render()
            })
        }
        KeysCmd::Rotate { alg } => {
            let r = b.keys_rotate(KeysRotateRequest { alg }).await?;
            out.show(&r, |r| {
                let mut t = Table::new(&["ALG", "PREVIOUS (RETIRING)", "ACTIVE"]);
                for x in r {
                    t.row(vec![
                        x.alg.clone(),
                        opt(x.previous_kid.as_deref()),
                        x.active_kid.clone(),
                    ]);
                }
                t.render()
            })
        }
        KeysCmd::Schedule => {
            let sch = b.keys_schedule_get().await?;
            out.show(&sch, |sch| {
                let mut t = Table::new(&["ALG", "ACTIVE", "SINCE", "NEXT", "ROTATES AT"]);
                for a in &sch.algorithms {
                    t.row(vec![
                        a.alg.clone(),
                        opt(a.active_kid.as_deref()),
                        opt_time(a.active_since),
                        opt(a.next_kid.as_deref()),
                        opt_time(a.next_rotation_at),
                    ]);
                }
                format!(
                    "Keys sign for {}, successors are published {} ahead, retired keys stay \
                     published {}.\n{}",
                    duration(sch.rotate_every),
                    duration(sch.prepublish),
                    duration(sch.retire_after),
                    t.render()
                )
            })
        }
        KeysCmd::Revoke { kid } => {
            let r = b.key_revoke(&kid).await?;
            out.show(&r, |r| {
                format!(
                    "Revoked {} key {} (was {}); every token it signed is now inactive. \
                     Signing with: {}.",
                    r.alg,
                    r.kid,
                    r.previous_state,
                    opt(r.active_kid.as_deref())
                )
            })
        }
    }
}

// --- sessions --------------------------------------------------------------------------

fn session_details(s: &SessionDto) -> String {
    let mut t = Table::new(&["FIELD", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("id", s.id.clone()),
        ("user", format!("{} ({})", s.username, s.user_id)),
        ("client", format!("{} ({})", s.client_name, s.client_id)),
        ("scopes", s.scopes.join(" ")),
        ("auth_time", time(s.auth_time)),
        ("created_at", time(s.created_at)),
        ("last_used_at", time(s.last_used_at)),
        ("expires_at", time(s.expires_at)),
        ("ip", opt(s.ip.as_deref())),
        ("user_agent", opt(s.user_agent.as_deref())),
        ("revoked_at", opt_time(s.revoked_at)),
        ("revoked_reason", opt(s.revoked_reason.as_deref())),
        ("live_access_tokens", s.live_access_tokens.to_string()),
        ("live_refresh_tokens", s.live_refresh_tokens.to_string()),
    ];
    for (k, v) in rows {
        t.row(vec![k.to_string(), v]);
    }
    t.render()
}

/// What a bulk revoke cut off, or with `--dry-run` would cut off.
fn impact_text(r: &RevokeImpactDto, what: &str) -> String {
    let cut = format!(
        "{} refresh-token famil{} and {} live access token{}",
        r.refresh_families,
        if r.refresh_families == 1 { "y" } else { "ies" },
        r.live_access_tokens,
        if r.live_access_tokens == 1 { "" } else { "s" },
    );
    if r.dry_run {
        format!(
            "Would revoke {} live {what}, cutting off {cut}.",
            r.sessions
        )
    } else if r.sessions == 0 {
        format!("Nothing to revoke: no live {what}.")
    } else {
        format!("Revoked {} live {what}, cutting off {cut}.", r.sessions)
    }
}

async fn sessions(b: &dyn AdminBackend, out: &Out, verb: SessionsCmd) -> Result<(), AdminError> {
    match verb {
        SessionsCmd::List {
            user,
            client,
            ip,
            all,
            state,
            since,
            until,
            sort,
            order,
            limit,
            cursor,
        } => {
            let page = b
                .sessions_list(SessionFilterDto {
                    user,
                    client_id: client,
                    ip,
                    created_from: since,
                    created_to: until,
                    state: if all { Some("any".into()) } else { state },
                    sort,
                    order,
                    limit,
                    cursor,
                })
                .await?;
            out.show(&page, |page| {
                if page.items.is_empty() {
                    return "No live sessions (use --all to include revoked and expired ones)."
                        .into();
                }
                let mut t = Table::new(&[
                    "ID",
                    "USER",
                    "CLIENT",
                    "SCOPES",
                    "SINCE",
                    "LAST USED",
                    "IP",
                    "AT/RT",
                    "STATUS",
                ]);
                for s in &page.items {
                    t.row(vec![
                        s.id.clone(),
                        s.username.clone(),
                        s.client_name.clone(),
                        s.scopes.join(" "),
                        time(s.created_at),
                        time(s.last_used_at),
                        opt(s.ip.as_deref()),
                        format!("{}/{}", s.live_access_tokens, s.live_refresh_tokens),
                        if s.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                        .into(),
                    ]);
                }
                t.render()
            })
        }
        SessionsCmd::Get { id } => {
            let s = b.session_get(&id).await?;
            out.show(&s, session_details)
        }
        SessionsCmd::Revoke {
            id,
            user,
            client,
            ip,
            dry_run,
        } => {
            if let Some(ip) = ip {
                let req = SessionsRevokeRequest {
                    filter: Some(SessionFilterDto {
                        ip: Some(ip.clone()),
                        ..Default::default()
                    }),
                    dry_run,
                    ..Default::default()
                };
                let r = b.sessions_revoke(req).await?;
                return out.show(&r, |r| impact_text(r, &format!("sessions from {ip}")));
            }
            // clap's ArgGroup guarantees exactly one of the four.
            let (req, what) = match (id, user, client) {
                (Some(id), _, _) if !dry_run => {
                    let r = b.session_revoke(&id).await?;
                    return out.show(&r, |r| {
                        if r.revoked == 0 {
                            format!("Nothing to revoke: session {id} had already ended.")
                        } else {
                            format!("Revoked session {id}.")
                        }
                    });
                }
                (Some(id), _, _) => (
                    SessionsRevokeRequest {
                        session_ids: Some(vec![id.clone()]),
                        ..Default::default()
                    },
                    format!("session {id}"),
                ),
                (_, Some(u), _) => (
                    SessionsRevokeRequest {
                        user: Some(u.clone()),
                        ..Default::default()
                    },
                    format!("sessions of user {u}"),
                ),
                (_, _, Some(c)) => (
                    SessionsRevokeRequest {
                        client_id: Some(c.clone()),
                        ..Default::default()
                    },
                    format!("sessions of client {c}"),
                ),
                (None, None, None) => {
                    return Err(AdminError::invalid_input(
                        "say what to revoke: a session id, --user or --client",
                    ))
                }
            };
            let r = b
                .sessions_revoke(SessionsRevokeRequest { dry_run, ..req })
                .await?;
            out.show(&r, |r| impact_text(r, &what))
        }
    }
}

// --- audit -----------------------------------------------------------------------------

async fn audit(b: &dyn AdminBackend, out: &Out, verb: AuditCmd) -> Result<(), AdminError> {
    match verb {
        AuditCmd::List {
            limit,
            cursor,
            filter,
        } => {
            let page = b.audit_list(filter.dto(limit, cursor)).await?;
            out.show(&page, |page| {
                let mut t = Table::new(&["ID", "AT", "ACTOR", "ACTION", "TARGET", "SECURITY"]);
                for e in &page.items {
                    t.row(vec![
                        e.id.to_string(),
                        time(e.at),
                        e.actor.clone(),
                        e.action.clone(),
                        opt(e.target.as_deref()),
                        if e.security { "yes" } else { "" }.into(),
                    ]);
                }
                let mut text = t.render();
                if let Some(c) = &page.next_cursor {
                    text.push_str(&format!("More: --cursor {c}\n"));
                }
                text
            })
        }
        AuditCmd::Export { filter } => {
            // JSON lines whatever --json says: one event per line, the whole log.
            let mut first = filter.dto(1000, None);
            // A log file reads oldest first, and appending later exports keeps it so.
            first.order = first.order.or(Some("asc".into()));
            let mut cursor = None;
            let mut stdout = std::io::stdout().lock();
            loop {
                let page = b
                    .audit_list(AuditFilterDto {
                        cursor: cursor.take(),
                        ..first.clone()
                    })
                    .await?;
                for e in &page.items {
                    let line = serde_json::to_string(e).map_err(|e| {
                        AdminError::new(ErrorCode::Internal, format!("cannot encode JSON: {e}"))
                    })?;
                    if writeln!(stdout, "{line}").is_err() {
                        // A closed pipe (`| head`) ends the export, successfully.
                        return Ok(());
                    }
                }
                match page.next_cursor {
                    Some(c) if !page.items.is_empty() => cursor = Some(c),
                    _ => break,
                }
            }
            let _ = stdout.flush();
            Ok(())
        }
    }
}

// --- admin API keys ----------------------------------------------------------------------

// --- token exchange policies ---------------------------------------------------------------

fn short_token_type(t: &str) -> String {
    t.rsplit(':').next().unwrap_or(t).to_string()
}

fn policy_details(p: &ExchangePolicyDto) -> String {
    let list = |v: &[String], empty: &str| {
        if v.is_empty() {
            empty.to_string()
        } else {
            v.join(" ")
        }
    };
    let mut t = Table::new(&["FIELD", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("id", p.id.clone()),
        (
            "status",
            if p.enabled { "enabled" } else { "disabled" }.into(),
        ),
        ("requester", p.requester_client_id.clone()),
        ("targets", list(&p.targets, "-")),
        ("subject_clients", list(&p.subject_client_ids, "any")),
        ("subject_token_types", list(&p.subject_token_types, "-")),
        (
            "requester_in_subject_aud",
            p.requester_must_be_in_subject_aud.to_string(),
        ),
        ("scopes", list(&p.scopes, "any of the subject's")),
        ("mode", p.mode.clone()),
        ("actors", list(&p.actor_client_ids, "the requester's own")),
        ("max_ttl", duration(p.max_ttl_secs)),
        ("issued_token_types", list(&p.issued_token_types, "-")),
        ("max_act_depth", p.max_act_depth.to_string()),
        ("note", opt(Some(p.note.as_str()))),
        ("created_at", time(p.created_at)),
        ("updated_at", time(p.updated_at)),
    ];
    for (k, v) in rows {
        t.row(vec![k.to_string(), v]);
    }
    t.render()
}

fn read_token_file(path: &std::path::Path) -> Result<String, AdminError> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| AdminError::invalid_input(format!("cannot read stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            AdminError::invalid_input(format!("cannot read {}: {e}", path.display()))
        })?
    };
    Ok(text.trim().to_string())
}

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

fn explain_text(e: &ExchangeExplainDto) -> String {
    let mut s = String::new();
    if e.allowed {
        s.push_str(&format!(
            "Allowed by policy {}: a {} ({}) for {} with scope \"{}\", expiring in {}.\n",
            e.policy_id.as_deref().unwrap_or("-"),
            short_token_type(e.issued_token_type.as_deref().unwrap_or("-")),
            e.token_type.as_deref().unwrap_or("-"),
            e.audience.as_deref().unwrap_or("-"),
            e.scopes.join(" "),
            duration(e.expires_in.unwrap_or(0)),
        ));
        if e.refresh_token {
            s.push_str(
                "A refresh token comes with it (its family ends with the subject's session).\n",
            );
        }
        if let Some(c) = &e.claims {
            s.push_str("claims:\n");
            s.push_str(&serde_json::to_string_pretty(c).unwrap_or_default());
            s.push('\n');
        }
    } else {
        s.push_str(&format!(
            "Refused: /token would answer {} (\"{}\").\nrule    {}\nwhy     {}\n",
            e.error.as_deref().unwrap_or("-"),
            e.error_description.as_deref().unwrap_or(""),
            e.rule.as_deref().unwrap_or("-"),
            e.detail.as_deref().unwrap_or("-"),
        ));
    }
    if let Some(sub) = &e.subject {
        s.push_str(&format!(
            "subject {} ({} of client {}, scope \"{}\")\n",
            sub.sub,
            sub.token_type,
            sub.client_id,
            sub.scopes.join(" ")
        ));
    }
    if let Some(a) = &e.actor {
        s.push_str(&format!("actor   {} (client {})\n", a.sub, a.client_id));
    }
    if !e.policies.is_empty() {
        let mut t = Table::new(&["POLICY", "MATCHED", "RULE", "REASON"]);
        for v in &e.policies {
            t.row(vec![
                v.policy_id.clone(),
                if v.matched { "yes" } else { "no" }.into(),
                opt(v.rule.as_deref()),
                opt(v.reason.as_deref()),
            ]);
        }
        s.push_str(&t.render());
    }
    s
}

async fn exchange_policies(
    b: &dyn AdminBackend,
    out: &Out,
    verb: ExchangePoliciesCmd,
) -> Result<(), AdminError> {
    match verb {
        ExchangePoliciesCmd::Create {
            requester,
            fields: f,
            disabled,
        } => {
            let p = b
                .exchange_policy_create(ExchangePolicyCreateRequest {
                    enabled: disabled.then_some(false),
                    note: f.note,
                    requester_client_id: requester,
                    subject_client_ids: f.subject_clients,
                    subject_token_types: non_empty(f.subject_token_types),
                    requester_must_be_in_subject_aud: f.requester_in_aud,
                    targets: f.targets,
                    scopes: split_scopes(&f.scopes),
                    mode: f.mode,
                    actor_client_ids: f.actors,
                    max_ttl_secs: f.max_ttl,
                    issued_token_types: non_empty(f.issued_token_types),
                    max_act_depth: f.max_act_depth,
                })
                .await?;
            out.show(&p, |p| {
                format!("Created exchange policy {}.\n{}", p.id, policy_details(p))
            })
        }
        ExchangePoliciesCmd::List => {
            let list = b.exchange_policies_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No exchange policies: no client may exchange tokens. Create one \
                            with `latchkey admin exchange-policies create --requester … --target …`."
                        .to_string();
                }
                let mut t = Table::new(&[
                    "ID", "STATUS", "REQUESTER", "TARGETS", "SUBJECTS", "SCOPES", "MODE", "MAX TTL",
                ]);
                for p in list {
                    t.row(vec![
                        p.id.clone(),
                        if p.enabled { "enabled" } else { "disabled" }.into(),
                        p.requester_client_id.clone(),
                        p.targets.join(" "),
                        if p.subject_client_ids.is_empty() {
                            "any".into()
                        } else {
                            p.subject_client_ids.join(" ")
                        },
                        if p.scopes.is_empty() {
                            "subject's".into()
                        } else {
                            p.scopes.join(" ")
                        },
                        p.mode.clone(),
                        duration(p.max_ttl_secs),
                    ]);
                }
                t.render()
            })
        }
        ExchangePoliciesCmd::Get { id } => {
            let p = b.exchange_policy_get(&id).await?;
            out.show(&p, policy_details)
        }
        ExchangePoliciesCmd::Update {
            id,
            requester,
            fields: f,
            enabled,
        } => {
            let p = b
                .exchange_policy_update(
                    &id,
                    ExchangePolicyUpdateRequest {
                        enabled,
                        note: f.note,
                        requester_client_id: requester,
                        subject_client_ids: non_empty(f.subject_clients),
                        subject_token_types: non_empty(f.subject_token_types),
                        requester_must_be_in_subject_aud: f.requester_in_aud,
                        targets: non_empty(f.targets),
                        scopes: non_empty(split_scopes(&f.scopes)),
                        mode: f.mode,
                        actor_client_ids: non_empty(f.actors),
                        max_ttl_secs: f.max_ttl,
                        issued_token_types: non_empty(f.issued_token_types),
                        max_act_depth: f.max_act_depth,
                    },
                )
                .await?;
            out.show(&p, |p| {
                format!("Updated exchange policy {}.\n{}", p.id, policy_details(p))
            })
        }
        ExchangePoliciesCmd::Delete { id } => {
            b.exchange_policy_delete(&id).await?;
            out.show(&serde_json::json!({ "deleted": true, "id": id }), |_| {
                format!("Deleted exchange policy {id}.")
            })
        }
        ExchangePoliciesCmd::Explain {
            requester,
            target,
            subject_token_file,
            actor_token_file,
            subject_token_type,
            actor_token_type,
            scope,
            requested_token_type,
        } => {
            let subject_token = read_token_file(&subject_token_file)?;
            let actor_token = match &actor_token_file {
                Some(f) => Some(read_token_file(f)?),
                None => None,
            };
            // A URI is a resource indicator (RFC 8707), anything else a logical
            // audience (RFC 8693 §2.1); the token endpoint reads them alike.
            let (resource, audience) = if target.contains("://") {
                (Some(target), None)
            } else {
                (None, Some(target))
            };
            let e = b
                .exchange_policy_explain(ExchangeExplainRequest {
                    requester_client_id: requester,
                    subject_token,
                    subject_token_type,
                    actor_token,
                    actor_token_type,
                    audience,
                    resource,
                    scope,
                    requested_token_type,
                })
                .await?;
            out.show(&e, explain_text)
        }
    }
}

async fn api_keys(b: &dyn AdminBackend, out: &Out, verb: ApiKeysCmd) -> Result<(), AdminError> {
    match verb {
        ApiKeysCmd::Create {
            name,
            read_only,
            expires_in,
        } => {
            let k = b
                .api_key_create(ApiKeyCreateRequest {
                    name,
                    read_only,
                    expires_in: match expires_in {
                        Some(KeyLifetime::Secs(s)) => Some(s),
                        _ => None,
                    },
                    never_expires: expires_in == Some(KeyLifetime::Never),
                })
                .await?;
            out.show(&k, |k| {
                format!(
                    "Created {} API key \"{}\" (id {}), expiring {}.\napi_key  {}\n\
                     The key is shown only this once: store it now (send it as \
                     `Authorization: Bearer <key>`, or set LATCHKEY_API_KEY).\n",
                    if k.key.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    },
                    k.key.name,
                    k.key.id,
                    k.key.expires_at.map_or_else(|| "never".into(), time),
                    k.api_key
                )
            })
        }
        ApiKeysCmd::List => {
            let list = b.api_keys_list().await?;
            out.show(&list, |list| {
                let mut t = Table::new(&[
                    "ID",
                    "NAME",
                    "ACCESS",
                    "CREATED",
                    "BY",
                    "EXPIRES",
                    "LAST USED",
                    "STATUS",
                ]);
                for k in list {
                    t.row(vec![
                        k.id.clone(),
                        k.name.clone(),
                        if k.read_only { "read" } else { "write" }.into(),
                        time(k.created_at),
                        k.created_by.clone(),
                        opt_time(k.expires_at),
                        opt_time(k.last_used_at),
                        if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                        .into(),
                    ]);
                }
                t.render()
            })
        }
        ApiKeysCmd::Revoke { id } => {
            let k = b.api_key_revoke(&id).await?;
            out.show(&k, |k| format!("Revoked API key {} ({}).", k.id, k.name))
        }
    }
}

// --- statistics ----------------------------------------------------------------------------

async fn stats(b: &dyn AdminBackend, out: &Out, minutes: i64) -> Result<(), AdminError> {
    let st = b
        .stats_get(StatsRequest {
            minutes: Some(minutes),
        })
        .await?;
    out.show(&st, |st| {
        let issued: i64 = st.tokens_per_minute.iter().map(|c| c.count).sum();
        let mut text = format!(
            "Last {} min: {issued} tokens issued, {} failed authentications.\n\
             Now: {} active sessions, {} clients, {} users.\n",
            st.window_minutes, st.failed_authentications, st.active_sessions, st.clients, st.users
        );
        let mut by: std::collections::BTreeMap<(&str, &str), i64> = Default::default();
        for c in &st.tokens_per_minute {
            *by.entry((c.grant_type.as_str(), c.client_id.as_str()))
                .or_default() += c.count;
        }
        if !by.is_empty() {
            let mut t = Table::new(&["GRANT", "CLIENT", "TOKENS"]);
            for ((g, c), n) in by {
                t.row(vec![
                    short_grant(g).to_string(),
                    c.to_string(),
                    n.to_string(),
                ]);
            }
            text.push_str(&t.render());
        }
        if !st.security_events.is_empty() {
            let mut t = Table::new(&["SECURITY EVENT", "COUNT"]);
            for e in &st.security_events {
                t.row(vec![e.action.clone(), e.count.to_string()]);
            }
            text.push_str(&t.render());
        }
        text
    })
}

// --- findings and blocks ------------------------------------------------------------------

fn finding_text(f: &FindingDto) -> String {
    let mut out = format!(
        "finding   {}\nrule      {}\nseverity  {}\nsubject   {} {}\ncount     {}\n\
         seen      {} → {}\nraised    {}\naction    {}\nstatus    {}",
        f.id,
        f.rule,
        f.severity,
        f.subject_kind,
        f.subject,
        f.count,
        time(f.first_seen),
        time(f.last_seen),
        time(f.raised_at),
        f.action,
        f.status,
    );
    if let (Some(by), Some(at)) = (&f.acknowledged_by, f.acknowledged_at) {
        out.push_str(&format!(" by {by} at {}", time(at)));
    }
    out.push_str(&format!("\nevidence  {}\n", f.evidence));
    out
}

async fn findings(b: &dyn AdminBackend, out: &Out, verb: FindingsCmd) -> Result<(), AdminError> {
    match verb {
        FindingsCmd::List {
            severity,
            rule,
            limit,
        } => {
            let list = b
                .findings_list(FindingFilterDto {
                    severity,
                    rule,
                    limit,
                })
                .await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No findings.\n".to_string();
                }
                let mut t = Table::new(&[
                    "ID", "RAISED", "SEVERITY", "RULE", "SUBJECT", "COUNT", "ACTION", "STATUS",
                ]);
                for f in list {
                    t.row(vec![
                        f.id.clone(),
                        time(f.raised_at),
                        f.severity.clone(),
                        f.rule.clone(),
                        format!("{} {}", f.subject_kind, f.subject),
                        f.count.to_string(),
                        f.action.clone(),
                        f.status.clone(),
                    ]);
                }
                t.render()
            })
        }
        FindingsCmd::Get { id } => {
            let f = b.finding_get(&id).await?;
            out.show(&f, finding_text)
        }
        FindingsCmd::Ack { id } => {
            let f = b.finding_ack(&id).await?;
            out.show(&f, |f| {
                format!(
                    "Acknowledged finding {} ({} {} {}).\n",
                    f.id, f.rule, f.subject_kind, f.subject
                )
            })
        }
    }
}

async fn blocks(b: &dyn AdminBackend, out: &Out, verb: BlocksCmd) -> Result<(), AdminError> {
    match verb {
        BlocksCmd::List => {
            let list = b.blocks_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No blocks.\n".to_string();
                }
                let mut t = Table::new(&["ADDRESS", "WHO", "EXPIRES", "REASON", "BY", "CREATED"]);
                for x in list {
                    t.row(vec![
                        x.address.clone(),
                        x.principal.clone().unwrap_or_else(|| "everyone".into()),
                        x.expires_at.map_or_else(|| "when removed".into(), time),
                        x.reason.clone(),
                        x.created_by.clone(),
                        time(x.created_at),
                    ]);
                }
                t.render()
            })
        }
        BlocksCmd::Add {
            address,
            for_,
            reason,
        } => {
            let x = b
                .block_add(BlockAddRequest {
                    address,
                    expires_in: for_,
                    reason,
                })
                .await?;
            out.show(&x, |x| {
                format!(
                    "Blocked {} {}.\n",
                    x.address,
                    x.expires_at
                        .map_or_else(|| "until removed".into(), |e| format!("until {}", time(e)))
                )
            })
        }
        BlocksCmd::Remove { address } => {
            b.block_remove(BlockRemoveRequest {
                address: address.clone(),
            })
            .await?;
            out.show(
                &serde_json::json!({ "removed": true, "address": address }),
                |_| format!("Unblocked {address}.\n"),
            )
        }
    }
}

async fn security(b: &dyn AdminBackend, out: &Out, verb: SecurityCmd) -> Result<(), AdminError> {
    match verb {
        SecurityCmd::Profile {
            kind,
            subject,
            since,
        } => {
            let p = b
                .security_profile_get(SecurityProfileQuery {
                    kind,
                    subject,
                    since,
                })
                .await?;
            out.show(&p, |p| {
                let seen = |t: Option<i64>| t.map_or_else(|| "-".into(), time);
                let mut s = format!(
                    "{} {} since {}\n  failures {}, successes {}, distinct users {}, distinct addresses {}\n  first seen {}, last seen {}\n",
                    p.kind,
                    p.subject,
                    time(p.since),
                    p.failures,
                    p.successes,
                    p.distinct_users,
                    p.distinct_addresses,
                    seen(p.first_seen),
                    seen(p.last_seen),
                );
                if p.truncated {
                    s.push_str("  (only the most recent activity was read: the counts are at least these)\n");
                }
                for x in &p.blocks {
                    s.push_str(&format!(
                        "  blocked: {} {} {}\n",
                        x.address,
                        x.principal.clone().unwrap_or_else(|| "everyone".into()),
                        x.expires_at
                            .map_or_else(|| "until removed".into(), |e| format!("until {}", time(e)))
                    ));
                }
                for f in &p.findings {
                    s.push_str(&format!(
                        "  finding {}: {} ({}), {}\n",
                        f.id, f.rule, f.severity, f.status
                    ));
                }
                if !p.timeline.is_empty() {
                    let mut t = Table::new(&["AT", "WHAT", "USER", "ADDRESS", "CLIENT"]);
                    for e in &p.timeline {
                        t.row(vec![
                            time(e.at),
                            e.what.clone(),
                            e.user.clone().unwrap_or_default(),
                            e.address.clone().unwrap_or_default(),
                            e.client.clone().unwrap_or_default(),
                        ]);
                    }
                    s.push_str(&t.render());
                }
                s
            })
        }
    }
}

fn webhook_text(w: &WebhookDto) -> String {
    let all = |l: &[String], what: &str| {
        if l.is_empty() {
            format!("every {what}")
        } else {
            l.join(", ")
        }
    };
    let mut out = format!(
        "id        {}\nname      {}\nurl       {}\nenabled   {}\nsends     {}; {}\npending   {}\n",
        w.id,
        w.name,
        w.url,
        if w.enabled { "yes" } else { "no" },
        all(&w.severities, "severity"),
        all(&w.rules, "rule"),
        w.pending
    );
    out.push_str(&format!(
        "success   {}\n",
        w.last_success_at.map_or_else(|| "never".into(), time)
    ));
    if let Some(at) = w.last_failure_at {
        out.push_str(&format!(
            "failure   {} ({}), {} in a row\n",
            time(at),
            w.last_failure_reason.as_deref().unwrap_or("?"),
            w.consecutive_failures
        ));
    }
    out
}

async fn registration_tokens(
    b: &dyn AdminBackend,
    out: &Out,
    verb: RegistrationTokensCmd,
) -> Result<(), AdminError> {
    match verb {
        RegistrationTokensCmd::Create {
            grants,
            scopes,
            redirect_uri_prefixes,
            expires_in,
            uses,
        } => {
            let t = b
                .registration_token_create(RegistrationTokenCreateRequest {
                    grant_types: grants,
                    scopes: split_scopes(&scopes),
                    redirect_uri_prefixes,
                    expires_in,
                    uses,
                })
                .await?;
            out.show(&t, |t| {
                let r = &t.registration_token;
                format!(
                    "Initial access token {} (expires {}).\ntoken  {}\nShown only this once: \
                     hand it to whoever registers, as `Authorization: Bearer <token>` on \
                     POST /register.\ngrants  {}\nscopes  {}\nredirect URI prefixes  {}\nuses  {}\n",
                    r.id,
                    time(r.expires_at),
                    t.token,
                    r.grant_types.join(" "),
                    r.scopes.join(" "),
                    if r.redirect_uri_prefixes.is_empty() {
                        "any".to_string()
                    } else {
                        r.redirect_uri_prefixes.join(" ")
                    },
                    r.uses_left.map_or_else(|| "unlimited".to_string(), |n| n.to_string()),
                )
            })
        }
        RegistrationTokensCmd::List => {
            let list = b.registration_tokens_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No initial access tokens. Make one with `latchkey admin \
                            registration-tokens create`.\n"
                        .to_string();
                }
                let mut t = Table::new(&[
                    "ID",
                    "GRANTS",
                    "SCOPES",
                    "PREFIXES",
                    "USES LEFT",
                    "REGISTERED",
                    "EXPIRES",
                    "STATUS",
                ]);
                for r in list {
                    t.row(vec![
                        r.id.clone(),
                        r.grant_types
                            .iter()
                            .map(|g| short_grant(g))
                            .collect::<Vec<_>>()
                            .join(","),
                        r.scopes.join(" "),
                        if r.redirect_uri_prefixes.is_empty() {
                            "any".into()
                        } else {
                            r.redirect_uri_prefixes.join(" ")
                        },
                        r.uses_left
                            .map_or_else(|| "unlimited".into(), |n| n.to_string()),
                        r.registered.to_string(),
                        time(r.expires_at),
                        if r.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                        .into(),
                    ]);
                }
                t.render()
            })
        }
        RegistrationTokensCmd::Revoke { id } => {
            b.registration_token_revoke(&id).await?;
            out.show(&serde_json::json!({ "revoked": true, "id": id }), |_| {
                format!("Revoked initial access token {id}: no further registration with it.\n")
            })
        }
    }
}

async fn webhooks(b: &dyn AdminBackend, out: &Out, verb: WebhooksCmd) -> Result<(), AdminError> {
    match verb {
        WebhooksCmd::List => {
            let list = b.webhooks_list().await?;
            out.show(&list, |list| {
                if list.is_empty() {
                    return "No webhooks. Register one with `latchkey admin webhooks create --name N --url https://…`.\n".to_string();
                }
                let mut t = Table::new(&[
                    "ID", "NAME", "URL", "ENABLED", "PENDING", "LAST SUCCESS", "FAILURES",
                ]);
                for w in list {
                    t.row(vec![
                        w.id.clone(),
                        w.name.clone(),
                        w.url.clone(),
                        if w.enabled { "yes" } else { "no" }.into(),
                        w.pending.to_string(),
                        w.last_success_at.map_or_else(|| "never".into(), time),
                        w.consecutive_failures.to_string(),
                    ]);
                }
                t.render()
            })
        }
        WebhooksCmd::Create {
            name,
            url,
            severities,
            rules,
            disabled,
        } => {
            let w = b
                .webhook_create(WebhookCreateRequest {
                    name,
                    url,
                    severities,
                    rules,
                    enabled: Some(!disabled),
                })
                .await?;
            out.show(&w, |w| {
                format!(
                    "Registered webhook \"{}\" (id {}).\nsecret  {}\nThe secret is shown only \
                     this once: store it now. Verify each request's webhook-signature \
                     (v1,<base64 HMAC-SHA256 of \"webhook-id.webhook-timestamp.body\">) with it.\n",
                    w.webhook.name, w.webhook.id, w.secret
                )
            })
        }
        WebhooksCmd::Get { id } => {
            let w = b.webhook_get(&id).await?;
            out.show(&w, webhook_text)
        }
        WebhooksCmd::Update {
            id,
            name,
            url,
            severities,
            all_severities,
            rules,
            all_rules,
            enable,
            disable,
        } => {
            let list = |all: bool, l: Vec<String>| {
                if all {
                    Some(Vec::new())
                } else if l.is_empty() {
                    None
                } else {
                    Some(l)
                }
            };
            let w = b
                .webhook_update(
                    &id,
                    WebhookUpdateRequest {
                        name,
                        url,
                        severities: list(all_severities, severities),
                        rules: list(all_rules, rules),
                        enabled: if enable {
                            Some(true)
                        } else if disable {
                            Some(false)
                        } else {
                            None
                        },
                    },
                )
                .await?;
            out.show(&w, webhook_text)
        }
        WebhooksCmd::Delete { id } => {
            b.webhook_delete(&id).await?;
            out.show(&serde_json::json!({ "deleted": true, "id": id }), |_| {
                format!("Deleted webhook {id}.\n")
            })
        }
        WebhooksCmd::Test { id } => {
            let r = b.webhook_test(&id).await?;
            out.show(&r, |r| {
                if r.delivered {
                    format!(
                        "Delivered: the endpoint answered {}.\n",
                        r.status.map_or_else(|| "?".into(), |s| s.to_string())
                    )
                } else {
                    format!(
                        "Not delivered: {}.\n",
                        r.error.as_deref().unwrap_or("unknown error")
                    )
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_may_be_given_space_or_comma_separated() {
        assert_eq!(
            split_scopes(&["openid profile".into(), "email,api:read".into()]),
            vec!["openid", "profile", "email", "api:read"]
        );
    }

    #[test]
    fn durations_take_a_unit_and_times_take_dates_seconds_or_durations_ago() {
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
        assert_eq!(parse_when("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_when("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert_eq!(parse_when("2000-02-29"), Ok(951_782_400));
        assert_eq!(parse_when("2000-03-01 00:00"), Ok(951_868_800));
        assert!(parse_when("2000-13-01").is_err());
        assert!(parse_when("yesterday").is_err());
        let ago = parse_when("1h").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - 3600 - ago).abs() <= 2);
    }

    #[test]
    fn device_code_is_accepted_as_a_shorthand_for_its_urn() {
        assert_eq!(
            parse_grant("device_code").unwrap(),
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert!(parse_grant("password").is_err());
        assert!(parse_grant("implicit").is_err());
    }
}
