//! `echo-health summary PIPELINE`: a short Markdown report of what changed between the
//! latest completed run and the one before it (levels by domain and team, migrations, new
//! failures), fit for a CI job summary or a pull-request comment. Catalog text is escaped
//! for Markdown tables (no raw HTML, no table breaks).

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::{Context, Result};
use duckdb::{params, Connection, OptionalExt};

use crate::store::sql;

/// Rows per table before "and N more".
const ROWS: usize = 15;

/// Markdown-safe text: table pipes, HTML and link brackets escaped, one line.
pub fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => o.push_str("\\|"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '[' | ']' | '`' | '*' | '_' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// `kind:namespace/name` → `name` (namespace kept when not default).
fn short(r: &str) -> String {
    let rest = r.split_once(':').map(|x| x.1).unwrap_or(r);
    rest.strip_prefix("default/").unwrap_or(rest).to_owned()
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "n/a".into())
}

fn pts(new: Option<f64>, old: Option<f64>) -> String {
    match (new, old) {
        (Some(n), Some(o)) => format!(" ({:+.1} pts)", (n - o) * 100.0),
        _ => String::new(),
    }
}

struct RunRow {
    run_id: String,
    status: String,
    as_of: String,
    grading_id: Option<String>,
    mean_score: Option<f64>,
    levels: BTreeMap<String, i64>,
    /// level names, lowest first
    ladder: Vec<String>,
}

