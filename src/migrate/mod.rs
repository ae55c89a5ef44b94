//! Migrations (design §5): definitions read strictly from YAML files a pipeline names, the
//! state of every component they apply to in a run (not_started, in_progress, done, unknown)
//! evaluated set-based over the wide fact view, and forecasts ([`forecast`]).
//!
//! ```yaml
//! migrations:
//!   - id: log4j_removal
//!     title: Remove log4j 1.x
//!     description: log4j 1.x is end of life (CVE-2019-17571). Guide: https://wiki/log4j
//!     owner: group:default/platform
//!     start: 2026-03-01
//!     deadline: 2026-09-30
//!     applies_to: kind = 'Component' and "runtime.java_version_major" is not null
//!     done: '"zoekt.log4j_refs" = 0'
//!     started: '"zoekt.log4j_refs" < 10'      # optional
//! ```
//!
//! State of a component the migration applies to: `unknown` when `done` cannot be
//! evaluated (a fact it reads is missing), `done` when it holds, `in_progress` when
//! `started` holds, else `not_started`.

pub mod forecast;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use duckdb::{params, Connection};

use crate::config::reader::{each_root, Errs, Obj};
use crate::config::ConfigErrors;
use crate::grade::engine::fill;
use crate::grade::pack::{expr_text, is_snake_id};
use crate::grade::sqlexpr::{analyse, Expr, FactSet};

#[derive(Debug, Clone)]
pub struct Migration {
    pub id: String,
    pub title: String,
    pub description: String,
    /// the team driving it (an entity ref)
    pub owner: Option<String>,
    pub start: Option<NaiveDate>,
    pub deadline: NaiveDate,
    pub applies_to: Expr,
    pub done: Expr,
    pub started: Option<Expr>,
    pub file: String,
    pub line: usize,
}

fn date(o: &mut Obj<'_>, key: &'static str, errs: &mut Errs<'_>, line: usize) -> Option<NaiveDate> {
    let s = o.string(key, errs)?;
    match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errs.push(line, format!("{}.{key} \"{s}\" is not a date (YYYY-MM-DD)", o.path));
            None
        }
    }
}

/// A pipeline's migrations and their exemptions, validated.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub migrations: Vec<Migration>,
    pub exemptions: Vec<crate::grade::pack::Exemption>,
}

/// The pipeline's migrations (`migrations:`) and their exemptions (`migration_exemptions:`,
/// the check exemptions' format with `migration:` in place of `check:`).
pub fn setup(p: &crate::config::Pipeline) -> Result<Setup, ConfigErrors> {
    let facts = crate::grade::fact_set(p);
    let migrations = load(&p.migrations, &facts, crate::grade::engine::CATALOG_COLUMNS)?;
    let ids: std::collections::HashSet<&str> = migrations.iter().map(|m| m.id.as_str()).collect();
    let exemptions = crate::grade::pack::load_exemptions_of(&p.migration_exemptions, "migration", &ids, "a migration of this pipeline")?;
    Ok(Setup { migrations, exemptions })
}

/// What evaluating the migrations of a run gave.
#[derive(Debug, Clone, Default)]
pub struct Evaluated {
    /// migration id → state → components
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// exemptions naming entities the run does not have
    pub problems: Vec<String>,
}

