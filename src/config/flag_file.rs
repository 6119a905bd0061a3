//! Memgraph's flag file (memgraph.conf) as a figment layer, below the TOML file.
//!
//! The format is gflags' as Memgraph ships it: one `--name=value` a line; blank lines and lines
//! starting with `#` are skipped; `-` and `_` are alike in names (`--bolt-port`, `--bolt_port`);
//! a boolean alone (`--storage-wal-enabled`) is true and `--noname` is false; booleans are
//! `true`/`false` (and gflags' `1`/`0`, `yes`/`no`, `t`/`f`, `y`/`n`); `--flag-file=OTHER`
//! reads another file at that point. Later lines win.
//!
//! gflags silently skips a line it cannot use; here every line must mean something, because a
//! setting that silently did not apply (a typo in a port or a certificate path) is worse than a
//! refused start. A flag neither Memgraph nor boltd has, a line that is not a flag, and a value
//! the setting cannot take are errors naming the file and line. Memgraph's flags that boltd does
//! not implement are accepted and collected, so that a real memgraph.conf starts boltd with one
//! warning naming them (logged by the caller, once the logger exists).
//!
//! Values arrive as text and are typed by the setting's default (a boolean, a number, a text),
//! then checked against that one setting, so that a bad value is reported with its line rather
//! than later by the merged configuration. This file never decides precedence: `config.rs` does.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::memgraph_flags::{self, is_memgraph_flag};
use super::Config;

/// How many files deep `--flag-file` may include; far more than any real setup, and a bound
/// so that no chain of includes can exhaust the stack.
const MAX_DEPTH: usize = 16;

/// Memgraph's environment variable naming a flag file.
pub const MEMGRAPH_CONFIG: &str = "MEMGRAPH_CONFIG";

/// A flag file to read, and what named it (so that a missing file's error says what to fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagFileArg {
    pub path: PathBuf,
    pub named_by: NamedBy,
}

/// What named a flag file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedBy {
    /// `--flag-file` on the command line.
    Flag,
    /// The `MEMGRAPH_CONFIG` environment variable.
    Env,
    /// `--flag-file=` on a line of another flag file.
    Include(Location),
}

impl fmt::Display for NamedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamedBy::Flag => f.write_str("the path given to --flag-file"),
            NamedBy::Env => write!(f, "the {MEMGRAPH_CONFIG} environment variable"),
            NamedBy::Include(at) => write!(f, "--flag-file on {at}"),
        }
    }
}

impl FlagFileArg {
    /// The flag file to read: `--flag-file` when given, else `MEMGRAPH_CONFIG` (Memgraph's
    /// variable) when set and not empty.
    pub fn choose(flag: Option<PathBuf>, env: Option<std::ffi::OsString>) -> Option<FlagFileArg> {
        match (flag, env) {
            (Some(path), _) => Some(FlagFileArg {
                path,
                named_by: NamedBy::Flag,
            }),
            (None, Some(env)) if !env.is_empty() => Some(FlagFileArg {
                path: PathBuf::from(env),
                named_by: NamedBy::Env,
            }),
            _ => None,
        }
    }
}

/// A line of a file, as `FILE:LINE` in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The Memgraph flags one file set that boltd does not implement, for the start-up warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredFlags {
    pub file: PathBuf,
    /// As `--name-with-hyphens`, in the order first seen, each once.
    pub flags: Vec<String>,
}

/// A mistake in a flag file; each names the file (and the line, when there is one).
#[derive(Debug, thiserror::Error)]
pub enum FlagFileError {
    #[error("flag file {} does not exist: check {named_by}", .path.display())]
    Missing { path: PathBuf, named_by: NamedBy },
    #[error("cannot read flag file {}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{at}: unknown flag --{flag} (neither Memgraph nor boltd has it); {hint}")]
    Unknown {
        at: Location,
        flag: String,
        hint: String,
    },
    #[error("{at}: {reason}")]
    Malformed { at: Location, reason: String },
    #[error("{at}: bad value for --{flag}: {reason}")]
    BadValue {
        at: Location,
        flag: String,
        reason: String,
    },
}

/// A flag file read and checked: the settings it sets, as a figment provider.
#[derive(Debug)]
pub struct FlagFile {
    path: PathBuf,
    values: Dict,
    ignored: Vec<IgnoredFlags>,
}

