//! The pages of the site and their view models, built from one run's [`RunData`]. Rust does
//! every lookup, count and ranking here; templates only format. Paths are built from
//! validated entity refs and check ids (`<kind>/<namespace>/<name>.html`), never from free
//! text; external links keep only http, https and mailto URLs.

use std::collections::{BTreeMap, BTreeSet};

use super::fx::{HashMap, HashSet};

use serde::Serialize;

pub mod migrations;
pub mod roi;

use super::data::{Entity, RunData};
use super::svg::{self, Node, Segment};

/// Rows of a long list per page (check pages are split into numbered pages beyond this,
/// which keeps every page under 200 KB).
pub const PAGE_ROWS: usize = 700;
/// Relations listed on an entity page (the rest are counted): a library every service
/// depends on would otherwise make a page of thousands of rows.
pub const RELATIONS_SHOWN: usize = 100;
/// Rows of an index page (domains, systems, teams) per page.
pub const INDEX_ROWS: usize = 300;
/// Components listed on a team page before child groups' components are left to their pages.
pub const TEAM_ROWS: usize = 300;
/// Problems listed on the data-quality page.
pub const QUALITY_ROWS: usize = 2000;
/// Exemptions expiring within this many days of the run are "about to expire".
pub const EXPIRING_DAYS: i64 = 30;

/// A page to render: where, with which template, from which view model.
pub struct Page {
    pub path: String,
    pub template: &'static str,
    pub context: Context,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum Context {
    Overview(Box<Overview>),
    Scope(Box<ScopePage>),
    Entity(Box<EntityPage>),
    Check(Box<CheckPage>),
    Quality(Box<Quality>),
    Index(Box<IndexPage>),
    Migration(Box<migrations::MigrationPage>),
    Migrations(Box<migrations::MigrationsIndex>),
    Roi(Box<roi::RoiPage>),
}

impl Context {
    /// What every page has.
    pub fn base(&self) -> &Base {
        match self {
            Context::Overview(p) => &p.base,
            Context::Scope(p) => &p.base,
            Context::Entity(p) => &p.base,
            Context::Check(p) => &p.base,
            Context::Quality(p) => &p.base,
            Context::Index(p) => &p.base,
            Context::Migration(p) => &p.base,
            Context::Migrations(p) => &p.base,
            Context::Roi(p) => &p.base,
        }
    }

    /// What a template reads: the page's values, then the common ones.
    pub fn value(&self) -> minijinja::Value {
        minijinja::context! { ..minijinja::Value::from_serialize(self), ..minijinja::Value::from_serialize(self.base()) }
    }

    /// The view model as JSON, the common values included (goldens, debugging).
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let (Some(m), Ok(serde_json::Value::Object(b))) = (v.as_object_mut(), serde_json::to_value(self.base())) {
            m.extend(b);
        }
        v
    }
}

/// What every page has.
#[derive(Serialize, Clone)]
pub struct Base {
    /// relative path to the site root ("", "../", "../../")
    pub root: String,
    pub title: String,
    /// navigation section: overview, domains, systems, teams, checks, quality
    pub section: &'static str,
    pub run_id: String,
    pub pipeline: String,
    pub started_at: String,
    pub status: String,
    pub grading_id: String,
    pub as_of: String,
}

/// A link as escaped HTML: `<a href="…">text</a>`, or the text alone when there is no page
/// (or the URL is not safe). Shared: the same link on thousands of pages is one value.
#[derive(Clone, Debug)]
pub struct Link(pub minijinja::Value);

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Link {
    /// `href` is relative to the page (built by the site) or a safe external URL.
    pub fn new(text: &str, href: Option<&str>) -> Link {
        Link(minijinja::Value::from_safe_string(match href {
            Some(h) => format!("<a href=\"{}\">{}</a>", svg::esc(h), svg::esc(text)),
            None => svg::esc(text),
        }))
    }
}

/// Markup we generated: an SVG chart or diagram, every value in it escaped by [`svg`]. Handed
/// to templates as safe text (a `|safe` filter would copy it on every page).
#[derive(Clone, Debug)]
pub struct Markup(pub minijinja::Value);

impl Default for Markup {
    /// No markup (an empty text, not an undefined value)
    fn default() -> Markup {
        Markup::from(String::new())
    }
}

impl Serialize for Markup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl From<String> for Markup {
    fn from(html: String) -> Markup {
        Markup(minijinja::Value::from_safe_string(html))
    }
}

/// A level as a coloured label (escaped HTML), one value per level.
pub type LevelBadge = Link;

#[derive(Serialize)]
pub struct ScopeRow {
    pub link: Link,
    pub entities: i64,
    pub bar: Markup,
    pub mean_score: String,
    pub mean_coverage: String,
    pub trend: String,
}

#[derive(Serialize)]
pub struct SourceRow {
    pub source: String,
    pub facts: i64,
    pub entities: i64,
    /// share of graded components with at least one fact from it
    pub coverage: String,
    pub oldest: String,
    pub newest: String,
    pub errors: usize,
}

#[derive(Serialize)]
pub struct Overview {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub components: i64,
    pub levels: Vec<(LevelBadge, i64)>,
    pub bar: Markup,
    pub mean_score: String,
    pub mean_coverage: String,
    pub trend: Markup,
    pub trend_runs: usize,
    pub domains: Vec<ScopeRow>,
    pub worst_domains: Vec<ScopeRow>,
    pub sources: Vec<SourceRow>,
    pub errors: i64,
    pub warnings: i64,
    pub rejected: usize,
    pub gates: Vec<GateRow>,
    /// the pipeline's own reports
    pub reports: Vec<Link>,
}

#[derive(Serialize)]
pub struct GateRow {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Serialize)]
pub struct ComponentRow {
    pub link: Link,
    pub level: LevelBadge,
    pub score: String,
    pub coverage: String,
    pub owner: Link,
    /// checks holding its next level back
    pub blocking: Vec<Link>,
}

#[derive(Serialize)]
pub struct ActionRow {
    pub check: Link,
    pub level: String,
    /// components that reach their next level by fixing this check alone
    pub unblocks: usize,
    /// components whose next level this check holds back
    pub holds_back: usize,
}

#[derive(Serialize)]
pub struct ExemptionRow {
    pub entity: Link,
    pub check: Link,
    pub reason: String,
    pub approver: String,
    pub justification: String,
    pub expires: String,
    pub status: String,
}

/// A domain, system or team page.
#[derive(Serialize)]
pub struct ScopePage {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub kind: &'static str,
    pub entity_ref: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<Link>,
    pub parent: Option<Link>,
    pub entities: i64,
    pub levels: Vec<(LevelBadge, i64)>,
    pub bar: Markup,
    pub mean_score: String,
    pub mean_coverage: String,
    pub weighted_mean_score: Option<String>,
    pub trend: Markup,
    pub trend_delta: Option<String>,
    /// subdomains, systems of a domain, child groups of a team
    pub children_title: String,
    pub children: Vec<ScopeRow>,
    pub components: Rows<ComponentRow>,
    /// what the components list leaves out, if anything
    pub components_note: Option<String>,
    /// subdomains, systems or child groups not listed (beyond INDEX_ROWS)
    pub children_more: usize,
    pub actions: Vec<ActionRow>,
    pub expiring: Vec<ExemptionRow>,
    pub diagram: Option<Markup>,
    /// migrations the team's components still owe (team pages)
    pub migrations: Vec<migrations::OwedRow>,
}

/// A fact a check read, as shown beside its outcome (names, sources and times are shared
/// template values: the same few thousand appear on every page).
#[derive(Serialize)]
pub struct Evidence {
    pub fact: minijinja::Value,
    /// None: absent
    pub value: Option<String>,
    pub source: Option<minijinja::Value>,
    pub observed_at: Option<minijinja::Value>,
}

