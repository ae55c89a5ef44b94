//! Facts from files that a team's own CI wrote: NDJSON (`.ndjson`, `.jsonl`), a JSON array
//! (`.json`) or CSV with a header (`.csv`), each record
//! `{entity, fact, value, observed_at?, evidence?}`.
//!
//! Contract: reads the files the globs name (relative to the pipeline folder); every record
//! that is malformed, names an unknown entity, or has a bad value becomes a [`SourceError`]
//! naming file:line and is skipped; the other records still count. `observed_at` defaults to
//! the run's start; `evidence` defaults to the file and line.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{is_valid_fact_name, Fact, FactValue, SourceError, SourceErrorKind, SourceOutput};
use crate::catalog::files::{display_path, expand};
use crate::catalog::EntityRef;

/// Extensions of fact files, taken from folders named without a glob.
pub const FACT_EXTENSIONS: &[&str] = &["ndjson", "jsonl", "json", "csv"];

/// Reads the fact files of one source.
pub fn collect(
    name: &str,
    patterns: &[String],
    base_dir: &Path,
    known_entities: &HashSet<String>,
    run_started: DateTime<Utc>,
    required: bool,
) -> SourceOutput {
    let mut out = SourceOutput { name: name.to_owned(), required, ..Default::default() };
    let mut files = Vec::new();
    let mut walk_errors = Vec::new();
    for p in patterns {
        files.extend(expand(p, base_dir, FACT_EXTENSIONS, &mut walk_errors));
    }
    files.sort();
    files.dedup();
    for e in walk_errors {
        out.errors.push(SourceError {
            source: name.to_owned(),
            kind: SourceErrorKind::Unavailable,
            location: e.file.clone(),
            entity: None,
            message: e.message,
        });
    }
    let mut readable = 0;
    for f in files {
        let shown = display_path(&f, base_dir);
        let text = match std::fs::read(&f) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    out.errors.push(err(name, SourceErrorKind::BadRecord, &shown, None, format!("{shown}: not valid UTF-8")));
                    continue;
                }
            },
            Err(e) => {
                out.errors.push(err(name, SourceErrorKind::Unavailable, &shown, None, format!("{shown}: cannot read: {e}")));
                continue;
            }
        };
        readable += 1;
        let ctx = Ctx { source: name, shown: &shown, known: known_entities, run_started };
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "ndjson" | "jsonl" => read_ndjson(&text, &ctx, &mut out),
            "json" => read_json_array(&text, &ctx, &mut out),
            "csv" => read_csv(&text, &ctx, &mut out),
            _ => out.errors.push(err(
                name,
                SourceErrorKind::BadRecord,
                &shown,
                None,
                format!("{shown}: unknown fact file type \"{ext}\" (use .ndjson, .jsonl, .json or .csv)"),
            )),
        }
    }
    if readable == 0 {
        out.unavailable = true;
        if out.errors.is_empty() {
            out.errors.push(SourceError {
                source: name.to_owned(),
                kind: SourceErrorKind::Unavailable,
                location: None,
                entity: None,
                message: format!("fact source {name}: no file matched {}", patterns.join(", ")),
            });
        }
    }
    out
}

struct Ctx<'a> {
    source: &'a str,
    shown: &'a str,
    known: &'a HashSet<String>,
    run_started: DateTime<Utc>,
}

fn err(source: &str, kind: SourceErrorKind, file: &str, entity: Option<String>, message: String) -> SourceError {
    SourceError { source: source.to_owned(), kind, location: Some(file.to_owned()), entity, message }
}

/// A malformed record or file at `file:line`.
fn bad_at(ctx: &Ctx<'_>, line: usize, message: impl std::fmt::Display) -> SourceError {
    let at = format!("{}:{line}", ctx.shown);
    err(ctx.source, SourceErrorKind::BadRecord, &at, None, format!("{at}: {message}"))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!("observed_at \"{s}\" is not an RFC 3339 time (2026-12-01T06:00:00Z) or a date (2026-12-01)"))
}

