//! The server-side steps of the durability benchmark (bench/durability.sh restarts the servers
//! around them and measures recovery):
//!
//! * `bulk`: `--rows` nodes `:N {id}` in one transaction, an index on `:N(id)`, then `--rels`
//!   relationships in transactions of `--batch`, each joining node `i` to node
//!   `(i * m) % --rows + 1` for a prime `m` that changes with every pass over the nodes (so every
//!   pass is a permutation and the graph has no hot spot). Seconds and rates of each step.
//! * `snapshot`: `CREATE SNAPSHOT`, timed, and the size of the file it wrote (from
//!   `SHOW SNAPSHOTS`).
//!
//! Meant for a fresh server: `bulk` creates what it matches.

use std::sync::Arc;
use std::time::Instant;

use crate::value::{Map, Value};

use super::connect::{self, connector, session, Bolt};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

/// Multipliers of the relationship passes: primes that share no factor with a power of ten, so
/// that `i -> (i * m) % n + 1` is a permutation for the usual round `--rows`. More passes than
/// primes reuse them (parallel relationships, which a multigraph allows).
const MULTIPLIERS: [i64; 8] = [7919, 104_729, 1_299_709, 15_485_863, 7, 13, 31, 97];

/// Runs `query` with `params`, in seconds.
async fn timed(bolt: &mut Bolt, query: &str, params: Map) -> Result<f64, Error> {
    let t = Instant::now();
    connect::records(bolt, query, params).await?;
    Ok(t.elapsed().as_secs_f64())
}

/// Integer parameters.
fn ints(pairs: &[(&str, i64)]) -> Map {
    let mut params = Map::new();
    for (k, v) in pairs {
        params.insert((*k).into(), Value::Int(*v));
    }
    params
}

/// A report of one operation that took `seconds`, with `extra` figures.
fn one(args: &BenchArgs, seconds: f64, extra: &[(String, f64)]) -> String {
    let sample = Sample {
        latencies: vec![(seconds * 1e6) as u64],
        ..Sample::default()
    };
    report(args, &sample, seconds, extra)
}

/// The relationship transactions of `bulk`: `(a, b, m)` joins nodes `a..=b` each to node
/// `(i * m) % n + 1`. Passes over the `n` nodes, cut into `batch`es, until `rels` are made.
fn batches(n: i64, rels: i64, batch: i64) -> Vec<(i64, i64, i64)> {
    let mut out = Vec::new();
    let mut made = 0;
    while made < rels {
        let m = MULTIPLIERS[(made / n) as usize % MULTIPLIERS.len()];
        // This pass's next range, cut at the end of the pass and at `rels`.
        let a = made % n + 1;
        let b = (a + batch - 1).min(n).min(a + rels - made - 1);
        out.push((a, b, m));
        made += b - a + 1;
    }
    out
}

pub(super) async fn bulk(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = connector(args)?;
    let mut bolt = session(args, &connector).await?;
    let n = args.rows.max(1);
    let started = Instant::now();
    let nodes = timed(
        &mut bolt,
        "UNWIND range(1, $n) AS i CREATE (:N {id: i})",
        ints(&[("n", n)]),
    )
    .await?;
    let index = timed(&mut bolt, "CREATE INDEX ON :N(id)", Map::new()).await?;
    let batch = args.batch.max(1);
    let t = Instant::now();
    let mut made = 0;
    let plan = batches(n, args.rels, batch);
    for &(a, b, m) in &plan {
        connect::records(
            &mut bolt,
            "UNWIND range($a, $b) AS i MATCH (x:N {id: i}), (y:N {id: (i * $m) % $n + 1}) \
             CREATE (x)-[:R]->(y)",
            ints(&[("a", a), ("b", b), ("m", m), ("n", n)]),
        )
        .await?;
        made += b - a + 1;
    }
    let rels = t.elapsed().as_secs_f64();
    let total = started.elapsed().as_secs_f64();
    Ok(one(
        args,
        total,
        &[
            ("nodes".to_owned(), n as f64),
            ("node_load_seconds".to_owned(), nodes),
            ("nodes_per_second".to_owned(), n as f64 / nodes),
            ("index_build_seconds".to_owned(), index),
            ("relationships".to_owned(), made as f64),
            ("relationship_load_seconds".to_owned(), rels),
            (
                "relationships_per_second".to_owned(),
                made as f64 / rels.max(1e-9),
            ),
            ("transactions".to_owned(), (2 + plan.len()) as f64),
        ],
    ))
}

pub(super) async fn snapshot(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = connector(args)?;
    let mut bolt = session(args, &connector).await?;
    let seconds = timed(&mut bolt, "CREATE SNAPSHOT", Map::new()).await?;
    // Newest first: path, last record covered, creation time, size.
    let listed = connect::records(&mut bolt, "SHOW SNAPSHOTS", Map::new()).await?;
    let bytes = match listed.first().and_then(|row| row.get(3)) {
        Some(Value::Int(size)) => *size as f64,
        _ => return Err("SHOW SNAPSHOTS did not list the snapshot just written".into()),
    };
    Ok(one(
        args,
        seconds,
        &[
            ("snapshot_seconds".to_owned(), seconds),
            ("snapshot_bytes".to_owned(), bytes),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::batches;

    #[test]
    fn batches_make_exactly_the_relationships_asked_for() {
        let all = batches(1000, 4000, 300);
        assert_eq!(all.iter().map(|(a, b, _)| b - a + 1).sum::<i64>(), 4000);
        assert!(all
            .iter()
            .all(|(a, b, _)| b - a < 300 && *a >= 1 && *b <= 1000));
        assert_eq!(batches(1000, 1500, 1000).len(), 2);
        assert_eq!(batches(10, 3, 100), vec![(1, 3, 7919)]);
        assert!(batches(10, 0, 100).is_empty());
    }

    #[test]
    fn every_pass_is_a_permutation_of_the_nodes() {
        let n = 1000;
        for (pass, multiplier) in batches(n, 8 * n, n).iter().map(|(_, _, m)| m).enumerate() {
            let ends: HashSet<i64> = (1..=n).map(|i| (i * multiplier) % n + 1).collect();
            assert_eq!(ends.len(), n as usize, "pass {pass}");
        }
    }
}
