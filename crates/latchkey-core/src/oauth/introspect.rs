//! Everything that asks "is this token still good": introspection (RFC 7662),
//! revocation (RFC 7009), userinfo (OIDC Core §5.3 with RFC 6750 errors) and
//! RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–3).
//!
//! An access token is active only if its signature verifies with a published,
//! non-revoked key, it has not expired, its client still exists, is enabled and its
//! `tokens_valid_after` watermark predates the token, its session (`sid`) is live, and
//! its `jti` is not denylisted — the four revocations of design.md, checked every time.

use super::client_auth::{Authenticated, Presented};
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::crypto::sha256;
use crate::jwt;
use crate::model::{parse_scope, AuditFilter, AuthMethod, KeyState, NewAuditEvent};
use latchkey_api_types::shell::{InactiveCode, InactiveReason};
use latchkey_api_types::AuditAction;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Why a bearer token is refused at userinfo (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No token: 401 with a bare `WWW-Authenticate: Bearer`.
    Missing,
    /// 401 `error="invalid_token"`.
    InvalidToken,
    /// 403 `error="insufficient_scope"`.
    InsufficientScope,
    /// Storage trouble: 503.
    Unavailable,
    /// RFC 9449 §7.1: refused on DPoP grounds (401 with a `DPoP` challenge).
    Dpop(super::dpop::ResourceRefusal),
}

/// A request to one of our resources (userinfo): the token, how it was presented, the
/// DPoP proofs with it, and the method and path the proof must name.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRequest<'a> {
    pub token: Option<&'a str>,
    pub scheme: super::dpop::Scheme,
    pub dpop: &'a [String],
    pub method: &'a str,
    pub path: &'a str,
}

/// Why one of our access tokens is not active: one variant per check of
/// [`Provider::access_token_state`], in the order they are made. The engine's yes/no
/// ([`Provider::active_access_token`]) is derived from it, so introspection, userinfo
/// and the inspector's reason cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inactive {
    Malformed,
    /// A JWT whose `typ` is not `at+jwt` (an ID token, typically).
    NotAccessToken,
    UnknownKey,
    KeyRevoked {
        kid: String,
    },
    KeyRetired {
        kid: String,
    },
    AlgorithmMismatch,
    BadSignature,
    WrongIssuer,
    MissingClaims,
    Expired {
        exp: i64,
    },
    NotYetValid {
        nbf: i64,
    },
    ClientDeleted {
        client_id: String,
    },
    ClientDisabled {
        client_id: String,
    },
    ClientTokensRevoked {
        client_id: String,
        at: i64,
    },
    SessionRevoked {
        sid: String,
        at: Option<i64>,
        reason: Option<String>,
    },
    SessionExpired {
        sid: String,
        at: i64,
    },
    UserDisabled {
        user_id: String,
    },
    Revoked {
        jti: String,
    },
    /// Refresh tokens (opaque): spent (rotated), idle too long, never ours.
    RefreshSpent {
        at: i64,
    },
    RefreshIdle {
        at: i64,
    },
    Unknown,
}

impl Provider {
    /// Verifies one of our JWT access tokens and every revocation that applies to it.
    /// `Ok(None)` = not active (for whatever reason); errors are storage failures only.
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> OAuthResult<Option<Map<String, Value>>> {
        Ok(self.access_token_state(token).await?.ok())
    }

