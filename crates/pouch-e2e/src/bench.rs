//! What the benchmarks share: their `--flag N` command lines and the median.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

/// Parses `--name N` flags (each a count of at least 1) with their defaults; `-h` prints
/// `usage` and exits.
pub fn count_flags(usage: &str, defaults: &[(&str, usize)]) -> Result<BTreeMap<String, usize>> {
    let mut out: BTreeMap<String, usize> =
        defaults.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("usage: {usage}");
            std::process::exit(0);
        }
        let Some(name) = flag.strip_prefix("--").filter(|n| out.contains_key(*n)) else {
            bail!("unknown argument {flag:?} (try --help)");
        };
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        out.insert(name.to_string(), value.max(1));
    }
    Ok(out)
}

/// The median (NaN for no values).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
