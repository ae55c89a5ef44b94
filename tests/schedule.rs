//! The scheduler: `--once` runs what is due (a pipeline that never ran, or whose slot passed
//! since its last run) and nothing else; a pipeline without `schedule` is refused; SIGTERM
//! stops a waiting scheduler cleanly.

mod common;

use std::time::{Duration, Instant};

fn pipeline(dir: &std::path::Path, name: &str, schedule: Option<&str>) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(
        dir.join("catalog/all.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    let p = dir.join(format!("{name}.yaml"));
    let sched = schedule.map(|s| format!("schedule: \"{s}\"\n")).unwrap_or_default();
    std::fs::write(&p, format!("name: {name}\n{sched}catalog:\n  - type: files\n    paths: [catalog]\n")).unwrap();
    p
}

fn runs(dir: &std::path::Path, name: &str) -> i64 {
    let conn = duckdb::Connection::open(dir.join(format!(".echo-health/{name}.duckdb"))).unwrap();
    conn.query_row("select count(*) from runs", [], |r| r.get(0)).unwrap()
}

#[test]
fn once_runs_what_is_due_and_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), "weekly", Some("0 6 * * 1"));
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("start weekly") && stdout.contains("end weekly exit 0"), "a pipeline that never ran is due: {stdout}");
    assert_eq!(runs(tmp.path(), "weekly"), 1);
    // right after, the next Monday 06:00 has not come: nothing runs
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("not due weekly (next slot "), "{stdout}");
    assert_eq!(runs(tmp.path(), "weekly"), 1, "not started twice");
    // a pipeline without a schedule is refused
    let q = pipeline(tmp.path(), "adhoc", None);
    let out = common::bin().args(["schedule", q.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no `schedule:`"));
}

#[test]
fn sigterm_stops_a_waiting_scheduler() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), "yearly", Some("0 6 1 1 *"));
    let child = common::bin().args(["schedule", p.to_str().unwrap()]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("scheduled yearly next at") && stdout.contains("stopping: signal received"), "{stdout}");
}
