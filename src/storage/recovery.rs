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
use super::group;
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
        let mut replayed = Replayed {
            expected,
            allowed_end,
            sink: &mut *sink,
            found: &mut *found,
            path,
        };
        match &bytes[..wal::MAGIC.len()] {
            m if m == wal::MAGIC => replay_groups(&bytes, newest, &mut replayed)?,
            m if m == wal::MAGIC_V1 => replay_records(&bytes, newest, &mut replayed)?,
            _ => {
                return Err(damaged(
                    path,
                    0,
                    "it is not a boltd WAL segment (bad magic)",
                ))
            }
        }
        expected = replayed.expected;
    }
    Ok(())
}

/// Where replay stands in the segment being read.
struct Replayed<'a> {
    expected: u64,
    /// The last record this segment may contribute (a newer segment supersedes the rest).
    allowed_end: u64,
    sink: &'a mut dyn Sink,
    found: &'a mut Recovered,
    path: &'a Path,
}

impl Replayed<'_> {
    /// Applies the record `payload` found at `offset`, unless an earlier source already did.
    /// `Ok(false)`: the record belongs to a newer segment; stop reading this one.
    fn take(&mut self, payload: &[u8], offset: usize) -> Result<bool, String> {
        let record = record::decode_record(payload)
            .map_err(|e| damaged(self.path, offset as u64, &e.to_string()))?;
        let seq = record.header.seq;
        if seq < self.expected {
            return Ok(true);
        }
        if seq > self.allowed_end {
            return Ok(false);
        }
        if seq != self.expected {
            return Err(damaged(
                self.path,
                offset as u64,
                &format!("record {seq} where record {} was expected", self.expected),
            ));
        }
        self.found.next_node = self.found.next_node.max(record.header.next_node);
        self.found.next_rel = self.found.next_rel.max(record.header.next_rel);
        for change in record.changes {
            self.sink.apply(change);
        }
        self.found.records += 1;
        self.found.seq = seq;
        self.expected += 1;
        Ok(true)
    }

    fn done(&self) -> bool {
        self.expected > self.allowed_end
    }
}

