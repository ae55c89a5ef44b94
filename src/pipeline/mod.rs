//! The runner: lock → record the run → collect (catalog sources, then fact sources
//! concurrently) → load (one transaction) → export → outcome with its exit policy.
//!
//! Exit policy (design §8): every problem is recorded whatever happens. A run is
//! * `ok` when nothing went wrong,
//! * `partial` when problems were recorded but each class stayed within the pipeline's
//!   `tolerances` (exit 0: the data that could be read is loaded and exported),
//! * `failed` when a tolerance was exceeded, a required fact source could not be read at
//!   all, no catalog entity could be read, or the load itself failed (exit 2).

pub mod fingerprint;
pub mod init;
pub mod shard;

use crate::store::sql;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::catalog::files::{read_catalog, FilesOptions};
use crate::catalog::{Catalog, Severity};
use crate::config::{CatalogSource, FactSource, Pipeline};
use crate::sources::{facts_files, SourceErrorKind, SourceOutput};
use crate::store::{DbLock, RunEnd, RunStart, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Partial,
    Failed,
    /// the inputs equal the newest completed run's: nothing was stored, graded or published
    Unchanged,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Unchanged => "unchanged",
        }
    }
}

/// What a run did, for the summary line and the exit code.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    pub database: PathBuf,
    pub output_dir: PathBuf,
    pub entities: usize,
    pub relations: usize,
    pub facts: usize,
    /// problems of severity error (warnings are counted apart)
    pub errors: usize,
    pub warnings: usize,
    pub rejected_descriptors: usize,
    pub reference_errors: usize,
    pub fact_errors: usize,
    /// why the run failed, one line per reason
    pub failures: Vec<String>,
    /// the first problems, for the terminal (all are in the database)
    pub problems: Vec<String>,
    pub exports: Vec<PathBuf>,
    /// the static site rendered from the run (None when the run failed before it)
    pub site: Option<crate::report::SiteStats>,
    /// the run's grading, when the pipeline grades
    pub grading: Option<crate::grade::engine::Outcome>,
    /// per fact source: name, facts, errors and what it spent (requests, points, 304s)
    pub sources: Vec<serde_json::Value>,
    /// migration id → state → components
    pub migrations: BTreeMap<String, BTreeMap<String, usize>>,
    /// older runs the pipeline's retention dropped after this one
    pub pruned: usize,
    pub gates: Vec<crate::grade::gates::GateResult>,
    /// wall seconds per step: catalog, facts, load, grade, migrations, export, site, retention
    pub timings: Vec<(&'static str, f64)>,
    /// for an unchanged run: the completed run whose inputs it found again
    pub same_as: Option<String>,
}

impl RunOutcome {
    /// Exit code: 2 when the run failed, 1 when it completed but a gate failed, else 0.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            RunStatus::Failed => 2,
            _ if self.gates.iter().any(|g| !g.passed) => 1,
            _ => 0,
        }
    }
}

/// Grades a stored run in its own transaction; problems of the grading (checks failing on
/// some rows, exemptions naming unknown entities) are stored with the run's errors.
pub fn grade_stored_run(
    store: &mut Store,
    run_id: &str,
    kind: &str,
    as_of: DateTime<Utc>,
    setup: &crate::grade::engine::Setup,
    gates: &[crate::config::Gate],
) -> Result<(crate::grade::engine::Outcome, Vec<crate::grade::gates::GateResult>)> {
    let conn = store.conn_mut();
    let t0 = std::time::Instant::now();
    let staged = crate::grade::engine::stage(conn, run_id, as_of, setup)?;
    if gates.iter().any(|g| matches!(g, crate::config::Gate::MinLevel { .. })) {
        // a min_level gate reads the wide view (its `where`)
        crate::grade::engine::build_wide(conn, run_id, as_of, &setup.facts)?;
    }
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "grading staged");
    let tx = conn.transaction()?;
    let grading_id = crate::grade::engine::next_grading_id(&tx, run_id)?;
    let outcome = crate::grade::engine::persist(&tx, run_id, &grading_id, kind, as_of, setup, &staged)?;
    let gate_results = crate::grade::gates::evaluate(&tx, &grading_id, &setup.ladder, gates, &setup.facts)?;
    if kind == "run" {
        for p in &outcome.problems {
            tx.execute(sql::GRADING_ERROR, duckdb::params![run_id, p])?;
        }
        for w in &outcome.warnings {
            tx.execute(sql::GRADING_WARNING, duckdb::params![run_id, w])?;
        }
        if !outcome.problems.is_empty() {
            tx.execute(sql::RUN_ADD_ERRORS, duckdb::params![outcome.problems.len() as i64, run_id])?;
        }
    }
    let t0 = std::time::Instant::now();
    tx.commit()?;
    tracing::debug!(elapsed_ms = t0.elapsed().as_millis() as u64, "grading committed");
    Ok((outcome, gate_results))
}

