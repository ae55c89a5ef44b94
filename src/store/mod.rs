//! The DuckDB store: schema migrations from `sql/schema` (applied in order, recorded), the
//! run records, and the bulk load of one run (appenders, one transaction). Knows nothing of
//! the command line. The [`Store`] owns its connection; callers on async code hand it to one
//! thread (`spawn_blocking`), never share it across tasks.

pub mod lock;
pub mod sql;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{params, Connection};
use serde_json::Value;

use crate::catalog::{Catalog, Severity};
use crate::sources::SourceOutput;

pub use lock::DbLock;

/// Relations generated from the entity's own spec (not the reverse ones other entities
/// generate): the ones whose target must exist.
fn is_spec_relation(t: &str) -> bool {
    matches!(
        t,
        "ownedBy"
            | "partOf"
            | "providesApi"
            | "consumesApi"
            | "dependsOn"
            | "dependencyOf"
            | "childOf"
            | "parentOf"
            | "hasMember"
            | "memberOf"
    )
}

/// Replaces the cache rows the sources kept for the next run (ETags, snapshots), in `tx`.
fn store_caches(tx: &duckdb::Transaction<'_>, run_id: &str, sources: &[SourceOutput]) -> Result<()> {
    tx.execute_batch(sql::SOURCE_CACHE_STAGE)?;
    let mut app = tx.appender("eh_cache_stage")?;
    let mut staged = 0usize;
    for src in sources {
        for c in &src.cache {
            app.append_row(params![src.name, c.key, c.etag, c.body, ts(c.fetched_at), run_id])?;
            staged += 1;
        }
    }
    app.flush().context("staging the source caches")?;
    drop(app);
    if staged > 0 {
        tx.execute_batch(sql::SOURCE_CACHE_MERGE).context("storing the source caches")?;
    }
    tx.execute_batch("DROP TABLE eh_cache_stage")?;
    Ok(())
}

/// Records the end of a run, in `tx`.
fn end_run(tx: &duckdb::Transaction<'_>, run_id: &str, end: &RunEnd) -> Result<()> {
    tx.execute(
        sql::END_RUN,
        params![
            end.status,
            ts(end.finished_at),
            end.entities as i64,
            end.relations as i64,
            end.facts as i64,
            end.errors as i64,
            end.warnings as i64,
            end.message,
            end.summary.to_string(),
            run_id
        ],
    )?;
    Ok(())
}

/// UTC time as DuckDB `timestamp`.
fn ts(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The start of a run, as recorded before anything is collected.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub run_id: String,
    pub pipeline: String,
    pub pipeline_file: String,
    pub started_at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
}

/// The end state of a run.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: &'static str,
    pub finished_at: DateTime<Utc>,
    pub entities: usize,
    pub relations: usize,
    pub facts: usize,
    pub errors: usize,
    pub warnings: usize,
    pub message: Option<String>,
    pub summary: Value,
}

/// Counts of one stored run, read back from its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCounts {
    pub entities: i64,
    pub relations: i64,
    pub facts: i64,
    pub errors: i64,
}

