//! A strict reader over positioned YAML: each accessor records the key as known, wrong types
//! and unknown keys become [`ConfigError`]s with their line, and reading goes on so that
//! every problem of a file is reported at once. Used by pipelines, check packs, exemptions.

use super::ConfigError;
use crate::yaml::{self, PNode, PValue};

/// Reads a configuration file that holds exactly one YAML document, with positions.
/// `Ok(None)` for an empty file; errors name the file and line.
pub fn read_single(path: &std::path::Path, what: &str) -> Result<Option<PNode>, ConfigError> {
    let shown = path.display().to_string();
    let fail = |line: usize, message: String| ConfigError { file: shown.clone(), line, message };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, format!("cannot read {what}: {e}")))?;
    let chunks = yaml::split_documents(yaml::strip_bom(&text));
    match chunks.len() {
        0 => return Ok(None),
        1 => {}
        n => return Err(fail(1, format!("a {what} holds exactly one YAML document, found {n}"))),
    }
    yaml::parse_positioned(&chunks[0]).map_err(|e| fail(e.line, format!("YAML syntax error at column {}: {}", e.col, e.message)))
}

/// Reads each of `files` (one YAML document each, a mapping) and hands its root to `each`,
/// then checks the root holds only `known` keys; every problem goes to `errors` with
/// file:line. An empty file is the error `empty` when given, else skipped.
pub(crate) fn each_root(
    files: &[std::path::PathBuf],
    what: &str,
    empty: Option<&str>,
    known: &[&str],
    errors: &mut Vec<ConfigError>,
    mut each: impl FnMut(&str, &mut Obj<'_>, &mut Errs<'_>),
) {
    for f in files {
        let shown = f.display().to_string();
        let node = match read_single(f, what) {
            Ok(Some(n)) => n,
            Ok(None) => {
                if let Some(m) = empty {
                    errors.push(ConfigError { file: shown.clone(), line: 1, message: m.to_owned() });
                }
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut errs = Errs { file: &shown, list: Vec::new() };
        if let Some(mut root) = Obj::new(&shown, String::new(), &node, &mut errs) {
            each(&shown, &mut root, &mut errs);
            root.finish(known, &mut errs);
        }
        errors.extend(errs.list);
    }
}

/// Walks a positioned mapping, collecting problems instead of stopping at the first.
pub(crate) struct Obj<'a> {
    pub file: &'a str,
    pub path: String,
    pub node: &'a PNode,
    pub used: Vec<&'static str>,
}

pub(crate) struct Errs<'a> {
    pub file: &'a str,
    pub list: Vec<ConfigError>,
}

impl<'a> Errs<'a> {
    pub fn push(&mut self, line: usize, message: String) {
        self.list.push(ConfigError { file: self.file.to_owned(), line, message });
    }
}

pub(crate) fn type_of(n: &PNode) -> &'static str {
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
    pub fn new(file: &'a str, path: String, node: &'a PNode, errs: &mut Errs<'_>) -> Option<Obj<'a>> {
        match node.value {
            PValue::Map(_) => Some(Obj { file, path, node, used: Vec::new() }),
            _ => {
                errs.push(node.line, format!("{} must be a mapping, but is {}", display_path(&path), type_of(node)));
                None
            }
        }
    }

    pub fn entries(&self) -> &'a [(String, usize, PNode)] {
        match &self.node.value {
            PValue::Map(e) => e,
            _ => &[],
        }
    }

    pub fn get(&mut self, key: &'static str) -> Option<&'a PNode> {
        self.used.push(key);
        self.entries().iter().find(|e| e.0 == key).map(|e| &e.2)
    }

    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn string(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<String> {
        let n = self.get(key)?;
        match &n.value {
            PValue::String(s) => Some(s.clone()),
            _ => {
                errs.push(n.line, format!("{} must be a string, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    pub fn required_string(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<String> {
        if self.entries().iter().all(|e| e.0 != key) {
            errs.push(self.node.line, format!("{} is required", self.field(key)));
            self.used.push(key);
            return None;
        }
        self.string(key, errs)
    }

    pub fn uint(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<u64> {
        let n = self.get(key)?;
        match &n.value {
            PValue::Number(x) if x.as_u64().is_some() => x.as_u64(),
            _ => {
                errs.push(n.line, format!("{} must be a whole number >= 0, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    pub fn float(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<f64> {
        let n = self.get(key)?;
        match &n.value {
            PValue::Number(x) => x.as_f64(),
            _ => {
                errs.push(n.line, format!("{} must be a number, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    pub fn boolean(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<bool> {
        let n = self.get(key)?;
        match &n.value {
            PValue::Bool(b) => Some(*b),
            _ => {
                errs.push(n.line, format!("{} must be true or false, but is {}", self.field(key), type_of(n)));
                None
            }
        }
    }

    pub fn strings(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Option<Vec<String>> {
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

    pub fn list(&mut self, key: &'static str, errs: &mut Errs<'_>) -> Vec<(String, &'a PNode)> {
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
    pub fn finish(self, known: &[&str], errs: &mut Errs<'_>) {
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

pub(crate) fn display_path(p: &str) -> String {
    if p.is_empty() {
        "the pipeline file".into()
    } else {
        p.to_owned()
    }
}
