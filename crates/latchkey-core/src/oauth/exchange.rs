//! OAuth 2.0 Token Exchange (RFC 8693) at the token endpoint, and its dry run.
//!
//! Deny by default: an exchange happens only when an enabled policy
//! ([`ExchangePolicy`], managed in `manage::exchange_policies`) allows every part of it.
//! The grant ([`Provider::grant_token_exchange`]) and the administrator's explain tool
//! ([`Provider::explain_exchange`]) run the one evaluation, [`Provider::evaluate_exchange`];
//! only what happens after it differs (sign, record, audit — or nothing), so the
//! explanation can never disagree with /token.
//!
//! The rules (issue 13; RFC 8693 §2.1, §4, §5; RFC 9700 §2.3):
//! * only an authenticated confidential client may exchange (§2.1: otherwise a stolen
//!   token could be traded by anyone who holds it);
//! * subject and actor tokens are this server's own access tokens and ID tokens, active
//!   now (signature, expiry, every revocation), and `subject_token_type` must be what
//!   the token really is; a refresh token is never a subject;
//! * only narrowing: every audience asked (RFC 8707 §2: several give one token with an
//!   `aud` array) is one the matching policy names, the scopes are within the
//!   policy's and the subject's, the lifetime within the policy's cap and never past the
//!   subject's `exp`; the admin scopes and the admin API never pass through;
//! * delegation (§1.1, §4.1): `act` names the actor, nesting the subject's own `act`
//!   (the call chain), capped in depth; `may_act` in the subject (§4.4) is honoured;
//! * the new token inherits the subject's session (`sid`) and remembers its parent, so
//!   revoking the session, the refresh family or the parent token revokes it too;
//! * errors are RFC 8693 §2.2.2 / RFC 6749 §5.2 codes with fixed descriptions: every
//!   problem with a subject or actor token reads the same, so the answer never says
//!   whether a token exists, was revoked or was forged.

use super::client_auth::{Authenticated, Presented};
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::resource::same_resource;
use super::token::{session_created_event, TokenResponse};
use super::Provider;
use crate::clock::Timestamp;
use crate::crypto::{random_id, sha256};
use crate::jwt;
use crate::model::*;
use crate::store::Issuance;
use latchkey_api_types::AuditAction;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// RFC 8693 §2.1 `grant_type`.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The one description of every subject-token problem (unknown, forged, expired,
/// revoked, of another type than declared, not acceptable to any policy).
pub const BAD_SUBJECT: &str = "the subject token is invalid or may not be exchanged by this client";
/// The same for actor tokens.
pub const BAD_ACTOR: &str = "the actor token is invalid or may not act for this subject";

/// An RFC 8693 §2.1 request, as parsed from the form.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: String,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub resource: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub requested_token_type: Option<String>,
}

impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials: never in a log line.
        f.debug_struct("ExchangeRequest")
            .field("subject_token_type", &self.subject_token_type)
            .field("actor_token_type", &self.actor_token_type)
            .field("resource", &self.resource)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("requested_token_type", &self.requested_token_type)
            .finish_non_exhaustive()
    }
}

/// Why an exchange is refused: what the client is told (an RFC code with a fixed
/// description), and for the administrator the rule and a detail (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: OAuthError,
    /// A stable name of the rule (`subject.inactive`, `policy.target`, …).
    pub rule: &'static str,
    pub detail: String,
}

impl Refusal {
    fn new(error: OAuthError, rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            error,
            rule,
            detail: detail.into(),
        }
    }
    fn subject(rule: &'static str, detail: impl Into<String>) -> Self {
        Self::new(OAuthError::invalid_request(BAD_SUBJECT), rule, detail)
    }
    fn actor(rule: &'static str, detail: impl Into<String>) -> Self {
        Self::new(OAuthError::invalid_request(BAD_ACTOR), rule, detail)
    }
}

/// What the evaluation learnt of a subject or actor token (identity claims only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenFacts {
    pub token_type: TokenTypeUri,
    pub sub: String,
    /// `client_id` of an access token, `azp` of an ID token.
    pub client_id: String,
    pub aud: Vec<String>,
    pub scopes: Vec<String>,
    pub exp: Timestamp,
    pub jti: Option<String>,
    pub sid: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub act: Option<Value>,
    pub may_act: Option<Value>,
}

/// One policy's verdict on the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVerdict {
    pub policy_id: String,
    pub matched: bool,
    /// The first rule of this policy the request failed.
    pub rule: Option<&'static str>,
    pub reason: Option<String>,
}

