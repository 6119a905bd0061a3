//! Durability against the real `boltd` process: SIGKILL at random moments under a concurrent write
//! load (with and without periodic snapshots and small WAL segments), the data-directory lock,
//! the snapshot on exit, damaged files, starting with recovery off, and a full disk (a small
//! tmpfs; skipped with a message where it cannot be mounted).
//!
//! The kill delays come from a seeded generator; the seed is printed, and `BOLTD_TEST_SEED=<n>`
//! replays a run.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boltd::bolt::client::{self, Response};
use boltd::bolt::handshake::Version;
use boltd::value::{Map, Value};
use tokio::net::TcpStream;

/// Every network step is bounded, so a hung server fails the test instead of hanging it.
const STEP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The process.

/// A `boltd` child on a data directory, logging to a file of its own.
struct Boltd {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

/// Why a start did not come up: the exit code and what it wrote to stderr.
#[derive(Debug)]
struct Refused {
    code: Option<i32>,
    stderr: String,
}

/// Where a test keeps the logs and stderr of its starts: outside the data directory.
struct Logs {
    dir: PathBuf,
    starts: usize,
}

impl Logs {
    fn new(dir: &Path) -> Logs {
        fs::create_dir_all(dir).unwrap();
        Logs {
            dir: dir.to_owned(),
            starts: 0,
        }
    }

