//! The write-ahead log: segment files and the writer thread that appends and syncs them.
//!
//! Committing threads hand their record to one writer thread over a queue and wait for its
//! answer (when the writer is woken for it: [`super::doorbell`]). The writer takes everything
//! queued at once, appends it in one write and syncs once (group commit: sixteen sessions
//! committing together pay one `fdatasync`, not sixteen), then answers them all. With `--storage-wal-file-flush-every-n-tx=1` (the default) an answer means
//! the record is on disk; with N > 1 it means the record reached the operating system, and the
//! file is synced every N records, as in Memgraph. With N > 1 there is nothing to group for, so
//! the committing thread writes its record itself (a `pwrite` into the page cache, under the
//! store's commit lock) instead of handing it to the writer thread and waiting for the answer:
//! that hand-off, two thread switches, cost more than half of such a commit's throughput.
//!
//! A failed write or sync (disk full, I/O error) fails every record of the batch: the file is cut
//! back to its last good length, and the writer refuses records until the store has rolled its
//! in-memory state back to what is durable and says where to go on ([`Wal::resume`]). Records
//! queued meanwhile were validated against state that never reached the disk, so they fail too.
//!
//! Segments are named by the first sequence number they hold (and their creation time, so that a
//! segment restarted at the same number after a failure sorts after the one it replaces). A new
//! segment starts when the current one passes `--storage-wal-file-size-kib`, and at every start.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use slog::{error, info, Logger};
use tokio::sync::oneshot;

use super::doorbell::Queue;
use super::files;
use super::frame;
use super::group;
use super::record::{self, Header};

/// How much more of a segment is preallocated at a time: a large `--storage-wal-file-size-kib`
/// does not take its whole size at every start.
const PREALLOCATE_STEP: u64 = 64 << 20;

/// The first bytes of a segment of the first format: record frames one after another in a file
/// that grows with every write. Still read at recovery; no longer written.
pub const MAGIC_V1: &[u8; 12] = b"BOLTDWAL\x01\x00\x00\x00";

/// The first bytes of a segment of the current format: one group frame per write (see
/// [`super::group`]), in a file preallocated when every write is synced, zeros after the last
/// group.
pub const MAGIC: &[u8; 12] = b"BOLTDWAL\x02\x00\x00\x00";

/// How the log is written.
#[derive(Debug, Clone)]
pub struct WalSettings {
    pub dir: PathBuf,
    /// Sync after at most this many records; 1 syncs before every acknowledgement.
    pub flush_every: u64,
    /// Start a new segment past this size.
    pub segment_bytes: u64,
}

/// A segment file and the range of records it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentName {
    pub first_seq: u64,
    pub created: u128,
    pub path: PathBuf,
}

/// The segments in `dir`, oldest first.
pub fn segments(dir: &Path) -> std::io::Result<Vec<SegmentName>> {
    Ok(files::list(dir, "wal-", ".log")?
        .into_iter()
        .map(|f| SegmentName {
            first_seq: f.seq,
            created: f.created,
            path: f.path,
        })
        .collect())
}

/// A record that could not be logged; nothing of it is durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LogError {
    pub message: String,
    /// Every record up to this sequence number is logged (and acknowledged or about to be).
    pub durable_through: u64,
    /// Which failure of the writer this is (1 for the first), so that the store rolls back once
    /// per failure however many commits report it.
    pub failure: u64,
}

/// The answer to one appended record.
pub type Ticket = oneshot::Receiver<Result<(), LogError>>;

enum Job {
    Append {
        header: Header,
        changes: Vec<u8>,
        done: oneshot::Sender<Result<(), LogError>>,
    },
    /// After a failure: the store's state is back to `next_seq - 1`; accept records again.
    Resume { next_seq: u64 },
    /// Sync now (clean shutdown, before a snapshot is taken as covering everything).
    Sync(oneshot::Sender<Result<(), LogError>>),
    /// Delete segments whose records are all at or below this sequence number.
    Prune(u64),
}

/// A record waiting in the writer for its group's write: header, encoded changes, and who waits.
type Queued = (Header, Vec<u8>, oneshot::Sender<Result<(), LogError>>);

/// The handle committing threads use.
pub struct Wal {
    jobs: Arc<Queue<Job>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    writer: Arc<Mutex<Writer>>,
    /// Jobs run on the calling thread (`flush_every` > 1: no group commit to wait for).
    inline: bool,
}

