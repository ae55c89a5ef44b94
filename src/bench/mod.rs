//! The catalog benchmark: parse, validate and assemble a descriptor folder (by default the
//! 10,000-component synthetic organisation) and report CPU time (user + system), wall time
//! and peak memory of the process, measured with `getrusage`.

pub mod e2e;

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::store::sql;

use crate::catalog::files::{read_catalog, FilesOptions};
use crate::catalog::Catalog;

/// Process CPU time and peak resident memory so far.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_mb: f64,
}

pub fn usage() -> Usage {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage { user_s: tv(ru.ru_utime), sys_s: tv(ru.ru_stime), max_rss_mb: ru.ru_maxrss as f64 / 1024.0 }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub files: usize,
    pub bytes: u64,
    pub documents: usize,
    pub entities: usize,
    pub relations: usize,
    pub problems: usize,
    /// CPU seconds (user + system) of reading, parsing, validating and assembling
    pub cpu_s: f64,
    /// of which reading, parsing and validating the files (what Backstage's validator does)
    pub parse_validate_cpu_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub wall_s: f64,
    /// peak resident memory of the whole process
    pub peak_rss_mb: f64,
}

/// Reads the catalog below `dir` once and measures it.
pub fn bench_catalog(dir: &Path) -> BenchResult {
    let before = usage();
    let t0 = Instant::now();
    let out = read_catalog(&[".".to_owned()], &FilesOptions::new(dir));
    let (files, bytes) = (out.files_read, out.bytes_read);
    let documents = out.reports.len();
    let mid = usage();
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    let wall = t0.elapsed().as_secs_f64();
    let after = usage();
    let r = BenchResult {
        files,
        bytes,
        documents,
        entities: catalog.entities.len(),
        relations: catalog.relations.len(),
        problems: catalog.error_count(),
        cpu_s: (after.user_s - before.user_s) + (after.sys_s - before.sys_s),
        parse_validate_cpu_s: (mid.user_s - before.user_s) + (mid.sys_s - before.sys_s),
        user_s: after.user_s - before.user_s,
        sys_s: after.sys_s - before.sys_s,
        wall_s: wall,
        peak_rss_mb: after.max_rss_mb,
    };
    drop(catalog);
    r
}

#[derive(Debug, Clone, Serialize)]
pub struct GradeBench {
    pub components: usize,
    pub checks: usize,
    pub results: usize,
    pub facts: usize,
    /// wall seconds of each grading (stage, store results with evidence, grades, roll-ups, commit)
    pub wall_s: Vec<f64>,
    /// CPU seconds (user + system, both cores) of each grading
    pub cpu_s: Vec<f64>,
    pub levels: std::collections::BTreeMap<String, usize>,
}

