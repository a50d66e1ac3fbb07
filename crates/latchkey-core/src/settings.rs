//! Runtime server settings: token lifetimes, the key rotation policy and the
//! brute-force limits, which an administrator may change while servers run.
//!
//! Owns: the one list of settings (name, group, bounds), the effective value of each
//! (an admin-set value, else the server's configured default) and the rules that tie
//! them together. The store keeps only the admin-set values, by name, so a server whose
//! configured defaults change picks them up for every field nobody has set.
//!
//! Does not own: where the values are applied (the engine reads them through
//! `Provider::settings`, the server's limiters through it too) or validation against
//! other stored data (the admin operation `settings_update`).

use crate::keys::RotationPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which part of the console form a setting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingGroup {
    TokenLifetimes,
    KeyRotation,
    RateLimits,
    /// Anomaly detections (issue 14): modes, thresholds, severities.
    Detections,
    /// How long ended sessions, sign-ins and the audit log are kept (issue 16).
    Retention,
}

/// One setting: its wire name and the range an administrator may set it to.
#[derive(Debug, Clone, Copy)]
pub struct SettingField {
    pub name: &'static str,
    pub group: SettingGroup,
    pub min: i64,
    pub max: i64,
    get: fn(&ServerSettings) -> i64,
    set: fn(&mut ServerSettings, i64),
}

impl SettingField {
    pub fn get(&self, s: &ServerSettings) -> i64 {
        (self.get)(s)
    }
    pub fn set(&self, s: &mut ServerSettings, v: i64) {
        (self.set)(s, v)
    }
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// Detection modes, as the settings store them.
pub const OFF: i64 = 0;
pub const MONITOR: i64 = 1;
pub const ENFORCE: i64 = 2;

macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $field:ident: $group:ident, $min:expr, $max:expr; )*) => {
        /// The value of every setting, in seconds (lifetimes, windows, blocks) or counts
        /// (failures). Used both for the configured defaults and the effective values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub struct ServerSettings {
            $( $(#[doc = $doc])* pub $field: i64, )*
        }

        /// Every setting, in the order the console shows them.
        pub const FIELDS: &[SettingField] = &[
            $( SettingField {
                name: stringify!($field),
                group: SettingGroup::$group,
                min: $min,
                max: $max,
                get: |s| s.$field,
                set: |s, v| s.$field = v,
            }, )*
        ];
    };
}

