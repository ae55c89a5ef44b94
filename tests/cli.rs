//! End-to-end tests of the `echo-health` binary: the offline demo, run history in DuckDB,
//! the JSON summary line, `validate`, `init`, the database lock and interrupted runs.

mod common;
use common::{bin, demo_pipeline, repo};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| panic!("no stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

fn db(path: &Path) -> duckdb::Connection {
    duckdb::Connection::open(path).unwrap()
}

fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn demo_runs_offline_keeps_history_and_reports_broken_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(tmp.path());
    let out = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let summary = last_json(&out);
    assert_eq!(summary["status"], "partial", "{summary}");
    assert_eq!(summary["entities"], 170);
    assert_eq!(summary["facts"], 1524);
    assert_eq!(summary["errors"], 2);
    let database = PathBuf::from(summary["database"].as_str().unwrap());
    let output = PathBuf::from(summary["output_dir"].as_str().unwrap());
    assert!(database.is_absolute() && database.starts_with(tmp.path()));
    assert!(output.is_absolute() && output.starts_with(tmp.path()));
    // both broken descriptors are named with file and line
    assert!(stderr.contains("billing-jobs.yaml:40") && stderr.contains("Remittance Advice Export"), "{stderr}");
    assert!(stderr.contains("warehouse-workers.yaml:37") && stderr.contains("YAML syntax error"), "{stderr}");

    // the export: Backstage's shape, sorted, augmented, relations, placeholders resolved
    let catalog: Value = serde_json::from_str(&std::fs::read_to_string(output.join("catalog.json")).unwrap()).unwrap();
    let items = catalog["items"].as_array().unwrap();
    assert_eq!(catalog["totalItems"], 170);
    let refs: Vec<String> = items
        .iter()
        .map(|e| {
            format!(
                "{}:{}/{}",
                e["kind"].as_str().unwrap().to_lowercase(),
                e["metadata"]["namespace"].as_str().unwrap(),
                e["metadata"]["name"].as_str().unwrap().to_lowercase()
            )
        })
        .collect();
    let mut sorted = refs.clone();
    sorted.sort();
    assert_eq!(refs, sorted, "catalog.json is sorted by ref");
    assert!(items.iter().all(|e| e["relations"].is_array()));
    assert!(items.iter().any(|e| e["relations"].as_array().unwrap().iter().any(|r| r["type"] == "ownedBy")));
    let text_api = items.iter().find(|e| {
        e["kind"] == "API"
            && e["spec"]["definition"].as_str().map(|d| d.contains("openapi:")).unwrap_or(false)
            && e["spec"]["definition"].as_str().unwrap().len() > 200
    });
    assert!(text_api.is_some(), "a $text placeholder was resolved to its file");
    assert!(!std::fs::read_to_string(output.join("catalog.json")).unwrap().contains("\"$text\""));

    // the database holds the run
    {
        let conn = db(&database);
        assert_eq!(count(&conn, "select count(*) from runs where status = 'partial'"), 1);
        assert_eq!(count(&conn, "select count(*) from entities"), 170);
        assert_eq!(count(&conn, "select count(*) from facts"), 1524);
        assert_eq!(count(&conn, "select count(*) from errors where severity = 'error'"), 2);
        assert_eq!(count(&conn, "select count(*) from documents where status = 'invalid'"), 1);
        assert_eq!(count(&conn, "select count(*) from documents where status = 'yaml-error'"), 1);
        assert_eq!(count(&conn, "select count(*) from schema_migrations"), echo_health::store::sql::SCHEMA.len() as i64);
        // augmentations were merged and recorded
        assert!(count(&conn, "select count(*) from entities where augmented_by <> '[]'") >= 2);
        // every component has its domain resolved through its system
        assert_eq!(count(&conn, "select count(*) from entities where kind = 'Component' and root_domain_ref is null"), 0);
        // typed facts
        assert!(count(&conn, "select count(*) from facts where value_type = 'json' and value_json is not null") > 0);
        assert!(count(&conn, "select count(*) from facts where value_type = 'boolean' and value_bool is not null") > 0);
    }

    // a second run finds nothing changed: recorded as unchanged, nothing stored or rewritten
    let index = std::fs::metadata(summary["output_dir"].as_str().map(|d| Path::new(d).join("site/index.html")).unwrap()).unwrap();
    let out2 = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(out2.status.code(), Some(0), "{}", String::from_utf8_lossy(&out2.stderr));
    let s2 = last_json(&out2);
    assert_ne!(s2["run_id"], summary["run_id"]);
    assert_eq!(s2["status"], "unchanged");
    assert_eq!(s2["same_as"], summary["run_id"]);
    let conn = db(&database);
    assert_eq!(count(&conn, "select count(*) from runs"), 2);
    assert_eq!(count(&conn, "select count(distinct run_id) from entities"), 1);
    let index2 = std::fs::metadata(Path::new(summary["output_dir"].as_str().unwrap()).join("site/index.html")).unwrap();
    assert_eq!(index.modified().unwrap(), index2.modified().unwrap(), "an unchanged run rewrote the site");
    drop(conn);
    // the Markdown summary says so, then shows the run it matched
    let md = bin().args(["summary", pipeline.to_str().unwrap()]).output().unwrap();
    let md = String::from_utf8_lossy(&md.stdout).to_string();
    let first = summary["run_id"].as_str().unwrap();
    assert!(md.contains(&format!("found nothing changed since run `{first}`")) && md.contains(&format!("Run `{first}` (partial)")), "{md}");
    // --full appends under its own run id; the first stays
    let out3 = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json", "--full"]).output().unwrap();
    assert_eq!(out3.status.code(), Some(0));
    assert_eq!(last_json(&out3)["status"], "partial");
    let conn = db(&database);
    assert_eq!(count(&conn, "select count(distinct run_id) from entities"), 2);
    assert_eq!(count(&conn, "select count(*) from entities"), 340);
    drop(conn);
    // and a changed input (here the pipeline file) is a full run again
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, format!("{text}\n# edited\n")).unwrap();
    let out4 = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(last_json(&out4)["status"], "partial");
    assert_eq!(count(&db(&database), "select count(distinct run_id) from entities"), 3);
}

