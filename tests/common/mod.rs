//! Shared helpers for integration tests: where the shared fixtures live.
#![allow(dead_code)]

use std::path::PathBuf;

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
