//! The files catalog source: globs, multi-document descriptor files, `Location` entities
//! followed to further files, and `$text`/`$json`/`$yaml` placeholders resolved for relative
//! file targets. Pure: reads files, never touches the database.
//!
//! Every problem (unreadable file, invalid UTF-8, oversize file, symlink loop, YAML error,
//! invalid descriptor, placeholder that cannot be read, Location cycle) becomes a
//! [`CatalogError`] naming the file and line; every other document is still read.

use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde_json::{Map, Value};

use super::validate::{validate, Status};
use super::{CatalogError, DocReport, DocStatus, ErrorKind, Origin, RawDoc};
use crate::yaml;

/// Default largest descriptor file we read (a bigger file is reported, not read).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Options of a files source.
#[derive(Debug, Clone)]
pub struct FilesOptions {
    /// Folder that relative globs are resolved against (the pipeline file's folder).
    pub base_dir: PathBuf,
    pub max_file_bytes: u64,
    pub follow_locations: bool,
    /// Globs (relative to `base_dir`) of files never read as descriptors.
    pub exclude: Vec<String>,
}

impl FilesOptions {
    pub fn new(base_dir: impl Into<PathBuf>) -> FilesOptions {
        FilesOptions { base_dir: base_dir.into(), max_file_bytes: DEFAULT_MAX_FILE_BYTES, follow_locations: true, exclude: Vec::new() }
    }

    fn exclude_set(&self) -> globset::GlobSet {
        let mut b = globset::GlobSetBuilder::new();
        for g in &self.exclude {
            let full = normalize(&self.base_dir.join(g)).to_string_lossy().to_string();
            if let Ok(glob) = Glob::new(&full) {
                b.add(glob);
            }
        }
        b.build().unwrap_or_else(|_| globset::GlobSet::empty())
    }
}

/// What a files source produced: every document's verdict, the documents accepted, errors.
#[derive(Debug, Default)]
pub struct FilesOutput {
    pub reports: Vec<DocReport>,
    pub docs: Vec<RawDoc>,
    pub errors: Vec<CatalogError>,
    pub files_read: usize,
    pub bytes_read: u64,
}

/// Lexically normalises `a/./b/../c` to `a/c` (no file system access, symlinks untouched).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// File extensions of descriptor files, taken from folders named without a glob.
pub const DESCRIPTOR_EXTENSIONS: &[&str] = &["yaml", "yml"];

/// Expands a path or glob (relative to `base`) into the files it names, in sorted order; a
/// folder stands for the files below it with one of `folder_exts`. Returns errors for walk
/// problems (symlink loops, unreadable folders) and for a plain path that does not exist.
pub fn expand(pattern: &str, base: &Path, folder_exts: &[&str], errors: &mut Vec<CatalogError>) -> Vec<PathBuf> {
    let joined = normalize(&base.join(pattern));
    let joined_s = joined.to_string_lossy().to_string();
    if !has_glob_chars(pattern) {
        if joined.is_dir() {
            return walk(&joined, None, folder_exts, errors);
        }
        if joined.exists() || joined.symlink_metadata().is_ok() {
            return vec![joined];
        }
        errors.push(CatalogError::file(ErrorKind::Io, &joined_s, None, format!("{joined_s}: no such file or folder")));
        return vec![];
    }
    // the literal folder before the first glob component
    let mut root = PathBuf::new();
    for c in joined.components() {
        let s = c.as_os_str().to_string_lossy();
        if has_glob_chars(&s) {
            break;
        }
        root.push(c.as_os_str());
    }
    let matcher = match Glob::new(&joined_s) {
        Ok(g) => g.compile_matcher(),
        Err(e) => {
            errors.push(CatalogError::file(ErrorKind::Config, pattern, None, format!("invalid glob \"{pattern}\": {e}")));
            return vec![];
        }
    };
    if !root.is_dir() {
        errors.push(CatalogError::file(
            ErrorKind::Io,
            &root.to_string_lossy(),
            None,
            format!("{}: folder of glob \"{pattern}\" does not exist", root.display()),
        ));
        return vec![];
    }
    walk(&root, Some(&matcher), folder_exts, errors)
}

