use super::*;

/// A user to create. `Debug` omits the password.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: String,
    pub is_admin: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"..")
            .field("is_admin", &self.is_admin)
            .finish()
    }
}

/// A change to a user's profile: `None` leaves a field as it is; an empty name or email
/// clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub is_admin: Option<bool>,
}

/// Characters of a generated password: about 143 bits of entropy, short enough to
/// read out to someone.
const GENERATED_PASSWORD_CHARS: usize = 24;

pub(super) fn clean_name(n: String) -> ManageResult<Option<String>> {
    let n = n.trim().to_string();
    if n.is_empty() {
        return Ok(None);
    }
    if n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(ManageError::invalid(
            "name must be at most 200 characters without control characters",
        ));
    }
    Ok(Some(n))
}

impl Manager {
    pub async fn users_list(&self) -> ManageResult<Vec<User>> {
        Ok(self.store.users_list().await?)
    }

    /// A user by id or, failing that, by username.
    pub async fn user_get(&self, id_or_username: &str) -> ManageResult<User> {
        if let Some(u) = self.store.user_get(id_or_username).await? {
            return Ok(u);
        }
        self.store
            .user_by_username(id_or_username)
            .await?
            .ok_or_else(|| {
                ManageError::NotFound(format!(
                    "no user with id or username \"{}\"",
                    shown(id_or_username)
                ))
            })
    }

    pub async fn user_create(&self, actor: &str, input: NewUser) -> ManageResult<User> {
        validate_username(&input.username)?;
        validate_password(&input.password)?;
        let email = input
            .email
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        if let Some(e) = &email {
            validate_email(e)?;
        }
        let name = match input.name {
            Some(n) => clean_name(n)?,
            None => None,
        };
        if self
            .store
            .user_by_username(&input.username)
            .await?
            .is_some()
        {
            return Err(ManageError::Conflict(format!(
                "username \"{}\" is already taken",
                input.username
            )));
        }
        let password_hash = crypto::hash_password(&input.password)
            .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
        let now = self.now();
        let user = User {
            id: crypto::random_id(),
            username: input.username,
            email,
            email_verified: false,
            name,
            password_hash,
            disabled: false,
            is_admin: input.is_admin,
            password_changed_at: now,
            created_at: now,
            must_change_password: false,
        };
        // `User` skips `password_hash` when serialised, so the audit never holds it.
        let audit = self
            .audit_event(now, actor, AuditAction::UserCreate.as_str())
            .target(user.id.clone())
            .after(&user);
        self.store.user_insert(&user, &audit).await?;
        Ok(user)
    }

    /// Disables a user and revokes all their sessions and sign-ins, so nothing they
    /// hold keeps working. Safe to repeat: a disabled user's sessions are revoked again.
    pub async fn user_disable(&self, actor: &str, id_or_username: &str) -> ManageResult<User> {
        let before = self.user_get(id_or_username).await?;
        let now = self.now();
        let mut user = before.clone();
        if !before.disabled {
            user.disabled = true;
            let audit = self
                .audit_event(now, actor, AuditAction::UserDisable.as_str())
                .target(user.id.clone())
                .before(&before)
                .after(&user);
            // Disable first: from here on no new session can start, then the live
            // ones are cut.
            self.store.user_update(&user, &audit).await?;
        }
        let audit = self
            .audit_event(now, actor, AuditAction::SessionRevokeUser.as_str())
            .target(user.id.clone());
        self.store
            .sessions_revoke_user(&user.id, now, Some(&audit))
            .await?;
        self.api_keys_revoke_created_by(actor, &user.id, now)
            .await?;
        Ok(user)
    }

    /// Every user's last sign-in and live session count (the Users page's columns).
    pub async fn users_activity(&self) -> ManageResult<Vec<UserActivity>> {
        Ok(self.store.users_activity(self.now()).await?)
    }

    /// What deleting a user would cut off, counted now (the dry run shown before a
    /// delete): their live sessions, refresh families and live access tokens, their last
    /// sign-in, and whether the delete would be refused (the last enabled
    /// administrator). Nothing is changed.
    pub async fn user_impact(&self, id_or_username: &str) -> ManageResult<UserImpact> {
        let user = self.user_get(id_or_username).await?;
        let now = self.now();
        let sessions = self
            .store
            .sessions_impact(
                &SessionFilter {
                    user_id: Some(user.id.clone()),
                    ..SessionFilter::default()
                },
                now,
            )
            .await?;
        let last_sign_in_at = self
            .store
            .users_activity(now)
            .await?
            .into_iter()
            .find(|a| a.user_id == user.id)
            .and_then(|a| a.last_sign_in_at);
        let last_admin = self.is_last_admin(&user).await?;
        Ok(UserImpact {
            user,
            sessions,
            last_sign_in_at,
            last_admin,
        })
    }

    async fn is_last_admin(&self, user: &User) -> ManageResult<bool> {
        if !user.is_admin || user.disabled {
            return Ok(false);
        }
        Ok(!self
            .store
            .users_list()
            .await?
            .iter()
            .any(|u| u.is_admin && !u.disabled && u.id != user.id))
    }

