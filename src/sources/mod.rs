//! Signal sources. Every source has the same contract: it receives the catalog (entities
//! with their annotations) and returns typed [`Fact`]s about them plus the [`SourceError`]s
//! it met. Sources gather; they never grade and never render. A source that fails produces
//! no facts (facts are absent, never zero) and its errors are recorded with the run.

pub mod codescene;
pub mod facts_files;
pub mod github;
pub mod prometheus;
pub mod zoekt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// A typed fact value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FactValue {
    Number(f64),
    Bool(bool),
    Text(String),
    Json(Value),
}

impl FactValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            FactValue::Number(_) => "number",
            FactValue::Bool(_) => "boolean",
            FactValue::Text(_) => "text",
            FactValue::Json(_) => "json",
        }
    }

    /// The value as the stores' columns: (number, boolean, text, JSON text), one of them set.
    pub fn columns(&self) -> (Option<f64>, Option<bool>, Option<&str>, Option<String>) {
        match self {
            FactValue::Number(n) => (Some(*n), None, None, None),
            FactValue::Bool(x) => (None, Some(*x), None, None),
            FactValue::Text(t) => (None, None, Some(t.as_str()), None),
            FactValue::Json(j) => (None, None, None, Some(j.to_string())),
        }
    }

    /// From a JSON value: numbers, booleans and strings keep their type; objects and arrays
    /// are JSON; `null` and non-finite numbers are not facts.
    pub fn from_json(v: Value) -> Result<FactValue, String> {
        match v {
            Value::Null => Err("value is missing (null); leave the fact out instead".into()),
            Value::Bool(b) => Ok(FactValue::Bool(b)),
            Value::Number(n) => {
                n.as_f64().filter(|f| f.is_finite()).map(FactValue::Number).ok_or_else(|| format!("{n} is not a finite number"))
            }
            Value::String(s) => Ok(FactValue::Text(s)),
            other => Ok(FactValue::Json(other)),
        }
    }

    /// From CSV text: `true`/`false`, numbers, `{...}`/`[...]` JSON, else text.
    pub fn from_csv(s: &str) -> Result<FactValue, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("value is empty; leave the fact out instead".into());
        }
        match t {
            "true" => return Ok(FactValue::Bool(true)),
            "false" => return Ok(FactValue::Bool(false)),
            _ => {}
        }
        if t.starts_with('{') || t.starts_with('[') {
            return serde_json::from_str::<Value>(t).map(FactValue::Json).map_err(|e| format!("value looks like JSON but is not: {e}"));
        }
        if let Ok(n) = serde_json::from_str::<serde_json::Number>(t) {
            if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                return Ok(FactValue::Number(f));
            }
        }
        Ok(FactValue::Text(t.to_owned()))
    }
}

/// One observation about one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    /// canonical entity ref
    pub entity_ref: String,
    /// which source produced it (`file:demo/facts/ci.csv`, `prometheus`, ...)
    pub source: String,
    /// dotted snake_case name, `<namespace>.<name>` (e.g. `ci.test_coverage_pct`)
    pub fact: String,
    pub value: FactValue,
    pub observed_at: DateTime<Utc>,
    /// where it came from: file and line, query, URL, commit, time range
    pub evidence: String,
}

/// A problem a source met: which source, where (file:line, URL), which entity, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceError {
    pub source: String,
    pub kind: SourceErrorKind,
    pub location: Option<String>,
    pub entity: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceErrorKind {
    /// the source could not be read at all (unreachable, no such file)
    Unavailable,
    /// one row/record is malformed
    BadRecord,
    /// a record names an entity that is not in the catalog
    UnknownEntity,
    /// a query the source answered with an error (bad query, execution, timeout)
    QueryFailed,
    /// results that name no component (reported so the catalog's gaps show; a warning)
    Unmatched,
    /// what the source itself warned about, or values it could not use (a warning)
    Warning,
}

impl SourceErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceErrorKind::Unavailable => "unavailable",
            SourceErrorKind::BadRecord => "bad-record",
            SourceErrorKind::UnknownEntity => "unknown-entity",
            SourceErrorKind::QueryFailed => "query-failed",
            SourceErrorKind::Unmatched => "unmatched",
            SourceErrorKind::Warning => "source-warning",
        }
    }

    /// `error` or `warning`, as the run records it.
    pub fn severity(self) -> &'static str {
        match self {
            SourceErrorKind::Unmatched | SourceErrorKind::Warning => "warning",
            _ => "error",
        }
    }
}

/// What one source returned.
#[derive(Debug, Default)]
pub struct SourceOutput {
    pub name: String,
    pub facts: Vec<Fact>,
    pub errors: Vec<SourceError>,
    /// the source produced nothing at all because it could not be read
    pub unavailable: bool,
    pub required: bool,
    /// what the source did (requests, rate-limit points, 304s...), for the run summary
    pub stats: serde_json::Map<String, Value>,
    /// rows to keep for the next run (ETags, snapshots): replaced in `source_cache` when the
    /// run is stored
    pub cache: Vec<CacheEntry>,
}

/// One row of a source's cache (`source_cache`): a validator and the body it validates, or a
/// snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    pub key: String,
    pub etag: Option<String>,
    pub body: String,
    pub fetched_at: DateTime<Utc>,
}

/// `ci.test_coverage_pct`: lower-case snake_case parts joined by dots, at least two parts.
pub fn is_valid_fact_name(s: &str) -> bool {
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        let b = p.as_bytes();
        if b.is_empty() || !b[0].is_ascii_lowercase() || !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_') {
            return false;
        }
    }
    parts >= 2 && s.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_values_are_typed() {
        assert_eq!(FactValue::from_csv("81.4").unwrap(), FactValue::Number(81.4));
        assert_eq!(FactValue::from_csv("true").unwrap(), FactValue::Bool(true));
        assert_eq!(FactValue::from_csv("java 17").unwrap(), FactValue::Text("java 17".into()));
        assert!(matches!(FactValue::from_csv("{\"a\": 1}").unwrap(), FactValue::Json(_)));
        assert!(FactValue::from_csv("{oops").is_err());
        assert_eq!(FactValue::from_csv("NaN").unwrap(), FactValue::Text("NaN".into()));
        assert!(FactValue::from_csv("").is_err());
    }

    #[test]
    fn fact_names() {
        assert!(is_valid_fact_name("ci.test_coverage_pct"));
        assert!(is_valid_fact_name("zoekt.log4j_refs"));
        assert!(!is_valid_fact_name("coverage"));
        assert!(!is_valid_fact_name("CI.coverage"));
        assert!(!is_valid_fact_name("ci..x"));
    }
}
