//! `boltd bench`: a load generator for boltd and for any TLS server in front of a Bolt server.
//!
//! Every mode runs many concurrent tasks for a fixed time after a warm-up (excluded from the
//! figures), records each operation's latency, and prints throughput with p50/p90/p99/max. The
//! handshake-only modes (`handshake`, `resume`, `storm --no-bolt`) speak nothing but TLS, so nginx,
//! HAProxy or stunnel can be measured with the same tool. `--json` prints one JSON object for
//! scripts (bench/compare.sh).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use openssl::ssl::{SslConnector, SslMethod, SslSession, SslVerifyMode, SslVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::bolt::chunk::{write_chunked, ChunkReader};
use crate::bolt::handshake::MAGIC;
use crate::bolt::packstream::{self, Decoder, StructLayout};
use crate::value::{Map, Value};

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
    /// Rows for `stream`.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Nodes of the two-hop graph for `graph`.
    #[arg(long, default_value_t = 100_000)]
    pub hop_nodes: i64,
    /// Bolt user and password (when the server has users).
    #[arg(long, num_args = 2, value_names = ["USER", "PASSWORD"])]
    pub auth: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Latencies in microseconds and a count of failures.
#[derive(Default)]
struct Sample {
    latencies: Vec<u64>,
    failures: u64,
    /// Handshakes the server resumed (resume mode).
    resumed: u64,
}

/// Runs a benchmark and returns the report to print.
pub async fn run(args: BenchArgs) -> Result<String, String> {
    let args = Arc::new(args);
    let report = match args.mode {
        Mode::Handshake | Mode::Resume => timed(&args, handshake_task).await,
        Mode::Roundtrip => timed(&args, roundtrip_task).await,
        Mode::Storm => storm(&args).await,
        Mode::Reload => reload(&args).await,
        Mode::Stream => stream(&args).await,
        Mode::Graph => graph(&args).await,
    };
    report.map_err(|e| e.to_string())
}

fn connector(args: &BenchArgs) -> Result<SslConnector, Error> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    if let Some(v) = args.tls_version {
        let v = match v {
            TlsVersionArg::V12 => SslVersion::TLS1_2,
            TlsVersionArg::V13 => SslVersion::TLS1_3,
        };
        b.set_min_proto_version(Some(v))?;
        b.set_max_proto_version(Some(v))?;
    }
    Ok(b.build())
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn tls(
    connector: &SslConnector,
    addr: SocketAddr,
    session: Option<&SslSession>,
) -> Result<SslStream<TcpStream>, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut ssl = connector
        .configure()?
        .verify_hostname(false)
        .into_ssl("localhost")?;
    if let Some(s) = session {
        // SAFETY: the session was made by a connector of the same kind.
        unsafe { ssl.set_session(s)? };
    }
    let mut stream = SslStream::new(ssl, tcp)?;
    Pin::new(&mut stream).connect().await?;
    Ok(stream)
}

async fn open(args: &BenchArgs, connector: &SslConnector) -> Result<Box<dyn Io>, Error> {
    if args.tls {
        Ok(Box::new(tls(connector, args.addr, None).await?))
    } else {
        let tcp = TcpStream::connect(args.addr).await?;
        tcp.set_nodelay(true)?;
        Ok(Box::new(tcp))
    }
}

/// A Bolt 4.4 session: enough protocol to say HELLO and run queries.
struct Bolt {
    reader: ChunkReader<ReadHalf<Box<dyn Io>>>,
    writer: WriteHalf<Box<dyn Io>>,
    out: Vec<u8>,
}

