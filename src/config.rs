//! Configuration: command-line flags with Memgraph's names, layered with figment.
//!
//! Layers, later wins: built-in defaults < the TOML file named by `--config` < `BOLTD_*`
//! environment variables < command-line flags. Keys are the flag names with underscores
//! (`--bolt-port` is `bolt_port` in TOML and `BOLTD_BOLT_PORT` in the environment).
//!
//! Validation that needs only the configuration (both TLS files or neither, sane numbers) happens
//! here, so that a mistake is reported before anything is bound or loaded.

#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::bolt::handshake::{Version, NEWEST, SUPPORTED};
use crate::tls::{ClientAuth, MinVersion, TlsSettings};

/// Memgraph's default `--bolt-server-name-for-init`. The neo4j Python 5.x and Java drivers refuse
/// a server whose agent does not start with `Neo4j/`, so the default must keep that prefix.
pub const DEFAULT_SERVER_NAME: &str = "Neo4j/v5.11.0 compatible graph database server - Memgraph";

/// The server's settings after all layers are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// IP address on which the Bolt server listens.
    pub bolt_address: String,
    /// Port on which the Bolt server listens (0 picks a free port).
    pub bolt_port: u16,
    /// PEM certificate chain, leaf first. Empty with an empty key file means plaintext.
    pub bolt_cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching the certificate.
    pub bolt_key_file: String,
    /// Tokio worker threads serving connections and queries.
    pub bolt_num_workers: usize,
    /// The `server` agent sent in the HELLO SUCCESS; left out when empty.
    pub bolt_server_name_for_init: String,
    /// Seconds a client has to complete the TLS handshake after connecting.
    pub bolt_tls_handshake_timeout: f64,
    /// Seconds a client has to send the 20-byte Bolt handshake.
    pub bolt_handshake_timeout: f64,
    /// Seconds a client has, after the Bolt handshake, to authenticate (HELLO, and LOGON on 5.1+).
    pub bolt_auth_timeout: f64,
    /// Newest Bolt version offered, "major.minor" (to pin clients to an older protocol).
    pub bolt_max_version: String,
    /// Seconds an authenticated session may stay silent before it is closed; 0 disables.
    pub bolt_session_inactivity_timeout: u64,
    /// Largest message (bytes) accepted from an authenticated client.
    pub bolt_max_message_size: usize,
    /// Largest message (bytes) accepted before authentication.
    pub bolt_max_message_size_unauthenticated: usize,
    /// Most connections open at once; further ones are closed at once.
    pub bolt_max_connections: usize,
    /// Seconds one query may run before it is stopped with an error; 0 disables.
    pub query_execution_timeout_sec: u64,
    /// MiB of heap above which queries are stopped; 0 means 90% of physical memory.
    pub memory_limit: usize,
    /// Lowest TLS version: "1.2" or "1.3".
    pub bolt_tls_min_version: String,
    /// TLS 1.2 cipher list in OpenSSL syntax; empty keeps the system's default.
    pub bolt_tls_ciphers: String,
    /// TLS 1.3 cipher suites in OpenSSL syntax; empty keeps the system's default.
    pub bolt_tls_ciphersuites: String,
    /// PEM bundle of the CAs that sign client certificates.
    pub bolt_ca_file: String,
    /// "none", "optional" or "require": whether clients must present a certificate.
    pub bolt_client_auth: String,
    /// File holding the passphrase of an encrypted private key.
    pub bolt_key_password_file: String,
    /// The passphrase itself; only from the environment (BOLTD_BOLT_KEY_PASSWORD) or the file
    /// layer, never a flag, because command lines are visible to every user of the machine.
    pub bolt_key_password: Option<Secret>,
    /// Warn when the certificate expires within this many days (at start-up and each reload).
    pub bolt_tls_expiry_warning_days: u32,
    /// Make an expired certificate a load error instead of serving it with an error log.
    pub bolt_tls_refuse_expired: bool,
    /// Reload automatically when the certificate or key file changes.
    pub bolt_tls_watch: bool,
    /// IP address of the Prometheus metrics endpoint.
    pub metrics_address: String,
    /// Port of the metrics endpoint; unset means no metrics endpoint.
    pub metrics_port: Option<u16>,
    /// Where users, roles and privileges are kept; empty means the default location (see
    /// `Config::data_dir`).
    pub data_directory: String,
    /// trace, debug, info, warning, error or critical.
    pub log_level: String,
    /// Append logs to this file instead of standard error when set.
    pub log_file: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bolt_address: "0.0.0.0".to_owned(),
            bolt_port: 7687,
            bolt_cert_file: String::new(),
            bolt_key_file: String::new(),
            bolt_num_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            bolt_server_name_for_init: DEFAULT_SERVER_NAME.to_owned(),
            bolt_tls_handshake_timeout: 10.0,
            bolt_handshake_timeout: 10.0,
            bolt_auth_timeout: 30.0,
            bolt_max_version: "5.4".to_owned(),
            bolt_session_inactivity_timeout: 0,
            bolt_max_message_size: 256 * 1024 * 1024,
            bolt_max_message_size_unauthenticated: 64 * 1024,
            bolt_max_connections: 10_000,
            query_execution_timeout_sec: 600,
            memory_limit: 0,
            bolt_tls_min_version: "1.2".to_owned(),
            bolt_tls_ciphers: String::new(),
            bolt_tls_ciphersuites: String::new(),
            bolt_ca_file: String::new(),
            bolt_client_auth: "none".to_owned(),
            bolt_key_password_file: String::new(),
            bolt_key_password: None,
            bolt_tls_expiry_warning_days: 30,
            bolt_tls_refuse_expired: false,
            bolt_tls_watch: false,
            metrics_address: "0.0.0.0".to_owned(),
            metrics_port: None,
            data_directory: String::new(),
            log_level: "info".to_owned(),
            log_file: String::new(),
        }
    }
}

