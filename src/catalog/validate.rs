//! Backstage's validation rules, applied to the JSON form of one descriptor document, in the
//! order the catalog applies them: the envelope schema, the root-field policy, the field
//! format policy (`makeValidator()`), then the eight built-in kind validators.
//!
//! The verdict (valid / invalid / unknown-kind) must equal Backstage's on every document of
//! the parity corpus (`tests/catalog_parity.rs`); the messages are ours, written for catalog
//! authors: the field, the rule, the value found. One intended difference: `<Kind>Augmentation`
//! documents are understood by echo-health and are valid when well-formed.

use serde_json::{Map, Value};

/// What Backstage would say of a document that parsed as YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Valid,
    Invalid,
    UnknownKind,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::UnknownKind => "unknown-kind",
        }
    }
}

/// The first problem found, with the dotted path of the field (`metadata.tags.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub problem: Option<Problem>,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Verdict {
    Verdict { status: Status::Invalid, problem: Some(Problem { path: path.into(), message: message.into() }) }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", truncate(s)),
        Value::Null => "nothing (null)".into(),
        other => format!("{} ({})", truncate(&other.to_string()), type_name(other)),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 80 {
        let t: String = s.chars().take(77).collect();
        format!("{t}...")
    } else {
        s.to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Format rules (KubernetesValidatorFunctions / CommonValidatorFunctions)

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`, 1–63 characters.
pub fn is_valid_object_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return false;
    }
    b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

/// `^[a-z0-9]+(?:\-+[a-z0-9]+)*$`, 1–63 characters.
pub fn is_valid_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return false;
    }
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    ok_char(b[0]) && ok_char(b[b.len() - 1]) && b.iter().all(|&c| ok_char(c) || c == b'-')
}

/// Dot-separated DNS labels, at most 253 characters.
pub fn is_valid_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_valid_dns_label)
}

fn prefix_and_or_suffix(s: &str, suffix_ok: impl Fn(&str) -> bool) -> bool {
    let mut parts = s.split('/');
    let a = parts.next().unwrap_or("");
    match (parts.next(), parts.next()) {
        (None, _) => suffix_ok(a),
        (Some(b), None) => is_valid_dns_subdomain(a) && suffix_ok(b),
        _ => false,
    }
}

pub fn is_valid_api_version(s: &str) -> bool {
    prefix_and_or_suffix(s, |n| !n.is_empty() && n.len() <= 63 && n.bytes().all(|c| c.is_ascii_alphanumeric()))
}

/// `^[a-zA-Z][a-z0-9A-Z]*$`, 1–63 characters.
pub fn is_valid_kind(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 63 && b[0].is_ascii_alphabetic() && b.iter().all(|c| c.is_ascii_alphanumeric())
}

pub fn is_valid_label_or_annotation_key(s: &str) -> bool {
    prefix_and_or_suffix(s, is_valid_object_name)
}

pub fn is_valid_label_value(s: &str) -> bool {
    s.is_empty() || is_valid_object_name(s)
}

/// `^[a-z0-9:+#]+(\-[a-z0-9:+#]+)*$`, 1–63 characters.
pub fn is_valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return false;
    }
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b':' || c == b'+' || c == b'#';
    let mut prev_dash = true; // no leading dash
    for &c in b {
        if c == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if ok(c) {
            prev_dash = false;
        } else {
            return false;
        }
    }
    !prev_dash
}

/// WHATWG URL parsing, as JavaScript's `new URL()` (absolute URLs only).
pub fn is_valid_url(s: &str) -> bool {
    url::Url::parse(s).is_ok()
}

fn js_trim_nonempty(s: &str) -> bool {
    !s.trim().is_empty()
}

// ---------------------------------------------------------------------------------------
// The envelope schema (Entity.schema.json + EntityMeta.schema.json)

fn check_string(v: &Value, path: &str, min1: bool) -> Result<(), Verdict> {
    match v {
        Value::String(s) => {
            if min1 && s.is_empty() {
                Err(invalid(path, format!("{path} must not be an empty string")))
            } else {
                Ok(())
            }
        }
        other => Err(invalid(path, format!("{path} must be a string, but found {}", show(other)))),
    }
}

