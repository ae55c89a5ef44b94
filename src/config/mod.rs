//! Pipeline files (`pipelines/*.yaml`): parsed strictly (unknown keys rejected) from a
//! positioned YAML tree, so that every problem is reported at once with its file:line, then
//! turned into a validated [`Pipeline`] whose paths are absolute and whose defaults are set
//! in one place ([`defaults`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::catalog::files::{normalize, DEFAULT_MAX_FILE_BYTES};
use crate::yaml::{self, PNode, PValue};

/// Defaults, in one place.
pub mod defaults {
    /// Folder (beside the pipeline file) holding databases and outputs unless configured;
    /// git-ignored.
    pub const STATE_DIR: &str = ".echo-health";
    pub const MAX_REJECTED_DESCRIPTORS: u64 = 0;
    pub const MAX_REFERENCE_ERRORS: u64 = 0;
    pub const MAX_FACT_ERRORS: u64 = 0;
}

/// A problem in a configuration file, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// All the problems of one file, reported together.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{} in configuration:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file (absolute).
    pub file: PathBuf,
    /// Folder of the pipeline file; relative paths in it are resolved against this.
    pub dir: PathBuf,
    /// Name of the job (`[a-z0-9-_]`), used in run records and default paths.
    pub name: String,
    /// Optional 5-field cron expression (`0 6 * * 1`), validated.
    pub schedule: Option<String>,
    /// The DuckDB file (absolute).
    pub database: PathBuf,
    /// Output folder for exports and the site (absolute).
    pub output: PathBuf,
    pub catalog: Vec<CatalogSource>,
    pub facts: Vec<FactSource>,
    pub tolerances: Tolerances,
}

/// A catalog source.
#[derive(Debug, Clone)]
pub enum CatalogSource {
    Files {
        /// Globs or paths, relative to the pipeline folder.
        paths: Vec<String>,
        /// Globs of files to leave out (e.g. OpenAPI specs next to descriptors).
        exclude: Vec<String>,
        /// Largest file read (bytes).
        max_file_bytes: u64,
        /// Follow `Location` entities to further files.
        follow_locations: bool,
    },
}

/// A fact source.
#[derive(Debug, Clone)]
pub enum FactSource {
    Files {
        /// Name shown in errors and the data-quality page.
        name: String,
        paths: Vec<String>,
        /// A required source that produces nothing (no file matched, all unreadable) fails
        /// the run.
        required: bool,
    },
}

/// How many problems of each class a run tolerates before it counts as failed (exit 2).
/// Problems within tolerance still make the run `partial` and are all recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tolerances {
    /// Descriptor documents rejected (YAML errors, invalid, unknown kinds, unreadable files,
    /// duplicate refs).
    pub max_rejected_descriptors: u64,
    /// Reference problems: dangling or malformed refs, augmentations without a target,
    /// hierarchy cycles, placeholders or Location targets that cannot be read.
    pub max_reference_errors: u64,
    /// Fact rows rejected (malformed, unknown entity, bad value).
    pub max_fact_errors: u64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            max_rejected_descriptors: defaults::MAX_REJECTED_DESCRIPTORS,
            max_reference_errors: defaults::MAX_REFERENCE_ERRORS,
            max_fact_errors: defaults::MAX_FACT_ERRORS,
        }
    }
}

/// Walks a positioned mapping, collecting problems instead of stopping at the first.
struct Obj<'a> {
    file: &'a str,
    path: String,
    node: &'a PNode,
    used: Vec<&'static str>,
}

struct Errs<'a> {
    file: &'a str,
    list: Vec<ConfigError>,
}

impl<'a> Errs<'a> {
    fn push(&mut self, line: usize, message: String) {
        self.list.push(ConfigError { file: self.file.to_owned(), line, message });
    }
}

fn type_of(n: &PNode) -> &'static str {
    match n.value {
        PValue::Null => "nothing",
        PValue::Bool(_) => "a boolean",
        PValue::Number(_) => "a number",
        PValue::String(_) => "a string",
        PValue::Seq(_) => "a list",
        PValue::Map(_) => "a mapping",
    }
}