/// Checks and converts one record; `line` is 1-based.
fn record(
    ctx: &Ctx<'_>,
    line: usize,
    entity: Option<&str>,
    fact: Option<&str>,
    value: Result<FactValue, String>,
    observed_at: Option<&str>,
    evidence: Option<&str>,
    out: &mut SourceOutput,
) {
    let at = format!("{}:{line}", ctx.shown);
    let bad = |msg: String| err(ctx.source, SourceErrorKind::BadRecord, &at, None, format!("{at}: {msg}"));
    let Some(entity) = entity.filter(|e| !e.trim().is_empty()) else {
        out.errors.push(bad("\"entity\" is missing".into()));
        return;
    };
    let Some(fact) = fact.filter(|f| !f.trim().is_empty()) else {
        out.errors.push(bad("\"fact\" is missing".into()));
        return;
    };
    if !is_valid_fact_name(fact) {
        out.errors.push(bad(format!(
            "fact name \"{fact}\" is not valid: use lower-case snake_case parts joined by dots, e.g. ci.test_coverage_pct"
        )));
        return;
    }
    let r = match EntityRef::parse_loose(entity) {
        Ok(r) => r.to_string(),
        Err(e) => {
            out.errors.push(bad(format!("entity \"{entity}\": {e}")));
            return;
        }
    };
    if !ctx.known.contains(&r) {
        out.errors.push(err(
            ctx.source,
            SourceErrorKind::UnknownEntity,
            &at,
            Some(r.clone()),
            format!("{at}: entity {r} is not in the catalog; fact {fact} skipped"),
        ));
        return;
    }
    let value = match value {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(bad(format!("{fact} of {r}: {e}")));
            return;
        }
    };
    let observed_at = match observed_at.filter(|s| !s.trim().is_empty()) {
        None => ctx.run_started,
        Some(s) => match parse_time(s.trim()) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(bad(e));
                return;
            }
        },
    };
    let evidence = match evidence.filter(|s| !s.trim().is_empty()) {
        Some(e) => format!("{e} (via {at})"),
        None => format!("fact file {at}"),
    };
    out.facts.push(Fact { entity_ref: r, source: format!("file:{}", ctx.shown), fact: fact.to_owned(), value, observed_at, evidence });
}

fn from_object(ctx: &Ctx<'_>, line: usize, v: Value, out: &mut SourceOutput) {
    let Value::Object(mut m) = v else {
        out.errors.push(bad_at(ctx, line, "a fact record must be a JSON object"));
        return;
    };
    let allowed = ["entity", "fact", "value", "observed_at", "evidence"];
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        out.errors.push(bad_at(ctx, line, format!("unknown field \"{k}\" (a fact record has entity, fact, value, observed_at, evidence)")));
        return;
    }
    let s = |m: &serde_json::Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let entity = s(&m, "entity");
    let fact = s(&m, "fact");
    let observed = s(&m, "observed_at");
    let evidence = s(&m, "evidence");
    let value = match m.remove("value") {
        None => Err("\"value\" is missing".to_owned()),
        Some(v) => FactValue::from_json(v),
    };
    record(ctx, line, entity.as_deref(), fact.as_deref(), value, observed.as_deref(), evidence.as_deref(), out);
}

fn read_ndjson(text: &str, ctx: &Ctx<'_>, out: &mut SourceOutput) {
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(l) {
            Ok(v) => from_object(ctx, i + 1, v, out),
            Err(e) => out.errors.push(bad_at(ctx, i + 1, format!("not valid JSON: {e}"))),
        }
    }
}

fn read_json_array(text: &str, ctx: &Ctx<'_>, out: &mut SourceOutput) {
    // keep each element's line: stream the array element by element
    let trimmed = text.trim_start();
    if !trimmed.starts_with('[') {
        out.errors.push(bad_at(ctx, 1, "a .json fact file must hold one JSON array of records"));
        return;
    }
    let base = text.len() - trimmed.len() + 1;
    let mut pos = base;
    loop {
        let rest = &text[pos..];
        let skip = rest.len() - rest.trim_start_matches([' ', '\n', '\r', '\t', ',']).len();
        pos += skip;
        if text[pos..].starts_with(']') || pos >= text.len() {
            break;
        }
        let line = text[..pos].bytes().filter(|&b| b == b'\n').count() + 1;
        let mut de = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
        match de.next() {
            Some(Ok(v)) => {
                pos += de.byte_offset();
                from_object(ctx, line, v, out);
            }
            Some(Err(e)) => {
                out.errors.push(bad_at(ctx, line + e.line().saturating_sub(1), format!("not valid JSON: {e}; rest of the file skipped")));
                break;
            }
            None => break,
        }
    }
}

