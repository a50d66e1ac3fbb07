use super::*;
use crate::monitor::{RULES, SEVERITIES};
use crate::webhook;

/// At most this many webhooks (each is a queue and a connection per finding).
pub const WEBHOOKS_MAX: usize = 20;
const WEBHOOK_NAME_MAX: usize = 100;

/// A webhook to register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    /// Empty: every severity.
    pub severities: Vec<String>,
    /// Rule ids; empty: every rule.
    pub rules: Vec<String>,
    /// `None`: enabled.
    pub enabled: Option<bool>,
}

/// A change to a webhook: what is `Some` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    pub name: Option<String>,
    pub url: Option<String>,
    pub severities: Option<Vec<String>>,
    pub rules: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// What a test event met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTestResult {
    pub delivered: bool,
    /// The endpoint's status, when it answered.
    pub status: Option<u16>,
    /// Why it was not delivered.
    pub error: Option<String>,
}

/// What the audit log records of a webhook (never its secret).
fn webhook_summary(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "name": w.name,
        "url": w.url,
        "severities": w.severities,
        "rules": w.rules,
        "enabled": w.enabled,
    })
}

fn check_name(name: &str) -> ManageResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > WEBHOOK_NAME_MAX
        || name.chars().any(char::is_control)
    {
        return Err(ManageError::invalid(format!(
            "a webhook needs a name of 1 to {WEBHOOK_NAME_MAX} printable characters"
        )));
    }
    Ok(name.to_string())
}

fn check_severities(list: &[String]) -> ManageResult<Vec<String>> {
    for s in list {
        if !SEVERITIES.contains(&s.as_str()) {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a severity; the severities are {}",
                shown(s),
                SEVERITIES.join(", ")
            )));
        }
    }
    Ok(dedup(list))
}