impl FlagFile {
    /// Reads `arg`'s file and the files it includes.
    pub fn read(arg: &FlagFileArg) -> Result<FlagFile, FlagFileError> {
        let mut reader = Reader {
            defaults: Config::default().to_dict(),
            values: Dict::new(),
            ignored: Vec::new(),
            open: Vec::new(),
        };
        reader.read(&arg.path, &arg.named_by)?;
        Ok(FlagFile {
            path: arg.path.clone(),
            values: reader.values,
            ignored: reader.ignored,
        })
    }

    /// Memgraph's flags that were accepted but do nothing in boltd, per file.
    pub fn ignored(&self) -> &[IgnoredFlags] {
        &self.ignored
    }
}

impl Provider for FlagFile {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("Memgraph flag file {}", self.path.display()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// The state of one read, across included files.
struct Reader {
    /// Every boltd setting with its default value: the keys a line may set, and the type its
    /// text is converted to.
    defaults: Dict,
    /// The settings set so far; a later line overwrites an earlier one, as in gflags.
    values: Dict,
    ignored: Vec<IgnoredFlags>,
    /// The files being read, outermost first, to refuse a file that includes itself.
    open: Vec<PathBuf>,
}

/// What a flag name means here.
enum Target {
    /// A boltd setting (its key).
    Setting(String),
    /// A Memgraph flag boltd does not implement.
    Ignored,
    /// `--flag-file`: read another file.
    Include,
}

impl Reader {
    fn read(&mut self, path: &Path, named_by: &NamedBy) -> Result<(), FlagFileError> {
        if !path.is_file() {
            return Err(FlagFileError::Missing {
                path: path.to_owned(),
                named_by: named_by.clone(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| FlagFileError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let identity = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let refusal = if self.open.contains(&identity) {
            let chain: Vec<String> = self
                .open
                .iter()
                .chain(std::iter::once(&identity))
                .map(|p| p.display().to_string())
                .collect();
            Some(format!(
                "--flag-file includes itself: {}",
                chain.join(" -> ")
            ))
        } else if self.open.len() >= MAX_DEPTH {
            Some(format!(
                "--flag-file includes are nested more than {MAX_DEPTH} deep"
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            // Only an include can reopen a file or go deep; the outermost file is neither.
            return Err(match named_by {
                NamedBy::Include(at) => FlagFileError::Malformed {
                    at: at.clone(),
                    reason,
                },
                _ => FlagFileError::Unreadable {
                    path: path.to_owned(),
                    reason,
                },
            });
        }
        self.open.push(identity);
        // A byte-order mark (some Windows editors write one) is not part of the first line.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (n, raw) in text.lines().enumerate() {
            let at = Location {
                file: path.to_owned(),
                line: n + 1,
            };
            self.line(raw, at)?;
        }
        self.open.pop();
        Ok(())
    }

    /// One line: skipped, a setting, an ignored Memgraph flag, or an include.
    fn line(&mut self, raw: &str, at: Location) -> Result<(), FlagFileError> {
        // gflags skips leading white space; trailing white space (an editor's leftover, or the
        // `\r` of a Windows line end) is dropped too, since no setting wants it.
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let malformed = |reason: String| FlagFileError::Malformed {
            at: at.clone(),
            reason,
        };
        // gflags takes one dash or two.
        let Some(rest) = line.strip_prefix('-') else {
            return Err(malformed(format!(
                "expected --name=value (or a # comment), got {line:?}"
            )));
        };
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        let (written, value) = match rest.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (rest, None),
        };
        if written.is_empty()
            || written.starts_with('-')
            || !written
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let hint = if written.ends_with(' ') || value.is_some_and(|v| v.starts_with(' ')) {
                " (write it without spaces around '=')"
            } else {
                ""
            };
            return Err(malformed(format!(
                "expected --name=value, got {line:?}{hint}"
            )));
        }
        let name = written.replace('-', "_");
        let (target, negated) = match self.target(&name) {
            Some(target) => (target, false),
            None => match name.strip_prefix("no").and_then(|n| self.target(n)) {
                Some(Target::Setting(key)) if self.is_bool(&key) => (Target::Setting(key), true),
                Some(Target::Ignored) => (Target::Ignored, true),
                Some(Target::Setting(key)) => {
                    return Err(FlagFileError::BadValue {
                        at,
                        flag: dashed(&key),
                        reason: format!(
                            "--{written} is for boolean flags only; write --{}=VALUE",
                            dashed(&key)
                        ),
                    })
                }
                _ => {
                    return Err(FlagFileError::Unknown {
                        hint: suggestion(&name, &self.defaults),
                        at,
                        flag: written.to_owned(),
                    })
                }
            },
        };
        let flag = dashed(name.strip_prefix("no").filter(|_| negated).unwrap_or(&name));
        if negated && value.is_some() {
            return Err(malformed(format!(
                "--{written} takes no value: write --{flag}=VALUE instead"
            )));
        }
        match target {
            Target::Ignored => {
                self.ignore(&at.file, format!("--{flag}"));
                Ok(())
            }
            Target::Include => match value {
                Some(file) if !file.is_empty() => {
                    // Relative to the including file, so that a directory of files can be moved
                    // as a whole (gflags uses the working directory, which under systemd is /).
                    let included = match at.file.parent() {
                        Some(dir) if Path::new(file).is_relative() => dir.join(file),
                        _ => PathBuf::from(file),
                    };
                    self.read(&included, &NamedBy::Include(at))
                }
                _ => Err(malformed(
                    "--flag-file needs a file: write --flag-file=PATH".to_owned(),
                )),
            },
            Target::Setting(key) => {
                let text = match (negated, value) {
                    (true, _) => "false",
                    (false, Some(text)) => text,
                    (false, None) if self.is_bool(&key) => "true",
                    (false, None) => {
                        return Err(malformed(format!(
                            "--{flag} needs a value: write --{flag}=VALUE"
                        )))
                    }
                };
                let value = self
                    .typed(&key, text)
                    .map_err(|reason| FlagFileError::BadValue {
                        at,
                        flag: flag.clone(),
                        reason,
                    })?;
                self.values.insert(key, value);
                Ok(())
            }
        }
    }

    /// What a name (with underscores) means, if anything.
    fn target(&self, name: &str) -> Option<Target> {
        if name == "flag_file" {
            Some(Target::Include)
        } else if let Some(key) = memgraph_flags::renamed(name) {
            Some(Target::Setting(key.to_owned()))
        } else if self.defaults.contains_key(name) {
            Some(Target::Setting(name.to_owned()))
        } else if is_memgraph_flag(name) {
            Some(Target::Ignored)
        } else {
            None
        }
    }

    fn is_bool(&self, key: &str) -> bool {
        matches!(self.defaults.get(key), Some(Value::Bool(..)))
    }

    fn ignore(&mut self, file: &Path, flag: String) {
        let entry = match self.ignored.iter_mut().find(|i| i.file == file) {
            Some(entry) => entry,
            None => {
                self.ignored.push(IgnoredFlags {
                    file: file.to_owned(),
                    flags: Vec::new(),
                });
                self.ignored.last_mut().expect("just pushed")
            }
        };
        if !entry.flags.contains(&flag) {
            entry.flags.push(flag);
        }
    }

    /// The text as the setting's value: typed by the setting's default, converted from
    /// Memgraph's unit where it differs, and checked against the setting alone.
    fn typed(&self, key: &str, text: &str) -> Result<Value, String> {
        let converted = match memgraph_flags::convert(key, text) {
            Some(result) => result?,
            None => text.to_owned(),
        };
        let text = converted.as_str();
        let candidates = match self.defaults.get(key) {
            Some(Value::Bool(..)) => {
                vec![Value::from(gflags_bool(text).ok_or_else(|| {
                    format!("expected true or false, got {text:?}")
                })?)]
            }
            Some(Value::String(..)) => vec![Value::from(text)],
            Some(Value::Num(..)) => vec![text.parse::<Value>().unwrap_or_else(|e| match e {})],
            // An unset optional setting (a path, a port) says nothing of its type: a text
            // first (a path that looks like a number stays a path), then what the text reads as.
            _ => vec![
                Value::from(text),
                text.parse::<Value>().unwrap_or_else(|e| match e {}),
            ],
        };
        let mut last = String::new();
        for candidate in candidates {
            match self.accepts(key, &candidate, text) {
                Ok(()) => return Ok(candidate),
                Err(reason) => last = reason,
            }
        }
        Err(last)
    }

    /// Whether the setting takes this value (read from `text`), with the reason when it
    /// does not: the setting's own message (which names the flag and the accepted values), or
    /// what kind of value it wants, in words rather than Rust's type names.
    fn accepts(&self, key: &str, value: &Value, text: &str) -> Result<(), String> {
        use figment::error::Kind;
        Figment::from(Serialized::defaults(&self.defaults))
            .merge(Serialized::default(key, value))
            .extract::<Config>()
            .map(drop)
            .map_err(|e| match &e.kind {
                Kind::Message(msg) => msg.clone(),
                Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                    format!("expected {}, got {text:?}", in_words(expected))
                }
                kind => kind.to_string(),
            })
    }
}

/// What serde's expected type means to someone editing a configuration file.
fn in_words(expected: &str) -> &str {
    match expected {
        "u16" => "a whole number from 0 to 65535",
        "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "f64" => "a number",
        "a string" | "string" => "a text",
        other => other,
    }
}

/// gflags' boolean spellings, any case.
fn gflags_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// A name with underscores, as a flag is written in memgraph.conf and on boltd's command line.
fn dashed(name: &str) -> String {
    name.replace('_', "-")
}

/// "did you mean --x?" when a known flag (Memgraph's or boltd's) is close, else what to do.
fn suggestion(name: &str, defaults: &Dict) -> String {
    let known = memgraph_flags::MEMGRAPH_FLAGS
        .iter()
        .copied()
        .chain(defaults.keys().map(String::as_str))
        .collect::<BTreeSet<&str>>();
    let best = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, flag)) => format!("did you mean --{}?", dashed(flag)),
        None => "fix the name or remove the line (boltd --help lists boltd's flags)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ClientAuth;

    /// Writes `text` as `name` in `dir`.
    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn arg(path: &Path) -> FlagFileArg {
        FlagFileArg {
            path: path.to_owned(),
            named_by: NamedBy::Flag,
        }
    }

    /// The flag file `text` over the defaults, and what it ignored.
    fn read(text: &str) -> Result<(Config, Vec<IgnoredFlags>), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "memgraph.conf", text);
        let file = FlagFile::read(&arg(&path)).map_err(|e| e.to_string())?;
        let ignored = file.ignored().to_vec();
        let config = Figment::from(Serialized::defaults(Config::default()))
            .merge(file)
            .extract::<Config>()
            .map_err(|e| e.to_string())?;
        Ok((config, ignored))
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err()
    }

