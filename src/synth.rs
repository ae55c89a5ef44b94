//! A deterministic generator of a synthetic organisation (domains, systems, teams in a
//! hierarchy, users, components, APIs, resources) as Backstage descriptor files, for the
//! catalog benchmark and for scale tests. Same options and seed → byte-identical files.

use std::fmt::Write as _;
use std::path::Path;

/// Size of the organisation to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub components: usize,
    pub teams: usize,
    pub domains: usize,
    pub seed: u64,
}

impl Options {
    /// The benchmark's organisation: 10,000 components (~17,000 entities).
    pub fn benchmark() -> Options {
        Options { components: 10_000, teams: 600, domains: 40, seed: 1 }
    }
}

/// Generated files: (relative path, content), in a fixed order.
pub struct Org {
    pub files: Vec<(String, String)>,
    pub entities: usize,
}

impl Org {
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|f| f.1.len()).sum()
    }

    /// Writes the files below `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (name, text) in &self.files {
            let p = dir.join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(p, text)?;
        }
        Ok(())
    }
}

/// xorshift64*: small, fast, and stable across platforms and releases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const WORDS: &[&str] = &[
    "orders",
    "billing",
    "search",
    "catalog",
    "payments",
    "shipping",
    "pricing",
    "identity",
    "ledger",
    "inventory",
    "checkout",
    "tracking",
    "routing",
    "invoices",
    "profiles",
    "reviews",
    "media",
    "notify",
    "audit",
    "reports",
];
const LANGS: &[&str] = &["java", "go", "python", "typescript", "kotlin", "rust"];
const TYPES: &[&str] = &["service", "service", "service", "website", "library", "worker"];
const LIFECYCLES: &[&str] = &["production", "production", "production", "experimental", "deprecated"];
const API_TYPES: &[&str] = &["openapi", "grpc", "asyncapi", "graphql"];