impl Wal {
    /// Starts a new segment after record `last_seq` and the writer thread.
    pub fn start(settings: WalSettings, last_seq: u64, logger: Logger) -> Result<Wal, String> {
        fs::create_dir_all(&settings.dir).map_err(|e| {
            format!(
                "cannot create the WAL directory {}: {e}",
                settings.dir.display()
            )
        })?;
        let inline = settings.flush_every > 1;
        let mut writer = Writer {
            stopped: false,
            segment: None,
            good_len: 0,
            allocated: 0,
            last_seq,
            since_sync: 0,
            poisoned: false,
            failures: 0,
            settings,
            logger,
        };
        writer
            .open_segment()
            .map_err(|e| format!("cannot start the WAL: {e}"))?;
        let writer = Arc::new(Mutex::new(writer));
        let jobs = Queue::new();
        let (shared, queue) = (Arc::clone(&writer), Arc::clone(&jobs));
        let thread = std::thread::Builder::new()
            .name("boltd-wal".into())
            .spawn(move || Writer::run(&shared, &queue))
            .map_err(|e| format!("cannot start the WAL writer thread: {e}"))?;
        Ok(Wal {
            jobs,
            thread: Mutex::new(Some(thread)),
            writer,
            inline,
        })
    }

    /// Runs `job` here (inline mode) or hands it to the writer thread: at once unless it is a
    /// record queued by a Bolt worker (see [`super::doorbell`]). A job the stopped writer cannot
    /// take is dropped, and its ticket reads as "writer stopped".
    fn send(&self, job: Job) {
        if self.inline {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            if !writer.stopped {
                writer.process(vec![job]);
            }
            return;
        }
        let wake = !matches!(job, Job::Append { .. });
        self.jobs.push(job, wake);
    }

    /// Wakes the writer for the records queued so far (a committer that waited long enough, or
    /// one about to block its thread on the answer).
    pub fn ring(&self) {
        self.jobs.ring_now();
    }

    /// Queues a record; the ticket answers once it is logged. Records must be appended in
    /// sequence order, which the store guarantees by appending under its commit lock.
    pub fn append(&self, header: Header, changes: Vec<u8>) -> Ticket {
        let (done, ticket) = oneshot::channel();
        let job = Job::Append {
            header,
            changes,
            done,
        };
        self.send(job);
        ticket
    }

    /// Accepts records again after a failure, continuing at `next_seq`.
    pub fn resume(&self, next_seq: u64) {
        self.send(Job::Resume { next_seq });
    }

    /// Syncs everything written so far.
    pub fn sync(&self) -> Ticket {
        let (done, ticket) = oneshot::channel();
        self.send(Job::Sync(done));
        ticket
    }

    /// Deletes the segments a snapshot at `seq` made unnecessary.
    pub fn prune(&self, seq: u64) {
        self.send(Job::Prune(seq));
    }

    /// Syncs and stops the writer (a clean shutdown).
    pub fn close(&self) {
        // With the queue closed, the writer finishes what is queued, syncs and returns.
        self.jobs.close();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.close();
    }
}

/// The open segment.
struct Segment {
    file: File,
    path: PathBuf,
}

/// The log's state: the writer thread's, and shared with committing threads in inline mode.
struct Writer {
    /// The writer synced and closed the log (a clean shutdown); nothing more is written.
    stopped: bool,
    segment: Option<Segment>,
    /// Bytes of the segment known to be written in full.
    good_len: u64,
    /// Bytes of the segment preallocated (asked for, at least).
    allocated: u64,
    last_seq: u64,
    since_sync: u64,
    /// A write failed; records are refused until `Resume`.
    poisoned: bool,
    /// Failures so far.
    failures: u64,
    settings: WalSettings,
    logger: Logger,
}

impl Writer {
    /// The writer thread: takes everything queued at once, until the queue closes.
    fn run(writer: &Mutex<Writer>, jobs: &Queue<Job>) {
        let lock = || writer.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(batch) = jobs.take(4096) {
            lock().process(batch);
        }
        lock().stop();
    }

    /// Syncs, gives back unused preallocation, and refuses everything after.
    fn stop(&mut self) {
        self.stopped = true;
        if let Some(segment) = &self.segment {
            // A clean stop gives back the preallocated space the segment did not use.
            let _ = segment.file.sync_data();
            let _ = segment
                .file
                .set_len(self.good_len)
                .and_then(|()| segment.file.sync_all());
        }
    }

