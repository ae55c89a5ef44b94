//! The Zoekt source against a local fake `zoekt-webserver -rpc` that follows
//! `../shared/docs/contracts.md` §C: POST only (405 otherwise), `{"Q", "Opts"}` bodies,
//! `{"Result": {...stats flat..., "Files": [...] | null}}` answers with base64 byte fields,
//! `{"Error": ...}` with 400 for a bad query. It records every request, so the test asserts
//! one search per declared query. Where `../shared` is present, one answer reuses a real
//! Zoekt encoding of file matches from its fixtures.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use common::run_json;

type Log = Arc<Mutex<Vec<(String, String, String)>>>;

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn file(repo: &str, name: &str, lines: usize) -> Value {
    let lm: Vec<Value> = (0..lines)
        .map(|i| {
            json!({"Line": b64("import org.apache.log4j.Logger;\n"), "LineStart": i * 40, "LineEnd": i * 40 + 31, "LineNumber": i + 3,
                   "Before": null, "After": null, "FileName": false, "Score": 501, "DebugScore": "",
                   "LineFragments": [{"LineOffset": 7, "Offset": i * 40 + 7, "MatchLength": 16, "SymbolInfo": null}]})
        })
        .collect();
    json!({"FileName": name, "Repository": repo, "Language": "Java", "LineMatches": lm, "Checksum": b64("12345678"), "Score": 5000000010u64})
}

fn stats(files: &Value) -> Value {
    let n = files.as_array().map(|a| a.len()).unwrap_or(0);
    json!({"ContentBytesLoaded": 1024, "IndexBytesLoaded": 512, "Crashes": 0, "Duration": 1_500_000, "FileCount": n, "ShardFilesConsidered": 0,
           "FilesConsidered": 40, "FilesLoaded": 12, "FilesSkipped": 0, "ShardsScanned": 3, "ShardsSkipped": 0, "ShardsSkippedFilter": 0,
           "MatchCount": 0, "NgramMatches": 30, "NgramLookups": 12, "Wait": 1000, "MatchTreeConstruction": 2000, "MatchTreeSearch": 3000,
           "RegexpsConsidered": 0, "FlushReason": 2})
}

/// The answer to a search, by query.
fn answer(q: &str, real: &Option<Value>) -> (u16, Value) {
    if q.trim().is_empty() {
        return (400, json!({"Error": "missing query"}));
    }
    if q.contains("((") {
        return (400, json!({"Error": "parse error: missing close paren"}));
    }
    let files = match q {
        "lang:java \"org.apache.log4j\"" => {
            let mut f = vec![
                file("github.com/acme/payments", "src/Main.java", 2),
                file("github.com/acme/mono", "services/billing/src/A.java", 1),
                file("github.com/acme/mono", "services/billing/src/B.java", 2),
                file("github.com/acme/mono", "services/shipping/C.java", 1),
                file("github.com/acme/mono", "services/other/D.java", 4),
                file("github.com/acme/orphan", "x/Y.java", 5),
            ];
            // a real Zoekt encoding of a file match, attributed to payments
            if let Some(real) = real {
                let mut r = real.clone();
                r["Repository"] = json!("github.com/acme/payments");
                f.push(r);
            }
            Value::Array(f)
        }
        _ => Value::Null,
    };
    let mut result = stats(&files);
    if q == "incomplete" {
        result["FilesSkipped"] = json!(3);
    }
    if q == "everywhere" {
        // a shard stopped at its default limit: real Zoekt sets no skip counter for it
        result["MatchCount"] = json!(100_000);
    }
    result["Files"] = files;
    result["RepoURLs"] = json!({});
    result["LineFragments"] = json!({});
    (200, json!({"Result": result}))
}

/// Starts the fake on a free port (the project's loopback JSON server); returns it and the
/// request log.
fn fake_zoekt(real: Option<Value>) -> (u16, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let (port, _) = echo_health::bench::loopback::serve(Arc::new(move |r: &echo_health::bench::loopback::Request| {
        let (method, path, body) = (r.method.as_str(), r.path.as_str(), r.body.as_str());
        l.lock().unwrap().push((method.to_owned(), path.to_owned(), body.to_owned()));
        let (status, v) = if method != "POST" {
            (405, json!({"Error": format!("method {method} not allowed")}))
        } else if path != "/api/search" {
            (404, json!({"Error": "not found"}))
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(req) => answer(req.get("Q").and_then(Value::as_str).unwrap_or(""), &real),
                Err(e) => (400, json!({"Error": format!("bad JSON: {e}")})),
            }
        };
        (status, v.to_string())
    }));
    (port, log)
}

