//! The JSON Schemas of `schemas/` (printed by `echo-health schema`) describe the files
//! echo-health reads: every key used in the repository's pipeline, check-pack, migration and
//! exemption files is in its schema (objects are closed: `additionalProperties: false`), the
//! keys the schema requires are there, and files name their schema for editors.

mod common;

use serde_json::Value;

/// Keys of `doc` the schema does not know, or required keys it lacks, as paths.
fn check(doc: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        // the branch whose `type` constant matches (sources), else the first that fits
        let pick =
            branches.iter().find(|b| b.pointer("/properties/type/const").is_some_and(|c| Some(c) == doc.get("type"))).or_else(|| {
                branches.iter().find(|b| {
                    b.get("required")
                        .and_then(Value::as_array)
                        .is_some_and(|r| r.iter().all(|k| doc.get(k.as_str().unwrap_or("")).is_some()))
                })
            });
        match pick {
            Some(b) if b.get("properties").is_some() => return check(doc, b, path, out),
            Some(_) => {}
            None => return out.push(format!("{path}: matches no alternative")),
        }
    }
    match doc {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(props) = props {
                for (k, v) in m {
                    match props.get(k) {
                        Some(s) => check(v, s, &format!("{path}.{k}"), out),
                        None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                            out.push(format!("{path}.{k}: not in the schema"))
                        }
                        None => {}
                    }
                }
            }
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !m.contains_key(r.as_str().unwrap_or("")) {
                    out.push(format!("{path}: lacks required {r}"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(v, s, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_describe_every_file_of_the_repository() {
    let root = common::repo();
    let cases = [
        ("pipeline", vec!["pipelines/demo.yaml", "pipelines/demo-prometheus.yaml", "pipelines/starter/pipeline.yaml"]),
        (
            "check-pack",
            vec!["pipelines/checks/default/catalog.yaml", "pipelines/checks/default/signals.yaml", "pipelines/demo/checks.yaml"],
        ),
        ("migrations", vec!["pipelines/demo/migrations.yaml"]),
        ("exemptions", vec!["pipelines/demo/exemptions.yaml", "pipelines/demo/migration-exemptions.yaml"]),
    ];
    for (kind, files) in cases {
        let out = common::bin().args(["schema", kind]).output().unwrap();
        assert!(out.status.success());
        let schema: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{kind}: not JSON: {e}"));
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        for f in files {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            let doc = echo_health::yaml::parse_single(&text).unwrap().unwrap();
            let mut problems = Vec::new();
            check(&doc, &schema, f, &mut problems);
            assert!(problems.is_empty(), "{f}: {problems:?}");
        }
    }
    // and they find what is wrong
    let schema: Value = serde_json::from_slice(&common::bin().args(["schema", "pipeline"]).output().unwrap().stdout).unwrap();
    let bad: Value = serde_json::json!({"name": "x", "catalog": [{"type": "files", "paths": ["a"], "follow": true}], "bogus": 1});
    let mut problems = Vec::new();
    check(&bad, &schema, "bad", &mut problems);
    problems.sort();
    assert_eq!(problems, ["bad.bogus: not in the schema", "bad.catalog[0].follow: not in the schema"]);
    // files name their schema, relative to themselves
    for (f, s) in [
        ("pipelines/demo.yaml", "../schemas/pipeline.schema.json"),
        ("pipelines/demo/migrations.yaml", "../../schemas/migrations.schema.json"),
    ] {
        let first = std::fs::read_to_string(root.join(f)).unwrap().lines().next().unwrap_or_default().to_owned();
        assert_eq!(first, format!("# yaml-language-server: $schema={s}"));
        assert!(root.join(f).parent().unwrap().join(s).exists());
    }
}
