//! How the verbs print: virsh's sizes and tables.

use std::collections::BTreeMap;

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
