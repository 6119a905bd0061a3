//! The statements of a few fixed words: the transaction words and the server's own statements.
//!
//! pymgclient opens and ends transactions with the Cypher words `BEGIN`, `COMMIT` and `ROLLBACK`,
//! and `RELOAD BOLT_SERVER TLS` and `SHOW BOLT_SERVER TLS INFO` are Memgraph statements about the
//! server rather than the graph. Keywords are case-insensitive and one trailing `;` is allowed. A
//! statement that starts with `RELOAD` but is not a valid reload is refused here, with a hint,
//! rather than with a confusing error from the query parser.

use super::ast::{ServerStatement, Statement};
use super::lexer::{Tok, Token};
use super::SyntaxError;

/// The statement the tokens spell, `Ok(None)` when they are not one of these.
pub fn recognise(text: &str, tokens: &[Token]) -> Result<Option<Statement>, SyntaxError> {
    let mut toks: &[Token] = tokens;
    if let [rest @ .., last] = toks {
        if last.tok == Tok::Eof {
            toks = rest;
        }
    }
    if let [rest @ .., last] = toks {
        if last.tok == Tok::Semicolon {
            toks = rest;
        }
    }
    let word = |i: usize| match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Ident {
            name,
            quoted: false,
        }) => Some(name.as_str()),
        _ => None,
    };
    let is = |i: usize, k: &str| word(i).is_some_and(|w| w.eq_ignore_ascii_case(k));
    let exactly =
        |ks: &[&str]| toks.len() == ks.len() && ks.iter().enumerate().all(|(i, k)| is(i, k));
    if exactly(&["BEGIN"]) {
        return Ok(Some(Statement::Begin));
    }
    if exactly(&["COMMIT"]) {
        return Ok(Some(Statement::Commit));
    }
    if exactly(&["ROLLBACK"]) {
        return Ok(Some(Statement::Rollback));
    }
    if exactly(&["SHOW", "BOLT_SERVER", "TLS", "INFO"]) {
        return Ok(Some(Statement::ShowTlsInfo));
    }
    if let Some(statement) = server_statement(toks, &exactly, &is) {
        return statement.map(|s| Some(Statement::Server(s)));
    }
    if !is(0, "RELOAD") {
        return Ok(None);
    }
    if exactly(&["RELOAD", "BOLT_SERVER", "TLS"]) {
        return Ok(Some(Statement::ReloadTls));
    }
    Err(reload_error(
        text,
        exactly(&["RELOAD", "INTRA_CLUSTER", "TLS"]),
    ))
}

/// For a text that does not lex: the RELOAD refusal when it starts with the word RELOAD.
pub fn malformed_reload(text: &str) -> Option<SyntaxError> {
    let first = text.split_whitespace().next()?;
    first
        .eq_ignore_ascii_case("RELOAD")
        .then(|| reload_error(text, false))
}

fn reload_error(text: &str, intra_cluster: bool) -> SyntaxError {
    if intra_cluster {
        return SyntaxError::new(
            "RELOAD INTRA_CLUSTER TLS is not supported: boltd is a single server without \
             intra-cluster TLS. Use RELOAD BOLT_SERVER TLS to reload the Bolt certificate.",
        );
    }
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text);
    SyntaxError::new(format!(
        "Invalid statement '{}': the only RELOAD statement is RELOAD BOLT_SERVER TLS.",
        text
    ))
}

