//! A fake GitHub on loopback for tests and the benchmark, following `contracts.md` §E: the
//! GraphQL operations echo-health sends (`OrgRepositories`, `ChangedRepositories`,
//! `Repositories`, `MoreOfRepository`) answered in the schema's shapes with
//! `rateLimit { cost remaining resetAt }`, partial `errors` (`FORBIDDEN` vulnerability
//! alerts, `NOT_FOUND` repositories) and `RATE_LIMITED`; the REST endpoints it uses
//! (Dependabot alerts with cursor `Link` pages, effective branch rules) with `ETag` /
//! `If-None-Match` → 304 (not counted against the limit), `x-ratelimit-*` headers, 403
//! secondary limits with `retry-after`, `{"message", "documentation_url"}` error bodies; and
//! GitHub App installation tokens (`POST /app/installations/{id}/access_tokens` with an RS256
//! JWT). Point costs follow GitHub's formula for the connections a query asks for.
//!
//! The fake only answers the fields a query names (a field the query does not ask for is not
//! in the answer), so a parser reading a field it never requested fails here as on GitHub.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::bench::loopback::{serve_full, Reply, Request};

#[derive(Debug, Clone, Default)]
pub struct ClassicRule {
    pub pattern: String,
    pub reviews: Option<u64>,
    pub status_checks: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub name: String,
    pub id: u64,
    /// ACTIVE, EVALUATE, DISABLED
    pub enforcement: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// rule types (PULL_REQUEST, REQUIRED_STATUS_CHECKS, DELETION, ...)
    pub rules: Vec<String>,
    pub reviews: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// `owner/name`
    pub name: String,
    pub pushed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived: bool,
    pub visibility: String,
    /// None: an empty repository
    pub default_branch: Option<String>,
    pub language: Option<String>,
    pub license: Option<String>,
    /// files at HEAD (path → text); `.github/workflows/*.yml` count as workflows
    pub files: BTreeMap<String, String>,
    pub open_prs: Vec<DateTime<Utc>>,
    /// (merged_at, updated_at), any order
    pub merged: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// (created_at, published_at, draft)
    pub releases: Vec<(DateTime<Utc>, DateTime<Utc>, bool)>,
    /// open alert severities (LOW, MODERATE, HIGH, CRITICAL); None: the token may not read them
    pub alerts: Option<Vec<String>>,
    pub alerts_enabled: bool,
    pub classic: Vec<ClassicRule>,
    pub rulesets: Vec<Ruleset>,
}

/// What the fake counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub graphql: usize,
    pub rest: usize,
    pub not_modified: usize,
    pub points: u64,
    pub rest_points: u64,
    pub token_requests: usize,
    pub unauthorized: usize,
    /// operationName → requests
    pub operations: BTreeMap<String, usize>,
}

pub struct State {
    pub repos: Vec<Repo>,
    pub counts: Counts,
    pub graphql_remaining: u64,
    pub core_remaining: u64,
    /// epoch seconds of the next reset
    pub reset_at: i64,
    /// reset to this many points when `reset_at` passes
    pub limit: u64,
    /// answers to give before the normal ones (status), e.g. 502 for a GraphQL timeout
    pub fail_graphql: Vec<u16>,
    /// answer the next REST request with a 403 secondary rate limit (`retry-after: N`)
    pub secondary_limit: Option<u64>,
    /// installation tokens handed out
    pub installation_tokens: Vec<String>,
    pub app_id: Option<u64>,
}

