//! Check packs and exemption files: YAML read strictly, every problem reported at once with
//! file:line (duplicate ids, unknown levels, facts no source declares, anything that is not
//! one expression). SQL that DuckDB cannot prepare is found by [`super::validate_sql`].

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::sqlexpr::{analyse, Expr, FactSet};
use crate::config::reader::{each_root, Errs, Obj};
use crate::config::ConfigErrors;
use crate::yaml::PValue;

/// Default `applies_to`: every Component.
pub const DEFAULT_APPLIES_TO: &str = "kind = 'Component'";

/// A check, validated.
#[derive(Debug, Clone)]
pub struct Check {
    /// stable snake_case id, never renamed
    pub id: String,
    pub title: String,
    /// why it matters
    pub description: String,
    /// how to fix it (may hold links)
    pub remediation: String,
    pub level: String,
    /// position of `level` in the ladder (0 = lowest)
    pub level_index: usize,
    pub weight: f64,
    pub applies_to: Expr,
    pub pass: Expr,
    /// where it is defined
    pub file: String,
    pub line: usize,
}

/// The checks of a pipeline (all its packs), in definition order.
#[derive(Debug, Clone, Default)]
pub struct Pack {
    pub checks: Vec<Check>,
    pub files: Vec<PathBuf>,
}

/// Reason codes of exemptions.
pub const REASONS: &[&str] = &["not-applicable", "remediated", "false-positive", "accepted-risk"];

/// An exemption of one entity from one check, until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    pub entity: String,
    pub check_id: String,
    pub reason: String,
    pub approver: String,
    pub justification: String,
    /// last day it counts (inclusive)
    pub expires: NaiveDate,
    pub file: String,
    pub line: usize,
}

/// An expression: a string, or a YAML boolean (`pass: true`) taken as its SQL text.
pub(crate) fn expr_text(o: &mut Obj<'_>, key: &'static str, errs: &mut Errs<'_>) -> Option<String> {
    let n = o.get(key)?;
    match &n.value {
        PValue::String(s) => Some(s.clone()),
        PValue::Bool(b) => Some(b.to_string()),
        _ => {
            errs.push(n.line, format!("{}.{key} must be an SQL expression (a string)", o.path));
            None
        }
    }
}

