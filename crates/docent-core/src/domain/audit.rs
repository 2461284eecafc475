use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{AuditId, TenantId};

/// One mutating action, recorded for the tenant's audit trail.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// `user`, `api_key`, `embed` or `operator`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// Dotted verb such as `bot.create` or `api_key.revoke`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What the action changed, field by field: `{"name": {"old": "A",
    /// "new": "B"}}`; a creation has only `new`, a deletion only `old`.
    /// Secrets (passwords, keys, tokens, hashes) read `"[redacted]"`.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    pub actor_type: &'static str,
    pub actor_id: Option<String>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub changes: Option<serde_json::Value>,
}

/// The fields that differ between `old` and `new` (either may be absent: a
/// creation, a deletion), as an entry's `changes`; `None` when nothing did.
/// Top-level fields are compared; the update time is left out, and values of
/// secret fields are redacted.
pub fn changes<T: Serialize>(old: Option<&T>, new: Option<&T>) -> Option<serde_json::Value> {
    use serde_json::{Map, Value, json};
    let fields = |v: Option<&T>| match v.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    };
    let (old, new) = (fields(old), fields(new));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Map::new();
    for name in names {
        let (before, after) = (old.get(name), new.get(name));
        if before == after || name == "updated_at" {
            continue;
        }
        let shown = |v: &Value| {
            if is_secret(name) {
                json!("[redacted]")
            } else {
                v.clone()
            }
        };
        let mut change = Map::new();
        if let Some(v) = before {
            change.insert("old".into(), shown(v));
        }
        if let Some(v) = after {
            change.insert("new".into(), shown(v));
        }
        out.insert(name.clone(), Value::Object(change));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Field names whose values never go into the trail.
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "secret", "key", "token"].contains(&name.as_str())
        || ["_hash", "_secret", "_key", "_token", "password"]
            .iter()
            .any(|end| name.ends_with(end))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn changes_name_the_fields_that_differ_and_hide_secrets() {
        let old = json!({"name": "A", "role": "viewer", "updated_at": "1", "password_hash": "x",
                         "max_tokens": 5});
        let new = json!({"name": "B", "role": "viewer", "updated_at": "2", "password_hash": "y",
                         "max_tokens": 6, "api_key": "dct_1"});
        let changed = super::changes(Some(&old), Some(&new)).unwrap();
        assert_eq!(
            changed,
            json!({
                "name": {"old": "A", "new": "B"},
                "password_hash": {"old": "[redacted]", "new": "[redacted]"},
                "max_tokens": {"old": 5, "new": 6},
                "api_key": {"new": "[redacted]"},
            })
        );
        assert_eq!(super::changes(Some(&old), Some(&old)), None);
        let created = super::changes(None, Some(&json!({"name": "A"}))).unwrap();
        assert_eq!(created, json!({"name": {"new": "A"}}));
        let deleted = super::changes(Some(&json!({"name": "A"})), None).unwrap();
        assert_eq!(deleted, json!({"name": {"old": "A"}}));
    }
}

/// Filters for reading the trail; entries come newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id (the cursor of the previous page).
    pub before: Option<AuditId>,
    pub limit: u32,
}
