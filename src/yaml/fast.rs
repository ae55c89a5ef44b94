//! Fast path for the block-style YAML that nearly every catalog file is written in.
//!
//! It understands block mappings and sequences (including `- key: value` items), plain,
//! single- and double-quoted one-line scalars (double-quoted only without escapes), one-line
//! flow sequences of scalars, `{}`, `[]`, literal and folded block scalars (`|`, `|-`, `>`,
//! `>-` without indentation indicators) and comments. Anything else — anchors, aliases,
//! tags, directives, flow mappings, explicit keys, multi-line plain or quoted scalars, tabs,
//! CR line ends, duplicate keys, non-string keys, odd indentation — makes it *decline*
//! (`None`), and the caller falls back to the full parser, which also produces every error
//! message. The fast path therefore never reports an error and never guesses.

use serde_json::{Map, Value};

use super::scalar::{core_is_string, resolve_core};
use super::MAX_DEPTH;

#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    /// text after the indentation, without the line end
    text: &'a str,
    /// blank or comment-only
    empty: bool,
}

struct P<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

type R<T> = Option<T>;

/// Parses a document chunk; `None` means "declined, use the full parser". `Some(None)` is an
/// empty document.
pub fn parse(text: &str, has_directives: bool) -> Option<Option<Value>> {
    if has_directives {
        return None;
    }
    let bytes = text.as_bytes();
    if bytes.iter().any(|&b| b == b'\t' || b == b'\r') {
        return None;
    }
    let mut lines = Vec::with_capacity(bytes.len() / 24 + 1);
    let mut first_content = true;
    for raw in text.split('\n') {
        let indent = raw.bytes().take_while(|&b| b == b' ').count();
        let t = &raw[indent..];
        let empty = t.is_empty() || t.starts_with('#') || t.bytes().all(|b| b == b' ');
        if first_content && !empty {
            first_content = false;
            if indent == 0 && (t == "---" || t.starts_with("--- ")) {
                // the document start marker: nothing else may follow on its line
                let rest = t[3..].trim_start_matches(' ');
                if !(rest.is_empty() || rest.starts_with('#')) {
                    return None;
                }
                lines.push(Line { indent, text: "", empty: true });
                continue;
            }
        }
        lines.push(Line { indent, text: t, empty });
    }
    let mut p = P { lines, pos: 0 };
    p.skip_empty();
    if p.pos >= p.lines.len() {
        return Some(None);
    }
    let first = p.lines[p.pos];
    if first.indent != 0 {
        return None;
    }
    let v = p.block(0, 0)?;
    p.skip_empty();
    if p.pos < p.lines.len() {
        return None;
    }
    Some(Some(v))
}

#[inline]
fn is_seq_item(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

/// Strips a trailing ` # comment` from a plain scalar and trailing spaces.
#[inline]
fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' && (i == 0 || b[i - 1] == b' ') {
            return s[..i].trim_end_matches(' ');
        }
        i += 1;
    }
    s.trim_end_matches(' ')
}

/// What may follow a closing quote or bracket: nothing, or spaces and a comment.
#[inline]
fn trailing_ok(rest: &str) -> bool {
    rest.is_empty() || (rest.starts_with(' ') && only_comment(rest))
}

#[inline]
fn only_comment(s: &str) -> bool {
    let t = s.trim_start_matches(' ');
    t.is_empty() || t.starts_with('#')
}

