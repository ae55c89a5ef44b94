//! The GitHub source (`contracts.md` §E): repository facts for every component whose
//! `github.com/project-slug` (or `backstage.io/source-location` on the configured host) names
//! a repository, read through GitHub's GraphQL API in batches and kept between runs.
//!
//! - **Full read**: an organisation's repositories 100 per request (`organizations`), other
//!   repositories as aliases of one request (`page_size` each). About 11 points per 100.
//! - **Later runs**: one probe per organisation (its repositories ordered by push and by
//!   update time, 1 point) finds what changed since the stored watermark; only those, the
//!   repositories read more than `refresh_days` ago and new ones are read again. The others'
//!   facts come from their stored snapshot (observed when it was read; ages counted from now).
//!   What a probe cannot see (an alert raised without a push, a deleted repository) is caught
//!   by the `refresh_days` re-read.
//! - **REST** only where GraphQL stops short: open Dependabot alerts beyond the first 100
//!   (`GET /repos/{o}/{r}/dependabot/alerts`, `Link` pages) and effective branch rules when
//!   there are more rulesets or rules than one page shows (`GET /repos/{o}/{r}/rules/branches/{b}`),
//!   with their ETags kept in DuckDB so an unchanged answer is a free 304.
//! - **Limits**: see [`client`]; the run summary records requests, points and 304s.

pub mod client;
pub mod discovery;
pub mod graphql;
pub mod snapshot;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::prometheus::Component;
use super::{CacheEntry, Fact, SourceError, SourceErrorKind, SourceOutput};
use client::{ApiError, Auth, Client, Limits};
use snapshot::Snapshot;

pub const SLUG_ANNOTATION: &str = "github.com/project-slug";
pub const SOURCE_LOCATION_ANNOTATION: &str = "backstage.io/source-location";

/// Where and how to reach GitHub (shared by the fact source and catalog discovery).
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// REST base: `https://api.github.com`, or `https://HOST/api/v3` for Enterprise Server
    pub api_url: String,
    /// GraphQL endpoint: `https://api.github.com/graphql`, `https://HOST/api/graphql`
    pub graphql_url: String,
    /// host of repository URLs in `backstage.io/source-location` (`github.com`)
    pub web_host: String,
    pub token_env: Option<String>,
    pub app_id_env: Option<String>,
    pub app_installation_id_env: Option<String>,
    /// the variable holding the path of the App's private key (PEM), or the PEM itself
    pub app_private_key_env: Option<String>,
    pub concurrency: usize,
    pub timeout_secs: u64,
    /// keep this many requests/points of each rate limit unspent
    pub min_remaining: u64,
    /// wait at most this long for a rate limit to reset; beyond, stop and report
    pub max_wait_secs: u64,
    /// first wait after a secondary rate limit without `retry-after` (doubles per retry)
    pub secondary_wait_secs: u64,
}

