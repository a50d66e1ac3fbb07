//! The closed vocabularies of the admin API and the console: error codes, audit
//! actions and live-event kinds. Each is an enum serialised to exactly the strings the
//! wire has always carried, with its JSON Schema (so the OpenAPI document and the
//! TypeScript union types in `ui/src/lib/api/types.gen.ts` list the same values), and
//! the one place each derived fact (an error's HTTP status, an action's event kind) is
//! decided.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[doc = $doc:literal])* $v:ident = $s:literal, )+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $s)] $v, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The wire string.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)+ }
            }

            /// The value a wire string names, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$v),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

string_enum! {
    /// The `code` of every admin API and IPC error.
    ErrorCode {
        NotFound = "not_found",
        InvalidInput = "invalid_input",
        Conflict = "conflict",
        /// A built-in object (the `latchkey-console` client, an OIDC or admin scope)
        /// that cannot be deleted or disabled: admin sign-in depends on it.
        Builtin = "builtin",
        /// No valid credential (admin API edge).
        Unauthorized = "unauthorized",
        /// A credential without the right (a read-only key writing, no admin role).
        Forbidden = "forbidden",
        Unavailable = "unavailable",
        RateLimited = "rate_limited",
        Internal = "internal",
        /// Client side only (the CLI and the console, never the admin API): the server
        /// or issuer answering is not one the sign-in may send a credential to (its
        /// discovery does not name this admin API, or it changed under us).
        UntrustedServer = "untrusted_server",
    }
}

impl ErrorCode {
    /// The HTTP status of an admin API response carrying this code: the one mapping.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidInput => 400,
            ErrorCode::Conflict | ErrorCode::Builtin => 409,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::Unavailable => 503,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            // Never sent by the server; a proxy in the CLI's or console's place would
            // answer that the upstream failed it.
            ErrorCode::UntrustedServer => 502,
        }
    }

    /// The status for a code as carried in a string; a code this build does not know
    /// is an internal error.
    pub fn http_status_of(code: &str) -> u16 {
        Self::parse(code)
            .unwrap_or(ErrorCode::Internal)
            .http_status()
    }
}

string_enum! {
    /// What a live admin event means to the console's pages (which of them refresh).
    EventKind {
        SessionCreated = "session_created",
        SessionRevoked = "session_revoked",
        KeyRotated = "key_rotated",
        KeyRevoked = "key_revoked",
        ClientChanged = "client_changed",
        SecurityEvent = "security_event",
        /// Any other audited change.
        Changed = "changed",
    }
}

string_enum! {
    /// The `action` of an audit event written by an admin operation or the engine.
    /// Security events (`security.…`, flagged `security`) are [`SecurityFamily`]'s, with
    /// a detail (the endpoint, the error), and are not listed here: their event kind
    /// comes from the flag.
    AuditAction {
        ClientCreate = "client.create",
        ClientUpdate = "client.update",
        ClientDelete = "client.delete",
        ClientRotateSecret = "client.rotate_secret",
        ClientEnable = "client.enable",
        ClientDisable = "client.disable",
        ClientClone = "client.clone",
        ScopeCreate = "scope.create",
        ScopeDelete = "scope.delete",
        /// A custom scope's description or claims changed (configuration as code).
        ScopeUpdate = "scope.update",
        UserCreate = "user.create",
        UserDisable = "user.disable",
        UserEnable = "user.enable",
        UserSetPassword = "user.set_password",
        UserUpdate = "user.update",
        /// A user deleted, with their sessions, sign-ins and consents.
        UserDelete = "user.delete",
        /// A step of the scheduled key lifecycle.
        KeySchedule = "key.schedule",
        KeyRotate = "key.rotate",
        KeyRevoke = "key.revoke",
        SessionCreate = "session.create",
        SessionRevoke = "session.revoke",
        SessionRevokeUser = "session.revoke_user",
        SessionRevokeClient = "session.revoke_client",
        SessionRevokeSelected = "session.revoke_selected",
        SessionRevokeFilter = "session.revoke_filter",
        /// RFC 7009 revocation of a token.
        TokenRevoke = "token.revoke",
        ApiKeyCreate = "api_key.create",
        ApiKeyRevoke = "api_key.revoke",
        SettingsUpdate = "settings.update",
        ExchangePolicyCreate = "exchange_policy.create",
        ExchangePolicyUpdate = "exchange_policy.update",
        ExchangePolicyDelete = "exchange_policy.delete",
        /// An RFC 8693 token exchange that issued a token.
        TokenExchange = "token.exchange",
        /// An RFC 8693 token exchange refused after the client authenticated, with the
        /// rule that refused it.
        TokenExchangeRefused = "token.exchange_refused",
        FindingAck = "finding.ack",
        BlockAdd = "block.add",
        BlockRemove = "block.remove",
        WebhookCreate = "webhook.create",
        WebhookUpdate = "webhook.update",
        WebhookDelete = "webhook.delete",
        /// A signed test event sent to a webhook (with its outcome).
        WebhookTest = "webhook.test",
        /// An initial access token for dynamic client registration (RFC 7591 §3).
        RegistrationTokenCreate = "registration_token.create",
        RegistrationTokenRevoke = "registration_token.revoke",
        /// A client registered itself (RFC 7591); the actor is `registration:<token id>`.
        ClientRegister = "client.register",
        /// A configuration document applied (one event for the batch, beside each
        /// item's own).
        ConfigApply = "config.apply",
    }
}

