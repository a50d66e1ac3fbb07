use super::*;

/// The OIDC scopes that ship with the server (OIDC Core §5.4) and cannot be deleted.
pub const BUILTIN_SCOPES: &[(&str, &str, &[&str])] = &[
    ("openid", "Sign you in with your account", &[]),
    (
        "profile",
        "Your name and username",
        &["name", "preferred_username", "updated_at"],
    ),
    ("email", "Your email address", &["email", "email_verified"]),
    (
        "offline_access",
        "Stay connected while you are away (refresh tokens)",
        &[],
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewScope {
    pub name: String,
    pub description: String,
    pub claims: Vec<String>,
}

impl Manager {
    pub async fn scopes_list(&self) -> ManageResult<Vec<Scope>> {
        Ok(self.store.scopes_list().await?)
    }

    pub async fn scope_create(&self, actor: &str, input: NewScope) -> ManageResult<Scope> {
        validate_scope(&input)?;
        if self.store.scope_get(&input.name).await?.is_some() {
            return Err(ManageError::Conflict(format!(
                "scope \"{}\" already exists",
                shown(&input.name)
            )));
        }
        let now = self.now();
        let scope = Scope {
            name: input.name,
            description: input.description.trim().to_string(),
            claims: dedup(&input.claims),
            builtin: false,
            created_at: now,
        };
        let audit = self
            .audit_event(now, actor, AuditAction::ScopeCreate.as_str())
            .target(scope.name.clone())
            .after(&scope);
        self.store.scope_insert(&scope, &audit).await?;
        Ok(scope)
    }

    /// Deletes a custom scope. Built-in scopes are refused, and so is a scope some
    /// client is still allowed (remove it from those clients first), so no client is
    /// left pointing at a scope that does not exist.
    pub async fn scope_delete(&self, actor: &str, name: &str) -> ManageResult<()> {
        let scope =
            self.store.scope_get(name).await?.ok_or_else(|| {
                ManageError::NotFound(format!("no scope named \"{}\"", shown(name)))
            })?;
        if scope.builtin {
            return Err(ManageError::Builtin(format!(
                "\"{}\" is a built-in scope and cannot be deleted",
                scope.name
            )));
        }
        let users: Vec<String> = self
            .store
            .clients_list()
            .await?
            .into_iter()
            .filter(|c| c.allowed_scopes.iter().any(|s| s == name))
            .map(|c| format!("{} ({})", c.name, c.id))
            .collect();
        if !users.is_empty() {
            let more = if users.len() > 3 {
                format!(" and {} more", users.len() - 3)
            } else {
                String::new()
            };
            return Err(ManageError::Conflict(format!(
                "scope \"{}\" is still allowed for {}{more}; remove it from those clients first",
                scope.name,
                users[..users.len().min(3)].join(", ")
            )));
        }
        let audit = self
            .audit_event(self.now(), actor, AuditAction::ScopeDelete.as_str())
            .target(name)
            .before(&scope);
        self.store.scope_delete(name, &audit).await?;
        Ok(())
    }

    /// Creates the OIDC scopes (`openid`, `profile`, `email`, `offline_access`) that
    /// are missing. Idempotent; returns how many it created.
    pub async fn ensure_builtin_scopes(&self) -> ManageResult<usize> {
        let mut created = 0;
        for (name, description, claims) in BUILTIN_SCOPES {
            if self.store.scope_get(name).await?.is_some() {
                continue;
            }
            let now = self.now();
            let scope = Scope {
                name: (*name).to_string(),
                description: (*description).to_string(),
                claims: claims.iter().map(|c| (*c).to_string()).collect(),
                builtin: true,
                created_at: now,
            };
            let audit = self
                .audit_event(now, "system", AuditAction::ScopeCreate.as_str())
                .target(*name)
                .after(&scope);
            match self.store.scope_insert(&scope, &audit).await {
                Ok(()) => created += 1,
                // Another process (the server, a second CLI) got there first.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }
}
