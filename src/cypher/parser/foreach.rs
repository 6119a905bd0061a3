//! `FOREACH (variable IN list | updating clauses)`.
//!
//! Only updating clauses may appear inside (CREATE, MERGE, SET, REMOVE, DELETE and FOREACH
//! itself), as openCypher defines it: FOREACH changes the graph and never the rows, so a reading
//! or projecting clause inside would have nothing to hand its rows to.

use super::{Parser, RED_ZONE, STACK_GROWTH};
use crate::cypher::ast::Clause;
use crate::cypher::lexer::Tok;
use crate::cypher::SyntaxError;

impl Parser<'_> {
    /// After the `FOREACH` keyword.
    pub(super) fn foreach_clause(&mut self) -> Result<Clause, SyntaxError> {
        self.expect(&Tok::LParen, "'(' after FOREACH")?;
        let variable = self.name("a variable name after FOREACH (")?;
        self.expect_keyword("IN")?;
        // Nested FOREACH recurses through here: count it as nesting so that a hostile query
        // cannot overflow the stack.
        self.nest()?;
        // Each level costs a few parser frames; grow the stack rather than trust its size.
        let r = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.foreach_body(variable));
        self.depth -= 1;
        r
    }

    fn foreach_body(&mut self, variable: String) -> Result<Clause, SyntaxError> {
        let list = self.expr()?;
        self.expect(&Tok::Pipe, "'|' after the list of FOREACH")?;
        let mut clauses = Vec::new();
        while *self.peek() != Tok::RParen {
            let at = self.pos;
            match self.clause()? {
                Some(
                    c @ (Clause::Create(_)
                    | Clause::Merge { .. }
                    | Clause::Set(_)
                    | Clause::Remove(_)
                    | Clause::Delete { .. }
                    | Clause::Foreach { .. }),
                ) => clauses.push(c),
                _ => {
                    self.pos = at;
                    return Err(self.error(
                        "an updating clause (CREATE, MERGE, SET, REMOVE, DELETE or FOREACH) \
                         inside FOREACH",
                    ));
                }
            }
        }
        if clauses.is_empty() {
            return Err(self.error(
                "an updating clause (CREATE, MERGE, SET, REMOVE, DELETE or FOREACH) after '|'",
            ));
        }
        self.advance();
        Ok(Clause::Foreach {
            variable,
            list,
            clauses,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::cypher::ast::{Clause, Expr};
    use crate::cypher::parse;

    use super::super::clauses_of as clauses;

    fn error(q: &str) -> String {
        match parse(q) {
            Err(e) => e.message,
            Ok(other) => panic!("{q} parsed: {other:?}"),
        }
    }

    #[test]
    fn foreach_holds_its_updating_clauses() {
        let c = clauses("MATCH (n) FOREACH (x IN [1, 2] | CREATE (:A {v: x}) SET n.x = x)");
        let Clause::Foreach {
            variable,
            list,
            clauses,
        } = &c[1]
        else {
            panic!("{c:?}")
        };
        assert_eq!(variable, "x");
        assert!(matches!(list, Expr::List(items) if items.len() == 2));
        assert!(matches!(clauses[..], [Clause::Create(_), Clause::Set(_)]));
    }

    #[test]
    fn foreach_nests_and_may_end_a_query_or_be_followed() {
        let c = clauses("FOREACH (x IN [1] | FOREACH (y IN [x] | MERGE (:B {v: y}))) RETURN 1");
        let Clause::Foreach { clauses: inner, .. } = &c[0] else {
            panic!("{c:?}")
        };
        assert!(matches!(
            &inner[..],
            [Clause::Foreach { variable, clauses, .. }]
                if variable == "y" && matches!(clauses[..], [Clause::Merge { .. }])
        ));
        assert!(matches!(c[1], Clause::Return(_)));
        let c = clauses("UNWIND [1] AS i foreach (x in [i] | DETACH DELETE x REMOVE x.p)");
        assert!(matches!(&c[1], Clause::Foreach { clauses, .. } if clauses.len() == 2));
    }

    #[test]
    fn only_updating_clauses_may_be_inside() {
        let e = error("FOREACH (x IN [1] | MATCH (n) CREATE (n))");
        assert!(e.contains("an updating clause"), "{e}");
        assert!(e.contains("'MATCH'"), "{e}");
        let e = error("FOREACH (x IN [1] | RETURN x)");
        assert!(e.contains("an updating clause"), "{e}");
        let e = error("FOREACH (x IN [1] | )");
        assert!(e.contains("after '|'"), "{e}");
        let e = error("FOREACH (x IN [1] CREATE ())");
        assert!(e.contains("'|'"), "{e}");
        let e = error("FOREACH (x IN [1] | CREATE ()");
        assert!(e.contains("updating clause"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let depth = 300;
        let q = format!(
            "{}CREATE (){}",
            "FOREACH (x IN [1] | ".repeat(depth),
            ")".repeat(depth)
        );
        assert!(error(&q).contains("deeper than"));
    }
}
