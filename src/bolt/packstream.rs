//! PackStream v1: encoding [`Value`]s for the wire and decoding what clients send.
//!
//! The encoder picks the structure shapes of the negotiated Bolt version ([`StructLayout`]): mgclient
//! only understands Bolt 4 nodes and legacy datetimes, the neo4j 5.x drivers only Bolt 5 datetimes.
//! The decoder accepts every form, whatever the version, since accepting more costs nothing.
//!
//! Decoding is written for hostile input: it never panics, never reserves more memory than the
//! bytes actually received (a length prefix is only a claim), and bounds nesting depth.

use chrono::{Offset, TimeZone as _};
use chrono_tz::Tz;

use crate::value::{Duration, Map, Node, Path, Relationship, TimeZone, Value};

/// Nesting deeper than this is refused; real clients stay far below it.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Which structure shapes to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructLayout {
    /// Bolt 5 graph structures (with element ids).
    pub bolt5: bool,
    /// UTC-based datetimes (0x49/0x69) instead of the legacy local-time ones (0x46/0x66).
    pub utc_datetime: bool,
}

impl StructLayout {
    /// The layout for a version; `utc_patch` is whether a 4.3/4.4 client's `patch_bolt: ["utc"]`
    /// was agreed. Bolt 5 always uses UTC datetimes.
    pub fn for_version(major: u8, _minor: u8, utc_patch: bool) -> Self {
        StructLayout {
            bolt5: major >= 5,
            utc_datetime: major >= 5 || utc_patch,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    #[error("a {0} with more than 4294967295 entries cannot be sent")]
    TooLong(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of message: needed {needed} more bytes for {what}")]
    Eof { needed: usize, what: &'static str },
    #[error("unknown marker byte 0x{0:02X}")]
    UnknownMarker(u8),
    #[error("expected a structure, found marker 0x{0:02X}")]
    NotAStructure(u8),
    #[error("string is not valid UTF-8")]
    Utf8,
    #[error("map keys must be strings, found {0}")]
    MapKey(&'static str),
    #[error("values nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("unknown structure tag 0x{0:02X}")]
    UnknownStruct(u8),
    #[error("structure 0x{tag:02X} has {got} fields, expected {expected}")]
    FieldCount {
        tag: u8,
        got: u8,
        expected: &'static str,
    },
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

// ---------------------------------------------------------------------------------------------
// Encoding

pub fn write_null(out: &mut Vec<u8>) {
    out.push(0xC0);
}

pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xC3 } else { 0xC2 });
}

/// Writes an integer in the smallest form.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if (-16..=127).contains(&v) {
        out.push(v as i8 as u8);
    } else if (-128..=127).contains(&v) {
        out.push(0xC8);
        out.push(v as i8 as u8);
    } else if (-32_768..=32_767).contains(&v) {
        out.push(0xC9);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        out.push(0xCA);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xCB);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn write_float(out: &mut Vec<u8>, v: f64) {
    out.push(0xC1);
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

fn write_sized(out: &mut Vec<u8>, len: usize, tiny: u8, m8: u8, m16: u8, m32: u8) {
    if len < 16 && tiny != 0 {
        out.push(tiny | len as u8);
    } else if len <= 0xFF {
        out.push(m8);
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(len.min(u32::MAX as usize) as u32).to_be_bytes());
    }
}

pub fn write_string(out: &mut Vec<u8>, s: &str) {
    write_sized(out, s.len(), 0x80, 0xD0, 0xD1, 0xD2);
    out.extend_from_slice(s.as_bytes());
}

pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_sized(out, b.len(), 0, 0xCC, 0xCD, 0xCE);
    out.extend_from_slice(b);
}

pub fn write_list_header(out: &mut Vec<u8>, len: usize) {
    write_sized(out, len, 0x90, 0xD4, 0xD5, 0xD6);
}

pub fn write_map_header(out: &mut Vec<u8>, len: usize) {
    write_sized(out, len, 0xA0, 0xD8, 0xD9, 0xDA);
}

/// A tiny structure header (at most 15 fields, which covers every Bolt structure).
pub fn write_struct_header(out: &mut Vec<u8>, fields: u8, tag: u8) {
    out.push(0xB0 | (fields & 0x0F));
    out.push(tag);
}

fn check_len(len: usize, what: &'static str) -> Result<(), EncodeError> {
    if len > u32::MAX as usize {
        Err(EncodeError::TooLong(what))
    } else {
        Ok(())
    }
}

/// Encodes any value with the structure shapes of `layout`.
pub fn encode_value(
    out: &mut Vec<u8>,
    value: &Value,
    layout: StructLayout,
) -> Result<(), EncodeError> {
    match value {
        Value::Null => write_null(out),
        Value::Bool(b) => write_bool(out, *b),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) => write_float(out, *f),
        Value::String(s) => {
            check_len(s.len(), "string")?;
            write_string(out, s)
        }
        Value::Bytes(b) => {
            check_len(b.len(), "byte array")?;
            write_bytes(out, b)
        }
        Value::List(items) => {
            check_len(items.len(), "list")?;
            write_list_header(out, items.len());
            for item in items {
                encode_value(out, item, layout)?;
            }
        }
        Value::Map(map) => encode_map(out, map, layout)?,
        Value::Node(node) => encode_node(out, node, layout)?,
        Value::Relationship(rel) => {
            write_struct_header(out, if layout.bolt5 { 8 } else { 5 }, 0x52);
            write_int(out, rel.id);
            write_int(out, rel.start);
            write_int(out, rel.end);
            write_string(out, &rel.rel_type);
            encode_map(out, &rel.properties, layout)?;
            if layout.bolt5 {
                write_string(out, &rel.id.to_string());
                write_string(out, &rel.start.to_string());
                write_string(out, &rel.end.to_string());
            }
        }
        Value::Path(path) => encode_path(out, path, layout)?,
        Value::Date(days) => {
            write_struct_header(out, 1, 0x44);
            write_int(out, *days);
        }
        Value::Time {
            nanos,
            offset_seconds,
        } => {
            write_struct_header(out, 2, 0x54);
            write_int(out, *nanos);
            write_int(out, i64::from(*offset_seconds));
        }
        Value::LocalTime(nanos) => {
            write_struct_header(out, 1, 0x74);
            write_int(out, *nanos);
        }
        Value::LocalDateTime { seconds, nanos } => {
            write_struct_header(out, 2, 0x64);
            write_int(out, *seconds);
            write_int(out, i64::from(*nanos));
        }
        Value::DateTime {
            seconds,
            nanos,
            zone,
        } => encode_datetime(out, *seconds, *nanos, zone, layout)?,
        Value::Duration(d) => {
            write_struct_header(out, 4, 0x45);
            write_int(out, d.months);
            write_int(out, d.days);
            write_int(out, d.seconds);
            write_int(out, d.nanos);
        }
        Value::Point2D { srid, x, y } => {
            write_struct_header(out, 3, 0x58);
            write_int(out, *srid);
            write_float(out, *x);
            write_float(out, *y);
        }
        Value::Point3D { srid, x, y, z } => {
            write_struct_header(out, 4, 0x59);
            write_int(out, *srid);
            write_float(out, *x);
            write_float(out, *y);
            write_float(out, *z);
        }
    }
    Ok(())
}

