//! What echo-health keeps of one repository (a snapshot, stored in `source_cache` so an
//! unchanged repository is not read again) and the facts derived from it at a given time.
//!
//! A field GitHub did not give (no permission, an error for that field, an empty repository)
//! is `None` and its fact is absent (unknown), never zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sources::FactValue;

/// Days of history the activity facts count.
pub const WINDOW_DAYS: i64 = 90;

/// The selection read for every repository (`contracts.md` §E.4). Each connection costs one
/// request per repository in GitHub's point formula: open and merged pull requests,
/// releases, vulnerability alerts, branch protection rules, rulesets and the rules of 5
/// rulesets: 11 per repository, about 11 points per 100 repositories.
pub const FIELDS: &str = "nameWithOwner isArchived isDisabled isFork visibility pushedAt updatedAt \
defaultBranchRef { name } primaryLanguage { name } licenseInfo { spdxId key } \
workflows: object(expression: \"HEAD:.github/workflows\") { ... on Tree { entries { name type } } } \
dependabotYml: object(expression: \"HEAD:.github/dependabot.yml\") { __typename } \
dependabotYaml: object(expression: \"HEAD:.github/dependabot.yaml\") { __typename } \
renovateJson: object(expression: \"HEAD:renovate.json\") { __typename } \
renovateJson5: object(expression: \"HEAD:renovate.json5\") { __typename } \
renovateGithubJson: object(expression: \"HEAD:.github/renovate.json\") { __typename } \
renovateGithubJson5: object(expression: \"HEAD:.github/renovate.json5\") { __typename } \
renovaterc: object(expression: \"HEAD:.renovaterc\") { __typename } \
renovatercJson: object(expression: \"HEAD:.renovaterc.json\") { __typename } \
codeownersGithub: object(expression: \"HEAD:.github/CODEOWNERS\") { __typename } \
codeownersRoot: object(expression: \"HEAD:CODEOWNERS\") { __typename } \
codeownersDocs: object(expression: \"HEAD:docs/CODEOWNERS\") { __typename } \
openPullRequests: pullRequests(states: OPEN, first: 1, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount nodes { createdAt } } \
mergedPullRequests: pullRequests(states: MERGED, first: 100, orderBy: {field: UPDATED_AT, direction: DESC}) { pageInfo { hasNextPage endCursor } nodes { mergedAt updatedAt } } \
releases(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) { pageInfo { hasNextPage endCursor } nodes { createdAt publishedAt isDraft } } \
hasVulnerabilityAlertsEnabled \
vulnerabilityAlerts(states: OPEN, first: 100) { totalCount nodes { securityVulnerability { severity } } } \
branchProtectionRules(first: 10) { totalCount nodes { pattern requiresApprovingReviews requiredApprovingReviewCount requiresStatusChecks } } \
rulesets(first: 5, includeParents: true) { totalCount nodes { name enforcement target conditions { refName { include exclude } } \
rules(first: 10) { totalCount nodes { type parameters { ... on PullRequestParameters { requiredApprovingReviewCount } } } } } }";

/// The follow-up connections when 100 nodes did not reach back `WINDOW_DAYS`.
pub const MERGED_CONNECTION: &str = "pullRequests(states: MERGED, orderBy: {field: UPDATED_AT, direction: DESC})";
pub const MERGED_NODES: &str = "mergedAt updatedAt";
pub const RELEASES_CONNECTION: &str = "releases(orderBy: {field: CREATED_AT, direction: DESC})";
pub const RELEASES_NODES: &str = "createdAt publishedAt isDraft";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    pub protected: bool,
    pub required_reviews: u64,
    pub status_checks: bool,
    /// what protects it: `branch protection rule "main"`, `ruleset "org-default"`
    pub via: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `owner/name` as GitHub spells it
    pub repo: String,
    pub pushed_at: Option<String>,
    pub updated_at: Option<String>,
    pub archived: Option<bool>,
    pub disabled: Option<bool>,
    pub fork: Option<bool>,
    pub visibility: Option<String>,
    pub default_branch: Option<String>,
    pub primary_language: Option<String>,
    /// SPDX id, `none` when GitHub detected no license
    pub license: Option<String>,
    pub workflows: Option<u64>,
    pub dependency_updates: Option<bool>,
    pub codeowners: Option<bool>,
    pub open_prs: Option<u64>,
    pub oldest_open_pr_at: Option<String>,
    /// `mergedAt` of pull requests merged in the window before the read
    pub merged_at: Option<Vec<String>>,
    /// set while more merged pull requests must be read (cursor of the next page)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_next: Option<String>,
    pub releases_at: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases_next: Option<String>,
    pub alerts_enabled: Option<bool>,
    /// open alerts by severity (lower case)
    pub alerts: Option<BTreeMap<String, u64>>,
    /// more open alerts than the GraphQL page held: read them over REST
    #[serde(default)]
    pub alerts_truncated: bool,
    pub protection: Option<Protection>,
    /// more rulesets or rules than the GraphQL page held: ask REST for the effective rules
    #[serde(default)]
    pub rules_truncated: bool,
}

