//! Initial access tokens for dynamic client registration (RFC 7591 §3): made by an
//! administrator with the policy of what they may register, shown once, revocable;
//! and the registration itself, held to that policy and to the rules every client
//! meets (`validate_client`, the same as `client_create`).

use super::*;

/// The longest an initial access token may live.
pub const REGISTRATION_TOKEN_MAX_TTL: i64 = 365 * 24 * 3600;
/// Its lifetime when none is given.
pub const REGISTRATION_TOKEN_DEFAULT_TTL: i64 = 24 * 3600;
/// The most registrations one token may allow.
pub const REGISTRATION_TOKEN_MAX_USES: i64 = 100_000;
/// Initial access tokens start with this, so one found in a log or a paste is
/// recognisable (and scanners can look for it).
pub const REGISTRATION_TOKEN_PREFIX: &str = "lkreg_";

/// An initial access token to make. Empty `grant_types`: `authorization_code` and
/// `refresh_token`; empty `scopes`: the built-in OIDC scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRegistrationToken {
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub redirect_uri_prefixes: Vec<String>,
    /// Seconds; default [`REGISTRATION_TOKEN_DEFAULT_TTL`].
    pub expires_in: Option<i64>,
    /// Registrations allowed; `None`: any number until it expires.
    pub uses: Option<i64>,
}

/// What the audit log records of an initial access token (never the token).
fn token_summary(t: &RegistrationToken) -> Value {
    json!({
        "id": t.id,
        "grant_types": t.policy.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": t.policy.scopes,
        "redirect_uri_prefixes": t.policy.redirect_uri_prefixes,
        "uses_left": t.uses_left,
        "expires_at": t.expires_at,
    })
}

/// A redirect URI prefix must itself be the start of an acceptable redirect URI, ending
/// in `/` after the host (so `https://app.example` cannot admit `https://app.example.evil`).
fn check_prefix(p: &str) -> ManageResult<String> {
    let p = p.trim();
    validate_redirect_uri(p)
        .map_err(|e| ManageError::invalid(format!("redirect URI prefix: {e}")))?;
    let url = url::Url::parse(p).map_err(|_| ManageError::invalid("bad redirect URI prefix"))?;
    let after_authority = match url.host_str() {
        Some(_) => {
            let scheme_host = format!("{}://", url.scheme());
            p.strip_prefix(&scheme_host)
                .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        }
        None => Some(url.path()),
    };
    if after_authority.is_none() || p.contains('?') {
        return Err(ManageError::invalid(format!(
            "redirect URI prefix \"{}\" must reach at least the path (\"https://app.example/\"), \
             with no query",
            shown(p)
        )));
    }
    Ok(p.to_string())
}

impl Manager {
    pub async fn registration_tokens_list(&self) -> ManageResult<Vec<RegistrationToken>> {
        Ok(self.store.registration_tokens_list().await?)
    }