settings! {
    /// Access-token lifetime given to new clients.
    access_token_ttl: TokenLifetimes, 1, crate::limits::MAX_ACCESS_TOKEN_TTL;
    /// Absolute refresh-token (session) lifetime given to new clients.
    refresh_token_ttl: TokenLifetimes, crate::limits::MIN_REFRESH_TTL, crate::limits::MAX_REFRESH_TOKEN_TTL;
    /// Refresh-token idle lifetime given to new clients (≤ `refresh_token_ttl`).
    refresh_idle_ttl: TokenLifetimes, crate::limits::MIN_REFRESH_TTL, crate::limits::MAX_REFRESH_TOKEN_TTL;
    /// Authorization codes: RFC 6749 §4.1.2 recommends at most 10 minutes.
    code_ttl: TokenLifetimes, 10, 10 * MINUTE;
    id_token_ttl: TokenLifetimes, MINUTE, DAY;
    /// Device codes (RFC 8628 §3.2 `expires_in`).
    device_code_ttl: TokenLifetimes, MINUTE, HOUR;
    /// How long a browser sign-in (the SSO cookie) lasts.
    sign_in_ttl: TokenLifetimes, MINUTE, 30 * DAY;
    /// How long a key signs before the scheduled rotation replaces it.
    rotate_every: KeyRotation, HOUR, 365 * DAY;
    /// How long a successor is published before it signs (≥ the JWKS max-age).
    prepublish: KeyRotation, 0, 30 * DAY;
    /// How long a key stays published after it stops signing (≥ the longest token
    /// lifetime + the JWKS max-age).
    retire_after: KeyRotation, 0, 365 * DAY;
    login_max_failures: RateLimits, 1, 1000;
    login_window: RateLimits, 1, DAY;
    login_block: RateLimits, 1, DAY;
    client_auth_max_failures: RateLimits, 1, 1000;
    client_auth_window: RateLimits, 1, DAY;
    client_auth_block: RateLimits, 1, DAY;
    device_code_max_failures: RateLimits, 1, 1000;
    device_code_window: RateLimits, 1, DAY;
    device_code_block: RateLimits, 1, DAY;
    /// Detection `brute_force` (one account from one address): 0 off, 1 monitor, 2 enforce.
    detect_brute_force_mode: Detections, 0, 2;
    /// Consecutive failed sign-ins of one account from one address that raise `brute_force`.
    detect_brute_force_failures: Detections, 2, 1000;
    /// Window of `brute_force` (seconds).
    detect_brute_force_window: Detections, MINUTE, DAY;
    /// Severity of `brute_force`: 1 low, 2 medium, 3 high, 4 critical.
    detect_brute_force_severity: Detections, 1, 4;
    /// Detection `spray` (many accounts from one address or IPv6 /64): 0 off, 1 monitor, 2 enforce.
    detect_spray_mode: Detections, 0, 2;
    /// Distinct usernames failing from one address or /64 that raise `spray`.
    detect_spray_usernames: Detections, 2, 1000;
    /// Window of `spray` (seconds); a success from the address within it after the finding is `spray_success` (critical).
    detect_spray_window: Detections, MINUTE, DAY;
    /// Severity of `spray`: 1 low, 2 medium, 3 high, 4 critical.
    detect_spray_severity: Detections, 1, 4;
    /// Detection `client_guess` (client secret guessing): 0 off, 1 monitor, 2 enforce.
    detect_client_guess_mode: Detections, 0, 2;
    /// Failed client authentications of one client id that raise `client_guess`.
    detect_client_guess_failures: Detections, 2, 1000;
    /// Distinct client ids one address fails for that raise `client_guess`.
    detect_client_guess_clients: Detections, 2, 100;
    /// Window of `client_guess` (seconds).
    detect_client_guess_window: Detections, MINUTE, DAY;
    /// Severity of `client_guess`: 1 low, 2 medium, 3 high, 4 critical.
    detect_client_guess_severity: Detections, 1, 4;
    /// How long an enforce-mode block lasts (seconds).
    detect_block: Detections, MINUTE, 30 * DAY;
    /// Detection `wave` (server-wide failed sign-ins far above the hour's baseline): 0 off, 1 monitor, 2 enforce (alerts only either way).
    detect_wave_mode: Detections, 0, 2;
    /// Failed sign-ins in the last hour below which `wave` never fires, whatever the baseline.
    detect_wave_min_failures: Detections, 2, 1_000_000;
    /// How many times the baseline (the median of the same hour on the previous days) the last hour must exceed.
    detect_wave_factor: Detections, 2, 100;
    /// Previous days the `wave` and `mint_spike` baselines read.
    detect_baseline_days: Detections, 1, 28;
    /// Severity of `wave`: 1 low, 2 medium, 3 high, 4 critical.
    detect_wave_severity: Detections, 1, 4;
    /// Detection `unfamiliar_sign_in`: 0 off, 1 monitor, 2 enforce (a browser sign-in presented from an unfamiliar network and browser asks for the password again).
    detect_unfamiliar_mode: Detections, 0, 2;
    /// How many of the user's latest successful sign-ins count as familiar.
    detect_unfamiliar_history: Detections, 2, 100;
    /// Successful sign-ins a user needs before any can be unfamiliar (learning).
    detect_unfamiliar_min_history: Detections, 1, 100;
    /// Severity of `unfamiliar_sign_in`: 1 low, 2 medium, 3 high, 4 critical.
    detect_unfamiliar_severity: Detections, 1, 4;
    /// Detection `refresh_reuse` (a spent refresh token replayed): 0 off, 1 monitor, 2 enforce (likely theft revokes every session of the user).
    detect_refresh_reuse_mode: Detections, 0, 2;
    /// Severity of `refresh_reuse`; a replay tagged likely theft is one step higher.
    detect_refresh_reuse_severity: Detections, 1, 4;
    /// Detection `mint_spike` (a client's tokens per minute far above its own baseline, or a grant type or scope it never used): 0 off, 1 monitor, 2 enforce (alerts only either way).
    detect_mint_mode: Detections, 0, 2;
    /// Tokens in one minute below which `mint_spike` never fires for a client.
    detect_mint_min_per_minute: Detections, 2, 1_000_000;
    /// How many times the client's busiest minute of the baseline days its last minute must exceed.
    detect_mint_factor: Detections, 2, 100;
    /// Severity of `mint_spike`: 1 low, 2 medium, 3 high, 4 critical.
    detect_mint_severity: Detections, 1, 4;
    /// Detection `revoked_token_replay` and `token_scan` (introspection and userinfo): 0 off, 1 monitor, 2 enforce (a scanning address is blocked there).
    detect_token_replay_mode: Detections, 0, 2;
    /// Unknown or invalid tokens one caller presents within the window that raise `token_scan`.
    detect_token_scan_invalid: Detections, 2, 10_000;
    /// Window of `token_scan` (seconds).
    detect_token_scan_window: Detections, MINUTE, DAY;
    /// Severity of `revoked_token_replay` and `token_scan`: 1 low, 2 medium, 3 high, 4 critical.
    detect_token_replay_severity: Detections, 1, 4;
    /// Detection `hygiene` (daily: old client secrets, overdue key rotation, keys past their schedule): 0 off, 1 monitor, 2 enforce (alerts only either way).
    detect_hygiene_mode: Detections, 0, 2;
    /// Age past which a client secret is reported (seconds).
    detect_hygiene_secret_age: Detections, DAY, 3650 * DAY;
    /// Severity of `hygiene`: 1 low, 2 medium, 3 high, 4 critical.
    detect_hygiene_severity: Detections, 1, 4;
    /// How long a session is kept after it was revoked or expired (seconds), then deleted with its tokens. At least a day, longer than any access token lives, so no deletion can make a token active again.
    retain_sessions: Retention, DAY, 3650 * DAY;
    /// How long a browser sign-in is kept after it ended or expired (seconds).
    retain_signins: Retention, DAY, 3650 * DAY;
    /// How long audit events and per-minute issuance counts are kept (seconds). At least a week; keep it above `detect_baseline_days`, whose baselines read that history.
    retain_audit: Retention, 7 * DAY, 3650 * DAY;
}

