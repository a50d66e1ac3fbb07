use super::*;

/// The runtime settings as an administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsView {
    /// What the servers use now.
    pub effective: ServerSettings,
    /// What they would use for a setting nobody set.
    pub defaults: ServerSettings,
    /// The names of the settings an administrator set (even to the default's value).
    pub admin_set: BTreeSet<String>,
    /// Unix seconds of the last change, if any was made.
    pub updated_at: Option<Timestamp>,
}

/// A change to the runtime settings, by name: `Some(v)` sets a value, `None` returns
/// the setting to the server's default. Settings not named stay as they are.
pub type SettingsPatch = BTreeMap<String, Option<i64>>;

impl Manager {
    /// The settings in force: the policy's defaults with the stored admin-set values
    /// laid over them.
    pub(super) async fn settings_effective(&self) -> ManageResult<ServerSettings> {
        let stored = self.store.settings_get().await?;
        Ok(ServerSettings::effective(
            &self.policy.defaults,
            &stored.values,
        ))
    }

    pub async fn settings_get(&self) -> ManageResult<SettingsView> {
        let stored = self.store.settings_get().await?;
        Ok(self.settings_view(&stored.values, stored.updated_at))
    }

    fn settings_view(&self, values: &BTreeMap<String, i64>, updated_at: Timestamp) -> SettingsView {
        SettingsView {
            effective: ServerSettings::effective(&self.policy.defaults, values),
            defaults: self.policy.defaults,
            admin_set: values
                .keys()
                .filter(|k| ServerSettings::field(k).is_some())
                .cloned()
                .collect(),
            updated_at: (updated_at > 0).then_some(updated_at),
        }
    }

    /// Applies `patch` (set or back to default, by name) after checking every rule the
    /// changed settings take part in; writes the new admin-set values and the audit
    /// event (the changed settings, before → after) in one transaction. Running servers
    /// pick the change up through their caches within a second.
    pub async fn settings_update(
        &self,
        actor: &str,
        patch: SettingsPatch,
    ) -> ManageResult<SettingsView> {
        for name in patch.keys() {
            if ServerSettings::field(name).is_none() {
                return Err(ManageError::invalid(format!(
                    "\"{}\" is not a setting; the settings are {}",
                    shown(name),
                    FIELDS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        // Another administrator may save between our read and our write: the store
        // refuses a write based on an older version, and the patch is applied again
        // to what they left (it names only the settings this caller changed).
        for _ in 0..5 {
            let stored = self.store.settings_get().await?;
            let mut values = stored.values.clone();
            for (name, v) in &patch {
                match v {
                    Some(v) => values.insert(name.clone(), *v),
                    None => values.remove(name),
                };
            }
            let before = self.settings_view(&stored.values, stored.updated_at);
            if values == stored.values {
                return Ok(before);
            }
            let now = self.now();
            let after = self.settings_view(&values, now);
            let changed: BTreeSet<&str> = patch.keys().map(String::as_str).collect();
            validate_settings(
                &after.effective,
                &changed,
                self.policy.jwks_max_age,
                self.longest_client_access_token_ttl().await?,
            )?;
            let describe = |v: &SettingsView| -> Value {
                changed
                    .iter()
                    .filter_map(|name| {
                        let f = ServerSettings::field(name)?;
                        let source = if v.admin_set.contains(*name) {
                            "admin"
                        } else {
                            "default"
                        };
                        Some((
                            name.to_string(),
                            json!({"value": f.get(&v.effective), "source": source}),
                        ))
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            let audit = self
                .audit_event(now, actor, AuditAction::SettingsUpdate.as_str())
                .target("settings")
                .before(&describe(&before))
                .after(&describe(&after));
            if self
                .store
                .settings_put(&values, stored.version, now, &audit)
                .await?
            {
                return Ok(after);
            }
        }
        Err(ManageError::Conflict(
            "the settings kept changing while this change was being saved; try again".into(),
        ))
    }

    async fn longest_client_access_token_ttl(&self) -> ManageResult<i64> {
        Ok(self
            .store
            .clients_list()
            .await?
            .iter()
            .map(|c| c.access_token_ttl)
            .max()
            .unwrap_or(0))
    }
}
