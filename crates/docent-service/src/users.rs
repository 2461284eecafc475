//! Tenant users: owners and admins manage them. An admin cannot create, change
//! or remove an owner, nor make anyone an owner; the last owner cannot leave.

use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{check_new_password, hash_password, parse_email};
use super::{Ctx, ServiceError, ServiceResult, Services};
use docent_core::domain::{Role, User, changes};
use docent_core::ids::UserId;
use docent_core::store::{Page, PageRequest};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    pub email: String,
    pub password: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUser {
    pub role: Role,
}

impl Services {
    pub async fn create_user(&self, ctx: &Ctx, req: CreateUser) -> ServiceResult<User> {
        ctx.actor.require(Role::Admin)?;
        may_grant(ctx, req.role)?;
        let email = parse_email(&req.email)?;
        check_new_password(&req.password)?;
        let user = User {
            id: UserId::new(),
            tenant_id: ctx.actor.tenant_id,
            email,
            role: req.role,
            created_at: Utc::now(),
            email_verified_at: None,
            password_hash: hash_password(req.password).await?,
        };
        self.store()
            .create_user(&user)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => {
                    ServiceError::Conflict("an account with this email already exists".into())
                }
                other => other,
            })?;
        let created = changes(None, Some(&user));
        self.audit_change(
            ctx,
            "user.create",
            "user",
            Some(user.id.to_string()),
            created,
        )
        .await;
        Ok(user)
    }

    pub async fn list_users(&self, ctx: &Ctx, page: &PageRequest) -> ServiceResult<Page<User>> {
        ctx.actor.require(Role::Admin)?;
        Ok(self.store().list_users(ctx.actor.tenant_id, page).await?)
    }

    pub async fn update_user(&self, ctx: &Ctx, id: UserId, req: UpdateUser) -> ServiceResult<User> {
        ctx.actor.require(Role::Admin)?;
        let target = self.store().get_user(ctx.actor.tenant_id, id).await?;
        may_manage(ctx, &target)?;
        may_grant(ctx, req.role)?;
        // The store keeps an owner atomically (409 to the second of two
        // concurrent demotions).
        let user = self
            .store()
            .set_user_role(ctx.actor.tenant_id, id, req.role)
            .await?;
        let changed = changes(Some(&target), Some(&user));
        self.audit_change(ctx, "user.update", "user", Some(id.to_string()), changed)
            .await;
        Ok(user)
    }

    pub async fn delete_user(&self, ctx: &Ctx, id: UserId) -> ServiceResult<()> {
        ctx.actor.require(Role::Admin)?;
        let target = self.store().get_user(ctx.actor.tenant_id, id).await?;
        may_manage(ctx, &target)?;
        // Keys belong to their creator and go with them; they are found
        // before the delete, which clears their `created_by`.
        let keys = self.api_keys_created_by(ctx.actor.tenant_id, id).await?;
        self.store().delete_user(ctx.actor.tenant_id, id).await?;
        let now = chrono::Utc::now();
        for key in keys {
            match self
                .store()
                .revoke_api_key(ctx.actor.tenant_id, key, now)
                .await
            {
                Ok(()) | Err(docent_core::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let removed = changes(Some(&target), None);
        self.audit_change(ctx, "user.delete", "user", Some(id.to_string()), removed)
            .await;
        Ok(())
    }
}

pub(super) fn may_grant(ctx: &Ctx, role: Role) -> ServiceResult<()> {
    if role > ctx.actor.role {
        return Err(ServiceError::Forbidden(format!(
            "a {} cannot grant the {role} role",
            ctx.actor.role
        )));
    }
    Ok(())
}

fn may_manage(ctx: &Ctx, target: &User) -> ServiceResult<()> {
    if target.role > ctx.actor.role {
        return Err(ServiceError::Forbidden(format!(
            "a {} cannot change an {}",
            ctx.actor.role, target.role
        )));
    }
    Ok(())
}
