//! Sharded runs (`run --shard I/N` in N processes, then `merge`) against an unsharded run of
//! the same pipeline: the demo company with its fact files, a GitHub source (the fake GitHub,
//! per-repository reads split between shards) and a Zoekt source (a loopback server: one
//! whole-organisation answer per query, split by the shards). Grades, check outcomes, facts
//! and migration states must be identical; a missing or duplicated shard is refused before
//! anything is recorded; tokens reach no shard file.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use echo_health::bench::loopback;
use echo_health::fakes::github::{synthetic_org, FakeGitHub};

const TOKEN: &str = "ghp_shardTOKEN_must_never_leak_987654321";

/// Zoekt's answer: log4j matches in three claimed repositories and one nobody claims.
fn zoekt_body() -> String {
    let file = |repo: &str| {
        format!(
            "{{\"FileName\":\"src/Main.java\",\"Repository\":\"github.com/lumen/{repo}\",\"Language\":\"Java\",\"LineMatches\":[{{\"Line\":\"aW1wb3J0IG9yZy5hcGFjaGUubG9nNGouTG9nZ2VyOwo=\",\"LineStart\":0,\"LineEnd\":31,\"LineNumber\":3,\"Before\":null,\"After\":null,\"FileName\":false,\"Score\":501,\"DebugScore\":\"\",\"LineFragments\":[{{\"LineOffset\":7,\"Offset\":7,\"MatchLength\":16,\"SymbolInfo\":null}}]}}],\"Checksum\":\"MTIzNDU2Nzg=\",\"Score\":5000000010}}"
        )
    };
    let files: Vec<String> = ["booking-api", "wms-core", "edi-translator", "nobody-claims-this"].iter().map(|r| file(r)).collect();
    format!(
        "{{\"Result\":{{\"Crashes\":0,\"FileCount\":{n},\"FilesSkipped\":0,\"ShardsSkipped\":0,\"MatchCount\":{n},\"Duration\":1000000,\"Files\":[{}],\"RepoURLs\":{{}},\"LineFragments\":{{}}}}}}",
        files.join(","),
        n = files.len()
    )
}

/// The demo pipeline with GitHub and Zoekt sources, its database and output under `dir/name`.
fn pipeline(dir: &Path, name: &str, github: &str, zoekt: u16) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let demo = common::demo_pipeline(&sub);
    let text = std::fs::read_to_string(&demo).unwrap();
    let sources = format!(
        "facts:\n  - type: github\n    api_url: {github}\n    web_host: github.com\n    token_env: ECHO_HEALTH_TEST_GH_TOKEN\n    organizations: [lumen]\n  - type: zoekt\n    endpoint: http://127.0.0.1:{zoekt}\n    queries:\n      - name: log4j_refs\n        query: 'org.apache.log4j lang:java'\n"
    );
    let text = text.replacen("facts:\n", &sources, 1);
    std::fs::write(&demo, text).unwrap();
    demo
}

fn demo_slugs() -> Vec<String> {
    let mut out = BTreeSet::new();
    for e in walkdir::WalkDir::new(common::repo().join("pipelines/demo/catalog")).into_iter().filter_map(Result::ok) {
        if e.file_type().is_file() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            for l in text.lines() {
                if let Some(s) = l.trim().strip_prefix("github.com/project-slug:") {
                    out.insert(s.trim().to_owned());
                }
            }
        }
    }
    out.into_iter().collect()
}

fn cmd(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = common::bin().args(args).env("ECHO_HEALTH_TEST_GH_TOKEN", TOKEN).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token leaked into the output");
    let v = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn rows(db: &Path, sql: &str) -> Vec<String> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    let mut out: Vec<String> = st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
    out.sort();
    out
}

fn latest_run(db: &Path) -> String {
    rows(db, "select run_id from runs where status <> 'failed' order by as_of desc limit 1").pop().unwrap()
}

