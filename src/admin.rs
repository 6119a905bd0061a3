//! The server's own statements, answered before the engine sees a query, and the transaction-state
//! guard.
//!
//! pymgclient opens and ends transactions with the Cypher words `BEGIN`, `COMMIT` and `ROLLBACK`,
//! and `RELOAD BOLT_SERVER TLS` is a Memgraph statement about the server rather than the graph, so
//! none of these belong to the query engine. This module recognises them and owns their exact
//! error texts (Memgraph's, which clients and scripts match on). It never touches sockets or the
//! graph: the session carries out what it decides.

use slog::{info, Logger};

use crate::auth::statements::AuthStatement;
use crate::auth::{Auth, AuthError, Principal, NOT_AUTHORIZED};
use crate::engine::{EngineError, QueryResult, QueryType, Row, RowStream};
use crate::tls::{ReloadTrigger, TlsHandle, TlsStatus};
use crate::value::{Map, TimeZone, Value};

/// Memgraph's refusal of a reload inside an explicit transaction, byte for byte (including the
/// missing space in "particularquery").
pub const RELOAD_IN_TRANSACTION: &str =
    "Reloading SSL is not allowed in multicommand transactions. \
A multicommand transaction, also known as an explicit transaction, groups multiple commands into a \
single atomic operation. Instead, please use an implicit transaction, also known as an auto \
committing transaction, in order to execute this particularquery. For more details, visit \
https://memgraph.com/docs";

pub const NESTED_TRANSACTION: &str = "Nested transactions are not supported.";
pub const NO_TRANSACTION_TO_COMMIT: &str = "No current transaction to commit.";
pub const NO_TRANSACTION_TO_ROLLBACK: &str = "No current transaction to rollback.";

/// What a query's text asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// A user, role or privilege statement.
    Auth(AuthStatement),
    /// Cypher `BEGIN`: open an explicit transaction.
    Begin,
    /// Cypher `COMMIT`.
    Commit,
    /// Cypher `ROLLBACK`.
    Rollback,
    /// `RELOAD BOLT_SERVER TLS`.
    ReloadTls,
    /// `SHOW BOLT_SERVER TLS INFO`.
    ShowTlsInfo,
    /// Anything else: the engine's business.
    Query,
}

/// Recognises the server's statements. Keywords are case-insensitive and a trailing `;` is
/// allowed. A statement that starts with `RELOAD` but is not a valid reload is a syntax error
/// here rather than a confusing one from the Cypher parser.
pub fn classify(query: &str) -> Result<Statement, EngineError> {
    if let Some(statement) = crate::auth::statements::parse(query).map_err(EngineError::client)? {
        return Ok(Statement::Auth(statement));
    }
    let text = query.trim();
    let text = text.strip_suffix(';').unwrap_or(text);
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Ok(match words.as_slice() {
        ["BEGIN"] => Statement::Begin,
        ["COMMIT"] => Statement::Commit,
        ["ROLLBACK"] => Statement::Rollback,
        ["RELOAD", "BOLT_SERVER", "TLS"] => Statement::ReloadTls,
        ["SHOW", "BOLT_SERVER", "TLS", "INFO"] => Statement::ShowTlsInfo,
        ["RELOAD", "INTRA_CLUSTER", "TLS"] => {
            return Err(EngineError::client(
                "RELOAD INTRA_CLUSTER TLS is not supported: boltd is a single server without \
                 intra-cluster TLS. Use RELOAD BOLT_SERVER TLS to reload the Bolt certificate.",
            ))
        }
        ["RELOAD", ..] => {
            return Err(EngineError::client(format!(
                "Invalid statement '{}': the only RELOAD statement is RELOAD BOLT_SERVER TLS.",
                text
            )))
        }
        _ => Statement::Query,
    })
}

/// The transaction-state guard: a reload swaps server-wide state that no transaction can roll
/// back, so it is refused inside an explicit transaction, as Memgraph does.
pub fn guard_reload(in_explicit_transaction: bool) -> Result<(), EngineError> {
    if in_explicit_transaction {
        Err(EngineError::client(RELOAD_IN_TRANSACTION))
    } else {
        Ok(())
    }
}

