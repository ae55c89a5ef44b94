//! Retention: every run kept for keep_all_days, then the newest of each week, then the newest
//! of each month, the rest dropped with everything they hold (facts, results, errors,
//! migration states); the newest run always stays; the site still renders afterwards.

mod common;

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate};

fn tiny(d: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(d.join("catalog")).unwrap();
    std::fs::write(
        d.join("catalog/all.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("facts")).unwrap();
    let facts: String = (0..120)
        .map(|i| {
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(i);
            format!("{{\"entity\":\"component:default/svc\",\"fact\":\"ci.test_coverage_pct\",\"value\":{},\"observed_at\":\"{day}T06:00:00Z\"}}\n", 40 + i / 3)
        })
        .collect();
    std::fs::write(d.join("facts/ci.ndjson"), facts).unwrap();
    let p = d.join("p.yaml");
    std::fs::write(&p, "name: keep\ncatalog:\n  - type: files\n    paths: [catalog]\nfacts:\n  - type: files\n    paths: [facts]\n    declares:\n      ci.test_coverage_pct: number\n")
        .unwrap();
    p
}

/// The retention rules, computed independently: as of `today`, every run for 14 days, then
/// the newest of each ISO week until 60 days, the newest of each month until 100 days.
fn expected(all: &[NaiveDate], today: NaiveDate) -> BTreeSet<NaiveDate> {
    let newest_of = |d: &NaiveDate, same: &dyn Fn(&NaiveDate) -> bool| all.iter().filter(|x| same(x)).max() == Some(d);
    all.iter()
        .copied()
        .filter(|d| {
            let age = (today - *d).num_days();
            let week = |x: &NaiveDate| x.iso_week() == d.iso_week();
            let month = |x: &NaiveDate| x.year() == d.year() && x.month() == d.month();
            age <= 14 || (age <= 60 && newest_of(d, &week)) || (age <= 100 && newest_of(d, &month)) || Some(d) == all.iter().max()
        })
        .collect()
}

#[test]
fn old_runs_are_thinned_to_weekly_then_monthly_and_dropped_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tiny(tmp.path());
    let out = common::bin()
        .args(["replay", p.to_str().unwrap(), "--from", "2026-01-01", "--to", "2026-04-30", "--every-days", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = tmp.path().join(".echo-health/keep.duckdb");
    let days = |conn: &duckdb::Connection| -> BTreeSet<NaiveDate> {
        conn.prepare("select as_of::date from runs")
            .unwrap()
            .query_map([], |r| r.get::<_, NaiveDate>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let all: Vec<NaiveDate> = days(&duckdb::Connection::open(&db).unwrap()).into_iter().collect();
    assert_eq!(all.len(), 120, "no retention configured: every replayed day is kept");
    // now with a retention policy, as of May 1
    let text = std::fs::read_to_string(&p).unwrap() + "retention:\n  keep_all_days: 14\n  weekly_days: 60\n  monthly_days: 100\n";
    std::fs::write(&p, text).unwrap();
    let out = common::bin().args(["prune", p.to_str().unwrap(), "--today", "2026-05-01", "--dry-run"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(days(&duckdb::Connection::open(&db).unwrap()).len(), 120, "a dry run drops nothing");
    let out = common::bin().args(["prune", p.to_str().unwrap(), "--today", "2026-05-01"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = duckdb::Connection::open(&db).unwrap();
    let kept = days(&conn);
    let want = expected(&all, NaiveDate::from_ymd_opt(2026, 5, 1).unwrap());
    assert_eq!(kept, want, "kept runs");
    assert!(
        kept.contains(&NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()) && !kept.contains(&NaiveDate::from_ymd_opt(2026, 1, 20).unwrap())
    );
    // every table is cleared of dropped runs
    let runs: i64 = conn.query_row("select count(*) from runs", [], |r| r.get(0)).unwrap();
    for table in ["entities", "relations", "facts", "errors", "documents", "gradings", "grades", "migration_codes"] {
        let orphans: i64 = conn
            .query_row(&format!("select count(*) from {table} where run_id not in (select run_id from runs)"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(orphans, 0, "{table} still holds rows of dropped runs");
    }
    assert_eq!(runs as usize, want.len());
    drop(conn);
    // the latest run still renders
    let out = common::bin().args(["report", p.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
