//! Exports read back: catalog.json (annotated with grades) re-ingested by our own catalog
//! reader, Parquet and CSV tables read by DuckDB, the OpenMetrics file checked by promtool
//! (when installed) and parsed, the Alertmanager snippet parsed; `report` rewrites them from
//! the database alone.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::{demo_pipeline, run_json as run};

#[test]
fn exports_of_the_demo_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let p = demo_pipeline(tmp.path());
    let (code, summary, stderr) = run(&["run", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let out = tmp.path().join("out");
    let grading = summary["grading_id"].as_str().unwrap().to_owned();

    // catalog.json: graded components carry their level, score and coverage
    let catalog: Value = serde_json::from_str(&std::fs::read_to_string(out.join("catalog.json")).unwrap()).unwrap();
    let items = catalog["items"].as_array().unwrap();
    assert_eq!(items.len(), 170);
    let comps: Vec<&Value> = items.iter().filter(|i| i["kind"] == "Component").collect();
    let graded: Vec<&Value> = comps.iter().copied().filter(|c| c["metadata"]["annotations"]["echo-health.io/level"].is_string()).collect();
    assert_eq!(graded.len() as u64, summary["levels"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>());
    for c in &graded {
        let a = &c["metadata"]["annotations"];
        let level = a["echo-health.io/level"].as_str().unwrap();
        assert!(["none", "bronze", "silver", "gold"].contains(&level), "{level}");
        let cov: f64 = a["echo-health.io/coverage"].as_str().unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&cov));
        assert_eq!(a["echo-health.io/run"], summary["run_id"]);
    }
    assert!(items.iter().all(|i| i["relations"].is_array()));

    // re-ingested by our own catalog reader: every item is a valid entity (relations, which
    // the catalog writes, taken off), and reading them back generates the same relations
    let back = tmp.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    let exported_relations: usize = items.iter().map(|i| i["relations"].as_array().unwrap().len()).sum();
    let docs: Vec<String> = items
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i.as_object_mut().unwrap().remove("relations");
            serde_json::to_string(&i).unwrap()
        })
        .collect();
    std::fs::write(back.join("catalog-info.yaml"), docs.join("\n---\n")).unwrap();
    // the exported Location entities are kept as entities, not followed again
    let opts =
        echo_health::catalog::files::FilesOptions { follow_locations: false, ..echo_health::catalog::files::FilesOptions::new(&back) };
    let read = echo_health::catalog::files::read_catalog(&[".".to_owned()], &opts);
    assert!(read.errors.is_empty(), "{:?}", read.errors.iter().take(3).map(|e| &e.message).collect::<Vec<_>>());
    let cat = echo_health::catalog::Catalog::assemble(read.docs, read.errors, read.reports);
    assert_eq!(cat.entities.len(), 170);
    assert_eq!(cat.error_count(), 0, "{:?}", cat.errors.iter().take(5).map(|e| &e.message).collect::<Vec<_>>());
    assert_eq!(cat.relations.len(), exported_relations);

    // tables: Parquet and CSV hold what the database holds
    let conn = duckdb::Connection::open(tmp.path().join("demo.duckdb")).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let t = out.join("tables");
    for (name, expected) in [
        ("entities", 170),
        ("facts", 1524),
        ("check_results", count(&format!("select count(*) from check_results where grading_id = '{grading}'"))),
        ("grades", count(&format!("select count(*) from grades where grading_id = '{grading}'"))),
        ("rollups", count(&format!("select count(*) from rollups where grading_id = '{grading}'"))),
    ] {
        assert!(expected > 0, "{name}");
        let parquet = count(&format!("select count(*) from read_parquet('{}')", t.join(format!("{name}.parquet")).display()));
        let csv = count(&format!("select count(*) from read_csv('{}', header = true)", t.join(format!("{name}.csv")).display()));
        assert_eq!((parquet, csv), (expected, expected), "{name}");
    }
    let fails_parquet =
        count(&format!("select count(*) from read_parquet('{}') where outcome = 'fail'", t.join("check_results.parquet").display()));
    assert_eq!(fails_parquet, count(&format!("select count(*) from check_results where grading_id = '{grading}' and outcome = 'fail'")));

    // OpenMetrics: one sample per graded component, well formed, ends with # EOF
    let om = std::fs::read_to_string(out.join("echo-health.prom")).unwrap();
    assert!(om.ends_with("# EOF\n"));
    let levels: Vec<&str> = om.lines().filter(|l| l.starts_with("echo_health_component_level{")).collect();
    assert_eq!(levels.len(), graded.len());
    for l in om.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = l.rsplit_once(' ').unwrap();
        assert!(series.ends_with('}') && series.contains('{'), "{l}");
        value.parse::<f64>().unwrap_or_else(|_| panic!("{l}"));
    }
    promtool_check(&out.join("echo-health.prom"));

    // Alertmanager: a receiver and a route per group with an alert annotation
    let am = std::fs::read_to_string(out.join("alertmanager.yml")).unwrap();
    let v = echo_health::yaml::parse_single(&am).unwrap().unwrap();
    let receivers: Vec<&str> = v["receivers"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(receivers, vec!["default", "booking-team", "fleet-team", "tracking-team"]);
    assert_eq!(v["receivers"][1]["slack_configs"][0]["channel"], "#booking-alerts");
    assert_eq!(v["receivers"][2]["email_configs"][0]["to"], "fleet-oncall@lumen-freight.example");
    assert_eq!(v["route"]["routes"][0]["matchers"][0], "team=\"booking-team\"");

    // `report` rewrites every export from the database alone, with the same content
    drop(conn);
    let before = std::fs::read(out.join("catalog.json")).unwrap();
    std::fs::remove_file(out.join("catalog.json")).unwrap();
    std::fs::remove_dir_all(out.join("tables")).unwrap();
    let (code, stats, stderr) = run(&["report", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stats["exports"].as_array().unwrap().len(), 4, "{stats}");
    assert_eq!(std::fs::read(out.join("catalog.json")).unwrap(), before);
    assert!(out.join("tables/grades.parquet").is_file());
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// `promtool check metrics` on an exposition file, when promtool is installed (the
/// Prometheus tests install it); skipped loudly otherwise.
fn promtool_check(file: &Path) {
    let Ok(out) = Command::new("promtool").arg("check").arg("metrics").stdin(std::fs::File::open(file).unwrap()).output() else {
        assert!(
            std::env::var("ECHO_HEALTH_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool is required (scripts/test.sh installs Debian's prometheus) but not installed"
        );
        eprintln!("\n*** SKIPPED promtool check metrics: promtool is not installed ***\n");
        return;
    };
    assert!(out.status.success(), "promtool: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
