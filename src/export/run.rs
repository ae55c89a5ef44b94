//! Exports of a stored run, read from the database alone (so `report` re-exports any past
//! run): `catalog.json` annotated with each component's level, score and coverage; the
//! run's tables as Parquet and CSV (written by DuckDB straight from the store); an
//! OpenMetrics file of grades per component, team and domain; an Alertmanager `route` and
//! `receivers` snippet from group annotations. Every file is swapped in atomically.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde_json::{json, Value};

use super::write_atomic;
use crate::config::Exports;
use crate::store::sql;

/// Annotation keys written into catalog.json.
pub const LEVEL_ANNOTATION: &str = "echo-health.io/level";
pub const SCORE_ANNOTATION: &str = "echo-health.io/score";
pub const COVERAGE_ANNOTATION: &str = "echo-health.io/coverage";
pub const RUN_ANNOTATION: &str = "echo-health.io/run";

/// The tables exported (name, query over run `{run}` and grading `{grading}`).
const TABLES: &[(&str, &str)] = &[
    ("entities", sql::EXPORT_ENTITIES),
    ("facts", sql::EXPORT_FACTS),
    ("check_results", sql::EXPORT_CHECK_RESULTS),
    ("grades", sql::EXPORT_GRADES),
    ("rollups", sql::EXPORT_ROLLUPS),
];

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ratio(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Writes every export of run `run_id` (and its grading) into `out`; returns the paths.
pub fn export_run(conn: &Connection, run_id: &str, grading_id: Option<&str>, out: &Path, opts: &Exports) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let grading = grading_id.unwrap_or("");
    let mut written = vec![catalog(conn, run_id, grading, out)?];
    written.push(tables(conn, run_id, grading, out)?);
    if grading_id.is_some() {
        written.push(openmetrics(conn, run_id, grading, out)?);
    }
    written.push(alertmanager(conn, run_id, out, opts)?);
    Ok(written)
}

