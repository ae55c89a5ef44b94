//! Migration pages: the index (sorted by the risk of missing the deadline), one page per
//! migration (burn-down with the forecast band and the deadline, progress by domain and
//! team, the components left grouped by owner with the facts that keep them there), and the
//! migrations a team owes (on its page).

use chrono::NaiveDate;
use serde::Serialize;

use super::{pct, Base, Context, Link, Page, Site, PAGE_ROWS};
use crate::migrate::forecast::{forecast, Forecast};
use crate::report::data::MigrationData;
use crate::report::svg;

/// Weeks of history the forecast's rate is taken from.
pub const FORECAST_WEEKS: usize = 8;

/// How the forecast is made, as the pages state it.
pub const METHOD: &str = "The forecast takes the number of components left (neither done nor exempt) at the last run of each week, fits a least-squares line over the last 8 weeks, and projects when it reaches zero. The band is the rate plus or minus Student's t (80%, two-sided) times the slope's standard error. With fewer than 3 weekly points it makes no projection.";

#[derive(Serialize)]
pub struct MigrationRow {
    pub link: Link,
    pub owner: Link,
    pub deadline: String,
    pub done: String,
    pub left: usize,
    pub total: usize,
    pub risk: &'static str,
    pub forecast: String,
}

#[derive(Serialize)]
pub struct MigrationsIndex {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub rows: Vec<MigrationRow>,
    pub method: &'static str,
}

#[derive(Serialize)]
pub struct ProgressRow {
    pub link: Link,
    pub total: usize,
    pub done: usize,
    pub left: usize,
    pub share: String,
    /// the scope's own forecast: risk and projected date (or why none)
    pub forecast: String,
}

#[derive(Serialize)]
pub struct LeftRow {
    pub link: Link,
    pub state: String,
    /// the facts `done` reads: value, source and time, or unknown
    pub evidence: String,
}

#[derive(Serialize)]
pub struct OwnerGroup {
    pub owner: Link,
    pub rows: Vec<LeftRow>,
}

#[derive(Serialize)]
pub struct MigrationPage {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub id: String,
    pub heading: String,
    pub description: String,
    pub owner: Option<Link>,
    pub start: String,
    pub deadline: String,
    pub applies_to: String,
    pub done: String,
    pub started: String,
    pub defined_at: String,
    pub counts: Vec<(String, usize)>,
    pub share_done: String,
    pub chart: super::Markup,
    pub risk: &'static str,
    pub forecast: String,
    pub by_domain: Vec<ProgressRow>,
    pub by_system: Vec<ProgressRow>,
    pub by_team: Vec<ProgressRow>,
    pub left: Vec<OwnerGroup>,
    pub left_total: usize,
    pub left_shown: usize,
    pub exemptions: Vec<super::ExemptionRow>,
    pub method: &'static str,
}

/// A migration a team owes: its components not done yet.
#[derive(Serialize)]
pub struct OwedRow {
    pub migration: Link,
    pub deadline: String,
    pub left: usize,
    /// the team's own forecast for it
    pub risk: String,
}

fn is_left(state: &str) -> bool {
    !matches!(state, "done" | "exempt")
}

pub fn migration_path(id: &str) -> String {
    format!("migration/{id}.html")
}

/// A scope's forecast in a few words: `late by 3 weeks (2027-04-02)`, `on track (…)`,
/// `stalled`, `too little history`, `done`.
pub fn scope_forecast(m: &MigrationData, scope: &str, scope_ref: &str) -> String {
    let Some(h) = m.scope_history.get(&(scope.to_owned(), scope_ref.to_owned())) else { return "no history".into() };
    let points: Vec<(NaiveDate, f64)> =
        h.iter().filter_map(|(day, left)| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|d| (d, *left as f64))).collect();
    match forecast(&points, NaiveDate::parse_from_str(&m.deadline, "%Y-%m-%d").ok(), FORECAST_WEEKS) {
        Forecast::Done => "done".into(),
        Forecast::TooLittleHistory { .. } => "too little history".into(),
        Forecast::NoProgress { .. } => "stalled".into(),
        Forecast::Projected { date, late_by_weeks, .. } if late_by_weeks > 0 => format!("late by {late_by_weeks} weeks ({date})"),
        Forecast::Projected { date, .. } => format!("on track ({date})"),
    }
}

