//! API keys: created by owners and admins with a role no stronger than their
//! own; the secret is returned once and only its digest is kept.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctx, Principal, ServiceError, ServiceResult, Services, limit_len};
use docent_core::auth::secret;
use docent_core::domain::{ApiKey, NewApiKey, Role};
use docent_core::ids::{ApiKeyId, TenantId};
use docent_core::store::{Page, PageRequest};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The key itself. Shown this once; store it now.
    pub key: String,
}

impl Services {
    pub async fn create_api_key(
        &self,
        ctx: &Ctx,
        req: CreateApiKey,
    ) -> ServiceResult<CreatedApiKey> {
        ctx.actor.require(Role::Admin)?;
        limit_len("name", &req.name, 1, 200)?;
        if req.role > ctx.actor.role {
            return Err(ServiceError::Forbidden(format!(
                "a {} cannot create a key with the {} role",
                ctx.actor.role, req.role
            )));
        }
        let key = secret::generate(secret::API_KEY_PREFIX);
        let api_key = ApiKey {
            id: ApiKeyId::new(),
            tenant_id: ctx.actor.tenant_id,
            name: req.name.trim().to_string(),
            role: req.role,
            prefix: secret::display_prefix(&key),
            created_at: Utc::now(),
            last_used_at: None,
            // A key made by a key belongs to the person behind that one, so
            // it can never outlive or outrank them.
            created_by: match ctx.actor.principal {
                Principal::User(id) => Some(id),
                Principal::ApiKey(id) => self
                    .all_api_keys(ctx.actor.tenant_id)
                    .await?
                    .into_iter()
                    .find(|k| k.id == id)
                    .and_then(|k| k.created_by),
                Principal::Visitor(_) | Principal::Operator => None,
            },
        };
        self.store()
            .create_api_key(&NewApiKey {
                key: api_key.clone(),
                key_hash: secret::digest(&key),
            })
            .await?;
        let created = docent_core::domain::changes(None, Some(&api_key));
        let id = Some(api_key.id.to_string());
        self.audit_change(ctx, "api_key.create", "api_key", id, created)
            .await;
        Ok(CreatedApiKey { api_key, key })
    }

    pub async fn list_api_keys(
        &self,
        ctx: &Ctx,
        page: &PageRequest,
    ) -> ServiceResult<Page<ApiKey>> {
        ctx.actor.require(Role::Admin)?;
        Ok(self
            .store()
            .list_api_keys(ctx.actor.tenant_id, page)
            .await?)
    }

    pub async fn revoke_api_key(&self, ctx: &Ctx, id: ApiKeyId) -> ServiceResult<()> {
        ctx.actor.require(Role::Admin)?;
        let key = self
            .all_api_keys(ctx.actor.tenant_id)
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(ServiceError::NotFound)?;
        let creator_role = match key.created_by {
            Some(user) => match self.store().get_user(ctx.actor.tenant_id, user).await {
                Ok(u) => Some(u.role),
                Err(docent_core::store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        if key.role > ctx.actor.role || creator_role.is_some_and(|r| r > ctx.actor.role) {
            return Err(ServiceError::Forbidden(format!(
                "a {} cannot revoke a key of a stronger role",
                ctx.actor.role
            )));
        }
        self.store()
            .revoke_api_key(ctx.actor.tenant_id, id, Utc::now())
            .await?;
        self.audit(ctx, "api_key.revoke", "api_key", Some(id.to_string()))
            .await;
        Ok(())
    }

    /// The live keys `user` created.
    pub(super) async fn api_keys_created_by(
        &self,
        tenant: TenantId,
        user: docent_core::ids::UserId,
    ) -> ServiceResult<Vec<ApiKeyId>> {
        Ok(self
            .all_api_keys(tenant)
            .await?
            .into_iter()
            .filter(|k| k.created_by == Some(user))
            .map(|k| k.id)
            .collect())
    }

    /// Every live key of a tenant (for `/auth/me`; tenants hold few keys).
    pub(super) async fn all_api_keys(&self, tenant: TenantId) -> ServiceResult<Vec<ApiKey>> {
        let mut keys = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_api_keys(tenant, &PageRequest { limit: 200, after })
                .await?;
            keys.extend(page.items);
            match page.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => return Ok(keys),
            }
        }
    }
}
