//! The YAML fast path must build exactly the value the full parser builds, for every
//! document it accepts: checked over the parity corpus, the real-world files, the demo
//! catalog and a generated organisation.

mod common;

use std::path::{Path, PathBuf};

use echo_health::yaml::{fast, parse_chunk_full, split_documents, strip_bom};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        let n = e.file_name().to_string_lossy();
        if e.file_type().is_file() && (n.ends_with(".yaml") || n.ends_with(".yml")) {
            out.push(e.path().to_path_buf());
        }
    }
    out
}

/// (documents seen, documents the fast path accepted)
fn compare(name: &str, text: &str) -> (usize, usize) {
    let text = strip_bom(text);
    let mut seen = 0;
    let mut accepted = 0;
    for chunk in split_documents(text) {
        seen += 1;
        if let Some(fast_value) = fast::parse(chunk.text, chunk.yaml11 || chunk.has_directives) {
            accepted += 1;
            let full = parse_chunk_full(chunk).value;
            assert_eq!(Ok(fast_value), full, "{name} document {}: fast path and full parser disagree", chunk.index);
        }
    }
    (seen, accepted)
}

#[test]
fn fast_path_agrees_with_full_parser_on_demo_and_generated_org() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    let mut accepted = 0;
    for f in yaml_files(&root.join("pipelines")) {
        let (s, a) = compare(&f.display().to_string(), &std::fs::read_to_string(&f).unwrap());
        seen += s;
        accepted += a;
    }
    let org = echo_health::synth::generate(&echo_health::synth::Options { components: 300, teams: 30, domains: 6, seed: 7 });
    for (name, text) in &org.files {
        let (s, a) = compare(name, text);
        seen += s;
        accepted += a;
    }
    // the point of the fast path: plain catalogs almost never need the full parser
    assert!(accepted * 100 >= seen * 95, "fast path took only {accepted} of {seen} documents");
}

#[test]
fn fast_path_agrees_with_full_parser_on_shared_corpora() {
    let Some(shared) = common::shared_dir("fast_path_agrees_with_full_parser_on_shared_corpora") else { return };
    let mut seen = 0;
    let mut accepted = 0;
    for f in yaml_files(&shared.join("fixtures/catalog")) {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        let (s, a) = compare(&f.display().to_string(), &text);
        seen += s;
        accepted += a;
    }
    assert!(seen > 350 && accepted > 150, "seen {seen}, accepted {accepted}");
}
