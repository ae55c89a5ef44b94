//! The end-to-end benchmark (issue 8): the synthetic organisation with every source served on
//! loopback — a real Prometheus (Debian's, data backfilled with `promtool`), the fake GitHub,
//! and loopback Zoekt and CodeScene servers answering in their contracts' shapes — run twice
//! by the echo-health binary as a child process: a cold run (empty database, no site) and a
//! second run with nothing changed. Measured per run: wall and CPU time and peak memory of
//! the child (`wait4`), each step's wall time (the run's own timings), requests per source,
//! pages written.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::loopback;
use crate::sources::prometheus::Component;

const GH_TOKEN_ENV: &str = "ECHO_HEALTH_BENCH_GH_TOKEN";
const CS_TOKEN_ENV: &str = "ECHO_HEALTH_BENCH_CS_TOKEN";
const GH_TOKEN: &str = "ghp_bench_e2e_token";
const CS_TOKEN: &str = "cs-bench-e2e-token";

#[derive(Debug, Clone, Serialize)]
pub struct RunMeasure {
    pub status: String,
    pub exit_code: i32,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mb: f64,
    /// wall seconds per step, as the run measured them
    pub steps: BTreeMap<String, f64>,
    /// wall time outside fact collection (catalog, load, grade, migrations, export, site,
    /// retention): the work beyond the sources' answers
    pub beyond_sources_s: f64,
    /// HTTP requests each source's server answered during the run
    pub requests: BTreeMap<String, u64>,
    /// wall seconds from the start of fact collection to each source's end
    pub source_seconds: BTreeMap<String, f64>,
    pub facts: u64,
    pub pages: u64,
    pub pages_written: u64,
    pub pages_unchanged: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct E2eBench {
    pub components: usize,
    pub repositories: usize,
    pub codescene_projects: usize,
    /// "real" (Debian's prometheus with backfilled data) or "loopback stand-in"
    pub prometheus: String,
    pub cold: RunMeasure,
    pub unchanged: RunMeasure,
    pub database_mb: f64,
}

/// A running Prometheus, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A plain HTTP/1.0 GET on loopback: the body, if the status is 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.split_whitespace().nth(1).filter(|c| *c == "200").map(|_| body.to_owned())
}

/// Two gauges per component (availability and error ratio), a sample every 10 minutes over
/// the last 2 hours, backfilled into a fresh TSDB; the server bound to 127.0.0.1.
fn start_prometheus(dir: &Path, components: &[Component]) -> Result<Option<Prometheus>> {
    let have = |tool: &str| Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !have("prometheus") || !have("promtool") {
        return Ok(None);
    }
    let end = chrono::Utc::now().timestamp() - 60;
    let start = end - 2 * 3600;
    let mut om = String::with_capacity(components.len() * 2 * 13 * 60);
    for (metric, f) in [("slo_availability", 0usize), ("error_ratio", 1usize)] {
        om.push_str(&format!("# TYPE {metric} gauge\n"));
        for (i, c) in components.iter().enumerate() {
            let q = (i * 37 % 100) as f64 / 100.0;
            let v = if f == 0 { 0.98 + q * 0.0199 } else { (1.0 - q) * 0.03 };
            let mut t = start;
            while t <= end {
                om.push_str(&format!("{metric}{{service=\"{}\"}} {v:.5} {t}\n", c.name));
                t += 600;
            }
        }
    }
    om.push_str("# EOF\n");
    let prom_dir = dir.join("prometheus");
    std::fs::create_dir_all(&prom_dir)?;
    std::fs::write(prom_dir.join("data.om"), om)?;
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h"])
        .arg(prom_dir.join("data.om"))
        .arg(prom_dir.join("tsdb"))
        .output()?;
    if !out.status.success() {
        bail!("promtool: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(prom_dir.join("prometheus.yml"), "global: {scrape_interval: 1m}\nscrape_configs: []\n")?;
    let port = free_port()?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", prom_dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", prom_dir.join("tsdb").display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting prometheus")?;
    let server = Prometheus { child, port };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if http_get(port, "/-/ready").is_some() {
            return Ok(Some(server));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("prometheus did not get ready on port {port}")
}

/// Query requests Prometheus has answered, from its own `/metrics`.
fn prometheus_queries(port: u16) -> u64 {
    let Some(text) = http_get(port, "/metrics") else { return 0 };
    text.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && (l.contains("handler=\"/api/v1/query\"") || l.contains("handler=\"/api/v1/query_range\""))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

/// A stand-in answering every query with a vector of one series per component (when
/// Prometheus is not installed).
fn prometheus_stand_in(components: &[Component]) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let ts = chrono::Utc::now().timestamp();
    let series: Vec<String> = components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!("{{\"metric\":{{\"service\":{}}},\"value\":[{ts},\"{}\"]}}", json!(c.name), 0.98 + (i * 37 % 100) as f64 / 5000.0)
        })
        .collect();
    let body = format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{}]}}}}", series.join(","));
    loopback::serve(Arc::new(move |_: &loopback::Request| (200, body.clone())))
}

