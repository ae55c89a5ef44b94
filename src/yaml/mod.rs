//! All YAML reading in echo-health goes through this module.
//!
//! Backstage parses descriptors with the npm `yaml` package (YAML 1.2 core schema, one entity
//! per document, a broken document does not spoil its neighbours) and then validates the JSON
//! form of each document. To give the same verdicts we:
//!
//! 1. split a stream into documents ourselves ([`split_documents`]) so a syntax error in one
//!    document is reported for that document only and the others are still read, with the
//!    document positions counted the way the npm package counts them;
//! 2. parse each document with a fast path ([`fast`]) for the plain block style nearly every
//!    catalog file uses, and fall back to a full YAML event parser (`yaml-rust2`) for anything
//!    the fast path declines (anchors, tags, flow mappings, explicit keys, directives, ...);
//! 3. resolve plain scalars ourselves with the YAML 1.2 core schema (or YAML 1.1 under a
//!    `%YAML 1.1` directive, as npm `yaml` does), reject duplicate keys, stringify non-string
//!    keys the JavaScript way, and build JSON values directly.
//!
//! The fast path must never accept a document and build a different value than the full
//! parser: `tests/yaml_differential.rs` checks this over every YAML file we have.

pub mod fast;
mod full;
mod scalar;

use serde_json::Value;

pub use full::{parse_positioned, PNode, PValue};

/// Deepest nesting of collections a document may have (deeper documents are rejected with an
/// error instead of risking the stack in later recursive code such as serialisation).
pub const MAX_DEPTH: usize = 256;

/// Most nodes one document may expand to through aliases (guards against "billion laughs").
pub const MAX_NODES: usize = 2_000_000;

/// A YAML problem in one document, with the 1-based line and column in the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}: {}", self.line, self.col, self.message)
    }
}

/// One document of a YAML stream, as Backstage would see it.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based position of the document in the stream (empty documents take a position too).
    pub index: usize,
    /// 1-based line where the document's text starts (its `---` line or first content line).
    pub line: usize,
    /// The document's JSON form, `None` for an empty/null document, or the syntax error.
    pub value: Result<Option<Value>, YamlError>,
}

/// A document's slice of the stream.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    pub index: usize,
    /// 0-based line of the chunk's first line in the stream.
    pub first_line: usize,
    pub text: &'a str,
    /// `%YAML 1.1` directive seen for this document.
    pub yaml11: bool,
    /// Any directive line (`%...`) precedes the document.
    pub has_directives: bool,
}

fn marker_line(line: &str, marker: &str) -> bool {
    line.starts_with(marker) && matches!(line.as_bytes().get(3), None | Some(b' ') | Some(b'\t') | Some(b'\r') | Some(b'\n'))
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#') || t == "\r" || t == "\n" || t == "\r\n"
}

/// Splits a YAML stream into its documents, counting them as the npm `yaml` package does:
/// a `---` line starts a document, `...` ends one, content outside a document starts an
/// implicit one, comments and blank lines outside documents belong to none.
pub fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut in_doc = false;
    let mut start = 0usize;
    let mut start_line = 0usize;
    let mut directives: Option<(usize, usize)> = None;
    let mut yaml11 = false;
    let mut offset = 0usize;
    let mut line_no = 0usize;
    let bytes = text.as_bytes();
    while offset < bytes.len() {
        let end = match memchr_nl(&bytes[offset..]) {
            Some(i) => offset + i + 1,
            None => bytes.len(),
        };
        let line = &text[offset..end];
        if marker_line(line, "---") {
            if in_doc {
                push_chunk(&mut chunks, text, start, offset, start_line, yaml11, directives.is_some());
                yaml11 = false;
                directives = None;
            }
            match directives.take() {
                Some((d_off, d_line)) => {
                    start = d_off;
                    start_line = d_line;
                    directives = Some((d_off, d_line));
                }
                None => {
                    start = offset;
                    start_line = line_no;
                }
            }
            in_doc = true;
        } else if marker_line(line, "...") {
            if in_doc {
                push_chunk(&mut chunks, text, start, offset, start_line, yaml11, directives.is_some());
                in_doc = false;
                yaml11 = false;
                directives = None;
            }
        } else if !in_doc {
            if line.starts_with('%') {
                if directives.is_none() {
                    directives = Some((offset, line_no));
                }
                let mut parts = line.split_whitespace();
                if parts.next() == Some("%YAML") && parts.next() == Some("1.1") {
                    yaml11 = true;
                }
            } else if !is_blank_or_comment(line) {
                in_doc = true;
                match directives {
                    Some((d_off, d_line)) => {
                        start = d_off;
                        start_line = d_line;
                    }
                    None => {
                        start = offset;
                        start_line = line_no;
                    }
                }
            }
        }
        offset = end;
        line_no += 1;
    }
    if in_doc {
        push_chunk(&mut chunks, text, start, bytes.len(), start_line, yaml11, directives.is_some());
    } else if let Some((d_off, d_line)) = directives {
        // directives with no document after them: let the parser report it
        push_chunk(&mut chunks, text, d_off, bytes.len(), d_line, yaml11, true);
    }
    chunks
}

