//! Object storage for shards: the S3 API (AWS S3, and the S3-compatible stores MinIO, Ceph,
//! Cloudflare R2, GCS's XML API) with AWS Signature Version 4, for `s3://bucket/prefix`
//! shard folders. Four operations: PUT, GET, DELETE and ListObjectsV2 (with continuation
//! tokens).
//!
//! Credentials and endpoint come from the environment only, as the AWS tools read them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional), `AWS_REGION`
//! or `AWS_DEFAULT_REGION` (default us-east-1), and `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` for another store (path-style addressing:
//! `<endpoint>/<bucket>/<key>`); without one, `https://<bucket>.s3.<region>.amazonaws.com`.
//!
//! (Design §9 has DuckDB read shards through its httpfs extension. Bundled DuckDB here has no
//! httpfs — it needs OpenSSL and is otherwise downloaded at run time — so shards are copied
//! with this client and read locally.)

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `s3://bucket/prefix`: the bucket and the key prefix (no leading or trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    /// `Some` for an `s3://` URL, `None` for anything else (a local folder).
    pub fn parse(s: &str) -> Option<Result<Location, String>> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Some(Err(format!("{s:?}: the bucket must be a valid S3 bucket name")));
        }
        Some(Ok(Location { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() }))
    }

    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Credentials and where the store is.
#[derive(Clone)]
pub struct Config {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
    pub region: String,
    /// an S3-compatible endpoint (path-style), or None for AWS (virtual-hosted style)
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the secret or the token
        f.debug_struct("Config")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Config {
    /// From the AWS environment variables; names the missing one.
    pub fn from_env() -> Result<Config> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let access_key = var("AWS_ACCESS_KEY_ID").context("environment variable AWS_ACCESS_KEY_ID is not set (needed for s3:// shards)")?;
        let secret_key =
            var("AWS_SECRET_ACCESS_KEY").context("environment variable AWS_SECRET_ACCESS_KEY is not set (needed for s3:// shards)")?;
        Ok(Config {
            access_key,
            secret_key,
            session_token: var("AWS_SESSION_TOKEN"),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into()),
            endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")).map(|e| e.trim_end_matches('/').to_owned()),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// URI-encodes per SigV4: unreserved characters stay, everything else is %XX; `/` stays in
/// paths (`keep_slash`).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The SigV4 `Authorization` header of a request. `headers`: (lower-case name, value), every
/// header to sign (host, x-amz-*); `query`: decoded (name, value) pairs.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    cfg: &Config,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload_hash: &str,
    now: DateTime<Utc>,
) -> String {
    let date = now.format("%Y%m%d").to_string();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    q.sort();
    let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut h: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())).collect();
    h.sort();
    let canonical_headers: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = h.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical =
        format!("{method}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}", uri_encode(path, true));
    let scope = format!("{date}/{}/s3/aws4_request", cfg.region);
    let to_sign = format!("AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
    let key = hmac(&hmac(&hmac(&hmac(format!("AWS4{}", cfg.secret_key).as_bytes(), &date), &cfg.region), "s3"), "aws4_request");
    let signature = hex(&hmac(&key, &to_sign));
    format!("AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}", cfg.access_key)
}

/// An S3 client for one bucket.
pub struct Client {
    cfg: Config,
    bucket: String,
    http: reqwest::Client,
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Every `<tag>…</tag>` text of an XML document, in order.
fn xml_texts<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

impl Client {
    pub fn new(cfg: Config, bucket: &str) -> Result<Client> {
        crate::sources::prometheus::install_tls();
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(300)).build().context("building the HTTP client")?;
        Ok(Client { cfg, bucket: bucket.to_owned(), http })
    }

    /// (URL, host header, path to sign) of a key ("" for the bucket).
    fn target(&self, key: &str) -> Result<(String, String, String)> {
        match &self.cfg.endpoint {
            Some(ep) => {
                let u = url::Url::parse(ep).with_context(|| format!("AWS endpoint {ep:?} is not a URL"))?;
                let host = match u.port() {
                    Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                    None => u.host_str().unwrap_or_default().to_owned(),
                };
                let path = format!("/{}/{key}", self.bucket);
                Ok((format!("{ep}{}", uri_encode(&path, true)), host, path))
            }
            None => {
                let host = format!("{}.s3.{}.amazonaws.com", self.bucket, self.cfg.region);
                let path = format!("/{key}");
                Ok((format!("https://{host}{}", uri_encode(&path, true)), host, path))
            }
        }
    }

