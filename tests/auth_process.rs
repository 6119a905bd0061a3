//! Auth against the real `boltd` process: the initial user from the environment, and durability
//! of acknowledged changes when the process is killed (SIGKILL) in the middle of a burst.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, OFFER_4_4};

fn spawn(data: &std::path::Path, env: &[(&str, &str)]) -> (Child, std::net::SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boltd"));
    cmd.args([
        "--bolt-address",
        "127.0.0.1",
        "--bolt-port",
        &port.to_string(),
        "--log-level",
        "error",
    ])
    .arg(format!("--data-directory={}", data.display()))
    .env_remove("MEMGRAPH_USER")
    .env_remove("BOLTD_USER")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "boltd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("127.0.0.1:{port}").parse().unwrap())
}

#[tokio::test]
async fn initial_user_from_the_environment() {
    for (user_var, pass_var) in [
        ("MEMGRAPH_USER", "MEMGRAPH_PASSWORD"),
        ("BOLTD_USER", "BOLTD_PASSWORD"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, addr) = spawn(dir.path(), &[(user_var, "boss"), (pass_var, "s3cret")]);
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(
            Client::over_as(Box::new(tcp), OFFER_4_4, None)
                .await
                .is_err(),
            "{user_var}: anonymous got in"
        );
        let mut boss = Client::plain_as(addr, OFFER_4_4, "boss", "s3cret")
            .await
            .unwrap();
        let (_, rows, _) = boss.query("SHOW PRIVILEGES FOR boss").await.unwrap();
        assert!(
            rows.iter().any(|r| r[0] == "RELOAD_TLS".into()),
            "all privileges: {rows:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[tokio::test]
async fn sigkill_during_a_burst_of_user_changes_keeps_every_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn(
        dir.path(),
        &[("BOLTD_USER", "root"), ("BOLTD_PASSWORD", "r")],
    );
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let burst = {
        let acknowledged = Arc::clone(&acknowledged);
        tokio::spawn(async move {
            let mut root = Client::plain_as(addr, OFFER_4_4, "root", "r")
                .await
                .unwrap();
            for i in 0.. {
                let name = format!("user{i}");
                root.run_msg(&format!("CREATE USER {name} IDENTIFIED BY 'pw{i}'"))
                    .await;
                match root.try_recv().await {
                    Some(common::Response::Success(_)) => {}
                    _ => return,
                }
                root.pull_msg().await;
                match root.try_recv().await {
                    Some(common::Response::Success(_)) => acknowledged.lock().unwrap().push(name),
                    _ => return,
                }
            }
        })
    };
    // Let a good number of changes land, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), burst).await;

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20,
        "the burst was too slow: {}",
        acknowledged.len()
    );
    let auth = boltd::auth::Auth::open(dir.path()).expect("the file is whole and loads");
    let users = auth.users();
    for name in &acknowledged {
        assert!(users.contains(name), "{name} was acknowledged but lost");
    }
    let last = acknowledged.last().unwrap();
    let i: usize = last.trim_start_matches("user").parse().unwrap();
    assert!(auth.verify(last, &format!("pw{i}")));
}
