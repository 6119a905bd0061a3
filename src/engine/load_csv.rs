//! `LOAD CSV`: the rows of a CSV file, one environment per row, streamed.
//!
//! This file owns opening the file (plain, gzip or bzip2, told apart by their magic bytes, not
//! the name), reading it with the `csv` crate in the dialect the clause asks for, and turning each
//! record into a value: a map keyed by the header (`WITH HEADER`) or a list (`NO HEADER`) of
//! strings, with the `NULLIF` text as null. Rows are read on demand as the next clause pulls
//! them, through fixed-size buffers, so memory stays flat however large the file; it must never
//! collect the file's rows.
//!
//! The source and the options are evaluated once, before any row is read, and the file is opened
//! then, so that a missing file fails the query before it changes anything. Each incoming row
//! reads the whole file (openCypher's semantics: `MATCH (n) LOAD CSV ...` pairs every `n` with
//! every CSV row); the first reuses the file opened up front.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use super::eval::{eval, Env};
use super::project::Envs;
use super::EngineError;
use crate::cypher::ast::{Expr, LoadCsv};
use crate::value::{Map, Value};

/// Rows between two checks of the query's time and memory budget.
const BUDGET_EVERY: u64 = 1024;

/// The clause with its expressions evaluated: what every reading of the file needs.
#[derive(Debug)]
struct Options {
    /// The path as the user gave it, for error messages.
    path: String,
    header: bool,
    ignore_bad: bool,
    delimiter: u8,
    quote: u8,
    nullif: Option<String>,
    /// The query's deadline and memory limit, checked every [`BUDGET_EVERY`] rows so that
    /// skipping or filtering a huge file still stops in time.
    budget: Env,
}

/// Evaluates the clause's source and options in `root` (parameters only: the file cannot
/// depend on a row), opens the file, and returns the stage that binds `variable` to each CSV
/// row of each incoming environment.
pub fn stage(clause: &LoadCsv, root: &Env) -> Result<impl FnOnce(Envs) -> Envs, EngineError> {
    let path = match eval(&clause.source, root)? {
        Value::String(s) => s,
        other => {
            return Err(EngineError::client(format!(
                "LOAD CSV needs the file as a STRING, got {}.",
                other.type_name()
            )))
        }
    };
    let options = Arc::new(Options {
        path,
        header: clause.header,
        ignore_bad: clause.ignore_bad,
        delimiter: single_byte(clause.delimiter.as_ref(), "DELIMITER", b',', root)?,
        quote: single_byte(clause.quote.as_ref(), "QUOTE", b'"', root)?,
        nullif: match &clause.nullif {
            None => None,
            Some(e) => match eval(e, root)? {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => {
                    return Err(EngineError::client(format!(
                        "NULLIF of LOAD CSV must be a STRING, got {}.",
                        other.type_name()
                    )))
                }
            },
        },
        budget: Env {
            deadline: root.deadline,
            memory_limit: root.memory_limit,
            ..Env::default()
        },
    });
    let mut first = Some(CsvRows::open(Arc::clone(&options))?);
    let variable: Arc<str> = Arc::from(clause.variable.as_str());
    Ok(move |envs: Envs| -> Envs {
        Box::new(envs.flat_map(move |env| -> Envs {
            let env = match env {
                Ok(env) => env,
                Err(e) => return Box::new(std::iter::once(Err(e))),
            };
            let rows = match first.take() {
                Some(rows) => rows,
                None => match CsvRows::open(Arc::clone(&options)) {
                    Ok(rows) => rows,
                    Err(e) => return Box::new(std::iter::once(Err(e))),
                },
            };
            let variable = Arc::clone(&variable);
            Box::new(rows.map(move |row| row.map(|value| env.with(&variable, value))))
        }))
    })
}

/// A DELIMITER or QUOTE option: one character of one byte, as the CSV reader takes them.
fn single_byte(
    expr: Option<&Expr>,
    what: &str,
    default: u8,
    root: &Env,
) -> Result<u8, EngineError> {
    let Some(expr) = expr else {
        return Ok(default);
    };
    match eval(expr, root)? {
        Value::String(s) if s.len() == 1 => Ok(s.as_bytes()[0]),
        Value::String(s) => Err(EngineError::client(format!(
            "{what} of LOAD CSV must be a single ASCII character, got '{s}'."
        ))),
        other => Err(EngineError::client(format!(
            "{what} of LOAD CSV must be a STRING, got {}.",
            other.type_name()
        ))),
    }
}

/// Opens `path`, decompressing gzip (`1f 8b`) and bzip2 (`BZh`) by their first bytes.
fn open(path: &str) -> Result<Box<dyn Read + Send>, EngineError> {
    if ["http://", "https://", "ftp://"]
        .iter()
        .any(|scheme| path.starts_with(scheme))
    {
        return Err(EngineError::client(format!(
            "LOAD CSV reads files on the server's machine only, not URLs ('{path}'): download \
             the file next to the server and give its path."
        )));
    }
    let local = path.strip_prefix("file://").unwrap_or(path);
    let file = File::open(local).map_err(|e| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "?".into());
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "not readable by the server's user (permission denied)".to_owned()
            }
            _ => format!("could not be opened ({e})"),
        };
        EngineError::client(format!(
            "CSV file {path} {what}. LOAD CSV reads a path on the server's machine (a relative \
             path starts in the server's working directory, {cwd}): check the path and that \
             the server may read the file."
        ))
    })?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let magic = reader.fill_buf().map_err(|e| read_error(path, 0, &e))?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

