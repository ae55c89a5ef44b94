//! Pipeline files (`pipelines/*.yaml`): parsed strictly (unknown keys rejected) from a
//! positioned YAML tree, so that every problem is reported at once with its file:line, then
//! turned into a validated [`Pipeline`] whose paths are absolute and whose defaults are set
//! in one place ([`defaults`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

pub(crate) mod reader;

use crate::catalog::files::{normalize, DEFAULT_MAX_FILE_BYTES};
use crate::yaml;
use reader::{Errs, Obj};

/// Defaults, in one place.
pub mod defaults {
    /// Folder (beside the pipeline file) holding databases and outputs unless configured;
    /// git-ignored.
    pub const STATE_DIR: &str = ".echo-health";
    pub const MAX_REJECTED_DESCRIPTORS: u64 = 0;
    pub const MAX_REFERENCE_ERRORS: u64 = 0;
    pub const MAX_FACT_ERRORS: u64 = 0;
    /// Group annotations the Alertmanager export reads (a team's alert e-mail and Slack channel).
    pub const ALERT_EMAIL_ANNOTATION: &str = "echo-health.io/alerts-email";
    pub const ALERT_SLACK_ANNOTATION: &str = "echo-health.io/alerts-slack-channel";
}

/// A problem in a configuration file, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// All the problems of one file, reported together.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{} in configuration:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file (absolute).
    pub file: PathBuf,
    /// Folder of the pipeline file; relative paths in it are resolved against this.
    pub dir: PathBuf,
    /// Name of the job (`[a-z0-9-_]`), used in run records and default paths.
    pub name: String,
    /// Optional 5-field cron expression (`0 6 * * 1`), validated.
    pub schedule: Option<String>,
    /// The IANA time zone `schedule` is read in (`Europe/Berlin`), when the pipeline names
    /// one; otherwise the scheduler's (`--time-zone`, `--utc-offset`, UTC).
    pub schedule_time_zone: Option<chrono_tz::Tz>,
    /// The DuckDB file (absolute).
    pub database: PathBuf,
    /// Output folder for exports and the site (absolute).
    pub output: PathBuf,
    pub catalog: Vec<CatalogSource>,
    pub facts: Vec<FactSource>,
    pub tolerances: Tolerances,
    pub exports: Exports,
    /// Extra report definitions (`kind: table`): a page per definition, from its own SQL query
    /// (and template), added without recompiling.
    pub reports: Vec<PathBuf>,
    /// How entities are graded; `None`: the pipeline does not grade.
    pub grading: Option<Grading>,
    /// Migration definition files (`migrate::load`), evaluated on every run.
    pub migrations: Vec<PathBuf>,
    /// Exemption files of migrations (`migration:` in place of `check:`).
    pub migration_exemptions: Vec<PathBuf>,
    /// The tech-debt ROI cost model (`roi:`), when the pipeline has one.
    pub roi: Option<crate::roi::Model>,
    /// How long runs are kept; None: forever.
    pub retention: Option<Retention>,
}

/// The grading section of a pipeline.
#[derive(Debug, Clone)]
pub struct Grading {
    /// Check packs (absolute paths), read in order.
    pub checks: Vec<PathBuf>,
    /// The level ladder, lowest first (default bronze, silver, gold).
    pub levels: Vec<String>,
    /// Exemption files (absolute paths).
    pub exemptions: Vec<PathBuf>,
    /// Numeric fact weighting roll-ups' weighted mean score (e.g. request rate).
    pub weight_fact: Option<String>,
    pub gates: Vec<Gate>,
}

/// A condition the grading of a run must meet, else `run` exits 1.
#[derive(Debug, Clone)]
pub enum Gate {
    /// every graded entity matching `where_sql` holds at least `level`
    MinLevel { name: String, level: String, where_sql: Option<String>, line: usize },
    /// the roll-up of `scope` (a domain, system or group ref) has at least this mean score
    MinMeanScore { name: String, value: f64, scope: String, line: usize },
}

/// A catalog source.
#[derive(Debug, Clone)]
pub enum CatalogSource {
    Files {
        /// Globs or paths, relative to the pipeline folder.
        paths: Vec<String>,
        /// Globs of files to leave out (e.g. OpenAPI specs next to descriptors).
        exclude: Vec<String>,
        /// Largest file read (bytes).
        max_file_bytes: u64,
        /// Follow `Location` entities to further files.
        follow_locations: bool,
    },
    /// Descriptor files of every repository of GitHub organisations.
    GitHub(crate::sources::github::discovery::Config),
    /// The entities of a live Backstage's catalog API.
    Backstage(crate::catalog::backstage::Config),
}

/// A fact source.
#[derive(Debug, Clone)]
pub enum FactSource {
    Files {
        /// Name shown in errors and the data-quality page.
        name: String,
        paths: Vec<String>,
        /// A required source that produces nothing (no file matched, all unreadable) fails
        /// the run.
        required: bool,
        /// The facts its files hold, with their types (number, boolean, text, json): what
        /// checks may read from it.
        declares: std::collections::BTreeMap<String, crate::grade::sqlexpr::FactType>,
    },
    /// Named PromQL queries against a Prometheus server (`prometheus.<name>` number facts).
    Prometheus(crate::sources::prometheus::Config),
    /// Named code searches against a Zoekt webserver (`zoekt.<name>`, `zoekt.<name>_files`).
    Zoekt(crate::sources::zoekt::Config),
    /// Code health of the components' CodeScene projects (`codescene.*`).
    CodeScene(crate::sources::codescene::Config),
    /// Repository facts from GitHub (`github.*`).
    GitHub(crate::sources::github::Config),
}