pub struct FakeGitHub {
    pub org: String,
    /// the bearer token it accepts (besides installation tokens); None: any
    pub token: Option<String>,
    pub state: Mutex<State>,
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn cursor(i: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{i}"))
}

fn uncursor(c: Option<&str>) -> usize {
    use base64::Engine;
    c.and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("cursor:v2:").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn etag_of(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

fn gh_error(status: u16, message: &str) -> (u16, String) {
    (status, json!({"message": message, "documentation_url": "https://docs.github.com/rest"}).to_string())
}

/// GitHub's point cost of a query: every connection as if fully used (a connection inside
/// each of `rulesets(first: 5)` counts 5 times), plus the query, / 100, at least 1.
fn cost(query: &str, repos: usize) -> u64 {
    let count = |pat: &str| query.matches(pat).count() as u64;
    let literal_firsts =
        query.match_indices("first: ").filter(|(i, _)| query[i + 7..].starts_with(|c: char| c.is_ascii_digit())).count() as u64;
    let aliases = count(": repository(").max(1);
    let per_repo_conns = literal_firsts / aliases;
    let per_repo_rules = count("rules(first:") / aliases;
    let per_repo = per_repo_conns - per_repo_rules + per_repo_rules * 5;
    let total = 1 + repos as u64 * per_repo;
    ((total as f64) / 100.0).round().max(1.0) as u64
}

impl Repo {
    pub fn new(name: &str, now: DateTime<Utc>) -> Repo {
        Repo {
            name: name.to_owned(),
            pushed_at: now - Duration::days(3),
            updated_at: now - Duration::days(3),
            visibility: "PRIVATE".into(),
            default_branch: Some("main".into()),
            alerts: Some(Vec::new()),
            alerts_enabled: true,
            ..Default::default()
        }
    }

    fn blob(&self, path: &str, want_text: bool) -> Value {
        if self.default_branch.is_none() {
            return Value::Null;
        }
        if let Some(t) = self.files.get(path) {
            let mut b = json!({"__typename": "Blob", "byteSize": t.len(), "isBinary": false, "isTruncated": false});
            if want_text {
                b["text"] = json!(t);
            }
            return b;
        }
        // a folder
        let prefix = format!("{path}/");
        let entries: Vec<Value> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(|n| json!({"name": n, "type": "blob"}))
            .collect();
        if entries.is_empty() {
            Value::Null
        } else {
            json!({"__typename": "Tree", "entries": entries})
        }
    }

    /// The node for the fields `q` asks for; errors (path suffix, type, message) beside it.
    fn node(&self, q: &str) -> (Value, Vec<(String, &'static str, String)>) {
        let mut n = serde_json::Map::new();
        let mut errs = Vec::new();
        let has = |f: &str| q.contains(f);
        n.insert("nameWithOwner".into(), json!(self.name));
        if has("isArchived") {
            n.insert("isArchived".into(), json!(self.archived));
        }
        if has("isDisabled") {
            n.insert("isDisabled".into(), json!(false));
        }
        if has("isFork") {
            n.insert("isFork".into(), json!(false));
        }
        if has("visibility") {
            n.insert("visibility".into(), json!(self.visibility));
        }
        if has("pushedAt") {
            n.insert("pushedAt".into(), json!(rfc(self.pushed_at)));
        }
        if has("updatedAt") {
            n.insert("updatedAt".into(), json!(rfc(self.updated_at)));
        }
        if has("defaultBranchRef") {
            n.insert("defaultBranchRef".into(), self.default_branch.as_ref().map(|b| json!({"name": b})).unwrap_or(Value::Null));
        }
        if has("primaryLanguage") {
            n.insert("primaryLanguage".into(), self.language.as_ref().map(|l| json!({"name": l})).unwrap_or(Value::Null));
        }
        if has("licenseInfo") {
            n.insert(
                "licenseInfo".into(),
                self.license.as_ref().map(|l| json!({"spdxId": l, "key": l.to_lowercase()})).unwrap_or(Value::Null),
            );
        }
        // aliased objects: `alias: object(expression: "HEAD:path")`
        let mut rest = q;
        while let Some(i) = rest.find(": object(expression: \"HEAD:") {
            let alias = rest[..i].rsplit(|c: char| c.is_whitespace() || c == '{').next().unwrap_or("").to_owned();
            let after = &rest[i + 27..];
            let path = after.split('"').next().unwrap_or("").to_owned();
            let want_text = after.split('}').next().map(|s| s.contains(" text")).unwrap_or(false);
            n.insert(alias, self.blob(&path, want_text));
            rest = after;
        }
        if has("openPullRequests:") {
            let mut open = self.open_prs.clone();
            open.sort();
            n.insert(
                "openPullRequests".into(),
                json!({"totalCount": open.len(), "nodes": open.iter().take(1).map(|t| json!({"createdAt": rfc(*t)})).collect::<Vec<_>>()}),
            );
        }
        if has("mergedPullRequests:") {
            n.insert("mergedPullRequests".into(), self.merged_page(0));
        }
        if has("releases(first:") {
            n.insert("releases".into(), self.releases_page(0));
        }
        if has("hasVulnerabilityAlertsEnabled") {
            n.insert("hasVulnerabilityAlertsEnabled".into(), json!(self.alerts_enabled));
        }
        if has("vulnerabilityAlerts(") {
            match &self.alerts {
                Some(a) => {
                    let nodes: Vec<Value> = a.iter().take(100).map(|s| json!({"securityVulnerability": {"severity": s}})).collect();
                    n.insert("vulnerabilityAlerts".into(), json!({"totalCount": a.len(), "nodes": nodes}));
                }
                None => {
                    n.insert("vulnerabilityAlerts".into(), Value::Null);
                    errs.push(("vulnerabilityAlerts".into(), "FORBIDDEN", "Resource not accessible by integration".into()));
                }
            }
        }
        if has("branchProtectionRules(") {
            let nodes: Vec<Value> = self
                .classic
                .iter()
                .take(10)
                .map(|r| {
                    json!({"pattern": r.pattern, "requiresApprovingReviews": r.reviews.is_some(),
                           "requiredApprovingReviewCount": r.reviews.unwrap_or(0), "requiresStatusChecks": r.status_checks})
                })
                .collect();
            n.insert("branchProtectionRules".into(), json!({"totalCount": self.classic.len(), "nodes": nodes}));
        }
        if has("rulesets(") {
            let nodes: Vec<Value> = self
                .rulesets
                .iter()
                .take(5)
                .map(|r| {
                    let rules: Vec<Value> = r
                        .rules
                        .iter()
                        .take(10)
                        .map(|t| {
                            let params = if t == "PULL_REQUEST" { json!({"requiredApprovingReviewCount": r.reviews}) } else { json!({}) };
                            json!({"type": t, "parameters": params})
                        })
                        .collect();
                    json!({"name": r.name, "enforcement": r.enforcement, "target": "BRANCH",
                           "conditions": {"refName": {"include": r.include, "exclude": r.exclude}},
                           "rules": {"totalCount": r.rules.len(), "nodes": rules}})
                })
                .collect();
            n.insert("rulesets".into(), json!({"totalCount": self.rulesets.len(), "nodes": nodes}));
        }
        (Value::Object(n), errs)
    }

    fn merged_page(&self, from: usize) -> Value {
        let mut m = self.merged.clone();
        m.sort_by(|a, b| b.1.cmp(&a.1));
        let page: Vec<Value> = m.iter().skip(from).take(100).map(|(ma, ua)| json!({"mergedAt": rfc(*ma), "updatedAt": rfc(*ua)})).collect();
        let end = from + page.len();
        json!({"pageInfo": {"hasNextPage": end < m.len(), "endCursor": if page.is_empty() { Value::Null } else { json!(cursor(end)) }}, "nodes": page})
    }

    fn releases_page(&self, from: usize) -> Value {
        let mut r = self.releases.clone();
        r.sort_by(|a, b| b.0.cmp(&a.0));
        let page: Vec<Value> = r
            .iter()
            .skip(from)
            .take(100)
            .map(|(c, p, d)| json!({"createdAt": rfc(*c), "publishedAt": if *d { Value::Null } else { json!(rfc(*p)) }, "isDraft": d}))
            .collect();
        let end = from + page.len();
        json!({"pageInfo": {"hasNextPage": end < r.len(), "endCursor": if page.is_empty() { Value::Null } else { json!(cursor(end)) }}, "nodes": page})
    }
}

impl FakeGitHub {
    /// Starts a fake serving `repos` of organisation `org`, accepting `token` (None: any).
    pub fn start(org: &str, token: Option<&str>, repos: Vec<Repo>) -> Arc<FakeGitHub> {
        let mut repos = repos;
        repos.sort_by_key(|r| r.name.to_ascii_lowercase());
        let state = State {
            repos,
            counts: Counts::default(),
            graphql_remaining: 5000,
            core_remaining: 5000,
            reset_at: Utc::now().timestamp() + 3600,
            limit: 5000,
            fail_graphql: Vec::new(),
            secondary_limit: None,
            installation_tokens: Vec::new(),
            app_id: None,
        };
        let slot: Arc<Mutex<Option<Arc<FakeGitHub>>>> = Arc::new(Mutex::new(None));
        let s2 = slot.clone();
        let (port, connections) = serve_full(Arc::new(move |r: &Request| {
            let fake = s2.lock().unwrap().clone().expect("fake registered");
            fake.answer(r)
        }));
        let fake =
            Arc::new(FakeGitHub { org: org.to_owned(), token: token.map(str::to_owned), state: Mutex::new(state), port, connections });
        *slot.lock().unwrap() = Some(fake.clone());
        fake
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn counts(&self) -> Counts {
        self.state.lock().unwrap().counts.clone()
    }

    pub fn reset_counts(&self) {
        self.state.lock().unwrap().counts = Counts::default();
    }

    fn rate_headers(st: &State, resource: &str) -> Vec<(String, String)> {
        let remaining = if resource == "graphql" { st.graphql_remaining } else { st.core_remaining };
        vec![
            ("x-ratelimit-limit".into(), st.limit.to_string()),
            ("x-ratelimit-remaining".into(), remaining.to_string()),
            ("x-ratelimit-used".into(), (st.limit - remaining.min(st.limit)).to_string()),
            ("x-ratelimit-reset".into(), st.reset_at.to_string()),
            ("x-ratelimit-resource".into(), resource.into()),
        ]
    }

    fn authorized(&self, r: &Request, st: &State) -> bool {
        let Some(auth) = r.header("authorization") else { return self.token.is_none() && st.app_id.is_none() };
        let Some(t) = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")) else { return false };
        if st.installation_tokens.iter().any(|x| x == t) {
            return true;
        }
        match (&self.token, st.app_id) {
            (_, Some(_)) => false,
            (Some(expected), None) => expected == t,
            (None, None) => true,
        }
    }

    fn answer(&self, r: &Request) -> Reply {
        let mut st = self.state.lock().unwrap();
        let now = Utc::now();
        if now.timestamp() >= st.reset_at {
            st.graphql_remaining = st.limit;
            st.core_remaining = st.limit;
            st.reset_at = now.timestamp() + 3600;
        }
        // GitHub App: installation tokens for a valid RS256 JWT naming the app
        if r.method == "POST" && r.path.starts_with("/app/installations/") && r.path.ends_with("/access_tokens") {
            st.counts.token_requests += 1;
            let jwt = r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
            let ok = jwt_claims(jwt).map(|(alg, iss)| alg == "RS256" && Some(iss) == st.app_id).unwrap_or(false);
            if !ok {
                st.counts.unauthorized += 1;
                let (s, b) = gh_error(401, "A JSON web token could not be decoded");
                return Reply { status: s, headers: vec![], body: b };
            }
            let token = format!("ghs_fakeinstallation{}", st.installation_tokens.len() + 1);
            st.installation_tokens.push(token.clone());
            return Reply {
                status: 201,
                headers: vec![],
                body: json!({"token": token, "expires_at": rfc(now + Duration::hours(1)), "permissions": {"metadata": "read"}}).to_string(),
            };
        }
        if !self.authorized(r, &st) {
            st.counts.unauthorized += 1;
            let (s, b) = gh_error(401, "Bad credentials");
            return Reply { status: s, headers: vec![], body: b };
        }
        if r.method == "POST" && (r.path == "/graphql" || r.path == "/api/graphql") {
            st.counts.graphql += 1;
            if let Some(status) = (!st.fail_graphql.is_empty()).then(|| st.fail_graphql.remove(0)) {
                return Reply {
                    status,
                    headers: vec![],
                    body: json!({"message": "We couldn't respond to your request in time."}).to_string(),
                };
            }
            let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            let op = body.get("operationName").and_then(Value::as_str).unwrap_or("").to_owned();
            *st.counts.operations.entry(op.clone()).or_default() += 1;
            let q = body.get("query").and_then(Value::as_str).unwrap_or("").to_owned();
            let vars = body.get("variables").cloned().unwrap_or(Value::Null);
            let (data, errors, repos_touched) = self.graphql(&st, &op, &q, &vars);
            let c = cost(&q, repos_touched);
            if st.graphql_remaining < c {
                let headers = Self::rate_headers(&st, "graphql");
                return Reply {
                    status: 200,
                    headers,
                    body: json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1."}]})
                        .to_string(),
                };
            }
            st.graphql_remaining -= c;
            st.counts.points += c;
            let mut data = data;
            if q.contains("rateLimit") {
                data["rateLimit"] =
                    json!({"cost": c, "remaining": st.graphql_remaining, "resetAt": DateTime::from_timestamp(st.reset_at, 0).map(rfc)});
            }
            let mut out = json!({"data": data});
            if !errors.is_empty() {
                out["errors"] = Value::Array(errors);
            }
            return Reply { status: 200, headers: Self::rate_headers(&st, "graphql"), body: out.to_string() };
        }
        if r.method == "GET" && r.path.starts_with("/repos/") {
            st.counts.rest += 1;
            if let Some(wait) = st.secondary_limit.take() {
                let mut headers = Self::rate_headers(&st, "core");
                headers.push(("retry-after".into(), wait.to_string()));
                let (s, b) = gh_error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
                return Reply { status: s, headers, body: b };
            }
            if st.core_remaining == 0 {
                let headers = Self::rate_headers(&st, "core");
                let (s, b) = gh_error(403, "API rate limit exceeded for user ID 1.");
                return Reply { status: s, headers, body: b };
            }
            let (status, body, link) = self.rest(&st, &r.path);
            let tag = etag_of(&body);
            if status == 200 && r.header("if-none-match") == Some(tag.as_str()) {
                st.counts.not_modified += 1;
                let mut headers = Self::rate_headers(&st, "core");
                headers.push(("etag".into(), tag));
                return Reply { status: 304, headers, body: String::new() };
            }
            st.core_remaining = st.core_remaining.saturating_sub(1);
            st.counts.rest_points += 1;
            let mut headers = Self::rate_headers(&st, "core");
            if status == 200 {
                headers.push(("etag".into(), tag));
            }
            if let Some(l) = link {
                headers.push(("link".into(), l));
            }
            return Reply { status, headers, body };
        }
        let (s, b) = gh_error(404, "Not Found");
        Reply { status: s, headers: vec![], body: b }
    }

    /// The organisation's repositories, by name (the fake may also hold other owners').
    fn org_repos<'a>(&self, st: &'a State) -> Vec<&'a Repo> {
        let prefix = format!("{}/", self.org.to_ascii_lowercase());
        st.repos.iter().filter(|r| r.name.to_ascii_lowercase().starts_with(&prefix)).collect()
    }

    fn find<'a>(st: &'a State, owner: &str, name: &str) -> Option<&'a Repo> {
        let full = format!("{owner}/{name}").to_ascii_lowercase();
        st.repos.iter().find(|r| r.name.to_ascii_lowercase() == full)
    }

    /// (data, errors, repositories in the answer)
    fn graphql(&self, st: &State, op: &str, q: &str, vars: &Value) -> (Value, Vec<Value>, usize) {
        let v = |k: &str| vars.get(k).and_then(Value::as_str).map(str::to_owned);
        let org_ok = |o: Option<String>| o.map(|o| o.eq_ignore_ascii_case(&self.org)).unwrap_or(false);
        match op {
            "OrgRepositories" => {
                if !org_ok(v("org")) {
                    return (
                        json!({"organization": null}),
                        vec![
                            json!({"type": "NOT_FOUND", "path": ["organization"], "message": format!("Could not resolve to an Organization with the login of '{}'.", v("org").unwrap_or_default())}),
                        ],
                        0,
                    );
                }
                let first = vars.get("first").and_then(Value::as_u64).unwrap_or(100).min(100) as usize;
                let from = uncursor(vars.get("after").and_then(Value::as_str));
                let inner = q.split_once("nodes {").map(|x| x.1).unwrap_or(q);
                let mut nodes = Vec::new();
                let mut errors = Vec::new();
                let repos = self.org_repos(st);
                for (i, r) in repos.iter().skip(from).take(first).enumerate() {
                    let (n, errs) = r.node(inner);
                    for (field, ty, msg) in errs {
                        errors.push(json!({"type": ty, "path": ["organization", "repositories", "nodes", i, field], "message": msg}));
                    }
                    nodes.push(n);
                }
                let end = from + nodes.len();
                let data = json!({"organization": {"repositories": {"totalCount": repos.len(),
                    "pageInfo": {"hasNextPage": end < repos.len(), "endCursor": if nodes.is_empty() { Value::Null } else { json!(cursor(end)) }},
                    "nodes": nodes}}});
                let n = end - from;
                (data, errors, n)
            }
            "ChangedRepositories" => {
                if !org_ok(v("org")) {
                    return (
                        json!({"organization": null}),
                        vec![json!({"type": "NOT_FOUND", "path": ["organization"], "message": "Could not resolve to an Organization"})],
                        0,
                    );
                }
                let mut by_push: Vec<&Repo> = self.org_repos(st);
                by_push.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at));
                let mut by_update: Vec<&Repo> = self.org_repos(st);
                by_update.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
                let page = |list: &[&Repo], after: Option<&str>| {
                    let from = uncursor(after);
                    let nodes: Vec<Value> = list
                        .iter()
                        .skip(from)
                        .take(100)
                        .map(|r| json!({"nameWithOwner": r.name, "pushedAt": rfc(r.pushed_at), "updatedAt": rfc(r.updated_at)}))
                        .collect();
                    let end = from + nodes.len();
                    json!({"pageInfo": {"hasNextPage": end < list.len(), "endCursor": json!(cursor(end))}, "nodes": nodes})
                };
                let data = json!({"organization": {
                    "pushed": page(&by_push, vars.get("pushedAfter").and_then(Value::as_str)),
                    "updated": page(&by_update, vars.get("updatedAfter").and_then(Value::as_str))}});
                (data, vec![], 0)
            }
            "Repositories" => {
                let mut data = serde_json::Map::new();
                let mut errors = Vec::new();
                let mut i = 0;
                let mut n = 0;
                while let (Some(o), Some(name)) = (v(&format!("o{i}")), v(&format!("n{i}"))) {
                    let alias = format!("r{i}");
                    match Self::find(st, &o, &name) {
                        // every alias asks for the same fields
                        Some(r) => {
                            let (node, errs) = r.node(q);
                            for (field, ty, msg) in errs {
                                errors.push(json!({"type": ty, "path": [alias, field], "message": msg}));
                            }
                            data.insert(alias, node);
                            n += 1;
                        }
                        None => {
                            errors.push(json!({"type": "NOT_FOUND", "path": [alias], "message": format!("Could not resolve to a Repository with the name '{o}/{name}'.")}));
                            data.insert(alias, Value::Null);
                        }
                    }
                    i += 1;
                }
                (Value::Object(data), errors, n)
            }
            "MoreOfRepository" => {
                let (o, name) = (v("owner").unwrap_or_default(), v("name").unwrap_or_default());
                let Some(r) = Self::find(st, &o, &name) else {
                    return (
                        json!({"repository": null}),
                        vec![json!({"type": "NOT_FOUND", "path": ["repository"], "message": "Could not resolve to a Repository"})],
                        0,
                    );
                };
                let from = uncursor(vars.get("after").and_then(Value::as_str));
                let page = if q.contains("page: pullRequests(") { r.merged_page(from) } else { r.releases_page(from) };
                (json!({"repository": {"page": page}}), vec![], 1)
            }
            _ => (Value::Null, vec![json!({"message": format!("unknown operation {op}")})], 0),
        }
    }

    /// (status, body, Link header)
    fn rest(&self, st: &State, path_q: &str) -> (u16, String, Option<String>) {
        let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let param = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}="))).map(str::to_owned);
        if parts.len() < 3 {
            let (s, b) = gh_error(404, "Not Found");
            return (s, b, None);
        }
        let Some(repo) = Self::find(st, parts[1], parts[2]) else {
            let (s, b) = gh_error(404, "Not Found");
            return (s, b, None);
        };
        match &parts[3..] {
            ["dependabot", "alerts"] => {
                let Some(alerts) = &repo.alerts else {
                    let (s, b) = gh_error(403, "Resource not accessible by integration");
                    return (s, b, None);
                };
                let per_page = param("per_page").and_then(|p| p.parse().ok()).unwrap_or(30usize).min(100);
                let from = uncursor(param("after").as_deref());
                let items: Vec<Value> = alerts
                    .iter()
                    .enumerate()
                    .skip(from)
                    .take(per_page)
                    .map(|(i, sev)| {
                        let sev = match sev.as_str() {
                            "MODERATE" => "medium".to_owned(),
                            s => s.to_ascii_lowercase(),
                        };
                        json!({"number": i + 1, "state": "open",
                            "dependency": {"package": {"ecosystem": "npm", "name": format!("pkg-{i}")}, "manifest_path": "package-lock.json", "scope": "runtime"},
                            "security_advisory": {"ghsa_id": format!("GHSA-fake-{i:04}"), "cve_id": null, "severity": sev},
                            "security_vulnerability": {"package": {"ecosystem": "npm", "name": format!("pkg-{i}")}, "severity": sev,
                                "vulnerable_version_range": "< 2.0.0", "first_patched_version": {"identifier": "2.0.0"}},
                            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
                            "dismissed_at": null, "fixed_at": null, "auto_dismissed_at": null})
                    })
                    .collect();
                let end = from + items.len();
                let link = (end < alerts.len())
                    .then(|| format!("<{}{}?state=open&per_page={per_page}&after={}>; rel=\"next\"", self.url(), path, cursor(end)));
                (200, Value::Array(items).to_string(), link)
            }
            ["rules", "branches", _branch] => {
                let rules: Vec<Value> = repo
                    .rulesets
                    .iter()
                    .filter(|r| r.enforcement == "ACTIVE")
                    .flat_map(|r| {
                        r.rules.iter().map(move |t| {
                            let params = if t == "PULL_REQUEST" { json!({"required_approving_review_count": r.reviews}) } else { json!({}) };
                            json!({"type": t.to_ascii_lowercase(), "ruleset_source_type": "Organization", "ruleset_source": "fake", "ruleset_id": r.id, "parameters": params})
                        })
                    })
                    .collect();
                (200, Value::Array(rules).to_string(), None)
            }
            _ => {
                let (s, b) = gh_error(404, "Not Found");
                (s, b, None)
            }
        }
    }
}

