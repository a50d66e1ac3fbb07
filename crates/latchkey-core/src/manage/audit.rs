use super::*;

impl Manager {
    /// The dashboard's numbers over the last `minutes` minutes (1 to 1440).
    pub async fn stats(&self, minutes: i64) -> ManageResult<StoreStats> {
        let minutes = minutes.clamp(1, 1440);
        let now = self.now();
        Ok(self.store.stats(now - minutes * 60, now).await?)
    }

    /// Newest first; `limit` defaults to 100 and is capped at 1000.
    pub async fn audit_list(&self, filter: AuditFilter) -> ManageResult<Vec<AuditEvent>> {
        let filter = AuditFilter {
            limit: Some(clamp_limit(filter.limit)),
            ..filter
        };
        Ok(self.store.audit_list(&filter).await?)
    }
}