    /// Makes an initial access token; the returned plaintext is the only copy there
    /// will be (the store keeps its SHA-256). Audited with its policy.
    pub async fn registration_token_create(
        &self,
        actor: &str,
        new: NewRegistrationToken,
    ) -> ManageResult<(RegistrationToken, PlainSecret)> {
        let grant_types = if new.grant_types.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            dedup(&new.grant_types)
        };
        let scopes = if new.scopes.is_empty() {
            self.default_scopes(&grant_types).await?
        } else {
            dedup(&new.scopes)
        };
        for s in &scopes {
            if is_admin_scope(s) {
                return Err(ManageError::invalid(format!(
                    "\"{s}\" is reserved to the console and admin tools; a registered client \
                     can never hold it"
                )));
            }
            if !is_valid_scope_token(s) || self.store.scope_get(s).await?.is_none() {
                return Err(ManageError::invalid(format!(
                    "scope \"{}\" does not exist; create it first",
                    shown(s)
                )));
            }
        }
        let redirect_uri_prefixes = new
            .redirect_uri_prefixes
            .iter()
            .map(|p| check_prefix(p))
            .collect::<ManageResult<Vec<_>>>()?;
        let ttl = new.expires_in.unwrap_or(REGISTRATION_TOKEN_DEFAULT_TTL);
        if !(60..=REGISTRATION_TOKEN_MAX_TTL).contains(&ttl) {
            return Err(ManageError::invalid(format!(
                "an initial access token lives from 60 s to {REGISTRATION_TOKEN_MAX_TTL} s"
            )));
        }
        if let Some(n) = new.uses {
            if !(1..=REGISTRATION_TOKEN_MAX_USES).contains(&n) {
                return Err(ManageError::invalid(format!(
                    "uses must be from 1 to {REGISTRATION_TOKEN_MAX_USES}"
                )));
            }
        }
        let now = self.now();
        let plain = format!("{REGISTRATION_TOKEN_PREFIX}{}", crypto::random_token());
        let t = RegistrationToken {
            id: crypto::random_id(),
            hash: crypto::sha256(plain.as_bytes()),
            policy: RegistrationPolicy {
                grant_types,
                scopes: dedup(&scopes),
                redirect_uri_prefixes: dedup(&redirect_uri_prefixes),
            },
            uses_left: new.uses,
            registered: 0,
            created_at: now,
            created_by: actor.to_string(),
            expires_at: now + ttl,
            revoked_at: None,
        };
        let audit = self
            .audit_event(now, actor, AuditAction::RegistrationTokenCreate.as_str())
            .target(t.id.clone())
            .after(&token_summary(&t));
        self.store.registration_token_insert(&t, &audit).await?;
        Ok((t, PlainSecret(plain)))
    }

    /// Revokes an initial access token: no further registration with it. Clients
    /// already registered keep working (delete them to cut them off).
    pub async fn registration_token_revoke(&self, actor: &str, id: &str) -> ManageResult<()> {
        let list = self.store.registration_tokens_list().await?;
        let Some(t) = list.into_iter().find(|t| t.id == id) else {
            return Err(ManageError::NotFound(format!(
                "no initial access token {}",
                shown(id)
            )));
        };
        if t.revoked_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        let audit = self
            .audit_event(now, actor, AuditAction::RegistrationTokenRevoke.as_str())
            .target(id.to_string())
            .before(&token_summary(&t));
        self.store
            .registration_token_revoke(id, now, &audit)
            .await?;
        Ok(())
    }

    /// Whether `client` stays within `policy` (RFC 7591 §3: the server may restrict
    /// what a token registers). `Err` says what it may not have.
    pub fn check_registration_policy(
        policy: &RegistrationPolicy,
        client: &Client,
    ) -> ManageResult<()> {
        for g in &client.grant_types {
            if !policy.grant_types.contains(g) {
                return Err(ManageError::invalid(format!(
                    "the grant type {} is not allowed by the initial access token",
                    g.as_str()
                )));
            }
        }
        for s in &client.allowed_scopes {
            if !policy.scopes.contains(s) {
                return Err(ManageError::invalid(format!(
                    "the scope \"{}\" is not allowed by the initial access token",
                    shown(s)
                )));
            }
        }
        if !policy.redirect_uri_prefixes.is_empty() {
            for u in client
                .redirect_uris
                .iter()
                .chain(&client.post_logout_redirect_uris)
            {
                if !policy
                    .redirect_uri_prefixes
                    .iter()
                    .any(|p| u.starts_with(p.as_str()))
                {
                    return Err(ManageError::invalid(format!(
                        "the redirect URI \"{}\" is outside what the initial access token allows",
                        shown(u)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Registers `input` with initial access token `token` (RFC 7591 §3.1): the client
    /// as `client_create` would make it, never an admin tool, always asking consent,
    /// held to the token's policy; the token's use, the client, its secret and its
    /// registration access token (`rat_hash`) are written in one transaction. `Ok(None)`:
    /// the token was spent (or revoked, or expired) meanwhile.
    pub async fn client_register(
        &self,
        token: &RegistrationToken,
        mut input: NewClient,
        rat_hash: Vec<u8>,
    ) -> ManageResult<Option<ClientCreated>> {
        // What only an administrator decides.
        input.admin_tool = Some(false);
        input.require_consent = Some(true);
        input.assertion_aud_compat = Some(false);
        let mut client = self.client_from_new(input).await?;
        client.registered = true;
        Self::check_registration_policy(&token.policy, &client)?;
        let actor = format!("registration:{}", token.id);
        let (plain, row, audit) = self
            .prepare_client_insert(&actor, &client, AuditAction::ClientRegister.as_str(), None)
            .await?;
        let now = self.now();
        let reg = ClientRegistration {
            client_id: client.id.clone(),
            rat_hash,
            token_id: token.id.clone(),
            policy: token.policy.clone(),
            created_at: now,
        };
        if !self
            .store
            .client_register(&client, row.as_ref(), &reg, now, &audit)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(ClientCreated {
            client,
            secret: plain,
        }))
    }
}
