//! The storage conformance suite: the behaviour every backend must share,
//! written once against `dyn Store`. Each test is declared with
//! `conformance!`, which runs it on SQLite and on PostgreSQL.

mod fixtures;

use std::sync::Arc;

use chrono::{Duration, Utc};
use docent_core::config::DatabaseUrl;
use docent_core::domain::{
    ApiKey, AuditQuery, Bot, Charge, ChatMessage, ChatSession, Chunk, Citation, Document,
    DocumentCounts, DocumentStatus, Email, Feedback, Grounding, HELD_PERIOD, JobSpec, JobStatus,
    Lead, MessageRole, NewApiKey, NewAuditEntry, NewJob, Plan, Progress, Rating, Role, StoredFile,
    Tenant, UnsupportedSentences, UsageEvent, UsageKind,
};
use docent_core::ids::{
    ApiKeyId, BotId, ChunkId, DocumentId, FileId, LeadId, SessionId, TenantId, TokenFamilyId,
    UserId,
};
use docent_core::store::{
    DocumentFilter, PageRequest, RefreshToken, RefreshUse, SessionOwner, Store, StoreError,
    TimeRange,
};
use fixtures::*;

/// Declares one conformance test and registers it for every backend: the
/// function itself, and a module of the same name with one `#[tokio::test]`
/// per backend (`<test>::sqlite`, `<test>::postgres`), so a new test cannot be
/// left out of one backend.
macro_rules! conformance {
    ($(#[$meta:meta])* async fn $name:ident($store:ident: Arc<dyn Store>) $body:block) => {
        $(#[$meta])*
        async fn $name($store: Arc<dyn Store>) $body

        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::sqlite(), super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::postgres(), super::$name).await;
            }
        }
    };
}

/// Runs `test` on a fresh store, unless the backend is not available here
/// (then `open` said why and yields `None`).
async fn run<G, F, T>(open: impl std::future::Future<Output = Option<(Arc<dyn Store>, G)>>, test: F)
where
    F: FnOnce(Arc<dyn Store>) -> T,
    T: std::future::Future<Output = ()>,
{
    if let Some((store, _guard)) = open.await {
        test(store).await;
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

conformance! {
    async fn bots_are_scoped_by_tenant(store: Arc<dyn Store>) {
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
        // The widget's lookup by id alone finds it, whatever the tenant.
        assert_eq!(store.get_bot_any_tenant(mine.id).await.unwrap().id, mine.id);
        assert!(matches!(
            store.get_bot_any_tenant(BotId::new()).await,
            Err(StoreError::NotFound)
        ));

        mine.name = "renamed".into();
        mine.visitor_messages_per_minute = 7;
        store.update_bot(&mine).await.unwrap();
        let renamed = store.get_bot(a.id, mine.id).await.unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.visitor_messages_per_minute),
            ("renamed", 7)
        );
        store.delete_bot(a.id, mine.id).await.unwrap();
        assert!(matches!(
            store.get_bot(a.id, mine.id).await,
            Err(StoreError::NotFound)
        ));
    }
}

