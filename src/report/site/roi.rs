//! The tech-debt ROI page for leaders: the cost model with every assumption shown, the
//! estimate per domain and team ranked by what paying down debt returns, the components
//! behind each number with their facts, and the method and its limits.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Base, Context, Link, Page, Site};
use crate::roi::{Inputs, Model, CITATION};

/// Components listed by cost.
pub const ROI_COMPONENTS: usize = 100;

#[derive(Serialize)]
pub struct Assumption {
    pub name: &'static str,
    pub value: String,
    pub why: &'static str,
}

#[derive(Serialize)]
pub struct RoiRow {
    pub link: Link,
    pub known: usize,
    pub unknown: usize,
    pub changes: String,
    pub unhealthy_share: String,
    pub excess_hours: String,
    pub cost: String,
    pub annual: String,
}

#[derive(Serialize)]
pub struct RoiComponent {
    pub link: Link,
    pub owner: Link,
    /// the facts behind the row: value, source, time
    pub evidence: String,
    pub unhealthy_share: String,
    pub excess_hours: String,
    pub cost: String,
}

#[derive(Serialize)]
pub struct RoiPage {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub configured: bool,
    pub currency: String,
    pub assumptions: Vec<Assumption>,
    pub citation: &'static str,
    pub known: usize,
    pub unknown: usize,
    pub cost: String,
    pub annual: String,
    pub excess_hours: String,
    pub change_hours: String,
    pub domains: Vec<RoiRow>,
    pub teams: Vec<RoiRow>,
    pub components: Vec<RoiComponent>,
    pub unknown_reasons: Vec<(String, usize)>,
}

