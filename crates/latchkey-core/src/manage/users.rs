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
        let name = input
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if let Some(n) = &name {
            if n.chars().count() > 200 || n.chars().any(char::is_control) {
                return Err(ManageError::invalid(
                    "name must be at most 200 characters without control characters",
                ));
            }
        }
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
        validate_password(password)?;
        let before = self.user_get(id_or_username).await?;
        let now = self.now();
        let mut user = before.clone();
        user.password_hash = crypto::hash_password(password)
            .map_err(|_| ManageError::Internal("password hashing failed".into()))?;
        user.password_changed_at = now;
        let audit = self
            .audit_event(now, actor, AuditAction::UserSetPassword.as_str())
            .target(user.id.clone())
            .before(&before)
            .after(&user);
        self.store.user_update(&user, &audit).await?;
        Ok(user)
    }
}
