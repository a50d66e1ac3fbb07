//! The token endpoint, RFC 6749 §3.2 / §4.1.3 / §4.4 / §6, RFC 8628 §3.4–3.5 (token
//! exchange, RFC 8693, is `exchange.rs`), with RFC 8707 resource indicators, and the
//! tokens it mints: JWT access tokens per RFC 9068, ID tokens per OIDC Core §2/§3.1.3.6,
//! opaque rotating refresh tokens (RFC 9700 §4.14.2).

use super::client_auth::Presented;
use super::dpop::ProofInput;
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::{pkce, Provider};
use crate::clock::Timestamp;
use crate::crypto::{random_id, random_token, sha256};
use crate::jwt;
use crate::model::*;
use crate::store::{Issuance, RotateOutcome};
use latchkey_api_types::AuditAction;
use latchkey_api_types::SecurityFamily;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// RFC 6749 §5.1 success body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
    /// RFC 8693 §2.2.1: what `access_token` holds, in a token-exchange response only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// An access token and what the server records of it.
pub struct MintedAccess {
    pub token: String,
    pub record: AccessTokenRecord,
}

/// Whom a token is for.
pub struct Subject<'a> {
    pub user: Option<&'a User>,
    pub session: Option<&'a Session>,
}

impl Provider {
    /// Dispatches on `grant_type`. `form` must be `application/x-www-form-urlencoded`
    /// without repeated parameters (the server checks both).
    pub async fn token(
        &self,
        form: &HashMap<String, String>,
        presented: &Presented,
    ) -> OAuthResult<TokenResponse> {
        let grant = form
            .get("grant_type")
            .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
        if grant == super::exchange::GRANT_TYPE {
            let auth = self.authenticate_client(form, presented, "token").await?;
            let proof = self.token_proof(&auth.client, presented).await?;
            let jkt = proof.as_ref().map(|p| p.jkt.as_str());
            let resp = self
                .grant_token_exchange(&auth, form, presented, jkt)
                .await?;
            self.count_issued(super::exchange::GRANT_TYPE, &auth.client.id);
            self.note_use(super::exchange::GRANT_TYPE, &auth.client.id, &resp.scope);
            return Ok(resp);
        }
        let grant: GrantType = grant.parse().map_err(|_| {
            OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type")
        })?;
        let auth = self.authenticate_client(form, presented, "token").await?;
        let targets = self
            .requested_targets(
                form.get("resource").map(String::as_str),
                form.get("audience").map(String::as_str),
            )
            .await?;
        let target = targets.as_slice();
        let client = auth.client;
        // A requester may hold a refresh family an exchange policy gave it without
        // listing the refresh grant (TK-14 holds for every other client);
        // `grant_refresh` decides once it has the family.
        if !client.allows_grant(grant) && !self.may_hold_exchanged_family(grant, &client).await? {
            return Err(unauthorized_grant());
        }
        let proof = self.token_proof(&client, presented).await?;
        let jkt = proof.as_ref().map(|p| p.jkt.as_str());
        let resp = match grant {
            GrantType::AuthorizationCode => {
                self.grant_code(&client, form, presented, target, jkt).await
            }
            GrantType::RefreshToken => {
                self.grant_refresh(&client, form, presented, target, jkt)
                    .await
            }
            GrantType::ClientCredentials => {
                self.grant_client_credentials(&client, form, target, jkt)
                    .await
            }
            GrantType::DeviceCode => {
                self.grant_device(&client, form, presented, target, jkt)
                    .await
            }
        }?;
        self.count_issued(grant.as_str(), &client.id);
        self.note_use(grant.as_str(), &client.id, &resp.scope);
        Ok(resp)
    }