/// Rendered check rows kept at most (a bound on memory: numeric facts make many rows unique).
const ROW_CACHE_MAX: usize = 50_000;

/// What a check row on an entity page is made of, borrowed from the run: two rows with equal
/// inputs render to the same HTML, so each distinct row is rendered once (booleans, small
/// counts and one observation time per source make most rows repeat across pages). Hashing
/// and comparing these needs no allocation, unlike building the row to compare it.
#[derive(Clone, Copy)]
struct RowInputs<'a> {
    check: usize,
    outcome: u8,
    /// the facts the check reads
    reads: &'a [String],
    /// the entity's facts
    facts: &'a [super::data::Fact],
    /// missing facts or error
    detail: Option<&'a (String, Option<String>)>,
    exemption: Option<&'a super::data::Exemption>,
}

impl<'a> RowInputs<'a> {
    /// The evidence of each fact the check reads: (value, source, observed) or absent.
    fn evidence(&self) -> impl Iterator<Item = Option<&'a super::data::Fact>> + 'a {
        let facts = self.facts;
        self.reads.iter().map(move |f| facts.iter().find(|x| x.fact.as_str() == Some(f.as_str())))
    }
}

impl std::hash::Hash for RowInputs<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.check.hash(h);
        self.outcome.hash(h);
        self.detail.hash(h);
        if let Some(x) = self.exemption {
            (&x.reason, &x.approver, &x.expires, &x.justification).hash(h);
        }
        for e in self.evidence() {
            match e {
                Some(f) => (1u8, &f.value, f.source.as_str(), f.observed_at.as_str()).hash(h),
                None => 0u8.hash(h),
            }
        }
    }
}

impl PartialEq for RowInputs<'_> {
    fn eq(&self, o: &Self) -> bool {
        fn ex(x: Option<&super::data::Exemption>) -> Option<(&str, &str, &str, &str)> {
            x.map(|x| (x.reason.as_str(), x.approver.as_str(), x.expires.as_str(), x.justification.as_str()))
        }
        self.check == o.check
            && self.outcome == o.outcome
            && self.detail == o.detail
            && ex(self.exemption) == ex(o.exemption)
            && self.evidence().zip(o.evidence()).all(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => {
                    a.value == b.value && a.source.as_str() == b.source.as_str() && a.observed_at.as_str() == b.observed_at.as_str()
                }
                (None, None) => true,
                _ => false,
            })
    }
}

impl Eq for RowInputs<'_> {}

/// Rows of a table that repeat across pages (an entity page's checks, a scope page's
/// components): rendered already, as one HTML text (when the site renders: each distinct row
/// is rendered once and shared), or the values of each row (view models on their own, as
/// the goldens show them).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Rows<T> {
    Html(minijinja::Value),
    Full(Vec<T>),
}

#[derive(Serialize)]
pub struct CheckRow {
    /// the check's link, as escaped HTML (built once per check)
    pub check: minijinja::Value,
    pub level: minijinja::Value,
    pub outcome: &'static str,
    pub evidence: Vec<Evidence>,
    pub missing: String,
    pub error: Option<String>,
    pub remediation: Option<minijinja::Value>,
    pub exemption: Option<String>,
}

#[derive(Serialize)]
pub struct RelRow {
    pub relation: String,
    pub link: Link,
    pub level: Option<LevelBadge>,
}

#[derive(Serialize)]
pub struct EntityPage {
    #[serde(skip)]
    pub base: Base,
    pub entity_ref: String,
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner: Option<Link>,
    pub system: Option<Link>,
    pub domain: Option<Link>,
    pub tags: Vec<String>,
    pub links: Vec<Link>,
    pub source: String,
    pub graded: bool,
    pub level: LevelBadge,
    pub next_level: Option<String>,
    pub score: String,
    pub coverage: String,
    pub counts: String,
    pub checks: Rows<CheckRow>,
    pub relations: Vec<RelRow>,
    /// relations beyond the first RELATIONS_SHOWN (a library everyone depends on)
    pub relations_more: usize,
    pub diagram: Markup,
}

#[derive(Serialize)]
pub struct OutcomeRow {
    pub entity: Link,
    pub outcome: &'static str,
    pub owner: Link,
    pub detail: String,
}

#[derive(Serialize)]
pub struct CheckPage {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub id: String,
    pub check_title: String,
    pub description: String,
    pub remediation: String,
    pub level: String,
    pub weight: String,
    pub applies_to: String,
    pub pass: String,
    pub defined_at: String,
    pub counts: Vec<(&'static str, usize)>,
    pub rows: Vec<OutcomeRow>,
    /// 1-based page of `pages`
    pub page: usize,
    pub pages: Vec<Link>,
    pub rows_total: usize,
}

#[derive(Serialize)]
pub struct ProblemRow {
    pub severity: String,
    pub stage: String,
    pub source: String,
    pub kind: String,
    pub location: String,
    pub entity: Link,
    pub message: String,
}

#[derive(Serialize)]
pub struct RejectedRow {
    pub location: String,
    pub status: String,
    pub entity: String,
    pub error: String,
}

#[derive(Serialize)]
pub struct Quality {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub sources: Vec<SourceRow>,
    pub problems: Vec<ProblemRow>,
    pub problems_total: usize,
    pub entities_with_errors: Vec<Link>,
    pub rejected: Vec<RejectedRow>,
    pub unknown_by_fact: Vec<(String, usize)>,
}

#[derive(Serialize)]
pub struct IndexRow {
    pub link: Link,
    pub cells: Vec<String>,
    pub bar: Markup,
}

#[derive(Serialize)]
pub struct IndexPage {
    /// rendered beside the page's own values (not flattened into them: a flattened struct
    /// becomes a sorted map of values, slower to build and to look up in every template)
    #[serde(skip)]
    pub base: Base,
    pub heading: String,
    pub columns: Vec<String>,
    pub rows: Vec<IndexRow>,
    /// links to the pages of a long list (empty when it fits on one)
    pub pages: Vec<Link>,
    pub rows_total: usize,
}

/// Keeps a link only when its scheme is http, https or mailto.
pub fn safe_url(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    matches!(u.scheme(), "http" | "https" | "mailto").then(|| u.to_string())
}

/// The page of an entity ref (`kind:namespace/name`, lower-cased), relative to the root.
pub fn entity_path(entity_ref: &str) -> Option<String> {
    let (kind, rest) = entity_ref.split_once(':')?;
    let (ns, name) = rest.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && !s.starts_with('.');
    (ok(kind) && ok(ns) && ok(name)).then(|| format!("{kind}/{ns}/{name}.html"))
}

pub fn check_path(id: &str, page: usize) -> String {
    if page <= 1 {
        format!("check/{id}.html")
    } else {
        format!("check/{id}-{page}.html")
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}%", v * 100.0)).unwrap_or_else(|| "–".into())
}

/// Everything needed to build pages, computed once.
pub struct Site<'a> {
    pub data: &'a RunData,
    /// refs that have a page, sorted
    pub paged: Vec<&'a str>,
    paged_set: HashSet<&'a str>,
    /// component → checks holding its next level back (positions)
    pub blocking: HashMap<&'a str, Vec<usize>>,
    /// scope member lists: (scope, ref) → graded components
    pub members: HashMap<(&'static str, String), Vec<&'a str>>,
    /// group → child groups; domain → subdomains; domain → systems
    pub child_groups: BTreeMap<String, Vec<String>>,
    pub subdomains: BTreeMap<String, Vec<String>>,
    pub domain_systems: BTreeMap<String, Vec<String>>,
    pub parent: HashMap<String, String>,
    /// check id → position
    pub check_pos: HashMap<&'a str, usize>,
    /// the run's start date (YYYY-MM-DD), for exemptions about to expire
    pub today: chrono::NaiveDate,
    /// per check, shared by every entity page: its link from `<kind>/<ns>/<name>.html` pages
    /// (escaped HTML), level and remediation
    check_html: Vec<minijinja::Value>,
    check_level: Vec<minijinja::Value>,
    check_fix: Vec<minijinja::Value>,
    check_level_index: Vec<i64>,
    /// fact name → shared value
    fact_names: HashMap<String, minijinja::Value>,
    /// the pipeline's custom reports: (title, page), listed on the overview
    pub custom: Vec<(String, String)>,
    /// system → its components (every one, graded or not)
    system_components: HashMap<&'a str, Vec<&'a Entity>>,
    /// per page depth: entity ref → its diagram label and page
    #[allow(clippy::type_complexity)]
    parts_cache: std::cell::RefCell<Vec<HashMap<String, (std::rc::Rc<str>, Option<std::rc::Rc<str>>)>>>,
    /// the templates, when rows are rendered once and shared (None: every row in its page)
    pub env: Option<&'a minijinja::Environment<'static>>,
    /// rendered check rows by what they show (check, outcome, evidence, notes): rows repeat
    /// across pages (booleans, small counts, one observation time per source and run)
    row_cache: std::cell::RefCell<HashMap<RowInputs<'a>, minijinja::Value>>,
    /// component → its row on scope pages (depth 2), rendered
    component_rows: std::cell::RefCell<HashMap<&'a str, minijinja::Value>>,
    /// entity → its active exemptions (with their place in the run's list)
    exemptions: HashMap<&'a str, Vec<(usize, &'a super::data::Exemption)>>,
    /// per page depth: entity ref → its link
    link_cache: std::cell::RefCell<Vec<HashMap<String, Link>>>,
    /// "none", then each level of the ladder
    badges: Vec<LevelBadge>,
}

