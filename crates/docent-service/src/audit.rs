//! Reading the tenant's audit trail (owners and admins).

use docent_core::domain::{AuditEntry, AuditQuery, Role};

use super::{Ctx, ServiceError, ServiceResult, Services};

impl Services {
    /// Entries newest first. `query.limit` is 1–200.
    pub async fn audit_logs(
        &self,
        ctx: &Ctx,
        query: &AuditQuery,
    ) -> ServiceResult<Vec<AuditEntry>> {
        ctx.actor.require(Role::Admin)?;
        if !(1..=201).contains(&query.limit) {
            return Err(ServiceError::Invalid(
                "`limit` must be between 1 and 200".into(),
            ));
        }
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since > until
        {
            return Err(ServiceError::Invalid("`since` is after `until`".into()));
        }
        Ok(self.store.list_audit(ctx.actor.tenant_id, query).await?)
    }
}
