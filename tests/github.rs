//! The GitHub source and GitHub catalog discovery against the local fake GitHub
//! (`echo_health::fakes::github`, following `../shared/docs/contracts.md` §E): GraphQL batches
//! with partial errors, follow-up pages, REST `Link` pages with ETags kept in DuckDB (a 304 on
//! the next run), the change probe of later runs, rate limits (waiting for a reset, a 403
//! secondary limit with `retry-after`, stopping before exhaustion), a 502 that shrinks the
//! page, GitHub App installation tokens, and tokens that never leave the environment.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, Utc};
use echo_health::fakes::github::{ClassicRule, FakeGitHub, Repo, Ruleset};
use serde_json::Value;

const TOKEN: &str = "ghp_fakeTOKEN_must_never_leak_0123456789";

fn org(now: chrono::DateTime<Utc>) -> Vec<Repo> {
    let mut repos = Vec::new();
    // payments: classic protection, CODEOWNERS in docs/, Renovate, 130 merged pull requests
    // in the window (a follow-up page), 130 open alerts (REST pages), a draft release
    let mut p = Repo::new("lumen/payments", now);
    p.classic.push(ClassicRule { pattern: "main".into(), reviews: Some(2), status_checks: true });
    p.classic.push(ClassicRule { pattern: "release/*".into(), reviews: Some(4), status_checks: false });
    p.files.insert("docs/CODEOWNERS".into(), "* @lumen/payments".into());
    p.files.insert("renovate.json".into(), "{}".into());
    p.files.insert(".github/workflows/ci.yml".into(), "on: push".into());
    p.files.insert(".github/workflows/release.yaml".into(), "on: push".into());
    p.files.insert(".github/workflows/README.md".into(), "not a workflow".into());
    p.license = Some("MIT".into());
    p.language = Some("Java".into());
    p.open_prs = vec![now - Duration::days(40), now - Duration::days(2)];
    p.merged = (0..130).map(|i| (now - Duration::hours(10 * i + 5), now - Duration::hours(10 * i))).collect();
    p.merged.extend((0..5).map(|i| (now - Duration::days(200 + i), now - Duration::days(200 + i))));
    p.releases = vec![
        (now - Duration::days(10), now - Duration::days(10), false),
        (now - Duration::days(5), now - Duration::days(5), true),
        (now - Duration::days(200), now - Duration::days(200), false),
    ];
    let mut alerts = vec!["CRITICAL".to_owned(); 10];
    alerts.extend(vec!["HIGH".to_owned(); 20]);
    alerts.extend(vec!["LOW".to_owned(); 100]);
    p.alerts = Some(alerts);
    repos.push(p);
    // tracking: an organisation ruleset on the default branch; alerts the token may not read
    let mut t = Repo::new("lumen/tracking", now);
    t.rulesets.push(Ruleset {
        name: "org-default".into(),
        id: 11,
        enforcement: "ACTIVE".into(),
        include: vec!["~DEFAULT_BRANCH".into()],
        rules: vec!["PULL_REQUEST".into(), "REQUIRED_STATUS_CHECKS".into()],
        reviews: 1,
        ..Default::default()
    });
    t.alerts = None;
    t.pushed_at = now - Duration::days(100);
    repos.push(t);
    // empty: no default branch, no files
    let mut e = Repo::new("lumen/empty", now);
    e.default_branch = None;
    repos.push(e);
    let mut a = Repo::new("lumen/archive", now);
    a.archived = true;
    a.alerts = Some(vec!["HIGH".into(), "MODERATE".into()]);
    repos.push(a);
    // six rulesets: more than a GraphQL page shows, the effective rules come from REST
    let mut m = Repo::new("lumen/many-rulesets", now);
    for i in 0..6 {
        m.rulesets.push(Ruleset {
            name: format!("rs-{i}"),
            id: 100 + i,
            enforcement: "ACTIVE".into(),
            include: vec!["~ALL".into()],
            rules: if i == 5 { vec!["PULL_REQUEST".into()] } else { vec!["DELETION".into()] },
            reviews: 3,
            ..Default::default()
        });
    }
    repos.push(m);
    for i in 0..3 {
        repos.push(Repo::new(&format!("lumen/unowned-{i}"), now));
    }
    for i in 0..150 {
        repos.push(Repo::new(&format!("lumen/filler-{i:03}"), now));
    }
    repos.push(Repo::new("other-org/outside-repo", now));
    repos
}

