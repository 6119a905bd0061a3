//! Configuration: the settings, their defaults, and figment's layering of them.
//!
//! Layers, later wins: built-in defaults < Memgraph's flag file (memgraph.conf, named by
//! `--flag-file` or `MEMGRAPH_CONFIG`; see `config/flag_file.rs`) < the TOML file named by
//! `--config` < `BOLTD_*` environment variables < command-line flags. Keys are the flag names
//! with underscores (`--bolt-port` is `bolt_port` in TOML and `BOLTD_BOLT_PORT` in the
//! environment).
//!
//! Each setting is declared once, as a field of [`Config`]: its type, its default and its help
//! text (the `#[arg]` attribute) live there, and the key list for the environment, the defaults
//! layer and the command-line layer are all derived from it (see `cli.rs` for the last). Values
//! are typed: an enum, a version or a path is parsed once, when the layers are merged, and the
//! rest of the server never sees its text again. An empty path, in any layer, means "unset".
//!
//! Validation that needs only the configuration (both TLS files or neither, sane numbers) happens
//! here, so that a mistake is reported before anything is bound or loaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgAction, Args, FromArgMatches};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Provider};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bolt::handshake::{Version, SUPPORTED};
use crate::bolt::session::Limits;
use crate::logging::LogLevel;
use crate::storage::Durability;
use crate::tls::{ClientAuth, MinVersion, TlsSettings};

mod flag_file;
mod memgraph_flags;

pub use flag_file::{FlagFileArg, FlagFileError, IgnoredFlags, Location, NamedBy, MEMGRAPH_CONFIG};

/// Memgraph's default `--bolt-server-name-for-init`. The neo4j Python 5.x and Java drivers refuse
/// a server whose agent does not start with `Neo4j/`, so the default must keep that prefix.
pub const DEFAULT_SERVER_NAME: &str = "Neo4j/v5.11.0 compatible graph database server - Memgraph";

