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
            abort: root.abort.clone(),
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
            if self.rows.is_multiple_of(BUDGET_EVERY) {
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use crate::cypher::ast::Statement;
    use crate::engine::{EngineError, MemoryEngine, Params, QueryEngine, Row};
    use crate::value::{Map, Value};

    /// Runs `q` with `$file` set to `file` in its own committed transaction.
    async fn run(engine: &MemoryEngine, q: &str, file: &Path) -> Result<Vec<Row>, EngineError> {
        let Statement::Query(query) = crate::cypher::parse(q)? else {
            panic!("{q}: not a query");
        };
        let mut params = Params::new();
        params.insert("file".into(), Value::String(file.display().to_string()));
        let mut tx = engine.begin().await?;
        let r = tx.run(query, params).await?;
        let rows = r.rows.collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn ok(engine: &MemoryEngine, q: &str, file: &Path) -> Vec<Row> {
        run(engine, q, file)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    async fn fails(q: &str, file: &Path) -> String {
        match run(&MemoryEngine::new(), q, file).await {
            Err(e) => e.message,
            Ok(rows) => panic!("{q} gave {rows:?}"),
        }
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<Map>(),
        )
    }

    const PEOPLE: &[u8] = b"id,name\n1,Ann\n2,\"Bob, Jr.\"\n\n3,\n";

    #[tokio::test]
    async fn with_header_each_row_is_a_map_of_strings() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "people.csv", PEOPLE);
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER AS row RETURN row",
            &f,
        )
        .await;
        assert_eq!(
            rows,
            vec![
                vec![map(&[("id", s("1")), ("name", s("Ann"))])],
                vec![map(&[("id", s("2")), ("name", s("Bob, Jr."))])],
                // Blank lines are skipped; an empty field is the empty string.
                vec![map(&[("id", s("3")), ("name", s(""))])],
            ]
        );
    }

    #[tokio::test]
    async fn no_header_each_row_is_a_list_and_the_first_line_is_data() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "people.csv", PEOPLE);
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file NO HEADER AS row RETURN row[1] AS name, size(row) AS n",
            &f,
        )
        .await;
        let names: Vec<&Value> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(names, vec![&s("name"), &s("Ann"), &s("Bob, Jr."), &s("")]);
        assert!(rows.iter().all(|r| r[1] == Value::Int(2)));
    }

    #[tokio::test]
    async fn custom_delimiter_quote_and_nullif() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "semi.csv", b"a;b\n'x;y';NA\n'it''s';\n");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER DELIMITER ';' QUOTE \"'\" NULLIF 'NA' AS r \
             RETURN r.a, r.b",
            &f,
        )
        .await;
        assert_eq!(
            rows,
            vec![vec![s("x;y"), Value::Null], vec![s("it's"), s("")]]
        );
        // NULLIF '' turns empty fields into nulls, in lists too.
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file NO HEADER DELIMITER ';' QUOTE \"'\" NULLIF '' AS r RETURN r",
            &f,
        )
        .await;
        assert_eq!(rows[2], vec![Value::List(vec![s("it's"), Value::Null])]);
    }

    #[tokio::test]
    async fn a_bad_row_names_the_file_and_line_unless_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "bad.csv", b"id,name\n1,a\n2,b,extra\n3,c\n");
        let e = fails("LOAD CSV FROM $file WITH HEADER AS r RETURN r.id", &f).await;
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("bad.csv"), "{e}");
        assert!(e.contains("expected 2 columns"), "{e}");
        assert!(e.contains("IGNORE BAD"), "{e}");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER IGNORE BAD AS r RETURN r.id",
            &f,
        )
        .await;
        assert_eq!(rows, vec![vec![s("1")], vec![s("3")]]);
        // Invalid UTF-8 is a bad row as well.
        let f = write(&dir, "latin1.csv", b"id\n1\n\xe9\n2\n");
        let e = fails("LOAD CSV FROM $file WITH HEADER AS r RETURN r.id", &f).await;
        assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER IGNORE BAD AS r RETURN r.id",
            &f,
        )
        .await;
        assert_eq!(rows, vec![vec![s("1")], vec![s("2")]]);
    }

    #[tokio::test]
    async fn a_failed_load_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "bad.csv", b"id\n1\n2\n3,4\n");
        let e = MemoryEngine::new();
        let err = run(
            &e,
            "LOAD CSV FROM $file WITH HEADER AS r CREATE (:N {id: r.id})",
            &f,
        )
        .await
        .unwrap_err();
        assert!(err.message.contains("line 4"), "{err}");
        let rows = ok(&e, "MATCH (n:N) RETURN count(n)", &f).await;
        assert_eq!(rows, vec![vec![Value::Int(0)]]);
    }

    #[tokio::test]
    async fn missing_files_and_wrong_options_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let e = fails("LOAD CSV FROM $file NO HEADER AS r RETURN r", &missing).await;
        assert!(e.contains("nope.csv") && e.contains("not found"), "{e}");
        assert!(e.contains("check the path"), "{e}");
        let f = write(&dir, "empty.csv", b"");
        let e = fails("LOAD CSV FROM $file WITH HEADER AS r RETURN r", &f).await;
        assert!(e.contains("empty") && e.contains("NO HEADER"), "{e}");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file NO HEADER AS r RETURN r",
            &f,
        )
        .await;
        assert!(rows.is_empty());
        let e = fails(
            "LOAD CSV FROM $file NO HEADER DELIMITER '::' AS r RETURN r",
            &f,
        )
        .await;
        assert!(e.contains("DELIMITER") && e.contains("single"), "{e}");
        let e = fails("LOAD CSV FROM 42 NO HEADER AS r RETURN r", &f).await;
        assert!(e.contains("STRING") && e.contains("INTEGER"), "{e}");
        let e = fails(
            "LOAD CSV FROM 'https://example.com/a.csv' NO HEADER AS r RETURN r",
            &f,
        )
        .await;
        assert!(e.contains("not URLs"), "{e}");
    }

    #[tokio::test]
    async fn gzip_and_bzip2_files_are_recognised_by_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(PEOPLE).unwrap();
        // Named .csv on purpose: the content decides, not the name.
        let gz = write(&dir, "gz.csv", &gz.finish().unwrap());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(PEOPLE).unwrap();
        let bz = write(&dir, "people.csv.bz2", &bz.finish().unwrap());
        for f in [gz, bz] {
            let rows = ok(
                &MemoryEngine::new(),
                "LOAD CSV FROM $file WITH HEADER AS row RETURN row.name",
                &f,
            )
            .await;
            assert_eq!(rows, vec![vec![s("Ann")], vec![s("Bob, Jr.")], vec![s("")]]);
        }
        // A truncated archive is an error, not a short file.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&PEOPLE.repeat(1000)).unwrap();
        let bytes = gz.finish().unwrap();
        let cut = write(&dir, "cut.csv.gz", &bytes[..bytes.len() / 2]);
        let e = fails("LOAD CSV FROM $file WITH HEADER AS r RETURN count(r)", &cut).await;
        assert!(e.contains("cut.csv.gz") && e.contains("failed"), "{e}");
    }

    #[tokio::test]
    async fn loads_into_nodes_then_matches_and_relates_them() {
        let dir = tempfile::tempdir().unwrap();
        let people = write(&dir, "people.csv", PEOPLE);
        let e = MemoryEngine::new();
        let rows = ok(
            &e,
            "LOAD CSV FROM $file WITH HEADER AS row \
             CREATE (p:Person {id: toInteger(row.id), name: row.name}) RETURN p.id ORDER BY p.id",
            &people,
        )
        .await;
        assert_eq!(
            rows,
            vec![
                vec![Value::Int(1)],
                vec![Value::Int(2)],
                vec![Value::Int(3)]
            ]
        );
        let knows = write(&dir, "knows.csv", b"1|2\n2|3\n");
        ok(
            &e,
            "LOAD CSV FROM $file NO HEADER DELIMITER '|' AS r \
             MATCH (a:Person {id: toInteger(r[0])}), (b:Person {id: toInteger(r[1])}) \
             CREATE (a)-[:KNOWS]->(b)",
            &knows,
        )
        .await;
        let rows = ok(
            &e,
            "MATCH (a)-[:KNOWS]->(b) RETURN a.name, b.id ORDER BY b.id",
            &knows,
        )
        .await;
        assert_eq!(
            rows,
            vec![
                vec![s("Ann"), Value::Int(2)],
                vec![s("Bob, Jr."), Value::Int(3)]
            ]
        );
    }

    #[tokio::test]
    async fn every_incoming_row_reads_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "ab.csv", b"a\nb\n");
        let rows = ok(
            &MemoryEngine::new(),
            "UNWIND [1, 2] AS i LOAD CSV FROM $file NO HEADER AS r RETURN i, r[0]",
            &f,
        )
        .await;
        assert_eq!(
            rows,
            vec![
                vec![Value::Int(1), s("a")],
                vec![Value::Int(1), s("b")],
                vec![Value::Int(2), s("a")],
                vec![Value::Int(2), s("b")],
            ]
        );
        // With no incoming row, the file is not read at all.
        let rows = ok(
            &MemoryEngine::new(),
            "UNWIND [] AS i LOAD CSV FROM $file NO HEADER AS r RETURN r",
            &f,
        )
        .await;
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn rows_stream_without_reading_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // The third row is bad: a LIMIT that stops before it never sees it.
        let f = write(&dir, "tail.csv", b"x\n1\n2\n3,3\n");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER AS r RETURN r.x LIMIT 2",
            &f,
        )
        .await;
        assert_eq!(rows, vec![vec![s("1")], vec![s("2")]]);
    }

    #[tokio::test]
    async fn a_byte_order_mark_is_not_part_of_the_first_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(&dir, "bom.csv", b"\xef\xbb\xbfid,v\n1,2\n");
        let rows = ok(
            &MemoryEngine::new(),
            "LOAD CSV FROM $file WITH HEADER AS r RETURN r.id",
            &f,
        )
        .await;
        assert_eq!(rows, vec![vec![s("1")]]);
    }
}
