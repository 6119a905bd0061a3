//! The printed result of a run: throughput and latency percentiles, plus each mode's own figures,
//! as one text line (and indented extras) or as one JSON object for bench/compare.sh. The format
//! is relied on by scripts; change it only together with them.

use super::sample::Sample;
use super::{BenchArgs, TlsVersionArg};

/// The value at fraction `p` of `sorted` (nearest rank); 0 when there is none.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The report of `sample`, taken over `seconds`, with the mode's `extra` figures.
pub(super) fn report(
    args: &BenchArgs,
    sample: &Sample,
    seconds: f64,
    extra: &[(String, f64)],
) -> String {
    let mut l = sample.latencies.clone();
    l.sort_unstable();
    let ops = l.len() as f64 / seconds.max(1e-9);
    let (p50, p90, p99, max) = (
        percentile(&l, 0.5),
        percentile(&l, 0.9),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0),
    );
    let mode = format!("{:?}", args.mode).to_lowercase();
    if args.json {
        let mut obj = serde_json::json!({
            "mode": mode, "tls": args.tls, "concurrency": args.concurrency,
            "tls_version": match args.tls_version {
                Some(TlsVersionArg::V12) => "1.2",
                Some(TlsVersionArg::V13) => "1.3",
                None => "any",
            },
            "operations": l.len(), "failures": sample.failures, "ops_per_second": ops,
            "p50_us": p50, "p90_us": p90, "p99_us": p99, "max_us": max,
        });
        for (k, v) in extra {
            obj[k] = serde_json::json!(v);
        }
        return format!("{obj}\n");
    }
    let mut out = format!(
        "{mode}: {} ops in {seconds:.2} s = {ops:.0}/s, failures {}; latency p50 {} us, p90 {} us, p99 {} us, max {} us\n",
        l.len(),
        sample.failures,
        p50,
        p90,
        p99,
        max
    );
    for (k, v) in extra {
        out.push_str(&format!("  {k}: {v:.1}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.99), 7);
        let l: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&l, 0.5), 51);
        assert_eq!(percentile(&l, 0.9), 90);
        assert_eq!(percentile(&l, 0.99), 99);
    }
}