/// The Markdown summary of pipeline `pipeline`'s latest completed run.
pub fn markdown(conn: &Connection, pipeline: &str) -> Result<String> {
    let mut st = conn.prepare(sql::SUMMARY_RUNS)?;
    let runs: Vec<RunRow> = st
        .query_map(params![pipeline], |r| {
            Ok(RunRow {
                run_id: r.get(0)?,
                status: r.get(1)?,
                as_of: r.get(2)?,
                grading_id: r.get(3)?,
                mean_score: r.get(4)?,
                levels: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
                ladder: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let Some(cur) = runs.first() else { anyhow::bail!("pipeline {pipeline} has no completed run in this database") };
    let prev = runs.get(1);
    let mut out = String::new();
    let _ = writeln!(out, "## echo-health · {}\n", md(pipeline));
    // the newest run found nothing changed: say so before the last comparison with changes
    let unchanged: Option<(String, String, String)> =
        conn.query_row(sql::SUMMARY_UNCHANGED_SINCE, params![pipeline], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
    if let Some((id, started, same_as)) = unchanged {
        let _ = writeln!(
            out,
            "Run `{id}` (started {} UTC) found nothing changed since run `{same_as}`: same catalog, facts, configuration and date. What follows is that run.\n",
            started.get(..19).unwrap_or(&started)
        );
    }
    let _ = write!(out, "Run `{}` ({}), facts as of {} UTC", cur.run_id, cur.status, cur.as_of.get(..19).unwrap_or(&cur.as_of));
    match prev {
        Some(p) => {
            let _ = writeln!(out, "; compared with run `{}` (facts as of {} UTC).\n", p.run_id, p.as_of.get(..19).unwrap_or(&p.as_of));
        }
        None => {
            let _ = writeln!(out, ". First run: nothing to compare with yet.\n");
        }
    }
    // levels
    if cur.grading_id.is_some() {
        // the ladder's order, highest first, then "none" and anything else
        let mut names: Vec<&String> =
            cur.levels.keys().chain(prev.map(|p| p.levels.keys().collect::<Vec<_>>()).unwrap_or_default()).collect();
        let rank = |l: &String| cur.ladder.iter().position(|x| x == l).map(|i| -(i as i64)).unwrap_or(1);
        names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
        names.dedup();
        let parts: Vec<String> = names
            .iter()
            .map(|l| {
                let n = cur.levels.get(*l).copied().unwrap_or(0);
                match prev {
                    Some(p) => format!("{} {n} ({:+})", md(l), n - p.levels.get(*l).copied().unwrap_or(0)),
                    None => format!("{} {n}", md(l)),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "**Levels:** {}. **Mean score** {}{}.\n",
            parts.join(" · "),
            pct(cur.mean_score),
            pts(cur.mean_score, prev.and_then(|p| p.mean_score))
        );
    }
    if let (Some(g_new), Some(p)) = (&cur.grading_id, prev) {
        if let Some(g_old) = &p.grading_id {
            scope_changes(conn, &mut out, g_old, g_new)?;
            new_failures(conn, &mut out, g_old, g_new)?;
        }
    }
    migrations(conn, &mut out, pipeline, cur, prev)?;
    Ok(out)
}

fn scope_changes(conn: &Connection, out: &mut String, old: &str, new: &str) -> Result<()> {
    let mut st = conn.prepare(sql::SUMMARY_SCOPE_CHANGES)?;
    let rows: Vec<(String, String, i64, i64, Option<f64>, Option<f64>)> = st
        .query_map(params![old, new], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<_, _>>()?;
    for (scope, heading) in [("domain", "Domain"), ("team", "Team")] {
        let list: Vec<_> = rows.iter().filter(|r| r.0 == scope).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### Levels by {scope}\n\n| {heading} | Up | Down | Mean score |\n|---|--:|--:|--:|");
        for r in list.iter().take(ROWS) {
            let _ = writeln!(out, "| {} | {} | {} | {}{} |", md(&short(&r.1)), r.2, r.3, pct(r.5), pts(r.5, r.4));
        }
        if list.len() > ROWS {
            let _ = writeln!(out, "\n…and {} more.", list.len() - ROWS);
        }
        out.push('\n');
    }
    Ok(())
}

fn new_failures(conn: &Connection, out: &mut String, old: &str, new: &str) -> Result<()> {
    let mut st = conn.prepare(sql::SUMMARY_NEW_FAILURES)?;
    let rows: Vec<(String, Option<String>, String, String)> =
        st.query_map(params![old, new], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
    if rows.is_empty() {
        let _ = writeln!(out, "No new failures.\n");
        return Ok(());
    }
    let _ = writeln!(out, "### New failures ({})\n\n| Component | Owner | Check | Was |\n|---|---|---|---|", rows.len());
    for r in rows.iter().take(ROWS) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&short(&r.0)),
            md(&r.1.as_deref().map(short).unwrap_or_default()),
            md(&r.2),
            md(&r.3)
        );
    }
    if rows.len() > ROWS {
        let _ = writeln!(out, "\n…and {} more.", rows.len() - ROWS);
    }
    out.push('\n');
    Ok(())
}

fn migrations(conn: &Connection, out: &mut String, pipeline: &str, cur: &RunRow, prev: Option<&RunRow>) -> Result<()> {
    let mut st = conn.prepare(sql::SUMMARY_MIGRATIONS)?;
    let prev_id = prev.map(|p| p.run_id.clone()).unwrap_or_default();
    let rows: Vec<(String, String, String, i64, i64, i64, i64)> = st
        .query_map(params![prev_id, cur.run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(());
    }
    let info = super::data::RunInfo {
        run_id: cur.run_id.clone(),
        pipeline: pipeline.to_owned(),
        started_at: String::new(),
        finished_at: String::new(),
        status: cur.status.clone(),
        as_of: cur.as_of.clone(),
        entities: 0,
        facts: 0,
        errors: 0,
        warnings: 0,
    };
    let data = super::data::load_migrations(conn, &info).context("reading the migrations' history")?;
    let _ = writeln!(
        out,
        "### Migrations\n\n| Migration | Done | Since previous run | Left | Deadline | Forecast |\n|---|--:|--:|--:|---|---|"
    );
    for (id, title, deadline, done, left, total, done_before) in &rows {
        let risk = data.iter().find(|m| &m.id == id).map(|m| super::site::migrations::assess(m).1).unwrap_or("n/a");
        let since = if prev.is_some() { format!("{:+}", done - done_before) } else { "n/a".into() };
        let share = if *total > 0 { format!(" ({:.0}%)", *done as f64 * 100.0 / *total as f64) } else { String::new() };
        let _ = writeln!(out, "| {} | {done} of {total}{share} | {since} | {left} | {deadline} | {risk} |", md(title));
    }
    out.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_text_cannot_break_the_table_or_inject_html() {
        assert_eq!(md("a|b <script>x</script> [link](javascript:1)"), "a\\|b &lt;script&gt;x&lt;/script&gt; \\[link\\](javascript:1)");
        assert_eq!(short("component:default/payments"), "payments");
        assert_eq!(short("group:ops/sre"), "ops/sre");
    }
}