fn walk(root: &Path, matcher: Option<&GlobMatcher>, exts: &[&str], errors: &mut Vec<CatalogError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(e) => {
                if e.file_type().is_dir() {
                    continue;
                }
                let p = e.path();
                let ok = match matcher {
                    Some(m) => m.is_match(p),
                    None => p.extension().and_then(|x| x.to_str()).map(|x| exts.contains(&x)).unwrap_or(false),
                };
                if ok {
                    out.push(p.to_path_buf());
                }
            }
            Err(e) => {
                let path = e.path().map(|p| p.display().to_string()).unwrap_or_else(|| root.display().to_string());
                let msg = if e.loop_ancestor().is_some() {
                    format!(
                        "{path}: symbolic link loop (points back to {})",
                        e.loop_ancestor().map(|a| a.display().to_string()).unwrap_or_default()
                    )
                } else {
                    format!("{path}: {}", e.io_error().map(|x| x.to_string()).unwrap_or_else(|| e.to_string()))
                };
                errors.push(CatalogError::file(ErrorKind::Io, &path, None, msg));
            }
        }
    }
    out
}

/// 1-based line of a byte offset.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Reads a text file with the size limit and UTF-8 check; errors name the file (and line).
pub fn read_text(path: &Path, display: &str, max: u64) -> Result<String, CatalogError> {
    let meta =
        std::fs::metadata(path).map_err(|e| CatalogError::file(ErrorKind::Io, display, None, format!("{display}: cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(CatalogError::file(ErrorKind::Io, display, None, format!("{display}: is a folder, not a file")));
    }
    if meta.len() > max {
        return Err(CatalogError::file(
            ErrorKind::Io,
            display,
            None,
            format!(
                "{display}: file is {:.1} MB, larger than the {:.1} MB limit for a descriptor file (max_file_bytes); not read",
                meta.len() as f64 / 1_048_576.0,
                max as f64 / 1_048_576.0
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| CatalogError::file(ErrorKind::Io, display, None, format!("{display}: cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let line = line_of(e.as_bytes(), off);
        CatalogError::file(
            ErrorKind::Yaml,
            display,
            Some(line),
            format!("{display}:{line}: not valid UTF-8 (byte offset {off}); descriptor files must be UTF-8"),
        )
    })
}

/// Parses and validates the documents of one file's text. `display` names the file in
/// reports. Placeholders are stubbed for the verdict exactly as Backstage's harness does.
pub fn validate_text(text: &str, display: &str) -> (Vec<DocReport>, Vec<(usize, usize, Value)>) {
    let mut reports = Vec::new();
    let mut accepted = Vec::new();
    for doc in yaml::parse_documents(text) {
        match doc.value {
            Err(e) => reports.push(DocReport {
                file: display.to_owned(),
                doc: doc.index,
                line: e.line,
                status: DocStatus::YamlError,
                entity_ref: None,
                error: Some(format!("YAML syntax error at line {} column {}: {}", e.line, e.col, e.message)),
            }),
            Ok(None) => {}
            Ok(Some(value)) => {
                let stubbed = stub_placeholders(&value);
                let verdict = validate(stubbed.as_ref().unwrap_or(&value));
                let entity_ref = display_ref(&value);
                let (status, error, line) = match verdict.status {
                    Status::Valid => (DocStatus::Valid, None, doc.line),
                    Status::Invalid | Status::UnknownKind => {
                        let p = verdict.problem.expect("a rejected document has a problem");
                        let line = field_line(text, doc.index, &p.path).unwrap_or(doc.line);
                        let st = if verdict.status == Status::Invalid { DocStatus::Invalid } else { DocStatus::UnknownKind };
                        (st, Some(p.message), line)
                    }
                };
                let ok = status == DocStatus::Valid;
                reports.push(DocReport {
                    file: display.to_owned(),
                    doc: doc.index,
                    line,
                    status,
                    entity_ref: if matches!(status, DocStatus::Valid | DocStatus::UnknownKind) { entity_ref } else { None },
                    error,
                });
                if ok {
                    accepted.push((doc.index, doc.line, value));
                }
            }
        }
    }
    (reports, accepted)
}

/// Validates one file's text into `out` (every document's verdict, an error per rejected
/// document naming `display`:line); returns the accepted documents.
pub fn validate_into(text: &str, display: &str, out: &mut FilesOutput) -> Vec<(usize, usize, Value)> {
    let (reports, accepted) = validate_text(text, display);
    for r in &reports {
        if let Some(err) = &r.error {
            let kind = match r.status {
                DocStatus::YamlError => ErrorKind::Yaml,
                DocStatus::UnknownKind => ErrorKind::UnknownKind,
                _ => ErrorKind::Invalid,
            };
            out.errors.push(CatalogError {
                kind,
                severity: super::Severity::Error,
                file: Some(display.to_owned()),
                line: Some(r.line),
                entity: r.entity_ref.clone(),
                message: format!("{}:{} (document {}): {err}", display, r.line, r.doc),
            });
        }
    }
    out.reports.extend(reports);
    accepted
}

/// The line of the field a problem names (re-parses that document with positions; only
/// done for rejected documents).
fn field_line(text: &str, index: usize, path: &str) -> Option<usize> {
    let text = yaml::strip_bom(text);
    let chunk = *yaml::split_documents(text).get(index)?;
    let node = yaml::parse_positioned(&chunk).ok()??;
    if path.is_empty() {
        return Some(node.line);
    }
    let parts: Vec<&str> = split_path(path);
    node.key_line(&parts).or_else(|| node.key_line(&parts[..parts.len().saturating_sub(1)]))
}

/// Splits `metadata.annotations.backstage.io/x` into `metadata`, `annotations`, the key.
fn split_path(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = path;
    for _ in 0..2 {
        match rest.split_once('.') {
            Some((a, b)) => {
                parts.push(a);
                rest = b;
                if matches!(a, "annotations" | "labels") {
                    parts.push(rest);
                    return parts;
                }
            }
            None => break,
        }
    }
    parts.extend(rest.split('.'));
    parts
}

/// `kind:namespace/name` of a document, lower-cased, when its fields are strings.
pub fn display_ref(v: &Value) -> Option<String> {
    let kind = v.get("kind")?.as_str()?;
    let meta = v.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let ns = match meta.get("namespace") {
        Some(Value::String(s)) => s.as_str(),
        None => "default",
        _ => return None,
    };
    Some(format!("{}:{}/{}", kind.to_lowercase(), ns.to_lowercase(), name.to_lowercase()))
}

/// The placeholder in a one-key `{$text: "..."}` object.
fn placeholder(v: &Value) -> Option<(&str, &str)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, target) = m.iter().next()?;
    let target = target.as_str()?;
    match k.as_str() {
        "$text" | "$json" | "$yaml" => Some((k.as_str(), target)),
        _ => None,
    }
}

/// Backstage's harness view of placeholders: `$text` → a string, `$json`/`$yaml` → `{}`.
/// `None` when the document has no placeholder.
pub fn stub_placeholders(v: &Value) -> Option<Value> {
    fn has(v: &Value) -> bool {
        if placeholder(v).is_some() {
            return true;
        }
        match v {
            Value::Object(m) => m.values().any(has),
            Value::Array(a) => a.iter().any(has),
            _ => false,
        }
    }
    if !has(v) {
        return None;
    }
    fn walk(v: &Value, changed: &mut bool) -> Value {
        if let Some((k, t)) = placeholder(v) {
            *changed = true;
            return if k == "$text" { Value::String(format!("<$text {t}>")) } else { Value::Object(Map::new()) };
        }
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(v, changed))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, changed)).collect()),
            other => other.clone(),
        }
    }
    let mut changed = false;
    let out = walk(v, &mut changed);
    changed.then_some(out)
}