impl Default for ServerSettings {
    /// The built-in defaults, which a server's configuration may change.
    fn default() -> Self {
        let rotation = RotationPolicy::default();
        Self {
            access_token_ttl: crate::limits::DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: crate::limits::DEFAULT_REFRESH_TOKEN_TTL,
            refresh_idle_ttl: crate::limits::DEFAULT_REFRESH_IDLE_TTL,
            code_ttl: 60,
            id_token_ttl: 600,
            device_code_ttl: 600,
            sign_in_ttl: 8 * HOUR,
            rotate_every: rotation.rotate_every,
            prepublish: rotation.prepublish,
            retire_after: rotation.retire_after,
            // HD-09: 10 wrong passwords per IP or account in 5 minutes.
            login_max_failures: 10,
            login_window: 5 * MINUTE,
            login_block: 30,
            // 20 failed client authentications per IP or client in a minute.
            client_auth_max_failures: 20,
            client_auth_window: MINUTE,
            client_auth_block: 30,
            // DV-07: 5 wrong user codes per IP or browser in a minute; the 6th is refused.
            device_code_max_failures: 5,
            device_code_window: MINUTE,
            device_code_block: MINUTE,
            // Anomaly detections (issue 14; numbers from shared/notes/wave2-reference.md
            // §B). Every mode starts at monitor: an automatic block is written to the
            // shared store and holds on every node, so an administrator turns enforce on
            // after seeing what the findings would have blocked.
            // brute_force: 10 consecutive failures per (account, address) in 15 min —
            // Auth0 brute-force protection's example `max_attempts` 10, counted per
            // identifier *and* IP (the mode that avoids Keycloak's lockout DoS).
            detect_brute_force_mode: MONITOR,
            detect_brute_force_failures: 10,
            detect_brute_force_window: 15 * MINUTE,
            detect_brute_force_severity: 2,
            // spray: 10 distinct usernames failing from one address (or /64) in 10 min
            // (reference D2; Auth0 suspicious-IP throttling allows 100 failures/day/IP).
            detect_spray_mode: MONITOR,
            detect_spray_usernames: 10,
            detect_spray_window: 10 * MINUTE,
            detect_spray_severity: 3,
            // client_guess: 5 failed client authentications of one client in 5 min, or
            // one address failing for 3 client ids (reference D7, after Entra's
            // workload-identity detections).
            detect_client_guess_mode: MONITOR,
            detect_client_guess_failures: 5,
            detect_client_guess_clients: 3,
            detect_client_guess_window: 5 * MINUTE,
            detect_client_guess_severity: 3,
            // 15 min: Keycloak's maximum brute-force wait.
            detect_block: 15 * MINUTE,
            // wave: more than max(50, 5 × the median of the same hour over the previous
            // 7 days) failed sign-ins in the last hour (reference D3, after Auth0
            // Security Center's hourly view). Alerts only.
            detect_wave_mode: MONITOR,
            detect_wave_min_failures: 50,
            detect_wave_factor: 5,
            detect_baseline_days: 7,
            detect_wave_severity: 3,
            // unfamiliar_sign_in: network (/24, IPv6 /64) and browser family absent from
            // the user's last 20 successes (Okta's window 20), once the user has 5
            // (reference D4, after Entra's learning period). Low: it is information.
            detect_unfamiliar_mode: MONITOR,
            detect_unfamiliar_history: 20,
            detect_unfamiliar_min_history: 5,
            detect_unfamiliar_severity: 1,
            // refresh_reuse: every replay is reported (RFC 9700 §4.14.2 already revokes
            // the family); reference D6 rates it high.
            detect_refresh_reuse_mode: MONITOR,
            detect_refresh_reuse_severity: 3,
            // mint_spike: a minute above max(100, 3 × the client's busiest minute of the
            // previous 7 days) (reference D8: 3 × p99 of the same hour; the busiest
            // minute is the stricter baseline, so fewer false alarms). Alerts only.
            detect_mint_mode: MONITOR,
            detect_mint_min_per_minute: 100,
            detect_mint_factor: 3,
            detect_mint_severity: 2,
            // token_scan: 50 unknown or invalid tokens from one caller in 5 min
            // (reference D9, RFC 7662 §4).
            detect_token_replay_mode: MONITOR,
            detect_token_scan_invalid: 50,
            detect_token_scan_window: 5 * MINUTE,
            detect_token_replay_severity: 3,
            // hygiene: client secrets older than 90 days (reference D10). Alerts only.
            detect_hygiene_mode: MONITOR,
            detect_hygiene_secret_age: 90 * DAY,
            detect_hygiene_severity: 1,
            // Retention (issue 16): ended sessions a month (the console's history of
            // who signed in where), sign-ins three months (the unfamiliar-sign-in
            // detection's history), the audit log a year.
            retain_sessions: 30 * DAY,
            retain_signins: 90 * DAY,
            retain_audit: 365 * DAY,
        }
    }
}

