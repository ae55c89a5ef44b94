//! Exports written from a run: `catalog.json`, the merged catalog in the shape of
//! Backstage's `GET /entities/by-query` answer (`{items, totalItems, pageInfo}`), entities
//! in Backstage's JSON shape with relations, sorted by ref. Every file is written to a
//! temporary file beside its target and renamed into place, so a reader never sees half.

pub mod run;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::catalog::{backstage_json, Catalog};

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("export path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The catalog export as JSON.
pub fn catalog_json(catalog: &Catalog) -> Value {
    let items: Vec<Value> = catalog.entities.iter().map(|e| backstage_json(e, catalog.relations_of(&e.ref_str))).collect();
    json!({"items": items, "totalItems": catalog.entities.len(), "pageInfo": {}})
}

/// Writes `catalog.json` into `dir`; returns its path.
pub fn write_catalog(catalog: &Catalog, dir: &Path) -> Result<std::path::PathBuf> {
    let path = dir.join("catalog.json");
    let mut bytes = serde_json::to_vec_pretty(&catalog_json(catalog))?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)?;
    Ok(path)
}