impl<'a> Site<'a> {
    pub fn new(data: &'a RunData) -> Site<'a> {
        let mut paged: Vec<&str> = Vec::new();
        for e in &data.entities {
            let kind = e.kind.to_ascii_lowercase();
            if (data.grades.contains_key(&e.entity_ref) || matches!(kind.as_str(), "component" | "domain" | "system" | "group"))
                && entity_path(&e.entity_ref).is_some()
            {
                paged.push(&e.entity_ref);
            }
        }
        paged.sort_unstable();
        paged.dedup();
        let paged_set: HashSet<&str> = paged.iter().copied().collect();
        let check_level_index: Vec<i64> =
            data.checks.iter().map(|c| data.ladder.iter().position(|l| *l == c.level).map(|p| p as i64).unwrap_or(-1)).collect();
        let mut blocking = HashMap::default();
        for (r, g) in &data.grades {
            let next = g.level_index + 1;
            let b: Vec<usize> = (0..data.checks.len())
                .filter(|i| check_level_index[*i] == next && matches!(g.outcomes.get(*i), Some(b'F' | b'U' | b'E')))
                .collect();
            blocking.insert(r.as_str(), b);
        }
        let mut parent = HashMap::default();
        let mut child_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut subdomains: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut domain_systems: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &data.entities {
            for (rel, target) in data.relations.get(&e.entity_ref).map(Vec::as_slice).unwrap_or(&[]) {
                let kind = e.kind.to_ascii_lowercase();
                if rel == "childOf" && kind == "group" {
                    child_groups.entry(target.clone()).or_default().push(e.entity_ref.clone());
                    parent.insert(e.entity_ref.clone(), target.clone());
                }
                if rel == "partOf" && kind == "domain" && target.starts_with("domain:") {
                    subdomains.entry(target.clone()).or_default().push(e.entity_ref.clone());
                    parent.insert(e.entity_ref.clone(), target.clone());
                }
                if rel == "partOf" && kind == "system" && target.starts_with("domain:") {
                    domain_systems.entry(target.clone()).or_default().push(e.entity_ref.clone());
                    parent.insert(e.entity_ref.clone(), target.clone());
                }
            }
        }
        // scope members: the same membership the roll-ups use
        let mut members: HashMap<(&'static str, String), Vec<&str>> = HashMap::default();
        let mut dom_anc: HashMap<&str, Vec<String>> = HashMap::default();
        for e in &data.entities {
            if e.kind != "Component" || !data.grades.contains_key(&e.entity_ref) {
                continue;
            }
            if let Some(d) = &e.domain {
                let anc = dom_anc.entry(d.as_str()).or_insert_with(|| {
                    let mut out = Vec::new();
                    let mut cur = Some(d.clone());
                    while let Some(c) = cur {
                        if out.contains(&c) || data.entity(&c).is_none() {
                            break;
                        }
                        cur = parent.get(&c).filter(|p| p.starts_with("domain:")).cloned();
                        out.push(c);
                    }
                    out
                });
                for a in anc.iter() {
                    members.entry(("domain", a.clone())).or_default().push(&e.entity_ref);
                }
            }
            if let Some(s) = &e.system {
                members.entry(("system", s.clone())).or_default().push(&e.entity_ref);
            }
            let mut seen = BTreeSet::new();
            for t in &e.team_chain {
                if seen.insert(t) {
                    members.entry(("team", t.clone())).or_default().push(&e.entity_ref);
                }
            }
        }
        let mut system_components: HashMap<&str, Vec<&Entity>> = HashMap::default();
        for e in &data.entities {
            if let (Some(sys), "Component") = (e.system.as_deref(), e.kind.as_str()) {
                system_components.entry(sys).or_default().push(e);
            }
        }
        let check_pos = data.checks.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
        let mut exemptions: HashMap<&str, Vec<(usize, &super::data::Exemption)>> = HashMap::default();
        for (i, x) in data.exemptions.iter().enumerate().filter(|(_, x)| x.status == "active") {
            exemptions.entry(x.entity_ref.as_str()).or_default().push((i, x));
        }
        let today =
            chrono::NaiveDate::parse_from_str(data.run.started_at.get(..10).unwrap_or(""), "%Y-%m-%d").unwrap_or(chrono::NaiveDate::MIN);
        let check_html = data
            .checks
            .iter()
            .map(|c| {
                minijinja::Value::from_safe_string(format!(
                    "<a href=\"../../{}\">{}</a>",
                    svg::esc(&check_path(&c.id, 1)),
                    svg::esc(&c.title)
                ))
            })
            .collect();
        let check_level = data.checks.iter().map(|c| minijinja::Value::from(c.level.as_str())).collect();
        let check_fix = data.checks.iter().map(|c| minijinja::Value::from(c.remediation.as_str())).collect();
        let fact_names = data.checks.iter().flat_map(|c| c.facts.iter()).map(|f| (f.clone(), minijinja::Value::from(f.as_str()))).collect();
        Site {
            data,
            paged,
            paged_set,
            blocking,
            members,
            child_groups,
            subdomains,
            domain_systems,
            parent,
            check_pos,
            today,
            check_html,
            check_level,
            check_fix,
            check_level_index,
            fact_names,
            custom: Vec::new(),
            system_components,
            link_cache: Default::default(),
            parts_cache: Default::default(),
            env: None,
            row_cache: Default::default(),
            component_rows: Default::default(),
            exemptions,
            badges: std::iter::once(Link(minijinja::Value::from_safe_string("<span class=\"badge level-none\">none</span>".into())))
                .chain(data.ladder.iter().enumerate().map(|(i, l)| {
                    Link(minijinja::Value::from_safe_string(format!("<span class=\"badge level-{}\">{}</span>", i.min(5), svg::esc(l))))
                }))
                .collect(),
        }
    }

    /// The common part of a page at `path` (for pages built outside this module).
    pub fn base_for(&self, path: &str, title: String, section: &'static str) -> Base {
        self.base(path, title, section)
    }

    fn base(&self, path: &str, title: String, section: &'static str) -> Base {
        let depth = path.matches('/').count();
        let d = self.data;
        Base {
            root: "../".repeat(depth),
            title,
            section,
            run_id: d.run.run_id.clone(),
            pipeline: d.run.pipeline.clone(),
            started_at: d.run.started_at.get(..19).unwrap_or(&d.run.started_at).to_owned(),
            status: d.run.status.clone(),
            grading_id: d.grading_id.clone(),
            as_of: d.grading_as_of.get(..19).unwrap_or(&d.grading_as_of).to_owned(),
        }
    }

    /// An entity's title or name and its page from a page at `root`, shared (diagram nodes).
    fn node_parts(&self, root: &str, entity_ref: &str) -> (std::rc::Rc<str>, Option<std::rc::Rc<str>>) {
        let depth = root.len() / 3;
        if let Some(p) = self.parts_cache.borrow().get(depth).and_then(|m| m.get(entity_ref)) {
            return p.clone();
        }
        let (text, href) = self.link_parts(root, entity_ref);
        let p: (std::rc::Rc<str>, Option<std::rc::Rc<str>>) = (text.into(), href.map(Into::into));
        let mut cache = self.parts_cache.borrow_mut();
        if cache.len() <= depth {
            cache.resize_with(depth + 1, HashMap::default);
        }
        cache[depth].insert(entity_ref.to_owned(), p.clone());
        p
    }

    /// An entity's title or name, and its page from a page at `root` (if it has one).
    fn link_parts(&self, root: &str, entity_ref: &str) -> (String, Option<String>) {
        let text = match self.data.entity(entity_ref) {
            Some(e) => e.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| e.name.clone()),
            None => entity_ref.to_owned(),
        };
        let href = if self.paged_set.contains(entity_ref) { entity_path(entity_ref).map(|p| format!("{root}{p}")) } else { None };
        (text, href)
    }

    /// A link to an entity's page from a page at `root`, its title or name as text (built
    /// once per entity and page depth).
    fn link(&self, root: &str, entity_ref: &str) -> Link {
        let depth = root.len() / 3;
        if let Some(l) = self.link_cache.borrow().get(depth).and_then(|m| m.get(entity_ref)) {
            return l.clone();
        }
        let (text, href) = self.link_parts(root, entity_ref);
        let l = Link::new(&text, href.as_deref());
        let mut cache = self.link_cache.borrow_mut();
        if cache.len() <= depth {
            cache.resize_with(depth + 1, HashMap::default);
        }
        cache[depth].insert(entity_ref.to_owned(), l.clone());
        l
    }

    fn check_link(&self, root: &str, i: usize) -> Link {
        if root == "../../" {
            return Link(self.check_html[i].clone());
        }
        let c = &self.data.checks[i];
        Link::new(&c.title, Some(&format!("{root}{}", check_path(&c.id, 1))))
    }

    fn badge(&self, level_index: i64) -> LevelBadge {
        let i = if level_index < 0 { 0 } else { (level_index as usize + 1).min(self.badges.len() - 1) };
        self.badges[i].clone()
    }

    /// Counts per level, highest level first, "none" last.
    fn levels(&self, counts: &BTreeMap<String, i64>) -> Vec<(LevelBadge, i64)> {
        let mut out: Vec<(LevelBadge, i64)> = (0..self.data.ladder.len())
            .rev()
            .map(|i| (self.badge(i as i64), counts.get(&self.data.ladder[i]).copied().unwrap_or(0)))
            .collect();
        out.push((self.badge(-1), counts.get("none").copied().unwrap_or(0)));
        out
    }

    fn bar(&self, counts: &BTreeMap<String, i64>, width: u32) -> String {
        let n = self.data.ladder.len();
        let names: Vec<(String, i64)> = std::iter::once(("none".to_owned(), -1))
            .chain(self.data.ladder.iter().enumerate().map(|(i, l)| (l.clone(), i as i64)))
            .collect();
        let segs: Vec<Segment> = names
            .iter()
            .map(|(l, i)| Segment { label: l.as_str(), count: counts.get(l).copied().unwrap_or(0), color: svg::level_color(*i, n) })
            .collect();
        svg::stacked_bar(&segs, width, 12)
    }

    /// Mean score of a scope over the runs of the history, oldest first.
    fn scope_trend(&self, r: &str) -> Vec<(String, Option<f64>)> {
        self.data
            .history
            .iter()
            .rev()
            .map(|h| {
                let v = self.data.rollup_history.get(r).and_then(|m| m.get(&h.grading_id)).copied().flatten();
                (h.started_at.get(..10).unwrap_or(&h.started_at).to_owned(), v)
            })
            .collect()
    }

    fn scope_row(&self, root: &str, r: &str) -> ScopeRow {
        let ro = self.data.rollups.get(r);
        let t = self.scope_trend(r);
        ScopeRow {
            link: self.link(root, r),
            entities: ro.map(|r| r.entities).unwrap_or(0),
            bar: ro.map(|ro| self.bar(&ro.levels, 120)).unwrap_or_else(|| self.bar(&BTreeMap::new(), 120)).into(),
            mean_score: pct(ro.and_then(|r| r.mean_score)),
            mean_coverage: pct(ro.and_then(|r| r.mean_coverage)),
            trend: delta(&t).unwrap_or_else(|| "–".into()),
        }
    }

    fn component_row(&self, root: &str, r: &str) -> ComponentRow {
        let g = self.data.grades.get(r);
        let e = self.data.entity(r);
        ComponentRow {
            link: self.link(root, r),
            level: self.badge(g.map(|g| g.level_index).unwrap_or(-1)),
            score: pct(g.and_then(|g| g.score)),
            coverage: pct(g.map(|g| g.coverage)),
            owner: e.and_then(|e| e.owner.as_deref()).map(|o| self.link(root, o)).unwrap_or_else(|| Link::new("–", None)),
            blocking: self.blocking.get(r).map(|b| b.iter().map(|i| self.check_link(root, *i)).collect()).unwrap_or_default(),
        }
    }

    /// Component rows for scope pages at depth 2, rendered and joined: a component's row is
    /// the same on its domain's, system's and teams' pages, so it is rendered once. None if
    /// a row fails to render (the page then renders its rows itself, where the error names it).
    fn rendered_component_rows(&self, env: &minijinja::Environment<'static>, listed: &[&'a str]) -> Option<String> {
        let mut html = String::new();
        let mut cache = self.component_rows.borrow_mut();
        for r in listed {
            if let Some(v) = cache.get(r) {
                html.push_str(v.as_str().unwrap_or_default());
                continue;
            }
            let row = self.component_row("../../", r);
            let text = env.get_template("component_row.html").and_then(|t| t.render(minijinja::context! { c => &row })).ok()?;
            html.push_str(&text);
            cache.insert(r, minijinja::Value::from_safe_string(text));
        }
        Some(html)
    }

