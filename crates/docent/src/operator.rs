//! The operator's commands (`docent tenants …`, `docent keys create`,
//! `docent status`): the common tasks of running an instance, without curl
//! or an admin token. They go through the same services as the API (same
//! validation, same audit trail, as the operator), on the instance's own
//! configuration, and load no model.

use std::fmt::Write as _;

use anyhow::Context;
use docent_core::config::Config;
use docent_core::domain::{Plan, Role};
use docent_core::ids::TenantId;
use docent_core::store::PageRequest;
use docent_service::{ClientInfo, CreateApiKey, Operator, Signup};

use crate::startup::Components;

fn cli() -> ClientInfo {
    ClientInfo {
        ip: None,
        user_agent: Some(concat!("docent-cli/", env!("CARGO_PKG_VERSION")).into()),
    }
}

/// Every tenant, one line each: id, plan, creation date, name.
pub async fn list_tenants(config: Config) -> anyhow::Result<String> {
    let services = Components::for_operator(config).await?.services;
    let mut out = format!("{:<36}  {:<10}  {:<10}  NAME\n", "ID", "PLAN", "CREATED");
    let mut after = None;
    loop {
        let page = PageRequest { limit: 200, after };
        let page = services.list_tenants(Operator::CommandLine, &page).await?;
        for t in &page.items {
            let created = t.created_at.format("%Y-%m-%d");
            writeln!(
                out,
                "{:<36}  {:<10}  {created:<10}  {}",
                t.id,
                t.plan.as_str(),
                t.name
            )?;
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// Signs a tenant up with its owner, as `POST /api/v1/tenants` does (the
/// default plan unless `plan` is given).
pub async fn create_tenant(
    config: Config,
    name: String,
    email: String,
    password: String,
    plan: Option<Plan>,
) -> anyhow::Result<String> {
    let services = Components::for_operator(config).await?.services;
    let session = services
        .signup(
            Signup {
                name,
                email,
                password,
            },
            cli(),
        )
        .await?;
    let mut tenant = session.tenant;
    if let Some(plan) = plan.filter(|p| *p != tenant.plan) {
        tenant = services
            .set_plan(Operator::CommandLine, &cli(), tenant.id, plan)
            .await?;
    }
    Ok(format!(
        "created tenant {} ({}, plan {}) with owner {}\n",
        tenant.id,
        tenant.name,
        tenant.plan.as_str(),
        session.user.email.as_str()
    ))
}

pub async fn set_plan(config: Config, tenant: TenantId, plan: Plan) -> anyhow::Result<String> {
    let services = Components::for_operator(config).await?.services;
    let tenant = services
        .set_plan(Operator::CommandLine, &cli(), tenant, plan)
        .await?;
    Ok(format!(
        "tenant {} is on the {} plan\n",
        tenant.id,
        tenant.plan.as_str()
    ))
}

/// Creates an API key in a tenant; returns the key itself (shown once).
pub async fn create_key(
    config: Config,
    tenant: TenantId,
    name: String,
    role: Role,
) -> anyhow::Result<String> {
    let services = Components::for_operator(config).await?.services;
    let ctx = services
        .operator_in(Operator::CommandLine, tenant, cli())
        .await?;
    let created = services
        .create_api_key(&ctx, CreateApiKey { name, role })
        .await?;
    Ok(format!("{}\n", created.key))
}

/// What this instance runs, as its configuration and database say: the
/// database, storage, embedder and language model, the job queue, tenants.
pub async fn status(config: Config) -> anyhow::Result<String> {
    let embedder = match (&config.embedder.kind, &config.embedder.model_dir) {
        (Some(kind), _) => format!("{kind:?}").to_lowercase(),
        (None, Some(dir)) => format!("local model in {}", dir.display()),
        (None, None) => {
            "all-MiniLM-L6-v2 (fetched into the data dir on first start), else the hashing fallback"
                .into()
        }
    };
    let database = match config.database() {
        docent_core::config::DatabaseUrl::Sqlite(path) => format!("SQLite {}", path.display()),
        docent_core::config::DatabaseUrl::Postgres(_) => "PostgreSQL".into(),
    };
    let components = Components::for_operator(config).await?;
    let store = &components.services.store().clone();
    let llm = match &components.llm {
        Some(llm) => match llm.check().await {
            Ok(()) => format!("{} (answers)", llm.model()),
            Err(reason) => format!("{} (not answering: {reason})", llm.model()),
        },
        None => "none: answers are extractive".into(),
    };
    let depth = store
        .queue_depth()
        .await
        .context("cannot read the job queue")?;
    let storage = match components.blob.check().await {
        Ok(()) => format!("{} (ok)", components.blob.describe()),
        Err(e) => format!("{} (error: {e})", components.blob.describe()),
    };
    let mut tenants = 0;
    let mut after = None;
    loop {
        let page = store
            .list_tenants(&PageRequest { limit: 200, after })
            .await?;
        tenants += page.items.len();
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    let mut out = String::new();
    for (what, value) in [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("database", format!("{database} (ok)")),
        ("storage", storage),
        ("embedder", embedder),
        ("llm", llm),
        (
            "jobs",
            format!("{} queued, {} running", depth.queued, depth.running),
        ),
        ("tenants", tenants.to_string()),
    ] {
        writeln!(out, "{what:<9} {value}")?;
    }
    Ok(out)
}
