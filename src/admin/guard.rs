//! The transaction-state guard: which statements an explicit transaction refuses, with Memgraph's
//! texts (clients and scripts match on them).
//!
//! A reload swaps server-wide state that no transaction can roll back; user management, index
//! and constraint changes and info statements act on the committed state directly. So all of
//! them run only in auto-commit, as in Memgraph.

use crate::cypher::ast::ServerStatement;
use crate::cypher::{SchemaCommand, Statement};
use crate::engine::EngineError;

/// Memgraph's refusal of a reload inside an explicit transaction, byte for byte (including the
/// missing space in "particularquery").
pub const RELOAD_IN_TRANSACTION: &str =
    "Reloading SSL is not allowed in multicommand transactions. \
A multicommand transaction, also known as an explicit transaction, groups multiple commands into a \
single atomic operation. Instead, please use an implicit transaction, also known as an auto \
committing transaction, in order to execute this particularquery. For more details, visit \
https://memgraph.com/docs";

/// Memgraph refuses user management inside explicit transactions.
pub const AUTH_IN_TRANSACTION: &str = "Auth queries are not allowed in multicommand transactions. Run them in an auto-committing (implicit) transaction.";

/// `DUMP DATABASE` inside an explicit transaction, worded like the other schema refusals.
pub const DUMP_IN_TRANSACTION: &str = "Dump database not allowed in multicommand transactions.";

pub const NESTED_TRANSACTION: &str = "Nested transactions are not supported.";
pub const NO_TRANSACTION_TO_COMMIT: &str = "No current transaction to commit.";
pub const NO_TRANSACTION_TO_ROLLBACK: &str = "No current transaction to rollback.";

/// Refuses `statement` when an explicit transaction is open and it may not run inside one.
/// Transaction words are the conversation's own business (nesting, nothing to commit).
pub fn check(statement: &Statement, in_explicit_transaction: bool) -> Result<(), EngineError> {
    if !in_explicit_transaction {
        return Ok(());
    }
    let refusal = match statement {
        Statement::ReloadTls => RELOAD_IN_TRANSACTION,
        Statement::Auth(_) => AUTH_IN_TRANSACTION,
        Statement::Schema(command) => schema_refusal(command),
        Statement::Server(statement) => match server_refusal(statement) {
            Some(what) => return Err(EngineError::client(multicommand(what))),
            None => return Ok(()),
        },
        Statement::Query(_)
        | Statement::Explain(_)
        | Statement::Profile(_)
        | Statement::ShowTlsInfo
        | Statement::Begin
        | Statement::Commit
        | Statement::Rollback => return Ok(()),
    };
    Err(EngineError::client(refusal))
}

/// Memgraph's refusal of a statement inside an explicit transaction, for `what` (its
/// statement kind, e.g. "Version information query"), byte for byte.
pub fn multicommand(what: &str) -> String {
    format!(
        "{what} is not allowed in multicommand transactions. A multicommand transaction, also \
         known as an explicit transaction, groups multiple commands into a single atomic \
         operation. Instead, please use an implicit transaction, also known as an auto \
         committing transaction, in order to execute this particularquery. For more details, \
         visit https://memgraph.com/docs"
    )
}

/// What Memgraph names the server statements it refuses inside explicit transactions;
/// `None` for those it allows (`SHOW DATABASES`).
fn server_refusal(statement: &ServerStatement) -> Option<&'static str> {
    match statement {
        ServerStatement::ShowConfig => Some("Configuration information query"),
        ServerStatement::ShowVersion => Some("Version information query"),
        ServerStatement::ShowBuildInfo
        | ServerStatement::ShowActiveUsersInfo
        | ServerStatement::ShowNodeLabelsInfo
        | ServerStatement::ShowEdgeTypesInfo => Some("Storage information query"),
        ServerStatement::ShowTransactions | ServerStatement::TerminateTransactions(_) => {
            Some("Querying transaction status")
        }
        ServerStatement::UseDatabase(_) => Some("Switching the currently active database"),
        ServerStatement::ShowDatabases => None,
    }
}

/// Memgraph's refusals of schema statements inside explicit transactions.
fn schema_refusal(command: &SchemaCommand) -> &'static str {
    match command {
        SchemaCommand::CreateIndex { .. } | SchemaCommand::DropIndex { .. } => {
            "Index manipulation not allowed in multicommand transactions."
        }
        SchemaCommand::CreateUnique { .. }
        | SchemaCommand::DropUnique { .. }
        | SchemaCommand::CreateExists { .. }
        | SchemaCommand::DropExists { .. } => {
            "Constraint manipulation not allowed in multicommand transactions."
        }
        SchemaCommand::StorageMode(_) => {
            "Storage mode change not allowed in multicommand transactions."
        }
        SchemaCommand::ShowIndexInfo
        | SchemaCommand::ShowConstraintInfo
        | SchemaCommand::ShowStorageInfo => {
            "Info reporting not allowed in multicommand transactions."
        }
        SchemaCommand::CreateSnapshot | SchemaCommand::ShowSnapshots => {
            "Snapshot queries are not allowed in multicommand transactions."
        }
        // Memgraph dumps the open transaction's snapshot; ours reads the committed graph, so it
        // is refused here like the other statements that see only committed state.
        SchemaCommand::DumpDatabase => DUMP_IN_TRANSACTION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_refuses_inside_transactions_with_memgraphs_text() {
        assert!(check(&Statement::ReloadTls, false).is_ok());
        let err = check(&Statement::ReloadTls, true).unwrap_err();
        assert!(err.message.contains("particularquery"));
        assert_eq!(err.code, "Memgraph.ClientError.MemgraphError.MemgraphError");
    }

    #[test]
    fn server_statements_are_refused_inside_transactions_as_memgraph_does() {
        let refused = |q: &str| check(&crate::cypher::parse(q).unwrap(), true).err();
        let e = refused("SHOW VERSION").unwrap();
        assert!(e
            .message
            .starts_with("Version information query is not allowed in multicommand"));
        assert_eq!(multicommand("Reloading SSL"), RELOAD_IN_TRANSACTION);
        assert!(refused("SHOW TRANSACTIONS").is_some());
        assert!(refused("TERMINATE TRANSACTIONS '1'").is_some());
        assert!(refused("USE DATABASE memgraph").is_some());
        assert!(refused("SHOW CONFIG").is_some());
        assert!(refused("SHOW DATABASES").is_none());
        assert!(check(&crate::cypher::parse("SHOW CONFIG").unwrap(), false).is_ok());
    }

    #[test]
    fn schema_statements_are_refused_inside_transactions() {
        let Ok(statement) = crate::cypher::parse("CREATE INDEX ON :U(id)") else {
            panic!()
        };
        let err = check(&statement, true).unwrap_err();
        assert_eq!(
            err.message,
            "Index manipulation not allowed in multicommand transactions."
        );
        assert!(check(&statement, false).is_ok());
        let Ok(dump) = crate::cypher::parse("DUMP DATABASE") else {
            panic!()
        };
        assert_eq!(check(&dump, true).unwrap_err().message, DUMP_IN_TRANSACTION);
        assert!(check(&dump, false).is_ok());
    }
}