fn new_run_id(t: DateTime<Utc>) -> String {
    format!("r{}-{:05}", t.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id() % 100_000)
}

/// Collects every catalog source (sources are read one after the other; a file seen by
/// two sources is read by each).
fn collect_catalog(p: &Pipeline) -> Catalog {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut reports = Vec::new();
    let mut files_read = 0;
    let mut bytes_read = 0;
    for src in &p.catalog {
        match src {
            CatalogSource::Files { paths, exclude, max_file_bytes, follow_locations } => {
                let opts = FilesOptions {
                    base_dir: p.dir.clone(),
                    max_file_bytes: *max_file_bytes,
                    follow_locations: *follow_locations,
                    exclude: exclude.clone(),
                };
                let out = read_catalog(paths, &opts);
                files_read += out.files_read;
                bytes_read += out.bytes_read;
                docs.extend(out.docs);
                errors.extend(out.errors);
                reports.extend(out.reports);
            }
            CatalogSource::Backstage(cfg) => {
                let out = tokio::runtime::Handle::current().block_on(crate::catalog::backstage::discover(cfg));
                files_read += out.files_read;
                bytes_read += out.bytes_read;
                docs.extend(out.docs);
                errors.extend(out.errors);
                reports.extend(out.reports);
            }
            CatalogSource::GitHub(cfg) => {
                // called on a blocking thread of the runtime: wait for the async reads here
                let out = tokio::runtime::Handle::current().block_on(crate::sources::github::discovery::discover(cfg));
                files_read += out.files_read;
                bytes_read += out.bytes_read;
                docs.extend(out.docs);
                errors.extend(out.errors);
                reports.extend(out.reports);
            }
        }
    }
    let mut catalog = Catalog::assemble(docs, errors, reports);
    catalog.files_read = files_read;
    catalog.bytes_read = bytes_read;
    catalog
}

