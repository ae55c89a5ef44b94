//! Validation parity with Backstage: every document of the parity corpus and of the
//! real-world files must get the verdict `@backstage/catalog-model` gave it
//! (`../shared/fixtures/catalog/*/expected.jsonl`). The one intended difference:
//! `<Kind>Augmentation` documents are `valid` for echo-health when well-formed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use echo_health::catalog::files::validate_text;
use echo_health::catalog::DocStatus;

fn expected(dir: &Path) -> BTreeMap<(String, usize), (String, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected.jsonl");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        let key = (v["file"].as_str().unwrap().to_owned(), v["doc"].as_u64().unwrap() as usize);
        out.insert(key, (v["status"].as_str().unwrap().to_owned(), v["ref"].clone()));
    }
    out
}

fn check_corpus(dir: &Path, files: Vec<String>) -> (usize, Vec<String>) {
    let want = expected(dir);
    let mut got = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let text = String::from_utf8(bytes).expect("corpus files are UTF-8");
        let (reports, _) = validate_text(&text, f);
        for r in reports {
            got.insert((r.file.clone(), r.doc), (r.status, r.entity_ref.clone(), r.error.clone()));
        }
    }
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (key, (status, reference)) in &want {
        checked += 1;
        match got.get(key) {
            None => mismatches.push(format!("{}#{}: expected {status}, got no verdict", key.0, key.1)),
            Some((st, r, err)) => {
                let mut expect = status.as_str();
                let is_aug = reference.as_str().map(|r| r.split(':').next().unwrap_or("").ends_with("augmentation")).unwrap_or(false);
                if is_aug && expect == "unknown-kind" {
                    expect = "valid"; // the intended difference
                }
                if st.as_str() != expect {
                    mismatches.push(format!("{}#{}: expected {expect}, got {} ({err:?})", key.0, key.1, st.as_str()));
                } else if matches!(st, DocStatus::Valid | DocStatus::UnknownKind) && reference.is_string() {
                    if r.as_deref() != reference.as_str() {
                        mismatches.push(format!("{}#{}: expected ref {reference}, got {r:?}", key.0, key.1));
                    }
                }
            }
        }
    }
    for key in got.keys() {
        if !want.contains_key(key) {
            mismatches.push(format!("{}#{}: verdict {:?} where Backstage gives none", key.0, key.1, got[key].0));
        }
    }
    (checked, mismatches)
}

#[test]
fn parity_corpus_verdicts_match_backstage() {
    let Some(shared) = common::shared_dir("parity_corpus_verdicts_match_backstage") else { return };
    let dir = shared.join("fixtures/catalog/parity");
    let manifest = std::fs::read_to_string(dir.join("manifest.jsonl")).unwrap();
    let files: Vec<String> = manifest
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), 282);
    let (checked, mismatches) = check_corpus(&dir, files);
    assert_eq!(checked, 310);
    assert!(mismatches.is_empty(), "{} of {checked} verdicts differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn real_world_files_match_backstage() {
    let Some(shared) = common::shared_dir("real_world_files_match_backstage") else { return };
    let dir = shared.join("fixtures/catalog/real");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    files.sort();
    let (checked, mismatches) = check_corpus(&dir, files);
    assert!(checked >= 70);
    assert!(mismatches.is_empty(), "{} of {checked} verdicts differ:\n{}", mismatches.len(), mismatches.join("\n"));
}
