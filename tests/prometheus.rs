//! The Prometheus source against a real Prometheus (Debian's package): deterministic data
//! backfilled with `promtool tsdb create-blocks-from openmetrics`, the server started on a
//! free 127.0.0.1 port and stopped afterwards. Instant and range queries, the label mapping
//! (name and annotation), unmatched series, NaN, a query error, a stopped server; the
//! number of HTTP requests equals the number of declared queries (counted by a proxy).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::run_json;

/// A Prometheus server for one test; killed on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The tools, or None (skipped loudly unless scripts/test.sh said they must be there).
fn tools() -> Option<()> {
    let ok = Command::new("prometheus").arg("--version").output().is_ok() && Command::new("promtool").arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("ECHO_HEALTH_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "prometheus and promtool are required (scripts/test.sh installs Debian's prometheus) but not installed"
        );
        eprintln!("\n*** SKIPPED the Prometheus tests: prometheus/promtool not installed ***\n");
        return None;
    }
    Some(())
}

/// OpenMetrics data ending one minute before `now` (unix seconds), a sample every 10
/// minutes over 3 days: request counters growing at fixed rates, a NaN gauge.
fn openmetrics(now: i64) -> String {
    let end = now - 60;
    let start = end - 3 * 86_400;
    let mut out = String::from("# TYPE http_requests counter\n");
    // (service, code, per second)
    let series =
        [("checkout", "200", 10.0), ("checkout", "500", 0.1), ("payments", "200", 5.0), ("payments", "500", 0.0), ("ghost", "200", 1.0)];
    for (svc, code, rate) in series {
        let mut t = start;
        while t <= end {
            let v = rate * (t - start) as f64;
            out.push_str(&format!("http_requests_total{{service=\"{svc}\",code=\"{code}\"}} {v} {t}\n"));
            t += 600;
        }
    }
    out.push_str("# TYPE weird gauge\n");
    let mut t = start;
    while t <= end {
        out.push_str(&format!("weird{{service=\"checkout\"}} NaN {t}\n"));
        t += 600;
    }
    out.push_str("# EOF\n");
    out
}

fn start_prometheus(now: i64) -> Server {
    start_prometheus_with(&openmetrics(now))
}

fn start_prometheus_with(data_om: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("data.om");
    std::fs::write(&om, data_om).unwrap();
    let data = dir.path().join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h"])
        .arg(&om)
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global: {scrape_interval: 1m}\nscrape_configs: []\n").unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port, _dir: dir };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        if http_get(port, "/-/ready").is_some_and(|r| r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200")) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("prometheus did not get ready on port {port}");
}

/// A TCP proxy in front of the server counting HTTP requests (request lines) it forwards.
fn counting_proxy(target: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let c = c.clone();
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { return };
                let (mut cr, mut sw) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut sr, mut cw) = (server, client);
                let up = std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = cr.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let text = String::from_utf8_lossy(&buf[..n]);
                        c.fetch_add(text.matches(" HTTP/1.1\r\n").count(), Ordering::SeqCst);
                        if sw.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut sr, &mut cw);
                let _ = up.join();
            });
        }
    });
    (port, count)
}