    /// [`active_access_token`](Self::active_access_token) with the reason a token is
    /// inactive: `Ok(Err(why))`. The one code path of every "is this access token good".
    pub async fn access_token_state(
        &self,
        token: &str,
    ) -> OAuthResult<Result<Map<String, Value>, Inactive>> {
        let Ok(parsed) = jwt::parse(token) else {
            return Ok(Err(Inactive::Malformed));
        };
        if parsed.typ() != Some("at+jwt") {
            return Ok(Err(Inactive::NotAccessToken));
        }
        let keys = self.keys().await?;
        let kid = parsed.kid().unwrap_or_default();
        let Some((alg, state, jwk)) = keys.by_kid.get(kid) else {
            return Ok(Err(Inactive::UnknownKey));
        };
        match state {
            KeyState::Active | KeyState::Retiring | KeyState::Next => {}
            KeyState::Revoked => return Ok(Err(Inactive::KeyRevoked { kid: kid.into() })),
            _ => return Ok(Err(Inactive::KeyRetired { kid: kid.into() })),
        }
        if parsed.alg() != Some(alg.as_str()) {
            return Ok(Err(Inactive::AlgorithmMismatch));
        }
        let now = self.now();
        // A signature once verified need not be verified again while the token lives:
        // the key's state above and every revocation below are still checked each time.
        let fingerprint = sha256(token.as_bytes());
        if !self.signature_known(&fingerprint, now) {
            if jwt::verify_with_jwk(
                jwk,
                *alg,
                parsed.signing_input.as_bytes(),
                &parsed.signature,
            )
            .is_err()
            {
                return Ok(Err(Inactive::BadSignature));
            }
            if let Some(exp) = parsed.int_claim("exp") {
                self.remember_signature(fingerprint, exp, now);
            }
        }
        if parsed.str_claim("iss") != Some(self.config.issuer.as_str()) {
            return Ok(Err(Inactive::WrongIssuer));
        }
        let (Some(exp), Some(iat)) = (parsed.int_claim("exp"), parsed.int_claim("iat")) else {
            return Ok(Err(Inactive::MissingClaims));
        };
        if exp <= now {
            return Ok(Err(Inactive::Expired { exp }));
        }
        if let Some(nbf) = parsed.int_claim("nbf") {
            if nbf > now {
                return Ok(Err(Inactive::NotYetValid { nbf }));
            }
        }
        let Some(client_id) = parsed.str_claim("client_id") else {
            return Ok(Err(Inactive::MissingClaims));
        };
        match self.cached_client(client_id).await? {
            None => {
                return Ok(Err(Inactive::ClientDeleted {
                    client_id: client_id.into(),
                }))
            }
            Some(c) if c.disabled => {
                return Ok(Err(Inactive::ClientDisabled {
                    client_id: client_id.into(),
                }))
            }
            Some(c) if iat <= c.tokens_valid_after => {
                return Ok(Err(Inactive::ClientTokensRevoked {
                    client_id: client_id.into(),
                    at: c.tokens_valid_after,
                }))
            }
            Some(_) => {}
        }
        if let Some(sid) = parsed.str_claim("sid") {
            match self.cached_session(sid).await? {
                Some(s) if self.session_live(&s, now).await? => {}
                // Only on the way out is the user read: a disabled user's sessions are
                // revoked with it, and that is the reason worth giving.
                Some(s) => return Ok(Err(self.dead_session(s, now).await?)),
                None => {
                    return Ok(Err(Inactive::SessionRevoked {
                        sid: sid.into(),
                        at: None,
                        reason: None,
                    }))
                }
            }
        }
        let Some(jti) = parsed.str_claim("jti") else {
            return Ok(Err(Inactive::MissingClaims));
        };
        if self.cached_jti_revoked(jti).await? {
            return Ok(Err(Inactive::Revoked { jti: jti.into() }));
        }
        Ok(Ok(parsed.claims))
    }

    /// Why a session that is not live is not: its user disabled, revoked, or expired.
    async fn dead_session(&self, s: crate::model::Session, now: i64) -> OAuthResult<Inactive> {
        if let Some(u) = self.cached_user(&s.user_id).await? {
            if u.disabled {
                return Ok(Inactive::UserDisabled { user_id: u.id });
            }
        }
        // Live itself, so what it was derived from (RFC 8693) has ended.
        if s.is_live(now) {
            return Ok(Inactive::SessionRevoked {
                sid: s.id,
                at: None,
                reason: Some("exchanged_from_revoked".into()),
            });
        }
        Ok(match s.revoked_at {
            Some(at) => Inactive::SessionRevoked {
                sid: s.id,
                at: Some(at),
                reason: s.revoked_reason,
            },
            None => Inactive::SessionExpired {
                sid: s.id,
                at: s.expires_at.min(now),
            },
        })
    }

