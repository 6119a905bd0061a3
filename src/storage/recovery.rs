//! Recovery: the newest valid snapshot, then the WAL records after it, in order.
//!
//! Nothing acknowledged may be lost and nothing may be invented, so damage is never skipped into
//! a smaller graph:
//!
//! * a record cut off at the end of the newest segment is a write that a crash interrupted (it was
//!   never acknowledged): it is cut off with a warning naming the file and offset;
//! * a damaged snapshot is passed over for an older one, provided the WAL still reaches back to
//!   it;
//! * anything else (a damaged record with more after it, a missing range of records) stops the
//!   start with an error naming the file and what to do.
//!
//! A segment started at sequence number N supersedes whatever an older segment holds from N on:
//! that is how the writer abandons a segment whose failed tail it could not cut.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::frame::{self, FrameError};
use super::record::{self, Change};
use super::snapshot;
use super::wal;

/// Where recovered changes go (the engine's graph under construction).
pub trait Sink {
    fn apply(&mut self, change: Change);
    /// Forget everything applied so far (a snapshot turned out damaged half-way).
    fn clear(&mut self);
}

/// What recovery found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The last sequence number in the recovered state.
    pub seq: u64,
    pub next_node: i64,
    pub next_rel: i64,
    pub snapshot: Option<PathBuf>,
    /// Snapshots passed over because they were damaged, with why.
    pub skipped_snapshots: Vec<String>,
    pub records: u64,
    pub segments: usize,
    /// A torn record cut off the end of the newest segment: the file and the offset.
    pub cut: Option<(PathBuf, u64)>,
    pub seconds: f64,
}

/// Recovers `data_dir` into `sink`.
pub fn recover(data_dir: &Path, sink: &mut dyn Sink) -> Result<Recovered, String> {
    let started = Instant::now();
    let snap_dir = data_dir.join("snapshots");
    let wal_dir = data_dir.join("wal");
    snapshot::remove_unfinished(&snap_dir);
    let snapshots = snapshot::list(&snap_dir)
        .map_err(|e| format!("cannot list the snapshots in {}: {e}", snap_dir.display()))?;
    let segments = wal::segments(&wal_dir)
        .map_err(|e| format!("cannot list the WAL segments in {}: {e}", wal_dir.display()))?;
    let mut found = Recovered::default();
    let mut base = None;
    for candidate in snapshots.iter().rev() {
        sink.clear();
        match snapshot::read(&candidate.path, &mut |c| sink.apply(c)) {
            Ok(header) => {
                base = Some((candidate.path.clone(), header));
                break;
            }
            Err(e) => found.skipped_snapshots.push(e),
        }
    }
    if base.is_none() {
        sink.clear();
    }
    let (from_seq, snapshot_path) = match &base {
        Some((path, header)) => {
            found.next_node = header.next_node;
            found.next_rel = header.next_rel;
            (header.seq, Some(path.clone()))
        }
        None => (0, None),
    };
    if let Some(first) = segments.first() {
        if first.first_seq > from_seq + 1 {
            let what = match &snapshot_path {
                Some(p) => format!(
                    "the snapshot {} covers only up to record {from_seq}",
                    p.display()
                ),
                None if snapshots.is_empty() => "there is no snapshot".to_owned(),
                None => "no snapshot is readable".to_owned(),
            };
            return Err(format!(
                "cannot recover {}: {what}, and the WAL starts at record {} ({}). {}Restore the \
                 data directory from a backup, or start with --data-recovery-on-startup=false \
                 on an empty directory.",
                data_dir.display(),
                first.first_seq,
                first.path.display(),
                skipped(&found.skipped_snapshots),
            ));
        }
    } else if !found.skipped_snapshots.is_empty() && base.is_none() {
        return Err(format!(
            "cannot recover {}: {}and there is no WAL to rebuild from. Restore the data directory \
             from a backup.",
            data_dir.display(),
            skipped(&found.skipped_snapshots)
        ));
    }
    found.snapshot = snapshot_path;
    found.seq = from_seq;
    replay(&segments, sink, &mut found)?;
    found.seconds = started.elapsed().as_secs_f64();
    Ok(found)
}

fn skipped(reasons: &[String]) -> String {
    reasons.iter().map(|r| format!("{r}; ")).collect()
}