/// The server's settings after all layers are merged; also the command line's flags (`cli.rs`
/// flattens it), so that a setting, its default and its help text are written once. Defaults are
/// the flags' defaults; their `[default: ...]` notes are in the help text itself (clap's own are
/// hidden), because some defaults (workers, data directory) are better said than printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// IP address on which the Bolt server should listen. [default: 0.0.0.0]
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "0.0.0.0",
        hide_default_value = true
    )]
    pub bolt_address: String,

    /// Port on which the Bolt server should listen. [default: 7687]
    #[arg(
        long,
        value_name = "PORT",
        default_value = "7687",
        hide_default_value = true
    )]
    pub bolt_port: u16,

    /// Certificate file (PEM chain, leaf first) which should be used for the Bolt server. With
    /// --bolt-key-file, the port serves TLS only. [default: empty, plaintext]
    #[arg(long, value_name = "FILE", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub bolt_cert_file: Option<PathBuf>,

    /// Key file (PEM: PKCS#8, PKCS#1 or SEC1) which should be used for the Bolt server.
    /// [default: empty, plaintext]
    #[arg(long, value_name = "FILE", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub bolt_key_file: Option<PathBuf>,

    /// Number of workers used by the Bolt server. By default, this will be the number of
    /// processing units available on the machine.
    #[arg(long, value_name = "N", default_value_t = default_num_workers(), hide_default_value = true)]
    pub bolt_num_workers: usize,

    /// Server name which the database should send to the client in the Bolt INIT message.
    /// Keep the "Neo4j/" prefix: neo4j 5.x drivers refuse other servers.
    /// [default: "Neo4j/v5.11.0 compatible graph database server - Memgraph"]
    #[arg(long, value_name = "NAME", default_value = DEFAULT_SERVER_NAME, hide_default_value = true)]
    pub bolt_server_name_for_init: String,

    /// Seconds a client has to complete the TLS handshake; slower peers are disconnected.
    /// [default: 10]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "10",
        hide_default_value = true
    )]
    pub bolt_tls_handshake_timeout: f64,

    /// Seconds a client has to send the Bolt handshake (magic and version proposals).
    /// [default: 10]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "10",
        hide_default_value = true
    )]
    pub bolt_handshake_timeout: f64,

    /// Seconds a client has, after the Bolt handshake, to authenticate (HELLO, and LOGON on
    /// Bolt 5.1+). [default: 30]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "30",
        hide_default_value = true
    )]
    pub bolt_auth_timeout: f64,

    /// Newest Bolt version to agree to, e.g. 4.4 to keep every client on Bolt 4. [default: 5.4]
    #[arg(long, value_name = "VERSION", default_value = "5.4", hide_default_value = true, value_parser = <Version as Setting>::parse)]
    #[serde(with = "as_text")]
    pub bolt_max_version: Version,

    /// Time in seconds after which inactive Bolt sessions will be closed; 0 disables (as in
    /// Memgraph 3.x, which has no inactivity timeout). [default: 0]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "0",
        hide_default_value = true
    )]
    pub bolt_session_inactivity_timeout: u64,

    /// Largest message in bytes accepted from an authenticated client. [default: 268435456]
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "268435456",
        hide_default_value = true
    )]
    pub bolt_max_message_size: usize,

    /// Largest message in bytes accepted before authentication. [default: 65536]
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "65536",
        hide_default_value = true
    )]
    pub bolt_max_message_size_unauthenticated: usize,

    /// Most Bolt connections open at once; beyond it new connections are closed at once and a
    /// warning is logged. [default: 10000]
    #[arg(
        long,
        value_name = "N",
        default_value = "10000",
        hide_default_value = true
    )]
    pub bolt_max_connections: usize,

    /// Seconds one query may run (matching, updating, sorting) before it is stopped with an
    /// error and its transaction can only be rolled back; 0 disables. Memgraph's flag and
    /// default. [default: 600]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "600",
        hide_default_value = true
    )]
    pub query_execution_timeout_sec: u64,

    /// Heap in MiB above which queries are stopped with an error (their transaction rolled back)
    /// instead of the server running out of memory; 0 means 90% of physical memory. Memgraph's
    /// flag and default. [default: 0]
    #[arg(
        long,
        value_name = "MIB",
        default_value = "0",
        hide_default_value = true
    )]
    pub memory_limit: usize,

    /// Lowest TLS version accepted: 1.2 or 1.3. [default: 1.2]
    #[arg(long, value_name = "VERSION", default_value = "1.2", hide_default_value = true, value_parser = <MinVersion as Setting>::parse)]
    #[serde(with = "as_text")]
    pub bolt_tls_min_version: MinVersion,

    /// TLS 1.2 cipher list (OpenSSL syntax, e.g. ECDHE+AESGCM). [default: the system's]
    #[arg(
        long,
        value_name = "LIST",
        default_value = "",
        hide_default_value = true
    )]
    pub bolt_tls_ciphers: String,

    /// TLS 1.3 cipher suites (OpenSSL syntax, e.g. TLS_AES_256_GCM_SHA384).
    /// [default: the system's]
    #[arg(
        long,
        value_name = "LIST",
        default_value = "",
        hide_default_value = true
    )]
    pub bolt_tls_ciphersuites: String,

    /// PEM bundle of the CAs that sign client certificates; re-read by RELOAD BOLT_SERVER TLS.
    #[arg(long, value_name = "FILE", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub bolt_ca_file: Option<PathBuf>,

    /// Client certificates: none, optional (verified if sent) or require. [default: none]
    #[arg(long, value_name = "MODE", default_value = "none", hide_default_value = true, value_parser = <ClientAuth as Setting>::parse)]
    #[serde(with = "as_text")]
    pub bolt_client_auth: ClientAuth,

    /// File holding the passphrase of an encrypted private key (or set BOLTD_BOLT_KEY_PASSWORD).
    #[arg(long, value_name = "FILE", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub bolt_key_password_file: Option<PathBuf>,

    /// The passphrase itself; only from the environment (BOLTD_BOLT_KEY_PASSWORD) or the file
    /// layer, never a flag, because command lines are visible to every user of the machine.
    #[arg(skip)]
    pub bolt_key_password: Option<Secret>,

    /// Warn (at start-up and on each reload) when the certificate expires within this many days.
    /// [default: 30]
    #[arg(
        long,
        value_name = "DAYS",
        default_value = "30",
        hide_default_value = true
    )]
    pub bolt_tls_expiry_warning_days: u32,

    /// Refuse to load an expired certificate (at start-up and on reload) instead of serving it
    /// with an error in the log. [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub bolt_tls_refuse_expired: bool,

    /// Reload the certificate automatically when the certificate or key file changes (watches
    /// their directories, so rename-replace and Kubernetes secret updates are seen).
    /// [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub bolt_tls_watch: bool,

    /// IP address of the Prometheus metrics endpoint. [default: 0.0.0.0]
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "0.0.0.0",
        hide_default_value = true
    )]
    pub metrics_address: String,

    /// Port of the Prometheus metrics endpoint (HTTPS with the Bolt certificate when TLS is on).
    /// [default: unset, no metrics endpoint]
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,

    /// HOST:PORT that ROUTE answers name as this server's address (for neo4j:// clients behind
    /// NAT, a proxy or a container). [default: empty, the address the client connected to]
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "",
        hide_default_value = true
    )]
    pub bolt_advertised_address: String,

    /// IP address of the monitoring WebSocket (the log stream Memgraph Lab reads).
    /// [default: 0.0.0.0]
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "0.0.0.0",
        hide_default_value = true
    )]
    pub monitoring_address: String,

    /// Port of the monitoring WebSocket (Memgraph uses 7444); wss:// with the Bolt certificate
    /// when TLS is on. [default: unset, no monitoring WebSocket]
    #[arg(long, value_name = "PORT")]
    pub monitoring_port: Option<u16>,

    /// Directory for persistent state: the graph's WAL and snapshots, users, roles and privileges.
    /// [default: $XDG_DATA_HOME/boltd, else ~/.local/share/boltd, else /var/lib/boltd]
    #[arg(long, value_name = "DIR", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub data_directory: Option<PathBuf>,

    /// Log every commit to the write-ahead log (in --data-directory/wal) before it is
    /// acknowledged, so that it survives a crash. [default: true]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", hide_default_value = true, action = ArgAction::Set)]
    pub storage_wal_enabled: bool,

    /// Sync the WAL to disk at least every N commits. 1 (the default) syncs before every
    /// acknowledgement, so an acknowledged commit survives a power loss; Memgraph's default is
    /// 100000, which can lose acknowledged commits. [default: 1]
    #[arg(long, value_name = "N", default_value = "1", hide_default_value = true)]
    pub storage_wal_file_flush_every_n_tx: u64,

    /// Start a new WAL segment file past this size in KiB. [default: 20480]
    #[arg(
        long,
        value_name = "KIB",
        default_value = "20480",
        hide_default_value = true
    )]
    pub storage_wal_file_size_kib: u64,

    /// Seconds between periodic snapshots (in --data-directory/snapshots); 0 disables them.
    /// [default: 300]
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "300",
        hide_default_value = true
    )]
    pub storage_snapshot_interval_sec: u64,

    /// Write a snapshot on a clean stop (SIGTERM, SIGINT). [default: true]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", hide_default_value = true, action = ArgAction::Set)]
    pub storage_snapshot_on_exit: bool,

    /// Snapshots kept; WAL segments older than the oldest kept one are deleted. [default: 3]
    #[arg(long, value_name = "N", default_value = "3", hide_default_value = true)]
    pub storage_snapshot_retention_count: usize,

    /// Recover the graph from --data-directory on start. With false the server starts empty and
    /// moves the old WAL and snapshots aside. (--storage-recover-on-startup is the older name.)
    /// [default: true]
    #[arg(long, alias = "storage-recover-on-startup", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", hide_default_value = true, action = ArgAction::Set)]
    #[serde(alias = "storage_recover_on_startup")]
    pub data_recovery_on_startup: bool,

    /// Minimum log level: trace, debug, info, warning, error or critical. [default: info]
    #[arg(long, value_name = "LEVEL", default_value = "info", hide_default_value = true, value_parser = <LogLevel as Setting>::parse)]
    #[serde(with = "as_text")]
    pub log_level: LogLevel,

    /// Append logs to this file instead of standard error. [default: empty, standard error]
    #[arg(long, value_name = "FILE", value_parser = path)]
    #[serde(deserialize_with = "empty_is_none")]
    pub log_file: Option<PathBuf>,
}

