//! The statement front end: every text a client may send, lexed once and parsed once.
//!
//! A RUN's text can be a Cypher query, one of Memgraph's index, constraint or info statements, a
//! user or privilege statement, a transaction word (`BEGIN`, `COMMIT`, `ROLLBACK`) or one of the
//! server's own statements (`RELOAD BOLT_SERVER TLS`, `SHOW BOLT_SERVER TLS INFO`). [`parse`]
//! turns any of them into one [`Statement`]; the parsed statement flows down to the dispatcher and
//! the engine, and no room reads the text again.
//!
//! Files: [`cache`] keeps parsed queries by their text; [`lexer`] makes tokens with byte spans; [`words`] recognises the transaction words and
//! server statements; [`auth`] the user and privilege statements; [`parser`] queries and schema
//! statements into the [`ast`]; [`semantic`] checks a parsed query before anything runs.
//!
//! This module knows nothing of the engine, sockets or the dispatcher: it speaks tokens, the AST
//! and [`crate::value`]. Its error texts (with line and column) are what clients see, so they stay
//! stable.

pub mod ast;
pub mod auth;
pub mod cache;
pub mod lexer;
pub mod parser;
pub mod semantic;
pub mod words;

pub use ast::{SchemaCommand, Statement};
pub(crate) use parser::{RED_ZONE, STACK_GROWTH};

use std::fmt;

/// A text that is not a statement the server accepts. The message says what was expected and
/// where (line and column) whenever the parser knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
}

impl SyntaxError {
    pub fn new(message: impl Into<String>) -> Self {
        SyntaxError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses one statement; a query parsed before is copied from [`cache`].
pub fn parse(text: &str) -> Result<Statement, SyntaxError> {
    cache::parse(text)
}

/// Parses one statement. The text is lexed once; the tokens are offered to the recognisers of
/// the short statements first (they look at a few leading words), then to the query parser.
fn parse_text(text: &str) -> Result<Statement, SyntaxError> {
    let tokens = match lexer::tokenize(text) {
        Ok(tokens) => tokens,
        // A malformed RELOAD is named as such even when the rest does not lex.
        Err(e) => return Err(words::malformed_reload(text).unwrap_or(e)),
    };
    if let Some(statement) = auth::recognise(&tokens)? {
        return Ok(Statement::Auth(statement));
    }
    if let Some(statement) = words::recognise(text, &tokens)? {
        return Ok(statement);
    }
    let statement = parser::parse_tokens(text, tokens)?;
    if let Statement::Query(q) | Statement::Explain(q) | Statement::Profile(q) = &statement {
        semantic::check(q)?;
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parse_routes_every_kind_of_statement() {
        assert!(matches!(parse("RETURN 1"), Ok(Statement::Query(_))));
        assert!(matches!(
            parse("CREATE INDEX ON :L(p)"),
            Ok(Statement::Schema(SchemaCommand::CreateIndex { .. }))
        ));
        assert!(matches!(
            parse("CREATE USER alice"),
            Ok(Statement::Auth(auth::AuthStatement::CreateUser { .. }))
        ));
        assert_eq!(parse("begin;"), Ok(Statement::Begin));
        assert_eq!(parse("RELOAD BOLT_SERVER TLS"), Ok(Statement::ReloadTls));
        assert_eq!(
            parse("SHOW BOLT_SERVER TLS INFO"),
            Ok(Statement::ShowTlsInfo)
        );
    }

    #[test]
    fn lexer_errors_keep_their_position_and_reload_keeps_its_hint() {
        let e = parse("RETURN 'open").unwrap_err();
        assert!(e.message.contains("line 1"), "{}", e.message);
        let e = parse("RELOAD BOLT_SERVER TLS 'open").unwrap_err();
        assert!(
            e.message
                .contains("the only RELOAD statement is RELOAD BOLT_SERVER TLS"),
            "{}",
            e.message
        );
    }
}
