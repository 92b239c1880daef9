//! How the verbs print: virsh's sizes and tables, and JSON for scripts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The `info` keys whose values are counts or bytes.
const NUMBERS: [&str; 5] = ["capacity", "allocation", "available", "physical", "volumes"];

/// The `info` keys whose values are yes or no.
const BOOLEANS: [&str; 1] = ["autostart"];

/// One `info` file as a JSON object (docs/cli.md, "JSON output"): counts
/// and bytes as numbers, yes/no as booleans, `-` (nothing) as null, every
/// other value as a string.
pub(super) fn json_object(m: &BTreeMap<String, String>) -> Value {
    let mut out = Map::new();
    for (k, v) in m {
        let value = if v == "-" {
            Value::Null
        } else if let Some(n) = NUMBERS
            .contains(&k.as_str())
            .then(|| v.parse::<u64>().ok())
            .flatten()
        {
            Value::from(n)
        } else if BOOLEANS.contains(&k.as_str()) && (v == "yes" || v == "no") {
            Value::Bool(v == "yes")
        } else {
            Value::String(v.clone())
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

/// Pretty JSON of `v`.
pub(super) fn json_text(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// virsh's human units: two decimals and a binary unit.
pub fn pretty(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

pub(super) fn size_field(m: &BTreeMap<String, String>, key: &str, bytes: bool) -> String {
    match m.get(key).and_then(|v| v.parse::<u64>().ok()) {
        Some(n) if bytes => n.to_string(),
        Some(n) => pretty(n),
        None => "-".into(),
    }
}

pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push(' ');
            s.push_str(&format!("{c:<width$}", width = w[i]));
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let hdr: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = line(&hdr);
    out.push_str(&"-".repeat(out.trim_end().len() + 2));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_numbers_booleans_and_nulls() {
        let m: BTreeMap<String, String> = [
            ("name", "123"),
            ("capacity", "1073741824"),
            ("autostart", "yes"),
            ("last_error", "-"),
            ("state", "running"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            json_object(&m),
            serde_json::json!({
                "name": "123",
                "capacity": 1073741824u64,
                "autostart": true,
                "last_error": null,
                "state": "running",
            })
        );
    }

    #[test]
    fn pretty_matches_virsh() {
        assert_eq!(pretty(0), "0.00 B");
        assert_eq!(pretty(1 << 30), "1.00 GiB");
        assert_eq!(pretty(268435456), "256.00 MiB");
        assert_eq!(pretty(270553174016), "251.97 GiB");
    }

    #[test]
    fn table_is_aligned() {
        let t = table(
            &["Name", "State"],
            &[vec!["default".into(), "active".into()]],
        );
        assert_eq!(
            t,
            " Name      State\n------------------\n default   active\n"
        );
    }
}