#[test]
fn tolerances_decide_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(tmp.path());
    let text = std::fs::read_to_string(&pipeline).unwrap().replace("max_rejected_descriptors: 5", "max_rejected_descriptors: 1");
    std::fs::write(&pipeline, text).unwrap();
    let out = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = last_json(&out);
    assert_eq!(s["status"], "failed");
    // everything that could be read is still recorded
    assert_eq!(s["entities"], 170);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_rejected_descriptors = 1"), "{stderr}");
    let conn = db(Path::new(s["database"].as_str().unwrap()));
    assert_eq!(count(&conn, "select count(*) from runs where status = 'failed' and message like '%max_rejected_descriptors%'"), 1);
    assert_eq!(count(&conn, "select count(*) from entities"), 170);
}

#[test]
fn a_required_fact_source_that_is_missing_fails_the_run_but_keeps_the_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(tmp.path());
    let text = std::fs::read_to_string(&pipeline).unwrap().replace("/demo/facts/", "/demo/no-such-facts/");
    std::fs::write(&pipeline, text).unwrap();
    let out = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = last_json(&out);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["facts"], 0);
    assert_eq!(s["entities"], 170);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-facts"));
}

#[test]
fn bad_pipeline_files_report_every_problem_with_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("p.yaml");
    std::fs::write(&p, "name: x\ncatalogue: []\nschedule: every day\ncatalog:\n  - type: files\n").unwrap();
    let out = bin().args(["run", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("p.yaml:2: unknown key \"catalogue\""), "{stderr}");
    assert!(stderr.contains("p.yaml:3: schedule"), "{stderr}");
    assert!(stderr.contains("p.yaml:5: catalog[0].paths"), "{stderr}");
}

