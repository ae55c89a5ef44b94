//! Every YAML file shipped under `pipelines/` is either a pipeline that parses or a
//! descriptor that validates (except the demo's two deliberately broken documents).

use std::path::PathBuf;

use echo_health::catalog::files::validate_text;
use echo_health::catalog::DocStatus;
use echo_health::config;

#[test]
fn every_yaml_under_pipelines_parses() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut pipelines = 0;
    let mut packs = Vec::new();
    let mut report_defs = Vec::new();
    let mut migration_files = Vec::new();
    let mut broken = Vec::new();
    let mut docs = 0;
    for e in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let e = e.unwrap();
        let p = e.path();
        let name = p.to_string_lossy();
        if !e.file_type().is_file() || !(name.ends_with(".yaml") || name.ends_with(".yml")) || name.contains("/.echo-health/") {
            continue;
        }
        let text = std::fs::read_to_string(p).unwrap();
        let first = echo_health::yaml::parse_documents(&text).into_iter().find_map(|d| d.value.ok().flatten());
        if first.as_ref().map(config::looks_like_pipeline).unwrap_or(false) {
            config::load(p).unwrap_or_else(|e| panic!("{e}"));
            pipelines += 1;
            continue;
        }
        if name.contains("/openapi/") {
            continue; // API specs read through $text placeholders
        }
        if first.as_ref().map(|v| v.get("kind").and_then(|k| k.as_str()) == Some("table") && v.get("query").is_some()).unwrap_or(false) {
            report_defs.push(p.to_path_buf());
            continue; // a pipeline's own report definitions: validated below
        }
        if first.as_ref().map(|v| v.get("migrations").is_some() && v.get("catalog").is_none()).unwrap_or(false) {
            migration_files.push(p.to_path_buf());
            continue; // migration definitions: validated below
        }
        if first.as_ref().map(|v| v.get("checks").is_some() || v.get("exemptions").is_some()).unwrap_or(false) {
            packs.push(p.to_path_buf());
            continue; // check packs and exemptions: validated below
        }
        let (reports, _) = validate_text(&text, &name);
        for r in reports {
            docs += 1;
            if r.status != DocStatus::Valid {
                broken.push(format!("{}#{}", r.file.rsplit('/').next().unwrap(), r.doc));
            }
        }
    }
    assert_eq!(pipelines, 3, "demo.yaml, demo-prometheus.yaml and starter/pipeline.yaml");
    // every check pack (and the demo's exemptions) validates, SQL prepared against DuckDB
    let demo = config::load(&root.join("demo.yaml")).unwrap();
    let setup = echo_health::grade::setup(&demo).unwrap_or_else(|e| panic!("{e}")).expect("the demo grades");
    assert!(setup.exemptions.len() >= 3);
    let pack_files: Vec<PathBuf> =
        packs.iter().filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().ends_with("exemptions.yaml"))).cloned().collect();
    assert_eq!(pack_files.len(), 3, "{pack_files:?}");
    let all = echo_health::grade::setup_with_packs(&demo, &pack_files).unwrap_or_else(|e| panic!("{e}"));
    assert!(all.pack.checks.len() >= 30);
    assert!(docs > 170);
    // the demo's report definitions load and their queries prepare against the schema
    assert_eq!(report_defs.len(), 1, "{report_defs:?}");
    let reports = echo_health::report::custom::check(&report_defs, &root).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports[0].page, "reports/production.html");
    assert_eq!(demo.reports, report_defs);
    // the demo's migrations load, their expressions checked against the facts it declares
    assert_eq!(demo.migrations, migration_files);
    let migrations = echo_health::migrate::setup(&demo).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(migrations.exemptions.len(), 2, "the demo's migration exemptions load");
    let migrations = migrations.migrations;
    assert_eq!(migrations.len(), 2);
    broken.sort();
    assert_eq!(broken, vec!["billing-jobs.yaml#1", "warehouse-workers.yaml#1"], "only the deliberately broken descriptors");
}
