//! Command-line definitions (clap) and the dispatch of each subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use echo_health::catalog::files::{read_text, validate_text, DEFAULT_MAX_FILE_BYTES};
use echo_health::catalog::{DocReport, DocStatus};
use echo_health::store::sql;
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
    /// Log lines on stderr as text or as JSON objects (one per line)
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log errors only (ECHO_HEALTH_LOG, an env-filter, overrides both)
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Starts logging on stderr: `ECHO_HEALTH_LOG` (an env-filter) or warn (error with --quiet).
fn init_logging(format: LogFormat, quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ECHO_HEALTH_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline: collect the catalog and facts, load them into the database, export.
    #[command(
        after_help = "Example:\n  echo-health run pipelines/demo.yaml --format json\n\nWith --format json the last line of stdout is one JSON object:\n  {\"run_id\", \"status\": \"ok\"|\"partial\"|\"failed\", \"database\", \"output_dir\", \"entities\", \"facts\", \"errors\"}"
    )]
    Run {
        /// The pipeline file
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Grade the facts observed up to this date (YYYY-MM-DD: its end, UTC) or time
        /// (RFC 3339) instead of now: a past date replayed from dated facts
        #[arg(long, value_name = "DATE", conflicts_with = "shard")]
        as_of: Option<String>,
        /// Collect only shard I of N (0-based): the facts of the components whose ref hashes
        /// to I, written as Parquet under --shard-dir/shard-I-of-N for `echo-health merge`.
        /// Nothing is stored, graded or published. In a Kubernetes Indexed Job:
        /// --shard $(JOB_COMPLETION_INDEX)/N
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Where shards are written (default: the pipeline's output folder /shards)
        #[arg(long, value_name = "DIR", requires = "shard")]
        shard_dir: Option<PathBuf>,
        /// Store, grade and publish even when nothing changed since the newest completed run
        /// (by default such a run is recorded as `unchanged` and costs almost nothing)
        #[arg(long, conflicts_with = "shard")]
        full: bool,
    },
    /// Store, grade and publish the shards of a sharded run (`run --shard I/N`) as one run:
    /// every shard must be there; fact files are read here.
    #[command(
        after_help = "Examples:\n  echo-health merge pipelines/demo.yaml                  # shards under the output folder's shards/\n  echo-health merge pipelines/demo.yaml shards/          # a folder of shard-I-of-N folders\n  echo-health merge pipelines/demo.yaml s0/shard-0-of-2 s1/shard-1-of-2"
    )]
    Merge {
        pipeline: PathBuf,
        /// Shard folders, or folders holding them (default: the output folder's shards/)
        shards: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Store, grade and publish even when nothing changed since the newest completed run
        #[arg(long)]
        full: bool,
    },
    /// Run pipelines on their cron `schedule`, one run at a time, until SIGTERM/SIGINT (the
    /// run in progress finishes first). A slot that passes while another run is going is
    /// skipped and logged; a run that fails or panics does not stop the scheduler.
    #[command(
        after_help = "Examples:\n  echo-health schedule pipelines/demo.yaml pipelines/other.yaml\n  echo-health schedule pipelines/demo.yaml --once    # from cron or a Kubernetes CronJob"
    )]
    Schedule {
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
        /// Run whatever is due now (a slot passed since the pipeline's last run, or it never
        /// ran) and exit
        #[arg(long)]
        once: bool,
        /// The fixed offset the cron expressions are read in (e.g. +02:00)
        #[arg(long, allow_hyphen_values = true, conflicts_with = "time_zone")]
        utc_offset: Option<String>,
        /// The time zone the cron expressions are read in, by IANA name (Europe/Berlin,
        /// America/New_York): slots follow daylight saving; default UTC
        #[arg(long, value_name = "NAME")]
        time_zone: Option<String>,
    },
    /// Print the JSON Schema of a file kind (pipeline, check-pack, migrations, exemptions), for
    /// editors: `# yaml-language-server: $schema=<file>` at the top of a YAML file.
    #[command(after_help = "Example:\n  echo-health schema pipeline > pipeline.schema.json")]
    Schema {
        #[arg(value_parser = ["pipeline", "check-pack", "migrations", "exemptions"])]
        kind: String,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  echo-health completions bash > /etc/bash_completion.d/echo-health")]
    Completions { shell: clap_complete::Shell },
    /// Apply the pipeline's `retention:` now: keep every run for keep_all_days, then one a
    /// week, then one a month; drop the rest with everything they hold, then checkpoint.
    #[command(after_help = "Example:\n  echo-health prune pipelines/demo.yaml --dry-run")]
    Prune {
        pipeline: PathBuf,
        /// List what would be dropped, drop nothing
        #[arg(long)]
        dry_run: bool,
        /// Count ages from this date instead of today (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        today: Option<String>,
    },
    /// Print a short Markdown report of what changed between the latest completed run and the
    /// one before it (levels by domain and team, migrations, new failures), for a CI job
    /// summary or a pull-request comment.
    #[command(after_help = "Example (GitHub Actions):\n  echo-health summary pipelines/demo.yaml >> \"$GITHUB_STEP_SUMMARY\"")]
    Summary { pipeline: PathBuf },
    /// Replay past dates from dated facts: one run per date from --from to --to, every
    /// --every-days, each grading the facts observed up to the end of its date (so history,
    /// trends and burn-downs exist from the first day).
    #[command(after_help = "Example:\n  echo-health replay pipelines/demo.yaml --from 2026-06-01 --to 2026-11-30 --every-days 7")]
    Replay {
        pipeline: PathBuf,
        #[arg(long, value_name = "DATE")]
        from: String,
        #[arg(long, value_name = "DATE")]
        to: String,
        #[arg(long, default_value_t = 7)]
        every_days: u32,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Validate descriptor files and folders, and pipeline files, without running anything.
    #[command(
        after_help = "Examples:\n  echo-health validate catalog-info.yaml\n  echo-health validate pipelines/demo/catalog pipelines/demo.yaml --format json\n\nWith --format json: one line per YAML document {\"file\", \"doc\", \"status\", \"ref\", \"error\"},\nstatus valid | invalid | unknown-kind | yaml-error. Exit 0 when all are valid, 2 otherwise."
    )]
    Validate {
        /// Files or folders (folders are searched for *.yaml and *.yml)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Render the static site of a stored run from the database alone (into OUTPUT/site).
    #[command(
        after_help = "Example:\n  echo-health report pipelines/demo.yaml --run r20261204T060000.000Z-01234\n\nThe site is written to a temporary folder and swapped in when complete; unchanged pages are not rewritten."
    )]
    Report {
        pipeline: PathBuf,
        /// The stored run (default: the latest completed run)
        #[arg(long)]
        run: Option<String>,
        /// Show this grading of the run instead of the run's own (e.g. a regrade: RUN/g2)
        #[arg(long)]
        grading: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Grade a stored run again with today's checks; stored beside the original grading.
    #[command(
        after_help = "Example:\n  echo-health regrade pipelines/demo.yaml --run r20261204T060000.000Z-01234\n\nTells a rule change apart from a real change: the run's facts are the same, only the checks differ."
    )]
    Regrade {
        pipeline: PathBuf,
        /// The stored run (default: the latest completed run)
        #[arg(long)]
        run: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show, without writing anything, which components and teams a candidate check pack
    /// would move up or down, and which checks cause it.
    #[command(
        after_help = "Example:\n  echo-health plan pipelines/demo.yaml --checks new-pack.yaml\n\nGrades the latest run's stored facts with the candidate pack(s) in a transaction that is rolled back."
    )]
    Plan {
        pipeline: PathBuf,
        /// Candidate check pack(s), replacing the pipeline's packs
        #[arg(long = "checks", required = true)]
        checks: Vec<PathBuf>,
        /// The stored run to grade (default: the latest completed run)
        #[arg(long)]
        run: Option<String>,
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
    #[command(
        name = "generate-org",
        after_help = "Example (the benchmark's organisation):\n  echo-health generate-org --out /tmp/org --components 10000 --teams 600 --domains 40"
    )]
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
    /// Measure the grading step on a synthetic organisation with facts (wall and CPU time).
    #[command(name = "bench-grade", after_help = "Example:\n  echo-health bench-grade --components 10000 --repeat 5")]
    BenchGrade {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Check packs (default: the default pack and the demo's checks, 31 checks)
        #[arg(long = "checks")]
        checks: Vec<PathBuf>,
        /// Working folder (default: a temporary one, removed afterwards)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure collecting Prometheus and Zoekt queries for a synthetic organisation against
    /// loopback servers (requests answered, facts, wall and CPU time).
    #[command(name = "bench-sources", after_help = "Example:\n  echo-health bench-sources --components 10000 --queries 10")]
    BenchSources {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        /// Queries per source
        #[arg(long, default_value_t = 10)]
        queries: usize,
    },
    /// Measure migrations on a synthetic organisation: 5 migrations, a year of weekly runs of
    /// history; states, roll-ups and forecasts of the latest run (time), database growth per run.
    #[command(name = "bench-migrations", after_help = "Example:\n  echo-health bench-migrations --components 10000 --weeks 52")]
    BenchMigrations {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        #[arg(long, default_value_t = 52)]
        weeks: usize,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// Measure collecting GitHub facts for a synthetic organisation from a fake GitHub on
    /// loopback: requests, rate-limit points and time of a full run, an unchanged second run
    /// and a run after pushes to 1% of the repositories.
    #[command(name = "bench-github", after_help = "Example:\n  echo-health bench-github --components 10000")]
    BenchGitHub {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
    },
    /// End to end: the synthetic organisation with every source on loopback (a real
    /// Prometheus when installed, fake GitHub, Zoekt and CodeScene), run twice by this binary
    /// as a child: a cold run and an unchanged second run. Wall, CPU, peak memory, each
    /// step's time, requests per source, pages written.
    #[command(name = "bench-e2e", after_help = "Example:\n  echo-health bench-e2e --components 10000")]
    BenchE2e {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        /// Working folder (default: a temporary one, removed afterwards)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure rendering the static site of a synthetic organisation with facts (CPU time,
    /// pages rewritten by a second render, page sizes).
    #[command(name = "bench-site", after_help = "Example:\n  echo-health bench-site --components 10000")]
    BenchSite {
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        /// Working folder (default: a temporary one, removed afterwards)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure parsing and validation of a descriptor folder (CPU time, wall time, peak memory).
    #[command(
        name = "bench-catalog",
        after_help = "Example:\n  echo-health generate-org --out /tmp/org && echo-health bench-catalog /tmp/org"
    )]
    BenchCatalog {
        /// Folder of descriptor files
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.quiet);
    echo_health::progress::enable(!cli.quiet && cli.log_format == LogFormat::Text);
    match cli.command {
        Command::Run { pipeline, format, as_of: _, shard: Some(shard), shard_dir, .. } => {
            match echo_health::pipeline::shard::Shard::parse(&shard) {
                Ok(s) => cmd_shard(&pipeline, format, s, shard_dir),
                Err(e) => {
                    eprintln!("--shard: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Run { pipeline, format, as_of, shard: None, full, .. } => {
            let as_of = match as_of.as_deref().map(parse_as_of).transpose() {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("--as-of: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            cmd_run(&pipeline, format, as_of, None, full)
        }
        Command::Merge { pipeline, shards, format, full } => cmd_run(&pipeline, format, None, Some(shards), full),
        Command::Schema { kind } => {
            let text = match kind.as_str() {
                "pipeline" => include_str!("../schemas/pipeline.schema.json"),
                "check-pack" => include_str!("../schemas/check-pack.schema.json"),
                "migrations" => include_str!("../schemas/migrations.schema.json"),
                _ => include_str!("../schemas/exemptions.schema.json"),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "echo-health", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Schedule { pipelines, once, utc_offset, time_zone } => match (utc_offset, time_zone) {
            (Some(offset), _) => match offset.parse::<chrono::FixedOffset>() {
                Ok(tz) => schedule(&pipelines, once, Zone::Fixed(tz)),
                Err(_) => {
                    eprintln!("--utc-offset {offset:?} is not an offset like +02:00");
                    Ok(ExitCode::from(2))
                }
            },
            (None, Some(name)) => match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => schedule(&pipelines, once, Zone::Named(tz)),
                Err(_) => {
                    eprintln!("--time-zone {name:?} is not an IANA time zone name (like Europe/Berlin)");
                    Ok(ExitCode::from(2))
                }
            },
            (None, None) => schedule(&pipelines, once, Zone::Named(chrono_tz::UTC)),
        },
        Command::Prune { pipeline, dry_run, today } => {
            let p = match config::load(&pipeline) {
                Ok(p) => p,
                Err(e) => return Ok(config_failed(&e, Format::Text)),
            };
            let Some(r) = p.retention.clone() else {
                eprintln!("prune: {} has no `retention:` section", pipeline.display());
                return Ok(ExitCode::from(2));
            };
            let now = match today.as_deref().map(parse_as_of).transpose() {
                Ok(t) => t.unwrap_or_else(chrono::Utc::now),
                Err(e) => {
                    eprintln!("--today: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let _lock = echo_health::store::DbLock::acquire(&p.database)?;
            let mut store = echo_health::store::Store::open(&p.database)?;
            let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let before = size(&p.database);
            let dropped = store.prune(&p.name, now, &r, dry_run)?;
            drop(store);
            for id in &dropped {
                println!("{} {id}", if dry_run { "would drop" } else { "dropped" });
            }
            println!(
                "{} {} runs; database {:.1} MB → {:.1} MB",
                if dry_run { "would drop" } else { "dropped" },
                dropped.len(),
                before as f64 / 1e6,
                size(&p.database) as f64 / 1e6
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Summary { pipeline } => {
            let p = match config::load(&pipeline) {
                Ok(p) => p,
                Err(e) => return Ok(config_failed(&e, Format::Text)),
            };
            let store = echo_health::store::Store::open(&p.database)?;
            match echo_health::report::summary::markdown(store.conn(), &p.name) {
                Ok(text) => {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("summary: {e:#}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Replay { pipeline, from, to, every_days, format } => {
            let (from, to) = match (parse_as_of(&from), parse_as_of(&to)) {
                (Ok(f), Ok(t)) if f <= t && every_days > 0 => (f, t),
                (Ok(_), Ok(_)) => {
                    eprintln!("replay: --from must not be after --to, and --every-days must be at least 1");
                    return Ok(ExitCode::from(2));
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("replay: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let mut worst = ExitCode::SUCCESS;
            let mut at = from;
            while at <= to {
                let code = cmd_run(&pipeline, format, Some(at), None, false)?;
                if code != ExitCode::SUCCESS {
                    worst = code;
                }
                at += chrono::Duration::days(every_days as i64);
            }
            Ok(worst)
        }
        Command::Validate { paths, format } => cmd_validate(&paths, format),
        Command::Regrade { pipeline, run, format } => cmd_regrade(&pipeline, run, format),
        Command::Report { pipeline, run, grading, format } => cmd_report(&pipeline, run, grading, format),
        Command::Plan { pipeline, checks, run, format } => cmd_plan(&pipeline, &checks, run, format),
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
            println!("wrote {} files, {} entities, {:.1} MB to {}", org.files.len(), org.entities, org.bytes() as f64 / 1e6, out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchSources { components, queries } => {
            let tmp = tempfile_dir("bench-sources")?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::bench_sources(&tmp, &opts, queries);
            let _ = std::fs::remove_dir_all(&tmp);
            let r = r?;
            println!("{}", serde_json::to_string(&r)?);
            println!(
                "{} components, {} Prometheus + {} Zoekt queries: {} HTTP requests, {} facts, {} errors; collected in {:.3} s wall ({:.3} s CPU)",
                r.components, r.prometheus_queries, r.zoekt_queries, r.requests, r.facts, r.errors, r.wall_s, r.cpu_s
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchMigrations { components, weeks, repeat } => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let packs = vec![root.join("pipelines/checks/default/catalog.yaml"), root.join("pipelines/checks/default/signals.yaml")];
            let tmp = tempfile_dir("bench-migrations")?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::bench_migrations(&tmp, &opts, &packs, weeks, repeat);
            let _ = std::fs::remove_dir_all(&tmp);
            let r = r?;
            println!("{}", serde_json::to_string(&r)?);
            println!(
                "{} components, {} migrations, {} weekly runs: {} states; states + roll-ups + forecasts {:.3} s median (states {:?} s, roll-ups and forecasts {:?} s); {} bytes per run of migration history, database {:.1} MB; one full run {} bytes per 1,000 components",
                r.components,
                r.migrations,
                r.weekly_runs,
                r.states,
                r.total_median_s,
                r.states_s.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                r.rollups_forecasts_s.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                r.bytes_per_run,
                r.database_bytes as f64 / 1e6,
                r.full_run_bytes_per_1000_components
            );
            for f in &r.forecasts {
                println!("  {f}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchE2e { components, dir } => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let packs = vec![
                root.join("pipelines/checks/default/catalog.yaml"),
                root.join("pipelines/checks/default/signals.yaml"),
                root.join("pipelines/demo/checks.yaml"),
            ];
            let tmp = tempfile_dir("bench-e2e")?;
            let work = dir.clone().unwrap_or_else(|| tmp.clone());
            std::fs::create_dir_all(&work)?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::e2e::bench_e2e(&work, &opts, &packs);
            let _ = std::fs::remove_dir_all(&tmp);
            let r = r?;
            println!("{}", serde_json::to_string(&r)?);
            println!(
                "{} components, {} repositories, {} CodeScene projects; Prometheus: {}",
                r.components, r.repositories, r.codescene_projects, r.prometheus
            );
            for (what, x) in [("cold run", &r.cold), ("unchanged second run", &r.unchanged)] {
                let steps: Vec<String> = x.steps.iter().map(|(k, t)| format!("{k} {t:.2}")).collect();
                let req: Vec<String> = x
                    .requests
                    .iter()
                    .map(|(k, n)| {
                        format!(
                            "{k} {n} ({:.2} s)",
                            x.source_seconds.iter().find(|(s, _)| s.starts_with(k.as_str())).map(|(_, t)| *t).unwrap_or(0.0)
                        )
                    })
                    .collect();
                println!(
                    "{what} ({}): {:.2} s wall, {:.2} s CPU, peak {:.0} MB; beyond the sources {:.2} s; steps (s): {}; requests: {}; {} facts; {} pages, {} written",
                    x.status, x.wall_s, x.cpu_s, x.peak_rss_mb, x.beyond_sources_s, steps.join(", "), req.join(", "), x.facts, x.pages, x.pages_written
                );
            }
            println!("database: {:.1} MB", r.database_mb);
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchGitHub { components } => {
            let tmp = tempfile_dir("bench-github")?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::bench_github(&tmp, &opts);
            let _ = std::fs::remove_dir_all(&tmp);
            let r = r?;
            println!("{}", serde_json::to_string(&r)?);
            for (what, x) in [("first run", &r.first), ("unchanged", &r.unchanged), ("1% pushed", &r.one_percent_pushed)] {
                println!(
                    "{what}: {} requests ({} GraphQL, {} REST, {} answered 304), {} points, {} facts, {:.2} s wall, {:.2} s CPU",
                    x.requests, x.graphql_requests, x.rest_requests, x.not_modified, x.points, x.facts, x.wall_s, x.cpu_s
                );
            }
            println!(
                "{} components, {} repositories: {:.4} requests per component; the unchanged run spent {:.2}% of the first run's points",
                r.components,
                r.repositories,
                r.requests_per_component,
                r.unchanged_points_share * 100.0
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchSite { components, dir } => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let packs = vec![
                root.join("pipelines/checks/default/catalog.yaml"),
                root.join("pipelines/checks/default/signals.yaml"),
                root.join("pipelines/demo/checks.yaml"),
            ];
            let tmp = std::env::temp_dir().join(format!("echo-health-bench-site-{}", std::process::id()));
            let work = dir.clone().unwrap_or_else(|| tmp.clone());
            std::fs::create_dir_all(&work)?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::bench_site(&work, &opts, &packs);
            if dir.is_none() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            let r = r?;
            println!("{}", serde_json::to_string(&r)?);
            println!(
                "{} pages ({:.1} MB) of {} components: load {:.3} s CPU; load + view models + render {:.3} s CPU ({:.3} s system, {:.3} s wall); into a new folder {:.3} s CPU ({:.3} s system, {:.3} s wall, {} written); again: {} rewritten, {:.3} s CPU; largest page {} ({} bytes), largest component page {} bytes, CSS {} bytes",
                r.pages,
                r.bytes as f64 / 1e6,
                r.components,
                r.load_cpu_s,
                r.render_cpu_s,
                r.render_sys_s,
                r.render_wall_s,
                r.publish_cpu_s,
                r.publish_sys_s,
                r.publish_wall_s,
                r.written,
                r.second_written,
                r.second_cpu_s,
                r.largest_page,
                r.largest_bytes,
                r.largest_component_bytes,
                r.css_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchGrade { components, repeat, checks, dir } => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let packs = if checks.is_empty() {
                vec![
                    root.join("pipelines/checks/default/catalog.yaml"),
                    root.join("pipelines/checks/default/signals.yaml"),
                    root.join("pipelines/demo/checks.yaml"),
                ]
            } else {
                checks.iter().map(|c| std::path::absolute(c).unwrap_or_else(|_| c.clone())).collect()
            };
            let tmp = std::env::temp_dir().join(format!("echo-health-bench-{}", std::process::id()));
            let work = dir.clone().unwrap_or_else(|| tmp.clone());
            std::fs::create_dir_all(&work)?;
            let opts = synth::Options { components, teams: (components * 6 / 100).max(1), domains: 40, seed: 1 };
            let r = bench::bench_grade(&work, &opts, &packs, repeat);
            if dir.is_none() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            let r = r?;
            let mut w = r.wall_s.clone();
            w.sort_by(f64::total_cmp);
            let mut c = r.cpu_s.clone();
            c.sort_by(f64::total_cmp);
            println!("{}", serde_json::to_string(&r)?);
            println!(
                "graded {} components x {} checks = {} results ({} facts): wall median {:.3} s (min {:.3}, max {:.3}), cpu median {:.3} s; levels {:?}",
                r.components, r.checks, r.results, r.facts, w[w.len() / 2], w[0], w[w.len() - 1], c[c.len() / 2], r.levels
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

/// A run that cannot start (its pipeline, packs or reports do not validate): every problem on
/// stderr, the failed summary line with --format json, exit 2.
fn config_failed(e: &config::ConfigErrors, format: Format) -> ExitCode {
    eprint!("{e}");
    if format == Format::Json {
        println!(
            "{}",
            json!({"run_id": null, "status": "failed", "database": null, "output_dir": null, "entities": 0, "facts": 0, "errors": e.0.len()})
        );
    }
    ExitCode::from(2)
}

/// `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time; not in the future.
fn parse_as_of(s: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    let t = if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(23, 59, 59).expect("a valid time of day").and_utc()
    } else {
        chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|_| format!("\"{s}\" is not a date (YYYY-MM-DD) or an RFC 3339 time"))?
            .with_timezone(&chrono::Utc)
    };
    if t > chrono::Utc::now() + chrono::Duration::days(1) {
        return Err(format!("{s} is in the future: facts cannot be observed yet"));
    }
    Ok(t)
}

/// `run --shard I/N`: collect one shard and write it for `merge`.
fn cmd_shard(path: &Path, format: Format, shard: echo_health::pipeline::shard::Shard, dir: Option<PathBuf>) -> Result<ExitCode> {
    let p = match config::load(path) {
        Ok(p) => p,
        Err(e) => return Ok(config_failed(&e, format)),
    };
    let dir = dir.unwrap_or_else(|| p.output.join("shards"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // s3://bucket/prefix: written locally, then uploaded (the manifest last)
    let remote = match echo_health::objstore::Location::parse(&dir.to_string_lossy()) {
        None => None,
        Some(Ok(loc)) => match echo_health::objstore::Config::from_env().and_then(|c| echo_health::objstore::Client::new(c, &loc.bucket)) {
            Ok(client) => Some((loc, client)),
            Err(e) => {
                eprintln!("shard {shard} failed: {e:#}");
                return Ok(ExitCode::from(2));
            }
        },
        Some(Err(e)) => {
            eprintln!("--shard-dir: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let local = match &remote {
        Some(_) => std::env::temp_dir().join(format!("echo-health-shard-{}", std::process::id())),
        None => dir.clone(),
    };
    let collected = rt.block_on(async {
        let mut o = echo_health::pipeline::shard::collect_shard(&p, shard, &local).await?;
        if let Some((loc, client)) = &remote {
            o.dir = PathBuf::from(echo_health::pipeline::shard::upload_shard(client, loc, shard, &o.dir).await?);
        }
        anyhow::Ok(o)
    });
    // the local copy of an uploaded shard goes, whether the upload worked or not
    if remote.is_some() {
        let _ = std::fs::remove_dir_all(&local);
    }
    let abs_path = |d: &Path| if remote.is_some() { d.display().to_string() } else { abs_path(d) };
    match collected {
        Ok(o) => {
            match format {
                Format::Text => {
                    println!(
                        "shard {}: {} components, {} facts, {} errors; wrote {}",
                        o.shard,
                        o.components,
                        o.facts,
                        o.errors,
                        abs_path(&o.dir)
                    );
                }
                Format::Json => println!(
                    "{}",
                    json!({"shard": o.shard.to_string(), "dir": abs_path(&o.dir), "components": o.components, "facts": o.facts, "errors": o.errors, "sources": o.sources})
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("shard {shard} failed: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

fn cmd_run(
    path: &Path,
    format: Format,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    shards: Option<Vec<PathBuf>>,
    full: bool,
) -> Result<ExitCode> {
    let p = match config::load(path) {
        Ok(p) => p,
        Err(e) => {
            return Ok(config_failed(&e, format));
        }
    };
    let grading = match echo_health::grade::setup(&p) {
        Ok(g) => g,
        Err(e) => {
            return Ok(config_failed(&e, format));
        }
    };
    // the pipeline's own reports are checked before anything runs, like its check packs
    if let Err(e) = echo_health::report::custom::check(&p.reports, &p.dir) {
        return Ok(config_failed(&e, format));
    }
    // and its migrations
    if let Err(e) = echo_health::migrate::setup(&p) {
        return Ok(config_failed(&e, format));
    }
    // merge: a complete set of shards, checked before a run is recorded
    let mut merged_shards = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // shards in object storage are downloaded first; their keys go after a successful merge
    let mut remote_keys: Vec<(echo_health::objstore::Client, Vec<String>)> = Vec::new();
    let download_dir = std::env::temp_dir().join(format!("echo-health-merge-{}", std::process::id()));
    let facts = match shards {
        None => pipeline::FactsFrom::Collect,
        Some(dirs) => {
            let dirs = if dirs.is_empty() { vec![p.output.join("shards")] } else { dirs };
            let mut local_dirs = Vec::new();
            for (n, d) in dirs.iter().enumerate() {
                let loc = match echo_health::objstore::Location::parse(&d.to_string_lossy()) {
                    None => {
                        local_dirs.push(d.clone());
                        continue;
                    }
                    Some(Ok(loc)) => loc,
                    Some(Err(e)) => {
                        eprintln!("merge: {e}");
                        return Ok(ExitCode::from(2));
                    }
                };
                let into = download_dir.join(n.to_string());
                let got = rt.block_on(async {
                    let client = echo_health::objstore::Client::new(echo_health::objstore::Config::from_env()?, &loc.bucket)?;
                    let shards = echo_health::pipeline::shard::download_shards(&client, &loc, &into).await?;
                    anyhow::Ok((client, shards))
                });
                match got {
                    Ok((client, shards)) => {
                        let mut keys = Vec::new();
                        for (local, k) in shards {
                            local_dirs.push(local);
                            keys.extend(k);
                        }
                        remote_keys.push((client, keys));
                    }
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&download_dir);
                        eprintln!("merge: {e:#}");
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            let dirs = local_dirs;
            match pipeline::shard::find_shards(&p, &dirs) {
                Ok(found) => {
                    merged_shards = found.iter().map(|f| f.dir.clone()).collect();
                    pipeline::FactsFrom::Shards(found)
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&download_dir);
                    eprintln!("merge: {e:#}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    };
    let outcome = rt.block_on(pipeline::run_from(&p, grading, as_of, facts, full));
    let _ = std::fs::remove_dir_all(&download_dir);
    let outcome = outcome?;
    // stored: the shards go, so a shard missing from the next round is not replaced by this one
    if outcome.status != pipeline::RunStatus::Failed {
        for d in merged_shards.iter().filter(|d| !d.starts_with(&download_dir)) {
            if let Err(e) = std::fs::remove_dir_all(d) {
                tracing::warn!(dir = %d.display(), "cannot remove a merged shard: {e}");
            }
        }
        for (client, keys) in &remote_keys {
            for k in keys {
                if let Err(e) = rt.block_on(client.delete(k)) {
                    tracing::warn!("cannot remove a merged shard's object: {e:#}");
                }
            }
        }
    }
    let abs = |p: &Path| -> String { abs_path(p) };
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
            if let Some(same) = &outcome.same_as {
                println!("nothing changed since run {same}: its grades, site and exports stand (run --full to redo them)");
            }
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
            for (m, states) in &outcome.migrations {
                let parts: Vec<String> = states.iter().map(|(k, n)| format!("{n} {k}")).collect();
                println!("migration {m}: {}", if parts.is_empty() { "applies to no component".to_owned() } else { parts.join(", ") });
            }
            for src in &outcome.sources {
                let st = &src["stats"];
                let mut line = format!("source {}: {} facts", src["name"].as_str().unwrap_or("?"), src["facts"]);
                if let Some(t) = st["seconds"].as_f64() {
                    line += &format!(" in {t:.2} s");
                }
                if st.get("graphql_requests").is_some() {
                    line += &format!(
                        "; {} requests ({} GraphQL, {} REST, {} answered 304), {} GraphQL points, {} REST requests counted",
                        st["requests"],
                        st["graphql_requests"],
                        st["rest_requests"],
                        st["not_modified"],
                        st["graphql_points"],
                        st["rest_points"]
                    );
                }
                println!("{line}");
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
            if let Some(same) = &outcome.same_as {
                v["same_as"] = json!(same);
                v["gates_failed"] = json!(outcome.gates.iter().filter(|x| !x.passed).map(|x| x.name.clone()).collect::<Vec<_>>());
            }
            if let Some(g) = &outcome.grading {
                v["grading_id"] = json!(g.grading_id);
                v["levels"] = json!(g.levels);
                v["mean_score"] = json!(g.mean_score);
                v["mean_coverage"] = json!(g.mean_coverage);
                v["gates_failed"] = json!(outcome.gates.iter().filter(|x| !x.passed).map(|x| x.name.clone()).collect::<Vec<_>>());
            }
            if let Some(site) = &outcome.site {
                v["site"] = json!({"dir": abs(&site.dir), "pages": site.pages, "written": site.written, "unchanged": site.unchanged});
            }
            v["sources"] = json!(outcome.sources);
            v["timings"] = json!(outcome
                .timings
                .iter()
                .map(|(k, t)| (k.to_string(), json!((t * 1000.0).round() / 1000.0)))
                .collect::<serde_json::Map<_, _>>());
            if !outcome.migrations.is_empty() {
                v["migrations"] = json!(outcome.migrations);
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
            all.push(DocReport {
                file: shown.clone(),
                doc: 0,
                line: 1,
                status: DocStatus::YamlError,
                entity_ref: None,
                error: Some(format!("{shown}: {e}")),
            });
            continue;
        }
        let text = match read_text(&f, &shown, DEFAULT_MAX_FILE_BYTES) {
            Ok(t) => t,
            Err(e) => {
                all.push(DocReport {
                    file: shown,
                    doc: 0,
                    line: e.line.unwrap_or(1),
                    status: DocStatus::YamlError,
                    entity_ref: None,
                    error: Some(e.message),
                });
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
            Format::Json => {
                println!("{}", json!({"file": r.file, "doc": r.doc, "status": r.status.as_str(), "ref": r.entity_ref, "error": r.error}))
            }
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

/// The run to work on: the one named, or the latest completed one; with its as-of time.
fn pick_run(store: &echo_health::store::Store, run: Option<String>) -> Result<(String, chrono::DateTime<chrono::Utc>)> {
    let conn = store.conn();
    let q = sql::PICK_RUN;
    let row: Option<(String, chrono::NaiveDateTime)> = conn.query_row(q, duckdb::params![run, run], |r| Ok((r.get(0)?, r.get(1)?))).ok();
    match row {
        Some((id, at)) => Ok((id, at.and_utc())),
        None => match run {
            Some(r) => anyhow::bail!("no completed run {r} in {}", store.path().display()),
            None => anyhow::bail!("no completed run in {}: run the pipeline first", store.path().display()),
        },
    }
}

fn open_for(p: &config::Pipeline) -> Result<(echo_health::store::DbLock, echo_health::store::Store)> {
    let lock = echo_health::store::DbLock::acquire(&p.database)?;
    if !p.database.exists() {
        anyhow::bail!("database {} does not exist: run the pipeline first", p.database.display());
    }
    let store = echo_health::store::Store::open(&p.database)?;
    Ok((lock, store))
}

fn load_pipeline(path: &Path) -> Result<Option<config::Pipeline>> {
    match config::load(path) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            eprint!("{e}");
            Ok(None)
        }
    }
}

fn cmd_report(path: &Path, run: Option<String>, grading: Option<String>, format: Format) -> Result<ExitCode> {
    let Some(p) = load_pipeline(path)? else { return Ok(ExitCode::from(2)) };
    let (_lock, store) = open_for(&p)?;
    let (run_id, _) = pick_run(&store, run)?;
    let grading = match grading {
        Some(g) => {
            if !g.starts_with(&format!("{run_id}/")) {
                anyhow::bail!("grading {g} is not a grading of run {run_id}");
            }
            Some(g)
        }
        None => store.conn().query_row(sql::RUN_GRADING, duckdb::params![run_id], |r| r.get(0)).ok(),
    };
    let custom = match echo_health::report::custom::check(&p.reports, &p.dir) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let dir = p.output.join("site");
    let exports = echo_health::export::run::export_run(store.conn(), &run_id, grading.as_deref(), &p.output, &p.exports)?;
    let stats = echo_health::report::render_run(store.conn(), &run_id, grading.as_deref(), &dir, &custom)?;
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&stats)?;
            v["exports"] = json!(exports.iter().map(|e| abs_path(e)).collect::<Vec<_>>());
            println!("{v}")
        }
        Format::Text => println!(
            "exported {} files; rendered run {run_id} into {}: {} pages ({} written, {} unchanged), largest {} ({} bytes)",
            exports.len(),
            abs_path(&stats.dir),
            stats.pages,
            stats.written,
            stats.unchanged,
            stats.largest_page,
            stats.largest_bytes
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_regrade(path: &Path, run: Option<String>, format: Format) -> Result<ExitCode> {
    let Some(p) = load_pipeline(path)? else { return Ok(ExitCode::from(2)) };
    let setup = match echo_health::grade::setup(&p) {
        Ok(Some(s)) => s,
        Ok(None) => anyhow::bail!("{} has no grading section", path.display()),
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (_lock, mut store) = open_for(&p)?;
    let (run_id, as_of) = pick_run(&store, run)?;
    let original: Option<String> = store.conn().query_row(sql::RUN_GRADING, duckdb::params![run_id], |r| r.get(0)).ok();
    let gates = p.grading.as_ref().map(|g| g.gates.clone()).unwrap_or_default();
    let (outcome, gate_results) = pipeline::grade_stored_run(&mut store, &run_id, "regrade", as_of, &setup, &gates)?;
    let diff = match &original {
        Some(o) => Some(echo_health::grade::plan::diff(store.conn(), o, &outcome.grading_id)?),
        None => None,
    };
    match format {
        Format::Json => println!(
            "{}",
            json!({"run_id": run_id, "grading_id": outcome.grading_id, "levels": outcome.levels, "mean_score": outcome.mean_score, "mean_coverage": outcome.mean_coverage, "compared_with": original, "changes": diff.as_ref().map(|d| d.changes.len()), "gates": gate_results})
        ),
        Format::Text => {
            println!("regraded run {run_id} as {}: {:?}", outcome.grading_id, outcome.levels);
            match &diff {
                Some(d) => print!("compared with {}: {}", d.before, d.render()),
                None => println!("(the run had no grading of its own to compare with)"),
            }
        }
    }
    for m in &outcome.problems {
        eprintln!("problem: {m}");
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_plan(path: &Path, packs: &[PathBuf], run: Option<String>, format: Format) -> Result<ExitCode> {
    let Some(p) = load_pipeline(path)? else { return Ok(ExitCode::from(2)) };
    let packs: Vec<PathBuf> = packs.iter().map(|x| std::path::absolute(x).unwrap_or_else(|_| x.clone())).collect();
    let setup = match echo_health::grade::setup_with_packs(&p, &packs) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (_lock, mut store) = open_for(&p)?;
    let (run_id, as_of) = pick_run(&store, run)?;
    let baseline: Option<String> = store.conn().query_row(sql::LATEST_GRADING, duckdb::params![run_id], |r| r.get(0)).ok();
    let Some(baseline) = baseline else { anyhow::bail!("run {run_id} has no grading to compare with") };
    let conn = store.conn_mut();
    let staged = echo_health::grade::engine::stage(conn, &run_id, as_of, &setup)?;
    let tx = conn.transaction()?;
    let plan_id = format!("{run_id}/plan");
    let outcome = echo_health::grade::engine::persist(&tx, &run_id, &plan_id, "plan", as_of, &setup, &staged)?;
    let diff = echo_health::grade::plan::diff(&tx, &baseline, &plan_id)?;
    tx.rollback()?;
    match format {
        Format::Json => println!(
            "{}",
            json!({"run_id": run_id, "baseline": baseline, "levels": outcome.levels, "mean_score": outcome.mean_score, "changes": diff.changes, "teams": diff.teams})
        ),
        Format::Text => {
            println!(
                "plan for run {run_id} with {} (compared with {baseline}; nothing written)",
                packs.iter().map(|x| x.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            println!("levels would be {:?}", outcome.levels);
            print!("{}", diff.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A path as an absolute path for messages.
fn abs_path(p: &Path) -> String {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

/// A fresh working folder for a benchmark under the system's temporary folder.
fn tempfile_dir(what: &str) -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("echo-health-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Set by SIGTERM/SIGINT: the scheduler stops after the run in progress.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The zone a pipeline's cron expression is read in.
#[derive(Clone, Copy)]
enum Zone {
    Fixed(chrono::FixedOffset),
    /// a named zone: slots follow daylight saving
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The first slot of `cron` after `from`, with the zone's offset at that slot.
    fn next(&self, cron: &croner::Cron, from: chrono::DateTime<chrono::FixedOffset>) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        match self {
            Zone::Fixed(o) => cron.find_next_occurrence(&from.with_timezone(o), false).ok().map(|d| d.fixed_offset()),
            Zone::Named(tz) => cron.find_next_occurrence(&from.with_timezone(tz), false).ok().map(|d| d.fixed_offset()),
        }
    }
}

struct Job {
    path: PathBuf,
    name: String,
    database: PathBuf,
    cron: croner::Cron,
    zone: Zone,
    /// the next slot, with its zone's offset then (instants compare across offsets)
    next: chrono::DateTime<chrono::FixedOffset>,
}

fn log_line(msg: &str) {
    println!("{} {msg}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
    tracing::info!("{msg}");
}

/// Runs one pipeline file as `run` does, a panic caught and reported as a failure.
fn scheduled_run(job: &Job) -> u8 {
    log_line(&format!("start {} ({})", job.name, job.path.display()));
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd_run(&job.path, Format::Text, None, None, false))) {
        Ok(Ok(code)) => {
            if code == ExitCode::SUCCESS {
                0
            } else if code == ExitCode::from(1) {
                1
            } else {
                2
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            2
        }
        Err(_) => {
            eprintln!("error: the run of {} panicked", job.name);
            2
        }
    };
    log_line(&format!("end {} exit {code}", job.name));
    code
}

/// The scheduler. Each pipeline's cron expression is read in its `schedule_time_zone`, or
/// else in `default_zone` (the command line's: a fixed offset, a named zone, or UTC).
fn schedule(paths: &[PathBuf], once: bool, default_zone: Zone) -> Result<ExitCode> {
    let now = chrono::Utc::now().fixed_offset();
    let mut jobs = Vec::new();
    for path in paths {
        let p = match config::load(path) {
            Ok(p) => p,
            Err(e) => return Ok(config_failed(&e, Format::Text)),
        };
        let Some(expr) = p.schedule.clone() else {
            eprintln!("schedule: {} has no `schedule:` (a 5-field cron expression)", path.display());
            return Ok(ExitCode::from(2));
        };
        let cron = croner::Cron::new(&expr).parse().map_err(|e| anyhow::anyhow!("{}: schedule {expr:?}: {e}", path.display()))?;
        let zone = p.schedule_time_zone.map(Zone::Named).unwrap_or(default_zone);
        // --once: due when a slot passed since the last run started (or it never ran)
        let from = if once {
            let store = echo_health::store::Store::open(&p.database)?;
            let last: Option<chrono::NaiveDateTime> =
                store.conn().query_row(sql::LAST_RUN_START, [&p.name], |r| r.get(0)).context("reading the last run")?;
            match last {
                Some(t) => t.and_utc().fixed_offset(),
                None => now - chrono::Duration::days(3660),
            }
        } else {
            now
        };
        let next = zone.next(&cron, from).ok_or_else(|| anyhow::anyhow!("{}: schedule {expr:?} has no next slot", path.display()))?;
        jobs.push(Job { path: path.clone(), name: p.name.clone(), database: p.database.clone(), cron, zone, next });
    }
    if once {
        let mut worst = 0u8;
        for job in jobs.iter().filter(|j| j.next <= now) {
            worst = worst.max(scheduled_run(job));
        }
        for job in jobs.iter().filter(|j| j.next > now) {
            log_line(&format!("not due {} (next slot {})", job.name, job.next.to_rfc3339()));
        }
        return Ok(ExitCode::from(worst));
    }
    // SAFETY: installing a handler that only stores to an atomic, before any run starts.
    unsafe {
        libc::signal(libc::SIGTERM, on_stop_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop_signal as *const () as libc::sighandler_t);
    }
    for j in &jobs {
        log_line(&format!("scheduled {} next at {} ({})", j.name, j.next.to_rfc3339(), j.database.display()));
    }
    loop {
        if STOP.load(std::sync::atomic::Ordering::SeqCst) {
            log_line("stopping: signal received");
            return Ok(ExitCode::SUCCESS);
        }
        let Some(i) = (0..jobs.len()).min_by_key(|i| jobs[*i].next) else { return Ok(ExitCode::SUCCESS) };
        let now = chrono::Utc::now().fixed_offset();
        if jobs[i].next > now {
            let wait = (jobs[i].next - now).to_std().unwrap_or_default().min(std::time::Duration::from_millis(250));
            std::thread::sleep(wait);
            continue;
        }
        // one run at a time: the others wait; slots that pass meanwhile are skipped, logged
        scheduled_run(&jobs[i]);
        let after = chrono::Utc::now().fixed_offset();
        // its slots that passed while it ran are skipped (never started twice); another
        // pipeline whose slot came meanwhile runs next, late
        let j = &mut jobs[i];
        let mut skipped = 0;
        let never = after + chrono::Duration::days(3650);
        let mut next = j.zone.next(&j.cron, j.next).unwrap_or(never);
        while next <= after {
            skipped += 1;
            next = j.zone.next(&j.cron, next).unwrap_or(never);
        }
        if skipped > 0 {
            log_line(&format!("skipped {skipped} slot(s) of {}: its run was still going", j.name));
        }
        j.next = next;
    }
}