    #[test]
    fn memgraphs_format_sets_the_settings() {
        let (c, ignored) = read(
            "# Memgraph Configuration\n\
             \n\
             ## Bolt\n\
             --bolt-port=7688\n\
             \t  --bolt_address=127.0.0.2   \n\
             -bolt-num-workers=3\n\
             --bolt-server-name-for-init=Neo4j/5 a=b\n\
             --log-level=WARNING\n\
             --data-directory=/var/lib/memgraph\n\
             --bolt-cert-file=\n\
             --metrics-port=9091\n\
             --query-execution-timeout-sec=180.000000\n\
             --memory-limit=2048\n\
             --storage-recover-on-startup=false\n\
             --storage-wal-file-size-kib=1024\r\n\
             --bolt-port=7689\n",
        )
        .unwrap();
        assert_eq!(c.bolt_port, 7689, "a later line wins");
        assert_eq!(c.bolt_address, "127.0.0.2");
        assert_eq!(c.bolt_num_workers, 3);
        assert_eq!(c.bolt_server_name_for_init, "Neo4j/5 a=b");
        assert_eq!(c.log_level, "warning");
        assert_eq!(c.data_directory, Some(PathBuf::from("/var/lib/memgraph")));
        assert_eq!(c.bolt_cert_file, None, "empty is unset");
        assert_eq!(c.metrics_port, Some(9091));
        assert_eq!(c.query_execution_timeout_sec, 180);
        assert_eq!(c.memory_limit, 2048);
        assert!(!c.data_recovery_on_startup, "Memgraph's older name");
        assert_eq!(c.storage_wal_file_size_kib, 1024);
        assert!(ignored.is_empty(), "{ignored:?}");
    }