fn pipeline(dir: &Path, fake: &FakeGitHub, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    let comp = |name: &str, ann: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  annotations:\n    {ann}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n")
    };
    let mut cat = String::new();
    for n in ["payments", "tracking", "empty", "archive", "many-rulesets"] {
        cat += &comp(n, &format!("github.com/project-slug: lumen/{n}"));
    }
    cat += &comp("payments-api", "github.com/project-slug: Lumen/Payments");
    cat += &comp("outside", "backstage.io/source-location: url:https://github.com/other-org/outside-repo/tree/main/");
    cat += &comp("ghost", "github.com/project-slug: lumen/ghost");
    cat += &comp("bad-slug", "github.com/project-slug: not a slug");
    for i in 0..150 {
        cat += &comp(&format!("filler-{i:03}"), &format!("github.com/project-slug: lumen/filler-{i:03}"));
    }
    cat += "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n";
    std::fs::write(dir.join("catalog/catalog-info.yaml"), cat).unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "name: gh\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: github\n    api_url: {}\n    web_host: github.com\n    token_env: ECHO_HEALTH_TEST_GH_TOKEN\n    organizations: [lumen]\n{extra}tolerances:\n  max_fact_errors: 10\n",
            fake.url()
        ),
    )
    .unwrap();
    p
}

/// A run stored, graded and published even when nothing changed (`--full`): the tests read
/// its facts.
fn run(p: &Path) -> (i32, Value, String) {
    run_with(p, &["--full"])
}

fn run_with(p: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = common::bin()
        .args(["run", p.to_str().unwrap(), "--format", "json"])
        .args(extra)
        .env("ECHO_HEALTH_TEST_GH_TOKEN", TOKEN)
        // every crate at trace level (octocrab, hyper, reqwest): the token is in no log line
        .env("ECHO_HEALTH_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token leaked into the output");
    let v = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

type Row = (String, String, Option<f64>, Option<bool>, Option<String>, String);

fn facts(db: &Path, run: &str) -> Vec<Row> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut st = conn
        .prepare(
            "select entity_ref, fact, value_num, value_bool, value_text, observed_at::varchar from facts where run_id = ? order by 1, 2",
        )
        .unwrap();
    st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))).unwrap().map(Result::unwrap).collect()
}

fn get<'a>(f: &'a [Row], e: &str, fact: &str) -> Option<&'a Row> {
    f.iter().find(|x| x.0 == format!("component:default/{e}") && x.1 == fact)
}

fn stats(v: &Value) -> Value {
    v["sources"][0]["stats"].clone()
}

