//! Grading end to end through the binary: every default check has pass and fail cases (and
//! unknown where a fact can be missing), unknown never counts as fail, exemptions never lower
//! a level, regrading an unchanged run reproduces it, runtime SQL errors become `error`
//! outcomes, bad packs and exemptions are reported with file:line, gates exit 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_echo-health"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: dom-a}
spec: {owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: sys-a}
spec: {owner: team-a, domain: dom-a}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: sys-lonely}
spec: {owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: good
  description: Does everything right
  tags: [java]
  annotations:
    github.com/project-slug: acme/good
    backstage.io/techdocs-ref: dir:.
    pagerduty.com/service-id: P123
    codescene.io/project-id: "7"
  links:
    - url: https://wiki.example.com/good/runbook
      title: Runbook
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: sys-a
  providesApis: [good-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: bad
  description: "   "
  annotations:
    github.com/project-slug: acme/bad
    codescene.io/project-id: "8"
  links:
    - url: https://example.com/home
      title: Home
spec:
  type: service
  lifecycle: beta
  owner: user:nobody
  system: sys-lonely
  dependsOn: [component:old, component:ghost]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: bad-prod
  description: In production, badly
  annotations:
    github.com/project-slug: acme/bad-prod
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: sys-missing
  dependsOn: [component:old]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: bare
  description: Nothing else known
spec:
  type: library
  lifecycle: experimental
  owner: team-a
  system: sys-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: no-facts
  description: Catalog is fine, no signal has run
  tags: [go]
  annotations:
    github.com/project-slug: acme/no-facts
    backstage.io/techdocs-ref: dir:.
    codescene.io/project-id: "9"
    pagerduty.com/service-id: P999
  links: [{url: "https://runbooks.example.com/no-facts", title: Runbook}]
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: sys-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: old, description: The old one}
spec: {type: service, lifecycle: deprecated, owner: team-a, system: sys-a}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: good-api}
spec: {type: openapi, lifecycle: production, owner: team-a, system: sys-a, definition: "openapi: 3.0.0"}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: empty-api}
spec: {type: openapi, lifecycle: production, owner: team-a, system: sys-a, definition: "  "}
"#;