/// A real file match from Zoekt's golden test data, when the shared fixtures are there.
fn real_file_match() -> Option<Value> {
    let dir = common::shared_dir("zoekt real encodings")?;
    let text = std::fs::read_to_string(dir.join("fixtures/zoekt/testdata_golden_TestReadSearch_repo_v16.00000.golden")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.pointer("/FileMatches/0/0").cloned()
}

fn pipeline(dir: &Path, port: u16) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    let comp = |name: &str, ann: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{ann}spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n")
    };
    let mut cat = String::new();
    cat += &comp("payments", "  annotations:\n    github.com/project-slug: acme/payments\n");
    cat += &comp(
        "billing",
        "  annotations:\n    backstage.io/source-location: url:https://github.com/acme/mono/tree/main/services/billing/\n",
    );
    cat += &comp(
        "shipping",
        "  annotations:\n    backstage.io/source-location: url:https://github.com/acme/mono/tree/main/services/shipping\n",
    );
    cat += &comp("quiet", "  annotations:\n    github.com/project-slug: acme/quiet\n");
    cat += &comp("nowhere", "");
    cat += "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n";
    std::fs::write(dir.join("catalog/catalog-info.yaml"), cat).unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "name: zk\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: zoekt\n    endpoint: http://127.0.0.1:{port}\n    timeout_secs: 10\n    queries:\n\
             \x20     - name: log4j_refs\n        query: 'lang:java \"org.apache.log4j\"'\n\
             \x20     - name: nothing\n        query: no-such-thing\n\
             \x20     - name: broken\n        query: '(( unbalanced'\n\
             \x20     - name: partial\n        query: incomplete\n\
             \x20     - name: capped\n        query: everywhere\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn searches_are_counted_per_repository_and_attributed_to_components_and_monorepo_paths() {
    let real = real_file_match();
    let (port, log) = fake_zoekt(real.clone());
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial", "the broken and the incomplete queries are errors: {summary}");

    // one search per declared query, in the contract's shape
    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.len(), 5, "{requests:?}");
    for (method, path, body) in &requests {
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/api/search"));
        let b: Value = serde_json::from_str(body).unwrap();
        assert!(b["Q"].is_string());
        assert_eq!(b["Opts"]["TotalMaxMatchCount"], 0);
        assert_eq!(b["Opts"]["ShardMaxMatchCount"], 0);
        assert_eq!(b["Opts"]["MaxWallTime"], 10_000_000_000i64, "nanoseconds");
    }

    let conn = duckdb::Connection::open(tmp.path().join(".echo-health/zk.duckdb")).unwrap();
    let fact = |e: &str, f: &str| -> Option<f64> {
        conn.query_row("select value_num from facts where entity_ref = ? and fact = ?", [e, f], |r| r.get(0)).ok()
    };
    let real_lines = real.as_ref().and_then(|r| r["LineMatches"].as_array().map(|a| a.len() as f64)).unwrap_or(0.0);
    let real_files = if real.is_some() { 1.0 } else { 0.0 };
    assert_eq!(fact("component:default/payments", "zoekt.log4j_refs"), Some(2.0 + real_lines));
    assert_eq!(fact("component:default/payments", "zoekt.log4j_refs_files"), Some(1.0 + real_files));
    // the monorepo: each component gets the files under its own path
    assert_eq!(fact("component:default/billing", "zoekt.log4j_refs"), Some(3.0));
    assert_eq!(fact("component:default/billing", "zoekt.log4j_refs_files"), Some(2.0));
    assert_eq!(fact("component:default/shipping", "zoekt.log4j_refs"), Some(1.0));
    // a complete search with no match in a claimed repository is 0; no repository, no fact
    assert_eq!(fact("component:default/quiet", "zoekt.log4j_refs"), Some(0.0));
    assert_eq!(fact("component:default/quiet", "zoekt.nothing"), Some(0.0));
    assert_eq!(fact("component:default/nowhere", "zoekt.log4j_refs"), None);
    // errors and incomplete results store nothing
    assert_eq!(fact("component:default/payments", "zoekt.broken"), None);
    assert_eq!(fact("component:default/payments", "zoekt.partial"), None);
    assert_eq!(fact("component:default/payments", "zoekt.capped"), None, "a count that may be cut is not stored");
    // evidence: the query, the endpoint and the files behind the count
    let ev: String = conn
        .query_row("select evidence from facts where entity_ref = 'component:default/billing' and fact = 'zoekt.log4j_refs'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(ev.contains("org.apache.log4j") && ev.contains("github.com/acme/mono/services/billing/src/A.java"), "{ev}");

    let mut st = conn.prepare("select kind, severity, message from errors where stage = 'facts'").unwrap();
    let errors: Vec<(String, String, String)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let has = |k: &str, s: &str, t: &str| errors.iter().any(|e| e.0 == k && e.1 == s && e.2.contains(t));
    assert!(has("query-failed", "error", "missing close paren"), "{errors:?}");
    assert!(has("query-failed", "error", "incomplete result"), "{errors:?}");
    assert!(has("query-failed", "error", "per-shard limit"), "{errors:?}");
    assert!(has("unmatched", "warning", "github.com/acme/orphan: 5"), "unowned repositories are reported: {errors:?}");
    assert!(has("unmatched", "warning", "outside every component's path"), "{errors:?}");
}

#[test]
fn the_fake_follows_the_contract_for_other_methods_and_bad_bodies() {
    let (port, _) = fake_zoekt(None);
    let get = |req: &str| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        // the whole answer: headers, then Content-Length bytes
        let mut got: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(h) = text.find("\r\n\r\n") {
                let len: usize =
                    text[..h].lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                if got.len() >= h + 4 + len {
                    return text;
                }
            }
            if n == 0 {
                return text;
            }
        }
    };
    assert!(get("GET /api/search HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 405"));
    let r = get("POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"Q\":\"\"}");
    assert!(r.starts_with("HTTP/1.1 400") && r.contains("\"Error\""), "{r}");
    let r = get("POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"Q\":\"anything\"}\n");
    assert!(r.contains("\"Files\":null"), "no match: Files is null, as Zoekt sends it: {r}");
}

#[test]
fn an_unreachable_zoekt_is_recorded_and_the_run_goes_on() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial");
    assert!(stderr.contains("cannot connect"), "{stderr}");
}
