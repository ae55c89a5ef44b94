//! The Zoekt source: named code searches against a `zoekt-webserver -rpc`, counted per
//! repository and attributed to the components whose repositories (and, in monorepos, whose
//! source paths) hold the matches. Facts `zoekt.<name>` (matching lines) and
//! `zoekt.<name>_files` (files).
//!
//! Contract (`../shared/docs/contracts.md` §C):
//! - **One `POST /api/search` per declared query per run** (`{"Q", "Opts"}`, PascalCase), with
//!   no match limits (`ShardMaxMatchCount`, `TotalMaxMatchCount` 0) so counts are complete,
//!   and `MaxWallTime` (nanoseconds) from the source's timeout. Answers: `{"Result": {...stats,
//!   "Files": [...] | null}}`; errors `{"Error": "..."}` with 400/405/500.
//! - **Counting**: matching lines (`LineMatches`, what Zoekt's `MatchCount` counts; from a
//!   server that answers `ChunkMatches`, the distinct lines their ranges cover) and files,
//!   per repository. A result with `FilesSkipped`, `ShardsSkipped` or `Crashes` is incomplete:
//!   nothing is stored for that query (never a smaller count) and the run records why.
//! - **Mapping**: a component's repository comes from `github.com/project-slug` (through
//!   `repository_template`, default `github.com/{slug}`) or `backstage.io/source-location`
//!   (`url:https://host/org/repo[/tree/<branch>/<path>]`). When several components share a
//!   repository (a monorepo), a file is attributed to the component with the longest source
//!   path that contains it. A component whose repository has no match gets 0: a repository
//!   Zoekt does not index also reads 0 (listing the index would cost a request per run).
//!   Matches in repositories no component claims are reported as unowned, by repository.
//! - **Auth**: an optional `Authorization` header value from the environment variable
//!   `auth_header_env` (Zoekt has none; a proxy in front may). Never logged or stored.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::prometheus::Component;
use super::{Fact, FactValue, SourceError, SourceErrorKind, SourceOutput};

pub const DEFAULT_REPOSITORY_TEMPLATE: &str = "github.com/{slug}";
/// Zoekt's default per-shard match limit, applied even when a request asks for none.
const SHARD_MATCH_CAP: i64 = 100_000;
/// File paths kept in a fact's evidence.
const EVIDENCE_FILES: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// facts `zoekt.<name>` and `zoekt.<name>_files`
    pub name: String,
    pub query: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    pub endpoint: String,
    pub auth_header_env: Option<String>,
    pub timeout_secs: u64,
    pub repository_template: String,
    pub required: bool,
    pub queries: Vec<Query>,
}

/// Where a component's code lives: a repository name as Zoekt indexes it, and the folder
/// within it ("" = the whole repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub repository: String,
    pub path: String,
}

/// A component's code location from its annotations.
pub fn location(c: &Component, template: &str) -> Option<Location> {
    if let Some(slug) = c.annotations.get("github.com/project-slug").map(|s| s.trim().trim_matches('/')).filter(|s| !s.is_empty()) {
        return Some(Location { repository: template.replace("{slug}", slug), path: String::new() });
    }
    let src = c.annotations.get("backstage.io/source-location")?;
    let url = src.trim().strip_prefix("url:").unwrap_or(src.trim());
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?;
    let segs: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return None;
    }
    let repo = segs[1].trim_end_matches(".git");
    // /org/repo/tree/<branch>/<path...> (GitHub, Gitea) or /org/repo/-/tree/<branch>/... (GitLab)
    let rest: &[&str] = &segs[2..];
    let rest = if rest.first() == Some(&"-") { &rest[1..] } else { rest };
    let path = if matches!(rest.first(), Some(&"tree") | Some(&"blob")) && rest.len() > 2 { rest[2..].join("/") } else { String::new() };
    Some(Location { repository: format!("{host}/{}/{repo}", segs[0]), path })
}

