//! `SHOW BOLT_SERVER TLS INFO` over real sockets, checked against what a TLS client is served.

mod common;

use boltd::value::{Map, TimeZone, Value};
use common::{served_fingerprint, Client, TestServer};

const COLUMNS: [&str; 15] = [
    "enabled",
    "subject",
    "issuer",
    "sans",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "sha256_fingerprint",
    "key_type",
    "loaded_at",
    "generation",
    "reloads_failed",
    "last_error",
    "client_auth",
];

async fn info(c: &mut Client) -> Map {
    let (fields, rows, _) = c
        .query("SHOW BOLT_SERVER TLS INFO;")
        .await
        .expect("SHOW works");
    let names: Vec<Value> = COLUMNS.iter().map(|c| Value::from(*c)).collect();
    assert_eq!(fields, names);
    assert_eq!(rows.len(), 1);
    COLUMNS
        .iter()
        .map(|c| c.to_string())
        .zip(rows.into_iter().next().unwrap())
        .collect()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

#[tokio::test]
async fn status_row_tracks_reloads_and_matches_the_served_certificate() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    let row = info(&mut c).await;
    assert_eq!(row["enabled"], Value::Bool(true));
    assert_eq!(row["subject"], s("O=boltd tests, CN=localhost"));
    assert_eq!(row["issuer"], s("O=boltd tests, CN=boltd test CA"));
    assert_eq!(
        row["sans"],
        Value::List(vec![s("localhost"), s("127.0.0.1")])
    );
    assert_eq!(row["key_type"], s("RSA 2048"));
    assert_eq!(row["generation"], Value::Int(1));
    assert_eq!(row["reloads_failed"], Value::Int(0));
    assert_eq!(row["last_error"], Value::Null);
    assert_eq!(row["client_auth"], s("none"));
    assert_eq!(
        row["sha256_fingerprint"],
        s(&served_fingerprint(server.addr()).await)
    );
    let Value::Int(days) = row["days_left"] else {
        panic!()
    };
    assert!(days > 3000, "the fixtures are valid for ten years: {days}");
    assert!(matches!(
        row["not_after"],
        Value::DateTime {
            zone: TimeZone::Offset(0),
            ..
        }
    ));

    // A failed reload is counted and its error shown; the certificate is unchanged.
    server.write_key(b"garbage");
    c.query("RELOAD BOLT_SERVER TLS")
        .await
        .expect_err("bad key");
    c.reset().await;
    let row = info(&mut c).await;
    assert_eq!(row["reloads_failed"], Value::Int(1));
    let Value::String(err) = &row["last_error"] else {
        panic!("{:?}", row["last_error"])
    };
    assert!(err.contains("Couldn't load server private key"), "{err}");
    assert_eq!(row["generation"], Value::Int(1));

    // A successful one bumps the generation, clears the error, and shows the new certificate.
    server.install("ec.pem", "ec.key");
    c.query("RELOAD BOLT_SERVER TLS").await.expect("reload");
    let row = info(&mut c).await;
    assert_eq!(row["generation"], Value::Int(2));
    assert_eq!(row["last_error"], Value::Null);
    assert_eq!(row["key_type"], s("EC P-256"));
    assert_eq!(
        row["sha256_fingerprint"],
        s(&served_fingerprint(server.addr()).await)
    );
}

#[tokio::test]
async fn allowed_inside_an_explicit_transaction() {
    let server = TestServer::tls("server.pem", "server.key").await;
    let (mut c, _) = Client::tls(server.addr()).await;
    c.query("BEGIN").await.unwrap();
    let row = info(&mut c).await;
    assert_eq!(row["enabled"], Value::Bool(true));
    c.query("COMMIT")
        .await
        .expect("the transaction is still healthy");
}

#[tokio::test]
async fn plaintext_server_reports_disabled_and_nulls() {
    let server = TestServer::plain().await;
    let mut c = Client::plain(server.addr()).await;
    let row = info(&mut c).await;
    assert_eq!(row["enabled"], Value::Bool(false));
    for col in &COLUMNS[1..] {
        assert_eq!(row[*col], Value::Null, "{col}");
    }
}
