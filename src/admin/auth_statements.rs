//! User, role and privilege statements, carried out against [`Auth`].
//!
//! They hash passwords and fsync `auth.json`, so the dispatcher runs them on a blocking thread.
//! The AUTH privilege and the transaction guard are checked before they get here.

use crate::auth::{Auth, AuthError};
use crate::cypher::auth::AuthStatement;
use crate::engine::{EngineError, QueryResult, QueryType, Row, RowStream};
use crate::value::Value;

/// Carries out a user, role or privilege statement (blocking: hashing and fsync).
pub fn run(auth: &Auth, statement: &AuthStatement) -> Result<QueryResult, EngineError> {
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
