//! Snapshots: the whole committed graph in one file, and the WAL position it covers.
//!
//! A snapshot is written from an O(1) clone of the committed graph on a background thread, so
//! commits and reads never wait for it. It goes to a temporary file, which is synced, renamed into
//! place and followed by a sync of the directory: a crash at any moment leaves either no new
//! snapshot or a complete one. Every section is a checksummed frame, and a trailer counts them, so
//! a damaged or cut file is recognised and never loaded as a smaller graph.
//!
//! Layout: magic, a header frame (the sequence number covered, the id counters, counts), the
//! schema frame, chunks of node images, chunks of relationship images, and the trailer.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::files;
use super::frame;
use super::record::{self, Change, ChangeRef, Schema};

pub const MAGIC: &[u8; 12] = b"BOLTDSNP\x01\x00\x00\x00";

/// Images per chunk: large enough that framing costs nothing, small enough to stream.
const CHUNK: usize = 4096;

/// What a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Every WAL record up to this one is in the snapshot.
    pub seq: u64,
    pub next_node: i64,
    pub next_rel: i64,
    /// Seconds since the Unix epoch.
    pub created: i64,
    pub nodes: u64,
    pub rels: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Trailer {
    /// Frames before the trailer, header included.
    frames: u64,
}

/// A snapshot file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub path: PathBuf,
    pub seq: u64,
    /// Nanoseconds since the Unix epoch, from the file name.
    pub created_nanos: u128,
    pub size: u64,
}

/// How long writing took and how large the file is.
#[derive(Debug, Clone)]
pub struct Written {
    pub info: SnapshotInfo,
    pub seconds: f64,
}

/// Writes a snapshot of `header.nodes` node images and `header.rels` relationship images.
pub fn write<'a>(
    dir: &Path,
    header: SnapshotHeader,
    schema: &Schema,
    nodes: impl Iterator<Item = ChangeRef<'a>>,
    rels: impl Iterator<Item = ChangeRef<'a>>,
) -> Result<Written, String> {
    let started = Instant::now();
    fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the snapshot directory {}: {e}",
            dir.display()
        )
    })?;
    let created_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let temp = dir.join(format!(".snapshot-{:020}-{created_nanos}.tmp", header.seq));
    let path = dir.join(format!("snapshot-{:020}-{created_nanos}.snap", header.seq));
    let result = write_file(&temp, header, schema, nodes, rels).and_then(|()| {
        fs::rename(&temp, &path)?;
        File::open(dir)?.sync_all()
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(format!("cannot write the snapshot {}: {e}", path.display()));
    }
    let size = fs::metadata(&path).map_or(0, |m| m.len());
    Ok(Written {
        info: SnapshotInfo {
            path,
            seq: header.seq,
            created_nanos,
            size,
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn write_file<'a>(
    temp: &Path,
    header: SnapshotHeader,
    schema: &Schema,
    nodes: impl Iterator<Item = ChangeRef<'a>>,
    rels: impl Iterator<Item = ChangeRef<'a>>,
) -> std::io::Result<()> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let file = File::create(temp)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC)?;
    let frames = std::cell::Cell::new(0u64);
    let mut buf = Vec::new();
    let mut put = |out: &mut BufWriter<File>, payload: &[u8]| -> std::io::Result<()> {
        buf.clear();
        frame::put(&mut buf, payload).map_err(|e| invalid(e.to_string()))?;
        frames.set(frames.get() + 1);
        out.write_all(&buf)
    };
    put(
        &mut out,
        &record::encode(&header).map_err(|e| invalid(e.to_string()))?,
    )?;
    let schema_change = record::encode_changes(1, std::iter::once(ChangeRef::Schema(schema)))
        .map_err(|e| invalid(e.to_string()))?;
    put(&mut out, &schema_change)?;
    let mut chunk = Vec::with_capacity(CHUNK);
    for images in [
        &mut nodes.fuse() as &mut dyn Iterator<Item = ChangeRef<'a>>,
        &mut rels.fuse(),
    ] {
        loop {
            chunk.clear();
            chunk.extend((&mut *images).take(CHUNK));
            if chunk.is_empty() {
                break;
            }
            let body = record::encode_changes(chunk.len(), chunk.iter().copied())
                .map_err(|e| invalid(e.to_string()))?;
            put(&mut out, &body)?;
        }
    }
    let trailer = record::encode(&Trailer {
        frames: frames.get(),
    })
    .map_err(|e| invalid(e.to_string()))?;
    put(&mut out, &trailer)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Reads a snapshot, handing every change to `apply`. Fails, naming what is wrong, on any damage:
/// a snapshot is used whole or not at all.
pub fn read(path: &Path, apply: &mut dyn FnMut(Change)) -> Result<SnapshotHeader, String> {
    let fail = |what: String| format!("snapshot {} is damaged: {what}", path.display());
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut remaining = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; MAGIC.len()];
    if remaining < MAGIC.len() as u64 || input.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(fail("not a boltd snapshot (bad magic)".into()));
    }
    remaining -= MAGIC.len() as u64;
    let frames = std::cell::Cell::new(0u64);
    let next = |input: &mut BufReader<File>, remaining: &mut u64| {
        frames.set(frames.get() + 1);
        match frame::read(input, remaining) {
            Ok(Some(payload)) => Ok(payload),
            Ok(None) => Err(fail("it ends early".into())),
            Err(e) => Err(fail(e.to_string())),
        }
    };
    let payload = next(&mut input, &mut remaining)?;
    let (header, _) = record::take::<SnapshotHeader>(&payload).map_err(|e| fail(e.to_string()))?;
    if header.seq > record::MAX_SEQ {
        // Recovery would overflow computing the record after it (see `record::MAX_SEQ`).
        return Err(fail(format!(
            "it claims to cover record {}, beyond the last one a log can hold",
            header.seq
        )));
    }
    for change in record::decode_changes(&next(&mut input, &mut remaining)?)
        .map_err(|e| fail(e.to_string()))?
    {
        apply(change);
    }
    let mut images = 0u64;
    let expected = header.nodes.saturating_add(header.rels);
    while images < expected {
        let changes = record::decode_changes(&next(&mut input, &mut remaining)?)
            .map_err(|e| fail(e.to_string()))?;
        images += changes.len() as u64;
        for change in changes {
            apply(change);
        }
    }
    let before_trailer = frames.get();
    let (trailer, _) = record::take::<Trailer>(&next(&mut input, &mut remaining)?)
        .map_err(|e| fail(e.to_string()))?;
    if images != expected || trailer.frames != before_trailer || remaining != 0 {
        return Err(fail(format!(
            "{images} images of {expected}, {} frames of {before_trailer}, {remaining} bytes after the end",
            trailer.frames
        )));
    }
    Ok(header)
}

