//! Gates: conditions a pipeline requires of a grading. A violated gate makes `run` exit 1
//! after everything is stored and exported.
//! * `min_level`: every graded entity (matching the optional `where`, an SQL condition over
//!   the wide view) holds at least that level;
//! * `min_mean_score`: the mean score of a roll-up scope (`domain:…`, `system:…` or
//!   `group:…` for a team) is at least the value.

use crate::store::sql;
use duckdb::{params, Connection};
use serde::{Deserialize, Serialize};

use super::engine::CATALOG_COLUMNS;
use super::sqlexpr::{analyse, FactSet};
use crate::config::{ConfigError, ConfigErrors, Gate, Pipeline};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// entities or scopes that violate it (at most 20 listed)
    pub violations: Vec<String>,
}

/// Checks gate definitions against the ladder and the facts.
pub fn validate(p: &Pipeline, gates: &[Gate], facts: &FactSet) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    let ladder = p.grading.as_ref().map(|g| g.levels.clone()).unwrap_or_default();
    for g in gates {
        match g {
            Gate::MinLevel { name, level, where_sql, line } => {
                if !ladder.contains(level) {
                    errors.push(ConfigError {
                        file: p.file.display().to_string(),
                        line: *line,
                        message: format!("gate \"{name}\": level \"{level}\" is not on the ladder ({})", ladder.join(" < ")),
                    });
                }
                if let Some(w) = where_sql {
                    if let Err(m) = analyse(w, facts, CATALOG_COLUMNS) {
                        errors.push(ConfigError {
                            file: p.file.display().to_string(),
                            line: *line,
                            message: format!("gate \"{name}\": where: {m}"),
                        });
                    }
                }
            }
            Gate::MinMeanScore { name, value, scope, line } => {
                if !(0.0..=1.0).contains(value) {
                    errors.push(ConfigError {
                        file: p.file.display().to_string(),
                        line: *line,
                        message: format!("gate \"{name}\": min_mean_score must be between 0 and 1"),
                    });
                }
                if scope_kind(scope).is_none() {
                    errors.push(ConfigError {
                        file: p.file.display().to_string(),
                        line: *line,
                        message: format!("gate \"{name}\": scope \"{scope}\" must be a domain:, system: or group: ref"),
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

fn scope_kind(scope: &str) -> Option<&'static str> {
    match scope.split(':').next()? {
        "domain" => Some("domain"),
        "system" => Some("system"),
        "group" => Some("team"),
        _ => None,
    }
}

/// Evaluates the gates on a grading (needs the grading's `eh_wide` for `where`).
pub fn evaluate(
    conn: &Connection,
    grading_id: &str,
    ladder: &[String],
    gates: &[Gate],
    facts: &FactSet,
) -> anyhow::Result<Vec<GateResult>> {
    let mut out = Vec::new();
    for g in gates {
        match g {
            Gate::MinLevel { name, level, where_sql, .. } => {
                let idx = ladder.iter().position(|l| l == level).unwrap_or(0) as i64;
                let cond = match where_sql {
                    Some(w) => analyse(w, facts, CATALOG_COLUMNS).map_err(anyhow::Error::msg)?.sql,
                    None => "true".into(),
                };
                let q = super::engine::fill(sql::GATE_MIN_LEVEL, &[("where", &cond)]);
                let mut st = conn.prepare(&q)?;
                let rows: Vec<(String, String)> =
                    st.query_map(params![grading_id, idx], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                out.push(GateResult {
                    name: name.clone(),
                    passed: rows.is_empty(),
                    detail: format!("{} entit{} below {level}", rows.len(), if rows.len() == 1 { "y" } else { "ies" }),
                    violations: rows.iter().take(20).map(|(e, l)| format!("{e} ({l})")).collect(),
                });
            }
            Gate::MinMeanScore { name, value, scope, .. } => {
                let kind = scope_kind(scope).unwrap_or("domain");
                let score: Option<Option<f64>> = conn.query_row(sql::SCOPE_MEAN_SCORE, params![grading_id, kind, scope], |r| r.get(0)).ok();
                let (passed, detail) = match score {
                    Some(Some(s)) => (s >= *value, format!("mean score of {scope} is {s:.3} (required {value:.3})")),
                    Some(None) => (false, format!("{scope} has no known score (required {value:.3})")),
                    None => (false, format!("{scope} has no graded entity (required mean score {value:.3})")),
                };
                out.push(GateResult { name: name.clone(), passed, detail, violations: if passed { vec![] } else { vec![scope.clone()] } });
            }
        }
    }
    conn.execute(sql::SET_GATES, params![serde_json::to_string(&out)?, grading_id])?;
    Ok(out)
}
