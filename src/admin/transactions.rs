//! The open transactions and sessions of the server, for `SHOW TRANSACTIONS`,
//! `TERMINATE TRANSACTIONS` and `SHOW ACTIVE USERS INFO`.
//!
//! Every transaction the dispatcher opens (explicit, or around one auto-commit query) is wrapped
//! in a [`Tracked`] transaction that is registered while it lives: its id, its user, the queries
//! it ran and when it started. Terminating one sets the abort flag its engine transaction was
//! given; the running query sees it at its next budget check, and every later statement of the
//! transaction fails until it is rolled back. The registry never stops anything itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::cypher::ast::Query;
use crate::engine::{EngineError, Params, QueryResult, Transaction};

/// One open transaction, as `SHOW TRANSACTIONS` lists it.
pub struct Entry {
    pub id: u64,
    /// The user who opened it (`None`: anonymous, while no users exist).
    pub user: Option<String>,
    /// The texts of the queries it has run, oldest first (Memgraph lists them all).
    pub queries: Mutex<Vec<String>>,
    /// Wall-clock start, for `start_time`; `started` for `elapsed_ms`.
    pub start_unix_micros: i64,
    pub started: Instant,
    /// Shared with the engine transaction: set to stop it.
    pub abort: Arc<AtomicBool>,
}

/// One connection, as `SHOW ACTIVE USERS INFO` lists it.
pub struct SessionInfo {
    pub user: Mutex<Option<String>>,
    pub uuid: String,
    pub login_unix_micros: i64,
}

/// The server's open transactions and sessions. A std `Mutex` suffices: each use is a few map
/// operations and never awaits.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Entry>>>,
    sessions: Mutex<BTreeMap<String, Arc<SessionInfo>>>,
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Registry {
    /// Registers `tx`, giving its engine transaction the abort flag. The entry is removed when
    /// the returned transaction commits, rolls back or is dropped.
    pub fn track(
        self: &Arc<Self>,
        mut tx: Box<dyn Transaction>,
        user: Option<String>,
    ) -> (Box<dyn Transaction>, Arc<Entry>) {
        // Ids start at 1 so that no id is 0, which scripts sometimes treat as "none".
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let abort = Arc::new(AtomicBool::new(false));
        tx.set_abort(Arc::clone(&abort));
        let entry = Arc::new(Entry {
            id,
            user,
            queries: Mutex::new(Vec::new()),
            start_unix_micros: unix_micros(),
            started: Instant::now(),
            abort,
        });
        lock(&self.open).insert(id, Arc::clone(&entry));
        let tracked = Tracked {
            inner: Some(tx),
            registration: Registration {
                registry: Arc::clone(self),
                id,
            },
        };
        (Box::new(tracked), entry)
    }

    /// The open transactions, oldest first.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        lock(&self.open).values().cloned().collect()
    }

    /// Sets the abort flag of transaction `id` when `may` allows it; whether it was set.
    pub fn terminate(&self, id: u64, may: impl Fn(&Entry) -> bool) -> bool {
        match lock(&self.open).get(&id) {
            Some(entry) if may(entry) => {
                entry.abort.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Registers a connection; it is listed until the returned guard drops.
    pub fn session(self: &Arc<Self>, uuid: String) -> SessionGuard {
        let info = Arc::new(SessionInfo {
            user: Mutex::new(None),
            uuid: uuid.clone(),
            login_unix_micros: unix_micros(),
        });
        lock(&self.sessions).insert(uuid.clone(), Arc::clone(&info));
        SessionGuard {
            registry: Arc::clone(self),
            info,
        }
    }

    /// The connections, by session id.
    pub fn sessions(&self) -> Vec<Arc<SessionInfo>> {
        lock(&self.sessions).values().cloned().collect()
    }
}

/// A poisoned lock only means another thread panicked mid-update of a map of plain values;
/// the map is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps a connection listed in `SHOW ACTIVE USERS INFO`.
pub struct SessionGuard {
    registry: Arc<Registry>,
    pub info: Arc<SessionInfo>,
}

impl SessionGuard {
    pub fn set_user(&self, user: Option<String>) {
        *lock(&self.info.user) = user;
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        lock(&self.registry.sessions).remove(&self.info.uuid);
    }
}

struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.registry.open).remove(&self.id);
    }
}

/// A transaction listed in the registry while it lives.
struct Tracked {
    inner: Option<Box<dyn Transaction>>,
    registration: Registration,
}

impl Tracked {
    fn inner(&mut self) -> Result<&mut Box<dyn Transaction>, EngineError> {
        self.inner
            .as_mut()
            .ok_or_else(|| EngineError::database("the transaction is no longer usable"))
    }
}

#[async_trait]
impl Transaction for Tracked {
    async fn run(&mut self, query: Arc<Query>, params: Params) -> Result<QueryResult, EngineError> {
        self.inner()?.run(query, params).await
    }

    async fn explain(
        &mut self,
        query: Arc<Query>,
        params: Params,
        profile: bool,
    ) -> Result<QueryResult, EngineError> {
        self.inner()?.explain(query, params, profile).await
    }

    async fn commit(mut self: Box<Self>) -> Result<(), EngineError> {
        let _registration = &self.registration;
        match self.inner.take() {
            Some(tx) => tx.commit().await,
            None => Err(EngineError::database("the transaction is no longer usable")),
        }
    }

    async fn rollback(mut self: Box<Self>) {
        if let Some(tx) = self.inner.take() {
            tx.rollback().await;
        }
    }

    fn set_abort(&mut self, flag: Arc<AtomicBool>) {
        if let Some(tx) = self.inner.as_mut() {
            tx.set_abort(flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MemoryEngine, QueryEngine};

    #[tokio::test]
    async fn transactions_are_listed_while_open_and_terminated_by_flag() {
        let registry = Arc::new(Registry::default());
        let engine = MemoryEngine::new();
        let (tx, entry) = registry.track(engine.begin().await.unwrap(), Some("ann".into()));
        let (other, _) = registry.track(engine.begin().await.unwrap(), None);
        assert_eq!(registry.list().len(), 2);
        assert!(!registry.terminate(entry.id, |e| e.user.is_none()));
        assert!(!entry.abort.load(Ordering::Relaxed));
        assert!(registry.terminate(entry.id, |_| true));
        assert!(entry.abort.load(Ordering::Relaxed));
        assert!(!registry.terminate(999, |_| true));
        tx.rollback().await;
        other.commit().await.unwrap();
        assert!(registry.list().is_empty());
        let guard = registry.session("s1".into());
        guard.set_user(Some("bob".into()));
        assert_eq!(registry.sessions().len(), 1);
        drop(guard);
        assert!(registry.sessions().is_empty());
    }
}