#[test]
fn sharded_and_unsharded_runs_give_identical_grades() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut repos = synthetic_org(&demo_slugs(), now);
    repos.push(echo_health::fakes::github::Repo::new("lumen/unowned-tool", now));
    let fake: Arc<FakeGitHub> = FakeGitHub::start("lumen", Some(TOKEN), repos);
    let body = zoekt_body();
    let (zoekt, zoekt_requests) = loopback::serve(Arc::new(move |_: &loopback::Request| (200, body.clone())));

    // unsharded
    let whole = pipeline(tmp.path(), "whole", &fake.url(), zoekt);
    let (code, v, err) = cmd(&["run", whole.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "unsharded run: {err}\n{v}");
    let whole_db = tmp.path().join("whole/demo.duckdb");

    // three shards in three processes at once, then the merge
    let sharded = pipeline(tmp.path(), "sharded", &fake.url(), zoekt);
    let zoekt_before = zoekt_requests.load(std::sync::atomic::Ordering::SeqCst);
    let children: Vec<_> = (0..3)
        .map(|i| {
            common::bin()
                .args(["run", sharded.to_str().unwrap(), "--shard", &format!("{i}/3"), "--format", "json"])
                .env("ECHO_HEALTH_TEST_GH_TOKEN", TOKEN)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut shard_components = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "shard failed: {stderr}");
        let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
        shard_components.push(v["components"].as_u64().unwrap());
    }
    // every shard asked Zoekt its one query; nothing was stored by the shards
    assert_eq!(zoekt_requests.load(std::sync::atomic::Ordering::SeqCst) - zoekt_before, 3);
    let sharded_db = tmp.path().join("sharded/demo.duckdb");
    assert!(!sharded_db.exists(), "a shard wrote the database");
    let shards_dir = tmp.path().join("sharded/out/shards");
    // the shards split the components without overlap
    let mut seen = BTreeSet::new();
    for i in 0..3 {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(shards_dir.join(format!("shard-{i}-of-3/manifest.json"))).unwrap()).unwrap();
        for c in m["components"].as_array().unwrap() {
            assert!(seen.insert(c.as_str().unwrap().to_owned()), "{c} is in two shards");
        }
    }
    let unsharded_components = rows(&whole_db, "select entity_ref from entities where kind = 'Component'");
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), unsharded_components);
    assert!(shard_components.iter().all(|&n| n > 5), "uneven split: {shard_components:?}");
    // no token in any shard file
    for e in walkdir::WalkDir::new(&shards_dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let bytes = std::fs::read(e.path()).unwrap();
        assert!(!bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "token in {}", e.path().display());
    }

    // a missing shard is refused before a run is recorded
    let moved = tmp.path().join("shard-1-aside");
    std::fs::rename(shards_dir.join("shard-1-of-3"), &moved).unwrap();
    let (code, _, err) = cmd(&["merge", sharded.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("1/3") && err.contains("missing"), "{err}");
    assert!(!sharded_db.exists(), "a refused merge recorded a run");
    // the same shard twice too
    let (code, _, err) =
        cmd(&["merge", sharded.to_str().unwrap(), shards_dir.to_str().unwrap(), shards_dir.join("shard-0-of-3").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("twice"), "{err}");
    std::fs::rename(&moved, shards_dir.join("shard-1-of-3")).unwrap();

    let (code, v, err) = cmd(&["merge", sharded.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "merge: {err}\n{v}");
    let github = v["sources"].as_array().unwrap().iter().find(|s| s["name"] == "github").unwrap().clone();
    assert_eq!(github["stats"]["shards"], 3);
    // stored shards are removed: a shard failing next round is missing, not replaced by this one
    assert!(!shards_dir.join("shard-0-of-3").exists());
    let (code, _, err) = cmd(&["merge", sharded.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");

    let (a, b) = (latest_run(&whole_db), latest_run(&sharded_db));
    let q = |run: &str, sql: &str| sql.replace("$RUN", &format!("'{run}'"));
    // facts: same values (observation times differ: the runs happened at different times)
    let facts = "select entity_ref || ' ' || fact || ' ' || coalesce(value_num::varchar, value_bool::varchar, value_text, value_json::varchar) from facts where run_id = $RUN";
    let fa = rows(&whole_db, &q(&a, facts));
    let fb = rows(&sharded_db, &q(&b, facts));
    assert!(fa.iter().any(|f| f.contains(" github.")) && fa.iter().any(|f| f.contains(" zoekt.log4j_refs 1")), "sources gave no facts");
    assert_eq!(fa.len(), fb.len());
    assert_eq!(fa, fb, "facts differ");
    // grades and every check outcome
    let grades = "select concat_ws(' ', entity_ref, coalesce(level, 'none'), coalesce(score::varchar, '-'), coverage::varchar) from grades where run_id = $RUN";
    let ga = rows(&whole_db, &q(&a, grades));
    assert!(ga.len() > 50, "{}", ga.len());
    assert_eq!(ga, rows(&sharded_db, &q(&b, grades)), "grades differ");
    let results = "select concat_ws(' ', entity_ref, check_id, outcome) from check_results where run_id = $RUN";
    assert_eq!(rows(&whole_db, &q(&a, results)), rows(&sharded_db, &q(&b, results)), "check outcomes differ");
    let states = "select entity_ref || ' ' || migration_id || ' ' || state from migration_states where run_id = $RUN";
    let sa = rows(&whole_db, &q(&a, states));
    assert!(!sa.is_empty());
    assert_eq!(sa, rows(&sharded_db, &q(&b, states)), "migration states differ");
    // whole-organisation warnings once, naming only what no component of any shard claims
    let warn = "select message from errors where run_id = $RUN and kind = 'unmatched'";
    let (wa, wb) = (rows(&whole_db, &q(&a, warn)), rows(&sharded_db, &q(&b, warn)));
    assert_eq!(wa, wb);
    assert!(wb.iter().any(|m| m.contains("lumen/unowned-tool")) && wb.iter().any(|m| m.contains("nobody-claims-this")), "{wb:?}");
    assert!(!wb.iter().any(|m| m.contains("booking-api")), "{wb:?}");

    // the next sharded round reads what the merge stored: only the change probe per shard
    let requests = |f: &FakeGitHub| {
        let c = f.counts();
        c.graphql + c.rest
    };
    let before = requests(&fake);
    for i in 0..3 {
        let (code, v, err) = cmd(&["run", sharded.to_str().unwrap(), "--shard", &format!("{i}/3"), "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        let gh = v["sources"].as_array().unwrap().iter().find(|s| s["name"] == "github").unwrap().clone();
        assert_eq!(gh["stats"]["requests"], 1, "shard {i}: {gh}");
    }
    assert_eq!(requests(&fake) - before, 3);
}

#[test]
fn shards_travel_through_object_storage() {
    const SECRET: &str = "s3-secret-key-must-never-leak/0123";
    let tmp = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let fake = FakeGitHub::start("lumen", Some(TOKEN), synthetic_org(&demo_slugs(), now));
    let body = zoekt_body();
    let (zoekt, _) = loopback::serve(Arc::new(move |_: &loopback::Request| (200, body.clone())));
    // two keys per page: listing the shards follows continuation tokens
    let s3 = echo_health::fakes::s3::FakeS3::start("echo-shards", "AKIDECHOHEALTH", SECRET, 2);
    let p = pipeline(tmp.path(), "s3", &fake.url(), zoekt);
    let with_aws = |args: &[&str], secret: &str| {
        let out = common::bin()
            .args(args)
            .env("ECHO_HEALTH_TEST_GH_TOKEN", TOKEN)
            .env("AWS_ACCESS_KEY_ID", "AKIDECHOHEALTH")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_ENDPOINT_URL", s3.endpoint())
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "the secret key leaked into the output");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    };
    let mut facts = 0;
    for i in 0..2 {
        let (code, stdout, stderr) = with_aws(
            &["run", p.to_str().unwrap(), "--shard", &format!("{i}/2"), "--shard-dir", "s3://echo-shards/runs/today", "--format", "json"],
            SECRET,
        );
        assert_eq!(code, 0, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(v["dir"], format!("s3://echo-shards/runs/today/shard-{i}-of-2"));
        facts += v["facts"].as_u64().unwrap();
    }
    let keys: Vec<String> = s3.objects.lock().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert!(keys.contains(&"runs/today/shard-1-of-2/facts.parquet".to_owned()), "{keys:?}");
    for (k, bytes) in s3.objects.lock().unwrap().iter() {
        for secret in [TOKEN, SECRET] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in {k}");
        }
    }
    // a wrong key is refused by the store, and said so
    let (code, _, stderr) = with_aws(&["run", p.to_str().unwrap(), "--shard", "0/2", "--shard-dir", "s3://echo-shards/runs/x"], "wrong");
    assert_eq!(code, 2);
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    // the merge lists and downloads both shards, stores them as one run, then removes them
    let (code, stdout, stderr) = with_aws(&["merge", p.to_str().unwrap(), "s3://echo-shards/runs/today", "--format", "json"], SECRET);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let sharded_facts: u64 =
        v["sources"].as_array().unwrap().iter().filter(|s| s["name"] != "demo-facts").map(|s| s["facts"].as_u64().unwrap()).sum();
    assert_eq!(sharded_facts, facts);
    assert!(s3.objects.lock().unwrap().is_empty(), "merged shards are removed from the store");
    assert!(s3.requests.lock().unwrap().iter().filter(|r| r.contains("list-type=2")).count() >= 3, "listing followed its pages");
    // nothing left: a merge of the empty prefix is refused
    let (code, _, stderr) = with_aws(&["merge", p.to_str().unwrap(), "s3://echo-shards/runs/today"], SECRET);
    assert_eq!(code, 2);
    assert!(stderr.contains("holds no shard"), "{stderr}");
}