    #[test]
    fn booleans_take_gflags_forms() {
        let (c, _) = read(
            "--storage-wal-enabled=false\n\
             --storage-snapshot-on-exit=NO\n\
             --bolt-tls-refuse-expired\n\
             --nodata-recovery-on-startup\n",
        )
        .unwrap();
        assert!(!c.storage_wal_enabled);
        assert!(!c.storage_snapshot_on_exit);
        assert!(c.bolt_tls_refuse_expired, "a boolean alone is true");
        assert!(!c.data_recovery_on_startup, "--noname is false");
        let (c, _) = read("\u{feff}--storage-wal-enabled=0\n--storage-wal-enabled=yes\n").unwrap();
        assert!(c.storage_wal_enabled);
        let err = error("--storage-wal-enabled=maybe\n");
        assert!(err.ends_with("memgraph.conf:1: bad value for --storage-wal-enabled: expected true or false, got \"maybe\""), "{err}");
        let err = error("\n--nostorage-wal-enabled=true\n");
        assert!(
            err.contains("memgraph.conf:2: --nostorage-wal-enabled takes no value"),
            "{err}"
        );
        let err = error("--nobolt-port\n");
        assert!(err.contains("memgraph.conf:1: bad value for --bolt-port: --nobolt-port is for boolean flags only"), "{err}");
    }

