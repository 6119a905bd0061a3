//! `seed`: loads the seeded graph over Bolt, the same graph into every server bench/peers.sh
//! compares: `--rows` `:Person {id, name, age}` nodes (ids `0..rows`), the `--index` statement,
//! then `--rels` `:KNOWS` relationships between pseudo-random distinct nodes. Rows travel as a
//! `$rows` list parameter of `UNWIND`, `--batch` rows per auto-commit transaction, in standard
//! openCypher that boltd, Memgraph, ArcadeDB and FalkorDB all accept; only the index statement
//! differs between servers, so it is a flag. After the load the server is asked how many nodes
//! and relationships it holds, and a count other than the one sent fails the run: a figure for a
//! load that lost rows would be worse than none.
//!
//! The data is made here, not by the server (no `range()` arithmetic), so that each server is
//! given exactly the same nodes and relationships whatever its functions, and from a generator
//! written out below rather than a crate's, whose sequence may change between versions: the
//! graph must stay the same from run to run and from release to release.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use crate::value::{Map, Value};

use super::connect::{self, connector, session, Bolt};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

const NODES: &str = "UNWIND $rows AS r CREATE (:Person {id: r.id, name: r.name, age: r.age})";
const RELS: &str = "UNWIND $rows AS r MATCH (a:Person {id: r.a}), (b:Person {id: r.b}) \
                    CREATE (a)-[:KNOWS]->(b)";
const COUNT_NODES: &str = "MATCH (p:Person) RETURN count(p)";
const COUNT_RELS: &str = "MATCH (:Person)-[k:KNOWS]->(:Person) RETURN count(k)";

/// The seed of the relationships' endpoints. Changing it changes the published figures' graph.
const SEED: u64 = 0x0B01_7D00_5EED_0014;

/// SplitMix64: one step of the generator behind the seeded graph (Steele, Lea and Flood's mix).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Node `i`'s properties: its id, a name, and an age in 18..=80 (for filters and grouping).
fn person(i: i64) -> Value {
    let mut h = SEED ^ (i as u64);
    let age = 18 + (splitmix(&mut h) % 63) as i64;
    let mut row = Map::new();
    row.insert("id".into(), Value::Int(i));
    row.insert("name".into(), Value::String(format!("person-{i}")));
    row.insert("age".into(), Value::Int(age));
    Value::Map(row)
}

/// The endpoints of the `count` relationships over `n` nodes: pairs of distinct node ids, drawn
/// from one fixed sequence so every server gets the same graph. No pair is drawn twice: FalkorDB
/// folds parallel relationships into one when it matches a pattern (its adjacency matrices hold
/// one entry per pair), so a graph with them would get different answers from different
/// servers, and the harness compares answers as well as times. `count` is capped at the
/// `n * (n - 1)` pairs there are.
fn knows(n: i64, count: i64) -> impl Iterator<Item = (i64, i64)> {
    let n = n.max(2) as u64;
    let count = (count.max(0) as u64).min(n * (n - 1));
    let mut state = SEED;
    let mut drawn = HashSet::new();
    std::iter::from_fn(move || loop {
        let a = splitmix(&mut state) % n;
        // Any node but `a`: an offset in 1..n from it, wrapping.
        let b = (a + 1 + splitmix(&mut state) % (n - 1)) % n;
        if drawn.insert((a, b)) {
            return Some((a as i64, b as i64));
        }
    })
    .take(count as usize)
}

/// `{a, b}`: one relationship's row.
fn pair((a, b): (i64, i64)) -> Value {
    let mut row = Map::new();
    row.insert("a".into(), Value::Int(a));
    row.insert("b".into(), Value::Int(b));
    Value::Map(row)
}

/// Runs `query` with `$rows`, naming the statement in the error.
async fn load(
    bolt: &mut Bolt,
    args: &BenchArgs,
    query: &str,
    rows: Vec<Value>,
) -> Result<(), Error> {
    let mut params = Map::new();
    params.insert("rows".into(), Value::List(rows));
    connect::records_with(bolt, query, params, connect::run_extra(args)).await?;
    Ok(())
}

