//! Entity references: parsing `[kind:][namespace/]name` and the canonical lower-cased
//! `kind:namespace/name` form Backstage compares and we use as the database key.

use std::fmt;

/// A parsed entity reference in canonical (lower-cased) form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl EntityRef {
    pub fn new(kind: &str, namespace: &str, name: &str) -> EntityRef {
        EntityRef { kind: kind.to_lowercase(), namespace: namespace.to_lowercase(), name: name.to_lowercase() }
    }

    /// Parses a reference found in a spec field. `default_kind` is the field's default (Group
    /// for owners, ...); `None` means the kind must be written. The namespace defaults to the
    /// referring entity's namespace.
    pub fn parse(s: &str, default_kind: Option<&str>, default_namespace: &str) -> Result<EntityRef, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty entity reference".into());
        }
        let (kind, namespace, name) = split(t);
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(format!("entity reference \"{s}\" has an empty part"));
        }
        if name.contains(':') || name.contains('/') {
            return Err(format!("entity reference \"{s}\" has more than one kind or namespace separator"));
        }
        let kind = match (kind, default_kind) {
            (Some(k), _) => k,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(format!(
                    "entity reference \"{s}\" does not say its kind and this field has no default (write e.g. \"resource:{s}\")"
                ))
            }
        };
        Ok(EntityRef::new(kind, namespace.unwrap_or(default_namespace), name))
    }

    /// Parses a canonical or short ref given on the command line or in a fact file
    /// (`component:default/x`, `component:x`, `x` = a component in `default`).
    pub fn parse_loose(s: &str) -> Result<EntityRef, String> {
        EntityRef::parse(s, Some("component"), "default")
    }
}

/// `[kind:][namespace/]name` split on the first `:` and the first `/` after it.
fn split(t: &str) -> (Option<&str>, Option<&str>, &str) {
    let (kind, rest) = match t.find(':') {
        Some(i) => (Some(&t[..i]), &t[i + 1..]),
        None => (None, t),
    };
    match rest.find('/') {
        Some(i) => (kind, Some(&rest[..i]), &rest[i + 1..]),
        None => (kind, None, rest),
    }
}

/// The canonical string of a reference found in a spec field, built in one allocation
/// (same rules and errors as [`EntityRef::parse`]).
pub fn canonical(s: &str, default_kind: Option<&str>, default_namespace: &str) -> Result<String, String> {
    let t = s.trim();
    let (kind, namespace, name) = split(t);
    if t.is_empty() || kind == Some("") || namespace == Some("") || name.is_empty() || name.contains([':', '/']) {
        return EntityRef::parse(s, default_kind, default_namespace).map(|r| r.to_string());
    }
    let kind = match kind.or(default_kind) {
        Some(k) => k,
        None => return EntityRef::parse(s, default_kind, default_namespace).map(|r| r.to_string()),
    };
    let ns = namespace.unwrap_or(default_namespace);
    let mut out = String::with_capacity(kind.len() + ns.len() + name.len() + 2);
    for (i, part) in [kind, ns, name].iter().enumerate() {
        if i == 1 {
            out.push(':');
        } else if i == 2 {
            out.push('/');
        }
        if part.is_ascii() {
            out.extend(part.bytes().map(|b| b.to_ascii_lowercase() as char));
        } else {
            out.push_str(&part.to_lowercase());
        }
    }
    Ok(out)
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let r = EntityRef::parse("Team-A", Some("Group"), "default").unwrap();
        assert_eq!(r.to_string(), "group:default/team-a");
        let r = EntityRef::parse("user:ops/Jane", Some("group"), "default").unwrap();
        assert_eq!(r.to_string(), "user:ops/jane");
        let r = EntityRef::parse("my-sys", Some("system"), "payments").unwrap();
        assert_eq!(r.to_string(), "system:payments/my-sys");
        assert!(EntityRef::parse("db", None, "default").unwrap_err().contains("kind"));
        assert!(EntityRef::parse("group:", Some("group"), "default").is_err());
        assert!(EntityRef::parse("a:b:c", Some("group"), "default").is_err());
        for (s, k) in
            [("Team-A", Some("Group")), ("user:ops/Jane", Some("group")), ("db", None), ("group:", Some("group")), ("x/Y", Some("API"))]
        {
            assert_eq!(canonical(s, k, "ns"), EntityRef::parse(s, k, "ns").map(|r| r.to_string()), "{s}");
        }
    }
}
