//! Group frames: how the current WAL format lays out each write of the writer thread.
//!
//! A segment is the magic, then one frame per write whose payload is the record frames of that
//! write (`[length][crc][ [length][crc][record] ... ]`), then, when the file was preallocated,
//! zeros. The outer checksum covers the whole write, so a write is found whole or not at all.
//!
//! Why groups: writing into preallocated space makes each `fdatasync` cheaper, but a crash can
//! then keep any page of the unsynced last write without the ones before it. Recovery meets a
//! broken frame followed by whole records and must tell that torn write from damage to synced
//! data followed by later writes. With groups the rule is simple: the writer writes a group only
//! after the previous one is synced, so a whole group after a broken one proves the broken one was
//! synced (damage: refuse to start), while whole records inside a torn group are only ever inner
//! frames, which never pass for a group.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use super::frame;
use super::record::{self, Header};

/// The framing of one record whose payload is `head` then `changes`, checked to fit in a group.
pub fn record_framing(head: &[u8], changes: &[u8]) -> Result<[u8; frame::HEADER], String> {
    let payload = head.len() + changes.len();
    let len = u32::try_from(frame::HEADER + payload)
        .map(|_| payload as u32)
        .map_err(|_| frame::TooLarge(payload).to_string())?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(head);
    crc.update(changes);
    let mut framing = [0u8; frame::HEADER];
    framing[..4].copy_from_slice(&len.to_le_bytes());
    framing[4..].copy_from_slice(&crc.finalize().to_le_bytes());
    Ok(framing)
}

/// One group frame to write: its header and which of the write's records it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFrame {
    pub header: [u8; frame::HEADER],
    pub records: Range<usize>,
    /// The frame's size on disk, header included.
    pub bytes: u64,
}

/// The group frames of one write: as few as the 4 GiB frame length allows (one, short of a
/// multi-gigabyte transaction).
pub fn split(pieces: &[([u8; frame::HEADER], Vec<u8>, &[u8])]) -> Vec<GroupFrame> {
    split_at_most(pieces, u32::MAX as u64)
}

fn split_at_most(pieces: &[([u8; frame::HEADER], Vec<u8>, &[u8])], limit: u64) -> Vec<GroupFrame> {
    let size = |(_, head, changes): &([u8; frame::HEADER], Vec<u8>, &[u8])| {
        (frame::HEADER + head.len() + changes.len()) as u64
    };
    let mut out = Vec::new();
    let mut start = 0;
    while start < pieces.len() {
        let mut end = start;
        let mut len = 0u64;
        let mut crc = crc32fast::Hasher::new();
        while end < pieces.len() && (end == start || len + size(&pieces[end]) <= limit) {
            let (framing, head, changes) = &pieces[end];
            crc.update(framing);
            crc.update(head);
            crc.update(changes);
            len += size(&pieces[end]);
            end += 1;
        }
        let mut header = [0u8; frame::HEADER];
        // Each record fits in a frame (record_framing), so a one-record group does too.
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc.finalize().to_le_bytes());
        out.push(GroupFrame {
            header,
            records: start..end,
            bytes: frame::HEADER as u64 + len,
        });
        start = end;
    }
    out
}

/// Writes at a fixed position of a file (a segment is written where its last group ended, not
/// appended to: the file may be longer, preallocated).
pub struct At<'a> {
    pub file: &'a File,
    pub offset: u64,
}

