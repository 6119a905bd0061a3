//! Which database a request is for and whom it would run as: the `db` and `imp_user` that BEGIN,
//! RUN and ROUTE may carry, and whether boltd can serve them.
//!
//! boltd has one database, `memgraph`, and no impersonation. A request that names no database
//! (absent or null) means that one; a request that names another database, or asks to run as
//! another user, is refused before anything runs, so that a client never believes it is working on
//! a database (or as a user) that it is not.
//!
//! Bookmarks (BEGIN's and RUN's `bookmarks`, ROUTE's second field) are accepted and their content
//! is ignored: they exist so that a cluster can hold a client's next transaction until the server
//! it lands on has caught up with the client's last commit. With one server every commit is
//! visible to the next transaction as soon as it is acknowledged, so there is nothing to wait for.

use crate::admin::{self, Failure};

use super::session::client_error;

/// The database every request runs on.
pub const DATABASE: &str = admin::DATABASE;

/// What neo4rs (0.8) puts in every BEGIN and RUN unless it is configured otherwise: it cannot
/// leave `db` out, and Memgraph Community ignores `db`, so such clients work against Memgraph as
/// they are. It is taken as another name of the one database, never reported as a database name of
/// its own beyond echoing it back to the client that used it.
const NEO4J_DEFAULT: &str = "neo4j";

/// The `db` and `imp_user` of a request, as decoded (see `message.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `None` when absent or null: the default database.
    pub db: Option<String>,
    /// `None` when absent or null: run as the authenticated user.
    pub imp_user: Option<String>,
}

/// Why a request's target cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A database other than [`DATABASE`].
    UnknownDatabase(String),
    /// `imp_user` named someone: boltd cannot run a request as another user.
    Impersonation(String),
}

impl Target {
    /// The database name to report back (`memgraph` when the request named none), or why the
    /// request cannot be served.
    pub fn check(&self) -> Result<&str, Refusal> {
        if let Some(user) = &self.imp_user {
            return Err(Refusal::Impersonation(user.clone()));
        }
        match self.db.as_deref() {
            None => Ok(DATABASE),
            Some(name) if name == DATABASE || name == NEO4J_DEFAULT => Ok(name),
            Some(name) => Err(Refusal::UnknownDatabase(name.to_owned())),
        }
    }
}

impl Refusal {
    /// What the client is told: Memgraph's text for an unknown database (the one `USE DATABASE`
    /// gives), or why impersonation is refused and what to do instead.
    pub fn message(&self) -> String {
        match self {
            Refusal::UnknownDatabase(name) => admin::unknown_database_message(name),
            Refusal::Impersonation(user) => format!(
                "Impersonation is not supported: boltd cannot run a request as another user \
                 (imp_user \"{user}\"). Leave the impersonated user unset and connect as \
                 \"{user}\" instead."
            ),
        }
    }

    /// The FAILURE for BEGIN and RUN: a client error under Memgraph's code, which drivers report
    /// at once and do not retry.
    pub fn failure(&self) -> Failure {
        client_error(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(db: Option<&str>, imp_user: Option<&str>) -> Target {
        Target {
            db: db.map(str::to_owned),
            imp_user: imp_user.map(str::to_owned),
        }
    }

    #[test]
    fn the_default_and_the_one_database_are_served() {
        assert_eq!(target(None, None).check(), Ok("memgraph"));
        assert_eq!(target(Some("memgraph"), None).check(), Ok("memgraph"));
        assert_eq!(target(Some("neo4j"), None).check(), Ok("neo4j"));
    }

    #[test]
    fn other_databases_and_impersonation_are_refused_with_memgraphs_text() {
        let refused = target(Some("other"), None).check().unwrap_err();
        assert_eq!(refused, Refusal::UnknownDatabase("other".into()));
        let failure = refused.failure();
        assert_eq!(
            failure.code,
            "Memgraph.ClientError.MemgraphError.MemgraphError"
        );
        assert!(
            failure
                .message
                .starts_with("Tried to retrieve an unknown database \"other\"."),
            "{}",
            failure.message
        );
        // Names are case-sensitive, as in Memgraph.
        assert!(target(Some("Memgraph"), None).check().is_err());
        let refused = target(Some("memgraph"), Some("alice")).check().unwrap_err();
        assert_eq!(refused, Refusal::Impersonation("alice".into()));
        assert!(refused.message().contains("imp_user \"alice\""));
    }
}
