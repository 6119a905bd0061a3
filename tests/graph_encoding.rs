//! Graph and temporal values on the wire, per negotiated Bolt version (raw bytes over sockets).

mod common;

use boltd::value::{Map, Value};
use common::{Client, ResponseExt, TestServer, OFFER_4_4, OFFER_5_4};

const QUERY: &str = "CREATE (n:City {name: 'Zagreb'}) \
                     RETURN n, datetime('2024-06-01T12:00:00[Europe/Zagreb]') AS zoned, \
                     datetime('2024-06-01T12:00:00+02:00') AS offset";

/// The RECORD bytes of QUERY on a fresh connection.
async fn record(offer: [u8; 16], utc_patch: bool) -> (Vec<u8>, Map) {
    let server = TestServer::plain().await;
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut extra = Map::new();
    if utc_patch {
        extra.insert("patch_bolt".into(), Value::List(vec!["utc".into()]));
    }
    let mut c = Client::over_with_hello(Box::new(tcp), offer, None, extra)
        .await
        .unwrap();
    c.run_msg(QUERY).await;
    c.pull_msg().await;
    let _run_success = c.recv().await;
    let raw = c.recv_raw().await;
    let summary = c.recv().await.success();
    (raw, summary)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// 2024-06-01T12:00:00 as seconds since the epoch, read as UTC (the legacy "local" seconds).
const LOCAL_SECONDS: i64 = 1_717_243_200;
/// The same instant in UTC (Zagreb is UTC+2 in June).
const UTC_SECONDS: i64 = LOCAL_SECONDS - 7200;

fn int32(v: i64) -> Vec<u8> {
    let mut b = vec![0xCA];
    b.extend_from_slice(&(v as i32).to_be_bytes());
    b
}

#[tokio::test]
async fn bolt_4_gets_three_field_nodes_and_legacy_local_datetimes() {
    let (raw, summary) = record(OFFER_4_4, false).await;
    assert!(
        contains(&raw, &[0xB3, 0x4E]),
        "Node with 3 fields: {raw:02X?}"
    );
    assert!(!contains(&raw, &[0xB4, 0x4E]));
    // DateTimeZoneId 0x66 and DateTime 0x46, both with local wall-clock seconds.
    let mut zone_id = vec![0xB3, 0x66];
    zone_id.extend(int32(LOCAL_SECONDS));
    assert!(contains(&raw, &zone_id), "{raw:02X?}");
    let mut offset = vec![0xB3, 0x46];
    offset.extend(int32(LOCAL_SECONDS));
    assert!(contains(&raw, &offset), "{raw:02X?}");
    assert_eq!(summary.get("type"), Some(&Value::String("rw".into())));
}

#[tokio::test]
async fn bolt_4_4_with_the_utc_patch_gets_utc_datetimes() {
    let (raw, _) = record(OFFER_4_4, true).await;
    assert!(contains(&raw, &[0xB3, 0x4E]), "still Bolt 4 nodes");
    let mut zone_id = vec![0xB3, 0x69];
    zone_id.extend(int32(UTC_SECONDS));
    assert!(contains(&raw, &zone_id), "{raw:02X?}");
    let mut offset = vec![0xB3, 0x49];
    offset.extend(int32(UTC_SECONDS));
    assert!(contains(&raw, &offset), "{raw:02X?}");
}

#[tokio::test]
async fn bolt_5_gets_element_ids_and_utc_datetimes() {
    let (raw, _) = record(OFFER_5_4, false).await;
    assert!(
        contains(&raw, &[0xB4, 0x4E]),
        "Node with element_id: {raw:02X?}"
    );
    let mut zone_id = vec![0xB3, 0x69];
    zone_id.extend(int32(UTC_SECONDS));
    assert!(contains(&raw, &zone_id), "{raw:02X?}");
    assert!(!contains(&raw, &[0xB3, 0x46]) && !contains(&raw, &[0xB3, 0x66]));
}