/// The one integer `query` answers with.
async fn count(bolt: &mut Bolt, args: &BenchArgs, query: &str) -> Result<i64, Error> {
    let rows = connect::records_with(bolt, query, Map::new(), connect::run_extra(args)).await?;
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => Ok(*n),
        other => Err(format!("{query}: expected one integer, got {other:?}").into()),
    }
}

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = connector(args)?;
    let mut bolt = session(args, &connector).await?;
    let n = args.rows.max(0);
    // As many as asked for, if there are that many pairs of distinct nodes (see `knows`).
    let rels = args.rels.max(0).min(n.saturating_mul(n - 1).max(0));
    let batch = args.batch.clamp(1, i64::from(u32::MAX));
    let started = Instant::now();

    let t = Instant::now();
    let mut transactions = 0;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        load(&mut bolt, args, NODES, (i..end).map(person).collect()).await?;
        transactions += 1;
        i = end;
    }
    let node_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if !args.index.trim().is_empty() {
        connect::records_with(&mut bolt, &args.index, Map::new(), connect::run_extra(args)).await?;
        transactions += 1;
    }
    let index_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut endpoints = knows(n, rels).peekable();
    while endpoints.peek().is_some() {
        let rows = endpoints.by_ref().take(batch as usize).map(pair).collect();
        load(&mut bolt, args, RELS, rows).await?;
        transactions += 1;
    }
    let rel_seconds = t.elapsed().as_secs_f64();
    let total = started.elapsed().as_secs_f64();

    let held_nodes = count(&mut bolt, args, COUNT_NODES).await?;
    let held_rels = count(&mut bolt, args, COUNT_RELS).await?;
    if held_nodes != n || held_rels != rels {
        return Err(format!(
            "after the load the server holds {held_nodes} :Person nodes and {held_rels} :KNOWS \
             relationships, but {n} and {rels} were sent: load a fresh, empty server (or \
             database), and check the server's log for refused batches"
        )
        .into());
    }

    let sample = Sample {
        latencies: vec![(total * 1e6) as u64],
        ..Sample::default()
    };
    Ok(report(
        args,
        &sample,
        total,
        &[
            ("nodes".to_owned(), n as f64),
            ("node_load_seconds".to_owned(), node_seconds),
            (
                "nodes_per_second".to_owned(),
                n as f64 / node_seconds.max(1e-9),
            ),
            ("index_seconds".to_owned(), index_seconds),
            ("relationships".to_owned(), rels as f64),
            ("relationship_load_seconds".to_owned(), rel_seconds),
            (
                "relationships_per_second".to_owned(),
                rels as f64 / rel_seconds.max(1e-9),
            ),
            ("transactions".to_owned(), transactions as f64),
            ("load_seconds".to_owned(), total),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_is_the_same_every_time_and_has_no_loops() {
        let a: Vec<_> = knows(1000, 5000).collect();
        assert_eq!(a, knows(1000, 5000).collect::<Vec<_>>());
        assert_eq!(a.len(), 5000);
        assert!(a
            .iter()
            .all(|&(x, y)| x != y && (0..1000).contains(&x) && (0..1000).contains(&y)));
        assert_eq!(
            a.iter().collect::<HashSet<_>>().len(),
            a.len(),
            "no parallel pairs"
        );
        // Scattered, not a few hot nodes: most nodes get an outgoing relationship.
        let starts: HashSet<_> = a.iter().map(|p| p.0).collect();
        assert!(starts.len() > 950, "{}", starts.len());
        // Every pair there is, and no more: the generator ends instead of looping.
        assert_eq!(knows(2, 3).collect::<Vec<_>>(), vec![(1, 0), (0, 1)]);
    }

    #[test]
    fn people_have_ids_names_and_ages_in_range() {
        for i in [0, 1, 99_999] {
            let Value::Map(p) = person(i) else { panic!() };
            assert_eq!(p["id"], Value::Int(i));
            assert_eq!(p["name"], Value::String(format!("person-{i}")));
            let Value::Int(age) = p["age"] else { panic!() };
            assert!((18..=80).contains(&age));
        }
        assert_eq!(person(7), person(7));
    }
}
