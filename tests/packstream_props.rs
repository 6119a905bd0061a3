//! Property tests: every value survives a PackStream round trip under both structure layouts, and
//! no byte sequence makes the decoder panic.

use boltd::bolt::packstream::{encode_value, Decoder, StructLayout};
use boltd::value::{Duration, Map, Node, Relationship, TimeZone, Value};
use proptest::prelude::*;

fn finite_float() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL
}

/// Named zones here have no daylight-saving changes after 1970: the legacy (Bolt 4) encoding sends
/// local wall-clock time, which is ambiguous for an hour each autumn in DST zones, so those cannot
/// round-trip exactly by design (unit tests cover DST zones at unambiguous instants).
fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        (-18 * 3600..=18 * 3600).prop_map(TimeZone::Offset),
        prop::sample::select(vec!["Asia/Tokyo", "Asia/Kolkata", "UTC"])
            .prop_map(|z| TimeZone::Named(z.to_owned())),
    ]
}

fn properties(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Map> {
    prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        finite_float().prop_map(Value::Float),
        ".{0,40}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        (-1_000_000i64..1_000_000).prop_map(Value::Date),
        (0i64..86_400_000_000_000, -64_800i32..64_800).prop_map(|(nanos, offset_seconds)| {
            Value::Time {
                nanos,
                offset_seconds,
            }
        }),
        (0i64..86_400_000_000_000).prop_map(Value::LocalTime),
        (-10_000_000_000i64..10_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(seconds, nanos)| Value::LocalDateTime { seconds, nanos }),
        (0i64..4_000_000_000, 0u32..1_000_000_000, zone()).prop_map(|(seconds, nanos, zone)| {
            Value::DateTime {
                seconds,
                nanos,
                zone,
            }
        }),
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()).prop_map(
            |(months, days, seconds, nanos)| Value::Duration(Duration {
                months,
                days,
                seconds,
                nanos
            })
        ),
        (any::<i64>(), finite_float(), finite_float()).prop_map(|(srid, x, y)| Value::Point2D {
            srid,
            x,
            y
        }),
        (any::<i64>(), finite_float(), finite_float(), finite_float())
            .prop_map(|(srid, x, y, z)| Value::Point3D { srid, x, y, z }),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            properties(inner.clone()).prop_map(Value::Map),
            (
                any::<i64>(),
                prop::collection::vec("[A-Z][a-z]{0,6}", 0..3),
                properties(inner.clone())
            )
                .prop_map(|(id, labels, properties)| Value::Node(Node::new(
                    id, labels, properties
                ))),
            (
                any::<i64>(),
                any::<i64>(),
                any::<i64>(),
                "[A-Z_]{1,8}",
                properties(inner)
            )
                .prop_map(
                    |(id, start, end, rel_type, properties)| Value::Relationship(Relationship {
                        id,
                        start,
                        end,
                        rel_type,
                        properties
                    })
                ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip_under_both_layouts(v in value()) {
        for layout in [StructLayout::for_version(4, 4, false), StructLayout::for_version(5, 4, false), StructLayout::for_version(4, 4, true)] {
            let mut bytes = Vec::new();
            encode_value(&mut bytes, &v, layout).unwrap();
            let mut d = Decoder::new(&bytes);
            let back = d.read_value().unwrap();
            prop_assert!(d.is_empty());
            prop_assert_eq!(&back, &v);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Decoder::new(&bytes).read_value();
        let _ = Decoder::new(&bytes).read_struct_header();
        let _ = boltd::bolt::message::decode(&bytes, boltd::bolt::handshake::Version::new(5, 4));
    }
}
