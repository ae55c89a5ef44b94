//! The CodeScene source against a local fake that follows `../shared/docs/contracts.md` §D:
//! `GET /projects/{id}/analyses/latest` with `high_level_metrics` (code-health fields optional),
//! paged `technical-debt-hotspots` (`page`, `max_pages`), bearer auth for v2 and basic auth for
//! v1 (401 otherwise), 404 for a project that does not exist. It counts requests.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use echo_health::bench::loopback::{serve, Request};
use serde_json::{json, Value};

use common::run_json;

/// The fake: project 101 (healthy, recent), 202 (two pages of hotspots, an old analysis,
/// no hotspot health), anything else 404. `auth` is the Authorization header it accepts.
/// The time of project 101's analysis: a day before now (so the test means the same any day).
fn recent() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d 06:00:00").to_string()
}

fn fake_codescene(auth: &'static str) -> (u16, Arc<AtomicUsize>) {
    let (port, requests, _) = fake_codescene_with_analyses(auth);
    (port, requests)
}

/// The fake, with a handle that makes project 202 finish a new analysis (id 18, one hotspot
/// on one page) when set to 1.
fn fake_codescene_with_analyses(auth: &'static str) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let analysis = Arc::new(AtomicUsize::new(0));
    let (recent, old) = (recent(), (chrono::Utc::now() - chrono::Duration::days(90)).format("%Y-%m-%dT00:00:00Z").to_string());
    let (r2, a2) = (requests.clone(), analysis.clone());
    let (port, _) = serve(Arc::new(move |r: &Request| {
        r2.fetch_add(1, Ordering::SeqCst);
        let newer = a2.load(Ordering::SeqCst) == 1;
        if r.method != "GET" {
            return (405, json!({"error": "method not allowed"}).to_string());
        }
        if r.header("authorization") != Some(auth) {
            return (401, json!({"error": "unauthorized"}).to_string());
        }
        let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
        let page: u64 = query.split('&').find_map(|kv| kv.strip_prefix("page=")).and_then(|p| p.parse().ok()).unwrap_or(1);
        let v: Value = match path {
            "/api/v2/projects/101/analyses/latest" => json!({
                "id": 9001, "name": "payments", "project_id": 101, "readable_analysis_time": recent,
                "summary": {"commits": 1200, "authors_count": 14},
                "file_summary": [{"language": "Java", "number_of_files": 210, "blank": 3000, "comment": 1200, "code": 42000}],
                "high_level_metrics": {"hotspots_code_health_now_weighted_average": 8.7, "code_health_weighted_average_current": 9.1,
                                       "code_health_now_worst_performer": 3.2, "current_score": 9, "lines_of_code": 42000}
            }),
            "/api/v2/projects/101/analyses/latest/technical-debt-hotspots" => json!({
                "page": 1, "max_pages": 1,
                "hotspots": [{"file_name": "src/Ledger.java", "code_health": 3.2, "revisions": 120},
                             {"file_name": "src/Api.java", "code_health": 6.5, "revisions": 80},
                             {"file_name": "src/Util.java", "code_health": 9.4, "revisions": 10}]
            }),
            "/api/v2/projects/202/analyses/latest" if newer => json!({
                "id": 18, "name": "legacy", "project_id": 202, "readable_analysis_time": recent,
                "high_level_metrics": {"code_health_weighted_average_current": 6.0}
            }),
            "/api/v2/projects/202/analyses/latest" => json!({
                "id": 17, "name": "legacy", "project_id": 202, "readable_analysis_time": old,
                "high_level_metrics": {"code_health_weighted_average_current": 5.5}
            }),
            "/api/v2/projects/202/analyses/latest/technical-debt-hotspots" if newer => {
                json!({"page": 1, "max_pages": 1, "hotspots": [{"file_name": "d.c", "code_health": 7.0}]})
            }
            "/api/v2/projects/202/analyses/latest/technical-debt-hotspots" => match page {
                1 => {
                    json!({"page": 1, "max_pages": 2, "hotspots": [{"file_name": "a.c", "code_health": 2.0}, {"file_name": "b.c", "code_health": 4.5}]})
                }
                _ => json!({"page": 2, "max_pages": 2, "hotspots": [{"file_name": "c.c", "code_health": 1.5}]}),
            },
            _ => return (404, json!({"error": "not found"}).to_string()),
        };
        (200, v.to_string())
    }));
    (port, requests, analysis)
}

fn pipeline(dir: &std::path::Path, source: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    let comp = |name: &str, ann: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{ann}spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n")
    };
    let mut cat = String::new();
    cat += &comp("payments", "  annotations:\n    codescene.io/project-id: \"101\"\n");
    cat += &comp("payments-worker", "  annotations:\n    codescene.io/project-id: 101/worker\n");
    cat += &comp("legacy", "  annotations:\n    codescene.io/project-id: \"202\"\n");
    cat += &comp("ghost", "  annotations:\n    codescene.io/project-id: \"303\"\n");
    cat += &comp("plain", "");
    cat += "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n";
    std::fs::write(dir.join("catalog/catalog-info.yaml"), cat).unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(&p, format!("name: cs\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n{source}")).unwrap();
    p
}

