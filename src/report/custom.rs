//! Reports a pipeline adds without recompiling: a YAML definition (`kind: table`) naming a
//! page, an SQL query over the database and, optionally, a template of its own. The query
//! gets the run id as `$1` and the grading id as `$2`; its columns and rows become a table.
//!
//! ```yaml
//! kind: table
//! title: Components without an on-call rotation
//! description: Production components whose on-call fact is false or missing.
//! page: custom/no-oncall.html      # where in the site ([a-z0-9_-] folders and names)
//! query: no-oncall.sql             # relative to this file
//! template: no-oncall.html         # optional; default: the built-in table.html
//! ```
//!
//! Definitions are validated before anything renders, all problems at once with file:line:
//! unknown keys, an unsafe page path, a query file that cannot be read or that DuckDB cannot
//! prepare, a template that does not parse.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use serde::Serialize;

use crate::config::reader::{read_single, Errs, Obj};
use crate::config::{ConfigError, ConfigErrors};

/// Rows shown on a custom page (the rest are counted, not shown: no page over 200 KB).
pub const MAX_ROWS: usize = 2000;

#[derive(Debug, Clone)]
pub struct CustomReport {
    pub file: String,
    /// the definition's path as the site shows it (relative to the pipeline's folder)
    pub shown: String,
    pub line: usize,
    pub title: String,
    pub description: String,
    /// path of the page in the site
    pub page: String,
    pub query: String,
    pub query_file: PathBuf,
    /// (template name, source) when the definition brings its own
    pub template: Option<(String, String)>,
}

/// A page path a definition may write: folders and a name of `[a-z0-9_-]`, ending `.html`,
/// not one of the built-in pages' folders.
fn safe_page(p: &str) -> bool {
    let Some(stem) = p.strip_suffix(".html") else { return false };
    let parts: Vec<&str> = stem.split('/').collect();
    !stem.is_empty()
        && parts.iter().all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
        && !matches!(parts[0], "assets" | "check" | "component" | "api" | "resource" | "domain" | "system" | "group")
        && !(parts.len() == 1 && matches!(parts[0], "index" | "quality" | "domains" | "systems" | "teams" | "checks"))
}

