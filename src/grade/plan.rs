//! Differences between two gradings of the same run: which components change level, which
//! checks cause it, and how each owning team is affected. Used by `plan` (a candidate pack,
//! graded in a transaction that is rolled back) and `regrade` (stored beside the original).

use crate::store::sql;
use std::collections::BTreeMap;

use anyhow::Result;
use duckdb::{params, Connection};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LevelChange {
    pub entity_ref: String,
    pub owner: Option<String>,
    pub before: String,
    pub after: String,
    /// levels gained (positive) or lost (negative)
    pub delta: i64,
    /// checks whose outcome changed in a way that matters: (check, before, after)
    pub causes: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub before: String,
    pub after: String,
    pub changes: Vec<LevelChange>,
    /// owner → (components up, components down)
    pub teams: BTreeMap<String, (usize, usize)>,
}

/// Compares grading `after` with grading `before` (components only).
pub fn diff(conn: &Connection, before: &str, after: &str) -> Result<Diff> {
    let mut st = conn.prepare(sql::LEVEL_CHANGES)?;
    let rows: Vec<(String, Option<String>, String, String, i64)> =
        st.query_map(params![before, after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
    let mut cause_st = conn.prepare(sql::OUTCOME_CHANGES)?;
    let mut changes = Vec::new();
    let mut teams: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (entity_ref, owner, b, a, delta) in rows {
        let causes: Vec<(String, String, String)> = cause_st
            .query_map(params![after, entity_ref, before, entity_ref], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let t = teams.entry(owner.clone().unwrap_or_else(|| "(no owner)".into())).or_default();
        if delta > 0 {
            t.0 += 1;
        } else {
            t.1 += 1;
        }
        changes.push(LevelChange { entity_ref, owner, before: b, after: a, delta, causes });
    }
    Ok(Diff { before: before.to_owned(), after: after.to_owned(), changes, teams })
}

impl Diff {
    /// A plain-text report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let up = self.changes.iter().filter(|c| c.delta > 0).count();
        let down = self.changes.len() - up;
        out.push_str(&format!("{} components change level ({up} up, {down} down)\n", self.changes.len()));
        for c in &self.changes {
            out.push_str(&format!("  {}: {} -> {} (owner {})\n", c.entity_ref, c.before, c.after, c.owner.as_deref().unwrap_or("none")));
            for (check, b, a) in &c.causes {
                out.push_str(&format!("      {check}: {b} -> {a}\n"));
            }
        }
        if !self.teams.is_empty() {
            out.push_str("by team:\n");
            for (team, (u, d)) in &self.teams {
                out.push_str(&format!("  {team}: {u} up, {d} down\n"));
            }
        }
        out
    }
}
