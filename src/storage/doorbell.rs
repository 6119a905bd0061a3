//! When the WAL writer thread is woken for the records queued to it.
//!
//! Waking the writer the moment a record is queued is what starves group commit when the server
//! shares a core with its writer: the woken writer preempts the Bolt worker, takes the single
//! record there is, and syncs it, while the other sessions' commits wait in the worker for their
//! turn. Measured on one core (16 sessions of `CREATE`, server pinned to CPU 0), that meant one
//! `fdatasync` per commit and a writer spending 38 µs of the core per sync.
//!
//! So a record queued by a Bolt worker thread does not ring: the worker rings when it runs out of
//! tasks (tokio's `on_thread_park`, [`worker_parks`]), having queued everything its ready sessions
//! had to commit, which the writer then logs with one sync. A committer that waits longer than
//! [`RING_AFTER`] rings itself ([`crate::engine::store::Durable::wait`]), so a worker that never
//! idles (a saturated server) delays a commit by at most that. Every other thread (the blocking
//! pool, snapshots, tests) rings at once, as does every job that is not a record.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a committer waits for a ring by an idle worker before it rings itself.
pub const RING_AFTER: Duration = Duration::from_millis(1);

thread_local! {
    /// This thread is a Bolt worker whose parking rings the writers ([`worker_parks`] ran here).
    static DEFERS: Cell<bool> = const { Cell::new(false) };
}

/// Queues holding records that wait for a worker to park.
static DEFERRED: Mutex<Vec<Arc<dyn Ring>>> = Mutex::new(Vec::new());
/// Whether `DEFERRED` may be non-empty: the park hook's only cost when nothing waits is one load.
static ANY_DEFERRED: AtomicBool = AtomicBool::new(false);

/// The runtime's `on_thread_park` hook: marks this thread as one whose records may wait for it,
/// and rings every writer with records waiting.
pub fn worker_parks() {
    DEFERS.with(|d| d.set(true));
    if ANY_DEFERRED.load(Ordering::SeqCst) && ANY_DEFERRED.swap(false, Ordering::SeqCst) {
        let waiting = std::mem::take(&mut *lock(&DEFERRED));
        for queue in waiting {
            queue.ring();
        }
    }
}

/// Whether a record queued on this thread waits for the thread to park.
pub fn defers_here() -> bool {
    DEFERS.with(Cell::get)
}

/// Something [`worker_parks`] rings.
trait Ring: Send + Sync {
    fn ring(&self);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct State<T> {
    jobs: Vec<T>,
    /// Someone asked for the queued jobs to be taken.
    rung: bool,
    closed: bool,
}

/// The writer's queue of jobs.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    bell: Condvar,
    /// Jobs wait for a worker to park (the queue is in `DEFERRED`).
    deferred: AtomicBool,
}