fn pipeline(dir: &Path, port: u16) -> PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(
        dir.join("catalog/catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: pay-svc\n  annotations:\n    echo-health.io/prometheus-service: payments\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: quiet\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "name: prom\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: prometheus\n    endpoint: http://127.0.0.1:{port}\n    timeout_secs: 10\n    queries:\n\
             \x20     - name: error_ratio_1h\n        expr: sum by (service) (rate(http_requests_total{{code=\"500\"}}[1h])) / sum by (service) (rate(http_requests_total[1h]))\n\
             \x20     - name: requests_per_second\n        kind: range\n        lookback_days: 2\n        step_days: 1\n        expr: sum by (service) (rate(http_requests_total[1h]))\n\
             \x20     - name: weird\n        expr: weird\n\
             \x20     - name: broken\n        expr: sum by (service) (rate(http_requests_total[1h])\n"
        ),
    )
    .unwrap();
    p
}

fn facts(db: &Path) -> Vec<(String, String, f64, String)> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut st = conn.prepare("select entity_ref, fact, value_num, observed_at::varchar from facts order by 1, 2, 4").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
}

fn errors(db: &Path) -> Vec<(String, String, String)> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut st = conn.prepare("select kind, severity, message from errors where stage = 'facts' order by run_id, kind, message").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn queries_against_a_real_prometheus_become_facts_of_the_components_they_name() {
    if tools().is_none() {
        return;
    }
    let now = chrono::Utc::now().timestamp();
    let server = start_prometheus(now);
    let (proxy, requests) = counting_proxy(server.port);
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), proxy);
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    // the broken query is an error of the run, which goes on: partial, exit 0
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial", "{summary}");
    assert_eq!(requests.load(Ordering::SeqCst), 4, "one HTTP request per declared query");

    let db = tmp.path().join(".echo-health/prom.duckdb");
    let f = facts(&db);
    let get = |entity: &str, fact: &str| -> Vec<f64> { f.iter().filter(|x| x.0 == entity && x.1 == fact).map(|x| x.2).collect() };
    // instant: checkout's error ratio is exactly 0.1 / 10.1; pay-svc is "payments" by annotation
    let checkout = get("component:default/checkout", "prometheus.error_ratio_1h");
    assert_eq!(checkout.len(), 1, "{f:?}");
    assert!((checkout[0] - 0.1 / 10.1).abs() < 1e-9, "{checkout:?}");
    assert_eq!(get("component:default/pay-svc", "prometheus.error_ratio_1h"), vec![0.0]);
    // a component with no series has no fact (checks on it are unknown, not failing)
    assert!(get("component:default/quiet", "prometheus.error_ratio_1h").is_empty());
    // range: a dated fact per day (start, +1 day, now), at the rates the data grows by
    let daily = get("component:default/checkout", "prometheus.requests_per_second");
    assert_eq!(daily.len(), 3, "{f:?}");
    assert!(daily.iter().all(|v| (v - 10.1).abs() < 1e-6), "{daily:?}");
    let dates: Vec<&String> =
        f.iter().filter(|x| x.0 == "component:default/checkout" && x.1 == "prometheus.requests_per_second").map(|x| &x.3).collect();
    assert_eq!(dates.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "{dates:?}");
    // NaN is never a number
    assert!(get("component:default/checkout", "prometheus.weird").is_empty());

    let e = errors(&db);
    let has = |kind: &str, severity: &str, text: &str| e.iter().any(|x| x.0 == kind && x.1 == severity && x.2.contains(text));
    assert!(has("query-failed", "error", "bad_data"), "{e:?}");
    assert!(has("query-failed", "error", "query broken"), "the error names the query: {e:?}");
    assert!(has("unmatched", "warning", "ghost"), "{e:?}");
    assert!(has("source-warning", "warning", "NaN"), "{e:?}");
    // evidence: the query text, the time and the endpoint
    let conn = duckdb::Connection::open(&db).unwrap();
    let ev: String = conn
        .query_row(
            "select evidence from facts where fact = 'prometheus.error_ratio_1h' and entity_ref = 'component:default/checkout'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ev.contains("rate(http_requests_total") && ev.contains("127.0.0.1") && ev.contains("service=\"checkout\""), "{ev}");
    drop(conn);

    // the server stops: the run goes on, records the source as unreachable, keeps history
    drop(server);
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "an optional source that is down does not fail the run: {stderr}");
    assert_eq!(summary["status"], "partial");
    let e = errors(&db);
    assert!(e.iter().filter(|x| x.0 == "unavailable").count() >= 4, "{e:?}");
    let conn = duckdb::Connection::open(&db).unwrap();
    let runs: i64 = conn.query_row("select count(*) from runs", [], |r| r.get(0)).unwrap();
    let kept: i64 = conn.query_row("select count(*) from facts where fact like 'prometheus.%'", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2);
    assert_eq!(kept as usize, f.len(), "the first run's facts stay");
}