#[test]
fn validate_prints_backstage_verdicts_as_json_lines() {
    let Some(shared) = common::shared_dir("validate_prints_backstage_verdicts_as_json_lines") else { return };
    let parity = shared.join("fixtures/catalog/parity");
    let out = bin().args(["validate", parity.join("cases").to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "invalid documents → exit 2");
    let mut got = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for key in ["file", "doc", "status", "ref", "error"] {
            assert!(v.get(key).is_some(), "{line} lacks {key}");
        }
        let file = v["file"].as_str().unwrap();
        let rel = file.strip_prefix(&format!("{}/", parity.display())).unwrap().to_owned();
        got.insert((rel, v["doc"].as_u64().unwrap()), v["status"].as_str().unwrap().to_owned());
    }
    let expected = std::fs::read_to_string(parity.join("expected.jsonl")).unwrap();
    let mut n = 0;
    for line in expected.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = (v["file"].as_str().unwrap().to_owned(), v["doc"].as_u64().unwrap());
        let mut want = v["status"].as_str().unwrap().to_owned();
        if want == "unknown-kind" && v["ref"].as_str().map(|r| r.split(':').next().unwrap().ends_with("augmentation")).unwrap_or(false) {
            want = "valid".into();
        }
        assert_eq!(got.get(&key), Some(&want), "{key:?}");
        n += 1;
    }
    assert_eq!(n, 310);
    assert_eq!(got.len(), 310);

    // all valid → exit 0
    let ok = bin().args(["validate", parity.join("cases/valid-kinds").to_str().unwrap()]).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
}

