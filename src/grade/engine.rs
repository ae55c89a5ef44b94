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

/// The wide fact view as a query (one row per entity of run $1: catalog columns, and every
/// fact as a typed column holding its latest observation at or before $2). Fact names are
/// validated (`[a-z0-9_.]`) before they reach SQL text.
pub fn wide_select(facts: &FactSet) -> String {
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
    fill(sql::WIDE, &[("base", sql::ENTITY_BASE.trim().trim_end_matches(';')), ("pivot", &pivot)])
}

/// The statement materialising the wide view as the temp table `eh_wide` (for gates and
/// rechecks, which read single rows of it).
pub fn wide_sql(facts: &FactSet) -> String {
    format!("create or replace temp table eh_wide as\n{}", wide_select(facts))
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

/// Outcome codes stored in `grades.outcomes` (see `sql/schema/004_compact_results.sql`).
const BLOCKING: &str = "('F', 'U', 'E')";

/// The statement evaluating every check on every entity in one pass over the wide view
/// ($1 run, $2 as of): `eh_codes` holds per entity a code per check (`o<i>`: P, F, U, X or
/// NULL when it does not apply), the facts missing for each unknown (`m<i>`), and the
/// positions whose NULL may hide a runtime error (`eh_rc`, rechecked without `try()`).
fn codes_sql(facts: &FactSet, checks: &[Check]) -> String {
    let mut inner = String::new();
    let mut outer = String::new();
    let mut cols = String::new();
    let mut rc = Vec::new();
    for (i, c) in checks.iter().enumerate() {
        let _ = write!(inner, ",\n        try(({}))::boolean as eh_a{i}, try(({}))::boolean as eh_p{i}", c.applies_to.sql, c.pass.sql);
        let _ = write!(outer, ", eh_a{i}, eh_p{i}, case when eh_p{i} is null then {} end as eh_m{i}", missing_sql(c));
        let exempt = format!("coalesce(list_contains(x.xs, {}), false)", lit(&c.id));
        let _ = write!(
            cols,
            ",\n    case when not coalesce(e.eh_a{i}, false) then null when {exempt} then 'X' when e.eh_p{i} then 'P' when not e.eh_p{i} then 'F' else 'U' end as o{i}\
             ,\n    case when coalesce(e.eh_a{i}, false) and not {exempt} and e.eh_p{i} is null then e.eh_m{i} end as m{i}"
        );
        rc.push(format!(
            "case when (e.eh_a{i} is null) or (coalesce(e.eh_a{i}, false) and not {exempt} and e.eh_p{i} is null and len(coalesce(e.eh_m{i}, [])) = 0) then {} end",
            i + 1
        ));
    }
    fill(sql::CODES, &[("wide", &wide_select(facts)), ("outer", &outer), ("inner", &inner), ("cols", &cols), ("rc", &rc.join(", "))])
}

/// The statement storing the grades of a grading from `eh_codes` ($1 grading, $2 run):
/// level (the highest with nothing fail, unknown or error at or below it), score, coverage,
/// counts, the checks holding the next level back, and the outcome codes.
fn grades_sql(checks: &[Check], ladder_len: usize) -> String {
    let n = checks.len();
    let list = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
    let sum = |f: &dyn Fn(usize) -> String| if n == 0 { "0".to_owned() } else { list(f).join(" + ") };
    let mut blocks = Vec::new();
    for level in 0..ladder_len {
        let at: Vec<String> = (0..n).filter(|i| checks[*i].level_index == level).map(|i| format!("o{i} in {BLOCKING}")).collect();
        if !at.is_empty() {
            blocks.push(format!("case when coalesce({}, false) then {level} end", at.join(" or ")));
        }
    }
    let level_index =
        if blocks.is_empty() { format!("{ladder_len} - 1") } else { format!("coalesce(least({}), {ladder_len}) - 1", blocks.join(", ")) };
    let outcome_name = |i: usize| {
        format!(
            "case o{i} when 'P' then 'pass' when 'F' then 'fail' when 'U' then 'unknown' when 'E' then 'error' when 'X' then 'exempt' end"
        )
    };
    let next: Vec<String> = list(&|i| {
        format!(
            "case when {} = q.level_index + 1 and o{i} in {BLOCKING} then json_object('check_id', {}, 'outcome', {}, 'missing_facts', m{i}) end",
            checks[i].level_index,
            lit(&checks[i].id),
            outcome_name(i)
        )
    });
    let codes: Vec<String> = list(&|i| format!("o{i}"));
    let next = if next.is_empty() { "null".into() } else { next.join(",\n        ") };
    let pass_w = sum(&|i| format!("{}::double * (o{i} is not distinct from 'P')::int", checks[i].weight));
    let known_w = sum(&|i| format!("{}::double * coalesce(o{i} in ('P', 'F'), false)::int", checks[i].weight));
    let passed = sum(&|i| format!("(o{i} is not distinct from 'P')::int"));
    let failed = sum(&|i| format!("(o{i} is not distinct from 'F')::int"));
    let unknown = sum(&|i| format!("coalesce(o{i} in ('U', 'E'), false)::int"));
    let exempt = sum(&|i| format!("(o{i} is not distinct from 'X')::int"));
    let applicable = sum(&|i| format!("(o{i} is not null)::int"));
    fill(
        sql::GRADES,
        &[
            ("next", &next),
            ("level_index", &level_index),
            ("pass_w", &pass_w),
            ("known_w", &known_w),
            ("passed", &passed),
            ("failed", &failed),
            ("unknown", &unknown),
            ("exempt", &exempt),
            ("applicable", &applicable),
            ("codes", &codes.join(", ")),
        ],
    )
}

/// The statement storing what unknown results say (their missing facts) ($1 grading).
fn unknown_details_sql(checks: &[Check]) -> String {
    let ids: Vec<String> = checks.iter().map(|c| lit(&c.id)).collect();
    let codes: Vec<String> = (0..checks.len()).map(|i| format!("o{i}")).collect();
    let missing: Vec<String> = (0..checks.len()).map(|i| format!("m{i}")).collect();
    fill(sql::UNKNOWN_DETAILS, &[("ids", &ids.join(", ")), ("codes", &codes.join(", ")), ("missing", &missing.join(", "))])
}

/// What staging produced: temp tables `eh_codes`, `eh_levels`, `eh_exempt`, `eh_weights`
/// (and `eh_wide` when something needed single rows of it) on the connection, and what Rust
/// needs to persist them.
#[derive(Debug, Clone)]
pub struct Staged {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// (exemption, status)
    pub exemptions: Vec<(Exemption, &'static str)>,
    pub active: usize,
    pub expired: usize,
    /// results that failed to evaluate: (entity, check, what SQL said)
    pub errors: Vec<(String, String, String)>,
}

/// Stages a grading in temp tables, outside any transaction: the rows that may hide a
/// runtime error are evaluated again, and an error there must not abort the caller's
/// transaction (DuckDB aborts a transaction on any error).
pub fn stage(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, setup: &Setup) -> Result<Staged> {
    let t0 = std::time::Instant::now();
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
        let known: i64 = conn.query_row(sql::RUN_HAS_ENTITY, params![run_id, x.entity], |r| r.get(0))?;
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
        conn.execute(sql::STAGE_WEIGHTS, params![run_id, wf, as_of.naive_utc()])?;
    }

    // every check on every entity, set-based, in one pass
    let codes = codes_sql(&setup.facts, &setup.pack.checks);
    if let Some(path) = std::env::var_os("ECHO_HEALTH_DUMP_SQL") {
        // debugging aid (README, benchmark): the SQL generated from the packs
        let _ = std::fs::write(path, format!("{codes};\n-- grades\n{};\n", grades_sql(&setup.pack.checks, setup.ladder.len())));
    }
    conn.execute(&codes, params![run_id, as_of.naive_utc()]).context("evaluating the checks")?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "checks evaluated");

    // positions whose NULL may hide a runtime error: evaluate them again without try(), in
    // bulk per check first, row by row only for a check whose bulk evaluation fails
    let recheck: Vec<(String, i64)> = {
        let mut st = conn.prepare(sql::RECHECK_ROWS)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut errors = Vec::new();
    if !recheck.is_empty() {
        build_wide(conn, run_id, as_of, &setup.facts)?;
        let positions: std::collections::BTreeSet<i64> = recheck.iter().map(|r| r.1).collect();
        let mut failing: BTreeMap<String, usize> = BTreeMap::new();
        for pos in positions {
            let Some(c) = setup.pack.checks.get((pos - 1) as usize) else { continue };
            let bulk = fill(sql::RECHECK_BULK, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
            if conn.query_row(&bulk, params![pos], |r| r.get::<_, i64>(0)).is_ok() {
                continue;
            }
            let one = fill(sql::RECHECK_ONE, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
            for (entity, _) in recheck.iter().filter(|r| r.1 == pos) {
                let res: Result<(Option<bool>, Option<bool>), duckdb::Error> =
                    conn.query_row(&one, params![entity], |r| Ok((r.get(0)?, r.get(1)?)));
                if let Err(e) = res {
                    let msg = e.to_string().lines().next().unwrap_or_default().to_owned();
                    let i = pos - 1;
                    conn.execute(&fill(sql::MARK_ERROR, &[("i", &i.to_string())]), params![entity])?;
                    *failing.entry(format!("check {} ({}:{}) failed to evaluate: {msg}", c.id, c.file, c.line)).or_default() += 1;
                    errors.push((entity.clone(), c.id.clone(), msg));
                }
            }
        }
        for (msg, n) in failing {
            problems.push(format!("{msg} [{n} entit{}]", if n == 1 { "y" } else { "ies" }));
        }
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "rechecked");
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
    Ok(Staged { problems, warnings, exemptions, active, expired, errors })
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
    {
        let mut app = conn.appender("grading_checks")?;
        for (i, c) in setup.pack.checks.iter().enumerate() {
            app.append_row(params![grading_id, (i + 1) as i64, c.id, c.level, c.level_index as i64, c.weight])?;
        }
        app.flush()?;
    }
    conn.execute(&grades_sql(&setup.pack.checks, setup.ladder.len()), params![grading_id, run_id]).context("computing grades")?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "grades stored");
    if !setup.pack.checks.is_empty() {
        conn.execute(&unknown_details_sql(&setup.pack.checks), params![grading_id]).context("storing unknown details")?;
    }
    for (entity, check, msg) in &staged.errors {
        conn.execute(sql::ERROR_DETAIL, params![grading_id, entity, check, msg])?;
    }
    let results: i64 = conn.query_row(sql::RESULT_COUNT, params![grading_id], |r| r.get::<_, Option<i64>>(0))?.unwrap_or(0);
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "details stored");
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
