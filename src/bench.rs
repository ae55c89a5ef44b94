//! The catalog benchmark: parse, validate and assemble a descriptor folder (by default the
//! 10,000-component synthetic organisation) and report CPU time (user + system), wall time
//! and peak memory of the process, measured with `getrusage`.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::catalog::files::{read_catalog, FilesOptions};
use crate::catalog::Catalog;

/// Process CPU time and peak resident memory so far.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_mb: f64,
}

pub fn usage() -> Usage {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage { user_s: tv(ru.ru_utime), sys_s: tv(ru.ru_stime), max_rss_mb: ru.ru_maxrss as f64 / 1024.0 }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub files: usize,
    pub bytes: u64,
    pub documents: usize,
    pub entities: usize,
    pub relations: usize,
    pub problems: usize,
    /// CPU seconds (user + system) of reading, parsing, validating and assembling
    pub cpu_s: f64,
    /// of which reading, parsing and validating the files (what Backstage's validator does)
    pub parse_validate_cpu_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub wall_s: f64,
    /// peak resident memory of the whole process
    pub peak_rss_mb: f64,
}

/// Reads the catalog below `dir` once and measures it.
pub fn bench_catalog(dir: &Path) -> BenchResult {
    let before = usage();
    let t0 = Instant::now();
    let out = read_catalog(&[".".to_owned()], &FilesOptions::new(dir));
    let (files, bytes) = (out.files_read, out.bytes_read);
    let documents = out.reports.len();
    let mid = usage();
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    let wall = t0.elapsed().as_secs_f64();
    let after = usage();
    let r = BenchResult {
        files,
        bytes,
        documents,
        entities: catalog.entities.len(),
        relations: catalog.relations.len(),
        problems: catalog.error_count(),
        cpu_s: (after.user_s - before.user_s) + (after.sys_s - before.sys_s),
        parse_validate_cpu_s: (mid.user_s - before.user_s) + (mid.sys_s - before.sys_s),
        user_s: after.user_s - before.user_s,
        sys_s: after.sys_s - before.sys_s,
        wall_s: wall,
        peak_rss_mb: after.max_rss_mb,
    };
    drop(catalog);
    r
}