fn facts() -> String {
    let good = [
        ("github.default_branch_protected", "true"),
        ("github.codeowners_present", "true"),
        ("github.workflows_count", "3"),
        ("github.dependency_updates_configured", "true"),
        ("github.required_reviews", "1"),
        ("github.vulnerability_alerts_critical", "0"),
        ("github.days_since_push", "3"),
        ("prometheus.availability_30d", "0.9995"),
        ("prometheus.error_ratio_7d", "0.001"),
        ("zoekt.log4j_refs", "0"),
        ("codescene.hotspot_code_health", "9.1"),
        ("codescene.code_health", "9.4"),
    ];
    let bad = [
        ("github.default_branch_protected", "false"),
        ("github.codeowners_present", "false"),
        ("github.workflows_count", "0"),
        ("github.dependency_updates_configured", "false"),
        ("github.required_reviews", "0"),
        ("github.vulnerability_alerts_critical", "2"),
        ("github.days_since_push", "400"),
        ("prometheus.availability_30d", "0.97"),
        ("prometheus.error_ratio_7d", "0.05"),
        ("zoekt.log4j_refs", "12"),
        ("codescene.hotspot_code_health", "4.2"),
        ("codescene.code_health", "6.0"),
    ];
    let mut out = String::new();
    for (entity, set) in [("good", &good), ("bad", &bad), ("bad-prod", &bad)] {
        for (f, v) in set.iter() {
            out.push_str(&format!("{{\"entity\": \"component:default/{entity}\", \"fact\": \"{f}\", \"value\": {v}}}\n"));
        }
    }
    out
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn fixture(extra_pipeline: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::create_dir_all(dir.join("facts")).unwrap();
    std::fs::write(dir.join("catalog/all.yaml"), CATALOG).unwrap();
    std::fs::write(dir.join("facts/signals.ndjson"), facts()).unwrap();
    let packs = repo().join("pipelines/checks/default");
    std::fs::write(
        dir.join("p.yaml"),
        format!(
            "name: t\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: files\n    paths: [facts]\ntolerances:\n  max_reference_errors: 10\ngrading:\n  checks: [{}, {}]\n{extra_pipeline}",
            packs.join("catalog.yaml").display(),
            packs.join("signals.yaml").display()
        ),
    )
    .unwrap();
    Fixture { _tmp: tmp, dir }
}

fn run(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = bin().args(args).current_dir(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let last = stdout.lines().last().unwrap_or("null").to_owned();
    (out.status.code().unwrap_or(-1), serde_json::from_str(&last).unwrap_or(Value::Null), String::from_utf8_lossy(&out.stderr).to_string())
}

fn db(dir: &Path) -> duckdb::Connection {
    duckdb::Connection::open(dir.join(".echo-health/t.duckdb")).unwrap()
}

fn outcomes(conn: &duckdb::Connection, grading: &str) -> BTreeMap<(String, String), String> {
    let mut st = conn
        .prepare("select check_id, replace(entity_ref, 'component:default/', ''), outcome from check_results where grading_id = ?")
        .unwrap();
    st.query_map([grading], |r| Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn every_default_check_passes_fails_and_is_unknown_when_its_facts_are_missing() {
    let f = fixture("");
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let grading = summary["grading_id"].as_str().unwrap().to_owned();
    let conn = db(&f.dir);
    let got = outcomes(&conn, &grading);
    let pack_ids: Vec<String> = {
        let mut st =
            conn.prepare("select unnest(from_json(checks, '[{\"id\": \"VARCHAR\"}]')).id from gradings where grading_id = ?").unwrap();
        st.query_map([&grading], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(pack_ids.len() >= 25, "the default pack has ~25 checks, got {}", pack_ids.len());
    // (check, passing entity, failing entity, entity where it is unknown)
    let table: &[(&str, &str, &str, Option<&str>)] = &[
        ("owner_is_a_group", "good", "bad", None),
        ("owner_exists", "good", "bad", None),
        ("has_description", "good", "bad", None),
        ("lifecycle_is_known", "good", "bad", None),
        ("part_of_a_system", "good", "bad-prod", None),
        ("source_linked", "good", "bare", None),
        ("api_has_definition", "api:default/good-api", "api:default/empty-api", None),
        ("no_dangling_refs", "good", "bad", None),
        ("system_in_a_domain", "good", "bad", None),
        ("has_tags", "good", "bad", None),
        ("has_docs_or_runbook_link", "good", "bad", None),
        ("no_deprecated_dependencies", "good", "bad-prod", None),
        ("oncall_configured", "good", "bad-prod", None),
        ("has_techdocs", "good", "bad", None),
        ("github_branch_protected", "good", "bad", Some("no-facts")),
        ("github_codeowners", "good", "bad", Some("no-facts")),
        ("github_ci_workflows", "good", "bad", Some("no-facts")),
        ("github_dependency_updates", "good", "bad", Some("no-facts")),
        ("github_required_reviews", "good", "bad", Some("no-facts")),
        ("github_no_critical_vulnerabilities", "good", "bad", Some("no-facts")),
        ("github_recently_changed", "good", "bad-prod", Some("no-facts")),
        ("prometheus_availability", "good", "bad-prod", Some("no-facts")),
        ("prometheus_error_ratio", "good", "bad-prod", Some("no-facts")),
        ("no_log4j_1", "good", "bad", Some("no-facts")),
        ("codescene_hotspot_health", "good", "bad", Some("no-facts")),
        ("codescene_code_health", "good", "bad", Some("no-facts")),
    ];
    assert_eq!(table.len(), pack_ids.len(), "every default check is in the table");
    for (check, pass, fail, unknown) in table {
        assert!(pack_ids.iter().any(|x| x == check), "{check} not in the pack");
        for (entity, want) in [(pass, "pass"), (fail, "fail")].into_iter().chain(unknown.iter().map(|u| (u, "unknown"))) {
            let key = (check.to_string(), entity.to_string());
            assert_eq!(got.get(&key).map(String::as_str), Some(want), "{check} on {entity}");
        }
    }
    // unknown names the missing facts and never counts as a failure
    let (missing, failed, unknown, score, coverage, level): (String, i64, i64, f64, f64, Option<String>) = conn
        .query_row(
            "select array_to_string(r.missing_facts, ','), g.failed, g.unknown, g.score, g.coverage, g.level from check_results r join grades g using (grading_id, entity_ref)
             where r.grading_id = ? and r.entity_ref = 'component:default/no-facts' and r.check_id = 'github_branch_protected'",
            [&grading],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(missing, "github.default_branch_protected");
    assert_eq!(failed, 0, "unknown is not fail");
    assert!(unknown >= 10);
    assert_eq!(score, 1.0, "score counts known outcomes only");
    assert!(coverage < 1.0, "coverage shows what is unknown");
    assert_eq!(level.as_deref(), Some("bronze"), "unknown blocks silver");
    // evidence names value, source and time of every fact read
    let (value, source, at): (f64, String, String) = conn
        .query_row(
            "select value_num, source, observed_at::varchar from check_evidence where grading_id = ? and entity_ref = 'component:default/bad' and check_id = 'codescene_code_health' and fact = 'codescene.code_health'",
            [&grading],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(value, 6.0);
    assert!(source.starts_with("file:"), "{source}");
    assert!(at.starts_with("20"), "{at}");
    // not_applicable results are not stored: the API is not graded on component checks
    let na: i64 = conn.query_row("select count(*) from check_results where grading_id = ? and (outcome = 'not_applicable' or (entity_ref like 'api:%' and check_id = 'has_tags'))", [&grading], |r| r.get(0)).unwrap();
    assert_eq!(na, 0);
    // invariants over every graded entity: failed counts fail outcomes only (never unknown);
    // no fail, unknown or error at or below the level held; the next level is really blocked
    for (what, sql) in [
        ("failed counts only fail", "select count(*) from grades g where g.grading_id = ?1 and g.failed <> (select count(*) from check_results r where r.grading_id = g.grading_id and r.entity_ref = g.entity_ref and r.outcome = 'fail')"),
        ("unknown counts unknown and error", "select count(*) from grades g where g.grading_id = ?1 and g.unknown <> (select count(*) from check_results r where r.grading_id = g.grading_id and r.entity_ref = g.entity_ref and r.outcome in ('unknown', 'error'))"),
        ("the level above is blocked", "select count(*) from grades g where g.grading_id = ?1 and g.next_level is not null and not exists (select 1 from next_level_checks n where n.grading_id = g.grading_id and n.entity_ref = g.entity_ref)"),
    ] {
        let n: i64 = conn.query_row(sql, [&grading], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "{what}");
    }
    let ladder = ["bronze", "silver", "gold"];
    let checks_json: String =
        conn.query_row("select checks::varchar from gradings where grading_id = ?", [&grading], |r| r.get(0)).unwrap();
    let level_of: BTreeMap<String, String> = serde_json::from_str::<Vec<Value>>(&checks_json)
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["level"].as_str().unwrap().to_owned()))
        .collect();
    let mut st = conn.prepare("select r.entity_ref, r.check_id, r.outcome, g.level_index from check_results r join grades g using (grading_id, entity_ref) where r.grading_id = ?").unwrap();
    let rows: Vec<(String, String, String, i64)> =
        st.query_map([&grading], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    for (e, check, outcome, held) in rows {
        let level = &level_of[&check];
        let idx = ladder.iter().position(|l| *l == level).unwrap() as i64;
        if idx <= held {
            assert!(matches!(outcome.as_str(), "pass" | "exempt"), "{e} holds level {held} but {level} check is {outcome}");
        }
    }
    // summary and levels
    assert_eq!(
        summary["levels"]["none"].as_u64().unwrap()
            + summary["levels"]["bronze"].as_u64().unwrap()
            + summary["levels"]["silver"].as_u64().unwrap()
            + summary["levels"]["gold"].as_u64().unwrap(),
        6
    );
    let good_level: String = conn
        .query_row("select level from grades where grading_id = ? and entity_ref = 'component:default/good'", [&grading], |r| r.get(0))
        .unwrap();
    assert_eq!(good_level, "gold");
    // roll-ups: the domain sees its system's components; the team sees what it owns
    let (n, levels): (i64, String) = conn
        .query_row("select entities, levels::varchar from rollups where grading_id = ? and scope = 'domain' and scope_ref = 'domain:default/dom-a'", [&grading], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(n, 4, "good, bare, no-facts, old: {levels}");
    let team: i64 = conn
        .query_row(
            "select entities from rollups where grading_id = ? and scope = 'team' and scope_ref = 'group:default/team-a'",
            [&grading],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(team, 5);
}

#[test]
fn regrade_reproduces_an_unchanged_run_and_exemptions_never_lower_a_level() {
    let f = fixture("  exemptions: [exempt.yaml]\n");
    std::fs::write(f.dir.join("exempt.yaml"), "exemptions: []\n").unwrap();
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let g1 = summary["grading_id"].as_str().unwrap().to_owned();
    let (code, re, stderr) = run(&f.dir, &["regrade", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(re["changes"], 0);
    let g2 = re["grading_id"].as_str().unwrap().to_owned();
    let conn = db(&f.dir);
    let grades = |g: &str| -> Vec<(String, Option<String>, Option<f64>, f64, i64, i64, i64, String)> {
        let mut st = conn
            .prepare("select entity_ref, level, score, coverage, passed, failed, unknown, (select coalesce(string_agg(n.check_id || ':' || n.outcome || ':' || coalesce(array_to_string(n.missing_facts, ','), ''), ' ' order by n.check_id), '') from next_level_checks n where n.grading_id = g.grading_id and n.entity_ref = g.entity_ref) from grades g where grading_id = ? order by entity_ref")
            .unwrap();
        st.query_map([g], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(grades(&g1), grades(&g2), "regrading an unchanged run reproduces its grades");
    assert_eq!(outcomes(&conn, &g1), outcomes(&conn, &g2));
    drop(conn);

    // exempt every failing or unknown check of every component, one at a time: no level drops
    let conn = db(&f.dir);
    let blocking: Vec<(String, String)> = {
        let mut st = conn
            .prepare("select entity_ref, check_id from check_results where grading_id = ? and outcome in ('fail', 'unknown') order by 1, 2")
            .unwrap();
        st.query_map([&g1], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let before: BTreeMap<String, i64> = {
        let mut st = conn.prepare("select entity_ref, level_index from grades where grading_id = ?").unwrap();
        st.query_map([&g1], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    drop(conn);
    assert!(blocking.len() > 20);
    let mut yaml = String::from("exemptions:\n");
    for (i, (e, c)) in blocking.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        yaml.push_str(&format!(
            "  - {{entity: \"{e}\", check: {c}, reason: accepted-risk, approver: cto, justification: test {i}, expires: 2099-01-01}}\n"
        ));
    }
    std::fs::write(f.dir.join("exempt.yaml"), yaml).unwrap();
    let (code, re, stderr) = run(&f.dir, &["regrade", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let g3 = re["grading_id"].as_str().unwrap().to_owned();
    let conn = db(&f.dir);
    let mut st = conn.prepare("select entity_ref, level_index from grades where grading_id = ?").unwrap();
    let after: BTreeMap<String, i64> = st.query_map([&g3], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    for (e, l) in &before {
        assert!(after[e] >= *l, "{e} dropped from {l} to {}", after[e]);
    }
    assert!(after.iter().any(|(e, l)| *l > before[e]), "some exemption raised a level");
    let exempt: i64 =
        conn.query_row("select count(*) from check_results where grading_id = ? and outcome = 'exempt'", [&g3], |r| r.get(0)).unwrap();
    assert_eq!(exempt as usize, blocking.iter().enumerate().filter(|(i, _)| i % 3 == 0).count());
}

#[test]
fn runtime_errors_become_error_outcomes_and_bad_exemptions_name_their_line() {
    let f = fixture("  exemptions: [exempt.yaml]\n");
    let pack = f.dir.join("risky.yaml");
    std::fs::write(
        &pack,
        "checks:\n  - id: ratio_of_reviews\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    applies_to: kind = 'Component' and github.required_reviews is not null\n    pass: 10 // github.required_reviews::integer > 1\n  - id: titled\n    title: t\n    description: d\n    remediation: r\n    level: gold\n    pass: title = 'Good'\n  - id: guarded_ratio\n    title: t\n    description: d\n    remediation: r\n    level: gold\n    applies_to: kind = 'Component' and github.required_reviews > 0\n    pass: 10 // github.required_reviews::integer > 1\n",
    )
    .unwrap();
    let p = std::fs::read_to_string(f.dir.join("p.yaml"))
        .unwrap()
        .replace("grading:\n  checks: [", &format!("grading:\n  checks: [{}, ", pack.display()));
    std::fs::write(f.dir.join("p.yaml"), p).unwrap();
    std::fs::write(
        f.dir.join("exempt.yaml"),
        "exemptions:\n  - entity: component:default/good\n    check: has_techdocs\n    reason: remediated\n    approver: a\n    justification: j\n    expires: 2020-01-01\n  - entity: component:default/nobody\n    check: has_techdocs\n    reason: remediated\n    approver: a\n    justification: j\n    expires: 2099-01-01\n",
    )
    .unwrap();
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["status"], "partial");
    assert!(stderr.contains("check ratio_of_reviews") && stderr.contains("ivision by zero"), "{stderr}");
    assert!(stderr.contains("exempt.yaml:8") && stderr.contains("component:default/nobody"), "{stderr}");
    let conn = db(&f.dir);
    let g = summary["grading_id"].as_str().unwrap();
    let rows: Vec<(String, String)> = {
        let mut st = conn.prepare("select entity_ref, outcome from check_results where grading_id = ? and check_id = 'ratio_of_reviews' and outcome <> 'not_applicable' order by 1").unwrap();
        st.query_map([g], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    // bad and bad-prod require 0 reviews → 10 // 0 errors; good requires 1 → 10 > 1
    assert_eq!(
        rows,
        vec![
            ("component:default/bad".into(), "error".into()),
            ("component:default/bad-prod".into(), "error".into()),
            ("component:default/good".into(), "pass".into())
        ]
    );
    // a NULL from a missing catalog field is unknown, not error (checked in bulk, no row errs)
    let titled: Vec<String> = {
        let mut st = conn.prepare("select distinct outcome from check_results where grading_id = ? and check_id = 'titled'").unwrap();
        st.query_map([g], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(titled, vec!["unknown".to_owned()]);
    // a pass expression is only evaluated where its check applies: no division by zero where
    // applies_to is false (0 reviews) or NULL (reviews unknown)
    assert!(!stderr.contains("guarded_ratio"), "{stderr}");
    let guarded: Vec<(String, String)> = {
        let mut st = conn
            .prepare("select entity_ref, outcome from check_results where grading_id = ? and check_id = 'guarded_ratio' order by 1")
            .unwrap();
        st.query_map([g], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(guarded, vec![("component:default/good".into(), "pass".into())]);
    let statuses: Vec<String> = {
        let mut st = conn.prepare("select status from exemptions where grading_id = ? order by line").unwrap();
        st.query_map([g], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(statuses, vec!["expired", "unknown-entity"]);
}

#[test]
fn bad_packs_are_reported_together_with_file_and_line_before_anything_runs() {
    let f = fixture("");
    let pack = f.dir.join("broken.yaml");
    std::fs::write(
        &pack,
        "checks:\n  - id: a_check\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    pass: true\n  - id: a_check\n    title: t\n    description: d\n    remediation: r\n    level: platinum\n    pass: true\n  - id: Bad-Id\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    pass: \"true; drop table runs\"\n  - id: typo\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    pass: github.default_branch_protectd\n  - id: not_sql\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    pass: lifecycle = = 'x'\n  - id: not_boolean\n    title: t\n    description: d\n    remediation: r\n    level: bronze\n    pass: length(name)\n",
    )
    .unwrap();
    let p = std::fs::read_to_string(f.dir.join("p.yaml"))
        .unwrap()
        .replace("grading:\n  checks: [", &format!("grading:\n  checks: [{}, ", pack.display()));
    std::fs::write(f.dir.join("p.yaml"), p).unwrap();
    let (code, _, stderr) = run(&f.dir, &["run", "p.yaml"]);
    assert_eq!(code, 2);
    for needle in [
        "broken.yaml:8: duplicate check id \"a_check\"",
        "broken.yaml:8: checks[1].level \"platinum\"",
        "broken.yaml:14: checks[2].id \"Bad-Id\"",
        "broken.yaml:19: checks[2].pass: a check is one SQL expression",
        "broken.yaml:25: checks[3].pass: github.default_branch_protectd is not a fact",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    // nothing ran
    assert!(!f.dir.join(".echo-health/t.duckdb").exists());
    // SQL problems are found by preparing the expressions (reported once the pack parses)
    let fixed = std::fs::read_to_string(&pack).unwrap();
    let only_sql: String =
        fixed.split("  - id: a_check").skip(1).take(1).map(|s| format!("checks:\n  - id: a_check{s}")).collect::<String>()
            + &fixed[fixed.find("  - id: not_sql").unwrap()..];
    std::fs::write(&pack, only_sql).unwrap();
    let (code, _, stderr) = run(&f.dir, &["run", "p.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("check not_sql: pass is not valid SQL"), "{stderr}");
    assert!(stderr.contains("check not_boolean: pass must be a boolean expression"), "{stderr}");
}

#[test]
fn a_violated_gate_exits_1_after_storing_everything() {
    let f = fixture("  gates:\n    - name: production reaches silver\n      min_level: silver\n      where: lifecycle = 'production'\n    - name: domain score\n      min_mean_score: 0.5\n      scope: domain:default/dom-a\n");
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["gates_failed"], serde_json::json!(["production reaches silver"]));
    assert!(stderr.contains("gate production reaches silver violated by component:default/bad-prod"), "{stderr}");
    assert!(f.dir.join(".echo-health/t-out/catalog.json").is_file());
    let conn = db(&f.dir);
    let n: i64 = conn.query_row("select count(*) from grades", [], |r| r.get(0)).unwrap();
    assert!(n > 0);
}

#[test]
fn the_demo_grades_its_company_with_a_spread_of_levels_and_plan_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("pipelines/demo.yaml")).unwrap();
    let text = text
        .replace("demo/", &format!("{}/", repo().join("pipelines/demo").display()))
        .replace("checks/default/", &format!("{}/", repo().join("pipelines/checks/default").display()))
        .replace(
            "output: .echo-health/demo-out",
            &format!("output: {}/out\ndatabase: {}/demo.duckdb", tmp.path().display(), tmp.path().display()),
        );
    std::fs::write(tmp.path().join("demo.yaml"), text).unwrap();
    let (code, s, stderr) = run(tmp.path(), &["run", "demo.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let levels = &s["levels"];
    let nonzero = ["bronze", "silver", "gold"].iter().filter(|l| levels[**l].as_u64().unwrap_or(0) > 0).count();
    assert_eq!(nonzero, 3, "a spread of levels: {levels}");
    assert!(s["mean_score"].as_f64().unwrap() > 0.5 && s["mean_coverage"].as_f64().unwrap() > 0.5);
    let before = std::fs::read(tmp.path().join("demo.duckdb")).unwrap().len();
    let out = bin()
        .args([
            "plan",
            "demo.yaml",
            "--checks",
            repo().join("pipelines/checks/default/catalog.yaml").to_str().unwrap(),
            "--checks",
            repo().join("pipelines/checks/default/signals.yaml").to_str().unwrap(),
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("components change level") && text.contains("github_branch_protected: not in pack -> unknown"), "{text}");
    let conn = duckdb::Connection::open(tmp.path().join("demo.duckdb")).unwrap();
    let gradings: i64 = conn.query_row("select count(*) from gradings", [], |r| r.get(0)).unwrap();
    assert_eq!(gradings, 1, "plan wrote nothing");
    let _ = before;
}

#[test]
fn roll_ups_can_be_weighted_by_a_numeric_fact() {
    let f = fixture("  weight_fact: codescene.code_health\n");
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let g = summary["grading_id"].as_str().unwrap();
    let conn = db(&f.dir);
    // team-a's components with a code health fact weigh by it; those without are left out
    let (weighted, expected): (f64, f64) = conn
        .query_row(
            "select r.weighted_mean_score,
                    (select sum(gr.score * f.value_num) / sum(f.value_num) from grades gr
                       join entities e on e.run_id = gr.run_id and e.entity_ref = gr.entity_ref
                       join facts f on f.run_id = gr.run_id and f.entity_ref = gr.entity_ref and f.fact = 'codescene.code_health'
                      where gr.grading_id = r.grading_id and e.kind = 'Component' and e.owner_ref = 'group:default/team-a' and gr.score is not null)
             from rollups r where r.grading_id = ? and r.scope = 'team' and r.scope_ref = 'group:default/team-a'",
            [g],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!((weighted - expected).abs() < 1e-9, "{weighted} vs {expected}");
    let (mean, weighted_dom): (f64, Option<f64>) = conn
        .query_row("select mean_score, weighted_mean_score from rollups where grading_id = ? and scope = 'team'", [g], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(weighted_dom.is_some() && (mean - weighted_dom.unwrap()).abs() > 1e-6, "weighting changes the mean here");
}

#[test]
fn facts_observed_after_the_grading_time_are_reported_not_silently_dropped() {
    let f = fixture("");
    std::fs::write(
        f.dir.join("facts/late.ndjson"),
        "{\"entity\": \"component:default/bare\", \"fact\": \"codescene.code_health\", \"value\": 9, \"observed_at\": \"2099-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let (code, summary, stderr) = run(&f.dir, &["run", "p.yaml", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let conn = db(&f.dir);
    // a warning: not counted among the run's errors
    let (counted, errors): (i64, i64) = conn
        .query_row("select r.errors, (select count(*) from errors where severity = 'error') from runs r", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(counted, errors);
    assert_eq!(summary["errors"], errors);
    let msg: String =
        conn.query_row("select message from errors where kind = 'future-facts' and severity = 'warning'", [], |r| r.get(0)).unwrap();
    assert!(msg.starts_with("1 facts observed after") && msg.contains("codescene.code_health"), "{msg}");
}

/// Property-style: on a generated organisation with random facts (some missing), the
/// grading invariants hold for every entity, and exempting any blocking result never lowers
/// a level.
#[test]
fn invariants_hold_on_a_generated_organisation() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = echo_health::synth::Options { components: 300, teams: 20, domains: 6, seed: 11 };
    let packs = vec![
        repo().join("pipelines/checks/default/catalog.yaml"),
        repo().join("pipelines/checks/default/signals.yaml"),
        repo().join("pipelines/demo/checks.yaml"),
    ];
    let r = echo_health::bench::bench_grade(tmp.path(), &opts, &packs, 1).unwrap();
    assert_eq!(r.components, 300);
    assert!(r.levels.values().filter(|n| **n > 0).count() >= 2, "a spread of levels: {:?}", r.levels);
    let conn = duckdb::Connection::open(tmp.path().join(".echo-health/bench.duckdb")).unwrap();
    let g: String = conn.query_row("select grading_id from gradings order by created_at desc limit 1", [], |r| r.get(0)).unwrap();
    for (what, sql) in [
        ("failed counts only fail", "select count(*) from grades g where g.grading_id = ?1 and g.failed <> (select count(*) from check_results r where r.grading_id = g.grading_id and r.entity_ref = g.entity_ref and r.outcome = 'fail')"),
        ("unknown counts unknown and error", "select count(*) from grades g where g.grading_id = ?1 and g.unknown <> (select count(*) from check_results r where r.grading_id = g.grading_id and r.entity_ref = g.entity_ref and r.outcome in ('unknown', 'error'))"),
        ("nothing blocks at or below the level held", "select count(*) from check_results r join grades g using (grading_id, entity_ref) join grading_checks c on c.grading_id = r.grading_id and c.check_id = r.check_id where r.grading_id = ?1 and r.outcome in ('fail', 'unknown', 'error') and c.level_index <= g.level_index"),
        ("the level above is blocked", "select count(*) from grades g where g.grading_id = ?1 and g.next_level is not null and not exists (select 1 from next_level_checks n where n.grading_id = g.grading_id and n.entity_ref = g.entity_ref)"),
        ("unknown results name their missing facts", "select count(*) from check_results where grading_id = ?1 and outcome = 'unknown' and (missing_facts is null or len(missing_facts) = 0) and check_id not in ('lifecycle_is_known')"),
        ("score only from known outcomes", "select count(*) from grades where grading_id = ?1 and (score < 0 or score > 1 or coverage < 0 or coverage > 1)"),
    ] {
        let n: i64 = conn.query_row(sql, [&g], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "{what}");
    }
    // roll-ups (computed in Rust from the outcome codes) agree with the same roll-ups computed
    // independently in SQL from the stored grades, check results and catalog
    let (run_id, scopes): (String, i64) = conn
        .query_row("select run_id, count(*) from rollups where grading_id = ? group by run_id", [&g], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(scopes > 20, "{scopes} roll-ups");
    let (differ, only_oracle, only_stored): (i64, i64, i64) =
        conn.query_row(ROLLUP_ORACLE, [&g, &run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
    assert_eq!((differ, only_oracle, only_stored), (0, 0, 0), "roll-ups that differ from the SQL oracle");
}

/// Roll-ups of a grading (?1) of a run (?2) computed in SQL from the stored grades (the way
/// echo-health computed them before it did so in Rust), as the oracle of the test above.
const ROLLUP_ORACLE: &str = r#"
with recursive dom_parent as (
    select source_ref as child, target_ref as parent
    from relations
    where run_id = ?2 and type = 'partOf' and source_ref like 'domain:%' and target_ref like 'domain:%'
),
dom_anc(d, anc) as (
    select entity_ref, entity_ref from entities where run_id = ?2 and kind = 'Domain'
    union
    select a.d, p.parent from dom_anc a join dom_parent p on p.child = a.anc
),
g as (
    select gr.*, e.system_ref, e.domain_ref, e.team_chain
    from grades gr
    join entities e on e.run_id = gr.run_id and e.entity_ref = gr.entity_ref
    where gr.grading_id = ?1 and e.kind = 'Component'
),
scoped as (
    select 'domain' as scope, a.anc as scope_ref, g.* from g join dom_anc a on a.d = g.domain_ref
    union all
    select 'system', g.system_ref, g.* from g where g.system_ref is not null
    union all
    select 'team', t.team, g.* from g, unnest(from_json(g.team_chain, '["VARCHAR"]')) as t(team)
),
level_counts as (
    select scope, scope_ref, to_json(map_from_entries(list(struct_pack(key := coalesce(level, 'none'), value := n) order by coalesce(level, 'none')))) as levels
    from (select scope, scope_ref, level, count(*) as n from scoped group by all)
    group by scope, scope_ref
),
failing_counts as (
    select scope, scope_ref, to_json(map_from_entries(list(struct_pack(key := check_id, value := n) order by n desc, check_id))) as failing_checks
    from (
        select s.scope, s.scope_ref, r.check_id, count(*) as n
        from scoped s join check_results r on r.grading_id = ?1 and r.entity_ref = s.entity_ref and r.outcome = 'fail'
        group by all
    )
    group by scope, scope_ref
),
agg as (
    select
        scope,
        scope_ref,
        count(*) as entities,
        avg(score) as mean_score,
        avg(coverage) as mean_coverage,
        to_json(list(entity_ref order by level_index, score nulls first, entity_ref)[1:5]) as worst
    from scoped
    group by scope, scope_ref
),
oracle as (
    select a.scope, a.scope_ref, a.entities, l.levels, a.mean_score, a.mean_coverage, coalesce(f.failing_checks, '{}'::json) as failing_checks, a.worst
    from agg a join level_counts l using (scope, scope_ref) left join failing_counts f using (scope, scope_ref)
)
select count(*), count(*) filter (where r.entities is null), count(*) filter (where o.entities is null)
from oracle o full outer join (select * from rollups where grading_id = ?1) r using (scope, scope_ref)
where o.entities is distinct from r.entities
    or o.levels::varchar is distinct from r.levels::varchar
    or (o.mean_score is null) <> (r.mean_score is null) or abs(o.mean_score - r.mean_score) > 1e-9
    or abs(o.mean_coverage - r.mean_coverage) > 1e-9
    or o.failing_checks::varchar is distinct from r.failing_checks::varchar
    or o.worst::varchar is distinct from r.worst::varchar
"#;

/// 005 turns each grading's list of outcome codes into a string and next_missing into a
/// view; gradings stored before it read the same through check_results afterwards.
#[test]
fn outcome_lists_become_strings_and_read_the_same() {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    for (_, _, ddl) in &echo_health::store::sql::SCHEMA[..4] {
        conn.execute_batch(ddl).unwrap();
    }
    conn.execute_batch(
        "insert into grades (grading_id, run_id, entity_ref, level_index, coverage, passed, failed, unknown, exempt, applicable, outcomes)
             values ('g', 'r', 'component:default/a', -1, 0.5, 1, 1, 1, 0, 3, ['P', 'F', NULL, 'U']);
         insert into grading_checks values ('g', 1, 'c1', 'bronze', 0, 1), ('g', 2, 'c2', 'bronze', 0, 1), ('g', 3, 'cx', 'bronze', 0, 1), ('g', 4, 'c3', 'silver', 1, 1);
         insert into result_details values ('g', 'component:default/a', 'c3', ['github.x'], null);",
    )
    .unwrap();
    let read = |conn: &duckdb::Connection| -> Vec<(String, String, Option<String>)> {
        let mut st =
            conn.prepare("select check_id, outcome, array_to_string(missing_facts, ',') from check_results order by check_id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    let before = read(&conn);
    assert_eq!(before.len(), 3);
    conn.execute_batch(echo_health::store::sql::SCHEMA[4].2).unwrap();
    assert_eq!(read(&conn), before);
    let codes: String = conn.query_row("select outcomes from grades", [], |r| r.get(0)).unwrap();
    assert_eq!(codes, "PF-U");
    let next: Vec<(String, String)> = {
        let mut st = conn.prepare("select check_id, outcome from next_level_checks").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(next, vec![("c2".to_owned(), "fail".to_owned())], "the silver unknown is not in the way of bronze");
}
