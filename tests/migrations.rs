//! Migrations: definitions validated with file:line, the state of every component stored
//! with each run, states as of an earlier date from the same dated facts, and forecasts from
//! the stored history.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use echo_health::migrate::forecast::{forecast, Forecast};

#[test]
fn demo_run_stores_each_components_migration_state() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let (code, v, stderr) = common::run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let m = &v["migrations"];
    // 20 Java services; their newest facts (2026-11-30): 15 without log4j, 15 on Java 17
    assert_eq!(m["log4j_removal"]["done"], 15, "{m}");
    assert_eq!(m["java_17"]["done"], 15, "{m}");
    let total = |id: &str| m[id].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>();
    assert_eq!(total("log4j_removal"), 20, "{m}");
    assert_eq!(total("java_17"), 20, "{m}");
    // an active exemption makes its component exempt; an expired one counts no more
    assert_eq!(m["log4j_removal"]["exempt"], 1, "{m}");
    assert!(m["java_17"].get("exempt").is_none(), "the wms-core exemption expired in August: {m}");

    // roll-ups: per scope kind, the components add up to the migration's
    let conn = duckdb::Connection::open(tmp.path().join("demo.duckdb")).unwrap();
    let rollups = echo_health::migrate::rollups(&conn, v["run_id"].as_str().unwrap()).unwrap();
    for scope in ["domain", "system", "team"] {
        let of = |id: &str| rollups.iter().filter(|r| r.scope == scope && r.migration_id == id).map(|r| r.total).sum::<i64>();
        assert_eq!(of("log4j_removal"), 20, "{scope}");
        let done: i64 = rollups.iter().filter(|r| r.scope == scope && r.migration_id == "log4j_removal").map(|r| r.done).sum();
        assert_eq!(done, 15, "{scope}");
    }
    let exempt: i64 = rollups.iter().filter(|r| r.scope == "team" && r.migration_id == "log4j_removal").map(|r| r.exempt).sum();
    assert_eq!(exempt, 1);
    drop(conn);
    // the same stored facts as of 2026-06-15: fewer done, and the history burns down
    let db = tmp.path().join("demo.duckdb");
    let run_id = v["run_id"].as_str().unwrap().to_owned();
    let p2 = echo_health::config::load(&p).unwrap();
    let facts = echo_health::grade::fact_set(&p2);
    let setup = echo_health::migrate::setup(&p2).unwrap();
    let conn = duckdb::Connection::open(&db).unwrap();
    let mut left = Vec::new();
    for day in ["2026-06-08", "2026-07-06", "2026-08-03", "2026-08-31", "2026-09-28", "2026-10-26", "2026-11-30"] {
        let as_of: DateTime<Utc> = format!("{day}T12:00:00Z").parse().unwrap();
        let counts = echo_health::migrate::evaluate(&conn, &run_id, as_of, &facts, &setup).unwrap().counts;
        let done = counts["log4j_removal"].get("done").copied().unwrap_or(0);
        left.push((NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap(), (20 - done) as f64));
    }
    assert!(left.first().unwrap().1 > left.last().unwrap().1, "{left:?}");
    // exemptions expire by the date evaluated: wms-core's java_17 exemption ran to 2026-08-31
    let aug: DateTime<Utc> = "2026-08-03T12:00:00Z".parse().unwrap();
    let counts = echo_health::migrate::evaluate(&conn, &run_id, aug, &facts, &setup).unwrap().counts;
    assert_eq!(counts["java_17"].get("exempt"), Some(&1), "{counts:?}");
    assert!(left.windows(2).all(|w| w[1].1 <= w[0].1), "a burn-down of the demo's history: {left:?}");
    assert_eq!(left.last().unwrap().1, 5.0);
    // a forecast from that history, against the deadline
    let f = forecast(&left, Some(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()), 8);
    assert!(matches!(f, Forecast::Projected { left, .. } if left == 5.0), "{f:?}");
}

