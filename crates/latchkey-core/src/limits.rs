//! The bounds and defaults of what can be registered and configured: name and URI
//! lengths, token lifetimes, list sizes, API key lifetimes.
//!
//! Owns numbers only, so the settings table, the engine and the admin operations can all
//! read them without depending on one another.

pub const CLIENT_NAME_MAX: usize = 200;
pub const SCOPE_DESCRIPTION_MAX: usize = 500;
pub const REDIRECT_URI_MAX: usize = 2000;
pub const JWKS_MAX: usize = 64 * 1024;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
/// Bounds the work argon2 is asked to do on attacker-sized input.
pub const PASSWORD_MAX: usize = 1024;

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 600;
/// Access tokens are checked for revocation only at introspection and userinfo; a
/// resource server that just verifies signatures sees a revocation when the token
/// expires, so their lifetime is capped (design.md, "What revoke means").
pub const MAX_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
pub const MAX_REFRESH_TOKEN_TTL: i64 = 365 * 24 * 3600;
pub const DEFAULT_REFRESH_IDLE_TTL: i64 = 7 * 24 * 3600;
pub const MIN_REFRESH_TTL: i64 = 60;
/// A browser app's refresh token lives in page storage, where script injected into the
/// page can read it: by default it dies after a day unused (issue 15; rotation on every
/// use is the rule for every client).
pub const BROWSER_REFRESH_IDLE_TTL: i64 = 24 * 3600;
pub const MAX_REFRESH_GRACE_SECS: i64 = 30;
pub const DEFAULT_SECRET_OVERLAP: i64 = 24 * 3600;
pub const MAX_SECRET_OVERLAP: i64 = 30 * 24 * 3600;
pub const DEFAULT_LIST_LIMIT: i64 = 100;
pub const MAX_LIST_LIMIT: i64 = 1000;

/// The JWKS `max-age` a server uses unless configured otherwise.
pub const DEFAULT_JWKS_MAX_AGE: i64 = 300;

/// Every admin API key starts with this, so a bearer value can be told from a JWT.
pub const API_KEY_PREFIX: &str = "lk_";
pub const API_KEY_NAME_MAX: usize = 100;
/// Longest lifetime an API key may be given: automation keys should be rotated.
pub const API_KEY_MAX_TTL: i64 = 2 * 366 * 24 * 3600;
/// Lifetime of an API key created without one: keys expire unless `never` is asked for.
pub const API_KEY_DEFAULT_TTL: i64 = 90 * 86_400;

/// Token exchange (RFC 8693): the default longest `act` chain an exchanged token may
/// carry, and the ceiling no policy may exceed.
pub const DEFAULT_MAX_ACT_DEPTH: i64 = 3;
pub const MAX_ACT_DEPTH: i64 = 10;
/// The default and greatest lifetime cap of a policy; a token never outlives its
/// subject whatever the cap.
pub const DEFAULT_EXCHANGE_TTL: i64 = 300;
pub const MAX_EXCHANGE_TTL: i64 = MAX_ACCESS_TOKEN_TTL;
pub const EXCHANGE_NOTE_MAX: usize = 500;
pub const EXCHANGE_LIST_MAX: usize = 50;