fn err(cfg: &Config, kind: SourceErrorKind, location: String, message: String) -> SourceError {
    let message = format!("{} ({location}): {message}", cfg.name);
    SourceError { source: cfg.name.clone(), kind, location: Some(location), entity: None, message }
}

/// Per repository and file: matching lines.
type Matches = BTreeMap<String, BTreeMap<String, u64>>;

/// Runs every query once; counts for the components whose code holds the matches.
pub async fn collect(cfg: &Config, components: &[Component], now: DateTime<Utc>) -> SourceOutput {
    let mut out = SourceOutput { name: cfg.name.clone(), required: cfg.required, ..Default::default() };
    super::prometheus::install_tls();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static("application/json"));
    if let Some(var) = &cfg.auth_header_env {
        match std::env::var(var).ok().and_then(|v| reqwest::header::HeaderValue::from_str(v.trim()).ok()) {
            Some(mut v) => {
                v.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
            None => {
                out.errors.push(err(
                    cfg,
                    SourceErrorKind::Unavailable,
                    cfg.endpoint.clone(),
                    format!("environment variable {var} is not set"),
                ));
                out.unavailable = true;
                return out;
            }
        }
    }
    let http = match reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(cfg.timeout_secs.max(1) + 5)).build() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(err(cfg, SourceErrorKind::Unavailable, cfg.endpoint.clone(), format!("cannot build the HTTP client: {e}")));
            out.unavailable = true;
            return out;
        }
    };
    let url = format!("{}/api/search", cfg.endpoint.trim_end_matches('/'));
    // repository → [(component, path)], the longest path first
    let mut claims: BTreeMap<String, Vec<(&Component, String)>> = BTreeMap::new();
    for c in components {
        if let Some(l) = location(c, &cfg.repository_template) {
            claims.entry(l.repository).or_default().push((c, l.path.trim_matches('/').to_owned()));
        }
    }
    for v in claims.values_mut() {
        v.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.entity_ref.cmp(&b.0.entity_ref)));
    }
    let mut reachable = false;
    for q in &cfg.queries {
        let location = format!("{} query {}", cfg.endpoint, q.name);
        let body = json!({
            "Q": q.query,
            "Opts": {
                "ShardMaxMatchCount": 0,
                "TotalMaxMatchCount": 0,
                "MaxDocDisplayCount": 0,
                "NumContextLines": 0,
                "MaxWallTime": (cfg.timeout_secs.max(1) as i64) * 1_000_000_000
            }
        });
        let resp = match http.post(&url).body(body.to_string()).send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    e.to_string().replace(&url, "<endpoint>")
                };
                out.errors.push(err(cfg, SourceErrorKind::Unavailable, location, format!("request failed: {why}")));
                continue;
            }
        };
        reachable = true;
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(err(cfg, SourceErrorKind::Unavailable, location, format!("reading the answer failed: {e}")));
                continue;
            }
        };
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => {
                let head: String = text.chars().take(120).collect();
                out.errors.push(err(
                    cfg,
                    SourceErrorKind::QueryFailed,
                    location,
                    format!("HTTP {status} with a non-JSON answer: {head:?}"),
                ));
                continue;
            }
        };
        if let Some(e) = v.get("Error").and_then(Value::as_str) {
            out.errors.push(err(cfg, SourceErrorKind::QueryFailed, location, format!("HTTP {status}: {e}")));
            continue;
        }
        let Some(result) = v.get("Result") else {
            out.errors.push(err(cfg, SourceErrorKind::QueryFailed, location, format!("HTTP {status}: no Result in the answer")));
            continue;
        };
        let n = |k: &str| result.get(k).and_then(Value::as_i64).unwrap_or(0);
        let (skipped_files, skipped_shards, crashes) = (n("FilesSkipped"), n("ShardsSkipped"), n("Crashes"));
        // each shard stops at 100,000 matches even when asked for no limit, without saying so
        let capped = n("MatchCount") >= SHARD_MATCH_CAP;
        if capped {
            out.errors.push(err(
                cfg,
                SourceErrorKind::QueryFailed,
                location,
                format!(
                    "{} matches reach Zoekt's per-shard limit ({SHARD_MATCH_CAP}): the count may be cut, none stored for {}",
                    n("MatchCount"),
                    q.name
                ),
            ));
            continue;
        }
        if skipped_files > 0 || skipped_shards > 0 || crashes > 0 {
            out.errors.push(err(
                cfg,
                SourceErrorKind::QueryFailed,
                location,
                format!(
                    "incomplete result ({skipped_files} files and {skipped_shards} shards skipped, {crashes} crashes): no count stored for {}",
                    q.name
                ),
            ));
            continue;
        }
        let mut matches: Matches = BTreeMap::new();
        for f in result.get("Files").and_then(Value::as_array).into_iter().flatten() {
            let repo = f.get("Repository").and_then(Value::as_str).unwrap_or_default().to_owned();
            let file = f.get("FileName").and_then(Value::as_str).unwrap_or_default().to_owned();
            let lines = matching_lines(f).max(1);
            *matches.entry(repo).or_default().entry(file).or_default() += lines;
        }
        // attribute: per component its lines and files
        let mut per: BTreeMap<&str, (u64, Vec<String>)> = BTreeMap::new();
        for comps in claims.values() {
            for (c, _) in comps {
                per.entry(c.entity_ref.as_str()).or_default();
            }
        }
        let mut unowned: BTreeMap<String, u64> = BTreeMap::new();
        for (repo, files) in &matches {
            let Some(comps) = claims.get(repo) else {
                unowned.insert(repo.clone(), files.values().sum());
                continue;
            };
            for (file, lines) in files {
                let owner = comps.iter().find(|(_, p)| p.is_empty() || file == p || file.starts_with(&format!("{p}/")));
                match owner {
                    Some((c, _)) => {
                        let e = per.entry(c.entity_ref.as_str()).or_default();
                        e.0 += lines;
                        e.1.push(format!("{repo}/{file}"));
                    }
                    None => *unowned.entry(format!("{repo} (outside every component's path)")).or_default() += lines,
                }
            }
        }
        for (entity, (lines, files)) in per {
            let shown: Vec<&str> = files.iter().take(EVIDENCE_FILES).map(String::as_str).collect();
            let evidence = format!(
                "zoekt query {:?} on {} at {}: {lines} matching lines in {} files{}{}",
                q.query,
                cfg.endpoint,
                now.format("%Y-%m-%dT%H:%M:%SZ"),
                files.len(),
                if shown.is_empty() { String::new() } else { format!(": {}", shown.join(", ")) },
                if files.len() > shown.len() { ", …" } else { "" }
            );
            for (fact, value) in [(format!("zoekt.{}", q.name), lines as f64), (format!("zoekt.{}_files", q.name), files.len() as f64)] {
                out.facts.push(Fact {
                    entity_ref: entity.to_owned(),
                    source: cfg.name.clone(),
                    fact,
                    value: FactValue::Number(value),
                    observed_at: now,
                    evidence: evidence.clone(),
                });
            }
        }
        if !unowned.is_empty() {
            let list: Vec<String> = unowned.iter().take(10).map(|(r, n)| format!("{r}: {n}")).collect();
            out.errors.push(err(
                cfg,
                SourceErrorKind::Unmatched,
                location,
                format!(
                    "matches in {} repositories no component claims: {}{}",
                    unowned.len(),
                    list.join("; "),
                    if unowned.len() > list.len() { "; …" } else { "" }
                ),
            ));
        }
    }
    if !reachable && !cfg.queries.is_empty() {
        out.unavailable = true;
    }
    out
}

