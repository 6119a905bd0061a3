//! The server statements tools send, answered with Memgraph's columns: `SHOW CONFIG`,
//! `SHOW VERSION`, `SHOW BUILD INFO`, `SHOW DATABASES`, `USE DATABASE`, `SHOW TRANSACTIONS`,
//! `TERMINATE TRANSACTIONS`, `SHOW NODE_LABELS INFO`, `SHOW EDGE_TYPES INFO` and
//! `SHOW ACTIVE USERS INFO`.
//!
//! The transaction-state guard and the privilege check have run before any of these. Which
//! transactions a user may see and terminate is decided here: their own, or every one with
//! TRANSACTION_MANAGEMENT (as in Memgraph).

use std::sync::Arc;

use crate::auth::{Auth, Principal};
use crate::config::Config;
use crate::cypher::ast::{ServerStatement, Statement};
use crate::engine::{EngineError, Params, QueryEngine, QueryResult, QueryType, Row};
use crate::value::{Map, TimeZone, Value};

use super::transactions::{Entry, Registry};

/// The only database.
pub const DATABASE: &str = "memgraph";

/// Memgraph's text for a database other than [`DATABASE`], and what to do: for `USE DATABASE`
/// and for the `db` that Bolt requests carry.
pub fn unknown_database_message(name: &str) -> String {
    format!(
        "Tried to retrieve an unknown database \"{name}\". boltd serves one database, {DATABASE}."
    )
}

/// What the statements read, shared by every connection.
pub struct Server<'a> {
    pub engine: &'a Arc<dyn QueryEngine>,
    pub auth: &'a Auth,
    pub registry: &'a Registry,
    /// `SHOW CONFIG`'s rows, made once from the configuration the server started with.
    pub config: &'a [Row],
}

/// Runs `statement` for `principal`.
pub async fn run(
    server: Server<'_>,
    principal: &Principal,
    statement: ServerStatement,
) -> Result<QueryResult, EngineError> {
    let (columns, rows): (&[&str], Vec<Row>) = match statement {
        ServerStatement::ShowConfig => (
            &["name", "default_value", "current_value", "description"],
            server.config.to_vec(),
        ),
        ServerStatement::ShowVersion => {
            (&["version"], vec![vec![env!("CARGO_PKG_VERSION").into()]])
        }
        ServerStatement::ShowBuildInfo => (
            &["build info", "value"],
            vec![vec![
                "build_type".into(),
                if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                }
                .into(),
            ]],
        ),
        ServerStatement::ShowDatabases => (
            &["Name", "State", "Health"],
            vec![vec![DATABASE.into(), "HOT".into(), "ready".into()]],
        ),
        ServerStatement::UseDatabase(name) => {
            if name != DATABASE {
                return Err(EngineError::client(unknown_database_message(&name)));
            }
            (&[], Vec::new())
        }
        ServerStatement::ShowTransactions => (
            &[
                "username",
                "transaction_id",
                "query",
                "status",
                "metadata",
                "start_time",
                "elapsed_ms",
            ],
            server
                .registry
                .list()
                .iter()
                .filter(|e| may_manage(&server, principal, e))
                .map(|e| transaction_row(e))
                .collect(),
        ),
        ServerStatement::TerminateTransactions(ids) => {
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let parsed: u64 = id.parse().map_err(|_| {
                    EngineError::client(format!("'{id}' is not a valid transaction id."))
                })?;
                let killed = server
                    .registry
                    .terminate(parsed, |e| may_manage(&server, principal, e));
                rows.push(vec![Value::String(id), Value::Bool(killed)]);
            }
            (&["transaction_id", "killed"], rows)
        }
        ServerStatement::ShowNodeLabelsInfo => {
            return names(server.engine, "CALL db.labels() YIELD label").await
        }
        ServerStatement::ShowEdgeTypesInfo => {
            return names(
                server.engine,
                "CALL db.relationshipTypes() YIELD relationshipType AS edge_type",
            )
            .await
        }
        ServerStatement::ShowActiveUsersInfo => (
            &["username", "session uuid", "login timestamp"],
            server
                .registry
                .sessions()
                .iter()
                .map(|s| {
                    let user = s.user.lock().map(|u| u.clone()).unwrap_or(None);
                    vec![
                        user.unwrap_or_default().into(),
                        s.uuid.clone().into(),
                        utc(s.login_unix_micros),
                    ]
                })
                .collect(),
        ),
    };
    Ok(table(columns, rows))
}

