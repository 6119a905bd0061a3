//! Frames: how every WAL record and snapshot section sits in a file.
//!
//! A frame is `[length: u32 LE][crc32 of the payload: u32 LE][payload]`. The length lets a reader
//! skip to the next frame and tells a torn write (the file ends inside the frame) from a damaged
//! one (the bytes are all there but the checksum disagrees). A length is never trusted for an
//! allocation before the file is known to hold that many bytes.

use std::io::{self, Read};

/// Bytes before the payload.
pub const HEADER: usize = 8;

/// The largest payload written (and so accepted): a transaction's changes or a snapshot chunk.
pub const MAX_PAYLOAD: usize = u32::MAX as usize;

/// Appends one frame holding `payload` to `out`.
pub fn put(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), TooLarge> {
    let len = u32::try_from(payload.len()).map_err(|_| TooLarge(payload.len()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A payload over [`MAX_PAYLOAD`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a record of {0} bytes is larger than the 4 GiB a WAL record can hold; split the transaction into smaller ones")]
pub struct TooLarge(pub usize);

/// Why no frame could be read at an offset.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The file ends inside the frame: a write that did not finish (a crash mid-write).
    #[error("the file ends inside a record (a write that did not finish)")]
    Torn,
    /// All bytes are there but they are not what was written.
    #[error("the record's checksum does not match its contents")]
    Damaged,
    #[error("{0}")]
    Io(String),
}

/// Reads the frame at the start of `bytes` (a whole file in memory, or what is left of it).
/// Returns the payload and the frame's total size.
pub fn parse(bytes: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if bytes.len() < HEADER {
        return Err(FrameError::Torn);
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let end = HEADER.checked_add(len).ok_or(FrameError::Damaged)?;
    let payload = bytes.get(HEADER..end).ok_or(FrameError::Torn)?;
    if crc32fast::hash(payload) != crc {
        return Err(FrameError::Damaged);
    }
    Ok((payload, end))
}

/// Reads the next frame from a stream whose total length is `remaining` bytes (so that a corrupt
/// length never sizes an allocation). `Ok(None)` at a clean end.
pub fn read(input: &mut impl Read, remaining: &mut u64) -> Result<Option<Vec<u8>>, FrameError> {
    if *remaining == 0 {
        return Ok(None);
    }
    if *remaining < HEADER as u64 {
        return Err(FrameError::Torn);
    }
    let mut header = [0u8; HEADER];
    input.read_exact(&mut header).map_err(io_error)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    *remaining -= HEADER as u64;
    if len > *remaining {
        return Err(FrameError::Torn);
    }
    let mut payload = vec![0u8; len as usize];
    input.read_exact(&mut payload).map_err(io_error)?;
    *remaining -= len;
    if crc32fast::hash(&payload) != crc {
        return Err(FrameError::Damaged);
    }
    Ok(Some(payload))
}

fn io_error(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Torn
    } else {
        FrameError::Io(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_told_from_tearing() {
        let mut out = Vec::new();
        put(&mut out, b"hello").unwrap();
        put(&mut out, b"").unwrap();
        let (p, n) = parse(&out).unwrap();
        assert_eq!((p, n), (&b"hello"[..], HEADER + 5));
        let (p, m) = parse(&out[n..]).unwrap();
        assert_eq!((p, n + m), (&b""[..], out.len()));

        // Every cut inside the first frame is a torn write.
        for cut in 0..n {
            assert_eq!(parse(&out[..cut]), Err(FrameError::Torn), "cut at {cut}");
        }
        // A flipped payload or checksum byte is damage.
        for at in 4..n {
            let mut bad = out.clone();
            bad[at] ^= 0x40;
            assert_eq!(
                parse(&bad).map(|_| ()),
                Err(FrameError::Damaged),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn a_huge_length_is_torn_not_an_allocation() {
        let mut bytes = vec![0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        bytes.extend_from_slice(b"short");
        let mut remaining = bytes.len() as u64;
        let mut input = &bytes[..];
        assert_eq!(read(&mut input, &mut remaining), Err(FrameError::Torn));
        assert_eq!(parse(&bytes).map(|_| ()), Err(FrameError::Torn));
    }

    #[test]
    fn streamed_frames_match_parsed_ones() {
        let mut out = Vec::new();
        put(&mut out, b"one").unwrap();
        put(&mut out, b"two").unwrap();
        let mut remaining = out.len() as u64;
        let mut input = &out[..];
        assert_eq!(read(&mut input, &mut remaining).unwrap().unwrap(), b"one");
        assert_eq!(read(&mut input, &mut remaining).unwrap().unwrap(), b"two");
        assert_eq!(read(&mut input, &mut remaining).unwrap(), None);
    }
}