/// Zoekt: log4j matches in every twentieth component's repository.
fn zoekt(components: &[Component]) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let files: Vec<String> = components
        .iter()
        .step_by(20)
        .filter_map(|c| c.annotations.get("github.com/project-slug"))
        .map(|slug| {
            format!(
                "{{\"FileName\":\"src/Main.java\",\"Repository\":\"github.com/{slug}\",\"Language\":\"Java\",\"LineMatches\":[{{\"Line\":\"aW1wb3J0IG9yZy5hcGFjaGUubG9nNGouTG9nZ2VyOwo=\",\"LineStart\":0,\"LineEnd\":31,\"LineNumber\":3,\"Before\":null,\"After\":null,\"FileName\":false,\"Score\":501,\"DebugScore\":\"\",\"LineFragments\":[{{\"LineOffset\":7,\"Offset\":7,\"MatchLength\":16,\"SymbolInfo\":null}}]}}],\"Checksum\":\"MTIzNDU2Nzg=\",\"Score\":5000000010}}"
            )
        })
        .collect();
    let body = format!(
        "{{\"Result\":{{\"Crashes\":0,\"FileCount\":{n},\"FilesSkipped\":0,\"ShardsSkipped\":0,\"MatchCount\":{n},\"Duration\":1000000,\"Files\":[{}],\"RepoURLs\":{{}},\"LineFragments\":{{}}}}}}",
        files.join(","),
        n = files.len()
    );
    loopback::serve(Arc::new(move |r: &loopback::Request| {
        if r.method != "POST" || !r.path.starts_with("/api/search") {
            return (404, "{\"Error\":\"not found\"}".into());
        }
        (200, body.clone())
    }))
}