/// The keys an environment variable may set; anything else under `BOLTD_` (such as credentials
/// read elsewhere) is not configuration and must not trip `deny_unknown_fields`.
const CONFIG_KEYS: &[&str] = &[
    "bolt_address",
    "bolt_port",
    "bolt_cert_file",
    "bolt_key_file",
    "bolt_num_workers",
    "bolt_server_name_for_init",
    "bolt_tls_handshake_timeout",
    "bolt_handshake_timeout",
    "bolt_auth_timeout",
    "bolt_max_version",
    "bolt_session_inactivity_timeout",
    "bolt_max_message_size",
    "bolt_max_message_size_unauthenticated",
    "bolt_max_connections",
    "query_execution_timeout_sec",
    "memory_limit",
    "bolt_tls_min_version",
    "bolt_tls_ciphers",
    "bolt_tls_ciphersuites",
    "bolt_ca_file",
    "bolt_client_auth",
    "bolt_key_password_file",
    "bolt_key_password",
    "bolt_tls_expiry_warning_days",
    "bolt_tls_refuse_expired",
    "bolt_tls_watch",
    "metrics_address",
    "metrics_port",
    "data_directory",
    "log_level",
    "log_file",
];

/// Command-line flags. Every setting is optional here so that only the flags a user actually
/// typed override the lower layers.
#[derive(Debug, Default, Parser, Serialize)]
#[command(
    name = "boltd",
    version,
    about = "A Bolt graph database server with OpenSSL TLS and live certificate reload.",
    long_about = "A Bolt graph database server with OpenSSL TLS and live certificate reload.\n\n\
        Settings are layered, later wins: built-in defaults < the TOML file given by --config < \
        BOLTD_* environment variables (e.g. BOLTD_BOLT_PORT) < these flags."
)]
pub struct Cli {
    /// Tools instead of the server (`boltd cert ...`).
    #[command(subcommand)]
    #[serde(skip)]
    pub command: Option<Command>,

    /// TOML configuration file (see conf/boltd.toml). A named file that does not exist is an error.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// IP address on which the Bolt server should listen. [default: 0.0.0.0]
    #[arg(long, value_name = "ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_address: Option<String>,

    /// Port on which the Bolt server should listen. [default: 7687]
    #[arg(long, value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_port: Option<u16>,

    /// Certificate file (PEM chain, leaf first) which should be used for the Bolt server. With
    /// --bolt-key-file, the port serves TLS only. [default: empty, plaintext]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_cert_file: Option<String>,

    /// Key file (PEM: PKCS#8, PKCS#1 or SEC1) which should be used for the Bolt server.
    /// [default: empty, plaintext]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_key_file: Option<String>,

    /// Number of workers used by the Bolt server. By default, this will be the number of
    /// processing units available on the machine.
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_num_workers: Option<usize>,

    /// Server name which the database should send to the client in the Bolt INIT message.
    /// Keep the "Neo4j/" prefix: neo4j 5.x drivers refuse other servers.
    /// [default: "Neo4j/v5.11.0 compatible graph database server - Memgraph"]
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_server_name_for_init: Option<String>,