    fn require_authenticated(&self, auth: &Authenticated) -> OAuthResult<()> {
        // CA-07: introspection needs a real client credential.
        if auth.method == AuthMethod::None {
            return Err(OAuthError::invalid_client());
        }
        Ok(())
    }

    /// RFC 7662 §2. Policy: any authenticated confidential client (a resource server)
    /// may introspect access tokens; refresh tokens only by the client they belong to.
    pub async fn introspect(
        &self,
        form: &HashMap<String, String>,
        presented: &Presented,
    ) -> OAuthResult<Value> {
        let auth = self
            .authenticate_client(form, presented, "introspect")
            .await?;
        if let Err(e) = self.require_authenticated(&auth) {
            // Recorded like any other failed client authentication (catalogue §1).
            self.security_event(
                "anonymous",
                latchkey_api_types::SecurityFamily::ClientAuthFailed,
                Some("introspect"),
                Some(&auth.client.id),
                presented.ip.as_deref(),
            )
            .await;
            return Err(e);
        }
        let token = form
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let (answer, why) = self.token_state(token, Some(&auth.client.id)).await?;
        if let Some(why) = why {
            self.report_presented(
                "introspect",
                Some(&auth.client.id),
                presented.ip.as_deref(),
                token,
                &why,
            );
        }
        Ok(answer)
    }

    /// Tells the detections (8) about an inactive token presented to us: revoked (not
    /// merely expired) or not ours at all. Active and expired tokens say nothing.
    fn report_presented(
        &self,
        endpoint: &'static str,
        client_id: Option<&str>,
        ip: Option<&str>,
        token: &str,
        why: &Inactive,
    ) {
        let Some(verdict) = verdict_of(why, token) else {
            return;
        };
        self.signal(crate::monitor::Signal::TokenPresented {
            endpoint,
            caller: crate::monitor::TokenCaller {
                client_id: client_id.map(str::to_string),
                addr: ip.and_then(|i| i.parse().ok()),
            },
            verdict,
        });
    }

