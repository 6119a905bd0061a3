//! Traversal speed inside the engine, without the network: the issue-14 graph (100,000 `:Person`
//! nodes with an index on `id`, 400,000 `:KNOWS` relationships with pseudo-random ends, the same
//! every run) and the read workloads of `bench/peers.sh`, each timed over several runs.
//!
//! Prints, per workload, the median time and, for whole-graph expansions, edges per second. It is
//! a benchmark, not a test: nothing here asserts a speed. It does check each count against the
//! one computed directly from the generated edges, so a fast wrong answer cannot pass unnoticed.
//!
//! Usage: `cargo bench --bench traversal [-- NODES RELS RUNS]`; `TRAVERSAL_ONLY=sum` runs the
//! workloads whose name holds that text.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use boltd::cypher::ast::Statement;
use boltd::engine::{MemoryEngine, Params, QueryEngine};
use boltd::value::Value;

/// The deterministic generator of the relationships' ends (SplitMix64).
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

/// The process's resident memory (VmRSS), in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn query(engine: &MemoryEngine, text: &str, params: Params) -> Vec<Vec<Value>> {
    let statement = boltd::cypher::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    match statement {
        Statement::Query(q) => {
            let mut tx = engine.begin().await.expect("begin");
            let result = tx
                .run(q, params)
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            let rows: Vec<Vec<Value>> = result
                .rows
                .map(|r| r.unwrap_or_else(|e| panic!("{text}: {e}")))
                .collect();
            tx.commit().await.expect("commit");
            rows
        }
        Statement::Schema(s) => {
            engine
                .schema(s)
                .await
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            Vec::new()
        }
        other => panic!("{text}: unexpected {other:?}"),
    }
}

/// The second hops after the edge `a -> b`: b's out-degree, less the edge itself when it is a
/// self-loop (a match uses each relationship once).
fn hops_after(out_degree: &HashMap<u64, u64>, a: u64, b: u64) -> u64 {
    out_degree.get(&b).copied().unwrap_or(0) - u64::from(a == b)
}