    #[test]
    fn memgraph_flags_boltd_lacks_are_collected_once_each() {
        let (c, ignored) = read(
            "--storage-properties-on-edges=true\n\
             --telemetry-enabled=false\n\
             --notelemetry-enabled\n\
             --query_modules_directory=/usr/lib/memgraph/query_modules\n\
             --isolation-level=SNAPSHOT_ISOLATION\n\
             --bolt-port=7690\n",
        )
        .unwrap();
        assert_eq!(c.bolt_port, 7690);
        assert_eq!(ignored.len(), 1);
        assert!(ignored[0].file.ends_with("memgraph.conf"));
        assert_eq!(
            ignored[0].flags,
            [
                "--storage-properties-on-edges",
                "--telemetry-enabled",
                "--query-modules-directory",
                "--isolation-level"
            ]
        );
    }

    #[test]
    fn an_unknown_flag_names_the_file_and_line_with_a_suggestion() {
        let err = error("# comment\n--bolt-port=7687\n--bolt-prot=7687\n");
        assert!(
            err.ends_with(
                "memgraph.conf:3: unknown flag --bolt-prot (neither Memgraph nor boltd has it); \
                 did you mean --bolt-port?"
            ),
            "{err}"
        );
        let err = error("--telemetry-enabeld=false\n");
        assert!(err.contains("did you mean --telemetry-enabled?"), "{err}");
        let err = error("--frobnicate=1\n");
        assert!(
            err.contains("memgraph.conf:1: unknown flag --frobnicate"),
            "{err}"
        );
        assert!(err.contains("remove the line"), "{err}");
        // A --no that is no flag either.
        let err = error("--nothing\n");
        assert!(err.contains("unknown flag --nothing"), "{err}");
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        for (text, want) in [
            (
                "bolt-port=7687\n",
                "memgraph.conf:1: expected --name=value (or a # comment)",
            ),
            ("\n\n--=7687\n", "memgraph.conf:3: expected --name=value"),
            ("---bolt-port=1\n", "memgraph.conf:1: expected --name=value"),
            ("--bolt-port = 7687\n", "without spaces around '='"),
            (
                "--bolt-port\n",
                "memgraph.conf:1: --bolt-port needs a value: write --bolt-port=VALUE",
            ),
            ("--flag-file\n", "memgraph.conf:1: --flag-file needs a file"),
        ] {
            let err = error(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_bad_value_names_the_file_line_and_flag() {
        for (text, want) in [
            (
                "--bolt-port=seven\n",
                "memgraph.conf:1: bad value for --bolt-port: expected a whole number from 0 to \
                 65535, got \"seven\"",
            ),
            ("--bolt-port=70000\n", "memgraph.conf:1: bad value for --bolt-port: expected a whole number from 0 to 65535, got \"70000\""),
            ("--metrics-port=x\n", "memgraph.conf:1: bad value for --metrics-port: expected a whole number"),
            ("--bolt-max-connections=-1\n", "bad value for --bolt-max-connections: expected a whole number, 0 or more, got \"-1\""),
            ("--bolt-auth-timeout=soon\n", "bad value for --bolt-auth-timeout: expected a number, got \"soon\""),
            (
                "--bolt-client-auth=maybe\n",
                "bad value for --bolt-client-auth: --bolt-client-auth must be none, optional or require",
            ),
            ("--log-level=LOUD\n", "memgraph.conf:1: bad value for --log-level: --log-level must be one of"),
            ("--query-execution-timeout-sec=0.5\n", "bad value for --query-execution-timeout-sec: boltd counts whole seconds"),
        ] {
            let err = error(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
        // A number is a fine path.
        let (c, _) = read("--log-file=2024\n").unwrap();
        assert_eq!(c.log_file, Some(PathBuf::from("2024")));
        let (c, _) = read("--bolt-client-auth=require\n").unwrap();
        assert_eq!(c.bolt_client_auth, ClientAuth::Require);
    }

    #[test]
    fn flag_file_includes_another_at_that_point() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        write(
            &dir.path().join("conf.d"),
            "extra.conf",
            "--bolt-port=2222\n--bolt-address=127.0.0.9\n--audit-enabled=true\n",
        );
        let main = write(
            dir.path(),
            "memgraph.conf",
            "--bolt-port=1111\n--flag-file=conf.d/extra.conf\n--bolt-address=127.0.0.8\n",
        );
        let file = FlagFile::read(&arg(&main)).unwrap();
        let ignored = file.ignored().to_vec();
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(file)
            .extract()
            .unwrap();
        assert_eq!(
            c.bolt_port, 2222,
            "the include overrides the lines before it"
        );
        assert_eq!(c.bolt_address, "127.0.0.8", "and the lines after it win");
        assert_eq!(ignored.len(), 1);
        assert!(
            ignored[0].file.ends_with("conf.d/extra.conf"),
            "{ignored:?}"
        );

        let looped = write(dir.path(), "loop.conf", "--flag-file=loop.conf\n");
        let err = FlagFile::read(&arg(&looped)).unwrap_err().to_string();
        assert!(
            err.contains("loop.conf:1: --flag-file includes itself"),
            "{err}"
        );

        let missing = write(dir.path(), "missing.conf", "\n--flag-file=nope.conf\n");
        let err = FlagFile::read(&arg(&missing)).unwrap_err().to_string();
        assert!(
            err.contains("nope.conf does not exist: check --flag-file on"),
            "{err}"
        );
        assert!(err.contains("missing.conf:2"), "{err}");
    }

    #[test]
    fn a_missing_file_says_what_named_it() {
        let mut missing = arg(Path::new("/nonexistent/memgraph.conf"));
        let err = FlagFile::read(&missing).unwrap_err().to_string();
        assert_eq!(
            err,
            "flag file /nonexistent/memgraph.conf does not exist: check the path given to --flag-file"
        );
        missing.named_by = NamedBy::Env;
        let err = FlagFile::read(&missing).unwrap_err().to_string();
        assert!(
            err.ends_with("check the MEMGRAPH_CONFIG environment variable"),
            "{err}"
        );
    }

    #[test]
    fn the_flag_beats_memgraph_config() {
        let env = Some(std::ffi::OsString::from("/etc/memgraph/memgraph.conf"));
        let chosen = FlagFileArg::choose(Some("my.conf".into()), env.clone()).unwrap();
        assert_eq!(chosen.path, PathBuf::from("my.conf"));
        assert_eq!(chosen.named_by, NamedBy::Flag);
        let chosen = FlagFileArg::choose(None, env).unwrap();
        assert_eq!(chosen.path, PathBuf::from("/etc/memgraph/memgraph.conf"));
        assert_eq!(chosen.named_by, NamedBy::Env);
        assert_eq!(FlagFileArg::choose(None, Some("".into())), None);
        assert_eq!(FlagFileArg::choose(None, None), None);
    }
}
