//! A live Backstage as a catalog source (`contracts.md` §A.8): `GET <base>/entities/by-query`
//! with the configured `filter`s and a `fields` list, following `pageInfo.nextCursor` until it
//! is absent, with a bearer token from an environment variable.
//!
//! Entities arrive in Backstage's processed form; their `relations` and `status` are dropped
//! (echo-health derives relations itself) and each entity then goes through the same parser,
//! validator and assembly as a file, named `<base>/entities/by-name/<kind>/<namespace>/<name>`.
//! A Backstage that cannot be read (unreachable, 401, 5xx after two retries, an answer that is
//! not the contract's) is a `source` error: the run is recorded but fails, because a partial
//! catalog would make components seem to vanish.

use std::time::Duration;

use serde_json::Value;

use super::files::{validate_into, FilesOutput};
use super::{CatalogError, ErrorKind, Origin, RawDoc, Severity};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `https://backstage.example.com/api/catalog`
    pub base_url: String,
    pub token_env: Option<String>,
    /// `filter` parameters (each ORed with the others; commas AND within one)
    pub filters: Vec<String>,
    pub page_size: u64,
    pub timeout_secs: u64,
}

/// Pages read at most (a guard against a server whose cursor never ends).
const MAX_PAGES: usize = 10_000;
/// The fields read: what the catalog model needs, without Backstage's relations.
const FIELDS: &str = "apiVersion,kind,metadata,spec";

fn source_error(cfg: &Config, message: String) -> CatalogError {
    CatalogError {
        kind: ErrorKind::Source,
        severity: Severity::Error,
        file: Some(cfg.base_url.clone()),
        line: None,
        entity: None,
        message: format!("Backstage catalog {}: {message}", cfg.base_url),
    }
}

/// What Backstage said in its error body (`{"error": {"name", "message"}}`), else the first
/// words of the body.
fn backstage_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v.pointer("/error/message").and_then(Value::as_str) {
            let name = v.pointer("/error/name").and_then(Value::as_str).unwrap_or("Error");
            return format!("{name}: {m}");
        }
    }
    let t: String = body.chars().take(160).collect();
    t.trim().to_owned()
}

async fn page(http: &reqwest::Client, cfg: &Config, cursor: Option<&str>) -> Result<Value, String> {
    let url = format!("{}/entities/by-query", cfg.base_url.trim_end_matches('/'));
    let mut query: Vec<(&str, String)> = vec![("fields", FIELDS.to_owned()), ("limit", cfg.page_size.to_string())];
    match cursor {
        Some(c) => query.push(("cursor", c.to_owned())),
        None => {
            for f in &cfg.filters {
                query.push(("filter", f.clone()));
            }
            query.push(("orderField", "metadata.name,asc".into()));
        }
    }
    let mut attempt = 0;
    loop {
        let sent = http.get(&url).query(&query).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if attempt < 2 => {
                attempt += 1;
                tracing::warn!(url, "Backstage did not answer ({e}); retrying");
                tokio::time::sleep(Duration::from_secs(attempt)).await;
                continue;
            }
            Err(e) => {
                return Err(if e.is_timeout() { "timed out".into() } else { "cannot connect".to_owned() });
            }
        };
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| format!("reading the answer failed: {e}"))?;
        if status >= 500 && attempt < 2 {
            attempt += 1;
            tokio::time::sleep(Duration::from_secs(attempt)).await;
            continue;
        }
        if status != 200 {
            return Err(format!("answered {status} ({})", backstage_message(&body)));
        }
        return serde_json::from_str(&body).map_err(|e| format!("the answer is not JSON: {e}"));
    }
}

/// Reads every entity the filters select, page after page, into the same shape as files.
pub async fn discover(cfg: &Config) -> FilesOutput {
    crate::sources::prometheus::install_tls();
    let mut out = FilesOutput::default();
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(var) = &cfg.token_env {
        match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => match reqwest::header::HeaderValue::from_str(&format!("Bearer {}", t.trim())) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    headers.insert(reqwest::header::AUTHORIZATION, v);
                }
                Err(_) => {
                    out.errors.push(source_error(cfg, format!("environment variable {var} does not hold a usable token")));
                    return out;
                }
            },
            _ => {
                out.errors.push(source_error(cfg, format!("environment variable {var} is not set")));
                return out;
            }
        }
    }
    let http = match reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(cfg.timeout_secs.max(1))).build() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(source_error(cfg, format!("cannot build the HTTP client: {e}")));
            return out;
        }
    };
    let base = cfg.base_url.trim_end_matches('/');
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let v = match page(&http, cfg, cursor.as_deref()).await {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(source_error(cfg, e));
                // nothing of a partial read is kept: the catalog would be incomplete anyway
                out.docs.clear();
                return out;
            }
        };
        let Some(items) = v.get("items").and_then(Value::as_array) else {
            out.errors.push(source_error(cfg, "the answer has no `items` list (not /entities/by-query?)".into()));
            out.docs.clear();
            return out;
        };
        for item in items {
            let mut e = item.clone();
            if let Some(m) = e.as_object_mut() {
                m.remove("relations");
                m.remove("status");
            }
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("?").to_ascii_lowercase();
            let ns = e.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_owned();
            let name = e.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_owned();
            let display = format!("{base}/entities/by-name/{kind}/{ns}/{name}");
            let text = serde_json::to_string_pretty(&e).unwrap_or_default();
            out.files_read += 1;
            out.bytes_read += text.len() as u64;
            for (index, line, value) in validate_into(&text, &display, &mut out) {
                out.docs
                    .push(RawDoc { value, origin: Origin { file: display.clone(), doc: index, line, location_dir: Default::default() } });
            }
        }
        cursor = v.pointer("/pageInfo/nextCursor").and_then(Value::as_str).map(str::to_owned);
        if cursor.is_none() {
            return out;
        }
    }
    out.errors.push(source_error(cfg, format!("more than {MAX_PAGES} pages: stopped")));
    out.docs.clear();
    out
}
