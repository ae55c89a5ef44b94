//! Everything the site shows about one run, read from the database alone (`sql/report/`):
//! reports never recompute grades, they read the stored grading and its history.

use std::collections::BTreeMap;

use super::fx::HashMap;

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde::Deserialize;

use crate::store::sql;

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub pipeline: String,
    pub started_at: String,
    pub finished_at: String,
    pub status: String,
    pub as_of: String,
    pub entities: i64,
    pub facts: i64,
    pub errors: i64,
    pub warnings: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckDef {
    pub id: String,
    pub title: String,
    pub description: String,
    pub remediation: String,
    pub level: String,
    pub weight: f64,
    pub applies_to: String,
    pub pass: String,
    #[serde(default)]
    pub facts: Vec<String>,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GateVerdict {
    pub name: String,
    pub passed: bool,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub violations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner: Option<String>,
    pub system: Option<String>,
    pub domain: Option<String>,
    /// owning group then its ancestors
    pub team_chain: Vec<String>,
    pub tags: Vec<String>,
    pub links: Vec<Link>,
    pub source_file: String,
    pub source_line: i64,
}

#[derive(Debug, Clone)]
pub struct Grade {
    pub level_index: i64,
    pub score: Option<f64>,
    pub coverage: f64,
    pub passed: i64,
    pub failed: i64,
    pub unknown: i64,
    pub exempt: i64,
    pub applicable: i64,
    /// a code per check of the grading (P F U E X, `-` not applicable)
    pub outcomes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Fact {
    /// the fact's name, source and observation time are shared (interned) template values:
    /// thousands of pages show the same ones
    pub fact: minijinja::Value,
    pub source: minijinja::Value,
    /// the value as text (numbers without a needless `.0`)
    pub value: String,
    /// to the second, UTC
    pub observed_at: minijinja::Value,
    /// microseconds since the epoch (of several observations, the latest is kept)
    pub observed_us: i64,
}

#[derive(Debug, Clone)]
pub struct Rollup {
    pub entities: i64,
    pub levels: BTreeMap<String, i64>,
    pub mean_score: Option<f64>,
    pub mean_coverage: Option<f64>,
    pub weighted_mean_score: Option<f64>,
    /// (check, components failing it), most first
    pub failing: Vec<(String, i64)>,
    pub worst: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HistoryPoint {
    pub run_id: String,
    pub started_at: String,
    pub grading_id: String,
    pub levels: BTreeMap<String, i64>,
    pub mean_score: Option<f64>,
    pub mean_coverage: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct RunError {
    pub stage: String,
    pub source: String,
    pub kind: String,
    pub severity: String,
    pub file: String,
    pub line: Option<i64>,
    pub entity_ref: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Rejected {
    pub file: String,
    pub doc: i64,
    pub line: i64,
    pub status: String,
    pub entity_ref: String,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct Exemption {
    pub entity_ref: String,
    pub check_id: String,
    pub reason: String,
    pub approver: String,
    pub justification: String,
    pub expires: String,
    pub status: String,
    pub file: String,
    pub line: i64,
}

#[derive(Debug, Clone)]
pub struct SourceStat {
    pub source: String,
    pub facts: i64,
    pub entities: i64,
    pub oldest: String,
    pub newest: String,
}

/// A migration of the run: its definition, every component's state, and the daily history
/// of the pipeline's runs up to this one.
#[derive(Debug, Clone)]
pub struct MigrationData {
    pub id: String,
    pub title: String,
    pub description: String,
    pub owner: Option<String>,
    pub start: Option<String>,
    /// YYYY-MM-DD
    pub deadline: String,
    pub applies_to: String,
    pub done: String,
    pub started: Option<String>,
    pub done_facts: Vec<String>,
    pub defined_at: String,
    /// (entity ref, state), by entity
    pub states: Vec<(String, String)>,
    /// (day, left, done, total), oldest first
    pub history: Vec<(String, i64, i64, i64)>,
    /// the exemptions the run saw, active and expired
    pub exemptions: Vec<Exemption>,
    /// (scope `domain`|`team`, scope ref) → (day, left), oldest first
    pub scope_history: HashMap<(String, String), Vec<(String, i64)>>,
}

/// One run and its grading, as the pages show them.
#[derive(Debug, Clone)]
pub struct RunData {
    pub run: RunInfo,
    pub grading_id: String,
    pub grading_as_of: String,
    pub ladder: Vec<String>,
    /// in grades.outcomes order
    pub checks: Vec<CheckDef>,
    /// the gates the grading evaluated, with their verdicts
    pub gates: Vec<GateVerdict>,
    pub entities: Vec<Entity>,
    pub index: HashMap<String, usize>,
    /// entity → [(relation type, other entity)], sorted
    pub relations: HashMap<String, Vec<(String, String)>>,
    pub grades: HashMap<String, Grade>,
    /// entity → check → missing facts or error
    pub details: HashMap<String, HashMap<String, (String, Option<String>)>>,
    /// entity → its latest facts (a few per entity: looked up by name)
    pub facts: HashMap<String, Vec<Fact>>,
    /// scope ref (a domain, system or group ref: the kind tells the scope) → roll-up
    pub rollups: HashMap<String, Rollup>,
    /// newest first, this run included
    pub history: Vec<HistoryPoint>,
    /// scope ref → grading → mean score
    pub rollup_history: HashMap<String, HashMap<String, Option<f64>>>,
    pub errors: Vec<RunError>,
    pub rejected: Vec<Rejected>,
    pub exemptions: Vec<Exemption>,
    pub sources: Vec<SourceStat>,
    pub migrations: Vec<MigrationData>,
    /// the run's tech-debt ROI cost model, if the pipeline has one
    pub roi: Option<crate::roi::Model>,
}

impl RunData {
    pub fn entity(&self, r: &str) -> Option<&Entity> {
        self.index.get(r).map(|i| &self.entities[*i])
    }
}

/// Trend points kept per page.
pub const HISTORY_RUNS: i64 = 12;

fn json_list<T: for<'de> Deserialize<'de>>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A number as a reader expects it: `3` not `3.0`, `0.25` as is.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// DuckDB runs the report's queries on one thread while it lives, then on as many as before:
/// they are many small scans, which two threads ran with more CPU time (locks, task
/// hand-offs) and no shorter wall time (measured with `bench-site`).
struct OneThread<'c> {
    conn: &'c Connection,
    threads: Option<i64>,
}

impl<'c> OneThread<'c> {
    fn set(conn: &'c Connection) -> OneThread<'c> {
        let threads = conn.query_row(sql::REPORT_THREADS, [], |r| r.get(0)).ok();
        if threads.is_some_and(|t: i64| t > 1) {
            let _ = conn.execute_batch("set threads = 1");
        }
        OneThread { conn, threads }
    }
}

impl Drop for OneThread<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.threads.filter(|t| *t > 1) {
            let _ = self.conn.execute_batch(&format!("set threads = {t}"));
        }
    }
}

/// Reads run `run_id` and grading `grading_id` (None: the run has no grading).
pub fn load(conn: &Connection, run_id: &str, grading_id: Option<&str>) -> Result<RunData> {
    let _one_thread = OneThread::set(conn);
    let mut laps: Vec<(&str, std::time::Duration)> = Vec::new();
    let mut lap_t = std::time::Instant::now();
    let mut lap = |name: &'static str| {
        laps.push((name, lap_t.elapsed()));
        lap_t = std::time::Instant::now();
    };
    let run = conn
        .query_row(sql::REPORT_RUN, params![run_id], |r| {
            Ok(RunInfo {
                run_id: r.get(0)?,
                pipeline: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                status: r.get(4)?,
                as_of: r.get(5)?,
                entities: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                facts: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
                errors: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                warnings: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
            })
        })
        .with_context(|| format!("run {run_id} is not in the database"))?;

    let mut ladder = Vec::new();
    let mut checks = Vec::new();
    let mut grading_as_of = run.as_of.clone();
    let mut gates = Vec::new();
    if let Some(g) = grading_id {
        let (as_of, ladder_json, checks_json, gates_json): (String, String, String, String) = conn
            .query_row(sql::REPORT_GRADING, params![g], |r| Ok((r.get(2)?, r.get(3)?, r.get(4)?, r.get(8)?)))
            .with_context(|| format!("grading {g} is not in the database"))?;
        grading_as_of = as_of;
        gates = json_list(&gates_json);
        ladder = json_list(&ladder_json);
        let defs: Vec<CheckDef> = serde_json::from_str(&checks_json).context("the grading's checks")?;
        // grades.outcomes follows grading_checks order
        let mut st = conn.prepare(sql::REPORT_GRADING_CHECKS)?;
        let order: Vec<String> = st.query_map(params![g], |r| r.get(1))?.collect::<Result<_, _>>()?;
        let by_id: HashMap<&str, &CheckDef> = defs.iter().map(|c| (c.id.as_str(), c)).collect();
        for id in &order {
            let c = by_id.get(id.as_str()).with_context(|| format!("check {id} of grading {g} has no definition"))?;
            checks.push((*c).clone());
        }
    }

    lap("run and grading");
    let mut entities = Vec::new();
    {
        let mut st = conn.prepare(sql::REPORT_ENTITIES)?;
        let mut q = st.query(params![run_id])?;
        while let Some(r) = q.next()? {
            entities.push(Entity {
                entity_ref: r.get(0)?,
                kind: r.get(1)?,
                namespace: r.get(2)?,
                name: r.get(3)?,
                title: r.get(4)?,
                description: r.get(5)?,
                spec_type: r.get(6)?,
                lifecycle: r.get(7)?,
                owner: r.get(8)?,
                system: r.get(9)?,
                domain: r.get(10)?,
                team_chain: json_list(&r.get::<_, String>(11)?),
                tags: json_list(&r.get::<_, String>(12)?),
                links: json_list(&r.get::<_, String>(13)?),
                source_file: r.get(14)?,
                source_line: r.get(15)?,
            });
        }
    }
    lap("entities");
    let index = entities.iter().enumerate().map(|(i, e)| (e.entity_ref.clone(), i)).collect();

    let mut relations: HashMap<String, Vec<(String, String)>> = HashMap::default();
    {
        use duckdb::arrow::array::AsArray;
        use duckdb::arrow::datatypes::DataType;
        let mut st = conn.prepare(sql::REPORT_RELATIONS)?;
        for batch in st.query_arrow(params![run_id])? {
            let col = |i: usize| duckdb::arrow::compute::cast(batch.column(i), &DataType::Utf8).context("reading the run's relations");
            let (source, kind, target) = (col(0)?, col(1)?, col(2)?);
            let (source, kind, target) = (source.as_string::<i32>(), kind.as_string::<i32>(), target.as_string::<i32>());
            for i in 0..batch.num_rows() {
                let rel = (kind.value(i).to_owned(), target.value(i).to_owned());
                match relations.get_mut(source.value(i)) {
                    Some(v) => v.push(rel),
                    None => {
                        relations.insert(source.value(i).to_owned(), vec![rel]);
                    }
                }
            }
        }
        // each entity's relations in order: by type, then other entity
        for v in relations.values_mut() {
            v.sort_unstable();
        }
    }

    lap("index and relations");
    let mut grades = HashMap::default();
    let mut details: HashMap<String, HashMap<String, (String, Option<String>)>> = HashMap::default();
    let mut rollups = HashMap::default();
    let mut exemptions = Vec::new();
    if let Some(g) = grading_id {
        let mut st = conn.prepare(sql::REPORT_GRADES)?;
        let mut q = st.query(params![g])?;
        while let Some(r) = q.next()? {
            grades.insert(
                r.get::<_, String>(0)?,
                Grade {
                    level_index: r.get(1)?,
                    score: r.get(2)?,
                    coverage: r.get(3)?,
                    passed: r.get(4)?,
                    failed: r.get(5)?,
                    unknown: r.get(6)?,
                    exempt: r.get(7)?,
                    applicable: r.get(8)?,
                    outcomes: r.get::<_, String>(9)?.into_bytes(),
                },
            );
        }
        let mut st = conn.prepare(sql::REPORT_DETAILS)?;
        let mut q = st.query(params![g])?;
        while let Some(r) = q.next()? {
            details.entry(r.get(0)?).or_default().insert(r.get(1)?, (r.get(2)?, r.get(3)?));
        }
        let mut st = conn.prepare(sql::REPORT_ROLLUPS)?;
        let mut q = st.query(params![g])?;
        while let Some(r) = q.next()? {
            let failing: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default();
            let mut failing: Vec<(String, i64)> = failing.into_iter().map(|(k, v)| (k, v.as_i64().unwrap_or(0))).collect();
            failing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            rollups.insert(
                r.get(1)?,
                Rollup {
                    entities: r.get(2)?,
                    levels: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                    mean_score: r.get(4)?,
                    mean_coverage: r.get(5)?,
                    weighted_mean_score: r.get(6)?,
                    failing,
                    worst: json_list(&r.get::<_, String>(8)?),
                },
            );
        }
        let mut st = conn.prepare(sql::REPORT_EXEMPTIONS)?;
        let mut q = st.query(params![g])?;
        while let Some(r) = q.next()? {
            exemptions.push(Exemption {
                entity_ref: r.get(0)?,
                check_id: r.get(1)?,
                reason: r.get(2)?,
                approver: r.get(3)?,
                justification: r.get(4)?,
                expires: r.get(5)?,
                status: r.get(6)?,
                file: r.get(7)?,
                line: r.get(8)?,
            });
        }
    }

    lap("grades, details, rollups, exemptions");
    let mut history = Vec::new();
    {
        let mut st = conn.prepare(sql::REPORT_HISTORY)?;
        let mut q = st.query(params![run.pipeline, run.as_of, HISTORY_RUNS])?;
        while let Some(r) = q.next()? {
            history.push(HistoryPoint {
                run_id: r.get(0)?,
                started_at: r.get(1)?,
                grading_id: r.get(2)?,
                levels: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                mean_score: r.get(4)?,
                mean_coverage: r.get(5)?,
            });
        }
    }
    let mut rollup_history: HashMap<String, HashMap<String, Option<f64>>> = HashMap::default();
    if !history.is_empty() {
        let ids: Vec<duckdb::types::Value> = history.iter().map(|h| duckdb::types::Value::Text(h.grading_id.clone())).collect();
        let mut st = conn.prepare(sql::REPORT_ROLLUP_HISTORY)?;
        let mut q = st.query(params![duckdb::types::Value::List(ids)])?;
        while let Some(r) = q.next()? {
            rollup_history.entry(r.get(2)?).or_default().insert(r.get(0)?, r.get(3)?);
        }
    }

    lap("history");
    let mut errors = Vec::new();
    {
        let mut st = conn.prepare(sql::REPORT_ERRORS)?;
        let mut q = st.query(params![run_id])?;
        while let Some(r) = q.next()? {
            errors.push(RunError {
                stage: r.get(0)?,
                source: r.get(1)?,
                kind: r.get(2)?,
                severity: r.get(3)?,
                file: r.get(4)?,
                line: r.get(5)?,
                entity_ref: r.get(6)?,
                message: r.get(7)?,
            });
        }
    }
    let mut rejected = Vec::new();
    {
        let mut st = conn.prepare(sql::REPORT_REJECTED)?;
        let mut q = st.query(params![run_id])?;
        while let Some(r) = q.next()? {
            rejected.push(Rejected {
                file: r.get(0)?,
                doc: r.get(1)?,
                line: r.get(2)?,
                status: r.get(3)?,
                entity_ref: r.get(4)?,
                error: r.get(5)?,
            });
        }
    }
    let mut sources = Vec::new();
    {
        let mut st = conn.prepare(sql::REPORT_SOURCES)?;
        let mut q = st.query(params![run_id])?;
        while let Some(r) = q.next()? {
            sources.push(SourceStat { source: r.get(0)?, facts: r.get(1)?, entities: r.get(2)?, oldest: r.get(3)?, newest: r.get(4)? });
        }
    }

    lap("errors, rejected, sources");
    let migrations = load_migrations(conn, &run)?;
    let roi: Option<crate::roi::Model> = {
        let mut st = conn.prepare(sql::REPORT_ROI_MODEL)?;
        let mut q = st.query(params![run.run_id])?;
        match q.next()? {
            Some(r) => Some(serde_json::from_str(&r.get::<_, String>(0)?).context("the run's ROI model")?),
            None => None,
        }
    };
    lap("migrations and ROI");
    // the facts the pages show: what the checks, the migrations and the ROI model read (a
    // source may bring many more, which no page shows)
    let read: Vec<duckdb::types::Value> = checks
        .iter()
        .flat_map(|c| c.facts.iter())
        .chain(migrations.iter().flat_map(|m| m.done_facts.iter()))
        .map(String::as_str)
        .chain(roi.iter().flat_map(|m| m.facts()))
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(|f| duckdb::types::Value::Text(f.to_owned()))
        .collect();
    let mut facts: HashMap<String, Vec<Fact>> = HashMap::default();
    {
        // names, sources and times repeat across thousands of facts: one shared value each,
        // read without allocating when already known
        let mut interned: HashMap<String, minijinja::Value> = HashMap::default();
        let mut times: HashMap<i64, minijinja::Value> = HashMap::default();
        let mut intern = |s: &str| match interned.get(s) {
            Some(v) => v.clone(),
            None => {
                let v = minijinja::Value::from(s);
                interned.insert(s.to_owned(), v.clone());
                v
            }
        };
        // read column by column from DuckDB's Arrow batches: a hundred thousand facts read row
        // by row spent more time in the driver than in the query
        use duckdb::arrow::array::{Array, AsArray};
        use duckdb::arrow::datatypes::{DataType, Float64Type, Int64Type};
        let mut st = conn.prepare(sql::REPORT_FACTS)?;
        for batch in st.query_arrow(params![run_id, grading_as_of, duckdb::types::Value::List(read)])? {
            let col = |i: usize, t: &DataType| duckdb::arrow::compute::cast(batch.column(i), t).context("reading the run's facts");
            let (entity, fact, source, kind, text, json) = (
                col(0, &DataType::Utf8)?,
                col(1, &DataType::Utf8)?,
                col(2, &DataType::Utf8)?,
                col(3, &DataType::Utf8)?,
                col(6, &DataType::Utf8)?,
                col(7, &DataType::Utf8)?,
            );
            let (num, boolean, micros) = (col(4, &DataType::Float64)?, col(5, &DataType::Boolean)?, col(8, &DataType::Int64)?);
            let (entity, fact, source, kind) =
                (entity.as_string::<i32>(), fact.as_string::<i32>(), source.as_string::<i32>(), kind.as_string::<i32>());
            let (text, json) = (text.as_string::<i32>(), json.as_string::<i32>());
            let (num, boolean, micros) = (num.as_primitive::<Float64Type>(), boolean.as_boolean(), micros.as_primitive::<Int64Type>());
            for i in 0..batch.num_rows() {
                let value = match kind.value(i) {
                    "number" => num.is_valid(i).then(|| number(num.value(i))),
                    "boolean" => boolean.is_valid(i).then(|| boolean.value(i).to_string()),
                    "text" => text.is_valid(i).then(|| text.value(i).to_owned()),
                    _ => json.is_valid(i).then(|| json.value(i).to_owned()),
                }
                .unwrap_or_else(|| "null".into());
                let us = micros.value(i);
                let observed_at = times
                    .entry(us)
                    .or_insert_with(|| {
                        let t = chrono::DateTime::from_timestamp_micros(us).unwrap_or_default();
                        minijinja::Value::from(t.format("%Y-%m-%d %H:%M:%S").to_string())
                    })
                    .clone();
                let f = Fact { fact: intern(fact.value(i)), source: intern(source.value(i)), value, observed_at, observed_us: us };
                let e = entity.value(i);
                match facts.get_mut(e) {
                    // the latest observation of each fact (a replayed run has several)
                    Some(v) => match v.iter_mut().find(|x| x.fact.as_str() == f.fact.as_str()) {
                        Some(x) if x.observed_us < f.observed_us => *x = f,
                        Some(_) => {}
                        None => v.push(f),
                    },
                    None => {
                        facts.insert(e.to_owned(), vec![f]);
                    }
                }
            }
        }
    }

    lap("facts");
    tracing::debug!(
        laps = %laps.iter().map(|(n, d)| format!("{n} {} ms", d.as_millis())).collect::<Vec<_>>().join(", "),
        "run read"
    );
    Ok(RunData {
        roi,
        migrations,
        run,
        grading_id: grading_id.unwrap_or_default().to_owned(),
        grading_as_of,
        ladder,
        checks,
        gates,
        entities,
        index,
        relations,
        grades,
        details,
        facts,
        rollups,
        history,
        rollup_history,
        errors,
        rejected,
        exemptions,
        sources,
    })
}

/// The run's migrations with their states and history (`sql/report/migration_*.sql`).
pub fn load_migrations(conn: &Connection, run: &RunInfo) -> Result<Vec<MigrationData>> {
    let mut out: Vec<MigrationData> = Vec::new();
    let mut st = conn.prepare(sql::REPORT_MIGRATION_DEFS)?;
    let mut q = st.query(params![run.run_id])?;
    while let Some(r) = q.next()? {
        out.push(MigrationData {
            id: r.get(0)?,
            title: r.get(1)?,
            description: r.get(2)?,
            owner: r.get(3)?,
            start: r.get(4)?,
            deadline: r.get(5)?,
            applies_to: r.get(6)?,
            done: r.get(7)?,
            started: r.get(8)?,
            done_facts: json_list(&r.get::<_, String>(9)?),
            defined_at: r.get(10)?,
            states: Vec::new(),
            history: Vec::new(),
            exemptions: Vec::new(),
            scope_history: HashMap::default(),
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let pos: HashMap<String, usize> = out.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
    let mut st = conn.prepare(sql::REPORT_MIGRATION_STATES)?;
    let mut q = st.query(params![run.run_id])?;
    while let Some(r) = q.next()? {
        let id: String = r.get(0)?;
        if let Some(i) = pos.get(&id) {
            out[*i].states.push((r.get(1)?, r.get(2)?));
        }
    }
    let mut st = conn.prepare(sql::REPORT_MIGRATION_EXEMPTIONS)?;
    let mut q = st.query(params![run.run_id])?;
    while let Some(r) = q.next()? {
        let id: String = r.get(0)?;
        if let Some(i) = pos.get(&id) {
            let defined_at: String = r.get(7)?;
            let (file, line) = defined_at.rsplit_once(':').map(|(f, l)| (f.to_owned(), l.parse().unwrap_or(0))).unwrap_or((defined_at, 0));
            out[*i].exemptions.push(Exemption {
                entity_ref: r.get(1)?,
                check_id: id.clone(),
                reason: r.get(2)?,
                approver: r.get(3)?,
                justification: r.get(4)?,
                expires: r.get(5)?,
                status: r.get(6)?,
                file,
                line,
            });
        }
    }
    // one query gives every scope's history; a migration's own is the sum of its domains
    // (every component has one domain, '' when none)
    let mut st = conn.prepare(sql::REPORT_MIGRATION_SCOPE_HISTORY)?;
    let mut q = st.query(params![run.pipeline, run.as_of, run.run_id])?;
    let mut totals: Vec<BTreeMap<String, (i64, i64, i64)>> = vec![BTreeMap::new(); out.len()];
    while let Some(r) = q.next()? {
        let id: String = r.get(0)?;
        let Some(i) = pos.get(&id) else { continue };
        let (scope, scope_ref, day): (String, String, String) = (r.get(1)?, r.get(2)?, r.get(3)?);
        let (left, done, total): (i64, i64, i64) = (r.get(4)?, r.get(5)?, r.get(6)?);
        if scope == "domain" {
            let t = totals[*i].entry(day.clone()).or_default();
            t.0 += left;
            t.1 += done;
            t.2 += total;
        }
        out[*i].scope_history.entry((scope, scope_ref)).or_default().push((day, left));
    }
    for (m, t) in out.iter_mut().zip(totals) {
        m.history = t.into_iter().map(|(day, (l, d, n))| (day, l, d, n)).collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_on_one_thread_and_puts_the_setting_back() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("set threads = 3").unwrap();
        let threads = |c: &Connection| -> i64 { c.query_row(sql::REPORT_THREADS, [], |r| r.get(0)).unwrap() };
        {
            let _one = OneThread::set(&conn);
            assert_eq!(threads(&conn), 1);
        }
        assert_eq!(threads(&conn), 3);
    }
}