fn replay(
    segments: &[wal::SegmentName],
    sink: &mut dyn Sink,
    found: &mut Recovered,
) -> Result<(), String> {
    let mut expected = found.seq + 1;
    for (i, segment) in segments.iter().enumerate() {
        let newest = i + 1 == segments.len();
        let allowed_end = segments
            .get(i + 1)
            .map_or(u64::MAX, |next| next.first_seq.saturating_sub(1));
        if allowed_end < expected {
            continue;
        }
        if segment.first_seq > expected {
            return Err(format!(
                "cannot recover: WAL records {expected} to {} are missing (the next segment is {}). \
                 Restore the data directory from a backup.",
                segment.first_seq - 1,
                segment.path.display()
            ));
        }
        let path = &segment.path;
        let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        found.segments += 1;
        if bytes.len() < wal::MAGIC.len() {
            if newest {
                continue;
            }
            return Err(damaged(path, 0, "it is shorter than its header"));
        }
        if &bytes[..wal::MAGIC.len()] != wal::MAGIC {
            return Err(damaged(
                path,
                0,
                "it is not a boltd WAL segment (bad magic)",
            ));
        }
        let mut offset = wal::MAGIC.len();
        while offset < bytes.len() && expected <= allowed_end {
            let rest = &bytes[offset..];
            let (payload, len) = match frame::parse(rest) {
                Ok(ok) => ok,
                Err(e) => {
                    let last_frame = match e {
                        FrameError::Torn => true,
                        // A complete frame with a bad checksum that ends the file: some file
                        // systems extend a file before its data is written.
                        _ => claimed_len(rest).is_some_and(|n| n >= rest.len()),
                    };
                    if newest && last_frame {
                        cut(path, offset as u64)?;
                        found.cut = Some((path.clone(), offset as u64));
                        break;
                    }
                    return Err(damaged(path, offset as u64, &e.to_string()));
                }
            };
            let record = record::decode_record(payload)
                .map_err(|e| damaged(path, offset as u64, &e.to_string()))?;
            let seq = record.header.seq;
            if seq < expected {
                offset += len;
                continue;
            }
            if seq > allowed_end {
                break;
            }
            if seq != expected {
                return Err(damaged(
                    path,
                    offset as u64,
                    &format!("record {seq} where record {expected} was expected"),
                ));
            }
            found.next_node = found.next_node.max(record.header.next_node);
            found.next_rel = found.next_rel.max(record.header.next_rel);
            for change in record.changes {
                sink.apply(change);
            }
            found.records += 1;
            found.seq = seq;
            expected += 1;
            offset += len;
        }
    }
    Ok(())
}

fn claimed_len(bytes: &[u8]) -> Option<usize> {
    let header: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(frame::HEADER + u32::from_le_bytes(header) as usize)
}

fn damaged(path: &Path, offset: u64, what: &str) -> String {
    format!(
        "cannot recover: the WAL segment {} is damaged at offset {offset} ({what}), and records \
         follow it that would be lost. Restore the data directory from a backup; or, to start \
         from the data before the damage (losing the commits in and after it), move that file \
         and every newer segment out of the wal directory.",
        path.display()
    )
}

/// Cuts a torn record off the end of a segment.
fn cut(path: &Path, at: u64) -> Result<(), String> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(at).and_then(|()| f.sync_all()))
        .map_err(|e| format!("cannot cut the torn record off {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record::Schema;
    use crate::storage::snapshot::SnapshotHeader;

    #[derive(Default)]
    struct Count(usize);

    impl Sink for Count {
        fn apply(&mut self, _: Change) {
            self.0 += 1;
        }

        fn clear(&mut self) {
            self.0 = 0;
        }
    }

    /// A snapshot claiming to cover record `u64::MAX`, with a WAL after it, overflowed computing
    /// the first record the WAL must hold. It is passed over as damaged.
    #[test]
    fn a_snapshot_at_the_end_of_the_sequence_space_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let header = SnapshotHeader {
            seq: u64::MAX,
            next_node: 0,
            next_rel: 0,
            created: 0,
            nodes: 0,
            rels: 0,
        };
        let snaps = dir.path().join("snapshots");
        snapshot::write(
            &snaps,
            header,
            &Schema::default(),
            [].into_iter(),
            [].into_iter(),
        )
        .unwrap();
        fs::create_dir(dir.path().join("wal")).unwrap();
        fs::write(
            dir.path().join("wal").join(format!("wal-{:020}-0.log", 1)),
            wal::MAGIC,
        )
        .unwrap();
        let found = recover(dir.path(), &mut Count::default()).unwrap();
        assert_eq!(found.seq, 0);
        assert_eq!(found.snapshot, None);
        assert_eq!(found.skipped_snapshots.len(), 1);
    }
}
