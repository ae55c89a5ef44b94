//! The grading engine: evaluates every check on every entity in one set-based DuckDB
//! statement over the wide fact view of a run (a code per check per entity), then computes
//! grades, levels, next-level checks and roll-ups in Rust from those codes and stores them
//! with appenders, inside the caller's transaction.
//!
//! Runtime SQL errors (a division by zero on some rows) do not stop a grading: expressions
//! are evaluated with `try()`, and the rows where that hides something (a NULL outcome with no
//! missing fact) are evaluated again; those that fail become `error` outcomes with what DuckDB
//! said.

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

/// The facts the checks' `pass` expressions read, sorted: the `nulls` string of the codes
/// query has a character per fact, in this order.
fn read_facts(checks: &[Check]) -> Vec<String> {
    let mut facts: Vec<String> = checks.iter().flat_map(|c| c.pass.facts.iter().cloned()).collect();
    facts.sort();
    facts.dedup();
    facts
}

/// The statement evaluating every check on every entity in one pass over the wide view
/// ($1 run, $2 as of), returning a row per entity with a code per check and a flag per fact
/// read (see `sql/grade/codes.sql`).
fn codes_sql(facts: &FactSet, checks: &[Check], read: &[String]) -> String {
    let (mut applies, mut passes) = (String::new(), String::new());
    let mut codes = Vec::new();
    for (i, c) in checks.iter().enumerate() {
        let _ = write!(applies, ",\n        try(({}))::boolean as eh_a{i}", c.applies_to.sql);
        let _ = write!(passes, ",\n        case when eh_a{i} then try(({}))::boolean end as eh_p{i}", c.pass.sql);
        codes.push(format!(
            "case when e.eh_a{i} is null then 'n' when not e.eh_a{i} then '-' when coalesce(list_contains(x.xs, {}), false) then 'X' \
             when e.eh_p{i} then 'P' when not e.eh_p{i} then 'F' else 'U' end",
            lit(&c.id)
        ));
    }
    let nulls: Vec<String> = read.iter().map(|f| format!("case when {} is null then '1' else '0' end", quote_ident(f))).collect();
    let or_empty = |v: Vec<String>| if v.is_empty() { "''".to_owned() } else { v.join(",\n        ") };
    fill(
        sql::CODES,
        &[
            ("wide", &wide_select(facts)),
            ("applies", &applies),
            ("passes", &passes),
            ("codes", &or_empty(codes)),
            ("nulls", &or_empty(nulls)),
        ],
    )
}

/// One entity as the codes query returned it (codes changed to `E` where a recheck failed).
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub entity_ref: String,
    pub kind: String,
    pub system: Option<String>,
    pub domain: Option<String>,
    /// the owning group and its ancestors
    pub team_chain: Vec<String>,
    pub weight: Option<f64>,
    /// a code per check: P F U E X, `-` or `n` (not applicable)
    pub codes: Vec<u8>,
    /// a flag per fact of [`Staged::read_facts`]: `1` when absent
    pub nulls: Vec<u8>,
}

impl Evaluated {
    fn applies(&self, i: usize) -> bool {
        Self::applies_code(self.codes[i])
    }

    fn applies_code(code: u8) -> bool {
        !matches!(code, b'-' | b'n')
    }

    /// The facts check `c` reads that this entity lacks.
    fn missing(&self, c: &Check, read: &[String]) -> Vec<String> {
        c.pass.facts.iter().filter(|f| read.binary_search(f).map(|j| self.nulls.get(j) == Some(&b'1')).unwrap_or(false)).cloned().collect()
    }
}

/// What staging produced: every entity's outcome codes (and the temp tables `eh_exempt`,
/// `eh_weights`, `eh_recheck`, and `eh_wide` when something needed single rows of it, on the
/// connection), and what Rust needs to persist them.
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
    pub rows: Vec<Evaluated>,
    pub read_facts: Vec<String>,
}