    /// Introspection on an administrator's authority (the admin API and the console's
    /// token inspector): any token of this server, refresh tokens of every client. An
    /// inactive answer carries `inactive_reason` ([`InactiveReason`]): why, and when and
    /// by whom when the store knows. The public endpoint never says why (RFC 7662 §2.2).
    pub async fn introspect_as_admin(&self, token: &str) -> OAuthResult<Value> {
        if token.is_empty() {
            return Err(OAuthError::invalid_request("token is required"));
        }
        let (mut answer, why) = self.token_state(token, None).await?;
        if let Some(why) = why {
            let reason = self.explain_inactive(&why).await?;
            answer["inactive_reason"] = serde_json::to_value(reason).unwrap_or(Value::Null);
        }
        // RFC 8693 lineage, for the console's inspector: the chain of tokens this one
        // was exchanged from (nearest first) and the policy that allowed each step.
        if let Some(jti) = answer
            .get("jti")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let mut chain = Vec::new();
            let mut next = Some(jti);
            while let Some(j) = next.take() {
                if chain.len() > crate::limits::MAX_ACT_DEPTH as usize * 4 {
                    break;
                }
                let Some(l) = self.store.exchange_lineage(&j).await? else {
                    break;
                };
                chain.push(json!({
                    "jti": l.jti,
                    "parent_jti": l.parent_jti,
                    "policy_id": l.policy_id,
                    "requester_client_id": l.requester_client_id,
                    "subject_client_id": l.subject_client_id,
                    "issued_token_type": l.issued_token_type.short(),
                    "issued_at": l.issued_at,
                }));
                next = l.parent_jti;
            }
            if !chain.is_empty() {
                answer["exchanged_from"] = Value::Array(chain);
            }
        }
        Ok(answer)
    }

    /// RFC 7662 §2.2 answer for `token`; a refresh token only if `owner` is its client
    /// (or no owner is required). With the answer, why it is inactive.
    async fn token_state(
        &self,
        token: &str,
        owner: Option<&str>,
    ) -> OAuthResult<(Value, Option<Inactive>)> {
        let inactive = |why: Inactive| -> OAuthResult<(Value, Option<Inactive>)> {
            Ok((json!({"active": false}), Some(why)))
        };
        if token.matches('.').count() == 2 {
            let claims = match self.access_token_state(token).await? {
                Ok(c) => c,
                Err(why) => return inactive(why),
            };
            let mut out = Map::new();
            out.insert("active".into(), json!(true));
            // RFC 9449 §6.2: a bound token says so, with the key it is bound to.
            let bound = claims.get("cnf").is_some_and(|c| c.get("jkt").is_some());
            out.insert(
                "token_type".into(),
                json!(if bound { "DPoP" } else { "Bearer" }),
            );
            for k in [
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "sid",
                "auth_time",
                // RFC 8693 §4.1: the actor chain of an exchanged token.
                "act",
                // RFC 9449 §6.2: the DPoP key confirmation.
                "cnf",
            ] {
                if let Some(v) = claims.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            if let Some(sub) = claims.get("sub").and_then(Value::as_str) {
                if let Ok(Some(u)) = self.cached_user(sub).await {
                    out.insert("username".into(), json!(u.username));
                }
            }
            return Ok((Value::Object(out), None));
        }
        let now = self.now();
        let Some(rt) = self.store.refresh_get(&sha256(token.as_bytes())).await? else {
            return inactive(Inactive::Unknown);
        };
        // Another client's refresh token is, to this caller, unknown (no oracle).
        if owner.is_some_and(|o| o != rt.client_id) {
            return inactive(Inactive::Unknown);
        }
        if let Some(at) = rt.consumed_at {
            return inactive(Inactive::RefreshSpent { at });
        }
        if rt.idle_expires_at <= now {
            return inactive(Inactive::RefreshIdle {
                at: rt.idle_expires_at,
            });
        }
        let Some(session) = self.store.session_get(&rt.session_id).await? else {
            return inactive(Inactive::SessionRevoked {
                sid: rt.session_id,
                at: None,
                reason: None,
            });
        };
        if !self.session_live(&session, now).await? {
            return inactive(self.dead_session(session, now).await?);
        }
        let mut answer = json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": rt.client_id,
            "sub": session.user_id,
            "scope": session.scopes.join(" "),
            "iat": rt.created_at,
            "exp": session.expires_at.min(rt.idle_expires_at),
            "iss": self.config.issuer,
            "sid": session.id,
        });
        if let Some(jkt) = rt.dpop_jkt {
            answer["cnf"] = json!({ "jkt": jkt });
        }
        Ok((answer, None))
    }

    /// The latest audit event about `target` whose action starts with one of `actions`:
    /// who did it and when.
    async fn last_audit(
        &self,
        target: &str,
        actions: &[AuditAction],
    ) -> OAuthResult<Option<(i64, String)>> {
        let mut best: Option<(i64, String)> = None;
        for a in actions {
            let got = self
                .store
                .audit_list(&AuditFilter {
                    target: Some(target.to_string()),
                    action_prefix: Some(a.as_str().to_string()),
                    limit: Some(1),
                    ..AuditFilter::default()
                })
                .await?;
            if let Some(e) = got.into_iter().next() {
                if best.as_ref().is_none_or(|(at, _)| e.at > *at) {
                    best = Some((e.at, e.actor));
                }
            }
        }
        Ok(best)
    }

    /// [`Inactive`] in words, with when and by whom from the store (the audit log, the
    /// session's revocation, the client's watermark). Off the hot path: only the admin
    /// introspection (the inspector) asks.
    pub async fn explain_inactive(&self, why: &Inactive) -> OAuthResult<InactiveReason> {
        use InactiveCode as C;
        let r = |code, detail: String| InactiveReason {
            code,
            detail,
            at: None,
            by: None,
        };
        let with = |mut r: InactiveReason, found: Option<(i64, String)>| {
            if let Some((at, by)) = found {
                r.at = r.at.or(Some(at));
                r.by = Some(by);
            }
            r
        };
        Ok(match why {
            Inactive::Malformed => r(C::Malformed, "not a token this server issues".into()),
            Inactive::NotAccessToken => r(
                C::NotIntrospectable,
                "not an access token (an ID token?): only access and refresh tokens are \
                 introspectable"
                    .into(),
            ),
            Inactive::UnknownKey => r(
                C::UnknownKey,
                "signed with a key this server does not have".into(),
            ),
            Inactive::KeyRevoked { kid } => with(
                r(
                    C::KeyRevoked,
                    format!("its signing key {kid} was revoked: every token it signed is inactive"),
                ),
                self.last_audit(kid, &[AuditAction::KeyRevoke]).await?,
            ),
            Inactive::KeyRetired { kid } => r(
                C::KeyRetired,
                format!("its signing key {kid} is retired (no longer published)"),
            ),
            Inactive::AlgorithmMismatch | Inactive::BadSignature => r(
                C::BadSignature,
                "the signature does not verify: altered, or not signed by this server".into(),
            ),
            Inactive::WrongIssuer => r(C::WrongIssuer, "issued by another server".into()),
            Inactive::MissingClaims => r(
                C::MissingClaims,
                "lacks exp, iat, client_id or jti: not an access token of this server".into(),
            ),
            Inactive::Expired { exp } => InactiveReason {
                at: Some(*exp),
                ..r(C::Expired, "expired".into())
            },
            Inactive::NotYetValid { nbf } => InactiveReason {
                at: Some(*nbf),
                ..r(C::NotYetValid, "not valid yet (nbf is in the future)".into())
            },
            Inactive::ClientDeleted { client_id } => with(
                r(C::ClientDeleted, format!("its client {client_id} was deleted")),
                self.last_audit(client_id, &[AuditAction::ClientDelete]).await?,
            ),
            Inactive::ClientDisabled { client_id } => with(
                r(C::ClientDisabled, format!("its client {client_id} is disabled")),
                self.last_audit(client_id, &[AuditAction::ClientDisable]).await?,
            ),
            Inactive::ClientTokensRevoked { client_id, at } => with(
                InactiveReason {
                    at: Some(*at),
                    ..r(
                        C::ClientTokensRevoked,
                        format!("every token of client {client_id} issued before the revoke is inactive"),
                    )
                },
                self.last_audit(client_id, &[AuditAction::SessionRevokeClient]).await?,
            ),
            Inactive::SessionRevoked { sid, at, reason } => {
                let why = match reason.as_deref() {
                    Some("refresh_token_reuse") => " after a spent refresh token was used again",
                    Some("revoked_by_client") => " by its client (RFC 7009)",
                    Some("revoked by administrator") => " by an administrator",
                    Some("user_sessions_revoked") => " with all of its user's sessions",
                    Some("client_tokens_revoked") => " with all of its client's sessions",
                    _ => "",
                };
                let found = self
                    .last_audit(
                        sid,
                        &[AuditAction::SessionRevoke, AuditAction::TokenRevoke],
                    )
                    .await?;
                let mut out = with(
                    InactiveReason {
                        at: *at,
                        ..r(C::SessionRevoked, format!("its session {sid} was revoked{why}"))
                    },
                    found,
                );
                // The session's own revocation time wins over the audit event's.
                out.at = at.or(out.at);
                out
            }
            Inactive::SessionExpired { sid, at } => InactiveReason {
                at: Some(*at),
                ..r(C::SessionExpired, format!("its session {sid} has ended"))
            },
            Inactive::UserDisabled { user_id } => with(
                r(C::UserDisabled, format!("its user {user_id} is disabled")),
                self.last_audit(user_id, &[AuditAction::UserDisable]).await?,
            ),
            Inactive::Revoked { jti } => {
                let found = self.last_audit(jti, &[AuditAction::TokenRevoke]).await?;
                let detail = if found.is_some() {
                    "this token was revoked".to_string()
                } else {
                    "this token was revoked by its client (RFC 7009)".to_string()
                };
                with(r(C::Revoked, detail), found)
            }
            Inactive::RefreshSpent { at } => InactiveReason {
                at: Some(*at),
                ..r(
                    C::RefreshSpent,
                    "a refresh token already exchanged for a newer one (using it again revokes the family)".into(),
                )
            },
            Inactive::RefreshIdle { at } => InactiveReason {
                at: Some(*at),
                ..r(C::RefreshIdle, "a refresh token unused for too long".into())
            },
            Inactive::Unknown => r(C::Unknown, "not a token this server knows".into()),
        })
    }

    /// RFC 7009 §2. Revoking a refresh token ends its session (and so the access tokens
    /// of the grant); revoking a JWT access token denylists its `jti` until expiry
    /// (RV-06). Unknown tokens succeed silently (§2.2, no oracle).
    pub async fn revoke(
        &self,
        form: &HashMap<String, String>,
        presented: &Presented,
    ) -> OAuthResult<()> {
        let auth = self.authenticate_client(form, presented, "revoke").await?;
        let token = form
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let now = self.now();
        // The hint is only an optimisation (RV-02): both kinds are tried.
        if let Some(rt) = self.store.refresh_get(&sha256(token.as_bytes())).await? {
            if rt.client_id != auth.client.id {
                return Err(OAuthError::invalid_request(
                    "the token was not issued to this client",
                ));
            }
            self.store
                .session_revoke(&rt.session_id, "revoked_by_client", now, None)
                .await?;
            return Ok(());
        }
        if let Some(claims) = self.active_access_token(token).await? {
            if claims.get("client_id").and_then(Value::as_str) != Some(auth.client.id.as_str()) {
                return Err(OAuthError::invalid_request(
                    "the token was not issued to this client",
                ));
            }
            self.denylist(&claims, now).await?;
        }
        Ok(())
    }

    /// RFC 7009 for a JWT access token: its `jti` is denylisted until it would expire
    /// (RV-06). Returns the `jti`.
    async fn denylist(&self, claims: &Map<String, Value>, now: i64) -> OAuthResult<String> {
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        self.store.access_token_revoke(jti, exp).await?;
        Ok(jti.to_string())
    }

    /// Revocation on an administrator's authority: a refresh token ends its session, an
    /// access token is denylisted until it expires. Audited as `token.revoke` (never
    /// with the token). Returns whether the token was one of ours and still live.
    pub async fn revoke_as_admin(&self, actor: &str, token: &str) -> OAuthResult<bool> {
        if token.is_empty() {
            return Err(OAuthError::invalid_request("token is required"));
        }
        let now = self.now();
        if let Some(rt) = self.store.refresh_get(&sha256(token.as_bytes())).await? {
            let audit = NewAuditEvent::new(now, actor, AuditAction::TokenRevoke.as_str())
                .target(rt.session_id.clone())
                .after(&json!({"token_type": "refresh_token", "client_id": rt.client_id}));
            return Ok(self
                .store
                .session_revoke(
                    &rt.session_id,
                    "revoked by administrator",
                    now,
                    Some(&audit),
                )
                .await?);
        }
        let Some(claims) = self.active_access_token(token).await? else {
            return Ok(false);
        };
        let jti = self.denylist(&claims, now).await?;
        let audit = NewAuditEvent::new(now, actor, AuditAction::TokenRevoke.as_str())
            .target(jti.clone())
            .after(&json!({"token_type": "access_token", "client_id": claims.get("client_id")}));
        self.store.audit_insert(&audit).await?;
        Ok(true)
    }

    /// OIDC Core §5.3.
    pub async fn userinfo(&self, bearer: Option<&str>) -> Result<Value, BearerError> {
        self.userinfo_from(bearer, None).await
    }

    /// [`userinfo`](Self::userinfo) for a caller at `ip`, which the detections hear of
    /// when the token is revoked or not ours.
    pub async fn userinfo_from(
        &self,
        bearer: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Value, BearerError> {
        self.userinfo_request(
            &ResourceRequest {
                token: bearer,
                scheme: super::dpop::Scheme::Bearer,
                dpop: &[],
                method: "GET",
                path: "/userinfo",
            },
            ip,
        )
        .await
    }

    /// Userinfo for a token presented as `Bearer` or `DPoP` (RFC 9449 §7.1).
    pub async fn userinfo_request(
        &self,
        req: &ResourceRequest<'_>,
        ip: Option<&str>,
    ) -> Result<Value, BearerError> {
        let Some(token) = req.token.filter(|t| !t.is_empty()) else {
            return Err(BearerError::Missing);
        };
        let claims = match self.access_token_state(token).await {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => {
                self.report_presented("userinfo", None, ip, token, &why);
                return Err(BearerError::InvalidToken);
            }
            Err(e) if e.code == ErrorCode::TemporarilyUnavailable => {
                return Err(BearerError::Unavailable)
            }
            Err(_) => return Err(BearerError::Unavailable),
        };
        // The proof is checked only for a token that is otherwise good, so a dead
        // token spends no jti.
        self.dpop_resource_check(
            &claims,
            token,
            req.scheme,
            req.dpop,
            req.method,
            &self.config.endpoint(req.path),
        )
        .await
        .map_err(BearerError::Dpop)?;
        // OI-08: a token for another resource server is not for us.
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.config.issuer,
            Some(Value::Array(a)) => a
                .iter()
                .any(|x| x.as_str() == Some(self.config.issuer.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(BearerError::InvalidToken);
        }
        let scopes = parse_scope(claims.get("scope").and_then(Value::as_str).unwrap_or(""));
        if !scopes.iter().any(|s| s == "openid") {
            return Err(BearerError::InsufficientScope);
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let user = match self.cached_user(sub).await {
            Ok(Some(u)) if !u.disabled => u,
            Ok(_) => return Err(BearerError::InvalidToken),
            Err(_) => return Err(BearerError::Unavailable),
        };
        let mut out = json!({"sub": user.id});
        self.add_user_claims(&mut out, &user, &scopes)
            .await
            .map_err(|_| BearerError::Unavailable)?;
        Ok(out)
    }

    /// RP-initiated logout. Returns where to send the browser (if anywhere). Any doubt
    /// about the hint or the redirect target is an error page (OI-12), never a redirect.
    pub async fn end_session(
        &self,
        params: &HashMap<String, String>,
        sign_in_cookie: Option<&str>,
    ) -> Result<Option<String>, &'static str> {
        let mut client_id = params.get("client_id").cloned();
        if let Some(hint) = params.get("id_token_hint").filter(|h| !h.is_empty()) {
            let parsed = jwt::parse(hint).map_err(|_| "The id_token_hint is not a valid token.")?;
            let keys = self
                .keys()
                .await
                .map_err(|_| "The service is temporarily unavailable.")?;
            // Expired hints are fine (the spec expects them); forged ones are not.
            let ok =
                parsed
                    .kid()
                    .and_then(|k| keys.by_kid.get(k))
                    .is_some_and(|(alg, state, jwk)| {
                        *state != KeyState::Revoked
                            && parsed.alg() == Some(alg.as_str())
                            && jwt::verify_with_jwk(
                                jwk,
                                *alg,
                                parsed.signing_input.as_bytes(),
                                &parsed.signature,
                            )
                            .is_ok()
                    });
            if !ok || parsed.str_claim("iss") != Some(self.config.issuer.as_str()) {
                return Err("The id_token_hint was not issued by this server.");
            }
            let aud = parsed.str_claim("aud").map(str::to_string);
            if client_id.is_some() && aud.is_some() && client_id != aud {
                return Err("The id_token_hint does not belong to this client.");
            }
            client_id = client_id.or(aud);
        }
        let redirect = match params
            .get("post_logout_redirect_uri")
            .filter(|r| !r.is_empty())
        {
            None => None,
            Some(uri) => {
                let Some(cid) = client_id.as_deref() else {
                    return Err("post_logout_redirect_uri needs client_id or id_token_hint.");
                };
                let client = match self.store.client_get(cid).await {
                    Ok(Some(c)) => c,
                    Ok(None) => return Err("The application is not known."),
                    Err(_) => return Err("The service is temporarily unavailable."),
                };
                if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                    return Err(
                        "The post_logout_redirect_uri is not registered for this application.",
                    );
                }
                let mut p: Vec<(&str, &str)> = Vec::new();
                let state = params.get("state");
                if let Some(s) = state {
                    p.push(("state", s));
                }
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &p {
                    ser.append_pair(k, v);
                }
                let q = ser.finish();
                Some(if q.is_empty() {
                    uri.clone()
                } else if uri.contains('?') {
                    format!("{uri}&{q}")
                } else {
                    format!("{uri}?{q}")
                })
            }
        };
        if let Some(cookie) = sign_in_cookie {
            self.logout_sign_in(cookie)
                .await
                .map_err(|_| "The service is temporarily unavailable.")?;
        }
        Ok(redirect)
    }
}