impl FactSource {
    /// The source's name (errors, stats and the data-quality page use it).
    pub fn name(&self) -> &str {
        match self {
            FactSource::Files { name, .. } => name,
            FactSource::Prometheus(c) => &c.name,
            FactSource::Zoekt(c) => &c.name,
            FactSource::CodeScene(c) => &c.name,
            FactSource::GitHub(c) => &c.name,
        }
    }

    /// The facts this source can produce, with their types.
    pub fn declares(&self) -> Vec<(String, crate::grade::sqlexpr::FactType)> {
        match self {
            FactSource::Files { declares, .. } => declares.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            FactSource::Prometheus(c) => {
                c.queries.iter().map(|q| (format!("prometheus.{}", q.name), crate::grade::sqlexpr::FactType::Number)).collect()
            }
            FactSource::Zoekt(c) => c
                .queries
                .iter()
                .flat_map(|q| [format!("zoekt.{}", q.name), format!("zoekt.{}_files", q.name)])
                .map(|f| (f, crate::grade::sqlexpr::FactType::Number))
                .collect(),
            FactSource::CodeScene(_) => crate::sources::codescene::FACTS.iter().map(|(f, t)| ((*f).to_owned(), *t)).collect(),
            FactSource::GitHub(_) => crate::sources::github::FACTS.iter().map(|(f, t)| ((*f).to_owned(), *t)).collect(),
        }
    }
}

/// How long runs are kept (`retention:`): every run for `keep_all_days`, then the newest of
/// each week until `weekly_days`, then the newest of each month until `monthly_days` (None:
/// forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub keep_all_days: u64,
    pub weekly_days: u64,
    pub monthly_days: Option<u64>,
}

/// What the exports derive for neighbouring tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exports {
    /// Group annotation holding the e-mail address a team's alerts go to.
    pub alert_email_annotation: String,
    /// Group annotation holding the Slack channel a team's alerts go to.
    pub alert_slack_annotation: String,
}

impl Default for Exports {
    fn default() -> Self {
        Exports {
            alert_email_annotation: defaults::ALERT_EMAIL_ANNOTATION.into(),
            alert_slack_annotation: defaults::ALERT_SLACK_ANNOTATION.into(),
        }
    }
}

/// How many problems of each class a run tolerates before it counts as failed (exit 2).
/// Problems within tolerance still make the run `partial` and are all recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tolerances {
    /// Descriptor documents rejected (YAML errors, invalid, unknown kinds, unreadable files,
    /// duplicate refs).
    pub max_rejected_descriptors: u64,
    /// Reference problems: dangling or malformed refs, augmentations without a target,
    /// hierarchy cycles, placeholders or Location targets that cannot be read.
    pub max_reference_errors: u64,
    /// Fact rows rejected (malformed, unknown entity, bad value).
    pub max_fact_errors: u64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            max_rejected_descriptors: defaults::MAX_REJECTED_DESCRIPTORS,
            max_reference_errors: defaults::MAX_REFERENCE_ERRORS,
            max_fact_errors: defaults::MAX_FACT_ERRORS,
        }
    }
}

fn is_valid_job_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// Whether a YAML value looks like a pipeline file (and not a descriptor).
pub fn looks_like_pipeline(v: &Value) -> bool {
    v.as_object().map(|m| !m.contains_key("apiVersion") && (m.contains_key("catalog") || m.contains_key("facts"))).unwrap_or(false)
}

/// An environment variable name (never its value) in a pipeline file.
fn env_name(o: &mut Obj<'_>, key: &'static str, path: &str, line: usize, errs: &mut Errs<'_>) -> Option<String> {
    let v = o.string(key, errs)?;
    if v.is_empty()
        || !v.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        || v.starts_with(|c: char| c.is_ascii_digit())
    {
        errs.push(line, format!("{path}.{key}: \"{v}\" is not the name of an environment variable (A-Z, 0-9, _); secrets are read from the environment, never written here"));
        return None;
    }
    Some(v)
}

/// Checks that `value` (the setting `key`) is an http(s) URL without credentials in it.
fn check_http_url(value: &str, key: &str, path: &str, line: usize, errs: &mut Errs<'_>) {
    if value.is_empty() {
        return;
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.username().is_empty() && u.password().is_none() => {}
        Ok(_) => errs.push(line, format!("{path}.{key} must be an http(s) URL without credentials (they come from environment variables)")),
        Err(e) => errs.push(line, format!("{path}.{key} \"{value}\" is not a URL: {e}")),
    }
}

/// An http(s) endpoint without credentials in it.
fn endpoint(o: &mut Obj<'_>, path: &str, line: usize, errs: &mut Errs<'_>) -> String {
    let endpoint = o.required_string("endpoint", errs).unwrap_or_default();
    check_http_url(&endpoint, "endpoint", path, line, errs);
    endpoint
}