fn encode_map(out: &mut Vec<u8>, map: &Map, layout: StructLayout) -> Result<(), EncodeError> {
    encode_pairs(out, map.len(), map.iter(), layout)
}

/// A map given as its entries (a `Map`, or a stored node's properties).
fn encode_pairs<'a, K: AsRef<str>>(
    out: &mut Vec<u8>,
    len: usize,
    pairs: impl Iterator<Item = (K, &'a Value)>,
    layout: StructLayout,
) -> Result<(), EncodeError> {
    check_len(len, "map")?;
    write_map_header(out, len);
    for (k, v) in pairs {
        write_string(out, k.as_ref());
        encode_value(out, v, layout)?;
    }
    Ok(())
}

fn encode_node(out: &mut Vec<u8>, node: &Node, layout: StructLayout) -> Result<(), EncodeError> {
    write_struct_header(out, if layout.bolt5 { 4 } else { 3 }, 0x4E);
    write_int(out, node.id);
    write_list_header(out, node.labels().len());
    for label in node.labels() {
        write_string(out, label);
    }
    let props = node.properties();
    encode_pairs(out, props.len(), props.iter(), layout)?;
    if layout.bolt5 {
        write_string(out, &node.id.to_string());
    }
    Ok(())
}

/// Bolt paths list each node and relationship once and walk them with an index sequence:
/// for each hop, the relationship's 1-based index (negative when walked against its direction)
/// and the 0-based index of the node reached.
fn encode_path(out: &mut Vec<u8>, path: &Path, layout: StructLayout) -> Result<(), EncodeError> {
    let mut nodes: Vec<&Node> = Vec::new();
    let mut rels: Vec<&Relationship> = Vec::new();
    let mut indices: Vec<i64> = Vec::with_capacity(path.relationships.len() * 2);
    if let Some(first) = path.nodes.first() {
        node_index(&mut nodes, first);
    }
    for (i, rel) in path.relationships.iter().enumerate() {
        let rel_index = match rels.iter().position(|r| r.id == rel.id) {
            Some(j) => j as i64 + 1,
            None => {
                rels.push(rel);
                rels.len() as i64
            }
        };
        let from = path.nodes.get(i).map(|n| n.id);
        let forward = from == Some(rel.start);
        indices.push(if forward { rel_index } else { -rel_index });
        if let Some(next) = path.nodes.get(i + 1) {
            indices.push(node_index(&mut nodes, next));
        }
    }
    write_struct_header(out, 3, 0x50);
    write_list_header(out, nodes.len());
    for node in &nodes {
        encode_node(out, node, layout)?;
    }
    write_list_header(out, rels.len());
    for rel in &rels {
        write_struct_header(out, if layout.bolt5 { 4 } else { 3 }, 0x72);
        write_int(out, rel.id);
        write_string(out, &rel.rel_type);
        encode_map(out, &rel.properties, layout)?;
        if layout.bolt5 {
            write_string(out, &rel.id.to_string());
        }
    }
    write_list_header(out, indices.len());
    for i in indices {
        write_int(out, i);
    }
    Ok(())
}