/// The `alg` of a JWT's header and the `iss` of its claims (signature not checked: the fake
/// has no public key; the header and claims are what GitHub reads first).
fn jwt_claims(jwt: &str) -> Option<(String, u64)> {
    use base64::Engine;
    let mut parts = jwt.split('.');
    let (h, c, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if sig.is_empty() {
        return None;
    }
    let dec = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok();
    let header: Value = serde_json::from_slice(&dec(h)?).ok()?;
    let claims: Value = serde_json::from_slice(&dec(c)?).ok()?;
    let iss = claims.get("iss").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))?;
    Some((header.get("alg")?.as_str()?.to_owned(), iss))
}

/// A `github` source reading organisation `org` from `fake`, without credentials (the
/// benchmark's and tests' starting point: adjust fields as needed).
pub fn source_config(fake: &FakeGitHub, org: &str) -> crate::sources::github::Config {
    use crate::sources::github::{Api, Config};
    Config {
        name: "github".into(),
        api: Api {
            api_url: fake.url(),
            graphql_url: format!("{}/graphql", fake.url()),
            web_host: "github.com".into(),
            token_env: None,
            app_id_env: None,
            app_installation_id_env: None,
            app_private_key_env: None,
            concurrency: 2,
            timeout_secs: 60,
            min_remaining: 100,
            max_wait_secs: 60,
            secondary_wait_secs: 60,
        },
        organizations: vec![org.to_owned()],
        page_size: 50,
        refresh_days: 7,
        required: false,
    }
}

