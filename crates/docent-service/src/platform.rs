//! The operator's actions across tenants (listing tenants, setting a plan,
//! acting within a tenant), authenticated by `DOCENT_ADMIN_TOKEN` over HTTP,
//! or by running `docent` on the machine that hosts the instance.

use docent_core::domain::{NewAuditEntry, Plan, Role, Tenant, changes};
use docent_core::ids::TenantId;
use docent_core::store::{Page, PageRequest};
use sha2::{Digest, Sha256};

use super::{Actor, ClientInfo, Ctx, Principal, ServiceError, ServiceResult, Services};

/// Who claims to be the operator.
#[derive(Clone, Copy, Debug)]
pub enum Operator<'a> {
    /// An HTTP request, with the bearer it presented.
    Token(Option<&'a str>),
    /// The `docent` command on the instance's machine: whoever can run it
    /// there reads the configuration and the database anyway.
    CommandLine,
}

impl Operator<'_> {
    fn audit_id(&self) -> Option<String> {
        match self {
            Operator::Token(_) => None,
            Operator::CommandLine => Some("command_line".into()),
        }
    }
}

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

    fn check_operator(&self, who: Operator<'_>) -> ServiceResult<()> {
        match who {
            Operator::Token(token) => self.require_operator(token),
            Operator::CommandLine => Ok(()),
        }
    }

    pub async fn set_plan(
        &self,
        who: Operator<'_>,
        client: &ClientInfo,
        tenant: TenantId,
        plan: Plan,
    ) -> ServiceResult<Tenant> {
        self.check_operator(who)?;
        let before = self.store.get_tenant(tenant).await?;
        let updated = self.store.set_tenant_plan(tenant, plan).await?;
        let entry = NewAuditEntry {
            actor_type: "operator",
            actor_id: who.audit_id(),
            action: "tenant.plan.set",
            resource_type: "tenant",
            resource_id: Some(tenant.to_string()),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            changes: changes(Some(&before), Some(&updated)),
        };
        if let Err(error) = self.store.append_audit(tenant, &entry).await {
            tracing::error!(error = %crate::ErrorChain(&error), "audit entry could not be written");
        }
        Ok(updated)
    }

    /// Every tenant of the instance, oldest first.
    pub async fn list_tenants(
        &self,
        who: Operator<'_>,
        page: &PageRequest,
    ) -> ServiceResult<Page<Tenant>> {
        self.check_operator(who)?;
        Ok(self.store.list_tenants(page).await?)
    }

    /// The operator acting within one tenant (with an owner's rights), for
    /// the operator commands: what it does is audited as the operator's.
    pub async fn operator_in(
        &self,
        who: Operator<'_>,
        tenant: TenantId,
        client: ClientInfo,
    ) -> ServiceResult<Ctx> {
        self.check_operator(who)?;
        self.store.get_tenant(tenant).await?;
        Ok(Ctx {
            actor: Actor {
                tenant_id: tenant,
                principal: Principal::Operator,
                role: Role::Owner,
                bot: None,
            },
            client,
        })
    }
}
