//! Memgraph's user and privilege statements, and the privileges a GRANT may name.

use super::lexer::{Tok, Token};
use super::SyntaxError;

/// Privileges, with Memgraph's names.
pub const PRIVILEGES: &[(&str, &str)] = &[
    ("CREATE", "Create nodes and relationships"),
    ("DELETE", "Delete nodes and relationships"),
    ("MATCH", "Read the graph"),
    ("MERGE", "Merge nodes and relationships"),
    ("SET", "Set properties and labels"),
    ("REMOVE", "Remove properties and labels"),
    ("INDEX", "Manage indexes"),
    (
        "STATS",
        "Read server statistics, including SHOW BOLT_SERVER TLS INFO",
    ),
    ("AUTH", "Manage users, roles and privileges"),
    ("CONSTRAINT", "Manage constraints"),
    ("RELOAD_TLS", "Reload the Bolt TLS certificate"),
    ("DURABILITY", "Create and list snapshots"),
    (
        "READ_FILE",
        "Read files on the server's machine with LOAD CSV",
    ),
    (
        "DUMP",
        "Dump the database as Cypher statements (DUMP DATABASE)",
    ),
    ("CONFIG", "Read the server's settings (SHOW CONFIG)"),
    (
        "MULTI_DATABASE_USE",
        "List and switch databases (SHOW DATABASES, USE DATABASE)",
    ),
    (
        "TRANSACTION_MANAGEMENT",
        "See and terminate other users' transactions",
    ),
    (
        "WEBSOCKET",
        "Read the log stream on the monitoring WebSocket (--monitoring-port)",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantAction {
    Grant,
    Deny,
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStatement {
    CreateUser {
        name: String,
        password: Option<String>,
    },
    SetPassword {
        name: String,
        password: Option<String>,
    },
    DropUser(String),
    ShowUsers,
    CreateRole(String),
    DropRole(String),
    SetRole {
        user: String,
        role: String,
    },
    ClearRole(String),
    ShowRoles,
    Privileges {
        action: GrantAction,
        privileges: Vec<String>,
        name: String,
    },
    ShowPrivileges(String),
}

/// Recognises an auth statement. `Ok(None)`: not one (the query goes elsewhere). `Err`: it starts
/// like one but is malformed; the message says what was expected.
pub fn recognise(tokens: &[Token]) -> Result<Option<AuthStatement>, SyntaxError> {
    let kw = |i: usize, k: &str| matches!(tokens.get(i).map(|t| &t.tok), Some(Tok::Ident { name, quoted: false }) if name.eq_ignore_ascii_case(k));
    let starts = |ks: &[&str]| ks.iter().enumerate().all(|(i, k)| kw(i, k));
    let is_auth = starts(&["CREATE", "USER"])
        || starts(&["CREATE", "ROLE"])
        || starts(&["SET", "PASSWORD"])
        || starts(&["SET", "ROLE", "FOR"])
        || starts(&["CLEAR", "ROLE"])
        || starts(&["DROP", "USER"])
        || starts(&["DROP", "ROLE"])
        || starts(&["SHOW", "USERS"])
        || starts(&["SHOW", "ROLES"])
        || starts(&["SHOW", "PRIVILEGES"])
        || kw(0, "GRANT")
        || kw(0, "DENY")
        || kw(0, "REVOKE");
    if !is_auth {
        return Ok(None);
    }
    // Auth statements are a few words long: copying their tokens costs nothing.
    let mut words: Vec<Tok> = tokens.iter().map(|t| t.tok.clone()).collect();
    while matches!(words.last(), Some(Tok::Eof) | Some(Tok::Semicolon)) {
        words.pop();
    }
    let mut p = Parser { words, pos: 0 };
    let statement = p.statement().map_err(SyntaxError::new)?;
    if p.pos != p.words.len() {
        return Err(SyntaxError::new(format!(
            "Invalid input after the statement: unexpected {:?}.",
            p.words[p.pos]
        )));
    }
    Ok(Some(statement))
}

struct Parser {
    words: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn keyword(&mut self, k: &str) -> Result<(), String> {
        match self.words.get(self.pos) {
            Some(Tok::Ident {
                name,
                quoted: false,
            }) if name.eq_ignore_ascii_case(k) => {
                self.pos += 1;
                Ok(())
            }
            other => Err(format!(
                "Invalid input: expected {k}, found {}.",
                describe(other)
            )),
        }
    }

    fn at(&self, k: &str) -> bool {
        matches!(self.words.get(self.pos), Some(Tok::Ident { name, quoted: false }) if name.eq_ignore_ascii_case(k))
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        match self.words.get(self.pos) {
            Some(Tok::Ident { name, .. }) => {
                self.pos += 1;
                Ok(name.clone())
            }
            other => Err(format!(
                "Invalid input: expected {what}, found {}.",
                describe(other)
            )),
        }
    }

    /// A quoted password, or `null` for none.
    fn password(&mut self) -> Result<Option<String>, String> {
        match self.words.get(self.pos) {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Some(s.clone()))
            }
            Some(Tok::Ident {
                name,
                quoted: false,
            }) if name.eq_ignore_ascii_case("null") => {
                self.pos += 1;
                Ok(None)
            }
            other => Err(format!(
                "Invalid input: expected a quoted password, found {}.",
                describe(other)
            )),
        }
    }

    fn statement(&mut self) -> Result<AuthStatement, String> {
        let first = self.name("a statement")?.to_ascii_uppercase();
        match first.as_str() {
            "CREATE" => {
                if self.at("USER") {
                    self.keyword("USER")?;
                    let name = self.name("a user name")?;
                    let password = if self.at("IDENTIFIED") {
                        self.keyword("IDENTIFIED")?;
                        self.keyword("BY")?;
                        self.password()?
                    } else {
                        None
                    };
                    Ok(AuthStatement::CreateUser { name, password })
                } else {
                    self.keyword("ROLE")?;
                    Ok(AuthStatement::CreateRole(self.name("a role name")?))
                }
            }
            "SET" => {
                if self.at("PASSWORD") {
                    self.keyword("PASSWORD")?;
                    self.keyword("FOR")?;
                    let name = self.name("a user name")?;
                    self.keyword("TO")?;
                    let password = self.password()?;
                    Ok(AuthStatement::SetPassword { name, password })
                } else {
                    self.keyword("ROLE")?;
                    self.keyword("FOR")?;
                    let user = self.name("a user name")?;
                    self.keyword("TO")?;
                    let role = self.name("a role name")?;
                    Ok(AuthStatement::SetRole { user, role })
                }
            }
            "CLEAR" => {
                self.keyword("ROLE")?;
                self.keyword("FOR")?;
                Ok(AuthStatement::ClearRole(self.name("a user name")?))
            }
            "DROP" => {
                if self.at("USER") {
                    self.keyword("USER")?;
                    Ok(AuthStatement::DropUser(self.name("a user name")?))
                } else {
                    self.keyword("ROLE")?;
                    Ok(AuthStatement::DropRole(self.name("a role name")?))
                }
            }
            "SHOW" => {
                if self.at("USERS") {
                    self.keyword("USERS")?;
                    Ok(AuthStatement::ShowUsers)
                } else if self.at("ROLES") {
                    self.keyword("ROLES")?;
                    Ok(AuthStatement::ShowRoles)
                } else {
                    self.keyword("PRIVILEGES")?;
                    self.keyword("FOR")?;
                    Ok(AuthStatement::ShowPrivileges(
                        self.name("a user or role name")?,
                    ))
                }
            }
            "GRANT" | "DENY" | "REVOKE" => {
                let action = match first.as_str() {
                    "GRANT" => GrantAction::Grant,
                    "DENY" => GrantAction::Deny,
                    _ => GrantAction::Revoke,
                };
                let privileges = if self.at("ALL") {
                    self.keyword("ALL")?;
                    self.keyword("PRIVILEGES")?;
                    PRIVILEGES.iter().map(|(p, _)| p.to_string()).collect()
                } else {
                    let mut list = vec![self.name("a privilege")?.to_ascii_uppercase()];
                    while matches!(self.words.get(self.pos), Some(Tok::Comma)) {
                        self.pos += 1;
                        list.push(self.name("a privilege")?.to_ascii_uppercase());
                    }
                    list
                };
                self.keyword(if action == GrantAction::Revoke {
                    "FROM"
                } else {
                    "TO"
                })?;
                let name = self.name("a user or role name")?;
                Ok(AuthStatement::Privileges {
                    action,
                    privileges,
                    name,
                })
            }
            other => Err(format!("Invalid input: unexpected {other}.")),
        }
    }
}

fn describe(tok: Option<&Tok>) -> String {
    match tok {
        None | Some(Tok::Eof) => "the end of the query".to_owned(),
        Some(Tok::Ident { name, .. }) => format!("'{name}'"),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Option<AuthStatement>, SyntaxError> {
        recognise(&crate::cypher::lexer::tokenize(query)?)
    }

    #[test]
    fn parses_memgraph_forms() {
        assert_eq!(
            parse("CREATE USER alice IDENTIFIED BY 'pw';").unwrap(),
            Some(AuthStatement::CreateUser {
                name: "alice".into(),
                password: Some("pw".into())
            })
        );
        assert_eq!(
            parse("grant reload_tls, stats to ops").unwrap(),
            Some(AuthStatement::Privileges {
                action: GrantAction::Grant,
                privileges: vec!["RELOAD_TLS".into(), "STATS".into()],
                name: "ops".into()
            })
        );
        assert!(matches!(
            parse("REVOKE ALL PRIVILEGES FROM bob").unwrap(),
            Some(AuthStatement::Privileges {
                action: GrantAction::Revoke,
                ..
            })
        ));
        assert_eq!(
            parse("SET PASSWORD FOR bob TO null").unwrap(),
            Some(AuthStatement::SetPassword {
                name: "bob".into(),
                password: None
            })
        );
        assert_eq!(
            parse("SHOW PRIVILEGES FOR bob").unwrap(),
            Some(AuthStatement::ShowPrivileges("bob".into()))
        );
        assert_eq!(parse("RETURN 1").unwrap(), None);
        assert_eq!(parse("CREATE (n)").unwrap(), None);
        assert!(parse("CREATE USER").is_err());
        assert!(parse("GRANT RELOAD_TLS bob").is_err());
    }
}