/// One worker per processing unit, as Memgraph does.
fn default_num_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

impl Default for Config {
    /// The flags' defaults: what an empty command line gives.
    fn default() -> Self {
        let command = Config::augment_args(clap::Command::new("boltd"));
        command
            .try_get_matches_from(["boltd"])
            .and_then(|matches| Config::from_arg_matches(&matches))
            // Only the `default_value`s above are parsed here; the unit tests parse them all.
            .expect("the settings' defaults parse")
    }
}

/// A value that must not appear in logs or debug output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// A configuration mistake, reported before the server starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {} does not exist: check the path given to --config", .0.display())]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error(
        "--bolt-{set}-file is set ({value}) but --bolt-{missing}-file is not: TLS needs both \
         a certificate and a key. Set --bolt-{missing}-file, or clear --bolt-{set}-file to run \
         without TLS"
    )]
    HalfTls {
        set: &'static str,
        missing: &'static str,
        value: String,
    },
    #[error(transparent)]
    FlagFile(#[from] FlagFileError),
}

/// The merged settings, and what the start-up log must say about how they were read.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Memgraph flags in the flag file that boltd accepted but does not implement; the caller
    /// logs them once the logger exists (it is configured by `config` itself).
    pub ignored: Vec<IgnoredFlags>,
}

