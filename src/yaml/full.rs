//! The full YAML parser: `yaml-rust2` events turned into positioned nodes with our own scalar
//! resolution, duplicate-key detection, merge keys (YAML 1.1 only), tags and aliases.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::scalar::{float_value, js_key, resolve_11, resolve_core, resolve_plain};
use super::{Chunk, YamlError, MAX_DEPTH, MAX_NODES};

/// A YAML node with the 1-based line and column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct PNode {
    pub line: usize,
    pub col: usize,
    pub value: PValue,
    size: usize,
}

/// The value of a positioned node; mapping keys are already JSON strings.
#[derive(Debug, Clone, PartialEq)]
pub enum PValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<PNode>),
    /// entries in document order: key, key line, value
    Map(Vec<(String, usize, PNode)>),
}

impl PNode {
    fn leaf(line: usize, col: usize, v: Value) -> PNode {
        let value = match v {
            Value::Null => PValue::Null,
            Value::Bool(b) => PValue::Bool(b),
            Value::Number(n) => PValue::Number(n),
            Value::String(s) => PValue::String(s),
            other => return PNode::from_value(line, col, other),
        };
        PNode { line, col, value, size: 1 }
    }

    fn from_value(line: usize, col: usize, v: Value) -> PNode {
        match v {
            Value::Array(items) => {
                let items: Vec<PNode> = items.into_iter().map(|i| PNode::from_value(line, col, i)).collect();
                let size = 1 + items.iter().map(|i| i.size).sum::<usize>();
                PNode { line, col, value: PValue::Seq(items), size }
            }
            Value::Object(map) => {
                let entries: Vec<(String, usize, PNode)> =
                    map.into_iter().map(|(k, v)| (k, line, PNode::from_value(line, col, v))).collect();
                let size = 1 + entries.iter().map(|e| e.2.size).sum::<usize>();
                PNode { line, col, value: PValue::Map(entries), size }
            }
            other => PNode::leaf(line, col, other),
        }
    }

    /// The JSON form of the node.
    pub fn to_json(&self) -> Value {
        match &self.value {
            PValue::Null => Value::Null,
            PValue::Bool(b) => Value::Bool(*b),
            PValue::Number(n) => Value::Number(n.clone()),
            PValue::String(s) => Value::String(s.clone()),
            PValue::Seq(items) => Value::Array(items.iter().map(PNode::to_json).collect()),
            PValue::Map(entries) => {
                let mut m = Map::with_capacity(entries.len());
                for (k, _, v) in entries {
                    m.insert(k.clone(), v.to_json());
                }
                Value::Object(m)
            }
        }
    }

    /// Finds the node at a dotted path (`metadata.tags.1`), for pointing errors at a line.
    pub fn find(&self, path: &[&str]) -> Option<&PNode> {
        let Some((first, rest)) = path.split_first() else { return Some(self) };
        match &self.value {
            PValue::Map(entries) => entries.iter().rev().find(|e| e.0 == *first).and_then(|e| e.2.find(rest)),
            PValue::Seq(items) => first.parse::<usize>().ok().and_then(|i| items.get(i)).and_then(|n| n.find(rest)),
            _ => None,
        }
    }

    /// Line of the key at a dotted path (the line of the entry naming it).
    pub fn key_line(&self, path: &[&str]) -> Option<usize> {
        let (last, parent) = path.split_last()?;
        let p = self.find(parent)?;
        match &p.value {
            PValue::Map(entries) => entries.iter().rev().find(|e| e.0 == *last).map(|e| e.1),
            PValue::Seq(items) => last.parse::<usize>().ok().and_then(|i| items.get(i)).map(|n| n.line),
            _ => None,
        }
    }
}

enum Frame {
    Seq {
        items: Vec<PNode>,
        anchor: usize,
        line: usize,
        col: usize,
        size: usize,
    },
    Map {
        entries: Vec<(String, usize, PNode)>,
        index: HashMap<String, usize>,
        seen: HashSet<String>,
        pending: Option<PendingKey>,
        anchor: usize,
        line: usize,
        col: usize,
        size: usize,
    },
}

struct PendingKey {
    key: String,
    line: usize,
    merge: bool,
}

struct Builder {
    yaml11: bool,
    line_offset: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, PNode>,
    root: Option<PNode>,
    nodes: usize,
}

fn err(line: usize, col: usize, message: impl Into<String>) -> YamlError {
    YamlError { line, col, message: message.into() }
}

impl Builder {
    fn pos(&self, m: &Marker) -> (usize, usize) {
        (m.line() + self.line_offset, m.col() + 1)
    }

