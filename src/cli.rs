//! The command line: the subcommands, `--config`, `--flag-file`, and the settings' flags
//! (declared on [`Config`], flattened here).
//!
//! clap fills every setting, with its default when the flag is absent; only the flags the user
//! actually typed may override the lower layers (file, environment). So the parse also records
//! which settings came from the command line, and [`Cli::flags`] hands figment those alone.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use figment::providers::Serialized;
use figment::value::Dict;

use crate::config::{Config, FlagFileArg, MEMGRAPH_CONFIG};

/// What clap parses. Private: building a [`Cli`] must go through [`Cli::parse`] or
/// [`Cli::try_parse_from`], which also record which flags were typed.
#[derive(Debug, Parser)]
#[command(
    name = "boltd",
    version,
    about = "A Bolt graph database server with OpenSSL TLS and live certificate reload.",
    long_about = "A Bolt graph database server with OpenSSL TLS and live certificate reload.\n\n\
        Settings are layered, later wins: built-in defaults < Memgraph's flag file (--flag-file \
        or MEMGRAPH_CONFIG) < the TOML file given by --config < BOLTD_* environment variables \
        (e.g. BOLTD_BOLT_PORT) < these flags."
)]
struct Args {
    /// Tools instead of the server (`boltd cert ...`).
    #[command(subcommand)]
    command: Option<Command>,

    /// TOML configuration file (see conf/boltd.toml). A named file that does not exist is an error.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Memgraph's configuration file (memgraph.conf: one --name=value a line); read below the
    /// TOML file. Memgraph flags boltd does not implement are accepted with a warning. Without
    /// it, the MEMGRAPH_CONFIG environment variable names the file.
    #[arg(long, value_name = "FILE")]
    flag_file: Option<PathBuf>,

    #[command(flatten)]
    settings: Config,
}

/// The parsed command line.
#[derive(Debug)]
pub struct Cli {
    /// Tools instead of the server.
    pub command: Option<Command>,
    /// `--config`: the TOML layer.
    pub config: Option<PathBuf>,
    /// `--flag-file`: the Memgraph flag file layer (see [`Cli::flag_file`]).
    flag_file: Option<PathBuf>,
    /// Every setting as clap filled it: typed values and defaults alike.
    settings: Config,
    /// The keys of the settings typed on the command line; only these override other layers.
    typed: BTreeSet<String>,
}

/// Subcommands; without one, boltd runs the server.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Certificate tools: generate a self-signed pair, inspect a certificate file.
    Cert {
        #[command(subcommand)]
        command: crate::cert::CertCommand,
    },
    /// Load generator: TLS handshakes, Bolt round trips, connection storms, reloads under load,
    /// and any Cypher query against any Bolt server. Boxed: its many flags would make every
    /// `Command` as large as itself.
    Bench(Box<crate::bench::BenchArgs>),
}

impl Cli {
    /// Parses the process's arguments; on a mistake (or `--help`), prints and exits as clap does.
    pub fn parse() -> Cli {
        Self::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first is the program name).
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Args::command().try_get_matches_from(args)?;
        let typed = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_owned())
            .collect();
        let args = Args::from_arg_matches(&matches)?;
        Ok(Cli {
            command: args.command,
            config: args.config,
            flag_file: args.flag_file,
            settings: args.settings,
            typed,
        })
    }

    /// The Memgraph flag file to read: `--flag-file`, else the file `MEMGRAPH_CONFIG` names.
    pub fn flag_file(&self) -> Option<FlagFileArg> {
        self.flag_file_with_env(std::env::var_os(MEMGRAPH_CONFIG))
    }

    /// As [`Cli::flag_file`] with `MEMGRAPH_CONFIG`'s value given, for tests.
    pub fn flag_file_with_env(&self, memgraph_config: Option<OsString>) -> Option<FlagFileArg> {
        FlagFileArg::choose(self.flag_file.clone(), memgraph_config)
    }

    /// The figment layer of the settings typed on the command line.
    pub fn flags(&self) -> Serialized<Dict> {
        let mut typed = self.settings.to_dict();
        typed.retain(|key, _| self.typed.contains(key));
        Serialized::defaults(typed)
    }
}
