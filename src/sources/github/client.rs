//! The GitHub HTTP client: octocrab underneath (authentication, base URI, GitHub App
//! installation tokens), with echo-health's own pacing on top (`contracts.md` §E.2):
//!
//! - at most `concurrency` requests in flight (a semaphore);
//! - every answer's `x-ratelimit-remaining` / `x-ratelimit-reset` (per `x-ratelimit-resource`)
//!   and every GraphQL `rateLimit { cost remaining resetAt }` is remembered; before a request,
//!   a resource at or below `min_remaining` waits for its reset when that is at most
//!   `max_wait_secs` away, else the request is not made (an error says when it resets);
//! - 403/429 answers are rate limits: `retry-after` is honoured, else the reset when the
//!   remaining count is 0, else (a secondary limit) `secondary_wait_secs` doubling per retry;
//! - 502/503/504 and transport errors are retried (twice, 1 s then 2 s); GraphQL callers
//!   also shrink their page on a 502/504;
//! - conditional GETs: a cached ETag is sent as `If-None-Match`; a 304 returns the cached body
//!   and costs no rate limit.
//!
//! Tokens are only ever held by octocrab (as secrets); nothing here formats a header value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use octocrab::Octocrab;
use serde_json::Value;
use tokio::sync::Semaphore;

/// How the client authenticates (values are read from the environment by the caller).
pub enum Auth {
    None,
    Token(String),
    App { app_id: u64, key_pem: Vec<u8>, installation_id: u64 },
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub concurrency: usize,
    pub min_remaining: u64,
    pub max_wait_secs: u64,
    pub secondary_wait_secs: u64,
    pub timeout_secs: u64,
}

/// What the client did, for the run summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub requests: u64,
    pub graphql_requests: u64,
    pub rest_requests: u64,
    /// conditional GETs answered 304 (free of rate limit)
    pub not_modified: u64,
    /// GraphQL points spent (sum of `rateLimit.cost`)
    pub graphql_points: u64,
    /// REST requests that counted against the primary limit (not 304)
    pub rest_points: u64,
    /// answers that were rate limits (403/429), primary or secondary
    pub rate_limited: u64,
    pub retries: u64,
    /// seconds spent waiting for rate limits
    pub waited_secs: f64,
}

/// A failed request: what happened, with the URL (never a token).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub url: String,
    pub status: Option<u16>,
    pub message: String,
    /// a rate limit that would have been exhausted (not worth retrying this run)
    pub rate_limited: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} answered {s}: {}", self.url, self.message),
            None => write!(f, "{}: {}", self.url, self.message),
        }
    }
}

/// An answer: status, the headers we read, body text.
pub struct Answer {
    pub status: u16,
    pub etag: Option<String>,
    pub link_next: Option<String>,
    pub body: String,
    /// a 304: `body` is the cached body
    pub not_modified: bool,
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u64,
    reset: i64,
}

pub struct Client {
    rest: Octocrab,
    /// a second client when GraphQL lives elsewhere (Enterprise Server's `/api/graphql`)
    graphql: Option<Octocrab>,
    /// e.g. `https://api.github.com`, for messages
    pub api_url: String,
    graphql_url: String,
    limits: Limits,
    sem: Semaphore,
    budgets: Mutex<HashMap<String, Budget>>,
    stats: Mutex<Stats>,
}

fn build(base: &str, auth: &Auth, timeout: Duration) -> Result<Octocrab, String> {
    let b = Octocrab::builder()
        .base_uri(base)
        .map_err(|e| format!("{base} is not a usable API URL: {e}"))?
        .add_header(http::header::ACCEPT, "application/vnd.github+json".into())
        .add_header(HeaderName::from_static("x-github-api-version"), "2022-11-28".into())
        .set_connect_timeout(Some(timeout))
        .set_read_timeout(Some(timeout))
        .set_write_timeout(Some(timeout));
    match auth {
        Auth::None => b.build().map_err(|e| e.to_string()),
        Auth::Token(t) => b.personal_token(t.clone()).build().map_err(|e| e.to_string()),
        Auth::App { app_id, key_pem, installation_id } => {
            let key = octocrab::EncodingKey::from_rsa_pem(key_pem)
                .map_err(|e| format!("the GitHub App private key is not an RSA PEM key: {e}"))?;
            let app = b.app(octocrab::models::AppId(*app_id), key).build().map_err(|e| e.to_string())?;
            app.installation(octocrab::models::InstallationId(*installation_id)).map_err(|e| e.to_string())
        }
    }
}

