//! The storage conformance suite: the behaviour every backend must share,
//! written once against `dyn Store`. Each backend instantiates it with
//! `conformance!`; the scale-out backends join the same way.

use std::sync::Arc;

use chrono::{Duration, Utc};
use docent_core::domain::{
    ApiKey, AuditQuery, Bot, Email, NewApiKey, NewAuditEntry, Plan, RetrievalSettings, Role,
    Tenant, User,
};
use docent_core::ids::{ApiKeyId, BotId, TenantId, TokenFamilyId, UserId};
use docent_core::store::{PageRequest, RefreshToken, RefreshUse, Store, StoreError};

fn tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::new(),
        name: name.into(),
        plan: Plan::Free,
        created_at: Utc::now(),
    }
}

fn user(tenant: &Tenant, email: &str, role: Role) -> User {
    User {
        id: UserId::new(),
        tenant_id: tenant.id,
        email: Email::parse(email).unwrap(),
        role,
        created_at: Utc::now(),
        password_hash: "$argon2id$placeholder".into(),
    }
}

fn bot(tenant: TenantId, name: &str) -> Bot {
    Bot {
        id: BotId::new(),
        tenant_id: tenant,
        name: name.into(),
        description: Some("d".into()),
        system_prompt: None,
        welcome_message: None,
        model: None,
        temperature: Some(0.5),
        public: true,
        allowed_origins: vec!["https://a.io".into()],
        retrieval: RetrievalSettings::default(),
        theme: serde_json::json!({"c": 1}),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

async fn two_tenants(store: &dyn Store) -> (Tenant, Tenant) {
    let (a, b) = (tenant("a"), tenant("b"));
    store
        .create_tenant_with_owner(&a, &user(&a, &format!("o@{}.io", a.id), Role::Owner))
        .await
        .unwrap();
    store
        .create_tenant_with_owner(&b, &user(&b, &format!("o@{}.io", b.id), Role::Owner))
        .await
        .unwrap();
    (a, b)
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

pub async fn bots_are_scoped_by_tenant(store: Arc<dyn Store>) {
    let (a, b) = two_tenants(&*store).await;
    let mut mine = bot(a.id, "mine");
    store.create_bot(&mine).await.unwrap();
    let got = store.get_bot(a.id, mine.id).await.unwrap();
    assert_eq!(got.name, "mine");
    assert_eq!(got.theme, serde_json::json!({"c": 1}));
    assert_eq!(got.allowed_origins, vec!["https://a.io".to_string()]);
    assert_eq!(got.temperature, Some(0.5));

    assert!(matches!(
        store.get_bot(b.id, mine.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .list_bots(b.id, &page(50))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let mut stolen = mine.clone();
    stolen.tenant_id = b.id;
    stolen.name = "stolen".into();
    assert!(matches!(
        store.update_bot(&stolen).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_bot(b.id, mine.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_bot(a.id, mine.id).await.unwrap().name, "mine");

    mine.name = "renamed".into();
    store.update_bot(&mine).await.unwrap();
    assert_eq!(store.get_bot(a.id, mine.id).await.unwrap().name, "renamed");
    store.delete_bot(a.id, mine.id).await.unwrap();
    assert!(matches!(
        store.get_bot(a.id, mine.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn keyset_paging_visits_every_row_once(store: Arc<dyn Store>) {
    let (a, _) = two_tenants(&*store).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let b = bot(a.id, &format!("b{i}"));
        ids.push(b.id);
        store.create_bot(&b).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let p = store
            .list_bots(a.id, &PageRequest { limit: 3, after })
            .await
            .unwrap();
        assert!(p.items.len() <= 3);
        seen.extend(p.items.iter().map(|b| b.id));
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

pub async fn emails_are_unique_across_tenants(store: Arc<dyn Store>) {
    let (a, b) = two_tenants(&*store).await;
    store
        .create_user(&user(&a, "x@shared.io", Role::Editor))
        .await
        .unwrap();
    let dup = store
        .create_user(&user(&b, "X@shared.io", Role::Editor))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let t = tenant("c");
    let clash = store
        .create_tenant_with_owner(&t, &user(&t, "x@shared.io", Role::Owner))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))));
    // The failed sign-up left no tenant behind.
    assert!(matches!(
        store.get_tenant(t.id).await,
        Err(StoreError::NotFound)
    ));
    let found = store
        .find_user_by_email(&Email::parse("x@shared.io").unwrap())
        .await
        .unwrap();
    assert_eq!(found.unwrap().tenant_id, a.id);
}

pub async fn users_are_scoped_by_tenant(store: Arc<dyn Store>) {
    let (a, b) = two_tenants(&*store).await;
    let u = user(&a, "u@a.io", Role::Viewer);
    store.create_user(&u).await.unwrap();
    assert!(matches!(
        store.get_user(b.id, u.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_user_role(b.id, u.id, Role::Owner).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_user(b.id, u.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .set_user_role(a.id, u.id, Role::Admin)
            .await
            .unwrap()
            .role,
        Role::Admin
    );
    assert_eq!(store.count_owners(a.id).await.unwrap(), 1);
    assert_eq!(
        store.list_users(a.id, &page(50)).await.unwrap().items.len(),
        2
    );
    store.delete_user(a.id, u.id).await.unwrap();
    assert_eq!(
        store.list_users(a.id, &page(50)).await.unwrap().items.len(),
        1
    );
}

fn refresh(
    tenant: &Tenant,
    user: UserId,
    family: TokenFamilyId,
    hash: &str,
    ttl: i64,
) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: family,
        user_id: user,
        tenant_id: tenant.id,
        created_at: Utc::now(),
        expires_at: Utc::now() + Duration::seconds(ttl),
    }
}

pub async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(store: Arc<dyn Store>) {
    let t = tenant("t");
    let owner = user(&t, "r@t.io", Role::Owner);
    store.create_tenant_with_owner(&t, &owner).await.unwrap();
    let family = TokenFamilyId::new();
    store
        .insert_refresh_token(&refresh(&t, owner.id, family, "h1", 3600))
        .await
        .unwrap();
    let now = Utc::now();
    assert!(
        matches!(store.use_refresh_token("h1", now).await.unwrap(), RefreshUse::Consumed(r) if r.family_id == family)
    );
    store
        .insert_refresh_token(&refresh(&t, owner.id, family, "h2", 3600))
        .await
        .unwrap();
    assert!(matches!(
        store.use_refresh_token("h1", now).await.unwrap(),
        RefreshUse::Reused
    ));
    assert!(
        matches!(
            store.use_refresh_token("h2", now).await.unwrap(),
            RefreshUse::Reused
        ),
        "family revoked"
    );
    assert!(matches!(
        store.use_refresh_token("unknown", now).await.unwrap(),
        RefreshUse::Invalid
    ));

    store
        .insert_refresh_token(&refresh(&t, owner.id, TokenFamilyId::new(), "old", -10))
        .await
        .unwrap();
    assert!(
        matches!(
            store.use_refresh_token("old", now).await.unwrap(),
            RefreshUse::Invalid
        ),
        "expired"
    );

    // Of many concurrent uses of one token, exactly one consumes it.
    store
        .insert_refresh_token(&refresh(&t, owner.id, TokenFamilyId::new(), "race", 3600))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_refresh_token("race", Utc::now()).await.unwrap() })
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), RefreshUse::Consumed(_)) {
            consumed += 1;
        }
    }
    assert_eq!(consumed, 1);

    store
        .insert_refresh_token(&refresh(&t, owner.id, TokenFamilyId::new(), "bye", 3600))
        .await
        .unwrap();
    store
        .revoke_refresh_family("bye", Utc::now())
        .await
        .unwrap();
    assert!(!matches!(
        store.use_refresh_token("bye", Utc::now()).await.unwrap(),
        RefreshUse::Consumed(_)
    ));
}

pub async fn api_keys_are_found_by_digest_and_revoked_per_tenant(store: Arc<dyn Store>) {
    let (a, b) = two_tenants(&*store).await;
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant_id: a.id,
        name: "k".into(),
        role: Role::Editor,
        prefix: "dct_abcd".into(),
        created_at: Utc::now(),
        last_used_at: None,
        created_by: None,
    };
    store
        .create_api_key(&NewApiKey {
            key: key.clone(),
            key_hash: "digest".into(),
        })
        .await
        .unwrap();
    let found = store.find_api_key("digest").await.unwrap().unwrap();
    assert_eq!(
        (found.id, found.tenant_id, found.role),
        (key.id, a.id, Role::Editor)
    );

    let now = Utc::now();
    store.touch_api_key(key.id, now).await.unwrap();
    let first = store
        .find_api_key("digest")
        .await
        .unwrap()
        .unwrap()
        .last_used_at
        .unwrap();
    store
        .touch_api_key(key.id, now + Duration::seconds(5))
        .await
        .unwrap();
    let second = store
        .find_api_key("digest")
        .await
        .unwrap()
        .unwrap()
        .last_used_at
        .unwrap();
    assert_eq!(first, second, "touches within a minute are not written");
    store
        .touch_api_key(key.id, now + Duration::seconds(120))
        .await
        .unwrap();
    let third = store
        .find_api_key("digest")
        .await
        .unwrap()
        .unwrap()
        .last_used_at
        .unwrap();
    assert!(third > first);

    assert!(matches!(
        store.revoke_api_key(b.id, key.id, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.find_api_key("digest").await.unwrap().is_some());
    store.revoke_api_key(a.id, key.id, now).await.unwrap();
    assert!(store.find_api_key("digest").await.unwrap().is_none());
    assert!(
        store
            .list_api_keys(a.id, &page(50))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn audit_entries_filter_and_page_newest_first(store: Arc<dyn Store>) {
    let (a, b) = two_tenants(&*store).await;
    let entry = |action| NewAuditEntry {
        actor_type: "user",
        actor_id: Some("u".into()),
        action,
        resource_type: "bot",
        resource_id: Some("r".into()),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("ua".into()),
    };
    let start = Utc::now();
    for action in ["bot.create", "bot.update", "bot.create", "bot.delete"] {
        store.append_audit(a.id, &entry(action)).await.unwrap();
    }
    store
        .append_audit(b.id, &entry("bot.create"))
        .await
        .unwrap();
    let all = store
        .list_audit(
            a.id,
            &AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].action, "bot.delete");
    let creates = store
        .list_audit(
            a.id,
            &AuditQuery {
                limit: 10,
                action: Some("bot.create".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(creates.len(), 2);
    let older = store
        .list_audit(
            a.id,
            &AuditQuery {
                limit: 10,
                before: Some(all[1].id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(older.len(), 2);
    let none = store
        .list_audit(
            a.id,
            &AuditQuery {
                limit: 10,
                until: Some(start - Duration::seconds(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let since = store
        .list_audit(
            a.id,
            &AuditQuery {
                limit: 10,
                since: Some(start),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(since.len(), 4);
}

pub async fn tenant_plan_can_be_changed(store: Arc<dyn Store>) {
    let (a, _) = two_tenants(&*store).await;
    assert_eq!(
        store.set_tenant_plan(a.id, Plan::Pro).await.unwrap().plan,
        Plan::Pro
    );
    assert_eq!(store.get_tenant(a.id).await.unwrap().plan, Plan::Pro);
    assert!(matches!(
        store.set_tenant_plan(TenantId::new(), Plan::Pro).await,
        Err(StoreError::NotFound)
    ));
    store.ping().await.unwrap();
}

/// Instantiates every conformance test for one backend, given an async
/// expression that yields a fresh, empty `Arc<dyn Store>`.
macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            conformance!(@tests $open;
                bots_are_scoped_by_tenant,
                keyset_paging_visits_every_row_once,
                emails_are_unique_across_tenants,
                users_are_scoped_by_tenant,
                refresh_tokens_rotate_once_and_reuse_revokes_the_family,
                api_keys_are_found_by_digest_and_revoked_per_tenant,
                audit_entries_filter_and_page_newest_first,
                tenant_plan_can_be_changed,
            );
        }
    };
    (@tests $open:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let (store, _guard) = $open.await;
                super::$test(store).await;
            }
        )*
    };
}

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    (docent_store::open(&url).await.unwrap(), dir)
}

conformance!(sqlite_backend, sqlite());