impl Config {
    /// Merges the layers: the defaults, the Memgraph `flag_file` if any, the TOML `file` if
    /// any, `BOLTD_*` from the process environment, and `flags` (the settings typed on the
    /// command line, see `Cli::flags`).
    pub fn load(
        flag_file: Option<&FlagFileArg>,
        file: Option<&Path>,
        flags: impl Provider,
    ) -> Result<Loaded, ConfigError> {
        Self::load_with_env(flag_file, file, flags, Env::prefixed("BOLTD_"))
    }

    /// As [`Config::load`] with an explicit environment provider, so tests need not mutate the
    /// process environment (which is shared between test threads).
    pub fn load_with_env(
        flag_file: Option<&FlagFileArg>,
        file: Option<&Path>,
        flags: impl Provider,
        env: Env,
    ) -> Result<Loaded, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let mut ignored = Vec::new();
        if let Some(arg) = flag_file {
            let read = flag_file::FlagFile::read(arg)?;
            ignored = read.ignored().to_vec();
            figment = figment.merge(read);
        }
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only configuration keys: anything else under `BOLTD_` (such as credentials read
        // elsewhere) is not configuration and must not trip `deny_unknown_fields`.
        let keys = Config::keys();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let figment = figment.merge(env.only(&keys)).merge(flags);
        let config: Config = figment.extract().map_err(invalid)?;
        config.validate()?;
        Ok(Loaded { config, ignored })
    }

    /// Every setting's key, derived from the fields.
    pub fn keys() -> Vec<String> {
        Config::default().to_dict().into_keys().collect()
    }

    /// The settings as figment values, keyed like every layer.
    pub fn to_dict(&self) -> Dict {
        match Value::serialize(self) {
            Ok(Value::Dict(_, dict)) => dict,
            // A struct of plain values always serializes to a dictionary.
            _ => Dict::new(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match (&self.bolt_cert_file, &self.bolt_key_file) {
            (Some(cert), None) => {
                return Err(ConfigError::HalfTls {
                    set: "cert",
                    missing: "key",
                    value: cert.display().to_string(),
                })
            }
            (None, Some(key)) => {
                return Err(ConfigError::HalfTls {
                    set: "key",
                    missing: "cert",
                    value: key.display().to_string(),
                })
            }
            _ => {}
        }
        if self.storage_wal_file_flush_every_n_tx == 0 {
            return Err(ConfigError::Invalid(
                "--storage-wal-file-flush-every-n-tx must be at least 1 (1 syncs every commit)"
                    .to_owned(),
            ));
        }
        if self.storage_snapshot_retention_count == 0 {
            return Err(ConfigError::Invalid(
                "--storage-snapshot-retention-count must be at least 1".to_owned(),
            ));
        }
        let client_auth = self.bolt_client_auth;
        if client_auth != ClientAuth::None && self.bolt_ca_file.is_none() {
            return Err(ConfigError::Invalid(format!(
                "--bolt-client-auth={} needs --bolt-ca-file: the CAs that sign client certificates",
                client_auth.as_str()
            )));
        }
        if client_auth == ClientAuth::None && self.bolt_ca_file.is_some() {
            return Err(ConfigError::Invalid(
                "--bolt-ca-file is set but --bolt-client-auth is none, so it would be ignored: \
                 set --bolt-client-auth=optional or require"
                    .to_owned(),
            ));
        }
        if client_auth != ClientAuth::None && self.bolt_cert_file.is_none() {
            return Err(ConfigError::Invalid(
                "--bolt-client-auth needs TLS: set --bolt-cert-file and --bolt-key-file".to_owned(),
            ));
        }
        if self.bolt_tls_watch && self.bolt_cert_file.is_none() {
            return Err(ConfigError::Invalid(
                "--bolt-tls-watch needs --bolt-cert-file and --bolt-key-file: there is nothing to watch"
                    .to_owned(),
            ));
        }
        if self.bolt_num_workers == 0 {
            return Err(ConfigError::Invalid(
                "--bolt-num-workers must be at least 1".to_owned(),
            ));
        }
        if !self.bolt_advertised_address.is_empty() {
            if let Err(reason) = check_advertised_address(&self.bolt_advertised_address) {
                return Err(ConfigError::Invalid(format!(
                    "--bolt-advertised-address must be HOST:PORT, such as db.example.com:7687 \
                     or [::1]:7687, got {:?}: {reason}",
                    self.bolt_advertised_address
                )));
            }
        }
        for (flag, secs) in [
            (
                "--bolt-tls-handshake-timeout",
                self.bolt_tls_handshake_timeout,
            ),
            ("--bolt-handshake-timeout", self.bolt_handshake_timeout),
        ] {
            if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
                return Err(ConfigError::Invalid(format!(
                    "{flag} must be a number of seconds between 0 and 86400, got {secs}"
                )));
            }
        }
        Ok(())
    }

    /// The TLS settings when TLS is configured.
    pub fn tls_settings(&self) -> Option<TlsSettings> {
        let (Some(cert), Some(key)) = (&self.bolt_cert_file, &self.bolt_key_file) else {
            return None;
        };
        let optional_text = |s: &String| (!s.is_empty()).then(|| s.clone());
        Some(TlsSettings {
            cert: cert.clone(),
            key: key.clone(),
            refuse_expired: self.bolt_tls_refuse_expired,
            expiry_warning_days: self.bolt_tls_expiry_warning_days,
            min_version: self.bolt_tls_min_version,
            ciphers: optional_text(&self.bolt_tls_ciphers),
            ciphersuites: optional_text(&self.bolt_tls_ciphersuites),
            ca_file: self.bolt_ca_file.clone(),
            client_auth: self.bolt_client_auth,
            key_password_file: self.bolt_key_password_file.clone(),
            key_password: self.bolt_key_password.as_ref().map(|s| s.0.clone()),
        })
    }

    /// What one client may use: the session limits.
    pub fn limits(&self) -> Limits {
        Limits {
            auth_timeout: Duration::from_secs_f64(self.bolt_auth_timeout),
            inactivity_timeout: (self.bolt_session_inactivity_timeout > 0)
                .then(|| Duration::from_secs(self.bolt_session_inactivity_timeout)),
            max_message: self.bolt_max_message_size,
            max_message_unauthenticated: self.bolt_max_message_size_unauthenticated,
        }
    }

    /// How the graph is kept on disk.
    pub fn durability(&self) -> Durability {
        Durability {
            data_dir: self.data_dir(),
            wal_enabled: self.storage_wal_enabled,
            flush_every: self.storage_wal_file_flush_every_n_tx.max(1),
            segment_bytes: self.storage_wal_file_size_kib.saturating_mul(1024),
            snapshot_interval: (self.storage_snapshot_interval_sec > 0)
                .then(|| Duration::from_secs(self.storage_snapshot_interval_sec)),
            snapshot_on_exit: self.storage_snapshot_on_exit,
            retention: self.storage_snapshot_retention_count.max(1),
            recover: self.data_recovery_on_startup,
        }
    }

    /// The data directory: the configured one, or a per-user default.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_directory {
            return dir.clone();
        }
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(xdg) = var("XDG_DATA_HOME") {
            return PathBuf::from(xdg).join("boltd");
        }
        if let Some(home) = var("HOME") {
            return PathBuf::from(home).join(".local/share/boltd");
        }
        PathBuf::from("/var/lib/boltd")
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.bolt_tls_handshake_timeout)
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.bolt_handshake_timeout)
    }
}

