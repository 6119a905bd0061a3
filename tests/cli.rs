//! The `boltd` binary's start-up behaviour: flags, configuration errors, certificate errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fixture;

fn boltd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boltd"));
    cmd.env_remove("BOLTD_BOLT_PORT")
        .args(["--bolt-address", "127.0.0.1", "--bolt-port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs to completion (bounded) and returns (exit code, stderr, how long it took).
fn run(cmd: &mut Command) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn boltd");
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                start.elapsed(),
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("boltd did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_documents_the_memgraph_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_boltd"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bolt-address",
        "--bolt-port",
        "--bolt-cert-file",
        "--bolt-key-file",
        "--bolt-num-workers",
        "--bolt-server-name-for-init",
        "--log-level",
        "--log-file",
        "--config",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn only_a_certificate_is_a_configuration_error_naming_the_key_flag() {
    let (code, stderr, _) = run(boltd().args(["--bolt-cert-file", "/tmp/c.pem"]));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("--bolt-key-file"), "{stderr}");
}

#[test]
fn an_unloadable_certificate_stops_startup_naming_the_file() {
    let garbage = fixture("garbage.pem");
    let (code, stderr, took) = run(boltd().args([
        "--bolt-cert-file",
        garbage.to_str().unwrap(),
        "--bolt-key-file",
        fixture("server.key").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains(garbage.to_str().unwrap()), "{stderr}");
    assert!(
        stderr.contains("Couldn't load server certificate"),
        "{stderr}"
    );
    // Start-up must not linger; generous bound for a loaded CI machine.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let (code, stderr, _) = run(boltd().args(["--config", "/nonexistent/boltd.toml"]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/boltd.toml"), "{stderr}");
}

#[test]
fn tls_startup_logs_the_secure_line_and_stops_on_sigterm() {
    let mut child = boltd()
        .args([
            "--bolt-cert-file",
            fixture("server.pem").to_str().unwrap(),
            "--bolt-key-file",
            fixture("server.key").to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut saw_secure = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if line.contains("Using secure Bolt connection (with SSL)") {
            saw_secure = true;
        }
        if line.contains("Bolt server listening") {
            break;
        }
    }
    send_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(saw_secure, "no secure-connection log line");
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
}

fn send_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}
