//! The value model shared by the query engine and the Bolt layer.
//!
//! Both PackStream (which puts values on the wire) and the engine (which computes them) speak this
//! type, so neither has to import the other. It mirrors Bolt's type system rather than any one
//! PackStream revision: the version-specific shapes (Bolt 4 vs Bolt 5 node structures, legacy vs
//! UTC datetimes) are chosen by the encoder, never stored here. The serde forms are what the
//! storage layer writes to the WAL and snapshots.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A property map or a Bolt map. Ordered so that output is deterministic (tests and users compare
/// printed maps), which Bolt permits because maps are unordered on the wire.
pub type Map = BTreeMap<String, Value>;

/// Any value a query can receive as a parameter or return in a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Map),
    Node(Node),
    Relationship(Relationship),
    Path(Path),
    /// Days since 1970-01-01.
    Date(i64),
    /// A wall-clock time with a UTC offset.
    Time {
        /// Nanoseconds since local midnight.
        nanos: i64,
        offset_seconds: i32,
    },
    /// Nanoseconds since midnight, no zone.
    LocalTime(i64),
    /// A date and time without a zone: seconds and nanoseconds since the epoch of the wall clock.
    LocalDateTime {
        seconds: i64,
        nanos: u32,
    },
    /// An instant with a zone. Stored as UTC so that comparisons and the Bolt 5 encoding need no
    /// time-zone database; the legacy (Bolt 4) encoding derives the local wall-clock from `zone`.
    DateTime {
        /// Seconds since the Unix epoch, UTC.
        seconds: i64,
        nanos: u32,
        zone: TimeZone,
    },
    Duration(Duration),
    Point2D {
        srid: i64,
        x: f64,
        y: f64,
    },
    Point3D {
        srid: i64,
        x: f64,
        y: f64,
        z: f64,
    },
}

/// How a zoned datetime names its zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimeZone {
    /// A fixed offset from UTC in seconds (east positive).
    Offset(i32),
    /// An IANA zone name such as `Europe/Zagreb`.
    Named(String),
}

/// Bolt's four-part duration: months and days are calendar units and cannot be folded into
/// seconds, so they are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Duration {
    pub months: i64,
    pub days: i64,
    pub seconds: i64,
    pub nanos: i64,
}

/// Stored properties: a small vector rather than a `BTreeMap`, whose nodes reserve room for
/// eleven entries and would cost about a kilobyte for a node with one property. Entities have
/// few properties, so a linear search is as fast as a tree.
#[derive(Debug, Clone, Default)]
pub struct Props(Vec<(Arc<str>, Value)>);

/// Equal when they hold the same keys and values, in whatever order they were set.
impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Props {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| v)
    }

    /// Where the entries are in memory (for prefetching; never read through).
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr().cast()
    }

    /// `get` by a name from `property_keys::shared`: stored names are mostly that very copy, so
    /// a pointer comparison settles most entries without reading the text.
    pub fn get_shared(&self, key: &Arc<str>) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, key) || **k == **key)
            .map(|(_, v)| v)
    }

    pub fn insert(&mut self, key: String, value: Value) {
        match self.0.iter_mut().find(|(k, _)| **k == *key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((crate::property_keys::shared(&key), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| **k == *key)?;
        Some(self.0.swap_remove(at).1)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    pub fn to_map(&self) -> Map {
        self.0
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// The pairs as stored, for the WAL and snapshots to encode without copying (a shared key
    /// encodes as the string it is).
    pub fn as_slice(&self) -> &[(Arc<str>, Value)] {
        &self.0
    }

    /// Pairs as decoded from the WAL or a snapshot (keys are unique: they were a `Props`).
    pub fn from_pairs(pairs: Vec<(String, Value)>) -> Self {
        Props(
            pairs
                .into_iter()
                .map(|(k, v)| (crate::property_keys::shared(&k), v))
                .collect(),
        )
    }
}

impl From<Map> for Props {
    fn from(map: Map) -> Self {
        Props(
            map.into_iter()
                .map(|(k, v)| (crate::property_keys::shared(&k), v))
                .collect(),
        )
    }
}

/// A node's labels and properties. The graph stores nodes in this form behind an `Arc`, and a
/// [`Node`] value holds the same `Arc`: matching binds nodes to variables for every candidate
/// path, and sharing the record makes that a reference count instead of a copy of every label
/// and property.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeData {
    pub labels: Vec<String>,
    pub props: Props,
}

/// A graph node as returned to clients and seen by expressions: its id and its record as of
/// when it was bound (a later SET binds a new value).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "NodeParts", into = "NodeParts")]
pub struct Node {
    pub id: i64,
    data: Arc<NodeData>,
}

impl Node {
    pub fn new(id: i64, labels: Vec<String>, properties: Map) -> Node {
        Node::shared(
            id,
            Arc::new(NodeData {
                labels,
                props: properties.into(),
            }),
        )
    }

    /// A node value over a stored record, copying nothing.
    pub fn shared(id: i64, data: Arc<NodeData>) -> Node {
        Node { id, data }
    }

    pub fn labels(&self) -> &[String] {
        &self.data.labels
    }

    pub fn properties(&self) -> &Props {
        &self.data.props
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && (Arc::ptr_eq(&self.data, &other.data) || self.data == other.data)
    }
}

/// A node's serde form: nodes are never stored as properties, so this only has to be plain.
#[derive(Clone, Serialize, Deserialize)]
struct NodeParts {
    id: i64,
    labels: Vec<String>,
    properties: Map,
}

impl From<NodeParts> for Node {
    fn from(p: NodeParts) -> Node {
        Node::new(p.id, p.labels, p.properties)
    }
}

impl From<Node> for NodeParts {
    fn from(n: Node) -> NodeParts {
        NodeParts {
            id: n.id,
            labels: n.data.labels.clone(),
            properties: n.data.props.to_map(),
        }
    }
}

/// A directed, typed relationship between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub id: i64,
    pub start: i64,
    pub end: i64,
    pub rel_type: String,
    pub properties: Map,
}

/// An alternating sequence of nodes and relationships: `relationships[i]` joins `nodes[i]` and
/// `nodes[i + 1]` in either direction (its `start`/`end` say which). The encoder derives Bolt's
/// de-duplicated node list and index sequence from this, so the engine never has to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Path {
    pub nodes: Vec<Node>,
    pub relationships: Vec<Relationship>,
}