/// A segment of the current format: group frames, then zeros or the end of the file.
fn replay_groups(bytes: &[u8], newest: bool, r: &mut Replayed) -> Result<(), String> {
    let mut offset = wal::MAGIC.len();
    while offset < bytes.len() && !r.done() {
        match group::read(bytes, offset) {
            group::Found::Group(records, len) => {
                for (payload, at) in records {
                    if !r.take(payload, at)? {
                        return Ok(());
                    }
                }
                offset += len;
            }
            found => {
                let rest = &bytes[offset..];
                // Zeros or a broken group end what was written, unless a whole group follows:
                // the writer writes a group only once the one before is synced.
                if group::group_follows(rest, r.expected) {
                    let what = match found {
                        group::Found::Broken(why) => why,
                        _ => "zeros where records were written".into(),
                    };
                    return Err(damaged(r.path, offset as u64, &what));
                }
                match found {
                    // What was preallocated and never used; a clean stop gives it back too.
                    group::Found::End => trim(r.path, offset as u64, bytes.len() as u64),
                    _ if newest => {
                        cut(r.path, offset as u64)?;
                        r.found.cut = Some((r.path.to_path_buf(), offset as u64));
                    }
                    group::Found::Broken(why) => {
                        return Err(damaged(r.path, offset as u64, &why));
                    }
                    group::Found::Group(..) => unreachable!("handled above"),
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A segment of the first format: record frames to the end of the file.
fn replay_records(bytes: &[u8], newest: bool, r: &mut Replayed) -> Result<(), String> {
    let mut offset = wal::MAGIC_V1.len();
    while offset < bytes.len() && !r.done() {
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
                // A damaged length can also make a record seem to run past the end of the
                // file; the intact records after it show that it is no torn write, and cutting
                // there would drop acknowledged commits.
                if newest && last_frame && !record_follows(rest, r.expected) {
                    cut(r.path, offset as u64)?;
                    r.found.cut = Some((r.path.to_path_buf(), offset as u64));
                    break;
                }
                return Err(damaged(r.path, offset as u64, &e.to_string()));
            }
        };
        if !r.take(payload, offset)? {
            break;
        }
        offset += len;
    }
    Ok(())
}

/// Whether a whole, checksummed record numbered after `expected` starts anywhere after the
/// frame at the start of `bytes` (whose own length cannot be trusted).
///
/// A torn write is the unfinished tail of the last write: nothing complete follows it. Every
/// offset is tried, the header (a few bytes) first, so that the checksum is computed only for
/// the rare candidate whose sequence number is plausible.
fn record_follows(bytes: &[u8], expected: u64) -> bool {
    // Each record after `expected` takes at least a frame header, which bounds the numbers.
    let highest = expected.saturating_add((bytes.len() / frame::HEADER) as u64);
    (1..bytes.len()).any(|start| {
        let candidate = &bytes[start..];
        let plausible = candidate
            .get(frame::HEADER..)
            .and_then(|payload| postcard::take_from_bytes::<record::Header>(payload).ok())
            .is_some_and(|(h, _)| h.seq > expected && h.seq <= highest);
        plausible
            && frame::parse(candidate)
                .is_ok_and(|(payload, _)| record::decode_record(payload).is_ok())
    })
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

/// Gives back the unused preallocated end of a segment (zeros), best effort: it only saves space.
fn trim(path: &Path, at: u64, len: u64) {
    if at < len {
        let _ = OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(at).and_then(|()| f.sync_all()));
    }
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
    use crate::storage::record::{ChangeRef, Header, Schema};
    use crate::storage::snapshot::SnapshotHeader;

    /// Collects what recovery applies (shared by the test modules below).
    #[derive(Default)]
    pub(super) struct Collect(pub(super) Vec<Change>);

    impl Sink for Collect {
        fn apply(&mut self, change: Change) {
            self.0.push(change);
        }
        fn clear(&mut self) {
            self.0.clear();
        }
    }

    impl Collect {
        pub(super) fn ids(&self) -> Vec<i64> {
            self.0
                .iter()
                .filter_map(|c| match c {
                    Change::PutNode { id, .. } => Some(*id),
                    _ => None,
                })
                .collect()
        }
    }

    /// A segment holding records `seqs` (each puts node `seq`), starting at `first`.
    fn segment(
        dir: &Path,
        first: u64,
        created: u128,
        seqs: std::ops::RangeInclusive<u64>,
    ) -> PathBuf {
        let wal = dir.join("wal");
        fs::create_dir_all(&wal).unwrap();
        let path = wal.join(format!("wal-{first:020}-{created}.log"));
        let mut bytes = wal::MAGIC_V1.to_vec();
        for seq in seqs {
            let change = ChangeRef::PutNode {
                id: seq as i64,
                labels: &[],
                props: &[],
            };
            let body = record::encode_changes(1, std::iter::once(change)).unwrap();
            let header = Header {
                seq,
                next_node: seq as i64 + 1,
                next_rel: 0,
            };
            frame::put(&mut bytes, &record::record_payload(header, &body).unwrap()).unwrap();
        }
        fs::write(&path, bytes).unwrap();
        path
    }

    /// A snapshot at `seq` holding nodes `1..=seq`.
    fn snapshot_at(dir: &Path, seq: u64) -> PathBuf {
        let images: Vec<ChangeRef> = (1..=seq as i64)
            .map(|id| ChangeRef::PutNode {
                id,
                labels: &[],
                props: &[],
            })
            .collect();
        let header = SnapshotHeader {
            seq,
            next_node: seq as i64 + 1,
            next_rel: 0,
            created: 0,
            nodes: seq,
            rels: 0,
        };
        snapshot::write(
            &dir.join("snapshots"),
            header,
            &Schema::default(),
            images.into_iter(),
            std::iter::empty(),
        )
        .unwrap()
        .info
        .path
    }

    #[test]
    fn newest_snapshot_then_the_records_after_it_in_order() {
        let dir = tempfile::tempdir().unwrap();
        segment(dir.path(), 1, 1, 1..=3);
        segment(dir.path(), 4, 2, 4..=7);
        segment(dir.path(), 8, 3, 8..=10);
        snapshot_at(dir.path(), 2);
        let newest = snapshot_at(dir.path(), 5);
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(found.snapshot, Some(newest));
        assert_eq!(found.seq, 10);
        assert_eq!(found.records, 5);
        assert_eq!(found.next_node, 11);
        // The snapshot's five nodes, then records 6 to 10: the first segment is never read.
        assert_eq!(sink.ids(), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(found.segments, 2);
    }

    #[test]
    fn a_torn_tail_is_cut_and_everything_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        segment(dir.path(), 1, 1, 1..=3);
        let newest = segment(dir.path(), 4, 2, 4..=6);
        let len = fs::metadata(&newest).unwrap().len();
        let f = OpenOptions::new().write(true).open(&newest).unwrap();
        f.set_len(len - 3).unwrap();
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), vec![1, 2, 3, 4, 5]);
        let (file, offset) = found.cut.clone().unwrap();
        assert_eq!(file, newest);
        assert_eq!(fs::metadata(&newest).unwrap().len(), offset);
        // The cut is for good: a second recovery finds a clean file.
        let again = recover(dir.path(), &mut Collect::default()).unwrap();
        assert!(again.cut.is_none());
        assert_eq!(again.seq, 5);
    }

    #[test]
    fn damage_with_records_after_it_refuses_to_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = segment(dir.path(), 1, 1, 1..=3);
        segment(dir.path(), 4, 2, 4..=6);
        let mut bytes = fs::read(&old).unwrap();
        let at = wal::MAGIC_V1.len() + 12;
        bytes[at] ^= 0x20;
        fs::write(&old, bytes).unwrap();
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains(&old.display().to_string()), "{err}");
        assert!(err.contains("damaged"), "{err}");

        // The same damage in the newest segment, with a record after it, is refused too.
        let dir = tempfile::tempdir().unwrap();
        let only = segment(dir.path(), 1, 1, 1..=3);
        let mut bytes = fs::read(&only).unwrap();
        bytes[at] ^= 0x20;
        fs::write(&only, bytes).unwrap();
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains(&only.display().to_string()), "{err}");
    }

    #[test]
    fn a_damaged_snapshot_falls_back_to_an_older_one_and_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        segment(dir.path(), 1, 1, 1..=8);
        snapshot_at(dir.path(), 3);
        let newest = snapshot_at(dir.path(), 6);
        let mut bytes = fs::read(&newest).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        fs::write(&newest, bytes).unwrap();
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(found.skipped_snapshots.len(), 1);
        assert!(found.skipped_snapshots[0].contains(&newest.display().to_string()));
        assert_eq!(sink.ids(), (1..=8).collect::<Vec<_>>());
    }

    #[test]
    fn a_wal_that_no_longer_reaches_back_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        segment(dir.path(), 10, 1, 10..=12);
        let snap = snapshot_at(dir.path(), 9);
        fs::write(&snap, b"garbage").unwrap();
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains("starts at record 10"), "{err}");
    }

    #[test]
    fn a_newer_segment_supersedes_an_abandoned_tail() {
        let dir = tempfile::tempdir().unwrap();
        // Records 4 and 5 of the first segment failed and were never acknowledged; the writer
        // went on in a new segment from 4.
        let abandoned = segment(dir.path(), 1, 1, 1..=5);
        let mut bytes = fs::read(&abandoned).unwrap();
        bytes.extend_from_slice(b"\x07\x00\x00\x00garbage");
        fs::write(&abandoned, bytes).unwrap();
        segment(dir.path(), 4, 2, 4..=6);
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(found.seq, 6);
    }

    #[test]
    fn a_gap_between_segments_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        segment(dir.path(), 1, 1, 1..=3);
        segment(dir.path(), 6, 2, 6..=7);
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains("4 to 5 are missing"), "{err}");
    }
}

