//! The catalog: descriptor documents turned into entities with canonical refs, augmentations
//! merged, relations generated as Backstage generates them, duplicates and dangling refs
//! reported, and each entity's system, domain and owning team resolved.
//!
//! Pure: no database, no network. Sources ([`files`], later GitHub and Backstage) produce
//! [`RawDoc`]s; [`Catalog::assemble`] does the rest.

pub mod backstage;
pub mod files;
pub mod refs;
pub mod validate;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

pub use refs::EntityRef;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The file as shown to users (relative to the pipeline folder when below it).
    pub file: String,
    /// 0-based position of the document in its file.
    pub doc: usize,
    /// 1-based line of the document's start.
    pub line: usize,
    #[serde(skip)]
    pub location_dir: PathBuf,
}

/// A document that passed validation, placeholders resolved.
#[derive(Debug, Clone)]
pub struct RawDoc {
    pub value: Value,
    pub origin: Origin,
}

/// Verdict of one document, as `validate --format json` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocStatus {
    Valid,
    Invalid,
    UnknownKind,
    YamlError,
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Valid => "valid",
            DocStatus::Invalid => "invalid",
            DocStatus::UnknownKind => "unknown-kind",
            DocStatus::YamlError => "yaml-error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocReport {
    pub file: String,
    pub doc: usize,
    /// 1-based line of the problem (or of the document when valid)
    pub line: usize,
    pub status: DocStatus,
    #[serde(rename = "ref")]
    pub entity_ref: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Io,
    Yaml,
    Invalid,
    UnknownKind,
    Duplicate,
    DanglingRef,
    BadRef,
    Placeholder,
    Location,
    Augmentation,
    Hierarchy,
    Config,
    /// a catalog source (GitHub discovery) could not be read: the catalog is incomplete
    Source,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Yaml => "yaml",
            ErrorKind::Invalid => "invalid",
            ErrorKind::UnknownKind => "unknown-kind",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::DanglingRef => "dangling-ref",
            ErrorKind::BadRef => "bad-ref",
            ErrorKind::Placeholder => "placeholder",
            ErrorKind::Location => "location",
            ErrorKind::Augmentation => "augmentation",
            ErrorKind::Hierarchy => "hierarchy",
            ErrorKind::Config => "config",
            ErrorKind::Source => "source",
        }
    }

    /// Whether the error means a descriptor document was rejected (counted against the
    /// pipeline's `max_invalid_descriptors` tolerance).
    pub fn is_rejected_descriptor(self) -> bool {
        matches!(self, ErrorKind::Io | ErrorKind::Yaml | ErrorKind::Invalid | ErrorKind::UnknownKind | ErrorKind::Duplicate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A catalog problem: what, where (file, line, entity) and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogError {
    pub kind: ErrorKind,
    pub severity: Severity,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub entity: Option<String>,
    pub message: String,
}

impl CatalogError {
    pub fn file(kind: ErrorKind, file: &str, line: Option<usize>, message: String) -> CatalogError {
        CatalogError { kind, severity: Severity::Error, file: Some(file.to_owned()), line, entity: None, message }
    }
}

/// One relation, as Backstage stores it on the source entity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Relation {
    pub source: String,
    #[serde(rename = "type")]
    pub rel_type: &'static str,
    pub target: String,
}

/// An entity of the merged catalog.
#[derive(Debug, Clone)]
pub struct Entity {
    pub entity_ref: EntityRef,
    /// `entity_ref` as a string (`kind:namespace/name`), the key everywhere
    pub ref_str: String,
    /// the kind as written (`Component`)
    pub kind: String,
    /// the entity in Backstage's JSON shape (namespace filled, augmentations merged,
    /// placeholders resolved), without relations
    pub value: Value,
    pub origin: Origin,
    /// refs of the augmentation documents merged into this entity
    pub augmented_by: Vec<String>,
    pub resolved: Resolved,
}

/// What an entity's spec points at, resolved through the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub owner: Option<String>,
    pub system: Option<String>,
    /// the domain the entity (or its system) names
    pub domain: Option<String>,
    /// that domain's top-level ancestor (subdomains roll up)
    pub root_domain: Option<String>,
    /// the owning group and its ancestors, nearest first
    pub team_chain: Vec<String>,
}

impl Entity {
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn spec_str(&self, field: &str) -> Option<&str> {
        self.value.get("spec")?.get(field)?.as_str()
    }
    pub fn namespace(&self) -> &str {
        &self.entity_ref.namespace
    }
}

