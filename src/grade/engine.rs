//! The grading engine: builds the wide fact view of a run, evaluates every check on every
//! entity in one set-based statement, stages and stores the results with their evidence,
//! then the grades and roll-ups — all inside the caller's transaction.
//!
//! Runtime SQL errors (a division by zero on some rows) do not stop a grading: expressions
//! are evaluated with `try()`, and the rows where that hides something (a NULL outcome with no
//! missing fact) are evaluated again one by one; those that fail become `error` outcomes with
//! what DuckDB said.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use duckdb::{params, Connection};
use serde::Serialize;

use super::pack::{Check, Exemption, Pack};
use super::sqlexpr::{FactSet, FactType};
use crate::store::sql;

/// The catalog columns of the wide view (from `sql/grade/entity_base.sql`), in order.
pub const CATALOG_COLUMNS: &[&str] = &[
    "entity_ref",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "type",
    "lifecycle",
    "owner",
    "owner_kind",
    "owner_exists",
    "system",
    "system_exists",
    "domain",
    "root_domain",
    "tags",
    "annotations",
    "links",
    "spec",
    "team_chain",
    "depends_on",
    "provides_apis",
    "consumes_apis",
    "deprecated_dependencies",
    "dangling_refs",
];

/// What to grade with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// level names, lowest first
    pub ladder: Vec<String>,
    pub pack: Pack,
    pub exemptions: Vec<Exemption>,
    pub facts: FactSet,
    /// numeric fact weighting the roll-ups' weighted mean score
    pub weight_fact: Option<String>,
}

/// What a grading produced. Levels, means and roll-ups count Components (other kinds are
/// graded on the checks that apply to them, but a level is a component's).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub grading_id: String,
    /// graded components
    pub entities: usize,
    /// level name (and "none") → entities
    pub levels: BTreeMap<String, usize>,
    pub mean_score: Option<f64>,
    pub mean_coverage: Option<f64>,
    pub results: usize,
    /// checks that failed to evaluate on some rows, exemptions naming unknown entities
    pub problems: Vec<String>,
    /// what the grading left out that a reader should know (not errors)
    pub warnings: Vec<String>,
    pub expired_exemptions: usize,
    pub active_exemptions: usize,
}

