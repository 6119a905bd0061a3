//! Durability: the write-ahead log, snapshots, recovery and the data-directory lock.
//!
//! Layout, as Memgraph's: `<data-directory>/wal/` holds the log segments, `snapshots/` the
//! snapshots, `boltd.lock` the lock (and `auth.json` the users, kept by [`crate::auth`]).
//!
//! * [`files`]: how WAL segments and snapshots are named and listed.
//! * [`frame`]: checksummed, length-prefixed frames, the unit of every file.
//! * [`group`]: the WAL's group frames (one per write) and how recovery tells a torn write from
//!   damage in preallocated segments.
//! * [`record`]: what is logged (the final image of each record a transaction touched, the schema)
//!   and its encoding.
//! * [`wal`]: segment files and the writer thread (group commit, failures).
//! * [`doorbell`]: when the writer thread is woken (records queued by a Bolt worker wait for it
//!   to idle, so that they are synced together).
//! * [`snapshot`]: writing, reading, listing and pruning snapshots.
//! * [`recovery`]: newest valid snapshot plus the WAL after it, and what to do about damage.
//! * [`lock`]: one server per data directory.
//!
//! The guarantee: with the defaults, a commit is acknowledged only after its record is synced to
//! disk; readers never see a commit that is not logged. The storage layer knows nothing of the
//! graph's in-memory form: the engine hands it images ([`record::ChangeRef`]) and takes back
//! changes ([`record::Change`]) through a [`recovery::Sink`].

pub mod doorbell;
pub mod files;
pub mod frame;
pub mod group;
pub mod lock;
pub mod record;
pub mod recovery;
pub mod snapshot;
pub mod wal;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slog::{info, warn, Logger};

use lock::DirLock;
use record::{ChangeRef, Header, Schema};
use recovery::{Recovered, Sink};
use snapshot::{SnapshotHeader, SnapshotInfo, Written};
use wal::{Ticket, Wal, WalSettings};

/// How the graph is kept (Memgraph's `--storage-*` and `--data-recovery-on-startup` flags).
#[derive(Debug, Clone)]
pub struct Durability {
    pub data_dir: PathBuf,
    pub wal_enabled: bool,
    pub flush_every: u64,
    pub segment_bytes: u64,
    /// `None`: no periodic snapshots.
    pub snapshot_interval: Option<Duration>,
    pub snapshot_on_exit: bool,
    pub retention: usize,
    pub recover: bool,
}

