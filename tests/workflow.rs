//! The example GitHub Actions workflow shipped in `examples/github-actions/`: valid YAML with
//! the keys GitHub reads, a valid cron, the database carried over in the cache (restored before
//! the run, saved after it whatever the outcome), the summary in the job summary, the site
//! deployed to Pages; every `echo-health` command it runs exists, with its options.

mod common;

use serde_json::Value;

#[test]
fn the_example_workflow_is_valid_and_names_real_commands() {
    let path = common::repo().join("examples/github-actions/echo-health.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let wf: Value = echo_health::yaml::parse_single(&text).unwrap().expect("one document");
    // `on` stays a key under YAML 1.2, as GitHub reads it
    let cron = wf.pointer("/on/schedule/0/cron").and_then(Value::as_str).expect("a schedule");
    assert!(croner::Cron::new(cron).parse().is_ok(), "{cron}");
    assert_eq!(wf.pointer("/concurrency/cancel-in-progress"), Some(&Value::Bool(false)), "one run at a time, never cancelled mid-write");
    let steps = wf.pointer("/jobs/run/steps").and_then(Value::as_array).expect("steps");
    let uses: Vec<&str> = steps.iter().filter_map(|s| s.get("uses").and_then(Value::as_str)).collect();
    let pos = |needle: &str| steps.iter().position(|s| s.to_string().contains(needle)).unwrap_or_else(|| panic!("no step with {needle}"));
    assert!(pos("actions/cache/restore") < pos("echo-health run"), "the database is restored before the run");
    assert!(pos("echo-health run") < pos("actions/cache/save"), "and saved after it");
    for always in ["actions/cache/save", "echo-health summary", "upload-pages-artifact"] {
        assert_eq!(steps[pos(always)].get("if").and_then(Value::as_str), Some("always()"), "{always} runs whatever the run's exit code");
    }
    assert!(steps[pos("echo-health summary")].to_string().contains("GITHUB_STEP_SUMMARY"));
    assert!(uses.iter().all(|u| u.contains("@v")), "actions are pinned to a version: {uses:?}");
    assert_eq!(wf.pointer("/jobs/deploy/steps/0/uses").and_then(Value::as_str), Some("actions/deploy-pages@v4"));
    assert_eq!(commands(steps), ["run", "summary"]);
}

/// Checks that every `echo-health` command line of `steps` names a command and options that
/// exist; returns the commands in order.
fn commands(steps: &[Value]) -> Vec<String> {
    let mut checked = Vec::new();
    for s in steps {
        let Some(run) = s.get("run").and_then(Value::as_str) else { continue };
        for line in run.lines().filter(|l| l.trim_start().starts_with("echo-health ")) {
            let words: Vec<&str> = line.split_whitespace().take_while(|w| *w != ">>" && !w.starts_with('#')).collect();
            checked.push(check_command(&words));
        }
    }
    checked
}

/// `words`: echo-health, the command, its arguments; the command and every option must exist.
fn check_command(words: &[&str]) -> String {
    let sub = words[1];
    let out = common::bin().args([sub, "--help"]).output().unwrap();
    assert!(out.status.success(), "echo-health {sub} is not a command");
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    for opt in words.iter().filter(|w| w.starts_with("--")) {
        assert!(help.contains(*opt), "echo-health {sub} has no option {opt}");
    }
    sub.to_owned()
}

#[test]
fn the_sharded_workflow_runs_every_shard_then_merges_once() {
    let text = std::fs::read_to_string(common::repo().join("examples/github-actions/echo-health-sharded.yml")).unwrap();
    let wf: Value = echo_health::yaml::parse_single(&text).unwrap().expect("one document");
    let shards: u64 = wf.pointer("/env/SHARDS").and_then(Value::as_u64).expect("SHARDS");
    let index = wf.pointer("/jobs/shard/strategy/matrix/index").and_then(Value::as_array).expect("a matrix of shard indexes");
    let index: Vec<u64> = index.iter().filter_map(Value::as_u64).collect();
    assert_eq!(index, (0..shards).collect::<Vec<_>>(), "the matrix covers shards 0..SHARDS-1");
    assert_eq!(wf.pointer("/jobs/merge/needs").and_then(Value::as_str), Some("shard"), "the merge waits for every shard");
    assert_eq!(wf.pointer("/concurrency/cancel-in-progress"), Some(&Value::Bool(false)));
    let shard_steps = wf.pointer("/jobs/shard/steps").and_then(Value::as_array).unwrap();
    assert_eq!(commands(shard_steps), ["run"]);
    assert!(shard_steps.iter().any(|s| s.to_string().contains("--shard ${{ matrix.index }}/$SHARDS")));
    let merge_steps = wf.pointer("/jobs/merge/steps").and_then(Value::as_array).unwrap();
    assert_eq!(commands(merge_steps), ["merge", "summary"]);
    let pos =
        |needle: &str| merge_steps.iter().position(|s| s.to_string().contains(needle)).unwrap_or_else(|| panic!("no step with {needle}"));
    assert!(pos("download-artifact") < pos("echo-health merge") && pos("cache/restore") < pos("echo-health merge"));
    assert!(pos("echo-health merge") < pos("actions/cache/save"));
}

#[test]
fn the_kubernetes_indexed_job_gives_each_pod_its_shard() {
    let text = std::fs::read_to_string(common::repo().join("examples/kubernetes/echo-health-sharded.yaml")).unwrap();
    let docs: Vec<Value> = echo_health::yaml::parse_documents(&text).into_iter().filter_map(|d| d.value.unwrap()).collect();
    let job = |name: &str| docs.iter().find(|d| d.pointer("/metadata/name").and_then(Value::as_str) == Some(name)).expect(name);
    let shards = job("echo-health-shards");
    assert_eq!(shards.pointer("/spec/completionMode").and_then(Value::as_str), Some("Indexed"));
    let n = shards.pointer("/spec/completions").and_then(Value::as_u64).unwrap();
    let args: Vec<&str> = shards
        .pointer("/spec/template/spec/containers/0/args")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let shard_arg = args[args.iter().position(|a| *a == "--shard").unwrap() + 1];
    assert_eq!(shard_arg, format!("$(JOB_COMPLETION_INDEX)/{n}"), "the completion index is the shard, the completions its count");
    let mut words = vec!["echo-health"];
    words.extend(args.iter().copied());
    check_command(&words);
    let merge = job("echo-health-merge");
    let args: Vec<&str> = merge
        .pointer("/spec/template/spec/containers/0/args")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut words = vec!["echo-health"];
    words.extend(args.iter().copied());
    assert_eq!(check_command(&words), "merge");
    // both mount the same state volume
    for j in [shards, merge] {
        assert_eq!(
            j.pointer("/spec/template/spec/volumes/0/persistentVolumeClaim/claimName").and_then(Value::as_str),
            Some("echo-health-state")
        );
    }
}
