//! `--bolt-tls-watch`: reload when the certificate or key file changes.
//!
//! The directories holding the two files are watched, not the files: tools that replace a file by
//! renaming a new one over it, and Kubernetes secret mounts that swap a `..data` symlink, never
//! modify the watched inode, but they always change its directory. Every burst of events is
//! debounced, then the paths are re-read (re-resolving symlinks) and their contents hashed; only a
//! change of content triggers a reload. A half-written pair (new certificate, old key) fails
//! validation and is not served; the reload is tried again when the other file lands, because that
//! changes the contents once more.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use openssl::sha::Sha256;
use slog::{debug, info, warn, Logger};
use tokio::sync::Notify;

use super::{ReloadTrigger, TlsHandle, TlsSettings};

/// How long the files must be quiet before a reload is attempted: editors and deploy tools write
/// in several steps.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Starts watching; the watch lasts as long as the server's runtime.
pub fn spawn(settings: &TlsSettings, tls: TlsHandle, logger: Logger) -> Result<(), String> {
    let events = Arc::new(AtomicU64::new(0));
    let wake = Arc::new(Notify::new());
    let mut watcher = {
        let events = Arc::clone(&events);
        let wake = Arc::clone(&wake);
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Our own reads of the files show up as access events; only changes matter.
            if let Ok(event) = res {
                if !matches!(event.kind, EventKind::Access(_)) {
                    events.fetch_add(1, Ordering::SeqCst);
                    wake.notify_one();
                }
            }
        })
        .map_err(|e| format!("cannot start watching files: {e}"))?
    };
    let dirs: BTreeSet<PathBuf> = [&settings.cert, &settings.key]
        .iter()
        .map(|p| directory_of(p))
        .collect();
    for dir in &dirs {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {} (--bolt-tls-watch): {e}", dir.display()))?;
    }
    info!(logger, "watching the certificate and key for changes";
        "directories" => dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "));
    let paths = (settings.cert.clone(), settings.key.clone());
    // Taken now, not in the task: a change made before the task first runs must still count.
    let mut last = content_hash(&paths.0, &paths.1);
    tokio::spawn(async move {
        // The watcher stops when dropped; it lives in this task.
        let _watcher = watcher;
        loop {
            wake.notified().await;
            // Wait until a whole debounce period passes without events.
            loop {
                let before = events.load(Ordering::SeqCst);
                tokio::time::sleep(DEBOUNCE).await;
                if events.load(Ordering::SeqCst) == before {
                    break;
                }
            }
            let now = content_hash(&paths.0, &paths.1);
            if now == last {
                debug!(logger, "certificate files touched but unchanged; no reload");
                continue;
            }
            last = now;
            if let Err(e) = tls.reload(ReloadTrigger::FileWatch).await {
                // The manager logged the failure; this pair will be retried on the next change.
                warn!(logger, "reload after a file change failed; waiting for the next change"; "error" => %e);
            }
        }
    });
    Ok(())
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A hash of both files' contents (None for a file that cannot be read right now).
fn content_hash(cert: &Path, key: &Path) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    for p in [cert, key] {
        let bytes = std::fs::read(p).ok()?;
        h.update(&(bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    Some(h.finish())
}