impl AuditAction {
    /// Which live event this action is, so the console pages that show what it changes
    /// refresh. Exhaustive: a new action must say which pages it concerns.
    pub const fn event_kind(self) -> EventKind {
        use AuditAction::*;
        match self {
            SessionCreate => EventKind::SessionCreated,
            SessionRevoke
            | SessionRevokeUser
            | SessionRevokeClient
            | SessionRevokeSelected
            | SessionRevokeFilter
            | TokenRevoke
            | UserDisable => EventKind::SessionRevoked,
            KeyRevoke => EventKind::KeyRevoked,
            KeySchedule | KeyRotate => EventKind::KeyRotated,
            ClientCreate | ClientUpdate | ClientDelete | ClientRotateSecret | ClientEnable
            | ClientDisable | ClientClone | ClientRegister => EventKind::ClientChanged,
            ScopeCreate
            | ScopeDelete
            | ScopeUpdate
            | UserCreate
            | UserEnable
            | UserSetPassword
            | UserUpdate
            | UserDelete
            | ApiKeyCreate
            | ApiKeyRevoke
            | SettingsUpdate
            | ExchangePolicyCreate
            | ExchangePolicyUpdate
            | ExchangePolicyDelete
            | TokenExchange
            | TokenExchangeRefused
            | FindingAck
            | BlockAdd
            | BlockRemove
            | WebhookCreate
            | WebhookUpdate
            | WebhookDelete
            | WebhookTest
            | RegistrationTokenCreate
            | RegistrationTokenRevoke
            | ConfigApply => EventKind::Changed,
        }
    }
}

string_enum! {
    /// What a security event is: its audit action is `security.<family>`, or
    /// `security.<family>.<detail>` where the detail says where or why (the endpoint that
    /// was flooded, the OAuth error code of a refusal). The family is the closed part that
    /// code may branch on; the detail is for people.
    SecurityFamily {
        /// A wrong admin API key or admin token.
        AdminAuthFailed = "admin_auth_failed",
        /// A spent authorization code presented again (its tokens are revoked).
        AuthorizationCodeReuseDetected = "authorization_code.reuse_detected",
        /// `/authorize` refused a request (detail: `page`, or the OAuth error code).
        AuthorizeRejected = "authorize_rejected",
        /// A client failed to authenticate (detail: the endpoint).
        ClientAuthFailed = "client_auth_failed",
        /// A consent form that failed its checks (forged, replayed, expired).
        ConsentRejected = "consent_rejected",
        /// A wrong user code at the device verification page.
        DeviceCodeWrongUserCode = "device_code.wrong_user_code",
        /// A failed sign-in.
        LoginFailed = "login_failed",
        /// A detection raised a finding (detail: the rule id); see `findings_list`.
        FindingRaised = "finding_raised",
        /// Sign-in and client-auth signals the detections dropped because their queue
        /// was full (the request path never waits for them); counted per minute.
        MonitorOverflow = "monitor_overflow",
        /// A request refused because its address (or account or client from there) is
        /// on the block list (detail: the endpoint); counted per minute.
        Blocked = "blocked",
        /// A limiter refused a request (detail: the endpoint); counted per minute.
        RateLimited = "rate_limited",
        /// A refresh token retried within its grace window.
        RefreshTokenGraceRetry = "refresh_token.grace_retry",
        /// A spent refresh token presented again (its family is revoked).
        RefreshTokenReuseDetected = "refresh_token.reuse_detected",
        /// The token endpoint refused a request (detail: the OAuth error code).
        TokenRejected = "token_rejected",
    }
}

impl SecurityFamily {
    /// The audit action of an event of this family, with its detail if it has one.
    pub fn action(self, detail: Option<&str>) -> String {
        match detail {
            Some(d) => format!("security.{}.{d}", self.as_str()),
            None => format!("security.{}", self.as_str()),
        }
    }

    /// The family of a stored security event's action; `None` for anything else (an
    /// action this build does not know included). The longest family that the action
    /// continues, at a `.` boundary, wins.
    pub fn of(action: &str) -> Option<SecurityFamily> {
        let rest = action.strip_prefix("security.")?;
        Self::ALL
            .iter()
            .copied()
            .filter(|f| {
                let name = f.as_str();
                rest == name
                    || (rest.starts_with(name) && rest.as_bytes().get(name.len()) == Some(&b'.'))
            })
            .max_by_key(|f| f.as_str().len())
    }