/// The forecast of a migration from its history, its risk and its sentence.
pub fn assess(m: &MigrationData) -> (Forecast, &'static str, u8, String) {
    let points: Vec<(NaiveDate, f64)> = m
        .history
        .iter()
        .filter_map(|(day, left, _, _)| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|d| (d, *left as f64)))
        .collect();
    let deadline = NaiveDate::parse_from_str(&m.deadline, "%Y-%m-%d").ok();
    let f = forecast(&points, deadline, FORECAST_WEEKS);
    let (risk, rank, text) = match &f {
        Forecast::Done => ("done", 4, "Done: no component is left.".to_owned()),
        Forecast::TooLittleHistory { weeks, needed } => (
            "no forecast yet",
            2,
            format!(
                "Too little history to forecast: {weeks} weekly point(s), {needed} needed (replay past dates with `echo-health replay`)."
            ),
        ),
        Forecast::NoProgress { rate_per_week, left, needed_per_week } => (
            "stalled",
            1,
            format!(
                "No progress over the recent weeks ({rate_per_week} a week): at this rate the {left} components left are never done.{}",
                needed_per_week.map(|n| format!(" Meeting the deadline needs {n} a week.")).unwrap_or_default()
            ),
        ),
        Forecast::Projected {
            left,
            rate_per_week,
            rate_low,
            rate_high,
            date,
            earliest,
            latest,
            needed_per_week,
            late_by_weeks,
            weeks_used,
        } => {
            let band = match latest {
                Some(l) => format!("between {earliest} and {l}"),
                None => format!("from {earliest}, possibly never (the slow end of the band makes no progress)"),
            };
            let verdict = if *late_by_weeks > 0 {
                format!(" Will miss the deadline by {late_by_weeks} week(s).")
            } else {
                " On track for the deadline.".to_owned()
            };
            let needed = match needed_per_week {
                Some(n) => format!(" Meeting the deadline needs {n} a week."),
                None => " The deadline has passed.".to_owned(),
            };
            (
                if *late_by_weeks > 0 { "late" } else { "on track" },
                if *late_by_weeks > 0 { 0 } else { 3 },
                format!(
                    "At {rate_per_week} a week (80% band {rate_low} to {rate_high}, over {weeks_used} weeks), the {left} components left are done around {date}, {band}.{verdict}{needed}"
                ),
            )
        }
    };
    (f, risk, rank, text)
}