/// The token an allowed exchange issues, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedToken {
    pub policy_id: String,
    pub issued_token_type: TokenTypeUri,
    pub claims: Value,
    /// Every audience of the token, in the order asked.
    pub audience: Vec<String>,
    pub scopes: Vec<String>,
    pub expires_in: i64,
    pub delegation: bool,
    /// Whether a refresh token comes with the access token (RFC 8693 §2.2.1): only when
    /// the policy names `refresh_token`, for a user's session, without `act`.
    pub with_refresh: bool,
}

/// The whole evaluation: what was asked, what each policy said, and the outcome.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub requester: String,
    pub subject: Option<TokenFacts>,
    pub actor: Option<TokenFacts>,
    pub audience_asked: Option<String>,
    pub scopes_asked: Option<Vec<String>>,
    pub policies: Vec<PolicyVerdict>,
    pub outcome: Result<PlannedToken, Refusal>,
}

impl Evaluation {
    fn refused(mut self, r: Refusal) -> Self {
        self.outcome = Err(r);
        self
    }

    /// The audit record of an exchange (granted or refused): who asked what, what came
    /// out, which policy allowed it or why none did. No token, only identifiers.
    pub fn audit_json(&self) -> Value {
        let (granted_aud, granted_scopes, policy, rule, reason) = match &self.outcome {
            // As the token's `aud`: a string for one audience, an array for several.
            Ok(p) => (
                Some(match p.audience.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                }),
                Some(p.scopes.clone()),
                Some(p.policy_id.clone()),
                None,
                None,
            ),
            Err(r) => (None, None, None, Some(r.rule), Some(r.detail.clone())),
        };
        json!({
            "requester": self.requester,
            "subject": self.subject.as_ref().map(|s| &s.sub),
            "subject_client": self.subject.as_ref().map(|s| &s.client_id),
            "subject_token_type": self.subject.as_ref().map(|s| s.token_type.short()),
            "actor": self.actor.as_ref().map(|a| &a.sub),
            "actor_client": self.actor.as_ref().map(|a| &a.client_id),
            "audience_asked": self.audience_asked,
            "audience_granted": granted_aud,
            "scopes_asked": self.scopes_asked,
            "scopes_granted": granted_scopes,
            "policy": policy,
            "rule": rule,
            "reason": reason,
            "policies": self.policies,
        })
    }
}

/// Reads a parameter: absent is `None`, present but empty is refused (issue 13; a
/// dropped value must never fall back to something else).
fn param<'a>(form: &'a HashMap<String, String>, name: &str) -> OAuthResult<Option<&'a str>> {
    match form.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(OAuthError::invalid_request(
            "a token exchange parameter is present but empty",
        )),
        Some(v) => Ok(Some(v.as_str())),
    }
}

impl ExchangeRequest {
    /// RFC 8693 §2.1. Duplicates were refused by the server's parser before this.
    pub fn from_form(form: &HashMap<String, String>) -> OAuthResult<Self> {
        let subject_token = param(form, "subject_token")?
            .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
        let subject_token_type = param(form, "subject_token_type")?
            .ok_or_else(|| OAuthError::invalid_request("subject_token_type is required"))?;
        Ok(Self {
            subject_token: subject_token.to_string(),
            subject_token_type: subject_token_type.to_string(),
            actor_token: param(form, "actor_token")?.map(str::to_string),
            actor_token_type: param(form, "actor_token_type")?.map(str::to_string),
            resource: param(form, "resource")?.map(str::to_string),
            audience: param(form, "audience")?.map(str::to_string),
            scope: param(form, "scope")?.map(str::to_string),
            requested_token_type: param(form, "requested_token_type")?.map(str::to_string),
        })
    }
}

fn aud_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// RFC 8693 §4.1: the depth of an `act` chain (each nested `act` is one more actor).
pub fn act_depth(act: Option<&Value>) -> i64 {
    let mut depth = 0;
    let mut cur = act;
    while let Some(Value::Object(o)) = cur {
        depth += 1;
        if depth > crate::limits::MAX_ACT_DEPTH + 1 {
            break;
        }
        cur = o.get("act");
    }
    depth
}

/// The stage a policy reached; the furthest one decides the error code, so a request
/// that a policy allows for this subject but not for that audience hears
/// `invalid_target`, not a subject error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Subject,
    IssuedType,
    Target,
    Scope,
}

struct Miss {
    stage: Stage,
    rule: &'static str,
    reason: String,
}

fn miss(stage: Stage, rule: &'static str, reason: impl Into<String>) -> Miss {
    Miss {
        stage,
        rule,
        reason: reason.into(),
    }
}

