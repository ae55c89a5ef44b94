//! `echo-health init DIR`: a commented starter pipeline with an example catalog, an
//! example facts file and the default check pack, which runs (and grades) as written. The files are the ones in
//! `pipelines/starter/` (embedded, so the binary needs no repository).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const FILES: &[(&str, &str)] = &[
    ("pipeline.yaml", include_str!("../../pipelines/starter/pipeline.yaml")),
    ("checks/default/catalog.yaml", include_str!("../../pipelines/checks/default/catalog.yaml")),
    ("checks/default/signals.yaml", include_str!("../../pipelines/checks/default/signals.yaml")),
    ("catalog/catalog-info.yaml", include_str!("../../pipelines/starter/catalog/catalog-info.yaml")),
    ("facts/example.csv", include_str!("../../pipelines/starter/facts/example.csv")),
    (".gitignore", "# run history and outputs of echo-health\n.echo-health/\nout/\n"),
];

/// Writes the starter into `dir`; refuses to overwrite existing files unless `force`.
pub fn init(dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    if !force {
        let existing: Vec<String> =
            FILES.iter().map(|(n, _)| dir.join(n)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
        if !existing.is_empty() {
            bail!("{} already exist{}; use --force to overwrite", existing.join(", "), if existing.len() == 1 { "s" } else { "" });
        }
    }
    let mut written = Vec::new();
    for (name, text) in FILES {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // in the repository the starter reads the default pack from pipelines/checks/; the
        // written copy reads the one written beside it
        let text = if *name == "pipeline.yaml" { text.replace("../checks/default/", "checks/default/") } else { (*text).to_owned() };
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}