/// The catalog's components as the signal sources see them: ref, name as written,
/// annotations.
pub fn components_of(catalog: &Catalog) -> Vec<crate::sources::prometheus::Component> {
    catalog
        .entities
        .iter()
        .filter(|e| e.kind.eq_ignore_ascii_case("component"))
        .map(|e| crate::sources::prometheus::Component {
            entity_ref: e.ref_str.clone(),
            name: e.value.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or(&e.entity_ref.name).to_owned(),
            annotations: e
                .value
                .pointer("/metadata/annotations")
                .and_then(|a| a.as_object())
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// Where a run's facts come from.
pub enum FactsFrom {
    /// every fact source, read now
    Collect,
    /// the shards of a sharded run (see [`shard`]) for the sources shards collect; the fact
    /// files are read now
    Shards(Vec<shard::Found>),
}

/// Runs the fact sources concurrently (file sources on blocking threads, HTTP sources as
/// tasks); `files_only`: only the fact files (the rest came from shards).
async fn collect_facts(
    p: &Pipeline,
    catalog: &Catalog,
    started: DateTime<Utc>,
    store: &Store,
    files_only: bool,
) -> Result<Vec<SourceOutput>> {
    let known: HashSet<String> = catalog.entities.iter().map(|e| e.ref_str.clone()).collect();
    let known = std::sync::Arc::new(known);
    let components = std::sync::Arc::new(components_of(catalog));
    let mut set = tokio::task::JoinSet::new();
    let t0 = std::time::Instant::now();
    for (i, src) in p.facts.iter().enumerate().filter(|(_, s)| !files_only || !shard::is_sharded(s)) {
        let known = known.clone();
        let dir = p.dir.clone();
        match src.clone() {
            FactSource::Files { name, paths, required, .. } => {
                set.spawn_blocking(move || (i, facts_files::collect(&name, &paths, &dir, &known, started, required)));
            }
            FactSource::Prometheus(cfg) => {
                let components = components.clone();
                set.spawn(async move { (i, crate::sources::prometheus::collect(&cfg, &components, started).await) });
            }
            FactSource::Zoekt(cfg) => {
                let components = components.clone();
                set.spawn(async move { (i, crate::sources::zoekt::collect(&cfg, &components, started).await) });
            }
            FactSource::CodeScene(cfg) => {
                let components = components.clone();
                let cache = earlier_cache(store, &cfg.name);
                set.spawn(async move { (i, crate::sources::codescene::collect(&cfg, &components, cache, started).await) });
            }
            FactSource::GitHub(cfg) => {
                let components = components.clone();
                let cache = earlier_cache(store, &cfg.name);
                set.spawn(async move { (i, crate::sources::github::collect(&cfg, &components, cache, started).await) });
            }
        }
    }
    join_sources(set, t0).await
}

/// What earlier runs kept for a source (GitHub snapshots, watermarks and ETags; CodeScene
/// hotspot summaries); none after a read error, so the source reads everything.
fn earlier_cache(store: &Store, source: &str) -> Vec<crate::sources::CacheEntry> {
    store.source_cache(source).unwrap_or_else(|e| {
        tracing::warn!(source, "cannot read the source cache, reading everything: {e:#}");
        Vec::new()
    })
}

/// The outputs of the sources spawned on `set`, in the pipeline's order, each with the wall
/// seconds from `t0` to its end in its stats (`seconds`).
pub(crate) async fn join_sources(
    mut set: tokio::task::JoinSet<(usize, SourceOutput)>,
    t0: std::time::Instant,
) -> Result<Vec<SourceOutput>> {
    let mut outs = Vec::new();
    let total = set.len();
    while let Some(r) = set.join_next().await {
        let (i, mut o) = r.context("a fact source panicked")?;
        crate::progress::message(format!("{} of {total} sources done ({} gave {} facts)", outs.len() + 1, o.name, o.facts.len()));
        o.stats.insert("seconds".into(), json!((t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0));
        outs.push((i, o));
    }
    outs.sort_by_key(|(i, _)| *i);
    Ok(outs.into_iter().map(|(_, o)| o).collect())
}

/// Runs a pipeline once; `grading` is the validated setup of its checks (see
/// [`crate::grade::setup`]), `None` when it does not grade.
///
/// `as_of`: grade the facts observed up to that time instead of the run's start (a replay of
/// a past date from dated facts; the run is recorded with that `as_of` and its history and
/// pages order by it).
pub async fn run(p: &Pipeline, grading: Option<crate::grade::engine::Setup>, as_of: Option<DateTime<Utc>>) -> Result<RunOutcome> {
    run_from(p, grading, as_of, FactsFrom::Collect, false).await
}

/// [`run`] with the facts of the sources from `facts`: `echo-health merge` stores, grades and
/// publishes the shards of a sharded run as one run.
///
/// A run whose inputs (see [`fingerprint`]) equal the newest completed run's is recorded as
/// `unchanged`, keeping only the sources' caches: its grades, pages and exports would be the
/// same. `full` stores, grades and publishes it anyway.
pub async fn run_from(
    p: &Pipeline,
    grading: Option<crate::grade::engine::Setup>,
    as_of: Option<DateTime<Utc>>,
    facts: FactsFrom,
    full: bool,
) -> Result<RunOutcome> {
    let lock = DbLock::acquire(&p.database)?;
    let started = Utc::now();
    let as_of = as_of.unwrap_or(started);
    let run_id = new_run_id(started);
    let mut store = Store::open(&p.database)?;
    let interrupted = store.mark_interrupted()?;
    if interrupted > 0 {
        tracing::warn!(count = interrupted, "earlier runs were interrupted and are now marked failed");
    }
    store.begin_run(&RunStart {
        run_id: run_id.clone(),
        pipeline: p.name.clone(),
        pipeline_file: p.file.display().to_string(),
        started_at: started,
        as_of,
    })?;
    tracing::info!(run_id, pipeline = p.name, "run started");

    let mut timings: Vec<(&'static str, f64)> = Vec::new();
    let mut step = std::time::Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((name, step.elapsed().as_secs_f64()));
        step = std::time::Instant::now();
    };
    crate::progress::step("catalog");
    let p2 = p.clone();
    let catalog = tokio::task::spawn_blocking(move || collect_catalog(&p2)).await.context("catalog collection panicked")?;
    lap("catalog", &mut timings);
    crate::progress::message(format!("{} entities", catalog.entities.len()));
    crate::progress::step("facts");
    tracing::info!(entities = catalog.entities.len(), errors = catalog.error_count(), "catalog collected");
    let sources = match facts {
        FactsFrom::Collect => collect_facts(p, &catalog, started, &store, false).await?,
        FactsFrom::Shards(shards) => {
            let files = collect_facts(p, &catalog, started, &store, true).await?;
            let components = components_of(&catalog);
            let (p2, shards2) = (p.clone(), shards);
            let sharded = tokio::task::spawn_blocking(move || shard::load_shards(&p2, &shards2, &components))
                .await
                .context("reading the shards panicked")?;
            let mut sharded = match sharded {
                Ok(s) => s,
                Err(e) => {
                    let msg = format!("reading the shards failed: {e:#}");
                    store.fail_run(&run_id, &msg, Utc::now())?;
                    return Err(anyhow::anyhow!(msg));
                }
            };
            // in the pipeline's order
            let mut all = Vec::new();
            let mut files = files.into_iter();
            for src in &p.facts {
                if shard::is_sharded(src) {
                    if let Some(i) = sharded.iter().position(|s| s.name == src.name()) {
                        all.push(sharded.swap_remove(i));
                    }
                } else if let Some(f) = files.next() {
                    all.push(f);
                }
            }
            all
        }
    };
    let facts: usize = sources.iter().map(|s| s.facts.len()).sum();
    lap("facts", &mut timings);
    tracing::info!(facts, "facts collected");

    // classify problems against the tolerances
    let rejected = catalog.rejected_count();
    let reference_errors = catalog
        .errors
        .iter()
        .filter(|e| e.severity == Severity::Error && !e.kind.is_rejected_descriptor() && e.kind != crate::catalog::ErrorKind::Source)
        .count();
    let fact_errors: usize = sources
        .iter()
        .flat_map(|s| &s.errors)
        .filter(|e| matches!(e.kind, SourceErrorKind::BadRecord | SourceErrorKind::UnknownEntity))
        .count();
    let source_unavailable: usize = sources
        .iter()
        .flat_map(|s| &s.errors)
        .filter(|e| matches!(e.kind, SourceErrorKind::Unavailable | SourceErrorKind::QueryFailed))
        .count();
    let source_warnings = sources.iter().flat_map(|s| &s.errors).filter(|e| e.kind.severity() == "warning").count();
    let warnings = catalog.errors.iter().filter(|e| e.severity == Severity::Warning).count() + source_warnings;
    let errors = catalog.error_count() + fact_errors + source_unavailable;
    let t = &p.tolerances;
    let mut failures = Vec::new();
    if rejected as u64 > t.max_rejected_descriptors {
        failures.push(format!(
            "{rejected} descriptor documents rejected, more than tolerances.max_rejected_descriptors = {}",
            t.max_rejected_descriptors
        ));
    }
    if reference_errors as u64 > t.max_reference_errors {
        failures
            .push(format!("{reference_errors} reference errors, more than tolerances.max_reference_errors = {}", t.max_reference_errors));
    }
    if fact_errors as u64 > t.max_fact_errors {
        failures.push(format!("{fact_errors} fact records rejected, more than tolerances.max_fact_errors = {}", t.max_fact_errors));
    }
    for s in &sources {
        // unreadable: the source said so, or it gave nothing and every read it tried failed
        let unreadable = s.unavailable
            || (s.facts.is_empty()
                && s.errors.iter().any(|e| matches!(e.kind, SourceErrorKind::Unavailable | SourceErrorKind::QueryFailed)));
        if unreadable && s.required {
            failures.push(format!("required fact source {} could not be read", s.name));
        }
    }
    if catalog.entities.is_empty() {
        failures.push("no catalog entity could be read".into());
    }
    // a catalog source that could not be read leaves the catalog incomplete: components would
    // seem to vanish, so the run is recorded but not published as the organisation's state
    for e in catalog.errors.iter().filter(|e| e.kind == crate::catalog::ErrorKind::Source && e.severity == Severity::Error) {
        failures.push(format!("catalog source could not be read: {}", e.message));
    }
    let mut status = if !failures.is_empty() {
        RunStatus::Failed
    } else if errors > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    };

    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &catalog.reports {
        *by_status.entry(r.status.as_str()).or_default() += 1;
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &catalog.errors {
        *by_kind.entry(e.kind.as_str()).or_default() += 1;
    }
    let fingerprint = fingerprint::fingerprint(p, &catalog, &sources, as_of);
    let mut summary = json!({
        "fingerprint": fingerprint,
        "catalog": {"files_read": catalog.files_read, "bytes_read": catalog.bytes_read, "documents": by_status, "problems": by_kind},
        "sources": sources.iter().map(|s| json!({"name": s.name, "facts": s.facts.len(), "errors": s.errors.len(), "unavailable": s.unavailable, "required": s.required, "stats": s.stats})).collect::<Vec<_>>(),
        "tolerances": {"max_rejected_descriptors": t.max_rejected_descriptors, "max_reference_errors": t.max_reference_errors, "max_fact_errors": t.max_fact_errors},
        "counts": {"rejected_descriptors": rejected, "reference_errors": reference_errors, "fact_errors": fact_errors, "unavailable_sources": source_unavailable},
        "failures": failures,
    });
    // nothing changed since the newest completed run: record that, keep the sources' caches
    let previous = match (status, full) {
        (RunStatus::Failed, _) | (_, true) => None,
        _ => store.last_fingerprint(&p.name).unwrap_or_else(|e| {
            tracing::warn!("cannot read the previous run's fingerprint (running in full): {e:#}");
            None
        }),
    };
    if let Some((same_as, _, previous_gates)) = previous.filter(|(_, fp, _)| *fp == fingerprint) {
        summary["same_as"] = json!(same_as);
        let end = RunEnd {
            status: RunStatus::Unchanged.as_str(),
            finished_at: Utc::now(),
            entities: catalog.entities.len(),
            relations: catalog.relations.len(),
            facts,
            errors,
            warnings,
            message: Some(format!("nothing changed since run {same_as}: same catalog, facts, configuration and date")),
            summary,
        };
        crate::progress::finish();
        if let Err(e) = store.record_unchanged(&run_id, &sources, &end) {
            let msg = format!("recording the unchanged run failed: {e:#}");
            store.fail_run(&run_id, &msg, Utc::now())?;
            return Err(anyhow::anyhow!(msg));
        }
        lap("load", &mut timings);
        tracing::info!(run_id, same_as, "nothing changed: the run is recorded as unchanged");
        drop(store);
        drop(lock);
        return Ok(RunOutcome {
            run_id,
            status: RunStatus::Unchanged,
            database: p.database.clone(),
            output_dir: p.output.clone(),
            entities: catalog.entities.len(),
            relations: catalog.relations.len(),
            facts,
            errors,
            warnings,
            rejected_descriptors: rejected,
            reference_errors,
            fact_errors,
            failures,
            problems: Vec::new(),
            exports: Vec::new(),
            site: None,
            grading: None,
            sources: sources
                .iter()
                .map(|s| json!({"name": s.name, "facts": s.facts.len(), "errors": s.errors.len(), "unavailable": s.unavailable, "stats": s.stats}))
                .collect(),
            migrations: BTreeMap::new(),
            pruned: 0,
            // the verdicts stand: a gate that failed fails again
            gates: previous_gates,
            timings,
            same_as: Some(same_as),
        });
    }
    let end = RunEnd {
        status: status.as_str(),
        finished_at: Utc::now(),
        entities: catalog.entities.len(),
        relations: catalog.relations.len(),
        facts,
        errors,
        warnings,
        message: (!failures.is_empty()).then(|| failures.join("; ")),
        summary,
    };

    // load (one transaction) on the store's own thread
    crate::progress::step("load");
    let rid = run_id.clone();
    let (mut store, mut catalog, mut sources, load) = tokio::task::spawn_blocking(move || {
        let r = store.load_run(&rid, &catalog, &sources, &end);
        (store, catalog, sources, r)
    })
    .await
    .context("loading panicked")?;
    let loaded = load.is_ok();
    // what the outcome reports, then (once stored) the bulk goes: grading, exports and the
    // site read the database, and the peak memory of a run is what they add to this
    let (entity_count, relation_count) = (catalog.entities.len(), catalog.relations.len());
    let mut problems: Vec<String> = catalog.errors.iter().filter(|e| e.severity == Severity::Error).map(|e| e.message.clone()).collect();
    problems.extend(sources.iter().flat_map(|s| s.errors.iter().filter(|e| e.kind.severity() == "error").map(|e| e.message.clone())));
    let source_summaries: Vec<serde_json::Value> = sources
        .iter()
        .map(|s| json!({"name": s.name, "facts": s.facts.len(), "errors": s.errors.len(), "unavailable": s.unavailable, "stats": s.stats}))
        .collect();
    if loaded {
        catalog = Catalog::default();
        sources = Vec::new();
    }
    drop(sources);
    lap("load", &mut timings);
    tracing::info!(loaded, "run loaded");
    if let Err(e) = load {
        let msg = format!("loading the run into {} failed (nothing of it was kept): {e:#}", p.database.display());
        store.fail_run(&run_id, &msg, Utc::now())?;
        failures.push(msg);
        status = RunStatus::Failed;
    }

    // grade the stored run (its own transaction: the load is kept even if grading fails)
    let mut graded = None;
    let mut gates = Vec::new();
    if let (Some(setup), true) = (grading, status != RunStatus::Failed) {
        crate::progress::step("grade");
        let gate_defs = p.grading.as_ref().map(|g| g.gates.clone()).unwrap_or_default();
        let rid = run_id.clone();
        let (s, result) = tokio::task::spawn_blocking(move || {
            let r = grade_stored_run(&mut store, &rid, "run", as_of, &setup, &gate_defs);
            (store, r)
        })
        .await
        .context("grading panicked")?;
        store = s;
        match result {
            Ok((o, g)) => {
                if !o.problems.is_empty() && status == RunStatus::Ok {
                    status = RunStatus::Partial;
                }
                graded = Some(o);
                gates = g;
            }
            Err(e) => {
                let msg = format!("grading the run failed: {e:#}");
                store.fail_run(&run_id, &msg, Utc::now())?;
                failures.push(msg);
                status = RunStatus::Failed;
            }
        }
    }

    lap("grade", &mut timings);
    // the ROI cost model the run's page will use (every assumption, kept with the run)
    if let (true, Some(model)) = (loaded, &p.roi) {
        let stored = serde_json::to_string(model)
            .map_err(anyhow::Error::from)
            .and_then(|m| store.conn().execute(sql::ROI_MODEL_INSERT, duckdb::params![run_id, m]).map_err(anyhow::Error::from));
        if let Err(e) = stored {
            let msg = format!("storing the ROI cost model failed: {e:#}");
            store.fail_run(&run_id, &msg, Utc::now())?;
            failures.push(msg);
            status = RunStatus::Failed;
        }
    }
    // migration states of the stored run (their own statement: the load is kept if they fail)
    let mut migrations = BTreeMap::new();
    let mut migration_problems: Vec<String> = Vec::new();
    if loaded && status != RunStatus::Failed && !p.migrations.is_empty() {
        crate::progress::step("migrations");
        let facts = crate::grade::fact_set(p);
        let evaluated = crate::migrate::setup(p)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|setup| crate::migrate::evaluate(store.conn(), &run_id, as_of, &facts, &setup));
        match evaluated {
            Ok(ev) => {
                for m in &ev.problems {
                    tracing::warn!("{m}");
                }
                if !ev.problems.is_empty() && status == RunStatus::Ok {
                    status = RunStatus::Partial;
                }
                migration_problems = ev.problems;
                migrations = ev.counts;
            }
            Err(e) => {
                let msg = format!("evaluating the migrations failed: {e:#}");
                store.fail_run(&run_id, &msg, Utc::now())?;
                failures.push(msg);
                status = RunStatus::Failed;
            }
        }
    }

    lap("migrations", &mut timings);
    crate::progress::step("export");
    let mut exports = Vec::new();
    if loaded {
        // from the database, as `echo-health report` writes them: catalog.json with grades,
        // tables, OpenMetrics, Alertmanager
        let grading_id = graded.as_ref().map(|g| g.grading_id.clone());
        match crate::export::run::export_run(store.conn(), &run_id, grading_id.as_deref(), &p.output, &p.exports) {
            Ok(paths) => exports.extend(paths),
            Err(e) => {
                let msg = format!("writing the exports to {} failed: {e:#}", p.output.display());
                store.fail_run(&run_id, &msg, Utc::now())?;
                failures.push(msg);
                status = RunStatus::Failed;
            }
        }
    } else if !catalog.entities.is_empty() {
        // the run could not be stored: the catalog as read is still exported
        match crate::export::write_catalog(&catalog, &p.output) {
            Ok(path) => exports.push(path),
            Err(e) => {
                let msg = format!("writing catalog.json to {} failed: {e:#}", p.output.display());
                store.fail_run(&run_id, &msg, Utc::now())?;
                failures.push(msg);
                status = RunStatus::Failed;
            }
        }
    }
    lap("export", &mut timings);
    // the static site, from the database alone (as `echo-health report` renders it)
    let mut site = None;
    if status != RunStatus::Failed {
        let grading_id = graded.as_ref().map(|g| g.grading_id.clone());
        tracing::info!(dir = %p.output.join("site").display(), "rendering the site");
        crate::progress::step("site");
        let rendered = crate::report::custom::load(&p.reports, &p.dir)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|custom| crate::report::render_run(store.conn(), &run_id, grading_id.as_deref(), &p.output.join("site"), &custom));
        match rendered {
            Ok(s) => {
                exports.push(s.dir.clone());
                site = Some(s);
            }
            Err(e) => {
                let msg = format!("rendering the site into {} failed: {e:#}", p.output.join("site").display());
                store.fail_run(&run_id, &msg, Utc::now())?;
                failures.push(msg);
                status = RunStatus::Failed;
            }
        }
    }
    lap("site", &mut timings);
    // retention: older runs thinned out after this one is stored and published
    let mut pruned = 0;
    if let (Some(r), true) = (&p.retention, status != RunStatus::Failed) {
        match store.prune(&p.name, Utc::now(), r, false) {
            Ok(dropped) => {
                pruned = dropped.len();
                if pruned > 0 {
                    tracing::info!(runs = pruned, "retention dropped older runs");
                }
            }
            Err(e) => tracing::warn!("retention failed (nothing was dropped): {e:#}"),
        }
    }
    drop(store);
    drop(lock);
    lap("retention", &mut timings);
    crate::progress::finish();

    if let Some(g) = &graded {
        problems.extend(g.problems.iter().cloned());
        for w in &g.warnings {
            tracing::warn!("{w}");
        }
    }
    problems.extend(migration_problems.iter().cloned());
    let errors = errors + graded.as_ref().map(|g| g.problems.len()).unwrap_or(0) + migration_problems.len();
    Ok(RunOutcome {
        run_id,
        status,
        database: p.database.clone(),
        output_dir: p.output.clone(),
        entities: entity_count,
        relations: relation_count,
        facts,
        errors,
        warnings,
        rejected_descriptors: rejected,
        reference_errors,
        fact_errors,
        failures,
        problems,
        exports,
        site,
        grading: graded,
        migrations,
        pruned,
        sources: source_summaries,
        gates,
        timings,
        same_as: None,
    })
}