/// Carries out `RELOAD BOLT_SERVER TLS`. On a server started without TLS there is nothing to
/// reload and the statement fails with Memgraph's text.
pub async fn reload_tls(
    tls: Option<&TlsHandle>,
    trigger: ReloadTrigger,
    logger: &Logger,
) -> Result<TlsStatus, EngineError> {
    let tls =
        tls.ok_or_else(|| EngineError::client(crate::tls::TlsError::NotConfigured.to_string()))?;
    info!(logger, "RELOAD BOLT_SERVER TLS requested"; "trigger" => %trigger);
    tls.reload(trigger)
        .await
        .map_err(|e| EngineError::client(e.to_string()))
}

/// Memgraph refuses user management inside explicit transactions.
pub const AUTH_IN_TRANSACTION: &str = "Auth queries are not allowed in multicommand transactions. Run them in an auto-committing (implicit) transaction.";

/// The privilege check: Memgraph's refusal text when `principal` lacks all of `privileges`.
pub fn require(auth: &Auth, principal: &Principal, privileges: &[&str]) -> Result<(), EngineError> {
    if privileges.iter().any(|p| auth.allowed(principal, p)) {
        Ok(())
    } else {
        Err(EngineError::client(NOT_AUTHORIZED))
    }
}

/// Carries out a user, role or privilege statement (blocking: hashing and fsync). The AUTH
/// privilege and the transaction guard are checked by the caller.
pub fn run_auth(auth: &Auth, statement: &AuthStatement) -> Result<QueryResult, EngineError> {
    let done = |r: Result<(), AuthError>| {
        r.map(|()| QueryResult::empty(QueryType::Write))
            .map_err(|e| EngineError::client(e.0))
    };
    let table = |column: &str, rows: Vec<Row>| {
        let rows: RowStream = Box::new(rows.into_iter().map(Ok));
        Ok(QueryResult {
            fields: vec![column.to_owned()],
            rows,
            query_type: QueryType::Read,
            stats: None,
            heavy: false,
        })
    };
    match statement {
        AuthStatement::CreateUser { name, password } => {
            done(auth.create_user(name, password.as_deref(), false))
        }
        AuthStatement::SetPassword { name, password } => {
            done(auth.set_password(name, password.as_deref()))
        }
        AuthStatement::DropUser(name) => done(auth.drop_user(name)),
        AuthStatement::CreateRole(name) => done(auth.create_role(name)),
        AuthStatement::DropRole(name) => done(auth.drop_role(name)),
        AuthStatement::SetRole { user, role } => done(auth.set_role(user, Some(role))),
        AuthStatement::ClearRole(user) => done(auth.set_role(user, None)),
        AuthStatement::Privileges {
            action,
            privileges,
            name,
        } => done(auth.edit_privileges(*action, privileges, name)),
        AuthStatement::ShowUsers => table(
            "user",
            auth.users()
                .into_iter()
                .map(|u| vec![Value::String(u)])
                .collect(),
        ),
        AuthStatement::ShowRoles => table(
            "role",
            auth.roles()
                .into_iter()
                .map(|r| vec![Value::String(r)])
                .collect(),
        ),
        AuthStatement::ShowPrivileges(name) => {
            let rows = auth
                .privileges_of(name)
                .map_err(|e| EngineError::client(e.0))?
                .into_iter()
                .map(|(p, e, d)| vec![Value::String(p), Value::String(e), Value::String(d)])
                .collect::<Vec<_>>();
            let rows: RowStream = Box::new(rows.into_iter().map(Ok));
            Ok(QueryResult {
                fields: vec!["privilege".into(), "effective".into(), "description".into()],
                rows,
                query_type: QueryType::Read,
                stats: None,
                heavy: false,
            })
        }
    }
}

/// The columns of `SHOW BOLT_SERVER TLS INFO`.
pub const TLS_INFO_COLUMNS: [&str; 15] = [
    "enabled",
    "subject",
    "issuer",
    "sans",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "sha256_fingerprint",
    "key_type",
    "loaded_at",
    "generation",
    "reloads_failed",
    "last_error",
    "client_auth",
];

