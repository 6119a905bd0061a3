//! WAL record and snapshot decoding, and recovery over a data directory built from the input.
//!
//! The first byte picks what is exercised; the rest is read through a small cursor:
//!
//! * `0`: frames (`frame::parse`, `frame::read`) and the record decoders on the raw bytes, so the
//!   fuzzer reaches the decoders without having to get a checksum right;
//! * `1`: `snapshot::read` on a file built from the input;
//! * `2`, `3`: `recovery::recover` over a data directory of up to two snapshots and two WAL
//!   segments built from the input.
//!
//! A file is a list of pieces, each either wrapped in a proper frame (so that checksums pass and
//! the decoders behind them are reached) or copied raw (torn and damaged frames); the magic is
//! prepended unless the input says otherwise. Every file goes into one data directory created
//! once per process (point `TMPDIR` at a tmpfs: recovery syncs after cutting a torn record); each
//! run deletes the previous run's files instead of re-creating directories.
#![no_main]

use std::cell::RefCell;
use std::fs;
use std::path::PathBuf;

use boltd::storage::record::{self, Change};
use boltd::storage::recovery::{self, Sink};
use boltd::storage::{frame, snapshot, wal};
use libfuzzer_sys::fuzz_target;

/// Takes bytes from the front of the input; past its end every read gives zeros or nothing.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// Mostly small numbers; `0xFF` escapes to a full `u64` (to reach the edges of the sequence
    /// space).
    fn seq(&mut self) -> u64 {
        match self.byte() {
            0xFF => {
                let mut b = [0u8; 8];
                let got = self.bytes(8);
                b[..got.len()].copy_from_slice(got);
                u64::from_le_bytes(b)
            }
            n => u64::from(n),
        }
    }

    /// A file: a head byte (bit 0 set: no magic; bits 1-4: how many pieces), then per piece a tag
    /// byte (bit 0 set: raw, else framed), a `u16` length and that many bytes.
    fn file(&mut self, magic: &[u8]) -> Vec<u8> {
        let head = self.byte();
        let mut out = Vec::new();
        if head & 1 == 0 {
            out.extend_from_slice(magic);
        }
        for _ in 0..(head >> 1) & 15 {
            let tag = self.byte();
            let len = usize::from(self.u16());
            let piece = self.bytes(len);
            if tag & 1 == 0 {
                frame::put(&mut out, piece).expect("a fuzz input is far below 4 GiB");
            } else {
                out.extend_from_slice(piece);
            }
        }
        out
    }
}

/// The data directory shared by every run, and the files the last run left in it.
struct Dir {
    _temp: tempfile::TempDir,
    root: PathBuf,
    written: Vec<PathBuf>,
}

impl Dir {
    fn new() -> Dir {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let root = temp.path().to_path_buf();
        fs::create_dir(root.join("wal")).expect("wal/");
        fs::create_dir(root.join("snapshots")).expect("snapshots/");
        Dir {
            _temp: temp,
            root,
            written: Vec::new(),
        }
    }

    /// Deletes what the previous run wrote.
    fn reset(&mut self) {
        for path in self.written.drain(..) {
            let _ = fs::remove_file(path);
        }
    }

    fn write(&mut self, path: PathBuf, bytes: &[u8]) {
        fs::write(&path, bytes).expect("writing a fuzz file");
        self.written.push(path);
    }
}

thread_local! {
    static DIR: RefCell<Dir> = RefCell::new(Dir::new());
}

/// Counts what recovery applies, as the engine's graph would hold it.
#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn apply(&mut self, _change: Change) {
        self.0 += 1;
    }

    fn clear(&mut self) {
        self.0 = 0;
    }
}

fn frames_and_decoders(bytes: &[u8]) {
    let _ = record::decode_record(bytes);
    let _ = record::decode_changes(bytes);

    let mut rest = bytes;
    while let Ok((payload, len)) = frame::parse(rest) {
        assert!(len >= frame::HEADER && len <= rest.len());
        let _ = record::decode_record(payload);
        rest = &rest[len..];
    }

    let mut input = bytes;
    let mut remaining = bytes.len() as u64;
    while let Ok(Some(payload)) = frame::read(&mut input, &mut remaining) {
        let _ = record::decode_changes(&payload);
    }
    assert_eq!(remaining, input.len() as u64, "remaining tracks the stream");
}

fn snapshot_file(c: &mut Cursor, dir: &mut Dir) {
    let bytes = c.file(snapshot::MAGIC);
    let path = dir.root.join("snapshots").join("fuzz.snap");
    dir.write(path.clone(), &bytes);
    let _ = snapshot::read(&path, &mut |_| {});
}

fn recovery(c: &mut Cursor, dir: &mut Dir) {
    let counts = c.byte();
    for i in 0..(counts & 3) % 3 {
        let seq = c.seq();
        let bytes = c.file(snapshot::MAGIC);
        let name = format!("snapshot-{seq:020}-{i}.snap");
        dir.write(dir.root.join("snapshots").join(name), &bytes);
    }
    for i in 0..(counts >> 2) % 3 {
        let first_seq = c.seq();
        let bytes = c.file(wal::MAGIC);
        let name = format!("wal-{first_seq:020}-{i}.log");
        dir.write(dir.root.join("wal").join(name), &bytes);
    }
    let mut sink = Count::default();
    if let Ok(found) = recovery::recover(&dir.root, &mut sink) {
        assert!(found.segments <= 2);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor(data);
    match c.byte() & 3 {
        0 => frames_and_decoders(c.0),
        mode => DIR.with(|dir| {
            let mut dir = dir.borrow_mut();
            dir.reset();
            if mode == 1 {
                snapshot_file(&mut c, &mut dir);
            } else {
                recovery(&mut c, &mut dir);
            }
        }),
    }
});