impl Api {
    /// The GraphQL URL GitHub serves beside a REST base (`/api/v3` → `/api/graphql`).
    pub fn default_graphql_url(api_url: &str) -> String {
        let base = api_url.trim_end_matches('/');
        match base.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{base}/graphql"),
        }
    }

    /// The web host of an API URL (`api.github.com` → `github.com`).
    pub fn default_web_host(api_url: &str) -> String {
        let host = url::Url::parse(api_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        if host == "api.github.com" {
            "github.com".into()
        } else {
            host
        }
    }

    /// The credentials, from the environment (never from the pipeline file).
    pub fn auth(&self) -> Result<Auth, String> {
        let var = |name: &str| -> Result<String, String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => Err(format!("environment variable {name} is not set")),
            }
        };
        if let (Some(id), Some(inst), Some(key)) = (&self.app_id_env, &self.app_installation_id_env, &self.app_private_key_env) {
            let app_id = var(id)?.parse::<u64>().map_err(|_| format!("environment variable {id} is not a GitHub App id (a number)"))?;
            let installation_id =
                var(inst)?.parse::<u64>().map_err(|_| format!("environment variable {inst} is not an installation id (a number)"))?;
            let k = var(key)?;
            let key_pem = if k.starts_with("-----BEGIN") {
                k.into_bytes()
            } else {
                std::fs::read(&k).map_err(|e| format!("cannot read the GitHub App private key named by {key}: {e}"))?
            };
            return Ok(Auth::App { app_id, key_pem, installation_id });
        }
        match &self.token_env {
            Some(t) => Ok(Auth::Token(var(t)?)),
            None => Ok(Auth::None),
        }
    }

    pub fn client(&self) -> Result<Client, String> {
        let auth = self.auth()?;
        Client::new(
            &self.api_url,
            &self.graphql_url,
            &auth,
            Limits {
                concurrency: self.concurrency,
                min_remaining: self.min_remaining,
                max_wait_secs: self.max_wait_secs,
                secondary_wait_secs: self.secondary_wait_secs,
                timeout_secs: self.timeout_secs,
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    pub api: Api,
    /// organisations read whole (100 repositories per request) and probed for changes
    pub organizations: Vec<String>,
    /// repositories per aliased request (1–100)
    pub page_size: usize,
    /// re-read a repository at least this often even when the probe saw no change
    pub refresh_days: u64,
    pub required: bool,
}

/// The facts this source produces, with their types.
pub const FACTS: &[(&str, crate::grade::sqlexpr::FactType)] = {
    use crate::grade::sqlexpr::FactType::{Boolean, Number, Text};
    &[
        ("github.archived", Boolean),
        ("github.visibility", Text),
        ("github.default_branch", Text),
        ("github.days_since_push", Number),
        ("github.default_branch_protected", Boolean),
        ("github.required_reviews", Number),
        ("github.required_status_checks", Boolean),
        ("github.codeowners_present", Boolean),
        ("github.workflows_count", Number),
        ("github.dependency_updates_configured", Boolean),
        ("github.open_pull_requests", Number),
        ("github.oldest_open_pull_request_days", Number),
        ("github.vulnerability_alerts_enabled", Boolean),
        ("github.vulnerability_alerts_critical", Number),
        ("github.vulnerability_alerts_high", Number),
        ("github.vulnerability_alerts_medium", Number),
        ("github.vulnerability_alerts_low", Number),
        ("github.license", Text),
        ("github.primary_language", Text),
        ("github.releases_90d", Number),
        ("github.merged_pull_requests_90d", Number),
    ]
};

/// `owner/name` of a component's repository: the project slug, else a source location on
/// the web host. `Err` when an annotation is there but unusable.
pub fn repository_of(c: &Component, web_host: &str) -> Option<Result<String, String>> {
    if let Some(slug) = c.annotations.get(SLUG_ANNOTATION) {
        let s = slug.trim().trim_matches('/');
        let ok = s.split('/').count() == 2
            && s.split('/').all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)));
        return Some(if ok { Ok(s.to_owned()) } else { Err(format!("{SLUG_ANNOTATION} \"{slug}\" is not owner/repository")) });
    }
    let loc = c.annotations.get(SOURCE_LOCATION_ANNOTATION)?;
    let u = url::Url::parse(loc.trim().trim_start_matches("url:")).ok()?;
    if u.host_str() != Some(web_host) {
        return None;
    }
    let mut parts = u.path_segments()?.filter(|p| !p.is_empty());
    let (o, r) = (parts.next()?, parts.next()?);
    Some(Ok(format!("{o}/{}", r.trim_end_matches(".git"))))
}

fn key(repo: &str) -> String {
    repo.to_ascii_lowercase()
}

