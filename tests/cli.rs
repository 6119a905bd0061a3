//! The `boltd` binary's start-up behaviour: flags, configuration files (TOML and Memgraph's
//! memgraph.conf), configuration errors, certificate errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fixture;

/// A `boltd` command on a data directory of its own: tests run in parallel, and a data directory
/// admits one server at a time.
fn boltd() -> Command {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boltd"));
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = std::env::temp_dir().join(format!("boltd-cli-test-{}-{n}", std::process::id()));
    cmd.env_remove("BOLTD_BOLT_PORT")
        .env_remove("MEMGRAPH_CONFIG")
        .args(["--bolt-address", "127.0.0.1", "--bolt-port", "0"])
        .arg(format!("--data-directory={}", data.display()))
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
    let mut listening = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if line.contains("Using secure Bolt connection (with SSL)") {
            saw_secure = true;
        }
        if line.contains("Bolt server listening") {
            listening = Some(line);
            break;
        }
    }
    send_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(saw_secure, "no secure-connection log line");
    // The certificate was loaded through libcrypto, whose allocations go to mimalloc (alloc.rs).
    let listening = listening.expect("no listening line");
    assert!(listening.contains("openssl_heap: mimalloc"), "{listening}");
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
}

/// The server returns freed heap to the system at once (alloc.rs), unless the operator set
/// mimalloc's own variable; the listening line says which delay is in force.
#[test]
fn the_heap_is_purged_at_once_unless_the_environment_says_otherwise() {
    for (env, expected) in [
        (None, "heap_purge_delay_ms: 0"),
        (Some("7"), "heap_purge_delay_ms: 7"),
    ] {
        let mut cmd = boltd();
        cmd.env_remove("MIMALLOC_PURGE_DELAY");
        if let Some(v) = env {
            cmd.env("MIMALLOC_PURGE_DELAY", v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let listening = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("Bolt server listening"));
        send_sigterm(child.id());
        child.wait().unwrap();
        let line = listening.expect("no listening line");
        assert!(line.contains(expected), "{env:?}: {line}");
    }
}

fn send_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// Starts boltd with TLS on copies of `cert`/`key` in `dir`, logging to a file; returns the child,
/// the port and the log path once it listens.
fn start_tls(
    dir: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, u16, std::path::PathBuf) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = dir.join("boltd.log");
    let child = Command::new(env!("CARGO_BIN_EXE_boltd"))
        .args([
            "--bolt-address",
            "127.0.0.1",
            "--bolt-port",
            &port.to_string(),
        ])
        .arg(format!(
            "--bolt-cert-file={}",
            dir.join("cert.pem").display()
        ))
        .arg(format!("--bolt-key-file={}", dir.join("key.pem").display()))
        .arg(format!("--log-file={}", log.display()))
        .arg(format!("--data-directory={}", dir.join("data").display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "boltd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port, log)
}

/// The fingerprint a blocking TLS client is served.
fn fingerprint_at(port: u16) -> String {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let tls = b.build().connect("localhost", tcp).unwrap();
    let cert = tls.ssl().peer_certificate().unwrap();
    boltd::tls::acceptor::fingerprint_hex(
        &cert.digest(openssl::hash::MessageDigest::sha256()).unwrap(),
    )
}

fn stop(mut child: std::process::Child) {
    send_sigterm(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("server.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(fixture("server.key"), dir.path().join("key.pem")).unwrap();
    let (child, port, log) = start_tls(dir.path(), &[]);
    assert_eq!(
        fingerprint_at(port),
        common::fixture_fingerprint("server.pem")
    );
    std::fs::copy(fixture("server2.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(fixture("server2.key"), dir.path().join("key.pem")).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status();
    let want = common::fixture_fingerprint("server2.pem");
    let deadline = Instant::now() + Duration::from_secs(15);
    while fingerprint_at(port) != want {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(child);
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("TLS certificate reloaded") && text.contains("trigger: signal"),
        "{text}"
    );
}

#[test]
fn a_certificate_expiring_in_five_days_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_boltd"))
        .args(["cert", "generate", "--key", "p256", "--days", "5", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (child, port, log) = start_tls(dir.path(), &[]);
    // The generated pair is what pymgclient-style clients are served.
    let inspected = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(inspected.contains(&fingerprint_at(port)), "{inspected}");
    stop(child);
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("WARN") && text.contains("expires soon"),
        "{text}"
    );
    assert!(
        text.contains("days_left: 4") || text.contains("days_left: 5"),
        "{text}"
    );
}

/// Writes a self-signed pair that expired yesterday.
fn write_expired_pair(dir: &std::path::Path) {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "expired").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    let now = boltd::tls::acceptor::now_unix();
    b.set_not_before(&Asn1Time::from_unix(now - 10 * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now - 86_400).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    std::fs::write(dir.join("cert.pem"), b.build().to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("key.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
}

#[test]
fn an_expired_certificate_is_served_with_an_error_unless_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_expired_pair(dir.path());
    let (child, port, log) = start_tls(dir.path(), &[]);
    fingerprint_at(port); // still served, as Memgraph does
    stop(child);
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("ERRO") && text.contains("has expired"),
        "{text}"
    );

    let cert = dir.path().join("cert.pem");
    let (code, stderr, _) = run(boltd().args([
        "--bolt-tls-refuse-expired",
        "--bolt-cert-file",
        cert.to_str().unwrap(),
        "--bolt-key-file",
        dir.path().join("key.pem").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("expired") && stderr.contains(cert.to_str().unwrap()),
        "{stderr}"
    );
}

#[test]
fn bench_measures_round_trips_and_handshakes_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("server.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(fixture("server.key"), dir.path().join("key.pem")).unwrap();
    let (child, port, _) = start_tls(dir.path(), &[]);
    for mode in ["roundtrip", "handshake", "resume"] {
        let out = Command::new(env!("CARGO_BIN_EXE_boltd"))
            .args(["bench", mode, "--tls", "--json", "--concurrency", "2"])
            .args(["--duration", "0.5", "--warmup", "0.2"])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["operations"].as_u64().unwrap() > 0,
            "{mode}: {report}"
        );
        assert_eq!(report["failures"].as_u64(), Some(0), "{mode}: {report}");
        if mode == "resume" {
            assert_eq!(
                report["resumed"].as_f64(),
                report["operations"].as_f64(),
                "{report}"
            );
        }
    }
    stop(child);
}

/// Memgraph's memgraph.conf as shipped, written for these tests.
fn memgraph_conf() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/memgraph.conf")
}

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Spawns `cmd` and waits until `port` accepts connections; panics (killing the child) if the
/// process exits first or does not listen in time.
fn spawn_listening(cmd: &mut Command, port: u16) -> std::process::Child {
    let mut child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "boltd exited with {status}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("boltd did not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A Bolt session (HELLO, then `RETURN 1`) works against 127.0.0.1:`port`.
fn bolt_works(port: u16) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut client = common::Client::plain(addr).await;
        client.ping().await;
    });
}

#[test]
fn a_real_memgraph_conf_starts_the_server_and_names_the_flags_it_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("boltd.log");
    let port = free_port();
    // The command line overrides the file's port, data directory and log file (the file's are
    // Memgraph's system paths); its log level (WARNING) still applies.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boltd"));
    cmd.env_remove("MEMGRAPH_CONFIG")
        .env_remove("BOLTD_BOLT_PORT")
        .env_remove("BOLTD_LOG_LEVEL")
        .arg("--flag-file")
        .arg(memgraph_conf())
        .args([
            "--bolt-address",
            "127.0.0.1",
            "--bolt-port",
            &port.to_string(),
        ])
        .arg(format!(
            "--data-directory={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--log-file={}", log.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let child = spawn_listening(&mut cmd, port);
    bolt_works(port);
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    let warning = text
        .lines()
        .find(|l| l.contains("Memgraph flags that boltd does not implement are ignored"))
        .unwrap_or_else(|| panic!("no warning about ignored flags: {text}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("fixtures/memgraph.conf"), "{warning}");
    for flag in [
        "--telemetry-enabled",
        "--storage-properties-on-edges",
        "--query-modules-directory",
        "--isolation-level",
        "--storage-mode",
        "--auth-password-permit-null",
        "--storage-gc-cycle-sec",
    ] {
        assert!(warning.contains(flag), "{flag} missing from {warning}");
    }
    // Flags boltd implements are not in it, and the file's WARNING level was applied.
    for implemented in [
        "--bolt-port",
        "--memory-limit",
        "--query-execution-timeout-sec",
        "--log-level",
    ] {
        assert!(!warning.contains(implemented), "{implemented} in {warning}");
    }
    assert!(
        !text.contains("Bolt server listening"),
        "INFO logged at WARNING: {text}"
    );
}

#[test]
fn a_typo_in_a_memgraph_conf_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("memgraph.conf");
    let mut text = std::fs::read_to_string(memgraph_conf()).unwrap();
    text.push_str("--bolt-prot=7687\n");
    let line = text.lines().count();
    std::fs::write(&conf, &text).unwrap();
    let (code, stderr, _) = run(boltd().arg("--flag-file").arg(&conf));
    assert_eq!(code, Some(2), "{stderr}");
    let want = format!(
        "{}:{line}: unknown flag --bolt-prot (neither Memgraph nor boltd has it); did you mean --bolt-port?",
        conf.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn memgraph_config_names_the_flag_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("memgraph.conf");
    std::fs::write(
        &conf,
        format!(
            "--bolt-address=127.0.0.1\n--bolt-port={port}\n--data-directory={}\n\
             --telemetry-enabled=false\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    // No --bolt-port: the server listens where the file says.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boltd"));
    cmd.env("MEMGRAPH_CONFIG", &conf)
        .env_remove("BOLTD_BOLT_PORT")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = spawn_listening(&mut cmd, port);
    bolt_works(port);
    send_sigterm(child.id());
    let out = std::mem::take(&mut child.stderr).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let stderr = std::io::read_to_string(out).unwrap();
    assert!(
        stderr.contains("Memgraph flags that boltd does not implement are ignored")
            && stderr.contains("--telemetry-enabled"),
        "{stderr}"
    );

    // A MEMGRAPH_CONFIG naming no file stops the start, naming the variable.
    let (code, stderr, _) = run(boltd().env("MEMGRAPH_CONFIG", dir.path().join("nope.conf")));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("nope.conf does not exist: check the MEMGRAPH_CONFIG environment variable"),
        "{stderr}"
    );
}