/// The merged catalog of a run.
#[derive(Debug, Default)]
pub struct Catalog {
    /// sorted by ref
    pub entities: Vec<Entity>,
    /// sorted, both directions
    pub relations: Vec<Relation>,
    pub errors: Vec<CatalogError>,
    pub reports: Vec<DocReport>,
    pub files_read: usize,
    pub bytes_read: u64,
}

/// Spec fields that reference other entities: (kinds it applies to, field, default kind,
/// list?, relation on the entity, relation on the target). From contracts.md §A.5.
const REF_FIELDS: &[(&[&str], &str, Option<&str>, bool, &str, &str)] = &[
    (&["Component", "API", "Resource", "System", "Domain"], "owner", Some("group"), false, "ownedBy", "ownerOf"),
    (&["Component", "API", "Resource"], "system", Some("system"), false, "partOf", "hasPart"),
    (&["System"], "domain", Some("domain"), false, "partOf", "hasPart"),
    (&["Component"], "subcomponentOf", Some("component"), false, "partOf", "hasPart"),
    (&["Domain"], "subdomainOf", Some("domain"), false, "partOf", "hasPart"),
    (&["Component"], "providesApis", Some("api"), true, "providesApi", "apiProvidedBy"),
    (&["Component"], "consumesApis", Some("api"), true, "consumesApi", "apiConsumedBy"),
    (&["Component", "Resource"], "dependsOn", None, true, "dependsOn", "dependencyOf"),
    (&["Component", "Resource"], "dependencyOf", None, true, "dependencyOf", "dependsOn"),
    (&["Group"], "parent", Some("group"), false, "childOf", "parentOf"),
    (&["Group"], "children", Some("group"), true, "parentOf", "childOf"),
    (&["Group"], "members", Some("user"), true, "hasMember", "memberOf"),
    (&["User"], "memberOf", Some("group"), true, "memberOf", "hasMember"),
];

fn entity_error(kind: ErrorKind, e: &Entity, message: String) -> CatalogError {
    CatalogError {
        kind,
        severity: Severity::Error,
        file: Some(e.origin.file.clone()),
        line: Some(e.origin.line),
        entity: Some(e.ref_str.clone()),
        message,
    }
}

/// Entities and the index from ref string to position.
struct Set {
    entities: Vec<Entity>,
    index: HashMap<String, usize>,
}

impl Set {
    fn get(&self, r: &str) -> Option<&Entity> {
        self.index.get(r).map(|&i| &self.entities[i])
    }
}

