//! Check expressions: one SQL boolean expression over the wide fact view. This module reads
//! the expression as tokens (strings, quoted identifiers, words) to
//! * refuse anything that is not a single expression (`;`, comments, unbalanced
//!   parentheses, parameters),
//! * find the facts it reads (`github.default_branch_protected` or `"ci.test_coverage_pct"`)
//!   and refuse facts no source declares,
//! * quote unquoted dotted fact names so SQL reads them as one column,
//! * find the catalog columns it reads (for the evidence of each result).
//!
//! Check text is configuration written by the platform team; catalog values never reach
//! SQL text (they are rows of the tables the expression reads).

use std::collections::{BTreeMap, BTreeSet};

/// Type of a fact's column in the wide view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    Number,
    Boolean,
    Text,
    Json,
}

impl FactType {
    pub fn parse(s: &str) -> Option<FactType> {
        Some(match s {
            "number" => FactType::Number,
            "boolean" => FactType::Boolean,
            "text" => FactType::Text,
            "json" => FactType::Json,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FactType::Number => "number",
            FactType::Boolean => "boolean",
            FactType::Text => "text",
            FactType::Json => "json",
        }
    }
    /// The typed column of the facts table holding this type.
    pub fn value_column(self) -> &'static str {
        match self {
            FactType::Number => "value_num",
            FactType::Boolean => "value_bool",
            FactType::Text => "value_text",
            FactType::Json => "value_json",
        }
    }
}

/// The facts checks may read: name → type.
#[derive(Debug, Clone, Default)]
pub struct FactSet {
    pub facts: BTreeMap<String, FactType>,
}

impl FactSet {
    pub fn namespaces(&self) -> BTreeSet<&str> {
        self.facts.keys().filter_map(|f| f.split('.').next()).collect()
    }
}

/// An analysed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// the original text
    pub source: String,
    /// the SQL to embed (dotted fact names quoted)
    pub sql: String,
    /// facts read, sorted
    pub facts: Vec<String>,
    /// catalog columns read, sorted
    pub columns: Vec<String>,
}

/// Reads an expression. `columns` are the catalog columns of the wide view.
pub fn analyse(src: &str, known: &FactSet, columns: &[&str]) -> Result<Expr, String> {
    let b = src.as_bytes();
    let namespaces = known.namespaces();
    let mut out = String::with_capacity(src.len() + 16);
    let mut facts = BTreeSet::new();
    let mut cols = BTreeSet::new();
    let mut depth = 0i32;
    let mut i = 0;
    if src.trim().is_empty() {
        return Err("the expression is empty".into());
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                let start = i;
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err("a string literal is not closed (missing ')".into());
                    }
                    if b[i] == b'\'' {
                        if i + 1 < b.len() && b[i + 1] == b'\'' {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str(&src[start..i]);
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                if i >= b.len() {
                    return Err("a quoted name is not closed (missing \")".into());
                }
                let name = &src[start + 1..i];
                i += 1;
                if name.contains('.') || name.contains('@') {
                    if !known.facts.contains_key(name) {
                        return Err(format!("\"{name}\" is not a fact any source declares"));
                    }
                    facts.insert(name.to_owned());
                } else if columns.contains(&name) {
                    cols.insert(name.to_owned());
                }
                out.push_str(&src[start..i]);
            }
            b';' => return Err("a check is one SQL expression: ';' is not allowed".into()),
            b'-' if b.get(i + 1) == Some(&b'-') => return Err("comments are not allowed in a check expression".into()),
            b'/' if b.get(i + 1) == Some(&b'*') => return Err("comments are not allowed in a check expression".into()),
            b'$' | b'?' => return Err(format!("parameters ('{}') are not allowed in a check expression", c as char)),
            b'(' => {
                depth += 1;
                out.push('(');
                i += 1;
            }
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced parentheses: a ')' closes nothing".into());
                }
                out.push(')');
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                    i += 1;
                }
                // a trailing dot belongs to what follows (e.g. `x.` before a quoted name)
                let mut end = i;
                while end > start && b[end - 1] == b'.' {
                    end -= 1;
                }
                i = end;
                let word = &src[start..end];
                let preceded_by_dot = start > 0 && b[start - 1] == b'.';
                if word.contains('.') && !preceded_by_dot {
                    let ns = word.split('.').next().unwrap_or("");
                    if known.facts.contains_key(word) {
                        facts.insert(word.to_owned());
                        out.push('"');
                        out.push_str(word);
                        out.push('"');
                        continue;
                    }
                    if namespaces.contains(ns) {
                        return Err(format!("{word} is not a fact any source declares (known {ns}.* facts: {})", known_in(known, ns)));
                    }
                } else if !preceded_by_dot && columns.contains(&word) {
                    cols.insert(word.to_owned());
                }
                out.push_str(word);
            }
            _ => {
                out.push(c as char);
                if c >= 0x80 {
                    // copy the rest of a multi-byte character
                    let ch = src[i..].chars().next().unwrap_or(' ');
                    out.pop();
                    out.push(ch);
                    i += ch.len_utf8();
                    continue;
                }
                i += 1;
            }
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses: a '(' is not closed".into());
    }
    Ok(Expr { source: src.to_owned(), sql: out, facts: facts.into_iter().collect(), columns: cols.into_iter().collect() })
}

fn known_in(known: &FactSet, ns: &str) -> String {
    let names: Vec<&str> = known.facts.keys().filter(|f| f.split('.').next() == Some(ns)).map(String::as_str).collect();
    if names.len() > 8 {
        format!("{} and {} more", names[..8].join(", "), names.len() - 8)
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FactSet {
        let mut f = FactSet::default();
        f.facts.insert("github.default_branch_protected".into(), FactType::Boolean);
        f.facts.insert("ci.test_coverage_pct".into(), FactType::Number);
        f
    }

    #[test]
    fn quotes_dotted_facts_and_collects_them() {
        let e = analyse("github.default_branch_protected and \"ci.test_coverage_pct\" >= 60 and lifecycle = 'a.b'", &set(), &["lifecycle"])
            .unwrap();
        assert_eq!(e.sql, "\"github.default_branch_protected\" and \"ci.test_coverage_pct\" >= 60 and lifecycle = 'a.b'");
        assert_eq!(e.facts, vec!["ci.test_coverage_pct", "github.default_branch_protected"]);
        assert_eq!(e.columns, vec!["lifecycle"]);
        // struct fields and JSON paths are left alone
        let e = analyse("len(list_filter(links, lambda l: l.title ilike '%runbook%')) > 0", &set(), &["links"]).unwrap();
        assert_eq!(e.sql, "len(list_filter(links, lambda l: l.title ilike '%runbook%')) > 0");
    }

    #[test]
    fn refuses_what_is_not_one_expression() {
        for bad in [
            "true; drop table runs",
            "true) or (1=1",
            "(true",
            "x -- c",
            "x /* c */",
            "x = $1",
            "x = ?",
            "'open",
            "",
            "github.nope",
            "\"ci.nope\"",
        ] {
            assert!(analyse(bad, &set(), &[]).is_err(), "{bad}");
        }
    }
}