impl Provider {
    /// The token a request names: declared type checked against what the token really
    /// is, then every check an active token must pass. `Err` is a rule name and the
    /// administrator's detail; the caller picks the public answer.
    async fn exchange_token_facts(
        &self,
        token: &str,
        declared: &str,
    ) -> OAuthResult<Result<TokenFacts, (&'static str, String)>> {
        let Some(declared) = TokenTypeUri::parse_any(declared) else {
            return Ok(Err((
                "token.type_unsupported",
                "the declared token type is not one this server accepts".into(),
            )));
        };
        if declared == TokenTypeUri::RefreshToken {
            return Ok(Err((
                "token.refresh_token",
                "a refresh token is never exchanged".into(),
            )));
        }
        let real = match jwt::parse_structure(token)
            .ok()
            .as_ref()
            .and_then(|p| p.typ())
        {
            Some("at+jwt") => Some(TokenTypeUri::AccessToken),
            Some("JWT") => Some(TokenTypeUri::IdToken),
            _ => None,
        };
        let Some(real) = real else {
            return Ok(Err((
                "token.inactive",
                "not an active token of this server".into(),
            )));
        };
        if real != declared {
            return Ok(Err((
                "token.type_mismatch",
                format!(
                    "declared {} but the token is an {}",
                    declared.short(),
                    real.short()
                ),
            )));
        }
        let claims = match real {
            TokenTypeUri::AccessToken => self.active_access_token(token).await?,
            _ => self.active_id_token(token).await?,
        };
        let Some(claims) = claims else {
            return Ok(Err((
                "token.inactive",
                "not an active token of this server (unknown, forged, expired or revoked)".into(),
            )));
        };
        let s = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let sub = s("sub").unwrap_or_default();
        let client_id = match real {
            TokenTypeUri::AccessToken => s("client_id"),
            _ => s("azp"),
        }
        .unwrap_or_default();
        let sid = s("sid");
        // A user subject must still be a live user now (disabled users' tokens, even
        // unexpired, are not traded).
        if !sub.starts_with("client:") {
            match self.cached_user(&sub).await? {
                Some(u) if !u.disabled => {}
                _ => {
                    return Ok(Err((
                        "token.inactive",
                        "the token's user is disabled or gone".into(),
                    )))
                }
            }
        }
        let scopes = match real {
            TokenTypeUri::AccessToken => {
                parse_scope(claims.get("scope").and_then(Value::as_str).unwrap_or(""))
            }
            // An ID token carries no scope: its session's grant is what it stands for.
            _ => match &sid {
                Some(sid) => self
                    .cached_session(sid)
                    .await?
                    .map(|s| s.scopes)
                    .unwrap_or_default(),
                None => Vec::new(),
            },
        };
        Ok(Ok(TokenFacts {
            token_type: real,
            sub,
            client_id,
            aud: aud_list(claims.get("aud")),
            scopes,
            exp: claims.get("exp").and_then(Value::as_i64).unwrap_or(0),
            jti: s("jti"),
            sid,
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
            act: claims.get("act").cloned(),
            may_act: claims.get("may_act").cloned(),
        }))
    }

