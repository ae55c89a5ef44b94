//! Shared helpers for integration tests: the binary, the demo pipeline in a temporary folder,
//! where the shared fixtures live.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The echo-health binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_echo-health"))
}

/// The repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo pipeline, rewritten to keep its database and output in `dir`.
pub fn demo_pipeline(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines/demo.yaml")).unwrap();
    let demo = repo().join("pipelines/demo");
    let text = text
        .replace("demo/", &format!("{}/", demo.display()))
        .replace("checks/default/", &format!("{}/", repo().join("pipelines/checks/default").display()))
        .replace("output: .echo-health/demo-out", &format!("output: {}/out\ndatabase: {}/demo.duckdb", dir.display(), dir.display()));
    let p = dir.join("demo.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the binary: exit code, the last stdout line as JSON (Null when it is not), stderr.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = bin().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, String::from_utf8_lossy(&out.stderr).to_string())
}

/// The shared folder (`../shared` beside the repository, or `ECHO_HEALTH_SHARED`). `None`,
/// with a loud message, when it is missing: tests that need it skip instead of failing, so a
/// clone without `../shared` still builds and tests.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("ECHO_HEALTH_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared"),
    };
    if dir.join("fixtures").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! SKIPPED {test}: shared fixtures not found at {} (set ECHO_HEALTH_SHARED to the shared folder) !!!\n",
            dir.display()
        );
        None
    }
}