/// A user sees and terminates their own transactions; others need TRANSACTION_MANAGEMENT.
fn may_manage(server: &Server<'_>, principal: &Principal, entry: &Entry) -> bool {
    !server.auth.enabled()
        || entry.user == principal.user
        || server.auth.allowed(principal, "TRANSACTION_MANAGEMENT")
}

fn transaction_row(e: &Entry) -> Row {
    let queries = e
        .queries
        .lock()
        .map(|q| q.iter().cloned().map(Value::String).collect())
        .unwrap_or_default();
    vec![
        e.user.clone().unwrap_or_default().into(),
        e.id.to_string().into(),
        Value::List(queries),
        "running".into(),
        Value::Map(Map::new()),
        utc(e.start_unix_micros),
        Value::Int(e.started.elapsed().as_millis() as i64),
    ]
}

fn utc(micros: i64) -> Value {
    Value::DateTime {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as u32,
        zone: TimeZone::Named("Etc/UTC".into()),
    }
}

fn table(columns: &[&str], rows: Vec<Row>) -> QueryResult {
    QueryResult {
        fields: columns.iter().map(|c| c.to_string()).collect(),
        rows: Box::new(rows.into_iter().map(Ok)),
        query_type: QueryType::Read,
        stats: None,
        heavy: false,
    }
}

/// The label or edge-type names of the committed graph, by the procedure that lists them.
async fn names(engine: &Arc<dyn QueryEngine>, call: &str) -> Result<QueryResult, EngineError> {
    let Statement::Query(query) = crate::cypher::parse(call)? else {
        return Err(EngineError::database(
            "a built-in call did not parse as a query",
        ));
    };
    let mut tx = engine.begin().await?;
    let result = tx.run(query, Params::new()).await;
    let result = match result {
        Ok(mut r) => {
            // A few names: materialised so the transaction can end now.
            let rows: Vec<Row> = r.rows.by_ref().collect::<Result<_, _>>()?;
            Ok(table(
                &r.fields.iter().map(String::as_str).collect::<Vec<_>>(),
                rows,
            ))
        }
        Err(e) => Err(e),
    };
    tx.rollback().await;
    result
}

/// `SHOW CONFIG`'s rows: each setting under its key (Memgraph's flag name where boltd shares
/// it), its default, its value and its help text. Secrets are never shown.
pub fn config_rows(config: &Config) -> Vec<Row> {
    use clap::Args;
    let text = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let (Ok(serde_json::Value::Object(current)), Ok(serde_json::Value::Object(defaults))) = (
        serde_json::to_value(config),
        serde_json::to_value(Config::default()),
    ) else {
        return Vec::new();
    };
    let command = Config::augment_args(clap::Command::new("boltd"));
    current
        .iter()
        .map(|(key, value)| {
            let secret = key.contains("password");
            let shown = |v: Option<&serde_json::Value>| {
                let t = text(v);
                if secret && !t.is_empty() {
                    "***".to_owned()
                } else {
                    t
                }
            };
            let help = command
                .get_arguments()
                .find(|a| a.get_id().as_str() == key)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            vec![
                key.clone().into(),
                shown(defaults.get(key)).into(),
                shown(Some(value)).into(),
                help.into(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rows_name_every_setting_and_hide_secrets() {
        let mut config = Config::default();
        config.bolt_port = 7777;
        config.bolt_key_password = Some(crate::config::Secret("hunter2".into()));
        let rows = config_rows(&config);
        assert_eq!(rows.len(), Config::keys().len());
        let port = rows
            .iter()
            .find(|r| r[0] == Value::from("bolt_port"))
            .unwrap();
        assert_eq!(port[1], Value::from("7687"));
        assert_eq!(port[2], Value::from("7777"));
        assert!(matches!(&port[3], Value::String(h) if h.contains("Port")));
        let secret = rows
            .iter()
            .find(|r| r[0] == Value::from("bolt_key_password"))
            .unwrap();
        assert_eq!(secret[2], Value::from("***"));
        assert!(!format!("{rows:?}").contains("hunter2"));
    }
}