/// `catalog.json`: Backstage's by-query shape, entities with their relations, components
/// annotated with their grade.
fn catalog(conn: &Connection, run_id: &str, grading: &str, out: &Path) -> Result<PathBuf> {
    let mut relations: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    {
        let mut st = conn.prepare(sql::EXPORT_RELATIONS)?;
        let mut q = st.query(params![run_id])?;
        while let Some(r) = q.next()? {
            let (source, ty, target): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            relations.entry(source).or_default().push(json!({"type": ty, "targetRef": target}));
        }
    }
    let mut items = Vec::new();
    let mut st = conn.prepare(sql::EXPORT_CATALOG)?;
    let mut q = st.query(params![run_id, grading])?;
    while let Some(r) = q.next()? {
        let entity_ref: String = r.get(0)?;
        let raw: String = r.get(1)?;
        let mut v: Value = serde_json::from_str(&raw).with_context(|| format!("the stored JSON of {entity_ref}"))?;
        let graded: Option<i64> = r.get(2)?;
        if graded.is_some() {
            let level: Option<String> = r.get(3)?;
            let score: Option<f64> = r.get(4)?;
            let coverage: f64 = r.get(5)?;
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(a) = ann.as_object_mut() {
                    a.insert(LEVEL_ANNOTATION.into(), json!(level.unwrap_or_else(|| "none".into())));
                    if let Some(s) = score {
                        a.insert(SCORE_ANNOTATION.into(), json!(ratio(s)));
                    }
                    a.insert(COVERAGE_ANNOTATION.into(), json!(ratio(coverage)));
                    a.insert(RUN_ANNOTATION.into(), json!(run_id));
                }
            }
        }
        if let Some(m) = v.as_object_mut() {
            m.insert("relations".into(), Value::Array(relations.remove(&entity_ref).unwrap_or_default()));
        }
        items.push(v);
    }
    let n = items.len();
    let mut bytes = serde_json::to_vec_pretty(&json!({"items": items, "totalItems": n, "pageInfo": {}}))?;
    bytes.push(b'\n');
    let path = out.join("catalog.json");
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// `tables/<name>.parquet` and `tables/<name>.csv`, written by DuckDB into a temporary
/// folder swapped in when complete.
fn tables(conn: &Connection, run_id: &str, grading: &str, out: &Path) -> Result<PathBuf> {
    let target = out.join("tables");
    let tmp = out.join(format!(".tables.tmp-{}", std::process::id()));
    let old = out.join(format!(".tables.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let result = (|| -> Result<()> {
        for (name, query) in TABLES {
            let q = crate::grade::engine::fill(query, &[("run", &lit(run_id)), ("grading", &lit(grading))]);
            let q = q.trim().trim_end_matches(';');
            for (ext, format) in [("parquet", "format parquet, compression zstd"), ("csv", "format csv, header true")] {
                let file = tmp.join(format!("{name}.{ext}"));
                let copy = format!("copy ({q}) to {} ({format})", lit(&file.display().to_string()));
                conn.execute_batch(&copy).with_context(|| format!("exporting {name}.{ext}"))?;
            }
        }
        crate::report::publish::swap_in(&tmp, &target, &old)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let _ = std::fs::remove_dir_all(&old);
    result?;
    Ok(target)
}

/// A label value escaped for the text exposition formats.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `echo-health.prom`: grades as OpenMetrics gauges (readable by Prometheus' text parser,
/// node_exporter's textfile collector and `promtool check metrics`).
fn openmetrics(conn: &Connection, run_id: &str, grading: &str, out: &Path) -> Result<PathBuf> {
    let mut text = String::new();
    let family = |text: &mut String, name: &str, help: &str| {
        let _ = writeln!(text, "# TYPE {name} gauge\n# HELP {name} {help}");
    };
    let mut comps = Vec::new();
    {
        let mut st = conn.prepare(sql::EXPORT_METRIC_GRADES)?;
        let mut q = st.query(params![grading, run_id])?;
        while let Some(r) = q.next()? {
            let labels: (String, Option<String>, Option<String>, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let level_index: i64 = r.get(4)?;
            let score: Option<f64> = r.get(5)?;
            let coverage: f64 = r.get(6)?;
            comps.push((labels, level_index, score, coverage));
        }
    }
    let comp_labels = |l: &(String, Option<String>, Option<String>, Option<String>)| {
        format!(
            "entity=\"{}\",owner=\"{}\",system=\"{}\",domain=\"{}\"",
            label(&l.0),
            label(l.1.as_deref().unwrap_or("")),
            label(l.2.as_deref().unwrap_or("")),
            label(l.3.as_deref().unwrap_or(""))
        )
    };
    family(&mut text, "echo_health_component_level", "Highest maturity level held (0 = first level of the ladder, -1 = none).");
    for (l, level, _, _) in &comps {
        let _ = writeln!(text, "echo_health_component_level{{{}}} {level}", comp_labels(l));
    }
    family(&mut text, "echo_health_component_score", "Weighted pass share among checks with a known outcome (0..1).");
    for (l, _, score, _) in &comps {
        if let Some(s) = score {
            let _ = writeln!(text, "echo_health_component_score{{{}}} {}", comp_labels(l), ratio(*s));
        }
    }
    family(&mut text, "echo_health_component_coverage", "Share of applicable checks with a known outcome (0..1).");
    for (l, _, _, c) in &comps {
        let _ = writeln!(text, "echo_health_component_coverage{{{}}} {}", comp_labels(l), ratio(*c));
    }
    let mut scopes = Vec::new();
    {
        let mut st = conn.prepare(sql::EXPORT_METRIC_ROLLUPS)?;
        let mut q = st.query(params![grading])?;
        while let Some(r) = q.next()? {
            let row: (String, String, i64, Option<f64>, Option<f64>) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            scopes.push(row);
        }
    }
    for (metric, help) in [
        ("echo_health_scope_components", "Graded components in a domain (subdomains included), system or team (child groups included)."),
        ("echo_health_scope_mean_score", "Mean score of the components of a domain, system or team."),
        ("echo_health_scope_mean_coverage", "Mean coverage of the components of a domain, system or team."),
    ] {
        family(&mut text, metric, help);
        for (scope, r, n, score, cov) in &scopes {
            let v = match metric {
                "echo_health_scope_components" => Some(n.to_string()),
                "echo_health_scope_mean_score" => score.map(ratio),
                _ => cov.map(ratio),
            };
            if let Some(v) = v {
                let _ = writeln!(text, "{metric}{{scope=\"{}\",ref=\"{}\"}} {v}", label(scope), label(r));
            }
        }
    }
    text.push_str("# EOF\n");
    let path = out.join("echo-health.prom");
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `alertmanager.yml`: a receiver per group whose annotations name an alert e-mail or Slack
/// channel, and a route sending alerts labelled `team="<group name>"` to it. Values are
/// written as JSON strings (valid YAML whatever the catalog text holds).
fn alertmanager(conn: &Connection, run_id: &str, out: &Path, opts: &Exports) -> Result<PathBuf> {
    let mut receivers = String::new();
    let mut routes = String::new();
    let mut st = conn.prepare(sql::EXPORT_GROUPS)?;
    let mut q = st.query(params![run_id])?;
    let mut n = 0;
    while let Some(r) = q.next()? {
        let (entity_ref, namespace, name, annotations): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        // receiver names are unique: the group's name, with its namespace outside `default`
        let name = if namespace == "default" { name } else { format!("{namespace}/{name}") };
        let ann: BTreeMap<String, Value> = serde_json::from_str(&annotations).unwrap_or_default();
        let email = ann.get(&opts.alert_email_annotation).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let slack = ann.get(&opts.alert_slack_annotation).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        if email.is_none() && slack.is_none() {
            continue;
        }
        n += 1;
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let _ = writeln!(receivers, "  # {}\n  - name: {}", q(&entity_ref), q(&name));
        if let Some(e) = email {
            let _ = writeln!(receivers, "    email_configs:\n      - to: {}\n        send_resolved: true", q(e));
        }
        if let Some(c) = slack {
            let _ = writeln!(receivers, "    slack_configs:\n      - channel: {}\n        send_resolved: true", q(c));
        }
        let _ = writeln!(routes, "    - receiver: {}\n      matchers:\n        - {}", q(&name), q(&format!("team=\"{}\"", label(&name))));
    }
    let text = format!(
        "# Alertmanager receivers and routes from the catalog's groups (run {run_id}).\n\
         # A group gets a receiver when it has the annotation {} or {}; alerts labelled\n\
         # team=\"<group name>\" are routed to it. Merge into your alertmanager.yml; the default\n\
         # receiver and Slack's api_url are yours to set.\n\
         # {n} receivers.\n\
         route:\n  receiver: default\n  routes:\n{}receivers:\n  - name: default\n{}",
        opts.alert_email_annotation,
        opts.alert_slack_annotation,
        if routes.is_empty() { "    []\n".to_owned() } else { routes },
        receivers
    );
    let path = out.join("alertmanager.yml");
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}