#[test]
fn repositories_become_facts_and_later_runs_read_only_what_changed() {
    echo_health::sources::prometheus::install_tls();
    let now = Utc::now();
    let fake = FakeGitHub::start("lumen", Some(TOKEN), org(now));
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), &fake, "");
    let db = tmp.path().join(".echo-health/gh.duckdb");

    // ---- first run: everything is read
    let (code, v, stderr) = run(&p);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["status"], "partial", "the ghost repository and the bad slug are errors: {v}");
    let c = fake.counts();
    // 159 organisation repositories in 2 pages, the outside repository by alias, one
    // follow-up page of merged pull requests
    assert_eq!(c.operations.get("OrgRepositories"), Some(&2), "{c:?}");
    assert_eq!(c.operations.get("Repositories"), Some(&1), "{c:?}");
    assert_eq!(c.operations.get("MoreOfRepository"), Some(&1), "{c:?}");
    // REST only where GraphQL stops: two pages of alerts, one effective-rules read
    assert_eq!(c.rest, 3, "{c:?}");
    let s = stats(&v);
    assert_eq!(s["graphql_requests"], 4, "{s}");
    assert_eq!(s["rest_requests"], 3, "{s}");
    assert_eq!(s["graphql_points"].as_u64(), Some(c.points), "points read back from rateLimit: {s}");
    // 11 connections per repository: 100 repositories cost 11 points, the 59 of page two 6
    assert!(c.points >= 17, "{c:?}");
    let run1 = v["run_id"].as_str().unwrap().to_owned();
    let f = facts(&db, &run1);
    let num = |e: &str, fact: &str| get(&f, e, fact).and_then(|r| r.2);
    let boolean = |e: &str, fact: &str| get(&f, e, fact).and_then(|r| r.3);
    let text = |e: &str, fact: &str| get(&f, e, fact).and_then(|r| r.4.clone());

    for c in ["payments", "payments-api"] {
        assert_eq!(boolean(c, "github.default_branch_protected"), Some(true), "{c}");
        assert_eq!(num(c, "github.required_reviews"), Some(2.0), "the release/* rule does not cover main");
        assert_eq!(boolean(c, "github.required_status_checks"), Some(true));
        assert_eq!(boolean(c, "github.codeowners_present"), Some(true), "docs/CODEOWNERS counts");
        assert_eq!(boolean(c, "github.dependency_updates_configured"), Some(true), "renovate.json counts");
        assert_eq!(num(c, "github.workflows_count"), Some(2.0), "README.md in the folder is not a workflow");
        assert_eq!(num(c, "github.open_pull_requests"), Some(2.0));
        assert_eq!(num(c, "github.oldest_open_pull_request_days"), Some(40.0));
        assert_eq!(num(c, "github.merged_pull_requests_90d"), Some(130.0), "the second page was read");
        assert_eq!(num(c, "github.releases_90d"), Some(1.0), "drafts and old releases do not count");
        assert_eq!(num(c, "github.vulnerability_alerts_critical"), Some(10.0));
        assert_eq!(num(c, "github.vulnerability_alerts_high"), Some(20.0));
        assert_eq!(num(c, "github.vulnerability_alerts_low"), Some(100.0), "130 alerts: both REST pages");
        assert_eq!(text(c, "github.license").as_deref(), Some("MIT"));
        assert_eq!(text(c, "github.primary_language").as_deref(), Some("Java"));
        assert_eq!(num(c, "github.days_since_push"), Some(3.0));
    }
    assert_eq!(boolean("tracking", "github.default_branch_protected"), Some(true), "the ruleset covers ~DEFAULT_BRANCH");
    assert_eq!(num("tracking", "github.required_reviews"), Some(1.0));
    assert_eq!(boolean("tracking", "github.required_status_checks"), Some(true));
    assert_eq!(num("tracking", "github.vulnerability_alerts_critical"), None, "FORBIDDEN alerts are unknown, not zero");
    assert_eq!(boolean("tracking", "github.codeowners_present"), Some(false));
    assert_eq!(num("tracking", "github.days_since_push"), Some(100.0));
    assert_eq!(num("many-rulesets", "github.required_reviews"), Some(3.0), "effective rules from REST");
    assert_eq!(num("empty", "github.workflows_count"), Some(0.0));
    assert_eq!(boolean("empty", "github.default_branch_protected"), None, "no default branch: unknown");
    assert_eq!(boolean("archive", "github.archived"), Some(true));
    assert_eq!(num("archive", "github.vulnerability_alerts_medium"), Some(1.0), "MODERATE is medium");
    assert_eq!(text("outside", "github.visibility").as_deref(), Some("private"), "source-location on github.com maps too");
    assert!(get(&f, "ghost", "github.archived").is_none());
    // errors name the component and the repository; a partial GraphQL error is summarised
    let conn = duckdb::Connection::open(&db).unwrap();
    let errors: Vec<(String, String, Option<String>)> = conn
        .prepare("select kind, message, entity_ref from errors where run_id = ? and stage = 'facts' order by 1, 2")
        .unwrap()
        .query_map([&run1], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let has = |kind: &str, needle: &str| errors.iter().any(|e| e.0 == kind && e.1.contains(needle));
    assert!(has("query-failed", "component:default/ghost names repository lumen/ghost"), "{errors:?}");
    assert!(has("bad-record", "\"not a slug\" is not owner/repository"), "{errors:?}");
    assert!(has("source-warning", "FORBIDDEN on vulnerabilityAlerts for 1 repositories (lumen/tracking)"), "{errors:?}");
    assert!(has("unmatched", "3 repositories belong to no catalog component: lumen/unowned-0"), "{errors:?}");
    drop(conn);

    // ---- second run, nothing changed: one probe request, no REST, same facts
    fake.reset_counts();
    let (code, v, stderr) = run(&p);
    assert_eq!(code, 0, "{stderr}");
    let c = fake.counts();
    assert_eq!(c.rest, 0, "{c:?}");
    assert_eq!(c.operations.get("ChangedRepositories"), Some(&1), "the change probe: {c:?}");
    // the repository outside the organisation and the missing one are asked for each run
    assert_eq!(c.operations.get("Repositories"), Some(&1), "{c:?}");
    assert_eq!(c.graphql, 2, "{c:?}");
    assert!(c.points <= 2, "{c:?}");
    assert_eq!(stats(&v)["repositories_reused"], 155, "{}", stats(&v));
    let run2 = v["run_id"].as_str().unwrap().to_owned();
    let f2 = facts(&db, &run2);
    let strip = |f: &[Row]| f.iter().map(|r| (r.0.clone(), r.1.clone(), r.2, r.3, r.4.clone())).collect::<Vec<_>>();
    assert_eq!(strip(&f2), strip(&f), "reused snapshots give the same facts");
    assert_eq!(get(&f2, "payments", "github.archived").unwrap().5, get(&f, "payments", "github.archived").unwrap().5, "observed when read");
    // without --full such a run is recorded as unchanged: nothing stored, the probe only
    fake.reset_counts();
    let (code, v, stderr) = run_with(&p, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((v["status"].as_str(), v["same_as"].as_str()), (Some("unchanged"), Some(run2.as_str())), "{v}");
    assert_eq!(fake.counts().graphql, 2);

    // ---- a push to payments: it alone is read again; its unchanged alert pages are 304s
    fake.state.lock().unwrap().repos.iter_mut().find(|r| r.name == "lumen/payments").unwrap().pushed_at = Utc::now();
    fake.reset_counts();
    let (code, v, stderr) = run(&p);
    assert_eq!(code, 0, "{stderr}");
    let c = fake.counts();
    assert_eq!(c.operations.get("ChangedRepositories"), Some(&1), "{c:?}");
    // payments and the outside repository (no probe vouches for it), one follow-up page
    assert_eq!(c.operations.get("Repositories"), Some(&1), "{c:?}");
    assert_eq!(c.operations.get("MoreOfRepository"), Some(&1), "{c:?}");
    assert_eq!((c.rest, c.not_modified, c.rest_points), (2, 2, 0), "both alert pages answered 304 from the stored ETags: {c:?}");
    let s = stats(&v);
    assert_eq!(s["not_modified"], 2, "{s}");
    let f3 = facts(&db, v["run_id"].as_str().unwrap());
    assert_eq!(get(&f3, "payments", "github.vulnerability_alerts_low").and_then(|r| r.2), Some(100.0), "a 304 serves the stored body");
    assert_eq!(get(&f3, "payments", "github.days_since_push").and_then(|r| r.2), Some(0.0));

    // the token is nowhere in the database or the outputs
    let mut leaked = Vec::new();
    for entry in walkdir::WalkDir::new(tmp.path()).into_iter().flatten().filter(|e| e.file_type().is_file()) {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()) {
            leaked.push(entry.path().display().to_string());
        }
    }
    assert!(leaked.is_empty(), "the token was written to {leaked:?}");
    let conn = duckdb::Connection::open(&db).unwrap();
    let tagged: i64 = conn
        .query_row("select count(*) from source_cache where etag is not null and key like 'GET /repos/lumen/payments/%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tagged, 2, "the ETags of both alert pages are kept in DuckDB");
}

fn config(fake: &FakeGitHub, max_wait: u64) -> echo_health::sources::github::Config {
    let mut c = echo_health::fakes::github::source_config(fake, "lumen");
    c.api.timeout_secs = 10;
    c.api.min_remaining = 5;
    c.api.max_wait_secs = max_wait;
    c.api.secondary_wait_secs = 1;
    c
}

fn components(names: &[&str]) -> Vec<echo_health::sources::prometheus::Component> {
    names
        .iter()
        .map(|n| echo_health::sources::prometheus::Component {
            entity_ref: format!("component:default/{n}"),
            name: n.to_string(),
            annotations: [("github.com/project-slug".to_owned(), format!("lumen/{n}"))].into_iter().collect(),
        })
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    echo_health::sources::prometheus::install_tls();
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn rate_limits_are_waited_for_retried_and_never_exhausted() {
    let now = Utc::now();
    let fake = FakeGitHub::start("lumen", None, org(now));
    let rt = rt();
    // a low GraphQL budget that resets in 2 s: the source waits for it instead of spending it
    {
        let mut st = fake.state.lock().unwrap();
        st.graphql_remaining = 30;
        st.reset_at = Utc::now().timestamp() + 2;
        st.secondary_limit = Some(1);
    }
    let cfg = config(&fake, 10);
    let out = rt.block_on(echo_health::sources::github::collect(&cfg, &components(&["payments", "tracking"]), Vec::new(), now));
    assert!(out.errors.iter().all(|e| e.kind != echo_health::sources::SourceErrorKind::Unavailable), "{:?}", out.errors);
    assert!(
        out.facts.iter().any(|f| f.entity_ref.ends_with("/payments") && f.fact == "github.vulnerability_alerts_low"),
        "the REST pages after the 403 were read"
    );
    let s = &out.stats;
    assert!(s["waited_secs"].as_f64().unwrap() >= 1.0, "waited for the reset and the retry-after: {s:?}");
    assert_eq!(s["rate_limited"], 1, "the 403 secondary limit: {s:?}");
    assert!(fake.state.lock().unwrap().graphql_remaining > 0);

    // an exhausted budget that resets in an hour, beyond max_wait_secs: stop and say so
    let fake = FakeGitHub::start("lumen", None, org(now));
    {
        let mut st = fake.state.lock().unwrap();
        st.graphql_remaining = 2;
        st.reset_at = Utc::now().timestamp() + 3600;
    }
    let t0 = std::time::Instant::now();
    let out = rt.block_on(echo_health::sources::github::collect(&config(&fake, 10), &components(&["payments"]), Vec::new(), now));
    assert!(t0.elapsed().as_secs() < 8, "does not sit out the hour");
    assert!(out.unavailable, "{:?}", out.errors);
    assert!(out.facts.is_empty());
    let msg = out.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("\n");
    assert!(msg.contains("rate limit"), "{msg}");
}

#[test]
fn a_graphql_timeout_asks_for_smaller_pages() {
    let now = Utc::now();
    let fake = FakeGitHub::start("lumen", None, org(now));
    fake.state.lock().unwrap().fail_graphql = vec![502];
    let out =
        rt().block_on(echo_health::sources::github::collect(&config(&fake, 10), &components(&["payments", "filler-149"]), Vec::new(), now));
    assert!(out.facts.iter().any(|f| f.entity_ref.ends_with("/filler-149")), "{:?}", out.errors);
    // 1 answer 502, then 159 repositories in pages of 50
    let c = fake.counts();
    assert_eq!((c.graphql, c.operations.get("OrgRepositories")), (6, Some(&4)), "and the follow-up page of payments: {c:?}");
}

#[test]
fn a_github_app_authenticates_with_an_installation_token() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("app.pem");
    let made = std::process::Command::new("openssl").args(["genrsa", "-out", key.to_str().unwrap(), "2048"]).output();
    if !made.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("\n!!! SKIPPED a_github_app_authenticates_with_an_installation_token: `openssl` could not make a test key !!!\n");
        return;
    }
    let now = Utc::now();
    let fake = FakeGitHub::start("lumen", Some("no-personal-token-here"), org(now));
    fake.state.lock().unwrap().app_id = Some(4242);
    let mut cfg = config(&fake, 10);
    cfg.api.app_id_env = Some("ECHO_HEALTH_TEST_APP_ID".into());
    cfg.api.app_installation_id_env = Some("ECHO_HEALTH_TEST_APP_INSTALLATION".into());
    cfg.api.app_private_key_env = Some("ECHO_HEALTH_TEST_APP_KEY".into());
    std::env::set_var("ECHO_HEALTH_TEST_APP_ID", "4242");
    std::env::set_var("ECHO_HEALTH_TEST_APP_INSTALLATION", "77");
    std::env::set_var("ECHO_HEALTH_TEST_APP_KEY", &key);
    let out = rt().block_on(echo_health::sources::github::collect(&cfg, &components(&["payments"]), Vec::new(), now));
    let c = fake.counts();
    assert_eq!(c.unauthorized, 0, "{:?}", out.errors);
    assert_eq!(c.token_requests, 1, "one installation token for the whole collection");
    assert!(out.facts.iter().any(|f| f.fact == "github.default_branch_protected"));
}