impl io::Write for At<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Allocates the first `len` bytes of `file`, best effort: without it (a file system that cannot,
/// a full disk) writes simply extend the file. A partial allocation left by a failure is zeros,
/// which read as the end of the segment, so it needs no undoing.
#[allow(unsafe_code)]
pub fn preallocate(file: &File, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(len) = libc::off_t::try_from(len) {
            // SAFETY: fallocate only reads its integer arguments; the descriptor is open for
            // writing and owned by `file` for the duration of the call.
            let _ = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, len);
}

/// What is at an offset of a segment of groups.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// A whole group: its record payloads (each with its offset in the file), and its size.
    Group(Vec<(&'a [u8], usize)>, usize),
    /// Nothing more was written: the rest of the file is zeros, or it ends here.
    End,
    /// Bytes that are not a whole group: a write a crash tore, or damage.
    Broken(String),
}

/// Reads the group at `offset` of a segment's `bytes`.
pub fn read(bytes: &[u8], offset: usize) -> Found<'_> {
    let rest = &bytes[offset..];
    // A group's length is never zero, so only a zero header can start the zeros.
    if rest.iter().take(frame::HEADER).all(|&b| b == 0) && rest.iter().all(|&b| b == 0) {
        return Found::End;
    }
    let (payload, len) = match frame::parse(rest) {
        Ok(([], _)) => return Found::Broken("an empty group where a write was expected".into()),
        Ok(ok) => ok,
        Err(e) => return Found::Broken(e.to_string()),
    };
    let mut records = Vec::new();
    let mut inner = 0;
    while inner < payload.len() {
        match frame::parse(&payload[inner..]) {
            Ok((record, n)) => {
                records.push((record, offset + frame::HEADER + inner));
                inner += n;
            }
            // The group's checksum matched, so this is how it was written: a writer bug.
            Err(e) => return Found::Broken(format!("a record inside a whole group: {e}")),
        }
    }
    Found::Group(records, len)
}

/// Whether a whole group holding records after `expected` starts anywhere in `bytes` after its
/// first byte (where a broken group or zeros start, whose length cannot be trusted).
///
/// Every offset up to the last non-zero byte is tried; the record header inside (a few bytes) is
/// checked first, so that checksums are computed only for the rare plausible candidate.
pub fn group_follows(bytes: &[u8], expected: u64) -> bool {
    let Some(last) = bytes.iter().rposition(|&b| b != 0) else {
        return false;
    };
    let highest = expected.saturating_add((bytes.len() / frame::HEADER) as u64);
    (1..=last).any(|start| {
        let candidate = &bytes[start..];
        let plausible = candidate
            .get(2 * frame::HEADER..)
            .and_then(|payload| postcard::take_from_bytes::<Header>(payload).ok())
            .is_some_and(|(h, _)| h.seq > expected && h.seq <= highest);
        plausible
            && matches!(read(candidate, 0), Found::Group(records, _)
                if records.iter().all(|(r, _)| record::decode_record(r).is_ok()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(sizes: &[usize]) -> Vec<([u8; frame::HEADER], Vec<u8>, &'static [u8])> {
        sizes
            .iter()
            .map(|&n| {
                let head = vec![7u8; n];
                (record_framing(&head, &[]).unwrap(), head, &[][..])
            })
            .collect()
    }

    #[test]
    fn a_write_is_one_group_unless_the_frame_length_runs_out() {
        let p = pieces(&[10, 20, 30]);
        let one = split(&p);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].records, 0..3);
        assert_eq!(one[0].bytes, (8 + 8 * 3 + 60) as u64);
        // With room for 40 bytes per frame: [10+8, 20+8] = 46 > 40, so each record alone,
        // except that a record larger than the limit still gets its own frame.
        let small = split_at_most(&p, 40);
        let ranges: Vec<_> = small.iter().map(|f| f.records.clone()).collect();
        assert_eq!(ranges, vec![0..1, 1..2, 2..3]);
        let pair = split_at_most(&pieces(&[4, 4, 4]), 24);
        let ranges: Vec<_> = pair.iter().map(|f| f.records.clone()).collect();
        assert_eq!(ranges, vec![0..2, 2..3]);
    }

    #[test]
    fn written_groups_read_back_and_zeros_are_the_end() {
        let p = pieces(&[5, 6]);
        let frames = split(&p);
        let mut bytes = vec![1u8; 12];
        bytes.extend_from_slice(&frames[0].header);
        for (framing, head, _) in &p {
            bytes.extend_from_slice(framing);
            bytes.extend_from_slice(head);
        }
        let end = bytes.len();
        bytes.resize(end + 100, 0);
        match read(&bytes, 12) {
            Found::Group(records, len) => {
                assert_eq!(len as u64, frames[0].bytes);
                assert_eq!(records.len(), 2);
                assert_eq!(records[0], (&[7u8; 5][..], 12 + 8));
                assert_eq!(records[1].0, &[7u8; 6][..]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read(&bytes, end), Found::End);
        // Any byte of the group changed makes it broken, never a shorter group.
        for at in 12..end {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(
                matches!(read(&bad, 12), Found::Broken(_)),
                "a flip at {at} was read as a group"
            );
        }
    }
}