/// Reads migration files, every problem reported at once with file:line (duplicate ids,
/// bad dates, a deadline before the start, expressions that are not one SQL expression or
/// read facts no source declares).
pub fn load(files: &[PathBuf], facts: &FactSet, columns: &[&str]) -> Result<Vec<Migration>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut out: Vec<Migration> = Vec::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    each_root(files, "migrations file", Some("the migrations file is empty"), &["migrations"], &mut errors, |shown, root, mut errs| {
        let shown = shown.to_owned();
        for (path, n) in root.list("migrations", &mut errs) {
            let Some(mut o) = Obj::new(&shown, path.clone(), n, &mut errs) else { continue };
            let line = n.line;
            let id = o.required_string("id", &mut errs).unwrap_or_default();
            let title = o.required_string("title", &mut errs).unwrap_or_default();
            let description = o.required_string("description", &mut errs).unwrap_or_default();
            let owner = o.string("owner", &mut errs);
            let start = date(&mut o, "start", &mut errs, line);
            let deadline = date(&mut o, "deadline", &mut errs, line);
            if o.node.find(&["deadline"]).is_none() {
                errs.push(line, format!("{path}.deadline is required (YYYY-MM-DD)"));
            }
            let applies = expr_text(&mut o, "applies_to", &mut errs).unwrap_or_else(|| crate::grade::pack::DEFAULT_APPLIES_TO.to_owned());
            let done = expr_text(&mut o, "done", &mut errs);
            if done.is_none() && o.node.find(&["done"]).is_none() {
                errs.push(line, format!("{path}.done is required"));
            }
            let started = expr_text(&mut o, "started", &mut errs);
            let node = o.node;
            o.finish(&["id", "title", "description", "owner", "start", "deadline", "applies_to", "done", "started"], &mut errs);
            if !id.is_empty() && !is_snake_id(&id) {
                errs.push(line, format!("{path}.id \"{id}\" must be snake_case: a-z, 0-9 and _, starting with a letter"));
            }
            if !id.is_empty() {
                if let Some((f0, l0)) = seen.get(&id) {
                    errs.push(line, format!("duplicate migration id \"{id}\" (first defined at {f0}:{l0})"));
                } else {
                    seen.insert(id.clone(), (shown.clone(), line));
                }
            }
            if let (Some(s), Some(d)) = (start, deadline) {
                if d < s {
                    errs.push(line, format!("{path}.deadline {d} is before its start {s}"));
                }
            }
            let mut parse = |key: &str, text: Option<String>| -> Option<Expr> {
                let t = text?;
                match analyse(&t, facts, columns) {
                    Ok(e) => Some(e),
                    Err(m) => {
                        errs.push(node.key_line(&[key]).unwrap_or(line), format!("{path}.{key}: {m}"));
                        None
                    }
                }
            };
            let applies_to = parse("applies_to", Some(applies));
            let done = parse("done", done);
            let started_expr = parse("started", started.clone());
            if let (Some(applies_to), Some(done), Some(deadline), true) =
                (applies_to, done, deadline, started.is_none() || started_expr.is_some())
            {
                out.push(Migration {
                    id,
                    title,
                    description,
                    owner,
                    start,
                    deadline,
                    applies_to,
                    done,
                    started: started_expr,
                    file: shown.clone(),
                    line,
                });
            }
        }
    });
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The statement storing the migration codes of run $1 as of $2 over the wide fact view
/// `eh_wide`: a character per migration, in id order (see `sql/schema/010_migration_codes.sql`).
pub fn states_sql(migrations: &[Migration]) -> String {
    let mut sorted: Vec<&Migration> = migrations.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let parts: Vec<String> = sorted
        .iter()
        .map(|m| {
            let started = m.started.as_ref().map(|s| s.sql.as_str()).unwrap_or("false");
            fill(
                crate::store::sql::MIGRATION_STATE_OF,
                &[("id", &m.id), ("done", &m.done.sql), ("started", started), ("applies", &m.applies_to.sql)],
            )
        })
        .collect();
    let none = "-".repeat(sorted.len());
    fill(crate::store::sql::MIGRATION_INSERT_STATES, &[("codes", &format!("({})", parts.join(")\n || ("))), ("none", &none)])
}

/// Evaluates every migration on run `run_id` as of `as_of` (facts observed up to then) and
/// stores the definitions, the exemptions as seen that day and the states, in one
/// transaction (replacing what the run had).
pub fn evaluate(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, facts: &FactSet, setup: &Setup) -> Result<Evaluated> {
    if setup.migrations.is_empty() {
        return Ok(Evaluated::default());
    }
    conn.execute_batch("begin transaction")?;
    match store_states(conn, run_id, as_of, facts, setup) {
        Ok(c) => {
            conn.execute_batch("commit").context("committing the migration states")?;
            Ok(c)
        }
        Err(e) => {
            let _ = conn.execute_batch("rollback");
            Err(e)
        }
    }
}

