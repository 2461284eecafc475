//! Changing the embedder re-embeds the knowledge base: documents indexed by
//! the previous model are queued again when workers start with the new one.

use docent_core::ids::{BotId, TenantId};

use crate::helpers::spawn_app_at;

#[tokio::test]
async fn switching_the_embedder_re_embeds_existing_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_app_at(dir.path(), |_| {}).await;
    let owner = first.signup("ann@acme.io").await;
    let bot = first.create_bot(&owner.token, "B").await;
    let (doc, _) = first
        .add_text(
            &owner.token,
            &bot,
            "Refunds",
            "Refunds are granted within thirty days.",
        )
        .await;
    let tenant: TenantId = owner.id.parse().unwrap();
    let bot_id: BotId = bot.parse().unwrap();
    let before = first
        .store
        .bot_vectors(tenant, bot_id, "hash-384")
        .await
        .unwrap();
    assert!(!before.ids.is_empty());
    first.shutdown().await;

    let second = spawn_app_at(dir.path(), |c| c.embedder.dims = Some(256)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = second
            .store
            .bot_vectors(tenant, bot_id, "hash-256")
            .await
            .unwrap();
        if now.ids.len() == before.ids.len() {
            assert_eq!(now.dims, 256);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "chunks were not re-embedded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        second
            .store
            .bot_vectors(tenant, bot_id, "hash-384")
            .await
            .unwrap()
            .ids
            .is_empty()
    );
    let (_, detail) = second
        .get(&format!("/api/v1/docs/{doc}"), &owner.token)
        .await;
    assert_eq!(detail["document"]["status"], "ready");
    // The vectors are in before the re-embedding job is marked done.
    second.wait_idle().await;
}