fn s(v: &Value, p: &str) -> Option<String> {
    v.pointer(p).and_then(Value::as_str).map(str::to_owned)
}

fn present(v: &Value, keys: &[&str]) -> Option<bool> {
    // a field GitHub could not resolve is absent from the node: unknown
    if keys.iter().any(|k| v.get(*k).is_none()) {
        return None;
    }
    Some(keys.iter().any(|k| v.get(*k).map(|x| !x.is_null()).unwrap_or(false)))
}

fn within(t: &str, since: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc3339(t).map(|d| d.with_timezone(&Utc) >= since).unwrap_or(false)
}

/// GitHub's branch-name patterns (fnmatch): `*` within a path segment, `**` across, `?`,
/// `[...]`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => {
                let across = p.get(1) == Some(&b'*');
                let rest = if across { &p[2..] } else { &p[1..] };
                (0..=n.len()).any(|i| (across || !n[..i].contains(&b'/')) && m(rest, &n[i..]))
            }
            Some(b'?') => !n.is_empty() && n[0] != b'/' && m(&p[1..], &n[1..]),
            Some(b'[') => {
                let Some(end) = p.iter().position(|c| *c == b']') else { return !n.is_empty() && n[0] == b'[' && m(&p[1..], &n[1..]) };
                if n.is_empty() {
                    return false;
                }
                let set = &p[1..end];
                let (neg, set) = if set.first() == Some(&b'!') || set.first() == Some(&b'^') { (true, &set[1..]) } else { (false, set) };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        hit |= set[i] <= n[0] && n[0] <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == n[0];
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &n[1..])
            }
            Some(c) => !n.is_empty() && n[0] == *c && m(&p[1..], &n[1..]),
        }
    }
    m(pattern.as_bytes(), name.as_bytes())
}

/// Whether a ruleset's `refName` condition covers the default branch.
fn ref_condition_covers(cond: &Value, branch: &str) -> bool {
    let full = format!("refs/heads/{branch}");
    let hits = |list: Option<&Value>| -> bool {
        list.and_then(Value::as_array)
            .map(|l| {
                l.iter().filter_map(Value::as_str).any(|p| match p {
                    "~ALL" | "~DEFAULT_BRANCH" => true,
                    p => glob_match(p, &full) || glob_match(p, branch),
                })
            })
            .unwrap_or(false)
    };
    match cond.pointer("/refName") {
        // no ref condition: the ruleset applies to every branch
        None | Some(Value::Null) => true,
        Some(rn) => hits(rn.get("include")) && !hits(rn.get("exclude")),
    }
}