/// The snapshots in `dir`, oldest first (by covered sequence number, then creation).
pub fn list(dir: &Path) -> std::io::Result<Vec<SnapshotInfo>> {
    Ok(files::list(dir, "snapshot-", ".snap")?
        .into_iter()
        .map(|f| SnapshotInfo {
            path: f.path,
            seq: f.seq,
            created_nanos: f.created,
            size: f.size,
        })
        .collect())
}

/// Removes temporary files of snapshots a crash interrupted.
pub fn remove_unfinished(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name
                .to_str()
                .is_some_and(|n| n.starts_with(".snapshot-") && n.ends_with(".tmp"))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Keeps the newest `keep` snapshots; returns the sequence number the oldest kept one covers.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Option<u64>> {
    let all = list(dir)?;
    let cut = all.len().saturating_sub(keep.max(1));
    for old in &all[..cut] {
        fs::remove_file(&old.path)?;
    }
    Ok(all.get(cut).map(|s| s.seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn write_sample(dir: &Path, seq: u64) -> Written {
        let props = vec![("name".into(), Value::String("a".into()))];
        let labels = vec!["L".to_owned()];
        let nodes: Vec<ChangeRef> = (0..10_000)
            .map(|id| ChangeRef::PutNode {
                id,
                labels: &labels,
                props: &props,
            })
            .collect();
        let rels: Vec<ChangeRef> = (0..5_000)
            .map(|id| ChangeRef::PutRel {
                id,
                start: id,
                end: id + 1,
                rel_type: "R",
                props: &props,
            })
            .collect();
        let header = SnapshotHeader {
            seq,
            next_node: 10_000,
            next_rel: 5_000,
            created: 0,
            nodes: 10_000,
            rels: 5_000,
        };
        let schema = Schema {
            label_indexes: vec!["L".into()],
            ..Schema::default()
        };
        write(dir, header, &schema, nodes.into_iter(), rels.into_iter()).unwrap()
    }

    #[test]
    fn snapshots_round_trip_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_sample(dir.path(), 7);
        let mut changes = Vec::new();
        let header = read(&written.info.path, &mut |c| changes.push(c)).unwrap();
        assert_eq!(header.seq, 7);
        assert_eq!(changes.len(), 1 + 10_000 + 5_000);
        assert!(matches!(&changes[0], Change::Schema(s) if s.label_indexes == ["L"]));
        assert_eq!(list(dir.path()).unwrap(), vec![written.info.clone()]);

        let bytes = fs::read(&written.info.path).unwrap();
        // A flipped byte anywhere, or a cut anywhere, makes the whole file unusable.
        for at in [3, MAGIC.len() + 2, bytes.len() / 2, bytes.len() - 3] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            fs::write(&written.info.path, &bad).unwrap();
            assert!(
                read(&written.info.path, &mut |_| {}).is_err(),
                "flip at {at}"
            );
        }
        for cut in [0, MAGIC.len() + 5, bytes.len() / 3, bytes.len() - 1] {
            fs::write(&written.info.path, &bytes[..cut]).unwrap();
            let err = read(&written.info.path, &mut |_| {}).unwrap_err();
            assert!(err.contains("damaged"), "cut at {cut}: {err}");
        }
    }

    /// A checksummed snapshot claiming to cover record `u64::MAX` made recovery overflow computing
    /// the record after it; it is refused as damaged.
    #[test]
    fn a_snapshot_covering_u64_max_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let header = SnapshotHeader {
            seq: u64::MAX,
            next_node: 0,
            next_rel: 0,
            created: 0,
            nodes: 0,
            rels: 0,
        };
        let written = write(
            dir.path(),
            header,
            &Schema::default(),
            std::iter::empty(),
            std::iter::empty(),
        )
        .unwrap();
        let err = read(&written.info.path, &mut |_| {}).unwrap_err();
        assert!(err.contains("beyond the last"), "{err}");
    }

    #[test]
    fn pruning_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for seq in [3, 9, 5, 12] {
            write_sample(dir.path(), seq);
        }
        fs::write(
            dir.path().join(".snapshot-00000000000000000013-1.tmp"),
            b"x",
        )
        .unwrap();
        remove_unfinished(dir.path());
        assert_eq!(prune(dir.path(), 2).unwrap(), Some(9));
        let left: Vec<u64> = list(dir.path()).unwrap().iter().map(|s| s.seq).collect();
        assert_eq!(left, vec![9, 12]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