#[test]
fn catalog_discovery_reads_descriptors_of_every_repository() {
    echo_health::sources::prometheus::install_tls();
    let now = Utc::now();
    let mut repos = Vec::new();
    let mut a = Repo::new("lumen/payments", now);
    a.files.insert(
        "catalog-info.yaml".into(),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n  annotations:\n    github.com/project-slug: lumen/payments\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n".into(),
    );
    repos.push(a);
    let mut b = Repo::new("lumen/broken", now);
    b.files.insert("catalog-info.yaml".into(), "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [oops\n".into());
    repos.push(b);
    let mut c = Repo::new("lumen/invalid", now);
    c.files.insert("catalog-info.yaml".into(), "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: -bad-\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n".into());
    repos.push(c);
    let mut d = Repo::new("lumen/old", now);
    d.archived = true;
    d.files.insert("catalog-info.yaml".into(), "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: old\nspec:\n  type: service\n  lifecycle: deprecated\n  owner: team-a\n".into());
    repos.push(d);
    repos.push(Repo::new("lumen/no-descriptor", now));
    let fake = FakeGitHub::start("lumen", Some(TOKEN), repos);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "name: disc\ncatalog:\n  - type: github\n    api_url: {url}\n    web_host: github.com\n    token_env: ECHO_HEALTH_TEST_GH_TOKEN\n    organizations: [lumen]\nfacts:\n  - type: github\n    api_url: {url}\n    web_host: github.com\n    token_env: ECHO_HEALTH_TEST_GH_TOKEN\n    organizations: [lumen]\ntolerances:\n  max_rejected_descriptors: 5\n",
            url = fake.url()
        ),
    )
    .unwrap();
    let (code, v, stderr) = run(&p);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["entities"], 2, "payments and team-a; the archived repository is left out: {v}");
    assert!(stderr.contains("https://github.com/lumen/broken/blob/HEAD/catalog-info.yaml:"), "{stderr}");
    assert!(stderr.contains("https://github.com/lumen/invalid/blob/HEAD/catalog-info.yaml:"), "{stderr}");
    let db = tmp.path().join(".echo-health/disc.duckdb");
    let f = facts(&db, v["run_id"].as_str().unwrap());
    assert!(get(&f, "payments", "github.default_branch_protected").is_some(), "discovered components get GitHub facts");
    let conn = duckdb::Connection::open(&db).unwrap();
    let origin: String =
        conn.query_row("select source_file from entities where entity_ref = 'component:default/payments'", [], |r| r.get(0)).unwrap();
    assert_eq!(origin, "https://github.com/lumen/payments/blob/HEAD/catalog-info.yaml");

    // GitHub unreachable: the run is recorded as failed, naming the source
    let p2 = tmp.path().join("p2.yaml");
    std::fs::write(
        &p2,
        std::fs::read_to_string(&p).unwrap().replace(&fake.url(), "http://127.0.0.1:9").replace("name: disc", "name: disc2"),
    )
    .unwrap();
    let (code, _v, stderr) = run(&p2);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("catalog source could not be read") && stderr.contains("organization lumen"), "{stderr}");
}