/// Splits `key: rest` on the first `: ` (or a final `:`); `None` when the line is no
/// simple mapping entry.
#[inline]
fn split_key(t: &str) -> Option<(&str, &str)> {
    let b = t.as_bytes();
    let first = *b.first()?;
    if matches!(
        first,
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`'
    ) {
        return None;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b':' => {
                if i + 1 == b.len() || b[i + 1] == b' ' {
                    let key = &t[..i];
                    if key.ends_with(' ') {
                        return None;
                    }
                    return Some((key, &t[i + 1..]));
                }
            }
            b'#' if b[i - 1] == b' ' => return None,
            b'[' | b']' | b'{' | b'}' | b',' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

impl<'a> P<'a> {
    #[inline]
    fn skip_empty(&mut self) {
        while self.pos < self.lines.len() && self.lines[self.pos].empty {
            self.pos += 1;
        }
    }

    /// The next content line's indentation, if any.
    #[inline]
    fn next_indent(&mut self) -> Option<usize> {
        self.skip_empty();
        self.lines.get(self.pos).map(|l| l.indent)
    }

    /// A block node whose first line is at `self.pos` with indentation `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> R<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let l = self.lines[self.pos];
        if is_seq_item(l.text) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, None, depth)
        }
    }

    /// A block mapping at `indent`. `first` is the remainder of a `- key: value` line whose
    /// key starts at column `indent` (the line itself is already consumed).
    fn mapping(&mut self, indent: usize, first: Option<&'a str>, depth: usize) -> R<Value> {
        let mut map = Map::new();
        let mut pending = first;
        loop {
            let text = match pending.take() {
                Some(t) => t,
                None => {
                    match self.next_indent() {
                        Some(i) if i == indent => {}
                        Some(i) if i > indent => return None,
                        _ => break,
                    }
                    let l = self.lines[self.pos];
                    if is_seq_item(l.text) {
                        // a sequence at the mapping's own indentation ends nothing here
                        return None;
                    }
                    self.pos += 1;
                    l.text
                }
            };
            let (key, rest) = split_key(text)?;
            if !core_is_string(key) || map.contains_key(key) {
                return None;
            }
            let value = self.value_after_key(indent, rest, depth)?;
            map.insert(key.to_owned(), value);
        }
        Some(Value::Object(map))
    }

    /// The value of a mapping entry at `indent` whose text after the colon is `rest`.
    fn value_after_key(&mut self, indent: usize, rest: &'a str, depth: usize) -> R<Value> {
        let r = rest.trim_start_matches(' ');
        if only_comment(r) {
            return match self.next_indent() {
                Some(i) if i > indent => self.block(i, depth + 1),
                Some(i) if i == indent && is_seq_item(self.lines[self.pos].text) => self.sequence(indent, depth + 1),
                _ => Some(Value::Null),
            };
        }
        self.inline_value(r, indent, depth)
    }

    /// A value written on the key's (or the item's) line; `parent` is the indentation of
    /// the entry, which continuation lines must not exceed.
    fn inline_value(&mut self, r: &'a str, parent: usize, depth: usize) -> R<Value> {
        let b = r.as_bytes();
        let v = match b[0] {
            b'|' | b'>' => return self.block_scalar(r, parent),
            b'"' => {
                let end = r[1..].find('"')? + 1;
                let s = &r[1..end];
                if s.contains('\\') || !trailing_ok(&r[end + 1..]) {
                    return None;
                }
                Value::String(s.to_owned())
            }
            b'\'' => {
                let (s, after) = single_quoted(r)?;
                if !trailing_ok(after) {
                    return None;
                }
                Value::String(s)
            }
            b'[' => flow_seq(r)?,
            b'{' => {
                let inner = r[1..].trim_start_matches(' ');
                if !inner.starts_with('}') || !trailing_ok(&inner[1..]) {
                    return None;
                }
                Value::Object(Map::new())
            }
            b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' | b':' | b',' | b']' | b'}' | b'#' => return None,
            b'-' if r == "-" || r.starts_with("- ") => return None,
            _ => {
                let s = strip_comment(r);
                if s.contains(": ") || s.ends_with(':') {
                    return None;
                }
                resolve_core(s)
            }
        };
        // a more-indented line after a one-line value would be a continuation (or an error)
        if let Some(i) = self.next_indent() {
            if i > parent {
                return None;
            }
        }
        let _ = depth;
        Some(v)
    }

    fn block_scalar(&mut self, header: &str, parent: usize) -> R<Value> {
        let (h, comment) = match header.find(' ') {
            Some(i) => (&header[..i], &header[i..]),
            None => (header, ""),
        };
        if !only_comment(comment) {
            return None;
        }
        let (literal, strip) = match h {
            "|" => (true, false),
            "|-" => (true, true),
            ">" => (false, false),
            ">-" => (false, true),
            _ => return None,
        };
        // collect the block's lines: blank lines and lines indented more than the parent
        let start = self.pos;
        let mut end = start;
        let mut block_indent = 0usize;
        let mut max_leading_blank = 0usize;
        while end < self.lines.len() {
            let l = self.lines[end];
            let blank = l.text.is_empty() || l.text.bytes().all(|c| c == b' ');
            if blank {
                let spaces = l.indent + l.text.len();
                if block_indent == 0 {
                    max_leading_blank = max_leading_blank.max(spaces);
                } else if spaces > block_indent {
                    return None; // spaces beyond the indentation are content: leave it to the full parser
                }
                end += 1;
                continue;
            }
            if l.indent <= parent {
                break;
            }
            if block_indent == 0 {
                block_indent = l.indent;
                if max_leading_blank > block_indent {
                    return None;
                }
            } else if l.indent < block_indent {
                return None;
            }
            end += 1;
        }
        // trailing blank lines belong to the chomping, not to the content
        let mut last = end;
        while last > start {
            let l = self.lines[last - 1];
            if l.text.is_empty() || l.text.bytes().all(|c| c == b' ') {
                last -= 1;
            } else {
                break;
            }
        }
        self.pos = end;
        if block_indent == 0 {
            return Some(Value::String(String::new()));
        }
        let mut out = String::new();
        let mut prev_blank_run = 0usize;
        let mut first = true;
        for l in &self.lines[start..last] {
            let blank = l.text.is_empty() || l.text.bytes().all(|c| c == b' ');
            let content: &str = if blank {
                ""
            } else {
                // re-add indentation beyond the block's own
                let extra = l.indent - block_indent;
                if extra > 0 && !literal {
                    return None; // more-indented lines in folded scalars keep their breaks
                }
                if extra > 0 {
                    out.reserve(extra);
                }
                &l.text
            };
            if literal {
                if !first {
                    out.push('\n');
                }
                if !blank {
                    for _ in 0..(l.indent - block_indent) {
                        out.push(' ');
                    }
                }
                out.push_str(content);
            } else if blank {
                prev_blank_run += 1;
            } else {
                if !first {
                    if prev_blank_run > 0 {
                        for _ in 0..prev_blank_run {
                            out.push('\n');
                        }
                    } else {
                        out.push(' ');
                    }
                } else {
                    for _ in 0..prev_blank_run {
                        out.push('\n');
                    }
                }
                prev_blank_run = 0;
                out.push_str(content);
            }
            first = false;
        }
        if !strip && !out.is_empty() {
            out.push('\n');
        }
        if !strip && out.is_empty() && last > start {
            out.push('\n');
        }
        Some(Value::String(out))
    }

    /// A block sequence at `indent`.
    fn sequence(&mut self, indent: usize, depth: usize) -> R<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut items = Vec::new();
        loop {
            match self.next_indent() {
                Some(i) if i == indent => {}
                Some(i) if i > indent => return None,
                _ => break,
            }
            let l = self.lines[self.pos];
            if !is_seq_item(l.text) {
                break;
            }
            self.pos += 1;
            let after = &l.text[1..];
            let spaces = after.bytes().take_while(|&b| b == b' ').count();
            let r = &after[spaces..];
            if only_comment(r) {
                let v = match self.next_indent() {
                    Some(i) if i > indent => self.block(i, depth + 1)?,
                    _ => Value::Null,
                };
                items.push(v);
                continue;
            }
            let col = indent + 1 + spaces;
            if r.starts_with("- ") || r == "-" || r.starts_with('|') || r.starts_with('>') {
                return None;
            }
            if split_key(r).is_some() {
                items.push(self.mapping(col, Some(r), depth + 1)?);
            } else {
                items.push(self.inline_value(r, indent, depth + 1)?);
            }
        }
        Some(Value::Array(items))
    }
}