pub(crate) fn is_snake_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Reads the packs, in order. `levels` is the ladder, `facts` what checks may read,
/// `columns` the catalog columns of the wide view.
pub fn load_packs(files: &[PathBuf], levels: &[String], facts: &FactSet, columns: &[&str]) -> Result<Pack, ConfigErrors> {
    let mut errors = Vec::new();
    let mut pack = Pack { checks: Vec::new(), files: files.to_vec() };
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    each_root(
        files,
        "check pack",
        Some("the check pack is empty"),
        &["name", "description", "checks"],
        &mut errors,
        |shown, root, mut errs| {
            let shown = shown.to_owned();
            let _name = root.string("name", &mut errs);
            let _about = root.string("description", &mut errs);
            for (path, n) in root.list("checks", &mut errs) {
                let Some(mut o) = Obj::new(&shown, path.clone(), n, &mut errs) else { continue };
                let line = n.line;
                let id = o.required_string("id", &mut errs).unwrap_or_default();
                let title = o.required_string("title", &mut errs).unwrap_or_default();
                let description = o.required_string("description", &mut errs).unwrap_or_default();
                let remediation = o.required_string("remediation", &mut errs).unwrap_or_default();
                let level = o.required_string("level", &mut errs).unwrap_or_default();
                let weight = o.float("weight", &mut errs).unwrap_or(1.0);
                let applies = expr_text(&mut o, "applies_to", &mut errs).unwrap_or_else(|| DEFAULT_APPLIES_TO.to_owned());
                let pass = expr_text(&mut o, "pass", &mut errs);
                if pass.is_none() && o.node.find(&["pass"]).is_none() {
                    errs.push(line, format!("{path}.pass is required"));
                }
                let node = o.node;
                o.finish(&["id", "title", "description", "remediation", "level", "weight", "applies_to", "pass"], &mut errs);
                if !id.is_empty() && !is_snake_id(&id) {
                    errs.push(line, format!("{path}.id \"{id}\" must be snake_case: a-z, 0-9 and _, starting with a letter"));
                }
                if !id.is_empty() {
                    if let Some((f0, l0)) = seen.get(&id) {
                        errs.push(line, format!("duplicate check id \"{id}\" (first defined at {f0}:{l0})"));
                    } else {
                        seen.insert(id.clone(), (shown.clone(), line));
                    }
                }
                let level_index = levels.iter().position(|l| *l == level);
                if !level.is_empty() && level_index.is_none() {
                    errs.push(line, format!("{path}.level \"{level}\" is not a level of the ladder ({})", levels.join(" < ")));
                }
                if !(weight.is_finite() && weight > 0.0) {
                    errs.push(line, format!("{path}.weight must be a number above 0"));
                }
                let applies_to = match analyse(&applies, facts, columns) {
                    Ok(e) => Some(e),
                    Err(m) => {
                        errs.push(node.key_line(&["applies_to"]).unwrap_or(line), format!("{path}.applies_to: {m}"));
                        None
                    }
                };
                let pass = pass.and_then(|p| match analyse(&p, facts, columns) {
                    Ok(e) => Some(e),
                    Err(m) => {
                        errs.push(node.key_line(&["pass"]).unwrap_or(line), format!("{path}.pass: {m}"));
                        None
                    }
                });
                if let (Some(applies_to), Some(pass), Some(level_index)) = (applies_to, pass, level_index) {
                    pack.checks.push(Check {
                        id,
                        title,
                        description,
                        remediation,
                        level,
                        level_index,
                        weight,
                        applies_to,
                        pass,
                        file: shown.clone(),
                        line,
                    });
                }
            }
        },
    );
    if errors.is_empty() {
        Ok(pack)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Reads exemption files. Unknown check ids are errors here; unknown entities are found
/// when the catalog is known (see [`super::engine`]).
pub fn load_exemptions(files: &[PathBuf], pack: &Pack) -> Result<Vec<Exemption>, ConfigErrors> {
    let ids: HashSet<&str> = pack.checks.iter().map(|c| c.id.as_str()).collect();
    load_exemptions_of(files, "check", &ids, "a check of this pipeline's packs")
}

/// Reads exemption files whose entries name `key` (`check`, or `migration` for migration
/// exemptions: same format and expiry rules) among `ids`.
pub fn load_exemptions_of(files: &[PathBuf], key: &'static str, ids: &HashSet<&str>, what: &str) -> Result<Vec<Exemption>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    each_root(files, "exemptions file", None, &["exemptions"], &mut errors, |shown, root, mut errs| {
        let shown = shown.to_owned();
        for (path, n) in root.list("exemptions", &mut errs) {
            let Some(mut o) = Obj::new(&shown, path.clone(), n, &mut errs) else { continue };
            let entity = o.required_string("entity", &mut errs).unwrap_or_default();
            let check_id = o.required_string(key, &mut errs).unwrap_or_default();
            let reason = o.required_string("reason", &mut errs).unwrap_or_default();
            let approver = o.required_string("approver", &mut errs).unwrap_or_default();
            let justification = o.required_string("justification", &mut errs).unwrap_or_default();
            let expires_node = o.get("expires");
            o.finish(&["entity", key, "reason", "approver", "justification", "expires"], &mut errs);
            if !reason.is_empty() && !REASONS.contains(&reason.as_str()) {
                errs.push(n.line, format!("{path}.reason \"{reason}\" is not one of {}", REASONS.join(", ")));
            }
            if !check_id.is_empty() && !ids.contains(check_id.as_str()) {
                errs.push(n.line, format!("{path}.{key} \"{check_id}\" is not {what}"));
            }
            let expires = match expires_node.map(|x| (&x.value, x.line)) {
                None => {
                    errs.push(n.line, format!("{path}.expires is required: every exemption ends (YYYY-MM-DD)"));
                    None
                }
                Some((PValue::String(s), l)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        errs.push(l, format!("{path}.expires \"{s}\" is not a date (YYYY-MM-DD)"));
                        None
                    }
                },
                Some((_, l)) => {
                    errs.push(l, format!("{path}.expires must be a date written YYYY-MM-DD"));
                    None
                }
            };
            let entity_ref = match crate::catalog::EntityRef::parse_loose(&entity) {
                Ok(r) => r.to_string(),
                Err(e) => {
                    if !entity.is_empty() {
                        errs.push(n.line, format!("{path}.entity: {e}"));
                    }
                    String::new()
                }
            };
            if let Some(expires) = expires {
                if !entity_ref.is_empty() && !check_id.is_empty() {
                    out.push(Exemption {
                        entity: entity_ref,
                        check_id,
                        reason,
                        approver,
                        justification,
                        expires,
                        file: shown.clone(),
                        line: n.line,
                    });
                }
            }
        }
    });
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Resolves pack or exemption paths relative to the pipeline folder.
pub fn resolve(dir: &Path, paths: &[String]) -> Vec<PathBuf> {
    paths.iter().map(|p| crate::catalog::files::normalize(&dir.join(p))).collect()
}
