//! Grading: checks as data (YAML packs of SQL expressions), evaluated set-based in DuckDB
//! over the wide fact view of a run; outcomes pass / fail / unknown / error / exempt /
//! not_applicable with evidence; levels on a ladder, scores with coverage, roll-ups by
//! domain, system and team; gates that fail a run. Grading reads stored facts only, so any
//! past run can be graded again with today's checks (`regrade`) or a candidate pack
//! (`plan`, which writes nothing).

pub mod engine;
pub mod gates;
pub mod known_facts;
pub mod pack;
pub mod plan;
pub mod sqlexpr;

use std::path::PathBuf;

use duckdb::Connection;

use crate::config::{ConfigError, ConfigErrors, Pipeline};
use engine::{build_wide, Setup, CATALOG_COLUMNS};
use sqlexpr::{FactSet, FactType};

/// The facts checks of a pipeline may read: echo-health's own sources' facts and those the
/// pipeline's fact-file sources declare.
pub fn fact_set(p: &Pipeline) -> FactSet {
    let mut set = FactSet::default();
    for (name, ty, _) in known_facts::KNOWN_FACTS {
        set.facts.insert((*name).to_owned(), *ty);
    }
    for src in &p.facts {
        for (name, ty) in src.declares() {
            set.facts.insert(name, ty);
        }
    }
    set
}

/// Reads and validates the pipeline's check packs and exemptions: every problem at once,
/// with file:line, including SQL that DuckDB cannot prepare or that is not boolean. `None`
/// when the pipeline does not grade.
pub fn setup(p: &Pipeline) -> Result<Option<Setup>, ConfigErrors> {
    let Some(g) = &p.grading else { return Ok(None) };
    let facts = fact_set(p);
    let pack = pack::load_packs(&g.checks, &g.levels, &facts, CATALOG_COLUMNS)?;
    validate_sql(&pack, &facts)?;
    let exemptions = pack::load_exemptions(&g.exemptions, &pack)?;
    if let Some(w) = &g.weight_fact {
        if facts.facts.get(w) != Some(&FactType::Number) {
            return Err(ConfigErrors(vec![ConfigError {
                file: p.file.display().to_string(),
                line: 1,
                message: format!("grading.weight_fact \"{w}\" is not a numeric fact any source declares"),
            }]));
        }
    }
    gates::validate(p, &g.gates, &facts)?;
    Ok(Some(Setup { ladder: g.levels.clone(), pack, exemptions, facts, weight_fact: g.weight_fact.clone() }))
}

/// The setup of a pipeline with its packs replaced by `packs` (for `plan`): exemptions
/// naming checks the candidate packs do not have are left out, not errors.
pub fn setup_with_packs(p: &Pipeline, packs: &[PathBuf]) -> Result<Setup, ConfigErrors> {
    let g = p.grading.clone().unwrap_or(crate::config::Grading {
        checks: vec![],
        levels: vec!["bronze".into(), "silver".into(), "gold".into()],
        exemptions: vec![],
        weight_fact: None,
        gates: vec![],
    });
    let facts = fact_set(p);
    let pack = pack::load_packs(packs, &g.levels, &facts, CATALOG_COLUMNS)?;
    validate_sql(&pack, &facts)?;
    let ids: std::collections::HashSet<String> = pack.checks.iter().map(|c| c.id.clone()).collect();
    let exemptions = match pack::load_exemptions(&g.exemptions, &pack) {
        Ok(x) => x,
        Err(_) => {
            // unknown check ids are expected when a candidate pack drops checks
            let mut lenient = Vec::new();
            for f in &g.exemptions {
                if let Ok(xs) = pack::load_exemptions(std::slice::from_ref(f), &pack_with_all_ids(&pack, f)) {
                    lenient.extend(xs.into_iter().filter(|x| ids.contains(&x.check_id)));
                }
            }
            lenient
        }
    };
    Ok(Setup { ladder: g.levels.clone(), pack, exemptions, facts, weight_fact: g.weight_fact.clone() })
}

/// A pack that accepts every check id an exemption file names (for lenient loading).
fn pack_with_all_ids(pack: &pack::Pack, file: &std::path::Path) -> pack::Pack {
    let mut p = pack.clone();
    if let Ok(text) = std::fs::read_to_string(file) {
        if let Ok(Some(v)) = crate::yaml::parse_single(&text) {
            if let Some(items) = v.get("exemptions").and_then(|x| x.as_array()) {
                for it in items {
                    if let Some(id) = it.get("check").and_then(|x| x.as_str()) {
                        if !p.checks.iter().any(|c| c.id == id) {
                            if let Some(first) = pack.checks.first() {
                                let mut c = first.clone();
                                c.id = id.to_owned();
                                p.checks.push(c);
                            }
                        }
                    }
                }
            }
        }
    }
    p
}

/// An empty database with the schema and an empty wide view, to prepare SQL against.
pub fn scratch_connection(facts: &FactSet) -> anyhow::Result<Connection> {
    let store = crate::store::Store::open_in_memory()?;
    let conn = store.into_connection();
    build_wide(&conn, "", chrono::Utc::now(), facts)?;
    Ok(conn)
}

/// Prepares every check's SQL against an empty wide view: it must parse, bind and be
/// boolean.
pub fn validate_sql(pack: &pack::Pack, facts: &FactSet) -> Result<(), ConfigErrors> {
    let conn = scratch_connection(facts).map_err(|e| {
        ConfigErrors(vec![ConfigError { file: "(grading)".into(), line: 0, message: format!("cannot prepare a scratch database: {e:#}") }])
    })?;
    let mut errors = Vec::new();
    for c in &pack.checks {
        for (what, e) in [("applies_to", &c.applies_to), ("pass", &c.pass)] {
            let q = format!("describe select ({}) as x from eh_wide", e.sql);
            let ty: Result<String, duckdb::Error> = conn.query_row(&q, [], |r| r.get(1));
            match ty {
                Ok(t) if t == "BOOLEAN" || t == "\"NULL\"" || t == "NULL" => {}
                Ok(t) => errors.push(ConfigError {
                    file: c.file.clone(),
                    line: c.line,
                    message: format!("check {}: {what} must be a boolean expression, but it is {t}: {}", c.id, e.source),
                }),
                Err(err) => errors.push(ConfigError {
                    file: c.file.clone(),
                    line: c.line,
                    message: format!("check {}: {what} is not valid SQL here: {}", c.id, first_line(&err.to_string())),
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

fn first_line(s: &str) -> String {
    s.lines().take(2).collect::<Vec<_>>().join(" ")
}

/// Paths of the pack shipped with echo-health, for pipelines and tests.
pub fn default_pack_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/checks/default.yaml")
}