/// Generates an organisation with facts in `dir` and runs a pipeline over it once (not
/// measured): the starting point of the grading and site benchmarks.
pub fn prepare(
    dir: &Path,
    opts: &crate::synth::Options,
    packs: &[std::path::PathBuf],
) -> anyhow::Result<(crate::config::Pipeline, crate::grade::engine::Setup, crate::pipeline::RunOutcome)> {
    use anyhow::Context;
    let org = crate::synth::generate(opts);
    org.write_to(&dir.join("catalog"))?;
    std::fs::create_dir_all(dir.join("facts"))?;
    std::fs::write(dir.join("facts/signals.ndjson"), crate::synth::generate_facts(opts))?;
    let declares = "      ci.test_coverage_pct: number\n      pagerduty.has_escalation_policy: boolean\n      runtime.base_image_age_days: number\n      runtime.java_version_major: number\n";
    let pack_list: Vec<String> = packs.iter().map(|p| p.display().to_string()).collect();
    let yaml = format!(
        "name: bench\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: files\n    paths: [facts]\n    declares:\n{declares}grading:\n  checks: [{}]\n",
        pack_list.join(", ")
    );
    std::fs::write(dir.join("bench.yaml"), yaml)?;
    let p = crate::config::load(&dir.join("bench.yaml")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let setup = crate::grade::setup(&p).map_err(|e| anyhow::anyhow!("{e}"))?.context("the bench pipeline grades")?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = rt.block_on(crate::pipeline::run(&p, Some(setup.clone()), None))?;
    Ok((p, setup, outcome))
}

/// Generates an organisation with facts in `dir`, runs a pipeline over it once (not
/// measured), then grades the stored run `repeat` times (measured).
pub fn bench_grade(dir: &Path, opts: &crate::synth::Options, packs: &[std::path::PathBuf], repeat: usize) -> anyhow::Result<GradeBench> {
    use anyhow::Context;
    let (p, setup, outcome) = prepare(dir, opts, packs)?;
    let mut store = crate::store::Store::open(&p.database)?;
    let (as_of,): (chrono::NaiveDateTime,) = store.conn().query_row(sql::RUN_AS_OF, [&outcome.run_id], |r| Ok((r.get(0)?,)))?;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let before = usage();
        let t0 = Instant::now();
        let (o, _) = crate::pipeline::grade_stored_run(&mut store, &outcome.run_id, "regrade", as_of.and_utc(), &setup, &[])?;
        wall.push(t0.elapsed().as_secs_f64());
        let after = usage();
        cpu.push((after.user_s - before.user_s) + (after.sys_s - before.sys_s));
        last = Some(o);
    }
    let o = last.context("graded once")?;
    Ok(GradeBench {
        components: opts.components,
        checks: setup.pack.checks.len(),
        results: o.results,
        facts: outcome.facts,
        wall_s: wall,
        cpu_s: cpu,
        levels: o.levels,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteBench {
    pub components: usize,
    pub pages: usize,
    pub bytes: u64,
    /// CPU seconds of reading the run from the database
    pub load_cpu_s: f64,
    /// CPU seconds of reading, building every view model and rendering every page (in memory);
    /// of which system time
    pub render_cpu_s: f64,
    pub render_sys_s: f64,
    pub render_wall_s: f64,
    /// CPU and wall seconds of a whole render into a new folder (written); of which system
    /// time (the kernel creating files)
    pub publish_cpu_s: f64,
    pub publish_sys_s: f64,
    pub publish_wall_s: f64,
    pub written: usize,
    /// the same run rendered again: pages rewritten (should be 0) and its CPU seconds
    pub second_written: usize,
    pub second_cpu_s: f64,
    pub largest_page: String,
    pub largest_bytes: u64,
    pub largest_component_bytes: u64,
    pub css_bytes: u64,
}

/// Generates an organisation with facts in `dir`, runs a pipeline over it (not measured),
/// then renders its site three ways (measured): in memory, into a new folder, and again.
pub fn bench_site(dir: &Path, opts: &crate::synth::Options, packs: &[std::path::PathBuf]) -> anyhow::Result<SiteBench> {
    use anyhow::Context;
    let (p, _setup, outcome) = prepare(dir, opts, packs)?;
    let store = crate::store::Store::open(&p.database)?;
    let conn = store.conn();
    let grading: Option<String> = conn.query_row(sql::RUN_GRADING, [&outcome.run_id], |r| r.get(0)).ok();
    let env = crate::report::environment()?;
    let cpu = |a: Usage, b: Usage| (b.user_s - a.user_s) + (b.sys_s - a.sys_s);

    let u0 = usage();
    let t0 = Instant::now();
    let data = crate::report::data::load(conn, &outcome.run_id, grading.as_deref())?;
    let u1 = usage();
    // the pages are measured as they come and dropped (holding 145 MB of them would add page
    // faults a real render, which writes each page out, does not have)
    let (mut bytes, mut largest_component_bytes, mut css_bytes) = (0u64, 0u64, 0u64);
    crate::report::render_each(&env, &data, &mut |path, page| {
        bytes += page.len() as u64;
        if path.starts_with("component/") {
            largest_component_bytes = largest_component_bytes.max(page.len() as u64);
        }
        if path == "assets/site.css" {
            css_bytes = page.len() as u64;
        }
        Ok(())
    })?;
    let render_wall = t0.elapsed().as_secs_f64();
    let u2 = usage();
    drop(data);

    let target = dir.join("bench-site");
    let _ = std::fs::remove_dir_all(&target);
    let u3 = usage();
    let t1 = Instant::now();
    let first = crate::report::render_run(conn, &outcome.run_id, grading.as_deref(), &target, &[]).context("first render")?;
    let publish_wall = t1.elapsed().as_secs_f64();
    let u4 = usage();
    let second = crate::report::render_run(conn, &outcome.run_id, grading.as_deref(), &target, &[]).context("second render")?;
    let u5 = usage();
    Ok(SiteBench {
        components: opts.components,
        pages: first.pages,
        bytes,
        load_cpu_s: cpu(u0, u1),
        render_cpu_s: cpu(u0, u2),
        render_sys_s: u2.sys_s - u0.sys_s,
        render_wall_s: render_wall,
        publish_cpu_s: cpu(u3, u4),
        publish_sys_s: u4.sys_s - u3.sys_s,
        publish_wall_s: publish_wall,
        written: first.written,
        second_written: second.written,
        second_cpu_s: cpu(u4, u5),
        largest_page: first.largest_page,
        largest_bytes: first.largest_bytes,
        largest_component_bytes,
        css_bytes,
    })
}

/// Loopback JSON servers for the sources benchmark (a Prometheus answering every query with
/// one series per component name, a Zoekt answering every search with file matches spread
/// over the components' repositories) and for the fakes of the tests. They count the
/// requests they answer.
pub mod loopback {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A request a loopback server received.
    pub struct Request {
        pub method: String,
        /// path and query, as sent
        pub path: String,
        /// (name lower-cased, value)
        pub headers: Vec<(String, String)>,
        /// the body as text (invalid UTF-8 replaced); `bytes` as sent
        pub body: String,
        pub bytes: Vec<u8>,
    }

    impl Request {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }
    }

    /// What a loopback server answers to a request: the HTTP status and a JSON text.
    pub type Answer = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

    /// A full answer: status, extra headers, body (a 304 or 204 is sent without a body).
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    pub type FullAnswer = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

    /// An answer in bytes: status, content type, body (binary bodies: object stores).
    pub type BytesAnswer = Arc<dyn Fn(&Request) -> (u16, &'static str, Vec<u8>) + Send + Sync>;

    /// Serves `answer(request)` as JSON on a free 127.0.0.1 port (HTTP/1.1 keep-alive).
    pub fn serve(answer: Answer) -> (u16, Arc<AtomicUsize>) {
        serve_full(Arc::new(move |r: &Request| {
            let (status, body) = answer(r);
            Reply { status, headers: Vec::new(), body }
        }))
    }

    /// Serves `answer(request)` with its own headers on a free 127.0.0.1 port.
    pub fn serve_full(answer: FullAnswer) -> (u16, Arc<AtomicUsize>) {
        serve_with(Arc::new(move |r: &Request| {
            let reply = answer(r);
            (reply.status, "application/json; charset=utf-8".to_owned(), reply.headers, reply.body.into_bytes())
        }))
    }

    /// Serves `answer(request)` in bytes on a free 127.0.0.1 port.
    pub fn serve_bytes(answer: BytesAnswer) -> (u16, Arc<AtomicUsize>) {
        serve_with(Arc::new(move |r: &Request| {
            let (status, content_type, body) = answer(r);
            (status, content_type.to_owned(), Vec::new(), body)
        }))
    }

    type Handler = Arc<dyn Fn(&Request) -> (u16, String, Vec<(String, String)>, Vec<u8>) + Send + Sync>;

    fn serve_with(answer: Handler) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = answer.clone();
                let c = c.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let Ok(read) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(read);
                    let mut stream = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut parts = line.split_whitespace();
                        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
                        let mut len = 0usize;
                        let mut headers = Vec::new();
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h == "\r\n" {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                            }
                        }
                        let mut body = vec![0u8; len];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        c.fetch_add(1, Ordering::SeqCst);
                        let request = Request { method, path, headers, body: String::from_utf8_lossy(&body).into_owned(), bytes: body };
                        let (status, content_type, extra, body) = answer(&request);
                        let reason = match status {
                            200 => "OK",
                            201 => "Created",
                            204 => "No Content",
                            304 => "Not Modified",
                            400 => "Bad Request",
                            401 => "Unauthorized",
                            403 => "Forbidden",
                            404 => "Not Found",
                            405 => "Method Not Allowed",
                            422 => "Unprocessable Entity",
                            429 => "Too Many Requests",
                            502 => "Bad Gateway",
                            503 => "Service Unavailable",
                            504 => "Gateway Timeout",
                            _ => "Status",
                        };
                        let body: &[u8] = if matches!(status, 204 | 304) { &[] } else { &body };
                        let mut head =
                            format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n", body.len());
                        for (k, v) in &extra {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        // one write: a head and a body written apart meet Nagle and delayed
                        // ACKs (40 ms per answer on a keep-alive connection)
                        let mut out = head.into_bytes();
                        out.extend_from_slice(body);
                        if stream.write_all(&out).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, count)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SourcesBench {
    pub components: usize,
    pub prometheus_queries: usize,
    pub zoekt_queries: usize,
    /// HTTP requests the loopback servers answered
    pub requests: usize,
    pub facts: usize,
    pub errors: usize,
    /// wall seconds of collecting both sources (concurrently, as a run does)
    pub wall_s: f64,
    pub cpu_s: f64,
}

/// The components of a synthetic organisation written to `dir/catalog` and read back.
fn synthetic_components(dir: &Path, opts: &crate::synth::Options) -> anyhow::Result<Vec<crate::sources::prometheus::Component>> {
    let org = crate::synth::generate(opts);
    org.write_to(&dir.join("catalog"))?;
    let out = read_catalog(&[".".to_owned()], &FilesOptions::new(dir.join("catalog")));
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    Ok(crate::pipeline::components_of(&catalog))
}

/// Collects `queries` Prometheus and `queries` Zoekt queries for an organisation of
/// `components` against loopback servers; measures the collection.
pub fn bench_sources(dir: &Path, opts: &crate::synth::Options, queries: usize) -> anyhow::Result<SourcesBench> {
    use std::sync::Arc;
    let components = synthetic_components(dir, opts)?;
    let now = chrono::Utc::now();
    let ts = now.timestamp();

    // Prometheus: a vector with one series per component (and a few nobody claims)
    let mut series: Vec<String> = components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{{\"metric\":{{\"service\":{}}},\"value\":[{ts},\"{}\"]}}",
                serde_json::to_string(&c.name).unwrap_or_default(),
                (i % 1000) as f64 / 1000.0
            )
        })
        .collect();
    series.extend((0..20).map(|i| format!("{{\"metric\":{{\"service\":\"unclaimed-{i}\"}},\"value\":[{ts},\"1\"]}}")));
    let prom_body = format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{}]}}}}", series.join(","));
    let (prom_port, prom_count) = loopback::serve(Arc::new(move |_: &loopback::Request| (200, prom_body.clone())));

    // Zoekt: matches in every tenth component's repository (synth/<name>)
    let files: Vec<String> = components
        .iter()
        .step_by(10)
        .map(|c| {
            format!(
                "{{\"FileName\":\"src/Main.java\",\"Repository\":\"github.com/synth/{}\",\"Language\":\"Java\",\"LineMatches\":[{{\"Line\":\"aW1wb3J0IG9yZy5hcGFjaGUubG9nNGouTG9nZ2VyOwo=\",\"LineStart\":0,\"LineEnd\":31,\"LineNumber\":3,\"Before\":null,\"After\":null,\"FileName\":false,\"Score\":501,\"DebugScore\":\"\",\"LineFragments\":[{{\"LineOffset\":7,\"Offset\":7,\"MatchLength\":16,\"SymbolInfo\":null}}]}}],\"Checksum\":\"MTIzNDU2Nzg=\",\"Score\":5000000010}}",
                c.name
            )
        })
        .collect();
    let zoekt_body = format!(
        "{{\"Result\":{{\"Crashes\":0,\"FileCount\":{},\"FilesSkipped\":0,\"ShardsSkipped\":0,\"MatchCount\":{},\"Duration\":1000000,\"Files\":[{}],\"RepoURLs\":{{}},\"LineFragments\":{{}}}}}}",
        files.len(),
        files.len(),
        files.join(",")
    );
    let (zoekt_port, zoekt_count) = loopback::serve(Arc::new(move |_: &loopback::Request| (200, zoekt_body.clone())));

    let prom = crate::sources::prometheus::Config {
        name: "prometheus".into(),
        endpoint: format!("http://127.0.0.1:{prom_port}"),
        token_env: None,
        username_env: None,
        password_env: None,
        timeout_secs: 30,
        label_annotation: crate::sources::prometheus::DEFAULT_LABEL_ANNOTATION.into(),
        required: false,
        at: None,
        queries: (0..queries)
            .map(|i| crate::sources::prometheus::Query {
                name: format!("q{i}"),
                expr: format!("sum by (service) (rate(http_requests_total{{i=\"{i}\"}}[1h]))"),
                label: "service".into(),
                kind: crate::sources::prometheus::QueryKind::Instant,
                line: 1,
            })
            .collect(),
    };
    let zoekt = crate::sources::zoekt::Config {
        name: "zoekt".into(),
        endpoint: format!("http://127.0.0.1:{zoekt_port}"),
        auth_header_env: None,
        timeout_secs: 30,
        repository_template: crate::sources::zoekt::DEFAULT_REPOSITORY_TEMPLATE.into(),
        required: false,
        queries: (0..queries).map(|i| crate::sources::zoekt::Query { name: format!("q{i}"), query: format!("term{i}"), line: 1 }).collect(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let before = usage();
    let t0 = Instant::now();
    let (p, z) = rt.block_on(async {
        tokio::join!(crate::sources::prometheus::collect(&prom, &components, now), crate::sources::zoekt::collect(&zoekt, &components, now))
    });
    let wall = t0.elapsed().as_secs_f64();
    let after = usage();
    Ok(SourcesBench {
        components: components.len(),
        prometheus_queries: queries,
        zoekt_queries: queries,
        requests: prom_count.load(std::sync::atomic::Ordering::SeqCst) + zoekt_count.load(std::sync::atomic::Ordering::SeqCst),
        facts: p.facts.len() + z.facts.len(),
        errors: p.errors.iter().chain(&z.errors).filter(|e| e.kind.severity() == "error").count(),
        wall_s: wall,
        cpu_s: (after.user_s - before.user_s) + (after.sys_s - before.sys_s),
    })
}

/// One collection of the GitHub benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct GitHubRun {
    pub requests: u64,
    pub graphql_requests: u64,
    pub rest_requests: u64,
    pub not_modified: u64,
    /// GraphQL points (from `rateLimit.cost`) plus REST requests counted against the limit
    pub points: u64,
    pub facts: usize,
    pub wall_s: f64,
    pub cpu_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitHubBench {
    pub components: usize,
    pub repositories: usize,
    pub first: GitHubRun,
    /// the same organisation again, with what the first run kept
    pub unchanged: GitHubRun,
    /// after pushes to 1% of the repositories
    pub one_percent_pushed: GitHubRun,
    pub requests_per_component: f64,
    /// points of the unchanged run as a share of the first run's
    pub unchanged_points_share: f64,
}

/// Collects GitHub facts for a synthetic organisation of `components` repositories from the
/// fake GitHub on loopback: a full first run, an unchanged second run, and a run after 1% of
/// the repositories were pushed to.
pub fn bench_github(dir: &Path, opts: &crate::synth::Options) -> anyhow::Result<GitHubBench> {
    use crate::fakes::github::{synthetic_org, FakeGitHub};
    use crate::sources::github::collect;
    let components = synthetic_components(dir, opts)?;
    let now = chrono::Utc::now();
    let names: Vec<String> =
        components.iter().filter_map(|c| c.annotations.get(crate::sources::github::SLUG_ANNOTATION).cloned()).collect();
    let fake = FakeGitHub::start("synth", None, synthetic_org(&names, now));
    let mut cfg = crate::fakes::github::source_config(&fake, "synth");
    cfg.api.concurrency = 4;
    crate::sources::prometheus::install_tls();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut cache = Vec::new();
    let measure = |cache: &mut Vec<crate::sources::CacheEntry>| -> GitHubRun {
        fake.reset_counts();
        let (u0, t0) = (usage(), std::time::Instant::now());
        let out = rt.block_on(collect(&cfg, &components, std::mem::take(cache), chrono::Utc::now()));
        let (wall, u1) = (t0.elapsed().as_secs_f64(), usage());
        // what the next run reads back: the previous rows, replaced by the new ones
        let mut kept: std::collections::BTreeMap<String, crate::sources::CacheEntry> = std::collections::BTreeMap::new();
        for e in out.cache {
            kept.insert(e.key.clone(), e);
        }
        *cache = kept.into_values().collect();
        let c = fake.counts();
        GitHubRun {
            requests: (c.graphql + c.rest) as u64,
            graphql_requests: c.graphql as u64,
            rest_requests: c.rest as u64,
            not_modified: c.not_modified as u64,
            points: c.points + c.rest_points,
            facts: out.facts.len(),
            wall_s: wall,
            cpu_s: (u1.user_s + u1.sys_s) - (u0.user_s + u0.sys_s),
        }
    };
    let first = measure(&mut cache);
    let mut kept = cache.clone();
    let unchanged = {
        let mut c = kept.clone();
        let r = measure(&mut c);
        // the unchanged run writes no snapshot: the first run's rows stay
        let mut merged: std::collections::BTreeMap<String, crate::sources::CacheEntry> =
            kept.drain(..).map(|e| (e.key.clone(), e)).collect();
        for e in c {
            merged.insert(e.key.clone(), e);
        }
        kept = merged.into_values().collect();
        r
    };
    {
        let mut st = fake.state.lock().unwrap();
        let n = st.repos.len();
        for r in st.repos.iter_mut().step_by(100).take(n / 100) {
            r.pushed_at = chrono::Utc::now();
        }
    }
    let one_percent_pushed = measure(&mut kept);
    Ok(GitHubBench {
        components: components.len(),
        repositories: names.len(),
        requests_per_component: first.requests as f64 / components.len().max(1) as f64,
        unchanged_points_share: unchanged.points as f64 / first.points.max(1) as f64,
        first,
        unchanged,
        one_percent_pushed,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationBench {
    pub components: usize,
    pub migrations: usize,
    pub weekly_runs: usize,
    /// component states in the latest run
    pub states: usize,
    /// evaluating the states of the latest run, per repetition (stored, one transaction)
    pub states_s: Vec<f64>,
    /// roll-ups by domain and team, every migration's history and forecast
    pub rollups_forecasts_s: Vec<f64>,
    pub total_median_s: f64,
    /// database growth per weekly run from migration states (checkpointed), bytes
    pub bytes_per_run: u64,
    /// the database after the one full run (catalog, facts, grading, migrations; checkpointed),
    /// per 1,000 components
    pub full_run_bytes_per_1000_components: u64,
    pub database_bytes: u64,
    pub forecasts: Vec<String>,
}

/// The migration benchmark: the synthetic organisation run once, 5 migrations evaluated on
/// it, `weeks - 1` weekly runs of history before it (their states derived from the latest),
/// then states, roll-ups and forecasts computed `repeat` times (measured).
pub fn bench_migrations(
    dir: &Path,
    opts: &crate::synth::Options,
    packs: &[std::path::PathBuf],
    weeks: usize,
    repeat: usize,
) -> anyhow::Result<MigrationBench> {
    let (p, _setup, outcome) = prepare(dir, opts, packs)?;
    let defs = r#"migrations:
  - {id: log4j_removal, title: Remove log4j 1.x, description: d, deadline: 2027-03-31, done: '"zoekt.log4j_refs" = 0', started: '"zoekt.log4j_refs" < 10'}
  - {id: java_17, title: Java 17 everywhere, description: d, deadline: 2027-06-30, applies_to: "kind = 'Component' and \"runtime.java_version_major\" is not null", done: '"runtime.java_version_major" >= 17', started: '"runtime.java_version_major" > 8'}
  - {id: branch_protection, title: Protect default branches, description: d, deadline: 2027-01-31, done: '"github.default_branch_protected"'}
  - {id: dependency_updates, title: Dependency updates everywhere, description: d, deadline: 2027-02-28, done: '"github.dependency_updates_configured"'}
  - {id: fresh_base_images, title: Base images under 90 days, description: d, deadline: 2027-04-30, done: '"runtime.base_image_age_days" <= 90', started: '"runtime.base_image_age_days" <= 180'}
"#;
    std::fs::write(dir.join("migrations.yaml"), defs)?;
    let facts = crate::grade::fact_set(&p);
    let migrations = crate::migrate::load(&[dir.join("migrations.yaml")], &facts, crate::grade::engine::CATALOG_COLUMNS)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let setup = crate::migrate::Setup { migrations, exemptions: Vec::new() };
    let store = crate::store::Store::open(&p.database)?;
    let conn = store.conn();
    let (as_of,): (chrono::NaiveDateTime,) = conn.query_row(sql::RUN_AS_OF, [&outcome.run_id], |r| Ok((r.get(0)?,)))?;
    let as_of = as_of.and_utc();
    let first = crate::migrate::evaluate(conn, &outcome.run_id, as_of, &facts, &setup)?;
    conn.execute_batch("checkpoint")?;
    let size = || std::fs::metadata(&p.database).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let hist = weeks.saturating_sub(1);
    conn.execute(sql::MIGRATION_BENCH_HISTORY_RUNS, duckdb::params![outcome.run_id, p.name, hist as i64])?;
    conn.execute(sql::MIGRATION_BENCH_HISTORY_DEFS, duckdb::params![outcome.run_id, hist as i64])?;
    conn.execute(sql::MIGRATION_BENCH_HISTORY_STATES, duckdb::params![outcome.run_id, hist as i64])?;
    conn.execute_batch("checkpoint")?;
    let after = size();
    let info = crate::report::data::RunInfo {
        run_id: outcome.run_id.clone(),
        pipeline: p.name.clone(),
        started_at: String::new(),
        finished_at: String::new(),
        status: "ok".into(),
        as_of: as_of.naive_utc().to_string(),
        entities: 0,
        facts: 0,
        errors: 0,
        warnings: 0,
    };
    let (mut states_s, mut rollups_s, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let mut forecasts = Vec::new();
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        crate::migrate::evaluate(conn, &outcome.run_id, as_of, &facts, &setup)?;
        let t1 = Instant::now();
        let rollups = crate::migrate::rollups(conn, &outcome.run_id)?;
        let data = crate::report::data::load_migrations(conn, &info)?;
        forecasts = data.iter().map(|m| format!("{}: {}", m.id, crate::report::site::migrations::assess(m).3)).collect();
        // and every domain's and team's own forecast
        let scoped: usize = data
            .iter()
            .map(|m| m.scope_history.keys().map(|(s, r)| crate::report::site::migrations::scope_forecast(m, s, r)).count())
            .sum();
        anyhow::ensure!(scoped > 0, "scope forecasts");
        let t2 = Instant::now();
        anyhow::ensure!(!rollups.is_empty() && data.iter().all(|m| m.history.len() == weeks), "every migration has {weeks} weekly points");
        states_s.push((t1 - t0).as_secs_f64());
        rollups_s.push((t2 - t1).as_secs_f64());
        totals.push((t2 - t0).as_secs_f64());
    }
    totals.sort_by(f64::total_cmp);
    Ok(MigrationBench {
        components: opts.components,
        migrations: setup.migrations.len(),
        weekly_runs: weeks,
        states: first.counts.values().flat_map(|m| m.values()).sum(),
        states_s,
        rollups_forecasts_s: rollups_s,
        total_median_s: totals[totals.len() / 2],
        bytes_per_run: (after.saturating_sub(before)) / hist.max(1) as u64,
        full_run_bytes_per_1000_components: before * 1000 / opts.components.max(1) as u64,
        database_bytes: after,
        forecasts,
    })
}
