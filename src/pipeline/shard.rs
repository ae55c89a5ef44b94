//! Sharded collection (design §9): `run --shard I/N` collects the facts of the components
//! whose ref hashes to shard I and writes them as Parquet (`shard-I-of-N/`); `merge` reads
//! every shard back and stores, grades and publishes once, as one run.
//!
//! What a shard does with each kind of source:
//! * sources that read per component (GitHub repositories, CodeScene projects) read only
//!   the shard's components: the work is split N ways;
//! * sources answering for the whole organisation in one query (Prometheus, Zoekt) are asked
//!   by every shard, which keeps the facts of its own components (the queries are repeated,
//!   the answers are split; a series or repository no component claims is reported by every
//!   shard and once by the merge);
//! * fact files are read by the merge, where the pipeline's files are.
//!
//! The catalog is read by every shard (to know its components) and again by the merge (which
//! records its problems); a component the merge sees that no shard had (the catalog changed
//! in between) is reported and has no facts from the sharded sources.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use duckdb::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{FactSource, Pipeline};
use crate::sources::prometheus::Component;
use crate::sources::{CacheEntry, Fact, FactValue, SourceError, SourceErrorKind, SourceOutput};

const STAGE: &str = include_str!("../../sql/shard/stage.sql");
const READ_FACTS: &str = include_str!("../../sql/shard/read_facts.sql");
const READ_CACHE: &str = include_str!("../../sql/shard/read_cache.sql");

/// The manifest's format name; a merge refuses other formats.
pub const FORMAT: &str = "echo-health-shard/1";

/// Shard `index` of `count` (0-based, like a Kubernetes Indexed Job's completion index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `I/N` with 0 ≤ I < N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?} is not I/N (e.g. 0/4)"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{s:?}: shard index {i:?} is not a number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{s:?}: shard count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("{s:?}: the index counts from 0 and must be below the count (0/{count} … {}/{count})", count.max(1) - 1));
        }
        Ok(Shard { index, count })
    }

    /// The shard an entity ref belongs to: FNV-1a (64 bits) of the ref's bytes, modulo the
    /// count. Stable across machines, versions and runs.
    pub fn of(entity_ref: &str, count: u32) -> u32 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in entity_ref.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % u64::from(count.max(1))) as u32
    }

    pub fn owns(&self, entity_ref: &str) -> bool {
        Shard::of(entity_ref, self.count) == self.index
    }

    /// The folder name of this shard's output: `shard-I-of-N`.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What one source of a shard returned, apart from its facts and cache (in Parquet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardSource {
    pub name: String,
    pub required: bool,
    pub unavailable: bool,
    pub facts: usize,
    pub errors: Vec<ShardError>,
    pub stats: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardError {
    pub kind: String,
    pub location: Option<String>,
    pub entity: Option<String>,
    pub message: String,
}

/// `manifest.json` of a shard's folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub pipeline: String,
    pub shard: Shard,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// the catalog's components when the shard read it, and the ones this shard collected
    pub catalog_components: usize,
    pub components: Vec<String>,
    pub sources: Vec<ShardSource>,
}

/// Whether a fact source is collected by the shards (every HTTP source) or by the merge
/// (fact files, which live with the pipeline).
pub fn is_sharded(src: &FactSource) -> bool {
    !matches!(src, FactSource::Files { .. })
}

fn kind_of(s: &str) -> SourceErrorKind {
    match s {
        "unavailable" => SourceErrorKind::Unavailable,
        "bad-record" => SourceErrorKind::BadRecord,
        "unknown-entity" => SourceErrorKind::UnknownEntity,
        "query-failed" => SourceErrorKind::QueryFailed,
        "unmatched" => SourceErrorKind::Unmatched,
        _ => SourceErrorKind::Warning,
    }
}

/// What a shard run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ShardOutcome {
    pub shard: Shard,
    pub dir: PathBuf,
    pub components: usize,
    pub facts: usize,
    pub errors: usize,
    pub sources: Vec<serde_json::Value>,
}