/// `'it''s'` → `it's`; returns the string and the text after the closing quote.
fn single_quoted(r: &str) -> Option<(String, &str)> {
    let b = r.as_bytes();
    let mut out = String::new();
    let mut i = 1;
    let mut seg = 1;
    while i < b.len() {
        if b[i] == b'\'' {
            if i + 1 < b.len() && b[i + 1] == b'\'' {
                out.push_str(&r[seg..=i]);
                i += 2;
                seg = i;
                continue;
            }
            out.push_str(&r[seg..i]);
            return Some((out, &r[i + 1..]));
        }
        i += 1;
    }
    None
}

/// A one-line flow sequence of scalars: `[a, "b", 'c']`.
fn flow_seq(r: &str) -> Option<Value> {
    let close = r.find(']')?;
    if !trailing_ok(&r[close + 1..]) {
        return None;
    }
    let inner = &r[1..close];
    if inner.contains(['[', '{', '}', '#']) {
        return None;
    }
    let mut items = Vec::new();
    if inner.trim_matches(' ').is_empty() {
        return Some(Value::Array(items));
    }
    for part in inner.split(',') {
        let t = part.trim_matches(' ');
        if t.is_empty() {
            return None;
        }
        let v = match t.as_bytes()[0] {
            b'"' => {
                if t.len() < 2 || !t.ends_with('"') || t[1..t.len() - 1].contains(['"', '\\']) {
                    return None;
                }
                Value::String(t[1..t.len() - 1].to_owned())
            }
            b'\'' => {
                let (s, after) = single_quoted(t)?;
                if !after.is_empty() {
                    return None;
                }
                Value::String(s)
            }
            b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' | b':' | b'-' | b'|' | b'>' => {
                if t.len() > 1 && b'-' == t.as_bytes()[0] && t.as_bytes()[1] != b' ' && !t.contains(':') {
                    resolve_core(t)
                } else {
                    return None;
                }
            }
            _ => {
                if t.contains(':') || t.contains('"') || t.contains('\'') {
                    return None;
                }
                resolve_core(t)
            }
        };
        items.push(v);
    }
    Some(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(s: &str) -> Value {
        parse(s, false).expect("fast path declined").expect("empty")
    }

    #[test]
    fn typical_descriptor() {
        let v = ok("apiVersion: backstage.io/v1alpha1\nkind: Component # c\nmetadata:\n  name: a\n  tags: [java, 'x''y', \"z\"]\n  description: |\n    line one\n\n    line two\n  links:\n    - url: https://x.io/a#b\n      title: X\nspec:\n  owner: team-a\n  dependsOn:\n  - resource:db\n  empty:\n  m: {}\n");
        assert_eq!(
            v,
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "a", "tags": ["java", "x'y", "z"], "description": "line one\n\nline two\n", "links": [{"url": "https://x.io/a#b", "title": "X"}]}, "spec": {"owner": "team-a", "dependsOn": ["resource:db"], "empty": null, "m": {}}})
        );
    }

    #[test]
    fn declines_what_it_does_not_know() {
        for s in [
            "a: &x 1\n",
            "a: *x\n",
            "a: !t 1\n",
            "a: {b: 1}\n",
            "? a\n: b\n",
            "a: b\n  c\n",
            "a: \"b\\n\"\n",
            "a:\tb\n",
            "a: 1\na: 2\n",
            "1: a\n",
            "a: b: c\n",
            "a: \"open\n",
            "  a: 1\n",
            "a: >2\n  x\n",
            "--- x\n",
        ] {
            assert!(parse(s, false).is_none(), "should decline {s:?}");
        }
    }

    #[test]
    fn empty_documents() {
        assert_eq!(parse("---\n# c\n", false), Some(None));
        assert_eq!(parse("", false), Some(None));
    }
}