    /// Someone presented a wrong credential to sign in or to authenticate a client: what
    /// the Dashboard counts as failed authentications.
    pub const fn is_failed_authentication(self) -> bool {
        matches!(
            self,
            SecurityFamily::ClientAuthFailed | SecurityFamily::LoginFailed
        )
    }
}

impl EventKind {
    /// The event kind of a stored audit event: security events by their flag, others
    /// by their action; an action this build does not know is a plain change.
    pub fn of(action: &str, security: bool) -> EventKind {
        if security {
            return EventKind::SecurityEvent;
        }
        AuditAction::parse(action).map_or(EventKind::Changed, AuditAction::event_kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_serialises_to_its_wire_string_and_parses_back() {
        fn check<
            T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Copy,
        >(
            all: &[T],
            s: fn(T) -> &'static str,
            p: fn(&str) -> Option<T>,
        ) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(s(*v)));
                assert_eq!(
                    serde_json::from_value::<T>(serde_json::json!(s(*v))).unwrap(),
                    *v
                );
                assert_eq!(p(s(*v)), Some(*v));
            }
        }
        check(ErrorCode::ALL, ErrorCode::as_str, ErrorCode::parse);
        check(EventKind::ALL, EventKind::as_str, EventKind::parse);
        check(AuditAction::ALL, AuditAction::as_str, AuditAction::parse);
        check(
            SecurityFamily::ALL,
            SecurityFamily::as_str,
            SecurityFamily::parse,
        );
    }

    #[test]
    fn a_security_action_names_its_family_and_detail_and_parses_back_to_the_family() {
        use SecurityFamily::*;
        assert_eq!(
            RateLimited.action(Some("token")),
            "security.rate_limited.token"
        );
        assert_eq!(LoginFailed.action(None), "security.login_failed");
        for (action, family) in [
            ("security.rate_limited.token", Some(RateLimited)),
            (
                "security.client_auth_failed.introspect",
                Some(ClientAuthFailed),
            ),
            (
                "security.refresh_token.reuse_detected",
                Some(RefreshTokenReuseDetected),
            ),
            (
                "security.refresh_token.grace_retry",
                Some(RefreshTokenGraceRetry),
            ),
            (
                "security.authorize_rejected.invalid_scope",
                Some(AuthorizeRejected),
            ),
            ("security.login_failed", Some(LoginFailed)),
            // Not a family at a `.` boundary, not a security action, unknown.
            ("security.login_failedx", None),
            ("client.create", None),
            ("security.something_new", None),
        ] {
            assert_eq!(SecurityFamily::of(action), family, "{action}");
        }
        for f in SecurityFamily::ALL {
            assert_eq!(SecurityFamily::of(&f.action(None)), Some(*f));
            assert_eq!(SecurityFamily::of(&f.action(Some("x"))), Some(*f));
        }
        let failed: Vec<_> = SecurityFamily::ALL
            .iter()
            .filter(|f| f.is_failed_authentication())
            .collect();
        assert_eq!(failed, [&ClientAuthFailed, &LoginFailed]);
    }

    #[test]
    fn error_codes_keep_their_http_statuses() {
        let got: Vec<(&str, u16)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str(), c.http_status()))
            .collect();
        assert_eq!(
            got,
            [
                ("not_found", 404),
                ("invalid_input", 400),
                ("conflict", 409),
                ("builtin", 409),
                ("unauthorized", 401),
                ("forbidden", 403),
                ("unavailable", 503),
                ("rate_limited", 429),
                ("internal", 500),
                ("untrusted_server", 502),
            ]
        );
        assert_eq!(ErrorCode::http_status_of("something_new"), 500);
    }

    /// The kinds the prefix rules gave before the enum: the console refreshes the same
    /// pages for the same actions.
    #[test]
    fn event_kinds_are_the_ones_the_action_prefixes_gave() {
        for a in AuditAction::ALL {
            let s = a.as_str();
            let by_prefix = if s == "session.create" {
                "session_created"
            } else if s.starts_with("session.") || s == "token.revoke" || s == "user.disable" {
                "session_revoked"
            } else if s == "key.revoke" {
                "key_revoked"
            } else if s.starts_with("key.") {
                "key_rotated"
            } else if s.starts_with("client.") {
                "client_changed"
            } else {
                "changed"
            };
            assert_eq!(a.event_kind().as_str(), by_prefix, "{s}");
            assert_eq!(EventKind::of(s, false), a.event_kind());
        }
        assert_eq!(
            EventKind::of("client.create", true),
            EventKind::SecurityEvent
        );
        assert_eq!(
            EventKind::of("security.rate_limited.token", true),
            EventKind::SecurityEvent
        );
        assert_eq!(EventKind::of("something.new", false), EventKind::Changed);
    }
}
