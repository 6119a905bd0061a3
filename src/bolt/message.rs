//! Bolt request decoding and response encoding, per negotiated version.
//!
//! Requests are decoded from one reassembled message into a [`Request`]; responses are encoded
//! straight into the connection's output buffer, already chunked, so that a batch of RECORDs and
//! its summary leave in one write.

use crate::value::{Map, Value};

use super::chunk::write_chunked;
use super::handshake::Version;
use super::packstream::{self, Decoder, StructLayout};
use super::target::Target;

/// A client request, with the fields the session needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Hello {
        extra: Map,
    },
    Logon {
        auth: Map,
    },
    Logoff,
    Goodbye,
    Reset,
    Run {
        query: String,
        params: Map,
        extra: Map,
        /// The extra's `db` and `imp_user`.
        target: Target,
    },
    Begin {
        extra: Map,
        /// The extra's `db` and `imp_user`.
        target: Target,
    },
    Commit,
    Rollback,
    /// `n = -1` means all records; `qid = -1` means the last query.
    Pull {
        n: i64,
        qid: i64,
    },
    Discard {
        n: i64,
        qid: i64,
    },
    /// A neo4j:// client asking where to send its queries (Bolt 4.3+).
    Route {
        /// The routing context the client was given (the address it dialled, URL parameters).
        routing: Map,
        /// The bookmarks the client holds.
        bookmarks: Vec<String>,
        /// The database whose routing table is wanted (4.3: a string or null; 4.4+: the extra
        /// map's `db`), and `imp_user` (4.4+).
        target: Target,
    },
    Telemetry {
        api: i64,
    },
}

impl Request {
    /// The message name, for logs and protocol-violation messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "HELLO",
            Request::Logon { .. } => "LOGON",
            Request::Logoff => "LOGOFF",
            Request::Goodbye => "GOODBYE",
            Request::Reset => "RESET",
            Request::Run { .. } => "RUN",
            Request::Begin { .. } => "BEGIN",
            Request::Commit => "COMMIT",
            Request::Rollback => "ROLLBACK",
            Request::Pull { .. } => "PULL",
            Request::Discard { .. } => "DISCARD",
            Request::Route { .. } => "ROUTE",
            Request::Telemetry { .. } => "TELEMETRY",
        }
    }
}

/// A request that could not be decoded. Any of these ends the connection: the byte stream can no
/// longer be trusted to be in step.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("malformed message: {0}")]
    Decode(#[from] packstream::DecodeError),
    #[error("unknown message 0x{tag:02X} for Bolt {version}")]
    Unknown { tag: u8, version: Version },
    #[error("malformed {name} message: {reason}")]
    Fields { name: &'static str, reason: String },
    #[error("malformed message: {0} trailing bytes after the message")]
    Trailing(usize),
}

/// Decodes one message.
pub fn decode(bytes: &[u8], version: Version) -> Result<Request, MessageError> {
    let mut dec = Decoder::new(bytes);
    let (count, tag) = dec.read_struct_header()?;
    let mut fields = Vec::with_capacity(usize::from(count).min(3));
    for _ in 0..count {
        fields.push(dec.read_value()?);
    }
    if !dec.is_empty() {
        return Err(MessageError::Trailing(dec.remaining()));
    }
    let unknown = || MessageError::Unknown { tag, version };
    let request = match tag {
        0x01 => Request::Hello {
            extra: map_field("HELLO", &mut fields, 0)?,
        },
        0x02 => Request::Goodbye,
        0x0F => Request::Reset,
        0x10 => {
            let query = match fields.first_mut().map(take) {
                Some(Value::String(q)) => q,
                other => {
                    return Err(MessageError::Fields {
                        name: "RUN",
                        reason: format!(
                            "the query must be a string, got {}",
                            other.map_or("nothing", |v| v.type_name())
                        ),
                    })
                }
            };
            let params = map_field("RUN", &mut fields, 1)?;
            let extra = map_field("RUN", &mut fields, 2)?;
            Request::Run {
                query,
                params,
                target: target_entries("RUN", &extra)?,
                extra,
            }
        }
        0x11 => {
            let extra = map_field("BEGIN", &mut fields, 0)?;
            Request::Begin {
                target: target_entries("BEGIN", &extra)?,
                extra,
            }
        }
        0x12 => Request::Commit,
        0x13 => Request::Rollback,
        0x2F | 0x3F => {
            let extra = map_field("PULL", &mut fields, 0)?;
            let n = int_entry(&extra, "n", -1)?;
            let qid = int_entry(&extra, "qid", -1)?;
            if n == 0 || n < -1 {
                return Err(MessageError::Fields {
                    name: if tag == 0x3F { "PULL" } else { "DISCARD" },
                    reason: format!("n must be -1 or positive, got {n}"),
                });
            }
            if tag == 0x3F {
                Request::Pull { n, qid }
            } else {
                Request::Discard { n, qid }
            }
        }
        0x54 if version >= Version::new(5, 4) => Request::Telemetry {
            api: match fields.first() {
                Some(Value::Int(api)) => *api,
                _ => -1,
            },
        },
        0x66 if version.has_route() => Request::Route {
            routing: map_field("ROUTE", &mut fields, 0)?,
            bookmarks: bookmarks_field(&mut fields, 1)?,
            target: route_target(&mut fields, 2)?,
        },
        0x6A if version.has_logon() => Request::Logon {
            auth: map_field("LOGON", &mut fields, 0)?,
        },
        0x6B if version.has_logon() => Request::Logoff,
        _ => return Err(unknown()),
    };
    Ok(request)
}

/// Takes field `index` as a map; a missing or null field is an empty map, anything else is an
/// error (clients send maps; a non-map means we are out of step).
fn map_field(name: &'static str, fields: &mut [Value], index: usize) -> Result<Map, MessageError> {
    match fields.get_mut(index).map(take) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Map(m)) => Ok(m),
        Some(other) => Err(MessageError::Fields {
            name,
            reason: format!("field {index} must be a map, got {}", other.type_name()),
        }),
    }
}

