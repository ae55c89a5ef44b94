//! Bad input never stops ingestion: each broken file gives one clear error naming it (and
//! the line where there is one), every other document is still read, nothing panics.

use std::path::Path;

use echo_health::catalog::files::{read_catalog, FilesOptions};
use echo_health::catalog::{Catalog, ErrorKind, Severity};

const VALID: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: NAME\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

fn component(name: &str) -> String {
    VALID.replace("NAME", name)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn every_kind_of_bad_input_is_reported_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "good.yaml", component("good").as_bytes());
    // malformed YAML in the middle of a stream: the documents around it still count
    write(
        d,
        "malformed.yaml",
        format!("{}---\nmetadata: {{name: broken\nspec: [\n---\n{}", component("before"), component("after")).as_bytes(),
    );
    // a document that is not a mapping
    write(d, "scalar.yaml", b"just a string\n");
    write(d, "list.yaml", b"- a\n- b\n");
    // invalid UTF-8 on line 2
    let mut bad = component("utf").into_bytes();
    bad.splice(40..40, [0xff, 0xfe]);
    write(d, "bad-utf8.yaml", &bad);
    // a 50 MB file
    let big = std::fs::File::create(d.join("huge.yaml")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    // deeply nested YAML, flow and block
    write(d, "deep-flow.yaml", format!("{}x: {}{}\n", component("deep-flow"), "[".repeat(100_000), "]".repeat(100_000)).as_bytes());
    let mut block = component("deep-block");
    block.push_str("  custom:\n");
    for i in 0..2_000 {
        block.push_str(&format!("{}k{i}:\n", "  ".repeat(i + 2)));
    }
    write(d, "deep-block.yaml", block.as_bytes());
    // an alias bomb
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, c) in ('b'..='l').enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    write(d, "bomb.yaml", bomb.as_bytes());
    // a symlink loop and a dangling symlink; a folder named like a descriptor
    std::fs::create_dir_all(d.join("loop")).unwrap();
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop/again")).unwrap();
    std::os::unix::fs::symlink(d.join("nowhere.yaml"), d.join("dangling.yaml")).unwrap();
    write(d, "nested/ok.yaml", component("nested").as_bytes());

    let out = read_catalog(&[".".into()], &FilesOptions::new(d));
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    let names: Vec<&str> = catalog.entities.iter().map(|e| e.ref_str.as_str()).collect();
    assert_eq!(
        names,
        vec!["component:default/after", "component:default/before", "component:default/good", "component:default/nested"],
        "errors: {:#?}",
        catalog.errors
    );
    let errs: Vec<&echo_health::catalog::CatalogError> =
        catalog.errors.iter().filter(|e| e.severity == Severity::Error && e.kind != ErrorKind::DanglingRef).collect();
    let find = |file: &str| -> Vec<&str> { errs.iter().filter(|e| e.message.contains(file)).map(|e| e.message.as_str()).collect() };
    for (file, needle) in [
        ("malformed.yaml", "YAML syntax error"),
        ("scalar.yaml", "must be a mapping"),
        ("list.yaml", "must be a mapping"),
        ("bad-utf8.yaml", "not valid UTF-8"),
        ("huge.yaml", "larger than the 16.0 MB limit"),
        ("deep-flow.yaml", "recursion limit exceeded"),
        ("deep-block.yaml", "nested deeper than"),
        ("bomb.yaml", "more than"),
        ("loop", "symbolic link loop"),
        ("dangling.yaml", "dangling.yaml"),
    ] {
        let found = find(file);
        assert_eq!(found.len(), 1, "{file}: expected one error, got {found:#?}\nall: {errs:#?}");
        assert!(found[0].contains(needle), "{file}: {}", found[0]);
    }
    // lines are given where there is one
    assert!(find("malformed.yaml")[0].contains("malformed.yaml:"), "{:?}", find("malformed.yaml"));
    assert!(find("bad-utf8.yaml")[0].contains("bad-utf8.yaml:2"), "{:?}", find("bad-utf8.yaml"));
    assert_eq!(errs.len(), 10, "{errs:#?}");
}

#[test]
fn locations_are_followed_relative_to_their_file_and_cycles_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "root.yaml",
        b"apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets:\n    - ./teams/a.yaml\n    - ./teams/*.yml\n",
    );
    write(
        d,
        "teams/a.yaml",
        format!(
            "{}---\napiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: back\nspec:\n  target: ../root.yaml\n",
            component("a")
        )
        .as_bytes(),
    );
    write(d, "teams/b.yml", component("b").as_bytes());
    write(d, "unrelated.yaml", component("never-read").as_bytes());
    let out = read_catalog(&["root.yaml".into()], &FilesOptions::new(d));
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    let names: Vec<&str> = catalog.entities.iter().map(|e| e.ref_str.as_str()).collect();
    assert_eq!(names, vec!["component:default/a", "component:default/b", "location:default/back", "location:default/root"]);
    let cycle: Vec<&str> = catalog.errors.iter().filter(|e| e.message.contains("Location cycle")).map(|e| e.message.as_str()).collect();
    assert_eq!(cycle.len(), 1, "{:#?}", catalog.errors);
    assert!(cycle[0].contains("root.yaml -> ") && cycle[0].contains("a.yaml"), "{}", cycle[0]);
}

#[test]
fn placeholders_resolve_relative_files_and_report_missing_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "apis/spec.yaml", b"openapi: 3.0.0\ninfo: {title: x, version: '1'}\n");
    write(d, "apis/meta.json", b"{\"k\": [1, 2]}\n");
    write(
        d,
        "apis/api.yaml",
        b"apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api\n  extra:\n    $json: ./meta.json\n  parsed:\n    $yaml: ./spec.yaml\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./spec.yaml\n---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: missing\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./nope.yaml\n",
    );
    let out = read_catalog(&["apis/api.yaml".into()], &FilesOptions::new(d));
    let catalog = Catalog::assemble(out.docs, out.errors, out.reports);
    let api = catalog.get("api:default/api").unwrap();
    assert_eq!(api.value["spec"]["definition"], "openapi: 3.0.0\ninfo: {title: x, version: '1'}\n");
    assert_eq!(api.value["metadata"]["extra"]["k"], serde_json::json!([1, 2]));
    assert_eq!(api.value["metadata"]["parsed"]["info"]["title"], "x");
    // the other entity is kept, its unresolved placeholder reported with file and line
    assert!(catalog.get("api:default/missing").is_some());
    let e: Vec<&str> = catalog.errors.iter().filter(|e| e.kind == ErrorKind::Placeholder).map(|e| e.message.as_str()).collect();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("apis/api.yaml:24") && e[0].contains("nope.yaml"), "{}", e[0]);
}