/// A `type: codescene` fact source.
fn codescene_source(o: &mut Obj<'_>, path: &str, line: usize, i: usize, errs: &mut Errs<'_>) -> Option<crate::sources::codescene::Config> {
    let name = o.string("name", errs).unwrap_or_else(|| if i == 0 { "codescene".into() } else { format!("codescene-{}", i + 1) });
    let base_url = o.required_string("base_url", errs).unwrap_or_default();
    check_http_url(&base_url, "base_url", path, line, errs);
    let api_version = match o.uint("api_version", errs).unwrap_or(2) {
        v @ (1 | 2) => v as u8,
        v => {
            errs.push(line, format!("{path}.api_version {v} is not 1 (on-prem, basic auth) or 2 (bearer token)"));
            2
        }
    };
    let token_env = env_name(o, "token_env", path, line, errs);
    let username_env = env_name(o, "username_env", path, line, errs);
    let password_env = env_name(o, "password_env", path, line, errs);
    if api_version == 2 && token_env.is_none() {
        errs.push(line, format!("{path}: API v2 needs token_env (the name of the variable holding the token)"));
    }
    if api_version == 1 && (username_env.is_none() || password_env.is_none()) {
        errs.push(line, format!("{path}: API v1 needs username_env and password_env"));
    }
    let timeout_secs = o.uint("timeout_secs", errs).unwrap_or(30);
    let concurrency = o.uint("concurrency", errs).unwrap_or(4).clamp(1, 64) as usize;
    let max_analysis_age_days = o.uint("max_analysis_age_days", errs).unwrap_or(14);
    let required = o.boolean("required", errs).unwrap_or(false);
    Some(crate::sources::codescene::Config {
        name,
        base_url,
        api_version,
        token_env,
        username_env,
        password_env,
        timeout_secs,
        concurrency,
        max_analysis_age_days,
        required,
    })
}

/// The GitHub connection settings shared by the `github` fact and catalog sources.
const GITHUB_API_KEYS: &[&str] = &[
    "api_url",
    "graphql_url",
    "web_host",
    "token_env",
    "app_id_env",
    "app_installation_id_env",
    "app_private_key_env",
    "concurrency",
    "timeout_secs",
    "min_remaining",
    "max_wait_secs",
    "secondary_wait_secs",
];

fn github_api(o: &mut Obj<'_>, path: &str, line: usize, errs: &mut Errs<'_>) -> crate::sources::github::Api {
    use crate::sources::github::Api;
    let url_field = |o: &mut Obj<'_>, key: &'static str, errs: &mut Errs<'_>| -> Option<String> {
        let e = o.string(key, errs)?;
        check_http_url(&e, key, path, line, errs);
        Some(e.trim_end_matches('/').to_owned())
    };
    let api_url = url_field(o, "api_url", errs).unwrap_or_else(|| "https://api.github.com".into());
    let graphql_url = url_field(o, "graphql_url", errs).unwrap_or_else(|| Api::default_graphql_url(&api_url));
    let web_host = o.string("web_host", errs).unwrap_or_else(|| Api::default_web_host(&api_url));
    let token_env = env_name(o, "token_env", path, line, errs);
    let app_id_env = env_name(o, "app_id_env", path, line, errs);
    let app_installation_id_env = env_name(o, "app_installation_id_env", path, line, errs);
    let app_private_key_env = env_name(o, "app_private_key_env", path, line, errs);
    let app_parts = [&app_id_env, &app_installation_id_env, &app_private_key_env].iter().filter(|x| x.is_some()).count();
    if app_parts != 0 && app_parts != 3 {
        errs.push(line, format!("{path}: a GitHub App needs app_id_env, app_installation_id_env and app_private_key_env together"));
    }
    Api {
        api_url,
        graphql_url,
        web_host,
        token_env,
        app_id_env,
        app_installation_id_env,
        app_private_key_env,
        concurrency: o.uint("concurrency", errs).unwrap_or(4).clamp(1, 100) as usize,
        timeout_secs: o.uint("timeout_secs", errs).unwrap_or(60),
        min_remaining: o.uint("min_remaining", errs).unwrap_or(100),
        max_wait_secs: o.uint("max_wait_secs", errs).unwrap_or(900),
        secondary_wait_secs: o.uint("secondary_wait_secs", errs).unwrap_or(60),
    }
}

/// A `type: github` fact source.
fn github_source(o: &mut Obj<'_>, path: &str, line: usize, i: usize, errs: &mut Errs<'_>) -> crate::sources::github::Config {
    let name = o.string("name", errs).unwrap_or_else(|| if i == 0 { "github".into() } else { format!("github-{}", i + 1) });
    let api = github_api(o, path, line, errs);
    let organizations = o.strings("organizations", errs).unwrap_or_default();
    let page_size = match o.uint("page_size", errs).unwrap_or(50) {
        v @ 1..=100 => v as usize,
        v => {
            errs.push(line, format!("{path}.page_size {v} must be 1-100 (GitHub's largest page)"));
            50
        }
    };
    crate::sources::github::Config {
        name,
        api,
        organizations,
        page_size,
        refresh_days: o.uint("refresh_days", errs).unwrap_or(7),
        required: o.boolean("required", errs).unwrap_or(false),
    }
}