impl Site<'_> {
    /// The migrations index and a page per migration.
    pub(super) fn migration_pages(&self) -> Vec<Page> {
        // the index is always there (the navigation links to it), saying when nothing is tracked
        let d = self.data;
        let mut pages = Vec::new();
        let path = "migrations.html".to_owned();
        let base = self.base(&path, "Migrations".into(), "migrations");
        let root = base.root.clone();
        let mut rows: Vec<(u8, i64, MigrationRow)> = d
            .migrations
            .iter()
            .map(|m| {
                let (f, risk, rank, text) = assess(m);
                let late = match f {
                    Forecast::Projected { late_by_weeks, .. } => late_by_weeks,
                    _ => 0,
                };
                let total = m.states.len();
                let left = m.states.iter().filter(|s| is_left(&s.1)).count();
                let done = m.states.iter().filter(|s| s.1 == "done").count();
                (
                    rank,
                    -late,
                    MigrationRow {
                        link: Link::new(&m.title, Some(&format!("{root}{}", migration_path(&m.id)))),
                        owner: m.owner.as_deref().map(|o| self.link(&root, o)).unwrap_or_else(|| Link::new("", None)),
                        deadline: m.deadline.clone(),
                        done: pct((total > 0).then(|| done as f64 / total as f64)),
                        left,
                        total,
                        risk,
                        forecast: text,
                    },
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(b.2.left.cmp(&a.2.left)));
        pages.push(Page {
            path,
            template: "migrations.html",
            context: Context::Migrations(Box::new(MigrationsIndex { base, rows: rows.into_iter().map(|r| r.2).collect(), method: METHOD })),
        });
        for m in &d.migrations {
            pages.push(self.migration_page(m));
        }
        pages
    }

    fn migration_page(&self, m: &MigrationData) -> Page {
        let d = self.data;
        let path = migration_path(&m.id);
        let base = self.base(&path, format!("{} — migration", m.title), "migrations");
        let root = base.root.clone();
        let (f, risk, _, text) = assess(m);
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for (_, s) in &m.states {
            *counts.entry(s.clone()).or_default() += 1;
        }
        let order = ["not_started", "in_progress", "unknown", "exempt", "done"];
        let counts: Vec<(String, usize)> = order.iter().map(|s| ((*s).replace('_', " "), counts.get(*s).copied().unwrap_or(0))).collect();
        let total = m.states.len();
        let done = m.states.iter().filter(|s| s.1 == "done").count();
        // progress by domain and by owning team
        let progress = |scope: &str, key: &dyn Fn(&str) -> Option<String>| -> Vec<ProgressRow> {
            let mut by: std::collections::BTreeMap<String, (usize, usize)> = std::collections::BTreeMap::new();
            for (e, s) in &m.states {
                let k = key(e).unwrap_or_default();
                let slot = by.entry(k).or_default();
                slot.0 += 1;
                if s == "done" {
                    slot.1 += 1;
                }
            }
            let mut rows: Vec<ProgressRow> = by
                .into_iter()
                .map(|(k, (t, dn))| ProgressRow {
                    link: if k.is_empty() { Link::new("(none)", None) } else { self.link(&root, &k) },
                    total: t,
                    done: dn,
                    left: m.states.iter().filter(|(e, s)| key(e).unwrap_or_default() == k && is_left(s)).count(),
                    share: pct(Some(dn as f64 / t as f64)),
                    // forecasts are kept per domain and team (the history query's cost grows with
                    // each grouping); systems show their progress only
                    forecast: if scope == "system" { String::new() } else { scope_forecast(m, scope, &k) },
                })
                .collect();
            rows.sort_by(|a, b| b.left.cmp(&a.left).then(a.total.cmp(&b.total)));
            rows
        };
        let by_domain = progress("domain", &|e| d.entity(e).and_then(|x| x.domain.clone()));
        let by_system = progress("system", &|e| d.entity(e).and_then(|x| x.system.clone()));
        let by_team = progress("team", &|e| d.entity(e).and_then(|x| x.owner.clone()));
        // the components left, grouped by owner, with the facts that keep them there
        let mut groups: std::collections::BTreeMap<String, Vec<LeftRow>> = std::collections::BTreeMap::new();
        let mut left_total = 0;
        let mut shown = 0;
        for (e, s) in m.states.iter().filter(|s| is_left(&s.1)) {
            left_total += 1;
            if shown >= PAGE_ROWS {
                continue;
            }
            shown += 1;
            let evidence: Vec<String> = m
                .done_facts
                .iter()
                .map(|name| match d.facts.get(e.as_str()).and_then(|fs| fs.iter().find(|f| f.fact.as_str() == Some(name.as_str()))) {
                    Some(f) => format!("{name} = {} ({}, {})", f.value, f.source, f.observed_at),
                    None => format!("{name}: unknown"),
                })
                .collect();
            let owner = d.entity(e).and_then(|x| x.owner.clone()).unwrap_or_default();
            groups.entry(owner).or_default().push(LeftRow {
                link: self.link(&root, e),
                state: s.replace('_', " "),
                evidence: evidence.join("; "),
            });
        }
        let mut left: Vec<OwnerGroup> = groups
            .into_iter()
            .map(|(o, rows)| OwnerGroup { owner: if o.is_empty() { Link::new("(no owner)", None) } else { self.link(&root, &o) }, rows })
            .collect();
        left.sort_by(|a, b| b.rows.len().cmp(&a.rows.len()));
        let points: Vec<(NaiveDate, f64)> = m
            .history
            .iter()
            .filter_map(|(day, l, _, _)| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|dd| (dd, *l as f64)))
            .collect();
        let deadline = NaiveDate::parse_from_str(&m.deadline, "%Y-%m-%d").unwrap_or(self.today);
        let band = match f {
            Forecast::Projected { date, earliest, latest, .. } => Some((date, earliest, latest)),
            _ => None,
        };
        Page {
            path,
            template: "migration.html",
            context: Context::Migration(Box::new(MigrationPage {
                id: m.id.clone(),
                heading: m.title.clone(),
                description: m.description.clone(),
                owner: m.owner.as_deref().map(|o| self.link(&root, o)),
                start: m.start.clone().unwrap_or_default(),
                deadline: m.deadline.clone(),
                applies_to: m.applies_to.clone(),
                done: m.done.clone(),
                started: m.started.clone().unwrap_or_default(),
                defined_at: m.defined_at.clone(),
                counts,
                share_done: pct((total > 0).then(|| done as f64 / total as f64)),
                chart: svg::burndown(&points, deadline, band, 640, 200).into(),
                risk,
                forecast: text,
                by_domain,
                by_system,
                by_team,
                left,
                left_total,
                left_shown: shown,
                exemptions: m.exemptions.iter().map(|x| self.exemption_row(&root, x)).collect(),
                method: METHOD,
                base,
            })),
        }
    }

    /// The migrations whose components include `members` not done yet (for the page of team
    /// `team`), with the team's own forecast.
    pub(super) fn owed(&self, root: &str, team: &str, members: &[&str]) -> Vec<OwedRow> {
        let set: std::collections::BTreeSet<&str> = members.iter().copied().collect();
        self.data
            .migrations
            .iter()
            .filter_map(|m| {
                let left = m.states.iter().filter(|(e, s)| set.contains(e.as_str()) && is_left(s)).count();
                (left > 0).then(|| OwedRow {
                    migration: Link::new(&m.title, Some(&format!("{root}{}", migration_path(&m.id)))),
                    deadline: m.deadline.clone(),
                    left,
                    risk: scope_forecast(m, "team", team),
                })
            })
            .collect()
    }
}
