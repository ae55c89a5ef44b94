//! The CodeScene source: each component's project (annotation `codescene.io/project-id`, the
//! text before the first `/`) read from CodeScene's REST API (`../shared/docs/contracts.md` §D).
//!
//! - **API**: v2 (`https://api.codescene.io/v2` or `<host>/api/v2`) with a bearer token from
//!   `token_env`; v1 (`<host>/api/v1`, on-prem) with basic auth from `username_env` +
//!   `password_env`. Only the variables' names are in the pipeline file.
//! - **Requests**: per project (components sharing one are read once), at most `concurrency`
//!   at a time: `GET projects/{id}/analyses/latest`, then the pages of
//!   `GET projects/{id}/analyses/latest/technical-debt-hotspots` (`page`, `max_pages`).
//!   CodeScene sends no validators, but an analysis never changes once made: the hotspot
//!   summary of a complete read is kept (`source_cache`, key `project:<id>`) with the
//!   analysis it came from (its id and time), and while the latest analysis is still that
//!   one, its hotspot pages are not asked again (one request per project instead of 1 + pages).
//! - **Facts**: `codescene.hotspot_code_health`, `codescene.code_health`,
//!   `codescene.worst_performer_code_health` (1–10, 10 best), `codescene.worst_performer_file`,
//!   `codescene.hotspots`, `codescene.red_hotspots` (code health < 4),
//!   `codescene.yellow_hotspots` (4 to < 9), `codescene.analysis_age_days`,
//!   `codescene.analysis_stale` (older than `max_analysis_age_days`). Every field is read
//!   defensively: an absent field is an absent fact (unknown), never zero. Facts are observed
//!   at the analysis time.
//! - **Failures**: an unreachable server, an HTTP error (with the first words CodeScene said),
//!   a project that does not exist: recorded per project; the other projects go on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::prometheus::Component;
use super::{CacheEntry, Fact, FactValue, SourceError, SourceErrorKind, SourceOutput};

pub const PROJECT_ANNOTATION: &str = "codescene.io/project-id";
/// Hotspot pages read per project at most (a guard against a server that never ends).
const MAX_PAGES: u64 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    /// API base URL including the version (`https://api.codescene.io/v2`, `https://host/api/v1`)
    pub base_url: String,
    /// 1 (basic auth) or 2 (bearer token)
    pub api_version: u8,
    pub token_env: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub timeout_secs: u64,
    pub concurrency: usize,
    pub max_analysis_age_days: u64,
    pub required: bool,
}

/// The facts this source produces, with their types.
pub const FACTS: &[(&str, crate::grade::sqlexpr::FactType)] = {
    use crate::grade::sqlexpr::FactType::{Boolean, Number, Text};
    &[
        ("codescene.hotspot_code_health", Number),
        ("codescene.code_health", Number),
        ("codescene.worst_performer_code_health", Number),
        ("codescene.worst_performer_file", Text),
        ("codescene.hotspots", Number),
        ("codescene.red_hotspots", Number),
        ("codescene.yellow_hotspots", Number),
        ("codescene.analysis_age_days", Number),
        ("codescene.analysis_stale", Boolean),
    ]
};

fn err(cfg: &Config, kind: SourceErrorKind, location: String, entity: Option<String>, message: String) -> SourceError {
    let message = format!("{} ({location}): {message}", cfg.name);
    SourceError { source: cfg.name.clone(), kind, location: Some(location), entity, message }
}

/// A number at the first of `keys` present (a number, or an object with `current_score`).
fn num(v: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        Value::Object(o) => o.get("current_score").and_then(Value::as_f64),
        _ => None,
    })
}

fn text<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str)).filter(|s| !s.is_empty())
}

/// The analysis time: RFC 3339, or `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` in UTC.
fn analysis_time(a: &Value) -> Option<DateTime<Utc>> {
    let t = text(a, &["readable_analysis_time", "analysis_time", "analysis-time", "date"])?;
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d.and_utc());
        }
    }
    None
}