/// One brute-force limit: past `max_failures` in `window` seconds, a key is blocked
/// for `block` seconds (doubling on each further block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    pub max_failures: i64,
    pub window: i64,
    pub block: i64,
}

impl ServerSettings {
    pub fn field(name: &str) -> Option<&'static SettingField> {
        FIELDS.iter().find(|f| f.name == name)
    }

    /// `defaults` with the admin-set `values` laid over them. Names this build does not
    /// know (written by a newer one) are ignored.
    pub fn effective(defaults: &ServerSettings, values: &BTreeMap<String, i64>) -> Self {
        let mut s = *defaults;
        for (name, v) in values {
            if let Some(f) = Self::field(name) {
                f.set(&mut s, *v);
            }
        }
        s
    }

    pub fn rotation(&self) -> RotationPolicy {
        RotationPolicy {
            rotate_every: self.rotate_every,
            prepublish: self.prepublish,
            retire_after: self.retire_after,
        }
    }

    pub fn login_limit(&self) -> LimitRule {
        LimitRule {
            max_failures: self.login_max_failures,
            window: self.login_window,
            block: self.login_block,
        }
    }

    pub fn client_auth_limit(&self) -> LimitRule {
        LimitRule {
            max_failures: self.client_auth_max_failures,
            window: self.client_auth_window,
            block: self.client_auth_block,
        }
    }

    pub fn device_code_limit(&self) -> LimitRule {
        LimitRule {
            max_failures: self.device_code_max_failures,
            window: self.device_code_window,
            block: self.device_code_block,
        }
    }
}

/// Moved to the model so the store contract does not depend on this module.
pub use crate::model::StoredSettings;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reads_and_writes_its_own_value() {
        let mut s = ServerSettings::default();
        for (i, f) in FIELDS.iter().enumerate() {
            f.set(&mut s, 1000 + i as i64);
        }
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.get(&s), 1000 + i as i64, "{}", f.name);
        }
        let names: std::collections::BTreeSet<_> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FIELDS.len());
    }

    #[test]
    fn the_built_in_defaults_are_within_their_own_bounds() {
        let s = ServerSettings::default();
        for f in FIELDS {
            assert!(
                (f.min..=f.max).contains(&f.get(&s)),
                "{} = {}",
                f.name,
                f.get(&s)
            );
        }
    }

    #[test]
    fn admin_set_values_override_defaults_and_unknown_names_are_ignored() {
        let values = BTreeMap::from([("code_ttl".to_string(), 120), ("gone".to_string(), 5)]);
        let d = ServerSettings::default();
        let e = ServerSettings::effective(&d, &values);
        assert_eq!(e.code_ttl, 120);
        assert_eq!(
            ServerSettings {
                code_ttl: d.code_ttl,
                ..e
            },
            d
        );
    }
}
