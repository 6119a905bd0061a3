//! Every privilege check, from the parsed statement, in one place.
//!
//! While no user exists nothing is checked (as in Memgraph). Once users exist, each statement
//! needs its Memgraph privileges: graph clauses their own (MATCH, CREATE, ...), index and
//! constraint statements INDEX or CONSTRAINT, info statements STATS, `DUMP DATABASE` DUMP, user
//! management AUTH, the TLS statements RELOAD_TLS (SHOW BOLT_SERVER TLS INFO also with STATS), and
//! the snapshot statements DURABILITY; `LOAD CSV` READ_FILE, and FOREACH what its clauses need.

use crate::auth::{Auth, Principal, NOT_AUTHORIZED};
use crate::cypher::ast::{Clause, Query, ServerStatement};
use crate::cypher::{SchemaCommand, Statement};
use crate::engine::EngineError;

/// Checks that `principal` holds what `statement` needs: each entry of the list is required, and
/// an entry is met by any one of its privileges.
pub fn check(auth: &Auth, principal: &Principal, statement: &Statement) -> Result<(), EngineError> {
    for any_of in required(statement) {
        if !any_of.iter().any(|p| auth.allowed(principal, p)) {
            return Err(EngineError::client(NOT_AUTHORIZED));
        }
    }
    Ok(())
}

/// What `statement` needs, without duplicates, in clause order.
fn required(statement: &Statement) -> Vec<&'static [&'static str]> {
    let mut out: Vec<&'static [&'static str]> = Vec::new();
    let mut add = |p: &'static [&'static str]| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match statement {
        Statement::Begin | Statement::Commit | Statement::Rollback => {}
        Statement::Auth(_) => add(&["AUTH"]),
        Statement::ReloadTls => add(&["RELOAD_TLS"]),
        Statement::ShowTlsInfo => add(&["STATS", "RELOAD_TLS"]),
        Statement::Schema(SchemaCommand::CreateIndex { .. } | SchemaCommand::DropIndex { .. }) => {
            add(&["INDEX"])
        }
        Statement::Schema(
            SchemaCommand::CreateUnique { .. }
            | SchemaCommand::DropUnique { .. }
            | SchemaCommand::CreateExists { .. }
            | SchemaCommand::DropExists { .. },
        ) => add(&["CONSTRAINT"]),
        Statement::Schema(SchemaCommand::CreateSnapshot | SchemaCommand::ShowSnapshots) => {
            add(&["DURABILITY"])
        }
        Statement::Schema(SchemaCommand::DumpDatabase) => add(&["DUMP"]),
        Statement::Schema(_) => add(&["STATS"]),
        // As Memgraph's required privileges; SHOW/TERMINATE TRANSACTIONS need nothing for the
        // user's own transactions (TRANSACTION_MANAGEMENT for others', see server_statements).
        Statement::Server(statement) => match statement {
            ServerStatement::ShowConfig => add(&["CONFIG"]),
            ServerStatement::ShowVersion
            | ServerStatement::ShowBuildInfo
            | ServerStatement::ShowActiveUsersInfo => add(&["STATS"]),
            ServerStatement::ShowNodeLabelsInfo | ServerStatement::ShowEdgeTypesInfo => {
                add(&["INDEX"])
            }
            ServerStatement::ShowDatabases | ServerStatement::UseDatabase(_) => {
                add(&["MULTI_DATABASE_USE"])
            }
            ServerStatement::ShowTransactions | ServerStatement::TerminateTransactions(_) => {}
        },
        Statement::Query(query) | Statement::Explain(query) | Statement::Profile(query) => {
            query_privileges(query, &mut add);
        }
    }
    out
}

/// A query's clause privileges in clause order, including those of subquery bodies and
/// FOREACH (their nesting is bounded by the parser).
fn query_privileges(query: &Query, add: &mut impl FnMut(&'static [&'static str])) {
    let mut next: Option<&Query> = Some(query);
    while let Some(q) = next {
        clause_privileges(&q.clauses, add);
        next = q.union.as_ref().map(|(_, n)| n.as_ref());
    }
}

fn clause_privileges(clauses: &[Clause], add: &mut impl FnMut(&'static [&'static str])) {
    for clause in clauses {
        match clause {
            Clause::Match { .. } => add(&["MATCH"]),
            Clause::Create(_) => add(&["CREATE"]),
            Clause::Merge { .. } => add(&["MERGE"]),
            Clause::Set(_) => add(&["SET"]),
            Clause::Remove(_) => add(&["REMOVE"]),
            Clause::Delete { .. } => add(&["DELETE"]),
            Clause::Unwind { .. } | Clause::With { .. } | Clause::Return(_) => {}
            Clause::Foreach { clauses, .. } => clause_privileges(clauses, add),
            Clause::CallSubquery(body) => query_privileges(body, add),
            Clause::LoadCsv(_) => add(&["READ_FILE"]),
            Clause::CallProcedure(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(q: &str) -> Vec<&'static [&'static str]> {
        required(&crate::cypher::parse(q).unwrap())
    }

    #[test]
    fn clauses_need_their_privileges_once_each() {
        assert_eq!(
            needs("MATCH (a) MATCH (b) CREATE (c) SET c.x = 1 RETURN a UNION MATCH (d) DELETE d RETURN d AS a"),
            vec![&["MATCH"][..], &["CREATE"], &["SET"], &["DELETE"]]
        );
        assert!(needs("RETURN 1").is_empty());
        assert_eq!(
            needs("CALL { MATCH (n) CREATE (m) RETURN m } RETURN m"),
            vec![&["MATCH"][..], &["CREATE"]]
        );
        assert_eq!(
            needs("LOAD CSV FROM 'f' WITH HEADER AS r FOREACH (x IN [1] | CREATE () SET r.a = 1)"),
            vec![&["READ_FILE"][..], &["CREATE"], &["SET"]]
        );
        assert!(needs("BEGIN").is_empty());
        assert_eq!(needs("SHOW INDEX INFO"), vec![&["STATS"][..]]);
        assert_eq!(needs("DUMP DATABASE"), vec![&["DUMP"][..]]);
        assert_eq!(needs("SHOW CONFIG"), vec![&["CONFIG"][..]]);
        assert_eq!(
            needs("USE DATABASE memgraph"),
            vec![&["MULTI_DATABASE_USE"][..]]
        );
        assert!(needs("SHOW TRANSACTIONS").is_empty());
        assert!(needs("CALL db.labels()").is_empty());
        assert_eq!(
            needs("SHOW BOLT_SERVER TLS INFO"),
            vec![&["STATS", "RELOAD_TLS"][..]]
        );
    }
}