fn read_csv(text: &str, ctx: &Ctx<'_>, out: &mut SourceOutput) {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.errors.push(bad_at(ctx, 1, format!("bad CSV header: {e}")));
            return;
        }
    };
    let col = |n: &str| headers.iter().position(|h| h.trim() == n);
    let (Some(ce), Some(cf), Some(cv)) = (col("entity"), col("fact"), col("value")) else {
        out.errors.push(bad_at(ctx, 1, "the CSV header must name entity, fact and value (and may name observed_at, evidence)"));
        return;
    };
    let co = col("observed_at");
    let cev = col("evidence");
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line() as usize).unwrap_or(0);
                if r.len() != headers.len() {
                    out.errors.push(bad_at(ctx, line, format!("{} fields where the header has {}", r.len(), headers.len())));
                    continue;
                }
                let value = FactValue::from_csv(r.get(cv).unwrap_or(""));
                record(ctx, line, r.get(ce), r.get(cf), value, co.and_then(|c| r.get(c)), cev.and_then(|c| r.get(c)), out);
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                out.errors.push(bad_at(ctx, line, format!("bad CSV record: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> HashSet<String> {
        ["component:default/a".to_owned(), "component:default/b".to_owned()].into_iter().collect()
    }

    fn run(files: &[(&str, &str)]) -> SourceOutput {
        let dir = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(dir.path().join(n), t).unwrap();
        }
        let now = DateTime::parse_from_rfc3339("2026-12-04T00:00:00Z").unwrap().with_timezone(&Utc);
        collect("t", &["*".into()], dir.path(), &known(), now, true)
    }

    #[test]
    fn reads_all_formats_and_reports_bad_lines() {
        let out = run(&[
            ("a.ndjson", "{\"entity\":\"component:default/a\",\"fact\":\"ci.cov\",\"value\":80}\nnot json\n{\"entity\":\"ghost\",\"fact\":\"ci.cov\",\"value\":1}\n"),
            ("b.csv", "entity,fact,value,observed_at\nb,ci.ok,true,2026-11-01\nb,ci.cov,,\nb,ci.when,x,yesterday\n"),
            ("c.json", "[\n  {\"entity\": \"a\", \"fact\": \"rt.sbom\", \"value\": {\"n\": 1}},\n  {\"entity\": \"a\", \"fact\": \"rt.v\", \"value\": null}\n]\n"),
        ]);
        let facts: Vec<(&str, &str)> = out.facts.iter().map(|f| (f.entity_ref.as_str(), f.fact.as_str())).collect();
        assert_eq!(facts, vec![("component:default/a", "ci.cov"), ("component:default/b", "ci.ok"), ("component:default/a", "rt.sbom")]);
        assert_eq!(out.facts[1].observed_at.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        let msgs: Vec<&str> = out.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(msgs.len(), 5, "{msgs:#?}");
        assert!(msgs[0].starts_with("a.ndjson:2: not valid JSON"), "{msgs:#?}");
        assert!(msgs[1].starts_with("a.ndjson:3: entity component:default/ghost is not in the catalog"), "{msgs:#?}");
        assert!(msgs[2].starts_with("b.csv:3:"), "{msgs:#?}");
        assert!(msgs[3].starts_with("b.csv:4: observed_at"), "{msgs:#?}");
        assert!(msgs[4].starts_with("c.json:3:"), "{msgs:#?}");
        assert!(!out.unavailable);
    }

    #[test]
    fn missing_source_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let out = collect("t", &["nothing/*.csv".into()], dir.path(), &known(), Utc::now(), true);
        assert!(out.unavailable);
        assert_eq!(out.errors.len(), 1);
    }
}
