//! Tabular and structured sources flattened to self-describing lines, so a
//! chunk keeps its meaning on its own: CSV rows as `header: value` pairs, JSON
//! leaves as `path: value`.

use serde_json::Value;

use super::{Builder, ExtractError, Extracted, Limits};

pub(super) fn csv(text: &str, limits: &Limits) -> Result<Extracted, ExtractError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ExtractError::Corrupt("csv", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut b = Builder::new(limits);
    for record in reader.records() {
        let record = record.map_err(|e| ExtractError::Corrupt("csv", e.to_string()))?;
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| {
                let name = headers
                    .get(i)
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .unwrap_or_else(|| format!("column {}", i + 1));
                format!("{name}: {}", super::collapse_spaces(v))
            })
            .collect();
        if !fields.is_empty() {
            b.push_inline(&fields.join("; "))?;
            b.line_break();
        }
    }
    b.finish(None)
}

pub(super) fn json(text: &str, limits: &Limits) -> Result<Extracted, ExtractError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ExtractError::Corrupt("json", e.to_string()))?;
    let mut b = Builder::new(limits);
    leaves(&value, &mut String::new(), &mut b)?;
    b.finish(None)
}

fn leaves(value: &Value, path: &mut String, b: &mut Builder) -> Result<(), ExtractError> {
    let len = path.len();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                leaves(v, path, b)?;
                path.truncate(len);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                leaves(v, path, b)?;
                path.truncate(len);
            }
        }
        leaf => {
            let shown = match leaf {
                Value::String(s) => super::collapse_spaces(s),
                other => other.to_string(),
            };
            let line = if path.is_empty() {
                shown
            } else {
                format!("{path}: {shown}")
            };
            b.push_inline(&line)?;
            b.line_break();
        }
    }
    Ok(())
}