/// The default branch's protection from classic rules and active rulesets; `None` when
/// neither could be read and nothing was found.
fn protection(node: &Value, branch: Option<&str>, rules_truncated: &mut bool) -> Option<Protection> {
    let branch = branch?;
    let mut p = Protection::default();
    let classic = node.get("branchProtectionRules").filter(|x| !x.is_null());
    let rulesets = node.get("rulesets").filter(|x| !x.is_null());
    if let Some(c) = classic {
        for r in c.get("nodes").and_then(Value::as_array).into_iter().flatten() {
            let Some(pattern) = r.get("pattern").and_then(Value::as_str) else { continue };
            if !glob_match(pattern, branch) {
                continue;
            }
            p.protected = true;
            p.via.push(format!("branch protection rule \"{pattern}\""));
            if r.get("requiresApprovingReviews").and_then(Value::as_bool) == Some(true) {
                p.required_reviews = p.required_reviews.max(r.get("requiredApprovingReviewCount").and_then(Value::as_u64).unwrap_or(0));
            }
            p.status_checks |= r.get("requiresStatusChecks").and_then(Value::as_bool) == Some(true);
        }
        let shown = c.get("nodes").and_then(Value::as_array).map(Vec::len).unwrap_or(0) as u64;
        if c.get("totalCount").and_then(Value::as_u64).unwrap_or(0) > shown {
            *rules_truncated = true;
        }
    }
    if let Some(rs) = rulesets {
        let nodes = rs.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
        if rs.get("totalCount").and_then(Value::as_u64).unwrap_or(0) > nodes.len() as u64 {
            *rules_truncated = true;
        }
        for r in &nodes {
            if r.get("enforcement").and_then(Value::as_str) != Some("ACTIVE") {
                continue;
            }
            if !matches!(r.get("target").and_then(Value::as_str), None | Some("BRANCH")) {
                continue;
            }
            if !ref_condition_covers(r.get("conditions").unwrap_or(&Value::Null), branch) {
                continue;
            }
            let rules = r.pointer("/rules/nodes").and_then(Value::as_array).cloned().unwrap_or_default();
            if r.pointer("/rules/totalCount").and_then(Value::as_u64).unwrap_or(0) > rules.len() as u64 {
                *rules_truncated = true;
            }
            if rules.is_empty() {
                continue;
            }
            p.protected = true;
            p.via.push(format!("ruleset \"{}\"", r.get("name").and_then(Value::as_str).unwrap_or("?")));
            for rule in &rules {
                match rule.get("type").and_then(Value::as_str) {
                    Some("PULL_REQUEST") => {
                        p.required_reviews = p
                            .required_reviews
                            .max(rule.pointer("/parameters/requiredApprovingReviewCount").and_then(Value::as_u64).unwrap_or(0))
                    }
                    Some("REQUIRED_STATUS_CHECKS") => p.status_checks = true,
                    _ => {}
                }
            }
        }
    }
    if p.protected || (classic.is_some() && rulesets.is_some()) {
        Some(p)
    } else {
        None
    }
}

/// Effective rules from REST (`GET /repos/{o}/{r}/rules/branches/{branch}`), merged into
/// what classic protection gave.
pub fn apply_rest_rules(snap: &mut Snapshot, rules: &Value) {
    let Some(list) = rules.as_array() else { return };
    let mut p = snap.protection.clone().unwrap_or_default();
    for r in list {
        let ty = r.get("type").and_then(Value::as_str).unwrap_or("");
        p.protected = true;
        let via = format!("ruleset {}", r.get("ruleset_id").map(Value::to_string).unwrap_or_default());
        if !p.via.contains(&via) {
            p.via.push(via);
        }
        match ty {
            "pull_request" => {
                p.required_reviews =
                    p.required_reviews.max(r.pointer("/parameters/required_approving_review_count").and_then(Value::as_u64).unwrap_or(0))
            }
            "required_status_checks" => p.status_checks = true,
            _ => {}
        }
    }
    snap.protection = Some(p);
    snap.rules_truncated = false;
}

/// Counts REST Dependabot alerts by `security_vulnerability.severity` (or the advisory's).
pub fn count_alerts(pages: &[Value]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for a in pages.iter().filter_map(Value::as_array).flatten() {
        let sev = a
            .pointer("/security_vulnerability/severity")
            .or_else(|| a.pointer("/security_advisory/severity"))
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_ascii_lowercase();
        *m.entry(sev).or_default() += 1;
    }
    m
}