/// Replaces placeholders whose target is a relative file with that file's content. URL
/// targets are left as they are (the files source does not fetch) and reported as warnings.
/// Problems name the file and the line of the placeholder.
struct PlaceholderCtx<'a> {
    dir: &'a Path,
    display: &'a str,
    text: &'a str,
    doc_index: usize,
    doc_line: usize,
    max: u64,
    entity: &'a str,
}

fn resolve_placeholders(v: &mut Value, path: &mut Vec<String>, ctx: &PlaceholderCtx<'_>, errors: &mut Vec<CatalogError>) {
    if let Some((k, target)) = placeholder(v) {
        let (k, target) = (k.to_owned(), target.to_owned());
        let display = ctx.display;
        let line = field_line(ctx.text, ctx.doc_index, &path.join(".")).unwrap_or(ctx.doc_line);
        let problem = |severity: super::Severity, message: String| CatalogError {
            kind: ErrorKind::Placeholder,
            severity,
            file: Some(display.to_owned()),
            line: Some(line),
            entity: Some(ctx.entity.to_owned()),
            message,
        };
        if target.contains("://") {
            errors.push(problem(
                super::Severity::Warning,
                format!(
                    "{display}:{line}: {k} placeholder targets a URL ({target}), which the files source does not fetch; left unresolved"
                ),
            ));
            return;
        }
        let file = normalize(&ctx.dir.join(&target));
        let pdisplay = file.display().to_string();
        let text = match read_text(&file, &pdisplay, ctx.max) {
            Ok(t) => t,
            Err(e) => {
                errors.push(problem(
                    super::Severity::Error,
                    format!("{display}:{line}: {k} placeholder \"{target}\" cannot be resolved: {}", e.message),
                ));
                return;
            }
        };
        let resolved = match k.as_str() {
            "$text" => Ok(Value::String(text)),
            "$json" => serde_json::from_str::<Value>(&text).map_err(|e| format!("not valid JSON: {e}")),
            _ => match yaml::parse_single(&text) {
                Ok(v) => Ok(v.unwrap_or(Value::Null)),
                Err(e) => Err(format!("not valid YAML: {e}")),
            },
        };
        match resolved {
            Ok(r) => *v = r,
            Err(msg) => errors
                .push(problem(super::Severity::Error, format!("{display}:{line}: {k} placeholder \"{target}\" ({pdisplay}) is {msg}"))),
        }
        return;
    }
    match v {
        Value::Object(m) => {
            for (key, x) in m.iter_mut() {
                path.push(key.clone());
                resolve_placeholders(x, path, ctx, errors);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                resolve_placeholders(x, path, ctx, errors);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Reads every file the patterns name, following Locations, and validates every document.
pub fn read_catalog(patterns: &[String], opts: &FilesOptions) -> FilesOutput {
    let mut out = FilesOutput::default();
    // queue of (path, chain of Location files that led here)
    let mut queue: std::collections::VecDeque<(PathBuf, Vec<PathBuf>)> = Default::default();
    let mut initial: BTreeSet<PathBuf> = BTreeSet::new();
    let excluded = opts.exclude_set();
    for p in patterns {
        for f in expand(p, &opts.base_dir, DESCRIPTOR_EXTENSIONS, &mut out.errors) {
            if !excluded.is_match(&f) {
                initial.insert(f);
            }
        }
    }
    for f in initial {
        queue.push_back((f, Vec::new()));
    }
    let mut seen: HashSet<PathBuf> = HashSet::new();
    while let Some((path, chain)) = queue.pop_front() {
        if excluded.is_match(&path) {
            continue;
        }
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(key) {
            continue;
        }
        let display = display_path(&path, &opts.base_dir);
        let text = match read_text(&path, &display, opts.max_file_bytes) {
            Ok(t) => t,
            Err(e) => {
                out.reports.push(DocReport {
                    file: display.clone(),
                    doc: 0,
                    line: e.line.unwrap_or(1),
                    status: DocStatus::YamlError,
                    entity_ref: None,
                    error: Some(e.message.clone()),
                });
                out.errors.push(e);
                continue;
            }
        };
        out.files_read += 1;
        out.bytes_read += text.len() as u64;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let accepted = validate_into(&text, &display, &mut out);
        for (index, line, mut value) in accepted {
            let entity = display_ref(&value).unwrap_or_default();
            if stub_placeholders(&value).is_some() {
                let ctx = PlaceholderCtx {
                    dir: &dir,
                    display: &display,
                    text: &text,
                    doc_index: index,
                    doc_line: line,
                    max: opts.max_file_bytes,
                    entity: &entity,
                };
                resolve_placeholders(&mut value, &mut Vec::new(), &ctx, &mut out.errors);
            }
            if opts.follow_locations && value["kind"] == "Location" {
                let mut next_chain = chain.clone();
                next_chain.push(path.clone());
                follow_location(&value, &dir, &display, line, &next_chain, &mut queue, &mut out.errors);
            }
            out.docs.push(RawDoc { value, origin: Origin { file: display.clone(), doc: index, line, location_dir: dir.clone() } });
        }
    }
    out
}

fn follow_location(
    value: &Value,
    dir: &Path,
    display: &str,
    line: usize,
    chain: &[PathBuf],
    queue: &mut std::collections::VecDeque<(PathBuf, Vec<PathBuf>)>,
    errors: &mut Vec<CatalogError>,
) {
    let spec = &value["spec"];
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("file");
    let mut targets: Vec<String> = Vec::new();
    if let Some(t) = spec.get("target").and_then(Value::as_str) {
        targets.push(t.to_owned());
    }
    if let Some(Value::Array(ts)) = spec.get("targets") {
        targets.extend(ts.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let entity = display_ref(value).unwrap_or_default();
    let problem = |severity: super::Severity, message: String| CatalogError {
        kind: ErrorKind::Location,
        severity,
        file: Some(display.to_owned()),
        line: Some(line),
        entity: Some(entity.clone()),
        message: format!("{display}:{line}: {message}"),
    };
    for t in targets {
        if ty != "file" || t.contains("://") {
            errors.push(problem(
                super::Severity::Warning,
                format!("Location target \"{t}\" (type {ty}) is not a file; the files source does not fetch it"),
            ));
            continue;
        }
        let mut errs = Vec::new();
        let files = expand(&t, dir, DESCRIPTOR_EXTENSIONS, &mut errs);
        for e in errs {
            errors.push(problem(super::Severity::Error, format!("Location target \"{t}\": {}", e.message)));
        }
        for f in files {
            let canon = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            let cycle = chain.iter().any(|c| std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()) == canon);
            if cycle {
                let names: Vec<String> = chain.iter().map(|c| c.display().to_string()).chain([f.display().to_string()]).collect();
                errors.push(problem(super::Severity::Warning, format!("Location cycle: {}", names.join(" -> "))));
                continue;
            }
            queue.push_back((f, chain.to_vec()));
        }
    }
}

/// A path as shown in reports: relative to the base folder when below it.
pub fn display_path(path: &Path, base: &Path) -> String {
    let base = normalize(base);
    let p = normalize(path);
    if !base.as_os_str().is_empty() {
        if let Ok(rel) = p.strip_prefix(&base) {
            return rel.display().to_string();
        }
    }
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_annotation_keys() {
        assert_eq!(split_path("metadata.annotations.backstage.io/x"), vec!["metadata", "annotations", "backstage.io/x"]);
        assert_eq!(split_path("metadata.tags.0"), vec!["metadata", "tags", "0"]);
        assert_eq!(split_path("spec.owner"), vec!["spec", "owner"]);
    }

    #[test]
    fn invalid_documents_point_at_the_field_line() {
        let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ok\n  tags:\n    - fine\n    - Bad\nspec: {type: s, lifecycle: l, owner: o}\n";
        let (reports, accepted) = validate_text(text, "x.yaml");
        assert!(accepted.is_empty());
        assert_eq!(reports[0].status, DocStatus::Invalid);
        assert_eq!(reports[0].line, 7);
        assert!(reports[0].error.as_ref().unwrap().contains("\"Bad\""));
    }
}