    /// Seconds a client has to complete the TLS handshake; slower peers are disconnected.
    /// [default: 10]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_handshake_timeout: Option<f64>,

    /// Seconds a client has to send the Bolt handshake (magic and version proposals).
    /// [default: 10]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_handshake_timeout: Option<f64>,

    /// Seconds a client has, after the Bolt handshake, to authenticate (HELLO, and LOGON on
    /// Bolt 5.1+). [default: 30]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_auth_timeout: Option<f64>,

    /// Newest Bolt version to agree to, e.g. 4.4 to keep every client on Bolt 4. [default: 5.4]
    #[arg(long, value_name = "VERSION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_max_version: Option<String>,

    /// Time in seconds after which inactive Bolt sessions will be closed; 0 disables (as in
    /// Memgraph 3.x, which has no inactivity timeout). [default: 0]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_session_inactivity_timeout: Option<u64>,

    /// Largest message in bytes accepted from an authenticated client. [default: 268435456]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_max_message_size: Option<usize>,

    /// Largest message in bytes accepted before authentication. [default: 65536]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_max_message_size_unauthenticated: Option<usize>,

    /// Most Bolt connections open at once; beyond it new connections are closed at once and a
    /// warning is logged. [default: 10000]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_max_connections: Option<usize>,

    /// Seconds one query may run (matching, updating, sorting) before it is stopped with an
    /// error and its transaction can only be rolled back; 0 disables. Memgraph's flag and
    /// default. [default: 600]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_execution_timeout_sec: Option<u64>,

    /// Heap in MiB above which queries are stopped with an error (their transaction rolled back)
    /// instead of the server running out of memory; 0 means 90% of physical memory. Memgraph's
    /// flag and default. [default: 0]
    #[arg(long, value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<usize>,

    /// Lowest TLS version accepted: 1.2 or 1.3. [default: 1.2]
    #[arg(long, value_name = "VERSION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_min_version: Option<String>,

    /// TLS 1.2 cipher list (OpenSSL syntax, e.g. ECDHE+AESGCM). [default: the system's]
    #[arg(long, value_name = "LIST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_ciphers: Option<String>,

    /// TLS 1.3 cipher suites (OpenSSL syntax, e.g. TLS_AES_256_GCM_SHA384).
    /// [default: the system's]
    #[arg(long, value_name = "LIST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_ciphersuites: Option<String>,

    /// PEM bundle of the CAs that sign client certificates; re-read by RELOAD BOLT_SERVER TLS.
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_ca_file: Option<String>,

    /// Client certificates: none, optional (verified if sent) or require. [default: none]
    #[arg(long, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_client_auth: Option<String>,

    /// File holding the passphrase of an encrypted private key (or set BOLTD_BOLT_KEY_PASSWORD).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_key_password_file: Option<String>,

    /// Warn (at start-up and on each reload) when the certificate expires within this many days.
    /// [default: 30]
    #[arg(long, value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_expiry_warning_days: Option<u32>,

    /// Refuse to load an expired certificate (at start-up and on reload) instead of serving it
    /// with an error in the log. [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_refuse_expired: Option<bool>,

    /// Reload the certificate automatically when the certificate or key file changes (watches
    /// their directories, so rename-replace and Kubernetes secret updates are seen).
    /// [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bolt_tls_watch: Option<bool>,

    /// IP address of the Prometheus metrics endpoint. [default: 0.0.0.0]
    #[arg(long, value_name = "ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_address: Option<String>,

    /// Port of the Prometheus metrics endpoint (HTTPS with the Bolt certificate when TLS is on).
    /// [default: unset, no metrics endpoint]
    #[arg(long, value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,

    /// Directory for persistent state (users, roles, privileges).
    /// [default: $XDG_DATA_HOME/boltd, else ~/.local/share/boltd, else /var/lib/boltd]
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_directory: Option<String>,

    /// Minimum log level: trace, debug, info, warning, error or critical. [default: info]
    #[arg(long, value_name = "LEVEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,

    /// Append logs to this file instead of standard error. [default: empty, standard error]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
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

/// Subcommands; without one, boltd runs the server.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Certificate tools: generate a self-signed pair, inspect a certificate file.
    Cert {
        #[command(subcommand)]
        command: crate::cert::CertCommand,
    },
    /// Load generator: TLS handshakes, Bolt round trips, connection storms, reloads under load.
    Bench(crate::bench::BenchArgs),
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
}