impl<T: Send + 'static> Queue<T> {
    pub fn new() -> Arc<Self> {
        Arc::new(Queue {
            state: Mutex::new(State {
                jobs: Vec::new(),
                rung: false,
                closed: false,
            }),
            bell: Condvar::new(),
            deferred: AtomicBool::new(false),
        })
    }

    /// Queues `job`; `wake` rings at once, otherwise a Bolt worker's thread leaves the ringing
    /// to its parking. False (the job is dropped) once the queue is closed.
    pub fn push(self: &Arc<Self>, job: T, wake: bool) -> bool {
        let defer = !wake && defers_here();
        {
            let mut state = lock(&self.state);
            if state.closed {
                return false;
            }
            state.jobs.push(job);
            if !defer {
                state.rung = true;
                self.bell.notify_one();
                return true;
            }
        }
        if !self.deferred.swap(true, Ordering::SeqCst) {
            lock(&DEFERRED).push(Arc::clone(self) as Arc<dyn Ring>);
            ANY_DEFERRED.store(true, Ordering::SeqCst);
        }
        true
    }

    /// Asks for the queued jobs to be taken now.
    pub fn ring_now(&self) {
        lock(&self.state).rung = true;
        self.bell.notify_one();
    }

    /// No more jobs: [`Queue::take`] hands out what is left, then `None`.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.bell.notify_one();
    }

    /// Waits until jobs are queued and rung for (or the queue is closed), and takes at most `max`.
    pub fn take(&self, max: usize) -> Option<Vec<T>> {
        let mut state = lock(&self.state);
        loop {
            if !state.jobs.is_empty() && (state.rung || state.closed) {
                let n = state.jobs.len().min(max);
                let rest = state.jobs.split_off(n);
                let taken = std::mem::replace(&mut state.jobs, rest);
                state.rung = !state.jobs.is_empty();
                return Some(taken);
            }
            if state.closed {
                return None;
            }
            state = self.bell.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T: Send + 'static> Ring for Queue<T> {
    fn ring(&self) {
        self.deferred.store(false, Ordering::SeqCst);
        self.ring_now();
    }
}

/// Tests that park, or that expect nothing to ring, take this: a park in one test rings every
/// deferred queue of the process, another test's too.
#[cfg(test)]
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    lock(&SERIAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A taker on its own thread, reporting each batch it takes.
    fn taker(queue: &Arc<Queue<u32>>) -> mpsc::Receiver<Vec<u32>> {
        let (tx, rx) = mpsc::channel();
        let queue = Arc::clone(queue);
        std::thread::spawn(move || {
            while let Some(batch) = queue.take(3) {
                if tx.send(batch).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Queues `job` from a thread that defers, as a Bolt worker's does, and that never parks.
    fn push_as_worker(queue: &Arc<Queue<u32>>, job: u32) {
        let queue = Arc::clone(queue);
        std::thread::spawn(move || {
            DEFERS.with(|d| d.set(true));
            assert!(queue.push(job, false));
        })
        .join()
        .unwrap();
    }

    const SOON: Duration = Duration::from_secs(5);
    const A_WHILE: Duration = Duration::from_millis(100);

    #[test]
    fn jobs_from_other_threads_are_taken_at_once_in_order_and_in_bounded_batches() {
        let queue = Queue::new();
        for i in 0..5 {
            assert!(queue.push(i, false));
        }
        let batches = taker(&queue);
        assert_eq!(batches.recv_timeout(SOON).unwrap(), vec![0, 1, 2]);
        assert_eq!(batches.recv_timeout(SOON).unwrap(), vec![3, 4]);
        queue.close();
        assert!(!queue.push(9, true), "a closed queue takes nothing");
    }

    #[test]
    fn a_workers_jobs_wait_for_it_to_park() {
        let _serial = serial();
        let queue = Queue::new();
        let batches = taker(&queue);
        let pusher = Arc::clone(&queue);
        std::thread::spawn(move || {
            // This thread plays a Bolt worker: it parked once before, so it defers.
            worker_parks();
            assert!(defers_here());
            pusher.push(1, false);
            pusher.push(2, false);
            std::thread::sleep(A_WHILE);
            worker_parks();
        });
        let first = batches.recv_timeout(SOON).unwrap();
        assert_eq!(
            first,
            vec![1, 2],
            "both records went in one batch, after the park"
        );
    }

    #[test]
    fn a_deferred_job_is_taken_when_its_waiter_rings() {
        let _serial = serial();
        let queue = Queue::new();
        let batches = taker(&queue);
        push_as_worker(&queue, 7);
        assert!(
            batches.recv_timeout(A_WHILE).is_err(),
            "nothing rang: the job waits"
        );
        queue.ring_now();
        assert_eq!(batches.recv_timeout(SOON).unwrap(), vec![7]);
    }

    #[test]
    fn closing_hands_out_what_is_left() {
        let queue = Queue::new();
        push_as_worker(&queue, 1);
        queue.close();
        assert_eq!(queue.take(10), Some(vec![1]));
        assert_eq!(queue.take(10), None);
    }
}
