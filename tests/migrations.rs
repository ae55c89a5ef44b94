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

    // the same stored facts as of 2026-06-15: fewer done, and the history burns down
    let db = tmp.path().join("demo.duckdb");
    let run_id = v["run_id"].as_str().unwrap().to_owned();
    let p2 = echo_health::config::load(&p).unwrap();
    let facts = echo_health::grade::fact_set(&p2);
    let defs = echo_health::migrate::load(&p2.migrations, &facts, echo_health::grade::engine::CATALOG_COLUMNS).unwrap();
    let conn = duckdb::Connection::open(&db).unwrap();
    let mut left = Vec::new();
    for day in ["2026-06-08", "2026-07-06", "2026-08-03", "2026-08-31", "2026-09-28", "2026-10-26", "2026-11-30"] {
        let as_of: DateTime<Utc> = format!("{day}T12:00:00Z").parse().unwrap();
        let counts = echo_health::migrate::evaluate(&conn, &run_id, as_of, &facts, &defs).unwrap();
        let done = counts["log4j_removal"].get("done").copied().unwrap_or(0);
        left.push((NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap(), (20 - done) as f64));
    }
    assert!(left.first().unwrap().1 > left.last().unwrap().1, "{left:?}");
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