impl Bolt {
    async fn start(mut io: Box<dyn Io>, auth: &[String]) -> Result<Bolt, Error> {
        let mut hs = MAGIC.to_vec();
        hs.extend_from_slice(&[0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        io.write_all(&hs).await?;
        let mut reply = [0u8; 4];
        io.read_exact(&mut reply).await?;
        if reply != [0, 0, 4, 4] {
            return Err("the server did not agree to Bolt 4.4".into());
        }
        let (r, w) = tokio::io::split(io);
        let mut bolt = Bolt {
            reader: ChunkReader::new(r),
            writer: w,
            out: Vec::new(),
        };
        let mut hello = Map::new();
        hello.insert("user_agent".into(), "boltd-bench/1".into());
        match auth {
            [user, password] => {
                hello.insert("scheme".into(), "basic".into());
                hello.insert("principal".into(), user.clone().into());
                hello.insert("credentials".into(), password.clone().into());
            }
            _ => {
                hello.insert("scheme".into(), "none".into());
            }
        }
        bolt.message(0x01, &[Value::Map(hello)]);
        bolt.flush().await?;
        bolt.expect_success().await?;
        Ok(bolt)
    }

    fn message(&mut self, tag: u8, fields: &[Value]) {
        let mut msg = Vec::new();
        packstream::write_struct_header(&mut msg, fields.len() as u8, tag);
        for f in fields {
            let _ = packstream::encode_value(&mut msg, f, StructLayout::for_version(4, 4, false));
        }
        write_chunked(&mut self.out, &msg);
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.writer.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// The next response's tag (0x70 SUCCESS, 0x71 RECORD, 0x7F FAILURE, 0x7E IGNORED).
    async fn next(&mut self) -> Result<u8, Error> {
        let msg = self
            .reader
            .read_message(1 << 24)
            .await?
            .ok_or("connection closed")?;
        let (_, tag) = Decoder::new(&msg).read_struct_header()?;
        Ok(tag)
    }

    async fn expect_success(&mut self) -> Result<(), Error> {
        match self.next().await? {
            0x70 => Ok(()),
            tag => Err(format!("expected SUCCESS, got 0x{tag:02X}").into()),
        }
    }

    /// RUN + PULL pipelined; returns the number of records.
    async fn query(&mut self, q: &str) -> Result<u64, Error> {
        self.query_with(q, Map::new()).await
    }

    async fn query_with(&mut self, q: &str, params: Map) -> Result<u64, Error> {
        self.message(
            0x10,
            &[q.into(), Value::Map(params), Value::Map(Map::new())],
        );
        let mut pull = Map::new();
        pull.insert("n".into(), Value::Int(-1));
        self.message(0x3F, &[Value::Map(pull)]);
        self.flush().await?;
        self.expect_success().await?;
        let mut records = 0;
        loop {
            match self.next().await? {
                0x71 => records += 1,
                0x70 => return Ok(records),
                tag => return Err(format!("query failed (0x{tag:02X})").into()),
            }
        }
    }
}

/// Runs `task` on `--concurrency` tasks for warm-up + duration; only the measured window counts.
async fn timed<F, Fut>(args: &Arc<BenchArgs>, task: F) -> Result<String, Error>
where
    F: Fn(Arc<BenchArgs>, Arc<SslConnector>, Arc<Window>) -> Fut,
    Fut: std::future::Future<Output = Sample> + Send + 'static,
{
    // One connector for all tasks: building one loads the system trust store, which costs
    // milliseconds and would otherwise eat the warm-up when hundreds of tasks start.
    let connector = Arc::new(connector(args)?);
    let window = Arc::new(Window::new(args.warmup, args.duration));
    let handles: Vec<_> = (0..args.concurrency)
        .map(|_| {
            tokio::spawn(task(
                Arc::clone(args),
                Arc::clone(&connector),
                Arc::clone(&window),
            ))
        })
        .collect();
    let mut all = Sample::default();
    for h in handles {
        let s = h.await?;
        all.latencies.extend(s.latencies);
        all.failures += s.failures;
        all.resumed += s.resumed;
    }
    let extra = if args.mode == Mode::Resume {
        vec![("resumed".to_owned(), all.resumed as f64)]
    } else {
        Vec::new()
    };
    Ok(report(args, &all, args.duration, &extra))
}

/// The measured time window.
struct Window {
    start: Instant,
    warmup: Duration,
    end: Duration,
}

impl Window {
    fn new(warmup: f64, duration: f64) -> Self {
        Window {
            start: Instant::now(),
            warmup: Duration::from_secs_f64(warmup),
            end: Duration::from_secs_f64(warmup + duration),
        }
    }
    fn measuring(&self) -> bool {
        self.start.elapsed() >= self.warmup
    }
    fn done(&self) -> bool {
        self.start.elapsed() >= self.end
    }
}

async fn handshake_task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
) -> Sample {
    let mut sample = Sample::default();
    let mut session: Option<SslSession> = None;
    while !window.done() {
        let t = Instant::now();
        let resume = if args.mode == Mode::Resume {
            session.as_ref()
        } else {
            None
        };
        let result = tls(&connector, args.addr, resume).await;
        match result {
            Ok(mut s) => {
                if args.mode == Mode::Resume && session.is_none() {
                    // Read briefly so TLS 1.3 tickets arrive, then keep the session.
                    let mut b = [0u8; 1];
                    let _ = tokio::time::timeout(Duration::from_millis(50), s.read(&mut b)).await;
                    session = s.ssl().session().map(|x| x.to_owned());
                }
                if window.measuring() {
                    sample.latencies.push(t.elapsed().as_micros() as u64);
                    sample.resumed += u64::from(s.ssl().session_reused());
                }
                // A clean close (close_notify): OpenSSL will not resume a session whose
                // connection was dropped without one.
                let _ = s.shutdown().await;
            }
            Err(_) => {
                if window.measuring() {
                    sample.failures += 1;
                }
            }
        }
    }
    sample
}

async fn roundtrip_task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
) -> Sample {
    let mut sample = Sample::default();
    let Ok(io) = open(&args, &connector).await else {
        sample.failures += 1;
        return sample;
    };
    let Ok(mut bolt) = Bolt::start(io, &args.auth).await else {
        sample.failures += 1;
        return sample;
    };
    while !window.done() {
        let t = Instant::now();
        let ok = bolt.query("RETURN 1").await.is_ok();
        if window.measuring() {
            if ok {
                sample.latencies.push(t.elapsed().as_micros() as u64);
            } else {
                sample.failures += 1;
            }
        }
        if !ok {
            break;
        }
    }
    sample
}

/// Resident memory of a process in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn storm(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = Arc::new(connector(args)?);
    let before = args.server_pid.and_then(rss_kib);
    let start = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut handles = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let (args, connector, gate) = (Arc::clone(args), Arc::clone(&connector), Arc::clone(&gate));
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            let t = Instant::now();
            let io = open(&args, &connector).await.ok()?;
            let kept: Box<dyn std::any::Any + Send> = if args.no_bolt {
                Box::new(io)
            } else {
                Box::new(Bolt::start(io, &args.auth).await.ok()?)
            };
            Some((t.elapsed().as_micros() as u64, kept))
        }));
    }
    let mut sample = Sample::default();
    let mut kept = Vec::with_capacity(args.count);
    for h in handles {
        match h.await? {
            Some((latency, conn)) => {
                sample.latencies.push(latency);
                kept.push(conn);
            }
            None => sample.failures += 1,
        }
    }
    let took = start.elapsed().as_secs_f64();
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = args.server_pid.and_then(rss_kib);
    let mut extra = vec![
        ("open_connections".to_owned(), kept.len() as f64),
        ("seconds".to_owned(), took),
    ];
    if let (Some(b), Some(a)) = (before, after) {
        let per = (a.saturating_sub(b) as f64 * 1024.0) / kept.len().max(1) as f64;
        extra.push(("server_rss_kib_before".to_owned(), b as f64));
        extra.push(("server_rss_kib_after".to_owned(), a as f64));
        extra.push(("server_bytes_per_connection".to_owned(), per));
    }
    drop(kept);
    Ok(report(args, &sample, took, &extra))
}