fn envelope(root: &Map<String, Value>) -> Result<(), Verdict> {
    for key in ["apiVersion", "kind", "metadata"] {
        if !root.contains_key(key) {
            return Err(invalid(key, format!("the required field {key} is missing")));
        }
    }
    for key in root.keys() {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec" | "relations" | "status") {
            return Err(invalid(
                key.as_str(),
                format!("unknown top-level field \"{key}\": only apiVersion, kind, metadata and spec are allowed"),
            ));
        }
    }
    check_string(&root["apiVersion"], "apiVersion", true)?;
    check_string(&root["kind"], "kind", true)?;
    let Value::Object(meta) = &root["metadata"] else {
        return Err(invalid("metadata", format!("metadata must be a mapping, but found {}", show(&root["metadata"]))));
    };
    if let Some(spec) = root.get("spec") {
        if !spec.is_object() {
            return Err(invalid("spec", format!("spec must be a mapping, but found {}", show(spec))));
        }
    }
    if let Some(rel) = root.get("relations") {
        if !rel.is_array() {
            return Err(invalid("relations", "relations must be a list (and is written by the catalog, not by descriptors)"));
        }
    }
    if let Some(st) = root.get("status") {
        if !st.is_object() {
            return Err(invalid("status", "status must be a mapping (and is written by the catalog, not by descriptors)"));
        }
    }
    let Some(name) = meta.get("name") else {
        return Err(invalid("metadata.name", "metadata.name is required"));
    };
    check_string(name, "metadata.name", true)?;
    for key in ["uid", "etag", "namespace", "title"] {
        if let Some(v) = meta.get(key) {
            check_string(v, &format!("metadata.{key}"), true)?;
        }
    }
    if let Some(v) = meta.get("description") {
        check_string(v, "metadata.description", false)?;
    }
    for key in ["labels", "annotations"] {
        if let Some(v) = meta.get(key) {
            let Value::Object(m) = v else {
                return Err(invalid(
                    format!("metadata.{key}"),
                    format!("metadata.{key} must be a mapping of strings, but found {}", show(v)),
                ));
            };
            for (k, val) in m {
                if !val.is_string() {
                    return Err(invalid(
                        format!("metadata.{key}.{k}"),
                        format!("the value of metadata.{key} \"{k}\" must be a string (quote it), but found {}", show(val)),
                    ));
                }
            }
        }
    }
    if let Some(v) = meta.get("tags") {
        let Value::Array(items) = v else {
            return Err(invalid("metadata.tags", format!("metadata.tags must be a list of strings, but found {}", show(v))));
        };
        for (i, t) in items.iter().enumerate() {
            check_string(t, &format!("metadata.tags.{i}"), true)?;
        }
    }
    if let Some(v) = meta.get("links") {
        let Value::Array(items) = v else {
            return Err(invalid("metadata.links", format!("metadata.links must be a list, but found {}", show(v))));
        };
        for (i, l) in items.iter().enumerate() {
            let Value::Object(link) = l else {
                return Err(invalid(
                    format!("metadata.links.{i}"),
                    format!("metadata.links.{i} must be a mapping with a url, but found {}", show(l)),
                ));
            };
            let Some(url) = link.get("url") else {
                return Err(invalid(format!("metadata.links.{i}"), format!("metadata.links.{i} has no url")));
            };
            check_string(url, &format!("metadata.links.{i}.url"), true)?;
            for key in ["title", "icon", "type"] {
                if let Some(v) = link.get(key) {
                    check_string(v, &format!("metadata.links.{i}.{key}"), true)?;
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Root fields and field formats (NoForeignRootFieldsEntityPolicy, FieldFormatEntityPolicy)

fn field_formats(root: &Map<String, Value>) -> Result<(), Verdict> {
    for key in ["relations", "status"] {
        if root.contains_key(key) {
            return Err(invalid(key, format!("\"{key}\" is written by the catalog and must not appear in a descriptor")));
        }
    }
    let api = root["apiVersion"].as_str().unwrap_or_default();
    if !is_valid_api_version(api) {
        return Err(invalid(
            "apiVersion",
            format!("apiVersion \"{}\" is not valid: expected [lower-case-dns-prefix/]version, e.g. backstage.io/v1alpha1", truncate(api)),
        ));
    }
    let kind = root["kind"].as_str().unwrap_or_default();
    if !is_valid_kind(kind) {
        return Err(invalid(
            "kind",
            format!("kind \"{}\" is not valid: expected a letter followed by letters and digits, at most 63 characters", truncate(kind)),
        ));
    }
    let meta = root["metadata"].as_object().expect("checked by the envelope");
    let name = meta["name"].as_str().unwrap_or_default();
    if !is_valid_object_name(name) {
        return Err(invalid(
            "metadata.name",
            format!("metadata.name \"{}\" is not valid: expected 1-63 characters [a-zA-Z0-9] separated by any of - _ .", truncate(name)),
        ));
    }
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str) {
        if !is_valid_dns_label(ns) {
            return Err(invalid(
                "metadata.namespace",
                format!("metadata.namespace \"{}\" is not valid: expected 1-63 lower-case letters and digits separated by -", truncate(ns)),
            ));
        }
    }
    for key in ["labels", "annotations"] {
        if let Some(Value::Object(m)) = meta.get(key) {
            for (k, v) in m {
                if !is_valid_label_or_annotation_key(k) {
                    return Err(invalid(
                        format!("metadata.{key}.{k}"),
                        format!(
                            "metadata.{key} key \"{}\" is not valid: expected [lower-case-dns-prefix/]name with a name of 1-63 characters [a-zA-Z0-9] separated by - _ .",
                            truncate(k)
                        ),
                    ));
                }
                if key == "labels" {
                    let s = v.as_str().unwrap_or_default();
                    if !is_valid_label_value(s) {
                        return Err(invalid(
                            format!("metadata.labels.{k}"),
                            format!(
                                "label \"{k}\" has the value \"{}\", which is not valid: expected empty or 1-63 characters [a-zA-Z0-9] separated by - _ .",
                                truncate(s)
                            ),
                        ));
                    }
                }
            }
        }
    }
    if let Some(Value::Array(tags)) = meta.get("tags") {
        for (i, t) in tags.iter().enumerate() {
            let s = t.as_str().unwrap_or_default();
            if !is_valid_tag(s) {
                return Err(invalid(
                    format!("metadata.tags.{i}"),
                    format!("tag \"{}\" is not valid: expected 1-63 lower-case letters, digits and : + # joined by single -", truncate(s)),
                ));
            }
        }
    }
    if let Some(Value::Array(links)) = meta.get("links") {
        for (i, l) in links.iter().enumerate() {
            let link = l.as_object().expect("checked by the envelope");
            let url = link["url"].as_str().unwrap_or_default();
            if !is_valid_url(url) {
                return Err(invalid(
                    format!("metadata.links.{i}.url"),
                    format!("link url \"{}\" is not a valid absolute URL", truncate(url)),
                ));
            }
            for key in ["title", "icon"] {
                if let Some(Value::String(s)) = link.get(key) {
                    if !js_trim_nonempty(s) {
                        return Err(invalid(format!("metadata.links.{i}.{key}"), format!("link {key} must not be blank")));
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Kind validators (the *.v1alpha1.schema.json spec parts)

#[derive(Clone, Copy)]
enum F {
    /// string, at least one character
    Str,
    /// list of strings, each at least one character
    StrList,
    /// `{displayName?, email?, picture?}` with string values
    Profile,
    /// Location `presence`: required | optional
    Presence,
}

struct KindSchema {
    kind: &'static str,
    required: &'static [&'static str],
    fields: &'static [(&'static str, F)],
    hint: &'static str,
}

const KINDS: &[KindSchema] = &[
    KindSchema {
        kind: "API",
        required: &["type", "lifecycle", "owner", "definition"],
        fields: &[("type", F::Str), ("lifecycle", F::Str), ("owner", F::Str), ("definition", F::Str), ("system", F::Str)],
        hint: "an API needs type (openapi, asyncapi, graphql, grpc, ...), lifecycle, owner and definition",
    },
    KindSchema {
        kind: "Component",
        required: &["type", "lifecycle", "owner"],
        fields: &[
            ("type", F::Str),
            ("lifecycle", F::Str),
            ("owner", F::Str),
            ("system", F::Str),
            ("subcomponentOf", F::Str),
            ("providesApis", F::StrList),
            ("consumesApis", F::StrList),
            ("dependsOn", F::StrList),
            ("dependencyOf", F::StrList),
        ],
        hint: "a Component needs type (service, website, library, ...), lifecycle (production, experimental, ...) and owner",
    },
    KindSchema {
        kind: "Resource",
        required: &["type", "owner"],
        fields: &[("type", F::Str), ("owner", F::Str), ("system", F::Str), ("dependsOn", F::StrList), ("dependencyOf", F::StrList)],
        hint: "a Resource needs type (database, queue, bucket, ...) and owner",
    },
    KindSchema {
        kind: "Group",
        required: &["type", "children"],
        fields: &[("type", F::Str), ("profile", F::Profile), ("parent", F::Str), ("children", F::StrList), ("members", F::StrList)],
        hint: "a Group needs type (team, business-unit, ...) and children (may be [])",
    },
    KindSchema {
        kind: "Location",
        required: &[],
        fields: &[("type", F::Str), ("target", F::Str), ("targets", F::StrList), ("presence", F::Presence)],
        hint: "",
    },
    KindSchema {
        kind: "User",
        required: &["memberOf"],
        fields: &[("profile", F::Profile), ("memberOf", F::StrList)],
        hint: "a User needs memberOf (may be [])",
    },
    KindSchema {
        kind: "System",
        required: &["owner"],
        fields: &[("owner", F::Str), ("domain", F::Str), ("type", F::Str)],
        hint: "a System needs an owner",
    },
    KindSchema {
        kind: "Domain",
        required: &["owner"],
        fields: &[("owner", F::Str), ("subdomainOf", F::Str), ("type", F::Str)],
        hint: "a Domain needs an owner",
    },
];

fn check_field(spec: &Map<String, Value>, name: &str, f: F) -> Result<(), Verdict> {
    let Some(v) = spec.get(name) else { return Ok(()) };
    let path = format!("spec.{name}");
    match f {
        F::Str => check_string(v, &path, true),
        F::StrList => {
            let Value::Array(items) = v else {
                return Err(invalid(&path, format!("{path} must be a list of strings, but found {}", show(v))));
            };
            for (i, item) in items.iter().enumerate() {
                check_string(item, &format!("{path}.{i}"), true)?;
            }
            Ok(())
        }
        F::Profile => {
            let Value::Object(p) = v else {
                return Err(invalid(&path, format!("{path} must be a mapping, but found {}", show(v))));
            };
            for key in ["displayName", "email", "picture"] {
                if let Some(x) = p.get(key) {
                    check_string(x, &format!("{path}.{key}"), true)?;
                }
            }
            Ok(())
        }
        F::Presence => match v.as_str() {
            Some("required") | Some("optional") => Ok(()),
            _ => Err(invalid(&path, format!("{path} must be \"required\" or \"optional\", but found {}", show(v)))),
        },
    }
}

/// Validates one document's JSON form.
pub fn validate(doc: &Value) -> Verdict {
    match validate_inner(doc) {
        Ok(v) | Err(v) => v,
    }
}

/// `Some("Group")` for a `GroupAugmentation` kind.
pub fn augmentation_target_kind(kind: &str) -> Option<&str> {
    kind.strip_suffix("Augmentation").filter(|k| !k.is_empty())
}

fn validate_inner(doc: &Value) -> Result<Verdict, Verdict> {
    let Value::Object(root) = doc else {
        return Err(invalid(
            "",
            format!("a descriptor document must be a mapping (apiVersion, kind, metadata, spec), but found {}", type_name(doc)),
        ));
    };
    envelope(root)?;
    field_formats(root)?;
    let api = root["apiVersion"].as_str().unwrap_or_default();
    let kind = root["kind"].as_str().unwrap_or_default();
    let builtin_api = api == "backstage.io/v1alpha1" || api == "backstage.io/v1beta1";
    let schema = KINDS.iter().find(|k| k.kind == kind).filter(|_| builtin_api);
    let Some(schema) = schema else {
        if augmentation_target_kind(kind).is_some() {
            return Ok(Verdict { status: Status::Valid, problem: None });
        }
        return Ok(Verdict {
            status: Status::UnknownKind,
            problem: Some(Problem {
                path: "kind".into(),
                message: format!(
                    "no built-in kind matches apiVersion \"{api}\" and kind \"{kind}\" (built-in kinds are Component, API, Resource, System, Domain, Group, User, Location with apiVersion backstage.io/v1alpha1 or v1beta1; kind names are case-sensitive)"
                ),
            }),
        });
    };
    let Some(spec) = root.get("spec") else {
        return Err(invalid("spec", format!("spec is required for a {kind}")));
    };
    let spec = spec.as_object().expect("checked by the envelope");
    for req in schema.required {
        if !spec.contains_key(*req) {
            return Err(invalid(format!("spec.{req}"), format!("spec.{req} is required: {}", schema.hint)));
        }
    }
    for (name, f) in schema.fields {
        check_field(spec, name, *f)?;
    }
    Ok(Verdict { status: Status::Valid, problem: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    // vectors from Backstage's KubernetesValidatorFunctions.test.ts (contracts.md §A.2)
    #[test]
    fn object_names() {
        let a63 = "a".repeat(63);
        let a64 = "a".repeat(64);
        for ok in ["a", "AZ09", a63.as_str(), "a-b", "a--b", "a_b", "a.b", "a..b"] {
            assert!(is_valid_object_name(ok), "{ok}");
        }
        for bad in [a64.as_str(), "a/b", "-a-b", "a-b-", ""] {
            assert!(!is_valid_object_name(bad), "{bad}");
        }
    }

    #[test]
    fn namespaces() {
        assert!(is_valid_dns_label("a"));
        assert!(!is_valid_dns_label("AZ09"));
        assert!(is_valid_dns_label(&"a".repeat(63)));
        assert!(!is_valid_dns_label(&"a".repeat(64)));
        assert!(is_valid_dns_label("a-b"));
        assert!(!is_valid_dns_label("-a-b"));
        assert!(!is_valid_dns_label("a-b-"));
        // Backstage 1.10's regex allows runs of hyphens (parity corpus namespaces/005)
        assert!(is_valid_dns_label("a--b"));
        assert!(!is_valid_dns_label("a_b"));
        assert!(!is_valid_dns_label("a.b"));
    }

    #[test]
    fn kinds_and_api_versions() {
        assert!(is_valid_kind("a") && is_valid_kind("AZ09"));
        assert!(!is_valid_kind("9AZ") && !is_valid_kind(&"a".repeat(64)) && !is_valid_kind("a-b"));
        for ok in ["a/a", "a/aAb5C", "a-b.c/v1"] {
            assert!(is_valid_api_version(ok), "{ok}");
        }
        for bad in ["a-b", "a_b", "a.b"] {
            assert!(!is_valid_api_version(bad), "{bad}");
        }
        let p = format!("{}.{}.{}.{}", "a".repeat(63), "a".repeat(63), "a".repeat(63), "a".repeat(61));
        assert!(is_valid_api_version(&format!("{p}/v1")));
        let p = format!("{}.{}.{}.{}", "a".repeat(63), "a".repeat(63), "a".repeat(63), "a".repeat(62));
        assert!(!is_valid_api_version(&format!("{p}/v1")));
        assert!(!is_valid_api_version(&format!("a/{}", "a".repeat(64))));
    }

    #[test]
    fn keys_values_tags() {
        assert!(is_valid_label_or_annotation_key("a/b"));
        assert!(is_valid_label_or_annotation_key("a-b.c/a"));
        assert!(is_valid_label_or_annotation_key(&format!("a/{}", "a".repeat(63))));
        assert!(!is_valid_label_or_annotation_key(&format!("a/{}", "a".repeat(64))));
        assert!(!is_valid_label_or_annotation_key("/x"));
        assert!(!is_valid_label_or_annotation_key("a/b/c"));
        assert!(is_valid_label_value(""));
        for ok in ["java", "c++", "c#", "a:b", ":", "a-b-c"] {
            assert!(is_valid_tag(ok), "{ok}");
        }
        for bad in ["Java", "a--b", "-a", "a-", "a_b", "a.b", ""] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn messages_name_field_rule_and_value() {
        let doc = serde_json::json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "Billing Export!"}, "spec": {"type": "service", "lifecycle": "x", "owner": "y"}});
        let v = validate(&doc);
        assert_eq!(v.status, Status::Invalid);
        let p = v.problem.unwrap();
        assert_eq!(p.path, "metadata.name");
        assert!(p.message.contains("\"Billing Export!\"") && p.message.contains("1-63"));
    }
}