#[cfg(test)]
mod damage_tests {
    use super::tests::Collect;
    use super::*;
    use crate::storage::record::{ChangeRef, Header};
    use crate::value::Value;

    /// A data directory whose one WAL segment holds records 1..=n, each creating node i; returns
    /// the segment's path, its bytes and each frame's offset.
    fn segment_of(n: u64) -> (tempfile::TempDir, PathBuf, Vec<u8>, Vec<usize>) {
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        fs::create_dir_all(&wal_dir).unwrap();
        let mut bytes = wal::MAGIC_V1.to_vec();
        let mut offsets = Vec::new();
        let labels = vec!["L".to_owned()];
        for seq in 1..=n {
            let props = vec![("i".into(), Value::Int(seq as i64))];
            let change = ChangeRef::PutNode {
                id: seq as i64,
                labels: &labels,
                props: &props,
            };
            let changes = record::encode_changes(1, std::iter::once(change)).unwrap();
            let header = Header {
                seq,
                next_node: seq as i64 + 1,
                next_rel: 0,
            };
            offsets.push(bytes.len());
            frame::put(
                &mut bytes,
                &record::record_payload(header, &changes).unwrap(),
            )
            .unwrap();
        }
        let path = wal_dir.join("wal-00000000000000000001-1.log");
        fs::write(&path, &bytes).unwrap();
        (dir, path, bytes, offsets)
    }