conformance! {
    async fn keyset_paging_visits_every_row_once(store: Arc<dyn Store>) {
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
}

conformance! {
    async fn emails_are_unique_across_tenants(store: Arc<dyn Store>) {
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
}

conformance! {
    async fn users_are_scoped_by_tenant(store: Arc<dyn Store>) {
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
}

conformance! {
    /// Two owners demoting (or deleting) each other at once: exactly one
    /// succeeds and the other gets `Conflict`, every time.
    async fn the_last_owner_is_kept_under_concurrency(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let first = store
            .list_users(a.id, &page(10))
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|u| u.role == Role::Owner)
            .unwrap();
        for round in 0..10 {
            // Exactly two owners, p and q, race to demote or delete each other.
            let p = user(&a, &format!("p{round}@a.io"), Role::Owner);
            let q = user(&a, &format!("q{round}@a.io"), Role::Owner);
            store.create_user(&p).await.unwrap();
            store.create_user(&q).await.unwrap();
            store
                .set_user_role(a.id, first.id, Role::Editor)
                .await
                .unwrap();
            let (rp, rq) = if round % 2 == 0 {
                let (x, y) = tokio::join!(
                    store.set_user_role(a.id, p.id, Role::Editor),
                    store.set_user_role(a.id, q.id, Role::Editor)
                );
                (x.map(|_| ()), y.map(|_| ()))
            } else {
                tokio::join!(store.delete_user(a.id, p.id), store.delete_user(a.id, q.id))
            };
            let conflicts = [&rp, &rq]
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
                .count();
            assert_eq!(conflicts, 1, "round {round}: {rp:?} {rq:?}");
            assert_eq!(store.count_owners(a.id).await.unwrap(), 1, "round {round}");
            // Back to `first` as the only owner.
            store
                .set_user_role(a.id, first.id, Role::Owner)
                .await
                .unwrap();
            for survivor in [p.id, q.id] {
                if let Ok(u) = store.get_user(a.id, survivor).await
                    && u.role == Role::Owner
                {
                    store
                        .set_user_role(a.id, survivor, Role::Editor)
                        .await
                        .unwrap();
                }
            }
        }
        // The last owner can be neither demoted nor deleted.
        assert!(matches!(
            store.set_user_role(a.id, first.id, Role::Admin).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.delete_user(a.id, first.id).await,
            Err(StoreError::Conflict(_))
        ));
    }
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

conformance! {
    async fn a_new_password_ends_every_session_of_its_user_only(store: Arc<dyn Store>) {
        let t = tenant("t");
        let owner = user(&t, "o@t.io", Role::Owner);
        store.create_tenant_with_owner(&t, &owner).await.unwrap();
        let other = user(&t, "e@t.io", Role::Editor);
        store.create_user(&other).await.unwrap();
        for (who, hash) in [(owner.id, "laptop"), (owner.id, "phone"), (other.id, "theirs")] {
            store
                .insert_refresh_token(&refresh(&t, who, TokenFamilyId::new(), hash, 3600))
                .await
                .unwrap();
        }
        store
            .set_password(t.id, owner.id, "new-hash", Utc::now())
            .await
            .unwrap();
        assert_eq!(store.get_user(t.id, owner.id).await.unwrap().password_hash, "new-hash");
        let now = Utc::now();
        for hash in ["laptop", "phone"] {
            assert!(
                !matches!(store.use_refresh_token(hash, now).await.unwrap(), RefreshUse::Consumed(_)),
                "{hash} is revoked"
            );
        }
        assert!(matches!(
            store.use_refresh_token("theirs", now).await.unwrap(),
            RefreshUse::Consumed(_)
        ));
        // Another tenant's id for the user changes nothing.
        let b = tenant("b");
        let b_owner = user(&b, "o@b.io", Role::Owner);
        store.create_tenant_with_owner(&b, &b_owner).await.unwrap();
        assert!(matches!(
            store.set_password(b.id, owner.id, "x", Utc::now()).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.get_user(t.id, owner.id).await.unwrap().password_hash, "new-hash");
    }
}

conformance! {
    async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(store: Arc<dyn Store>) {
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
}

conformance! {
    async fn api_keys_are_found_by_digest_and_revoked_per_tenant(store: Arc<dyn Store>) {
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
}

conformance! {
    async fn audit_entries_filter_and_page_newest_first(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let entry = |action| NewAuditEntry {
            actor_type: "user",
            actor_id: Some("u".into()),
            action,
            resource_type: "bot",
            resource_id: Some("r".into()),
            ip: Some("127.0.0.1".into()),
            user_agent: Some("ua".into()),
            changes: (action == "bot.update")
                .then(|| serde_json::json!({"name": {"old": "A", "new": "B"}})),
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
        assert_eq!(all[0].changes, None);
        assert_eq!(all[2].changes, Some(serde_json::json!({"name": {"old": "A", "new": "B"}})));
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
}

conformance! {
    async fn tenant_plan_can_be_changed(store: Arc<dyn Store>) {
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
        // The operator's listing: every tenant once, oldest first, in pages.
        let (c, d) = two_tenants(&*store).await;
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_tenants(&PageRequest { limit: 1, after: after.clone() })
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        for id in [c.id, d.id] {
            assert_eq!(seen.iter().filter(|s| **s == id).count(), 1);
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "oldest first");
        store.ping().await.unwrap();
    }
}

conformance! {
    /// Keyword search ranks by BM25 with document frequency on both
    /// backends: a word found in nearly every passage weighs next to
    /// nothing, however often a passage repeats it, against a rare one.
    async fn keyword_search_weighs_rare_words_over_frequent_ones(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        store.create_bot(&bot_a).await.unwrap();
        let doc = document(a.id, bot_a.id, "manual");
        store.create_document(&doc, None, &ingest(&doc)).await.unwrap();
        let mut texts: Vec<String> = (0..8)
            .map(|i| format!("the table keeps rows of kind {i}"))
            .collect();
        texts.push("vacuum reclaims storage occupied by dead tuples".into());
        texts.push("table table table table".into());
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let chunks = chunks_for(&doc, &texts);
        store
            .replace_chunks(a.id, doc.id, &chunks, None)
            .await
            .unwrap();
        let hits = store
            .keyword_search(a.id, bot_a.id, "how do I vacuum the table", 10)
            .await
            .unwrap();
        assert_eq!(hits.first().map(|h| h.0), Some(chunks[8].id), "{hits:?}");
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
    }
}

conformance! {
    async fn documents_chunks_and_indexes_stay_in_step(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        let other_bot = bot(a.id, "a2");
        store.create_bot(&bot_a).await.unwrap();
        store.create_bot(&other_bot).await.unwrap();
        let doc = document(a.id, bot_a.id, "pricing");
        store.create_document(&doc, None, &ingest(&doc)).await.unwrap();
        let v0 = store.bot_index_version(a.id, bot_a.id).await.unwrap();

        let chunks = chunks_for(
            &doc,
            &[
                "the pro plan costs nine euros",
                "refunds within thirty days",
            ],
        );
        store
            .replace_chunks(a.id, doc.id, &chunks, None)
            .await
            .unwrap();
        // A retry replaces rather than duplicates.
        let chunks = chunks_for(
            &doc,
            &[
                "the pro plan costs nine euros",
                "refunds within thirty days",
            ],
        );
        store
            .replace_chunks(a.id, doc.id, &chunks, None)
            .await
            .unwrap();
        assert_eq!(store.list_chunks(a.id, doc.id).await.unwrap().len(), 2);
        let ready = store.get_document(a.id, doc.id).await.unwrap();
        assert_eq!(
            (ready.status, ready.chunk_count),
            (DocumentStatus::Ready, 2)
        );
        assert!(store.bot_index_version(a.id, bot_a.id).await.unwrap() > v0);

        let hits = store
            .keyword_search(a.id, bot_a.id, "How much is the PRO plan?", 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].0, chunks[0].id);
        assert!(hits[0].1 > 0.0);
        assert!(
            store
                .keyword_search(a.id, other_bot.id, "pro plan", 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .keyword_search(b.id, bot_a.id, "pro plan", 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .keyword_search(a.id, bot_a.id, "\"*)(:^", 5)
                .await
                .unwrap()
                .is_empty(),
            "syntax-proof"
        );

        let vectors = store.bot_vectors(a.id, bot_a.id, "test-4").await.unwrap();
        assert_eq!(
            (vectors.ids.len(), vectors.dims, vectors.vectors.len()),
            (2, 4, 8)
        );
        let hits = store
            .get_chunk_hits(a.id, &[chunks[1].id, chunks[0].id])
            .await
            .unwrap();
        assert_eq!(hits[0].chunk_id, chunks[1].id, "ranking order kept");
        assert_eq!(hits[0].title, "pricing");
        assert!(
            store
                .get_chunk_hits(b.id, &[chunks[0].id])
                .await
                .unwrap()
                .is_empty()
        );

        let cached = store
            .find_embeddings(
                a.id,
                "test-4",
                &["hash-refunds within thirty days".into(), "nope".into()],
            )
            .await
            .unwrap();
        assert_eq!(cached.len(), 1);
        assert!(
            store
                .find_embeddings(b.id, "test-4", &["hash-refunds within thirty days".into()])
                .await
                .unwrap()
                .is_empty()
        );

        assert!(matches!(
            store.delete_document(b.id, doc.id).await,
            Err(StoreError::NotFound)
        ));
        store.delete_document(a.id, doc.id).await.unwrap();
        assert!(
            store
                .keyword_search(a.id, bot_a.id, "pro plan", 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .bot_vectors(a.id, bot_a.id, "test-4")
                .await
                .unwrap()
                .ids
                .is_empty()
        );
        assert!(matches!(
            store.replace_chunks(a.id, doc.id, &chunks, None).await,
            Err(StoreError::NotFound)
        ));
    }
}

conformance! {
    async fn documents_list_filter_and_isolate(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        store.create_bot(&bot_a).await.unwrap();
        let d1 = document(a.id, bot_a.id, "one");
        let d2 = document(a.id, bot_a.id, "two");
        store.create_document(&d1, None, &ingest(&d1)).await.unwrap();
        store.create_document(&d2, None, &ingest(&d2)).await.unwrap();
        store
            .set_document_status(a.id, d2.id, DocumentStatus::Failed, Some("bad pdf"))
            .await
            .unwrap();
        let all = store
            .list_documents(a.id, &DocumentFilter::default(), &page(50))
            .await
            .unwrap();
        assert_eq!(all.items.len(), 2);
        let failed = DocumentFilter {
            status: Some(DocumentStatus::Failed),
            ..Default::default()
        };
        let failed = store
            .list_documents(a.id, &failed, &page(50))
            .await
            .unwrap();
        assert_eq!(failed.items.len(), 1);
        assert_eq!(failed.items[0].error.as_deref(), Some("bad pdf"));
        // A title filter: a substring, case ignored, `%` and `_` literal.
        let titled = |t: &str| DocumentFilter {
            title: Some(t.into()),
            ..Default::default()
        };
        let found = store.list_documents(a.id, &titled("TW"), &page(50)).await.unwrap();
        assert_eq!(found.items.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d2.id]);
        for pattern in ["%", "_ne", "x"] {
            let found = store.list_documents(a.id, &titled(pattern), &page(50)).await.unwrap();
            assert!(found.items.is_empty(), "{pattern}");
        }
        assert!(store
            .list_documents(b.id, &titled("o"), &page(50))
            .await
            .unwrap()
            .items
            .is_empty());
        assert!(
            store
                .list_documents(b.id, &DocumentFilter::default(), &page(50))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(matches!(
            store.get_document(b.id, d1.id).await,
            Err(StoreError::NotFound)
        ));
        let found = store
            .find_document_by_source_url(a.id, bot_a.id, "https://example.com/one")
            .await
            .unwrap();
        assert_eq!(found.unwrap().id, d1.id);
        assert!(
            store
                .find_document_by_source_url(b.id, bot_a.id, "https://example.com/one")
                .await
                .unwrap()
                .is_none()
        );

        // Deleting the bot removes its documents and chunks.
        store
            .replace_chunks(a.id, d1.id, &chunks_for(&d1, &["alpha beta"]), None)
            .await
            .unwrap();
        store.delete_bot(a.id, bot_a.id).await.unwrap();
        assert!(
            store
                .list_documents(a.id, &DocumentFilter::default(), &page(50))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            store
                .find_embeddings(a.id, "test-4", &["hash-alpha beta".into()])
                .await
                .unwrap()
                .is_empty()
        );
    }
}

conformance! {
    async fn jobs_lease_once_retry_and_fail(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let job = NewJob::new(
            a.id,
            JobSpec::IngestDocument {
                document_id: DocumentId::new(),
            },
        );
        store.enqueue(&job).await.unwrap();
        let now = Utc::now();
        let lease = now + Duration::seconds(30);
        let claimed = store.claim("w1", now, lease).await.unwrap().unwrap();
        assert_eq!(
            (claimed.id, claimed.attempts, claimed.status),
            (job.id, 1, JobStatus::Running)
        );
        assert_eq!(claimed.spec, Some(job.spec.clone()));
        assert!(
            store.claim("w2", now, lease).await.unwrap().is_none(),
            "leased jobs are not claimed twice"
        );
        assert!(matches!(
            store.get_job(b.id, job.id).await,
            Err(StoreError::NotFound)
        ));

        // The worker died: once the lease lapses another worker takes over.
        let later = lease + Duration::seconds(1);
        let again = store
            .claim("w2", later, later + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.attempts), (job.id, 2));
        assert!(
            !store.complete(job.id, "w1", later).await.unwrap(),
            "the old worker lost its lease"
        );
        assert!(!store.heartbeat(job.id, "w1", later).await.unwrap());
        assert!(
            store
                .heartbeat(job.id, "w2", later + Duration::seconds(60))
                .await
                .unwrap()
        );

        store
            .set_progress(job.id, Progress { done: 3, total: 7 })
            .await
            .unwrap();
        let retry_at = later + Duration::seconds(10);
        assert!(
            store
                .retry_later(job.id, "w2", "embedder down", retry_at)
                .await
                .unwrap()
        );
        let queued = store.get_job(a.id, job.id).await.unwrap();
        assert_eq!(
            (queued.status, queued.error.as_deref()),
            (JobStatus::Queued, Some("embedder down"))
        );
        assert_eq!(queued.progress, Progress { done: 3, total: 7 });
        assert!(
            store
                .claim("w3", later, later + Duration::seconds(30))
                .await
                .unwrap()
                .is_none(),
            "backing off"
        );
        let third = store
            .claim("w3", retry_at, retry_at + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(third.attempts, 3);
        assert!(store.fail(job.id, "w3", "gave up", retry_at).await.unwrap());
        let failed = store.get_job(a.id, job.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.error.as_deref()),
            (JobStatus::Failed, Some("gave up"))
        );
        assert!(failed.finished_at.is_some());

        let ok = NewJob::new(
            a.id,
            JobSpec::IngestDocument {
                document_id: DocumentId::new(),
            },
        );
        store.enqueue(&ok).await.unwrap();
        let c = store
            .claim("w1", retry_at, retry_at + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert!(store.complete(c.id, "w1", retry_at).await.unwrap());
        assert_eq!(
            store.get_job(a.id, ok.id).await.unwrap().status,
            JobStatus::Succeeded
        );
        let depth = store.queue_depth().await.unwrap();
        assert_eq!((depth.queued, depth.running), (0, 0));
    }
}

conformance! {
    /// A bot's documents are counted by status and its jobs found by bot (an
    /// ingest job's bot is its document's); a crawl that waits for its
    /// pages is held by no worker, and ends once none is pending.
    async fn a_bots_activity_and_waiting_crawls(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let (bot, other) = (bot(a.id, "Bot"), bot(a.id, "Other"));
        store.create_bot(&bot).await.unwrap();
        store.create_bot(&other).await.unwrap();
        let (one, two) = (document(a.id, bot.id, "one"), document(a.id, bot.id, "two"));
        store.create_document(&one, None, &ingest(&one)).await.unwrap();
        store.create_document(&two, None, &ingest(&two)).await.unwrap();
        let elsewhere = document(a.id, other.id, "elsewhere");
        store.create_document(&elsewhere, None, &ingest(&elsewhere)).await.unwrap();
        let crawl = NewJob::new(
            a.id,
            JobSpec::Crawl {
                bot_id: bot.id,
                url: "https://example.com/".into(),
                max_pages: 10,
                max_depth: 2,
                include: vec![],
                exclude: vec![],
                resume: None,
            },
        );
        store.enqueue(&crawl).await.unwrap();

        let counts = store.document_counts(a.id, bot.id).await.unwrap();
        assert_eq!((counts.queued, counts.pending(), counts.ready), (2, 2, 0));
        let active = store.active_jobs(a.id, bot.id).await.unwrap();
        assert_eq!(active.len(), 3, "both ingest jobs and the crawl");
        assert!(active.iter().all(|j| j.status == JobStatus::Queued));
        assert_eq!(store.active_jobs(a.id, other.id).await.unwrap().len(), 1);
        assert!(store.active_jobs(b.id, bot.id).await.unwrap().is_empty());
        assert_eq!(store.document_counts(b.id, bot.id).await.unwrap(), DocumentCounts::default());

        // Claim everything; the crawl then waits for its pages.
        let now = Utc::now();
        let lease = now + Duration::seconds(30);
        let mut claimed = Vec::new();
        while let Some(job) = store.claim("w1", now, lease).await.unwrap() {
            claimed.push(job);
        }
        assert_eq!(claimed.len(), 4);
        let mut checkpointed = crawl.spec.clone();
        if let JobSpec::Crawl { resume, .. } = &mut checkpointed {
            *resume = Some(serde_json::json!({"pending": [["https://example.com/a", 1]]}));
        }
        assert!(!store.save_payload(crawl.id, "w2", &checkpointed).await.unwrap());
        assert!(store.save_payload(crawl.id, "w1", &checkpointed).await.unwrap());
        let saved = store.get_job(a.id, crawl.id).await.unwrap();
        assert_eq!(saved.spec, Some(checkpointed), "the payload is what a rerun starts from");
        assert!(!store.await_ingestion(crawl.id, "w2").await.unwrap(), "not w2's lease");
        assert!(store.await_ingestion(crawl.id, "w1").await.unwrap());
        assert!(!store.heartbeat(crawl.id, "w1", lease).await.unwrap(), "held by no worker");
        let later = lease + Duration::seconds(60);
        assert!(
            store.claim("w2", later, later + Duration::seconds(30)).await.unwrap().map(|j| j.id)
                != Some(crawl.id),
            "a waiting crawl is never claimed again"
        );
        assert_eq!(store.finish_awaiting(Some(a.id), later).await.unwrap(), 0, "pages pending");
        let waiting = store.get_job(a.id, crawl.id).await.unwrap();
        assert_eq!(waiting.status, JobStatus::Running);

        store.replace_chunks(a.id, one.id, &chunks_for(&one, &["x"]), None).await.unwrap();
        store
            .set_document_status(a.id, two.id, DocumentStatus::Failed, Some("bad"))
            .await
            .unwrap();
        let counts = store.document_counts(a.id, bot.id).await.unwrap();
        assert_eq!((counts.ready, counts.failed, counts.pending()), (1, 1, 0));
        assert_eq!(store.finish_awaiting(Some(b.id), later).await.unwrap(), 0, "other tenant");
        assert_eq!(store.finish_awaiting(Some(a.id), later).await.unwrap(), 1);
        let done = store.get_job(a.id, crawl.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Succeeded);
        assert!(done.finished_at.is_some());
        assert_eq!(store.finish_awaiting(None, later).await.unwrap(), 0, "ended once");
    }
}

conformance! {
    /// A stopping worker's job goes back to the queue as if never claimed.
    async fn a_handed_back_job_is_claimed_again_without_losing_an_attempt(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let job = NewJob::new(a.id, JobSpec::IngestDocument { document_id: DocumentId::new() });
        store.enqueue(&job).await.unwrap();
        let now = Utc::now();
        let lease = now + Duration::seconds(30);
        let claimed = store.claim("w1", now, lease).await.unwrap().unwrap();
        assert_eq!((claimed.id, claimed.attempts), (job.id, 1));
        assert!(!store.hand_back(job.id, "w2", now).await.unwrap(), "not w2's job");
        assert!(store.hand_back(job.id, "w1", now).await.unwrap());
        let back = store.get_job(a.id, job.id).await.unwrap();
        assert_eq!((back.status, back.attempts), (JobStatus::Queued, 0));
        let again = store.claim("w2", now, lease).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (job.id, 1));
        assert!(!store.hand_back(job.id, "w1", now).await.unwrap(), "w1 let go of it");
    }
}

conformance! {
    async fn concurrent_claims_never_share_a_job(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        for _ in 0..20 {
            store
                .enqueue(&NewJob::new(
                    a.id,
                    JobSpec::IngestDocument {
                        document_id: DocumentId::new(),
                    },
                ))
                .await
                .unwrap();
        }
        let tasks: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    let worker = format!("w{w}");
                    while let Some(job) = store
                        .claim(&worker, Utc::now(), Utc::now() + Duration::seconds(60))
                        .await
                        .unwrap()
                    {
                        mine.push(job.id);
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!((all.len(), unique.len()), (20, 20));
    }
}

conformance! {
    async fn one_tenants_backlog_does_not_starve_another(store: Arc<dyn Store>) {
        let (big, small) = two_tenants(&*store).await;
        for _ in 0..50 {
            store
                .enqueue(&NewJob::new(
                    big.id,
                    JobSpec::IngestDocument {
                        document_id: DocumentId::new(),
                    },
                ))
                .await
                .unwrap();
        }
        // The big tenant has been served already.
        let t0 = Utc::now();
        let first = store
            .claim("w", t0, t0 + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.tenant_id, big.id);
        store.complete(first.id, "w", t0).await.unwrap();
        let single = NewJob::new(
            small.id,
            JobSpec::IngestDocument {
                document_id: DocumentId::new(),
            },
        );
        store.enqueue(&single).await.unwrap();
        let now = Utc::now() + Duration::seconds(1);
        let next = store
            .claim("w", now, now + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            next.id, single.id,
            "the single upload goes before the backlog"
        );
    }
}

conformance! {
    /// Vectors are read per embedder, and documents indexed by another embedder
    /// are found for re-embedding (only once they are ready).
    async fn vectors_are_scoped_by_embedder_and_stale_documents_found(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        let bot_b = bot(b.id, "b");
        store.create_bot(&bot_a).await.unwrap();
        store.create_bot(&bot_b).await.unwrap();
        let old = document(a.id, bot_a.id, "old");
        let new = document(a.id, bot_a.id, "new");
        let other = document(b.id, bot_b.id, "other");
        let queued = document(a.id, bot_a.id, "queued");
        for d in [&old, &new, &other, &queued] {
            store.create_document(d, None, &ingest(d)).await.unwrap();
        }
        let with = |doc: &Document, embedder: &str| -> Vec<Chunk> {
            chunks_for(doc, &["some text"])
                .into_iter()
                .map(|mut c| {
                    c.embedder_id = embedder.into();
                    c
                })
                .collect()
        };
        store
            .replace_chunks(a.id, old.id, &with(&old, "model-a"), None)
            .await
            .unwrap();
        store
            .replace_chunks(a.id, new.id, &with(&new, "model-b"), Some("New title"))
            .await
            .unwrap();
        store
            .replace_chunks(b.id, other.id, &with(&other, "model-a"), None)
            .await
            .unwrap();

        assert_eq!(
            store.get_document(a.id, new.id).await.unwrap().title,
            "New title"
        );
        assert_eq!(
            store.get_document(a.id, old.id).await.unwrap().title,
            old.title
        );
        let only_b = store.bot_vectors(a.id, bot_a.id, "model-b").await.unwrap();
        assert_eq!(only_b.ids.len(), 1);
        assert!(
            store
                .bot_vectors(a.id, bot_a.id, "model-c")
                .await
                .unwrap()
                .ids
                .is_empty()
        );

        let mut stale = store.stale_documents("model-b", 100).await.unwrap();
        stale.sort_by_key(|(_, d)| d.to_string());
        let mut want = vec![(a.id, old.id), (b.id, other.id)];
        want.sort_by_key(|(_, d)| d.to_string());
        assert_eq!(stale, want);
        // Queued again (status no longer ready): not reported twice.
        store
            .requeue_document(a.id, old.id, &ingest(&old))
            .await
            .unwrap();
        assert_eq!(
            store.stale_documents("model-b", 100).await.unwrap(),
            vec![(b.id, other.id)]
        );
    }
}

fn chat_message(session: &ChatSession, role: MessageRole, content: &str) -> ChatMessage {
    ChatMessage::new(session.tenant_id, session.id, role, content.into())
}

conformance! {
    async fn chat_sessions_and_messages_are_scoped_and_ordered(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        let bot_a2 = bot(a.id, "a2");
        store.create_bot(&bot_a).await.unwrap();
        store.create_bot(&bot_a2).await.unwrap();
        let new_session = |bot: &Bot| ChatSession {
            id: SessionId::new(),
            tenant_id: bot.tenant_id,
            bot_id: bot.id,
            visitor: Some("v-1".into()),
            started_by: None,
            message_count: 0,
            created_at: Utc::now(),
            last_message_at: Utc::now(),
        };
        let s1 = new_session(&bot_a);
        let s2 = new_session(&bot_a2);
        store.create_session(&s1, &[]).await.unwrap();
        store.create_session(&s2, &[]).await.unwrap();

        let mut answer = chat_message(&s1, MessageRole::Assistant, "Thirty days [1].");
        answer.citations = vec![Citation {
            n: 1,
            document_id: DocumentId::new(),
            chunk_id: ChunkId::new(),
            title: "Refunds".into(),
            source_url: None,
            page: Some(2),
            heading: None,
            filename: None,
            snippet: "thirty days".into(),
            score: 0.5,
        }];
        answer.mode = Some("extractive".into());
        answer.partial = true;
        let question = chat_message(&s1, MessageRole::User, "How long?");
        store
            .append_messages(a.id, s1.id, &[question.clone(), answer.clone()])
            .await
            .unwrap();
        let follow = chat_message(&s1, MessageRole::User, "And then?");
        store
            .append_messages(a.id, s1.id, std::slice::from_ref(&follow))
            .await
            .unwrap();

        let all = store.list_messages(a.id, s1.id, None).await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
            ["How long?", "Thirty days [1].", "And then?"]
        );
        assert_eq!(all[1].citations, answer.citations);
        assert_eq!(all[1].mode.as_deref(), Some("extractive"));
        assert!(all[1].partial && !all[0].partial);
        let recent = store.list_messages(a.id, s1.id, Some(2)).await.unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>(),
            ["Thirty days [1].", "And then?"]
        );
        assert_eq!(
            store.get_session(a.id, s1.id).await.unwrap().message_count,
            3
        );

        // Another tenant sees nothing and can write nothing.
        assert!(matches!(
            store.get_session(b.id, s1.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            store
                .list_messages(b.id, s1.id, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store
                .append_messages(b.id, s1.id, std::slice::from_ref(&follow))
                .await,
            Err(StoreError::NotFound)
        ));
        let page = PageRequest {
            limit: 10,
            after: None,
        };
        assert!(
            store
                .list_sessions(b.id, None, SessionOwner::Anyone, &page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let listed = store
            .list_sessions(a.id, None, SessionOwner::Anyone, &page)
            .await
            .unwrap();
        assert_eq!(
            listed.items.iter().map(|s| s.id).collect::<Vec<_>>(),
            [s2.id, s1.id],
            "newest first"
        );
        let one_bot = store
            .list_sessions(a.id, Some(bot_a.id), SessionOwner::Anyone, &page)
            .await
            .unwrap();
        assert_eq!(one_bot.items.len(), 1);
        let first = store
            .list_sessions(
                a.id,
                None,
                SessionOwner::Anyone,
                &PageRequest {
                    limit: 1,
                    after: None,
                },
            )
            .await
            .unwrap();
        let rest = store
            .list_sessions(
                a.id,
                None,
                SessionOwner::Anyone,
                &PageRequest {
                    limit: 1,
                    after: first.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(rest.items[0].id, s1.id);
    }
}

conformance! {
    async fn traces_feedback_and_a_bots_messages_by_time(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bot_a = bot(a.id, "a");
        let other_bot = bot(a.id, "other");
        store.create_bot(&bot_a).await.unwrap();
        store.create_bot(&other_bot).await.unwrap();
        let at = |days: i64| Utc::now() - Duration::days(days);
        let session = |bot: &Bot, days: i64| ChatSession {
            id: SessionId::new(),
            tenant_id: bot.tenant_id,
            bot_id: bot.id,
            visitor: None,
            started_by: None,
            message_count: 0,
            created_at: at(days),
            last_message_at: at(days),
        };
        // Two conversations of the bot, ten days and one day ago; one of
        // another bot.
        let old = session(&bot_a, 10);
        let new = session(&bot_a, 1);
        let elsewhere = session(&other_bot, 1);
        for s in [&old, &new, &elsewhere] {
            let mut q = chat_message(s, MessageRole::User, "How long?");
            let mut r = chat_message(s, MessageRole::Assistant, "Thirty days.");
            q.created_at = s.created_at;
            r.created_at = s.created_at;
            r.grounding = Some(Grounding {
                supported: 1,
                unsupported: vec![1],
                score: 0.5,
                action: UnsupportedSentences::Flag,
                flagged: vec!["Or sixty.".into()],
            });
            store.create_session(s, &[q, r]).await.unwrap();
        }
        let answer = store.list_messages(a.id, new.id, None).await.unwrap()[1].clone();
        // The grounding check is stored with its answer.
        assert_eq!(answer.grounding.as_ref().unwrap().unsupported, vec![1]);
        assert_eq!(answer.grounding.as_ref().unwrap().flagged, vec!["Or sixty."]);

        // A trace is stored, replaced, scoped and deleted with its bot.
        assert!(matches!(store.get_trace(a.id, answer.id).await, Err(StoreError::NotFound)));
        store.save_trace(a.id, answer.id, r#"{"v":1}"#, Utc::now()).await.unwrap();
        store.save_trace(a.id, answer.id, r#"{"v":2}"#, Utc::now()).await.unwrap();
        assert_eq!(store.get_trace(a.id, answer.id).await.unwrap(), r#"{"v":2}"#);
        assert!(matches!(store.get_trace(b.id, answer.id).await, Err(StoreError::NotFound)));
        assert_eq!(store.get_message(a.id, answer.id).await.unwrap().content, "Thirty days.");
        assert!(matches!(store.get_message(b.id, answer.id).await, Err(StoreError::NotFound)));

        // Feedback is set, replaced, cleared, and never by another tenant.
        let down = Feedback {
            rating: Rating::Down,
            comment: Some("wrong page".into()),
            created_at: Utc::now(),
        };
        store.set_feedback(a.id, answer.id, Some(&down)).await.unwrap();
        let got = store.get_message(a.id, answer.id).await.unwrap().feedback.unwrap();
        assert_eq!((got.rating, got.comment.as_deref()), (Rating::Down, Some("wrong page")));
        assert!(matches!(
            store.set_feedback(b.id, answer.id, None).await,
            Err(StoreError::NotFound)
        ));
        store.set_feedback(a.id, answer.id, None).await.unwrap();
        assert_eq!(store.get_message(a.id, answer.id).await.unwrap().feedback, None);

        // By time: the bot's own conversations in the range, paged.
        let week = TimeRange { from: at(7), to: Utc::now() };
        let month = TimeRange { from: at(30), to: Utc::now() };
        let ids = |list: Vec<ChatSession>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(store.sessions_between(a.id, bot_a.id, week, None, 10).await.unwrap()), [new.id]);
        assert_eq!(
            ids(store.sessions_between(a.id, bot_a.id, month, None, 10).await.unwrap()),
            [old.id, new.id]
        );
        assert_eq!(
            ids(store.sessions_between(a.id, bot_a.id, month, Some(old.id), 10).await.unwrap()),
            [new.id]
        );
        assert!(store.sessions_between(b.id, bot_a.id, month, None, 10).await.unwrap().is_empty());
        let messages = store.bot_messages_between(a.id, bot_a.id, month, 100).await.unwrap();
        assert_eq!(messages.len(), 4);
        for pair in messages.chunks(2) {
            assert_eq!(pair[0].session_id, pair[1].session_id, "grouped by session");
            assert_eq!((pair[0].role, pair[1].role), (MessageRole::User, MessageRole::Assistant));
        }
        assert_eq!(store.bot_messages_between(a.id, bot_a.id, week, 100).await.unwrap().len(), 2);
        assert_eq!(store.bot_messages_between(a.id, bot_a.id, month, 3).await.unwrap().len(), 3);
        assert!(store.bot_messages_between(b.id, bot_a.id, month, 100).await.unwrap().is_empty());

        // The trace goes with its conversation.
        store.delete_bot(a.id, bot_a.id).await.unwrap();
        assert!(matches!(store.get_trace(a.id, answer.id).await, Err(StoreError::NotFound)));
    }
}

conformance! {
    async fn sessions_filter_by_visitor(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let b = bot(a.id, "site");
        store.create_bot(&b).await.unwrap();
        let mut ids = Vec::new();
        let owners = [
            (Some("anon:1"), None),
            (Some("anon:2"), None),
            (None, Some("user:1")),
            (Some("anon:1"), None),
            (None, Some("user:2")),
        ];
        for (visitor, started_by) in owners {
            let s = ChatSession {
                id: SessionId::new(),
                tenant_id: a.id,
                bot_id: b.id,
                visitor: visitor.map(str::to_string),
                started_by: started_by.map(str::to_string),
                message_count: 0,
                created_at: Utc::now(),
                last_message_at: Utc::now(),
            };
            store.create_session(&s, &[]).await.unwrap();
            ids.push(s.id);
        }
        let mine = store
            .list_sessions(a.id, Some(b.id), SessionOwner::Visitor("anon:1"), &page(10))
            .await
            .unwrap();
        assert_eq!(
            mine.items.iter().map(|s| s.id).collect::<Vec<_>>(),
            [ids[3], ids[0]]
        );
        let started = store
            .list_sessions(a.id, None, SessionOwner::StartedBy("user:1"), &page(10))
            .await
            .unwrap();
        assert_eq!(
            started.items.iter().map(|s| s.id).collect::<Vec<_>>(),
            [ids[2]]
        );
        assert_eq!(started.items[0].started_by.as_deref(), Some("user:1"));
        assert_eq!(
            store
                .list_sessions(a.id, None, SessionOwner::Anyone, &page(10))
                .await
                .unwrap()
                .items
                .len(),
            5
        );
    }
}

conformance! {
    async fn leads_are_scoped_and_paged(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let (bot1, bot2) = (bot(a.id, "one"), bot(a.id, "two"));
        store.create_bot(&bot1).await.unwrap();
        store.create_bot(&bot2).await.unwrap();
        let mut made = Vec::new();
        for (i, bot) in [&bot1, &bot1, &bot2].into_iter().enumerate() {
            let lead = Lead {
                id: LeadId::new(),
                tenant_id: a.id,
                bot_id: bot.id,
                session_id: None,
                email: format!("v{i}@example.com"),
                name: Some("Vi".into()),
                phone: (i == 0).then(|| "+1 555 0100".to_string()),
                metadata: serde_json::json!({"plan": "pro"}),
                visitor: Some(format!("anon:{i}")),
                created_at: Utc::now(),
            };
            store.create_lead(&lead).await.unwrap();
            made.push(lead);
        }
        let all = store.list_leads(a.id, None, &page(10)).await.unwrap();
        assert_eq!(all.items.len(), 3);
        let oldest = &all.items[2];
        assert_eq!(
            (
                oldest.id,
                &oldest.email,
                &oldest.phone,
                &oldest.metadata,
                &oldest.visitor
            ),
            (
                made[0].id,
                &made[0].email,
                &made[0].phone,
                &made[0].metadata,
                &made[0].visitor
            ),
            "newest first, stored as given"
        );
        let one = store
            .list_leads(a.id, Some(bot1.id), &page(1))
            .await
            .unwrap();
        assert_eq!(one.items[0].id, made[1].id);
        let next = store
            .list_leads(
                a.id,
                Some(bot1.id),
                &PageRequest {
                    limit: 1,
                    after: one.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(next.items[0].id, made[0].id);
        assert!(next.next_cursor.is_none());
        assert!(
            store
                .list_leads(b.id, None, &page(10))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}

/// A deterministic pseudo-random unit vector.
fn unit_vector(seed: u64, dims: usize) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= norm);
    v
}

conformance! {
    /// Backends that search vectors in the engine (PostgreSQL's HNSW) must find
    /// what an exact scan finds, stay inside the tenant and bot, and still fill
    /// `k` when the bot is a small part of the table. Backends that leave vector
    /// search to the caller (SQLite) answer `None`.
    async fn engine_vector_search_agrees_with_an_exact_scan(store: Arc<dyn Store>) {
        const DIMS: usize = 16;
        let (a, b) = two_tenants(&*store).await;
        store.prepare_vector_index(DIMS).await.unwrap();
        let (big, small) = (bot(a.id, "big"), bot(b.id, "small"));
        store.create_bot(&big).await.unwrap();
        store.create_bot(&small).await.unwrap();
        let mut seed = 0;
        for (b, docs, per_doc) in [(&big, 6, 200), (&small, 1, 12)] {
            for d in 0..docs {
                let doc = document(b.tenant_id, b.id, &format!("{}-{d}", b.name));
                store.create_document(&doc, None, &ingest(&doc)).await.unwrap();
                let chunks: Vec<Chunk> = (0..per_doc)
                    .map(|i| {
                        seed += 1;
                        Chunk {
                            id: ChunkId::new(),
                            tenant_id: doc.tenant_id,
                            bot_id: doc.bot_id,
                            document_id: doc.id,
                            index: i,
                            text: format!("passage {seed}"),
                            token_count: 2,
                            page: None,
                            heading: None,
                            text_hash: format!("h{seed}"),
                            embedder_id: "test-16".into(),
                            embedding: unit_vector(seed, DIMS),
                        }
                    })
                    .collect();
                store
                    .replace_chunks(doc.tenant_id, doc.id, &chunks, None)
                    .await
                    .unwrap();
            }
        }
        let query = unit_vector(999_999, DIMS);
        let Some(found) = store
            .vector_search(b.id, small.id, "test-16", &query, 10)
            .await
            .unwrap()
        else {
            return; // searched by the caller on this backend
        };
        // Exact ranking of the small bot's vectors.
        let exact = |tenant, bot: &Bot| {
            let store = store.clone();
            let query = query.clone();
            let bot = bot.id;
            async move {
                let all = store.bot_vectors(tenant, bot, "test-16").await.unwrap();
                let mut scored: Vec<(ChunkId, f32)> = all
                    .ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let row = &all.vectors[i * all.dims..(i + 1) * all.dims];
                        (*id, row.iter().zip(&query).map(|(x, y)| x * y).sum())
                    })
                    .collect();
                scored.sort_by(|x, y| y.1.total_cmp(&x.1));
                scored
            }
        };
        let truth = exact(b.id, &small).await;
        assert_eq!(found.len(), 10, "the small bot's top 10 are all found");
        for ((id, score), (tid, tscore)) in found.iter().zip(&truth) {
            assert_eq!(id, tid);
            assert!((score - tscore).abs() < 1e-4, "{score} vs {tscore}");
        }
        // Recall@10 on the big bot, against the exact ranking.
        let found = store
            .vector_search(a.id, big.id, "test-16", &query, 10)
            .await
            .unwrap()
            .unwrap();
        let truth: Vec<ChunkId> = exact(a.id, &big)
            .await
            .iter()
            .take(10)
            .map(|(id, _)| *id)
            .collect();
        let recalled = found.iter().filter(|(id, _)| truth.contains(id)).count();
        assert!(recalled >= 9, "recall@10 = {recalled}/10");
        // Nothing crosses tenants or bots, nor another embedder's vectors.
        assert!(
            store
                .vector_search(a.id, small.id, "test-16", &query, 10)
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .vector_search(b.id, small.id, "other-embedder", &query, 10)
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
        // Similarity of named passages, scoped the same way.
        let ids: Vec<ChunkId> = truth.iter().take(3).copied().collect();
        let sims = store
            .vector_similarity(a.id, "test-16", &query, &ids)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sims.len(), 3);
        assert!(
            store
                .vector_similarity(b.id, "test-16", &query, &ids)
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
    }
}

fn charge(kind: UsageKind, period: &str, amount: u64, limit: Option<u64>) -> Charge {
    Charge {
        kind,
        period: period.into(),
        amount,
        limit,
    }
}

async fn counter(store: &dyn Store, tenant: TenantId, kind: UsageKind, period: &str) -> u64 {
    store
        .usage_counters(tenant, &[period])
        .await
        .unwrap()
        .into_iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(0, |(_, _, used)| used)
}

conformance! {
    async fn reservations_are_exact_under_concurrency(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .reserve(a.id, &[charge(UsageKind::Messages, "2026-03", 1, Some(7))])
                        .await
                })
            })
            .collect();
        let mut granted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => granted += 1,
                Err(StoreError::QuotaExceeded(UsageKind::Messages)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(granted, 7);
        assert_eq!(
            counter(&*store, a.id, UsageKind::Messages, "2026-03").await,
            7
        );
        // Another month starts from zero.
        store
            .reserve(a.id, &[charge(UsageKind::Messages, "2026-04", 1, Some(7))])
            .await
            .unwrap();
        assert_eq!(
            counter(&*store, a.id, UsageKind::Messages, "2026-04").await,
            1
        );
    }
}

conformance! {
    async fn reservations_are_all_or_nothing_and_released(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let both = [
            charge(UsageKind::Documents, HELD_PERIOD, 1, Some(10)),
            charge(UsageKind::StorageBytes, HELD_PERIOD, 600, Some(1000)),
        ];
        store.reserve(a.id, &both).await.unwrap();
        // The second charge would pass its limit: the first is not kept either.
        assert!(matches!(
            store.reserve(a.id, &both).await,
            Err(StoreError::QuotaExceeded(UsageKind::StorageBytes))
        ));
        assert_eq!(
            counter(&*store, a.id, UsageKind::Documents, HELD_PERIOD).await,
            1
        );
        // No limit: always granted. Another tenant has its own counters.
        store
            .reserve(
                a.id,
                &[charge(UsageKind::StorageBytes, HELD_PERIOD, 5000, None)],
            )
            .await
            .unwrap();
        store.reserve(b.id, &both).await.unwrap();
        store.release(a.id, &both).await.unwrap();
        assert_eq!(
            counter(&*store, a.id, UsageKind::Documents, HELD_PERIOD).await,
            0
        );
        assert_eq!(
            counter(&*store, a.id, UsageKind::StorageBytes, HELD_PERIOD).await,
            5000
        );
        assert_eq!(
            counter(&*store, b.id, UsageKind::Documents, HELD_PERIOD).await,
            1
        );
        // Releasing more than was taken stops at zero.
        store.release(a.id, &both).await.unwrap();
        assert_eq!(
            counter(&*store, a.id, UsageKind::Documents, HELD_PERIOD).await,
            0
        );
    }
}

conformance! {
    /// Files no document uses are found once old enough and removed with their
    /// bytes; a file a document uses is not; deleting the document removes its
    /// file; a recount sets held counters to what is stored.
    async fn pending_files_expire_and_held_usage_is_recounted(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let bt = bot(a.id, "files");
        store.create_bot(&bt).await.unwrap();
        let file = |size: u64| StoredFile {
            id: FileId::new(),
            tenant_id: a.id,
            bot_id: bt.id,
            filename: "f.md".into(),
            content_type: "text/markdown".into(),
            size_bytes: size,
            sha256: None,
            object_key: format!("k/{}", uuid::Uuid::new_v4()),
            format: Some("markdown".into()),
            uploaded_at: None,
            created_at: Utc::now() - Duration::hours(2),
        };
        let (pending, used) = (file(300), file(40));
        for f in [&pending, &used] {
            store
                .reserve(
                    a.id,
                    &[charge(
                        UsageKind::StorageBytes,
                        HELD_PERIOD,
                        f.size_bytes,
                        None,
                    )],
                )
                .await
                .unwrap();
            store.create_file(f).await.unwrap();
        }
        let mut doc = document(a.id, bt.id, "from-file");
        doc.file_id = Some(used.id);
        doc.size_bytes = used.size_bytes;
        store
            .reserve(a.id, &[charge(UsageKind::Documents, HELD_PERIOD, 1, None)])
            .await
            .unwrap();
        store.create_document(&doc, None, &ingest(&doc)).await.unwrap();
        let held = |kind| counter(&*store, a.id, kind, HELD_PERIOD);
        assert_eq!(held(UsageKind::StorageBytes).await, 340);

        let old = store
            .pending_files(Utc::now() - Duration::hours(1), 10)
            .await
            .unwrap();
        assert_eq!(old.iter().map(|f| f.id).collect::<Vec<_>>(), [pending.id]);
        assert!(
            store
                .pending_files(Utc::now() - Duration::hours(3), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store.delete_pending_file(a.id, used.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_pending_file(b.id, pending.id).await,
            Err(StoreError::NotFound)
        ));
        store.delete_pending_file(a.id, pending.id).await.unwrap();
        assert_eq!(held(UsageKind::StorageBytes).await, 40);

        // Drift, then a recount.
        store
            .reserve(
                a.id,
                &[charge(UsageKind::StorageBytes, HELD_PERIOD, 999, None)],
            )
            .await
            .unwrap();
        store
            .reserve(a.id, &[charge(UsageKind::Documents, HELD_PERIOD, 5, None)])
            .await
            .unwrap();
        assert!(store.recount_held_usage().await.unwrap() >= 2);
        assert_eq!(
            (
                held(UsageKind::Documents).await,
                held(UsageKind::StorageBytes).await
            ),
            (1, 40)
        );
        assert_eq!(
            store.recount_held_usage().await.unwrap(),
            0,
            "nothing left to repair"
        );

        store.delete_document(a.id, doc.id).await.unwrap();
        assert!(matches!(
            store.get_file(a.id, used.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            (
                held(UsageKind::Documents).await,
                held(UsageKind::StorageBytes).await
            ),
            (0, 0)
        );
    }
}

conformance! {
    async fn held_usage_follows_deleted_and_resized_documents(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let (b1, b2) = (bot(a.id, "one"), bot(a.id, "two"));
        store.create_bot(&b1).await.unwrap();
        store.create_bot(&b2).await.unwrap();
        let docs = [
            document(a.id, b1.id, "x"),
            document(a.id, b1.id, "y"),
            document(a.id, b2.id, "z"),
        ];
        for d in &docs {
            store
                .reserve(
                    a.id,
                    &[
                        charge(UsageKind::Documents, HELD_PERIOD, 1, None),
                        charge(UsageKind::StorageBytes, HELD_PERIOD, d.size_bytes, None),
                    ],
                )
                .await
                .unwrap();
            store.create_document(d, None, &ingest(d)).await.unwrap();
        }
        let held = |kind| counter(&*store, a.id, kind, HELD_PERIOD);
        assert_eq!(
            (
                held(UsageKind::Documents).await,
                held(UsageKind::StorageBytes).await
            ),
            (3, 30)
        );
        let mut grown = docs[2].clone();
        grown.size_bytes = 25;
        store
            .update_document_source(&grown, &ingest(&grown))
            .await
            .unwrap();
        assert_eq!(held(UsageKind::StorageBytes).await, 45);
        store.delete_document(a.id, docs[0].id).await.unwrap();
        assert_eq!(
            (
                held(UsageKind::Documents).await,
                held(UsageKind::StorageBytes).await
            ),
            (2, 35)
        );
        store.delete_bot(a.id, b2.id).await.unwrap();
        assert_eq!(
            (
                held(UsageKind::Documents).await,
                held(UsageKind::StorageBytes).await
            ),
            (1, 10)
        );
    }
}

conformance! {
    async fn usage_ledger_sums_and_lists_per_tenant(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let b1 = bot(a.id, "one");
        store.create_bot(&b1).await.unwrap();
        let at = |days: i64| Utc::now() - Duration::days(days);
        let event = |kind, quantity, days| UsageEvent {
            tenant_id: a.id,
            bot_id: Some(b1.id),
            kind,
            quantity,
            created_at: at(days),
        };
        store
            .record_usage(&[
                event(UsageKind::PromptTokens, 100, 40),
                event(UsageKind::PromptTokens, 30, 1),
                event(UsageKind::PromptTokens, 12, 0),
                event(UsageKind::CompletionTokens, 7, 0),
            ])
            .await
            .unwrap();
        // Per UTC day and kind, the days from up to but not including to.
        let day = |days: i64| at(days).date_naive();
        let since = store
            .usage_by_day(a.id, day(2), day(-1))
            .await
            .unwrap();
        let total = |kind| -> u64 {
            since
                .iter()
                .filter(|(_, k, _)| *k == kind)
                .map(|(_, _, n)| n)
                .sum()
        };
        assert_eq!(total(UsageKind::PromptTokens), 42);
        assert_eq!(total(UsageKind::CompletionTokens), 7);
        assert!(since.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");
        let recent = store.recent_usage(a.id, 2).await.unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|e| (e.kind, e.quantity))
                .collect::<Vec<_>>(),
            [
                (UsageKind::CompletionTokens, 7),
                (UsageKind::PromptTokens, 12)
            ],
            "newest first"
        );
        assert_eq!(recent[0].bot_id, Some(b1.id));
        assert!(store
            .usage_by_day(b.id, day(100), day(-1))
            .await
            .unwrap()
            .is_empty());
        assert!(store.recent_usage(b.id, 10).await.unwrap().is_empty());
        // The range is half-open: yesterday is in [2 days ago, today) and
        // today is not.
        let older = store.usage_by_day(a.id, day(2), day(0)).await.unwrap();
        assert_eq!(older, [(day(1), UsageKind::PromptTokens, 30)]);
        // Two events of one day and kind are one row.
        store
            .record_usage(&[event(UsageKind::CompletionTokens, 5, 0)])
            .await
            .unwrap();
        let today = store
            .usage_by_day(a.id, day(0), day(-1))
            .await
            .unwrap();
        assert!(today.contains(&(day(0), UsageKind::CompletionTokens, 12)), "{today:?}");
        assert!(today.contains(&(day(0), UsageKind::PromptTokens, 12)), "{today:?}");
    }
}

conformance! {
    /// A new session is stored with its first messages, and a document with
    /// the file it is made of, or neither is.
    async fn rows_are_written_with_their_first_children_or_not_at_all(store: Arc<dyn Store>) {
        let (a, _) = two_tenants(&*store).await;
        let bt = bot(a.id, "atomic");
        store.create_bot(&bt).await.unwrap();
        let session = ChatSession {
            id: SessionId::new(),
            tenant_id: a.id,
            bot_id: bt.id,
            visitor: None,
            started_by: Some("u".into()),
            message_count: 0,
            created_at: Utc::now(),
            last_message_at: Utc::now(),
        };
        let hello = chat_message(&session, MessageRole::User, "hello");
        // The second message repeats the first one's id: its insert fails.
        let broken = [hello.clone(), hello.clone()];
        assert!(store.create_session(&session, &broken).await.is_err());
        assert!(matches!(
            store.get_session(a.id, session.id).await,
            Err(StoreError::NotFound)
        ));
        store.create_session(&session, &[hello]).await.unwrap();
        let stored = store.get_session(a.id, session.id).await.unwrap();
        assert_eq!(stored.message_count, 1);
        assert_eq!(store.list_messages(a.id, session.id, None).await.unwrap().len(), 1);

        let file = StoredFile {
            id: FileId::new(),
            tenant_id: a.id,
            bot_id: bt.id,
            filename: "f.md".into(),
            content_type: "text/markdown".into(),
            size_bytes: 12,
            sha256: None,
            object_key: format!("k/{}", uuid::Uuid::new_v4()),
            format: Some("markdown".into()),
            uploaded_at: Some(Utc::now()),
            created_at: Utc::now(),
        };
        let mut doc = document(a.id, bt.id, "from-file");
        doc.file_id = Some(file.id);
        store.create_document(&doc, None, &ingest(&doc)).await.unwrap_err();
        // A document whose id is taken: the file is not kept either.
        let taken = document(a.id, bt.id, "taken");
        store.create_document(&taken, None, &ingest(&taken)).await.unwrap();
        let mut clash = doc.clone();
        clash.id = taken.id;
        assert!(store.create_document(&clash, Some(&file), &ingest(&clash)).await.is_err());
        assert!(matches!(
            store.get_file(a.id, file.id).await,
            Err(StoreError::NotFound)
        ));
        store.create_document(&doc, Some(&file), &ingest(&doc)).await.unwrap();
        assert_eq!(store.get_file(a.id, file.id).await.unwrap().size_bytes, 12);
        assert_eq!(store.get_document(a.id, doc.id).await.unwrap().file_id, Some(file.id));
    }
}

async fn sqlite() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("test.db"));
    Some((docent_store::open(&url).await.unwrap(), dir))
}

/// A fresh database on the server at `DOCENT_TEST_POSTGRES_URL` (which
/// `scripts/test.sh` starts); skipped without it (see `backend_url`).
async fn postgres() -> Option<(Arc<dyn Store>, ())> {
    use docent_testkit::backends::{backend_url, fresh_postgres_database};
    let server = backend_url("DOCENT_TEST_POSTGRES_URL")?;
    let url = DatabaseUrl::Postgres(fresh_postgres_database(&server, "docent_test").await);
    Some((docent_store::open(&url).await.unwrap(), ()))
}

conformance! {
    async fn webhooks_and_their_deliveries_stay_in_their_tenant(store: Arc<dyn Store>) {
        use docent_core::domain::{
            DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent,
        };
        use docent_core::ids::{DeliveryId, WebhookId};
        let (a, b) = two_tenants(&*store).await;
        let now = Utc::now();
        let endpoint = WebhookEndpoint {
            id: WebhookId::new(),
            tenant_id: a.id,
            url: "https://hooks.example.com/a".into(),
            description: Some("CRM".into()),
            events: vec![WebhookEvent::LeadCreated, WebhookEvent::DocumentReady],
            enabled: true,
            disabled_reason: None,
            consecutive_failures: 0,
            created_at: now,
            updated_at: now,
        };
        store.create_webhook(&endpoint, "whsec_a").await.unwrap();
        let read = store.get_webhook(a.id, endpoint.id).await.unwrap();
        assert_eq!(read.events, endpoint.events);
        assert_eq!(read.url, endpoint.url);
        assert!(read.enabled);
        assert_eq!(store.webhook_secret(a.id, endpoint.id).await.unwrap(), "whsec_a");
        assert!(matches!(store.get_webhook(b.id, endpoint.id).await, Err(StoreError::NotFound)));
        assert!(matches!(store.webhook_secret(b.id, endpoint.id).await, Err(StoreError::NotFound)));
        assert!(store.list_webhooks(b.id).await.unwrap().is_empty());

        // Deliveries, each with its job in the same transaction.
        let delivery = |n: u64| WebhookDelivery {
            id: DeliveryId::new(),
            tenant_id: a.id,
            endpoint_id: endpoint.id,
            event: WebhookEvent::LeadCreated,
            message_id: format!("msg_{n}"),
            payload: serde_json::json!({"type": "lead.created", "data": {"n": n}}),
            status: DeliveryStatus::Pending,
            attempts: 0,
            response_status: None,
            error: None,
            created_at: now,
            last_attempt_at: None,
            delivered_at: None,
        };
        let (first, second) = (delivery(1), delivery(2));
        for d in [&first, &second] {
            let job = NewJob::new(a.id, JobSpec::DeliverWebhook { delivery_id: d.id });
            store.create_delivery(d, &job).await.unwrap();
            assert_eq!(store.get_job(a.id, job.id).await.unwrap().kind, "deliver_webhook");
        }
        let page = store
            .list_deliveries(a.id, endpoint.id, &PageRequest { limit: 1, after: None })
            .await
            .unwrap();
        assert_eq!(page.items[0].id, second.id, "newest first");
        let rest = store
            .list_deliveries(a.id, endpoint.id, &PageRequest { limit: 1, after: page.next_cursor })
            .await
            .unwrap();
        assert_eq!(rest.items[0].id, first.id);
        assert_eq!(rest.items[0].payload, first.payload);
        assert!(store.list_deliveries(b.id, endpoint.id, &PageRequest { limit: 10, after: None }).await.unwrap().items.is_empty());
        assert!(matches!(store.get_delivery(b.id, first.id).await, Err(StoreError::NotFound)));

        // Failures count in a row; the second disables the endpoint once.
        let failed = |last| DeliveryAttempt {
            at: Utc::now(),
            response_status: Some(500),
            error: Some("the endpoint answered 500".into()),
            last,
        };
        assert!(!store.record_attempt(a.id, first.id, &failed(false), 2, "too many").await.unwrap());
        let d = store.get_delivery(a.id, first.id).await.unwrap();
        assert_eq!((d.status, d.attempts, d.response_status), (DeliveryStatus::Pending, 1, Some(500)));
        assert!(store.record_attempt(a.id, first.id, &failed(true), 2, "too many").await.unwrap());
        let e = store.get_webhook(a.id, endpoint.id).await.unwrap();
        assert!(!e.enabled);
        assert_eq!(e.disabled_reason.as_deref(), Some("too many"));
        assert_eq!(e.consecutive_failures, 2);
        assert_eq!(store.get_delivery(a.id, first.id).await.unwrap().status, DeliveryStatus::Failed);
        // Skipped while disabled: no more failures counted, no second notice.
        assert!(!store.record_attempt(a.id, second.id, &failed(true), 2, "too many").await.unwrap());
        assert_eq!(store.get_webhook(a.id, endpoint.id).await.unwrap().consecutive_failures, 2);

        // Enabled again, redelivered, delivered: failures reset.
        let enabled = WebhookEndpoint { enabled: true, disabled_reason: None, consecutive_failures: 0, ..e };
        store.update_webhook(&enabled).await.unwrap();
        let job = NewJob::new(a.id, JobSpec::DeliverWebhook { delivery_id: first.id });
        store.redeliver(a.id, first.id, &job).await.unwrap();
        assert_eq!(store.get_delivery(a.id, first.id).await.unwrap().status, DeliveryStatus::Pending);
        let ok = DeliveryAttempt { at: Utc::now(), response_status: Some(204), error: None, last: false };
        assert!(!store.record_attempt(a.id, first.id, &ok, 2, "too many").await.unwrap());
        let d = store.get_delivery(a.id, first.id).await.unwrap();
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Succeeded, 3));
        assert!(d.delivered_at.is_some() && d.error.is_none());
        // Another tenant can neither redeliver nor update nor delete.
        assert!(matches!(store.redeliver(b.id, first.id, &job).await, Err(StoreError::NotFound)));
        let stolen = WebhookEndpoint { tenant_id: b.id, ..enabled.clone() };
        assert!(matches!(store.update_webhook(&stolen).await, Err(StoreError::NotFound)));
        assert!(matches!(store.delete_webhook(b.id, endpoint.id).await, Err(StoreError::NotFound)));
        // Deleting the endpoint deletes its deliveries.
        store.delete_webhook(a.id, endpoint.id).await.unwrap();
        assert!(matches!(store.get_delivery(a.id, first.id).await, Err(StoreError::NotFound)));
        assert!(store.list_webhooks(a.id).await.unwrap().is_empty());
    }
}

conformance! {
    async fn email_tokens_work_once_and_only_while_live(store: Arc<dyn Store>) {
        use docent_core::domain::{EmailPurpose, EmailToken};
        let (a, _) = two_tenants(&*store).await;
        let ann = user(&a, "ann@conformance.io", Role::Owner);
        store.create_user(&ann).await.unwrap();
        let now = Utc::now();
        let token = |hash: &str, purpose, expires_at| EmailToken {
            id: uuid::Uuid::now_v7(),
            tenant_id: a.id,
            user_id: Some(ann.id),
            email: ann.email.clone(),
            role: Some(Role::Editor),
            purpose,
            token_hash: hash.into(),
            expires_at,
            used_at: None,
            created_at: now,
        };
        store.create_email_token(&token("h-live", EmailPurpose::Reset, now + Duration::hours(1))).await.unwrap();
        store.create_email_token(&token("h-old", EmailPurpose::Reset, now - Duration::seconds(1))).await.unwrap();
        // Another purpose, an expired one, an unknown one: nothing.
        assert!(store.use_email_token("h-live", EmailPurpose::Verify, now).await.unwrap().is_none());
        assert!(store.use_email_token("h-old", EmailPurpose::Reset, now).await.unwrap().is_none());
        assert!(store.use_email_token("h-none", EmailPurpose::Reset, now).await.unwrap().is_none());
        // Of two concurrent uses, one gets it.
        let (first, second) = tokio::join!(
            store.use_email_token("h-live", EmailPurpose::Reset, now),
            store.use_email_token("h-live", EmailPurpose::Reset, now),
        );
        let used: Vec<_> = [first.unwrap(), second.unwrap()].into_iter().flatten().collect();
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].user_id, Some(ann.id));
        assert_eq!(used[0].role, Some(Role::Editor));
        assert_eq!(used[0].email, ann.email);
        assert!(used[0].used_at.is_some());
        // Verification is kept at its first time.
        assert!(store.get_user(a.id, ann.id).await.unwrap().email_verified_at.is_none());
        store.set_email_verified(a.id, ann.id, now).await.unwrap();
        store.set_email_verified(a.id, ann.id, now + Duration::days(1)).await.unwrap();
        let verified = store.get_user(a.id, ann.id).await.unwrap().email_verified_at.unwrap();
        assert!((verified - now).num_seconds().abs() < 1);
        assert!(matches!(
            store.set_email_verified(TenantId::new(), ann.id, now).await,
            Err(StoreError::NotFound)
        ));
    }
}

conformance! {
    async fn a_second_factor_accepts_each_step_and_recovery_code_once(store: Arc<dyn Store>) {
        let (a, b) = two_tenants(&*store).await;
        let ann = user(&a, "ann@mfa.io", Role::Owner);
        store.create_user(&ann).await.unwrap();
        assert!(store.mfa_state(a.id, ann.id).await.unwrap().is_none());
        store.set_mfa_pending(a.id, ann.id, "PENDING").await.unwrap();
        let state = store.mfa_state(a.id, ann.id).await.unwrap().unwrap();
        assert_eq!(state.pending_secret.as_deref(), Some("PENDING"));
        assert!(state.secret.is_none());
        // No factor in force yet: no step is accepted.
        assert!(!store.use_mfa_step(a.id, ann.id, 10).await.unwrap());
        let hashes = vec!["r1".to_string(), "r2".to_string()];
        store.enable_mfa(a.id, ann.id, "PENDING", 10, &hashes, Utc::now()).await.unwrap();
        let state = store.mfa_state(a.id, ann.id).await.unwrap().unwrap();
        assert_eq!((state.secret.as_deref(), state.pending_secret), (Some("PENDING"), None));
        assert_eq!(state.last_step, Some(10));
        // Steps move forward only; another tenant's view of the user is empty.
        assert!(!store.use_mfa_step(a.id, ann.id, 10).await.unwrap());
        assert!(!store.use_mfa_step(a.id, ann.id, 9).await.unwrap());
        assert!(store.use_mfa_step(a.id, ann.id, 11).await.unwrap());
        assert!(!store.use_mfa_step(b.id, ann.id, 12).await.unwrap());
        assert!(store.mfa_state(b.id, ann.id).await.unwrap().is_none());
        // Recovery codes: once each.
        assert!(store.use_recovery_code(ann.id, "r1", Utc::now()).await.unwrap());
        assert!(!store.use_recovery_code(ann.id, "r1", Utc::now()).await.unwrap());
        assert!(!store.use_recovery_code(ann.id, "nope", Utc::now()).await.unwrap());
        // Off: state and codes gone.
        assert!(matches!(store.disable_mfa(b.id, ann.id).await, Err(StoreError::NotFound)));
        store.disable_mfa(a.id, ann.id).await.unwrap();
        assert!(store.mfa_state(a.id, ann.id).await.unwrap().is_none());
        assert!(!store.use_recovery_code(ann.id, "r2", Utc::now()).await.unwrap());
    }
}