/// `db` and `imp_user` of a BEGIN or RUN extra map (or of ROUTE's on 4.4+): each a string, or
/// absent or null. Other keys, bookmarks among them, are not looked at here.
fn target_entries(name: &'static str, extra: &Map) -> Result<Target, MessageError> {
    let entry = |key: &str| match extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(MessageError::Fields {
            name,
            reason: format!("{key} must be a string, got {}", other.type_name()),
        }),
    };
    Ok(Target {
        db: entry("db")?,
        imp_user: entry("imp_user")?,
    })
}

/// ROUTE's last field: the database name on 4.3 (a string or null), the map `{db, imp_user}`
/// from 4.4 on. Either shape is taken on any version: the field's type says which one it is.
fn route_target(fields: &mut [Value], index: usize) -> Result<Target, MessageError> {
    match fields.get_mut(index).map(take) {
        None | Some(Value::Null) => Ok(Target::default()),
        Some(Value::String(db)) => Ok(Target {
            db: Some(db),
            imp_user: None,
        }),
        Some(Value::Map(extra)) => target_entries("ROUTE", &extra),
        Some(other) => Err(MessageError::Fields {
            name: "ROUTE",
            reason: format!(
                "field {index} must be the database name (Bolt 4.3) or a map {{db, imp_user}} \
                 (Bolt 4.4+), got {}",
                other.type_name()
            ),
        }),
    }
}

/// ROUTE's bookmarks: a list of strings (null taken as none).
fn bookmarks_field(fields: &mut [Value], index: usize) -> Result<Vec<String>, MessageError> {
    let malformed = |what: &str| MessageError::Fields {
        name: "ROUTE",
        reason: format!("field {index} must be a list of bookmark strings, got {what}"),
    };
    match fields.get_mut(index).map(take) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(malformed(&format!("a list holding {}", other.type_name()))),
            })
            .collect(),
        Some(other) => Err(malformed(other.type_name())),
    }
}

fn int_entry(map: &Map, key: &str, default: i64) -> Result<i64, MessageError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Int(i)) => Ok(*i),
        Some(other) => Err(MessageError::Fields {
            name: "PULL",
            reason: format!("{key} must be an integer, got {}", other.type_name()),
        }),
    }
}

/// Moves a field out, leaving null behind (values have no `Default`).
fn take(v: &mut Value) -> Value {
    std::mem::replace(v, Value::Null)
}

const SUCCESS: u8 = 0x70;
const RECORD: u8 = 0x71;
const IGNORED: u8 = 0x7E;
const FAILURE: u8 = 0x7F;