    /// Next-level checks over some components, ranked by how many components fixing each
    /// alone would raise, then by how many it holds back.
    fn actions(&self, root: &str, components: &[&str]) -> Vec<ActionRow> {
        let mut unblocks: BTreeMap<usize, usize> = BTreeMap::new();
        let mut holds: BTreeMap<usize, usize> = BTreeMap::new();
        for c in components {
            if let Some(b) = self.blocking.get(c) {
                for i in b {
                    *holds.entry(*i).or_default() += 1;
                }
                if b.len() == 1 {
                    *unblocks.entry(b[0]).or_default() += 1;
                }
            }
        }
        let mut rows: Vec<(usize, usize, usize)> = holds.iter().map(|(i, h)| (*i, unblocks.get(i).copied().unwrap_or(0), *h)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(self.data.checks[a.0].id.cmp(&self.data.checks[b.0].id)));
        rows.into_iter()
            .take(15)
            .map(|(i, u, h)| ActionRow {
                check: self.check_link(root, i),
                level: self.data.checks[i].level.clone(),
                unblocks: u,
                holds_back: h,
            })
            .collect()
    }

    fn exemption_row(&self, root: &str, x: &super::data::Exemption) -> ExemptionRow {
        ExemptionRow {
            entity: self.link(root, &x.entity_ref),
            check: self
                .check_pos
                .get(x.check_id.as_str())
                .map(|i| self.check_link(root, *i))
                .unwrap_or_else(|| Link::new(&x.check_id, None)),
            reason: x.reason.clone(),
            approver: x.approver.clone(),
            justification: x.justification.clone(),
            expires: x.expires.clone(),
            status: x.status.clone(),
        }
    }

