//! Plain-scalar resolution: YAML 1.2 core schema (the npm `yaml` default) and YAML 1.1
//! (under a `%YAML 1.1` directive), returning the JSON value a JavaScript reader would get
//! after a JSON round trip (so `.inf` and `.nan` become `null`).

use serde_json::{Number, Value};

/// Resolves an untagged plain scalar.
pub fn resolve_plain(s: &str, yaml11: bool) -> Value {
    if yaml11 {
        resolve_11(s)
    } else {
        resolve_core(s)
    }
}

/// True when a plain scalar resolves to a string under the core schema (fast check used by
/// the fast path for keys and most values).
#[inline]
pub fn core_is_string(s: &str) -> bool {
    match s.as_bytes().first() {
        None => false,
        Some(b) => match b {
            b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'.' | b'+' | b'-' | b'0'..=b'9' => {
                matches!(resolve_core(s), Value::String(_))
            }
            _ => true,
        },
    }
}

pub fn resolve_core(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let b = s.as_bytes();
    let first = b[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::String(s.to_owned());
    }
    // 0o17, 0x1F
    if let Some(rest) = s.strip_prefix("0o") {
        if !rest.is_empty() && rest.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return int_from_radix(rest, 8, false).unwrap_or_else(|| Value::String(s.to_owned()));
        }
    }
    if let Some(rest) = s.strip_prefix("0x") {
        if !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_hexdigit()) {
            return int_from_radix(rest, 16, false).unwrap_or_else(|| Value::String(s.to_owned()));
        }
    }
    // [-+]?[0-9]+
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return int_from_radix(digits, 10, neg).unwrap_or_else(|| Value::String(s.to_owned()));
    }
    // [-+]?.inf, .nan → null after a JSON round trip
    match digits {
        ".inf" | ".Inf" | ".INF" => return Value::Null,
        _ => {}
    }
    match s {
        ".nan" | ".NaN" | ".NAN" => return Value::Null,
        _ => {}
    }
    if is_core_float(digits) {
        if let Ok(f) = s.parse::<f64>() {
            return float_value(f);
        }
    }
    Value::String(s.to_owned())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(d: &str) -> bool {
    let b = d.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    let mut has_dot = false;
    if i < b.len() && b[i] == b'.' {
        has_dot = true;
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - fs;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if int_digits == 0 && !has_dot {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return false;
        }
    }
    i == b.len()
}

fn int_from_radix(digits: &str, radix: u32, neg: bool) -> Option<Value> {
    match u64::from_str_radix(digits, radix) {
        Ok(u) => {
            if neg {
                if u <= i64::MAX as u64 + 1 {
                    Some(Value::Number(Number::from((u as i128).wrapping_neg() as i64)))
                } else {
                    Some(float_value(-(u as f64)))
                }
            } else {
                Some(Value::Number(Number::from(u)))
            }
        }
        Err(_) => {
            // too large for 64 bits: JavaScript keeps it as a (lossy) number
            let mut f = 0f64;
            for c in digits.chars() {
                f = f * radix as f64 + c.to_digit(radix)? as f64;
            }
            Some(float_value(if neg { -f } else { f }))
        }
    }
}