/// The position of `n` in the de-duplicated node list, adding it when new.
fn node_index<'p>(nodes: &mut Vec<&'p Node>, n: &'p Node) -> i64 {
    match nodes.iter().position(|m| m.id == n.id) {
        Some(i) => i as i64,
        None => {
            nodes.push(n);
            (nodes.len() - 1) as i64
        }
    }
}

fn encode_datetime(
    out: &mut Vec<u8>,
    seconds: i64,
    nanos: u32,
    zone: &TimeZone,
    layout: StructLayout,
) -> Result<(), EncodeError> {
    match (zone, layout.utc_datetime) {
        (TimeZone::Offset(offset), true) => {
            write_struct_header(out, 3, 0x49);
            write_int(out, seconds);
            write_int(out, i64::from(nanos));
            write_int(out, i64::from(*offset));
        }
        (TimeZone::Offset(offset), false) => {
            write_struct_header(out, 3, 0x46);
            write_int(out, seconds.saturating_add(i64::from(*offset)));
            write_int(out, i64::from(nanos));
            write_int(out, i64::from(*offset));
        }
        (TimeZone::Named(name), true) => {
            parse_zone(name).ok_or_else(|| EncodeError::UnknownZone(name.clone()))?;
            write_struct_header(out, 3, 0x69);
            write_int(out, seconds);
            write_int(out, i64::from(nanos));
            write_string(out, name);
        }
        (TimeZone::Named(name), false) => {
            let offset = zone_offset_at_utc(name, seconds)
                .ok_or_else(|| EncodeError::UnknownZone(name.clone()))?;
            write_struct_header(out, 3, 0x66);
            write_int(out, seconds.saturating_add(i64::from(offset)));
            write_int(out, i64::from(nanos));
            write_string(out, name);
        }
    }
    Ok(())
}

fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The zone's UTC offset (seconds east) at a UTC instant.
pub fn zone_offset_at_utc(name: &str, utc_seconds: i64) -> Option<i32> {
    let tz = parse_zone(name)?;
    let utc = chrono::DateTime::from_timestamp(utc_seconds, 0)?.naive_utc();
    Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// UTC seconds for a wall-clock time in a zone: the earlier instant when the time is ambiguous,
/// and the time one hour later when it falls in a gap (as the clocks did).
pub fn zone_local_to_utc(name: &str, local_seconds: i64) -> Option<i64> {
    let tz = parse_zone(name)?;
    let local = chrono::DateTime::from_timestamp(local_seconds, 0)?.naive_utc();
    let resolved = tz.from_local_datetime(&local).earliest().or_else(|| {
        tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(resolved.timestamp())
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Reads PackStream values from one message's bytes.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder {
            buf,
            pos: 0,
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Eof {
                needed: n - self.remaining(),
                what,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn be(&mut self, n: usize, what: &'static str) -> Result<u64, DecodeError> {
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A message's structure header: (field count, tag).
    pub fn read_struct_header(&mut self) -> Result<(u8, u8), DecodeError> {
        let marker = self.byte("a structure marker")?;
        if marker & 0xF0 != 0xB0 {
            return Err(DecodeError::NotAStructure(marker));
        }
        let tag = self.byte("a structure tag")?;
        Ok((marker & 0x0F, tag))
    }

    /// Reads one value.
    pub fn read_value(&mut self) -> Result<Value, DecodeError> {
        let marker = self.byte("a value marker")?;
        self.value_after(marker)
    }

    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        match self.read_value()? {
            Value::String(s) => Ok(s),
            other => Err(invalid("string", format!("got {}", other.type_name()))),
        }
    }

    pub fn read_int(&mut self) -> Result<i64, DecodeError> {
        match self.read_value()? {
            Value::Int(i) => Ok(i),
            other => Err(invalid("integer", format!("got {}", other.type_name()))),
        }
    }

    pub fn read_map(&mut self) -> Result<Map, DecodeError> {
        match self.read_value()? {
            Value::Map(m) => Ok(m),
            other => Err(invalid("map", format!("got {}", other.type_name()))),
        }
    }

    pub fn read_list(&mut self) -> Result<Vec<Value>, DecodeError> {
        match self.read_value()? {
            Value::List(l) => Ok(l),
            other => Err(invalid("list", format!("got {}", other.type_name()))),
        }
    }

    fn value_after(&mut self, marker: u8) -> Result<Value, DecodeError> {
        Ok(match marker {
            0x00..=0x7F => Value::Int(i64::from(marker)),
            0xF0..=0xFF => Value::Int(i64::from(marker as i8)),
            0xC0 => Value::Null,
            0xC2 => Value::Bool(false),
            0xC3 => Value::Bool(true),
            0xC1 => Value::Float(f64::from_bits(self.be(8, "a float")?)),
            0xC8 => Value::Int(i64::from(self.be(1, "an INT_8")? as u8 as i8)),
            0xC9 => Value::Int(i64::from(self.be(2, "an INT_16")? as u16 as i16)),
            0xCA => Value::Int(i64::from(self.be(4, "an INT_32")? as u32 as i32)),
            0xCB => Value::Int(self.be(8, "an INT_64")? as i64),
            0xCC => self.bytes(1)?,
            0xCD => self.bytes(2)?,
            0xCE => self.bytes(4)?,
            0x80..=0x8F => self.string(usize::from(marker & 0x0F))?,
            0xD0 => {
                let n = self.be(1, "a string size")? as usize;
                self.string(n)?
            }
            0xD1 => {
                let n = self.be(2, "a string size")? as usize;
                self.string(n)?
            }
            0xD2 => {
                let n = self.be(4, "a string size")? as usize;
                self.string(n)?
            }
            0x90..=0x9F => self.list(usize::from(marker & 0x0F))?,
            0xD4 => {
                let n = self.be(1, "a list size")? as usize;
                self.list(n)?
            }
            0xD5 => {
                let n = self.be(2, "a list size")? as usize;
                self.list(n)?
            }
            0xD6 => {
                let n = self.be(4, "a list size")? as usize;
                self.list(n)?
            }
            0xA0..=0xAF => self.map(usize::from(marker & 0x0F))?,
            0xD8 => {
                let n = self.be(1, "a map size")? as usize;
                self.map(n)?
            }
            0xD9 => {
                let n = self.be(2, "a map size")? as usize;
                self.map(n)?
            }
            0xDA => {
                let n = self.be(4, "a map size")? as usize;
                self.map(n)?
            }
            0xB0..=0xBF => {
                let tag = self.byte("a structure tag")?;
                self.descend(|d| d.structure(marker & 0x0F, tag))?
            }
            other => return Err(DecodeError::UnknownMarker(other)),
        })
    }

    fn bytes(&mut self, size_len: usize) -> Result<Value, DecodeError> {
        let n = self.be(size_len, "a byte array size")? as usize;
        Ok(Value::Bytes(self.take(n, "a byte array")?.to_vec()))
    }

    fn string(&mut self, n: usize) -> Result<Value, DecodeError> {
        let raw = self.take(n, "a string")?;
        std::str::from_utf8(raw)
            .map(|s| Value::String(s.to_owned()))
            .map_err(|_| DecodeError::Utf8)
    }

    fn descend<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= self.max_depth {
            return Err(DecodeError::TooDeep(self.max_depth));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn list(&mut self, n: usize) -> Result<Value, DecodeError> {
        self.descend(|d| {
            // Every element takes at least one byte: never reserve more than what is there.
            let mut items = Vec::with_capacity(n.min(d.remaining()));
            for _ in 0..n {
                items.push(d.read_value()?);
            }
            Ok(Value::List(items))
        })
    }

    fn map(&mut self, n: usize) -> Result<Value, DecodeError> {
        self.descend(|d| {
            let mut map = Map::new();
            for _ in 0..n {
                let key = match d.read_value()? {
                    Value::String(k) => k,
                    other => return Err(DecodeError::MapKey(other.type_name())),
                };
                let value = d.read_value()?;
                map.insert(key, value);
            }
            Ok(Value::Map(map))
        })
    }

    fn fields(
        &mut self,
        n: u8,
        tag: u8,
        allowed: &[u8],
        expected: &'static str,
    ) -> Result<Vec<Value>, DecodeError> {
        if !allowed.contains(&n) {
            return Err(DecodeError::FieldCount {
                tag,
                got: n,
                expected,
            });
        }
        (0..n).map(|_| self.read_value()).collect()
    }

    fn structure(&mut self, n: u8, tag: u8) -> Result<Value, DecodeError> {
        match tag {
            0x4E => {
                let f = self.fields(n, tag, &[3, 4], "3 or 4")?;
                Ok(Value::Node(node_from(f)?))
            }
            0x52 => {
                let mut f = self.fields(n, tag, &[5, 8], "5 or 8")?.into_iter();
                let id = int(f.next(), "relationship id")?;
                let start = int(f.next(), "relationship start")?;
                let end = int(f.next(), "relationship end")?;
                let rel_type = string(f.next(), "relationship type")?;
                let properties = map(f.next(), "relationship properties")?;
                Ok(Value::Relationship(Relationship {
                    id,
                    start,
                    end,
                    rel_type,
                    properties,
                }))
            }
            0x72 => Err(invalid(
                "value",
                "an UnboundRelationship may only appear inside a Path".to_owned(),
            )),
            0x50 => {
                if n != 3 {
                    return Err(DecodeError::FieldCount {
                        tag,
                        got: n,
                        expected: "3",
                    });
                }
                self.path()
            }
            0x44 => {
                let f = self.fields(n, tag, &[1], "1")?;
                Ok(Value::Date(int(f.into_iter().next(), "date days")?))
            }
            0x54 => {
                let mut f = self.fields(n, tag, &[2], "2")?.into_iter();
                let nanos = int(f.next(), "time nanoseconds")?;
                let offset = offset_seconds(int(f.next(), "time offset")?)?;
                Ok(Value::Time {
                    nanos,
                    offset_seconds: offset,
                })
            }
            0x74 => {
                let f = self.fields(n, tag, &[1], "1")?;
                Ok(Value::LocalTime(int(f.into_iter().next(), "local time")?))
            }
            0x64 => {
                let mut f = self.fields(n, tag, &[2], "2")?.into_iter();
                let seconds = int(f.next(), "local datetime seconds")?;
                let nanos = nanos_of(int(f.next(), "local datetime nanoseconds")?)?;
                Ok(Value::LocalDateTime { seconds, nanos })
            }
            0x46 | 0x49 => {
                let mut f = self.fields(n, tag, &[3], "3")?.into_iter();
                let seconds = int(f.next(), "datetime seconds")?;
                let nanos = nanos_of(int(f.next(), "datetime nanoseconds")?)?;
                let offset = offset_seconds(int(f.next(), "datetime offset")?)?;
                let seconds = if tag == 0x46 {
                    seconds
                        .checked_sub(i64::from(offset))
                        .ok_or_else(|| invalid("datetime", "seconds out of range".to_owned()))?
                } else {
                    seconds
                };
                Ok(Value::DateTime {
                    seconds,
                    nanos,
                    zone: TimeZone::Offset(offset),
                })
            }
            0x66 | 0x69 => {
                let mut f = self.fields(n, tag, &[3], "3")?.into_iter();
                let seconds = int(f.next(), "datetime seconds")?;
                let nanos = nanos_of(int(f.next(), "datetime nanoseconds")?)?;
                let zone = string(f.next(), "time zone name")?;
                let unknown = || invalid("time zone", format!("unknown zone {zone:?}"));
                let seconds = if tag == 0x66 {
                    zone_local_to_utc(&zone, seconds).ok_or_else(unknown)?
                } else {
                    parse_zone(&zone).ok_or_else(unknown)?;
                    seconds
                };
                Ok(Value::DateTime {
                    seconds,
                    nanos,
                    zone: TimeZone::Named(zone),
                })
            }
            0x45 => {
                let mut f = self.fields(n, tag, &[4], "4")?.into_iter();
                Ok(Value::Duration(Duration {
                    months: int(f.next(), "duration months")?,
                    days: int(f.next(), "duration days")?,
                    seconds: int(f.next(), "duration seconds")?,
                    nanos: int(f.next(), "duration nanoseconds")?,
                }))
            }
            0x58 => {
                let mut f = self.fields(n, tag, &[3], "3")?.into_iter();
                Ok(Value::Point2D {
                    srid: int(f.next(), "point srid")?,
                    x: float(f.next(), "point x")?,
                    y: float(f.next(), "point y")?,
                })
            }
            0x59 => {
                let mut f = self.fields(n, tag, &[4], "4")?.into_iter();
                Ok(Value::Point3D {
                    srid: int(f.next(), "point srid")?,
                    x: float(f.next(), "point x")?,
                    y: float(f.next(), "point y")?,
                    z: float(f.next(), "point z")?,
                })
            }
            other => Err(DecodeError::UnknownStruct(other)),
        }
    }

    /// A Path: nodes, unbound relationships, and the index walk.
    fn path(&mut self) -> Result<Value, DecodeError> {
        let nodes = match self.read_value()? {
            Value::List(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::Node(n) => Ok(n),
                    other => Err(invalid(
                        "path",
                        format!("node list holds a {}", other.type_name()),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(invalid(
                    "path",
                    format!("nodes must be a list, got {}", other.type_name()),
                ))
            }
        };
        let rels = self.unbound_relationships()?;
        let indices = match self.read_value()? {
            Value::List(items) => items
                .into_iter()
                .map(|v| int(Some(v), "path index"))
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(invalid(
                    "path",
                    format!("indices must be a list, got {}", other.type_name()),
                ))
            }
        };
        if indices.len() % 2 != 0 {
            return Err(invalid("path", "odd number of indices".to_owned()));
        }
        let first = nodes
            .first()
            .cloned()
            .ok_or_else(|| invalid("path", "a path needs at least one node".to_owned()))?;
        let mut walk = vec![first];
        let mut relationships = Vec::with_capacity(indices.len() / 2);
        for pair in indices.chunks_exact(2) {
            let (rel_index, node_index) = (pair[0], pair[1]);
            let (id, rel_type, properties) = usize::try_from(rel_index.unsigned_abs())
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| rels.get(i))
                .cloned()
                .ok_or_else(|| {
                    invalid(
                        "path",
                        format!("relationship index {rel_index} out of range"),
                    )
                })?;
            let next = usize::try_from(node_index)
                .ok()
                .and_then(|i| nodes.get(i))
                .cloned()
                .ok_or_else(|| invalid("path", format!("node index {node_index} out of range")))?;
            let prev_id = walk.last().map(|n| n.id).unwrap_or_default();
            let (start, end) = if rel_index > 0 {
                (prev_id, next.id)
            } else {
                (next.id, prev_id)
            };
            relationships.push(Relationship {
                id,
                start,
                end,
                rel_type,
                properties,
            });
            walk.push(next);
        }
        Ok(Value::Path(Path {
            nodes: walk,
            relationships,
        }))
    }

    fn unbound_relationships(&mut self) -> Result<Vec<(i64, String, Map)>, DecodeError> {
        let marker = self.byte("a list marker")?;
        let n = match marker {
            0x90..=0x9F => usize::from(marker & 0x0F),
            0xD4 => self.be(1, "a list size")? as usize,
            0xD5 => self.be(2, "a list size")? as usize,
            0xD6 => self.be(4, "a list size")? as usize,
            other => {
                return Err(invalid(
                    "path",
                    format!("relationships must be a list, got marker 0x{other:02X}"),
                ))
            }
        };
        self.descend(|d| {
            let mut rels = Vec::with_capacity(n.min(d.remaining()));
            for _ in 0..n {
                let (count, tag) = d.read_struct_header()?;
                if tag != 0x72 {
                    return Err(invalid(
                        "path",
                        format!("expected an UnboundRelationship, got tag 0x{tag:02X}"),
                    ));
                }
                let mut f = d.fields(count, tag, &[3, 4], "3 or 4")?.into_iter();
                rels.push((
                    int(f.next(), "relationship id")?,
                    string(f.next(), "relationship type")?,
                    map(f.next(), "relationship properties")?,
                ));
            }
            Ok(rels)
        })
    }
}

fn invalid(what: &'static str, detail: String) -> DecodeError {
    DecodeError::Invalid { what, detail }
}

fn int(v: Option<Value>, what: &'static str) -> Result<i64, DecodeError> {
    match v {
        Some(Value::Int(i)) => Ok(i),
        other => Err(invalid(
            what,
            format!(
                "expected an integer, got {}",
                other.map_or("nothing", |v| v.type_name())
            ),
        )),
    }
}

fn float(v: Option<Value>, what: &'static str) -> Result<f64, DecodeError> {
    match v {
        Some(Value::Float(f)) => Ok(f),
        other => Err(invalid(
            what,
            format!(
                "expected a float, got {}",
                other.map_or("nothing", |v| v.type_name())
            ),
        )),
    }
}

fn string(v: Option<Value>, what: &'static str) -> Result<String, DecodeError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        other => Err(invalid(
            what,
            format!(
                "expected a string, got {}",
                other.map_or("nothing", |v| v.type_name())
            ),
        )),
    }
}

fn map(v: Option<Value>, what: &'static str) -> Result<Map, DecodeError> {
    match v {
        Some(Value::Map(m)) => Ok(m),
        other => Err(invalid(
            what,
            format!(
                "expected a map, got {}",
                other.map_or("nothing", |v| v.type_name())
            ),
        )),
    }
}

fn node_from(fields: Vec<Value>) -> Result<Node, DecodeError> {
    let mut f = fields.into_iter();
    let id = int(f.next(), "node id")?;
    let labels = match f.next() {
        Some(Value::List(labels)) => labels
            .into_iter()
            .map(|l| string(Some(l), "node label"))
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(invalid(
                "node labels",
                format!(
                    "expected a list, got {}",
                    other.map_or("nothing", |v| v.type_name())
                ),
            ))
        }
    };
    let properties = map(f.next(), "node properties")?;
    Ok(Node::new(id, labels, properties))
}

fn nanos_of(n: i64) -> Result<u32, DecodeError> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| invalid("nanoseconds", format!("{n} is not in 0..999999999")))
}

