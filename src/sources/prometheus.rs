//! The Prometheus source: named PromQL queries, each returning one series per component
//! (`sum by (service) (...)`), become the facts `prometheus.<name>`.
//!
//! Contract (`../shared/docs/contracts.md` §B):
//! - **Endpoint** `endpoint` (a base URL; a path prefix is kept), requests built by the
//!   `prometheus-http-query` crate on one shared reqwest client carrying auth and the timeout.
//!   **One HTTP request per declared query per run**, whatever the number of components.
//! - **Auth** from environment variables only: `token_env` (bearer) or `username_env` +
//!   `password_env` (basic). The variables' values never reach logs, errors, facts or the
//!   database; only their names are in the pipeline file.
//! - **Queries**: `instant` (the value at the run's time, or at `at` when set) or `range` (`lookback_days`, `step_days`
//!   ≥ 1): a range query stores one dated fact per sample, so trends can use them.
//! - **Mapping**: the series label `label` (default `service`) names the component: its
//!   `metadata.name`, unless the component's annotation `label_annotation` (default
//!   `echo-health.io/prometheus-service`) gives another value.
//! - **Answers** are parsed here from the raw response (the crate drops `warnings` and cannot
//!   keep NaN apart): `warnings` are kept as warnings of the run; `NaN`/`±Inf` samples are not
//!   facts (the fact stays absent, checks are unknown) and are counted.
//! - **Failures**: unreachable server, a Prometheus error (`bad_data`, `execution`, `timeout`,
//!   with its message), a non-JSON answer from a proxy, a series naming no component
//!   (reported once per query as unmatched, with the first values), a component with no series
//!   (no fact). The other queries go on; every problem is recorded.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::{Fact, FactValue, SourceError, SourceErrorKind, SourceOutput};

/// Default label naming the component in a query's series.
pub const DEFAULT_LABEL: &str = "service";
/// Default component annotation overriding the label value.
pub const DEFAULT_LABEL_ANNOTATION: &str = "echo-health.io/prometheus-service";