    fn scalar(&self, s: String, style: TScalarStyle, tag: Option<Tag>, line: usize, col: usize) -> Result<Value, YamlError> {
        if let Some(tag) = tag {
            let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
            if core {
                return Ok(match tag.suffix.as_str() {
                    "str" => Value::String(s),
                    "null" => Value::Null,
                    "bool" | "int" | "float" => {
                        let v = if self.yaml11 { resolve_11(&s) } else { resolve_core(&s) };
                        let ok = match (tag.suffix.as_str(), &v) {
                            ("bool", Value::Bool(_)) => true,
                            ("int", Value::Number(n)) => n.is_i64() || n.is_u64(),
                            ("float", Value::Number(_)) | ("float", Value::Null) => true,
                            ("float", _) => {
                                if let Ok(f) = s.parse::<f64>() {
                                    return Ok(float_value(f));
                                }
                                false
                            }
                            _ => false,
                        };
                        if !ok {
                            return Err(err(line, col, format!("\"{s}\" is not a valid !!{}", tag.suffix)));
                        }
                        v
                    }
                    "binary" => binary_value(&s).ok_or_else(|| err(line, col, "invalid base64 in !!binary scalar"))?,
                    _ => Value::String(s),
                });
            }
            // non-specific `!` and unknown local tags: the scalar's text
            return Ok(Value::String(s));
        }
        Ok(match style {
            TScalarStyle::Plain => resolve_plain(&s, self.yaml11),
            _ => Value::String(s),
        })
    }

