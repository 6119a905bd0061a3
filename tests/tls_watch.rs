//! `--bolt-tls-watch`: reloads on file changes, including rename-replace and a Kubernetes-style
//! `..data` symlink swap, and never serves a half-written pair.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{await_fingerprint, fixture, fixture_fingerprint, served_fingerprint, TestServer};

/// Replaces `dst` the way deploy tools do: write a temporary file, then rename it over.
fn rename_replace(src: &str, dst: &Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(fixture(src), &tmp).unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

#[tokio::test]
async fn rename_replace_is_picked_up() {
    let server =
        TestServer::tls_with("server.pem", "server.key", |c| c.bolt_tls_watch = true).await;
    rename_replace("server2.key", &server.key_path());
    rename_replace("server2.pem", &server.cert_path());
    let want = fixture_fingerprint("server2.pem");
    assert_eq!(await_fingerprint(server.addr(), &want).await, want);
    let status = server.server.tls().unwrap().status().await.unwrap();
    assert!(status.generation >= 2);
}

#[tokio::test]
async fn half_written_pair_is_not_served_and_recovers_when_the_key_lands() {
    let server =
        TestServer::tls_with("server.pem", "server.key", |c| c.bolt_tls_watch = true).await;
    let old = fixture_fingerprint("server.pem");
    rename_replace("server2.pem", &server.cert_path()); // new certificate, old key
    let tls = server.server.tls().unwrap().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tls.status().await.unwrap().reloads_failed == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the half pair was never tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_fingerprint(server.addr()).await, old);
    rename_replace("server2.key", &server.key_path());
    let want = fixture_fingerprint("server2.pem");
    assert_eq!(await_fingerprint(server.addr(), &want).await, want);
}

#[tokio::test]
async fn kubernetes_style_symlink_swap_is_picked_up() {
    // secret/..2026_1/{tls.crt,tls.key}, secret/..data -> ..2026_1, secret/tls.crt -> ..data/tls.crt
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path();
    let v1 = secret.join("..2026_1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::copy(fixture("server.pem"), v1.join("tls.crt")).unwrap();
    std::fs::copy(fixture("server.key"), v1.join("tls.key")).unwrap();
    symlink("..2026_1", secret.join("..data")).unwrap();
    symlink("..data/tls.crt", secret.join("tls.crt")).unwrap();
    symlink("..data/tls.key", secret.join("tls.key")).unwrap();
    let cert = secret.join("tls.crt");
    let key = secret.join("tls.key");
    let server = TestServer::tls_with("server.pem", "server.key", |c| {
        c.bolt_cert_file = Some(cert);
        c.bolt_key_file = Some(key);
        c.bolt_tls_watch = true;
    })
    .await;
    assert_eq!(
        served_fingerprint(server.addr()).await,
        fixture_fingerprint("server.pem")
    );

    // The kubelet's update: a new timestamped directory, then an atomic swap of `..data`.
    let v2 = secret.join("..2026_2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::copy(fixture("ec.pem"), v2.join("tls.crt")).unwrap();
    std::fs::copy(fixture("ec.key"), v2.join("tls.key")).unwrap();
    symlink("..2026_2", secret.join("..data_tmp")).unwrap();
    std::fs::rename(secret.join("..data_tmp"), secret.join("..data")).unwrap();
    std::fs::remove_dir_all(&v1).unwrap();

    let want = fixture_fingerprint("ec.pem");
    assert_eq!(await_fingerprint(server.addr(), &want).await, want);
}