/// What one project gave: (fact, value, observed at), evidence, problems.
struct ProjectResult {
    facts: Vec<(String, FactValue)>,
    at: Option<DateTime<Utc>>,
    evidence: String,
    errors: Vec<(SourceErrorKind, String)>,
    /// the hotspot summary to keep for the next run, when it was read whole from an
    /// analysis that names itself
    keep: Option<Kept>,
    /// the hotspots came from the kept summary (no hotspot page asked)
    reused: bool,
}

/// What a complete read of an analysis's hotspots gave (kept between runs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Hotspots {
    count: u64,
    /// counts by code health; absent when a hotspot had no readable health
    red: Option<u64>,
    yellow: Option<u64>,
    worst_file: Option<String>,
    pages: u64,
}

/// A project's kept hotspot summary and the analysis it was read from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Kept {
    /// the analysis's id and time (`9001@2026-12-01T06:00:00Z`)
    analysis: String,
    read_at: DateTime<Utc>,
    hotspots: Hotspots,
}

/// An analysis names itself by its id and time; without an id it cannot be recognised again.
fn analysis_key(a: &Value, at: Option<DateTime<Utc>>) -> Option<String> {
    let id = match a.get("id")? {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(format!("{id}@{}", at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()))
}

fn cache_key(project: &str) -> String {
    format!("project:{project}")
}

/// Every page of the latest analysis's hotspots, summarised; None (with the error recorded)
/// when a page could not be read.
async fn read_hotspots(http: &reqwest::Client, base: &str, id: &str, errors: &mut Vec<(SourceErrorKind, String)>) -> Option<Hotspots> {
    let mut hotspots: Vec<(Option<String>, Option<f64>)> = Vec::new();
    let mut page = 1u64;
    loop {
        let url = format!("{base}/projects/{id}/analyses/latest/technical-debt-hotspots?page={page}");
        let v = match get(http, &url).await {
            Ok(v) => v,
            Err(e) => {
                errors.push((e.0, format!("hotspots page {page}: {}", e.1)));
                return None;
            }
        };
        for h in v.get("hotspots").and_then(Value::as_array).into_iter().flatten() {
            hotspots.push((
                text(h, &["file_name", "name", "path", "file"]).map(str::to_owned),
                num(h, &["code_health", "code_health_score", "score"]),
            ));
        }
        let max = v.get("max_pages").and_then(Value::as_u64).unwrap_or(page);
        if page >= max {
            break;
        }
        if page >= MAX_PAGES {
            errors.push((SourceErrorKind::QueryFailed, format!("hotspots: more than {MAX_PAGES} pages ({max}), none counted")));
            return None;
        }
        page += 1;
    }
    let known: Vec<f64> = hotspots.iter().filter_map(|h| h.1).collect();
    let whole = known.len() == hotspots.len();
    let worst_file = hotspots
        .iter()
        .filter(|h| h.1.is_some())
        .min_by(|a, b| a.1.unwrap_or(10.0).total_cmp(&b.1.unwrap_or(10.0)))
        .and_then(|h| h.0.clone());
    Some(Hotspots {
        count: hotspots.len() as u64,
        red: whole.then(|| known.iter().filter(|s| **s < 4.0).count() as u64),
        yellow: whole.then(|| known.iter().filter(|s| **s >= 4.0 && **s < 9.0).count() as u64),
        worst_file,
        pages: page,
    })
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Value, (SourceErrorKind, String)> {
    let resp = http.get(url).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "cannot connect".to_owned()
        } else {
            "request failed".to_owned()
        };
        (SourceErrorKind::Unavailable, why)
    })?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| (SourceErrorKind::Unavailable, format!("reading the answer failed: {e}")))?;
    if !status.is_success() {
        let head: String = body.chars().take(160).collect();
        return Err((SourceErrorKind::QueryFailed, format!("HTTP {status}: {head}")));
    }
    serde_json::from_str(&body).map_err(|e| (SourceErrorKind::QueryFailed, format!("HTTP {status}: the answer is not JSON: {e}")))
}