fn push_chunk<'a>(
    chunks: &mut Vec<Chunk<'a>>,
    text: &'a str,
    start: usize,
    end: usize,
    first_line: usize,
    yaml11: bool,
    has_directives: bool,
) {
    let index = chunks.len();
    chunks.push(Chunk { index, first_line, text: &text[start..end], yaml11, has_directives });
}

#[inline]
fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Strips a UTF-8 byte order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses every document of a stream (fast path first, full parser as fallback).
pub fn parse_documents(text: &str) -> Vec<Document> {
    let text = strip_bom(text);
    split_documents(text).into_iter().map(parse_chunk).collect()
}

/// Parses one document chunk.
pub fn parse_chunk(chunk: Chunk<'_>) -> Document {
    let value = match fast::parse(chunk.text, chunk.yaml11 || chunk.has_directives) {
        Some(v) => Ok(v),
        None => full::parse_chunk_value(&chunk),
    };
    Document { index: chunk.index, line: chunk.first_line + 1, value }
}

/// Parses one document chunk with the full parser only (used by the differential test).
pub fn parse_chunk_full(chunk: Chunk<'_>) -> Document {
    Document { index: chunk.index, line: chunk.first_line + 1, value: full::parse_chunk_value(&chunk) }
}

/// Parses a single-document YAML file (pipeline files, check packs, `$yaml` placeholders).
/// Several documents are an error; an empty file gives `None`.
pub fn parse_single(text: &str) -> Result<Option<Value>, YamlError> {
    let text = strip_bom(text);
    let chunks = split_documents(text);
    let mut out = None;
    for chunk in chunks {
        let doc = parse_chunk(chunk);
        let v = doc.value?;
        if let Some(v) = v {
            if out.is_some() {
                return Err(YamlError { line: doc.line, col: 1, message: "expected a single YAML document but found several".into() });
            }
            out = Some(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(text: &str) -> Vec<(usize, usize)> {
        split_documents(text).iter().map(|c| (c.index, c.first_line)).collect()
    }

    #[test]
    fn counts_documents_like_npm_yaml() {
        assert_eq!(positions(""), vec![]);
        assert_eq!(positions("# only a comment\n"), vec![]);
        assert_eq!(positions("---\n"), vec![(0, 0)]);
        assert_eq!(positions("a: 1\n---\nb: 2\n"), vec![(0, 0), (1, 1)]);
        assert_eq!(positions("# c\n---\na: 1\n"), vec![(0, 1)]);
        assert_eq!(positions("a: 1\n...\n---\nb: 1\n"), vec![(0, 0), (1, 2)]);
        assert_eq!(positions("a: 1\n...\nb: 1\n"), vec![(0, 0), (1, 2)]);
        assert_eq!(positions("a: 1\n---\n"), vec![(0, 0), (1, 1)]);
        assert_eq!(positions("%YAML 1.1\n---\na: yes\n"), vec![(0, 0)]);
        assert!(split_documents("%YAML 1.1\n---\na: yes\n")[0].yaml11);
        // `----` is not a marker, `--- x` is
        assert_eq!(positions("a: |\n ----\n--- x\n"), vec![(0, 0), (1, 2)]);
    }

    #[test]
    fn broken_document_does_not_spoil_the_next() {
        let docs = parse_documents("a: [1\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert!(docs[0].value.is_err());
        assert_eq!(docs[1].value.clone().unwrap().unwrap()["b"], 2);
    }

    #[test]
    fn syntax_error_lines_are_file_lines() {
        let docs = parse_documents("a: 1\n---\nb: 2\nc: \"open\n");
        let err = docs[1].value.clone().unwrap_err();
        assert!(err.line >= 4, "{err:?}");
    }
}
