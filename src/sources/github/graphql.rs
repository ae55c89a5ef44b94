//! GraphQL reads, batched (`contracts.md` §E.4): an organisation's repositories 100 per
//! request (smaller pages after a 502/504), named repositories as aliases of one request, the
//! change probe (repositories ordered by push and update time, newest first), and follow-up
//! pages of one repository's connection. Partial answers are kept: `errors` are returned
//! beside the data with the alias or node index they concern.

use serde_json::{json, Value};

use super::client::{ApiError, Client};

/// One entry of a GraphQL answer's `errors`, located.
#[derive(Debug, Clone)]
pub struct GqlError {
    /// `FORBIDDEN`, `NOT_FOUND`, ...
    pub kind: String,
    pub message: String,
    /// the field path as GitHub gave it, joined with `.`
    pub path: String,
    /// which repository it concerns: node index of the page, or alias number
    pub index: Option<usize>,
}

fn errors_of(v: &Value, index_at: usize) -> Vec<GqlError> {
    v.get("errors")
        .and_then(Value::as_array)
        .map(|es| {
            es.iter()
                .map(|e| {
                    let path: Vec<String> = e
                        .get("path")
                        .and_then(Value::as_array)
                        .map(|p| p.iter().map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string())).collect())
                        .unwrap_or_default();
                    let index = path.get(index_at).and_then(|s| s.trim_start_matches('r').parse::<usize>().ok());
                    GqlError {
                        kind: e.get("type").and_then(Value::as_str).unwrap_or("ERROR").to_owned(),
                        message: e.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned(),
                        path: path.join("."),
                        index,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An answer without data is an error; a `RATE_LIMITED` error stops the walk.
fn check(c: &Client, v: &Value, what: &str) -> Result<(), ApiError> {
    if let Some(rl) = v.pointer("/data/rateLimit") {
        c.note_graphql_rate_limit(rl);
    }
    let errs = errors_of(v, 0);
    if let Some(e) = errs.iter().find(|e| e.kind == "RATE_LIMITED") {
        return Err(ApiError { url: format!("GraphQL {what}"), status: Some(200), message: e.message.clone(), rate_limited: true });
    }
    if v.get("data").map(Value::is_null).unwrap_or(true) {
        let msg = errs.first().map(|e| format!("{}: {}", e.kind, e.message)).unwrap_or_else(|| "the answer has no data".into());
        return Err(ApiError { url: format!("GraphQL {what}"), status: Some(200), message: msg, rate_limited: false });
    }
    Ok(())
}

const RATE_LIMIT: &str = "rateLimit { cost remaining resetAt }";

/// Every repository of `org` with `fields` (a selection on `Repository`), in name order.
/// Returns the nodes and the errors of partial answers (index = position in the result).
pub async fn org_repositories(c: &Client, org: &str, fields: &str, page_size: usize) -> Result<(Vec<Value>, Vec<GqlError>), ApiError> {
    let query = format!(
        "query OrgRepositories($org: String!, $first: Int!, $after: String) {{ {RATE_LIMIT} organization(login: $org) {{ repositories(first: $first, after: $after, orderBy: {{field: NAME, direction: ASC}}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }} }} }}"
    );
    let mut nodes = Vec::new();
    let mut errors = Vec::new();
    let mut after: Option<String> = None;
    let mut first = page_size.clamp(1, 100);
    loop {
        let body = json!({"operationName": "OrgRepositories", "query": query, "variables": {"org": org, "first": first, "after": after}});
        let v = match c.graphql(&body).await {
            Ok(v) => v,
            // a timeout of GitHub's own: ask for less
            Err(e) if matches!(e.status, Some(502 | 504)) && first > 10 => {
                first = (first / 2).max(10);
                tracing::warn!(org, first, "GitHub GraphQL timed out: smaller pages");
                continue;
            }
            Err(e) => return Err(e),
        };
        check(c, &v, &format!("organization {org}"))?;
        let repos = v.pointer("/data/organization/repositories").ok_or_else(|| ApiError {
            url: format!("GraphQL organization {org}"),
            status: Some(200),
            message: errors_of(&v, 0)
                .first()
                .map(|e| format!("{}: {}", e.kind, e.message))
                .unwrap_or_else(|| format!("no organization {org} (or the token cannot see it)")),
            rate_limited: false,
        })?;
        let base = nodes.len();
        for mut e in errors_of(&v, 3) {
            e.index = e.index.map(|i| i + base);
            errors.push(e);
        }
        if let Some(ns) = repos.get("nodes").and_then(Value::as_array) {
            nodes.extend(ns.iter().cloned());
        }
        let next = repos.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false);
        after = repos.pointer("/pageInfo/endCursor").and_then(Value::as_str).map(str::to_owned);
        if !next || after.is_none() {
            break;
        }
    }
    Ok((nodes, errors))
}

/// Named repositories (`owner/name`) with `fields`, as aliases `r0..rN` of one request per
/// `batch`. A repository GitHub does not know comes back `None`.
pub async fn repositories(
    c: &Client,
    names: &[String],
    fields: &str,
    batch: usize,
) -> Result<(Vec<Option<Value>>, Vec<GqlError>), ApiError> {
    let mut out = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    let mut size = batch.clamp(1, 100);
    let mut start = 0;
    while start < names.len() {
        let chunk = &names[start..(start + size).min(names.len())];
        let mut vars = serde_json::Map::new();
        let mut decl = Vec::new();
        let mut sel = Vec::new();
        for (i, n) in chunk.iter().enumerate() {
            let (o, r) = n.split_once('/').unwrap_or((n, ""));
            vars.insert(format!("o{i}"), json!(o));
            vars.insert(format!("n{i}"), json!(r));
            decl.push(format!("$o{i}: String!, $n{i}: String!"));
            sel.push(format!("r{i}: repository(owner: $o{i}, name: $n{i}) {{ {fields} }}"));
        }
        let query = format!("query Repositories({}) {{ {RATE_LIMIT} {} }}", decl.join(", "), sel.join(" "));
        let body = json!({"operationName": "Repositories", "query": query, "variables": vars});
        let v = match c.graphql(&body).await {
            Ok(v) => v,
            Err(e) if matches!(e.status, Some(502 | 504)) && size > 10 => {
                size = (size / 2).max(10);
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(rl) = v.pointer("/data/rateLimit") {
            c.note_graphql_rate_limit(rl);
        }
        let errs = errors_of(&v, 0);
        if let Some(e) = errs.iter().find(|e| e.kind == "RATE_LIMITED") {
            return Err(ApiError { url: "GraphQL repositories".into(), status: Some(200), message: e.message.clone(), rate_limited: true });
        }
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        if data.is_null() && errs.iter().all(|e| e.index.is_none()) {
            let msg = errs.first().map(|e| format!("{}: {}", e.kind, e.message)).unwrap_or_else(|| "the answer has no data".into());
            return Err(ApiError { url: "GraphQL repositories".into(), status: Some(200), message: msg, rate_limited: false });
        }
        for i in 0..chunk.len() {
            out.push(data.get(format!("r{i}")).filter(|x| !x.is_null()).cloned());
        }
        for mut e in errs {
            e.index = e.index.map(|i| i + start);
            errors.push(e);
        }
        start += chunk.len();
    }
    Ok((out, errors))
}

/// Repositories pushed or updated after the watermarks (RFC 3339 texts), newest first, from
/// the organisation's repositories ordered by push and by update time. `None` when more than
/// `max_pages` pages changed (a full read is as cheap).
pub async fn changed_repositories(
    c: &Client,
    org: &str,
    pushed_mark: &str,
    updated_mark: &str,
    max_pages: usize,
) -> Result<Option<Vec<Value>>, ApiError> {
    let query = format!(
        "query ChangedRepositories($org: String!, $pushedAfter: String, $updatedAfter: String) {{ {RATE_LIMIT} organization(login: $org) {{ \
         pushed: repositories(first: 100, after: $pushedAfter, orderBy: {{field: PUSHED_AT, direction: DESC}}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ nameWithOwner pushedAt updatedAt }} }} \
         updated: repositories(first: 100, after: $updatedAfter, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ nameWithOwner pushedAt updatedAt }} }} }} }}"
    );
    let newer = |n: &Value, key: &str, mark: &str| n.get(key).and_then(Value::as_str).map(|t| later(t, mark)).unwrap_or(false);
    let mut changed = Vec::new();
    let (mut pushed_after, mut updated_after): (Option<String>, Option<String>) = (None, None);
    let (mut pushed_done, mut updated_done) = (false, false);
    for _ in 0..max_pages {
        let body = json!({"operationName": "ChangedRepositories", "query": query, "variables": {"org": org, "pushedAfter": pushed_after, "updatedAfter": updated_after}});
        let v = c.graphql(&body).await?;
        check(c, &v, &format!("organization {org}"))?;
        let o = v.pointer("/data/organization").filter(|o| !o.is_null()).ok_or_else(|| ApiError {
            url: format!("GraphQL organization {org}"),
            status: Some(200),
            message: format!("no organization {org} (or the token cannot see it)"),
            rate_limited: false,
        })?;
        for (part, key, mark, done, after) in [
            ("pushed", "pushedAt", pushed_mark, &mut pushed_done, &mut pushed_after),
            ("updated", "updatedAt", updated_mark, &mut updated_done, &mut updated_after),
        ] {
            if *done {
                continue;
            }
            let nodes = o.pointer(&format!("/{part}/nodes")).and_then(Value::as_array).cloned().unwrap_or_default();
            let mut all_newer = !nodes.is_empty();
            for n in &nodes {
                if newer(n, key, mark) {
                    changed.push(n.clone());
                } else {
                    all_newer = false;
                }
            }
            let more = o.pointer(&format!("/{part}/pageInfo/hasNextPage")).and_then(Value::as_bool).unwrap_or(false);
            *after = o.pointer(&format!("/{part}/pageInfo/endCursor")).and_then(Value::as_str).map(str::to_owned);
            if !(all_newer && more) {
                *done = true;
            }
        }
        if pushed_done && updated_done {
            return Ok(Some(changed));
        }
    }
    Ok(None)
}

/// Whether RFC 3339 time `a` is after `b` (an unreadable time counts as changed).
pub fn later(a: &str, b: &str) -> bool {
    match (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)) {
        (Ok(x), Ok(y)) => x > y,
        _ => true,
    }
}

/// The next page of one repository's connection: `connection` is the field with its
/// arguments except `first`/`after` (e.g. `pullRequests(states: MERGED, orderBy: {...})`),
/// `nodes` the node selection.
pub async fn more(c: &Client, repo: &str, connection: &str, nodes: &str, after: &str) -> Result<Value, ApiError> {
    let (o, r) = repo.split_once('/').unwrap_or((repo, ""));
    let (field, args) = connection.split_once('(').unwrap_or((connection, ")"));
    let query = format!(
        "query MoreOfRepository($owner: String!, $name: String!, $after: String) {{ {RATE_LIMIT} repository(owner: $owner, name: $name) {{ page: {field}(first: 100, after: $after, {args} {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {nodes} }} }} }} }}"
    );
    let body = json!({"operationName": "MoreOfRepository", "query": query, "variables": {"owner": o, "name": r, "after": after}});
    let v = c.graphql(&body).await?;
    check(c, &v, &format!("repository {repo}"))?;
    v.pointer("/data/repository/page").cloned().filter(|p| !p.is_null()).ok_or_else(|| ApiError {
        url: format!("GraphQL repository {repo}"),
        status: Some(200),
        message: errors_of(&v, 0).first().map(|e| format!("{}: {}", e.kind, e.message)).unwrap_or_else(|| "no page".into()),
        rate_limited: false,
    })
}
