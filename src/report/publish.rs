//! Publishing a folder atomically: every file is written into a fresh temporary folder beside
//! the target, and the folder is swapped in only when complete (an atomic exchange of the two
//! directories where the file system allows it). A failed or killed render leaves the
//! previous folder as it was. Files whose bytes did not change are hard-linked from the
//! previous folder instead of written, so they keep their inode and modification time and a
//! sync to a static host sees no change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::SiteStats;

/// Removes leftovers of renders that were killed (`.<name>.tmp-*`, `.<name>.old-*`).
fn clean_leftovers(parent: &Path, name: &str) {
    let Ok(rd) = std::fs::read_dir(parent) else { return };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!(".{name}.tmp-")) || n.starts_with(&format!(".{name}.old-")) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Swaps directory `new` in at `target` (which may not exist yet).
pub(crate) fn swap_in(new: &Path, target: &Path, old: &Path) -> Result<()> {
    if !target.exists() {
        std::fs::rename(new, target).with_context(|| format!("moving {} to {}", new.display(), target.display()))?;
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let a = std::ffi::CString::new(new.as_os_str().as_bytes())?;
        let b = std::ffi::CString::new(target.as_os_str().as_bytes())?;
        // SAFETY: both paths are NUL-terminated C strings that live across the call.
        let rc = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
        if rc == 0 {
            // `new` now holds the previous site
            std::fs::rename(new, old).ok();
            return Ok(());
        }
    }
    // no atomic exchange here: two renames (the target is missing for an instant)
    std::fs::rename(target, old).with_context(|| format!("moving {} aside", target.display()))?;
    std::fs::rename(new, target).with_context(|| format!("moving {} to {}", new.display(), target.display()))?;
    Ok(())
}

/// A folder being published: files are added one by one (written into the temporary
/// folder, or linked from the previous one when unchanged) and the folder is swapped in by
/// [`Publisher::finish`]. Dropped without `finish` (an error on the way), it removes its
/// temporary folder and the previous folder stays.
pub struct Publisher {
    target: PathBuf,
    tmp: PathBuf,
    old: PathBuf,
    dirs: std::collections::HashSet<PathBuf>,
    stats: SiteStats,
    finished: bool,
}

impl Publisher {
    pub fn new(target: &Path) -> Result<Publisher> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "site".into());
        clean_leftovers(parent, &name);
        let pid = std::process::id();
        let tmp: PathBuf = parent.join(format!(".{name}.tmp-{pid}"));
        let old: PathBuf = parent.join(format!(".{name}.old-{pid}"));
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Publisher {
            target: target.to_path_buf(),
            tmp,
            old,
            dirs: Default::default(),
            stats: SiteStats {
                pages: 0,
                written: 0,
                unchanged: 0,
                bytes: 0,
                largest_page: String::new(),
                largest_bytes: 0,
                dir: target.to_path_buf(),
            },
            finished: false,
        })
    }

    /// Adds a file at `rel` (a relative path built by the site, never free text).
    pub fn add(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.tmp.join(rel);
        if let Some(d) = dest.parent() {
            if !self.dirs.contains(d) {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
                self.dirs.insert(d.to_path_buf());
            }
        }
        let prev = self.target.join(rel);
        let same = std::fs::metadata(&prev).map(|m| m.len() == bytes.len() as u64).unwrap_or(false)
            && std::fs::read(&prev).map(|b| b == bytes).unwrap_or(false);
        if same && std::fs::hard_link(&prev, &dest).is_ok() {
            self.stats.unchanged += 1;
        } else {
            std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
            self.stats.written += 1;
        }
        if rel.ends_with(".html") {
            self.stats.pages += 1;
            if bytes.len() as u64 > self.stats.largest_bytes {
                self.stats.largest_bytes = bytes.len() as u64;
                self.stats.largest_page = rel.to_owned();
            }
        }
        self.stats.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Swaps the complete folder in.
    pub fn finish(mut self) -> Result<SiteStats> {
        swap_in(&self.tmp, &self.target, &self.old)?;
        self.finished = true;
        let _ = std::fs::remove_dir_all(&self.old);
        Ok(self.stats.clone())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.tmp);
            let _ = std::fs::remove_dir_all(&self.old);
        }
    }
}

/// Publishes `files` (relative path, bytes) as the folder `target`.
pub fn publish(target: &Path, files: &[(String, Vec<u8>)]) -> Result<SiteStats> {
    let mut p = Publisher::new(target)?;
    for (rel, bytes) in files {
        p.add(rel, bytes)?;
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn unchanged_files_keep_their_inode_and_changed_ones_are_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        let files = vec![("index.html".to_owned(), b"a".to_vec()), ("x/y.html".to_owned(), b"b".to_vec())];
        let s1 = publish(&site, &files).unwrap();
        assert_eq!((s1.written, s1.unchanged), (2, 0));
        let ino = std::fs::metadata(site.join("x/y.html")).unwrap().ino();
        let files2 = vec![("index.html".to_owned(), b"changed".to_vec()), ("x/y.html".to_owned(), b"b".to_vec())];
        let s2 = publish(&site, &files2).unwrap();
        assert_eq!((s2.written, s2.unchanged), (1, 1));
        assert_eq!(std::fs::metadata(site.join("x/y.html")).unwrap().ino(), ino, "unchanged page not rewritten");
        assert_eq!(std::fs::read(site.join("index.html")).unwrap(), b"changed");
        // a page that disappears from the site is gone; no temporary folders are left behind
        publish(&site, &files2[..1]).unwrap();
        assert!(!site.join("x/y.html").exists());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("site")]);
    }

    #[test]
    fn a_failed_render_leaves_the_previous_site_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        publish(&site, &[("index.html".to_owned(), b"old".to_vec())]).unwrap();
        // a path that cannot be written (a file where a folder is needed)
        let bad = vec![("a.html".to_owned(), b"new".to_vec()), ("a.html/b.html".to_owned(), b"x".to_vec())];
        assert!(publish(&site, &bad).is_err());
        assert_eq!(std::fs::read(site.join("index.html")).unwrap(), b"old");
        assert!(!site.join("a.html").exists());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("site")]);
    }
}