/// Checks an advertised address: `HOST:PORT` with a port, and an IPv6 host in brackets. Drivers
/// split what ROUTE gives them at the last colon and connect to exactly that, so a value they
/// cannot use must stop the server at start rather than break every neo4j:// client later.
fn check_advertised_address(text: &str) -> Result<(), String> {
    if text.contains("://") {
        return Err("give the address alone, without a scheme such as bolt://".to_owned());
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (ip, port) = rest
            .split_once("]:")
            .ok_or("an IPv6 address is written [ADDRESS]:PORT")?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{ip:?} is not an IPv6 address"))?;
        (ip, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or("the port is missing")?;
        if host.contains(':') {
            return Err("write an IPv6 address in brackets, as in [::1]:7687".to_owned());
        }
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if host.is_empty() || !host.chars().all(name_char) {
            return Err(format!("{host:?} is not a host name or an IP address"));
        }
        (host, port)
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!(
            "{port:?} is not a port number (1-65535) after {host:?}"
        )),
    }
}

/// Figment's message, except for a setting's own parse error: that one already names the flag
/// and the value (it starts with the flag), and is reported alone, as it always was.
fn invalid(e: figment::Error) -> ConfigError {
    match &e.kind {
        figment::error::Kind::Message(msg) if msg.starts_with("--") => {
            ConfigError::Invalid(msg.clone())
        }
        _ => ConfigError::Invalid(e.to_string()),
    }
}

/// A path flag's value as clap hands it over. Unlike clap's own path parser this accepts an
/// empty value, which means "unset" (`--bolt-cert-file=` clears a file layer's certificate).
fn path(text: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(text))
}

/// A path from any layer; empty means unset.
fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(PathBuf::from))
}

/// A setting written as text in every layer (flag, TOML, environment) and parsed once, by one
/// set of rules whose errors name the flag and the value.
trait Setting: Sized {
    fn parse(text: &str) -> Result<Self, String>;
    /// The canonical spelling, which `parse` accepts.
    fn text(&self) -> String;
}

/// Serde for [`Setting`]s, so that every layer goes through `Setting::parse`.
mod as_text {
    use super::*;