impl Store {
    /// Opens (creating it and its folder when missing) and migrates the database.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create folder {}", parent.display()))?;
        }
        let conn = Connection::open(path).with_context(|| format!("cannot open database {}", path.display()))?;
        let store = Store { conn, path: path.to_path_buf() };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory database with the schema (to prepare SQL against).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().context("cannot open an in-memory database")?;
        let store = Store { conn, path: PathBuf::from(":memory:") };
        store.migrate()?;
        Ok(store)
    }

    pub fn into_connection(self) -> Connection {
        self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Applies the schema files not applied yet, each in its own transaction, recorded in
    /// `schema_migrations`.
    fn migrate(&self) -> Result<()> {
        self.conn.execute_batch(sql::MIGRATIONS_TABLE).context("cannot create schema_migrations")?;
        for (version, name, ddl) in sql::SCHEMA {
            let applied: i64 = self.conn.query_row(sql::MIGRATION_APPLIED, params![*version], |r| r.get(0))?;
            if applied > 0 {
                continue;
            }
            let batch = format!(
                "begin transaction;\n{ddl}\ninsert into schema_migrations (version, name, applied_at) values ({version}, '{name}', current_timestamp::timestamp);\ncommit;"
            );
            if let Err(e) = self.conn.execute_batch(&batch) {
                let _ = self.conn.execute_batch("rollback");
                return Err(e).with_context(|| format!("{}: cannot apply sql/schema/{name}.sql", self.path.display()));
            }
        }
        Ok(())
    }

    /// Schema versions applied, in order.
    pub fn applied_migrations(&self) -> Result<Vec<(i64, String)>> {
        let mut st = self.conn.prepare(sql::MIGRATIONS)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs left `running` by a process that died (we hold the lock, so none is alive) are
    /// marked failed. Returns how many.
    pub fn mark_interrupted(&self) -> Result<usize> {
        let n = self.conn.execute(sql::MARK_INTERRUPTED, [])?;
        Ok(n)
    }

    /// Records the start of a run (its own small transaction, so a killed run is visible).
    pub fn begin_run(&self, r: &RunStart) -> Result<()> {
        self.conn
            .execute(sql::BEGIN_RUN, params![r.run_id, r.pipeline, r.pipeline_file, ts(r.started_at), ts(r.as_of)])
            .with_context(|| format!("cannot record run {}", r.run_id))?;
        Ok(())
    }

    /// Marks a run failed after its load was rolled back.
    pub fn fail_run(&self, run_id: &str, message: &str, finished_at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(sql::FAIL_RUN, params![message, ts(finished_at), run_id])?;
        Ok(())
    }

    /// Loads everything a run collected and closes its record, in one transaction: either
    /// all of it lands or none of it (earlier runs are never touched).
    pub fn load_run(&mut self, run_id: &str, catalog: &Catalog, sources: &[SourceOutput], end: &RunEnd) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut app = tx.appender("entities")?;
            for e in &catalog.entities {
                let meta = &e.value["metadata"];
                let spec = e.value.get("spec");
                let s = |k: &str| spec.and_then(|s| s.get(k)).and_then(Value::as_str).map(str::to_owned);
                let rels = catalog.relations_of(&e.ref_str);
                let targets = |t: &str| -> Vec<&str> { rels.iter().filter(|r| r.rel_type == t).map(|r| r.target.as_str()).collect() };
                let depends_on = targets("dependsOn");
                let deprecated =
                    depends_on.iter().filter(|t| catalog.get(t).and_then(|x| x.spec_str("lifecycle")) == Some("deprecated")).count();
                let dangling = rels.iter().filter(|r| is_spec_relation(r.rel_type) && catalog.get(&r.target).is_none()).count();
                app.append_row(params![
                    run_id,
                    e.ref_str,
                    e.kind(),
                    e.entity_ref.namespace,
                    meta["name"].as_str().unwrap_or_default(),
                    meta.get("title").and_then(Value::as_str),
                    s("type"),
                    s("lifecycle"),
                    e.resolved.owner,
                    e.resolved.system,
                    e.resolved.domain,
                    e.resolved.root_domain,
                    serde_json::to_string(&e.resolved.team_chain)?,
                    meta.get("tags").map(Value::to_string).unwrap_or_else(|| "[]".into()),
                    meta.get("annotations").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                    e.origin.file,
                    e.origin.doc as i64,
                    e.origin.line as i64,
                    serde_json::to_string(&e.augmented_by)?,
                    e.value.to_string(),
                    meta.get("description").and_then(Value::as_str),
                    meta.get("links").map(Value::to_string).unwrap_or_else(|| "[]".into()),
                    spec.map(Value::to_string).unwrap_or_else(|| "{}".into()),
                    serde_json::to_string(&depends_on)?,
                    serde_json::to_string(&targets("providesApi"))?,
                    serde_json::to_string(&targets("consumesApi"))?,
                    deprecated as i64,
                    dangling as i64,
                ])?;
            }
            app.flush().context("loading entities")?;
        }
        {
            let mut app = tx.appender("relations")?;
            for r in &catalog.relations {
                app.append_row(params![run_id, r.source, r.rel_type, r.target])?;
            }
            app.flush().context("loading relations")?;
        }
        {
            let mut app = tx.appender("facts")?;
            for src in sources {
                for f in &src.facts {
                    let (num, b, text, json) = f.value.columns();
                    app.append_row(params![
                        run_id,
                        f.entity_ref,
                        f.source,
                        f.fact,
                        f.value.type_name(),
                        num,
                        b,
                        text,
                        json,
                        ts(f.observed_at),
                        f.evidence
                    ])?;
                }
            }
            app.flush().context("loading facts")?;
        }
        {
            let mut app = tx.appender("errors")?;
            for e in &catalog.errors {
                app.append_row(params![
                    run_id,
                    "catalog",
                    "catalog",
                    e.kind.as_str(),
                    if e.severity == Severity::Error { "error" } else { "warning" },
                    e.file,
                    e.line.map(|l| l as i64),
                    e.entity,
                    e.message
                ])?;
            }
            for src in sources {
                for e in &src.errors {
                    app.append_row(params![
                        run_id,
                        "facts",
                        src.name,
                        e.kind.as_str(),
                        e.kind.severity(),
                        e.location,
                        Option::<i64>::None,
                        e.entity,
                        e.message
                    ])?;
                }
            }
            app.flush().context("loading errors")?;
        }
        {
            let mut app = tx.appender("documents")?;
            for d in &catalog.reports {
                app.append_row(params![run_id, d.file, d.doc as i64, d.line as i64, d.status.as_str(), d.entity_ref, d.error])?;
            }
            app.flush().context("loading documents")?;
        }
        store_caches(&tx, run_id, sources)?;
        end_run(&tx, run_id, end)?;
        tx.commit().context("committing the run")?;
        Ok(())
    }

    /// Applies a retention policy to pipeline `pipeline` as of `now`: returns the runs dropped
    /// (all of them when `dry_run`, nothing deleted then). Deletes in one transaction, then
    /// checkpoints so freed space is reused and the file can shrink.
    pub fn prune(&mut self, pipeline: &str, now: DateTime<Utc>, r: &crate::config::Retention, dry_run: bool) -> Result<Vec<String>> {
        let drop: Vec<String> = {
            let mut st = self.conn.prepare(sql::RETENTION_PICK)?;
            let rows = st.query_map(
                params![pipeline, ts(now), r.keep_all_days as i64, r.weekly_days as i64, r.monthly_days.map(|d| d as i64)],
                |row| row.get::<_, String>(0),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        if dry_run || drop.is_empty() {
            return Ok(drop);
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch("create or replace temp table eh_drop (run_id varchar)")?;
        {
            let mut app = tx.appender("eh_drop")?;
            for r in &drop {
                app.append_row(params![r])?;
            }
            app.flush()?;
        }
        tx.execute_batch(sql::RETENTION_DROP).context("dropping runs")?;
        tx.execute_batch("drop table eh_drop")?;
        tx.commit().context("committing the retention")?;
        self.conn.execute_batch("checkpoint").context("checkpointing after the retention")?;
        Ok(drop)
    }

    /// The newest completed run of `pipeline`: its id, fingerprint ("" before fingerprints
    /// were kept) and its grading's gate verdicts.
    pub fn last_fingerprint(&self, pipeline: &str) -> Result<Option<(String, String, Vec<crate::grade::gates::GateResult>)>> {
        let mut st = self.conn.prepare(sql::LAST_FINGERPRINT)?;
        let mut rows = st.query(params![pipeline])?;
        let Some(r) = rows.next()? else { return Ok(None) };
        let gates: String = r.get(2)?;
        Ok(Some((r.get(0)?, r.get(1)?, serde_json::from_str(&gates).unwrap_or_default())))
    }

    /// Ends a run whose inputs equal an earlier run's (status `unchanged`): only the sources'
    /// caches and the run's record are written.
    pub fn record_unchanged(&mut self, run_id: &str, sources: &[SourceOutput], end: &RunEnd) -> Result<()> {
        let tx = self.conn.transaction()?;
        store_caches(&tx, run_id, sources)?;
        end_run(&tx, run_id, end)?;
        tx.commit()?;
        Ok(())
    }

    /// What a source kept from earlier runs (see `sql/schema/006_source_cache.sql`).
    pub fn source_cache(&self, source: &str) -> Result<Vec<crate::sources::CacheEntry>> {
        let mut st = self.conn.prepare(sql::SOURCE_CACHE)?;
        let rows = st.query_map(params![source], |r| {
            let us: i64 = r.get(3)?;
            Ok(crate::sources::CacheEntry {
                key: r.get(0)?,
                etag: r.get(1)?,
                body: r.get(2)?,
                fetched_at: DateTime::from_timestamp_micros(us).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// What a stored run holds, counted from its tables.
    pub fn run_counts(&self, run_id: &str) -> Result<RunCounts> {
        Ok(self.conn.query_row(sql::RUN_COUNTS, params![run_id], |r| {
            Ok(RunCounts { entities: r.get(0)?, relations: r.get(1)?, facts: r.get(2)?, errors: r.get(3)? })
        })?)
    }

    /// (run_id, status) of every run, oldest first.
    pub fn runs(&self) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare(sql::RUNS)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
