//! Command-line definitions (clap) and the dispatch of each subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use echo_health::catalog::files::{read_text, validate_text, DEFAULT_MAX_FILE_BYTES};
use echo_health::catalog::{DocReport, DocStatus};
use echo_health::{bench, config, pipeline, synth, yaml};

#[derive(Parser)]
#[command(
    name = "echo-health",
    version,
    about = "Technical-health analytics over a Backstage software catalog",
    long_about = "echo-health reads a Backstage catalog and signals about each component, keeps every run in DuckDB, and exports the results.\n\nExit codes: 0 ok (problems within the pipeline's tolerances), 1 a configured gate failed, 2 errors.",
    after_help = "Examples:\n  echo-health run pipelines/demo.yaml\n  echo-health validate catalog/ pipelines/demo.yaml\n  echo-health init my-pipeline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline: collect the catalog and facts, load them into the database, export.
    #[command(after_help = "Example:\n  echo-health run pipelines/demo.yaml --format json\n\nWith --format json the last line of stdout is one JSON object:\n  {\"run_id\", \"status\": \"ok\"|\"partial\"|\"failed\", \"database\", \"output_dir\", \"entities\", \"facts\", \"errors\"}")]
    Run {
        /// The pipeline file
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Validate descriptor files and folders, and pipeline files, without running anything.
    #[command(after_help = "Examples:\n  echo-health validate catalog-info.yaml\n  echo-health validate pipelines/demo/catalog pipelines/demo.yaml --format json\n\nWith --format json: one line per YAML document {\"file\", \"doc\", \"status\", \"ref\", \"error\"},\nstatus valid | invalid | unknown-kind | yaml-error. Exit 0 when all are valid, 2 otherwise.")]
    Validate {
        /// Files or folders (folders are searched for *.yaml and *.yml)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Write a commented starter pipeline, an example catalog and facts into DIR.
    #[command(after_help = "Example:\n  echo-health init my-pipeline && echo-health run my-pipeline/pipeline.yaml")]
    Init {
        dir: PathBuf,
        /// Overwrite existing files
        #[arg(long)]
        force: bool,
    },
    /// Generate a synthetic organisation (deterministic) as descriptor files.
    #[command(name = "generate-org", after_help = "Example (the benchmark's organisation):\n  echo-health generate-org --out /tmp/org --components 10000 --teams 600 --domains 40")]
    GenerateOrg {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        #[arg(long, default_value_t = 600)]
        teams: usize,
        #[arg(long, default_value_t = 40)]
        domains: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Measure parsing and validation of a descriptor folder (CPU time, wall time, peak memory).
    #[command(name = "bench-catalog", after_help = "Example:\n  echo-health generate-org --out /tmp/org && echo-health bench-catalog /tmp/org")]
    BenchCatalog {
        /// Folder of descriptor files
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { pipeline, format } => cmd_run(&pipeline, format),
        Command::Validate { paths, format } => cmd_validate(&paths, format),
        Command::Init { dir, force } => {
            let written = pipeline::init::init(&dir, force)?;
            for p in &written {
                println!("wrote {}", p.display());
            }
            println!("next: echo-health run {}", dir.join("pipeline.yaml").display());
            Ok(ExitCode::SUCCESS)
        }
        Command::GenerateOrg { out, components, teams, domains, seed } => {
            let org = synth::generate(&synth::Options { components, teams, domains, seed });
            org.write_to(&out).with_context(|| format!("cannot write to {}", out.display()))?;
            println!(
                "wrote {} files, {} entities, {:.1} MB to {}",
                org.files.len(),
                org.entities,
                org.bytes() as f64 / 1e6,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchCatalog { dir, format } => {
            let r = bench::bench_catalog(&dir);
            match format {
                Format::Json => println!("{}", serde_json::to_string(&r)?),
                Format::Text => println!(
                    "{} files, {:.1} MB, {} documents, {} entities, {} relations, {} problems\ncpu {:.3} s (user {:.3} + sys {:.3}; parse+validate {:.3} s, assemble {:.3} s), wall {:.3} s, peak memory {:.0} MB",
                    r.files,
                    r.bytes as f64 / 1e6,
                    r.documents,
                    r.entities,
                    r.relations,
                    r.problems,
                    r.cpu_s,
                    r.user_s,
                    r.sys_s,
                    r.parse_validate_cpu_s,
                    r.cpu_s - r.parse_validate_cpu_s,
                    r.wall_s,
                    r.peak_rss_mb
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn cmd_run(path: &Path, format: Format) -> Result<ExitCode> {
    let p = match config::load(path) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{e}");
            if format == Format::Json {
                println!("{}", json!({"run_id": null, "status": "failed", "database": null, "output_dir": null, "entities": 0, "facts": 0, "errors": e.0.len()}));
            }
            return Ok(ExitCode::from(2));
        }
    };
    let grading = match echo_health::grade::setup(&p) {
        Ok(g) => g,
        Err(e) => {
            eprint!("{e}");
            if format == Format::Json {
                println!("{}", json!({"run_id": null, "status": "failed", "database": null, "output_dir": null, "entities": 0, "facts": 0, "errors": e.0.len()}));
            }
            return Ok(ExitCode::from(2));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = rt.block_on(pipeline::run(&p, grading))?;
    let abs = |p: &Path| -> String { std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string() };
    if format == Format::Text || !outcome.problems.is_empty() {
        // problems go to stderr so stdout stays machine-readable with --format json
        let shown = 20;
        for m in outcome.problems.iter().take(shown) {
            eprintln!("problem: {m}");
        }
        if outcome.problems.len() > shown {
            eprintln!("... and {} more (all are in the database's errors table)", outcome.problems.len() - shown);
        }
        for f in &outcome.failures {
            eprintln!("run failed: {f}");
        }
    }
    match format {
        Format::Text => {
            println!(
                "run {} {}: {} entities, {} relations, {} facts, {} errors ({} rejected descriptors, {} reference errors, {} fact errors), {} warnings",
                outcome.run_id,
                outcome.status.as_str(),
                outcome.entities,
                outcome.relations,
                outcome.facts,
                outcome.errors,
                outcome.rejected_descriptors,
                outcome.reference_errors,
                outcome.fact_errors,
                outcome.warnings
            );
            if let Some(g) = &outcome.grading {
                let levels: Vec<String> = g.levels.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!(
                    "graded {} entities ({}): mean score {}, mean coverage {}; {} active exemptions, {} expired",
                    g.entities,
                    levels.join(", "),
                    g.mean_score.map(|s| format!("{s:.2}")).unwrap_or_else(|| "n/a".into()),
                    g.mean_coverage.map(|s| format!("{s:.2}")).unwrap_or_else(|| "n/a".into()),
                    g.active_exemptions,
                    g.expired_exemptions
                );
            }
            for gate in &outcome.gates {
                println!("gate {}: {} ({})", gate.name, if gate.passed { "passed" } else { "FAILED" }, gate.detail);
            }
            println!("database: {}", abs(&outcome.database));
            for e in &outcome.exports {
                println!("wrote {}", abs(e));
            }
        }
        Format::Json => {
            let mut v = json!({
                "run_id": outcome.run_id,
                "status": outcome.status.as_str(),
                "database": abs(&outcome.database),
                "output_dir": abs(&outcome.output_dir),
                "entities": outcome.entities,
                "facts": outcome.facts,
                "errors": outcome.errors,
            });
            if let Some(g) = &outcome.grading {
                v["grading_id"] = json!(g.grading_id);
                v["levels"] = json!(g.levels);
                v["mean_score"] = json!(g.mean_score);
                v["mean_coverage"] = json!(g.mean_coverage);
                v["gates_failed"] = json!(outcome.gates.iter().filter(|x| !x.passed).map(|x| x.name.clone()).collect::<Vec<_>>());
            }
            println!("{v}");
        }
    }
    for gate in outcome.gates.iter().filter(|g| !g.passed) {
        for v in &gate.violations {
            eprintln!("gate {} violated by {v}", gate.name);
        }
    }
    Ok(ExitCode::from(outcome.exit_code()))
}

/// Files to validate under a path: the file itself, or every *.yaml/*.yml below a folder.
fn files_under(p: &Path, out: &mut Vec<(PathBuf, Option<String>)>) {
    if p.is_dir() {
        for e in walkdir::WalkDir::new(p).follow_links(true).sort_by_file_name() {
            match e {
                Ok(e) if e.file_type().is_file() => {
                    let n = e.file_name().to_string_lossy();
                    if n.ends_with(".yaml") || n.ends_with(".yml") {
                        out.push((e.path().to_path_buf(), None));
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let path = err.path().unwrap_or(p).to_path_buf();
                    out.push((path, Some(err.to_string())));
                }
            }
        }
    } else {
        out.push((p.to_path_buf(), None));
    }
}

fn cmd_validate(paths: &[PathBuf], format: Format) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        files_under(p, &mut files);
    }
    let mut all: Vec<DocReport> = Vec::new();
    for (f, walk_err) in files {
        let shown = f.display().to_string();
        if let Some(e) = walk_err {
            all.push(DocReport { file: shown.clone(), doc: 0, line: 1, status: DocStatus::YamlError, entity_ref: None, error: Some(format!("{shown}: {e}")) });
            continue;
        }
        let text = match read_text(&f, &shown, DEFAULT_MAX_FILE_BYTES) {
            Ok(t) => t,
            Err(e) => {
                all.push(DocReport { file: shown, doc: 0, line: e.line.unwrap_or(1), status: DocStatus::YamlError, entity_ref: None, error: Some(e.message) });
                continue;
            }
        };
        let is_pipeline = matches!(yaml::parse_single(&text), Ok(Some(v)) if config::looks_like_pipeline(&v));
        if is_pipeline {
            let report = match config::load(&f) {
                Ok(_) => DocReport { file: shown, doc: 0, line: 1, status: DocStatus::Valid, entity_ref: None, error: None },
                Err(e) => DocReport {
                    file: shown,
                    doc: 0,
                    line: e.0.first().map(|x| x.line).unwrap_or(1),
                    status: DocStatus::Invalid,
                    entity_ref: None,
                    error: Some(e.0.iter().map(|x| format!("line {}: {}", x.line, x.message)).collect::<Vec<_>>().join("; ")),
                },
            };
            all.push(report);
            continue;
        }
        let (reports, _) = validate_text(&text, &shown);
        all.extend(reports);
    }
    let mut counts = std::collections::BTreeMap::new();
    for r in &all {
        *counts.entry(r.status.as_str()).or_insert(0usize) += 1;
        match format {
            Format::Json => println!(
                "{}",
                json!({"file": r.file, "doc": r.doc, "status": r.status.as_str(), "ref": r.entity_ref, "error": r.error})
            ),
            Format::Text => {
                if r.status != DocStatus::Valid {
                    println!(
                        "{}:{}: {} (document {}{}): {}",
                        r.file,
                        r.line,
                        r.status.as_str(),
                        r.doc,
                        r.entity_ref.as_ref().map(|x| format!(", {x}")).unwrap_or_default(),
                        r.error.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    let bad = all.iter().filter(|r| r.status != DocStatus::Valid).count();
    if format == Format::Text {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("{} documents: {}", all.len(), if parts.is_empty() { "none".into() } else { parts.join(", ") });
    }
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