/// CodeScene v2: the latest analysis and one page of hotspots per project, values from the
/// project id; 401 without the bearer token, 404 for unknown paths.
fn codescene() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let analysed = (chrono::Utc::now() - chrono::Duration::days(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    loopback::serve(Arc::new(move |r: &loopback::Request| {
        if r.header("authorization") != Some(&format!("Bearer {CS_TOKEN}")) {
            return (401, "{\"error\":\"unauthorized\"}".into());
        }
        let path = r.path.split('?').next().unwrap_or("");
        let Some(rest) = path.strip_prefix("/api/v2/projects/") else { return (404, "{\"error\":\"not found\"}".into()) };
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let Ok(n) = id.parse::<u64>() else { return (404, "{\"error\":\"not found\"}".into()) };
        let q = (n * 37 % 100) as f64 / 100.0;
        match tail {
            "analyses/latest" => (
                200,
                json!({"id": n * 10, "name": format!("project-{n}"), "project_id": n, "readable_analysis_time": analysed,
                       "high_level_metrics": {"hotspots_code_health_now_weighted_average": 3.0 + q * 7.0,
                                              "code_health_weighted_average_current": 4.0 + q * 6.0,
                                              "code_health_now_worst_performer": 2.0 + q * 5.0}})
                .to_string(),
            ),
            "analyses/latest/technical-debt-hotspots" => (
                200,
                json!({"page": 1, "max_pages": 1, "hotspots": [
                    {"file_name": "src/Core.java", "code_health": 2.0 + q * 7.0, "revisions": 90},
                    {"file_name": "src/Api.java", "code_health": 6.5, "revisions": 40},
                    {"file_name": "src/Util.java", "code_health": 9.4, "revisions": 5}]})
                .to_string(),
            ),
            _ => (404, "{\"error\":\"not found\"}".into()),
        }
    }))
}

/// Runs `echo-health run PIPELINE --format json --quiet` as a child and measures it.
fn run_child(pipeline: &Path) -> Result<(i32, Value, f64, f64, f64)> {
    let exe = std::env::current_exe()?;
    let t0 = Instant::now();
    let mut child = Command::new(exe)
        .args(["--quiet", "run"])
        .arg(pipeline)
        .args(["--format", "json"])
        .env(GH_TOKEN_ENV, GH_TOKEN)
        .env(CS_TOKEN_ENV, CS_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the run")?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut stderr = child.stderr.take().context("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid with valid pointers to a status and a zeroed rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t0.elapsed().as_secs_f64();
    if rc != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let v: Value = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    if v.is_null() {
        bail!("the run printed no JSON summary (exit {code}): {stderr}");
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((code, v, wall, tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as f64 / 1024.0))
}

/// Generates the organisation in `dir`, starts the servers, runs the pipeline twice.
pub fn bench_e2e(dir: &Path, opts: &crate::synth::Options, packs: &[PathBuf]) -> Result<E2eBench> {
    let components = super::synthetic_components(dir, opts)?;
    // fact files: what no served source provides (coverage, on-call, runtime)
    let facts: String = crate::synth::generate_facts(opts)
        .lines()
        .filter(|l| ["\"ci.", "\"pagerduty.", "\"runtime."].iter().any(|p| l.contains(&format!("\"fact\":{p}"))))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::create_dir_all(dir.join("facts"))?;
    std::fs::write(dir.join("facts/signals.ndjson"), facts)?;

    let now = chrono::Utc::now();
    let repos: Vec<String> = components.iter().filter_map(|c| c.annotations.get("github.com/project-slug").cloned()).collect();
    let github = crate::fakes::github::FakeGitHub::start("synth", Some(GH_TOKEN), crate::fakes::github::synthetic_org(&repos, now));
    let projects = components.iter().filter(|c| c.annotations.contains_key("codescene.io/project-id")).count();
    let (zoekt_port, zoekt_requests) = zoekt(&components);
    let (cs_port, cs_requests) = codescene();
    let real = start_prometheus(dir, &components)?;
    let stand_in = if real.is_none() { Some(prometheus_stand_in(&components)) } else { None };
    let prom_port = real.as_ref().map(|p| p.port).or(stand_in.as_ref().map(|s| s.0)).unwrap_or(0);
    let prom_requests = || match (&real, &stand_in) {
        (Some(p), _) => prometheus_queries(p.port),
        (_, Some((_, c))) => c.load(Ordering::SeqCst) as u64,
        _ => 0,
    };

    let pack_list: Vec<String> = packs.iter().map(|p| json!(p.display().to_string()).to_string()).collect();
    let yaml = format!(
        "name: e2e\n\
         catalog:\n  - type: files\n    paths: [catalog]\n\
         facts:\n\
         \x20 - type: files\n    name: signals\n    paths: [facts]\n    declares:\n      ci.test_coverage_pct: number\n      pagerduty.has_escalation_policy: boolean\n      runtime.base_image_age_days: number\n      runtime.java_version_major: number\n\
         \x20 - type: prometheus\n    endpoint: http://127.0.0.1:{prom_port}\n    queries:\n\
         \x20     - name: availability_30d\n        expr: avg by (service) (avg_over_time(slo_availability[30d]))\n\
         \x20     - name: error_ratio_7d\n        expr: avg by (service) (avg_over_time(error_ratio[7d]))\n\
         \x20 - type: zoekt\n    endpoint: http://127.0.0.1:{zoekt_port}\n    queries:\n      - name: log4j_refs\n        query: 'org.apache.log4j lang:java'\n\
         \x20 - type: codescene\n    base_url: http://127.0.0.1:{cs_port}/api/v2\n    token_env: {CS_TOKEN_ENV}\n\
         \x20 - type: github\n    api_url: {}\n    web_host: github.com\n    token_env: {GH_TOKEN_ENV}\n    organizations: [synth]\n\
         grading:\n  checks: [{}]\n",
        github.url(),
        pack_list.join(", ")
    );
    let pipeline = dir.join("e2e.yaml");
    std::fs::write(&pipeline, yaml)?;

    let measure = |label: &str| -> Result<RunMeasure> {
        let before = (prom_requests(), zoekt_requests.load(Ordering::SeqCst), cs_requests.load(Ordering::SeqCst), github.counts());
        let (code, v, wall, cpu, rss) = run_child(&pipeline)?;
        let after = (prom_requests(), zoekt_requests.load(Ordering::SeqCst), cs_requests.load(Ordering::SeqCst), github.counts());
        if code == 2 {
            bail!("the {label} run failed: {v}");
        }
        let steps: BTreeMap<String, f64> =
            v["timings"].as_object().map(|m| m.iter().map(|(k, t)| (k.clone(), t.as_f64().unwrap_or(0.0))).collect()).unwrap_or_default();
        let mut requests = BTreeMap::new();
        requests.insert("prometheus".to_owned(), after.0.saturating_sub(before.0));
        requests.insert("zoekt".to_owned(), (after.1 - before.1) as u64);
        requests.insert("codescene".to_owned(), (after.2 - before.2) as u64);
        requests.insert("github".to_owned(), ((after.3.graphql + after.3.rest) - (before.3.graphql + before.3.rest)) as u64);
        Ok(RunMeasure {
            status: v["status"].as_str().unwrap_or("?").to_owned(),
            exit_code: code,
            wall_s: wall,
            cpu_s: cpu,
            peak_rss_mb: rss,
            beyond_sources_s: steps.iter().filter(|(k, _)| k.as_str() != "facts").map(|(_, t)| t).sum(),
            steps,
            requests,
            source_seconds: v["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| (s["name"].as_str().unwrap_or("?").to_owned(), s["stats"]["seconds"].as_f64().unwrap_or(0.0)))
                .collect(),
            facts: v["facts"].as_u64().unwrap_or(0),
            pages: v["site"]["pages"].as_u64().unwrap_or(0),
            pages_written: v["site"]["written"].as_u64().unwrap_or(0),
            pages_unchanged: v["site"]["unchanged"].as_u64().unwrap_or(0),
        })
    };
    let cold = measure("cold")?;
    let unchanged = measure("second")?;
    let database_mb = std::fs::metadata(dir.join(".echo-health/e2e.duckdb")).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0);
    Ok(E2eBench {
        components: components.len(),
        repositories: repos.len(),
        codescene_projects: projects,
        prometheus: if real.is_some() { "real".into() } else { "loopback stand-in (prometheus/promtool not installed)".into() },
        cold,
        unchanged,
        database_mb,
    })
}
