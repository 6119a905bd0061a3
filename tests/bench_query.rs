//! `boltd bench seed` and `boltd bench query`, the modes bench/peers.sh drives other Bolt servers
//! with, run against a real server task over real sockets: what they count (operations,
//! failures, records, the loaded graph) must be right before their figures mean anything.

mod common;

use clap::Parser;
use common::TestServer;
use serde_json::Value;

/// `boltd bench`'s flags, parsed as the binary parses them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: boltd::bench::BenchArgs,
}

/// Runs `boltd bench MODE --json ARGS...` against `server` and returns its JSON report, or the
/// error it would print.
async fn bench(server: &TestServer, mode: &str, args: &[&str]) -> Result<Value, String> {
    let addr = server.addr().to_string();
    let mut argv = vec!["bench", mode, "--json", "--addr", &addr];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let out = boltd::bench::run(cli.bench).await?;
    Ok(serde_json::from_str(&out).expect("one JSON object"))
}

fn num(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// A short measured window with no warm-up: every run the tasks make is counted.
const WINDOW: &[&str] = &["--duration", "0.3", "--warmup", "0"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_loads_the_graph_it_reports_and_lookups_hit_it() {
    let server = TestServer::plain().await;
    let seeded = bench(
        &server,
        "seed",
        &["--rows", "300", "--rels", "1200", "--batch", "64"],
    )
    .await
    .unwrap();
    assert_eq!(num(&seeded, "nodes"), 300.0);
    assert_eq!(num(&seeded, "relationships"), 1200.0);
    // 300 / 64 and 1200 / 64 rounded up, and the index.
    assert_eq!(num(&seeded, "transactions"), (5 + 19 + 1) as f64);

    let mut args = vec![
        "--query",
        "MATCH (p:Person {id: $id}) RETURN p.name",
        "--param",
        "id=rand:0..300",
        "--expect-records",
        "1",
        "--concurrency",
        "3",
        "--bolt-version",
        "5.4",
    ];
    args.extend_from_slice(WINDOW);
    let lookups = bench(&server, "query", &args).await.unwrap();
    assert!(num(&lookups, "operations") > 0.0, "{lookups}");
    assert_eq!(num(&lookups, "failures"), 0.0, "{lookups}");
    assert_eq!(num(&lookups, "records"), num(&lookups, "operations"));

    // The count a script compares between servers comes back as `first_value`.
    let mut args = vec![
        "--query",
        "MATCH (:Person)-[k:KNOWS]->(:Person) RETURN count(k)",
    ];
    args.extend_from_slice(WINDOW);
    let counted = bench(&server, "query", &args).await.unwrap();
    assert_eq!(num(&counted, "first_value"), 1200.0, "{counted}");

    // A second load into the same server finds twice the nodes and says so.
    let again = bench(
        &server,
        "seed",
        &["--rows", "10", "--rels", "0", "--index", ""],
    )
    .await;
    let err = again.unwrap_err();
    assert!(
        err.contains("310 :Person nodes") && err.contains("fresh"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_queries_are_counted_once_each_and_the_sessions_go_on() {
    let server = TestServer::plain().await;
    // $x counts up from 1 across every session: the first (unmeasured) run takes 1, then odd
    // values succeed and even ones divide by zero, so measured failures and successes alternate.
    let mut args = vec![
        "--query",
        "RETURN 1 / ($x % 2)",
        "--param",
        "x=seq:1",
        "--concurrency",
        "3",
    ];
    args.extend_from_slice(WINDOW);
    let r = bench(&server, "query", &args).await.unwrap();
    let (ok, failed) = (num(&r, "operations"), num(&r, "failures"));
    assert!(ok > 0.0, "{r}");
    assert!(failed - ok == 0.0 || failed - ok == 1.0, "{r}");
    assert_eq!(num(&r, "records"), ok, "{r}");

    // Two records where one is expected: every run is a failure, none an operation.
    let mut args = vec![
        "--query",
        "UNWIND [1, 2] AS x RETURN x",
        "--expect-records",
        "1",
    ];
    args.extend_from_slice(WINDOW);
    let r = bench(&server, "query", &args).await.unwrap();
    assert_eq!(num(&r, "operations"), 0.0, "{r}");
    assert!(num(&r, "failures") > 0.0, "{r}");
}

#[tokio::test]
async fn bad_queries_databases_and_flags_are_clear_errors() {
    let server = TestServer::plain().await;
    let err = bench(
        &server,
        "query",
        &["--query", "RETURN 1 / $x", "--param", "x=0"],
    )
    .await
    .unwrap_err();
    assert!(err.contains("RETURN 1 / $x"), "{err}");

    let err = bench(
        &server,
        "query",
        &["--query", "RETURN 1", "--database", "nosuch"],
    )
    .await
    .unwrap_err();
    assert!(err.contains("nosuch"), "{err}");

    let err = bench(&server, "query", &[]).await.unwrap_err();
    assert!(err.contains("--query"), "{err}");

    for (flag, value, why) in [
        ("--param", "id=rand:9..2", "empty"),
        ("--param", "id", "NAME=SPEC"),
        ("--bolt-version", "6", "Bolt version"),
        ("--bolt-version", "3.0", "4.x and 5.x"),
    ] {
        let err = bench(&server, "query", &["--query", "RETURN 1", flag, value])
            .await
            .unwrap_err();
        assert!(err.contains(flag) && err.contains(why), "{err}");
    }
}
