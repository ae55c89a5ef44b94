//! `kill -9` of a run while it loads and while it publishes its site: the database opens
//! afterwards with every earlier run intact, the previous site is still in place, and the
//! next run succeeds (the killed run is then recorded as failed).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

fn completed_runs(db: &Path) -> Vec<(String, i64)> {
    let conn = duckdb::Connection::open(db).unwrap();
    conn.prepare("select r.run_id, (select count(*) from entities e where e.run_id = r.run_id) from runs r where status in ('ok', 'partial') order by 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Starts a run and kills it with SIGKILL as soon as its log says `marker`.
fn kill_at(p: &Path, marker: &str) -> bool {
    let mut child = common::bin()
        .args(["run", p.to_str().unwrap(), "--full"])
        .env("ECHO_HEALTH_LOG", "echo_health=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stderr.take().unwrap());
    let mut hit = false;
    for line in reader.lines().map_while(Result::ok) {
        if line.contains(marker) {
            // SAFETY: killing our own child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
            }
            hit = true;
            break;
        }
    }
    let status = child.wait().unwrap();
    hit && status.code().is_none()
}

#[test]
fn a_killed_run_loses_nothing_earlier_and_the_next_run_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["generate-org", "--out", tmp.path().join("catalog").to_str().unwrap(), "--components", "3000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = tmp.path().join("p.yaml");
    std::fs::write(&p, "name: faults\ncatalog:\n  - type: files\n    paths: [catalog]\n").unwrap();
    let db = tmp.path().join(".echo-health/faults.duckdb");
    let site = tmp.path().join(".echo-health/faults-out/site");
    let out = common::bin().args(["run", p.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for marker in ["facts collected", "rendering the site"] {
        let before = completed_runs(&db);
        let index_before = std::fs::read(site.join("index.html")).unwrap();
        assert!(kill_at(&p, marker), "the run was killed at {marker}");
        // the database opens, earlier runs are all there with all their rows (killed while
        // publishing, the run itself was already committed: it stays, unpublished)
        let after = completed_runs(&db);
        assert!(before.iter().all(|r| after.contains(r)), "after a kill at {marker}: {before:?} vs {after:?}");
        assert_eq!(after.len(), before.len() + usize::from(marker == "rendering the site"));
        // the previous site is still in place, whole
        assert_eq!(std::fs::read(site.join("index.html")).unwrap(), index_before, "the site after a kill at {marker}");
        // the next run succeeds and records the killed one as failed
        let out = common::bin().args(["run", p.to_str().unwrap(), "--format", "json", "--full"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(completed_runs(&db).len(), after.len() + 1);
        if marker == "facts collected" {
            let conn = duckdb::Connection::open(&db).unwrap();
            let failed: i64 = conn
                .query_row("select count(*) from runs where status = 'failed' and message like 'interrupted%'", [], |r| r.get(0))
                .unwrap();
            assert_eq!(failed, 1, "the run killed while loading is recorded as interrupted");
        }
        assert!(site.join("index.html").exists());
    }
}