/// `SHOW CONFIG`, `SHOW VERSION`, `SHOW BUILD INFO`, `SHOW DATABASES`, `USE DATABASE name`,
/// `SHOW TRANSACTIONS`, `TERMINATE TRANSACTIONS 'id', ...`, `SHOW NODE_LABELS INFO`,
/// `SHOW EDGE_TYPES INFO`, `SHOW ACTIVE USERS INFO`; `None` when the tokens are none of them.
fn server_statement(
    toks: &[Token],
    exactly: &dyn Fn(&[&str]) -> bool,
    is: &dyn Fn(usize, &str) -> bool,
) -> Option<Result<ServerStatement, SyntaxError>> {
    let fixed = [
        (&["SHOW", "CONFIG"][..], ServerStatement::ShowConfig),
        (&["SHOW", "VERSION"], ServerStatement::ShowVersion),
        (&["SHOW", "BUILD", "INFO"], ServerStatement::ShowBuildInfo),
        (&["SHOW", "DATABASES"], ServerStatement::ShowDatabases),
        (&["SHOW", "TRANSACTIONS"], ServerStatement::ShowTransactions),
        (
            &["SHOW", "NODE_LABELS", "INFO"],
            ServerStatement::ShowNodeLabelsInfo,
        ),
        (
            &["SHOW", "EDGE_TYPES", "INFO"],
            ServerStatement::ShowEdgeTypesInfo,
        ),
        (
            &["SHOW", "ACTIVE", "USERS", "INFO"],
            ServerStatement::ShowActiveUsersInfo,
        ),
    ];
    for (words, statement) in fixed {
        if exactly(words) {
            return Some(Ok(statement));
        }
    }
    if is(0, "USE") && is(1, "DATABASE") {
        return Some(
            match toks
                .get(2..)
                .map(|t| t.iter().map(|t| &t.tok).collect::<Vec<_>>())
            {
                Some(rest) if rest.len() == 1 => match rest[0] {
                    Tok::Ident { name, .. } => Ok(ServerStatement::UseDatabase(name.clone())),
                    _ => Err(SyntaxError::new("USE DATABASE needs a database name.")),
                },
                _ => Err(SyntaxError::new(
                    "USE DATABASE needs one database name, e.g. USE DATABASE memgraph.",
                )),
            },
        );
    }
    if is(0, "TERMINATE") && is(1, "TRANSACTIONS") {
        let mut ids = Vec::new();
        let mut rest = toks.get(2..).unwrap_or_default().iter().map(|t| &t.tok);
        loop {
            match rest.next() {
                Some(Tok::Str(id)) => ids.push(id.clone()),
                _ => {
                    return Some(Err(SyntaxError::new(
                        "TERMINATE TRANSACTIONS needs transaction ids as strings, e.g. \
                         TERMINATE TRANSACTIONS '42', '43'.",
                    )))
                }
            }
            match rest.next() {
                None => return Some(Ok(ServerStatement::TerminateTransactions(ids))),
                Some(Tok::Comma) => {}
                Some(_) => {
                    return Some(Err(SyntaxError::new(
                        "Transaction ids in TERMINATE TRANSACTIONS are separated by commas.",
                    )))
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::cypher::{parse, Statement};

    #[test]
    fn recognises_reload_in_any_case_with_optional_semicolon() {
        for q in [
            "RELOAD BOLT_SERVER TLS",
            "reload bolt_server tls;",
            "  Reload  Bolt_Server\n TLS ; ",
        ] {
            assert_eq!(parse(q).unwrap(), Statement::ReloadTls, "{q:?}");
        }
    }

    #[test]
    fn tls_info_is_recognised() {
        assert_eq!(
            parse("show bolt_server tls info;").unwrap(),
            Statement::ShowTlsInfo
        );
    }

    #[test]
    fn transaction_words() {
        assert_eq!(parse("begin").unwrap(), Statement::Begin);
        assert_eq!(parse("COMMIT;").unwrap(), Statement::Commit);
        assert_eq!(parse(" Rollback ").unwrap(), Statement::Rollback);
        assert!(matches!(parse("RETURN 1").unwrap(), Statement::Query(_)));
        // Not a transaction word: the query parser reports it.
        assert!(parse("BEGIN RETURN 1").is_err());
    }

    #[test]
    fn server_statements_are_recognised() {
        use crate::cypher::ast::ServerStatement as S;
        let server = |q: &str| match crate::cypher::parse(q) {
            Ok(Statement::Server(s)) => s,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(server("show config;"), S::ShowConfig);
        assert_eq!(server("SHOW VERSION"), S::ShowVersion);
        assert_eq!(server("SHOW BUILD INFO"), S::ShowBuildInfo);
        assert_eq!(server("SHOW DATABASES"), S::ShowDatabases);
        assert_eq!(server("SHOW TRANSACTIONS"), S::ShowTransactions);
        assert_eq!(server("SHOW NODE_LABELS INFO"), S::ShowNodeLabelsInfo);
        assert_eq!(server("SHOW EDGE_TYPES INFO"), S::ShowEdgeTypesInfo);
        assert_eq!(server("SHOW ACTIVE USERS INFO"), S::ShowActiveUsersInfo);
        assert_eq!(
            server("USE DATABASE memgraph"),
            S::UseDatabase("memgraph".into())
        );
        assert_eq!(
            server("TERMINATE TRANSACTIONS '1', \"2\""),
            S::TerminateTransactions(vec!["1".into(), "2".into()])
        );
        for bad in [
            "USE DATABASE",
            "USE DATABASE a b",
            "TERMINATE TRANSACTIONS",
            "TERMINATE TRANSACTIONS 1",
            "TERMINATE TRANSACTIONS '1' '2'",
        ] {
            assert!(crate::cypher::parse(bad).is_err(), "{bad}");
        }
    }
}