#[test]
fn prometheus_sections_are_validated_without_calling_anything() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("catalog")).unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: prom\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: prometheus\n    endpoint: http://user:pw@example.com\n    token_env: my-token\n    queries:\n      - name: Bad-Name\n        expr: up\n        kind: hourly\n        label: service/name\n      - name: ok\n        expr: \"\"\n  - type: zoekt\n    endpoint: zoekt.internal\n    repository_template: github.com/x\n    queries:\n      - name: log4j\n        query: \"  \"\n",
    )
    .unwrap();
    let out = common::bin().args(["validate", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for want in [
        "without credentials",
        "my-token",
        "Bad-Name",
        "hourly",
        "not a Prometheus label name",
        "expr is empty",
        "zoekt.internal",
        "{slug}",
        "query is empty",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
}

#[test]
fn tokens_come_from_the_environment_and_never_reach_output_database_or_site() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens there
    let p = pipeline(tmp.path(), port);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("    timeout_secs: 10\n", "    timeout_secs: 2\n    token_env: ECHO_HEALTH_TEST_PROM_TOKEN\n");
    std::fs::write(&p, text).unwrap();
    let secret = "s3cr3t-token-value-7f1e";
    let out =
        common::bin().args(["run", p.to_str().unwrap(), "--format", "json"]).env("ECHO_HEALTH_TEST_PROM_TOKEN", secret).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("cannot connect"), "{all}");
    assert!(!all.contains(secret));
    let mut leaked = Vec::new();
    for e in walkdir::WalkDir::new(tmp.path()).into_iter().flatten().filter(|e| e.file_type().is_file()) {
        if std::fs::read(e.path()).unwrap().windows(secret.len()).any(|w| w == secret.as_bytes()) {
            leaked.push(e.path().display().to_string());
        }
    }
    assert!(leaked.is_empty(), "the token is in {leaked:?}");
    // sent to a real server, with every crate logging at trace level: still nowhere
    if tools().is_some() {
        let server = start_prometheus(chrono::Utc::now().timestamp());
        let dir = tmp.path().join("live");
        std::fs::create_dir_all(&dir).unwrap();
        let live = pipeline(&dir, server.port);
        let text = std::fs::read_to_string(&live)
            .unwrap()
            .replace("    timeout_secs: 10\n", "    timeout_secs: 10\n    token_env: ECHO_HEALTH_TEST_PROM_TOKEN\n");
        std::fs::write(&live, text).unwrap();
        let out = common::bin()
            .args(["run", live.to_str().unwrap(), "--format", "json"])
            .env("ECHO_HEALTH_TEST_PROM_TOKEN", secret)
            .env("ECHO_HEALTH_LOG", "trace")
            .output()
            .unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{}", all.chars().rev().take(2000).collect::<String>());
        assert!(all.contains("TRACE"), "trace logs were written");
        assert!(!all.contains(secret), "the token is in the trace logs");
        for e in walkdir::WalkDir::new(&dir).into_iter().flatten().filter(|e| e.file_type().is_file()) {
            assert!(
                !std::fs::read(e.path()).unwrap().windows(secret.len()).any(|w| w == secret.as_bytes()),
                "token in {}",
                e.path().display()
            );
        }
    }
    // without the variable, the source says which variable is missing (not what it holds)
    let out =
        common::bin().args(["run", p.to_str().unwrap(), "--format", "json"]).env_remove("ECHO_HEALTH_TEST_PROM_TOKEN").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ECHO_HEALTH_TEST_PROM_TOKEN is not set"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_proxy_answering_html_is_an_error_of_that_query_not_a_crash() {
    // a "proxy" in front of Prometheus answering 502 with an HTML page
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            let _ = write!(
                s,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial");
    let e = errors(&tmp.path().join(".echo-health/prom.duckdb"));
    assert_eq!(e.iter().filter(|x| x.0 == "query-failed" && x.2.contains("502") && x.2.contains("non-JSON")).count(), 4, "{e:?}");
}

#[test]
fn the_demo_with_prometheus_grades_its_services_on_the_shipped_data() {
    if tools().is_none() {
        return;
    }
    let server = start_prometheus_with(&std::fs::read_to_string(common::repo().join("pipelines/demo/prometheus/demo.om")).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let text = std::fs::read_to_string(repo.join("pipelines/demo-prometheus.yaml"))
        .unwrap()
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{}", server.port))
        .replace("demo/", &format!("{}/", repo.join("pipelines/demo").display()))
        .replace("checks/default/", &format!("{}/", repo.join("pipelines/checks/default").display()))
        .replace(
            "output: .echo-health/demo-prometheus-out",
            &format!("output: {}/out\ndatabase: {}/d.duckdb", tmp.path().display(), tmp.path().display()),
        );
    let p = tmp.path().join("demo-prometheus.yaml");
    std::fs::write(&p, text).unwrap();
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let conn = duckdb::Connection::open(tmp.path().join("d.duckdb")).unwrap();
    let n = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    // every service of the demo has its error ratio and availability; 14 days of daily rates
    assert_eq!(n("select count(*) from facts where fact = 'prometheus.error_ratio_7d'"), 32, "{summary}");
    assert_eq!(n("select count(*) from facts where fact = 'prometheus.availability_30d'"), 32);
    assert_eq!(n("select count(*) from facts where fact = 'prometheus.requests_per_second'"), 32 * 15);
    assert_eq!(n("select count(*) from errors where stage = 'facts'"), 0, "every series names a demo component");
    // the deliberately unhealthy services fail the signal checks; the others pass
    let failing: i64 =
        n("select count(distinct entity_ref) from check_results where check_id = 'prometheus_error_ratio' and outcome = 'fail'");
    assert!((1..=3).contains(&failing), "{failing}");
    assert!(n("select count(*) from check_results where check_id = 'prometheus_error_ratio' and outcome = 'pass'") > 20);
}

/// A Prometheus-shaped fake for answers a real server gives only under load: warnings
/// beside a result, 422 `execution`, 503 `timeout` (contracts.md §B.1).
fn fake_prometheus() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 16384];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let (status, body) = if req.contains("warned") {
                (
                    "200 OK",
                    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"service":"checkout"},"value":[1764547200,"0.5"]}]},"warnings":["PromQL info: metric might not be a counter"]}"#,
                )
            } else if req.contains("heavy") {
                (
                    "422 Unprocessable Entity",
                    r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#,
                )
            } else {
                ("503 Service Unavailable", r#"{"status":"error","errorType":"timeout","error":"query timed out in query execution"}"#)
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn warnings_are_kept_and_execution_and_timeout_errors_are_recorded_per_query() {
    let port = fake_prometheus();
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), port);
    let text = std::fs::read_to_string(&p).unwrap();
    let i = text.find("    queries:\n").unwrap();
    let text = format!(
        "{}    queries:\n      - name: warned\n        expr: warned_metric\n      - name: heavy\n        expr: heavy_metric\n      - name: slow\n        expr: slow_metric\n",
        &text[..i]
    );
    std::fs::write(&p, text).unwrap();
    let (code, summary, stderr) = run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial");
    let db = tmp.path().join(".echo-health/prom.duckdb");
    let e = errors(&db);
    let has = |k: &str, s: &str, t: &str| e.iter().any(|x| x.0 == k && x.1 == s && x.2.contains(t));
    assert!(has("source-warning", "warning", "might not be a counter"), "{e:?}");
    assert!(
        has("query-failed", "error", "422") && has("query-failed", "error", "execution: query processing would load too many samples"),
        "{e:?}"
    );
    assert!(has("query-failed", "error", "503") && has("query-failed", "error", "timeout: query timed out"), "{e:?}");
    // the warned query's value is still a fact
    assert!(facts(&db).iter().any(|f| f.0 == "component:default/checkout" && f.1 == "prometheus.warned" && f.2 == 0.5));
}