    fn process(&mut self, batch: Vec<Job>) {
        let mut group: Vec<Queued> = Vec::new();
        for job in batch {
            match job {
                Job::Append {
                    header,
                    changes,
                    done,
                } => {
                    if self.poisoned {
                        let _ = done.send(Err(self.refusal()));
                    } else {
                        group.push((header, changes, done));
                    }
                }
                Job::Resume { next_seq } => {
                    self.write_group(std::mem::take(&mut group), false);
                    if self.poisoned {
                        self.poisoned = false;
                        self.last_seq = next_seq.saturating_sub(1);
                    }
                }
                Job::Sync(done) => {
                    self.write_group(std::mem::take(&mut group), true);
                    let _ = done.send(self.sync_now());
                }
                Job::Prune(seq) => {
                    self.write_group(std::mem::take(&mut group), false);
                    self.prune(seq);
                }
            }
        }
        self.write_group(group, false);
    }

    fn refusal(&self) -> LogError {
        LogError {
            message: "the WAL could not be written (see the previous error); the transaction \
                      was rolled back"
                .into(),
            durable_through: self.last_seq,
            failure: self.failures,
        }
    }

    /// Appends the group's records in one write, syncs as the settings say, and answers them.
    fn write_group(&mut self, group: Vec<Queued>, syncing_anyway: bool) {
        if group.is_empty() {
            return;
        }
        let outcome = self.write_records(&group, syncing_anyway);
        match outcome {
            Ok(()) => {
                for (_, _, done) in group {
                    let _ = done.send(Ok(()));
                }
                if self.good_len >= self.settings.segment_bytes {
                    if let Err(e) = self.roll() {
                        error!(self.logger, "cannot start a new WAL segment; the next commit retries";
                            "error" => %e);
                    }
                }
            }
            Err(message) => {
                self.failures += 1;
                let failure = LogError {
                    message,
                    durable_through: self.last_seq,
                    failure: self.failures,
                };
                error!(self.logger, "WAL write failed; transactions rolled back until it works again";
                    "error" => %failure.message, "durable_through" => failure.durable_through);
                self.poisoned = true;
                for (_, _, done) in group {
                    let _ = done.send(Err(failure.clone()));
                }
            }
        }
    }