    async fn send(&self, method: reqwest::Method, key: &str, query: &[(String, String)], body: Vec<u8>) -> Result<Vec<u8>> {
        let (url, host, path) = self.target(key)?;
        let now = Utc::now();
        let payload = sha256_hex(&body);
        let mut headers = vec![
            ("host".to_owned(), host),
            ("x-amz-content-sha256".to_owned(), payload.clone()),
            ("x-amz-date".to_owned(), now.format("%Y%m%dT%H%M%SZ").to_string()),
        ];
        if let Some(t) = &self.cfg.session_token {
            headers.push(("x-amz-security-token".to_owned(), t.clone()));
        }
        let auth = authorization(&self.cfg, method.as_str(), &path, query, &headers, &payload, now);
        // the query exactly as signed (reqwest's form encoding writes spaces as '+')
        let url = if query.is_empty() {
            url
        } else {
            format!(
                "{url}?{}",
                query.iter().map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false))).collect::<Vec<_>>().join("&")
            )
        };
        let mut req = self.http.request(method.clone(), &url).body(body);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        let mut auth = reqwest::header::HeaderValue::from_str(&auth)?;
        auth.set_sensitive(true);
        let resp = req
            .header(reqwest::header::AUTHORIZATION, auth)
            .send()
            .await
            .with_context(|| format!("{method} s3://{}/{key}", self.bucket))?;
        let status = resp.status();
        let bytes = resp.bytes().await.with_context(|| format!("{method} s3://{}/{key}: reading the answer", self.bucket))?.to_vec();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let code = xml_texts(&text, "Code").first().map(|c| c.to_string()).unwrap_or_default();
            let msg = xml_texts(&text, "Message").first().map(|c| xml_unescape(c)).unwrap_or_default();
            bail!("{method} s3://{}/{key}: HTTP {status} {code} {msg}", self.bucket);
        }
        Ok(bytes)
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<()> {
        self.send(reqwest::Method::PUT, key, &[], body).await.map(|_| ())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.send(reqwest::Method::GET, key, &[], Vec::new()).await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.send(reqwest::Method::DELETE, key, &[], Vec::new()).await.map(|_| ())
    }

    /// Every key under `prefix` (ListObjectsV2, following continuation tokens).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("list-type".to_owned(), "2".to_owned()), ("prefix".to_owned(), prefix.to_owned())];
            if let Some(t) = &token {
                q.push(("continuation-token".to_owned(), t.clone()));
            }
            let body = self.send(reqwest::Method::GET, "", &q, Vec::new()).await?;
            let xml = String::from_utf8_lossy(&body);
            for contents in xml_texts(&xml, "Contents") {
                if let Some(k) = xml_texts(contents, "Key").first() {
                    keys.push(xml_unescape(k));
                }
            }
            let truncated = xml_texts(&xml, "IsTruncated").first() == Some(&"true");
            token = xml_texts(&xml, "NextContinuationToken").first().map(|t| xml_unescape(t));
            if !truncated || token.is_none() {
                break;
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own example ("Example: GET Object", Signature Version 4 for Amazon S3).
    #[test]
    fn signatures_match_the_aws_documentation_example() {
        let cfg = Config {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            region: "us-east-1".into(),
            endpoint: None,
        };
        let now = DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z").unwrap().with_timezone(&Utc);
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let headers = vec![
            ("host".to_owned(), "examplebucket.s3.amazonaws.com".to_owned()),
            ("range".to_owned(), "bytes=0-9".to_owned()),
            ("x-amz-content-sha256".to_owned(), empty.to_owned()),
            ("x-amz-date".to_owned(), "20130524T000000Z".to_owned()),
        ];
        let a = authorization(&cfg, "GET", "/test.txt", &[], &headers, empty, now);
        assert_eq!(
            a,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(format!("{cfg:?}").contains("EXAMPLEKEY"), false, "Debug never shows the secret");
    }

    #[test]
    fn locations_and_lists_are_read() {
        assert_eq!(Location::parse("/tmp/x"), None);
        let l = Location::parse("s3://my-bucket/runs/shards/").unwrap().unwrap();
        assert_eq!((l.bucket.as_str(), l.key("a/b")), ("my-bucket", "runs/shards/a/b".to_owned()));
        assert!(Location::parse("s3:///x").unwrap().is_err());
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b</Key></Contents><Contents><Key>c</Key></Contents><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        let keys: Vec<String> =
            xml_texts(xml, "Contents").iter().filter_map(|c| xml_texts(c, "Key").first().map(|k| xml_unescape(k))).collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(uri_encode("a b/c~", true), "a%20b/c~");
    }
}