fn offset_seconds(o: i64) -> Result<i32, DecodeError> {
    i32::try_from(o)
        .ok()
        .filter(|o| o.abs() <= 18 * 3600)
        .ok_or_else(|| invalid("UTC offset", format!("{o} seconds is beyond ±18 hours")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: StructLayout = StructLayout {
        bolt5: false,
        utc_datetime: false,
    };
    const V5: StructLayout = StructLayout {
        bolt5: true,
        utc_datetime: true,
    };

    fn enc(v: &Value, layout: StructLayout) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(&mut out, v, layout).unwrap();
        out
    }

    fn round(v: &Value, layout: StructLayout) -> Value {
        let bytes = enc(v, layout);
        let mut d = Decoder::new(&bytes);
        let back = d.read_value().unwrap();
        assert!(d.is_empty());
        back
    }

    #[test]
    fn integers_use_the_smallest_form() {
        assert_eq!(enc(&Value::Int(1), V4), [0x01]);
        assert_eq!(enc(&Value::Int(-16), V4), [0xF0]);
        assert_eq!(enc(&Value::Int(-17), V4), [0xC8, 0xEF]);
        assert_eq!(enc(&Value::Int(128), V4), [0xC9, 0x00, 0x80]);
        assert_eq!(enc(&Value::Int(40_000), V4), [0xCA, 0, 0, 0x9C, 0x40]);
        assert_eq!(enc(&Value::Int(i64::MIN), V4)[0], 0xCB);
        for i in [0, 127, -128, 32_767, -32_769, i64::MAX, i64::MIN] {
            assert_eq!(round(&Value::Int(i), V4), Value::Int(i));
        }
        // Wide forms of small numbers decode too.
        assert_eq!(
            Decoder::new(&[0xCB, 0, 0, 0, 0, 0, 0, 0, 1])
                .read_value()
                .unwrap(),
            Value::Int(1)
        );
    }

    #[test]
    fn string_size_markers() {
        assert_eq!(enc(&Value::from("a".repeat(15)), V4)[0], 0x8F);
        assert_eq!(&enc(&Value::from("a".repeat(16)), V4)[..2], &[0xD0, 16]);
        assert_eq!(&enc(&Value::from("a".repeat(256)), V4)[..3], &[0xD1, 1, 0]);
        assert_eq!(
            &enc(&Value::from("a".repeat(65_536)), V4)[..5],
            &[0xD2, 0, 1, 0, 0]
        );
    }

    fn node(id: i64) -> Node {
        Node::new(
            id,
            vec!["Person".into()],
            [("name".to_string(), Value::from("x"))]
                .into_iter()
                .collect(),
        )
    }

    #[test]
    fn node_shapes_per_version() {
        let v = Value::Node(node(7));
        assert_eq!(&enc(&v, V4)[..3], &[0xB3, 0x4E, 0x07]);
        let v5 = enc(&v, V5);
        assert_eq!(&v5[..3], &[0xB4, 0x4E, 0x07]);
        assert!(v5.ends_with(&[0x81, b'7']));
        assert_eq!(round(&v, V4), v);
        assert_eq!(round(&v, V5), v);
    }

    #[test]
    fn datetimes_legacy_and_utc() {
        // 2024-06-01T12:00:00+02:00 is 10:00 UTC = 1717236000.
        let v = Value::DateTime {
            seconds: 1_717_236_000,
            nanos: 5,
            zone: TimeZone::Offset(7200),
        };
        let legacy = enc(&v, V4);
        assert_eq!(&legacy[..2], &[0xB3, 0x46]);
        let mut d = Decoder::new(&legacy[2..]);
        assert_eq!(
            d.read_int().unwrap(),
            1_717_236_000 + 7200,
            "legacy uses local seconds"
        );
        assert_eq!(&enc(&v, V5)[..2], &[0xB3, 0x49]);
        assert_eq!(round(&v, V4), v);
        assert_eq!(round(&v, V5), v);

        let zoned = Value::DateTime {
            seconds: 1_717_236_000,
            nanos: 0,
            zone: TimeZone::Named("Europe/Zagreb".into()),
        };
        let legacy = enc(&zoned, V4);
        assert_eq!(&legacy[..2], &[0xB3, 0x66]);
        let mut d = Decoder::new(&legacy[2..]);
        assert_eq!(d.read_int().unwrap(), 1_717_236_000 + 7200, "CEST is +2");
        assert_eq!(&enc(&zoned, V5)[..2], &[0xB3, 0x69]);
        assert_eq!(round(&zoned, V4), zoned);
        assert_eq!(round(&zoned, V5), zoned);

        let bad = Value::DateTime {
            seconds: 0,
            nanos: 0,
            zone: TimeZone::Named("Mars/Olympus".into()),
        };
        assert!(encode_value(&mut Vec::new(), &bad, V5).is_err());
    }

    #[test]
    fn every_type_round_trips() {
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Float(-1.5),
            Value::Bytes(vec![1, 2, 3]),
            Value::List(vec![Value::Int(1), Value::from("two")]),
            Value::Map([("k".to_string(), Value::Null)].into_iter().collect()),
            Value::Relationship(Relationship {
                id: 3,
                start: 1,
                end: 2,
                rel_type: "KNOWS".into(),
                properties: Map::new(),
            }),
            Value::Date(19_000),
            Value::Time {
                nanos: 3_600_000_000_000,
                offset_seconds: -3600,
            },
            Value::LocalTime(42),
            Value::LocalDateTime {
                seconds: -5,
                nanos: 999_999_999,
            },
            Value::Duration(Duration {
                months: 14,
                days: 3,
                seconds: 70,
                nanos: 1,
            }),
            Value::Point2D {
                srid: 7203,
                x: 1.0,
                y: 2.0,
            },
            Value::Point3D {
                srid: 9157,
                x: 1.0,
                y: 2.0,
                z: 3.0,
            },
        ];
        for layout in [V4, V5] {
            for v in &values {
                assert_eq!(&round(v, layout), v, "{layout:?}");
            }
        }
    }

    #[test]
    fn path_with_a_backwards_relationship_round_trips() {
        let (a, b, c) = (node(1), node(2), node(3));
        let path = Value::Path(Path {
            nodes: vec![a.clone(), b.clone(), c.clone()],
            relationships: vec![
                Relationship {
                    id: 10,
                    start: 1,
                    end: 2,
                    rel_type: "R".into(),
                    properties: Map::new(),
                },
                Relationship {
                    id: 11,
                    start: 3,
                    end: 2,
                    rel_type: "R".into(),
                    properties: Map::new(),
                },
            ],
        });
        let bytes = enc(&path, V4);
        // indices: [1, 1, -2, 2]
        assert!(bytes.ends_with(&[0x94, 0x01, 0x01, 0xFE, 0x02]));
        assert_eq!(round(&path, V4), path);
        assert_eq!(round(&path, V5), path);
    }

    #[test]
    fn hostile_inputs_are_rejected_without_allocating_their_claims() {
        // A list claiming 4 billion entries in 5 bytes.
        let e = Decoder::new(&[0xD6, 0xFF, 0xFF, 0xFF, 0xFF])
            .read_value()
            .unwrap_err();
        assert!(matches!(e, DecodeError::Eof { .. }));
        let e = Decoder::new(&[0xDA, 0xFF, 0xFF, 0xFF, 0xFF])
            .read_value()
            .unwrap_err();
        assert!(matches!(e, DecodeError::Eof { .. }));
        let e = Decoder::new(&[0xD2, 0xFF, 0xFF, 0xFF, 0xFF])
            .read_value()
            .unwrap_err();
        assert!(matches!(e, DecodeError::Eof { .. }));
        // Deep nesting.
        let deep = vec![0x91; 10_000];
        assert!(matches!(
            Decoder::new(&deep).read_value(),
            Err(DecodeError::TooDeep(_))
        ));
        // Wrong field count, unknown tag, reserved markers, bad UTF-8, non-string key.
        assert!(matches!(
            Decoder::new(&[0xB2, 0x4E, 1, 2]).read_value(),
            Err(DecodeError::FieldCount { .. })
        ));
        assert!(matches!(
            Decoder::new(&[0xB0, 0x01]).read_value(),
            Err(DecodeError::UnknownStruct(0x01))
        ));
        assert!(matches!(
            Decoder::new(&[0xDC, 1, 2]).read_value(),
            Err(DecodeError::UnknownMarker(0xDC))
        ));
        assert!(matches!(
            Decoder::new(&[0x82, 0xFF, 0xFE]).read_value(),
            Err(DecodeError::Utf8)
        ));
        assert!(matches!(
            Decoder::new(&[0xA1, 0x01, 0x01]).read_value(),
            Err(DecodeError::MapKey(_))
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut d = Decoder::new(&bytes);
            let _ = d.read_value();
            let mut d = Decoder::new(&bytes);
            let _ = d.read_struct_header();
        }
    }
}