impl Config {
    /// Merges the layers for `cli`, reading `BOLTD_*` from the process environment.
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        Self::load_with_env(cli, Env::prefixed("BOLTD_"))
    }

    /// As [`Config::load`] with an explicit environment provider, so tests need not mutate the
    /// process environment (which is shared between test threads).
    pub fn load_with_env(cli: &Cli, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &cli.config {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.clone()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment
            .merge(env.only(CONFIG_KEYS))
            .merge(Serialized::defaults(cli));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match (
            self.bolt_cert_file.is_empty(),
            self.bolt_key_file.is_empty(),
        ) {
            (false, true) => {
                return Err(ConfigError::HalfTls {
                    set: "cert",
                    missing: "key",
                    value: self.bolt_cert_file.clone(),
                })
            }
            (true, false) => {
                return Err(ConfigError::HalfTls {
                    set: "key",
                    missing: "cert",
                    value: self.bolt_key_file.clone(),
                })
            }
            _ => {}
        }
        parse_bolt_version(&self.bolt_max_version).map_err(ConfigError::Invalid)?;
        parse_min_version(&self.bolt_tls_min_version).map_err(ConfigError::Invalid)?;
        let client_auth =
            parse_client_auth(&self.bolt_client_auth).map_err(ConfigError::Invalid)?;
        if client_auth != ClientAuth::None && self.bolt_ca_file.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "--bolt-client-auth={} needs --bolt-ca-file: the CAs that sign client certificates",
                self.bolt_client_auth
            )));
        }
        if client_auth == ClientAuth::None && !self.bolt_ca_file.is_empty() {
            return Err(ConfigError::Invalid(
                "--bolt-ca-file is set but --bolt-client-auth is none, so it would be ignored: \
                 set --bolt-client-auth=optional or require"
                    .to_owned(),
            ));
        }
        if client_auth != ClientAuth::None && self.bolt_cert_file.is_empty() {
            return Err(ConfigError::Invalid(
                "--bolt-client-auth needs TLS: set --bolt-cert-file and --bolt-key-file".to_owned(),
            ));
        }
        if self.bolt_tls_watch && self.bolt_cert_file.is_empty() {
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
        crate::logging::parse_level(&self.log_level).map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// The TLS settings when TLS is configured.
    pub fn tls_settings(&self) -> Option<TlsSettings> {
        if self.bolt_cert_file.is_empty() {
            None
        } else {
            let optional_path = |p: &String| (!p.is_empty()).then(|| PathBuf::from(p));
            let optional_text = |s: &String| (!s.is_empty()).then(|| s.clone());
            Some(TlsSettings {
                cert: PathBuf::from(&self.bolt_cert_file),
                key: PathBuf::from(&self.bolt_key_file),
                refuse_expired: self.bolt_tls_refuse_expired,
                expiry_warning_days: self.bolt_tls_expiry_warning_days,
                // Both were validated by `validate`.
                min_version: parse_min_version(&self.bolt_tls_min_version)
                    .unwrap_or(MinVersion::Tls12),
                ciphers: optional_text(&self.bolt_tls_ciphers),
                ciphersuites: optional_text(&self.bolt_tls_ciphersuites),
                ca_file: optional_path(&self.bolt_ca_file),
                client_auth: parse_client_auth(&self.bolt_client_auth).unwrap_or(ClientAuth::None),
                key_password_file: optional_path(&self.bolt_key_password_file),
                key_password: self.bolt_key_password.as_ref().map(|s| s.0.clone()),
            })
        }
    }

    /// The data directory: the configured one, or a per-user default.
    pub fn data_dir(&self) -> PathBuf {
        if !self.data_directory.is_empty() {
            return PathBuf::from(&self.data_directory);
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

    /// The newest Bolt version to agree to (validated at load).
    pub fn newest_bolt(&self) -> Version {
        parse_bolt_version(&self.bolt_max_version).unwrap_or(NEWEST)
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.bolt_tls_handshake_timeout)
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.bolt_handshake_timeout)
    }
}