/// Generates the organisation.
pub fn generate(o: &Options) -> Org {
    let mut rng = Rng(o.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut files = Vec::new();
    let mut entities = 0usize;
    let domains = o.domains.max(1);
    let teams = o.teams.max(1);
    let departments = (teams / 8).max(1);
    let systems = (o.components / 12).max(1);
    let apis_per_component_pct = 30;

    // groups: one root, departments, teams
    let mut g = String::new();
    let mut users = String::new();
    writeln!(g, "# organisation chart (generated)").ok();
    g.push_str("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: org\n  title: The Organisation\nspec:\n  type: organization\n  children:\n");
    for d in 0..departments {
        writeln!(g, "    - dept-{d:03}").ok();
    }
    entities += 1;
    for d in 0..departments {
        write!(g, "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: dept-{d:03}\n  title: Department {d}\nspec:\n  type: department\n  parent: org\n  children:\n").ok();
        let mut any = false;
        for t in (0..teams).filter(|t| t % departments == d) {
            writeln!(g, "    - team-{t:04}").ok();
            any = true;
        }
        if !any {
            g.push_str("    []\n");
        }
        entities += 1;
    }
    let mut user_no = 0usize;
    for t in 0..teams {
        let members = 3 + rng.below(3);
        write!(
            g,
            "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{t:04}\n  description: The {} team\n  annotations:\n    github.com/team-slug: synth/team-{t:04}\nspec:\n  type: team\n  parent: dept-{:03}\n  profile:\n    displayName: Team {t}\n    email: team-{t:04}@example.com\n  children: []\n",
            rng.pick(WORDS),
            t % departments
        )
        .ok();
        entities += 1;
        for _ in 0..members {
            write!(
                users,
                "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: user-{user_no:05}\nspec:\n  profile:\n    displayName: User {user_no}\n    email: user-{user_no:05}@example.com\n  memberOf: [team-{t:04}]\n"
            )
            .ok();
            user_no += 1;
            entities += 1;
        }
    }
    files.push(("org/groups.yaml".to_owned(), g));
    files.push(("org/users.yaml".to_owned(), users));

    let mut d = String::new();
    for i in 0..domains {
        let sub = i >= 4 && i % 5 == 0;
        write!(
            d,
            "---\napiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata:\n  name: domain-{i:03}\n  title: {} domain\nspec:\n  owner: dept-{:03}\n",
            rng.pick(WORDS),
            i % departments
        )
        .ok();
        if sub {
            writeln!(d, "  subdomainOf: domain-{:03}", i / 5 - 1).ok();
        }
        entities += 1;
    }
    files.push(("domains.yaml".to_owned(), d));

    // systems, each with its components and APIs in one file
    let mut comp_no = 0usize;
    let mut api_names: Vec<String> = Vec::new();
    for s in 0..systems {
        let mut f = String::new();
        let owner_team = rng.below(teams);
        write!(
            f,
            "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{s:04}\n  description: Everything about {}\nspec:\n  owner: team-{owner_team:04}\n  domain: domain-{:03}\n",
            rng.pick(WORDS),
            s % domains
        )
        .ok();
        entities += 1;
        let remaining_systems = systems - s;
        let count = if remaining_systems == 1 { o.components - comp_no } else { ((o.components - comp_no) / remaining_systems).max(1) };
        for _ in 0..count {
            if comp_no >= o.components {
                break;
            }
            let word = component_word(o.seed, comp_no);
            let name = format!("{word}-{comp_no:05}");
            let lang = rng.pick(LANGS);
            let team = if rng.chance(80) { owner_team } else { rng.below(teams) };
            write!(
                f,
                "---\n# {name}\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  title: {} {comp_no}\n",
                capitalise(word)
            )
            .ok();
            if rng.chance(50) {
                write!(
                    f,
                    "  description: |\n    Handles {word} for system {s}.\n    Written in {lang}; see the runbook before changing it.\n"
                )
                .ok();
            } else {
                writeln!(f, "  description: Handles {word} requests for system {s}").ok();
            }
            if rng.chance(50) {
                writeln!(f, "  tags: [{lang}, {}]", rng.pick(WORDS)).ok();
            } else {
                write!(f, "  tags:\n    - {lang}\n    - tier-{}\n", 1 + rng.below(3)).ok();
            }
            write!(
                f,
                "  annotations:\n    github.com/project-slug: synth/{name}\n    backstage.io/source-location: url:https://github.com/synth/{name}/\n"
            )
            .ok();
            if rng.chance(60) {
                f.push_str("    backstage.io/techdocs-ref: dir:.\n");
            }
            if rng.chance(30) {
                writeln!(f, "    codescene.io/project-id: \"{}\"", 1000 + comp_no).ok();
            }
            if rng.chance(70) {
                writeln!(f, "    pagerduty.com/service-id: P{comp_no:05}").ok();
            }
            let dashboard = rng.chance(40);
            let runbook = rng.chance(65);
            if dashboard || runbook {
                f.push_str("  links:\n");
                if dashboard {
                    writeln!(f, "    - url: https://grafana.example.com/d/{name}\n      title: Dashboard\n      icon: dashboard").ok();
                }
                if runbook {
                    writeln!(f, "    - url: https://wiki.example.com/runbooks/{name}\n      title: Runbook").ok();
                }
            }
            write!(
                f,
                "spec:\n  type: {}\n  lifecycle: {}\n  owner: team-{team:04}\n  system: system-{s:04}\n",
                rng.pick(TYPES),
                rng.pick(LIFECYCLES)
            )
            .ok();
            let provides = rng.chance(apis_per_component_pct);
            if provides {
                writeln!(f, "  providesApis:\n    - {name}-api").ok();
            }
            if !api_names.is_empty() && rng.chance(50) {
                f.push_str("  consumesApis:\n");
                for _ in 0..1 + rng.below(3) {
                    let a = &api_names[rng.below(api_names.len())];
                    writeln!(f, "    - {a}").ok();
                }
            }
            if comp_no > 0 && rng.chance(60) {
                f.push_str("  dependsOn:\n");
                for _ in 0..1 + rng.below(2) {
                    let other = rng.below(comp_no);
                    writeln!(f, "    - component:{}-{other:05}", component_word(o.seed, other)).ok();
                }
            }
            entities += 1;
            if provides {
                write!(
                    f,
                    "---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}-api\n  description: Public interface of {name}\nspec:\n  type: {}\n  lifecycle: production\n  owner: team-{team:04}\n  system: system-{s:04}\n  definition: |\n    openapi: 3.0.0\n    info:\n      title: {name}\n      version: 1.0.{comp_no}\n    paths: {{}}\n",
                    rng.pick(API_TYPES)
                )
                .ok();
                api_names.push(format!("{name}-api"));
                entities += 1;
            }
            comp_no += 1;
        }
        files.push((format!("systems/system-{s:04}.yaml"), f));
    }
    Org { files, entities }
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Component names embed a word; dependencies need the name of an earlier component, so the
/// word is derived from (seed, number) instead of the random stream.
fn component_word(seed: u64, n: usize) -> &'static str {
    let mut r = Rng((seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    r.next();
    WORDS[r.below(WORDS.len())]
}

/// Facts for every component of an organisation generated with the same options: the
/// signals the default pack and the demo's checks read, as NDJSON; about 10% of the facts
/// are left out (so some outcomes are unknown), values spread so every level occurs.
pub fn generate_facts(o: &Options) -> String {
    let mut rng = Rng(o.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let mut out = String::with_capacity(o.components * 1200);
    for n in 0..o.components {
        let name = format!("{}-{n:05}", component_word(o.seed, n));
        let quality = rng.below(100) as f64 / 100.0;
        let b = |rng: &mut Rng, p: f64| if (rng.below(100) as f64) < p * 100.0 { "true".to_owned() } else { "false".to_owned() };
        let values: Vec<(&str, String)> = vec![
            ("github.default_branch_protected", b(&mut rng, 0.5 + quality / 2.0)),
            ("github.codeowners_present", b(&mut rng, 0.4 + quality / 2.0)),
            ("github.workflows_count", (rng.below(4) as f64 * quality).round().to_string()),
            ("github.dependency_updates_configured", b(&mut rng, quality)),
            ("github.required_reviews", (quality * 2.0).floor().to_string()),
            ("github.vulnerability_alerts_critical", if quality > 0.3 { "0".into() } else { rng.below(4).to_string() }),
            ("github.days_since_push", rng.below(400).to_string()),
            ("prometheus.availability_30d", format!("{:.4}", 0.98 + quality * 0.0199)),
            ("prometheus.error_ratio_7d", format!("{:.4}", (1.0 - quality) * 0.03)),
            ("zoekt.log4j_refs", if quality > 0.4 { "0".into() } else { rng.below(30).to_string() }),
            ("codescene.hotspot_code_health", format!("{:.1}", 3.0 + quality * 7.0)),
            ("codescene.code_health", format!("{:.1}", 4.0 + quality * 6.0)),
            ("ci.test_coverage_pct", format!("{:.1}", 20.0 + quality * 80.0)),
            ("pagerduty.has_escalation_policy", b(&mut rng, 0.8)),
            ("runtime.base_image_age_days", rng.below(200).to_string()),
            ("runtime.java_version_major", ["8", "11", "17", "21"][rng.below(4)].to_string()),
        ];
        for (f, v) in values {
            if rng.chance(90) {
                let _ = writeln!(
                    out,
                    "{{\"entity\":\"component:default/{name}\",\"fact\":\"{f}\",\"value\":{v},\"observed_at\":\"2026-12-01T06:00:00Z\"}}"
                );
            }
        }
    }
    out
}