fn facts(db: &std::path::Path) -> Vec<(String, String, Option<f64>, Option<bool>, Option<String>)> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut st = conn.prepare("select entity_ref, fact, value_num, value_bool, value_text from facts order by 1, 2").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn code_health_of_each_project_becomes_facts_of_its_components() {
    let (port, requests) = fake_codescene("Bearer cs-token-123");
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(
        tmp.path(),
        &format!("  - type: codescene\n    base_url: http://127.0.0.1:{port}/api/v2\n    token_env: ECHO_HEALTH_TEST_CS_TOKEN\n    max_analysis_age_days: 30\n"),
    );
    let out = common::bin()
        .args(["run", p.to_str().unwrap(), "--format", "json"])
        .env("ECHO_HEALTH_TEST_CS_TOKEN", "cs-token-123")
        .env("ECHO_HEALTH_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{}", stderr.chars().rev().take(3000).collect::<String>());
    // every crate logged at trace level, and the token is in no line of it
    assert!(stderr.contains("TRACE") && !stderr.contains("cs-token-123"), "the token is in the trace logs");
    // 101 once for two components (latest + 1 page), 202 (latest + 2 pages), 303 (latest: 404)
    assert_eq!(requests.load(Ordering::SeqCst), 6);

    let f = facts(&tmp.path().join(".echo-health/cs.duckdb"));
    let num = |e: &str, fact: &str| f.iter().find(|x| x.0 == format!("component:default/{e}") && x.1 == fact).and_then(|x| x.2);
    let boolean = |e: &str, fact: &str| f.iter().find(|x| x.0 == format!("component:default/{e}") && x.1 == fact).and_then(|x| x.3);
    let txt = |e: &str, fact: &str| f.iter().find(|x| x.0 == format!("component:default/{e}") && x.1 == fact).and_then(|x| x.4.clone());
    for c in ["payments", "payments-worker"] {
        assert_eq!(num(c, "codescene.hotspot_code_health"), Some(8.7));
        assert_eq!(num(c, "codescene.code_health"), Some(9.1));
        assert_eq!(num(c, "codescene.worst_performer_code_health"), Some(3.2));
        assert_eq!(txt(c, "codescene.worst_performer_file").as_deref(), Some("src/Ledger.java"));
        assert_eq!(num(c, "codescene.hotspots"), Some(3.0));
        assert_eq!(num(c, "codescene.red_hotspots"), Some(1.0));
        assert_eq!(num(c, "codescene.yellow_hotspots"), Some(1.0));
        assert_eq!(boolean(c, "codescene.analysis_stale"), Some(false));
    }
    // absent fields stay absent (unknown), never zero; hotspots paged; an old analysis is stale
    assert_eq!(num("legacy", "codescene.hotspot_code_health"), None);
    assert_eq!(num("legacy", "codescene.code_health"), Some(5.5));
    assert_eq!(num("legacy", "codescene.hotspots"), Some(3.0), "both pages are read");
    assert_eq!(num("legacy", "codescene.red_hotspots"), Some(2.0));
    assert_eq!(txt("legacy", "codescene.worst_performer_file").as_deref(), Some("c.c"));
    assert_eq!(boolean("legacy", "codescene.analysis_stale"), Some(true));
    assert!(num("legacy", "codescene.analysis_age_days").unwrap() > 60.0);
    // a missing project is an error of that project; components without the annotation: nothing
    assert!(f.iter().all(|x| !x.0.ends_with("/ghost") && !x.0.ends_with("/plain")));
    assert!(stderr.contains("project 303") && stderr.contains("404"), "{stderr}");
    // facts are observed at the analysis time, with their evidence
    let conn = duckdb::Connection::open(tmp.path().join(".echo-health/cs.duckdb")).unwrap();
    let (at, ev): (String, String) = conn
        .query_row(
            "select observed_at::varchar, evidence from facts where entity_ref = 'component:default/payments' and fact = 'codescene.code_health'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(at, recent());
    assert!(ev.contains("project 101") && ev.contains("analysis 9001"), "{ev}");
}

/// An analysis never changes once made: while a project's latest analysis is the one its
/// hotspots were read from, the next run asks only for the analysis (one request, not 1 +
/// pages) and gives the same facts; a new analysis is read whole again.
#[test]
fn hotspots_of_an_unchanged_analysis_are_not_asked_again() {
    let (port, requests, analysis) = fake_codescene_with_analyses("Bearer cs-token-123");
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(
        tmp.path(),
        &format!("  - type: codescene\n    base_url: http://127.0.0.1:{port}/api/v2\n    token_env: ECHO_HEALTH_TEST_CS_TOKEN\n    max_analysis_age_days: 30\n"),
    );
    let db = tmp.path().join(".echo-health/cs.duckdb");
    let run = || {
        let before = requests.load(Ordering::SeqCst);
        let out = common::bin()
            .args(["run", p.to_str().unwrap(), "--format", "json", "--full"])
            .env("ECHO_HEALTH_TEST_CS_TOKEN", "cs-token-123")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        let stats = summary["sources"].as_array().unwrap().iter().find(|s| s["name"] == "codescene").map(|s| s["stats"].clone());
        (requests.load(Ordering::SeqCst) - before, stats.unwrap_or(Value::Null))
    };
    let latest_facts = || {
        let conn = duckdb::Connection::open(&db).unwrap();
        let mut st = conn
            .prepare(
                "select entity_ref, fact, coalesce(value_num::varchar, value_bool::varchar, value_text) from facts \
                 where run_id = (select max(run_id) from facts) and fact not in ('codescene.analysis_age_days') order by 1, 2",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    let (first, stats) = run();
    assert_eq!(first, 6, "latest + pages: 101 (1 page), 202 (2 pages), 303 (404)");
    assert_eq!((stats["hotspots_read"].as_u64(), stats["hotspots_unchanged"].as_u64()), (Some(2), Some(0)), "{stats}");
    let facts_then = latest_facts();
    assert!(facts_then.iter().any(|f| f.0.ends_with("/legacy") && f.1 == "codescene.hotspots" && f.2.as_deref() == Some("3.0")));

    // nothing new: one request per project, the same facts, evidence saying when they were read
    let (second, stats) = run();
    assert_eq!(second, 3, "only the latest analysis of each project");
    assert_eq!((stats["hotspots_read"].as_u64(), stats["hotspots_unchanged"].as_u64()), (Some(0), Some(2)), "{stats}");
    assert_eq!(latest_facts(), facts_then);
    let conn = duckdb::Connection::open(&db).unwrap();
    let ev: String = conn
        .query_row(
            "select evidence from facts where entity_ref = 'component:default/legacy' and fact = 'codescene.hotspots' order by run_id desc limit 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ev.contains("3 hotspots from 2 page(s), read at") && ev.contains("has not changed"), "{ev}");
    drop(conn);

    // project 202 has a new analysis: its hotspots are read again (101's still are not)
    analysis.store(1, Ordering::SeqCst);
    let (third, stats) = run();
    assert_eq!(third, 4, "three latest analyses and 202's one hotspot page");
    assert_eq!((stats["hotspots_read"].as_u64(), stats["hotspots_unchanged"].as_u64()), (Some(1), Some(1)), "{stats}");
    let now = latest_facts();
    let get = |e: &str, f: &str| now.iter().find(|x| x.0 == format!("component:default/{e}") && x.1 == f).and_then(|x| x.2.clone());
    assert_eq!(get("legacy", "codescene.hotspots").as_deref(), Some("1.0"));
    assert_eq!(get("legacy", "codescene.red_hotspots").as_deref(), Some("0.0"));
    assert_eq!(get("legacy", "codescene.yellow_hotspots").as_deref(), Some("1.0"));
    assert_eq!(get("legacy", "codescene.worst_performer_file").as_deref(), Some("d.c"));
    assert_eq!(get("payments", "codescene.hotspots").as_deref(), Some("3.0"));
}

#[test]
fn api_v1_uses_basic_auth_and_bad_credentials_are_an_error_naming_the_project() {
    use base64::Engine as _;
    let basic: &'static str = Box::leak(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ci:pw")).into_boxed_str());
    let (port, _) = fake_codescene(basic);
    let tmp = tempfile::tempdir().unwrap();
    // the fake serves /api/v2 paths: a v1 base with a v2 path prefix keeps the test small
    let p = pipeline(
        tmp.path(),
        &format!("  - type: codescene\n    base_url: http://127.0.0.1:{port}/api/v2\n    api_version: 1\n    username_env: ECHO_HEALTH_TEST_CS_USER\n    password_env: ECHO_HEALTH_TEST_CS_PW\n"),
    );
    let out = common::bin()
        .args(["run", p.to_str().unwrap(), "--format", "json"])
        .env("ECHO_HEALTH_TEST_CS_USER", "ci")
        .env("ECHO_HEALTH_TEST_CS_PW", "pw")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let f = facts(&tmp.path().join(".echo-health/cs.duckdb"));
    assert!(f.iter().any(|x| x.0 == "component:default/payments" && x.1 == "codescene.code_health"), "{f:?}");

    // wrong password: 401 per project, recorded; the run goes on without CodeScene facts
    let out = common::bin()
        .args(["run", p.to_str().unwrap(), "--format", "json"])
        .env("ECHO_HEALTH_TEST_CS_USER", "ci")
        .env("ECHO_HEALTH_TEST_CS_PW", "wrong")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("401") && stderr.contains("project 101"), "{stderr}");
    assert!(!stderr.contains("wrong") && !stderr.contains(basic), "credentials never printed: {stderr}");
}

#[test]
fn codescene_sections_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), "  - type: codescene\n    base_url: not a url\n    api_version: 3\n    token_env: lower-case\n");
    let (code, _, _) = run_json(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    let out = common::bin().args(["validate", p.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["not a URL", "api_version 3", "lower-case"] {
        assert!(text.contains(want), "{want}: {text}");
    }
}