/// Stages a grading outside any transaction: every check is evaluated on every entity in one
/// statement; the results whose NULL may hide a runtime error are evaluated again (an error
/// there must not abort the caller's transaction: DuckDB aborts a transaction on any error).
pub fn stage(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, setup: &Setup) -> Result<Staged> {
    let t0 = std::time::Instant::now();
    conn.execute_batch(sql::STAGE_TABLES)?;

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
    let checks = &setup.pack.checks;
    let read = read_facts(checks);
    let codes = codes_sql(&setup.facts, checks, &read);
    if let Some(path) = std::env::var_os("ECHO_HEALTH_DUMP_SQL") {
        // debugging aid (README, benchmark): the SQL generated from the packs
        let _ = std::fs::write(path, format!("{codes};\n"));
    }
    let mut rows = Vec::new();
    {
        let mut st = conn.prepare(&codes).context("evaluating the checks")?;
        let mut q = st.query(params![run_id, as_of.naive_utc()]).context("evaluating the checks")?;
        while let Some(r) = q.next()? {
            let team_chain: Option<String> = r.get(4)?;
            rows.push(Evaluated {
                entity_ref: r.get(0)?,
                kind: r.get(1)?,
                system: r.get(2)?,
                domain: r.get(3)?,
                team_chain: team_chain.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
                weight: r.get(5)?,
                codes: r.get::<_, String>(6)?.into_bytes(),
                nulls: r.get::<_, String>(7)?.into_bytes(),
            });
        }
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "checks evaluated");

    // positions whose NULL may hide a runtime error (applies_to NULL, or an unknown no
    // missing fact explains): evaluated again without try(), in bulk per check first, row by
    // row only for a check whose bulk evaluation fails
    let mut recheck: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (r, row) in rows.iter().enumerate() {
        for (i, c) in checks.iter().enumerate() {
            if row.codes[i] == b'n' || (row.codes[i] == b'U' && row.missing(c, &read).is_empty()) {
                recheck.entry(i).or_default().push(r);
            }
        }
    }
    let mut errors = Vec::new();
    if !recheck.is_empty() {
        {
            let mut app = conn.appender("eh_recheck")?;
            for (i, rs) in &recheck {
                for r in rs {
                    app.append_row(params![rows[*r].entity_ref, (*i + 1) as i64])?;
                }
            }
            app.flush()?;
        }
        build_wide(conn, run_id, as_of, &setup.facts)?;
        let mut failing: BTreeMap<String, usize> = BTreeMap::new();
        for (i, rs) in &recheck {
            let c = &checks[*i];
            let bulk = fill(sql::RECHECK_BULK, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
            if conn.query_row(&bulk, params![(*i + 1) as i64], |r| r.get::<_, i64>(0)).is_ok() {
                continue;
            }
            let one = fill(sql::RECHECK_ONE, &[("applies_to", &c.applies_to.sql), ("pass", &c.pass.sql)]);
            for r in rs {
                let entity = rows[*r].entity_ref.clone();
                let res: Result<(Option<bool>, Option<bool>), duckdb::Error> =
                    conn.query_row(&one, params![entity], |r| Ok((r.get(0)?, r.get(1)?)));
                if let Err(e) = res {
                    let msg = e.to_string().lines().next().unwrap_or_default().to_owned();
                    rows[*r].codes[*i] = b'E';
                    *failing.entry(format!("check {} ({}:{}) failed to evaluate: {msg}", c.id, c.file, c.line)).or_default() += 1;
                    errors.push((entity, c.id.clone(), msg));
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
    Ok(Staged { problems, warnings, exemptions, active, expired, errors, rows, read_facts: read })
}

fn blocking(code: u8) -> bool {
    matches!(code, b'F' | b'U' | b'E')
}

/// The grade of one entity (which has at least one applicable check).
#[derive(Debug, Clone)]
struct Grade {
    row: usize,
    /// -1 = none
    level_index: i64,
    score: Option<f64>,
    coverage: f64,
}

/// Grades an entity: the highest level with nothing fail, unknown or error at or below it;
/// score is the weighted pass share among pass and fail; coverage the share of applicable
/// checks with a known outcome (pass, fail or exempt).
fn grade(row: &Evaluated, checks: &[Check], ladder_len: usize) -> (i64, Option<f64>, f64, [i64; 5]) {
    let mut lowest_blocked = ladder_len;
    let (mut pass_w, mut known_w) = (0.0, 0.0);
    let (mut passed, mut failed, mut unknown, mut exempt, mut applicable) = (0, 0, 0, 0, 0);
    for (i, c) in checks.iter().enumerate() {
        let code = row.codes[i];
        if !row.applies(i) {
            continue;
        }
        applicable += 1;
        match code {
            b'P' => {
                passed += 1;
                pass_w += c.weight;
                known_w += c.weight;
            }
            b'F' => {
                failed += 1;
                known_w += c.weight;
            }
            b'X' => exempt += 1,
            _ => unknown += 1,
        }
        if blocking(code) {
            lowest_blocked = lowest_blocked.min(c.level_index);
        }
    }
    let score = if known_w != 0.0 { Some(pass_w / known_w) } else { None };
    let coverage = if applicable > 0 { (passed + failed + exempt) as f64 / applicable as f64 } else { 0.0 };
    (lowest_blocked as i64 - 1, score, coverage, [passed, failed, unknown, exempt, applicable])
}

/// One roll-up being summed.
#[derive(Default)]
struct Scope {
    members: Vec<usize>,
}

/// Stores a staged grading as `grading_id` (in the caller's transaction): the grading
/// record, exemptions, outcome codes with what unknown and error results say, grades and
/// roll-ups; returns the summary. Grades and roll-ups are computed here from the codes the
/// set-based evaluation returned, and written with appenders.
pub fn persist(
    conn: &Connection,
    run_id: &str,
    grading_id: &str,
    kind: &str,
    as_of: DateTime<Utc>,
    setup: &Setup,
    staged: &Staged,
) -> Result<Outcome> {
    let checks = &setup.pack.checks;
    let ladder = &setup.ladder;
    let checks_json: Vec<serde_json::Value> = checks
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
            serde_json::to_string(ladder)?,
            serde_json::to_string(&checks_json)?,
            serde_json::to_string(&files)?
        ],
    )?;
    {
        let mut app = conn.appender("grading_check_facts")?;
        for c in checks {
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
        for (i, c) in checks.iter().enumerate() {
            app.append_row(params![grading_id, (i + 1) as i64, c.id, c.level, c.level_index as i64, c.weight])?;
        }
        app.flush()?;
    }

    // grades, and what unknown and error results say
    let rows = &staged.rows;
    let mut grades: Vec<Grade> = Vec::with_capacity(rows.len());
    let mut results = 0usize;
    {
        let mut app = conn.appender("grades")?;
        let mut details = conn.appender("eh_missing")?;
        let mut outcomes = String::with_capacity(checks.len());
        for (r, row) in rows.iter().enumerate() {
            let (level_index, score, coverage, [passed, failed, unknown, exempt, applicable]) = grade(row, checks, ladder.len());
            if applicable == 0 {
                continue;
            }
            results += applicable as usize;
            let next = (level_index + 1) as usize;
            let level = (level_index >= 0).then(|| ladder[level_index as usize].as_str());
            outcomes.clear();
            outcomes.extend(row.codes.iter().map(|c| if Evaluated::applies_code(*c) { *c as char } else { '-' }));
            app.append_row(params![
                grading_id,
                run_id,
                row.entity_ref,
                level,
                level_index,
                score,
                coverage,
                passed,
                failed,
                unknown,
                exempt,
                applicable,
                ladder.get(next).map(String::as_str),
                outcomes
            ])?;
            for (i, c) in checks.iter().enumerate() {
                if row.codes[i] == b'U' {
                    details.append_row(params![row.entity_ref, c.id, row.missing(c, &staged.read_facts).join(",")])?;
                }
            }
            grades.push(Grade { row: r, level_index, score, coverage });
        }
        app.flush()?;
        details.flush()?;
    }
    conn.execute(sql::UNKNOWN_DETAILS, params![grading_id]).context("storing what unknown results miss")?;
    for (entity, check, msg) in &staged.errors {
        conn.execute(sql::ERROR_DETAIL, params![grading_id, entity, check, msg])?;
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "grades stored");

    rollups(conn, run_id, grading_id, setup, staged, &grades)?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "roll-ups stored");

    // summary (components only)
    let mut levels: BTreeMap<String, usize> = ladder.iter().map(|l| (l.clone(), 0)).collect();
    levels.insert("none".into(), 0);
    let components: Vec<&Grade> = grades.iter().filter(|g| rows[g.row].kind == "Component").collect();
    for g in &components {
        let name = if g.level_index >= 0 { ladder[g.level_index as usize].clone() } else { "none".into() };
        *levels.entry(name).or_default() += 1;
    }
    let scores: Vec<f64> = components.iter().filter_map(|g| g.score).collect();
    let mean_score = mean(&scores);
    let mean_coverage = mean(&components.iter().map(|g| g.coverage).collect::<Vec<_>>());
    let entities = components.len();
    conn.execute(
        sql::SET_GRADING_SUMMARY,
        params![entities as i64, serde_json::to_string(&levels)?, mean_score, mean_coverage, grading_id],
    )?;
    Ok(Outcome {
        grading_id: grading_id.to_owned(),
        entities,
        levels,
        mean_score,
        mean_coverage,
        results,
        problems: staged.problems.clone(),
        warnings: staged.warnings.clone(),
        expired_exemptions: staged.expired,
        active_exemptions: staged.active,
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A JSON object whose keys keep the given order (serde_json's maps sort theirs).
fn ordered_object(pairs: &[(&str, usize)]) -> Result<String> {
    let mut out = String::from("{");
    for (k, (key, n)) in pairs.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key)?);
        let _ = write!(out, ":{n}");
    }
    out.push('}');
    Ok(out)
}

/// Roll-ups of the graded components per domain (a domain sees its subdomains' components),
/// system and owning team (a group sees its child groups'): level distribution, mean score
/// and coverage, weighted mean score, failing checks (most failed first), the 5 worst
/// components (lowest level, then lowest score, unknown score first).
fn rollups(conn: &Connection, run_id: &str, grading_id: &str, setup: &Setup, staged: &Staged, grades: &[Grade]) -> Result<()> {
    let rows = &staged.rows;
    // each domain's ancestors, itself included
    let mut parent: BTreeMap<String, Option<String>> = BTreeMap::new();
    {
        let mut st = conn.prepare(sql::DOMAIN_PARENTS)?;
        let q = st.query_map(params![run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
        for row in q {
            let (d, p) = row?;
            let e = parent.entry(d).or_default();
            if e.is_none() {
                *e = p;
            }
        }
    }
    let ancestors = |d: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(d.to_owned());
        while let Some(c) = cur {
            if !parent.contains_key(&c) || out.contains(&c) {
                break;
            }
            cur = parent[&c].clone();
            out.push(c);
        }
        out
    };
    let mut scopes: BTreeMap<(&'static str, String), Scope> = BTreeMap::new();
    let mut domain_cache: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (k, g) in grades.iter().enumerate() {
        let row = &rows[g.row];
        if row.kind != "Component" {
            continue;
        }
        if let Some(d) = &row.domain {
            let anc = domain_cache.entry(d.as_str()).or_insert_with(|| ancestors(d));
            for a in anc.iter() {
                scopes.entry(("domain", a.clone())).or_default().members.push(k);
            }
        }
        if let Some(s) = &row.system {
            scopes.entry(("system", s.clone())).or_default().members.push(k);
        }
        let mut seen: Vec<&String> = Vec::new();
        for t in &row.team_chain {
            if !seen.contains(&t) {
                seen.push(t);
                scopes.entry(("team", t.clone())).or_default().members.push(k);
            }
        }
    }
    let level_name = |i: i64| if i >= 0 { setup.ladder[i as usize].as_str() } else { "none" };
    let mut app = conn.appender("rollups")?;
    for ((scope, scope_ref), s) in &scopes {
        let members: Vec<&Grade> = s.members.iter().map(|k| &grades[*k]).collect();
        let mut levels: BTreeMap<&str, usize> = BTreeMap::new();
        let mut failing = vec![0usize; setup.pack.checks.len()];
        let (mut ws, mut w) = (0.0, 0.0);
        for g in &members {
            *levels.entry(level_name(g.level_index)).or_default() += 1;
            let row = &rows[g.row];
            for (i, code) in row.codes.iter().enumerate() {
                if *code == b'F' {
                    failing[i] += 1;
                }
            }
            if let (Some(score), Some(weight)) = (g.score, row.weight) {
                if weight > 0.0 {
                    ws += score * weight;
                    w += weight;
                }
            }
        }
        let mut failing: Vec<(&str, usize)> =
            failing.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (setup.pack.checks[i].id.as_str(), *n)).collect();
        failing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let order = |a: &&Grade, b: &&Grade| {
            a.level_index
                .cmp(&b.level_index)
                .then_with(|| match (a.score, b.score) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.total_cmp(&y),
                })
                .then_with(|| rows[a.row].entity_ref.cmp(&rows[b.row].entity_ref))
        };
        let mut worst: Vec<&Grade> = members.clone();
        if worst.len() > 5 {
            worst.select_nth_unstable_by(4, order);
            worst.truncate(5);
        }
        worst.sort_by(order);
        let worst: Vec<&str> = worst.iter().take(5).map(|g| rows[g.row].entity_ref.as_str()).collect();
        let scores: Vec<f64> = members.iter().filter_map(|g| g.score).collect();
        let coverage: Vec<f64> = members.iter().map(|g| g.coverage).collect();
        app.append_row(params![
            grading_id,
            run_id,
            *scope,
            scope_ref,
            members.len() as i64,
            serde_json::to_string(&levels)?,
            mean(&scores),
            mean(&coverage),
            (w != 0.0).then(|| ws / w),
            ordered_object(&failing)?,
            serde_json::to_string(&worst)?
        ])?;
    }
    app.flush()?;
    Ok(())
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