struct Cached {
    snap: Snapshot,
    fetched_at: DateTime<Utc>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Watermark {
    pushed: String,
    updated: String,
}

fn err(cfg: &Config, kind: SourceErrorKind, location: String, entity: Option<String>, message: String) -> SourceError {
    let message = format!("{} ({location}): {message}", cfg.name);
    SourceError { source: cfg.name.clone(), kind, location: Some(location), entity, message }
}

/// What the GraphQL errors of a read said, one line per kind and field (not one per
/// repository): `FORBIDDEN on vulnerabilityAlerts for 3 repositories (a/b, ...): message`.
fn summarise(errors: &[graphql::GqlError], repo_of: impl Fn(usize) -> Option<String>) -> Vec<String> {
    let mut groups: BTreeMap<(String, String), (Vec<String>, String)> = BTreeMap::new();
    for e in errors {
        let field = e.path.rsplit('.').next().unwrap_or("").to_owned();
        let g = groups.entry((e.kind.clone(), field)).or_insert_with(|| (Vec::new(), e.message.clone()));
        if let Some(r) = e.index.and_then(&repo_of) {
            g.0.push(r);
        }
    }
    groups
        .into_iter()
        .map(|((kind, field), (repos, msg))| {
            let shown: Vec<&str> = repos.iter().take(5).map(String::as_str).collect();
            let more = if repos.len() > 5 { format!(", and {} more", repos.len() - 5) } else { String::new() };
            format!("{kind} on {field} for {} repositories ({}{more}): {msg}", repos.len(), shown.join(", "))
        })
        .collect()
}

/// Reads the components' repositories; `cache` is what the source kept from earlier runs.
pub async fn collect(cfg: &Config, components: &[Component], cache: Vec<CacheEntry>, now: DateTime<Utc>) -> SourceOutput {
    collect_scoped(cfg, components, &[], cache, now).await
}

/// [`collect`] for one shard of a sharded run: reads `components`' repositories only;
/// `others` are the components other shards read, whose repositories are therefore not
/// reported as belonging to no component.
pub async fn collect_scoped(
    cfg: &Config,
    components: &[Component],
    others: &[Component],
    cache: Vec<CacheEntry>,
    now: DateTime<Utc>,
) -> SourceOutput {
    let mut out = SourceOutput { name: cfg.name.clone(), required: cfg.required, ..Default::default() };
    let claimed_elsewhere: HashSet<String> =
        others.iter().filter_map(|c| repository_of(c, &cfg.api.web_host).and_then(Result::ok)).map(|r| key(&r)).collect();
    // components → repositories
    let mut wanted: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new(); // key → (spelling, component refs)
    for c in components {
        match repository_of(c, &cfg.api.web_host) {
            Some(Ok(repo)) => wanted.entry(key(&repo)).or_insert_with(|| (repo, Vec::new())).1.push(c.entity_ref.clone()),
            Some(Err(e)) => out.errors.push(err(cfg, SourceErrorKind::BadRecord, c.entity_ref.clone(), Some(c.entity_ref.clone()), e)),
            None => {}
        }
    }
    if wanted.is_empty() && cfg.organizations.is_empty() {
        return out;
    }
    let client = match cfg.api.client() {
        Ok(c) => c,
        Err(e) => {
            out.unavailable = true;
            out.errors.push(err(cfg, SourceErrorKind::Unavailable, cfg.api.api_url.clone(), None, e));
            return out;
        }
    };

    // what earlier runs kept
    let mut snaps: HashMap<String, Cached> = HashMap::new();
    let mut marks: HashMap<String, Watermark> = HashMap::new();
    let mut etags: HashMap<String, (String, String)> = HashMap::new();
    for e in cache {
        if let Some(r) = e.key.strip_prefix("repo:") {
            if let Ok(snap) = serde_json::from_str::<Snapshot>(&e.body) {
                snaps.insert(r.to_owned(), Cached { snap, fetched_at: e.fetched_at });
            }
        } else if let Some(o) = e.key.strip_prefix("org:") {
            if let Ok(m) = serde_json::from_str::<Watermark>(&e.body) {
                marks.insert(o.to_owned(), m);
            }
        } else if let (Some(path), Some(tag)) = (e.key.strip_prefix("GET "), e.etag) {
            etags.insert(path.to_owned(), (tag, e.body));
        }
    }

    let mut fresh: HashMap<String, Snapshot> = HashMap::new(); // read this run
    let mut failed_orgs: HashSet<String> = HashSet::new();
    let mut unowned: Vec<String> = Vec::new();
    let refresh_before = now - Duration::days(cfg.refresh_days as i64);
    let mut to_read: Vec<String> = Vec::new();
    let mut reused_ok: HashSet<String> = HashSet::new();
    let org_keys: HashSet<String> = cfg.organizations.iter().map(|o| o.to_ascii_lowercase()).collect();
    let mut probe_max: HashMap<String, (String, String)> = HashMap::new();

    for org in &cfg.organizations {
        let okey = org.to_ascii_lowercase();
        let in_org = |k: &str| k.split('/').next() == Some(okey.as_str());
        let mut full = true;
        if let Some(m) = marks.get(&okey) {
            match graphql::changed_repositories(&client, org, &m.pushed, &m.updated, 10).await {
                Ok(Some(changed_nodes)) => {
                    full = false;
                    let changed: HashSet<String> =
                        changed_nodes.iter().filter_map(|n| n.get("nameWithOwner").and_then(Value::as_str)).map(key).collect();
                    for (k, (spelling, _)) in wanted.iter().filter(|(k, _)| in_org(k)) {
                        let stale = snaps.get(k).map(|c| c.fetched_at < refresh_before).unwrap_or(true);
                        if changed.contains(k) || stale {
                            to_read.push(spelling.clone());
                        } else {
                            reused_ok.insert(k.clone());
                        }
                    }
                    for c in &changed {
                        if !wanted.contains_key(c) {
                            unowned.push(c.clone());
                        }
                    }
                    // the probe's newest times move the watermark (unless a read below fails)
                    probe_max.insert(okey.clone(), changed_nodes_max(&changed_nodes));
                }
                Ok(None) => tracing::info!(org, "many repositories changed: reading the organisation whole"),
                Err(e) => {
                    failed_orgs.insert(okey.clone());
                    out.errors.push(err(cfg, SourceErrorKind::Unavailable, e.url.clone(), None, e.to_string()));
                    continue;
                }
            }
        }
        if full {
            match graphql::org_repositories(&client, org, snapshot::FIELDS, 100).await {
                Ok((nodes, errors)) => {
                    let names: Vec<String> =
                        nodes.iter().map(|n| n.get("nameWithOwner").and_then(Value::as_str).unwrap_or("?").to_owned()).collect();
                    for line in summarise(&errors, |i| names.get(i).cloned()) {
                        out.errors.push(err(cfg, SourceErrorKind::Warning, format!("organization {org}"), None, line));
                    }
                    for n in &nodes {
                        let snap = Snapshot::from_node(n, now);
                        let k = key(&snap.repo);
                        if !wanted.contains_key(&k) {
                            unowned.push(snap.repo.clone());
                        }
                        fresh.insert(k, snap);
                    }
                }
                Err(e) => {
                    failed_orgs.insert(okey.clone());
                    out.errors.push(err(cfg, SourceErrorKind::Unavailable, e.url.clone(), None, e.to_string()));
                }
            }
        }
    }
    // repositories outside the organisations: read each run (no probe can vouch for them)
    for (k, (spelling, _)) in &wanted {
        let org = k.split('/').next().unwrap_or("");
        if !org_keys.contains(org) {
            to_read.push(spelling.clone());
        }
    }
    to_read.sort();
    to_read.dedup();
    if !to_read.is_empty() {
        match graphql::repositories(&client, &to_read, snapshot::FIELDS, cfg.page_size).await {
            Ok((nodes, errors)) => {
                for line in
                    summarise(&errors.iter().filter(|e| e.kind != "NOT_FOUND").cloned().collect::<Vec<_>>(), |i| to_read.get(i).cloned())
                {
                    out.errors.push(err(cfg, SourceErrorKind::Warning, "repositories".into(), None, line));
                }
                for (name, node) in to_read.iter().zip(nodes) {
                    match node {
                        Some(n) => {
                            let snap = Snapshot::from_node(&n, now);
                            fresh.insert(key(name), snap);
                        }
                        None => {
                            // an organisation repository that vanished: no stale snapshot either
                            snaps.remove(&key(name));
                        }
                    }
                }
            }
            Err(e) => {
                out.errors.push(err(cfg, SourceErrorKind::Unavailable, e.url.clone(), None, e.to_string()));
                for n in &to_read {
                    failed_orgs.insert(format!("repo:{}", key(n)));
                    // the probe's watermark must not pass what could not be read
                    failed_orgs.insert(key(n).split('/').next().unwrap_or("").to_owned());
                }
            }
        }
    }

    // follow-ups for what one page did not hold (only repositories someone owns)
    let mut follow_keys: Vec<String> = fresh.keys().filter(|k| wanted.contains_key(*k)).cloned().collect();
    follow_keys.sort();
    let since = now - Duration::days(snapshot::WINDOW_DAYS);
    let mut cache_out: Vec<CacheEntry> = Vec::new();
    for k in &follow_keys {
        let snap = fresh.get_mut(k).expect("listed from fresh");
        let repo = snap.repo.clone();
        let mut guard = 0;
        while let (Some(after), true) = (snap.merged_next.clone(), guard < 50) {
            guard += 1;
            match graphql::more(&client, &repo, snapshot::MERGED_CONNECTION, snapshot::MERGED_NODES, &after).await {
                Ok(page) => {
                    let list = snap.merged_at.get_or_insert_with(Vec::new);
                    snap.merged_next = snapshot::add_merged(&page, since, list).0;
                }
                Err(e) => {
                    out.errors.push(err(cfg, SourceErrorKind::QueryFailed, e.url.clone(), None, e.to_string()));
                    snap.merged_at = None;
                    snap.merged_next = None;
                }
            }
        }
        let mut guard = 0;
        while let (Some(after), true) = (snap.releases_next.clone(), guard < 50) {
            guard += 1;
            match graphql::more(&client, &repo, snapshot::RELEASES_CONNECTION, snapshot::RELEASES_NODES, &after).await {
                Ok(page) => {
                    let list = snap.releases_at.get_or_insert_with(Vec::new);
                    snap.releases_next = snapshot::add_releases(&page, since, list).0;
                }
                Err(e) => {
                    out.errors.push(err(cfg, SourceErrorKind::QueryFailed, e.url.clone(), None, e.to_string()));
                    snap.releases_at = None;
                    snap.releases_next = None;
                }
            }
        }
        if snap.alerts_truncated {
            match rest_pages(&client, &format!("/repos/{repo}/dependabot/alerts?state=open&per_page=100"), &etags, &mut cache_out, now)
                .await
            {
                Ok(pages) => {
                    snap.alerts = Some(snapshot::count_alerts(&pages));
                    snap.alerts_truncated = false;
                }
                Err(e) => out.errors.push(err(cfg, SourceErrorKind::QueryFailed, e.url.clone(), None, e.to_string())),
            }
        }
        if snap.rules_truncated {
            if let Some(branch) = snap.default_branch.clone() {
                let path = format!("/repos/{repo}/rules/branches/{}?per_page=100", enc(&branch));
                match rest_pages(&client, &path, &etags, &mut cache_out, now).await {
                    Ok(pages) => {
                        let all: Vec<Value> = pages.iter().filter_map(Value::as_array).flatten().cloned().collect();
                        snapshot::apply_rest_rules(snap, &Value::Array(all));
                    }
                    Err(e) => out.errors.push(err(cfg, SourceErrorKind::QueryFailed, e.url.clone(), None, e.to_string())),
                }
            }
        }
    }

    // facts per component
    let api = &cfg.api.api_url;
    let mut read = 0usize;
    let mut reused = 0usize;
    for (k, (spelling, refs)) in &wanted {
        let org = k.split('/').next().unwrap_or("");
        let (snap, observed, evidence) = if let Some(s) = fresh.get(k) {
            read += 1;
            (s, now, format!("GitHub GraphQL {} repository {}, read {}", cfg.api.graphql_url, s.repo, now.to_rfc3339()))
        } else if let (true, Some(c)) = (reused_ok.contains(k), snaps.get(k)) {
            reused += 1;
            (
                &c.snap,
                c.fetched_at,
                format!(
                    "GitHub GraphQL {} repository {}, read {}; unchanged per the {org} organisation's push and update times at {} (ages counted from then)",
                    cfg.api.graphql_url,
                    c.snap.repo,
                    c.fetched_at.to_rfc3339(),
                    now.to_rfc3339()
                ),
            )
        } else {
            if !failed_orgs.contains(org) && !failed_orgs.contains(&format!("repo:{k}")) {
                for r in refs {
                    out.errors.push(err(
                        cfg,
                        SourceErrorKind::QueryFailed,
                        format!("{api}/repos/{spelling}"),
                        Some(r.clone()),
                        format!("{r} names repository {spelling}, which GitHub does not have (or the credentials cannot see)"),
                    ));
                }
            }
            continue;
        };
        for r in refs {
            for (fact, value) in snap.facts(now) {
                out.facts.push(Fact {
                    entity_ref: r.clone(),
                    source: cfg.name.clone(),
                    fact: fact.to_owned(),
                    value,
                    observed_at: observed,
                    evidence: evidence.clone(),
                });
            }
        }
    }
    unowned.retain(|r| !claimed_elsewhere.contains(&key(r)));
    unowned.sort();
    unowned.dedup();
    if !unowned.is_empty() {
        let shown: Vec<&str> = unowned.iter().take(20).map(String::as_str).collect();
        let more = if unowned.len() > 20 { format!(" and {} more", unowned.len() - 20) } else { String::new() };
        out.errors.push(err(
            cfg,
            SourceErrorKind::Unmatched,
            "organizations".into(),
            None,
            format!("{} repositories belong to no catalog component: {}{more}", unowned.len(), shown.join(", ")),
        ));
    }

    // what to keep: new snapshots and watermarks
    for (k, s) in &fresh {
        cache_out.push(CacheEntry {
            key: format!("repo:{k}"),
            etag: None,
            body: serde_json::to_string(s).unwrap_or_default(),
            fetched_at: now,
        });
    }
    for org in &cfg.organizations {
        let okey = org.to_ascii_lowercase();
        if failed_orgs.contains(&okey) {
            continue;
        }
        // the newest times among the repositories known now; a watermark never moves back
        let mut pushed = marks.get(&okey).map(|m| m.pushed.clone()).unwrap_or_default();
        let mut updated = marks.get(&okey).map(|m| m.updated.clone()).unwrap_or_default();
        let probed =
            probe_max.get(&okey).map(|(p, u)| (Some(p.clone()).filter(|x| !x.is_empty()), Some(u.clone()).filter(|x| !x.is_empty())));
        let from_reads = fresh
            .values()
            .filter(|s| key(&s.repo).split('/').next() == Some(okey.as_str()))
            .map(|s| (s.pushed_at.clone(), s.updated_at.clone()));
        for (p, u) in probed.into_iter().chain(from_reads) {
            if let Some(p) = &p {
                if pushed.is_empty() || graphql::later(p, &pushed) {
                    pushed = p.clone();
                }
            }
            if let Some(u) = &u {
                if updated.is_empty() || graphql::later(u, &updated) {
                    updated = u.clone();
                }
            }
        }
        if !pushed.is_empty() && !updated.is_empty() {
            cache_out.push(CacheEntry {
                key: format!("org:{okey}"),
                etag: None,
                body: serde_json::to_string(&Watermark { pushed, updated }).unwrap_or_default(),
                fetched_at: now,
            });
        }
    }
    out.cache = cache_out;
    let st = client.stats();
    if let Value::Object(m) = json!({
        "requests": st.requests,
        "graphql_requests": st.graphql_requests,
        "rest_requests": st.rest_requests,
        "not_modified": st.not_modified,
        "graphql_points": st.graphql_points,
        "rest_points": st.rest_points,
        "rate_limited": st.rate_limited,
        "retries": st.retries,
        "waited_secs": st.waited_secs,
        "repositories_read": read,
        "repositories_reused": reused,
        "components": wanted.values().map(|w| w.1.len()).sum::<usize>(),
    }) {
        out.stats = m;
    }
    if out.facts.is_empty() && out.errors.iter().any(|e| e.kind == SourceErrorKind::Unavailable) {
        out.unavailable = true;
    }
    out
}

/// The newest push and update times among the probe's nodes (empty texts when none).
fn changed_nodes_max(nodes: &[Value]) -> (String, String) {
    let mut m = (String::new(), String::new());
    for n in nodes {
        for (k, slot) in [("pushedAt", &mut m.0), ("updatedAt", &mut m.1)] {
            if let Some(t) = n.get(k).and_then(Value::as_str) {
                if slot.is_empty() || graphql::later(t, slot) {
                    *slot = t.to_owned();
                }
            }
        }
    }
    m
}

/// Percent-encodes a path segment (branch names may hold `/`).
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Every page of a REST list, following `Link: rel="next"`, each page conditional on the
/// ETag kept from an earlier run; the pages' new validators go to `cache_out`.
async fn rest_pages(
    client: &Client,
    first: &str,
    etags: &HashMap<String, (String, String)>,
    cache_out: &mut Vec<CacheEntry>,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, ApiError> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    let mut n = 0;
    while let Some(url) = next.take() {
        n += 1;
        if n > 100 {
            break;
        }
        let cache_key = url.strip_prefix(&client.api_url).unwrap_or(&url).to_owned();
        let cached = etags.get(&cache_key).map(|(e, b)| (e.as_str(), b.as_str()));
        let a = client.get(&url, cached).await?;
        // the body is kept with its link so a 304 can still lead to the next page
        let stored: Value = if a.not_modified {
            serde_json::from_str(&a.body).unwrap_or(Value::Null)
        } else {
            json!({"link_next": a.link_next, "body": serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null)})
        };
        let body = stored.get("body").cloned().unwrap_or(Value::Null);
        next = stored.get("link_next").and_then(Value::as_str).map(str::to_owned);
        if let Some(tag) = &a.etag {
            cache_out.push(CacheEntry {
                key: format!("GET {cache_key}"),
                etag: Some(tag.clone()),
                body: stored.to_string(),
                fetched_at: now,
            });
        }
        pages.push(body);
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_is_known_to_the_checks_with_its_type() {
        for (f, t) in FACTS {
            let known = crate::grade::known_facts::KNOWN_FACTS.iter().find(|k| k.0 == *f);
            assert_eq!(known.map(|k| k.1), Some(*t), "{f}");
        }
    }

    #[test]
    fn repositories_from_slugs_and_source_locations() {
        let c = |k: &str, v: &str| Component {
            entity_ref: "component:default/x".into(),
            name: "x".into(),
            annotations: [(k.to_owned(), v.to_owned())].into_iter().collect(),
        };
        assert_eq!(repository_of(&c(SLUG_ANNOTATION, "lumen/payments"), "github.com"), Some(Ok("lumen/payments".into())));
        assert!(matches!(repository_of(&c(SLUG_ANNOTATION, "lumen"), "github.com"), Some(Err(_))));
        assert_eq!(
            repository_of(&c(SOURCE_LOCATION_ANNOTATION, "url:https://github.com/lumen/api.git"), "github.com"),
            Some(Ok("lumen/api".into()))
        );
        assert_eq!(repository_of(&c(SOURCE_LOCATION_ANNOTATION, "url:https://gitlab.com/lumen/api"), "github.com"), None);
        assert_eq!(Api::default_graphql_url("https://ghe.example.com/api/v3"), "https://ghe.example.com/api/graphql");
        assert_eq!(Api::default_graphql_url("https://api.github.com"), "https://api.github.com/graphql");
        assert_eq!(Api::default_web_host("https://api.github.com"), "github.com");
    }
}