/// A `type: zoekt` fact source.
fn zoekt_source(o: &mut Obj<'_>, path: &str, line: usize, i: usize, errs: &mut Errs<'_>) -> Option<crate::sources::zoekt::Config> {
    use crate::sources::zoekt::{Config, Query, DEFAULT_REPOSITORY_TEMPLATE};
    let name = o.string("name", errs).unwrap_or_else(|| if i == 0 { "zoekt".into() } else { format!("zoekt-{}", i + 1) });
    let endpoint = endpoint(o, path, line, errs);
    let auth_header_env = env_name(o, "auth_header_env", path, line, errs);
    let timeout_secs = o.uint("timeout_secs", errs).unwrap_or(30);
    let repository_template = o.string("repository_template", errs).unwrap_or_else(|| DEFAULT_REPOSITORY_TEMPLATE.into());
    if !repository_template.contains("{slug}") {
        errs.push(line, format!("{path}.repository_template must contain {{slug}} (the github.com/project-slug annotation)"));
    }
    let required = o.boolean("required", errs).unwrap_or(false);
    let mut queries: Vec<Query> = Vec::new();
    let list = o.list("queries", errs);
    if list.is_empty() {
        errs.push(line, format!("{path}.queries must name at least one query"));
    }
    for (qpath, qn) in list {
        let Some(mut q) = Obj::new(o.file, qpath.clone(), qn, errs) else { continue };
        let qname = q.required_string("name", errs).unwrap_or_default();
        if !qname.is_empty() && !crate::sources::is_valid_fact_name(&format!("zoekt.{qname}_files")) {
            errs.push(
                qn.line,
                format!("{qpath}.name \"{qname}\" must be snake_case (it becomes the facts zoekt.{qname} and zoekt.{qname}_files)"),
            );
        }
        if queries.iter().any(|x| x.name == qname) {
            errs.push(qn.line, format!("{qpath}.name \"{qname}\" is declared twice"));
        }
        let query = q.required_string("query", errs).unwrap_or_default();
        if query.trim().is_empty() {
            errs.push(qn.line, format!("{qpath}.query is empty"));
        }
        q.finish(&["name", "query"], errs);
        queries.push(Query { name: qname, query, line: qn.line });
    }
    Some(Config { name, endpoint, auth_header_env, timeout_secs, repository_template, required, queries })
}

/// A `type: prometheus` fact source.
fn prometheus_source(
    o: &mut Obj<'_>,
    path: &str,
    line: usize,
    i: usize,
    errs: &mut Errs<'_>,
) -> Option<crate::sources::prometheus::Config> {
    use crate::sources::prometheus::{Config, Query, QueryKind, DEFAULT_LABEL, DEFAULT_LABEL_ANNOTATION};
    let name = o.string("name", errs).unwrap_or_else(|| if i == 0 { "prometheus".into() } else { format!("prometheus-{}", i + 1) });
    let endpoint = endpoint(o, path, line, errs);
    let token_env = env_name(o, "token_env", path, line, errs);
    let username_env = env_name(o, "username_env", path, line, errs);
    let password_env = env_name(o, "password_env", path, line, errs);
    if username_env.is_some() != password_env.is_some() {
        errs.push(line, format!("{path}: username_env and password_env go together"));
    }
    if token_env.is_some() && username_env.is_some() {
        errs.push(line, format!("{path}: give token_env or username_env/password_env, not both"));
    }
    let timeout_secs = o.uint("timeout_secs", errs).unwrap_or(30);
    let label_annotation = o.string("label_annotation", errs).unwrap_or_else(|| DEFAULT_LABEL_ANNOTATION.into());
    let required = o.boolean("required", errs).unwrap_or(false);
    let at = match o.string("at", errs) {
        Some(t) => match chrono::DateTime::parse_from_rfc3339(&t) {
            Ok(d) => Some(d.with_timezone(&chrono::Utc)),
            Err(e) => {
                errs.push(line, format!("{path}.at \"{t}\" is not an RFC 3339 time (2026-12-01T00:00:00Z): {e}"));
                None
            }
        },
        None => None,
    };
    let mut queries: Vec<Query> = Vec::new();
    let list = o.list("queries", errs);
    if list.is_empty() {
        errs.push(line, format!("{path}.queries must name at least one query"));
    }
    for (qpath, qn) in list {
        let Some(mut q) = Obj::new(o.file, qpath.clone(), qn, errs) else { continue };
        let qname = q.required_string("name", errs).unwrap_or_default();
        if !qname.is_empty() && !crate::sources::is_valid_fact_name(&format!("prometheus.{qname}")) {
            errs.push(qn.line, format!("{qpath}.name \"{qname}\" must be snake_case (it becomes the fact prometheus.{qname})"));
        }
        if queries.iter().any(|x| x.name == qname) {
            errs.push(qn.line, format!("{qpath}.name \"{qname}\" is declared twice"));
        }
        let expr = q.required_string("expr", errs).unwrap_or_default();
        if expr.trim().is_empty() {
            errs.push(qn.line, format!("{qpath}.expr is empty"));
        }
        let label = q.string("label", errs).unwrap_or_else(|| DEFAULT_LABEL.into());
        let label_ok = label.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !label_ok {
            errs.push(qn.line, format!("{qpath}.label \"{label}\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"));
        }
        let kind = match q.string("kind", errs).as_deref().unwrap_or("instant") {
            "instant" => QueryKind::Instant,
            "range" => {
                let lookback_days = q.uint("lookback_days", errs).unwrap_or(30);
                let step_days = q.uint("step_days", errs).unwrap_or(1);
                if step_days < 1 || lookback_days < 1 {
                    errs.push(qn.line, format!("{qpath}: lookback_days and step_days are whole days, at least 1"));
                }
                if lookback_days / step_days.max(1) > 11_000 {
                    errs.push(qn.line, format!("{qpath}: more than 11,000 points per series (Prometheus refuses it)"));
                }
                QueryKind::Range { lookback_days, step_days }
            }
            other => {
                errs.push(qn.line, format!("{qpath}.kind \"{other}\" is not instant or range"));
                QueryKind::Instant
            }
        };
        q.finish(&["name", "expr", "label", "kind", "lookback_days", "step_days"], errs);
        queries.push(Query { name: qname, expr, label, kind, line: qn.line });
    }
    Some(Config { name, endpoint, token_env, username_env, password_env, timeout_secs, label_annotation, required, at, queries })
}