    fn source_rows(&self) -> Vec<SourceRow> {
        let graded = self.data.grades.len().max(1) as f64;
        self.data
            .sources
            .iter()
            .map(|s| SourceRow {
                source: s.source.clone(),
                facts: s.facts,
                entities: s.entities,
                coverage: pct(Some((s.entities as f64 / graded).min(1.0))),
                oldest: s.oldest.get(..19).unwrap_or(&s.oldest).to_owned(),
                newest: s.newest.get(..19).unwrap_or(&s.newest).to_owned(),
                errors: self.data.errors.iter().filter(|e| e.stage == "facts" && s.source.ends_with(&e.source)).count(),
            })
            .collect()
    }

    /// Every page of the site, in memory (tests, goldens).
    pub fn pages(&self) -> Vec<Page> {
        let mut pages = Vec::new();
        let _ = self.each_page(&mut |p| {
            pages.push(p);
            Ok(())
        });
        pages
    }

    /// Builds every page and hands each to `f` as soon as it is built: one view model is
    /// alive at a time, so the memory a page's rows take is reused by the next (holding all
    /// of them cost page faults and cache misses that showed in the render profile). Stops
    /// at the first error of `f`.
    pub fn each_page(&self, f: &mut dyn FnMut(Page) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let spent = std::cell::Cell::new(std::time::Duration::ZERO);
        let mut out = |p: Page| -> anyhow::Result<()> {
            let t = std::time::Instant::now();
            let r = f(p);
            spent.set(spent.get() + t.elapsed());
            r
        };
        let t0 = std::time::Instant::now();
        out(self.overview())?;
        out(self.quality())?;
        for p in self.indexes() {
            out(p)?;
        }
        let t_top = t0.elapsed();
        let (mut t_scope, mut t_entity) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        for r in &self.paged {
            let Some(e) = self.data.entity(r) else { continue };
            let path = entity_path(r).unwrap_or_default();
            let t = std::time::Instant::now();
            let page = match e.kind.to_ascii_lowercase().as_str() {
                "domain" => self.scope_page(path, e, "domain"),
                "system" => self.scope_page(path, e, "system"),
                "group" => self.scope_page(path, e, "team"),
                _ => {
                    let page = self.entity_page(path, e);
                    t_entity += t.elapsed();
                    out(page)?;
                    continue;
                }
            };
            t_scope += t.elapsed();
            out(page)?;
        }
        let t1 = std::time::Instant::now();
        let s1 = spent.get();
        for i in 0..self.data.checks.len() {
            for p in self.check_pages(i) {
                out(p)?;
            }
        }
        let t_checks = t1.elapsed() - (spent.get() - s1);
        let t1 = std::time::Instant::now();
        for p in self.migration_pages() {
            out(p)?;
        }
        out(self.roi_page())?;
        let total = t0.elapsed();
        tracing::debug!(
            top_ms = t_top.as_millis() as u64,
            scope_ms = t_scope.as_millis() as u64,
            entity_ms = t_entity.as_millis() as u64,
            checks_ms = t_checks.as_millis() as u64,
            migrations_roi_ms = t1.elapsed().as_millis() as u64,
            view_models_ms = (total - spent.get()).as_millis() as u64,
            pages_out_ms = spent.get().as_millis() as u64,
            "view models (pages out: the time spent rendering and writing them)"
        );
        Ok(())
    }

    fn overview(&self) -> Page {
        let path = "index.html".to_owned();
        let d = self.data;
        let base = self.base(&path, format!("{} — technical health", d.run.pipeline), "overview");
        let root = base.root.clone();
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        let comps: Vec<&Entity> = d.entities.iter().filter(|e| e.kind == "Component" && d.grades.contains_key(&e.entity_ref)).collect();
        for e in &comps {
            let g = &d.grades[&e.entity_ref];
            let name =
                if g.level_index < 0 { "none".to_owned() } else { d.ladder.get(g.level_index as usize).cloned().unwrap_or_default() };
            *counts.entry(name).or_default() += 1;
        }
        let scores: Vec<f64> = comps.iter().filter_map(|e| d.grades[&e.entity_ref].score).collect();
        let cov: Vec<f64> = comps.iter().map(|e| d.grades[&e.entity_ref].coverage).collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let points: Vec<(String, Option<f64>)> =
            d.history.iter().rev().map(|h| (h.started_at.get(..10).unwrap_or(&h.started_at).to_owned(), h.mean_score)).collect();
        let mut domains: Vec<&Entity> = d.entities.iter().filter(|e| e.kind.eq_ignore_ascii_case("domain")).collect();
        domains.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
        let rows: Vec<ScopeRow> = domains.iter().map(|e| self.scope_row(&root, &e.entity_ref)).collect();
        let mut worst: Vec<&Entity> =
            domains.iter().copied().filter(|e| d.rollups.get(&e.entity_ref).and_then(|r| r.mean_score).is_some()).collect();
        worst.sort_by(|a, b| {
            let s = |e: &Entity| d.rollups[&e.entity_ref].mean_score.unwrap_or(0.0);
            s(a).total_cmp(&s(b)).then(a.entity_ref.cmp(&b.entity_ref))
        });
        let worst_domains = worst.iter().take(5).map(|e| self.scope_row(&root, &e.entity_ref)).collect();
        let gates = d
            .gates
            .iter()
            .map(|g| GateRow {
                name: g.name.clone(),
                passed: g.passed,
                detail: if g.violations.is_empty() { g.detail.clone() } else { format!("{}: {}", g.detail, g.violations.join(", ")) },
            })
            .collect();
        Page {
            path,
            template: "overview.html",
            context: Context::Overview(Box::new(Overview {
                components: comps.len() as i64,
                levels: self.levels(&counts),
                bar: self.bar(&counts, 480).into(),
                mean_score: pct(mean(&scores)),
                mean_coverage: pct(mean(&cov)),
                trend: svg::trend(&points, 480, 90).into(),
                trend_runs: points.len(),
                domains: rows,
                worst_domains,
                sources: self.source_rows(),
                errors: d.run.errors,
                warnings: d.run.warnings,
                rejected: d.rejected.len(),
                gates,
                reports: self.custom.iter().map(|(t, p)| Link::new(t, Some(&format!("{root}{p}")))).collect(),
                base,
            })),
        }
    }

