//! `boltd bench`: a load generator for boltd and for any TLS server in front of a Bolt server.
//!
//! Every mode runs many concurrent tasks for a fixed time after a warm-up (excluded from the
//! figures), records each operation's latency, and prints throughput with p50/p90/p99/max. The
//! handshake-only modes (`handshake`, `resume`, `storm --no-bolt`) speak nothing but TLS, so nginx,
//! HAProxy or stunnel can be measured with the same tool. `--json` prints one JSON object for
//! scripts (bench/compare.sh).
//!
//! This file holds the flags and picks the mode. `connect` opens connections (TLS, and Bolt
//! sessions through [`crate::bolt::client`]), `sample` records latencies in the measured window,
//! `report` turns them into the printed figures, and one file per family of modes does the work:
//! `timed` (handshakes, resumptions, round trips), `storm`, `reload`, `stream`, `graph`, `commits`
//! (small write transactions, on `timed`'s runner), `durability` (the bulk load and snapshot
//! that bench/durability.sh restarts servers around), `load_csv` (LOAD CSV into nodes), and the
//! two that drive any Bolt server (bench/peers.sh): `query` (any Cypher text with generated
//! parameters) and `seed` (the seeded `:Person`/`:KNOWS` graph, loaded in batches).
//! `websocket` upgrades the connections `connect` opens when `--websocket` is given.

mod commits;
mod connect;
mod durability;
mod graph;
mod load_csv;
mod query;
mod reload;
mod report;
mod sample;
mod seed;
mod storm;
mod stream;
mod timed;
mod websocket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::bolt::handshake::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Full TLS handshakes per second (connect, handshake, close).
    Handshake,
    /// Resumed TLS handshakes per second (session tickets / IDs).
    Resume,
    /// Bolt round trips: connect once, then RUN "RETURN 1" + PULL repeatedly.
    Roundtrip,
    /// Open --count connections (TLS + HELLO) and keep them; time and server memory per connection.
    Storm,
    /// Round trips at --concurrency sessions plus new connections, while reloading --reloads times.
    Reload,
    /// Stream `UNWIND range(1, --rows) AS x RETURN x`; rows per second.
    Stream,
    /// The embedded graph engine: bulk load of --rows nodes, indexed point lookups per second at
    /// --concurrency sessions, and two-hop MATCH on a --hop-nodes graph. Use a fresh server.
    Graph,
    /// Auto-commit `CREATE (:C {i: $i})` at --concurrency sessions: commits per second and commit
    /// latency (each one logged, and by default synced, before it is acknowledged).
    Commits,
    /// Bulk load: --rows nodes `:N {id}`, an index on :N(id), then --rels relationships in
    /// transactions of --batch; seconds and rates of each step. Use a fresh server.
    Bulk,
    /// CREATE SNAPSHOT, timed, and the size of the snapshot file (from SHOW SNAPSHOTS).
    Snapshot,
    /// LOAD CSV of a --rows-row file into nodes: rows per second and, with --server-pid, the
    /// server's memory before, at its peak and after. Server on this machine, fresh.
    LoadCsv,
    /// Any Cypher text (--query) with --param values at --concurrency sessions, against any Bolt
    /// server: operations per second, latency, failures and the records read.
    Query,
    /// Load the seeded graph: --rows `:Person {id, name, age}` nodes, the --index statement, then
    /// --rels `:KNOWS` relationships, --batch rows per transaction (UNWIND $rows); checks the
    /// counts afterwards. Use a fresh server.
    Seed,
}

