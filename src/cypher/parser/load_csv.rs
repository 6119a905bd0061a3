//! Memgraph's `LOAD CSV FROM source (WITH | NO) HEADER [IGNORE BAD] [DELIMITER d] [QUOTE q]
//! [NULLIF s] AS variable`, its options in that order as Memgraph's grammar has them.
//!
//! The source and the options are expressions (a literal or a parameter, typically); the engine
//! evaluates them once and checks their values.

use super::Parser;
use crate::cypher::ast::{Clause, Expr, LoadCsv};
use crate::cypher::SyntaxError;

impl Parser<'_> {
    /// After the `LOAD` keyword.
    pub(super) fn load_csv_clause(&mut self) -> Result<Clause, SyntaxError> {
        if !self.eat_keyword("CSV") {
            return Err(SyntaxError::new(
                "LOAD is supported only as LOAD CSV by boltd's embedded engine.",
            ));
        }
        self.expect_keyword("FROM")?;
        let source = self.expr()?;
        let header = if self.eat_keyword("WITH") {
            true
        } else if self.eat_keyword("NO") {
            false
        } else {
            return Err(self.error("WITH HEADER or NO HEADER after the file of LOAD CSV"));
        };
        self.expect_keyword("HEADER")?;
        let ignore_bad = self.eat_keyword("IGNORE");
        if ignore_bad {
            self.expect_keyword("BAD")?;
        }
        let option = |p: &mut Self, kw: &str| -> Result<Option<Expr>, SyntaxError> {
            if p.eat_keyword(kw) {
                p.expr().map(Some)
            } else {
                Ok(None)
            }
        };
        let delimiter = option(self, "DELIMITER")?;
        let quote = option(self, "QUOTE")?;
        let nullif = option(self, "NULLIF")?;
        if !self.at_keyword("AS") {
            return Err(self.error(
                "AS and a variable name (the options of LOAD CSV are, in this order, \
                 IGNORE BAD, DELIMITER, QUOTE and NULLIF)",
            ));
        }
        self.advance();
        let variable = self.name("a variable name after AS")?;
        Ok(Clause::LoadCsv(LoadCsv {
            source,
            header,
            ignore_bad,
            delimiter,
            quote,
            nullif,
            variable,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::cypher::ast::{Clause, Expr, LoadCsv};
    use crate::cypher::parse;
    use crate::value::Value;

    use super::super::clauses_of as clauses;

    fn load(q: &str) -> LoadCsv {
        match clauses(q).remove(0) {
            Clause::LoadCsv(l) => l,
            other => panic!("{other:?}"),
        }
    }

    fn error(q: &str) -> String {
        match parse(q) {
            Err(e) => e.message,
            Ok(other) => panic!("{q} parsed: {other:?}"),
        }
    }

    fn text(s: &str) -> Option<Expr> {
        Some(Expr::Literal(Value::String(s.into())))
    }

    #[test]
    fn the_shortest_form_has_no_options() {
        let l = load("LOAD CSV FROM '/tmp/a.csv' WITH HEADER AS row RETURN row");
        assert_eq!(
            l,
            LoadCsv {
                source: Expr::Literal(Value::String("/tmp/a.csv".into())),
                header: true,
                ignore_bad: false,
                delimiter: None,
                quote: None,
                nullif: None,
                variable: "row".into(),
            }
        );
        let l = load("load csv from $file no header as r create (:N {v: r[0]})");
        assert!(!l.header);
        assert_eq!(l.source, Expr::Parameter("file".into()));
    }

    #[test]
    fn every_option_in_order() {
        let l = load(
            "LOAD CSV FROM 'f' NO HEADER IGNORE BAD DELIMITER ';' QUOTE \"'\" NULLIF '' AS row \
             RETURN row",
        );
        assert!(l.ignore_bad);
        assert_eq!(l.delimiter, text(";"));
        assert_eq!(l.quote, text("'"));
        assert_eq!(l.nullif, text(""));
        let l = load("LOAD CSV FROM 'f' WITH HEADER NULLIF 'NA' AS row RETURN row");
        assert_eq!((l.delimiter, l.quote, l.nullif), (None, None, text("NA")));
    }

    #[test]
    fn load_csv_is_a_reading_clause() {
        let c = clauses("MATCH (n) LOAD CSV FROM 'f' NO HEADER AS r WITH n, r RETURN n");
        assert!(matches!(c[1], Clause::LoadCsv(_)));
        assert!(!c[1].writes());
        // Like MATCH, it cannot end a query.
        let e = error("LOAD CSV FROM 'f' WITH HEADER AS row");
        assert!(e.contains("a query must end with RETURN"), "{e}");
    }

    #[test]
    fn mistakes_name_what_was_expected() {
        let e = error("LOAD CSV FROM 'f' AS row RETURN row");
        assert!(e.contains("WITH HEADER or NO HEADER"), "{e}");
        let e = error("LOAD CSV FROM 'f' WITH HEADER QUOTE 'x' DELIMITER ';' AS row RETURN 1");
        assert!(e.contains("in this order"), "{e}");
        let e = error("LOAD CSV FROM 'f' WITH HEADERS AS row RETURN 1");
        assert!(e.contains("HEADER"), "{e}");
        let e = error("LOAD CSV FROM 'f' WITH HEADER IGNORE AS row RETURN 1");
        assert!(e.contains("BAD"), "{e}");
        let e = error("LOAD JSONL FROM 'f' AS row RETURN 1");
        assert!(e.contains("only as LOAD CSV"), "{e}");
    }
}
