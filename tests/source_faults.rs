//! Every HTTP source facing a broken server: unreachable, slower than its timeout, answering
//! 500, answering malformed JSON. The run completes, the source's facts are absent (unknown),
//! its errors are recorded naming it, and the exit code follows the pipeline: 0 (partial) for
//! an optional source, 2 for a required one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use echo_health::bench::loopback::{serve, Request};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Unreachable,
    Slow,
    ServerError,
    Malformed,
}

fn server(fault: Fault) -> u16 {
    match fault {
        // a port nobody listens on: bind, then drop
        Fault::Unreachable => std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(),
        _ => {
            serve(Arc::new(move |_: &Request| match fault {
                Fault::Slow => {
                    std::thread::sleep(Duration::from_secs(4));
                    (200, "{}".into())
                }
                Fault::ServerError => (500, "{\"message\":\"internal error\"}".into()),
                _ => (200, "{\"status\": \"success\", \"data\": [".into()),
            }))
            .0
        }
    }
}

fn source(kind: &str, port: u16, required: bool) -> String {
    let url = format!("http://127.0.0.1:{port}");
    match kind {
        "prometheus" => format!("  - type: prometheus\n    endpoint: {url}\n    timeout_secs: 1\n    required: {required}\n    queries:\n      - name: error_ratio_7d\n        expr: sum by (service) (up)\n"),
        "zoekt" => format!("  - type: zoekt\n    endpoint: {url}\n    timeout_secs: 1\n    required: {required}\n    queries:\n      - name: log4j_refs\n        query: org.apache.log4j\n"),
        "codescene" => format!("  - type: codescene\n    base_url: {url}/api/v2\n    token_env: ECHO_HEALTH_TEST_FAULT_TOKEN\n    timeout_secs: 1\n    required: {required}\n"),
        _ => format!("  - type: github\n    api_url: {url}\n    web_host: github.com\n    token_env: ECHO_HEALTH_TEST_FAULT_TOKEN\n    organizations: [lumen]\n    timeout_secs: 1\n    max_wait_secs: 2\n    required: {required}\n"),
    }
}

fn pipeline(dir: &std::path::Path, src: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(
        dir.join("catalog/all.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc\n  annotations:\n    github.com/project-slug: lumen/svc\n    codescene.io/project-id: \"7\"\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(&p, format!("name: f\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n{src}")).unwrap();
    p
}

#[test]
fn every_source_survives_every_fault_and_the_tolerances_decide() {
    for kind in ["prometheus", "zoekt", "codescene", "github"] {
        for fault in [Fault::Unreachable, Fault::Slow, Fault::ServerError, Fault::Malformed] {
            let port = server(fault);
            for required in [false, true] {
                let tmp = tempfile::tempdir().unwrap();
                let p = pipeline(tmp.path(), &source(kind, port, required));
                let out = common::bin()
                    .args(["run", p.to_str().unwrap(), "--format", "json"])
                    .env("ECHO_HEALTH_TEST_FAULT_TOKEN", "t0ken-fault")
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr).to_string();
                let want = if required { 2 } else { 0 };
                assert_eq!(out.status.code(), Some(want), "{kind} {fault:?} required={required}: {stderr}");
                assert!(!stderr.contains("t0ken-fault"));
                let conn = duckdb::Connection::open(tmp.path().join(".echo-health/f.duckdb")).unwrap();
                let facts: i64 = conn.query_row("select count(*) from facts", [], |r| r.get(0)).unwrap();
                assert_eq!(facts, 0, "{kind} {fault:?}: no fact from a broken source");
                let errors: i64 =
                    conn.query_row("select count(*) from errors where stage = 'facts' and severity = 'error'", [], |r| r.get(0)).unwrap();
                assert!(errors >= 1, "{kind} {fault:?}: the failure is recorded");
                let entities: i64 = conn.query_row("select count(*) from entities", [], |r| r.get(0)).unwrap();
                assert_eq!(entities, 2, "{kind} {fault:?}: the catalog is kept");
            }
        }
    }
}