/// Reads and validates a pipeline file; every problem is reported at once.
pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
    let shown = path.display().to_string();
    let one = |line: usize, message: String| ConfigErrors(vec![ConfigError { file: shown.clone(), line, message }]);
    let text = std::fs::read_to_string(path).map_err(|e| one(0, format!("cannot read pipeline file: {e}")))?;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    parse(&text, &shown, &normalize(&abs))
}

/// Parses a pipeline from text; `file` is the absolute path used to resolve relative paths.
pub fn parse(text: &str, shown: &str, file: &Path) -> Result<Pipeline, ConfigErrors> {
    let one = |line: usize, message: String| ConfigErrors(vec![ConfigError { file: shown.to_owned(), line, message }]);
    let text = yaml::strip_bom(text);
    let chunks = yaml::split_documents(text);
    if chunks.len() != 1 {
        return Err(one(1, format!("a pipeline file holds exactly one YAML document, found {}", chunks.len())));
    }
    let node = yaml::parse_positioned(&chunks[0])
        .map_err(|e| one(e.line, format!("YAML syntax error at column {}: {}", e.col, e.message)))?
        .ok_or_else(|| one(1, "the pipeline file is empty".into()))?;
    let mut errs = Errs { file: shown, list: Vec::new() };
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let Some(mut root) = Obj::new(shown, String::new(), &node, &mut errs) else {
        return Err(ConfigErrors(errs.list));
    };
    let name = root.required_string("name", &mut errs).unwrap_or_default();
    if !name.is_empty() && !is_valid_job_name(&name) {
        errs.push(root.node.key_line(&["name"]).unwrap_or(1), format!("name \"{name}\" must be 1-63 characters a-z, 0-9, - or _"));
    }
    let schedule = root.string("schedule", &mut errs);
    if let Some(s) = &schedule {
        if let Err(e) = croner::Cron::new(s).parse() {
            errs.push(
                root.node.key_line(&["schedule"]).unwrap_or(1),
                format!("schedule \"{s}\" is not a valid 5-field cron expression (minute hour day-of-month month day-of-week): {e}"),
            );
        }
    }
    let schedule_time_zone = root.string("schedule_time_zone", &mut errs).and_then(|z| match z.parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            errs.push(
                root.node.key_line(&["schedule_time_zone"]).unwrap_or(1),
                format!("schedule_time_zone \"{z}\" is not an IANA time zone name (like Europe/Berlin or UTC)"),
            );
            None
        }
    });
    if schedule_time_zone.is_some() && schedule.is_none() {
        errs.push(root.node.key_line(&["schedule_time_zone"]).unwrap_or(1), "schedule_time_zone needs a schedule".into());
    }
    let database = root.string("database", &mut errs);
    let output = root.string("output", &mut errs);
    let mut catalog = Vec::new();
    for (path, n) in root.list("catalog", &mut errs) {
        if let Some(mut o) = Obj::new(shown, path.clone(), n, &mut errs) {
            let ty = o.required_string("type", &mut errs);
            match ty.as_deref() {
                Some("files") => {
                    let paths = o.strings("paths", &mut errs).unwrap_or_default();
                    if paths.is_empty() {
                        errs.push(n.line, format!("{path}.paths must name at least one file, folder or glob"));
                    }
                    let exclude = o.strings("exclude", &mut errs).unwrap_or_default();
                    for g in &exclude {
                        if let Err(e) = globset::Glob::new(g) {
                            errs.push(n.line, format!("{path}.exclude: invalid glob \"{g}\": {e}"));
                        }
                    }
                    let max_file_bytes = o.uint("max_file_bytes", &mut errs).unwrap_or(DEFAULT_MAX_FILE_BYTES);
                    let follow_locations = o.boolean("follow_locations", &mut errs).unwrap_or(true);
                    catalog.push(CatalogSource::Files { paths, exclude, max_file_bytes, follow_locations });
                    o.finish(&["type", "paths", "exclude", "max_file_bytes", "follow_locations"], &mut errs);
                }
                Some("github") => {
                    let api = github_api(&mut o, &path, n.line, &mut errs);
                    let organizations = o.strings("organizations", &mut errs).unwrap_or_default();
                    if organizations.is_empty() {
                        errs.push(n.line, format!("{path}.organizations must name at least one GitHub organisation"));
                    }
                    let paths = o.strings("paths", &mut errs).unwrap_or_else(|| vec!["catalog-info.yaml".into()]);
                    for p in &paths {
                        if !crate::sources::github::discovery::is_valid_path(p) {
                            errs.push(n.line, format!("{path}.paths: {p:?} is not a relative file path (letters, digits, - _ . /)"));
                        }
                    }
                    let max_file_bytes = o.uint("max_file_bytes", &mut errs).unwrap_or(DEFAULT_MAX_FILE_BYTES);
                    let include_archived = o.boolean("include_archived", &mut errs).unwrap_or(false);
                    catalog.push(CatalogSource::GitHub(crate::sources::github::discovery::Config {
                        api,
                        organizations,
                        paths,
                        max_file_bytes,
                        include_archived,
                    }));
                    let mut known = vec!["type", "organizations", "paths", "max_file_bytes", "include_archived"];
                    known.extend_from_slice(GITHUB_API_KEYS);
                    o.finish(&known, &mut errs);
                }
                Some("backstage") => {
                    let base_url = o.required_string("base_url", &mut errs).unwrap_or_default();
                    check_http_url(&base_url, "base_url", &path, n.line, &mut errs);
                    let token_env = env_name(&mut o, "token_env", &path, n.line, &mut errs);
                    let filters = o.strings("filter", &mut errs).unwrap_or_default();
                    let page_size = o.uint("page_size", &mut errs).unwrap_or(500).clamp(1, 10_000);
                    let timeout_secs = o.uint("timeout_secs", &mut errs).unwrap_or(60);
                    catalog.push(CatalogSource::Backstage(crate::catalog::backstage::Config {
                        base_url: base_url.trim_end_matches('/').to_owned(),
                        token_env,
                        filters,
                        page_size,
                        timeout_secs,
                    }));
                    o.finish(&["type", "base_url", "token_env", "filter", "page_size", "timeout_secs"], &mut errs);
                }
                Some(other) => {
                    errs.push(n.line, format!("{path}.type \"{other}\" is not a catalog source type (known: files, github, backstage)"));
                }
                None => {}
            }
        }
    }
    let mut facts = Vec::new();
    for (i, (path, n)) in root.list("facts", &mut errs).into_iter().enumerate() {
        if let Some(mut o) = Obj::new(shown, path.clone(), n, &mut errs) {
            let ty = o.required_string("type", &mut errs);
            match ty.as_deref() {
                Some("files") => {
                    let name = o.string("name", &mut errs).unwrap_or_else(|| format!("facts-{}", i + 1));
                    let paths = o.strings("paths", &mut errs).unwrap_or_default();
                    if paths.is_empty() {
                        errs.push(n.line, format!("{path}.paths must name at least one file, folder or glob"));
                    }
                    let required = o.boolean("required", &mut errs).unwrap_or(true);
                    let mut declares = std::collections::BTreeMap::new();
                    if let Some(d) = o.get("declares") {
                        match &d.value {
                            yaml::PValue::Map(entries) => {
                                for (k, kl, v) in entries {
                                    if !crate::sources::is_valid_fact_name(k) {
                                        errs.push(
                                            *kl,
                                            format!("{path}.declares: \"{k}\" is not a fact name (snake_case parts joined by dots)"),
                                        );
                                    }
                                    match &v.value {
                                        yaml::PValue::String(t) => match crate::grade::sqlexpr::FactType::parse(t) {
                                            Some(ft) => {
                                                declares.insert(k.clone(), ft);
                                            }
                                            None => errs.push(
                                                *kl,
                                                format!("{path}.declares.{k}: type \"{t}\" is not number, boolean, text or json"),
                                            ),
                                        },
                                        _ => errs.push(*kl, format!("{path}.declares.{k}: give the type as number, boolean, text or json")),
                                    }
                                }
                            }
                            _ => errs.push(d.line, format!("{path}.declares must map fact names to types")),
                        }
                    }
                    facts.push(FactSource::Files { name, paths, required, declares });
                    o.finish(&["type", "name", "paths", "required", "declares"], &mut errs);
                }
                Some("prometheus") => {
                    if let Some(c) = prometheus_source(&mut o, &path, n.line, i, &mut errs) {
                        facts.push(FactSource::Prometheus(c));
                    }
                    o.finish(
                        &[
                            "type",
                            "name",
                            "endpoint",
                            "token_env",
                            "username_env",
                            "password_env",
                            "timeout_secs",
                            "label_annotation",
                            "required",
                            "at",
                            "queries",
                        ],
                        &mut errs,
                    );
                }
                Some("zoekt") => {
                    if let Some(c) = zoekt_source(&mut o, &path, n.line, i, &mut errs) {
                        facts.push(FactSource::Zoekt(c));
                    }
                    o.finish(
                        &["type", "name", "endpoint", "auth_header_env", "timeout_secs", "repository_template", "required", "queries"],
                        &mut errs,
                    );
                }
                Some("codescene") => {
                    if let Some(c) = codescene_source(&mut o, &path, n.line, i, &mut errs) {
                        facts.push(FactSource::CodeScene(c));
                    }
                    o.finish(
                        &[
                            "type",
                            "name",
                            "base_url",
                            "api_version",
                            "token_env",
                            "username_env",
                            "password_env",
                            "timeout_secs",
                            "concurrency",
                            "max_analysis_age_days",
                            "required",
                        ],
                        &mut errs,
                    );
                }
                Some("github") => {
                    facts.push(FactSource::GitHub(github_source(&mut o, &path, n.line, i, &mut errs)));
                    let mut known = vec!["type", "name", "organizations", "page_size", "refresh_days", "required"];
                    known.extend_from_slice(GITHUB_API_KEYS);
                    o.finish(&known, &mut errs);
                }
                Some(other) => {
                    errs.push(
                        n.line,
                        format!("{path}.type \"{other}\" is not a fact source type (known: files, prometheus, zoekt, codescene, github)"),
                    );
                }
                None => {}
            }
        }
    }
    let mut tolerances = Tolerances::default();
    if let Some(n) = root.get("tolerances") {
        if let Some(mut o) = Obj::new(shown, "tolerances".into(), n, &mut errs) {
            if let Some(v) = o.uint("max_rejected_descriptors", &mut errs) {
                tolerances.max_rejected_descriptors = v;
            }
            if let Some(v) = o.uint("max_reference_errors", &mut errs) {
                tolerances.max_reference_errors = v;
            }
            if let Some(v) = o.uint("max_fact_errors", &mut errs) {
                tolerances.max_fact_errors = v;
            }
            o.finish(&["max_rejected_descriptors", "max_reference_errors", "max_fact_errors"], &mut errs);
        }
    }
    let reports: Vec<PathBuf> = root.strings("reports", &mut errs).unwrap_or_default().iter().map(|r| normalize(&dir.join(r))).collect();
    let migrations: Vec<PathBuf> =
        root.strings("migrations", &mut errs).unwrap_or_default().iter().map(|r| normalize(&dir.join(r))).collect();
    let migration_exemptions: Vec<PathBuf> =
        root.strings("migration_exemptions", &mut errs).unwrap_or_default().iter().map(|r| normalize(&dir.join(r))).collect();
    let mut roi = None;
    if let Some(n) = root.get("roi") {
        if let Some(mut o) = Obj::new(shown, "roi".into(), n, &mut errs) {
            let mut m = crate::roi::Model::default();
            if let Some(v) = o.string("currency", &mut errs) {
                m.currency = v;
            }
            for (key, slot) in [
                ("hourly_cost", &mut m.hourly_cost),
                ("hours_per_change", &mut m.hours_per_change),
                ("unhealthy_below", &mut m.unhealthy_below),
                ("extra_time", &mut m.extra_time),
                ("defect_multiplier", &mut m.defect_multiplier),
                ("defect_hours_per_change", &mut m.defect_hours_per_change),
            ] {
                if let Some(v) = o.float(key, &mut errs) {
                    if !(v.is_finite() && v >= 0.0) {
                        errs.push(n.line, format!("roi.{key} must be a number of 0 or more"));
                    }
                    *slot = v;
                }
            }
            for (key, slot) in [("change_fact", &mut m.change_fact), ("health_fact", &mut m.health_fact)] {
                if let Some(v) = o.string(key, &mut errs) {
                    if !crate::sources::is_valid_fact_name(&v) {
                        errs.push(n.line, format!("roi.{key} \"{v}\" is not a fact name"));
                    }
                    *slot = v;
                }
            }
            o.finish(
                &[
                    "currency",
                    "hourly_cost",
                    "hours_per_change",
                    "unhealthy_below",
                    "extra_time",
                    "defect_multiplier",
                    "defect_hours_per_change",
                    "change_fact",
                    "health_fact",
                ],
                &mut errs,
            );
            roi = Some(m);
        }
    }
    let mut retention = None;
    if let Some(n) = root.get("retention") {
        if let Some(mut o) = Obj::new(shown, "retention".into(), n, &mut errs) {
            let keep_all_days = o.uint("keep_all_days", &mut errs).unwrap_or(30);
            let weekly_days = o.uint("weekly_days", &mut errs).unwrap_or(365);
            let monthly_days = o.uint("monthly_days", &mut errs);
            if weekly_days < keep_all_days || monthly_days.is_some_and(|m| m < weekly_days) {
                errs.push(n.line, "retention: keep_all_days <= weekly_days <= monthly_days".into());
            }
            o.finish(&["keep_all_days", "weekly_days", "monthly_days"], &mut errs);
            retention = Some(Retention { keep_all_days, weekly_days, monthly_days });
        }
    }
    let mut exports = Exports::default();
    if let Some(n) = root.get("exports") {
        if let Some(mut o) = Obj::new(shown, "exports".into(), n, &mut errs) {
            if let Some(v) = o.string("alert_email_annotation", &mut errs) {
                exports.alert_email_annotation = v;
            }
            if let Some(v) = o.string("alert_slack_annotation", &mut errs) {
                exports.alert_slack_annotation = v;
            }
            o.finish(&["alert_email_annotation", "alert_slack_annotation"], &mut errs);
        }
    }
    let mut grading = None;
    if let Some(n) = root.get("grading") {
        if let Some(mut o) = Obj::new(shown, "grading".into(), n, &mut errs) {
            let checks = o.strings("checks", &mut errs).unwrap_or_default();
            if checks.is_empty() {
                errs.push(n.line, "grading.checks must name at least one check pack".into());
            }
            let levels = o.strings("levels", &mut errs).unwrap_or_else(|| vec!["bronze".into(), "silver".into(), "gold".into()]);
            let mut seen = std::collections::HashSet::new();
            for l in &levels {
                if !is_valid_job_name(l) || !seen.insert(l.clone()) || l == "none" {
                    errs.push(n.line, format!("grading.levels: \"{l}\" must be a unique lower-case name (and not \"none\")"));
                }
            }
            if levels.is_empty() {
                errs.push(n.line, "grading.levels must list at least one level".into());
            }
            let exemptions = o.strings("exemptions", &mut errs).unwrap_or_default();
            let weight_fact = o.string("weight_fact", &mut errs);
            let mut gates = Vec::new();
            for (gpath, gn) in o.list("gates", &mut errs) {
                if let Some(mut go) = Obj::new(shown, gpath.clone(), gn, &mut errs) {
                    let gname = go.required_string("name", &mut errs).unwrap_or_default();
                    let min_level = go.string("min_level", &mut errs);
                    let where_sql = go.string("where", &mut errs);
                    let min_mean = go.float("min_mean_score", &mut errs);
                    let scope = go.string("scope", &mut errs);
                    go.finish(&["name", "min_level", "where", "min_mean_score", "scope"], &mut errs);
                    match (min_level, min_mean) {
                        (Some(level), None) => gates.push(Gate::MinLevel { name: gname, level, where_sql, line: gn.line }),
                        (None, Some(value)) => match scope {
                            Some(scope) => gates.push(Gate::MinMeanScore { name: gname, value, scope, line: gn.line }),
                            None => errs.push(gn.line, format!("{gpath}: min_mean_score needs a scope (domain:, system: or group: ref)")),
                        },
                        _ => errs.push(gn.line, format!("{gpath}: a gate has exactly one of min_level or min_mean_score")),
                    }
                }
            }
            o.finish(&["checks", "levels", "exemptions", "weight_fact", "gates"], &mut errs);
            grading = Some(Grading {
                checks: checks.iter().map(|c| normalize(&dir.join(c))).collect(),
                levels,
                exemptions: exemptions.iter().map(|c| normalize(&dir.join(c))).collect(),
                weight_fact,
                gates,
            });
        }
    }
    if catalog.is_empty() && errs.list.is_empty() {
        errs.push(node.line, "catalog must list at least one catalog source".into());
    }
    root.finish(
        &[
            "name",
            "schedule",
            "schedule_time_zone",
            "database",
            "output",
            "catalog",
            "facts",
            "tolerances",
            "exports",
            "reports",
            "grading",
            "migrations",
            "migration_exemptions",
            "retention",
            "roi",
        ],
        &mut errs,
    );
    if !errs.list.is_empty() {
        errs.list.sort_by_key(|e| e.line);
        return Err(ConfigErrors(errs.list));
    }
    let state = dir.join(defaults::STATE_DIR);
    let database = match database {
        Some(d) => normalize(&dir.join(d)),
        None => state.join(format!("{name}.duckdb")),
    };
    let output = match output {
        Some(o) => normalize(&dir.join(o)),
        None => state.join(format!("{name}-out")),
    };
    Ok(Pipeline {
        file: file.to_path_buf(),
        dir,
        name,
        schedule,
        schedule_time_zone,
        database,
        output,
        catalog,
        facts,
        tolerances,
        exports,
        reports,
        grading,
        migrations,
        migration_exemptions,
        roi,
        retention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Pipeline, ConfigErrors> {
        parse(s, "p.yaml", Path::new("/x/pipelines/p.yaml"))
    }

    #[test]
    fn minimal_pipeline_gets_defaults() {
        let p = parse_str("name: demo\ncatalog:\n  - type: files\n    paths: [catalog]\n").unwrap();
        assert_eq!(p.database, PathBuf::from("/x/pipelines/.echo-health/demo.duckdb"));
        assert_eq!(p.output, PathBuf::from("/x/pipelines/.echo-health/demo-out"));
        assert_eq!(p.tolerances, Tolerances::default());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let e = parse_str(
            "name: Demo!\nschedule: \"61 * * * *\"\ncolour: blue\ncatalog:\n  - type: files\n    paths: [a]\n    recursive: yes\n  - type: ftp\ntolerances:\n  max_rejected_descriptors: -1\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = e.0.iter().map(|x| x.line).collect();
        let text = e.to_string();
        assert!(text.contains("p.yaml:1: name \"Demo!\""), "{text}");
        assert!(text.contains("p.yaml:2: schedule"), "{text}");
        assert!(text.contains("p.yaml:3: unknown key \"colour\""), "{text}");
        assert!(text.contains("p.yaml:7: unknown key \"catalog[0].recursive\""), "{text}");
        assert!(text.contains("\"ftp\""), "{text}");
        assert!(text.contains("p.yaml:10: tolerances.max_rejected_descriptors"), "{text}");
        assert_eq!(lines.len(), 6, "{text}");
        // the allowed keys named are every key a pipeline takes
        assert!(text.contains("retention, roi, schedule, schedule_time_zone"), "{text}");
    }

    #[test]
    fn a_schedule_time_zone_is_an_iana_name_and_needs_a_schedule() {
        let ok =
            parse_str("name: p\nschedule: \"0 6 * * 1\"\nschedule_time_zone: Europe/Berlin\ncatalog:\n  - type: files\n    paths: [a]\n")
                .unwrap();
        assert_eq!(ok.schedule_time_zone, Some(chrono_tz::Europe::Berlin));
        let text =
            parse_str("name: p\nschedule_time_zone: Europe/Berln\ncatalog:\n  - type: files\n    paths: [a]\n").unwrap_err().to_string();
        assert!(text.contains("p.yaml:2: schedule_time_zone \"Europe/Berln\" is not an IANA time zone"), "{text}");
        let text = parse_str("name: p\nschedule_time_zone: UTC\ncatalog:\n  - type: files\n    paths: [a]\n").unwrap_err().to_string();
        assert!(text.contains("p.yaml:2: schedule_time_zone needs a schedule"), "{text}");
    }
}