#[test]
fn rest_shapes_from_the_recorded_fixtures_are_read() {
    let Some(shared) = common::shared_dir("rest_shapes_from_the_recorded_fixtures_are_read") else { return };
    let dir = shared.join("fixtures/github");
    let alerts: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("openapi-examples/dependabot-alerts.200.dependabot-alerts-for-repository.json")).unwrap(),
    )
    .unwrap();
    let counts = echo_health::sources::github::snapshot::count_alerts(&[alerts.clone()]);
    let expected: usize = alerts.as_array().unwrap().len();
    assert_eq!(counts.values().sum::<u64>() as usize, expected);
    for a in alerts.as_array().unwrap() {
        let sev = a["security_vulnerability"]["severity"].as_str().unwrap();
        assert!(counts.contains_key(sev), "{sev} in {counts:?}");
    }
    // effective rules: the recorded shape merges into protection
    let rules: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("openapi-examples/rules-for-branch.200.repository-rule-items.json")).unwrap(),
    )
    .unwrap();
    let mut snap = echo_health::sources::github::snapshot::Snapshot::default();
    echo_health::sources::github::snapshot::apply_rest_rules(&mut snap, &rules);
    let p = snap.protection.unwrap();
    assert!(p.protected && p.via.iter().any(|v| v.contains("42")), "{p:?}");
    // the recorded pagination: every page's `rel="next"` link leads to the next recorded request
    let pages: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recorded/paginate-issues.normalized-fixture.json")).unwrap()).unwrap();
    let pages = pages.as_array().unwrap();
    let mut followed = 0;
    for (i, p) in pages.iter().enumerate() {
        let link = p["headers"]["link"].as_str().or_else(|| p["headers"]["Link"].as_str());
        if let Some(next) = link.and_then(echo_health::sources::github::client::link_next) {
            let next_path = url::Url::parse(&next).unwrap();
            let want = format!("{}?{}", next_path.path(), next_path.query().unwrap_or(""));
            assert_eq!(pages[i + 1]["path"].as_str().unwrap(), want, "page {i}");
            followed += 1;
        }
    }
    assert!(followed >= 3, "the recorded scenario has several next links");
    let _ = Arc::new(());
}

#[test]
fn github_sections_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: gh\ncatalog:\n  - type: github\n    paths: [../etc/passwd, 'a\"b']\nfacts:\n  - type: github\n    api_url: ftp://x\n    token_env: ghp_inline_token\n    app_id_env: APP_ID\n    page_size: 500\n    retries: 3\n",
    )
    .unwrap();
    let out = common::bin().args(["validate", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for want in [
        "organizations must name at least one",
        "\"../etc/passwd\" is not a relative file path",
        "\"a\\\"b\" is not a relative file path",
        "api_url must be an http(s) URL",
        "\"ghp_inline_token\" is not the name of an environment variable",
        "app_id_env, app_installation_id_env and app_private_key_env together",
        "page_size 500",
        "retries",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}