/// The source caches of earlier (merged) runs, read without taking the database's lock (the
/// shards of one run read it at the same time); none when there is no database yet or it
/// cannot be opened read-only (a merge is writing it).
fn earlier_caches(p: &Pipeline) -> BTreeMap<String, Vec<CacheEntry>> {
    let mut out = BTreeMap::new();
    if !p.database.exists() {
        return out;
    }
    let opened =
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).and_then(|c| Connection::open_with_flags(&p.database, c));
    let conn = match opened {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(database = %p.database.display(), "cannot read the source caches (reading everything): {e}");
            return out;
        }
    };
    for src in &p.facts {
        let name = match src {
            FactSource::GitHub(cfg) => &cfg.name,
            FactSource::CodeScene(cfg) => &cfg.name,
            _ => continue,
        };
        let rows = conn.prepare(crate::store::sql::SOURCE_CACHE).and_then(|mut st| {
            st.query_map(params![name], |r| {
                let us: i64 = r.get(3)?;
                Ok(CacheEntry {
                    key: r.get(0)?,
                    etag: r.get(1)?,
                    body: r.get(2)?,
                    fetched_at: DateTime::from_timestamp_micros(us).unwrap_or_default(),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        });
        match rows {
            Ok(r) => {
                out.insert(name.clone(), r);
            }
            Err(e) => tracing::warn!(source = name, "cannot read the source cache (reading everything): {e}"),
        }
    }
    out
}

/// Collects one shard's facts and writes them under `out_dir/shard-I-of-N` (a fresh folder
/// swapped in when complete). Fails when the catalog could not be read whole (the shard's
/// components would be wrong); source problems are recorded for the merge to judge.
pub async fn collect_shard(p: &Pipeline, shard: Shard, out_dir: &Path) -> Result<ShardOutcome> {
    let started = Utc::now();
    let p2 = p.clone();
    let catalog = tokio::task::spawn_blocking(move || super::collect_catalog(&p2)).await.context("catalog collection panicked")?;
    if let Some(e) = catalog.errors.iter().find(|e| e.kind == crate::catalog::ErrorKind::Source) {
        bail!("the catalog could not be read whole, so the shard's components are unknown: {}", e.message);
    }
    if catalog.entities.is_empty() {
        bail!("no catalog entity could be read");
    }
    let all = super::components_of(&catalog);
    let (mine, others): (Vec<Component>, Vec<Component>) = all.iter().cloned().partition(|c| shard.owns(&c.entity_ref));
    let mine_refs: HashSet<String> = mine.iter().map(|c| c.entity_ref.clone()).collect();
    let all_refs: HashSet<String> = all.iter().map(|c| c.entity_ref.clone()).collect();
    tracing::info!(shard = %shard, components = mine.len(), of = all.len(), "shard collecting");
    let mut caches = earlier_caches(p);

    let all = std::sync::Arc::new(all);
    let mine = std::sync::Arc::new(mine);
    let others = std::sync::Arc::new(others);
    let mut set = tokio::task::JoinSet::new();
    let t0 = std::time::Instant::now();
    for (i, src) in p.facts.iter().enumerate().filter(|(_, s)| is_sharded(s)) {
        match src.clone() {
            FactSource::Files { .. } => {}
            FactSource::Prometheus(cfg) => {
                let all = all.clone();
                set.spawn(async move { (i, crate::sources::prometheus::collect(&cfg, &all, started).await) });
            }
            FactSource::Zoekt(cfg) => {
                let all = all.clone();
                set.spawn(async move { (i, crate::sources::zoekt::collect(&cfg, &all, started).await) });
            }
            FactSource::CodeScene(cfg) => {
                let mine = mine.clone();
                let cache = caches.remove(&cfg.name).unwrap_or_default();
                set.spawn(async move { (i, crate::sources::codescene::collect(&cfg, &mine, cache, started).await) });
            }
            FactSource::GitHub(cfg) => {
                let (mine, others) = (mine.clone(), others.clone());
                let cache = caches.remove(&cfg.name).unwrap_or_default();
                set.spawn(async move { (i, crate::sources::github::collect_scoped(&cfg, &mine, &others, cache, started).await) });
            }
        }
    }
    let mut outs = super::join_sources(set, t0).await?;
    // whole-organisation answers: keep this shard's components (facts and their errors)
    for o in &mut outs {
        o.facts.retain(|f| mine_refs.contains(&f.entity_ref));
        o.errors.retain(|e| e.entity.as_deref().map(|r| mine_refs.contains(r) || !all_refs.contains(r)).unwrap_or(true));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        pipeline: p.name.clone(),
        shard,
        started_at: started,
        finished_at: Utc::now(),
        catalog_components: all.len(),
        components: {
            let mut v: Vec<String> = mine.iter().map(|c| c.entity_ref.clone()).collect();
            v.sort();
            v
        },
        sources: outs
            .iter()
            .map(|o| ShardSource {
                name: o.name.clone(),
                required: o.required,
                unavailable: o.unavailable,
                facts: o.facts.len(),
                errors: o
                    .errors
                    .iter()
                    .map(|e| ShardError {
                        kind: e.kind.as_str().into(),
                        location: e.location.clone(),
                        entity: e.entity.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
                stats: o.stats.clone(),
            })
            .collect(),
    };
    let target = out_dir.join(shard.dir_name());
    let dir = write_shard(&manifest, &outs, &target)?;
    Ok(ShardOutcome {
        shard,
        dir,
        components: manifest.components.len(),
        facts: outs.iter().map(|o| o.facts.len()).sum(),
        errors: outs.iter().map(|o| o.errors.len()).sum(),
        sources: outs
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "facts": s.facts.len(), "errors": s.errors.len(), "unavailable": s.unavailable, "stats": s.stats}))
            .collect(),
    })
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes `facts.parquet`, `cache.parquet` and `manifest.json` (last: a folder without it is
/// not a shard) into a temporary folder beside `target`, then swaps it in.
fn write_shard(manifest: &Manifest, outs: &[SourceOutput], target: &Path) -> Result<PathBuf> {
    let parent = target.parent().context("shard folder has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("shard");
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(STAGE)?;
        {
            let mut app = conn.appender("shard_facts")?;
            for o in outs {
                for f in &o.facts {
                    let (num, b, text, json) = f.value.columns();
                    app.append_row(params![
                        o.name,
                        f.entity_ref,
                        f.source,
                        f.fact,
                        f.value.type_name(),
                        num,
                        b,
                        text,
                        json,
                        f.observed_at.naive_utc(),
                        f.evidence
                    ])?;
                }
            }
            app.flush()?;
            let mut app = conn.appender("shard_cache")?;
            for o in outs {
                for c in &o.cache {
                    app.append_row(params![o.name, c.key, c.etag, c.body, c.fetched_at.naive_utc()])?;
                }
            }
            app.flush()?;
        }
        for (table, file) in [("shard_facts", "facts.parquet"), ("shard_cache", "cache.parquet")] {
            let path = tmp.join(file);
            conn.execute_batch(&format!("COPY {table} TO {} (FORMAT parquet, COMPRESSION zstd)", lit(&path.display().to_string())))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let json = serde_json::to_vec_pretty(manifest)?;
        std::fs::write(tmp.join("manifest.json"), json).context("writing manifest.json")?;
        crate::report::publish::swap_in(&tmp, target, &old)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let _ = std::fs::remove_dir_all(&old);
    result.with_context(|| format!("writing the shard into {}", target.display()))?;
    Ok(target.to_path_buf())
}

/// A shard folder found by [`find_shards`].
#[derive(Debug, Clone)]
pub struct Found {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// The shards under `paths`: each path is a shard folder (it holds `manifest.json`) or a
/// folder of shard folders (`shard-*-of-*`). Checks that they are one complete set of the
/// pipeline: same count, every index once.
pub fn find_shards(p: &Pipeline, paths: &[PathBuf]) -> Result<Vec<Found>> {
    let mut dirs = Vec::new();
    for path in paths {
        if path.join("manifest.json").is_file() {
            dirs.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).with_context(|| format!("cannot read the shard folder {}", path.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|d| {
                d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("shard-")) && d.join("manifest.json").is_file()
            })
            .collect();
        if found.is_empty() {
            bail!("{} holds no shard (no manifest.json, no shard-I-of-N folder with one)", path.display());
        }
        found.sort();
        dirs.extend(found);
    }
    let mut shards = Vec::new();
    for dir in dirs {
        let file = dir.join("manifest.json");
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let manifest: Manifest = serde_json::from_str(&text).with_context(|| format!("{} is not a shard manifest", file.display()))?;
        if manifest.format != FORMAT {
            bail!("{}: format {:?}, this version reads {FORMAT:?}", file.display(), manifest.format);
        }
        if manifest.pipeline != p.name {
            bail!("{}: a shard of pipeline {:?}, not {:?}", file.display(), manifest.pipeline, p.name);
        }
        shards.push(Found { dir, manifest });
    }
    let counts: BTreeSet<u32> = shards.iter().map(|s| s.manifest.shard.count).collect();
    if counts.len() != 1 {
        bail!(
            "the shards are of different splits ({}): give the shards of one run",
            counts.iter().map(|c| format!("of {c}")).collect::<Vec<_>>().join(", ")
        );
    }
    let count = *counts.iter().next().context("no shard given")?;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for s in &shards {
        if let Some(d) = seen.insert(s.manifest.shard.index, &s.dir) {
            bail!("shard {} is given twice: {} and {}", s.manifest.shard, d.display(), s.dir.display());
        }
    }
    let missing: Vec<String> = (0..count).filter(|i| !seen.contains_key(i)).map(|i| format!("{i}/{count}")).collect();
    if !missing.is_empty() {
        bail!("shard{} {} missing: every shard of the run is needed", if missing.len() > 1 { "s" } else { "" }, missing.join(", "));
    }
    shards.sort_by_key(|s| s.manifest.shard.index);
    Ok(shards)
}

/// The sharded sources' outputs of a complete set of shards, one [`SourceOutput`] per source
/// of the pipeline collected by shards: facts and cache rows of every shard, errors once each
/// (a whole-organisation query reports the same problem from every shard), stats added up.
/// `components`: the merge's catalog components; one the shards did not have is reported.
pub fn load_shards(p: &Pipeline, shards: &[Found], components: &[Component]) -> Result<Vec<SourceOutput>> {
    let mut outs: Vec<SourceOutput> = Vec::new();
    for src in p.facts.iter().filter(|s| is_sharded(s)) {
        let name = src.name().to_owned();
        let per: Vec<&ShardSource> = shards.iter().filter_map(|s| s.manifest.sources.iter().find(|x| x.name == name)).collect();
        if per.len() != shards.len() {
            bail!("source {name} is not in every shard (the pipeline changed between the shards and the merge?)");
        }
        let mut out = SourceOutput {
            name: name.clone(),
            required: per.iter().any(|s| s.required),
            unavailable: per.iter().all(|s| s.unavailable),
            ..Default::default()
        };
        let mut seen = HashSet::new();
        for s in &per {
            for e in &s.errors {
                if seen.insert(e.clone()) {
                    out.errors.push(SourceError {
                        source: name.clone(),
                        kind: kind_of(&e.kind),
                        location: e.location.clone(),
                        entity: e.entity.clone(),
                        message: e.message.clone(),
                    });
                }
            }
            for (k, v) in &s.stats {
                // counts add up across shards; anything else keeps the last shard's value
                let sum = match (out.stats.get(k), v) {
                    // shards run side by side: the slowest one's time
                    (Some(a), b) if k == "seconds" => json!(a.as_f64().unwrap_or(0.0).max(b.as_f64().unwrap_or(0.0))),
                    (Some(a), b) if a.is_u64() && b.is_u64() => serde_json::Value::from(a.as_u64().unwrap_or(0) + b.as_u64().unwrap_or(0)),
                    (Some(a), b) if a.is_number() && b.is_number() => {
                        serde_json::Value::from(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
                    }
                    _ => v.clone(),
                };
                out.stats.insert(k.clone(), sum);
            }
        }
        out.stats.insert("shards".into(), serde_json::Value::from(shards.len()));
        outs.push(out);
    }
    if outs.is_empty() {
        return Ok(outs);
    }
    let index: BTreeMap<String, usize> = outs.iter().enumerate().map(|(i, o)| (o.name.clone(), i)).collect();
    let files = |name: &str| shards.iter().map(|s| lit(&s.dir.join(name).display().to_string())).collect::<Vec<_>>().join(", ");
    let conn = Connection::open_in_memory()?;
    let q = crate::grade::engine::fill(READ_FACTS, &[("files", &files("facts.parquet"))]);
    let mut st = conn.prepare(&q).context("reading the shards' facts.parquet")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let source: String = r.get(0)?;
        let Some(&i) = index.get(&source) else { continue };
        let ty: String = r.get(4)?;
        let value = match ty.as_str() {
            "number" => FactValue::Number(r.get(5)?),
            "boolean" => FactValue::Bool(r.get(6)?),
            "text" => FactValue::Text(r.get(7)?),
            _ => {
                let j: String = r.get(8)?;
                FactValue::Json(serde_json::from_str(&j).with_context(|| format!("a JSON fact of {source} in a shard is not JSON"))?)
            }
        };
        let us: i64 = r.get(9)?;
        outs[i].facts.push(Fact {
            entity_ref: r.get(1)?,
            source: r.get(2)?,
            fact: r.get(3)?,
            value,
            observed_at: DateTime::from_timestamp_micros(us).unwrap_or_default(),
            evidence: r.get(10)?,
        });
    }
    let q = crate::grade::engine::fill(READ_CACHE, &[("files", &files("cache.parquet"))]);
    let mut st = conn.prepare(&q).context("reading the shards' cache.parquet")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let source: String = r.get(0)?;
        let Some(&i) = index.get(&source) else { continue };
        let us: i64 = r.get(4)?;
        outs[i].cache.push(CacheEntry {
            key: r.get(1)?,
            etag: r.get(2)?,
            body: r.get(3)?,
            fetched_at: DateTime::from_timestamp_micros(us).unwrap_or_default(),
        });
    }
    // components no shard collected (the catalog changed between the shards and the merge)
    let covered: HashSet<&str> = shards.iter().flat_map(|s| s.manifest.components.iter().map(String::as_str)).collect();
    let uncovered: Vec<&str> = components.iter().map(|c| c.entity_ref.as_str()).filter(|r| !covered.contains(r)).collect();
    if !uncovered.is_empty() {
        let shown: Vec<&str> = uncovered.iter().take(10).copied().collect();
        let more = if uncovered.len() > 10 { format!(" and {} more", uncovered.len() - 10) } else { String::new() };
        for o in &mut outs {
            o.errors.push(SourceError {
                source: o.name.clone(),
                kind: SourceErrorKind::Warning,
                location: None,
                entity: None,
                message: format!(
                    "{} components were in no shard's catalog (the catalog changed between the shards and the merge), so {} has no facts of them: {}{more}",
                    uncovered.len(),
                    o.name,
                    shown.join(", ")
                ),
            });
        }
    }
    Ok(outs)
}

/// The files of a shard folder, in upload order: the manifest last (a shard without it is not
/// a shard, so a reader never sees half of one).
const SHARD_FILES: [&str; 3] = ["facts.parquet", "cache.parquet", "manifest.json"];

/// Uploads the shard folder `local` to `loc/shard-I-of-N/`; returns its URL.
pub async fn upload_shard(client: &crate::objstore::Client, loc: &crate::objstore::Location, shard: Shard, local: &Path) -> Result<String> {
    for f in SHARD_FILES {
        let bytes = std::fs::read(local.join(f)).with_context(|| format!("reading {}", local.join(f).display()))?;
        client.put(&loc.key(&format!("{}/{f}", shard.dir_name())), bytes).await?;
    }
    Ok(format!("s3://{}/{}", loc.bucket, loc.key(&shard.dir_name())))
}

/// Downloads every complete shard under `loc` (a `shard-I-of-N/manifest.json` beside its
/// Parquet files) into folders under `into`: (local folder, the shard's keys).
pub async fn download_shards(
    client: &crate::objstore::Client,
    loc: &crate::objstore::Location,
    into: &Path,
) -> Result<Vec<(PathBuf, Vec<String>)>> {
    let prefix = if loc.prefix.is_empty() { String::new() } else { format!("{}/", loc.prefix) };
    let keys = client.list(&prefix).await?;
    let mut out = Vec::new();
    for k in keys.iter().filter(|k| k.ends_with("/manifest.json")) {
        let folder = &k[..k.len() - "/manifest.json".len()];
        let name = folder.rsplit('/').next().unwrap_or(folder);
        if !name.starts_with("shard-") || folder[prefix.len().min(folder.len())..].contains('/') {
            continue;
        }
        let local = into.join(name);
        std::fs::create_dir_all(&local).with_context(|| format!("creating {}", local.display()))?;
        let mut shard_keys = Vec::new();
        for f in SHARD_FILES {
            let key = format!("{folder}/{f}");
            let bytes = client.get(&key).await?;
            std::fs::write(local.join(f), bytes).with_context(|| format!("writing {}", local.join(f).display()))?;
            shard_keys.push(key);
        }
        out.push((local, shard_keys));
    }
    if out.is_empty() {
        bail!("{loc} holds no shard (no shard-I-of-N/manifest.json under it)");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_refs_stably() {
        assert_eq!(Shard::parse("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x/2").is_err());
        assert!(Shard::parse("3").is_err());
        // FNV-1a is fixed: the same ref lands in the same shard everywhere
        assert_eq!(Shard::of("", 1000), (0xcbf2_9ce4_8422_2325u64 % 1000) as u32);
        assert_eq!(Shard::of("a", u32::MAX), (0xaf63_dc4c_8601_ec8cu64 % u64::from(u32::MAX)) as u32);
        // and the split is even enough
        let mut n = [0usize; 4];
        for i in 0..10_000 {
            n[Shard::of(&format!("component:default/service-{i}"), 4) as usize] += 1;
        }
        assert!(n.iter().all(|&c| (2_300..2_700).contains(&c)), "{n:?}");
    }
}