fn store_states(conn: &Connection, run_id: &str, as_of: DateTime<Utc>, facts: &FactSet, setup: &Setup) -> Result<Evaluated> {
    let migrations = &setup.migrations;
    let mut out = Evaluated::default();
    // the wide view with only the facts the migrations read (the pivot is the costly part)
    let mut read = FactSet::default();
    for m in migrations {
        for e in [Some(&m.applies_to), Some(&m.done), m.started.as_ref()].into_iter().flatten() {
            for f in &e.facts {
                if let Some(t) = facts.facts.get(f) {
                    read.facts.insert(f.clone(), *t);
                }
            }
        }
    }
    crate::grade::engine::build_wide(conn, run_id, as_of, &read)?;
    for (sql_text, what) in [
        (crate::store::sql::MIGRATION_STATES_CLEAR, "states"),
        (crate::store::sql::MIGRATION_DEFS_CLEAR, "definitions"),
        (crate::store::sql::MIGRATION_EXEMPTIONS_CLEAR, "exemptions"),
    ] {
        conn.execute(sql_text, params![run_id]).with_context(|| format!("clearing the run's migration {what}"))?;
    }
    for m in migrations {
        conn.execute(
            crate::store::sql::MIGRATION_DEF_INSERT,
            params![
                run_id,
                m.id,
                m.title,
                m.description,
                m.owner,
                m.start.map(|d| d.to_string()),
                m.deadline.to_string(),
                m.applies_to.source,
                m.done.source,
                m.started.as_ref().map(|s| s.source.clone()),
                serde_json::to_string(&m.done.facts)?,
                format!("{}:{}", m.file, m.line),
            ],
        )
        .with_context(|| format!("recording migration {}", m.id))?;
    }
    let today = as_of.date_naive();
    let known: std::collections::HashSet<String> = {
        let mut st = conn.prepare(crate::store::sql::MIGRATION_WIDE_ENTITIES)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for x in &setup.exemptions {
        if !known.contains(&x.entity) {
            out.problems.push(format!("{}:{}: migration exemption names {}, which is not in the catalog", x.file, x.line, x.entity));
            continue;
        }
        let status = if x.expires >= today { "active" } else { "expired" };
        conn.execute(
            crate::store::sql::MIGRATION_EXEMPTION_INSERT,
            params![
                run_id,
                x.check_id,
                x.entity,
                x.reason,
                x.approver,
                x.justification,
                x.expires.to_string(),
                status,
                format!("{}:{}", x.file, x.line)
            ],
        )?;
    }
    conn.execute(crate::store::sql::MIGRATION_ACTIVE_EXEMPTIONS, params![run_id])?;
    conn.execute(&states_sql(migrations), params![run_id, as_of.naive_utc()]).context("evaluating the migrations")?;
    let mut st = conn.prepare(crate::store::sql::MIGRATION_STATE_COUNTS)?;
    let rows = st.query_map(params![run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    for r in rows {
        let (m, s, n) = r?;
        out.counts.entry(m).or_default().insert(s, n as usize);
    }
    for m in migrations {
        out.counts.entry(m.id.clone()).or_default();
    }
    Ok(out)
}

/// One row of [`rollups`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rollup {
    pub migration_id: String,
    /// domain | team
    pub scope: String,
    pub scope_ref: String,
    pub total: i64,
    pub done: i64,
    pub left: i64,
    pub exempt: i64,
    pub unknown: i64,
}

/// Per migration of a run, per domain and per owning team: components in each state.
pub fn rollups(conn: &Connection, run_id: &str) -> Result<Vec<Rollup>> {
    let mut st = conn.prepare(crate::store::sql::MIGRATION_ROLLUPS)?;
    let rows = st.query_map(params![run_id], |r| {
        Ok(Rollup {
            migration_id: r.get(0)?,
            scope: r.get(1)?,
            scope_ref: r.get(2)?,
            total: r.get(3)?,
            done: r.get(4)?,
            left: r.get(5)?,
            exempt: r.get(6)?,
            unknown: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