impl Catalog {
    /// Builds the catalog from validated documents (in source order: first wins).
    pub fn assemble(docs: Vec<RawDoc>, mut errors: Vec<CatalogError>, reports: Vec<DocReport>) -> Catalog {
        let mut set = Set { entities: Vec::with_capacity(docs.len()), index: HashMap::with_capacity(docs.len()) };
        let mut augmentations: Vec<RawDoc> = Vec::new();
        for doc in docs {
            let kind = doc.value["kind"].as_str().unwrap_or_default().to_owned();
            if validate::augmentation_target_kind(&kind).is_some() {
                augmentations.push(doc);
                continue;
            }
            let mut value = doc.value;
            let meta = value["metadata"].as_object_mut().expect("validated");
            let ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("default").to_owned();
            if !meta.contains_key("namespace") {
                // Backstage's DefaultNamespaceEntityPolicy
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            let name = value["metadata"]["name"].as_str().unwrap_or_default();
            let r = EntityRef::new(&kind, &ns, name);
            let ref_str = r.to_string();
            if let Some(first) = set.get(&ref_str) {
                errors.push(CatalogError {
                    kind: ErrorKind::Duplicate,
                    severity: Severity::Error,
                    file: Some(doc.origin.file.clone()),
                    line: Some(doc.origin.line),
                    entity: Some(ref_str.clone()),
                    message: format!(
                        "{}:{}: duplicate entity {ref_str}: already defined at {}:{} (the first definition is kept)",
                        doc.origin.file, doc.origin.line, first.origin.file, first.origin.line
                    ),
                });
                continue;
            }
            set.index.insert(ref_str.clone(), set.entities.len());
            set.entities.push(Entity {
                entity_ref: r,
                ref_str,
                kind,
                value,
                origin: doc.origin,
                augmented_by: Vec::new(),
                resolved: Resolved::default(),
            });
        }

        for aug in augmentations {
            apply_augmentation(&aug, &mut set, &mut errors);
        }

        let relations = generate_relations(&set, &mut errors);
        resolve_all(&mut set, &mut errors);

        let mut entities = set.entities;
        entities.sort_unstable_by(|a, b| a.ref_str.cmp(&b.ref_str));
        Catalog { entities, relations, errors, reports, files_read: 0, bytes_read: 0 }
    }

    pub fn get(&self, r: &str) -> Option<&Entity> {
        self.entities.binary_search_by(|e| e.ref_str.as_str().cmp(r)).ok().map(|i| &self.entities[i])
    }

    /// Relations whose source is `r` (relations are sorted by source).
    pub fn relations_of(&self, r: &str) -> &[Relation] {
        let start = self.relations.partition_point(|x| x.source.as_str() < r);
        let end = self.relations.partition_point(|x| x.source.as_str() <= r);
        &self.relations[start..end]
    }

    pub fn error_count(&self) -> usize {
        self.errors.iter().filter(|e| e.severity == Severity::Error).count()
    }

    /// Documents rejected (YAML errors, invalid, unknown kinds, unreadable files, duplicates).
    pub fn rejected_count(&self) -> usize {
        self.errors.iter().filter(|e| e.severity == Severity::Error && e.kind.is_rejected_descriptor()).count()
    }
}

fn apply_augmentation(aug: &RawDoc, set: &mut Set, errors: &mut Vec<CatalogError>) {
    let kind = aug.value["kind"].as_str().unwrap_or_default();
    let target_kind = validate::augmentation_target_kind(kind).unwrap_or_default();
    let meta = &aug.value["metadata"];
    let ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("default");
    let name = meta["name"].as_str().unwrap_or_default();
    let target = EntityRef::new(target_kind, ns, name).to_string();
    let aug_ref = format!("{}:{}/{}", kind.to_lowercase(), ns.to_lowercase(), name.to_lowercase());
    let Some(&i) = set.index.get(&target) else {
        errors.push(CatalogError {
            kind: ErrorKind::Augmentation,
            severity: Severity::Error,
            file: Some(aug.origin.file.clone()),
            line: Some(aug.origin.line),
            entity: Some(aug_ref),
            message: format!(
                "{}:{}: {kind} \"{name}\" has no target: there is no {target} in the catalog",
                aug.origin.file, aug.origin.line
            ),
        });
        return;
    };
    let entity = &mut set.entities[i];
    let tmeta = entity.value["metadata"].as_object_mut().expect("validated");
    for key in ["annotations", "labels"] {
        if let Some(Value::Object(src)) = meta.get(key) {
            let dst = tmeta.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(d) = dst {
                for (k, v) in src {
                    d.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(Value::Array(src)) = meta.get("tags") {
        let dst = tmeta.entry("tags").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(d) = dst {
            for t in src {
                if !d.contains(t) {
                    d.push(t.clone());
                }
            }
        }
    }
    if let Some(Value::Array(src)) = meta.get("links") {
        let dst = tmeta.entry("links").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(d) = dst {
            for l in src {
                let url = l.get("url");
                if !d.iter().any(|x| x.get("url") == url) {
                    d.push(l.clone());
                }
            }
        }
    }
    entity.augmented_by.push(format!("{aug_ref} ({}:{})", aug.origin.file, aug.origin.line));
}

fn generate_relations(set: &Set, errors: &mut Vec<CatalogError>) -> Vec<Relation> {
    let mut rels: Vec<Relation> = Vec::with_capacity(set.entities.len() * 8);
    for e in &set.entities {
        let Some(Value::Object(spec)) = e.value.get("spec") else { continue };
        for (kinds, field, default_kind, list, fwd, back) in REF_FIELDS {
            if !kinds.contains(&e.kind.as_str()) {
                continue;
            }
            let Some(v) = spec.get(*field) else { continue };
            let raws: Vec<&str> = if *list {
                v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
            } else {
                v.as_str().into_iter().collect()
            };
            for raw in raws {
                match refs::canonical(raw, *default_kind, e.namespace()) {
                    Ok(target) => {
                        if !set.index.contains_key(&target) {
                            errors.push(entity_error(
                                ErrorKind::DanglingRef,
                                e,
                                format!(
                                    "{}:{}: {} spec.{field} refers to {target}, which is not in the catalog (kept as a dangling reference)",
                                    e.origin.file, e.origin.line, e.ref_str
                                ),
                            ));
                        }
                        rels.push(Relation { source: target.clone(), rel_type: back, target: e.ref_str.clone() });
                        rels.push(Relation { source: e.ref_str.clone(), rel_type: fwd, target });
                    }
                    Err(msg) => errors.push(entity_error(
                        ErrorKind::BadRef,
                        e,
                        format!("{}:{}: {} spec.{field}: {msg}", e.origin.file, e.origin.line, e.ref_str),
                    )),
                }
            }
        }
    }
    rels.sort_unstable();
    rels.dedup();
    rels
}

fn field_ref(e: &Entity, field: &str, default_kind: &str) -> Option<String> {
    refs::canonical(e.spec_str(field)?, Some(default_kind), e.namespace()).ok()
}

/// Follows `next` from `start` to the top, stopping at cycles (reported once per cycle).
fn chain_to_root(start: &str, next: &HashMap<String, String>, what: &str, cycles: &mut BTreeSet<String>) -> Vec<String> {
    let mut out = vec![start.to_owned()];
    let mut cur = start;
    while let Some(n) = next.get(cur) {
        if out.iter().any(|x| x == n) {
            let names: Vec<&str> = out.iter().map(String::as_str).chain([n.as_str()]).collect();
            let mut sorted: Vec<&str> = out.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            cycles.insert(format!("{what} cycle: {}|{}", names.join(" -> "), sorted.join(",")));
            break;
        }
        out.push(n.clone());
        cur = n;
    }
    out
}

fn resolve_all(set: &mut Set, errors: &mut Vec<CatalogError>) {
    let mut domain_parent: HashMap<String, String> = HashMap::new();
    let mut group_parent: HashMap<String, String> = HashMap::new();
    let mut system_domain: HashMap<String, String> = HashMap::new();
    for e in &set.entities {
        match e.kind() {
            "Domain" => {
                if let Some(p) = field_ref(e, "subdomainOf", "domain") {
                    domain_parent.insert(e.ref_str.clone(), p);
                }
            }
            "Group" => {
                if let Some(p) = field_ref(e, "parent", "group") {
                    group_parent.insert(e.ref_str.clone(), p);
                }
            }
            "System" => {
                if let Some(d) = field_ref(e, "domain", "domain") {
                    system_domain.insert(e.ref_str.clone(), d);
                }
            }
            _ => {}
        }
    }
    // a parent named only through the parent's `children` list counts too
    for e in &set.entities {
        if e.kind() == "Group" {
            if let Some(Value::Array(children)) = e.value.get("spec").and_then(|s| s.get("children")) {
                for c in children.iter().filter_map(Value::as_str) {
                    if let Ok(c) = refs::canonical(c, Some("group"), e.namespace()) {
                        group_parent.entry(c).or_insert_with(|| e.ref_str.clone());
                    }
                }
            }
        }
    }
    // chains are shared by many entities: compute each once
    let mut team_chains: HashMap<String, Vec<String>> = HashMap::new();
    let mut domain_roots: HashMap<String, String> = HashMap::new();
    let mut cycles = BTreeSet::new();
    for e in set.entities.iter_mut() {
        let mut res = Resolved::default();
        let owner = match e.kind.as_str() {
            "Component" | "API" | "Resource" | "System" | "Domain" => field_ref(e, "owner", "group"),
            _ => None,
        };
        let team_start = if e.kind == "Group" { Some(e.ref_str.clone()) } else { owner.clone().filter(|o| o.starts_with("group:")) };
        if let Some(t) = team_start {
            res.team_chain = team_chains.entry(t.clone()).or_insert_with(|| chain_to_root(&t, &group_parent, "group", &mut cycles)).clone();
        }
        res.owner = owner;
        let system = match e.kind.as_str() {
            "System" => Some(e.ref_str.clone()),
            "Component" | "API" | "Resource" => field_ref(e, "system", "system"),
            _ => None,
        };
        let domain = match e.kind.as_str() {
            "Domain" => Some(e.ref_str.clone()),
            _ => system.as_ref().and_then(|s| system_domain.get(s).cloned()),
        };
        if let Some(d) = &domain {
            let root = domain_roots
                .entry(d.clone())
                .or_insert_with(|| chain_to_root(d, &domain_parent, "domain", &mut cycles).pop().unwrap_or_default())
                .clone();
            res.root_domain = Some(root);
        }
        res.system = system;
        res.domain = domain;
        e.resolved = res;
    }
    let mut seen_sets = BTreeSet::new();
    for c in cycles {
        let (msg, members) = c.split_once('|').unwrap_or((&c, ""));
        if seen_sets.insert(members.to_owned()) {
            errors.push(CatalogError {
                kind: ErrorKind::Hierarchy,
                severity: Severity::Error,
                file: None,
                line: None,
                entity: None,
                message: msg.to_owned(),
            });
        }
    }
}

/// The entity in Backstage's JSON shape with its relations (`{type, targetRef}`).
pub fn backstage_json(e: &Entity, relations: &[Relation]) -> Value {
    let mut v = e.value.clone();
    if let Value::Object(m) = &mut v {
        let rels: Vec<Value> = relations.iter().map(|r| serde_json::json!({"type": r.rel_type, "targetRef": r.target})).collect();
        m.insert("relations".into(), Value::Array(rels));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value, file: &str) -> RawDoc {
        RawDoc { value: v, origin: Origin { file: file.into(), doc: 0, line: 1, location_dir: PathBuf::new() } }
    }

    fn comp(name: &str, owner: &str, system: Option<&str>) -> Value {
        let mut spec = json!({"type": "service", "lifecycle": "production", "owner": owner});
        if let Some(s) = system {
            spec["system"] = json!(s);
        }
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": name}, "spec": spec})
    }

    #[test]
    fn relations_resolution_duplicates_and_augmentation() {
        let docs = vec![
            doc(
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Domain", "metadata": {"name": "root-d"}, "spec": {"owner": "org"}}),
                "d.yaml",
            ),
            doc(
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Domain", "metadata": {"name": "sub-d"}, "spec": {"owner": "org", "subdomainOf": "root-d"}}),
                "d.yaml",
            ),
            doc(
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": {"name": "sys"}, "spec": {"owner": "team-a", "domain": "sub-d"}}),
                "s.yaml",
            ),
            doc(
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "org"}, "spec": {"type": "org", "children": ["team-a"]}}),
                "g.yaml",
            ),
            doc(
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "Team-A"}, "spec": {"type": "team", "children": []}}),
                "g.yaml",
            ),
            doc(comp("svc", "team-a", Some("sys")), "a.yaml"),
            doc(comp("svc", "someone-else", None), "b.yaml"),
            doc(comp("lonely", "ghost", None), "c.yaml"),
            doc(
                json!({"apiVersion": "x.io/v1", "kind": "GroupAugmentation", "metadata": {"name": "team-a", "annotations": {"slack.com/channel": "#a"}, "tags": ["oncall"]}}),
                "aug.yaml",
            ),
            doc(json!({"apiVersion": "x.io/v1", "kind": "ComponentAugmentation", "metadata": {"name": "nobody"}}), "aug.yaml"),
        ];
        let cat = Catalog::assemble(docs, vec![], vec![]);
        let svc = cat.get("component:default/svc").unwrap();
        assert_eq!(svc.origin.file, "a.yaml", "first definition wins");
        assert_eq!(svc.resolved.domain.as_deref(), Some("domain:default/sub-d"));
        assert_eq!(svc.resolved.root_domain.as_deref(), Some("domain:default/root-d"));
        assert_eq!(svc.resolved.team_chain, vec!["group:default/team-a", "group:default/org"]);
        assert_eq!(svc.value["metadata"]["namespace"], "default");
        let team = cat.get("group:default/team-a").unwrap();
        assert_eq!(team.value["metadata"]["annotations"]["slack.com/channel"], "#a");
        assert_eq!(team.value["metadata"]["tags"], json!(["oncall"]));
        let rels: Vec<_> = cat.relations_of("group:default/team-a").iter().map(|r| (r.rel_type, r.target.as_str())).collect();
        assert!(rels.contains(&("ownerOf", "component:default/svc")));
        assert!(rels.contains(&("childOf", "group:default/org")));
        let kinds: Vec<ErrorKind> = cat.errors.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&ErrorKind::Duplicate));
        assert!(kinds.contains(&ErrorKind::Augmentation));
        assert!(kinds.contains(&ErrorKind::DanglingRef));
        let dup = cat.errors.iter().find(|e| e.kind == ErrorKind::Duplicate).unwrap();
        assert!(dup.message.contains("b.yaml") && dup.message.contains("a.yaml"));
        // dangling refs are kept as relations
        assert!(cat.relations_of("component:default/lonely").iter().any(|r| r.target == "group:default/ghost"));
    }
}