async fn project(cfg: &Config, http: &reqwest::Client, id: &str, kept: Option<&Kept>, now: DateTime<Utc>) -> ProjectResult {
    let base = cfg.base_url.trim_end_matches('/');
    let mut out = ProjectResult { facts: Vec::new(), at: None, evidence: String::new(), errors: Vec::new(), keep: None, reused: false };
    let latest = format!("{base}/projects/{id}/analyses/latest");
    let a = match get(http, &latest).await {
        Ok(a) => a,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let m = a.get("high_level_metrics").cloned().unwrap_or(Value::Null);
    for (fact, keys) in [
        ("codescene.hotspot_code_health", &["hotspots_code_health_now_weighted_average"][..]),
        ("codescene.code_health", &["code_health_weighted_average_current"][..]),
        ("codescene.worst_performer_code_health", &["code_health_now_worst_performer"][..]),
    ] {
        if let Some(v) = num(&m, keys) {
            out.facts.push((fact.into(), FactValue::Number(v)));
        }
    }
    out.at = analysis_time(&a);
    match out.at {
        Some(at) => {
            let age = (now - at).num_seconds().max(0) as f64 / 86_400.0;
            out.facts.push(("codescene.analysis_age_days".into(), FactValue::Number((age * 10.0).round() / 10.0)));
            out.facts.push(("codescene.analysis_stale".into(), FactValue::Bool(age > cfg.max_analysis_age_days as f64)));
        }
        None => out.errors.push((SourceErrorKind::Warning, "the analysis has no readable time: its age is unknown".into())),
    }
    // hotspots: kept from an earlier run while the latest analysis is the one they came
    // from, else every page
    let analysis = analysis_key(&a, out.at);
    let (hotspots, read) = match kept.filter(|k| analysis.as_deref() == Some(k.analysis.as_str())) {
        Some(k) => {
            out.reused = true;
            (Some(k.hotspots.clone()), format!("read at {} (the analysis has not changed since)", k.read_at.format("%Y-%m-%dT%H:%M:%SZ")))
        }
        None => {
            let h = read_hotspots(http, base, id, &mut out.errors).await;
            if let (Some(h), Some(analysis)) = (&h, &analysis) {
                out.keep = Some(Kept { analysis: analysis.clone(), read_at: now, hotspots: h.clone() });
            }
            (h, "read now".to_owned())
        }
    };
    if let Some(h) = &hotspots {
        out.facts.push(("codescene.hotspots".into(), FactValue::Number(h.count as f64)));
        if let (Some(red), Some(yellow)) = (h.red, h.yellow) {
            out.facts.push(("codescene.red_hotspots".into(), FactValue::Number(red as f64)));
            out.facts.push(("codescene.yellow_hotspots".into(), FactValue::Number(yellow as f64)));
        }
        if let Some(file) = &h.worst_file {
            out.facts.push(("codescene.worst_performer_file".into(), FactValue::Text(file.clone())));
        }
    }
    out.evidence = format!(
        "CodeScene project {id} ({}), analysis {} of {}; {}",
        cfg.base_url,
        a.get("id").map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_else(|| "?".into()),
        out.at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_else(|| "an unknown time".into()),
        match &hotspots {
            Some(h) => format!("{} hotspots from {} page(s), {read}", h.count, h.pages),
            None => "hotspots not read whole".to_owned(),
        }
    );
    out
}

/// Reads every annotated component's project (once per project).
/// `cache`: what earlier runs kept (hotspot summaries by project); unreadable rows are
/// ignored (the project is read whole).
pub async fn collect(cfg: &Config, components: &[Component], cache: Vec<CacheEntry>, now: DateTime<Utc>) -> SourceOutput {
    let mut out = SourceOutput { name: cfg.name.clone(), required: cfg.required, ..Default::default() };
    super::prometheus::install_tls();
    use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let var = |name: &str| std::env::var(name).map_err(|_| format!("environment variable {name} is not set"));
    let auth = match (cfg.api_version, &cfg.token_env, &cfg.username_env, &cfg.password_env) {
        (2, Some(t), _, _) => var(t).map(|t| format!("Bearer {}", t.trim())),
        (1, _, Some(u), Some(p)) => var(u).and_then(|u| var(p).map(|p| (u, p))).map(|(u, p)| {
            use base64::Engine as _;
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
        }),
        _ => Err("no credentials configured".into()),
    };
    match auth.and_then(|a| HeaderValue::from_str(&a).map_err(|_| "credentials a header cannot carry".to_owned())) {
        Ok(mut v) => {
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        Err(e) => {
            out.errors.push(err(cfg, SourceErrorKind::Unavailable, cfg.base_url.clone(), None, e));
            out.unavailable = true;
            return out;
        }
    }
    let http = match reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(cfg.timeout_secs.max(1))).build() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(err(
                cfg,
                SourceErrorKind::Unavailable,
                cfg.base_url.clone(),
                None,
                format!("cannot build the HTTP client: {e}"),
            ));
            out.unavailable = true;
            return out;
        }
    };
    // project id → components
    let mut projects: BTreeMap<String, Vec<&Component>> = BTreeMap::new();
    for c in components {
        if let Some(p) = c.annotations.get(PROJECT_ANNOTATION) {
            let id = p.split('/').next().unwrap_or("").trim();
            if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                out.errors.push(err(
                    cfg,
                    SourceErrorKind::BadRecord,
                    format!("annotation {PROJECT_ANNOTATION}"),
                    Some(c.entity_ref.clone()),
                    format!("{p:?} is not a CodeScene project id"),
                ));
                continue;
            }
            projects.entry(id.to_owned()).or_default().push(c);
        }
    }
    let mut kept: BTreeMap<String, Kept> =
        cache.into_iter().filter_map(|c| Some((c.key.clone(), serde_json::from_str::<Kept>(&c.body).ok()?))).collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for id in projects.keys() {
        let (cfg, http, sem, id) = (cfg.clone(), http.clone(), sem.clone(), id.clone());
        let k = kept.remove(&cache_key(&id));
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = project(&cfg, &http, &id, k.as_ref(), now).await;
            (id, r)
        });
    }
    let mut results = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        if let Ok((id, r)) = r {
            results.insert(id, r);
        }
    }
    let mut reached = false;
    let (mut reused, mut read) = (0u64, 0u64);
    for (id, r) in results {
        if r.reused {
            reused += 1;
        } else if r.keep.is_some() {
            read += 1;
        }
        if let Some(k) = &r.keep {
            if let Ok(body) = serde_json::to_string(k) {
                out.cache.push(CacheEntry { key: cache_key(&id), etag: None, body, fetched_at: now });
            }
        }
        let location = format!("{} project {id}", cfg.base_url);
        let comps = &projects[&id];
        for (kind, msg) in &r.errors {
            out.errors.push(err(cfg, *kind, location.clone(), comps.first().map(|c| c.entity_ref.clone()), msg.clone()));
        }
        if r.errors.iter().all(|e| e.0 != SourceErrorKind::Unavailable) {
            reached = true;
        }
        for c in comps {
            for (fact, value) in &r.facts {
                out.facts.push(Fact {
                    entity_ref: c.entity_ref.clone(),
                    source: cfg.name.clone(),
                    fact: fact.clone(),
                    value: value.clone(),
                    observed_at: r.at.unwrap_or(now),
                    evidence: r.evidence.clone(),
                });
            }
        }
    }
    if !reached && !projects.is_empty() {
        out.unavailable = true;
    }
    out.stats.insert("projects".into(), (projects.len() as u64).into());
    out.stats.insert("hotspots_read".into(), read.into());
    out.stats.insert("hotspots_unchanged".into(), reused.into());
    out
}
