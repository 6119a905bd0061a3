//! `load-csv`: writes a `--rows`-row CSV file (`id,name`; gzip-compressed with `--gzip`), loads
//! it into nodes with one `LOAD CSV ... CREATE` over Bolt, and reports rows per second and, given
//! `--server-pid`, the server's resident memory before, at its peak during the load (sampled
//! every 20 ms, and the kernel's high-water mark) and after.
//!
//! `--unwind-baseline` makes the same nodes with `UNWIND range(...)` instead of a file: the
//! difference between the two peaks is what LOAD CSV itself holds, which must not grow with the
//! file. The server must run on this machine (it reads the file) and be fresh for each run.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::value::{Map, Value};

use super::connect::{self, connector, session};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

/// A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Writes the CSV file and returns its size in bytes.
fn write_csv(path: &std::path::Path, rows: i64, gzip: bool) -> Result<u64, Error> {
    let file = std::fs::File::create(path)?;
    let mut out: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            BufWriter::new(file),
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(BufWriter::new(file))
    };
    writeln!(out, "id,name")?;
    for i in 0..rows {
        writeln!(out, "{i},person number {i}")?;
    }
    drop(out);
    Ok(std::fs::metadata(path)?.len())
}

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let rows = args.rows.max(1);
    let dir = std::env::temp_dir().join(format!("boltd-bench-load-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(if args.gzip {
        "nodes.csv.gz"
    } else {
        "nodes.csv"
    });
    let file_bytes = if args.unwind_baseline {
        0
    } else {
        write_csv(&path, rows, args.gzip)?
    };
    let connector = connector(args)?;
    let mut bolt = session(args, &connector).await?;
    let pid = args.server_pid;
    let before = pid.and_then(|p| status_kib(p, "VmRSS"));
    let peak = Arc::new(AtomicU64::new(before.unwrap_or(0)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = pid.map(|pid| {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    });
    let mut params = Map::new();
    let query = if args.unwind_baseline {
        params.insert("n".into(), Value::Int(rows));
        "UNWIND range(0, $n - 1) AS i \
         CREATE (:N {id: toString(i), name: 'person number ' + toString(i)})"
    } else {
        params.insert("file".into(), Value::String(path.display().to_string()));
        "LOAD CSV FROM $file WITH HEADER AS row CREATE (:N {id: row.id, name: row.name})"
    };
    let t = Instant::now();
    let result = connect::records(&mut bolt, query, params).await;
    let seconds = t.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let after = pid.and_then(|p| status_kib(p, "VmRSS"));
    let hwm = pid.and_then(|p| status_kib(p, "VmHWM"));
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let sample = Sample {
        latencies: vec![(seconds * 1e6) as u64],
        ..Sample::default()
    };
    Ok(report(
        args,
        &sample,
        seconds,
        &[
            ("rows".to_owned(), rows as f64),
            ("file_bytes".to_owned(), file_bytes as f64),
            ("load_seconds".to_owned(), seconds),
            (
                "rows_per_second".to_owned(),
                rows as f64 / seconds.max(1e-9),
            ),
            ("server_rss_before_mib".to_owned(), mib(before)),
            (
                "server_rss_peak_mib".to_owned(),
                mib(pid.map(|_| peak.load(Ordering::Relaxed))),
            ),
            ("server_rss_after_mib".to_owned(), mib(after)),
            ("server_vmhwm_mib".to_owned(), mib(hwm)),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_a_header_and_one_line_per_row_gzip_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.csv");
        write_csv(&plain, 3, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&plain).unwrap(),
            "id,name\n0,person number 0\n1,person number 1\n2,person number 2\n"
        );
        let gz = dir.path().join("a.csv.gz");
        write_csv(&gz, 3, true).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, std::fs::read_to_string(&plain).unwrap());
    }

    #[test]
    fn status_fields_are_read_in_kib() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").is_some_and(|k| k > 0));
        assert!(status_kib(me, "VmHWM").is_some_and(|k| k > 0));
        assert_eq!(status_kib(me, "NoSuchField"), None);
    }
}