impl Snapshot {
    /// From a repository node of [`FIELDS`], read at `now`.
    pub fn from_node(node: &Value, now: DateTime<Utc>) -> Snapshot {
        let since = now - Duration::days(WINDOW_DAYS);
        let default_branch = s(node, "/defaultBranchRef/name");
        let empty = node.get("defaultBranchRef").map(Value::is_null).unwrap_or(false);
        let mut snap = Snapshot {
            repo: s(node, "/nameWithOwner").unwrap_or_default(),
            pushed_at: s(node, "/pushedAt"),
            updated_at: s(node, "/updatedAt"),
            archived: node.get("isArchived").and_then(Value::as_bool),
            disabled: node.get("isDisabled").and_then(Value::as_bool),
            fork: node.get("isFork").and_then(Value::as_bool),
            visibility: s(node, "/visibility").map(|v| v.to_ascii_lowercase()),
            default_branch: default_branch.clone(),
            primary_language: s(node, "/primaryLanguage/name"),
            license: match node.get("licenseInfo") {
                Some(Value::Null) => Some("none".into()),
                Some(l) => l.get("spdxId").or_else(|| l.get("key")).and_then(Value::as_str).map(str::to_owned),
                None => None,
            },
            ..Default::default()
        };
        // files: an empty repository has none; a field GitHub dropped is unknown
        snap.workflows = match node.get("workflows") {
            Some(Value::Null) => Some(0),
            Some(t) => t.get("entries").and_then(Value::as_array).map(|es| {
                es.iter()
                    .filter(|e| e.get("type").and_then(Value::as_str) != Some("tree"))
                    .filter(|e| e.get("name").and_then(Value::as_str).map(|n| n.ends_with(".yml") || n.ends_with(".yaml")).unwrap_or(false))
                    .count() as u64
            }),
            None if empty => Some(0),
            None => None,
        };
        snap.dependency_updates = present(
            node,
            &[
                "dependabotYml",
                "dependabotYaml",
                "renovateJson",
                "renovateJson5",
                "renovateGithubJson",
                "renovateGithubJson5",
                "renovaterc",
                "renovatercJson",
            ],
        );
        snap.codeowners = present(node, &["codeownersGithub", "codeownersRoot", "codeownersDocs"]);
        if let Some(o) = node.get("openPullRequests").filter(|x| !x.is_null()) {
            snap.open_prs = o.get("totalCount").and_then(Value::as_u64);
            snap.oldest_open_pr_at = o.pointer("/nodes/0/createdAt").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(m) = node.get("mergedPullRequests").filter(|x| !x.is_null()) {
            let mut list = Vec::new();
            let (next, _) = add_merged(m, since, &mut list);
            snap.merged_at = Some(list);
            snap.merged_next = next;
        }
        if let Some(r) = node.get("releases").filter(|x| !x.is_null()) {
            let mut list = Vec::new();
            let (next, _) = add_releases(r, since, &mut list);
            snap.releases_at = Some(list);
            snap.releases_next = next;
        }
        snap.alerts_enabled = node.get("hasVulnerabilityAlertsEnabled").and_then(Value::as_bool);
        if let Some(a) = node.get("vulnerabilityAlerts").filter(|x| !x.is_null()) {
            let nodes = a.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut m = BTreeMap::new();
            for n in &nodes {
                // GraphQL says MODERATE where REST says medium
                let sev = match n.pointer("/securityVulnerability/severity").and_then(Value::as_str).unwrap_or("unknown") {
                    "MODERATE" => "medium".to_owned(),
                    other => other.to_ascii_lowercase(),
                };
                *m.entry(sev).or_default() += 1;
            }
            snap.alerts_truncated = a.get("totalCount").and_then(Value::as_u64).unwrap_or(0) > nodes.len() as u64;
            snap.alerts = Some(m);
        }
        let mut truncated = false;
        snap.protection = protection(node, default_branch.as_deref(), &mut truncated);
        snap.rules_truncated = truncated && !snap.protection.as_ref().map(|p| p.protected && p.required_reviews > 0).unwrap_or(false);
        snap
    }

    /// The facts at `now` (ages and 90-day windows counted from `now`).
    pub fn facts(&self, now: DateTime<Utc>) -> Vec<(&'static str, FactValue)> {
        let since = now - Duration::days(WINDOW_DAYS);
        let days =
            |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|d| ((now - d.with_timezone(&Utc)).num_seconds().max(0) / 86_400) as f64);
        let mut f: Vec<(&'static str, FactValue)> = Vec::new();
        let num = |x: u64| FactValue::Number(x as f64);
        if let Some(v) = self.archived {
            f.push(("github.archived", FactValue::Bool(v)));
        }
        if let Some(v) = &self.visibility {
            f.push(("github.visibility", FactValue::Text(v.clone())));
        }
        if let Some(v) = &self.default_branch {
            f.push(("github.default_branch", FactValue::Text(v.clone())));
        }
        if let Some(d) = self.pushed_at.as_deref().and_then(days) {
            f.push(("github.days_since_push", FactValue::Number(d)));
        }
        if let Some(p) = &self.protection {
            if !self.rules_truncated {
                f.push(("github.default_branch_protected", FactValue::Bool(p.protected)));
                f.push(("github.required_reviews", num(p.required_reviews)));
                f.push(("github.required_status_checks", FactValue::Bool(p.status_checks)));
            }
        }
        if let Some(v) = self.codeowners {
            f.push(("github.codeowners_present", FactValue::Bool(v)));
        }
        if let Some(v) = self.workflows {
            f.push(("github.workflows_count", num(v)));
        }
        if let Some(v) = self.dependency_updates {
            f.push(("github.dependency_updates_configured", FactValue::Bool(v)));
        }
        if let Some(n) = self.open_prs {
            f.push(("github.open_pull_requests", num(n)));
            let oldest = if n == 0 { Some(0.0) } else { self.oldest_open_pr_at.as_deref().and_then(days) };
            if let Some(d) = oldest {
                f.push(("github.oldest_open_pull_request_days", FactValue::Number(d)));
            }
        }
        if let Some(v) = self.alerts_enabled {
            f.push(("github.vulnerability_alerts_enabled", FactValue::Bool(v)));
        }
        if let (Some(a), false) = (&self.alerts, self.alerts_truncated) {
            for (sev, name) in [
                ("critical", "github.vulnerability_alerts_critical"),
                ("high", "github.vulnerability_alerts_high"),
                ("medium", "github.vulnerability_alerts_medium"),
                ("low", "github.vulnerability_alerts_low"),
            ] {
                f.push((name, num(a.get(sev).copied().unwrap_or(0))));
            }
        }
        if let Some(v) = &self.license {
            f.push(("github.license", FactValue::Text(v.clone())));
        }
        if let Some(v) = &self.primary_language {
            f.push(("github.primary_language", FactValue::Text(v.clone())));
        }
        if let (Some(r), None) = (&self.releases_at, &self.releases_next) {
            f.push(("github.releases_90d", num(r.iter().filter(|t| within(t, since)).count() as u64)));
        }
        if let (Some(m), None) = (&self.merged_at, &self.merged_next) {
            f.push(("github.merged_pull_requests_90d", num(m.iter().filter(|t| within(t, since)).count() as u64)));
        }
        f
    }
}

/// Adds the `mergedAt` within the window from a page of merged pull requests (ordered by
/// update time, newest first); the cursor of the next page when it may still reach into the
/// window.
pub fn add_merged(page: &Value, since: DateTime<Utc>, list: &mut Vec<String>) -> (Option<String>, usize) {
    let nodes = page.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut last_in_window = false;
    for n in &nodes {
        if let Some(m) = n.get("mergedAt").and_then(Value::as_str) {
            if within(m, since) {
                list.push(m.to_owned());
            }
        }
        // updatedAt >= mergedAt: once a node was last updated before the window, all later are too
        last_in_window = n.get("updatedAt").and_then(Value::as_str).map(|u| within(u, since)).unwrap_or(false);
    }
    let more = page.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false);
    let next = if more && last_in_window { page.pointer("/pageInfo/endCursor").and_then(Value::as_str).map(str::to_owned) } else { None };
    (next, nodes.len())
}