#[derive(Debug, Clone, PartialEq)]
pub enum QueryKind {
    Instant,
    /// the last `lookback_days` days, one sample every `step_days`
    Range {
        lookback_days: u64,
        step_days: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// fact `prometheus.<name>`
    pub name: String,
    pub expr: String,
    pub label: String,
    pub kind: QueryKind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub name: String,
    pub endpoint: String,
    pub token_env: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub timeout_secs: u64,
    pub label_annotation: String,
    pub required: bool,
    /// evaluate every query at this time instead of the run's (replays, the demo's fixed data)
    pub at: Option<DateTime<Utc>>,
    pub queries: Vec<Query>,
}

/// What the source knows of a component.
#[derive(Debug, Clone)]
pub struct Component {
    pub entity_ref: String,
    pub name: String,
    pub annotations: BTreeMap<String, String>,
}

/// A problem, its message naming the source and query (the message is what a terminal shows).
fn err(cfg: &Config, kind: SourceErrorKind, location: String, message: String) -> SourceError {
    let message = format!("{} ({location}): {message}", cfg.name);
    SourceError { source: cfg.name.clone(), kind, location: Some(location), entity: None, message }
}

/// Installs rustls' ring provider for every HTTP client of the process (once; later calls
/// do nothing). ring builds with a C compiler alone (aws-lc needs more); it has no
/// post-quantum key exchange, which these servers do not offer anyway.
pub fn install_tls() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client: one reqwest client with the auth header and the timeout.
fn client(cfg: &Config) -> Result<prometheus_http_query::Client, String> {
    use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
    install_tls();
    let mut headers = HeaderMap::new();
    let var = |name: &str| std::env::var(name).map_err(|_| format!("environment variable {name} is not set"));
    if let Some(t) = &cfg.token_env {
        let token = var(t)?;
        let mut v = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| format!("{t} holds characters a header cannot carry"))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    } else if let (Some(u), Some(p)) = (&cfg.username_env, &cfg.password_env) {
        use base64::Engine as _;
        let cred = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", var(u)?, var(p)?));
        let mut v = HeaderValue::from_str(&format!("Basic {cred}")).map_err(|_| "credentials a header cannot carry".to_owned())?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    prometheus_http_query::Client::from(http, &cfg.endpoint).map_err(|e| format!("endpoint {}: {e}", cfg.endpoint))
}

/// A sample value: finite numbers are values; NaN and ±Inf are not.
fn sample_value(v: &Value) -> Option<f64> {
    let s = v.as_str()?;
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn at(ts: f64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt((ts * 1000.0).round() as i64).single().unwrap_or_else(Utc::now)
}

/// Runs every query once; facts for the components their series name.
pub async fn collect(cfg: &Config, components: &[Component], now: DateTime<Utc>) -> SourceOutput {
    let now = cfg.at.unwrap_or(now);
    let mut out = SourceOutput { name: cfg.name.clone(), required: cfg.required, ..Default::default() };
    let client = match client(cfg) {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(err(cfg, SourceErrorKind::Unavailable, cfg.endpoint.clone(), e));
            out.unavailable = true;
            return out;
        }
    };
    // label value → components (several components may share one, e.g. an annotation)
    let mut by_value: HashMap<&str, Vec<&Component>> = HashMap::new();
    for c in components {
        let v = c.annotations.get(&cfg.label_annotation).map(String::as_str).unwrap_or(&c.name);
        by_value.entry(v).or_default().push(c);
    }
    let mut reachable = false;
    for q in &cfg.queries {
        let location = format!("{} query {}", cfg.endpoint, q.name);
        let t = now.timestamp();
        let (evidence, sent) = match &q.kind {
            QueryKind::Instant => (
                format!("{} at {} on {}", q.expr, now.format("%Y-%m-%dT%H:%M:%SZ"), cfg.endpoint),
                client.query(q.expr.as_str()).at(t).get_raw().await,
            ),
            QueryKind::Range { lookback_days, step_days } => {
                let start = t - (*lookback_days as i64) * 86_400;
                (
                    format!(
                        "{} from {} to {} every {}d on {}",
                        q.expr,
                        Utc.timestamp_opt(start, 0).single().unwrap_or(now).format("%Y-%m-%dT%H:%M:%SZ"),
                        now.format("%Y-%m-%dT%H:%M:%SZ"),
                        step_days,
                        cfg.endpoint
                    ),
                    client.query_range(q.expr.as_str(), start, t, (*step_days as f64) * 86_400.0).get_raw().await,
                )
            }
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(err(cfg, SourceErrorKind::Unavailable, location, format!("request failed: {}", describe(&e))));
                continue;
            }
        };
        reachable = true;
        let status = response.status();
        let is_json =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json"));
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => {
                out.errors.push(err(cfg, SourceErrorKind::Unavailable, location, format!("reading the answer failed: {e}")));
                continue;
            }
        };
        if !is_json {
            let head: String = body.chars().take(120).collect();
            out.errors.push(err(
                cfg,
                SourceErrorKind::QueryFailed,
                location,
                format!("HTTP {status} with a non-JSON answer (a proxy?): {head:?}"),
            ));
            continue;
        }
        let v: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(err(
                    cfg,
                    SourceErrorKind::QueryFailed,
                    location,
                    format!("HTTP {status}: the answer is not valid JSON: {e}"),
                ));
                continue;
            }
        };
        for w in v.get("warnings").and_then(Value::as_array).into_iter().flatten() {
            out.errors.push(err(
                cfg,
                SourceErrorKind::Warning,
                location.clone(),
                format!("Prometheus warns: {}", w.as_str().unwrap_or_default()),
            ));
        }
        if v.get("status").and_then(Value::as_str) != Some("success") {
            out.errors.push(err(
                cfg,
                SourceErrorKind::QueryFailed,
                location,
                format!(
                    "HTTP {status}, {}: {}",
                    v.get("errorType").and_then(Value::as_str).unwrap_or("error"),
                    v.get("error").and_then(Value::as_str).unwrap_or("(no message)")
                ),
            ));
            continue;
        }
        let result = v.pointer("/data/result").and_then(Value::as_array).cloned().unwrap_or_default();
        let fact = format!("prometheus.{}", q.name);
        let mut unmatched: Vec<String> = Vec::new();
        let mut unlabeled = 0usize;
        let mut not_finite = 0usize;
        for series in &result {
            let Some(value) = series.pointer(&format!("/metric/{}", q.label)).and_then(Value::as_str) else {
                unlabeled += 1;
                continue;
            };
            let Some(comps) = by_value.get(value) else {
                unmatched.push(value.to_owned());
                continue;
            };
            let samples: Vec<(f64, &Value)> = if let Some(s) = series.get("value").and_then(Value::as_array) {
                vec![(s.first().and_then(Value::as_f64).unwrap_or(t as f64), s.get(1).unwrap_or(&Value::Null))]
            } else {
                series
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_array())
                    .map(|s| (s.first().and_then(Value::as_f64).unwrap_or(0.0), s.get(1).unwrap_or(&Value::Null)))
                    .collect()
            };
            for (ts, raw) in samples {
                let Some(x) = sample_value(raw) else {
                    not_finite += 1;
                    continue;
                };
                for c in comps {
                    out.facts.push(Fact {
                        entity_ref: c.entity_ref.clone(),
                        source: cfg.name.clone(),
                        fact: fact.clone(),
                        value: FactValue::Number(x),
                        observed_at: at(ts),
                        evidence: format!("{evidence}; series {}=\"{value}\"", q.label),
                    });
                }
            }
        }
        if !unmatched.is_empty() {
            unmatched.sort();
            let first: Vec<&str> = unmatched.iter().take(10).map(String::as_str).collect();
            out.errors.push(err(
                cfg,
                SourceErrorKind::Unmatched,
                location.clone(),
                format!(
                    "{} series name no component by their {} label: {}{}",
                    unmatched.len(),
                    q.label,
                    first.join(", "),
                    if unmatched.len() > first.len() { ", …" } else { "" }
                ),
            ));
        }
        if unlabeled > 0 {
            out.errors.push(err(
                cfg,
                SourceErrorKind::Unmatched,
                location.clone(),
                format!("{unlabeled} series have no {} label", q.label),
            ));
        }
        if not_finite > 0 {
            out.errors.push(err(
                cfg,
                SourceErrorKind::Warning,
                location.clone(),
                format!("{not_finite} samples were NaN or infinite: left out (the fact is unknown there)"),
            ));
        }
    }
    if !reachable && !cfg.queries.is_empty() {
        out.unavailable = true;
    }
    out
}

/// A request error without the URL's credentials (reqwest errors name the URL).
fn describe(e: &prometheus_http_query::Error) -> String {
    match e {
        prometheus_http_query::Error::Client(c) => match c.inner() {
            Some(r) if r.is_timeout() => "timed out".into(),
            Some(r) if r.is_connect() => "cannot connect".into(),
            Some(r) => r.without_url_string(),
            None => c.to_string(),
        },
        other => other.to_string(),
    }
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut s = self.to_string();
        if let Some(u) = self.url() {
            s = s.replace(u.as_str(), "<endpoint>");
        }
        s
    }
}
