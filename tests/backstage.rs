//! A live Backstage as a catalog source, against a local fake of its catalog API
//! (`../shared/docs/contracts.md` §A.8): `GET /api/catalog/entities/by-query` with `filter`,
//! `fields`, `limit`, cursor pagination (`pageInfo.nextCursor`), bearer auth (401 otherwise,
//! with Backstage's error body), processed entities (uid, etag, relations, managed-by
//! annotations), and a 500.

mod common;

use std::sync::{Arc, Mutex};

use echo_health::bench::loopback::{serve, Request};
use serde_json::{json, Value};

const TOKEN: &str = "bs-static-token-never-printed-42";

fn processed(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": kind,
        "metadata": {"namespace": "default", "name": name, "uid": format!("uid-{name}"), "etag": format!("etag-{name}"),
                     "annotations": {"backstage.io/managed-by-location": "url:https://github.com/lumen/x/blob/main/catalog-info.yaml",
                                     "backstage.io/managed-by-origin-location": "url:https://github.com/lumen/x/blob/main/catalog-info.yaml"}},
        "spec": spec,
        "relations": [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
    })
}

fn entities() -> Vec<Value> {
    vec![
        processed("Group", "team-a", json!({"type": "team", "children": []})),
        processed("System", "shipping", json!({"owner": "group:default/team-a"})),
        processed(
            "Component",
            "label-service",
            json!({"type": "service", "lifecycle": "production", "owner": "group:default/team-a", "system": "shipping"}),
        ),
        processed(
            "Component",
            "tracker",
            json!({"type": "service", "lifecycle": "production", "owner": "team-a", "dependsOn": ["component:label-service"]}),
        ),
        processed("Component", "Bad Name", json!({"type": "service", "lifecycle": "production", "owner": "team-a"})),
    ]
}

/// The fake: pages of `limit` entities; `fail_page` answers 500 for that page (1-based).
fn fake(fail_page: Option<usize>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let all = entities();
    let (port, _) = serve(Arc::new(move |r: &Request| {
        s2.lock().unwrap().push(r.path.clone());
        if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return (401, json!({"error": {"name": "AuthenticationError", "message": "Missing credentials"}, "request": {"method": "GET", "url": r.path}, "response": {"statusCode": 401}}).to_string());
        }
        let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
        if path != "/api/catalog/entities/by-query" {
            return (404, json!({"error": {"name": "NotFoundError", "message": "not found"}}).to_string());
        }
        let param = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}="))).map(str::to_owned);
        let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
        let from: usize = param("cursor").and_then(|c| c.strip_prefix("c").and_then(|n| n.parse().ok())).unwrap_or(0);
        if fail_page == Some(from / limit + 1) {
            return (500, json!({"error": {"name": "Error", "message": "database is down"}, "response": {"statusCode": 500}}).to_string());
        }
        let items: Vec<Value> = all.iter().skip(from).take(limit).cloned().collect();
        let next = from + items.len();
        let mut page_info = json!({});
        if next < all.len() {
            page_info["nextCursor"] = json!(format!("c{next}"));
        }
        (200, json!({"items": items, "totalItems": all.len(), "pageInfo": page_info}).to_string())
    }));
    (port, seen)
}

fn pipeline(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let p = dir.join("p.yaml");
    std::fs::write(
        &p,
        format!("name: bs\ncatalog:\n  - type: backstage\n    base_url: http://127.0.0.1:{port}/api/catalog\n    token_env: ECHO_HEALTH_TEST_BS_TOKEN\n    filter: [kind=component, kind=system, kind=group]\n    page_size: 2\ntolerances:\n  max_rejected_descriptors: 1\n"),
    )
    .unwrap();
    p
}

fn run(p: &std::path::Path, token: Option<&str>) -> (i32, Value, String) {
    let mut cmd = common::bin();
    cmd.args(["run", p.to_str().unwrap(), "--format", "json"]);
    match token {
        Some(t) => cmd.env("ECHO_HEALTH_TEST_BS_TOKEN", t),
        None => cmd.env_remove("ECHO_HEALTH_TEST_BS_TOKEN"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token leaked");
    (out.status.code().unwrap_or(-1), stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null), stderr)
}

#[test]
fn entities_are_read_page_by_page_and_validated_like_files() {
    let (port, seen) = fake(None);
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let (code, v, stderr) = run(&p, Some(TOKEN));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["entities"], 4, "five served, one invalid: {v}");
    let paths = seen.lock().unwrap().clone();
    assert_eq!(paths.len(), 3, "five entities in pages of two: {paths:?}");
    assert!(paths[0].contains("filter=kind%3Dcomponent") && paths[0].contains("fields=") && paths[0].contains("limit=2"), "{}", paths[0]);
    assert!(paths[1].contains("cursor=c2") && !paths[1].contains("filter="), "a cursor page carries no filters: {}", paths[1]);
    // the invalid entity is rejected, named by its URL
    assert!(stderr.contains(&format!("http://127.0.0.1:{port}/api/catalog/entities/by-name/component/default/Bad Name")), "{stderr}");
    // relations are derived by echo-health, the same as from files
    let conn = duckdb::Connection::open(tmp.path().join(".echo-health/bs.duckdb")).unwrap();
    let n: i64 = conn
        .query_row("select count(*) from relations where source_ref = 'component:default/tracker' and type = 'dependsOn' and target_ref = 'component:default/label-service'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let owner: String =
        conn.query_row("select owner_ref from entities where entity_ref = 'component:default/label-service'", [], |r| r.get(0)).unwrap();
    assert_eq!(owner, "group:default/team-a");
}

#[test]
fn a_backstage_that_refuses_or_fails_fails_the_run_with_its_reason() {
    let (port, _) = fake(None);
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let (code, _, stderr) = run(&p, Some("wrong-token"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("answered 401 (AuthenticationError: Missing credentials)"), "{stderr}");
    let (code, _, stderr) = run(&p, None);
    assert_eq!(code, 2);
    assert!(stderr.contains("environment variable ECHO_HEALTH_TEST_BS_TOKEN is not set"), "{stderr}");
    // a 500 on the second page (retried, then given up): nothing partial is kept
    let (port, seen) = fake(Some(2));
    let p = pipeline(tmp.path(), port);
    let (code, v, stderr) = run(&p, Some(TOKEN));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(v["entities"], 0, "{v}");
    assert!(stderr.contains("answered 500 (Error: database is down)"), "{stderr}");
    assert_eq!(seen.lock().unwrap().len(), 4, "the first page, then the second three times");
}