/// Adds the publication times within the window from a page of releases (newest created
/// first; drafts are not releases); the next cursor as for [`add_merged`].
pub fn add_releases(page: &Value, since: DateTime<Utc>, list: &mut Vec<String>) -> (Option<String>, usize) {
    let nodes = page.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut last_in_window = false;
    for n in &nodes {
        if n.get("isDraft").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(p) = n.get("publishedAt").and_then(Value::as_str) {
            if within(p, since) {
                list.push(p.to_owned());
            }
        }
        last_in_window = n.get("createdAt").and_then(Value::as_str).map(|c| within(c, since)).unwrap_or(false);
    }
    let more = page.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false);
    let next = if more && last_in_window { page.pointer("/pageInfo/endCursor").and_then(Value::as_str).map(str::to_owned) } else { None };
    (next, nodes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn branch_patterns() {
        assert!(glob_match("main", "main"));
        assert!(glob_match("*", "main"));
        assert!(!glob_match("*", "release/1"));
        assert!(glob_match("release/*", "release/1"));
        assert!(glob_match("**", "release/1"));
        assert!(glob_match("ma[a-z]n", "main"));
        assert!(!glob_match("dev", "main"));
        assert!(glob_match("refs/heads/*", "refs/heads/main"));
    }

    #[test]
    fn rulesets_cover_the_default_branch_and_unreadable_fields_stay_unknown() {
        let now = Utc::now();
        let node = json!({
            "nameWithOwner": "o/r", "defaultBranchRef": {"name": "main"},
            "branchProtectionRules": {"totalCount": 1, "nodes": [{"pattern": "release/*", "requiresApprovingReviews": true, "requiredApprovingReviewCount": 3, "requiresStatusChecks": true}]},
            "rulesets": {"totalCount": 2, "nodes": [
                {"name": "org", "enforcement": "ACTIVE", "target": "BRANCH", "conditions": {"refName": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                 "rules": {"totalCount": 2, "nodes": [{"type": "PULL_REQUEST", "parameters": {"requiredApprovingReviewCount": 2}}, {"type": "DELETION", "parameters": null}]}},
                {"name": "trial", "enforcement": "EVALUATE", "target": "BRANCH", "conditions": null, "rules": {"totalCount": 1, "nodes": [{"type": "REQUIRED_STATUS_CHECKS", "parameters": {}}]}}
            ]},
            "vulnerabilityAlerts": null,
            "codeownersGithub": null, "codeownersRoot": {"__typename": "Blob"}, "codeownersDocs": null
        });
        let s = Snapshot::from_node(&node, now);
        let p = s.protection.clone().unwrap();
        assert!(p.protected);
        assert_eq!(p.required_reviews, 2, "the active ruleset's review count; the release/* rule does not cover main");
        assert!(!p.status_checks, "an evaluate-mode ruleset does not enforce");
        assert_eq!(s.codeowners, Some(true));
        assert_eq!(s.dependency_updates, None, "fields absent from the node are unknown");
        let facts = s.facts(now);
        assert!(
            !facts.iter().any(|(n, _)| n.starts_with("github.vulnerability_alerts_")),
            "alerts GitHub would not show are unknown, not zero"
        );
    }

    #[test]
    fn windows_count_from_the_given_time() {
        let now = DateTime::parse_from_rfc3339("2026-06-30T00:00:00Z").unwrap().with_timezone(&Utc);
        let node = json!({"nameWithOwner": "o/r", "pushedAt": "2026-06-20T00:00:00Z",
            "mergedPullRequests": {"pageInfo": {"hasNextPage": true, "endCursor": "c1"}, "nodes": [
                {"mergedAt": "2026-06-01T00:00:00Z", "updatedAt": "2026-06-02T00:00:00Z"},
                {"mergedAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}]}});
        let s = Snapshot::from_node(&node, now);
        assert_eq!(s.merged_next, None, "the last node is older than the window: no more pages");
        let f: BTreeMap<_, _> = s.facts(now).into_iter().collect();
        assert_eq!(f["github.merged_pull_requests_90d"], FactValue::Number(1.0));
        assert_eq!(f["github.days_since_push"], FactValue::Number(10.0));
        let later = now + Duration::days(80);
        let f: BTreeMap<_, _> = s.facts(later).into_iter().collect();
        assert_eq!(f["github.merged_pull_requests_90d"], FactValue::Number(0.0));
        assert_eq!(f["github.days_since_push"], FactValue::Number(90.0));
    }
}
