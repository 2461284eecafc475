//! Periodic upkeep run by every worker process: uploads that were never
//! ingested expire and their bytes are removed, then the held usage counters
//! are recounted from what is really stored, repairing drift left by a crash
//! between a reservation and its release. Both steps are idempotent, so any
//! number of workers may run them.

use std::time::Duration;

use chrono::Utc;
use docent_core::store::StoreError;

use super::JobContext;

/// Files removed per round at most (the rest wait for the next round).
const BATCH: u32 = 500;

#[derive(Clone, Debug)]
pub struct MaintenanceSettings {
    /// How often a round runs.
    pub interval: Duration,
    /// Uploads with no document older than this are removed.
    pub upload_expiry: Duration,
}

/// Runs a round every `interval` until `stop` turns true.
pub(super) async fn run(
    ctx: &JobContext,
    settings: &MaintenanceSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if let Err(error) = round(ctx, settings).await {
            tracing::warn!(error = %crate::ErrorChain(&error), "maintenance round failed; trying again next round");
        }
    }
}

/// One round: expire pending uploads, then recount held usage.
pub async fn round(ctx: &JobContext, settings: &MaintenanceSettings) -> Result<(), StoreError> {
    let before =
        Utc::now() - chrono::Duration::from_std(settings.upload_expiry).unwrap_or_default();
    let pending = ctx.store.pending_files(before, BATCH).await?;
    let mut removed = 0;
    for file in pending {
        // The row goes first: an upload arriving now is refused, and bytes
        // left behind by a failed delete are only orphaned, never counted.
        match ctx.store.delete_pending_file(file.tenant_id, file.id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => continue, // ingested meanwhile
            Err(e) => return Err(e),
        }
        match ctx.blob.delete(&file.object_key).await {
            Ok(()) | Err(docent_core::blob::BlobError::NotFound) => {}
            Err(error) => {
                tracing::warn!(error = %crate::ErrorChain(&error), file = %file.id, "could not delete an expired upload's bytes")
            }
        }
        removed += 1;
    }
    let repaired = ctx.store.recount_held_usage().await?;
    // Waiting crawls end when their tenant's last ingestion does; this
    // catches one whose pages were deleted before they were ingested.
    let ended = ctx.store.finish_awaiting(None, Utc::now()).await?;
    if ended > 0 {
        tracing::info!(ended, "maintenance: crawls done, their pages are ingested");
    }
    if removed > 0 || repaired > 0 {
        tracing::info!(
            removed,
            repaired,
            "maintenance: expired uploads removed, held usage recounted"
        );
    }
    Ok(())
}