    #[test]
    fn a_damaged_length_with_records_after_it_is_refused_not_cut() {
        let (dir, path, mut bytes, offsets) = segment_of(10);
        // The high byte of record 5's length: it now claims to run far past the end of the file,
        // as a torn write would, but records 6 to 10 follow it.
        bytes[offsets[4] + 3] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("records follow it"), "{err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "the damaged file was changed"
        );
    }

    #[test]
    fn a_torn_last_record_is_still_cut() {
        let (dir, path, bytes, offsets) = segment_of(10);
        let torn = offsets[9] + 11;
        fs::write(&path, &bytes[..torn]).unwrap();
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(found.seq, 9);
        assert_eq!(sink.0.len(), 9);
        assert_eq!(found.cut, Some((path.clone(), offsets[9] as u64)));
        assert_eq!(fs::read(&path).unwrap(), &bytes[..offsets[9]]);
    }
}

#[cfg(test)]
mod sequence_tests {
    use super::tests::Collect;
    use super::*;
    use crate::storage::record::Schema;
    use crate::storage::snapshot::SnapshotHeader;

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
        let found = recover(dir.path(), &mut Collect::default()).unwrap();
        assert_eq!(found.seq, 0);
        assert_eq!(found.snapshot, None);
        assert_eq!(found.skipped_snapshots.len(), 1);
    }
}

#[cfg(test)]
mod group_tests {
    use super::tests::Collect;
    use super::*;
    use crate::storage::record::{ChangeRef, Header};
    use crate::storage::wal::{Wal, WalSettings};

    fn changes(seq: u64) -> Vec<u8> {
        let change = ChangeRef::PutNode {
            id: seq as i64,
            labels: &[],
            props: &[],
        };
        record::encode_changes(1, std::iter::once(change)).unwrap()
    }

    fn header(seq: u64) -> Header {
        Header {
            seq,
            next_node: seq as i64 + 1,
            next_rel: 0,
        }
    }

    /// A log in `data_dir` with 64 KiB segments, synced every `flush_every` records.
    fn wal_in(data_dir: &Path, flush_every: u64) -> Wal {
        let settings = WalSettings {
            dir: data_dir.join("wal"),
            flush_every,
            segment_bytes: 64 * 1024,
        };
        Wal::start(settings, 0, slog::Logger::root(slog::Discard, slog::o!())).unwrap()
    }

