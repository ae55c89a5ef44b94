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
            assert_eq!(Ok(fast_value), full, "{name} document {}: fast path and full parser disagree on:\n{}", chunk.index, chunk.text);
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

/// Deterministic mutations of real descriptors (deleted, inserted and replaced characters,
/// duplicated lines, changed indentation, truncation): the fast path still never disagrees
/// with the full parser, and parsing plus validation never panics.
#[test]
fn mutated_descriptors_never_split_the_parsers_or_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<String> =
        yaml_files(&root.join("pipelines/demo/catalog")).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    if let Some(shared) = common::shared_dir("mutated_descriptors (shared part)") {
        for f in yaml_files(&shared.join("fixtures/catalog/parity/cases")) {
            if let Ok(t) = std::fs::read_to_string(&f) {
                inputs.push(t);
            }
        }
    }
    let alphabet: &[u8] = b":-#'\"[]{}|>&*!?%@ \n,.0aZ\\";
    let mut state: u64 = std::env::var("ECHO_HEALTH_MUTATION_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x2545_f491_4f6c_dd1d) | 1;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    };
    let mut accepted = 0;
    let mut total = 0;
    // more rounds on demand: ECHO_HEALTH_MUTATIONS=2000 cargo test --test yaml_differential
    let rounds: usize = std::env::var("ECHO_HEALTH_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    for text in &inputs {
        for _ in 0..rounds {
            let mut b = text.as_bytes().to_vec();
            if b.is_empty() {
                continue;
            }
            for _ in 0..1 + next(3) {
                let i = next(b.len());
                match next(6) {
                    0 => {
                        b.remove(i);
                    }
                    1 => b.insert(i, alphabet[next(alphabet.len())]),
                    2 => b[i] = alphabet[next(alphabet.len())],
                    3 => {
                        // duplicate the line holding i
                        let s = b[..i].iter().rposition(|&c| c == b'\n').map(|p| p + 1).unwrap_or(0);
                        let e = b[i..].iter().position(|&c| c == b'\n').map(|p| i + p + 1).unwrap_or(b.len());
                        let line = b[s..e].to_vec();
                        b.splice(e..e, line);
                    }
                    4 => {
                        // indent or dedent the line holding i
                        let s = b[..i].iter().rposition(|&c| c == b'\n').map(|p| p + 1).unwrap_or(0);
                        if next(2) == 0 {
                            b.insert(s, b' ');
                        } else if b.get(s) == Some(&b' ') {
                            b.remove(s);
                        }
                    }
                    _ => b.truncate(i),
                }
                if b.is_empty() {
                    break;
                }
            }
            let Ok(t) = String::from_utf8(b) else { continue };
            let (s, a) = compare("mutant", &t);
            total += s;
            accepted += a;
            let _ = echo_health::catalog::files::validate_text(&t, "mutant.yaml");
        }
    }
    assert!(total > 1000 && accepted > 100, "total {total}, accepted {accepted}");
}
