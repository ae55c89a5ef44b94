//! What a run's grades and pages are made of, as one SHA-256: echo-health's version, the
//! date graded, the configuration (every file the pipeline names), the catalog as read
//! (entities, relations, documents, problems) and the facts' values (without when they were
//! observed or the evidence text, which carries read times), and the sources' errors (not
//! their warnings, which a source repeats only when it reads again). Two runs with the same
//! fingerprint grade and render alike: the second is recorded as `unchanged` and nothing is
//! stored, graded, exported or rewritten (design §8, "unchanged runs").

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::config::Pipeline;
use crate::sources::SourceOutput;

/// A `Write` into the digest (serde_json writes straight into it).
struct Sink(Sha256);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn file(h: &mut Sink, path: &Path) {
    let _ = write!(h, "\nfile {}\n", path.display());
    match std::fs::read(path) {
        Ok(bytes) => h.0.update(&bytes),
        Err(e) => {
            let _ = write!(h, "unreadable: {e}");
        }
    }
}

/// The fingerprint of a collected run (hex SHA-256).
pub fn fingerprint(p: &Pipeline, catalog: &Catalog, sources: &[SourceOutput], as_of: DateTime<Utc>) -> String {
    let mut h = Sink(Sha256::new());
    let _ = write!(h, "echo-health {}\nas_of {}\n", env!("CARGO_PKG_VERSION"), as_of.date_naive());
    // configuration: the pipeline file and every file it names
    file(&mut h, &p.file);
    if let Some(g) = &p.grading {
        for f in g.checks.iter().chain(&g.exemptions) {
            file(&mut h, f);
        }
    }
    for f in p.migrations.iter().chain(&p.migration_exemptions).chain(&p.reports) {
        file(&mut h, f);
    }
    // custom reports bring their own query and template files
    if let Ok(custom) = crate::report::custom::load(&p.reports, &p.dir) {
        let _ = write!(h, "\nreports {custom:?}");
    }
    // the catalog as read
    let mut entities: Vec<&crate::catalog::Entity> = catalog.entities.iter().collect();
    entities.sort_by(|a, b| a.ref_str.cmp(&b.ref_str));
    for e in entities {
        let _ = write!(h, "\nentity {} {}:{}:{} ", e.ref_str, e.origin.file, e.origin.doc, e.origin.line);
        let _ = serde_json::to_writer(&mut h, &e.value);
    }
    let mut rels: Vec<String> = catalog.relations.iter().map(|r| format!("{} {} {}", r.source, r.rel_type, r.target)).collect();
    rels.sort_unstable();
    for r in rels {
        let _ = write!(h, "\nrel {r}");
    }
    for d in &catalog.reports {
        let _ = write!(h, "\ndoc {} {} {} {} {:?} {:?}", d.file, d.doc, d.line, d.status.as_str(), d.entity_ref, d.error);
    }
    for e in &catalog.errors {
        let _ = write!(h, "\nerror {} {:?} {:?} {:?} {}", e.kind.as_str(), e.file, e.line, e.entity, e.message);
    }
    // the facts' values, and what each source reported
    for s in sources {
        let _ = write!(h, "\nsource {} unavailable={}", s.name, s.unavailable);
        let mut facts: Vec<&crate::sources::Fact> = s.facts.iter().collect();
        facts.sort_by(|a, b| (&a.entity_ref, &a.fact, &a.source).cmp(&(&b.entity_ref, &b.fact, &b.source)));
        for f in facts {
            let _ = write!(h, "\nfact {} {} {} ", f.entity_ref, f.fact, f.source);
            let _ = serde_json::to_writer(&mut h, &f.value);
        }
        // errors, not warnings: a source repeats its warnings only when it reads again (GitHub
        // warns of unreadable alerts when it reads a repository, not when its snapshot stands)
        let mut errors: Vec<String> = s
            .errors
            .iter()
            .filter(|e| e.kind.severity() == "error")
            .map(|e| format!("{} {:?} {:?} {}", e.kind.as_str(), e.location, e.entity, e.message))
            .collect();
        errors.sort_unstable();
        for e in errors {
            let _ = write!(h, "\nsource-error {e}");
        }
    }
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
