use super::*;
use crate::monitor::{Cidr, SEVERITIES};

/// What an administrator may ask for at most at once.
const FINDINGS_MAX: i64 = 1000;
/// A manual block lasts at most a year unless it is open-ended.
const BLOCK_MAX_SECS: i64 = 365 * 24 * 3600;

/// What the audit log records of a block.
fn block_summary(b: &Block) -> Value {
    json!({
        "cidr": b.cidr,
        "principal": b.principal,
        "reason": b.reason,
        "expires_at": b.expires_at,
    })
}

impl Manager {
    /// Findings, newest first, filtered by severity and rule (both checked, so a typo is
    /// an error rather than an empty list).
    pub async fn findings_list(
        &self,
        severity: Option<&str>,
        rule: Option<&str>,
        limit: Option<i64>,
    ) -> ManageResult<Vec<Finding>> {
        if let Some(s) = severity {
            if !SEVERITIES.contains(&s) {
                return Err(ManageError::invalid(format!(
                    "\"{}\" is not a severity; the severities are {}",
                    shown(s),
                    SEVERITIES.join(", ")
                )));
            }
        }
        if let Some(r) = rule {
            if !crate::monitor::RULES.iter().any(|(id, _)| *id == r) {
                return Err(ManageError::invalid(format!(
                    "\"{}\" is not a rule; the rules are {}",
                    shown(r),
                    crate::monitor::RULES
                        .iter()
                        .map(|(id, _)| *id)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let filter = FindingFilter {
            severity: severity.map(str::to_string),
            rule: rule.map(str::to_string),
            status: None,
            limit: limit.unwrap_or(100).clamp(1, FINDINGS_MAX),
        };
        Ok(self.store.findings_list(&filter).await?)
    }

    pub async fn finding_get(&self, id: &str) -> ManageResult<Finding> {
        self.store
            .finding_get(id)
            .await?
            .ok_or_else(|| ManageError::NotFound(format!("no finding {}", shown(id))))
    }

    /// Acknowledges an open finding (audited, open → acknowledged). Acknowledging one
    /// already acknowledged changes nothing and is not an error.
    pub async fn finding_ack(&self, actor: &str, id: &str) -> ManageResult<Finding> {
        let before = self.finding_get(id).await?;
        if before.status != "open" {
            return Ok(before);
        }
        let now = self.now();
        let audit = self
            .audit_event(now, actor, AuditAction::FindingAck.as_str())
            .target(id.to_string())
            .before(
                &json!({"status": before.status, "rule": before.rule, "subject": before.subject}),
            )
            .after(&json!({"status": "acknowledged", "acked_by": actor, "acked_at": now}));
        match self.store.finding_ack(id, actor, now, &audit).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(ManageError::NotFound(format!("no finding {}", shown(id))))
            }
            Err(e) => return Err(e.into()),
        }
        self.finding_get(id).await
    }

    /// The blocks in force now.
    pub async fn blocks_list(&self) -> ManageResult<Vec<Block>> {
        Ok(self.store.blocks_list(self.now()).await?)
    }

    /// Blocks an address or network (`for_secs`: until then; `None`: until removed),
    /// audited. Adding a block that exists keeps the later expiry.
    pub async fn block_add(
        &self,
        actor: &str,
        address: &str,
        for_secs: Option<i64>,
        reason: Option<&str>,
    ) -> ManageResult<Block> {
        let cidr = Cidr::parse(address).map_err(|e| ManageError::invalid(e.to_string()))?;
        if let Some(s) = for_secs {
            if !(1..=BLOCK_MAX_SECS).contains(&s) {
                return Err(ManageError::invalid(format!(
                    "a block lasts from 1 second to {} days (or leave the duration out for no end)",
                    BLOCK_MAX_SECS / 86400
                )));
            }
        }
        let reason = reason.unwrap_or("manual").trim();
        if reason.chars().count() > 200 {
            return Err(ManageError::invalid("the reason is at most 200 characters"));
        }
        let now = self.now();
        let block = Block {
            cidr: cidr.to_string(),
            principal: String::new(),
            reason: if reason.is_empty() { "manual" } else { reason }.to_string(),
            created_by: actor.to_string(),
            created_at: now,
            expires_at: for_secs.map(|s| now + s),
        };
        let before = self
            .store
            .blocks_list(now)
            .await?
            .into_iter()
            .find(|b| b.cidr == block.cidr && b.principal.is_empty());
        let mut audit = self
            .audit_event(now, actor, AuditAction::BlockAdd.as_str())
            .target(block.cidr.clone())
            .after(&block_summary(&block));
        if let Some(b) = &before {
            audit = audit.before(&block_summary(b));
        }
        self.store.block_put(&block, Some(&audit)).await?;
        Ok(self
            .store
            .blocks_list(now)
            .await?
            .into_iter()
            .find(|b| b.cidr == block.cidr && b.principal.is_empty())
            .unwrap_or(block))
    }

    /// Removes every block of an address or network (also pair blocks from there),
    /// audited; `NotFound` if there was none.
    pub async fn block_remove(&self, actor: &str, address: &str) -> ManageResult<()> {
        let cidr = Cidr::parse(address)
            .map_err(|e| ManageError::invalid(e.to_string()))?
            .to_string();
        let now = self.now();
        let before: Vec<Value> = self
            .store
            .blocks_list(now)
            .await?
            .iter()
            .filter(|b| b.cidr == cidr)
            .map(block_summary)
            .collect();
        let audit = self
            .audit_event(now, actor, AuditAction::BlockRemove.as_str())
            .target(cidr.clone())
            .before(&before);
        if self.store.block_remove(&cidr, &audit).await? {
            Ok(())
        } else {
            Err(ManageError::NotFound(format!("{cidr} is not blocked")))
        }
    }
}