/// `--bolt-version`'s `MAJOR.MINOR`.
fn parse_version(s: &str) -> Result<Version, String> {
    let bad = || format!("{s:?} is not a Bolt version such as 4.4 or 5.4");
    let (major, minor) = s.split_once('.').ok_or_else(bad)?;
    let (major, minor) = (
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
    );
    if !(4..=5).contains(&major) {
        return Err(format!("Bolt {s}: the bench speaks Bolt 4.x and 5.x"));
    }
    Ok(Version::new(major, minor))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsVersionArg {
    #[value(name = "1.2")]
    V12,
    #[value(name = "1.3")]
    V13,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: Mode,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7687")]
    pub addr: SocketAddr,
    /// Use TLS (certificates are not verified).
    #[arg(long)]
    pub tls: bool,
    /// Speak Bolt over WebSocket, as browsers do: `ws://`, or `wss://` with --tls. Applies to
    /// the modes that open Bolt sessions.
    #[arg(long)]
    pub websocket: bool,
    /// Pin the TLS version.
    #[arg(long, value_enum)]
    pub tls_version: Option<TlsVersionArg>,
    /// Concurrent tasks (sessions).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Connections for `storm`.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// `storm`: TLS only, no Bolt (for servers that are not Bolt).
    #[arg(long)]
    pub no_bolt: bool,
    /// Server process id, to read its resident memory (storm).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Reloads for `reload`.
    #[arg(long, default_value_t = 1000)]
    pub reloads: usize,
    /// `reload`: the server's certificate and key paths, overwritten alternately with --pair-a and
    /// --pair-b before each reload.
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    pub target: Vec<PathBuf>,
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    pub pair_a: Vec<PathBuf>,
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    pub pair_b: Vec<PathBuf>,
    /// Rows for `stream`; nodes for `graph`, `bulk` and `seed`.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Relationships for `bulk` and `seed`.
    #[arg(long, default_value_t = 4_000_000)]
    pub rels: i64,
    /// Relationships per transaction for `bulk`; nodes or relationships per transaction for
    /// `seed` (FalkorDB fails on parameters past about 3 KiB: use 50 there).
    #[arg(long, default_value_t = 100_000)]
    pub batch: i64,
    /// `seed`: the index statement, run between the nodes and the relationships (boltd and
    /// Memgraph: the default; ArcadeDB and FalkorDB: `CREATE INDEX FOR (p:Person) ON (p.id)`);
    /// empty for none.
    #[arg(long, default_value = "CREATE INDEX ON :Person(id)")]
    pub index: String,
    /// `query`: the Cypher text, e.g. `MATCH (p:Person {id: $id}) RETURN p.name`.
    #[arg(long)]
    pub query: Option<String>,
    /// `query`: a parameter of every run, NAME=SPEC, repeatable. SPEC is an integer, a float,
    /// true/false, `str:TEXT`, `rand:LOW..HIGH` (a uniform integer in [LOW, HIGH), drawn for
    /// each run) or `seq:START` (START, START+1, ... across all sessions).
    #[arg(long = "param", value_name = "NAME=SPEC")]
    pub params: Vec<query::Param>,
    /// `query`: the number of records each run must return; any other number is a failure.
    #[arg(long)]
    pub expect_records: Option<u64>,
    /// The Bolt version to offer and speak, e.g. 5.4 (FalkorDB speaks only 5.x).
    #[arg(long, default_value = "4.4", value_parser = parse_version)]
    pub bolt_version: Version,
    /// The database to run in: `db` in RUN's extra (`query` and `seed`), for servers that hold
    /// several (ArcadeDB).
    #[arg(long)]
    pub database: Option<String>,
    /// Nodes of the two-hop graph for `graph`.
    #[arg(long, default_value_t = 100_000)]
    pub hop_nodes: i64,
    /// Bolt user and password (when the server has users).
    #[arg(long, num_args = 2, value_names = ["USER", "PASSWORD"])]
    pub auth: Vec<String>,
    /// `load-csv`: gzip the generated file.
    #[arg(long)]
    pub gzip: bool,
    /// `load-csv`: create the same nodes with UNWIND instead of a file, for comparison.
    #[arg(long)]
    pub unwind_baseline: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Any failure that ends a run; its text is what `boltd bench` prints.
type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs a benchmark and returns the report to print.
pub async fn run(args: BenchArgs) -> Result<String, String> {
    let args = Arc::new(args);
    let report = match args.mode {
        Mode::Handshake | Mode::Resume => timed::run(&args, timed::handshake_task).await,
        Mode::Roundtrip => timed::run(&args, timed::roundtrip_task).await,
        Mode::Storm => storm::run(&args).await,
        Mode::Reload => reload::run(&args).await,
        Mode::Stream => stream::run(&args).await,
        Mode::Graph => graph::run(&args).await,
        Mode::Commits => timed::run(&args, commits::commit_task).await,
        Mode::Bulk => durability::bulk(&args).await,
        Mode::Snapshot => durability::snapshot(&args).await,
        Mode::LoadCsv => load_csv::run(&args).await,
        Mode::Query => query::run(&args).await,
        Mode::Seed => seed::run(&args).await,
    };
    report.map_err(|e| e.to_string())
}
