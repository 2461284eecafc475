//! The operator's actions across tenants (setting a tenant's plan),
//! authenticated by `DOCENT_ADMIN_TOKEN`, not by any tenant credential.

use docent_core::domain::{NewAuditEntry, Plan, Tenant};
use docent_core::ids::TenantId;
use sha2::{Digest, Sha256};

use super::{ClientInfo, ServiceError, ServiceResult, Services};

impl Services {
    /// Checks the operator's token. Digests are compared, so the time taken
    /// reveals nothing about the token itself.
    pub fn require_operator(&self, token: Option<&str>) -> ServiceResult<()> {
        let Some(expected) = &self.settings.admin_token else {
            return Err(ServiceError::Forbidden(
                "the operator API is disabled: DOCENT_ADMIN_TOKEN is not set".into(),
            ));
        };
        let given = token.ok_or(ServiceError::Unauthorized)?;
        if Sha256::digest(given.as_bytes()) == Sha256::digest(expected.expose().as_bytes()) {
            Ok(())
        } else {
            Err(ServiceError::Unauthorized)
        }
    }

    pub async fn set_plan(
        &self,
        operator_token: Option<&str>,
        client: &ClientInfo,
        tenant: TenantId,
        plan: Plan,
    ) -> ServiceResult<Tenant> {
        self.require_operator(operator_token)?;
        let updated = self.store.set_tenant_plan(tenant, plan).await?;
        let entry = NewAuditEntry {
            actor_type: "operator",
            actor_id: None,
            action: "tenant.plan.set",
            resource_type: "tenant",
            resource_id: Some(tenant.to_string()),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        if let Err(error) = self.store.append_audit(tenant, &entry).await {
            tracing::error!(error = %crate::ErrorChain(&error), "audit entry could not be written");
        }
        Ok(updated)
    }
}
