//! The naming rule shared by WAL segments and snapshots: `<prefix><seq>-<created><suffix>`.
//!
//! The sequence number says where a file stands in the log; the creation time (nanoseconds)
//! orders two files with the same number, newest last. Files that do not follow the rule are not
//! ours and are ignored.

use std::fs;
use std::path::{Path, PathBuf};

/// One file that follows the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    pub seq: u64,
    pub created: u128,
    pub path: PathBuf,
    pub size: u64,
}

/// The files in `dir` named `<prefix><seq>-<created><suffix>`, by `(seq, created)`. A missing
/// directory holds none.
pub fn list(dir: &Path, prefix: &str, suffix: &str) -> std::io::Result<Vec<Numbered>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name
            .strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        let Some((seq, created)) = stem.split_once('-') else {
            continue;
        };
        if let (Ok(seq), Ok(created)) = (seq.parse(), created.parse()) {
            out.push(Numbered {
                seq,
                created,
                path: entry.path(),
                size: entry.metadata().map_or(0, |m| m.len()),
            });
        }
    }
    out.sort_by_key(|f| (f.seq, f.created));
    Ok(out)
}
