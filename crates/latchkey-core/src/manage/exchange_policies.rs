//! Token exchange policies (RFC 8693): what an administrator allows. Deny by default —
//! the engine (`oauth::exchange`) exchanges only what an enabled policy allows — so the
//! validation here keeps a policy from allowing what no policy may: a refresh token as
//! subject, a refresh token on its own as the issued type (it only ever comes with an
//! exchanged access token, when the policy names both), the admin API as a target,
//! admin scopes, a lifetime or an `act` chain beyond the ceilings. Every mutation is
//! audited before → after.

use super::*;
use crate::oauth::resource::same_resource;

/// A new policy as an administrator describes it; `None` takes the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewExchangePolicy {
    pub enabled: Option<bool>,
    pub note: Option<String>,
    pub requester_client_id: String,
    pub subject_client_ids: Vec<String>,
    /// Short names or RFC 8693 URIs; default `access_token`.
    pub subject_token_types: Option<Vec<String>>,
    pub requester_must_be_in_subject_aud: Option<bool>,
    pub targets: Vec<String>,
    pub scopes: Vec<String>,
    pub mode: Option<String>,
    pub actor_client_ids: Vec<String>,
    pub max_ttl_secs: Option<i64>,
    /// Default `access_token`.
    pub issued_token_types: Option<Vec<String>>,
    pub max_act_depth: Option<i64>,
}

/// A change: each `Some` replaces the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExchangePolicyPatch {
    pub enabled: Option<bool>,
    pub note: Option<String>,
    pub requester_client_id: Option<String>,
    pub subject_client_ids: Option<Vec<String>>,
    pub subject_token_types: Option<Vec<String>>,
    pub requester_must_be_in_subject_aud: Option<bool>,
    pub targets: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub mode: Option<String>,
    pub actor_client_ids: Option<Vec<String>>,
    pub max_ttl_secs: Option<i64>,
    pub issued_token_types: Option<Vec<String>>,
    pub max_act_depth: Option<i64>,
}

/// `issued`: the list says what an exchange may issue, where `refresh_token` means "a
/// refresh token may come with the access token" (RFC 8693 §2.2.1); as a subject type
/// it is never allowed.
fn token_types(list: &[String], what: &str, issued: bool) -> ManageResult<Vec<TokenTypeUri>> {
    let mut out = Vec::new();
    for t in list {
        let tt = TokenTypeUri::parse_any(t.trim()).ok_or_else(|| {
            ManageError::invalid(format!(
                "{what}: unknown token type \"{}\" (access_token or id_token{})",
                shown(t),
                if issued { ", refresh_token" } else { "" }
            ))
        })?;
        // RFC 9700 §4.14 / issue 13: a refresh token is never a subject.
        if tt == TokenTypeUri::RefreshToken && !issued {
            return Err(ManageError::invalid(format!(
                "{what}: a refresh token is never exchanged"
            )));
        }
        if !out.contains(&tt) {
            out.push(tt);
        }
    }
    if out.is_empty() {
        return Err(ManageError::invalid(format!(
            "{what}: name at least one token type"
        )));
    }
    if out.contains(&TokenTypeUri::RefreshToken) && !out.contains(&TokenTypeUri::AccessToken) {
        return Err(ManageError::invalid(format!(
            "{what}: a refresh token only comes with an exchanged access token; name access_token too"
        )));
    }
    Ok(out)
}

