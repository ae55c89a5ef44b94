//! A fake S3-compatible object store on loopback (path-style: `/<bucket>/<key>`), for tests
//! of `s3://` shard folders: PUT, GET, DELETE and ListObjectsV2 (`list-type=2`, `prefix`,
//! `continuation-token`, pages of `page_size` keys), binary bodies, S3's XML errors
//! (`NoSuchKey`, `NoSuchBucket`, `SignatureDoesNotMatch`, `XAmzContentSHA256Mismatch`).
//! Every request must carry a valid AWS Signature Version 4 for the fake's credentials (the
//! signing itself is checked against AWS's published example in `objstore`'s tests).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::bench::loopback::Request;
use crate::objstore::{authorization, Config};

pub struct FakeS3 {
    pub port: u16,
    pub bucket: String,
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// (method, path and query) of every request
    pub requests: Mutex<Vec<String>>,
    page_size: usize,
    cfg: Config,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn error(status: u16, code: &str, message: &str) -> (u16, Vec<u8>) {
    (
        status,
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>", xml_escape(message))
            .into_bytes(),
    )
}

impl FakeS3 {
    /// Serves bucket `bucket` for the credentials `access_key`/`secret_key` (region
    /// us-east-1), listing `page_size` keys per page.
    pub fn start(bucket: &str, access_key: &str, secret_key: &str, page_size: usize) -> Arc<FakeS3> {
        let cfg = Config {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            session_token: None,
            region: "us-east-1".into(),
            endpoint: None,
        };
        let fake = Arc::new_cyclic(|weak: &std::sync::Weak<FakeS3>| {
            let weak = weak.clone();
            let (port, _) = crate::bench::loopback::serve_bytes(Arc::new(move |r: &Request| match weak.upgrade() {
                Some(f) => {
                    let (status, body) = f.answer(&r.method, &r.path, &r.headers, &r.bytes);
                    (status, "application/xml", body)
                }
                None => (503, "application/xml", Vec::new()),
            }));
            FakeS3 {
                port,
                bucket: bucket.to_owned(),
                objects: Mutex::new(BTreeMap::new()),
                requests: Mutex::new(Vec::new()),
                page_size: page_size.max(1),
                cfg,
            }
        });
        fake
    }

    /// The endpoint to give as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn check_signature(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let Some(auth) = get("authorization") else { return Some(error(403, "AccessDenied", "no Authorization header")) };
        let signed: Vec<&str> = auth.split("SignedHeaders=").nth(1).and_then(|s| s.split(',').next()).unwrap_or("").split(';').collect();
        let (Some(date), Some(payload)) = (get("x-amz-date"), get("x-amz-content-sha256")) else {
            return Some(error(400, "InvalidRequest", "x-amz-date and x-amz-content-sha256 are required"));
        };
        let digest: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        if payload != "UNSIGNED-PAYLOAD" && payload != digest {
            return Some(error(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        let Ok(t) = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ") else {
            return Some(error(400, "InvalidRequest", "bad x-amz-date"));
        };
        let signed_headers: Vec<(String, String)> = signed.iter().filter_map(|n| get(n).map(|v| ((*n).to_owned(), v.to_owned()))).collect();
        let expected = authorization(&self.cfg, method, path, query, &signed_headers, payload, Utc.from_utc_datetime(&t));
        if expected != auth {
            return Some(error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        None
    }

    fn answer(&self, method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
        if let Ok(mut r) = self.requests.lock() {
            r.push(format!("{method} {target}"));
        }
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let path = percent_decode(raw_path);
        let query: Vec<(String, String)> = raw_query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        if let Some(e) = self.check_signature(method, &path, &query, headers, body) {
            return e;
        }
        let rest = path.trim_start_matches('/');
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket != self.bucket {
            return error(404, "NoSuchBucket", "The specified bucket does not exist");
        }
        let q = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        match (method, key.is_empty()) {
            ("PUT", false) => {
                objects.insert(key.to_owned(), body.to_vec());
                (200, Vec::new())
            }
            ("GET", false) => match objects.get(key) {
                Some(b) => (200, b.clone()),
                None => error(404, "NoSuchKey", "The specified key does not exist."),
            },
            ("DELETE", false) => {
                objects.remove(key);
                (204, Vec::new())
            }
            ("GET", true) if q("list-type") == Some("2") => {
                let prefix = q("prefix").unwrap_or("");
                let after = q("continuation-token").unwrap_or("");
                let keys: Vec<&String> = objects.keys().filter(|k| k.starts_with(prefix) && k.as_str() > after).collect();
                let page: Vec<&&String> = keys.iter().take(self.page_size).collect();
                let truncated = keys.len() > page.len();
                let mut xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
                    xml_escape(&self.bucket),
                    xml_escape(prefix),
                    page.len(),
                    self.page_size
                );
                for k in &page {
                    xml.push_str(&format!(
                        "<Contents><Key>{}</Key><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                        xml_escape(k),
                        objects[**k].len()
                    ));
                }
                if truncated {
                    if let Some(last) = page.last() {
                        xml.push_str(&format!("<NextContinuationToken>{}</NextContinuationToken>", xml_escape(last)));
                    }
                }
                xml.push_str("</ListBucketResult>");
                (200, xml.into_bytes())
            }
            _ => error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."),
        }
    }
}