impl Value {
    /// The Cypher type name, used in error messages ("expected INTEGER, got STRING").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Int(_) => "INTEGER",
            Value::Float(_) => "FLOAT",
            Value::String(_) => "STRING",
            Value::Bytes(_) => "BYTES",
            Value::List(_) => "LIST",
            Value::Map(_) => "MAP",
            Value::Node(_) => "NODE",
            Value::Relationship(_) => "RELATIONSHIP",
            Value::Path(_) => "PATH",
            Value::Date(_) => "DATE",
            Value::Time { .. } => "ZONED_TIME",
            Value::LocalTime(_) => "LOCAL_TIME",
            Value::LocalDateTime { .. } => "LOCAL_DATE_TIME",
            Value::DateTime { .. } => "ZONED_DATE_TIME",
            Value::Duration(_) => "DURATION",
            Value::Point2D { .. } | Value::Point3D { .. } => "POINT",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A total order by structure, for values used as keys: variants in declaration order, then
    /// their fields; floats by `f64::total_cmp`. Two values are equal here exactly when they are
    /// the same value (unlike Cypher's `=`, where `1 = 1.0` and `NaN <> NaN`).
    pub fn structural_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        let maps = |a: &self::Map, b: &self::Map| {
            a.len().cmp(&b.len()).then_with(|| {
                a.iter()
                    .zip(b)
                    .map(|((ka, va), (kb, vb))| ka.cmp(kb).then_with(|| va.structural_cmp(vb)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
        };
        let lists = |a: &[Value], b: &[Value]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.structural_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len()))
        };
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (List(a), List(b)) => lists(a, b),
            (Map(a), Map(b)) => maps(a, b),
            (Node(a), Node(b)) => a.id.cmp(&b.id),
            (Relationship(a), Relationship(b)) => a.id.cmp(&b.id),
            (Path(a), Path(b)) => {
                let ids = |p: &self::Path| {
                    p.nodes
                        .iter()
                        .map(|n| n.id)
                        .chain(p.relationships.iter().map(|r| r.id))
                        .collect::<Vec<_>>()
                };
                ids(a).cmp(&ids(b))
            }
            (Date(a), Date(b)) | (LocalTime(a), LocalTime(b)) => a.cmp(b),
            (
                Time {
                    nanos: a,
                    offset_seconds: oa,
                },
                Time {
                    nanos: b,
                    offset_seconds: ob,
                },
            ) => a.cmp(b).then(oa.cmp(ob)),
            (
                LocalDateTime {
                    seconds: a,
                    nanos: na,
                },
                LocalDateTime {
                    seconds: b,
                    nanos: nb,
                },
            ) => a.cmp(b).then(na.cmp(nb)),
            (
                DateTime {
                    seconds: a,
                    nanos: na,
                    zone: za,
                },
                DateTime {
                    seconds: b,
                    nanos: nb,
                    zone: zb,
                },
            ) => a.cmp(b).then(na.cmp(nb)).then_with(|| za.cmp(zb)),
            (Duration(a), Duration(b)) => {
                (a.months, a.days, a.seconds, a.nanos).cmp(&(b.months, b.days, b.seconds, b.nanos))
            }
            (
                Point2D {
                    srid: sa,
                    x: xa,
                    y: ya,
                },
                Point2D {
                    srid: sb,
                    x: xb,
                    y: yb,
                },
            ) => sa.cmp(sb).then(xa.total_cmp(xb)).then(ya.total_cmp(yb)),
            (
                Point3D {
                    srid: sa,
                    x: xa,
                    y: ya,
                    z: za,
                },
                Point3D {
                    srid: sb,
                    x: xb,
                    y: yb,
                    z: zb,
                },
            ) => sa
                .cmp(sb)
                .then(xa.total_cmp(xb))
                .then(ya.total_cmp(yb))
                .then(za.total_cmp(zb)),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// The variant's place in declaration order, for [`Value::structural_cmp`].
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::String(_) => 4,
            Value::Bytes(_) => 5,
            Value::List(_) => 6,
            Value::Map(_) => 7,
            Value::Node(_) => 8,
            Value::Relationship(_) => 9,
            Value::Path(_) => 10,
            Value::Date(_) => 11,
            Value::Time { .. } => 12,
            Value::LocalTime(_) => 13,
            Value::LocalDateTime { .. } => 14,
            Value::DateTime { .. } => 15,
            Value::Duration(_) => 16,
            Value::Point2D { .. } => 17,
            Value::Point3D { .. } => 18,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Self {
        Value::Map(v)
    }
}

/// A compact Cypher-like rendering, used in logs and error messages, never on the wire.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Node(n) => write!(f, "(#{}:{})", n.id, n.labels().join(":")),
            Value::Relationship(r) => write!(f, "[#{}:{}]", r.id, r.rel_type),
            Value::Path(p) => write!(f, "<path of {} hops>", p.relationships.len()),
            other => write!(f, "{other:?}"),
        }
    }
}
