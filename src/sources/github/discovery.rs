//! Catalog discovery from GitHub organisations: every non-archived repository's descriptor
//! files (`catalog-info.yaml` by default, any `paths`) read in one GraphQL request per 100
//! repositories (`object(expression: "HEAD:<path>") { ... on Blob { text } }`), then parsed
//! and validated exactly like files. A document is named
//! `https://<host>/<owner>/<repo>/blob/HEAD/<path>` in every verdict and error.
//!
//! Not followed: `Location` targets and `$text`/`$json`/`$yaml` placeholders inside such
//! files (they would need one request per file); each is reported as a warning and a
//! placeholder reads as Backstage's validation stub (a stand-in text, or `{}`).

use serde_json::Value;

use super::{graphql, Api};
use crate::catalog::files::{stub_placeholders, validate_into, FilesOutput};
use crate::catalog::{CatalogError, ErrorKind, Origin, RawDoc, Severity};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub api: Api,
    pub organizations: Vec<String>,
    /// descriptor paths in each repository (`catalog-info.yaml`)
    pub paths: Vec<String>,
    /// larger files are reported and skipped
    pub max_file_bytes: u64,
    pub include_archived: bool,
}

/// Whether `p` can go into a GraphQL string literal as a repository path.
pub fn is_valid_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.split('/').any(|s| s.is_empty() || s == "..")
        && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn fields(paths: &[String]) -> String {
    let mut f = String::from("nameWithOwner isArchived");
    for (i, p) in paths.iter().enumerate() {
        f.push_str(&format!(" f{i}: object(expression: \"HEAD:{p}\") {{ ... on Blob {{ text byteSize isBinary isTruncated }} }}"));
    }
    f
}

fn source_error(message: String, file: &str) -> CatalogError {
    CatalogError { kind: ErrorKind::Source, severity: Severity::Error, file: Some(file.to_owned()), line: None, entity: None, message }
}

/// Reads the descriptors of every repository of the organisations.
pub async fn discover(cfg: &Config) -> FilesOutput {
    let mut out = FilesOutput::default();
    let client = match cfg.api.client() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(source_error(format!("GitHub catalog discovery ({}): {e}", cfg.api.api_url), &cfg.api.api_url));
            return out;
        }
    };
    let sel = fields(&cfg.paths);
    for org in &cfg.organizations {
        let (nodes, errors) = match graphql::org_repositories(&client, org, &sel, 100).await {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(source_error(format!("GitHub catalog discovery, organization {org}: {e}"), &e.url));
                continue;
            }
        };
        for e in errors {
            let repo = e.index.and_then(|i| nodes.get(i)).and_then(|n| n.get("nameWithOwner")).and_then(Value::as_str).unwrap_or(org);
            out.errors.push(CatalogError {
                kind: ErrorKind::Io,
                severity: Severity::Error,
                file: Some(format!("https://{}/{repo}", cfg.api.web_host)),
                line: None,
                entity: None,
                message: format!("https://{}/{repo}: GitHub could not give {} ({}: {})", cfg.api.web_host, e.path, e.kind, e.message),
            });
        }
        for n in &nodes {
            let Some(repo) = n.get("nameWithOwner").and_then(Value::as_str) else { continue };
            if !cfg.include_archived && n.get("isArchived").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            for (i, path) in cfg.paths.iter().enumerate() {
                let blob = match n.get(format!("f{i}")) {
                    Some(b) if !b.is_null() => b,
                    _ => continue, // no such file in this repository
                };
                let display = format!("https://{}/{repo}/blob/HEAD/{path}", cfg.api.web_host);
                let size = blob.get("byteSize").and_then(Value::as_u64).unwrap_or(0);
                let problem = if blob.get("isBinary").and_then(Value::as_bool) == Some(true) {
                    Some("is a binary file, not YAML".to_owned())
                } else if size > cfg.max_file_bytes {
                    Some(format!("is {size} bytes, more than max_file_bytes = {}", cfg.max_file_bytes))
                } else if blob.get("isTruncated").and_then(Value::as_bool) == Some(true) {
                    Some("was truncated by GitHub".to_owned())
                } else if blob.get("text").and_then(Value::as_str).is_none() {
                    Some("has no text (binary or unreadable)".to_owned())
                } else {
                    None
                };
                if let Some(p) = problem {
                    out.errors.push(CatalogError::file(ErrorKind::Io, &display, None, format!("{display}: {p}")));
                    out.reports.push(crate::catalog::DocReport {
                        file: display.clone(),
                        doc: 0,
                        line: 1,
                        status: crate::catalog::DocStatus::YamlError,
                        entity_ref: None,
                        error: Some(p),
                    });
                    continue;
                }
                let text = blob.get("text").and_then(Value::as_str).unwrap_or_default();
                out.files_read += 1;
                out.bytes_read += text.len() as u64;
                for (index, line, value) in validate_into(text, &display, &mut out) {
                    let entity = crate::catalog::files::display_ref(&value);
                    let value = match stub_placeholders(&value) {
                        Some(stubbed) => {
                            out.errors.push(CatalogError {
                                kind: ErrorKind::Placeholder,
                                severity: Severity::Warning,
                                file: Some(display.clone()),
                                line: Some(line),
                                entity: entity.clone(),
                                message: format!(
                                    "{display}:{line}: $text/$json/$yaml placeholders are not resolved in descriptors read from GitHub"
                                ),
                            });
                            stubbed
                        }
                        None => value,
                    };
                    if value["kind"] == "Location" {
                        out.errors.push(CatalogError {
                            kind: ErrorKind::Location,
                            severity: Severity::Warning,
                            file: Some(display.clone()),
                            line: Some(line),
                            entity,
                            message: format!("{display}:{line}: Location targets are not followed in descriptors read from GitHub (list the files in `paths`)"),
                        });
                    }
                    out.docs.push(RawDoc {
                        value,
                        origin: Origin { file: display.clone(), doc: index, line, location_dir: Default::default() },
                    });
                }
            }
        }
    }
    out
}
