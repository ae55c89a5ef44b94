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

/// The next slot `--once` reports when the pipeline's last run started at `last` (UTC).
fn next_slot_after(dir: &std::path::Path, p: &std::path::Path, last: &str, zone: &[&str]) -> String {
    let conn = duckdb::Connection::open(dir.join(".echo-health/weekly.duckdb")).unwrap();
    conn.execute("update runs set started_at = ?::timestamp", [last]).unwrap();
    drop(conn);
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).args(zone).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let slot = stdout.split("(next slot ").nth(1).unwrap_or_else(|| panic!("not due expected: {stdout}"));
    slot.split(')').next().unwrap().to_owned()
}

#[test]
fn schedules_follow_a_named_time_zone_through_daylight_saving() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), "weekly", Some("0 6 * * 1"));
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Mondays 06:00 in Berlin: +01:00 in winter, +02:00 after the switch (2027-03-28)
    let berlin = ["--time-zone", "Europe/Berlin"];
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-01-01 12:00:00", &berlin), "2027-01-04T06:00:00+01:00");
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-27 12:00:00", &berlin), "2027-03-29T06:00:00+02:00");
    // New York switches two weeks earlier
    let ny = ["--time-zone", "America/New_York"];
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-12 12:00:00", &ny), "2027-03-15T06:00:00-04:00");
    // a fixed offset stays fixed; UTC by default
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-27 12:00:00", &["--utc-offset", "+01:00"]), "2027-03-29T06:00:00+01:00");
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-27 12:00:00", &[]), "2027-03-29T06:00:00+00:00");
    // an unknown zone is refused, naming it
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once", "--time-zone", "Mars/Olympus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mars/Olympus"));
}

#[test]
fn a_pipeline_s_own_time_zone_wins_over_the_scheduler_s() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline(tmp.path(), "weekly", Some("0 6 * * 1"));
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("schedule: \"0 6 * * 1\"\n", "schedule: \"0 6 * * 1\"\nschedule_time_zone: America/New_York\n"))
        .unwrap();
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // New York's Monday 06:00 after its switch, whatever zone the scheduler was given
    let berlin = ["--time-zone", "Europe/Berlin"];
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-12 12:00:00", &berlin), "2027-03-15T06:00:00-04:00");
    assert_eq!(next_slot_after(tmp.path(), &p, "2027-03-12 12:00:00", &[]), "2027-03-15T06:00:00-04:00");
    // a pipeline without one still follows the scheduler's
    let q = pipeline(&tmp.path().join("other"), "weekly", Some("0 6 * * 1"));
    common::bin().args(["schedule", q.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(next_slot_after(&tmp.path().join("other"), &q, "2027-03-12 12:00:00", &berlin), "2027-03-15T06:00:00+01:00");
    // an unknown zone in the file is refused with its file and line, before anything runs
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("America/New_York", "Mars/Olympus")).unwrap();
    let out = common::bin().args(["schedule", p.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("weekly.yaml:3") && err.contains("Mars/Olympus"), "{err}");
}