    fn scope_page(&self, path: String, e: &Entity, scope: &'static str) -> Page {
        let d = self.data;
        let name = e.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| e.name.clone());
        let section = match scope {
            "domain" => "domains",
            "system" => "systems",
            _ => "teams",
        };
        let base = self.base(&path, format!("{name} — {scope}"), section);
        let root = base.root.clone();
        let ro = d.rollups.get(&e.entity_ref);
        let empty = BTreeMap::new();
        let counts = ro.map(|r| &r.levels).unwrap_or(&empty);
        let members: Vec<&str> = self.members.get(&(scope, e.entity_ref.clone())).cloned().unwrap_or_default();
        let t = self.scope_trend(&e.entity_ref);
        let (children_title, children, mut listed): (String, Vec<ScopeRow>, Vec<&str>) = match scope {
            "domain" => {
                let mut rows: Vec<ScopeRow> =
                    self.subdomains.get(&e.entity_ref).into_iter().flatten().map(|s| self.scope_row(&root, s)).collect();
                rows.extend(self.domain_systems.get(&e.entity_ref).into_iter().flatten().map(|s| self.scope_row(&root, s)));
                // a domain lists its subdomains and systems, not every component
                ("Subdomains and systems".into(), rows, Vec::new())
            }
            "system" => ("".into(), Vec::new(), members.clone()),
            _ => {
                let kids: Vec<ScopeRow> =
                    self.child_groups.get(&e.entity_ref).into_iter().flatten().map(|g| self.scope_row(&root, g)).collect();
                let direct: Vec<&str> = members
                    .iter()
                    .copied()
                    .filter(|m| d.entity(m).and_then(|c| c.owner.as_deref()) == Some(e.entity_ref.as_str()))
                    .collect();
                let listed = if members.len() <= TEAM_ROWS { members.clone() } else { direct };
                ("Child groups".into(), kids, listed)
            }
        };
        listed.sort_by_cached_key(|r| (d.grades.get(*r).map(|g| g.level_index).unwrap_or(-1), *r));
        // long lists stay readable (and pages under 200 KB): the lowest levels first, the rest
        // counted; a team's child groups' components are on their own pages
        let listed_len = listed.len();
        listed.truncate(TEAM_ROWS);
        let components = match (self.env, root == "../../") {
            (Some(env), true) => match self.rendered_component_rows(env, &listed) {
                Some(html) => Rows::Html(minijinja::Value::from_safe_string(html)),
                None => Rows::Full(listed.iter().map(|r| self.component_row(&root, r)).collect()),
            },
            _ => Rows::Full(listed.iter().map(|r| self.component_row(&root, r)).collect()),
        };
        let (elsewhere, cut) = if scope == "domain" { (0, 0) } else { (members.len() - listed_len, listed_len - listed.len()) };
        let mut notes = Vec::new();
        if elsewhere > 0 {
            notes.push(format!("{elsewhere} components of child groups are listed on their pages."));
        }
        if cut > 0 {
            notes.push(format!("{cut} more components, at higher levels, are not listed (the tables export has them all)."));
        }
        let components_note = (!notes.is_empty()).then(|| notes.join(" "));
        let children_more = children.len().saturating_sub(INDEX_ROWS);
        let mut children = children;
        children.truncate(INDEX_ROWS);
        let horizon = self.today + chrono::Duration::days(EXPIRING_DAYS);
        // the members' active exemptions, in the run's order
        let mut expiring: Vec<(usize, &super::data::Exemption)> = members
            .iter()
            .flat_map(|m| self.exemptions.get(m).map(Vec::as_slice).unwrap_or(&[]))
            .filter(|(_, x)| chrono::NaiveDate::parse_from_str(&x.expires, "%Y-%m-%d").map(|t| t <= horizon).unwrap_or(false))
            .copied()
            .collect();
        expiring.sort_by_key(|(i, _)| *i);
        expiring.dedup_by_key(|(i, _)| *i);
        let expiring = expiring.into_iter().map(|(_, x)| self.exemption_row(&root, x)).collect();
        let diagram = (scope == "system" && !members.is_empty()).then(|| self.system_diagram(&root, &e.entity_ref));
        let owner = if scope == "team" { None } else { e.owner.as_deref().map(|o| self.link(&root, o)) };
        let parent = self.parent.get(&e.entity_ref).map(|p| self.link(&root, p));
        Page {
            path,
            template: "scope.html",
            context: Context::Scope(Box::new(ScopePage {
                kind: scope,
                entity_ref: e.entity_ref.clone(),
                name,
                description: e.description.clone(),
                owner,
                parent,
                entities: ro.map(|r| r.entities).unwrap_or(0),
                levels: self.levels(counts),
                bar: self.bar(counts, 480).into(),
                mean_score: pct(ro.and_then(|r| r.mean_score)),
                mean_coverage: pct(ro.and_then(|r| r.mean_coverage)),
                weighted_mean_score: ro.and_then(|r| r.weighted_mean_score).map(|v| pct(Some(v))),
                trend: svg::trend(&t, 480, 90).into(),
                trend_delta: delta(&t),
                children_title,
                children,
                components,
                components_note,
                children_more,
                actions: self.actions(&root, &members),
                expiring,
                diagram: diagram.map(Markup::from),
                migrations: if scope == "team" { self.owed(&root, &e.entity_ref, &members) } else { Vec::new() },
                base,
            })),
        }
    }

    fn system_diagram(&self, root: &str, system: &str) -> String {
        let d = self.data;
        let mut comps: Vec<&Entity> = self.system_components.get(system).cloned().unwrap_or_default();
        comps.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
        comps.truncate(60);
        let pos: HashMap<&str, usize> = comps.iter().enumerate().map(|(i, e)| (e.entity_ref.as_str(), i)).collect();
        let nodes: Vec<Node> = comps
            .iter()
            .map(|e| {
                let (label, href) = self.node_parts(root, &e.entity_ref);
                Node { label, href, class: svg::level_class(d.grades.get(&e.entity_ref).map(|g| g.level_index).unwrap_or(-1)) }
            })
            .collect();
        let mut edges = Vec::new();
        for (i, e) in comps.iter().enumerate() {
            for (rel, t) in d.relations.get(&e.entity_ref).map(Vec::as_slice).unwrap_or(&[]) {
                if rel == "dependsOn" {
                    if let Some(j) = pos.get(t.as_str()) {
                        edges.push((i, *j));
                    }
                }
            }
        }
        svg::layered(&nodes, &edges)
    }

    /// A check row's values.
    fn check_row(&self, x: RowInputs<'_>) -> CheckRow {
        let i = x.check;
        let outcome = match x.outcome {
            b'P' => "pass",
            b'F' => "fail",
            b'U' => "unknown",
            b'E' => "error",
            _ => "exempt",
        };
        CheckRow {
            check: self.check_html[i].clone(),
            level: self.check_level[i].clone(),
            outcome,
            evidence: x
                .reads
                .iter()
                .zip(x.evidence())
                .map(|(f, found)| match found {
                    Some(x) => Evidence {
                        fact: x.fact.clone(),
                        value: Some(x.value.clone()),
                        source: Some(x.source.clone()),
                        observed_at: Some(x.observed_at.clone()),
                    },
                    None => Evidence {
                        fact: self.fact_names.get(f).cloned().unwrap_or_else(|| minijinja::Value::from(f.as_str())),
                        value: None,
                        source: None,
                        observed_at: None,
                    },
                })
                .collect(),
            missing: x.detail.map(|d| d.0.clone()).unwrap_or_default(),
            error: x.detail.and_then(|d| d.1.clone()),
            remediation: matches!(outcome, "fail" | "unknown" | "error").then(|| self.check_fix[i].clone()),
            exemption: x.exemption.map(|x| format!("{} by {} until {}: {}", x.reason, x.approver, x.expires, x.justification)),
        }
    }

    /// The rows of an entity page at depth 2, rendered and joined (each distinct row is
    /// rendered once); None if a row fails to render.
    fn rendered_rows(&self, env: &minijinja::Environment<'static>, rows: impl Iterator<Item = RowInputs<'a>>) -> Option<String> {
        let mut html = String::new();
        let mut cache = self.row_cache.borrow_mut();
        for x in rows {
            if let Some(v) = cache.get(&x) {
                html.push_str(v.as_str().unwrap_or_default());
                continue;
            }
            let row = self.check_row(x);
            let text = env.get_template("check_row.html").and_then(|t| t.render(minijinja::context! { c => &row })).ok()?;
            html.push_str(&text);
            if cache.len() < ROW_CACHE_MAX {
                cache.insert(x, minijinja::Value::from_safe_string(text));
            }
        }
        Some(html)
    }

    fn entity_page(&self, path: String, e: &Entity) -> Page {
        let d = self.data;
        let name = e.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| e.name.clone());
        let base = self.base(&path, format!("{name} — {}", e.kind), "components");
        let root = base.root.clone();
        let g = d.grades.get(&e.entity_ref);
        let facts: &[super::data::Fact] = d.facts.get(&e.entity_ref).map(Vec::as_slice).unwrap_or(&[]);
        let exemptions: &[(usize, &super::data::Exemption)] = self.exemptions.get(e.entity_ref.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let details = d.details.get(&e.entity_ref);
        // blocking first, then by level, then as defined
        let mut order: Vec<(u8, i64, usize, u8)> = Vec::new();
        if let Some(g) = g {
            for i in 0..d.checks.len() {
                let code = g.outcomes.get(i).copied().unwrap_or(b'-');
                let rank = match code {
                    b'F' | b'E' => 0,
                    b'U' => 1,
                    b'X' => 2,
                    b'P' => 3,
                    _ => continue,
                };
                order.push((rank, self.check_level_index[i], i, code));
            }
        }
        order.sort_by_key(|(rank, level, _, _)| (*rank, *level));
        let inputs = order.iter().map(|&(_, _, i, code)| {
            let c = &d.checks[i];
            RowInputs {
                check: i,
                outcome: code,
                reads: &c.facts,
                facts,
                detail: details.and_then(|m| m.get(&c.id)),
                exemption: exemptions.iter().find(|(_, x)| x.check_id == c.id).map(|(_, x)| *x),
            }
        });
        // rows are rendered once per distinct content and shared between the pages of one
        // depth (the check's link is relative); if a row fails to render here, the page
        // renders its rows itself, where the error surfaces with the page's name
        let checks = match (self.env, root == "../../") {
            (Some(env), true) => match self.rendered_rows(env, inputs.clone()) {
                Some(html) => Rows::Html(minijinja::Value::from_safe_string(html)),
                None => Rows::Full(inputs.map(|x| self.check_row(x)).collect()),
            },
            _ => Rows::Full(inputs.map(|x| self.check_row(x)).collect()),
        };
        // relations, both directions
        let mut relations = Vec::new();
        let mut relations_more = 0usize;
        let mut inbound = Vec::new();
        let mut outbound = Vec::new();
        let node = |r: &str| {
            let (label, href) = self.node_parts(&root, r);
            Node { label, href, class: svg::level_class(d.grades.get(r).map(|g| g.level_index).unwrap_or(-1)) }
        };
        for (rel, t) in d.relations.get(&e.entity_ref).map(Vec::as_slice).unwrap_or(&[]) {
            let dir_out = matches!(rel.as_str(), "dependsOn" | "consumesApi" | "providesApi");
            let dir_in = matches!(rel.as_str(), "dependencyOf" | "apiConsumedBy" | "apiProvidedBy");
            if !(dir_out || dir_in) {
                continue;
            }
            if relations.len() >= RELATIONS_SHOWN {
                relations_more += 1;
            } else {
                relations.push(RelRow {
                    relation: rel.clone(),
                    link: self.link(&root, t),
                    level: d.grades.get(t).map(|g| self.badge(g.level_index)),
                });
            }
            if dir_out && outbound.len() < 12 {
                outbound.push((node(t), rel.clone()));
            }
            if dir_in && inbound.len() < 12 {
                inbound.push((node(t), rel.clone()));
            }
        }
        let center = Node { label: name.as_str().into(), href: None, class: svg::level_class(g.map(|g| g.level_index).unwrap_or(-1)) };
        let diagram = if relations.is_empty() { String::new() } else { svg::neighbourhood(&center, &inbound, &outbound) };

        let next_level = g.and_then(|g| d.ladder.get((g.level_index + 1) as usize).cloned());
        Page {
            path,
            template: "entity.html",
            context: Context::Entity(Box::new(EntityPage {
                entity_ref: e.entity_ref.clone(),
                kind: e.kind.clone(),
                name,
                description: e.description.clone(),
                spec_type: e.spec_type.clone(),
                lifecycle: e.lifecycle.clone(),
                owner: e.owner.as_deref().map(|o| self.link(&root, o)),
                system: e.system.as_deref().map(|s| self.link(&root, s)),
                domain: e.domain.as_deref().map(|s| self.link(&root, s)),
                tags: e.tags.clone(),
                links: e
                    .links
                    .iter()
                    .map(|l| {
                        let text = l.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| l.url.clone());
                        Link::new(&text, safe_url(&l.url).as_deref())
                    })
                    .collect(),
                source: format!("{}:{}", e.source_file, e.source_line),
                graded: g.is_some(),
                level: self.badge(g.map(|g| g.level_index).unwrap_or(-1)),
                next_level,
                score: pct(g.and_then(|g| g.score)),
                coverage: pct(g.map(|g| g.coverage)),
                counts: g
                    .map(|g| {
                        format!(
                            "{} pass, {} fail, {} unknown, {} exempt of {} checks",
                            g.passed, g.failed, g.unknown, g.exempt, g.applicable
                        )
                    })
                    .unwrap_or_default(),
                checks,
                relations,
                relations_more,
                diagram: diagram.into(),
                base,
            })),
        }
    }

    fn check_pages(&self, i: usize) -> Vec<Page> {
        let d = self.data;
        let c = &d.checks[i];
        let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
        let mut rows: Vec<(&str, &'static str)> = Vec::new();
        for (r, g) in &d.grades {
            let code = g.outcomes.get(i).copied().unwrap_or(b'-');
            *counts.entry(code).or_default() += 1;
            let outcome = match code {
                b'F' => "fail",
                b'U' => "unknown",
                b'E' => "error",
                _ => continue,
            };
            rows.push((r.as_str(), outcome));
        }
        rows.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
        let n_pages = rows.len().div_ceil(PAGE_ROWS).max(1);
        let total = rows.len();
        let count_of = |b: u8| counts.get(&b).copied().unwrap_or(0);
        let counts_vm = vec![
            ("pass", count_of(b'P')),
            ("fail", count_of(b'F')),
            ("unknown", count_of(b'U')),
            ("error", count_of(b'E')),
            ("exempt", count_of(b'X')),
        ];
        let mut pages = Vec::new();
        for p in 1..=n_pages {
            let path = check_path(&c.id, p);
            let base = self.base(&path, format!("{} — check", c.title), "checks");
            let root = base.root.clone();
            let chunk = rows.iter().skip((p - 1) * PAGE_ROWS).take(PAGE_ROWS);
            let out_rows = chunk
                .map(|(r, outcome)| {
                    let detail = d.details.get(*r).and_then(|m| m.get(&c.id));
                    OutcomeRow {
                        entity: self.link(&root, r),
                        outcome,
                        owner: d
                            .entity(r)
                            .and_then(|e| e.owner.as_deref())
                            .map(|o| self.link(&root, o))
                            .unwrap_or_else(|| Link::new("–", None)),
                        detail: detail
                            .map(|(m, e)| e.clone().unwrap_or_else(|| if m.is_empty() { String::new() } else { format!("missing: {m}") }))
                            .unwrap_or_default(),
                    }
                })
                .collect();
            let page_links = if n_pages > 1 {
                (1..=n_pages)
                    .map(|k| Link::new(&k.to_string(), (k != p).then(|| format!("{root}{}", check_path(&c.id, k))).as_deref()))
                    .collect()
            } else {
                Vec::new()
            };
            pages.push(Page {
                path,
                template: "check.html",
                context: Context::Check(Box::new(CheckPage {
                    id: c.id.clone(),
                    check_title: c.title.clone(),
                    description: c.description.clone(),
                    remediation: c.remediation.clone(),
                    level: c.level.clone(),
                    weight: super::data::number(c.weight),
                    applies_to: c.applies_to.clone(),
                    pass: c.pass.clone(),
                    defined_at: format!("{}:{}", c.file, c.line),
                    counts: counts_vm.clone(),
                    rows: out_rows,
                    page: p,
                    pages: page_links,
                    rows_total: total,
                    base,
                })),
            });
        }
        pages
    }

    fn quality(&self) -> Page {
        let d = self.data;
        let path = "quality.html".to_owned();
        let base = self.base(&path, "Data quality".into(), "quality");
        let root = base.root.clone();
        let problems = d
            .errors
            .iter()
            .take(QUALITY_ROWS)
            .map(|e| ProblemRow {
                severity: e.severity.clone(),
                stage: e.stage.clone(),
                source: e.source.clone(),
                kind: e.kind.clone(),
                location: match e.line {
                    Some(l) if !e.file.is_empty() => format!("{}:{l}", e.file),
                    _ => e.file.clone(),
                },
                entity: if e.entity_ref.is_empty() { Link::new("", None) } else { self.link(&root, &e.entity_ref) },
                message: e.message.clone(),
            })
            .collect();
        let with_errors: BTreeSet<&str> =
            d.errors.iter().filter(|e| e.severity == "error" && !e.entity_ref.is_empty()).map(|e| e.entity_ref.as_str()).collect();
        let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
        for (missing, _) in d.details.values().flat_map(|m| m.values()) {
            for f in missing.split(", ").filter(|f| !f.is_empty()) {
                *unknown.entry(f.to_owned()).or_default() += 1;
            }
        }
        let mut unknown_by_fact: Vec<(String, usize)> = unknown.into_iter().collect();
        unknown_by_fact.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Page {
            path,
            template: "quality.html",
            context: Context::Quality(Box::new(Quality {
                sources: self.source_rows(),
                problems,
                problems_total: d.errors.len(),
                entities_with_errors: with_errors.iter().take(QUALITY_ROWS).map(|r| self.link(&root, r)).collect(),
                rejected: d
                    .rejected
                    .iter()
                    .map(|r| RejectedRow {
                        location: format!("{}:{} (document {})", r.file, r.line, r.doc + 1),
                        status: r.status.clone(),
                        entity: r.entity_ref.clone(),
                        error: r.error.clone(),
                    })
                    .collect(),
                unknown_by_fact,
                base,
            })),
        }
    }

    fn indexes(&self) -> Vec<Page> {
        let d = self.data;
        let mut pages = Vec::new();
        for (stem, kind, heading, section) in
            [("domains", "domain", "Domains", "domains"), ("systems", "system", "Systems", "systems"), ("teams", "group", "Teams", "teams")]
        {
            let refs: Vec<&str> = d.entities.iter().filter(|e| e.kind.eq_ignore_ascii_case(kind)).map(|e| e.entity_ref.as_str()).collect();
            let n_pages = refs.len().div_ceil(INDEX_ROWS).max(1);
            let page_path = |k: usize| if k <= 1 { format!("{stem}.html") } else { format!("{stem}-{k}.html") };
            for p in 1..=n_pages {
                let path = page_path(p);
                let title = if n_pages > 1 { format!("{heading} ({p} of {n_pages})") } else { heading.to_owned() };
                let base = self.base(&path, title.clone(), section);
                let root = base.root.clone();
                let rows = refs
                    .iter()
                    .skip((p - 1) * INDEX_ROWS)
                    .take(INDEX_ROWS)
                    .map(|r| {
                        let row = self.scope_row(&root, r);
                        IndexRow {
                            link: row.link,
                            cells: vec![row.entities.to_string(), row.mean_score, row.mean_coverage, row.trend],
                            bar: row.bar,
                        }
                    })
                    .collect();
                let pages_links = if n_pages > 1 {
                    (1..=n_pages)
                        .map(|k| Link::new(&k.to_string(), (k != p).then(|| format!("{root}{}", page_path(k))).as_deref()))
                        .collect()
                } else {
                    Vec::new()
                };
                pages.push(Page {
                    path,
                    template: "index.html",
                    context: Context::Index(Box::new(IndexPage {
                        heading: title,
                        columns: vec!["Components".into(), "Mean score".into(), "Coverage".into(), "Since last run".into()],
                        rows,
                        pages: pages_links,
                        rows_total: refs.len(),
                        base,
                    })),
                });
            }
        }
        let base = self.base("checks.html", "Checks".into(), "checks");
        let root = base.root.clone();
        let rows = (0..d.checks.len())
            .map(|i| {
                let c = &d.checks[i];
                let n = |b: u8| d.grades.values().filter(|g| g.outcomes.get(i) == Some(&b)).count();
                IndexRow {
                    link: self.check_link(&root, i),
                    cells: vec![c.level.clone(), n(b'P').to_string(), n(b'F').to_string(), n(b'U').to_string(), n(b'X').to_string()],
                    bar: Markup::default(),
                }
            })
            .collect();
        pages.push(Page {
            path: "checks.html".into(),
            template: "index.html",
            context: Context::Index(Box::new(IndexPage {
                heading: "Checks".into(),
                columns: vec!["Level".into(), "Pass".into(), "Fail".into(), "Unknown".into(), "Exempt".into()],
                rows_total: d.checks.len(),
                rows,
                pages: Vec::new(),
                base,
            })),
        });
        pages
    }
}

/// The change of the last point from the one before, in percentage points ("+3 pts").
fn delta(t: &[(String, Option<f64>)]) -> Option<String> {
    let vals: Vec<f64> = t.iter().filter_map(|(_, v)| *v).collect();
    if t.len() < 2 || vals.len() < 2 || t.last().and_then(|x| x.1).is_none() {
        return None;
    }
    let d = (vals[vals.len() - 1] - vals[vals.len() - 2]) * 100.0;
    Some(if d.abs() < 0.5 { "±0 pts".into() } else { format!("{:+.0} pts", d) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_https_and_mailto_links_survive() {
        assert_eq!(safe_url("https://example.com/a?b=1").as_deref(), Some("https://example.com/a?b=1"));
        assert!(safe_url("mailto:team@example.com").is_some());
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "file:///etc/passwd",
            "//evil",
            "relative/path",
        ] {
            assert_eq!(safe_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn entity_paths_come_from_valid_refs_only() {
        assert_eq!(entity_path("component:default/payments-api").as_deref(), Some("component/default/payments-api.html"));
        assert_eq!(entity_path("component:default/../x"), None);
        assert_eq!(entity_path("component:default/.hidden"), None);
        assert_eq!(entity_path("no-colon"), None);
    }
}