#[test]
fn validate_checks_pipeline_files_and_demo_descriptors() {
    let out = bin()
        .args([
            "validate",
            repo().join("pipelines/demo.yaml").to_str().unwrap(),
            repo().join("pipelines/demo/catalog/systems").to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() > 5);
    assert!(lines.iter().all(|l| l["status"] == "valid"), "{lines:?}");
    assert_eq!(out.status.code(), Some(0));
    // a broken one in text form names file, line, field and value
    let out = bin()
        .args(["validate", repo().join("pipelines/demo/catalog/components/payments/billing-jobs.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("billing-jobs.yaml:40: invalid (document 1)") && text.contains("metadata.name"), "{text}");
}

#[test]
fn init_writes_a_starter_that_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("starter");
    let out = bin().args(["init", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run = bin().args(["run", dir.join("pipeline.yaml").to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let s = last_json(&run);
    assert_eq!(s["status"], "ok");
    assert_eq!(s["entities"], 2);
    assert_eq!(s["facts"], 2);
    // it grades with the default pack written beside it
    assert!(dir.join("checks/default/catalog.yaml").is_file());
    assert_eq!(s["levels"].as_object().map(|m| m.values().map(|v| v.as_u64().unwrap()).sum::<u64>()), Some(1), "{s}");
    assert!(dir.join("out/catalog.json").is_file());
    assert!(dir.join(".echo-health/my-catalog.duckdb").is_file());
    // no silent overwrite
    let again = bin().args(["init", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn a_second_run_on_a_locked_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(tmp.path());
    let lock = echo_health::store::DbLock::acquire(&tmp.path().join("demo.duckdb")).unwrap();
    let out = bin().args(["run", pipeline.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is in use by another echo-health run") && stderr.contains(&format!("pid {}", std::process::id())), "{stderr}");
    drop(lock);
    let out = bin().args(["run", pipeline.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn an_interrupted_run_is_recorded_as_failed_and_earlier_runs_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(tmp.path());
    let db_path = tmp.path().join("demo.duckdb");
    let first = last_json(&bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap());
    // a process that died between recording its start and committing its load
    {
        let store = echo_health::store::Store::open(&db_path).unwrap();
        let now = chrono::Utc::now();
        store
            .begin_run(&echo_health::store::RunStart {
                run_id: "r-killed".into(),
                pipeline: "demo".into(),
                pipeline_file: pipeline.display().to_string(),
                started_at: now,
                as_of: now,
            })
            .unwrap();
    }
    // and a real one killed mid-way (it may also finish first on a fast machine)
    let org = tmp.path().join("org");
    echo_health::synth::generate(&echo_health::synth::Options { components: 20_000, teams: 800, domains: 20, seed: 3 })
        .write_to(&org)
        .unwrap();
    let big = tmp.path().join("big.yaml");
    std::fs::write(
        &big,
        format!(
            "name: demo\ndatabase: {}\noutput: {}/big-out\ncatalog:\n  - type: files\n    paths: [{}]\n",
            db_path.display(),
            tmp.path().display(),
            org.display()
        ),
    )
    .unwrap();
    let mut child = bin().args(["run", big.to_str().unwrap()]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    let _ = child.kill();
    let _ = child.wait();

    let third = bin().args(["run", pipeline.to_str().unwrap(), "--format", "json"]).output().unwrap();
    assert_eq!(third.status.code(), Some(0), "{}", String::from_utf8_lossy(&third.stderr));
    let conn = db(&db_path);
    let status: String = conn.query_row("select status from runs where run_id = 'r-killed'", [], |r| r.get(0)).unwrap();
    assert_eq!(status, "failed");
    let msg: String = conn.query_row("select message from runs where run_id = 'r-killed'", [], |r| r.get(0)).unwrap();
    assert!(msg.contains("interrupted"));
    assert_eq!(count(&conn, "select count(*) from runs where status = 'running'"), 0);
    // the first run is intact
    let n: i64 =
        conn.query_row("select count(*) from entities where run_id = ?", [first["run_id"].as_str().unwrap()], |r| r.get(0)).unwrap();
    assert_eq!(n, 170);
    // a run either committed everything or nothing
    let mut st = conn
        .prepare("select r.run_id, r.status, r.entities, (select count(*) from entities e where e.run_id = r.run_id) from runs r")
        .unwrap();
    let rows: Vec<(String, String, Option<i64>, i64)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    for (id, status, declared, actual) in rows {
        if (status == "failed" && declared.is_none()) || status == "unchanged" {
            assert_eq!(actual, 0, "{id} left partial data");
        } else {
            assert_eq!(declared, Some(actual), "{id}");
        }
    }
}

#[test]
fn version_completions_and_json_logs() {
    let out = bin().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("echo-health "));
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("echo-health") && text.contains("schedule") && text.contains("summary"), "{shell}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path());
    let out = bin().args(["--log-format", "json", "run", p.to_str().unwrap()]).env("ECHO_HEALTH_LOG", "echo_health=info").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<serde_json::Value> = stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(logs.iter().any(|l| l["fields"]["message"] == "run started" && l["level"] == "INFO"), "{stderr}");
    // --quiet: errors only
    let out = bin().args(["--quiet", "run", p.to_str().unwrap()]).env_remove("ECHO_HEALTH_LOG").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(" WARN "), "{}", String::from_utf8_lossy(&out.stderr));
    // progress: none through pipes (as above) ...
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\r'));
    // ... a line per step on a terminal (util-linux `script` gives the run a pseudo-terminal),
    // none there with --quiet
    let on_terminal = |quiet: bool| -> Option<String> {
        let exe = env!("CARGO_BIN_EXE_echo-health");
        let cmd = format!("{exe} {}run {} --full", if quiet { "--quiet " } else { "" }, p.display());
        let out = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).env_remove("ECHO_HEALTH_LOG").output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
    };
    match on_terminal(false) {
        Some(text) => {
            for step in ["catalog", "facts", "load", "export", "site"] {
                // the spinner cleared, then the step's line with its time
                assert!(text.contains(&format!("\x1b[2K  {step} ")), "no {step} line on a terminal: {text}");
            }
            let quiet = on_terminal(true).unwrap();
            assert!(!quiet.contains("\x1b[2K") && !quiet.lines().any(|l| l.trim().starts_with("site ")), "progress with --quiet: {quiet}");
        }
        None => eprintln!("\n!!! SKIPPED the terminal progress check: util-linux `script` is not available !!!\n"),
    }
}