fn ids(list: &[String], what: &str) -> ManageResult<Vec<String>> {
    if list.len() > EXCHANGE_LIST_MAX {
        return Err(ManageError::invalid(format!(
            "{what}: at most {EXCHANGE_LIST_MAX} entries"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for v in list {
        let v = v.trim();
        if v.is_empty() || v.len() > REDIRECT_URI_MAX || v.chars().any(char::is_control) {
            return Err(ManageError::invalid(format!(
                "{what}: \"{}\" is empty, too long or contains control characters",
                shown(v)
            )));
        }
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    Ok(out)
}

impl Manager {
    pub async fn exchange_policies_list(&self) -> ManageResult<Vec<ExchangePolicy>> {
        Ok(self.store.exchange_policies_list().await?)
    }

    pub async fn exchange_policy_get(&self, id: &str) -> ManageResult<ExchangePolicy> {
        self.store
            .exchange_policy_get(id)
            .await?
            .ok_or_else(|| ManageError::NotFound(format!("no exchange policy \"{}\"", shown(id))))
    }

    pub async fn exchange_policy_create(
        &self,
        actor: &str,
        input: NewExchangePolicy,
    ) -> ManageResult<ExchangePolicy> {
        let now = self.now();
        let policy = policy_from_new(format!("xp_{}", crypto::random_id()), input, now)?;
        let policy = self.validate_exchange_policy(policy).await?;
        let audit = self
            .audit_event(now, actor, AuditAction::ExchangePolicyCreate.as_str())
            .target(policy.id.clone())
            .after(&policy);
        self.store.exchange_policy_insert(&policy, &audit).await?;
        Ok(policy)
    }

    pub async fn exchange_policy_update(
        &self,
        actor: &str,
        id: &str,
        patch: ExchangePolicyPatch,
    ) -> ManageResult<ExchangePolicy> {
        let before = self.exchange_policy_get(id).await?;
        let mut p = policy_patched(&before, patch)?;
        let now = self.now();
        p.updated_at = now;
        let p = self.validate_exchange_policy(p).await?;
        let audit = self
            .audit_event(now, actor, AuditAction::ExchangePolicyUpdate.as_str())
            .target(p.id.clone())
            .before(&before)
            .after(&p);
        self.store.exchange_policy_update(&p, &audit).await?;
        Ok(p)
    }

    pub async fn exchange_policy_delete(&self, actor: &str, id: &str) -> ManageResult<()> {
        let before = self.exchange_policy_get(id).await?;
        let audit = self
            .audit_event(
                self.now(),
                actor,
                AuditAction::ExchangePolicyDelete.as_str(),
            )
            .target(id)
            .before(&before);
        self.store.exchange_policy_delete(id, &audit).await?;
        Ok(())
    }

    /// The one validation of a policy, for create and update alike (and the console's
    /// editor, through the same operations).
    async fn validate_exchange_policy(&self, p: ExchangePolicy) -> ManageResult<ExchangePolicy> {
        let mut clients = BTreeMap::new();
        for id in std::iter::once(&p.requester_client_id)
            .chain(&p.subject_client_ids)
            .chain(&p.actor_client_ids)
        {
            let id = id.trim();
            if let Some(c) = self.store.client_get(id).await? {
                clients.insert(id.to_string(), c);
            }
        }
        check_exchange_policy(p, &|id| clients.get(id).cloned(), self.admin_api.as_deref())
    }
}

/// The rules of a policy, with `client` finding the clients it names (the store's, or
/// those a configuration document will leave) and `admin_api` the admin API's URL.
pub(super) fn check_exchange_policy(
    mut p: ExchangePolicy,
    client: &dyn Fn(&str) -> Option<Client>,
    admin_api: Option<&str>,
) -> ManageResult<ExchangePolicy> {
    p.note = p.note.trim().to_string();
    if p.note.chars().count() > EXCHANGE_NOTE_MAX
        || p.note.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ManageError::invalid(format!(
            "the note must be at most {EXCHANGE_NOTE_MAX} characters without control characters"
        )));
    }
    p.requester_client_id = p.requester_client_id.trim().to_string();
    let requester = client(&p.requester_client_id).ok_or_else(|| {
        ManageError::invalid(format!(
            "requester: no client \"{}\"",
            shown(&p.requester_client_id)
        ))
    })?;
    // RFC 8693 §2.1: without client authentication anyone holding a stolen token
    // could trade it; only confidential clients may exchange.
    if requester.is_public() || requester.auth_method == AuthMethod::None {
        return Err(ManageError::invalid(
            "requester: only confidential clients that authenticate may exchange tokens",
        ));
    }
    p.subject_client_ids = ids(&p.subject_client_ids, "subject clients")?;
    p.actor_client_ids = ids(&p.actor_client_ids, "actor clients")?;
    for c in p.subject_client_ids.iter().chain(&p.actor_client_ids) {
        if client(c).is_none() {
            return Err(ManageError::invalid(format!("no client \"{}\"", shown(c))));
        }
    }
    p.targets = ids(&p.targets, "targets")?;
    if p.targets.is_empty() {
        return Err(ManageError::invalid(
            "targets: name at least one audience or resource the new tokens are for",
        ));
    }
    for t in &p.targets {
        if t.contains('#') {
            return Err(ManageError::invalid(format!(
                "target \"{}\" must not contain a fragment (RFC 8707 §2)",
                shown(t)
            )));
        }
        // The admin API is never a target: an exchanged token is never an admin
        // credential, whatever its scopes.
        if t == CONSOLE_CLIENT_ID || admin_api.is_some_and(|api| same_resource(api, t)) {
            return Err(ManageError::invalid(
                "the admin API (and the console) can never be the target of an exchange",
            ));
        }
    }
    p.scopes = ids(&p.scopes, "scopes")?;
    for s in &p.scopes {
        if !is_valid_scope_token(s) {
            return Err(ManageError::invalid(format!(
                "scope \"{}\" is not a valid scope token",
                shown(s)
            )));
        }
        if is_admin_scope(s) {
            return Err(ManageError::invalid(
                "the admin scopes can never be passed on by an exchange",
            ));
        }
    }
    if p.mode == ExchangeMode::Impersonation && !p.actor_client_ids.is_empty() {
        return Err(ManageError::invalid(
            "actor clients make sense only with mode delegation or either",
        ));
    }
    if !(1..=MAX_EXCHANGE_TTL).contains(&p.max_ttl_secs) {
        return Err(ManageError::invalid(format!(
            "max TTL must be between 1 and {MAX_EXCHANGE_TTL} seconds"
        )));
    }
    if !(0..=MAX_ACT_DEPTH).contains(&p.max_act_depth) {
        return Err(ManageError::invalid(format!(
            "max act depth must be between 0 and {MAX_ACT_DEPTH}"
        )));
    }
    if p.mode != ExchangeMode::Impersonation && p.max_act_depth == 0 {
        return Err(ManageError::invalid(
            "delegation needs a max act depth of at least 1",
        ));
    }
    Ok(p)
}

fn parse_mode(s: Option<&str>) -> ManageResult<ExchangeMode> {
    match s {
        None => Ok(ExchangeMode::Impersonation),
        Some(m) => m.trim().parse().map_err(|_| {
            ManageError::invalid(format!(
                "mode \"{}\" is not impersonation, delegation or either",
                shown(m)
            ))
        }),
    }
}

/// A new policy under `id`, every default filled in (not yet checked).
pub(super) fn policy_from_new(
    id: String,
    input: NewExchangePolicy,
    now: Timestamp,
) -> ManageResult<ExchangePolicy> {
    Ok(ExchangePolicy {
        id,
        enabled: input.enabled.unwrap_or(true),
        note: input.note.unwrap_or_default(),
        requester_client_id: input.requester_client_id,
        subject_client_ids: input.subject_client_ids,
        subject_token_types: token_types(
            &input
                .subject_token_types
                .unwrap_or_else(|| vec!["access_token".into()]),
            "subject token types",
            false,
        )?,
        requester_must_be_in_subject_aud: input.requester_must_be_in_subject_aud.unwrap_or(true),
        targets: input.targets,
        scopes: input.scopes,
        mode: parse_mode(input.mode.as_deref())?,
        actor_client_ids: input.actor_client_ids,
        max_ttl_secs: input.max_ttl_secs.unwrap_or(DEFAULT_EXCHANGE_TTL),
        issued_token_types: token_types(
            &input
                .issued_token_types
                .unwrap_or_else(|| vec!["access_token".into()]),
            "issued token types",
            true,
        )?,
        max_act_depth: input.max_act_depth.unwrap_or(DEFAULT_MAX_ACT_DEPTH),
        created_at: now,
        updated_at: now,
    })
}

/// `before` with `patch` laid over it (not yet checked, `updated_at` untouched).
pub(super) fn policy_patched(
    before: &ExchangePolicy,
    patch: ExchangePolicyPatch,
) -> ManageResult<ExchangePolicy> {
    let mut p = before.clone();
    if let Some(v) = patch.enabled {
        p.enabled = v;
    }
    if let Some(v) = patch.note {
        p.note = v;
    }
    if let Some(v) = patch.requester_client_id {
        p.requester_client_id = v;
    }
    if let Some(v) = patch.subject_client_ids {
        p.subject_client_ids = v;
    }
    if let Some(v) = patch.subject_token_types {
        p.subject_token_types = token_types(&v, "subject token types", false)?;
    }
    if let Some(v) = patch.requester_must_be_in_subject_aud {
        p.requester_must_be_in_subject_aud = v;
    }
    if let Some(v) = patch.targets {
        p.targets = v;
    }
    if let Some(v) = patch.scopes {
        p.scopes = v;
    }
    if let Some(v) = patch.mode {
        p.mode = parse_mode(Some(&v))?;
    }
    if let Some(v) = patch.actor_client_ids {
        p.actor_client_ids = v;
    }
    if let Some(v) = patch.max_ttl_secs {
        p.max_ttl_secs = v;
    }
    if let Some(v) = patch.issued_token_types {
        p.issued_token_types = token_types(&v, "issued token types", true)?;
    }
    if let Some(v) = patch.max_act_depth {
        p.max_act_depth = v;
    }
    Ok(p)
}