/// Fills `{name}` placeholders of an SQL template from `sql/` in one pass over the template
/// (text substituted in is never searched again).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'outer: while let Some(i) = rest.find('{') {
        for (k, v) in values {
            let key = format!("{{{k}}}");
            if rest[i..].starts_with(&key) {
                out.push_str(&rest[..i]);
                out.push_str(v);
                rest = &rest[i + key.len()..];
                continue 'outer;
            }
        }
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal (only ever used for names validated by the packs: ids, levels,
/// fact names).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The statement creating `eh_wide` (one row per entity of run $1: catalog columns, and
/// every fact as a typed column holding its latest observation at or before $2). Fact names
/// are validated (`[a-z0-9_.]`) before they reach SQL text.
pub fn wide_sql(facts: &FactSet) -> String {
    let mut pivot = String::new();
    for (name, ty) in &facts.facts {
        let col = ty.value_column();
        let cast = match ty {
            FactType::Number => "double",
            FactType::Boolean => "boolean",
            FactType::Text => "varchar",
            FactType::Json => "json",
        };
        let _ =
            write!(pivot, ",\n        arg_max({col}, observed_at) filter (where fact = {})::{cast} as {}", lit(name), quote_ident(name));
    }
    format!(
        "create or replace temp table eh_wide as\nselect b.*, f.* exclude (entity_ref)\nfrom ({base}) b\nleft join (\n    select entity_ref{pivot}\n    from facts where run_id = $1 and observed_at <= $2 group by entity_ref\n) f on f.entity_ref = b.entity_ref",
        base = sql::ENTITY_BASE.trim().trim_end_matches(';')
    )
}

/// Builds `eh_wide` for a run as of a time.
pub fn build_wide(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, facts: &FactSet) -> Result<()> {
    conn.execute(&wide_sql(facts), params![run_id, as_of.naive_utc()]).context("building the wide fact view")?;
    Ok(())
}

/// The facts a check reads that are absent on a row, as a SQL list.
fn missing_sql(c: &Check) -> String {
    let mut facts: Vec<&String> = c.pass.facts.iter().collect();
    facts.sort();
    facts.dedup();
    if facts.is_empty() {
        return "[]::varchar[]".into();
    }
    let items: Vec<String> = facts.iter().map(|n| format!("case when {} is null then {} end", quote_ident(n), lit(n))).collect();
    format!("list_filter([{}]::varchar[], lambda m: m is not null)", items.join(", "))
}

/// The statements evaluating every check on every entity in one pass over the wide view:
/// `eh_eval` holds, per entity, each check's `applies_to` and `pass` (with `try()`, so a
/// runtime error becomes NULL and is rechecked) and the facts missing when `pass` is NULL;
/// the second statement unnests that into one staged row per applicable check.
fn evaluation_sql(checks: &[Check]) -> (String, String) {
    let mut inner = String::new();
    let mut outer = String::new();
    let (mut ids, mut levels, mut idxs, mut weights, mut outcomes, mut missing, mut rechecks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, c) in checks.iter().enumerate() {
        let _ = write!(inner, ",\n        try(({}))::boolean as eh_a{i}, try(({}))::boolean as eh_p{i}", c.applies_to.sql, c.pass.sql);
        let _ = write!(outer, ", eh_a{i}, eh_p{i}, case when eh_p{i} is null then {} end as eh_m{i}", missing_sql(c));
        let id = lit(&c.id);
        let exempt = format!("coalesce(list_contains(x.xs, {id}), false)");
        ids.push(id.clone());
        levels.push(lit(&c.level));
        idxs.push(c.level_index.to_string());
        weights.push(format!("{}::double", c.weight));
        outcomes.push(format!(
            "case when not coalesce(e.eh_a{i}, false) then 'not_applicable' when {exempt} then 'exempt' when e.eh_p{i} then 'pass' when not e.eh_p{i} then 'fail' else 'unknown' end"
        ));
        missing.push(format!("case when coalesce(e.eh_a{i}, false) and not {exempt} and e.eh_p{i} is null then e.eh_m{i} end"));
        rechecks.push(format!("(e.eh_a{i} is null) or (coalesce(e.eh_a{i}, false) and not {exempt} and e.eh_p{i} is null)"));
    }
    let eval =
        format!("create or replace temp table eh_eval as\nselect entity_ref{outer}\nfrom (\n    select *{inner}\n    from eh_wide\n)");
    let stage = format!(
        "insert into eh_results
select entity_ref, check_id, level, level_index, weight, outcome, missing_facts, null::varchar, recheck
from (
    select e.entity_ref,
        unnest([{}]) as check_id,
        unnest([{}]) as level,
        unnest([{}]) as level_index,
        unnest([{}]) as weight,
        unnest([{}]) as outcome,
        unnest([{}]::varchar[][]) as missing_facts,
        unnest([{}]) as recheck
    from eh_eval e
    left join (select entity_ref, list(check_id) as xs from eh_exempt group by entity_ref) x on x.entity_ref = e.entity_ref
)
where outcome <> 'not_applicable' or recheck",
        ids.join(", "),
        levels.join(", "),
        idxs.join(", "),
        weights.join(", "),
        outcomes.join(",\n            "),
        missing.join(",\n            "),
        rechecks.join(",\n            "),
    );
    (eval, stage)
}

/// What staging produced: temp tables `eh_wide`, `eh_results`, `eh_levels`, `eh_exempt`,
/// `eh_weights` on the connection, and what Rust needs to persist them.
#[derive(Debug, Clone)]
pub struct Staged {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// (exemption, status)
    pub exemptions: Vec<(Exemption, &'static str)>,
    pub active: usize,
    pub expired: usize,
}

/// Stages a grading in temp tables, outside any transaction: the rows that may hide a
/// runtime error are evaluated one by one, and an error there must not abort the caller's
/// transaction (DuckDB aborts a transaction on any error).
pub fn stage(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, setup: &Setup) -> Result<Staged> {
    let t0 = std::time::Instant::now();
    build_wide(conn, run_id, as_of, &setup.facts)?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "wide view built");
    conn.execute_batch(sql::STAGE_TABLES)?;
    for (i, l) in setup.ladder.iter().enumerate() {
        conn.execute(sql::STAGE_LEVEL, params![i as i64, l])?;
    }

    // exemptions: active ones count, expired ones are listed, unknown entities are errors
    let mut problems = Vec::new();
    let mut exemptions = Vec::new();
    let (mut active, mut expired) = (0, 0);
    let today = as_of.date_naive();
    for x in &setup.exemptions {
        let known: i64 = conn.query_row(sql::WIDE_HAS_ENTITY, params![x.entity], |r| r.get(0))?;
        let status = if known == 0 {
            problems.push(format!("{}:{}: exemption names {}, which is not in the catalog", x.file, x.line, x.entity));
            "unknown-entity"
        } else if x.expires < today {
            expired += 1;
            "expired"
        } else {
            active += 1;
            conn.execute(sql::STAGE_EXEMPTION, params![x.entity, x.check_id])?;
            "active"
        };
        exemptions.push((x.clone(), status));
    }
    if let Some(wf) = &setup.weight_fact {
        conn.execute(&fill(sql::STAGE_WEIGHTS, &[("fact", &quote_ident(wf))]), [])?;
    }

    // every check on every entity, set-based
    if !setup.pack.checks.is_empty() {
        let (eval, stage) = evaluation_sql(&setup.pack.checks);
        if let Some(path) = std::env::var_os("ECHO_HEALTH_DUMP_SQL") {
            // debugging aid (README, benchmark): the SQL generated from the packs
            let _ = std::fs::write(path, format!("{};\n-- eval\n{eval};\n-- stage\n{stage};\n", wide_sql(&setup.facts)));
        }
        conn.execute(&eval, []).context("evaluating the checks")?;
        tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "checks evaluated per entity");
        conn.execute(&stage, []).context("staging the results")?;
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "checks evaluated");

    // rows whose NULL may hide a runtime error: evaluate them again without try()
    let recheck: Vec<(String, String)> = {
        let mut st = conn.prepare(sql::RECHECK_ROWS)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let by_id: BTreeMap<&str, &Check> = setup.pack.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    // first all rows of a check at once: only a check whose bulk evaluation fails is
    // evaluated row by row (so many NULL catalog fields cost one query, not thousands)
    let mut clean: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for c in setup.pack.checks.iter().filter(|c| recheck.iter().any(|r| r.1 == c.id)) {
        let q = fill(sql::RECHECK_BULK, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
        if conn.query_row(&q, params![c.id], |r| r.get::<_, i64>(0)).is_ok() {
            clean.insert(c.id.as_str());
        }
    }
    let mut failing: BTreeMap<String, usize> = BTreeMap::new();
    for (entity, check_id) in recheck {
        if clean.contains(check_id.as_str()) {
            continue;
        }
        let Some(c) = by_id.get(check_id.as_str()) else { continue };
        let q = fill(sql::RECHECK_ONE, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
        let res: Result<(Option<bool>, Option<bool>), duckdb::Error> = conn.query_row(&q, params![entity], |r| Ok((r.get(0)?, r.get(1)?)));
        if let Err(e) = res {
            let msg = e.to_string();
            let msg = msg.lines().next().unwrap_or_default().to_owned();
            conn.execute(sql::MARK_ERROR, params![msg, entity, check_id])?;
            *failing.entry(format!("check {} ({}:{}) failed to evaluate: {msg}", c.id, c.file, c.line)).or_default() += 1;
        }
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "rechecked");
    for (msg, n) in failing {
        problems.push(format!("{msg} [{n} entit{}]", if n == 1 { "y" } else { "ies" }));
    }
    let mut warnings = Vec::new();
    let (future, names): (i64, Option<String>) =
        conn.query_row(sql::FUTURE_FACTS, params![run_id, as_of.naive_utc()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if future > 0 {
        warnings.push(format!(
            "{future} facts observed after {} (the time this grading looks at) were not graded: {}",
            as_of.format("%Y-%m-%dT%H:%M:%SZ"),
            names.unwrap_or_default()
        ));
    }
    Ok(Staged { problems, warnings, exemptions, active, expired })
}

/// Stores a staged grading as `grading_id` (in the caller's transaction): the grading
/// record, exemptions, check results, grades, roll-ups; returns the summary.
pub fn persist(
    conn: &Connection,
    run_id: &str,
    grading_id: &str,
    kind: &str,
    as_of: DateTime<Utc>,
    setup: &Setup,
    staged: &Staged,
) -> Result<Outcome> {
    let checks_json: Vec<serde_json::Value> = setup
        .pack
        .checks
        .iter()
        .map(|c| {
            serde_json::json!({"id": c.id, "title": c.title, "description": c.description, "remediation": c.remediation,
                "level": c.level, "weight": c.weight, "applies_to": c.applies_to.source, "pass": c.pass.source,
                "facts": c.pass.facts, "catalog_fields": c.pass.columns, "file": c.file, "line": c.line})
        })
        .collect();
    let files: Vec<String> = setup.pack.files.iter().map(|f| f.display().to_string()).collect();
    conn.execute(
        sql::INSERT_GRADING,
        params![
            grading_id,
            run_id,
            kind,
            Utc::now().naive_utc(),
            as_of.naive_utc(),
            serde_json::to_string(&setup.ladder)?,
            serde_json::to_string(&checks_json)?,
            serde_json::to_string(&files)?
        ],
    )?;
    {
        let mut app = conn.appender("grading_check_facts")?;
        for c in &setup.pack.checks {
            let mut facts: Vec<&String> = c.pass.facts.iter().chain(&c.applies_to.facts).collect();
            facts.sort();
            facts.dedup();
            for f in facts {
                app.append_row(params![grading_id, c.id, f])?;
            }
        }
        app.flush()?;
    }
    for (x, status) in &staged.exemptions {
        conn.execute(
            sql::INSERT_EXEMPTION,
            params![grading_id, x.entity, x.check_id, x.reason, x.approver, x.justification, x.expires, status, x.file, x.line as i64],
        )?;
    }
    let t0 = std::time::Instant::now();
    let results: i64 = conn.query_row(sql::STAGED_COUNT, [], |r| r.get(0))?;
    conn.execute(sql::STORE_RESULTS, params![grading_id, run_id]).context("storing check results")?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "results stored");
    conn.execute(sql::GRADES, params![grading_id, run_id]).context("computing grades")?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "grades computed");
    conn.execute(sql::ROLLUPS, params![grading_id, run_id]).context("computing roll-ups")?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "roll-ups computed");

    // summary
    let mut levels: BTreeMap<String, usize> = setup.ladder.iter().map(|l| (l.clone(), 0)).collect();
    levels.insert("none".into(), 0);
    {
        let mut st = conn.prepare(sql::LEVEL_COUNTS)?;
        let rows = st.query_map(params![grading_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (l, n) = row?;
            levels.insert(l, n as usize);
        }
    }
    let (entities, mean_score, mean_coverage): (i64, Option<f64>, Option<f64>) =
        conn.query_row(sql::GRADING_MEANS, params![grading_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    conn.execute(sql::SET_GRADING_SUMMARY, params![entities, serde_json::to_string(&levels)?, mean_score, mean_coverage, grading_id])?;
    Ok(Outcome {
        grading_id: grading_id.to_owned(),
        entities: entities as usize,
        levels,
        mean_score,
        mean_coverage,
        results: results as usize,
        problems: staged.problems.clone(),
        warnings: staged.warnings.clone(),
        expired_exemptions: staged.expired,
        active_exemptions: staged.active,
    })
}

/// The next grading id of a run: `<run_id>/g<n>`.
pub fn next_grading_id(conn: &Connection, run_id: &str) -> Result<String> {
    let n: i64 = conn.query_row(sql::GRADINGS_OF_RUN, params![run_id], |r| r.get(0))?;
    Ok(format!("{run_id}/g{}", n + 1))
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(fill("select ({a}), ({b}) from t", &[("a", "'{b}'"), ("b", "x")]), "select ('{b}'), (x) from t");
        assert_eq!(fill("{ not a key }", &[("a", "1")]), "{ not a key }");
    }
}