    pub fn serialize<T: Setting, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.text())
    }

    pub fn deserialize<'de, T: Setting, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Setting for Version {
    fn parse(v: &str) -> Result<Self, String> {
        let parsed = v
            .trim()
            .split_once('.')
            .and_then(|(a, b)| Some(Version::new(a.parse().ok()?, b.parse().ok()?)));
        match parsed {
            Some(version) if SUPPORTED.contains(&version) => Ok(version),
            _ => Err(format!(
                "--bolt-max-version must be one of {}, got {v:?}",
                SUPPORTED
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl Setting for MinVersion {
    fn parse(v: &str) -> Result<Self, String> {
        match v.trim() {
            "1.2" | "TLSv1.2" => Ok(MinVersion::Tls12),
            "1.3" | "TLSv1.3" => Ok(MinVersion::Tls13),
            other => Err(format!(
                "--bolt-tls-min-version must be 1.2 or 1.3, got {other:?}"
            )),
        }
    }

    fn text(&self) -> String {
        match self {
            MinVersion::Tls12 => "1.2",
            MinVersion::Tls13 => "1.3",
        }
        .to_owned()
    }
}

impl Setting for ClientAuth {
    fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "optional" => Ok(ClientAuth::Optional),
            "require" | "required" => Ok(ClientAuth::Require),
            _ => Err(format!(
                "--bolt-client-auth must be none, optional or require, got {v:?}"
            )),
        }
    }

    fn text(&self) -> String {
        self.as_str().to_owned()
    }
}

impl Setting for LogLevel {
    fn parse(v: &str) -> Result<Self, String> {
        crate::logging::parse_level(v).map(LogLevel)
    }

    fn text(&self) -> String {
        self.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use std::io::Write;

    fn no_env() -> Env {
        Env::prefixed("BOLTD_TEST_NEVER_SET_")
    }

    /// The command line `boltd ARGS...`.
    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("boltd").chain(args.iter().copied())).unwrap()
    }

    /// Loads as `main` does, but with `--flag-file` only (never the process's
    /// MEMGRAPH_CONFIG, which other tests' jails may set).
    fn load(cli: &Cli) -> Result<Config, ConfigError> {
        let flag_file = cli.flag_file_with_env(None);
        Config::load(flag_file.as_ref(), cli.config.as_deref(), cli.flags()).map(|l| l.config)
    }

    fn load_with_env(cli: &Cli, env: Env) -> Result<Config, ConfigError> {
        let flag_file = cli.flag_file_with_env(None);
        Config::load_with_env(flag_file.as_ref(), cli.config.as_deref(), cli.flags(), env)
            .map(|l| l.config)
    }

    #[test]
    fn every_default_parses_and_every_key_is_listed() {
        let defaults = Config::default();
        assert_eq!(defaults.bolt_max_version, Version::new(5, 4));
        assert_eq!(defaults.bolt_client_auth, ClientAuth::None);
        assert_eq!(defaults.log_level, "info");
        let keys = Config::keys();
        // 31 before the seven durability settings, 38 before the advertised address and the
        // monitoring address and port.
        assert_eq!(keys.len(), 41, "{keys:?}");
        assert!(
            keys.iter()
                .any(|k| k == "storage_wal_file_flush_every_n_tx"),
            "{keys:?}"
        );
        assert!(keys.iter().any(|k| k == "bolt_key_password"), "{keys:?}");
    }

    #[test]
    fn durability_flags_take_memgraphs_forms() {
        let c = load(&cli(&[
            "--storage-wal-enabled=false",
            "--storage-snapshot-on-exit",
            "--storage-recover-on-startup=false",
            "--storage-wal-file-flush-every-n-tx=1000",
        ]))
        .unwrap();
        assert!(!c.storage_wal_enabled);
        assert!(c.storage_snapshot_on_exit);
        assert!(!c.data_recovery_on_startup);
        let d = c.durability();
        assert_eq!(d.flush_every, 1000);
        assert_eq!(d.segment_bytes, 20480 * 1024);
        assert_eq!(d.snapshot_interval, Some(Duration::from_secs(300)));
        let defaults = Config::default();
        assert!(defaults.storage_wal_enabled && defaults.data_recovery_on_startup);
        assert_eq!(defaults.storage_wal_file_flush_every_n_tx, 1);
        assert!(load(&cli(&["--storage-wal-file-flush-every-n-tx=0"])).is_err());
    }

    #[test]
    fn empty_paths_mean_unset_in_every_layer() {
        let c = load_with_env(&cli(&["--bolt-cert-file=", "--log-file="]), no_env()).unwrap();
        assert_eq!(c.bolt_cert_file, None);
        assert_eq!(c.log_file, None);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "bolt_ca_file = \"\"\ndata_directory = \"\"").unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        let c = load_with_env(&cli(&["--config", &path]), no_env()).unwrap();
        assert_eq!(c.bolt_ca_file, None);
        assert_eq!(c.data_directory, None);
    }

    #[test]
    fn defaults_match_memgraph() {
        let c = load_with_env(&cli(&[]), no_env()).unwrap();
        assert_eq!(c.bolt_address, "0.0.0.0");
        assert_eq!(c.bolt_port, 7687);
        assert!(c.bolt_server_name_for_init.starts_with("Neo4j/"));
        assert!(c.tls_settings().is_none());
        assert!(c.bolt_num_workers >= 1);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn layers_apply_in_order() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "bolt_port = 1111\nbolt_address = \"127.0.0.2\"\nlog_level = \"debug\""
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOLTD_BOLT_PORT", "2222");
            jail.set_env("BOLTD_USER", "not configuration");
            let path = file.path().to_str().unwrap();
            let cli = cli(&["--config", path, "--log-level", "warning"]);
            let c = load(&cli).unwrap();
            assert_eq!(c.bolt_address, "127.0.0.2", "file beats defaults");
            assert_eq!(c.bolt_port, 2222, "env beats file");
            assert_eq!(c.log_level, "warning", "flag beats file");
            let cli = self::cli(&["--config", path, "--bolt-port", "3333"]);
            assert_eq!(load(&cli).unwrap().bolt_port, 3333, "flag beats env");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn flag_file_is_below_toml_env_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let flag_file = dir.path().join("memgraph.conf");
        std::fs::write(
            &flag_file,
            "--bolt-address=127.0.0.3\n--bolt-max-connections=10\n--bolt-port=1000\n\
             --log-level=DEBUG\n--telemetry-enabled=false\n",
        )
        .unwrap();
        let toml = dir.path().join("boltd.toml");
        std::fs::write(
            &toml,
            "bolt_max_connections = 20\nbolt_port = 2000\nlog_level = \"error\"",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOLTD_BOLT_PORT", "3000");
            jail.set_env("BOLTD_LOG_LEVEL", "warning");
            let (flag_file, toml) = (flag_file.to_str().unwrap(), toml.to_str().unwrap());
            let cli = cli(&[
                "--flag-file",
                flag_file,
                "--config",
                toml,
                "--log-level=trace",
            ]);
            let arg = cli.flag_file_with_env(None).unwrap();
            let loaded = Config::load(Some(&arg), cli.config.as_deref(), cli.flags()).unwrap();
            let c = &loaded.config;
            assert_eq!(c.bolt_address, "127.0.0.3", "flag file beats defaults");
            assert_eq!(c.bolt_max_connections, 20, "TOML beats flag file");
            assert_eq!(c.bolt_port, 3000, "env beats TOML and flag file");
            assert_eq!(c.log_level, "trace", "flags beat everything");
            assert_eq!(loaded.ignored.len(), 1);
            assert_eq!(loaded.ignored[0].flags, ["--telemetry-enabled"]);
            // Without the others, the flag file's own values.
            let cli = self::cli(&["--flag-file", flag_file]);
            let only = load_with_env(&cli, no_env()).unwrap();
            assert_eq!((only.bolt_port, only.bolt_max_connections), (1000, 10));
            assert_eq!(only.log_level, "debug");
            Ok(())
        });
    }

    #[test]
    fn flag_file_mistakes_are_configuration_errors() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "--bolt-port=7687\n--bolt-cert-file=/etc/memgraph/ssl/cert.pem"
        )
        .unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        // The merged settings are still validated: a certificate needs its key.
        let err = load_with_env(&cli(&["--flag-file", &path]), no_env()).unwrap_err();
        assert!(matches!(err, ConfigError::HalfTls { .. }), "{err}");
        writeln!(file, "--bolt-prot=1").unwrap();
        let err = load_with_env(&cli(&["--flag-file", &path]), no_env()).unwrap_err();
        assert!(matches!(err, ConfigError::FlagFile(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("{path}:3: unknown flag --bolt-prot")),
            "{err}"
        );
    }

    #[test]
    fn shipped_default_file_loads_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/boltd.toml");
        let cli = cli(&["--config", path.to_str().unwrap()]);
        let loaded = load_with_env(&cli, no_env()).unwrap();
        assert_eq!(loaded, Config::default());
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let cli = cli(&["--config", "/nonexistent/boltd.toml"]);
        let err = load_with_env(&cli, no_env()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/boltd.toml"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "bolt_prot = 1").unwrap();
        let cli = cli(&["--config", file.path().to_str().unwrap()]);
        let err = load_with_env(&cli, no_env()).unwrap_err();
        assert!(err.to_string().contains("bolt_prot"), "{err}");
    }

    #[test]
    fn half_tls_names_the_missing_flag() {
        let cli = self::cli(&["--bolt-cert-file", "/etc/boltd/cert.pem"]);
        let err = load_with_env(&cli, no_env()).unwrap_err().to_string();
        assert!(err.contains("--bolt-key-file is not"), "{err}");
        let cli = self::cli(&["--bolt-key-file", "/etc/boltd/key.pem"]);
        let err = load_with_env(&cli, no_env()).unwrap_err().to_string();
        assert!(err.contains("--bolt-cert-file is not"), "{err}");
    }

    #[test]
    fn tls_policy_values_are_checked() {
        // A bad flag value is clap's error (naming the flag and the value, with our reason); the
        // same value from the file or the environment is ours.
        let tls = |flags: &[&str]| {
            let args = [
                "boltd",
                "--bolt-cert-file",
                "c.pem",
                "--bolt-key-file",
                "k.pem",
            ];
            let cli = Cli::try_parse_from(args.iter().chain(flags)).map_err(|e| e.to_string())?;
            load_with_env(&cli, no_env()).map_err(|e| e.to_string())
        };
        assert!(tls(&["--bolt-tls-min-version", "1.1"])
            .unwrap_err()
            .contains("\"1.1\""));
        assert!(tls(&["--bolt-client-auth", "maybe"])
            .unwrap_err()
            .contains("maybe"));
        assert!(tls(&["--bolt-client-auth", "require"])
            .unwrap_err()
            .contains("--bolt-ca-file"));
        assert!(tls(&["--bolt-ca-file", "ca.pem"])
            .unwrap_err()
            .contains("--bolt-client-auth"));
        let ok = tls(&[
            "--bolt-client-auth",
            "require",
            "--bolt-ca-file",
            "ca.pem",
            "--bolt-tls-min-version",
            "1.3",
        ])
        .unwrap();
        let settings = ok.tls_settings().unwrap();
        assert_eq!(settings.client_auth, ClientAuth::Require);
        assert_eq!(settings.min_version, MinVersion::Tls13);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn key_password_comes_from_the_environment_and_is_never_printed() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOLTD_BOLT_KEY_PASSWORD", "hunter2");
            let c = load(&cli(&[])).unwrap();
            assert_eq!(c.bolt_key_password, Some(Secret("hunter2".into())));
            assert!(!format!("{c:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn advertised_address_must_be_host_and_port() {
        for good in [
            "db.example.com:7687",
            "10.0.0.5:17687",
            "[::1]:7687",
            "[2001:db8::1]:7687",
            "my_host-1:1",
        ] {
            let cli = self::cli(&["--bolt-advertised-address", good]);
            let c = load_with_env(&cli, no_env()).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(c.bolt_advertised_address, good);
        }
        for (bad, why) in [
            ("db.example.com", "the port is missing"),
            ("db.example.com:", "is not a port number"),
            ("db.example.com:0", "is not a port number"),
            ("db.example.com:70000", "is not a port number"),
            (":7687", "is not a host name"),
            ("::1:7687", "in brackets"),
            ("[::1]", "[ADDRESS]:PORT"),
            ("[db.example.com]:7687", "is not an IPv6 address"),
            ("db example:7687", "is not a host name"),
            ("bolt://db:7687", "without a scheme"),
        ] {
            let cli = self::cli(&["--bolt-advertised-address", bad]);
            let err = load_with_env(&cli, no_env()).unwrap_err().to_string();
            assert!(err.contains("--bolt-advertised-address"), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
        // Empty means unset, in the file as on the command line.
        let c = load_with_env(&cli(&["--bolt-advertised-address="]), no_env()).unwrap();
        assert_eq!(c.bolt_advertised_address, "");
    }

    #[test]
    fn bad_numbers_are_rejected() {
        let cli = self::cli(&["--bolt-tls-handshake-timeout=-1"]);
        assert!(load_with_env(&cli, no_env()).is_err());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "log_level = \"loud\"").unwrap();
        let cli = self::cli(&["--config", file.path().to_str().unwrap()]);
        assert!(load_with_env(&cli, no_env()).is_err());
        assert!(Cli::try_parse_from(["boltd", "--log-level", "loud"]).is_err());
    }

    #[test]
    fn a_bad_value_in_the_file_is_reported_as_before() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "bolt_tls_min_version = \"1.1\"").unwrap();
        let cli = cli(&["--config", file.path().to_str().unwrap()]);
        let err = load_with_env(&cli, no_env()).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid configuration: --bolt-tls-min-version must be 1.2 or 1.3, got \"1.1\""
        );
    }
}