/// Reads and validates report definitions.
pub fn load(files: &[PathBuf], base: &Path) -> Result<Vec<CustomReport>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut out: Vec<CustomReport> = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let node = match read_single(f, "report definition") {
            Ok(Some(n)) => n,
            Ok(None) => {
                errors.push(ConfigError { file: shown.clone(), line: 1, message: "the report definition is empty".into() });
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut errs = Errs { file: &shown, list: Vec::new() };
        let Some(mut o) = Obj::new(&shown, String::new(), &node, &mut errs) else {
            errors.extend(errs.list);
            continue;
        };
        let kind = o.required_string("kind", &mut errs).unwrap_or_default();
        let title = o.required_string("title", &mut errs).unwrap_or_default();
        let description = o.string("description", &mut errs).unwrap_or_default();
        let page = o.required_string("page", &mut errs).unwrap_or_default();
        let query = o.required_string("query", &mut errs).unwrap_or_default();
        let template = o.string("template", &mut errs);
        let line_of = |key: &str| node.key_line(&[key]).unwrap_or(node.line);
        if !kind.is_empty() && kind != "table" {
            errs.push(line_of("kind"), format!("kind {kind:?} is not a kind of custom report (table)"));
        }
        if !page.is_empty() && !safe_page(&page) {
            errs.push(
                line_of("page"),
                format!("page {page:?} must be folders and a name of a-z, 0-9, - and _ ending .html, outside the built-in pages"),
            );
        }
        if let Some(prev) = out.iter().find(|r| r.page == page) {
            errs.push(line_of("page"), format!("page {page} is also written by {}:{}", prev.file, prev.line));
        }
        let dir = f.parent().unwrap_or(Path::new("."));
        let query_file = dir.join(&query);
        let sql = if query.is_empty() {
            String::new()
        } else {
            match std::fs::read_to_string(&query_file) {
                Ok(s) => s,
                Err(e) => {
                    errs.push(line_of("query"), format!("cannot read the query {}: {e}", query_file.display()));
                    String::new()
                }
            }
        };
        let template = match template {
            Some(t) => match std::fs::read_to_string(dir.join(&t)) {
                Ok(src) => {
                    let name = format!("custom:{}", dir.join(&t).display());
                    let mut env = minijinja::Environment::new();
                    if let Err(e) = env.add_template_owned(name.clone(), src.clone()) {
                        errs.push(line_of("template"), format!("template {t}: {e}"));
                    }
                    Some((name, src))
                }
                Err(e) => {
                    errs.push(line_of("template"), format!("cannot read the template {}: {e}", dir.join(&t).display()));
                    None
                }
            },
            None => None,
        };
        o.finish(&["kind", "title", "description", "page", "query", "template"], &mut errs);
        let line = node.line;
        errors.extend(errs.list);
        let rel = f.strip_prefix(base).unwrap_or(f).display().to_string();
        out.push(CustomReport { file: shown, shown: rel, line, title, description, page, query: sql, query_file, template });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Loads a pipeline's report definitions and checks their queries against the schema (an
/// empty in-memory database), before anything runs.
pub fn check(files: &[PathBuf], base: &Path) -> Result<Vec<CustomReport>, ConfigErrors> {
    let reports = load(files, base)?;
    if reports.is_empty() {
        return Ok(reports);
    }
    let store = crate::store::Store::open_in_memory()
        .map_err(|e| ConfigErrors(vec![ConfigError { file: "(schema)".into(), line: 1, message: format!("{e:#}") }]))?;
    validate_queries(store.conn(), &reports)?;
    Ok(reports)
}

/// Checks that DuckDB can prepare every query (against the real schema): problems name the
/// query file.
pub fn validate_queries(conn: &Connection, reports: &[CustomReport]) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    for r in reports {
        let q = r.query.trim().trim_end_matches(';');
        if q.contains(';') {
            errors.push(ConfigError {
                file: r.query_file.display().to_string(),
                line: 1,
                message: "a report query is a single statement".into(),
            });
            continue;
        }
        if let Err(e) = conn.prepare(q) {
            errors.push(ConfigError {
                file: r.query_file.display().to_string(),
                line: 1,
                message: format!("DuckDB cannot prepare the query: {}", e.to_string().lines().next().unwrap_or_default()),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The view model of a custom table page.
#[derive(Serialize)]
pub struct TablePage {
    #[serde(flatten)]
    pub base: super::site::Base,
    pub heading: String,
    pub description: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub rows_total: usize,
    pub defined_in: String,
}

/// Runs a report's query for a run and grading: column names and rows as text.
pub fn run_query(
    conn: &Connection,
    r: &CustomReport,
    run_id: &str,
    grading_id: &str,
) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>, usize)> {
    use anyhow::Context;
    let q = r.query.trim().trim_end_matches(';');
    let mut st = conn.prepare(q).with_context(|| format!("{}", r.query_file.display()))?;
    let n_params = st.parameter_count();
    let params: Vec<&dyn duckdb::ToSql> =
        [&run_id as &dyn duckdb::ToSql, &grading_id as &dyn duckdb::ToSql].into_iter().take(n_params).collect();
    let mut rows_out = Vec::new();
    let mut total = 0;
    let mut q = st.query(params.as_slice()).with_context(|| format!("running {}", r.query_file.display()))?;
    let columns: Vec<String> = q.as_ref().map(|s| s.column_names()).unwrap_or_default();
    while let Some(row) = q.next()? {
        total += 1;
        if rows_out.len() >= MAX_ROWS {
            continue;
        }
        let mut cells = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v: duckdb::types::Value = row.get(i)?;
            cells.push(cell(v));
        }
        rows_out.push(cells);
    }
    Ok((columns, rows_out, total))
}

fn cell(v: duckdb::types::Value) -> String {
    use duckdb::types::Value as V;
    match v {
        V::Null => String::new(),
        V::Boolean(b) => b.to_string(),
        V::TinyInt(i) => i.to_string(),
        V::SmallInt(i) => i.to_string(),
        V::Int(i) => i.to_string(),
        V::BigInt(i) => i.to_string(),
        V::HugeInt(i) => i.to_string(),
        V::UTinyInt(i) => i.to_string(),
        V::USmallInt(i) => i.to_string(),
        V::UInt(i) => i.to_string(),
        V::UBigInt(i) => i.to_string(),
        V::Float(f) => super::data::number(f as f64),
        V::Double(f) => super::data::number(f),
        V::Text(s) => s,
        V::Decimal(d) => d.to_string(),
        V::Timestamp(unit, v) => chrono::DateTime::from_timestamp_micros(unit.to_micros(v))
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        V::Date32(days) => {
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(days as i64)).to_string()
        }
        // lists, structs, maps and the rest: cast them to text in the query for a nicer cell
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_page;

    #[test]
    fn custom_pages_stay_in_their_own_folders() {
        assert!(safe_page("custom/no-oncall.html"));
        assert!(safe_page("migrations.html"));
        for bad in ["../x.html", "/etc/x.html", "custom/x.htm", "index.html", "check/x.html", "custom//x.html", "a/B.html", "a/x y.html"] {
            assert!(!safe_page(bad), "{bad}");
        }
    }
}
