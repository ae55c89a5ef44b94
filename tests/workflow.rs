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
    // every echo-health command it runs exists and takes the options given
    let mut checked = 0;
    for s in steps {
        let Some(run) = s.get("run").and_then(Value::as_str) else { continue };
        for line in run.lines().filter(|l| l.trim_start().starts_with("echo-health ")) {
            let words: Vec<&str> = line.split_whitespace().take_while(|w| *w != ">>" && !w.starts_with('#')).collect();
            let sub = words[1];
            let out = common::bin().args([sub, "--help"]).output().unwrap();
            assert!(out.status.success(), "echo-health {sub} is not a command");
            let help = String::from_utf8_lossy(&out.stdout).to_string();
            for opt in words.iter().filter(|w| w.starts_with("--")) {
                assert!(help.contains(*opt), "echo-health {sub} has no option {opt}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "run and summary");
}