/// What detection 8 makes of an inactive token. A revocation found after the signature
/// verified names the token's `jti`, user and client from its claims; a revoked *key* is
/// found before the signature is checked, so its claims may be forged and name nobody.
fn verdict_of(why: &Inactive, token: &str) -> Option<crate::monitor::TokenVerdict> {
    use crate::monitor::TokenVerdict;
    let revoked = |why: &'static str| {
        let claims = jwt::parse(token).ok();
        let claim = |k: &str| {
            claims
                .as_ref()
                .and_then(|c| c.str_claim(k).map(str::to_string))
        };
        Some(TokenVerdict::Revoked {
            why,
            jti: claim("jti"),
            subject: claim("sub"),
            client_id: claim("client_id"),
        })
    };
    match why {
        Inactive::Revoked { .. } => revoked("jti"),
        Inactive::SessionRevoked { .. } => revoked("session"),
        Inactive::ClientTokensRevoked { .. } => revoked("client"),
        Inactive::UserDisabled { .. } => revoked("user"),
        Inactive::KeyRevoked { .. } => Some(TokenVerdict::Revoked {
            why: "key",
            jti: None,
            subject: None,
            client_id: None,
        }),
        Inactive::Malformed
        | Inactive::UnknownKey
        | Inactive::AlgorithmMismatch
        | Inactive::BadSignature
        | Inactive::WrongIssuer
        | Inactive::MissingClaims
        | Inactive::Unknown => Some(TokenVerdict::Invalid),
        // Expired, retired, not yet valid, a deleted or disabled client, an ID token
        // sent by mistake, a spent or idle refresh token: ordinary, not an attack.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::TokenVerdict;

    /// A JWT-shaped token whose claims nobody verified.
    fn forged(claims: Value) -> String {
        let b = |v: &Value| crate::crypto::b64url(v.to_string().as_bytes());
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
        format!("{}.{}.c2ln", b(&header), b(&claims))
    }

    #[test]
    fn a_token_under_a_revoked_key_names_nobody_since_its_claims_were_never_verified() {
        let t = forged(json!({"sub": "victim", "jti": "j", "client_id": "app"}));
        let v = verdict_of(&Inactive::KeyRevoked { kid: "k1".into() }, &t);
        assert_eq!(
            v,
            Some(TokenVerdict::Revoked {
                why: "key",
                jti: None,
                subject: None,
                client_id: None,
            })
        );
        // A revocation found after the signature verified names the token's user.
        let v = verdict_of(&Inactive::Revoked { jti: "j".into() }, &t);
        assert!(
            matches!(v, Some(TokenVerdict::Revoked { subject: Some(ref s), .. }) if s == "victim")
        );
        // Expired is ordinary; garbage is scanning.
        assert_eq!(verdict_of(&Inactive::Expired { exp: 1 }, &t), None);
        assert_eq!(
            verdict_of(&Inactive::BadSignature, &t),
            Some(TokenVerdict::Invalid)
        );
    }
}