/// The path and query of `url` when it is on `base`'s host (octocrab adds the base back and
/// only authenticates relative requests).
fn relative(base: &str, url: &str) -> Option<String> {
    let b = url::Url::parse(base).ok()?;
    let u = url::Url::parse(url).ok()?;
    if u.host_str() != b.host_str() || u.port_or_known_default() != b.port_or_known_default() {
        return None;
    }
    let base_path = b.path().trim_end_matches('/');
    let path = u.path().strip_prefix(base_path).unwrap_or(u.path());
    Some(match u.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

/// `<url>; rel="next"` from a `Link` header.
pub fn link_next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let rel_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        rel_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Client {
    pub fn new(api_url: &str, graphql_url: &str, auth: &Auth, limits: Limits) -> Result<Client, String> {
        // rustls on ring for every client of the process (octocrab's connector included)
        crate::sources::prometheus::install_tls();
        let timeout = Duration::from_secs(limits.timeout_secs.max(1));
        let graphql_base = graphql_url.strip_suffix("/graphql").unwrap_or(graphql_url);
        let rest = build(api_url, auth, timeout)?;
        // one client when both APIs share a base (GitHub.com): one installation token, too
        // (octocrab's clones copy the token cache rather than share it)
        let graphql = if graphql_base.trim_end_matches('/') == api_url.trim_end_matches('/') {
            None
        } else {
            Some(build(graphql_base, auth, timeout)?)
        };
        Ok(Client {
            rest,
            graphql,
            api_url: api_url.trim_end_matches('/').to_owned(),
            graphql_url: graphql_url.to_owned(),
            sem: Semaphore::new(limits.concurrency.max(1)),
            limits,
            budgets: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
        })
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap().clone()
    }

    /// Remembers a GraphQL `rateLimit` block (spent points and what is left).
    pub fn note_graphql_rate_limit(&self, rl: &Value) {
        if let Some(cost) = rl.get("cost").and_then(Value::as_u64) {
            self.stats.lock().unwrap().graphql_points += cost;
        }
        if let (Some(remaining), Some(reset)) = (
            rl.get("remaining").and_then(Value::as_u64),
            rl.get("resetAt").and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()),
        ) {
            self.budgets.lock().unwrap().insert("graphql".into(), Budget { remaining, reset: reset.timestamp() });
        }
    }

    /// Waits (within `max_wait_secs`) until `resource` has more than `min_remaining` left.
    async fn pace(&self, resource: &str, url: &str) -> Result<(), ApiError> {
        let budget = self.budgets.lock().unwrap().get(resource).copied();
        if let Some(b) = budget {
            if b.remaining <= self.limits.min_remaining {
                let now = Utc::now().timestamp();
                let wait = (b.reset - now).max(0) as u64 + 1;
                if b.reset > now && wait > self.limits.max_wait_secs {
                    return Err(ApiError {
                        url: url.to_owned(),
                        status: None,
                        message: format!(
                            "stopped before exhausting the {resource} rate limit: {} left (keeping {} in reserve), it resets at {} (in {wait} s, more than max_wait_secs = {})",
                            b.remaining,
                            self.limits.min_remaining,
                            DateTime::from_timestamp(b.reset, 0).map(|d| d.to_rfc3339()).unwrap_or_default(),
                            self.limits.max_wait_secs
                        ),
                        rate_limited: true,
                    });
                }
                if b.reset > now {
                    tracing::warn!(resource, wait_secs = wait, remaining = b.remaining, "GitHub rate limit low: waiting for its reset");
                    self.sleep(wait as f64).await;
                }
                self.budgets.lock().unwrap().remove(resource);
            }
        }
        Ok(())
    }

    async fn sleep(&self, secs: f64) {
        self.stats.lock().unwrap().waited_secs += secs;
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }

    /// A GraphQL request (its body is `{"query", "variables"}`); the answer's JSON.
    pub async fn graphql(&self, body: &Value) -> Result<Value, ApiError> {
        let a = self.send(true, "/graphql", None, Some(body)).await?;
        serde_json::from_str(&a.body).map_err(|e| ApiError {
            url: self.graphql_url.clone(),
            status: Some(a.status),
            message: format!("the answer is not JSON: {e}"),
            rate_limited: false,
        })
    }

    /// A REST GET of `path` (relative to the API URL, or a full URL on it, as `Link` gives);
    /// `cached` is an earlier (etag, body) for a conditional request.
    pub async fn get(&self, path: &str, cached: Option<(&str, &str)>) -> Result<Answer, ApiError> {
        let rel = if path.starts_with("http://") || path.starts_with("https://") {
            relative(&self.api_url, path).ok_or_else(|| ApiError {
                url: path.to_owned(),
                status: None,
                message: format!("a next-page link that leaves {}", self.api_url),
                rate_limited: false,
            })?
        } else {
            path.to_owned()
        };
        let mut a = self.send(false, &rel, cached.map(|c| c.0), None).await?;
        if a.status == 304 {
            if let Some((etag, body)) = cached {
                a.body = body.to_owned();
                a.etag = Some(etag.to_owned());
                a.not_modified = true;
            }
        }
        Ok(a)
    }

    async fn send(&self, graphql: bool, path: &str, etag: Option<&str>, body: Option<&Value>) -> Result<Answer, ApiError> {
        let shown = if graphql { self.graphql_url.clone() } else { format!("{}{path}", self.api_url) };
        let resource = if graphql { "graphql" } else { "core" };
        let mut attempt = 0u32;
        loop {
            self.pace(resource, &shown).await?;
            let permit = self.sem.acquire().await.expect("the semaphore is never closed");
            {
                let mut s = self.stats.lock().unwrap();
                s.requests += 1;
                if graphql {
                    s.graphql_requests += 1;
                } else {
                    s.rest_requests += 1;
                }
            }
            let sent = if graphql {
                self.graphql.as_ref().unwrap_or(&self.rest)._post(path, body).await
            } else {
                let mut h = HeaderMap::new();
                if let Some(e) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
                    h.insert(http::header::IF_NONE_MATCH, e);
                }
                self.rest._get_with_headers(path, Some(h)).await
            };
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    let message = transport_message(&e);
                    if attempt < 2 {
                        attempt += 1;
                        self.stats.lock().unwrap().retries += 1;
                        tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                        continue;
                    }
                    return Err(ApiError { url: shown, status: None, message, rate_limited: false });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = match self.rest.body_to_string(resp).await {
                Ok(t) => t,
                Err(e) => {
                    drop(permit);
                    return Err(ApiError {
                        url: shown,
                        status: Some(status),
                        message: format!("reading the answer failed: {e}"),
                        rate_limited: false,
                    });
                }
            };
            drop(permit);
            // remember the budget this answer reports
            let remaining = header(&headers, "x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok());
            let reset = header(&headers, "x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
            let res_name = header(&headers, "x-ratelimit-resource").unwrap_or(resource).to_owned();
            if let (Some(remaining), Some(reset)) = (remaining, reset) {
                self.budgets.lock().unwrap().insert(res_name, Budget { remaining, reset });
            }
            if status == 304 {
                self.stats.lock().unwrap().not_modified += 1;
            } else if !graphql {
                self.stats.lock().unwrap().rest_points += 1;
            }
            if status == 403 || status == 429 {
                let retry_after = header(&headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok());
                let is_limit = retry_after.is_some() || remaining == Some(0) || text.to_ascii_lowercase().contains("rate limit");
                if is_limit {
                    self.stats.lock().unwrap().rate_limited += 1;
                    let now = Utc::now().timestamp();
                    let wait = match (retry_after, remaining, reset) {
                        (Some(s), _, _) => s,
                        (None, Some(0), Some(r)) => (r - now).max(0) as u64 + 1,
                        _ => self.limits.secondary_wait_secs << attempt.min(4),
                    };
                    if attempt < 3 && wait <= self.limits.max_wait_secs {
                        attempt += 1;
                        self.stats.lock().unwrap().retries += 1;
                        tracing::warn!(url = shown, status, wait_secs = wait, "GitHub rate limit: waiting before retrying");
                        self.sleep(wait as f64).await;
                        continue;
                    }
                    return Err(ApiError {
                        url: shown,
                        status: Some(status),
                        message: format!(
                            "rate limited ({}); waiting {wait} s would pass max_wait_secs = {} or the retries are used up",
                            github_message(&text),
                            self.limits.max_wait_secs
                        ),
                        rate_limited: true,
                    });
                }
            }
            if matches!(status, 500 | 502 | 503 | 504) && attempt < 2 && !graphql {
                attempt += 1;
                self.stats.lock().unwrap().retries += 1;
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                continue;
            }
            let etag = header(&headers, "etag").map(str::to_owned);
            let link_next = header(&headers, "link").and_then(link_next);
            if (200..300).contains(&status) || status == 304 {
                return Ok(Answer { status, etag, link_next, body: text, not_modified: false });
            }
            return Err(ApiError { url: shown, status: Some(status), message: github_message(&text), rate_limited: false });
        }
    }
}

/// What GitHub said: `message` of its error body, else the first words of the body.
pub fn github_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return m.to_owned();
        }
    }
    let t: String = body.chars().take(200).collect();
    if t.trim().is_empty() {
        "no message".into()
    } else {
        t.trim().to_owned()
    }
}

/// A transport failure in words (octocrab's errors never carry headers, so no token).
fn transport_message(e: &octocrab::Error) -> String {
    let s = format!("{e}");
    let lower = format!("{e:?}").to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") || lower.contains("elapsed") {
        "timed out".into()
    } else if lower.contains("connect") {
        format!("cannot connect ({s})")
    } else {
        format!("request failed ({s})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        let l = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(link_next(l).as_deref(), Some("https://api.github.com/repositories/1/pulls?page=2"));
        assert_eq!(link_next(r#"<https://x/y?page=1>; rel="prev""#), None);
    }

    #[test]
    fn relative_paths_stay_on_the_api_host() {
        assert_eq!(
            relative("https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/repos/a/b?after=x").as_deref(),
            Some("/repos/a/b?after=x")
        );
        assert_eq!(relative("https://api.github.com", "https://evil.example.com/repos/a/b"), None);
    }
}