    /// One of our ID tokens (OIDC Core §2), active: signed by a published key under the
    /// key's algorithm, our issuer, unexpired, its client (`azp`) enabled and its
    /// watermark before the token, its session live. `Ok(None)`: not active.
    pub async fn active_id_token(&self, token: &str) -> OAuthResult<Option<Map<String, Value>>> {
        let Ok(parsed) = jwt::parse(token) else {
            return Ok(None);
        };
        if parsed.typ() != Some("JWT") {
            return Ok(None);
        }
        let keys = self.keys().await?;
        let Some((alg, state, jwk)) = parsed.kid().and_then(|k| keys.by_kid.get(k)) else {
            return Ok(None);
        };
        if !matches!(
            state,
            KeyState::Active | KeyState::Retiring | KeyState::Next
        ) || parsed.alg() != Some(alg.as_str())
        {
            return Ok(None);
        }
        let now = self.now();
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
                return Ok(None);
            }
            if let Some(exp) = parsed.int_claim("exp") {
                self.remember_signature(fingerprint, exp, now);
            }
        }
        if parsed.str_claim("iss") != Some(self.config.issuer.as_str()) {
            return Ok(None);
        }
        let (Some(exp), Some(iat)) = (parsed.int_claim("exp"), parsed.int_claim("iat")) else {
            return Ok(None);
        };
        if exp <= now {
            return Ok(None);
        }
        let Some(azp) = parsed.str_claim("azp") else {
            return Ok(None);
        };
        match self.cached_client(azp).await? {
            Some(c) if !c.disabled && iat > c.tokens_valid_after => {}
            _ => return Ok(None),
        }
        // Our ID tokens always name their session; one without is not ours to trade.
        let Some(sid) = parsed.str_claim("sid") else {
            return Ok(None);
        };
        let live = match self.cached_session(sid).await? {
            Some(s) => self.session_live(&s, now).await?,
            None => false,
        };
        if !live {
            return Ok(None);
        }
        // Exchanged ID tokens carry a jti: revoking their parent denylists it.
        if let Some(jti) = parsed.str_claim("jti") {
            if self.cached_jti_revoked(jti).await? {
                return Ok(None);
            }
        }
        Ok(Some(parsed.claims))
    }

    /// The one evaluation of an exchange, for the grant and the explain tool alike.
    /// `requester` is the client asking (authenticated by the caller for a real
    /// exchange). Nothing is written. `Err` is a storage failure only.
    pub async fn evaluate_exchange(
        &self,
        requester: Option<&Client>,
        requester_id: &str,
        req: &ExchangeRequest,
        now: Timestamp,
    ) -> OAuthResult<Evaluation> {
        let scopes_asked = req.scope.as_deref().map(parse_scope);
        let audience_asked = req.audience.clone().or_else(|| req.resource.clone());
        let mut ev = Evaluation {
            requester: requester_id.to_string(),
            subject: None,
            actor: None,
            audience_asked,
            scopes_asked: scopes_asked.clone(),
            policies: Vec::new(),
            outcome: Err(Refusal::new(OAuthError::server_error(), "unevaluated", "")),
        };
        // 1. The requester: an enabled confidential client (RFC 8693 §2.1).
        let Some(client) = requester.filter(|c| !c.disabled) else {
            return Ok(ev.refused(Refusal::new(
                OAuthError::invalid_client(),
                "requester.unknown",
                "no enabled client with this id",
            )));
        };
        if client.is_public() || client.auth_method == AuthMethod::None {
            return Ok(ev.refused(Refusal::new(
                OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "only confidential clients may exchange tokens",
                ),
                "requester.public",
                "public clients and clients without authentication never exchange",
            )));
        }
        // 2. Deny by default: some enabled policy must name this requester.
        let all = self.enabled_exchange_policies().await?;
        let policies: Vec<&ExchangePolicy> = all
            .iter()
            .filter(|p| p.requester_client_id == client.id)
            .collect();
        if policies.is_empty() {
            return Ok(ev.refused(Refusal::new(
                OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "the client may not exchange tokens",
                ),
                "policy.none_for_requester",
                "no enabled policy names this client as requester",
            )));
        }
        // 3. The request's own shape.
        if req.actor_token.is_some() != req.actor_token_type.is_some() {
            return Ok(ev.refused(Refusal::new(
                OAuthError::invalid_request("actor_token and actor_token_type go together"),
                "request.actor_pair",
                "actor_token and actor_token_type must both be present or both absent",
            )));
        }
        let requested = match req.requested_token_type.as_deref() {
            None => TokenTypeUri::AccessToken,
            Some(t) => match TokenTypeUri::parse_any(t) {
                Some(TokenTypeUri::RefreshToken) | None => {
                    return Ok(ev.refused(Refusal::new(
                        OAuthError::invalid_request("requested_token_type is not available"),
                        "request.requested_type",
                        "only access tokens and ID tokens are issued by an exchange",
                    )))
                }
                Some(t) => t,
            },
        };
        // RFC 8707 §2 / RFC 8693 §2.1: several targets give one multi-audience token;
        // every one must be allowed by the one policy that matches.
        let targets = match super::resource::parse_targets(
            req.resource.as_deref(),
            req.audience.as_deref(),
        ) {
            Ok(t) if t.is_empty() => {
                // Nothing defaults to the requester's own identity (CVE-2026-9704).
                return Ok(ev.refused(Refusal::new(
                    OAuthError::invalid_request("audience or resource is required"),
                    "request.no_target",
                    "the request names no audience or resource",
                )));
            }
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::InvalidTarget => {
                return Ok(ev.refused(Refusal::new(
                    e,
                    "request.resource_form",
                    "resource is not an absolute URI without a fragment",
                )))
            }
            Err(e) => {
                return Ok(ev.refused(Refusal::new(
                    e,
                    "request.target_conflict",
                    "resource and audience disagree",
                )))
            }
        };
        if let Some(asked) = &scopes_asked {
            if asked.is_empty() || !asked.iter().all(|s| is_valid_scope_token(s)) {
                return Ok(ev.refused(Refusal::new(
                    OAuthError::invalid_scope("scope is malformed"),
                    "request.scope_form",
                    "scope is empty or malformed",
                )));
            }
        }
        // 4. The subject token, then the actor token.
        let subject = match self
            .exchange_token_facts(&req.subject_token, &req.subject_token_type)
            .await?
        {
            Ok(f) => f,
            Err((rule, detail)) => {
                return Ok(ev.refused(Refusal::subject(rule, format!("subject token: {detail}"))))
            }
        };
        ev.subject = Some(subject.clone());
        let actor = match (&req.actor_token, &req.actor_token_type) {
            (Some(t), Some(tt)) => match self.exchange_token_facts(t, tt).await? {
                Ok(f) => {
                    // The actor acts as itself: a delegated token is not an actor.
                    if f.act.is_some() {
                        return Ok(ev.refused(Refusal::actor(
                            "actor.delegated",
                            "actor token: it carries act itself",
                        )));
                    }
                    Some(f)
                }
                Err((rule, detail)) => {
                    return Ok(ev.refused(Refusal::actor(rule, format!("actor token: {detail}"))))
                }
            },
            _ => None,
        };
        ev.actor = actor.clone();
        // RFC 8693 §4.4: the subject says who may act for it; only they may.
        if let (Some(may), Some(a)) = (&subject.may_act, &actor) {
            let names =
                |k: &str, v: &str| may.get(k).and_then(Value::as_str).is_none_or(|m| m == v);
            let ok = may.is_object()
                && names("sub", &a.sub)
                && names("client_id", &a.client_id)
                && names("iss", &self.config.issuer);
            if !ok {
                return Ok(ev.refused(Refusal::actor(
                    "actor.may_act",
                    "the subject token's may_act does not name this actor",
                )));
            }
        }
        // 5. Each policy, in order; the first that allows everything wins.
        let mut best: Option<Miss> = None;
        let mut planned: Option<PlannedToken> = None;
        for p in policies {
            match self.check_policy(
                p,
                client,
                &subject,
                actor.as_ref(),
                requested,
                &targets,
                scopes_asked.as_deref(),
                now,
            ) {
                Ok(plan) => {
                    ev.policies.push(PolicyVerdict {
                        policy_id: p.id.clone(),
                        matched: true,
                        rule: None,
                        reason: None,
                    });
                    if planned.is_none() {
                        planned = Some(plan);
                    }
                }
                Err(m) => {
                    ev.policies.push(PolicyVerdict {
                        policy_id: p.id.clone(),
                        matched: false,
                        rule: Some(m.rule),
                        reason: Some(m.reason.clone()),
                    });
                    if best.as_ref().is_none_or(|b| m.stage > b.stage) {
                        best = Some(m);
                    }
                }
            }
        }
        if let Some(plan) = planned {
            ev.outcome = Ok(plan);
            return Ok(ev);
        }
        let m = best.unwrap_or_else(|| miss(Stage::Subject, "policy.none", "no policy"));
        let error = match m.stage {
            Stage::Subject => OAuthError::invalid_request(BAD_SUBJECT),
            Stage::IssuedType => {
                OAuthError::invalid_request("requested_token_type is not available")
            }
            Stage::Target => OAuthError::new(
                ErrorCode::InvalidTarget,
                "the requested audience or resource is not allowed",
            ),
            Stage::Scope => OAuthError::invalid_scope("the requested scope is not allowed"),
        };
        Ok(ev.refused(Refusal::new(
            error,
            m.rule,
            format!("no policy matched; closest: {}", m.reason),
        )))
    }

    /// One policy against the request; on success the token it would issue.
    #[allow(clippy::too_many_arguments)]
    fn check_policy(
        &self,
        p: &ExchangePolicy,
        requester: &Client,
        subject: &TokenFacts,
        actor: Option<&TokenFacts>,
        requested: TokenTypeUri,
        targets: &[String],
        scopes_asked: Option<&[String]>,
        now: Timestamp,
    ) -> Result<PlannedToken, Miss> {
        use Stage::*;
        if !p.subject_token_types.contains(&subject.token_type) {
            return Err(miss(
                Subject,
                "policy.subject_type",
                format!(
                    "subject token type {} not allowed",
                    subject.token_type.short()
                ),
            ));
        }
        if !p.subject_client_ids.is_empty() && !p.subject_client_ids.contains(&subject.client_id) {
            return Err(miss(
                Subject,
                "policy.subject_client",
                format!("subject client {} not in the allow-list", subject.client_id),
            ));
        }
        if p.requester_must_be_in_subject_aud
            && subject.client_id != requester.id
            && !subject.aud.iter().any(|a| a == &requester.id)
        {
            return Err(miss(
                Subject,
                "policy.requester_not_in_aud",
                format!(
                    "the requester {} is not in the subject token's aud and is not its client",
                    requester.id
                ),
            ));
        }
        match (p.mode, actor) {
            (ExchangeMode::Impersonation, Some(_)) => {
                return Err(miss(
                    Subject,
                    "policy.mode",
                    "the policy allows impersonation only (no actor token)",
                ))
            }
            (ExchangeMode::Delegation, None) => {
                return Err(miss(
                    Subject,
                    "policy.mode",
                    "the policy allows delegation only (an actor token is required)",
                ))
            }
            _ => {}
        }
        if let Some(a) = actor {
            let allowed = if p.actor_client_ids.is_empty() {
                a.client_id == requester.id
            } else {
                p.actor_client_ids.contains(&a.client_id)
            };
            if !allowed {
                return Err(miss(
                    Subject,
                    "policy.actor_client",
                    format!("actor client {} is not allowed to act", a.client_id),
                ));
            }
        }
        let depth = act_depth(subject.act.as_ref()) + i64::from(actor.is_some());
        if depth > p.max_act_depth {
            return Err(miss(
                Subject,
                "policy.act_depth",
                format!(
                    "the act chain would be {depth} deep, over the policy's {}",
                    p.max_act_depth
                ),
            ));
        }
        if !p.issued_token_types.contains(&requested) {
            return Err(miss(
                IssuedType,
                "policy.issued_type",
                format!("the policy does not issue {}", requested.short()),
            ));
        }
        if requested == TokenTypeUri::IdToken && subject.sub.starts_with("client:") {
            return Err(miss(
                IssuedType,
                "policy.id_token_needs_user",
                "an ID token needs a user as subject",
            ));
        }
        // Every target must be one of this policy's (RFC 8707 §2), named as the policy
        // names it. The admin API is never a target, whatever a policy says (exchanged
        // tokens are never admin credentials).
        let mut audience: Vec<String> = Vec::with_capacity(targets.len());
        for target in targets {
            let Some(t) = p
                .targets
                .iter()
                .find(|t| same_resource(t, target))
                .filter(|t| !self.is_admin_api(t))
            else {
                return Err(miss(
                    Target,
                    "policy.target",
                    format!("target {target} is not among the policy's targets"),
                ));
            };
            if !audience.contains(t) {
                audience.push(t.clone());
            }
        }
        // Only narrowing: within the subject's scopes and the policy's list.
        let allowed = |s: &String| {
            !is_admin_scope(s)
                && subject.scopes.contains(s)
                && (p.scopes.is_empty() || p.scopes.contains(s))
        };
        let scopes: Vec<String> = match scopes_asked {
            Some(asked) => {
                if let Some(bad) = asked.iter().find(|s| !allowed(s)) {
                    return Err(miss(
                        Scope,
                        "policy.scope",
                        format!("scope {bad} is not within the subject's and the policy's scopes"),
                    ));
                }
                asked.to_vec()
            }
            None => subject
                .scopes
                .iter()
                .filter(|s| allowed(s))
                .cloned()
                .collect(),
        };
        // Never longer than the subject, the policy's cap or the requester's lifetime.
        let exp = (now + p.max_ttl_secs.min(requester.access_token_ttl)).min(subject.exp);
        if exp <= now {
            return Err(miss(
                Subject,
                "policy.expired",
                "the subject token expires now",
            ));
        }
        // RFC 8693 §2.2.1 leaves a refresh token to policy; ours: only where the policy
        // names `refresh_token`, with an access token, for a user's session (the family
        // is derived from it and dies with it), and never for a token that carries
        // `act` (a refresh could not re-state the chain, so it would launder who acted).
        // The policy is the permission: a service that exchanges need not list the
        // refresh grant, which the client rules keep for user-facing clients.
        let with_refresh = requested == TokenTypeUri::AccessToken
            && p.issued_token_types.contains(&TokenTypeUri::RefreshToken)
            && actor.is_none()
            && subject.act.is_none()
            && subject.sid.is_some()
            && !subject.sub.starts_with("client:");
        let act = match actor {
            Some(a) => {
                let mut o = json!({"sub": a.sub, "client_id": a.client_id});
                if let Some(prior) = &subject.act {
                    o["act"] = prior.clone();
                }
                Some(o)
            }
            // Impersonation keeps an existing chain: exchanging never launders who
            // acted before.
            None => subject.act.clone(),
        };
        let mut claims = json!({
            "iss": self.config.issuer,
            "sub": subject.sub,
            // RFC 7519 §4.1.3: a string for one audience, an array for several.
            "aud": match audience.as_slice() {
                [one] => json!(one),
                many => json!(many),
            },
            "iat": now,
            "exp": exp,
            "jti": random_id(),
        });
        match requested {
            TokenTypeUri::IdToken => {
                claims["azp"] = json!(requester.id);
            }
            _ => {
                claims["client_id"] = json!(requester.id);
                claims["scope"] = json!(join_scope(&scopes));
            }
        }
        if let Some(sid) = &subject.sid {
            claims["sid"] = json!(sid);
        }
        if let Some(t) = subject.auth_time {
            claims["auth_time"] = json!(t);
        }
        if let Some(act) = act {
            claims["act"] = act;
        }
        Ok(PlannedToken {
            policy_id: p.id.clone(),
            issued_token_type: requested,
            claims,
            audience,
            scopes,
            expires_in: exp - now,
            delegation: actor.is_some(),
            with_refresh,
        })
    }

    /// RFC 8693 §2: the grant. The evaluation decides; this signs, records the lineage,
    /// the access-token record and the audit event in one transaction, and answers per
    /// §2.2.1. A refusal after client authentication is audited with its rule.
    pub(crate) async fn grant_token_exchange(
        &self,
        auth: &Authenticated,
        form: &HashMap<String, String>,
        presented: &Presented,
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        let client = &auth.client;
        // An unauthenticated (`none`) client never reaches a policy (RFC 8693 §2.1).
        if auth.method == AuthMethod::None || client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "only confidential clients may exchange tokens",
            ));
        }
        let req = ExchangeRequest::from_form(form)?;
        let now = self.now();
        let ev = self
            .evaluate_exchange(Some(client), &client.id, &req, now)
            .await?;
        let mut plan = match &ev.outcome {
            Ok(p) => p.clone(),
            Err(r) => {
                self.audit_exchange(&ev, AuditAction::TokenExchangeRefused, presented, now)
                    .await;
                return Err(r.error.clone());
            }
        };
        let subject = ev.subject.as_ref().ok_or_else(OAuthError::server_error)?;
        let jti = plan.claims["jti"].as_str().unwrap_or_default().to_string();
        let exp = now + plan.expires_in;
        // RFC 8693 §2.2.1: an ID token is not usable as an access token, so `N_A`.
        let (token, token_type) = match plan.issued_token_type {
            TokenTypeUri::IdToken => {
                let key = self.signer(self.config.id_token_alg).await?;
                (jwt::sign(&key, Some("JWT"), &plan.claims)?, "N_A")
            }
            _ => {
                // RFC 9449 §6.1: a requester that proved a key gets a token bound to it,
                // as at every other grant; the subject's own binding is the subject
                // client's, which the requester cannot prove.
                if let (Some(jkt), Some(claims)) = (jkt, plan.claims.as_object_mut()) {
                    claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
                }
                let key = self.signer(self.config.access_token_alg).await?;
                (
                    jwt::sign(&key, Some("at+jwt"), &plan.claims)?,
                    super::token::token_type(jkt),
                )
            }
        };
        let lineage = ExchangeLineage {
            jti: jti.clone(),
            parent_jti: subject.jti.clone(),
            actor_jti: ev.actor.as_ref().and_then(|a| a.jti.clone()),
            session_id: subject.sid.clone(),
            requester_client_id: client.id.clone(),
            subject: subject.sub.clone(),
            subject_client_id: subject.client_id.clone(),
            policy_id: plan.policy_id.clone(),
            issued_token_type: plan.issued_token_type,
            issued_at: now,
            expires_at: exp,
        };
        let access =
            (plan.issued_token_type == TokenTypeUri::AccessToken).then(|| AccessTokenRecord {
                jti: jti.clone(),
                session_id: subject.sid.clone(),
                client_id: client.id.clone(),
                issued_at: now,
                expires_at: exp,
            });
        let family = if plan.with_refresh {
            Some(
                self.exchange_family(client, subject, &plan, presented, now)
                    .await?,
            )
        } else {
            None
        };
        let audit = self.exchange_event(&ev, AuditAction::TokenExchange, presented, now);
        if !self
            .store
            .exchange_record(
                &lineage,
                access.as_ref(),
                family.as_ref().map(|(_, f)| f),
                &audit,
            )
            .await?
        {
            // The subject was revoked while we worked: same answer as any bad subject.
            return Err(OAuthError::invalid_request(BAD_SUBJECT));
        }
        Ok(TokenResponse {
            access_token: token,
            token_type,
            expires_in: plan.expires_in,
            refresh_token: family.map(|(value, _)| value),
            id_token: None,
            scope: join_scope(&plan.scopes),
            issued_token_type: Some(plan.issued_token_type.as_str()),
        })
    }

    /// The refresh family a policy allowed (RFC 8693 §2.2.1): a session of the requester
    /// for the subject's user, derived from the subject's session and token (so it is
    /// live only while they are, `Provider::session_live`), ending no later than the
    /// subject's session, for the granted audiences (RFC 8707, every refresh stays within
    /// them) and scopes without `openid`/`offline_access` (a refresh never mints an ID
    /// token for a client the user did not sign in to).
    async fn exchange_family(
        &self,
        requester: &Client,
        subject: &TokenFacts,
        plan: &PlannedToken,
        presented: &Presented,
        now: Timestamp,
    ) -> OAuthResult<(String, Issuance)> {
        let parent = match subject.sid.as_deref() {
            Some(sid) => self.cached_session(sid).await?,
            None => None,
        };
        let parent = match parent {
            Some(p) if self.session_live(&p, now).await? => p,
            _ => return Err(OAuthError::invalid_request(BAD_SUBJECT)),
        };
        let scopes: Vec<String> = plan
            .scopes
            .iter()
            .filter(|s| !matches!(s.as_str(), "openid" | "offline_access"))
            .cloned()
            .collect();
        let mut session = self.new_session(
            requester,
            &subject.sub,
            parent.sign_in_id.clone(),
            scopes,
            parent.auth_time,
            presented.ip.clone(),
            presented.user_agent.clone(),
            now,
        );
        session.expires_at = session.expires_at.min(parent.expires_at);
        session.resources = plan.audience.clone();
        session.parent_session_id = Some(parent.id.clone());
        session.parent_jti = subject.jti.clone();
        let (value, refresh) = self.new_refresh(requester, &session.id, now);
        let event = session_created_event(&session, "token_exchange");
        Ok((
            value,
            Issuance {
                session: Some(session),
                refresh: Some(refresh),
                access: None,
                event: Some(event),
            },
        ))
    }

    fn exchange_event(
        &self,
        ev: &Evaluation,
        action: AuditAction,
        presented: &Presented,
        now: Timestamp,
    ) -> NewAuditEvent {
        NewAuditEvent::new(now, format!("client:{}", ev.requester), action.as_str())
            .target(
                ev.subject
                    .as_ref()
                    .map(|s| s.sub.clone())
                    .unwrap_or_default(),
            )
            .after(&ev.audit_json())
            .ip(presented.ip.clone())
    }

    async fn audit_exchange(
        &self,
        ev: &Evaluation,
        action: AuditAction,
        presented: &Presented,
        now: Timestamp,
    ) {
        let e = self.exchange_event(ev, action, presented, now);
        if let Err(err) = self.store.audit_insert(&e).await {
            tracing::error!(error = ?err, "failed to record a token exchange");
        }
    }

    /// The explain tool: the grant's own evaluation for `requester_id`, as if that
    /// client had authenticated, with nothing signed, written or audited.
    pub async fn explain_exchange(
        &self,
        requester_id: &str,
        req: &ExchangeRequest,
    ) -> OAuthResult<Evaluation> {
        let client = self.store.client_get(requester_id).await?;
        self.evaluate_exchange(client.as_ref(), requester_id, req, self.now())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act_depth_counts_each_nested_actor() {
        assert_eq!(act_depth(None), 0);
        assert_eq!(act_depth(Some(&json!({"sub": "a"}))), 1);
        assert_eq!(
            act_depth(Some(
                &json!({"sub": "a", "act": {"sub": "b", "act": {"sub": "c"}}})
            )),
            3
        );
        assert_eq!(act_depth(Some(&json!("not an object"))), 0);
    }

    #[test]
    fn an_empty_exchange_parameter_is_refused_not_ignored() {
        let mut form = HashMap::new();
        form.insert("subject_token".to_string(), "x.y.z".to_string());
        form.insert(
            "subject_token_type".to_string(),
            TokenTypeUri::AccessToken.as_str().to_string(),
        );
        form.insert("audience".to_string(), String::new());
        let e = ExchangeRequest::from_form(&form).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        form.remove("audience");
        form.insert("subject_token".to_string(), String::new());
        assert_eq!(
            ExchangeRequest::from_form(&form).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