    fn write_records(&mut self, group: &[Queued], syncing_anyway: bool) -> Result<(), String> {
        // Each record is written in three pieces (frame header, record header, changes) so that
        // a large transaction's changes are never copied: a bulk load's record can be hundreds of
        // megabytes. The buffer gathers the small pieces; large ones go straight to the file.
        let mut pieces: Vec<([u8; frame::HEADER], Vec<u8>, &[u8])> =
            Vec::with_capacity(group.len());
        let mut seq = self.last_seq;
        for (header, changes, _) in group {
            if header.seq != seq + 1 {
                return Err(format!(
                    "internal error: WAL record {} follows {seq}",
                    header.seq
                ));
            }
            seq = header.seq;
            let head = record::encode(header).map_err(|e| e.to_string())?;
            let framing = group::record_framing(&head, changes)?;
            pieces.push((framing, head, changes));
        }
        let frames = group::split(&pieces);
        if self.segment.is_none() {
            self.open_segment()?;
        }
        self.allocate(self.good_len + frames.iter().map(|f| f.bytes).sum::<u64>());
        let Some(segment) = self.segment.as_mut() else {
            return Err("no WAL segment is open".into());
        };
        let path = segment.path.clone();
        let mut at = self.good_len;
        let mut written = Ok(());
        for (i, frame) in frames.iter().enumerate() {
            // A buffer no larger than the frame: most are one small commit.
            let mut out = std::io::BufWriter::with_capacity(
                frame.bytes.min(256 * 1024) as usize,
                group::At {
                    file: &segment.file,
                    offset: at,
                },
            );
            written = out.write_all(&frame.header).and_then(|()| {
                pieces[frame.records.clone()]
                    .iter()
                    .try_for_each(|(framing, head, changes)| {
                        out.write_all(framing)?;
                        out.write_all(head)?;
                        out.write_all(changes)
                    })
            });
            written = written.and_then(|()| out.flush());
            drop(out);
            at += frame.bytes;
            // A group too large for one frame is several; each but the last is synced before the
            // next is written, so that at recovery a whole frame after a torn one always means
            // the torn one was synced (damage, not a crash).
            if i + 1 < frames.len() {
                written = written.and_then(|()| segment.file.sync_data());
            }
            if written.is_err() {
                break;
            }
        }
        let total = at - self.good_len;
        let written = written.and_then(|()| {
            let due = self.since_sync + group.len() as u64 >= self.settings.flush_every;
            if due || syncing_anyway {
                segment.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.good_len += total;
                self.last_seq = seq;
                self.since_sync += group.len() as u64;
                if self.since_sync >= self.settings.flush_every || syncing_anyway {
                    self.since_sync = 0;
                }
                Ok(())
            }
            Err(e) => {
                // Cut the partial write off, so that no record the clients were told failed can
                // reappear at recovery. If even that fails, the segment is abandoned: the next
                // write opens a new one, whose first sequence number supersedes this tail.
                let cut = segment
                    .file
                    .set_len(self.good_len)
                    .and_then(|()| segment.file.sync_all());
                if cut.is_err() {
                    self.segment = None;
                }
                self.allocated = self.good_len;
                Err(format!(
                    "cannot write the WAL {}: {e}. Free space on the disk of --data-directory \
                     (or fix the I/O error); writes work again once it can be written",
                    path.display()
                ))
            }
        }
    }

    fn sync_now(&mut self) -> Result<(), LogError> {
        if let Some(segment) = &self.segment {
            segment.file.sync_data().map_err(|e| LogError {
                message: format!("cannot sync the WAL {}: {e}", segment.path.display()),
                durable_through: self.last_seq,
                failure: self.failures,
            })?;
        }
        self.since_sync = 0;
        Ok(())
    }

    fn roll(&mut self) -> Result<(), String> {
        if let Some(segment) = self.segment.take() {
            segment
                .file
                .sync_data()
                .map_err(|e| format!("cannot sync {}: {e}", segment.path.display()))?;
        }
        self.open_segment()
    }

    /// Creates the segment for the records after `last_seq`: header, file sync, directory sync.
    fn open_segment(&mut self) -> Result<(), String> {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = self
            .settings
            .dir
            .join(format!("wal-{:020}-{created}.log", self.last_seq + 1));
        let make = || -> std::io::Result<File> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            file.write_all(MAGIC)?;
            file.sync_all()?;
            File::open(&self.settings.dir)?.sync_all()?;
            Ok(file)
        };
        match make() {
            Ok(file) => {
                self.segment = Some(Segment { file, path });
                self.good_len = MAGIC.len() as u64;
                self.allocated = self.good_len;
                self.allocate(self.good_len + 1);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(format!(
                    "cannot create the WAL segment {}: {e}",
                    path.display()
                ))
            }
        }
    }

    /// Makes sure the segment's first `end` bytes are allocated, growing the allocation in steps
    /// of [`PREALLOCATE_STEP`] up to the segment size.
    ///
    /// Synced writes into allocated space cost the file system less than appends, which change
    /// the file's size (ext4 here: 107-122 us per fdatasync against 155-167). Only when every
    /// write is synced: unsynced writes into allocated space could reach the disk out of order,
    /// a later group without an earlier one, which recovery would read as damage.
    fn allocate(&mut self, end: u64) {
        if self.settings.flush_every != 1 || end <= self.allocated {
            return;
        }
        let Some(segment) = &self.segment else {
            return;
        };
        let target = (self.allocated + PREALLOCATE_STEP)
            .min(self.settings.segment_bytes)
            .max(end);
        group::preallocate(&segment.file, target);
        // Also after a failure: the next step is tried only once writes get there.
        self.allocated = target;
    }

    fn prune(&mut self, covered: u64) {
        let Ok(all) = segments(&self.settings.dir) else {
            return;
        };
        let current = self.segment.as_ref().map(|s| s.path.clone());
        for pair in all.windows(2) {
            let (segment, next) = (&pair[0], &pair[1]);
            let last_in_segment = next.first_seq.saturating_sub(1);
            if last_in_segment <= covered && Some(&segment.path) != current.as_ref() {
                match fs::remove_file(&segment.path) {
                    Ok(()) => info!(self.logger, "WAL segment covered by a snapshot deleted";
                        "file" => %segment.path.display()),
                    Err(e) => error!(self.logger, "cannot delete an old WAL segment";
                        "file" => %segment.path.display(), "error" => %e),
                }
            }
        }
    }
}