/// The open data directory.
pub struct Storage {
    settings: Durability,
    _lock: DirLock,
    wal: Option<Wal>,
    /// One snapshot at a time: a periodic one and `CREATE SNAPSHOT` must not interleave their
    /// pruning.
    snapshotting: Mutex<()>,
    logger: Logger,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("data_dir", &self.settings.data_dir)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Locks the data directory, recovers it into `sink` (unless recovery is off), and starts the
    /// WAL after the recovered state.
    pub fn open(
        settings: Durability,
        sink: &mut dyn Sink,
        logger: Logger,
    ) -> Result<(Storage, Recovered), String> {
        let dir = &settings.data_dir;
        fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the data directory {} (--data-directory): {e}",
                dir.display()
            )
        })?;
        let lock = DirLock::acquire(dir)?;
        let recovered = if settings.recover {
            let recovered = recovery::recover(dir, sink)?;
            for reason in &recovered.skipped_snapshots {
                warn!(logger, "damaged snapshot passed over; recovering from an older one"; "reason" => reason);
            }
            if let Some((file, offset)) = &recovered.cut {
                warn!(logger, "torn record at the end of the WAL cut off (a write a crash interrupted; it was never acknowledged)";
                    "file" => %file.display(), "offset" => offset);
            }
            info!(logger, "recovered the graph";
                "snapshot" => recovered.snapshot.as_ref().map_or("none".into(), |p| p.display().to_string()),
                "wal_records" => recovered.records, "wal_segments" => recovered.segments,
                "last_record" => recovered.seq, "seconds" => recovered.seconds);
            recovered
        } else {
            set_aside(dir, &logger)?;
            Recovered::default()
        };
        let wal = if settings.wal_enabled {
            Some(Wal::start(
                WalSettings {
                    dir: dir.join("wal"),
                    flush_every: settings.flush_every.max(1),
                    segment_bytes: settings.segment_bytes.max(4096),
                },
                recovered.seq,
                logger.clone(),
            )?)
        } else {
            None
        };
        Ok((
            Storage {
                settings,
                _lock: lock,
                wal,
                snapshotting: Mutex::new(()),
                logger,
            },
            recovered,
        ))
    }

    pub fn settings(&self) -> &Durability {
        &self.settings
    }

    /// Whether commits are logged.
    pub fn logs(&self) -> bool {
        self.wal.is_some()
    }

    /// Queues a commit's record; `None` when the WAL is off.
    pub fn log(&self, header: Header, changes: Vec<u8>) -> Option<Ticket> {
        self.wal.as_ref().map(|w| w.append(header, changes))
    }

    /// Wakes the WAL writer for the records queued so far.
    pub fn ring_wal(&self) {
        if let Some(wal) = &self.wal {
            wal.ring();
        }
    }

    /// After a failed write, once the in-memory state is back to what is durable.
    pub fn resume(&self, next_seq: u64) {
        if let Some(wal) = &self.wal {
            wal.resume(next_seq);
        }
    }

    /// Writes a snapshot, keeps the newest `--storage-snapshot-retention-count`, and deletes the
    /// WAL segments the oldest kept one makes unnecessary.
    pub fn write_snapshot<'a>(
        &self,
        header: SnapshotHeader,
        schema: &Schema,
        nodes: impl Iterator<Item = ChangeRef<'a>>,
        rels: impl Iterator<Item = ChangeRef<'a>>,
    ) -> Result<Written, String> {
        let _one = self.snapshotting.lock().unwrap_or_else(|e| e.into_inner());
        let dir = self.snapshot_dir();
        let written = snapshot::write(&dir, header, schema, nodes, rels)?;
        info!(self.logger, "snapshot written"; "file" => %written.info.path.display(),
            "covers_record" => header.seq, "nodes" => header.nodes, "relationships" => header.rels,
            "bytes" => written.info.size, "seconds" => written.seconds);
        match snapshot::prune(&dir, self.settings.retention) {
            Ok(Some(oldest)) => {
                if let Some(wal) = &self.wal {
                    wal.prune(oldest);
                }
            }
            Ok(None) => {}
            Err(e) => warn!(self.logger, "cannot delete old snapshots"; "error" => %e),
        }
        Ok(written)
    }

    /// The snapshots on disk, oldest first.
    pub fn snapshots(&self) -> Vec<SnapshotInfo> {
        snapshot::list(&self.snapshot_dir()).unwrap_or_default()
    }

    fn snapshot_dir(&self) -> PathBuf {
        self.settings.data_dir.join("snapshots")
    }

    /// Bytes used by the WAL and the snapshots.
    pub fn disk_usage(&self) -> u64 {
        let size = |dir: &Path| -> u64 {
            fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
        };
        size(&self.settings.data_dir.join("wal")) + size(&self.snapshot_dir())
    }

    /// Syncs and stops the WAL writer (clean shutdown).
    pub fn close(&self) {
        if let Some(wal) = &self.wal {
            wal.close();
        }
    }
}

/// With recovery off the server starts empty; the old files are moved aside rather than mixed
/// with the new log (their sequence numbers would collide) or deleted.
fn set_aside(dir: &Path, logger: &Logger) -> Result<(), String> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for sub in ["wal", "snapshots"] {
        let from = dir.join(sub);
        let non_empty = fs::read_dir(&from).is_ok_and(|mut e| e.next().is_some());
        if non_empty {
            let to = dir.join(format!(".{sub}-set-aside-{stamp}"));
            fs::rename(&from, &to)
                .map_err(|e| format!("cannot move {} aside: {e}", from.display()))?;
            warn!(logger, "--data-recovery-on-startup=false: starting with an empty graph; the old files were moved aside";
                "from" => %from.display(), "to" => %to.display());
        }
    }
    Ok(())
}