impl<'a> Obj<'a> {
    fn new(file: &'a str, path: String, node: &'a PNode, errs: &mut Errs<'_>) -> Option<Obj<'a>> {
        match node.value {
            PValue::Map(_) => Some(Obj { file, path, node, used: Vec::new() }),
            _ => {
                errs.push(node.line, format!("{} must be a mapping, but is {}", display_path(&path), type_of(node)));
                None
            }
        }
    }

    fn entries(&self) -> &'a [(String, usize, PNode)] {
        match &self.node.value {
            PValue::Map(e) => e,
            _ => &[],
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a PNode> {
        self.used.push(key);
        self.entries().iter().find(|e| e.0 == key).map(|e| &e.2)
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn string(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<String> {
        let n = self.get(key)?;
        match &n.value {
            PValue::String(s) => Some(s.clone()),
            _ => {
                errs.push(n.line, format!("{} must be a string, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    fn required_string(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<String> {
        if self.entries().iter().all(|e| e.0 != key) {
            errs.push(self.node.line, format!("{} is required", self.field(key)));
            self.used.push(key);
            return None;
        }
        self.string(key, errs)
    }

    fn uint(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<u64> {
        let n = self.get(key)?;
        match &n.value {
            PValue::Number(x) if x.as_u64().is_some() => x.as_u64(),
            _ => {
                errs.push(n.line, format!("{} must be a whole number >= 0, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    fn boolean(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<bool> {
        let n = self.get(key)?;
        match &n.value {
            PValue::Bool(b) => Some(*b),
            _ => {
                errs.push(n.line, format!("{} must be true or false, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    fn strings(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<Vec<String>> {
        let n = self.get(key)?;
        match &n.value {
            PValue::String(s) => Some(vec![s.clone()]),
            PValue::Seq(items) => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    match &it.value {
                        PValue::String(s) => out.push(s.clone()),
                        _ => errs.push(it.line, format!("{}[{i}] must be a string, but is {}", self.field(key), type_of(it))),
                    }
                }
                Some(out)
            }
            _ => {
                errs.push(n.line, format!("{} must be a list of strings, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    fn list(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Vec<(String, &'a PNode)> {
        let Some(n) = self.get(key) else { return vec![] };
        match &n.value {
            PValue::Seq(items) => items.iter().enumerate().map(|(i, it)| (format!("{}[{i}]", self.field(key)), it)).collect(),
            PValue::Null => vec![],
            _ => {
                errs.push(n.line, format!("{} must be a list, but is {}", self.field(key), type_of(n)));
                vec![]
            }
        }
    }

    /// Reports keys nobody asked for.
    fn finish(self, known: &[&str], errs: &mut Errs<'_>) {
        let _ = self.file;
        for (k, line, _) in self.entries() {
            if !self.used.contains(&k.as_str()) {
                let mut allowed: Vec<&str> = known.to_vec();
                allowed.sort();
                errs.push(*line, format!("unknown key \"{}\" (allowed here: {})", self.field(k), allowed.join(", ")));
            }
        }
    }
}

fn display_path(p: &str) -> String {
    if p.is_empty() {
        "the pipeline file".into()
    } else {
        p.to_owned()
    }
}

fn is_valid_job_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// Whether a YAML value looks like a pipeline file (and not a descriptor).
pub fn looks_like_pipeline(v: &Value) -> bool {
    v.as_object().map(|m| !m.contains_key("apiVersion") && (m.contains_key("catalog") || m.contains_key("facts"))).unwrap_or(false)
}

/// Reads and validates a pipeline file; every problem is reported at once.
pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
    let shown = path.display().to_string();
    let one = |line: usize, message: String| ConfigErrors(vec![ConfigError { file: shown.clone(), line, message }]);
    let text = std::fs::read_to_string(path).map_err(|e| one(0, format!("cannot read pipeline file: {e}")))?;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    parse(&text, &shown, &normalize(&abs))
}

/// Parses a pipeline from text; `file` is the absolute path used to resolve relative paths.
pub fn parse(text: &str, shown: &str, file: &Path) -> Result<Pipeline, ConfigErrors> {
    let one = |line: usize, message: String| ConfigErrors(vec![ConfigError { file: shown.to_owned(), line, message }]);
    let text = yaml::strip_bom(text);
    let chunks = yaml::split_documents(text);
    if chunks.len() != 1 {
        return Err(one(1, format!("a pipeline file holds exactly one YAML document, found {}", chunks.len())));
    }
    let node = yaml::parse_positioned(&chunks[0])
        .map_err(|e| one(e.line, format!("YAML syntax error at column {}: {}", e.col, e.message)))?
        .ok_or_else(|| one(1, "the pipeline file is empty".into()))?;
    let mut errs = Errs { file: shown, list: Vec::new() };
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let Some(mut root) = Obj::new(shown, String::new(), &node, &mut errs) else {
        return Err(ConfigErrors(errs.list));
    };
    let name = root.required_string("name", &mut errs).unwrap_or_default();
    if !name.is_empty() && !is_valid_job_name(&name) {
        errs.push(root.node.key_line(&["name"]).unwrap_or(1), format!("name \"{name}\" must be 1-63 characters a-z, 0-9, - or _"));
    }
    let schedule = root.string("schedule", &mut errs);
    if let Some(s) = &schedule {
        if let Err(e) = croner::Cron::new(s).parse() {
            errs.push(
                root.node.key_line(&["schedule"]).unwrap_or(1),
                format!("schedule \"{s}\" is not a valid 5-field cron expression (minute hour day-of-month month day-of-week): {e}"),
            );
        }
    }
    let database = root.string("database", &mut errs);
    let output = root.string("output", &mut errs);
    let mut catalog = Vec::new();
    for (path, n) in root.list("catalog", &mut errs) {
        if let Some(mut o) = Obj::new(shown, path.clone(), n, &mut errs) {
            let ty = o.required_string("type", &mut errs);
            match ty.as_deref() {
                Some("files") => {
                    let paths = o.strings("paths", &mut errs).unwrap_or_default();
                    if paths.is_empty() {
                        errs.push(n.line, format!("{path}.paths must name at least one file, folder or glob"));
                    }
                    let exclude = o.strings("exclude", &mut errs).unwrap_or_default();
                    for g in &exclude {
                        if let Err(e) = globset::Glob::new(g) {
                            errs.push(n.line, format!("{path}.exclude: invalid glob \"{g}\": {e}"));
                        }
                    }
                    let max_file_bytes = o.uint("max_file_bytes", &mut errs).unwrap_or(DEFAULT_MAX_FILE_BYTES);
                    let follow_locations = o.boolean("follow_locations", &mut errs).unwrap_or(true);
                    catalog.push(CatalogSource::Files { paths, exclude, max_file_bytes, follow_locations });
                    o.finish(&["type", "paths", "exclude", "max_file_bytes", "follow_locations"], &mut errs);
                }
                Some(other) => {
                    errs.push(n.line, format!("{path}.type \"{other}\" is not a catalog source type (known: files)"));
                }
                None => {}
            }
        }
    }
    let mut facts = Vec::new();
    for (i, (path, n)) in root.list("facts", &mut errs).into_iter().enumerate() {
        if let Some(mut o) = Obj::new(shown, path.clone(), n, &mut errs) {
            let ty = o.required_string("type", &mut errs);
            match ty.as_deref() {
                Some("files") => {
                    let name = o.string("name", &mut errs).unwrap_or_else(|| format!("facts-{}", i + 1));
                    let paths = o.strings("paths", &mut errs).unwrap_or_default();
                    if paths.is_empty() {
                        errs.push(n.line, format!("{path}.paths must name at least one file, folder or glob"));
                    }
                    let required = o.boolean("required", &mut errs).unwrap_or(true);
                    facts.push(FactSource::Files { name, paths, required });
                    o.finish(&["type", "name", "paths", "required"], &mut errs);
                }
                Some(other) => {
                    errs.push(n.line, format!("{path}.type \"{other}\" is not a fact source type (known: files)"));
                }
                None => {}
            }
        }
    }
    let mut tolerances = Tolerances::default();
    if let Some(n) = root.get("tolerances") {
        if let Some(mut o) = Obj::new(shown, "tolerances".into(), n, &mut errs) {
            if let Some(v) = o.uint("max_rejected_descriptors", &mut errs) {
                tolerances.max_rejected_descriptors = v;
            }
            if let Some(v) = o.uint("max_reference_errors", &mut errs) {
                tolerances.max_reference_errors = v;
            }
            if let Some(v) = o.uint("max_fact_errors", &mut errs) {
                tolerances.max_fact_errors = v;
            }
            o.finish(&["max_rejected_descriptors", "max_reference_errors", "max_fact_errors"], &mut errs);
        }
    }
    if catalog.is_empty() && errs.list.is_empty() {
        errs.push(node.line, "catalog must list at least one catalog source".into());
    }
    root.finish(&["name", "schedule", "database", "output", "catalog", "facts", "tolerances"], &mut errs);
    if !errs.list.is_empty() {
        errs.list.sort_by_key(|e| e.line);
        return Err(ConfigErrors(errs.list));
    }
    let state = dir.join(defaults::STATE_DIR);
    let database = match database {
        Some(d) => normalize(&dir.join(d)),
        None => state.join(format!("{name}.duckdb")),
    };
    let output = match output {
        Some(o) => normalize(&dir.join(o)),
        None => state.join(format!("{name}-out")),
    };
    Ok(Pipeline { file: file.to_path_buf(), dir, name, schedule, database, output, catalog, facts, tolerances })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Pipeline, ConfigErrors> {
        parse(s, "p.yaml", Path::new("/x/pipelines/p.yaml"))
    }

    #[test]
    fn minimal_pipeline_gets_defaults() {
        let p = parse_str("name: demo\ncatalog:\n  - type: files\n    paths: [catalog]\n").unwrap();
        assert_eq!(p.database, PathBuf::from("/x/pipelines/.echo-health/demo.duckdb"));
        assert_eq!(p.output, PathBuf::from("/x/pipelines/.echo-health/demo-out"));
        assert_eq!(p.tolerances, Tolerances::default());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let e = parse_str(
            "name: Demo!\nschedule: \"61 * * * *\"\ncolour: blue\ncatalog:\n  - type: files\n    paths: [a]\n    recursive: yes\n  - type: ftp\ntolerances:\n  max_rejected_descriptors: -1\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = e.0.iter().map(|x| x.line).collect();
        let text = e.to_string();
        assert!(text.contains("p.yaml:1: name \"Demo!\""), "{text}");
        assert!(text.contains("p.yaml:2: schedule"), "{text}");
        assert!(text.contains("p.yaml:3: unknown key \"colour\""), "{text}");
        assert!(text.contains("p.yaml:7: unknown key \"catalog[0].recursive\""), "{text}");
        assert!(text.contains("\"ftp\""), "{text}");
        assert!(text.contains("p.yaml:10: tolerances.max_rejected_descriptors"), "{text}");
        assert_eq!(lines.len(), 6, "{text}");
    }
}