/// The matching lines of a file match: its `LineMatches` (one per line, as Zoekt's
/// `MatchCount` counts them), or, from a server that answers `ChunkMatches`, the distinct
/// lines its match ranges cover (a chunk holds several lines and a line several ranges), so
/// the fact means the same whichever shape the server sends. A match in the file name counts
/// as one line either way.
fn matching_lines(f: &Value) -> u64 {
    if let Some(l) = f.get("LineMatches").and_then(Value::as_array) {
        return l.len() as u64;
    }
    let Some(chunks) = f.get("ChunkMatches").and_then(Value::as_array) else { return 0 };
    let line = |loc: &Value, key: &str| loc.get(key).and_then(Value::as_u64);
    let mut lines = std::collections::BTreeSet::new();
    let mut names = 0;
    for c in chunks {
        if c.get("FileName").and_then(Value::as_bool) == Some(true) {
            names += 1;
            continue;
        }
        for r in c.get("Ranges").and_then(Value::as_array).into_iter().flatten() {
            let (Some(start), Some(end)) = (r.get("Start"), r.get("End")) else { continue };
            let Some(first) = line(start, "LineNumber") else { continue };
            let mut last = line(end, "LineNumber").unwrap_or(first).max(first);
            // a range that ends just after a newline ends at column 1 of the next line
            if last > first && line(end, "Column") == Some(1) {
                last -= 1;
            }
            lines.extend(first..=last);
        }
    }
    lines.len() as u64 + names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_matches_count_the_distinct_lines_their_ranges_cover() {
        let loc = |line: u64, col: u64| json!({"ByteOffset": 0, "LineNumber": line, "Column": col});
        let range = |a: (u64, u64), b: (u64, u64)| json!({"Start": loc(a.0, a.1), "End": loc(b.0, b.1)});
        let f = json!({"FileName": "a.go", "ChunkMatches": [
            // two matches on line 3 and one on line 4 in one chunk: two lines
            {"Content": "", "ContentStart": loc(3, 1), "FileName": false,
             "Ranges": [range((3, 2), (3, 5)), range((3, 9), (3, 12)), range((4, 1), (4, 3))]},
            // a match over lines 10-12 ending with the newline of line 12
            {"Content": "", "ContentStart": loc(10, 1), "FileName": false, "Ranges": [range((10, 4), (13, 1))]},
            // line 4 again, from another chunk: not counted twice
            {"Content": "", "ContentStart": loc(4, 1), "FileName": false, "Ranges": [range((4, 5), (4, 6))]},
            // a match in the path
            {"Content": "", "ContentStart": loc(1, 1), "FileName": true, "Ranges": [range((1, 1), (1, 4))]}
        ]});
        assert_eq!(matching_lines(&f), 2 + 3 + 1);
        let lm = json!({"LineMatches": [{"LineNumber": 3}, {"LineNumber": 4}]});
        assert_eq!(matching_lines(&lm), 2);
        assert_eq!(matching_lines(&json!({"FileName": "x"})), 0);
    }

    fn comp(annotations: &[(&str, &str)]) -> Component {
        Component {
            entity_ref: "component:default/x".into(),
            name: "x".into(),
            annotations: annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn repositories_and_paths_come_from_annotations() {
        let l = location(&comp(&[("github.com/project-slug", "acme/payments")]), DEFAULT_REPOSITORY_TEMPLATE).unwrap();
        assert_eq!(l, Location { repository: "github.com/acme/payments".into(), path: "".into() });
        let l = location(&comp(&[("backstage.io/source-location", "url:https://github.com/acme/mono/tree/main/services/billing/")]), "")
            .unwrap();
        assert_eq!(l, Location { repository: "github.com/acme/mono".into(), path: "services/billing".into() });
        let l = location(&comp(&[("backstage.io/source-location", "url:https://gitlab.example.com/acme/mono/-/tree/main/a")]), "").unwrap();
        assert_eq!(l, Location { repository: "gitlab.example.com/acme/mono".into(), path: "a".into() });
        let l = location(&comp(&[("backstage.io/source-location", "url:https://github.com/acme/repo.git")]), "").unwrap();
        assert_eq!(l.repository, "github.com/acme/repo");
        assert_eq!(location(&comp(&[]), DEFAULT_REPOSITORY_TEMPLATE), None);
    }
}
