//! `graph`: the embedded engine through real Bolt sessions. A bulk load of `--rows` nodes and
//! an index on them, indexed point lookups from `--concurrency` sessions in the measured window,
//! then a `--hop-nodes` graph with two outgoing relationships per node for two-hop traversals,
//! over all paths and from single nodes. Meant for a fresh server: it creates what it queries.

use std::sync::Arc;
use std::time::Instant;

use crate::value::{Map, Value};

use super::connect::{self, connector, session, Bolt};
use super::report::report;
use super::sample::{Sample, Window};
use super::{BenchArgs, Error};

/// Times one query on `bolt`, in seconds.
async fn timed_query(bolt: &mut Bolt, q: &str) -> Result<f64, Error> {
    let t = Instant::now();
    connect::query(bolt, q).await?;
    Ok(t.elapsed().as_secs_f64())
}

/// A cheap pseudo-random sequence (xorshift) so that lookups hit scattered keys.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = Arc::new(connector(args)?);
    let mut bolt = session(args, &connector).await?;
    let n = args.rows;
    let load = timed_query(
        &mut bolt,
        &format!("UNWIND range(1, {n}) AS i CREATE (:Bench {{id: i}})"),
    )
    .await?;
    let index = timed_query(&mut bolt, "CREATE INDEX ON :Bench(id)").await?;

    // Point lookups by the indexed property from --concurrency sessions.
    let window = Arc::new(Window::new(args.warmup, args.duration));
    let mut handles = Vec::new();
    for task in 0..args.concurrency {
        let (args, connector, window) = (
            Arc::clone(args),
            Arc::clone(&connector),
            Arc::clone(&window),
        );
        handles.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let Ok(mut b) = session(&args, &connector).await else {
                sample.failures += 1;
                return sample;
            };
            let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (task as u64 + 1);
            while !window.done() {
                let id = (next_random(&mut state) % n.max(1) as u64) as i64 + 1;
                let mut params = Map::new();
                params.insert("id".into(), Value::Int(id));
                let t = Instant::now();
                let r = b
                    .count_records("MATCH (n:Bench {id: $id}) RETURN n.id", params)
                    .await;
                if window.measuring() {
                    match r {
                        Ok(1) => sample.latencies.push(t.elapsed().as_micros() as u64),
                        _ => sample.failures += 1,
                    }
                }
            }
            sample
        }));
    }
    let mut lookups = Sample::default();
    for h in handles {
        lookups.absorb(h.await?);
    }

    // A two-hop traversal on a graph with two outgoing relationships per node.
    let h = args.hop_nodes;
    let build_nodes = timed_query(
        &mut bolt,
        &format!("UNWIND range(0, {}) AS i CREATE (:Hop {{id: i}})", h - 1),
    )
    .await?;
    timed_query(&mut bolt, "CREATE INDEX ON :Hop(id)").await?;
    let build_rels = timed_query(
        &mut bolt,
        &format!(
            "UNWIND range(0, {last}) AS i MATCH (a:Hop {{id: i}}), (b:Hop {{id: (i * 7 + 1) % {h}}}),              (c:Hop {{id: (i * 13 + 5) % {h}}}) CREATE (a)-[:R]->(b), (a)-[:R]->(c)",
            last = h - 1
        ),
    )
    .await?;
    let two_hop_all = timed_query(
        &mut bolt,
        "MATCH (a:Hop)-[:R]->()-[:R]->(c) RETURN count(c)",
    )
    .await?;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let t = Instant::now();
    let mut point = Vec::new();
    while t.elapsed().as_secs_f64() < args.duration.min(5.0) {
        let mut params = Map::new();
        params.insert(
            "id".into(),
            Value::Int((next_random(&mut state) % h as u64) as i64),
        );
        let q = Instant::now();
        bolt.count_records(
            "MATCH (a:Hop {id: $id})-[:R]->()-[:R]->(c) RETURN c.id",
            params,
        )
        .await?;
        point.push(q.elapsed().as_micros() as u64);
    }
    let point_rate = point.len() as f64 / t.elapsed().as_secs_f64();

    Ok(report(
        args,
        &lookups,
        args.duration,
        &[
            ("bulk_nodes".to_owned(), n as f64),
            ("bulk_load_seconds".to_owned(), load),
            ("bulk_nodes_per_second".to_owned(), n as f64 / load),
            ("index_build_seconds".to_owned(), index),
            ("hop_graph_nodes".to_owned(), h as f64),
            ("hop_graph_node_load_seconds".to_owned(), build_nodes),
            ("hop_graph_relationship_load_seconds".to_owned(), build_rels),
            ("two_hop_all_paths_seconds".to_owned(), two_hop_all),
            ("two_hop_from_one_node_per_second".to_owned(), point_rate),
        ],
    ))
}