    fn next(&mut self) -> (PathBuf, PathBuf) {
        self.starts += 1;
        (
            self.dir.join(format!("boltd-{}.log", self.starts)),
            self.dir.join(format!("boltd-{}.stderr", self.starts)),
        )
    }
}

/// Starts boltd on `data` with `extra` flags; Ok once it listens, Err if it exits first.
fn try_start(data: &Path, logs: &mut Logs, extra: &[&str]) -> Result<Boltd, Refused> {
    let (log, stderr_path) = logs.next();
    let stderr = fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boltd"))
        .env_remove("BOLTD_BOLT_PORT")
        .env_remove("MEMGRAPH_USER")
        .env_remove("BOLTD_USER")
        .args(["--bolt-address", "127.0.0.1", "--bolt-port", "0"])
        .arg(format!("--data-directory={}", data.display()))
        .arg(format!("--log-file={}", log.display()))
        .arg("--log-level=info")
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn boltd");
    // Recovery runs before the port is bound; a large graph in a debug build takes a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(Refused {
                code: status.code(),
                stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            });
        }
        if let Some(addr) = listening_address(&log) {
            return Ok(Boltd { child, addr, log });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("boltd did not start listening in 30 s; log: {}", read(&log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(data: &Path, logs: &mut Logs, extra: &[&str]) -> Boltd {
    try_start(data, logs, extra).unwrap_or_else(|r| panic!("boltd refused to start: {r:?}"))
}

/// The address from the "Bolt server listening" log line (the server binds port 0).
fn listening_address(log: &Path) -> Option<SocketAddr> {
    let text = fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("Bolt server listening"))?;
    let at = line.find("address: ")? + "address: ".len();
    line[at..].split([',', ' ']).next()?.parse().ok()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

impl Boltd {
    /// SIGKILL: no shutdown code runs.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and the exit code of the clean stop.
    fn terminate(mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's PID, which we have not waited for yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("boltd did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log once it contains `needle` (records are written asynchronously), bounded.
    fn log_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = read(&self.log);
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Boltd {
    fn drop(&mut self) {
        // A failing test must not leave a server behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A Bolt connection that reports a dead server instead of panicking: the load runs into the kill.

#[derive(Debug)]
enum Failed {
    /// The server answered FAILURE with this message.
    Refused(String),
    /// The connection broke or timed out.
    Broken(String),
}

struct Bolt {
    inner: client::Client<TcpStream>,
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, client::ClientError>>,
) -> Result<T, Failed> {
    match tokio::time::timeout(STEP, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failed::Broken(e.to_string())),
        Err(_) => Err(Failed::Broken("timed out".into())),
    }
}

impl Bolt {
    async fn connect(addr: SocketAddr) -> Result<Bolt, Failed> {
        let mut tcp = match tokio::time::timeout(STEP, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(Failed::Broken(e.to_string())),
            Err(_) => return Err(Failed::Broken("connect timed out".into())),
        };
        tcp.set_nodelay(true).ok();
        let offer = client::offer(Version::new(4, 4));
        let version = bounded(client::handshake(&mut tcp, &offer))
            .await?
            .ok_or_else(|| Failed::Broken("no version agreed".into()))?;
        let mut inner = client::Client::new(tcp, version).with_max_message(usize::MAX);
        bounded(inner.authenticate("durability-test", Map::new(), client::no_auth())).await?;
        Ok(Bolt { inner })
    }

    /// Reads the answers to `requests` queued requests: the records of every PULL, or the first
    /// FAILURE (after which the rest are IGNORED, and the connection is RESET).
    async fn answers(&mut self, requests: usize) -> Result<Vec<Vec<Value>>, Failed> {
        let mut records = Vec::new();
        let mut failure = None;
        let mut answered = 0;
        while answered < requests {
            match bounded(self.inner.recv()).await? {
                Response::Record(r) => records.push(r),
                Response::Success(_) | Response::Ignored => answered += 1,
                f @ Response::Failure(_) => {
                    answered += 1;
                    failure.get_or_insert(f.message().unwrap_or_default().to_owned());
                }
            }
        }
        match failure {
            None => Ok(records),
            Some(message) => {
                self.inner
                    .reset()
                    .map_err(|e| Failed::Broken(e.to_string()))?;
                match bounded(self.inner.recv()).await? {
                    Response::Success(_) => Err(Failed::Refused(message)),
                    other => Err(Failed::Broken(format!("RESET answered {other:?}"))),
                }
            }
        }
    }

    /// RUN + PULL in one write (an auto-commit transaction).
    async fn run(&mut self, query: &str, params: Map) -> Result<Vec<Vec<Value>>, Failed> {
        let queued = self
            .inner
            .run(query, params, Map::new())
            .and_then(|()| self.inner.pull(-1));
        queued.map_err(|e| Failed::Broken(e.to_string()))?;
        self.answers(2).await
    }

    /// BEGIN, every statement with PULL, COMMIT, in one write; Ok only after COMMIT's SUCCESS.
    async fn transaction(&mut self, statements: &[(&str, Map)]) -> Result<Vec<Vec<Value>>, Failed> {
        let mut queue = || -> Result<(), client::ClientError> {
            self.inner.begin(Map::new())?;
            for (query, params) in statements {
                self.inner.run(query, params.clone(), Map::new())?;
                self.inner.pull(-1)?;
            }
            self.inner.commit()
        };
        queue().map_err(|e| Failed::Broken(e.to_string()))?;
        self.answers(2 + 2 * statements.len()).await
    }
}

fn params(pairs: &[(&str, Value)]) -> Map {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert((*k).into(), v.clone());
    }
    m
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Runs a query that must succeed.
async fn query(addr: SocketAddr, q: &str) -> Vec<Vec<Value>> {
    let mut c = Bolt::connect(addr).await.expect("connect");
    c.run(q, Map::new())
        .await
        .unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness.

/// SplitMix64: small, and enough to spread kill moments reproducibly.
struct Rng(u64);

impl Rng {
    fn from_env_or_clock() -> Rng {
        let seed = std::env::var("BOLTD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("seed: {seed} (BOLTD_TEST_SEED={seed} replays it)");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// The crash loop.

/// What clients were told was committed, with the ids the server gave the nodes.
#[derive(Debug, Default)]
struct Ledger {
    /// `:W` nodes by their unique `n`.
    singles: HashMap<i64, i64>,
    /// `:T` transactions by `tx`: the ids of their three nodes.
    txs: HashMap<i64, Vec<i64>>,
    /// Ids acknowledged in the current round (checked against the ids of earlier rounds).
    round_ids: Vec<i64>,
}

impl Ledger {
    /// The acknowledged commits, to check without holding the writers' lock.
    fn copy(&self) -> Ledger {
        Ledger {
            singles: self.singles.clone(),
            txs: self.txs.clone(),
            round_ids: Vec::new(),
        }
    }
}

/// Writer `w` of round `round` until the server goes away or `max` iterations: alternately an
/// auto-commit CREATE and an explicit transaction of three CREATEs; each recorded only after
/// its SUCCESS.
async fn writer(
    addr: SocketAddr,
    round: i64,
    w: i64,
    pad: usize,
    ledger: Arc<Mutex<Ledger>>,
    connected: tokio::sync::mpsc::Sender<()>,
) {
    let Ok(mut c) = Bolt::connect(addr).await else {
        return;
    };
    let _ = connected.send(()).await;
    let padding = Value::String("p".repeat(pad));
    for i in 0..1_000_000i64 {
        let key = round * 100_000_000 + w * 10_000_000 + i;
        if i % 2 == 0 {
            let p = params(&[
                ("w", Value::Int(w)),
                ("n", Value::Int(key)),
                ("pad", padding.clone()),
            ]);
            match c
                .run(
                    "CREATE (x:W {writer: $w, n: $n, pad: $pad}) RETURN id(x)",
                    p,
                )
                .await
            {
                Ok(rows) => {
                    let id = int(&rows[0][0]);
                    let mut l = ledger.lock().unwrap();
                    l.singles.insert(key, id);
                    l.round_ids.push(id);
                }
                Err(Failed::Refused(m)) => panic!("writer {w}: CREATE refused: {m}"),
                Err(Failed::Broken(_)) => return,
            }
        } else {
            let statements: Vec<(&str, Map)> = (0..3)
                .map(|k| {
                    (
                        "CREATE (x:T {tx: $tx, k: $k, pad: $pad}) RETURN id(x)",
                        params(&[
                            ("tx", Value::Int(key)),
                            ("k", Value::Int(k)),
                            ("pad", padding.clone()),
                        ]),
                    )
                })
                .collect();
            match c.transaction(&statements).await {
                Ok(rows) => {
                    let ids: Vec<i64> = rows.iter().map(|r| int(&r[0])).collect();
                    assert_eq!(ids.len(), 3, "three CREATEs, three ids");
                    let mut l = ledger.lock().unwrap();
                    l.round_ids.extend(&ids);
                    l.txs.insert(key, ids);
                }
                Err(Failed::Refused(m)) => panic!("writer {w}: transaction refused: {m}"),
                Err(Failed::Broken(_)) => return,
            }
        }
    }
}

/// Checks the recovered graph against the ledger; returns every node id in it.
async fn verify(addr: SocketAddr, ledger: &Ledger, round: usize) -> HashSet<i64> {
    let singles = query(addr, "MATCH (x:W) RETURN x.n, id(x)").await;
    let parts = query(addr, "MATCH (x:T) RETURN x.tx, x.k, id(x)").await;
    let mut ids = HashSet::new();
    let mut by_n: HashMap<i64, i64> = HashMap::new();
    for row in &singles {
        let (n, id) = (int(&row[0]), int(&row[1]));
        assert!(ids.insert(id), "round {round}: node id {id} twice");
        assert!(
            by_n.insert(n, id).is_none(),
            "round {round}: :W {{n: {n}}} duplicated"
        );
    }
    let mut by_tx: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for row in &parts {
        let (tx, k, id) = (int(&row[0]), int(&row[1]), int(&row[2]));
        assert!(ids.insert(id), "round {round}: node id {id} twice");
        by_tx.entry(tx).or_default().push((k, id));
    }
    for (tx, nodes) in &mut by_tx {
        nodes.sort();
        let ks: Vec<i64> = nodes.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            ks,
            vec![0, 1, 2],
            "round {round}: transaction {tx} recovered in part (or twice)"
        );
    }
    for (n, id) in &ledger.singles {
        assert_eq!(
            by_n.get(n),
            Some(id),
            "round {round}: acknowledged :W {{n: {n}}} (id {id}) lost or renumbered"
        );
    }
    for (tx, acked) in &ledger.txs {
        let got: Vec<i64> = by_tx
            .get(tx)
            .map(|v| v.iter().map(|(_, id)| *id).collect())
            .unwrap_or_default();
        assert_eq!(
            &got, acked,
            "round {round}: acknowledged transaction {tx} lost or renumbered"
        );
    }
    ids
}

struct CrashLoop<'a> {
    rounds: usize,
    writers: i64,
    /// Kill delay range in ms, counted from the moment every writer is connected.
    delay: (u64, u64),
    pad: usize,
    flags: &'a [&'a str],
}

/// Runs the crash loop on `data`; returns what was acknowledged.
async fn crash_loop(data: &Path, logs: &mut Logs, plan: CrashLoop<'_>) -> Ledger {
    let mut rng = Rng::from_env_or_clock();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut old_ids: HashSet<i64> = HashSet::new();
    let mut server = start(data, logs, plan.flags);
    for round in 0..plan.rounds {
        let (connected_tx, mut connected) = tokio::sync::mpsc::channel(plan.writers as usize);
        let tasks: Vec<_> = (0..plan.writers)
            .map(|w| {
                tokio::spawn(writer(
                    server.addr,
                    round as i64,
                    w,
                    plan.pad,
                    Arc::clone(&ledger),
                    connected_tx.clone(),
                ))
            })
            .collect();
        drop(connected_tx);
        for _ in 0..plan.writers {
            let up = tokio::time::timeout(STEP, connected.recv()).await;
            assert!(matches!(up, Ok(Some(()))), "a writer could not connect");
        }
        let delay = rng.between(plan.delay.0, plan.delay.1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("a writer noticed the kill")
                .expect("writer did not panic");
        }
        let new_ids = std::mem::take(&mut ledger.lock().unwrap().round_ids);
        for id in &new_ids {
            assert!(
                !old_ids.contains(id),
                "round {round}: id {id} reused after a restart"
            );
        }
        server = start(data, logs, plan.flags);
        let acknowledged = ledger.lock().unwrap().copy();
        println!(
            "round {round}: killed after {delay} ms; {} acknowledged nodes this round, {} \
             singles and {} transactions acknowledged so far",
            new_ids.len(),
            acknowledged.singles.len(),
            acknowledged.txs.len()
        );
        let found = verify(server.addr, &acknowledged, round).await;
        old_ids.extend(found);
        old_ids.extend(new_ids);
    }
    server.kill();
    let acknowledged = ledger.lock().unwrap().copy();
    acknowledged
}

/// Recovery after SIGKILL keeps every acknowledged commit, invents nothing, splits no
/// transaction, and never hands out a recovered node's id again. WAL only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut logs = Logs::new(&dir.path().join("logs"));
    let started = Instant::now();
    let ledger = crash_loop(
        &data,
        &mut logs,
        CrashLoop {
            rounds: 5,
            writers: 4,
            delay: (50, 500),
            pad: 0,
            flags: &["--storage-snapshot-interval-sec=0"],
        },
    )
    .await;
    let (singles, txs) = (ledger.singles.len(), ledger.txs.len());
    println!(
        "{singles} singles, {txs} transactions in {:?}",
        started.elapsed()
    );
    assert!(
        singles + txs >= 5,
        "the load barely ran ({singles} singles, {txs} transactions): nothing was tested"
    );
    assert!(
        !data.join("snapshots").exists()
            || fs::read_dir(data.join("snapshots")).unwrap().count() == 0,
        "no snapshot was asked for"
    );
}

fn segments(data: &Path) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = fs::read_dir(data.join("wal"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let seq = name.strip_prefix("wal-")?.split('-').next()?.parse().ok()?;
            Some((seq, name))
        })
        .collect();
    out.sort();
    out
}

fn snapshot_files(data: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = fs::read_dir(data.join("snapshots"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let stem = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
                    Some((stem.split('-').next()?.parse().ok()?, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The same with a snapshot every second and 64 KiB WAL segments, so that kills land while a
/// snapshot is written and while segments roll; then retention, pruning, and a leftover
/// temporary snapshot file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_snapshots_and_segment_rolls_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut logs = Logs::new(&dir.path().join("logs"));
    let flags = [
        "--storage-snapshot-interval-sec=1",
        "--storage-wal-file-size-kib=64",
        "--storage-snapshot-retention-count=3",
    ];
    let plan_rounds = 5;
    let started = Instant::now();
    // Records of about 1 KiB: a 64 KiB segment rolls every few dozen commits.
    let ledger = crash_loop(
        &data,
        &mut logs,
        CrashLoop {
            rounds: plan_rounds,
            writers: 4,
            delay: (600, 1600),
            pad: 1000,
            flags: &flags,
        },
    )
    .await;
    let (singles, txs) = (ledger.singles.len(), ledger.txs.len());
    println!(
        "{singles} singles, {txs} transactions in {:?}",
        started.elapsed()
    );
    assert!(singles + txs >= 5, "the load barely ran");

    // A snapshot killed half-way leaves its temporary file; one more must not disturb recovery.
    fs::create_dir_all(data.join("snapshots")).unwrap();
    let leftover = data
        .join("snapshots")
        .join(".snapshot-00000000000000999999-1.tmp");
    fs::write(&leftover, b"BOLTDSNP\x01\x00\x00\x00 half a snapshot").unwrap();

    let server = start(&data, &mut logs, &flags);
    assert!(
        !leftover.exists(),
        "the temporary snapshot file was not cleared"
    );
    // Everything acknowledged, whole, once (commits logged but killed before their SUCCESS
    // may come back too: that is allowed).
    verify(server.addr, &ledger, plan_rounds).await;
    // A snapshot now prunes: at most 3 are kept, and no segment survives that the oldest kept
    // snapshot covers entirely (except the one being written).
    query(server.addr, "CREATE SNAPSHOT").await;
    let listed = query(server.addr, "SHOW SNAPSHOTS").await;
    assert!(
        (1..=3).contains(&listed.len()),
        "SHOW SNAPSHOTS: {listed:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let (oldest, left) = loop {
        let snaps = snapshot_files(&data);
        assert!((1..=3).contains(&snaps.len()), "snapshot files: {snaps:?}");
        let oldest = snaps[0].0;
        let left = segments(&data);
        let covered = left
            .windows(2)
            .filter(|pair| pair[1].0.saturating_sub(1) <= oldest)
            .count();
        if covered == 0 || Instant::now() > deadline {
            assert_eq!(
                covered, 0,
                "segments covered by snapshot {oldest} kept: {left:?}"
            );
            break (oldest, left);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(oldest > 0, "the snapshots cover nothing");
    // Every start opens a segment, the first one at record 1: pruning has deleted it.
    assert!(
        left[0].0 > 1,
        "the first WAL segments were never deleted: {left:?}"
    );
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// The lock, the exit snapshot, recovery off.

#[tokio::test]
async fn a_second_server_on_the_same_directory_refuses_naming_it_and_the_first_pid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut logs = Logs::new(&dir.path().join("logs"));
    let first = start(&data, &mut logs, &[]);
    let refused = match try_start(&data, &mut logs, &[]) {
        Ok(_) => panic!("a second server started on a directory in use"),
        Err(r) => r,
    };
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.code.is_some(),
        "killed by a signal instead of exiting"
    );
    assert!(
        refused.stderr.contains(&data.display().to_string()),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("PID {}", first.child.id())),
        "{}",
        refused.stderr
    );
    // The first one is unharmed.
    query(first.addr, "CREATE (:Still {here: true})").await;
    let rows = query(first.addr, "MATCH (x:Still) RETURN count(x)").await;
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    assert_eq!(first.terminate(), Some(0));
}

#[tokio::test]
async fn sigterm_writes_a_snapshot_that_recovers_without_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut logs = Logs::new(&dir.path().join("logs"));
    let flags = [
        "--storage-snapshot-on-exit=true",
        "--storage-snapshot-interval-sec=0",
    ];
    let server = start(&data, &mut logs, &flags);
    query(server.addr, "CREATE INDEX ON :P(k)").await;
    query(
        server.addr,
        "UNWIND range(1, 200) AS i CREATE (:P {k: i, name: 'p' + toString(i)})",
    )
    .await;
    query(
        server.addr,
        "MATCH (a:P {k: 1}), (b:P {k: 2}) CREATE (a)-[:R {w: 0.5}]->(b)",
    )
    .await;
    let before = query(server.addr, "MATCH (x:P) RETURN max(id(x))").await;
    assert!(
        snapshot_files(&data).is_empty(),
        "a snapshot before the exit"
    );
    assert_eq!(server.terminate(), Some(0), "clean exit on SIGTERM");
    let snaps = snapshot_files(&data);
    assert_eq!(snaps.len(), 1, "the exit snapshot: {snaps:?}");

    fs::remove_dir_all(data.join("wal")).unwrap();
    let server = start(&data, &mut logs, &flags);
    let log = server.log_containing("recovered the graph");
    assert!(
        log.contains(&snaps[0].1.display().to_string()),
        "recovered from the snapshot: {log}"
    );
    let rows = query(server.addr, "MATCH (x:P) RETURN count(x), sum(x.k)").await;
    assert_eq!(rows, vec![vec![Value::Int(200), Value::Int(200 * 201 / 2)]]);
    let named = query(server.addr, "MATCH (x:P {k: 7}) RETURN x.name").await;
    assert_eq!(named, vec![vec![Value::from("p7")]]);
    let rels = query(
        server.addr,
        "MATCH (:P {k: 1})-[r:R]->(:P {k: 2}) RETURN r.w",
    )
    .await;
    assert_eq!(rels, vec![vec![Value::Float(0.5)]]);
    let index = query(server.addr, "SHOW INDEX INFO").await;
    assert!(
        index
            .iter()
            .any(|r| r[1] == "P".into() && r[2] == "k".into()),
        "the index survived: {index:?}"
    );
    // The id counter came back with the snapshot: a new node gets a fresh id.
    let new = query(server.addr, "CREATE (x:P {k: 201}) RETURN id(x)").await;
    assert!(
        int(&new[0][0]) > int(&before[0][0]),
        "an old id handed out again"
    );
    server.kill();
}

#[tokio::test]
async fn recovery_off_starts_empty_and_sets_the_old_files_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut logs = Logs::new(&dir.path().join("logs"));
    let server = start(&data, &mut logs, &["--storage-snapshot-interval-sec=0"]);
    query(server.addr, "UNWIND range(1, 30) AS i CREATE (:Old {i: i})").await;
    assert_eq!(server.terminate(), Some(0));
    let old_files: Vec<(String, u64)> = ["wal", "snapshots"]
        .iter()
        .flat_map(|sub| fs::read_dir(data.join(sub)).unwrap().flatten())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    assert!(
        old_files.len() >= 2,
        "a segment and the exit snapshot: {old_files:?}"
    );

    let server = start(
        &data,
        &mut logs,
        &[
            "--data-recovery-on-startup=false",
            "--storage-snapshot-interval-sec=0",
        ],
    );
    let rows = query(server.addr, "MATCH (x) RETURN count(x)").await;
    assert_eq!(rows, vec![vec![Value::Int(0)]], "started empty");
    query(server.addr, "CREATE (:New)").await;
    // Every old file is still there, byte for byte in size, in a set-aside directory.
    let mut aside: Vec<(String, u64)> = Vec::new();
    for entry in fs::read_dir(&data).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if name.contains("set-aside") {
            for f in fs::read_dir(entry.path()).unwrap().flatten() {
                aside.push((
                    f.file_name().into_string().unwrap(),
                    f.metadata().unwrap().len(),
                ));
            }
        }
    }
    for file in &old_files {
        assert!(aside.contains(file), "{file:?} not kept aside: {aside:?}");
    }
    server.kill();
    // The set-aside files stay out of later recoveries; what was written since comes back.
    let server = start(&data, &mut logs, &["--storage-snapshot-interval-sec=0"]);
    let rows = query(server.addr, "MATCH (x) RETURN labels(x)").await;
    assert_eq!(rows, vec![vec![Value::List(vec!["New".into()])]]);
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// Damage.

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The groups of a WAL segment (one per write; here, one commit each): (offset, total length).
/// A segment ends at its end or where zeros start (the rest of a preallocated file).
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 12; // the magic
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            assert!(bytes[at..].iter().all(|&b| b == 0), "zeros, then data");
            break;
        }
        out.push((at, 8 + len));
        at += 8 + len;
    }
    assert!(at <= bytes.len(), "the segment is made of whole groups");
    out
}

/// A data directory whose newest WAL segment holds `n` records: `:D {i}` for i in 0..n, one
/// commit each, left by SIGKILL (no snapshot).
async fn wal_only_data(data: &Path, logs: &mut Logs, n: i64) -> PathBuf {
    let server = start(data, logs, &["--storage-snapshot-interval-sec=0"]);
    let mut c = Bolt::connect(server.addr).await.unwrap();
    for i in 0..n {
        c.run("CREATE (:D {i: $i})", params(&[("i", Value::Int(i))]))
            .await
            .unwrap();
    }
    server.kill();
    let segs = segments(data);
    let newest = data.join("wal").join(&segs.last().unwrap().1);
    assert_eq!(frames(&fs::read(&newest).unwrap()).len(), n as usize);
    newest
}

fn ds(rows: &[Vec<Value>]) -> Vec<i64> {
    let mut v: Vec<i64> = rows.iter().map(|r| int(&r[0])).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_damaged_wal_record_with_records_after_it_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut logs = Logs::new(&dir.path().join("logs"));
    let original = dir.path().join("original");
    let newest = wal_only_data(&original, &mut logs, 40).await;
    let bytes = fs::read(&newest).unwrap();
    let groups = frames(&bytes);
    let written = groups.last().map_or(0, |(at, len)| at + len);
    let (at, len) = *groups
        .iter()
        .find(|(at, len)| at + len > written / 2)
        .unwrap();
    // A flipped byte in the middle of the file, in each part of the frame found there: the
    // payload, the checksum, and the length (whose high byte makes the record claim to run past
    // the end of the file, like a torn write; the records after it show that it is not one).
    for (what, offset) in [
        ("payload", at + 8 + (len - 8) / 2),
        ("checksum", at + 5),
        ("length", at + 3),
    ] {
        let data = dir.path().join(format!("flip-{what}"));
        copy_dir(&original, &data);
        let file = data.join("wal").join(newest.file_name().unwrap());
        let mut bad = bytes.clone();
        bad[offset] ^= 0x40;
        fs::write(&file, &bad).unwrap();
        match try_start(&data, &mut logs, &["--storage-snapshot-interval-sec=0"]) {
            Ok(server) => {
                let rows = query(server.addr, "MATCH (x:D) RETURN x.i").await;
                panic!(
                    "started on a WAL damaged in its {what} with {} of 40 records",
                    rows.len()
                );
            }
            Err(refused) => {
                assert_ne!(refused.code, Some(0), "{what}");
                assert!(refused.code.is_some(), "{what}: died of a signal");
                assert!(
                    refused.stderr.contains(&file.display().to_string()),
                    "{what}: {}",
                    refused.stderr
                );
            }
        }
        assert_eq!(
            fs::read(&file).unwrap(),
            bad,
            "{what}: the damaged segment was changed by the refused start"
        );
    }
}

#[tokio::test]
async fn a_torn_last_record_is_cut_with_a_warning_keeping_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut logs = Logs::new(&dir.path().join("logs"));
    let data = dir.path().join("data");
    let newest = wal_only_data(&data, &mut logs, 25).await;
    let bytes = fs::read(&newest).unwrap();
    let (at, len) = *frames(&bytes).last().unwrap();
    let cut_at = at + len / 2;
    fs::write(&newest, &bytes[..cut_at]).unwrap();

    let server = start(&data, &mut logs, &["--storage-snapshot-interval-sec=0"]);
    let log = server.log_containing("torn record");
    assert!(log.contains("torn record"), "no warning: {log}");
    let warning = log.lines().find(|l| l.contains("torn record")).unwrap();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&newest.display().to_string()),
        "the warning names the file: {warning}"
    );
    let rows = query(server.addr, "MATCH (x:D) RETURN x.i").await;
    assert_eq!(
        ds(&rows),
        (0..24).collect::<Vec<_>>(),
        "every record before the cut"
    );
    assert_eq!(
        fs::read(&newest).unwrap(),
        &bytes[..at],
        "the torn record was cut off"
    );
    // The cut is durable: the next start finds a clean log.
    server.kill();
    let server = start(&data, &mut logs, &["--storage-snapshot-interval-sec=0"]);
    let rows = query(server.addr, "MATCH (x:D) RETURN x.i").await;
    assert_eq!(rows.len(), 24);
    assert!(!read(&server.log).contains("torn record"));
    server.kill();
}

#[tokio::test]
async fn a_damaged_newest_snapshot_falls_back_to_an_older_one_and_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let mut logs = Logs::new(&dir.path().join("logs"));
    let data = dir.path().join("data");
    let flags = ["--storage-snapshot-interval-sec=0"];
    let server = start(&data, &mut logs, &flags);
    let mut c = Bolt::connect(server.addr).await.unwrap();
    for i in 0..60i64 {
        c.run("CREATE (:D {i: $i})", params(&[("i", Value::Int(i))]))
            .await
            .unwrap();
        if i == 19 || i == 39 {
            c.run("CREATE SNAPSHOT", Map::new()).await.unwrap();
        }
    }
    server.kill();
    let snaps = snapshot_files(&data);
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    let newest = &snaps[1].1;
    let mut bytes = fs::read(newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(newest, &bytes).unwrap();

    let server = start(&data, &mut logs, &flags);
    let log = server.log_containing("damaged snapshot passed over");
    assert!(
        log.contains("damaged snapshot passed over") && log.contains(&newest.display().to_string()),
        "{log}"
    );
    assert!(
        log.contains(&snaps[0].1.display().to_string()),
        "recovered from the older snapshot: {log}"
    );
    let rows = query(server.addr, "MATCH (x:D) RETURN x.i").await;
    assert_eq!(ds(&rows), (0..60).collect::<Vec<_>>());
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// A full disk.

/// A tmpfs mounted for one test; unmounted when dropped (after the server on it is gone).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`, or None when this machine does not allow it.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            println!("mount: {}", String::from_utf8_lossy(&out.stderr).trim_end());
            return None;
        }
        Some(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Busy (a process still has a file open): detach it now, freed once closed.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// With the data directory on a full disk, writes fail with an error naming the WAL, reads go on,
/// the server stays up, and once space is freed writes work again without a restart; after a
/// restart exactly the acknowledged commits are there.
#[tokio::test]
async fn a_full_disk_fails_writes_keeps_reads_and_recovers_when_space_is_freed() {
    full_disk(&[]).await;
}

/// The same with syncs every 1000 commits, where committing threads write the WAL themselves.
#[tokio::test]
async fn a_full_disk_without_syncs_on_every_commit_fails_and_recovers_the_same() {
    full_disk(&["--storage-wal-file-flush-every-n-tx=1000"]).await;
}

async fn full_disk(extra: &[&str]) {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("mnt");
    // Declared before the server, so dropped after it: the mount outlives the process.
    let Some(_tmpfs) = Tmpfs::mount(&mnt, "2m") else {
        println!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let data = mnt.join("data");
    let mut logs = Logs::new(&base.path().join("logs"));
    let mut flags = vec![
        "--storage-snapshot-interval-sec=0",
        "--storage-snapshot-on-exit=false",
    ];
    flags.extend_from_slice(extra);
    let server = start(&data, &mut logs, &flags);
    let mut c = Bolt::connect(server.addr).await.unwrap();
    let pad = Value::String("f".repeat(4000));
    let create = |i: i64| params(&[("i", Value::Int(i)), ("pad", pad.clone())]);
    const CREATE: &str = "CREATE (:F {i: $i, pad: $pad})";
    let mut acked = Vec::new();
    for i in 0..10 {
        c.run(CREATE, create(i)).await.expect("room for these");
        acked.push(i);
    }

    // Fill the file system, then give back a little: a few more commits fit, then none.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 << 10];
        let mut full = false;
        for _ in 0..1000 {
            if f.write_all(&chunk).and_then(|()| f.sync_all()).is_err() {
                full = true;
                break;
            }
        }
        assert!(full, "a 2 MiB tmpfs took 64 MiB");
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(64 << 10)).unwrap();
    }
    let mut next = 10;
    let message = loop {
        assert!(next < 500, "writes never failed on a full disk");
        match c.run(CREATE, create(next)).await {
            Ok(_) => acked.push(next),
            Err(Failed::Refused(m)) => break m,
            Err(Failed::Broken(e)) => panic!("the server went away on a full disk: {e}"),
        }
        next += 1;
    };
    println!("{} commits, then: {message}", acked.len());
    let mut failed = vec![next];
    assert!(acked.len() > 10, "no commit fitted in the space given back");
    assert!(message.contains("WAL"), "{message}");
    assert!(message.to_lowercase().contains("space"), "{message}");
    // Still full: more writes fail the same way, and none of them becomes visible.
    for i in next + 1..next + 4 {
        match c.run(CREATE, create(i)).await {
            Err(Failed::Refused(m)) => assert!(m.contains("WAL"), "{m}"),
            other => panic!("a write on a full disk: {other:?}"),
        }
        failed.push(i);
    }
    let rows = query(server.addr, "MATCH (x:F) RETURN x.i").await;
    assert_eq!(
        ds(&rows),
        acked,
        "reads see exactly the acknowledged commits"
    );
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );

    fs::remove_file(&filler).unwrap();
    for i in 1000..1005 {
        c.run(CREATE, create(i))
            .await
            .unwrap_or_else(|e| panic!("a write after space was freed: {e:?}"));
        acked.push(i);
    }
    let rows = query(server.addr, "MATCH (x:F) RETURN x.i").await;
    assert_eq!(ds(&rows), acked);

    server.kill();
    let server = start(&data, &mut logs, &flags);
    let rows = query(server.addr, "MATCH (x:F) RETURN x.i").await;
    let recovered = ds(&rows);
    assert_eq!(
        recovered, acked,
        "after a restart: the acknowledged commits, and only those"
    );
    assert!(failed.iter().all(|i| !recovered.contains(i)));
    server.kill();
}