/// The one row of `SHOW BOLT_SERVER TLS INFO`: what is served to new connections and how reloads
/// went. A server without TLS answers `enabled = false` and nulls.
pub fn tls_info_row(status: Option<&TlsStatus>, now: i64) -> Vec<Value> {
    let Some(status) = status else {
        let mut row = vec![Value::Bool(false)];
        row.resize(TLS_INFO_COLUMNS.len(), Value::Null);
        return row;
    };
    let s = &status.summary;
    let loaded = status
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    vec![
        Value::Bool(true),
        Value::String(s.subject.clone()),
        Value::String(s.issuer.clone()),
        Value::List(s.sans.iter().cloned().map(Value::String).collect()),
        Value::String(s.serial.clone()),
        utc_datetime(s.not_before, 0),
        utc_datetime(s.not_after, 0),
        Value::Int(s.days_left(now)),
        Value::String(s.sha256_fingerprint.clone()),
        Value::String(s.key_type.clone()),
        utc_datetime(loaded.as_secs() as i64, loaded.subsec_nanos()),
        Value::Int(status.generation as i64),
        Value::Int(status.reloads_failed as i64),
        status.last_error.clone().map_or(Value::Null, Value::String),
        Value::String(status.client_auth.clone()),
    ]
}

fn utc_datetime(seconds: i64, nanos: u32) -> Value {
    Value::DateTime {
        seconds,
        nanos,
        zone: TimeZone::Offset(0),
    }
}

/// The notification Memgraph attaches to a successful reload's summary.
pub fn reload_notification() -> Value {
    let mut n = Map::new();
    n.insert("severity".into(), "INFO".into());
    n.insert("code".into(), "ReloadSSL".into());
    n.insert("title".into(), "Reloaded TLS on Bolt server".into());
    n.insert("description".into(), "".into());
    Value::Map(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_reload_in_any_case_with_optional_semicolon() {
        for q in [
            "RELOAD BOLT_SERVER TLS",
            "reload bolt_server tls;",
            "  Reload  Bolt_Server\n TLS ; ",
        ] {
            assert_eq!(classify(q).unwrap(), Statement::ReloadTls, "{q:?}");
        }
    }

    #[test]
    fn partial_reload_forms_are_syntax_errors() {
        for q in [
            "RELOAD BOLT_SERVER",
            "RELOAD TLS;",
            "RELOAD TLS BOLT_SERVER",
            "RELOAD",
        ] {
            let err = classify(q).unwrap_err();
            assert_eq!(err.code, "Memgraph.ClientError.MemgraphError.MemgraphError");
            assert!(
                err.message.contains("RELOAD BOLT_SERVER TLS"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn tls_info_on_a_plaintext_server_is_disabled_and_null() {
        assert_eq!(
            classify("show bolt_server tls info;").unwrap(),
            Statement::ShowTlsInfo
        );
        let row = tls_info_row(None, 0);
        assert_eq!(row.len(), TLS_INFO_COLUMNS.len());
        assert_eq!(row[0], Value::Bool(false));
        assert!(row[1..].iter().all(Value::is_null));
    }

    #[test]
    fn transaction_words() {
        assert_eq!(classify("begin").unwrap(), Statement::Begin);
        assert_eq!(classify("COMMIT;").unwrap(), Statement::Commit);
        assert_eq!(classify(" Rollback ").unwrap(), Statement::Rollback);
        assert_eq!(classify("RETURN 1").unwrap(), Statement::Query);
        assert_eq!(classify("BEGIN RETURN 1").unwrap(), Statement::Query);
    }

    #[test]
    fn guard_refuses_inside_transactions_with_memgraphs_text() {
        assert!(guard_reload(false).is_ok());
        let err = guard_reload(true).unwrap_err();
        assert!(err.message.contains("particularquery"));
        assert_eq!(err.code, "Memgraph.ClientError.MemgraphError.MemgraphError");
    }

    #[tokio::test]
    async fn reload_without_tls_uses_memgraphs_text() {
        let err = reload_tls(None, ReloadTrigger::Signal, &crate::logging::discard())
            .await
            .unwrap_err();
        assert_eq!(
            err.message,
            "Unable to reload SSL configuration because key or certificate file aren't set."
        );
    }
}