    fn complete(&mut self, node: PNode, anchor: usize, mark: (usize, usize)) -> Result<(), YamlError> {
        self.nodes += node.size;
        if self.nodes > MAX_NODES {
            return Err(err(mark.0, mark.1, format!("document expands to more than {MAX_NODES} nodes (alias expansion?)")));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Seq { items, size, .. }) => {
                *size += node.size;
                items.push(node);
            }
            Some(Frame::Map { entries, index, seen, pending, size, .. }) => {
                *size += node.size;
                match pending.take() {
                    None => {
                        let merge = self.yaml11 && matches!(&node.value, PValue::String(s) if s == "<<");
                        let (key, ident) = match &node.value {
                            PValue::String(s) => (s.clone(), Some(format!("s{s}"))),
                            PValue::Seq(_) | PValue::Map(_) => (js_key(&node.to_json()), None),
                            _ => {
                                let v = node.to_json();
                                (js_key(&v), Some(format!("v{v}")))
                            }
                        };
                        if !merge {
                            if let Some(ident) = ident {
                                if !seen.insert(ident) {
                                    return Err(err(node.line, node.col, format!("duplicate key \"{key}\": mapping keys must be unique")));
                                }
                            }
                        }
                        *pending = Some(PendingKey { key, line: node.line, merge });
                    }
                    Some(pk) => {
                        if pk.merge {
                            let sources: Vec<&PNode> = match &node.value {
                                PValue::Map(_) => vec![&node],
                                PValue::Seq(items) => items.iter().collect(),
                                _ => return Err(err(node.line, node.col, "merge key << needs a mapping or a list of mappings")),
                            };
                            for src in sources {
                                let PValue::Map(src_entries) = &src.value else {
                                    return Err(err(src.line, src.col, "merge key << needs a mapping or a list of mappings"));
                                };
                                for (k, kl, v) in src_entries {
                                    if !index.contains_key(k) {
                                        index.insert(k.clone(), entries.len());
                                        entries.push((k.clone(), *kl, v.clone()));
                                    }
                                }
                            }
                        } else if let Some(&i) = index.get(&pk.key) {
                            entries[i] = (pk.key, pk.line, node);
                        } else {
                            index.insert(pk.key.clone(), entries.len());
                            entries.push((pk.key, pk.line, node));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn binary_value(s: &str) -> Option<Value> {
    use base64::Engine;
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(clean).ok()?;
    // a Uint8Array after JSON.stringify: {"0": b0, "1": b1, ...}
    let mut m = Map::new();
    for (i, b) in bytes.iter().enumerate() {
        m.insert(i.to_string(), Value::from(*b));
    }
    Some(Value::Object(m))
}

/// For a block scalar without content lines whose event is marked at char index `at`:
/// whether its header has the keep indicator `+`. yaml-rust2 marks such a scalar at its
/// header (`|+`); otherwise the header is the last non-blank line before the mark.
fn keeps_trailing_lines(text: &str, at: usize) -> bool {
    let byte = text.char_indices().nth(at).map(|(i, _)| i).unwrap_or(text.len());
    let rest = &text[byte..];
    let header_line = if rest.starts_with('|') || rest.starts_with('>') {
        rest.lines().next().unwrap_or("")
    } else {
        text[..byte].lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
    };
    let without_comment = match header_line.find(" #") {
        Some(i) => &header_line[..i],
        None => header_line,
    };
    let token = if rest.starts_with('|') || rest.starts_with('>') {
        without_comment.split_whitespace().next().unwrap_or("")
    } else {
        without_comment.split_whitespace().last().unwrap_or("")
    };
    (token.starts_with('|') || token.starts_with('>')) && token.contains('+')
}

/// npm yaml rejects a tab in the indentation of block content ("  \tname: x"), which
/// yaml-rust2 accepts after spaces. Lines inside block scalars (where a tab after the
/// indentation is content) and comment lines are exempt. Returns (0-based line, column).
fn tab_in_indentation(text: &str) -> Option<(usize, usize)> {
    let mut block_parent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let rest = &line[spaces..];
        let blank = rest.trim().is_empty();
        if let Some(p) = block_parent {
            if blank || spaces > p {
                continue;
            }
            block_parent = None;
        }
        if rest.starts_with('\t') {
            let after = rest.trim_start_matches([' ', '\t']);
            if !after.is_empty() && !after.starts_with('#') {
                return Some((n, spaces + 1));
            }
        }
        let content = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        if let Some(tok) = content.split_whitespace().last() {
            let b = tok.as_bytes();
            let header = (b[0] == b'|' || b[0] == b'>') && b[1..].iter().all(|c| matches!(c, b'+' | b'-' | b'1'..=b'9'));
            if header && content.split_whitespace().count() > 1 {
                block_parent = Some(spaces);
            }
        }
    }
    None
}

/// Parses one chunk into a positioned tree (`None` for an empty document).
pub fn parse_positioned(chunk: &Chunk<'_>) -> Result<Option<PNode>, YamlError> {
    // yaml-rust2 turns a whitespace-only last line without a line break into an extra
    // line of a block scalar; npm yaml (and the YAML spec) treat it as blank: drop it
    let trimmed = chunk.text.trim_end_matches(' ');
    let text = if trimmed.is_empty() || trimmed.ends_with('\n') { trimmed } else { chunk.text };
    if text.contains('\t') {
        if let Some((l, c)) = tab_in_indentation(text) {
            return Err(err(l + 1 + chunk.first_line, c, "tabs are not allowed as indentation: indent with spaces"));
        }
    }
    let mut parser = Parser::new_from_str(text);
    let mut b =
        Builder { yaml11: chunk.yaml11, line_offset: chunk.first_line, stack: Vec::new(), anchors: HashMap::new(), root: None, nodes: 0 };
    let mut started = false;
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| {
            let m = e.marker();
            err(m.line() + chunk.first_line, m.col() + 1, e.info().to_string())
        })?;
        let (line, col) = b.pos(&mark);
        match ev {
            Event::StreamStart | Event::Nothing => {}
            Event::DocumentStart => {
                if started {
                    return Err(err(line, col, "unexpected second document"));
                }
                started = true;
            }
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                // the chunk holds one document; anything after it is content the document
                // could not take (usually a line indented less than the first one)
                let (ev2, mark2) = parser.next_token().map_err(|e| {
                    let m = e.marker();
                    err(m.line() + chunk.first_line, m.col() + 1, e.info().to_string())
                })?;
                if ev2 != Event::StreamEnd {
                    let (l2, c2) = b.pos(&mark2);
                    return Err(err(
                        l2,
                        c2,
                        "content after the end of the document: check the indentation of this line against the first line of the document",
                    ));
                }
                break;
            }
            Event::Alias(id) => {
                let node = b.anchors.get(&id).cloned().ok_or_else(|| err(line, col, "alias to an unknown anchor"))?;
                b.complete(node, 0, (line, col))?;
            }
            Event::Scalar(mut s, style, anchor, tag) => {
                if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded)
                    && !s.is_empty()
                    && s.bytes().all(|c| c == b'\n')
                    && !keeps_trailing_lines(chunk.text, mark.index())
                {
                    // no content lines, only whitespace ones: "" unless kept with `+` (as npm
                    // yaml and YAML 1.2 §8.1.1.2 say; yaml-rust2 yields "\n" here)
                    s.clear();
                }
                let v = b.scalar(s, style, tag, line, col)?;
                b.complete(PNode::leaf(line, col, v), anchor, (line, col))?;
            }
            Event::SequenceStart(anchor, _) => {
                if b.stack.len() >= MAX_DEPTH {
                    return Err(err(line, col, format!("nested deeper than {MAX_DEPTH} levels")));
                }
                b.stack.push(Frame::Seq { items: Vec::new(), anchor, line, col, size: 1 });
            }
            Event::MappingStart(anchor, _) => {
                if b.stack.len() >= MAX_DEPTH {
                    return Err(err(line, col, format!("nested deeper than {MAX_DEPTH} levels")));
                }
                b.stack.push(Frame::Map {
                    entries: Vec::new(),
                    index: HashMap::new(),
                    seen: HashSet::new(),
                    pending: None,
                    anchor,
                    line,
                    col,
                    size: 1,
                });
            }
            Event::SequenceEnd => match b.stack.pop() {
                Some(Frame::Seq { items, anchor, line, col, size }) => {
                    b.complete(PNode { line, col, value: PValue::Seq(items), size }, anchor, (line, col))?;
                }
                _ => return Err(err(line, col, "unbalanced sequence end")),
            },
            Event::MappingEnd => match b.stack.pop() {
                Some(Frame::Map { entries, anchor, line, col, size, .. }) => {
                    b.complete(PNode { line, col, value: PValue::Map(entries), size }, anchor, (line, col))?;
                }
                _ => return Err(err(line, col, "unbalanced mapping end")),
            },
        }
    }
    match b.root {
        Some(PNode { value: PValue::Null, .. }) | None => Ok(None),
        Some(n) => Ok(Some(n)),
    }
}

/// Parses one chunk into its JSON value (`None` for an empty document).
pub fn parse_chunk_value(chunk: &Chunk<'_>) -> Result<Option<Value>, YamlError> {
    Ok(parse_positioned(chunk)?.map(|n| n.to_json()))
}

#[cfg(test)]
mod tests {
    use super::super::{parse_documents, split_documents};
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Result<Option<Value>, YamlError> {
        let chunks = split_documents(text);
        parse_chunk_value(&chunks[0])
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = one("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("duplicate key"));
        // a number key and a string key are different keys
        assert!(one("1: a\n\"1\": b\n").is_ok());
    }

    #[test]
    fn merge_keys_only_under_yaml_1_1() {
        let v = one("d: &d {x: 1}\ns:\n  <<: *d\n  y: 2\n").unwrap().unwrap();
        assert_eq!(v["s"], json!({"<<": {"x": 1}, "y": 2}));
        let v = one("%YAML 1.1\n---\nd: &d {a: 1, b: 0}\ns:\n  <<: *d\n  b: 2\n").unwrap().unwrap();
        assert_eq!(v["s"], json!({"a": 1, "b": 2}));
        // and `y` is a boolean key there, as in npm yaml's 1.1 schema
        let v = one("%YAML 1.1\n---\ny: 1\n").unwrap().unwrap();
        assert_eq!(v, json!({"true": 1}));
    }

    #[test]
    fn empty_block_scalars_follow_npm_yaml() {
        assert_eq!(one("a:\n  d: |\n   \n").unwrap().unwrap(), json!({"a": {"d": ""}}));
        assert_eq!(one("d: |+\n   \n").unwrap().unwrap(), json!({"d": "\n"}));
        assert_eq!(one("d: > # c\n  \n\ne: 1\n").unwrap().unwrap(), json!({"d": "", "e": 1}));
        assert_eq!(one("d: |\n  a\n    \n  b\n").unwrap().unwrap(), json!({"d": "a\n  \nb\n"}));
        assert_eq!(one("d: |\n    a\n    ").unwrap().unwrap(), json!({"d": "a\n"}));
    }

    #[test]
    fn content_after_the_document_is_an_error() {
        let e = one(" a: 1\nb: 2\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(one("{\"a\": 1}\n{\"b\": 2}\n").is_err());
    }

    #[test]
    fn tabs_in_indentation_are_errors_but_not_in_block_scalars() {
        let e = one("metadata:\n \tname: x\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("tabs")), (2, true), "{e:?}");
        assert_eq!(one("a: |\n  \tmake all\nb: 1\n").unwrap().unwrap(), json!({"a": "\tmake all\n", "b": 1}));
        assert!(one("a: 1 \t# comment\n").is_ok());
    }

    #[test]
    fn tags_and_keys() {
        let v = one("a: !!str 42\nb: !custom x\nc: !!binary aGk=\n29: n\n? [p, q]\n: k\n").unwrap().unwrap();
        assert_eq!(v["a"], json!("42"));
        assert_eq!(v["b"], json!("x"));
        assert_eq!(v["c"], json!({"0": 104, "1": 105}));
        assert_eq!(v["29"], json!("n"));
        assert_eq!(v["[ p, q ]"], json!("k"));
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        assert!(one(&bomb).unwrap_err().message.contains("more than"));
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        assert!(one(&deep).is_err());
    }

    #[test]
    fn positions_point_at_fields() {
        let chunks = split_documents("---\nmetadata:\n  name: x\n  tags:\n    - a\n    - B\n");
        let n = parse_positioned(&chunks[0]).unwrap().unwrap();
        assert_eq!(n.find(&["metadata", "tags", "1"]).unwrap().line, 6);
        assert_eq!(n.key_line(&["metadata", "name"]), Some(3));
        let docs = parse_documents("x: 1\n");
        assert_eq!(docs[0].value.clone().unwrap().unwrap(), json!({"x": 1}));
    }
}