/// A borrowed metadata value for [`ResponseWriter::success`]. It holds only plain values the
/// server built (write counters, notifications, the routing table), which cannot fail to encode.
pub enum Meta<'a> {
    Bool(bool),
    Int(i64),
    Str(&'a str),
    Value(&'a Value),
    /// Named integers: the write counters.
    Counters(&'a [(&'a str, i64)]),
    List(&'a [Value]),
    /// A list of strings: the field names of a result.
    Strings(&'a [String]),
}

/// Encodes responses into a reusable buffer, chunked and ready to write.
pub struct ResponseWriter {
    layout: StructLayout,
    /// One message before chunking; kept to avoid an allocation per message.
    scratch: Vec<u8>,
}

impl ResponseWriter {
    pub fn new(layout: StructLayout) -> Self {
        ResponseWriter {
            layout,
            scratch: Vec::with_capacity(256),
        }
    }

    pub fn set_layout(&mut self, layout: StructLayout) {
        self.layout = layout;
    }

    /// A SUCCESS. Its metadata is borrowed: the summary after every query would otherwise
    /// allocate the type and database strings and copy the write counters each time.
    pub fn success(&mut self, out: &mut Vec<u8>, metadata: &[(&str, Meta<'_>)]) {
        self.scratch.clear();
        packstream::write_struct_header(&mut self.scratch, 1, SUCCESS);
        packstream::write_map_header(&mut self.scratch, metadata.len());
        for (key, value) in metadata {
            packstream::write_string(&mut self.scratch, key);
            match value {
                Meta::Bool(b) => packstream::write_bool(&mut self.scratch, *b),
                Meta::Int(i) => packstream::write_int(&mut self.scratch, *i),
                Meta::Str(s) => packstream::write_string(&mut self.scratch, s),
                Meta::Value(v) => {
                    let _ = packstream::encode_value(&mut self.scratch, v, self.layout);
                }
                Meta::Counters(counters) => {
                    packstream::write_map_header(&mut self.scratch, counters.len());
                    for (name, n) in counters.iter() {
                        packstream::write_string(&mut self.scratch, name);
                        packstream::write_int(&mut self.scratch, *n);
                    }
                }
                Meta::List(items) => {
                    packstream::write_list_header(&mut self.scratch, items.len());
                    for v in items.iter() {
                        let _ = packstream::encode_value(&mut self.scratch, v, self.layout);
                    }
                }
                Meta::Strings(items) => {
                    packstream::write_list_header(&mut self.scratch, items.len());
                    for s in items.iter() {
                        packstream::write_string(&mut self.scratch, s);
                    }
                }
            }
        }
        write_chunked(out, &self.scratch);
    }

    /// Encodes a RECORD. Fails only for values that cannot be put on the wire (an unknown time
    /// zone), in which case nothing is appended to `out`.
    pub fn record(
        &mut self,
        out: &mut Vec<u8>,
        row: &[Value],
    ) -> Result<(), packstream::EncodeError> {
        self.scratch.clear();
        packstream::write_struct_header(&mut self.scratch, 1, RECORD);
        packstream::write_list_header(&mut self.scratch, row.len());
        for value in row {
            packstream::encode_value(&mut self.scratch, value, self.layout)?;
        }
        write_chunked(out, &self.scratch);
        Ok(())
    }

    pub fn ignored(&mut self, out: &mut Vec<u8>) {
        self.scratch.clear();
        packstream::write_struct_header(&mut self.scratch, 0, IGNORED);
        write_chunked(out, &self.scratch);
    }

    pub fn failure(&mut self, out: &mut Vec<u8>, code: &str, message: &str) {
        self.scratch.clear();
        packstream::write_struct_header(&mut self.scratch, 1, FAILURE);
        packstream::write_map_header(&mut self.scratch, 2);
        packstream::write_string(&mut self.scratch, "code");
        packstream::write_string(&mut self.scratch, code);
        packstream::write_string(&mut self.scratch, "message");
        packstream::write_string(&mut self.scratch, message);
        write_chunked(out, &self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_metadata_encodes_as_the_values_would() {
        let layout = StructLayout::for_version(5, 4, false);
        let notes = vec![Value::String("a note".into())];
        let fields = vec!["n".to_owned(), "m".to_owned()];
        let counters = [("nodes-created", 2), ("properties-set", 70_000)];
        let mut borrowed = Vec::new();
        ResponseWriter::new(layout).success(
            &mut borrowed,
            &[
                ("has_more", Meta::Bool(false)),
                ("t_last", Meta::Int(-3)),
                ("type", Meta::Str("rw")),
                ("stats", Meta::Counters(&counters)),
                ("notifications", Meta::List(&notes)),
                ("fields", Meta::Strings(&fields)),
            ],
        );
        let stats: Map = counters
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Int(*v)))
            .collect();
        let values = [
            Value::Bool(false),
            Value::Int(-3),
            Value::String("rw".into()),
            Value::Map(stats),
            Value::List(notes.clone()),
            Value::List(vec![Value::String("n".into()), Value::String("m".into())]),
        ];
        let keys = [
            "has_more",
            "t_last",
            "type",
            "stats",
            "notifications",
            "fields",
        ];
        let metadata: Vec<_> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (*k, Meta::Value(v)))
            .collect();
        let mut owned = Vec::new();
        ResponseWriter::new(layout).success(&mut owned, &metadata);
        assert_eq!(borrowed, owned);
    }

    /// A message with `tag` and `fields`, encoded as a client would.
    fn message(tag: u8, fields: &[Value]) -> Vec<u8> {
        let mut bytes = Vec::new();
        packstream::write_struct_header(&mut bytes, fields.len() as u8, tag);
        for f in fields {
            packstream::encode_value(&mut bytes, f, StructLayout::for_version(4, 4, false))
                .unwrap();
        }
        bytes
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn route(fields: &[Value], version: Version) -> Result<Request, MessageError> {
        decode(&message(0x66, fields), version)
    }

    #[test]
    fn route_takes_the_4_3_and_the_4_4_shapes() {
        let routing = map(&[("address", "localhost:7687".into())]);
        let bookmarks = Value::List(vec!["bm:1".into()]);
        let got = route(
            &[routing.clone(), bookmarks.clone(), "memgraph".into()],
            Version::new(4, 3),
        )
        .unwrap();
        let Request::Route {
            routing: r,
            bookmarks: b,
            target,
        } = got
        else {
            panic!("{got:?}")
        };
        assert_eq!(Value::Map(r), routing);
        assert_eq!(b, vec!["bm:1".to_owned()]);
        assert_eq!(target.db.as_deref(), Some("memgraph"));
        let extra = map(&[("db", "other".into()), ("imp_user", "alice".into())]);
        let got = route(&[routing.clone(), bookmarks, extra], Version::new(5, 4)).unwrap();
        let Request::Route { target, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(target.db.as_deref(), Some("other"));
        assert_eq!(target.imp_user.as_deref(), Some("alice"));
        for empty in [Value::Null, map(&[]), map(&[("db", Value::Null)])] {
            let got = route(
                &[routing.clone(), Value::List(vec![]), empty],
                Version::new(4, 4),
            );
            let Ok(Request::Route { target, .. }) = got else {
                panic!("{got:?}")
            };
            assert_eq!(target, Target::default());
        }
    }

    #[test]
    fn badly_typed_route_fields_are_malformed() {
        for fields in [
            vec![map(&[]), Value::Int(1), Value::Null],
            vec![map(&[]), Value::List(vec![Value::Int(1)]), Value::Null],
            vec![map(&[]), Value::List(vec![]), Value::Int(7)],
            vec![map(&[]), Value::List(vec![]), map(&[("db", Value::Int(7))])],
            vec![Value::Int(1), Value::List(vec![]), Value::Null],
        ] {
            let got = route(&fields, Version::new(4, 4));
            assert!(
                matches!(got, Err(MessageError::Fields { name: "ROUTE", .. })),
                "{fields:?}: {got:?}"
            );
        }
        // Before 4.3 there is no ROUTE.
        let got = route(
            &[map(&[]), Value::List(vec![]), Value::Null],
            Version::new(4, 1),
        );
        assert!(matches!(got, Err(MessageError::Unknown { tag: 0x66, .. })));
    }

    #[test]
    fn begin_and_run_carry_db_and_imp_user() {
        let extra = map(&[
            ("db", "memgraph".into()),
            ("bookmarks", Value::List(vec!["bm:1".into()])),
        ]);
        let got = decode(
            &message(0x11, std::slice::from_ref(&extra)),
            Version::new(4, 4),
        )
        .unwrap();
        let Request::Begin { target, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(target.db.as_deref(), Some("memgraph"));
        let got = decode(
            &message(
                0x10,
                &[
                    "RETURN 1".into(),
                    map(&[]),
                    map(&[("imp_user", "bob".into())]),
                ],
            ),
            Version::new(5, 0),
        )
        .unwrap();
        let Request::Run { target, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(target.imp_user.as_deref(), Some("bob"));
        let got = decode(
            &message(0x11, &[map(&[("db", Value::List(vec![]))])]),
            Version::new(4, 4),
        );
        assert!(matches!(
            got,
            Err(MessageError::Fields { name: "BEGIN", .. })
        ));
    }
}