    /// Deletes a user: their sessions are revoked first (so every token of theirs
    /// introspects inactive with the reason recorded), the API keys they created are
    /// revoked, then the user goes with their sign-ins and consents. The last enabled
    /// administrator cannot be deleted: nobody could administer the server after.
    pub async fn user_delete(&self, actor: &str, id_or_username: &str) -> ManageResult<()> {
        let user = self.user_get(id_or_username).await?;
        if self.is_last_admin(&user).await? {
            return Err(ManageError::Conflict(format!(
                "{} is the last enabled administrator: make someone else an administrator first",
                shown(&user.username)
            )));
        }
        let now = self.now();
        let revoke = self
            .audit_event(now, actor, AuditAction::SessionRevokeUser.as_str())
            .target(user.id.clone());
        self.store
            .sessions_revoke_user(&user.id, now, Some(&revoke))
            .await?;
        self.api_keys_revoke_created_by(actor, &user.id, now)
            .await?;
        let audit = self
            .audit_event(now, actor, AuditAction::UserDelete.as_str())
            .target(user.id.clone())
            .before(&user);
        if !self.store.user_delete(&user.id, &audit).await? {
            return Err(ManageError::NotFound(format!(
                "no user {}",
                shown(id_or_username)
            )));
        }
        Ok(())
    }

    pub async fn user_enable(&self, actor: &str, id_or_username: &str) -> ManageResult<User> {
        let before = self.user_get(id_or_username).await?;
        if !before.disabled {
            return Ok(before);
        }
        let mut user = before.clone();
        user.disabled = false;
        let audit = self
            .audit_event(self.now(), actor, AuditAction::UserEnable.as_str())
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }

    pub async fn user_set_password(
        &self,
        actor: &str,
        id_or_username: &str,
        password: &str,
    ) -> ManageResult<User> {
        self.set_password(actor, id_or_username, password, false)
            .await
    }

    /// Sets the password; with `must_change`, the user's next sign-in asks for a new one
    /// before it counts (the sign-in page, `Provider::change_password_at_sign_in`).
    async fn set_password(
        &self,
        actor: &str,
        id_or_username: &str,
        password: &str,
        must_change: bool,
    ) -> ManageResult<User> {
        validate_password(password)?;
        let before = self.user_get(id_or_username).await?;
        let now = self.now();
        let mut user = before.clone();
        user.password_hash = crypto::hash_password(password)
            .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
        user.password_changed_at = now;
        user.must_change_password = must_change;
        let audit = self
            .audit_event(now, actor, AuditAction::UserSetPassword.as_str())
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }

    /// Changes a user's name, email or administrator role (audited before → after). The
    /// last enabled administrator keeps the role: without one, nobody could sign in to
    /// administer the server.
    pub async fn user_update(
        &self,
        actor: &str,
        id_or_username: &str,
        patch: UserPatch,
    ) -> ManageResult<User> {
        let before = self.user_get(id_or_username).await?;
        let mut user = before.clone();
        if let Some(n) = patch.name {
            user.name = clean_name(n)?;
        }
        if let Some(e) = patch.email {
            let e = e.trim().to_string();
            if e.is_empty() {
                user.email = None;
            } else {
                validate_email(&e)?;
                if user.email.as_deref() != Some(e.as_str()) {
                    user.email_verified = false;
                }
                user.email = Some(e);
            }
        }
        if let Some(a) = patch.is_admin {
            if before.is_admin && !a && !before.disabled {
                let others = self
                    .store
                    .users_list()
                    .await?
                    .iter()
                    .filter(|u| u.is_admin && !u.disabled && u.id != before.id)
                    .count();
                if others == 0 {
                    return Err(ManageError::Conflict(format!(
                        "{} is the last enabled administrator: make someone else an administrator first",
                        shown(&before.username)
                    )));
                }
            }
            user.is_admin = a;
        }
        if user == before {
            return Ok(before);
        }
        let audit = self
            .audit_event(self.now(), actor, AuditAction::UserUpdate.as_str())
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }

    /// Sets a user's password: the one given, or a generated one returned to be shown
    /// once (only its hash is stored; the audit records that it changed, never what to).
    pub async fn user_password_set(
        &self,
        actor: &str,
        id_or_username: &str,
        password: Option<&str>,
        must_change: bool,
    ) -> ManageResult<(User, Option<String>)> {
        match password {
            Some(p) => Ok((
                self.set_password(actor, id_or_username, p, must_change)
                    .await?,
                None,
            )),
            None => {
                let generated: String = crypto::random_token()
                    .chars()
                    .take(GENERATED_PASSWORD_CHARS)
                    .collect();
                let user = self
                    .set_password(actor, id_or_username, &generated, must_change)
                    .await?;
                Ok((user, Some(generated)))
            }
        }
    }
}

/// What deleting a user would cut off ([`Manager::user_impact`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImpact {
    pub user: User,
    pub sessions: RevokeImpact,
    pub last_sign_in_at: Option<Timestamp>,
    /// The last enabled administrator: a delete is refused.
    pub last_admin: bool,
}
