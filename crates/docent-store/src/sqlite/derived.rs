//! What the keyword and vector indexes share as data derived from the rows
//! and kept beside the database file: where they live, and the removal of
//! those whose bot is gone.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use docent_core::store::{StoreError, StoreResult};
use sqlx::{Pool, Sqlite};
use uuid::Uuid;

/// `{database}{suffix}`, the folder of one kind of index (one folder per
/// bot inside it); `None` for a database in memory.
pub fn root(database: Option<&Path>, suffix: &str) -> Option<PathBuf> {
    database.map(|db| {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        db.with_file_name(name)
    })
}

/// Removes the bot folders under `root` whose bot no longer exists. The
/// folders are listed before the bots are read, so one made meanwhile
/// belongs to a bot already read.
pub async fn sweep(root: Option<&Path>, pool: &Pool<Sqlite>, what: &str) -> StoreResult<()> {
    let listed: Vec<PathBuf> = match root.map(std::fs::read_dir) {
        Some(Ok(entries)) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        _ => Vec::new(),
    };
    let bots: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM bots")
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::backend("index_sweep", e))?
        .into_iter()
        .filter_map(|id| id.parse::<Uuid>().ok().map(|u| u.simple().to_string()))
        .collect();
    for dir in listed {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !bots.contains(name) {
            tracing::info!(index = %dir.display(), "removing the {what} index of a deleted bot");
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(%error, index = %dir.display(), "could not remove the {what} index");
            }
        }
    }
    Ok(())
}