async fn reload(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let (target, a, b) = (&args.target, &args.pair_a, &args.pair_b);
    if target.len() != 2 || a.len() != 2 || b.len() != 2 {
        return Err("reload needs --target CERT KEY --pair-a CERT KEY --pair-b CERT KEY".into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let queries_failed = Arc::new(AtomicU64::new(0));
    let queries_ok = Arc::new(AtomicU64::new(0));
    let handshakes_failed = Arc::new(AtomicU64::new(0));
    let handshakes_ok = Arc::new(AtomicU64::new(0));
    let connector = Arc::new(connector(args)?);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (args, connector, stop, ok, failed) = (
            Arc::clone(args),
            Arc::clone(&connector),
            Arc::clone(&stop),
            Arc::clone(&queries_ok),
            Arc::clone(&queries_failed),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(io) = open(&args, &connector).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let Ok(mut bolt) = Bolt::start(io, &args.auth).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                match bolt.query("RETURN 1").await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
            }
        }));
    }
    // New connections keep arriving throughout.
    for _ in 0..4 {
        let (args, connector, stop, ok, failed) = (
            Arc::clone(args),
            Arc::clone(&connector),
            Arc::clone(&stop),
            Arc::clone(&handshakes_ok),
            Arc::clone(&handshakes_failed),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let attempt = async {
                    let io = open(&args, &connector).await?;
                    let mut bolt = Bolt::start(io, &args.auth).await?;
                    bolt.query("RETURN 1").await?;
                    Ok::<_, Error>(())
                };
                match attempt.await {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let io = open(args, &connector).await?;
    let mut admin = Bolt::start(io, &args.auth).await?;
    let mut sample = Sample::default();
    for k in 0..args.reloads {
        let pair = if k % 2 == 0 { b } else { a };
        std::fs::copy(&pair[0], &target[0])?;
        std::fs::copy(&pair[1], &target[1])?;
        let t = Instant::now();
        match admin.query("RELOAD BOLT_SERVER TLS").await {
            Ok(_) => sample.latencies.push(t.elapsed().as_micros() as u64),
            Err(_) => sample.failures += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let extra = vec![
        (
            "queries_ok".to_owned(),
            queries_ok.load(Ordering::Relaxed) as f64,
        ),
        (
            "queries_failed".to_owned(),
            queries_failed.load(Ordering::Relaxed) as f64,
        ),
        (
            "handshakes_ok".to_owned(),
            handshakes_ok.load(Ordering::Relaxed) as f64,
        ),
        (
            "handshakes_failed".to_owned(),
            handshakes_failed.load(Ordering::Relaxed) as f64,
        ),
    ];
    let seconds = sample.latencies.iter().sum::<u64>() as f64 / 1e6;
    Ok(report(args, &sample, seconds, &extra))
}

async fn stream(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = connector(args)?;
    let io = open(args, &connector).await?;
    let mut bolt = Bolt::start(io, &args.auth).await?;
    let t = Instant::now();
    let rows = bolt
        .query(&format!("UNWIND range(1, {}) AS x RETURN x", args.rows))
        .await?;
    let took = t.elapsed().as_secs_f64();
    let sample = Sample {
        latencies: vec![(took * 1e6) as u64],
        ..Sample::default()
    };
    Ok(report(
        args,
        &sample,
        took,
        &[
            ("rows".to_owned(), rows as f64),
            ("rows_per_second".to_owned(), rows as f64 / took),
        ],
    ))
}

/// Times one query on `bolt`, in seconds.
async fn timed_query(bolt: &mut Bolt, q: &str) -> Result<f64, Error> {
    let t = Instant::now();
    bolt.query(q).await?;
    Ok(t.elapsed().as_secs_f64())
}

/// A cheap pseudo-random sequence (xorshift) so that lookups hit scattered keys.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn graph(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = Arc::new(connector(args)?);
    let mut bolt = Bolt::start(open(args, &connector).await?, &args.auth).await?;
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
            let Ok(io) = open(&args, &connector).await else {
                sample.failures += 1;
                return sample;
            };
            let Ok(mut b) = Bolt::start(io, &args.auth).await else {
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
                    .query_with("MATCH (n:Bench {id: $id}) RETURN n.id", params)
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
        let s = h.await?;
        lookups.latencies.extend(s.latencies);
        lookups.failures += s.failures;
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
        bolt.query_with(
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

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(args: &BenchArgs, sample: &Sample, seconds: f64, extra: &[(String, f64)]) -> String {
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