fn parse_bolt_version(v: &str) -> Result<Version, String> {
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

fn parse_min_version(v: &str) -> Result<MinVersion, String> {
    match v.trim() {
        "1.2" | "TLSv1.2" => Ok(MinVersion::Tls12),
        "1.3" | "TLSv1.3" => Ok(MinVersion::Tls13),
        other => Err(format!(
            "--bolt-tls-min-version must be 1.2 or 1.3, got {other:?}"
        )),
    }
}

fn parse_client_auth(v: &str) -> Result<ClientAuth, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(ClientAuth::None),
        "optional" => Ok(ClientAuth::Optional),
        "require" | "required" => Ok(ClientAuth::Require),
        _ => Err(format!(
            "--bolt-client-auth must be none, optional or require, got {v:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env() -> Env {
        Env::prefixed("BOLTD_TEST_NEVER_SET_")
    }

    #[test]
    fn defaults_match_memgraph() {
        let c = Config::load_with_env(&Cli::default(), no_env()).unwrap();
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
            let cli = Cli {
                config: Some(file.path().to_owned()),
                log_level: Some("warning".into()),
                ..Cli::default()
            };
            let c = Config::load(&cli).unwrap();
            assert_eq!(c.bolt_address, "127.0.0.2", "file beats defaults");
            assert_eq!(c.bolt_port, 2222, "env beats file");
            assert_eq!(c.log_level, "warning", "flag beats file");
            let cli = Cli {
                config: Some(file.path().to_owned()),
                bolt_port: Some(3333),
                ..Cli::default()
            };
            assert_eq!(
                Config::load(&cli).unwrap().bolt_port,
                3333,
                "flag beats env"
            );
            Ok(())
        });
    }

    #[test]
    fn shipped_default_file_loads_to_the_defaults() {
        let cli = Cli {
            config: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/boltd.toml")),
            ..Cli::default()
        };
        let loaded = Config::load_with_env(&cli, no_env()).unwrap();
        assert_eq!(loaded, Config::default());
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let cli = Cli {
            config: Some("/nonexistent/boltd.toml".into()),
            ..Cli::default()
        };
        let err = Config::load_with_env(&cli, no_env()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/boltd.toml"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "bolt_prot = 1").unwrap();
        let cli = Cli {
            config: Some(file.path().to_owned()),
            ..Cli::default()
        };
        let err = Config::load_with_env(&cli, no_env()).unwrap_err();
        assert!(err.to_string().contains("bolt_prot"), "{err}");
    }

    #[test]
    fn half_tls_names_the_missing_flag() {
        let cli = Cli {
            bolt_cert_file: Some("/etc/boltd/cert.pem".into()),
            ..Cli::default()
        };
        let err = Config::load_with_env(&cli, no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--bolt-key-file is not"), "{err}");
        let cli = Cli {
            bolt_key_file: Some("/etc/boltd/key.pem".into()),
            ..Cli::default()
        };
        let err = Config::load_with_env(&cli, no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--bolt-cert-file is not"), "{err}");
    }

    #[test]
    fn tls_policy_values_are_checked() {
        let tls = |f: fn(&mut Cli)| {
            let mut cli = Cli {
                bolt_cert_file: Some("c.pem".into()),
                bolt_key_file: Some("k.pem".into()),
                ..Cli::default()
            };
            f(&mut cli);
            Config::load_with_env(&cli, no_env()).map_err(|e| e.to_string())
        };
        assert!(tls(|c| c.bolt_tls_min_version = Some("1.1".into()))
            .unwrap_err()
            .contains("\"1.1\""));
        assert!(tls(|c| c.bolt_client_auth = Some("maybe".into()))
            .unwrap_err()
            .contains("maybe"));
        assert!(tls(|c| c.bolt_client_auth = Some("require".into()))
            .unwrap_err()
            .contains("--bolt-ca-file"));
        assert!(tls(|c| c.bolt_ca_file = Some("ca.pem".into()))
            .unwrap_err()
            .contains("--bolt-client-auth"));
        let ok = tls(|c| {
            c.bolt_client_auth = Some("require".into());
            c.bolt_ca_file = Some("ca.pem".into());
            c.bolt_tls_min_version = Some("1.3".into());
        })
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
            let c = Config::load(&Cli::default()).unwrap();
            assert_eq!(c.bolt_key_password, Some(Secret("hunter2".into())));
            assert!(!format!("{c:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn bad_numbers_are_rejected() {
        let cli = Cli {
            bolt_tls_handshake_timeout: Some(-1.0),
            ..Cli::default()
        };
        assert!(Config::load_with_env(&cli, no_env()).is_err());
        let cli = Cli {
            log_level: Some("loud".into()),
            ..Cli::default()
        };
        assert!(Config::load_with_env(&cli, no_env()).is_err());
    }
}