/// `12,345`.
fn grouped(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[derive(Default)]
struct Sum {
    known: usize,
    unknown: usize,
    changes: f64,
    change_hours: f64,
    unhealthy_hours: f64,
    excess_hours: f64,
    cost: f64,
}

impl Site<'_> {
    pub(super) fn roi_page(&self) -> Page {
        let d = self.data;
        let path = "roi.html".to_owned();
        let base = self.base(&path, "Tech-debt ROI".into(), "roi");
        let root = base.root.clone();
        let Some(m) = d.roi.clone() else {
            return Page { path, template: "roi.html", context: Context::Roi(Box::new(empty(base))) };
        };
        let num = |e: &str, fact: &str| -> Option<(f64, String)> {
            let f = d.facts.get(e)?.iter().find(|f| f.fact.as_str() == Some(fact))?;
            let v: f64 = f.value.parse().ok()?;
            Some((v, format!("{fact} = {} ({}, {})", f.value, f.source, f.observed_at)))
        };
        let mut by_domain: BTreeMap<String, Sum> = BTreeMap::new();
        let mut by_team: BTreeMap<String, Sum> = BTreeMap::new();
        let mut total = Sum::default();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut rows: Vec<(f64, RoiComponent)> = Vec::new();
        for e in d.entities.iter().filter(|e| e.kind.eq_ignore_ascii_case("component")) {
            let changes = num(&e.entity_ref, &m.change_fact);
            let health = num(&e.entity_ref, &m.health_fact);
            let hotspots = num(&e.entity_ref, crate::roi::HOTSPOTS_FACT);
            let red = num(&e.entity_ref, crate::roi::RED_HOTSPOTS_FACT);
            let inputs = Inputs {
                changes: changes.as_ref().map(|x| x.0),
                health: health.as_ref().map(|x| x.0),
                hotspots: hotspots.as_ref().map(|x| x.0),
                red_hotspots: red.as_ref().map(|x| x.0),
            };
            let domain = e.domain.clone().unwrap_or_default();
            let team = e.owner.clone().unwrap_or_default();
            match m.estimate(&inputs) {
                Ok(est) => {
                    for s in [&mut total, by_domain.entry(domain).or_default(), by_team.entry(team).or_default()] {
                        s.known += 1;
                        s.changes += inputs.changes.unwrap_or(0.0);
                        s.change_hours += est.change_hours;
                        s.unhealthy_hours += est.change_hours * est.unhealthy_share;
                        s.excess_hours += est.excess_hours;
                        s.cost += est.cost;
                    }
                    if est.cost > 0.0 {
                        let evidence: Vec<String> = [changes, health, hotspots, red].into_iter().flatten().map(|x| x.1).collect();
                        rows.push((
                            est.cost,
                            RoiComponent {
                                link: self.link(&root, &e.entity_ref),
                                owner: e.owner.as_deref().map(|o| self.link(&root, o)).unwrap_or_else(|| Link::new("", None)),
                                evidence: evidence.join("; "),
                                unhealthy_share: format!("{:.0}%", est.unhealthy_share * 100.0),
                                excess_hours: grouped(est.excess_hours),
                                cost: grouped(est.cost),
                            },
                        ));
                    }
                }
                Err(why) => {
                    *reasons.entry(why).or_default() += 1;
                    for s in [&mut total, by_domain.entry(domain).or_default(), by_team.entry(team).or_default()] {
                        s.unknown += 1;
                    }
                }
            }
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let table = |map: BTreeMap<String, Sum>| -> Vec<RoiRow> {
            let mut v: Vec<(f64, RoiRow)> = map
                .into_iter()
                .map(|(k, s)| {
                    (
                        s.cost,
                        RoiRow {
                            link: if k.is_empty() { Link::new("(none)", None) } else { self.link(&root, &k) },
                            known: s.known,
                            unknown: s.unknown,
                            changes: grouped(s.changes),
                            unhealthy_share: if s.change_hours > 0.0 {
                                format!("{:.0}%", s.unhealthy_hours / s.change_hours * 100.0)
                            } else if s.known > 0 {
                                "0%".into()
                            } else {
                                "unknown".into()
                            },
                            excess_hours: if s.known > 0 { grouped(s.excess_hours) } else { "unknown".into() },
                            cost: if s.known > 0 { grouped(s.cost) } else { "unknown".into() },
                            annual: if s.known > 0 { grouped(s.cost * 4.0) } else { "unknown".into() },
                        },
                    )
                })
                .collect();
            v.sort_by(|a, b| b.0.total_cmp(&a.0));
            v.into_iter().map(|x| x.1).collect()
        };
        let page = RoiPage {
            configured: true,
            currency: m.currency.clone(),
            assumptions: assumptions(&m),
            citation: CITATION,
            known: total.known,
            unknown: total.unknown,
            cost: grouped(total.cost),
            annual: grouped(total.cost * 4.0),
            excess_hours: grouped(total.excess_hours),
            change_hours: grouped(total.change_hours),
            domains: table(by_domain),
            teams: table(by_team),
            components: rows.into_iter().take(ROI_COMPONENTS).map(|r| r.1).collect(),
            unknown_reasons: reasons.into_iter().collect(),
            base,
        };
        Page { path, template: "roi.html", context: Context::Roi(Box::new(page)) }
    }
}

fn empty(base: Base) -> RoiPage {
    RoiPage {
        base,
        configured: false,
        currency: String::new(),
        assumptions: Vec::new(),
        citation: CITATION,
        known: 0,
        unknown: 0,
        cost: String::new(),
        annual: String::new(),
        excess_hours: String::new(),
        change_hours: String::new(),
        domains: Vec::new(),
        teams: Vec::new(),
        components: Vec::new(),
        unknown_reasons: Vec::new(),
    }
}

fn assumptions(m: &Model) -> Vec<Assumption> {
    vec![
        Assumption { name: "hourly_cost", value: format!("{} {}", m.hourly_cost, m.currency), why: "Loaded cost of one engineering hour (salary, overhead). Your finance team's figure." },
        Assumption { name: "hours_per_change", value: format!("{} h", m.hours_per_change), why: "Hours of development work behind one merged pull request." },
        Assumption { name: "change_fact", value: m.change_fact.clone(), why: "The fact counting changes over 90 days (a quarter)." },
        Assumption { name: "health_fact", value: m.health_fact.clone(), why: "The fact giving the code health (1-10) of the component's hotspots, where changes land." },
        Assumption {
            name: "unhealthy_below",
            value: format!("{}", m.unhealthy_below),
            why: "Code health below which code counts as unhealthy (Code Red's low-quality code is CodeScene's red, below 4), used when the share of red hotspots is not known.",
        },
        Assumption {
            name: "extra_time",
            value: format!("{:.0}%", m.extra_time * 100.0),
            why: "Extra development time in unhealthy code: Code Red measured 124% more time to resolve issues in low-quality code.",
        },
        Assumption { name: "defect_multiplier", value: format!("{}×", m.defect_multiplier), why: "Defects in unhealthy code relative to healthy code: Code Red measured 15 times more." },
        Assumption {
            name: "defect_hours_per_change",
            value: format!("{} h", m.defect_hours_per_change),
            why: "Hours of defect work a change causes in healthy code. Not from the study: set it from your incident data.",
        },
    ]
}