fn int(rows: &[Vec<Value>]) -> i64 {
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(i)) => *i,
        other => panic!("expected one integer, got {other:?}"),
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it, and then a
    // small graph checks the answers quickly instead of timing anything.
    let timing = raw.iter().any(|a| a == "--bench");
    let args: Vec<u64> = raw.iter().filter_map(|a| a.parse().ok()).collect();
    let (nodes, rels, runs) = if timing {
        (100_000, 400_000, 5)
    } else {
        (2_000, 8_000, 1)
    };
    let nodes = args.first().copied().unwrap_or(nodes);
    let rels = args.get(1).copied().unwrap_or(rels);
    let runs = args.get(2).copied().unwrap_or(runs) as usize;
    let rt = rt();
    let engine = MemoryEngine::new();

    let mut rng = Seeded(42);
    let edges: Vec<(u64, u64)> = (0..rels)
        .map(|_| (rng.next(nodes), rng.next(nodes)))
        .collect();
    let started = Instant::now();
    rt.block_on(async {
        query(&engine, "CREATE INDEX ON :Person(id)", Params::new()).await;
        for chunk in (0..nodes).collect::<Vec<_>>().chunks(10_000) {
            let batch = chunk
                .iter()
                .map(|i| Value::Int(*i as i64))
                .collect::<Vec<_>>();
            let mut p = Params::new();
            p.insert("ids".into(), Value::List(batch));
            query(
                &engine,
                "UNWIND $ids AS i CREATE (:Person {id: i, name: 'p' + toString(i), age: i % 80})",
                p,
            )
            .await;
        }
        for chunk in edges.chunks(10_000) {
            let batch = chunk
                .iter()
                .map(|(a, b)| Value::List(vec![Value::Int(*a as i64), Value::Int(*b as i64)]))
                .collect::<Vec<_>>();
            let mut p = Params::new();
            p.insert("pairs".into(), Value::List(batch));
            query(
                &engine,
                "UNWIND $pairs AS e MATCH (a:Person {id: e[0]}), (b:Person {id: e[1]}) \
                 CREATE (a)-[:KNOWS]->(b)",
                p,
            )
            .await;
        }
    });
    println!(
        "loaded {nodes} nodes and {rels} relationships in {:.2} s; heap {:.1} MiB, resident {:.1} MiB",
        started.elapsed().as_secs_f64(),
        boltd::alloc::live_bytes() as f64 / 1048576.0,
        resident_kib() as f64 / 1024.0
    );

    // Expected answers, straight from the edge list.
    let mut out_degree: HashMap<u64, u64> = HashMap::new();
    for (a, _) in &edges {
        *out_degree.entry(*a).or_default() += 1;
    }
    let two_hop_all: u64 = edges
        .iter()
        .map(|(a, b)| hops_after(&out_degree, *a, *b))
        .sum();
    let start = edges[0].0;
    let two_hop_one: u64 = edges
        .iter()
        .filter(|(a, _)| *a == start)
        .map(|(a, b)| hops_after(&out_degree, *a, *b))
        .sum();

    let mut start_param = Params::new();
    start_param.insert("id".into(), Value::Int(start as i64));
    let workloads: Vec<(&str, &str, Params, Option<u64>, u64)> = vec![
        (
            "1-hop count, whole graph",
            "MATCH (a:Person)-[:KNOWS]->(b) RETURN count(b)",
            Params::new(),
            Some(rels),
            rels,
        ),
        (
            "2-hop count from one node",
            "MATCH (a:Person {id: $id})-[:KNOWS]->(b)-[:KNOWS]->(c) RETURN count(c)",
            start_param.clone(),
            Some(two_hop_one),
            two_hop_one,
        ),
        (
            "2-hop count, whole graph",
            "MATCH (a:Person)-[:KNOWS]->(b)-[:KNOWS]->(c) RETURN count(c)",
            Params::new(),
            Some(two_hop_all),
            rels + two_hop_all,
        ),
        (
            "1-hop sum of a property, whole graph",
            "MATCH (a:Person)-[:KNOWS]->(b) RETURN sum(b.age)",
            Params::new(),
            None,
            rels,
        ),
        (
            "2-hop rows from one node",
            "MATCH (a:Person {id: $id})-[:KNOWS]->(b)-[:KNOWS]->(c) RETURN c.name",
            start_param.clone(),
            None,
            two_hop_one,
        ),
        (
            "3-hop with a filter, from one node",
            "MATCH (a:Person {id: $id})-[:KNOWS]->(b)-[:KNOWS]->(c)-[:KNOWS]->(d) \
             WHERE d.age > 40 RETURN count(d)",
            start_param.clone(),
            None,
            0,
        ),
        (
            "aggregation by property",
            "MATCH (p:Person) RETURN p.age AS age, count(*) AS n ORDER BY age",
            Params::new(),
            None,
            0,
        ),
        (
            "variable length *1..3 from one node",
            "MATCH (a:Person {id: $id})-[:KNOWS*1..3]->(b) RETURN count(b)",
            start_param.clone(),
            None,
            0,
        ),
    ];
    // Point lookups, one transaction each as an auto-commit RUN has: parse, plan, run, commit.
    if "point lookups".contains(std::env::var("TRAVERSAL_ONLY").unwrap_or_default().as_str()) {
        let lookups = 20_000u64.min(nodes * 10);
        let mut rng = Seeded(7);
        let t = Instant::now();
        for _ in 0..lookups {
            let mut p = Params::new();
            p.insert("id".into(), Value::Int(rng.next(nodes) as i64));
            let rows = rt.block_on(query(
                &engine,
                "MATCH (p:Person {id: $id}) RETURN p.name AS name",
                p,
            ));
            assert_eq!(rows.len(), 1, "a point lookup finds its node");
        }
        let each = t.elapsed().as_secs_f64() / lookups as f64;
        println!(
            "{:<40} {:>10.1} us each  {:.0}/s",
            "point lookups (one transaction each)",
            each * 1e6,
            1.0 / each
        );
    }

    // `TRAVERSAL_ONLY=text` runs only the workloads whose name contains it (for profiling one).
    let only = std::env::var("TRAVERSAL_ONLY").unwrap_or_default();
    for (name, text, params, expected, edges_walked) in workloads {
        if !name.contains(only.as_str()) {
            continue;
        }
        let mut times: Vec<Duration> = Vec::new();
        let mut answer = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            answer = rt.block_on(query(&engine, text, params.clone()));
            times.push(t.elapsed());
        }
        if let Some(expected) = expected {
            assert_eq!(int(&answer) as u64, expected, "{name}: wrong count");
        }
        times.sort();
        let median = times[times.len() / 2];
        let rate = if edges_walked > 0 {
            format!(
                "  {:.1} M edges/s",
                edges_walked as f64 / median.as_secs_f64() / 1e6
            )
        } else {
            String::new()
        };
        println!(
            "{name:<40} median {:>10.3} ms{rate}",
            median.as_secs_f64() * 1e3
        );
    }
}