fn check_rules(list: &[String]) -> ManageResult<Vec<String>> {
    for r in list {
        if !RULES.iter().any(|(id, _)| id == r) {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a rule; the rules are {}",
                shown(r),
                RULES
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(dedup(list))
}

impl Manager {
    fn check_webhook_url(&self, url: &str) -> ManageResult<String> {
        let loopback = self
            .webhook_sender
            .as_ref()
            .is_some_and(|s| s.allows_loopback());
        webhook::check_url(url.trim(), loopback)
            .map(|u| u.to_string())
            .map_err(|e| ManageError::invalid(format!("webhook URL: {e}")))
    }

    pub async fn webhooks_list(&self) -> ManageResult<Vec<Webhook>> {
        Ok(self.store.webhooks_list().await?)
    }

    pub async fn webhook_get(&self, id: &str) -> ManageResult<Webhook> {
        self.store
            .webhook_get(id)
            .await?
            .ok_or_else(|| ManageError::NotFound(format!("no webhook {}", shown(id))))
    }

    /// Registers a webhook; the returned secret (`whsec_…`) is the only plaintext copy
    /// there will be (the store keeps it sealed under the KEK). Audited.
    pub async fn webhook_create(
        &self,
        actor: &str,
        new: NewWebhook,
    ) -> ManageResult<(Webhook, PlainSecret)> {
        let name = check_name(&new.name)?;
        let url = self.check_webhook_url(&new.url)?;
        let severities = check_severities(&new.severities)?;
        let rules = check_rules(&new.rules)?;
        if self.store.webhooks_list().await?.len() >= WEBHOOKS_MAX {
            return Err(ManageError::invalid(format!(
                "at most {WEBHOOKS_MAX} webhooks; delete one first"
            )));
        }
        let now = self.now();
        let id = crypto::random_id();
        let secret = webhook::new_secret();
        let w = Webhook {
            secret_enc: self.kek.seal(secret.as_bytes(), id.as_bytes()),
            id,
            name,
            url,
            severities,
            rules,
            enabled: new.enabled.unwrap_or(true),
            created_at: now,
            created_by: actor.to_string(),
            updated_at: now,
            cursor_at: now,
            last_success_at: None,
            last_failure_at: None,
            last_failure_reason: None,
            consecutive_failures: 0,
            pending: 0,
        };
        let audit = self
            .audit_event(now, actor, AuditAction::WebhookCreate.as_str())
            .target(w.id.clone())
            .after(&webhook_summary(&w));
        self.store.webhook_insert(&w, &audit).await?;
        Ok((self.webhook_get(&w.id).await?, PlainSecret(secret)))
    }

    /// Changes a webhook's name, URL, filters or enabled flag (audited before → after).
    pub async fn webhook_update(
        &self,
        actor: &str,
        id: &str,
        change: WebhookChange,
    ) -> ManageResult<Webhook> {
        let before = self.webhook_get(id).await?;
        let mut w = before.clone();
        if let Some(n) = &change.name {
            w.name = check_name(n)?;
        }
        if let Some(u) = &change.url {
            w.url = self.check_webhook_url(u)?;
        }
        if let Some(s) = &change.severities {
            w.severities = check_severities(s)?;
        }
        if let Some(r) = &change.rules {
            w.rules = check_rules(r)?;
        }
        if let Some(e) = change.enabled {
            w.enabled = e;
        }
        if w == before {
            return Ok(before);
        }
        let now = self.now();
        w.updated_at = now;
        let audit = self
            .audit_event(now, actor, AuditAction::WebhookUpdate.as_str())
            .target(id.to_string())
            .before(&webhook_summary(&before))
            .after(&webhook_summary(&w));
        match self.store.webhook_update(&w, &audit).await {
            Err(StoreError::NotFound) => {
                return Err(ManageError::NotFound(format!("no webhook {}", shown(id))))
            }
            other => other?,
        }
        self.webhook_get(id).await
    }

    /// Deletes a webhook and its queue (audited).
    pub async fn webhook_delete(&self, actor: &str, id: &str) -> ManageResult<()> {
        let before = self.webhook_get(id).await?;
        let audit = self
            .audit_event(self.now(), actor, AuditAction::WebhookDelete.as_str())
            .target(id.to_string())
            .before(&webhook_summary(&before));
        if self.store.webhook_delete(id, &audit).await? {
            Ok(())
        } else {
            Err(ManageError::NotFound(format!("no webhook {}", shown(id))))
        }
    }

    /// Sends a signed `webhook.test` event now and says what the endpoint answered
    /// (audited with the outcome). Does not touch the delivery queue or its state.
    pub async fn webhook_test(&self, actor: &str, id: &str) -> ManageResult<WebhookTestResult> {
        let w = self.webhook_get(id).await?;
        let Some(sender) = self.webhook_sender.clone() else {
            return Err(ManageError::Unavailable(
                "this backend cannot send webhook requests".into(),
            ));
        };
        let secret = self
            .kek
            .open(&w.secret_enc, w.id.as_bytes())
            .map_err(|_| ManageError::Internal("the webhook's secret does not open".into()))?;
        let secret = String::from_utf8(secret)
            .map_err(|_| ManageError::Internal("the webhook's secret is malformed".into()))?;
        let now = self.now();
        let msg = format!("msg_test_{}", crypto::random_id());
        let body = webhook::test_payload(&w.id, now);
        let headers = webhook::headers(&secret, &msg, now, &body)
            .ok_or_else(|| ManageError::Internal("the webhook's secret is malformed".into()))?;
        let result = match sender.send(&w.url, &headers, &body).await {
            Ok(status) if (200..300).contains(&status) => WebhookTestResult {
                delivered: true,
                status: Some(status),
                error: None,
            },
            Ok(status) => WebhookTestResult {
                delivered: false,
                status: Some(status),
                error: Some(format!("the endpoint answered {status}")),
            },
            Err(e) => WebhookTestResult {
                delivered: false,
                status: None,
                error: Some(e.chars().filter(|c| !c.is_control()).take(200).collect()),
            },
        };
        let audit = self
            .audit_event(now, actor, AuditAction::WebhookTest.as_str())
            .target(id.to_string())
            .after(&json!({
                "delivered": result.delivered,
                "status": result.status,
                "error": result.error,
            }));
        self.store.audit_insert(&audit).await?;
        Ok(result)
    }
}