/// A synthetic organisation of `n` repositories named like the synthetic catalog's components
/// (`synth/<name>`), with a realistic spread of settings; deterministic.
pub fn synthetic_org(names: &[String], now: DateTime<Utc>) -> Vec<Repo> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut r = Repo::new(name, now);
            let h = (i as u64).wrapping_mul(2_654_435_761) % 1000;
            r.pushed_at = now - Duration::hours((h * 7) as i64 + 1);
            r.updated_at = r.pushed_at;
            r.archived = h < 20;
            r.language = Some(["Java", "Go", "TypeScript", "Kotlin", "Python"][i % 5].into());
            r.license = (h % 3 == 0).then(|| "Apache-2.0".into());
            if h % 4 != 0 {
                r.files.insert(".github/workflows/ci.yml".into(), "on: push".into());
            }
            if h % 5 < 3 {
                r.files.insert(".github/dependabot.yml".into(), "version: 2".into());
            }
            if h % 2 == 0 {
                r.files.insert(".github/CODEOWNERS".into(), "* @synth/team".into());
            }
            r.open_prs = (0..(h % 6)).map(|k| now - Duration::days((k * 9) as i64)).collect();
            r.merged = (0..(h % 40)).map(|k| (now - Duration::days((k * 2) as i64), now - Duration::days((k * 2) as i64))).collect();
            r.releases =
                (0..(h % 4)).map(|k| (now - Duration::days((k * 30) as i64), now - Duration::days((k * 30) as i64), false)).collect();
            r.alerts = if h % 10 == 0 {
                None
            } else {
                Some((0..(h % 7)).map(|k| ["LOW", "MODERATE", "HIGH", "CRITICAL"][(k % 4) as usize].to_owned()).collect())
            };
            if h % 3 != 2 {
                r.classic.push(ClassicRule { pattern: "main".into(), reviews: Some(1 + h % 2), status_checks: h % 2 == 0 });
            } else if h % 9 == 2 {
                r.rulesets.push(Ruleset {
                    name: "org-default".into(),
                    id: 7,
                    enforcement: "ACTIVE".into(),
                    include: vec!["~DEFAULT_BRANCH".into()],
                    rules: vec!["PULL_REQUEST".into(), "DELETION".into()],
                    reviews: 1,
                    ..Default::default()
                });
            }
            r
        })
        .collect()
}