fn read_error(path: &str, line: u64, e: &dyn std::fmt::Display) -> EngineError {
    let at = if line > 0 {
        format!(" at line {line}")
    } else {
        String::new()
    };
    EngineError::client(format!(
        "Reading CSV file {path} failed{at}: {e}. Check that the file is whole (a compressed \
         file must be gzip or bzip2) and readable."
    ))
}

/// The rows of one reading of the file.
struct CsvRows {
    options: Arc<Options>,
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// The header's names (`WITH HEADER`), shared by every row's map keys.
    header: Option<Vec<String>>,
    /// Reused for every record, so reading allocates only the values handed out.
    record: csv::StringRecord,
    /// Whether this reading has read its first record (the header, or a BOM to strip).
    started: bool,
    /// Set after an error or the end: nothing follows.
    done: bool,
    rows: u64,
}

impl CsvRows {
    fn open(options: Arc<Options>) -> Result<CsvRows, EngineError> {
        let input = open(&options.path)?;
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            // The field count is checked here against the header, to name the file and line.
            .flexible(true)
            .delimiter(options.delimiter)
            .quote(options.quote)
            .buffer_capacity(64 * 1024)
            .from_reader(input);
        let mut rows = CsvRows {
            options,
            reader,
            header: None,
            record: csv::StringRecord::new(),
            started: false,
            done: false,
            rows: 0,
        };
        if rows.options.header {
            match rows.read()? {
                Some(()) => {
                    rows.header = Some(rows.record.iter().map(str::to_owned).collect());
                }
                None => {
                    return Err(EngineError::client(format!(
                        "CSV file {} is empty, but WITH HEADER expects a header line; use NO \
                         HEADER for a file without one.",
                        rows.options.path
                    )))
                }
            }
        }
        Ok(rows)
    }

    /// Reads the next record into `self.record`; `None` at the end. Only I/O failures are errors
    /// here; a bad record is reported by the caller.
    fn read(&mut self) -> Result<Option<()>, EngineError> {
        loop {
            return match self.reader.read_record(&mut self.record) {
                Ok(true) => {
                    if !self.started {
                        self.started = true;
                        strip_bom(&mut self.record);
                    }
                    Ok(Some(()))
                }
                Ok(false) => Ok(None),
                Err(e) => match e.kind() {
                    csv::ErrorKind::Utf8 { .. } if self.options.ignore_bad => continue,
                    csv::ErrorKind::Utf8 { pos, .. } => {
                        let line = pos.as_ref().map_or(0, |p| p.line());
                        Err(self.bad_row(line, "it is not valid UTF-8"))
                    }
                    _ => {
                        let line = e.position().map_or(0, |p| p.line());
                        Err(read_error(&self.options.path, line, &e))
                    }
                },
            };
        }
    }

    fn bad_row(&self, line: u64, why: &str) -> EngineError {
        EngineError::client(format!(
            "CSV Reader: Bad row at line {line} of CSV file {}: {why}. Fix the row, or add \
             IGNORE BAD to skip bad rows.",
            self.options.path
        ))
    }

    fn value(&self) -> Value {
        let field = |s: &str| match &self.options.nullif {
            Some(null) if null == s => Value::Null,
            _ => Value::String(s.to_owned()),
        };
        match &self.header {
            Some(names) => Value::Map(
                names
                    .iter()
                    .zip(self.record.iter())
                    .map(|(k, v)| (k.clone(), field(v)))
                    .collect::<Map>(),
            ),
            None => Value::List(self.record.iter().map(field).collect()),
        }
    }

    fn next_row(&mut self) -> Result<Option<Value>, EngineError> {
        loop {
            if self.read()?.is_none() {
                return Ok(None);
            }
            self.rows += 1;
            if self.rows % BUDGET_EVERY == 0 {
                self.options.budget.check_budget()?;
            }
            if let Some(names) = &self.header {
                if self.record.len() != names.len() {
                    if self.options.ignore_bad {
                        continue;
                    }
                    let line = self.record.position().map_or(0, |p| p.line());
                    return Err(self.bad_row(
                        line,
                        &format!(
                            "expected {} columns as in the header, but got {}",
                            names.len(),
                            self.record.len()
                        ),
                    ));
                }
            }
            return Ok(Some(self.value()));
        }
    }
}

impl Iterator for CsvRows {
    type Item = Result<Value, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_row().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// A UTF-8 byte order mark before the first field is not part of it.
fn strip_bom(record: &mut csv::StringRecord) {
    if record.get(0).is_some_and(|f| f.starts_with('\u{feff}')) {
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == 0 {
                    f.trim_start_matches('\u{feff}').to_owned()
                } else {
                    f.to_owned()
                }
            })
            .collect();
        let position = record.position().cloned();
        *record = csv::StringRecord::from(fields);
        record.set_position(position);
    }
}