/// A finite float becomes a JSON number (integral values as integers, as JSON.stringify
/// writes them); non-finite values become `null`.
pub fn float_value(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

/// YAML 1.1 resolution as the npm `yaml` package's `yaml-1.1` schema does it.
pub fn resolve_11(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Value::Bool(false),
        _ => {}
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return Value::String(s.to_owned());
    }
    if let Some(r) = clean.strip_prefix("0b") {
        if !r.is_empty() && r.bytes().all(|c| c == b'0' || c == b'1') {
            return int_from_radix(r, 2, neg).unwrap_or_else(|| Value::String(s.to_owned()));
        }
    }
    if let Some(r) = clean.strip_prefix("0x") {
        if !r.is_empty() && r.bytes().all(|c| c.is_ascii_hexdigit()) {
            return int_from_radix(r, 16, neg).unwrap_or_else(|| Value::String(s.to_owned()));
        }
    }
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return int_from_radix(&clean[1..], 8, neg).unwrap_or_else(|| Value::String(s.to_owned()));
    }
    if clean.bytes().all(|c| c.is_ascii_digit()) && body.as_bytes()[0].is_ascii_digit() {
        return int_from_radix(&clean, 10, neg).unwrap_or_else(|| Value::String(s.to_owned()));
    }
    // sexagesimal 190:20:30
    if body.contains(':') && body.as_bytes()[0].is_ascii_digit() {
        let parts: Vec<&str> = clean.split(':').collect();
        if parts.iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
            && parts[1..].iter().all(|p| p.len() <= 2 && p.parse::<u32>().map(|v| v < 60).unwrap_or(false))
        {
            let mut v = 0f64;
            for p in parts {
                v = v * 60.0 + p.parse::<f64>().unwrap_or(0.0);
            }
            return float_value(if neg { -v } else { v });
        }
    }
    match body {
        ".inf" | ".Inf" | ".INF" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Null,
        _ => {}
    }
    if is_core_float(&clean) {
        if let Ok(f) = clean.parse::<f64>() {
            return float_value(if neg { -f } else { f });
        }
    }
    // timestamps become ISO strings after a JSON round trip: still strings
    Value::String(s.to_owned())
}

/// Stringifies a non-string mapping key the way JavaScript does when a map becomes a JSON
/// object (`42` → `"42"`, `true` → `"true"`, `null` → `""`, `[a, b]` → `"[ a, b ]"`).
pub fn js_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            if items.is_empty() {
                "[]".into()
            } else {
                format!("[ {} ]", items.iter().map(js_flow).collect::<Vec<_>>().join(", "))
            }
        }
        Value::Object(map) => {
            if map.is_empty() {
                "{}".into()
            } else {
                format!("{{ {} }}", map.iter().map(|(k, v)| format!("{k}: {}", js_flow(v))).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

fn js_flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        _ => js_key(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_schema_matches_yaml_1_2() {
        for s in [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "2024-01-01",
            "12:30",
            "1_000",
            "0b1010",
            "1,000",
            "tRUE",
            "nULL",
            "0x",
            "1.2.3",
            "-",
            "+",
            ".",
            "e3",
        ] {
            assert_eq!(resolve_core(s), json!(s), "{s}");
        }
        assert_eq!(resolve_core("true"), json!(true));
        assert_eq!(resolve_core("NULL"), json!(null));
        assert_eq!(resolve_core("~"), json!(null));
        assert_eq!(resolve_core("0x1F"), json!(31));
        assert_eq!(resolve_core("0o17"), json!(15));
        assert_eq!(resolve_core("017"), json!(17));
        assert_eq!(resolve_core("1e3"), json!(1000));
        assert_eq!(resolve_core("+12"), json!(12));
        assert_eq!(resolve_core(".5"), json!(0.5));
        assert_eq!(resolve_core("5."), json!(5));
        assert_eq!(resolve_core("-.inf"), json!(null));
        assert_eq!(resolve_core(".NaN"), json!(null));
        assert_eq!(resolve_core("-17"), json!(-17));
        assert!(core_is_string("service"));
        assert!(!core_is_string("12"));
    }

    #[test]
    fn yaml_1_1_resolution() {
        assert_eq!(resolve_11("no"), json!(false));
        assert_eq!(resolve_11("On"), json!(true));
        assert_eq!(resolve_11("0b1010"), json!(10));
        assert_eq!(resolve_11("1_000"), json!(1000));
        assert_eq!(resolve_11("017"), json!(15));
        assert_eq!(resolve_11("190:20:30"), json!(685230));
        assert_eq!(resolve_11("service"), json!("service"));
    }

    #[test]
    fn keys_stringify_like_javascript() {
        assert_eq!(js_key(&json!(29)), "29");
        assert_eq!(js_key(&json!(true)), "true");
        assert_eq!(js_key(&json!(null)), "");
        assert_eq!(js_key(&json!(["a", "b"])), "[ a, b ]");
    }
}