#[test]
fn migration_files_are_validated_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let bad = tmp.path().join("bad-migrations.yaml");
    std::fs::write(
        &bad,
        "migrations:\n  - id: Bad-Id\n    title: t\n    description: d\n    deadline: 2026-01-01\n    start: 2026-06-01\n    done: '\"nope.fact\" = 0'\n  - id: twice\n    title: t\n    description: d\n    deadline: someday\n    done: 'true'\n  - id: twice\n    title: t\n    description: d\n    done: 'true; drop table facts'\n",
    )
    .unwrap();
    let text: String = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(|l| if l.starts_with("migrations:") { format!("migrations: [{}]\n", bad.display()) } else { format!("{l}\n") })
        .collect();
    std::fs::write(&p, text).unwrap();
    let out = common::bin().args(["run", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for want in [
        "bad-migrations.yaml:2",
        "\"Bad-Id\" must be snake_case",
        "deadline 2026-01-01 is before its start 2026-06-01",
        "nope.fact",
        "\"someday\" is not a date",
        "duplicate migration id \"twice\"",
        "deadline is required",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(!tmp.path().join("demo.duckdb").exists(), "nothing runs with a broken migrations file");
}

/// (entity, level, score) of a run's own grading, and its migration states.
fn outcome(db: &std::path::Path, run: &str) -> (Vec<(String, Option<String>, Option<f64>)>, Vec<(String, String, String)>) {
    let conn = duckdb::Connection::open(db).unwrap();
    let grades = conn
        .prepare("select g.entity_ref, g.level, round(g.score, 6) from grades g join gradings x using (grading_id) where x.run_id = ? and x.kind = 'run' order by 1")
        .unwrap()
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let states = conn
        .prepare("select migration_id, entity_ref, state from migration_states where run_id = ? order by 1, 2")
        .unwrap()
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (grades, states)
}

#[test]
fn a_replayed_date_grades_as_a_run_on_that_date_would_have() {
    let day = "2026-08-03";
    let cutoff = "2026-08-03T23:59:59Z";
    // A: the demo with all its dated facts, replayed as of the end of that day
    // exemptions are left out of both: whether one is active depends on the day the run
    // believes it is, which a run today (B) cannot pretend (the replay uses its as_of; see
    // `demo_run_stores_each_components_migration_state`)
    let without_exemptions = |p: &std::path::Path| {
        let text: String = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("migration_exemptions:") && !l.trim_start().starts_with("exemptions:"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(p, text).unwrap();
    };
    let a = tempfile::tempdir().unwrap();
    let pa = common::demo_pipeline(a.path());
    without_exemptions(&pa);
    let (code, va, stderr) = common::run_json(&["run", pa.to_str().unwrap(), "--format", "json", "--as-of", day]);
    assert_eq!(code, 0, "{stderr}");
    // B: what a run on that day would have read: only the facts observed by then
    let b = tempfile::tempdir().unwrap();
    let facts_b = b.path().join("facts");
    std::fs::create_dir_all(&facts_b).unwrap();
    let demo_facts = common::repo().join("pipelines/demo/facts");
    let mut kept = 0;
    for f in std::fs::read_dir(&demo_facts).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        let name = f.file_name().to_string_lossy().to_string();
        let out: String = if name.ends_with(".ndjson") {
            text.lines()
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .map(|v| v["observed_at"].as_str().unwrap_or("9999") <= cutoff)
                        .unwrap_or(false)
                })
                .map(|l| format!("{l}\n"))
                .collect()
        } else if name.ends_with(".json") {
            let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            serde_json::to_string(&v.into_iter().filter(|x| x["observed_at"].as_str().unwrap_or("9999") <= cutoff).collect::<Vec<_>>())
                .unwrap()
        } else {
            let mut lines = text.lines();
            let head = lines.next().unwrap_or_default();
            let at = head.split(',').position(|h| h == "observed_at").unwrap();
            std::iter::once(head)
                .chain(lines.filter(|l| l.split(',').nth(at).unwrap_or("9999") <= cutoff))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        kept += out.lines().count();
        std::fs::write(facts_b.join(&name), out).unwrap();
    }
    assert!(kept > 300, "the history up to that day: {kept} lines");
    let pb = common::demo_pipeline(b.path());
    let text = std::fs::read_to_string(&pb).unwrap().replace(&format!("{}/", demo_facts.display()), &format!("{}/", facts_b.display()));
    std::fs::write(&pb, text).unwrap();
    without_exemptions(&pb);
    let (code, vb, stderr) = common::run_json(&["run", pb.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let (ga, sa) = outcome(&a.path().join("demo.duckdb"), va["run_id"].as_str().unwrap());
    let (gb, sb) = outcome(&b.path().join("demo.duckdb"), vb["run_id"].as_str().unwrap());
    assert!(!sa.is_empty() && !ga.is_empty());
    assert_eq!(sa, sb, "migration states");
    assert_eq!(ga, gb, "grades");
    assert!(sa.iter().any(|s| s.2 != "done"), "in August most services still used log4j");
    // the replay is recorded as of that day
    let conn = duckdb::Connection::open(a.path().join("demo.duckdb")).unwrap();
    let as_of: String =
        conn.query_row("select as_of::varchar from runs where run_id = ?", [va["run_id"].as_str().unwrap()], |r| r.get(0)).unwrap();
    assert_eq!(as_of, "2026-08-03 23:59:59");
}

#[test]
fn a_replayed_history_gives_burn_downs_forecasts_and_a_markdown_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let out = common::bin()
        .args(["replay", p.to_str().unwrap(), "--from", "2026-10-05", "--to", "2026-11-02", "--every-days", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = duckdb::Connection::open(tmp.path().join("demo.duckdb")).unwrap();
    let runs: Vec<String> = conn
        .prepare("select as_of::date::varchar from runs order by as_of")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs, ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02"]);
    drop(conn);
    // the site of the latest replayed run: a burn-down of five weekly points and a forecast band
    let page = std::fs::read_to_string(tmp.path().join("out/site/migration/log4j_removal.html")).unwrap();
    assert!(page.contains("components left over 5 days"), "five points in the burn-down");
    assert!(page.contains("<polygon") && page.contains("80% band"), "the forecast band is drawn");
    assert!(page.contains("are done around"), "a projected date");
    let index = std::fs::read_to_string(tmp.path().join("out/site/migrations.html")).unwrap();
    assert!(index.contains("Remove log4j 1.x") && index.contains("Move every JVM service to Java 17"));
    // the Markdown summary compares the last two runs
    let out = common::bin().args(["summary", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(md.contains("facts as of 2026-11-02 23:59:59 UTC; compared with run"), "{md}");
    assert!(md.contains("| Remove log4j 1.x |"), "{md}");
    assert!(md.contains("**Levels:** gold"), "the ladder's order, highest first: {md}");
    assert!(!md.contains("no forecast yet"), "five weekly points are enough: {md}");
}

#[test]
fn summary_without_a_run_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let out = common::bin().args(["summary", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no completed run"));
}

#[test]
fn an_exemption_naming_an_unknown_component_is_a_problem_of_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let ex = tmp.path().join("ex.yaml");
    std::fs::write(
        &ex,
        "exemptions:\n  - entity: component:default/no-such-service\n    migration: java_17\n    reason: accepted-risk\n    approver: a\n    justification: j\n    expires: 2099-01-01\n",
    )
    .unwrap();
    let text: String =
        std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("migration_exemptions:") {
                    format!("migration_exemptions: [{}]\n", ex.display())
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
    std::fs::write(&p, text).unwrap();
    let (code, v, stderr) = common::run_json(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["status"], "partial");
    assert!(stderr.contains("ex.yaml:2: migration exemption names component:default/no-such-service"), "{stderr}");
    assert!(v["migrations"]["java_17"].get("exempt").is_none(), "{v}");
}

#[test]
fn every_state_and_its_transitions_over_dated_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("catalog")).unwrap();
    std::fs::create_dir_all(d.join("facts")).unwrap();
    let comp = |n: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {n}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n")
    };
    let mut cat: String = ["mover", "stuck", "blind", "excused", "no-jvm"].iter().map(|n| comp(n)).collect();
    cat += "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n";
    std::fs::write(d.join("catalog/all.yaml"), cat).unwrap();
    let fact = |e: &str, f: &str, v: i64, at: &str| {
        format!("{{\"entity\":\"component:default/{e}\",\"fact\":\"{f}\",\"value\":{v},\"observed_at\":\"{at}T06:00:00Z\"}}\n")
    };
    let mut facts = String::new();
    for e in ["mover", "stuck", "blind", "excused"] {
        facts += &fact(e, "runtime.java_version_major", 11, "2026-01-01");
    }
    // mover: 20 log4j references, then 5, then none
    facts += &fact("mover", "zoekt.log4j_refs", 20, "2026-01-01");
    facts += &fact("mover", "zoekt.log4j_refs", 5, "2026-02-01");
    facts += &fact("mover", "zoekt.log4j_refs", 0, "2026-03-01");
    facts += &fact("stuck", "zoekt.log4j_refs", 30, "2026-01-01");
    facts += &fact("excused", "zoekt.log4j_refs", 40, "2026-01-01");
    // blind: no Zoekt fact at all (unknown); no-jvm: no runtime fact (does not apply)
    std::fs::write(d.join("facts/f.ndjson"), facts).unwrap();
    std::fs::write(
        d.join("m.yaml"),
        "migrations:\n  - id: log4j_removal\n    title: Remove log4j\n    description: d\n    deadline: 2026-12-31\n    applies_to: kind = 'Component' and \"runtime.java_version_major\" is not null\n    done: '\"zoekt.log4j_refs\" = 0'\n    started: '\"zoekt.log4j_refs\" < 10'\n",
    )
    .unwrap();
    std::fs::write(
        d.join("x.yaml"),
        "exemptions:\n  - entity: component:default/excused\n    migration: log4j_removal\n    reason: accepted-risk\n    approver: a\n    justification: retiring\n    expires: 2026-02-15\n",
    )
    .unwrap();
    std::fs::write(
        d.join("p.yaml"),
        "name: states\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: files\n    paths: [facts]\n    declares:\n      runtime.java_version_major: number\n      zoekt.log4j_refs: number\nmigrations: [m.yaml]\nmigration_exemptions: [x.yaml]\n",
    )
    .unwrap();
    let p = d.join("p.yaml");
    let mut seen = Vec::new();
    for day in ["2026-01-15", "2026-02-10", "2026-03-10"] {
        let (code, v, stderr) = common::run_json(&["run", p.to_str().unwrap(), "--format", "json", "--as-of", day]);
        assert_eq!(code, 0, "{stderr}");
        let conn = duckdb::Connection::open(d.join(".echo-health/states.duckdb")).unwrap();
        let states: Vec<(String, String)> = conn
            .prepare("select entity_ref, state from migration_states where run_id = ? order by 1")
            .unwrap()
            .query_map([v["run_id"].as_str().unwrap()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .map(|(e, s): (String, String)| (e.trim_start_matches("component:default/").to_owned(), s))
            .collect();
        seen.push(states);
    }
    let at = |i: usize, e: &str| seen[i].iter().find(|x| x.0 == e).map(|x| x.1.as_str());
    assert_eq!([at(0, "mover"), at(1, "mover"), at(2, "mover")], [Some("not_started"), Some("in_progress"), Some("done")]);
    assert_eq!([at(0, "stuck"), at(2, "stuck")], [Some("not_started"), Some("not_started")]);
    assert_eq!(at(0, "blind"), Some("unknown"), "a missing fact is unknown, not done");
    assert_eq!([at(1, "excused"), at(2, "excused")], [Some("exempt"), Some("not_started")], "exempt until it expires on 2026-02-15");
    assert_eq!(at(0, "no-jvm"), None, "the migration does not apply");
}