    /// Records 1..=n committed one by one through the real writer (each its own synced group);
    /// returns the data directory, the segment and a copy of it taken before the writer stopped
    /// (what a crash leaves: the preallocated file).
    fn written(n: u64) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let wal = wal_in(dir.path(), 1);
        for seq in 1..=n {
            let ticket = wal.append(header(seq), changes(seq));
            ticket.blocking_recv().unwrap().unwrap();
        }
        let segs = wal::segments(&dir.path().join("wal")).unwrap();
        let path = segs.last().unwrap().path.clone();
        let image = fs::read(&path).unwrap();
        wal.close();
        (dir, path, image)
    }

    /// The offset of each group in a segment image.
    fn groups(image: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = wal::MAGIC.len();
        while let group::Found::Group(_, len) = group::read(image, at) {
            out.push(at);
            at += len;
        }
        out
    }

    #[test]
    fn synced_segments_are_preallocated_and_a_clean_stop_gives_the_space_back() {
        let (dir, path, image) = written(20);
        assert_eq!(image.len(), 64 * 1024, "the segment was not preallocated");
        let offsets = groups(&image);
        assert_eq!(offsets.len(), 20, "one group per synced commit");
        let end = offsets[19] + (offsets[19] - offsets[18]);
        assert!(image[end..].iter().all(|&b| b == 0));
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            end as u64,
            "not trimmed"
        );
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), (1..=20).collect::<Vec<_>>());
        assert!(found.cut.is_none());
    }

    #[test]
    fn a_crash_image_recovers_whole_and_its_zeros_are_trimmed() {
        let (dir, path, image) = written(12);
        fs::write(&path, &image).unwrap();
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), (1..=12).collect::<Vec<_>>());
        assert!(found.cut.is_none(), "zeros are no torn write");
        let offsets = groups(&image);
        let end = offsets[11] + (offsets[11] - offsets[10]);
        assert_eq!(fs::metadata(&path).unwrap().len(), end as u64);
    }

    /// A crash can keep any page of the last, unsynced write without the ones before it: here
    /// the last group's first bytes never reached the disk but its end did.
    #[test]
    fn a_last_group_torn_out_of_order_is_cut_keeping_every_group_before_it() {
        let (dir, path, image) = written(10);
        let last = *groups(&image).last().unwrap();
        for hole in [0..4, 0..12, 2..9] {
            let mut torn = image.clone();
            torn[last + hole.start..last + hole.end].fill(0);
            fs::write(&path, &torn).unwrap();
            let mut sink = Collect::default();
            let found = recover(dir.path(), &mut sink).unwrap();
            assert_eq!(sink.ids(), (1..=9).collect::<Vec<_>>(), "hole {hole:?}");
            assert_eq!(
                found.cut,
                Some((path.clone(), last as u64)),
                "hole {hole:?}"
            );
            assert_eq!(fs::read(&path).unwrap(), &image[..last], "hole {hole:?}");
        }
    }

    /// Damage to a synced group (a flipped byte, a zeroed header) with later groups after it is
    /// refused and the file left as it is: cutting there would lose acknowledged commits.
    #[test]
    fn damage_before_later_groups_is_refused_not_cut() {
        let (dir, path, image) = written(10);
        let offsets = groups(&image);
        let middle = offsets[4];
        for (what, at) in [
            ("length", middle),
            ("header", middle + 1),
            ("payload", middle + 20),
        ] {
            let mut bad = image.clone();
            if what == "header" {
                bad[middle..middle + 8].fill(0);
            } else {
                bad[at] ^= 0x08;
            }
            fs::write(&path, &bad).unwrap();
            let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
            assert!(err.contains(&path.display().to_string()), "{what}: {err}");
            assert!(err.contains(&format!("offset {middle}")), "{what}: {err}");
            assert_eq!(
                fs::read(&path).unwrap(),
                bad,
                "{what}: the file was changed"
            );
        }
    }

    /// Only the newest segment can end in a torn write; in an older one it is damage.
    #[test]
    fn a_broken_group_in_an_older_segment_is_refused() {
        let (dir, path, image) = written(6);
        let last = *groups(&image).last().unwrap();
        let mut torn = image.clone();
        torn[last + 3] ^= 0x01;
        fs::write(&path, &torn).unwrap();
        let newer = dir
            .path()
            .join("wal")
            .join(format!("wal-{:020}-{}.log", 7, u128::MAX));
        fs::write(&newer, wal::MAGIC).unwrap();
        let err = recover(dir.path(), &mut Collect::default()).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    /// With syncs every N commits there is no group commit to wait for: each record is written
    /// by the committing thread and answered before `append` returns, in a segment that grows by
    /// its writes (not preallocated: unsynced groups could reach the disk out of order).
    #[test]
    fn unsynced_records_are_written_inline_and_recover() {
        let dir = tempfile::tempdir().unwrap();
        let wal = wal_in(dir.path(), 100);
        for seq in 1..=10 {
            let mut ticket = wal.append(header(seq), changes(seq));
            assert_eq!(
                ticket.try_recv(),
                Ok(Ok(())),
                "record {seq} was not answered inline"
            );
        }
        let path = wal::segments(&dir.path().join("wal")).unwrap()[0]
            .path
            .clone();
        let image = fs::read(&path).unwrap();
        let offsets = groups(&image);
        assert_eq!(
            offsets.len(),
            10,
            "the records are in the file before any sync or stop"
        );
        let end = offsets[9] + (offsets[9] - offsets[8]);
        assert_eq!(image.len(), end, "an unsynced segment is not preallocated");
        wal.close();
        let mut late = wal.append(header(11), changes(11));
        assert!(late.try_recv().is_err(), "a stopped log took a record");
        let mut sink = Collect::default();
        recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), (1..=10).collect::<Vec<_>>());
    }

    /// Several records in one write are one group, read back in order.
    #[test]
    fn a_group_of_several_records_replays_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let heads: Vec<Vec<u8>> = (1..=3)
            .map(|s| record::encode(&header(s)).unwrap())
            .collect();
        let bodies: Vec<Vec<u8>> = (1..=3).map(changes).collect();
        let pieces: Vec<_> = heads
            .iter()
            .zip(&bodies)
            .map(|(h, b)| (group::record_framing(h, b).unwrap(), h.clone(), &b[..]))
            .collect();
        let frames = group::split(&pieces);
        assert_eq!(frames.len(), 1);
        let mut bytes = wal::MAGIC.to_vec();
        bytes.extend_from_slice(&frames[0].header);
        for (framing, head, body) in &pieces {
            bytes.extend_from_slice(framing);
            bytes.extend_from_slice(head);
            bytes.extend_from_slice(body);
        }
        fs::create_dir_all(dir.path().join("wal")).unwrap();
        fs::write(
            dir.path()
                .join("wal")
                .join("wal-00000000000000000001-1.log"),
            &bytes,
        )
        .unwrap();
        let mut sink = Collect::default();
        let found = recover(dir.path(), &mut sink).unwrap();
        assert_eq!(sink.ids(), vec![1, 2, 3]);
        assert_eq!(found.records, 3);
    }
}