    /// RFC 9449 §5: the token request's DPoP proof, checked once the client is known (so
    /// an unauthenticated request never writes a jti); every grant, the exchange too. A
    /// client whose tokens are DPoP-bound (§5.2) gets nothing without one.
    async fn token_proof(
        &self,
        client: &Client,
        presented: &Presented,
    ) -> OAuthResult<Option<super::dpop::Proof>> {
        let proof = if presented.dpop.is_empty() {
            None
        } else {
            self.dpop_proof(&ProofInput {
                headers: &presented.dpop,
                method: "POST",
                url: &self.config.endpoint("/token"),
                access_token: None,
            })
            .await?
        };
        if proof.is_none() && client.dpop_bound_access_tokens {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's access tokens are DPoP-bound: a DPoP proof is required",
            ));
        }
        Ok(proof)
    }

    /// Whether `client` may present a refresh token without the refresh grant: one an
    /// enabled exchange policy lets it receive (RFC 8693 §2.2.1).
    async fn may_hold_exchanged_family(
        &self,
        grant: GrantType,
        client: &Client,
    ) -> OAuthResult<bool> {
        if grant != GrantType::RefreshToken || client.is_public() {
            return Ok(false);
        }
        Ok(self.enabled_exchange_policies().await?.iter().any(|p| {
            p.requester_client_id == client.id
                && p.issued_token_types.contains(&TokenTypeUri::RefreshToken)
        }))
    }

    /// RFC 9068 §2.2 access token.
    pub async fn mint_access(
        &self,
        client: &Client,
        subject: &Subject<'_>,
        scopes: &[String],
        now: Timestamp,
    ) -> OAuthResult<MintedAccess> {
        self.mint_access_bound(client, subject, scopes, &[], now, None)
            .await
    }

    /// RFC 9068 §2.2 access token for the audiences the request asked for (RFC 8707):
    /// `aud` and `scope` as [`Provider::target_audience`] decides; bound to a DPoP key
    /// when `jkt` is given: `cnf.jkt` (RFC 9449 §6.1), which introspection and our
    /// resources check.
    pub async fn mint_access_bound(
        &self,
        client: &Client,
        subject: &Subject<'_>,
        scopes: &[String],
        target: &[String],
        now: Timestamp,
        jkt: Option<&str>,
    ) -> OAuthResult<MintedAccess> {
        let (aud, scopes) = self.target_audience(target, scopes);
        let scopes = scopes.as_slice();
        let key = self.signer(self.config.access_token_alg).await?;
        let jti = random_id();
        let exp = now + client.access_token_ttl;
        let sub = match subject.user {
            Some(u) => u.id.clone(),
            // CC-04: a client's own tokens can never be mistaken for a user's.
            None => format!("client:{}", client.id),
        };
        let mut claims = json!({
            "iss": self.config.issuer,
            "sub": sub,
            "aud": aud,
            "client_id": client.id,
            "iat": now,
            "exp": exp,
            "jti": jti,
            "scope": join_scope(scopes),
        });
        if let Some(s) = subject.session {
            claims["sid"] = json!(s.id);
            claims["auth_time"] = json!(s.auth_time);
        }
        if let Some(jkt) = jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        let token = jwt::sign(&key, Some("at+jwt"), &claims)?;
        Ok(MintedAccess {
            token,
            record: AccessTokenRecord {
                jti,
                session_id: subject.session.map(|s| s.id.clone()),
                client_id: client.id.clone(),
                issued_at: now,
                expires_at: exp,
            },
        })
    }

    /// OIDC Core §2 ID token.
    #[allow(clippy::too_many_arguments)]
    pub async fn mint_id_token(
        &self,
        client: &Client,
        user: &User,
        session: &Session,
        nonce: Option<&str>,
        access_token: &str,
        now: Timestamp,
    ) -> OAuthResult<String> {
        let key = self.signer(self.config.id_token_alg).await?;
        let mut claims = json!({
            "iss": self.config.issuer,
            "sub": user.id,
            "aud": client.id,
            "azp": client.id,
            "iat": now,
            "exp": now + self.settings().await?.id_token_ttl,
            "auth_time": session.auth_time,
            "sid": session.id,
            "at_hash": jwt::half_hash(key.alg, access_token),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        self.add_user_claims(&mut claims, user, &session.scopes)
            .await?;
        Ok(jwt::sign(&key, Some("JWT"), &claims)?)
    }

    /// OIDC Core §5.4: the claims the granted scopes release, as configured per scope.
    pub async fn add_user_claims(
        &self,
        out: &mut Value,
        user: &User,
        scopes: &[String],
    ) -> OAuthResult<()> {
        for s in scopes {
            let Some(scope) = self.cached_scope(s).await? else {
                continue;
            };
            for c in &scope.claims {
                let v = match c.as_str() {
                    "name" => user.name.clone().map(Value::from),
                    "preferred_username" => Some(Value::from(user.username.clone())),
                    "email" => user.email.clone().map(Value::from),
                    "email_verified" => user
                        .email
                        .as_ref()
                        .map(|_| Value::from(user.email_verified)),
                    "updated_at" => Some(Value::from(user.created_at)),
                    _ => None,
                };
                if let Some(v) = v {
                    out[c.as_str()] = v;
                }
            }
        }
        Ok(())
    }

    pub(super) fn new_refresh(
        &self,
        client: &Client,
        session_id: &str,
        now: Timestamp,
    ) -> (String, RefreshToken) {
        let value = random_token();
        let row = RefreshToken {
            dpop_jkt: None,
            hash: sha256(value.as_bytes()),
            session_id: session_id.to_string(),
            client_id: client.id.clone(),
            created_at: now,
            consumed_at: None,
            idle_expires_at: now + client.refresh_idle_ttl,
            ip: None,
            user_agent: None,
        };
        (value, row)
    }

    async fn live_user(&self, user_id: &str, auth_time: Timestamp) -> OAuthResult<User> {
        match self.cached_user(user_id).await? {
            // RT-08: a disabled user, or a password change after the sign-in, ends it.
            Some(u) if !u.disabled && u.password_changed_at <= auth_time => Ok(u),
            _ => Err(OAuthError::invalid_grant("the user is no longer active")),
        }
    }

    /// Writes nothing; assembles a session-bound grant for `issue_*`.
    #[allow(clippy::too_many_arguments)]
    async fn session_tokens(
        &self,
        client: &Client,
        user: &User,
        session: &Session,
        at_scopes: &[String],
        nonce: Option<&str>,
        with_refresh: bool,
        target: &[String],
        now: Timestamp,
        jkt: Option<&str>,
    ) -> OAuthResult<(TokenResponse, Option<RefreshToken>, AccessTokenRecord)> {
        let (_, at_scopes) = self.target_audience(target, at_scopes);
        let at_scopes = at_scopes.as_slice();
        let access = self
            .mint_access_bound(
                client,
                &Subject {
                    user: Some(user),
                    session: Some(session),
                },
                at_scopes,
                target,
                now,
                jkt,
            )
            .await?;
        let (rt_value, rt_row) = if with_refresh {
            let (v, mut r) = self.new_refresh(client, &session.id, now);
            // RT-07: the family ends refresh_token_ttl after the grant, even when the
            // session (which also carries the access tokens) lives longer.
            r.idle_expires_at = r
                .idle_expires_at
                .min(session.created_at + client.refresh_token_ttl);
            // RFC 9449 §5: a public client's refresh token is bound to its DPoP key (a
            // confidential client's is bound by its credentials already).
            if client.is_public() {
                r.dpop_jkt = jkt.map(str::to_string);
            }
            (Some(v), Some(r))
        } else {
            (None, None)
        };
        let id_token = if session.scopes.iter().any(|s| s == "openid") {
            Some(
                self.mint_id_token(client, user, session, nonce, &access.token, now)
                    .await?,
            )
        } else {
            None
        };
        Ok((
            TokenResponse {
                access_token: access.token,
                token_type: token_type(jkt),
                expires_in: client.access_token_ttl,
                refresh_token: rt_value,
                id_token,
                scope: join_scope(at_scopes),
                issued_token_type: None,
            },
            rt_row,
            access.record,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_session(
        &self,
        client: &Client,
        user_id: &str,
        sign_in_id: Option<String>,
        scopes: Vec<String>,
        auth_time: Timestamp,
        ip: Option<String>,
        user_agent: Option<String>,
        now: Timestamp,
    ) -> Session {
        Session {
            id: random_id(),
            user_id: user_id.to_string(),
            client_id: client.id.clone(),
            sign_in_id,
            scopes,
            auth_time,
            created_at: now,
            last_used_at: now,
            expires_at: now + client.refresh_token_ttl.max(client.access_token_ttl),
            ip,
            user_agent,
            revoked_at: None,
            revoked_reason: None,
            resources: Vec::new(),
            parent_session_id: None,
            parent_jti: None,
        }
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.6.
    async fn grant_code(
        &self,
        client: &Client,
        form: &HashMap<String, String>,
        presented: &Presented,
        target: &[String],
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let code = form
            .get("code")
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let hash = sha256(code.as_bytes());
        let now = self.now();
        let Some(row) = self.store.auth_code_get(&hash).await? else {
            return Err(OAuthError::invalid_grant("invalid authorization code"));
        };
        // TK-05: the same answer as for an unknown code.
        if row.client_id != client.id {
            return Err(OAuthError::invalid_grant("invalid authorization code"));
        }
        if row.consumed_at.is_some() {
            return Err(self.code_replayed(&hash, presented).await);
        }
        if row.expires_at <= now {
            return Err(OAuthError::invalid_grant("authorization code expired"));
        }
        match form.get("redirect_uri") {
            Some(r) if *r == row.redirect_uri => {}
            None if !row.redirect_uri_sent => {}
            _ => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request",
                ))
            }
        }
        let verifier = form.get("code_verifier");
        match (&row.code_challenge, verifier) {
            (Some(ch), Some(v)) if pkce::verify_s256(v, ch) => {}
            // TK-08: a verifier for a code issued without a challenge is a downgrade.
            _ => return Err(OAuthError::invalid_grant("PKCE verification failed")),
        }
        let target = &super::resource::grant_targets(target, &row.resources)?;
        // RFC 9449 §10: a code bound by `dpop_jkt` is redeemed only with that key.
        if row.dpop_jkt.is_some() && row.dpop_jkt.as_deref() != jkt {
            return Err(OAuthError::invalid_grant(
                "the DPoP proof key does not match the authorization request's dpop_jkt",
            ));
        }
        let user = self.live_user(&row.user_id, row.auth_time).await?;
        let scopes = grantable_scopes(&user, &row.scopes);
        let mut session = self.new_session(
            client,
            &user.id,
            row.sign_in_id.clone(),
            scopes.clone(),
            row.auth_time,
            row.ip.clone(),
            row.user_agent.clone(),
            now,
        );
        // The grant's resources bound every refresh of this family, not the first
        // redemption's narrower choice.
        session.resources = row.resources.clone();
        let with_refresh = client.allows_grant(GrantType::RefreshToken);
        let (resp, rt, at) = self
            .session_tokens(
                client,
                &user,
                &session,
                &scopes,
                row.nonce.as_deref(),
                with_refresh,
                target,
                now,
                jkt,
            )
            .await?;
        let issue = Issuance {
            event: Some(session_created_event(&session, "authorization_code")),
            session: Some(session),
            refresh: rt,
            access: Some(at),
        };
        if !self.store.auth_code_redeem(&hash, now, &issue).await? {
            // Lost a race with another redemption, or expired meanwhile.
            return Err(self.code_replayed(&hash, presented).await);
        }
        Ok(resp)
    }

    /// RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
    async fn code_replayed(&self, hash: &[u8], presented: &Presented) -> OAuthError {
        if let Ok(Some(row)) = self.store.auth_code_get(hash).await {
            if let Some(sid) = row.session_id {
                let _ = self
                    .store
                    .session_revoke(&sid, "authorization_code_reuse", self.now(), None)
                    .await;
            }
            if row.consumed_at.is_some() {
                self.security_event(
                    &format!("client:{}", row.client_id),
                    SecurityFamily::AuthorizationCodeReuseDetected,
                    None,
                    Some(&row.client_id),
                    presented.ip.as_deref(),
                )
                .await;
            }
        }
        OAuthError::invalid_grant("invalid authorization code")
    }

    /// RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2).
    async fn grant_refresh(
        &self,
        client: &Client,
        form: &HashMap<String, String>,
        presented: &Presented,
        target: &[String],
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let token = form
            .get("refresh_token")
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let hash = sha256(token.as_bytes());
        let now = self.now();
        let Some(rt) = self.store.refresh_get(&hash).await? else {
            return Err(OAuthError::invalid_grant("invalid refresh token"));
        };
        // RT-04: another client's token is simply invalid here, and stays valid for
        // its owner (no denial of service against the victim).
        if rt.client_id != client.id {
            return Err(OAuthError::invalid_grant("invalid refresh token"));
        }
        // RFC 9449 §5: a bound refresh token needs a proof by its key (catalogue DP-06).
        if rt.dpop_jkt.is_some() && rt.dpop_jkt.as_deref() != jkt {
            return Err(OAuthError::invalid_grant(
                "the refresh token is bound to another DPoP key",
            ));
        }
        let Some(session) = self.store.session_get(&rt.session_id).await? else {
            return Err(OAuthError::invalid_grant("invalid refresh token"));
        };
        // RFC 8693 §2.2.1: a family an exchange derived is the policy's grant; any
        // other needs the refresh grant on the client.
        if !client.allows_grant(GrantType::RefreshToken) && session.parent_session_id.is_none() {
            return Err(unauthorized_grant());
        }
        if !self.session_live(&session, now).await? {
            return Err(OAuthError::invalid_grant("the session has ended"));
        }
        let at_scopes = match form.get("scope") {
            None => session.scopes.clone(),
            Some(s) => {
                let req = parse_scope(s);
                if req.is_empty() || !req.iter().all(|r| session.scopes.contains(r)) {
                    return Err(OAuthError::invalid_scope(
                        "scope exceeds the original grant",
                    ));
                }
                req
            }
        };
        // A session granted before the reservation keeps no admin power for a client
        // that may no longer request it.
        if at_scopes.iter().any(|s| is_admin_scope(s)) && !client.may_request_admin_scopes() {
            return Err(OAuthError::invalid_scope(
                "the admin scopes are reserved to latchkey-console and admin tools",
            ));
        }
        let target = &super::resource::grant_targets(target, &session.resources)?;
        let user = self.live_user(&session.user_id, session.auth_time).await?;
        let (resp, new_rt, at) = self
            .session_tokens(
                client, &user, &session, &at_scopes, None, true, target, now, jkt,
            )
            .await?;
        let Some(mut new_rt) = new_rt else {
            return Err(OAuthError::server_error());
        };
        // Who now holds the family: what a later replay of the spent token is compared
        // with (detection 5).
        new_rt.ip = presented.ip.clone();
        new_rt.user_agent = presented.user_agent.clone();
        match self
            .store
            .refresh_rotate(&hash, now, &new_rt, Some(&at))
            .await?
        {
            RotateOutcome::Rotated { .. } => Ok(resp),
            RotateOutcome::AlreadyConsumed {
                session_id,
                consumed_at,
            } => {
                // Grace window (a client retrying after a lost response): only the
                // latest spent token of the family, only within the window, and every
                // use audited. An older spent token is reuse, whatever the window.
                if client.refresh_grace_secs > 0
                    && now - consumed_at <= client.refresh_grace_secs.min(30)
                {
                    if self
                        .store
                        .refresh_reissue(&session_id, &hash, now, &new_rt, Some(&at))
                        .await?
                    {
                        self.security_event(
                            &format!("client:{}", client.id),
                            SecurityFamily::RefreshTokenGraceRetry,
                            None,
                            Some(&session_id),
                            presented.ip.as_deref(),
                        )
                        .await;
                        return Ok(resp);
                    }
                    let ended = match self.store.session_get(&session_id).await? {
                        Some(s) => !self.session_live(&s, now).await?,
                        None => true,
                    };
                    if ended {
                        return Err(OAuthError::invalid_grant("invalid refresh token"));
                    }
                }
                self.store
                    .session_revoke(&session_id, "refresh_token_reuse", now, None)
                    .await?;
                self.security_event(
                    &format!("client:{}", client.id),
                    SecurityFamily::RefreshTokenReuseDetected,
                    None,
                    Some(&session_id),
                    presented.ip.as_deref(),
                )
                .await;
                self.signal(crate::monitor::Signal::RefreshReused {
                    client_id: client.id.clone(),
                    session_id: session_id.clone(),
                    token_hash: hash.clone(),
                    addr: presented.ip.as_deref().and_then(|i| i.parse().ok()),
                    user_agent: presented.user_agent.clone(),
                });
                Err(OAuthError::invalid_grant("invalid refresh token"))
            }
            RotateOutcome::Dead | RotateOutcome::NotFound => {
                Err(OAuthError::invalid_grant("invalid refresh token"))
            }
        }
    }

    /// RFC 6749 §4.4: no refresh token, no ID token (CC-01).
    async fn grant_client_credentials(
        &self,
        client: &Client,
        form: &HashMap<String, String>,
        target: &[String],
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            ));
        }
        let scopes = match form.get("scope") {
            Some(s) if !s.trim().is_empty() => parse_scope(s),
            _ => client
                .allowed_scopes
                .iter()
                .filter(|s| {
                    !matches!(
                        s.as_str(),
                        "openid" | "offline_access" | "profile" | "email"
                    ) && !is_admin_scope(s)
                })
                .cloned()
                .collect(),
        };
        if scopes
            .iter()
            .any(|s| matches!(s.as_str(), "openid" | "offline_access"))
        {
            return Err(OAuthError::invalid_scope(
                "user scopes are not available to client_credentials",
            ));
        }
        if scopes.iter().any(|s| is_admin_scope(s)) {
            return Err(OAuthError::invalid_scope(
                "admin scopes are granted only to administrators, never to a client alone",
            ));
        }
        self.check_scopes(client, &scopes).await?;
        let now = self.now();
        let (_, scopes) = self.target_audience(target, &scopes);
        let access = self
            .mint_access_bound(
                client,
                &Subject {
                    user: None,
                    session: None,
                },
                &scopes,
                target,
                now,
                jkt,
            )
            .await?;
        Ok(TokenResponse {
            access_token: access.token,
            token_type: token_type(jkt),
            expires_in: client.access_token_ttl,
            refresh_token: None,
            id_token: None,
            scope: join_scope(&scopes),
            issued_token_type: None,
        })
    }

    /// RFC 8628 §3.4–3.5.
    async fn grant_device(
        &self,
        client: &Client,
        form: &HashMap<String, String>,
        presented: &Presented,
        target: &[String],
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let code = form
            .get("device_code")
            .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
        let hash = sha256(code.as_bytes());
        let now = self.now();
        let Some(dc) = self.store.device_get(&hash).await? else {
            return Err(OAuthError::invalid_grant("invalid device code"));
        };
        if dc.client_id != client.id {
            return Err(OAuthError::invalid_grant("invalid device code"));
        }
        if dc.expires_at <= now {
            return Err(OAuthError::new(
                ErrorCode::ExpiredToken,
                "the device code has expired",
            ));
        }
        match dc.status {
            DeviceStatus::Denied => Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            )),
            DeviceStatus::Consumed => Err(OAuthError::invalid_grant("invalid device code")),
            DeviceStatus::Pending => {
                // §3.5 slow_down: polling faster than the interval widens it by 5 s.
                if dc.last_polled_at.is_some_and(|t| now - t < dc.interval) {
                    self.store.device_touch(&hash, now, dc.interval + 5).await?;
                    return Err(OAuthError::new(ErrorCode::SlowDown, "polling too fast"));
                }
                self.store.device_touch(&hash, now, dc.interval).await?;
                Err(OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the user has not yet decided",
                ))
            }
            DeviceStatus::Approved => {
                let (Some(user_id), Some(auth_time)) = (dc.user_id.clone(), dc.auth_time) else {
                    return Err(OAuthError::invalid_grant("invalid device code"));
                };
                let target = &super::resource::grant_targets(target, &dc.resources)?;
                let user = self.live_user(&user_id, auth_time).await?;
                let scopes = grantable_scopes(&user, &dc.scopes);
                let mut session = self.new_session(
                    client,
                    &user.id,
                    dc.sign_in_id.clone(),
                    scopes.clone(),
                    auth_time,
                    presented.ip.clone(),
                    None,
                    now,
                );
                session.resources = dc.resources.clone();
                let with_refresh = client.allows_grant(GrantType::RefreshToken);
                let (resp, rt, at) = self
                    .session_tokens(
                        client,
                        &user,
                        &session,
                        &scopes,
                        None,
                        with_refresh,
                        target,
                        now,
                        jkt,
                    )
                    .await?;
                let issue = Issuance {
                    event: Some(session_created_event(&session, "device_code")),
                    session: Some(session),
                    refresh: rt,
                    access: Some(at),
                };
                if !self.store.device_redeem(&hash, now, &issue).await? {
                    return Err(OAuthError::invalid_grant("invalid device code"));
                }
                Ok(resp)
            }
        }
    }
}

fn unauthorized_grant() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the client may not use this grant type",
    )
}

/// RFC 9449 §5.1 / RFC 6749 §7.1: `DPoP` for a token bound to a key.
pub(super) fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() {
        "DPoP"
    } else {
        "Bearer"
    }
}

/// The activity record of a new session: who signed in to which client, from where. It
/// feeds the console's live session table and the audit log; no token material in it.
pub(super) fn session_created_event(session: &Session, grant: &str) -> NewAuditEvent {
    NewAuditEvent::new(
        session.created_at,
        format!("user:{}", session.user_id),
        AuditAction::SessionCreate.as_str(),
    )
    .target(session.id.clone())
    .after(&serde_json::json!({
        "client_id": session.client_id,
        "scopes": session.scopes,
        "grant_type": grant,
        "user_agent": session.user_agent,
    }))
    .ip(session.ip.clone())
}

/// RFC 6749 §3.3 lets the server grant less than was asked: the admin API scopes go only
/// to users with the admin role, whatever the client may request.
fn grantable_scopes(user: &User, requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| user.is_admin || !is_admin_scope(s))
        .cloned()
        .collect()
}
