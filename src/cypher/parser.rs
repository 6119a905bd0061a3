//! A recursive-descent Cypher parser.
//!
//! Precedence, loosest first: OR, XOR, AND, NOT, comparison, the predicates (IN, STARTS WITH,
//! ENDS WITH, CONTAINS, =~, IS NULL), + and -, * / %, ^, unary minus, then property access,
//! indexing and slicing. Nesting is capped so that a hostile query cannot overflow the stack.

use std::sync::Arc;

use super::ast::{
    BinaryOp, Clause, Direction, Expr, NodePattern, PatternPart, ProcedureCall, Projection,
    Quantifier, Query, RelPattern, RemoveItem, ReturnItem, SchemaCommand, SetItem, SortItem,
    Statement,
};
use super::lexer::{position, Tok, Token};
use super::SyntaxError;
use crate::value::Value;

mod foreach;
mod load_csv;

/// Deeper expression nesting than this is refused.
const MAX_DEPTH: usize = 128;
/// When less stack than this remains, recursion continues on a fresh segment...
pub(crate) const RED_ZONE: usize = 128 * 1024;
/// ...of this size.
pub(crate) const STACK_GROWTH: usize = 4 * 1024 * 1024;

/// Clause keywords the embedded engine does not run; named in the error so users know why.
const UNSUPPORTED_CLAUSES: &[&str] = &[
    "USING", "GRANT", "DENY", "REVOKE", "ANALYZE", "FREE", "TRIGGER",
];

/// Parses a whole statement from its tokens: a Cypher query or one of the schema statements.
/// `text` is what the tokens were made from; errors quote it and give positions in it.
pub fn parse_tokens(text: &str, tokens: Vec<Token>) -> Result<Statement, SyntaxError> {
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
    };
    if let Some(command) = p.schema_command()? {
        return Ok(Statement::Schema(command));
    }
    if p.eat_keyword("EXPLAIN") {
        return p.query().map(|q| Statement::Explain(Arc::new(q)));
    }
    if p.eat_keyword("PROFILE") {
        return p.query().map(|q| Statement::Profile(Arc::new(q)));
    }
    p.query().map(|q| Statement::Query(Arc::new(q)))
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn start_of_current(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.text.len(), |t| t.start)
    }

    fn end_of_previous(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.end)
    }

    fn advance(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    /// Whether the current token is the (unquoted) keyword `kw`.
    fn at_keyword(&self, kw: &str) -> bool {
        self.keyword_at(0, kw)
    }

    fn keyword_at(&self, ahead: usize, kw: &str) -> bool {
        matches!(self.peek_at(ahead), Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn error(&self, expected: &str) -> SyntaxError {
        let found = match self.tokens.get(self.pos) {
            Some(Token { tok: Tok::Eof, .. }) | None => "the end of the query".to_owned(),
            Some(t) => format!("'{}'", &self.text[t.start..t.end]),
        };
        SyntaxError::new(format!(
            "Invalid input {found} at {}: expected {expected}.",
            position(self.text, self.start_of_current())
        ))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), SyntaxError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), SyntaxError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(kw))
        }
    }

    fn name(&mut self, what: &str) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Ident { name, .. } => {
                self.advance();
                Ok(name)
            }
            _ => Err(self.error(what)),
        }
    }

    fn query(&mut self) -> Result<Query, SyntaxError> {
        if *self.peek() == Tok::Eof {
            return Err(SyntaxError::new("The query is empty."));
        }
        self.query_until(&Tok::Eof)
    }

    /// Clauses up to `end` (the end of the text, or the `}` closing a subquery, left unconsumed).
    fn query_until(&mut self, end: &Tok) -> Result<Query, SyntaxError> {
        let mut clauses = Vec::new();
        loop {
            if self.at_keyword("CALL") && *self.peek_at(1) == Tok::LBrace {
                self.advance();
                clauses.push(Clause::CallSubquery(Box::new(self.subquery_body()?)));
                continue;
            }
            if let Some(kw) = UNSUPPORTED_CLAUSES.iter().find(|kw| self.at_keyword(kw)) {
                return Err(SyntaxError::new(format!(
                    "{kw} is not supported by boltd's embedded engine."
                )));
            }
            if self.at_keyword("RETURN") {
                self.advance();
                clauses.push(Clause::Return(self.projection()?));
                return self.query_end(clauses, end);
            }
            match self.clause()? {
                Some(clause) => clauses.push(clause),
                None => {
                    // A subquery may end without RETURN (EXISTS { MATCH ... }, unit CALL { }),
                    // and a query of one CALL may end there (a standalone call).
                    let standalone = matches!(clauses.as_slice(), [Clause::CallProcedure(_)]);
                    let unit = clauses.last().is_some_and(Clause::writes)
                        || standalone
                        || (*end == Tok::RBrace && !clauses.is_empty());
                    let at_end = *self.peek() == *end
                        || (*end == Tok::Eof && *self.peek() == Tok::Semicolon);
                    if unit && (at_end || self.at_keyword("UNION")) {
                        return self.query_end(clauses, end);
                    }
                    let last_writes = clauses.last().is_some_and(Clause::writes);
                    return Err(self.error(if clauses.is_empty() {
                        "a clause (MATCH, CREATE, MERGE, UNWIND, WITH, RETURN, ...)"
                    } else if last_writes {
                        "another clause or the end of the query"
                    } else {
                        "another clause (a query must end with RETURN or an updating clause)"
                    }));
                }
            }
        }
    }

    /// After the last clause: an optional `UNION [ALL]` and another query, or the end.
    fn query_end(&mut self, clauses: Vec<Clause>, end: &Tok) -> Result<Query, SyntaxError> {
        if self.eat_keyword("UNION") {
            let all = self.eat_keyword("ALL");
            let next = self.query_until(end)?;
            return Ok(Query {
                clauses,
                union: Some((all, Box::new(next))),
            });
        }
        if *end == Tok::RBrace {
            if *self.peek() != Tok::RBrace {
                return Err(self.error("'}' closing the subquery"));
            }
            return Ok(Query {
                clauses,
                union: None,
            });
        }
        self.eat(&Tok::Semicolon);
        if *self.peek() != Tok::Eof {
            return Err(self.error("the end of the query"));
        }
        Ok(Query {
            clauses,
            union: None,
        })
    }

    /// One clause other than RETURN, or `None` when the next token starts none.
    fn clause(&mut self) -> Result<Option<Clause>, SyntaxError> {
        if self.at_keyword("CALL") && *self.peek_at(1) != Tok::LBrace {
            return self.procedure_call().map(Some);
        }
        if self.at_keyword("OPTIONAL") {
            self.advance();
            self.expect_keyword("MATCH")?;
            return self.match_clause(true).map(Some);
        }
        if self.eat_keyword("MATCH") {
            return self.match_clause(false).map(Some);
        }
        if self.eat_keyword("UNWIND") {
            let expr = self.expr()?;
            self.expect_keyword("AS")?;
            let variable = self.name("a variable name after AS")?;
            return Ok(Some(Clause::Unwind { expr, variable }));
        }
        if self.eat_keyword("FOREACH") {
            return self.foreach_clause().map(Some);
        }
        if self.eat_keyword("LOAD") {
            return self.load_csv_clause().map(Some);
        }
        if self.eat_keyword("WITH") {
            let projection = self.projection()?;
            let filter = self.where_clause()?;
            return Ok(Some(Clause::With { projection, filter }));
        }
        if self.eat_keyword("CREATE") {
            return Ok(Some(Clause::Create(self.pattern_list()?)));
        }
        if self.eat_keyword("MERGE") {
            let pattern = self.pattern_part()?;
            let mut on_create = Vec::new();
            let mut on_match = Vec::new();
            while self.at_keyword("ON") {
                self.advance();
                let create = if self.eat_keyword("CREATE") {
                    true
                } else if self.eat_keyword("MATCH") {
                    false
                } else {
                    return Err(self.error("CREATE or MATCH after ON"));
                };
                self.expect_keyword("SET")?;
                let items = self.set_items()?;
                if create {
                    on_create.extend(items);
                } else {
                    on_match.extend(items);
                }
            }
            return Ok(Some(Clause::Merge {
                pattern,
                on_create,
                on_match,
            }));
        }
        if self.eat_keyword("SET") {
            return Ok(Some(Clause::Set(self.set_items()?)));
        }
        if self.eat_keyword("REMOVE") {
            return Ok(Some(Clause::Remove(self.remove_items()?)));
        }
        let detach = self.at_keyword("DETACH");
        if detach {
            self.advance();
            if !self.at_keyword("DELETE") {
                return Err(self.error("DELETE after DETACH"));
            }
        }
        if self.eat_keyword("DELETE") {
            let mut targets = vec![self.expr()?];
            while self.eat(&Tok::Comma) {
                targets.push(self.expr()?);
            }
            return Ok(Some(Clause::Delete { detach, targets }));
        }
        Ok(None)
    }

    /// `CALL dotted.name[(args)] [YIELD * | YIELD field [AS alias], ...] [WHERE predicate]`.
    /// Without parentheses the call has no arguments (openCypher allows that standalone).
    fn procedure_call(&mut self) -> Result<Clause, SyntaxError> {
        self.expect_keyword("CALL")?;
        let mut name = self.name("a procedure name")?;
        while self.eat(&Tok::Dot) {
            name.push('.');
            name.push_str(&self.name("a procedure name after '.'")?);
        }
        let mut args = Vec::new();
        if self.eat(&Tok::LParen) && !self.eat(&Tok::RParen) {
            loop {
                args.push(self.expr()?);
                if self.eat(&Tok::Comma) {
                    continue;
                }
                self.expect(&Tok::RParen, "',' or ')' after the procedure's arguments")?;
                break;
            }
        }
        let mut yields = None;
        let mut filter = None;
        if self.eat_keyword("YIELD") {
            if !self.eat(&Tok::Star) {
                let mut fields = Vec::new();
                loop {
                    let field = self.name("a result field after YIELD")?;
                    let alias = if self.eat_keyword("AS") {
                        self.name("a variable name after AS")?
                    } else {
                        field.clone()
                    };
                    fields.push((field, alias));
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                yields = Some(fields);
            }
            filter = self.where_clause()?;
        }
        Ok(Clause::CallProcedure(ProcedureCall {
            name,
            args,
            yields,
            filter,
        }))
    }

    fn match_clause(&mut self, optional: bool) -> Result<Clause, SyntaxError> {
        let patterns = self.pattern_list()?;
        let filter = self.where_clause()?;
        Ok(Clause::Match {
            optional,
            patterns: patterns.into(),
            filter,
        })
    }

    fn where_clause(&mut self) -> Result<Option<Expr>, SyntaxError> {
        if self.eat_keyword("WHERE") {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    fn pattern_list(&mut self) -> Result<Vec<PatternPart>, SyntaxError> {
        let mut parts = vec![self.pattern_part()?];
        while self.eat(&Tok::Comma) {
            parts.push(self.pattern_part()?);
        }
        Ok(parts)
    }

    /// `[p =] (a)-[r]->(b)...`
    fn pattern_part(&mut self) -> Result<PatternPart, SyntaxError> {
        let path_variable =
            if matches!(self.peek(), Tok::Ident { .. }) && *self.peek_at(1) == Tok::Eq {
                let name = self.name("a path variable")?;
                self.advance();
                Some(name)
            } else {
                None
            };
        let start = self.node_pattern()?;
        let mut steps = Vec::new();
        while matches!(self.peek(), Tok::Minus | Tok::Lt) {
            let rel = self.rel_pattern()?;
            steps.push((rel, self.node_pattern()?));
        }
        Ok(PatternPart {
            path_variable,
            start,
            steps,
        })
    }

    fn node_pattern(&mut self) -> Result<NodePattern, SyntaxError> {
        self.expect(&Tok::LParen, "'(' to start a node pattern")?;
        let variable = match self.peek() {
            Tok::Ident { .. } => Some(self.name("a variable")?),
            _ => None,
        };
        let labels = self.labels()?;
        let properties = self.pattern_properties()?;
        self.expect(&Tok::RParen, "')' to end the node pattern")?;
        Ok(NodePattern {
            variable,
            labels,
            properties,
        })
    }

    fn labels(&mut self) -> Result<Vec<String>, SyntaxError> {
        let mut labels = Vec::new();
        while self.eat(&Tok::Colon) {
            labels.push(self.name("a label")?);
        }
        Ok(labels)
    }

    fn pattern_properties(&mut self) -> Result<Option<Expr>, SyntaxError> {
        match self.peek() {
            Tok::LBrace => Ok(Some(self.map_literal()?)),
            Tok::Param(_) => Ok(Some(self.atom()?)),
            _ => Ok(None),
        }
    }

    /// `-[r:T {..} *1..3]->`, `<-[...]-`, `--`, `-->`, `<--`.
    fn rel_pattern(&mut self) -> Result<RelPattern, SyntaxError> {
        let incoming = self.eat(&Tok::Lt);
        self.expect(&Tok::Minus, "'-' in a relationship pattern")?;
        let mut rel = RelPattern {
            variable: None,
            types: Vec::new(),
            properties: None,
            direction: Direction::Either,
            length: None,
        };
        if self.eat(&Tok::LBracket) {
            if let Tok::Ident { .. } = self.peek() {
                rel.variable = Some(self.name("a variable")?);
            }
            if self.eat(&Tok::Colon) {
                rel.types.push(self.name("a relationship type")?);
                while self.eat(&Tok::Pipe) {
                    self.eat(&Tok::Colon);
                    rel.types.push(self.name("a relationship type")?);
                }
            }
            if self.eat(&Tok::Star) {
                rel.length = Some(self.length_range()?);
            }
            rel.properties = self.pattern_properties()?;
            self.expect(&Tok::RBracket, "']' to end the relationship pattern")?;
        }
        self.expect(&Tok::Minus, "'-' in a relationship pattern")?;
        let outgoing = self.eat(&Tok::Gt);
        rel.direction = match (incoming, outgoing) {
            (true, false) => Direction::Incoming,
            (false, true) => Direction::Outgoing,
            // `<-[]->` is read as either direction, as openCypher does.
            (false, false) | (true, true) => Direction::Either,
        };
        Ok(rel)
    }

    /// After `*`: nothing, `n`, `n..`, `..m`, `n..m`.
    fn length_range(&mut self) -> Result<(Option<u32>, Option<u32>), SyntaxError> {
        let bound = |p: &mut Self| -> Result<Option<u32>, SyntaxError> {
            match p.peek().clone() {
                Tok::Int(v) => {
                    p.advance();
                    u32::try_from(v)
                        .map(Some)
                        .map_err(|_| p.error("a small non-negative path length"))
                }
                _ => Ok(None),
            }
        };
        // `*1..3` lexes as Int(1) DotDot Int(3); `*1.` would be a float, which is an error.
        let min = bound(self)?;
        if self.eat(&Tok::DotDot) {
            let max = bound(self)?;
            return Ok((min, max));
        }
        if let Tok::Float(_) = self.peek() {
            return Err(self.error("a path length range such as *1..3"));
        }
        Ok(match min {
            Some(n) => (Some(n), Some(n)),
            None => (None, None),
        })
    }

    fn set_items(&mut self) -> Result<Vec<SetItem>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if *self.peek() == Tok::LParen {
                // `SET (n).p = v`, `SET (expr).p = v`.
                self.advance();
                let target = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                items.push(self.property_assignment(target, "'.' and a property name after ')'")?);
                if !self.eat(&Tok::Comma) {
                    return Ok(items);
                }
                continue;
            }
            let variable = self.name("a variable to SET")?;
            if *self.peek() == Tok::Colon {
                let labels = self.labels()?;
                items.push(SetItem::Labels { variable, labels });
            } else if self.eat(&Tok::Eq) {
                items.push(SetItem::Replace {
                    variable,
                    value: self.expr()?,
                });
            } else if *self.peek() == Tok::Plus && *self.peek_at(1) == Tok::Eq {
                self.advance();
                self.advance();
                items.push(SetItem::Merge {
                    variable,
                    value: self.expr()?,
                });
            } else {
                items.push(self.property_assignment(
                    Expr::Variable(variable),
                    "'.', ':', '=' or '+=' after the SET variable",
                )?);
            }
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    /// `.a.b = value` after a SET target.
    fn property_assignment(
        &mut self,
        target: Expr,
        expected: &str,
    ) -> Result<SetItem, SyntaxError> {
        let mut target = target;
        self.expect(&Tok::Dot, expected)?;
        let mut key = self.name("a property name")?;
        while self.eat(&Tok::Dot) {
            target = Expr::Property(Box::new(target), key);
            key = self.name("a property name")?;
        }
        self.expect(&Tok::Eq, "'='")?;
        Ok(SetItem::Property {
            target,
            key,
            value: self.expr()?,
        })
    }

    fn remove_items(&mut self) -> Result<Vec<RemoveItem>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            let variable = self.name("a variable to REMOVE from")?;
            if *self.peek() == Tok::Colon {
                let labels = self.labels()?;
                items.push(RemoveItem::Labels { variable, labels });
            } else {
                self.expect(&Tok::Dot, "'.' or ':' after the REMOVE variable")?;
                let key = self.name("a property name")?;
                items.push(RemoveItem::Property {
                    target: Expr::Variable(variable),
                    key,
                });
            }
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    /// Memgraph's index, constraint, storage and info statements; `None` for anything else.
    fn schema_command(&mut self) -> Result<Option<SchemaCommand>, SyntaxError> {
        let create = self.at_keyword("CREATE");
        let drop = self.at_keyword("DROP");
        if (create || drop) && self.keyword_at(1, "INDEX") {
            self.advance();
            self.advance();
            self.expect_keyword("ON")?;
            self.expect(&Tok::Colon, "':' and a label")?;
            let label = self.name("a label")?;
            let property = if self.eat(&Tok::LParen) {
                let p = self.name("a property name")?;
                self.expect(&Tok::RParen, "')'")?;
                Some(p)
            } else {
                None
            };
            self.statement_end()?;
            return Ok(Some(if create {
                SchemaCommand::CreateIndex { label, property }
            } else {
                SchemaCommand::DropIndex { label, property }
            }));
        }
        if (create || drop) && self.keyword_at(1, "CONSTRAINT") {
            self.advance();
            self.advance();
            self.expect_keyword("ON")?;
            self.expect(&Tok::LParen, "'('")?;
            let variable = self.name("a variable")?;
            self.expect(&Tok::Colon, "':' and a label")?;
            let label = self.name("a label")?;
            self.expect(&Tok::RParen, "')'")?;
            self.expect_keyword("ASSERT")?;
            let exists = self.eat_keyword("EXISTS");
            if exists {
                self.expect(&Tok::LParen, "'(' after EXISTS")?;
            }
            let v2 = self.name("the constrained variable")?;
            if v2 != variable {
                return Err(SyntaxError::new(format!(
                    "The constraint must name the pattern's variable {variable}, not {v2}."
                )));
            }
            self.expect(&Tok::Dot, "'.'")?;
            let property = self.name("a property name")?;
            if exists {
                self.expect(&Tok::RParen, "')'")?;
                self.statement_end()?;
                return Ok(Some(if create {
                    SchemaCommand::CreateExists { label, property }
                } else {
                    SchemaCommand::DropExists { label, property }
                }));
            }
            self.expect_keyword("IS")?;
            if !self.eat_keyword("UNIQUE") {
                return Err(SyntaxError::new(
                    "Supported constraints are ASSERT n.p IS UNIQUE and ASSERT EXISTS (n.p).",
                ));
            }
            self.statement_end()?;
            return Ok(Some(if create {
                SchemaCommand::CreateUnique { label, property }
            } else {
                SchemaCommand::DropUnique { label, property }
            }));
        }
        if create && self.keyword_at(1, "SNAPSHOT") {
            self.advance();
            self.advance();
            self.statement_end()?;
            return Ok(Some(SchemaCommand::CreateSnapshot));
        }
        if self.at_keyword("SHOW") && self.keyword_at(1, "SNAPSHOTS") {
            self.advance();
            self.advance();
            self.statement_end()?;
            return Ok(Some(SchemaCommand::ShowSnapshots));
        }
        if self.at_keyword("SHOW") {
            self.advance();
            let which = self
                .name("INDEX, CONSTRAINT or STORAGE")?
                .to_ascii_uppercase();
            self.expect_keyword("INFO")?;
            self.statement_end()?;
            return match which.as_str() {
                "INDEX" => Ok(Some(SchemaCommand::ShowIndexInfo)),
                "CONSTRAINT" => Ok(Some(SchemaCommand::ShowConstraintInfo)),
                "STORAGE" => Ok(Some(SchemaCommand::ShowStorageInfo)),
                _ => Err(SyntaxError::new(format!(
                    "SHOW {which} INFO is not supported; try SHOW INDEX INFO, SHOW CONSTRAINT \
                     INFO or SHOW STORAGE INFO."
                ))),
            };
        }
        if self.at_keyword("DUMP") && self.keyword_at(1, "DATABASE") {
            self.advance();
            self.advance();
            self.statement_end()?;
            return Ok(Some(SchemaCommand::DumpDatabase));
        }
        if self.at_keyword("STORAGE") && self.keyword_at(1, "MODE") {
            self.advance();
            self.advance();
            let mode = self.name("a storage mode")?;
            self.statement_end()?;
            return Ok(Some(SchemaCommand::StorageMode(mode)));
        }
        Ok(None)
    }

    fn statement_end(&mut self) -> Result<(), SyntaxError> {
        self.eat(&Tok::Semicolon);
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.error("the end of the statement"))
        }
    }

    fn projection(&mut self) -> Result<Projection, SyntaxError> {
        let distinct = self.eat_keyword("DISTINCT");
        let mut star = false;
        let mut items = Vec::new();
        if self.eat(&Tok::Star) {
            star = true;
        } else {
            loop {
                let start = self.start_of_current();
                let expr = self.expr()?;
                let end = self.end_of_previous();
                let name = if self.eat_keyword("AS") {
                    self.name("a column name after AS")?
                } else {
                    self.text[start..end].trim().to_owned()
                };
                items.push(ReturnItem { expr, name });
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        let mut order_by = Vec::new();
        if self.at_keyword("ORDER") {
            self.advance();
            self.expect_keyword("BY")?;
            loop {
                let expr = self.expr()?;
                let descending = if self.eat_keyword("DESC") || self.eat_keyword("DESCENDING") {
                    true
                } else {
                    let _ = self.eat_keyword("ASC") || self.eat_keyword("ASCENDING");
                    false
                };
                order_by.push(SortItem { expr, descending });
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        let skip = if self.eat_keyword("SKIP") {
            Some(self.expr()?)
        } else {
            None
        };
        let limit = if self.eat_keyword("LIMIT") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Projection {
            distinct,
            star,
            items,
            order_by,
            skip,
            limit,
        })
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.nest()?;
        // Debug builds spend kilobytes of stack per nesting level; grow the stack on demand
        // rather than lowering the limit for everyone.
        let r = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.or());
        self.depth -= 1;
        r
    }

    /// Counts one level of nesting. Every level costs stack when the expression is parsed,
    /// evaluated and dropped, so chains (`1 + 1 + ...`) count as well as parentheses.
    fn nest(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(format!(
                "The query nests expressions deeper than {MAX_DEPTH} levels."
            )));
        }
        Ok(())
    }

    fn binary_chain(
        &mut self,
        ops: &[(&str, BinaryOp)],
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        let base = self.depth;
        let mut left = next(self)?;
        'outer: loop {
            for (kw, op) in ops {
                if self.eat_keyword(kw) {
                    self.nest()?;
                    let right = next(self)?;
                    left = Expr::Binary(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            self.depth = base;
            return Ok(left);
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_chain(&[("OR", BinaryOp::Or)], Self::xor)
    }

    fn xor(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_chain(&[("XOR", BinaryOp::Xor)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_chain(&[("AND", BinaryOp::And)], Self::not)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_keyword("NOT") {
            self.nest()?;
            let inner = self.not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.comparison()
    }

    /// `a < b < c` means `a < b AND b < c`, as in openCypher.
    fn comparison(&mut self) -> Result<Expr, SyntaxError> {
        let base = self.depth;
        let mut left = self.predicate()?;
        let mut result: Option<Expr> = None;
        loop {
            let op = match self.peek() {
                Tok::Eq => BinaryOp::Eq,
                Tok::Neq => BinaryOp::Neq,
                Tok::Lt => BinaryOp::Lt,
                Tok::Gt => BinaryOp::Gt,
                Tok::Le => BinaryOp::Le,
                Tok::Ge => BinaryOp::Ge,
                _ => break,
            };
            self.advance();
            self.nest()?;
            let right = self.predicate()?;
            let cmp = Expr::Binary(op, Box::new(left), Box::new(right.clone()));
            result = Some(match result {
                None => cmp,
                Some(prev) => Expr::Binary(BinaryOp::And, Box::new(prev), Box::new(cmp)),
            });
            left = right;
        }
        self.depth = base;
        Ok(result.unwrap_or(left))
    }

    fn predicate(&mut self) -> Result<Expr, SyntaxError> {
        let base = self.depth;
        let mut left = self.additive()?;
        loop {
            self.nest()?;
            if self.at_keyword("IS") {
                self.advance();
                let negated = self.eat_keyword("NOT");
                self.expect_keyword("NULL")?;
                left = Expr::IsNull(Box::new(left), negated);
            } else if self.eat_keyword("IN") {
                let right = self.additive()?;
                left = Expr::Binary(BinaryOp::In, Box::new(left), Box::new(right));
            } else if self.at_keyword("STARTS") && self.keyword_at(1, "WITH") {
                self.pos += 2;
                let right = self.additive()?;
                left = Expr::Binary(BinaryOp::StartsWith, Box::new(left), Box::new(right));
            } else if self.at_keyword("ENDS") && self.keyword_at(1, "WITH") {
                self.pos += 2;
                let right = self.additive()?;
                left = Expr::Binary(BinaryOp::EndsWith, Box::new(left), Box::new(right));
            } else if self.eat_keyword("CONTAINS") {
                let right = self.additive()?;
                left = Expr::Binary(BinaryOp::Contains, Box::new(left), Box::new(right));
            } else if self.eat(&Tok::RegexMatch) {
                let right = self.additive()?;
                left = Expr::Binary(BinaryOp::RegexMatch, Box::new(left), Box::new(right));
            } else {
                self.depth = base;
                return Ok(left);
            }
        }
    }

    fn additive(&mut self) -> Result<Expr, SyntaxError> {
        self.left_assoc(
            |t| match t {
                Tok::Plus => Some(BinaryOp::Add),
                Tok::Minus => Some(BinaryOp::Sub),
                _ => None,
            },
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> Result<Expr, SyntaxError> {
        self.left_assoc(
            |t| match t {
                Tok::Star => Some(BinaryOp::Mul),
                Tok::Slash => Some(BinaryOp::Div),
                Tok::Percent => Some(BinaryOp::Mod),
                _ => None,
            },
            Self::power,
        )
    }

    fn power(&mut self) -> Result<Expr, SyntaxError> {
        self.left_assoc(|t| (*t == Tok::Caret).then_some(BinaryOp::Pow), Self::unary)
    }

    /// `next (op next)*`, left-associative, for operators that are single tokens.
    fn left_assoc(
        &mut self,
        op_of: fn(&Tok) -> Option<BinaryOp>,
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        let base = self.depth;
        let mut left = next(self)?;
        while let Some(op) = op_of(self.peek()) {
            self.advance();
            self.nest()?;
            let right = next(self)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.depth = base;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat(&Tok::Minus) {
            // Fold `-<integer literal>` so that i64::MIN can be written.
            if let Tok::Int(_) = self.peek() {
                let start = self.pos;
                if let Tok::Int(v) = self.advance() {
                    if !matches!(self.peek(), Tok::Dot | Tok::LBracket | Tok::Caret) {
                        // 2^63 lexes as i64::MIN, which negated is itself.
                        return Ok(Expr::Literal(Value::Int(v.wrapping_neg())));
                    }
                }
                self.pos = start;
            }
            self.nest()?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Expr::Negate(Box::new(inner?)));
        }
        if self.eat(&Tok::Plus) {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let base = self.depth;
        let mut expr = self.atom()?;
        loop {
            self.nest()?;
            if self.eat(&Tok::Dot) {
                let key = self.name("a property name after '.'")?;
                expr = Expr::Property(Box::new(expr), key);
            } else if self.eat(&Tok::LBracket) {
                if self.eat(&Tok::DotDot) {
                    let to = if *self.peek() == Tok::RBracket {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    self.expect(&Tok::RBracket, "']'")?;
                    expr = Expr::Slice(Box::new(expr), None, to);
                    continue;
                }
                let index = self.expr()?;
                if self.eat(&Tok::DotDot) {
                    let to = if *self.peek() == Tok::RBracket {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    self.expect(&Tok::RBracket, "']'")?;
                    expr = Expr::Slice(Box::new(expr), Some(Box::new(index)), to);
                } else {
                    self.expect(&Tok::RBracket, "']'")?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
            } else {
                self.depth = base;
                return Ok(expr);
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        match self.peek().clone() {
            Tok::Int(i64::MIN) => Err(self.error("an integer literal that fits in 64 bits")),
            Tok::Int(v) => {
                self.advance();
                Ok(Expr::Literal(Value::Int(v)))
            }
            Tok::Float(v) => {
                self.advance();
                Ok(Expr::Literal(Value::Float(v)))
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Expr::Literal(Value::String(s)))
            }
            Tok::Param(name) => {
                self.advance();
                Ok(Expr::Parameter(name))
            }
            Tok::LParen => {
                if let Some(pattern) = self.try_pattern_predicate() {
                    return Ok(Expr::Pattern(Box::new(pattern)));
                }
                self.advance();
                let e = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::LBracket => self.list(),
            Tok::LBrace => self.map_literal(),
            Tok::Ident { name, quoted } => {
                if !quoted {
                    if name.eq_ignore_ascii_case("true") {
                        self.advance();
                        return Ok(Expr::Literal(Value::Bool(true)));
                    }
                    if name.eq_ignore_ascii_case("false") {
                        self.advance();
                        return Ok(Expr::Literal(Value::Bool(false)));
                    }
                    if name.eq_ignore_ascii_case("null") {
                        self.advance();
                        return Ok(Expr::Literal(Value::Null));
                    }
                    if name.eq_ignore_ascii_case("CASE") {
                        self.advance();
                        return self.case();
                    }
                }
                self.advance();
                if *self.peek() == Tok::LBrace && !quoted {
                    if name.eq_ignore_ascii_case("EXISTS") {
                        return Ok(Expr::ExistsSubquery(Box::new(self.subquery_body()?)));
                    }
                    if name.eq_ignore_ascii_case("COUNT") {
                        return Ok(Expr::CountSubquery(Box::new(self.subquery_body()?)));
                    }
                }
                if *self.peek() == Tok::LParen && !quoted {
                    if let Some(e) = self.list_function(&name)? {
                        return Ok(e);
                    }
                }
                if self.eat(&Tok::LParen) {
                    return self.call(name);
                }
                if let Some(dotted) = self.namespaced_call_name(&name) {
                    return self.call(dotted);
                }
                if *self.peek() == Tok::Colon {
                    let labels = self.labels()?;
                    return Ok(Expr::HasLabels(Box::new(Expr::Variable(name)), labels));
                }
                Ok(Expr::Variable(name))
            }
            _ => Err(self.error("an expression")),
        }
    }

    /// `{ query }` after `CALL`, `EXISTS` or `COUNT`, from the `{`. `{ pattern [WHERE ...] }`
    /// (EXISTS and COUNT only) is read as a MATCH of that pattern.
    fn subquery_body(&mut self) -> Result<Query, SyntaxError> {
        self.expect(&Tok::LBrace, "'{'")?;
        self.nest()?;
        // Subqueries nest through here; grow the stack rather than trust its size.
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.subquery_inside())
    }

    fn subquery_inside(&mut self) -> Result<Query, SyntaxError> {
        let query = if *self.peek() == Tok::LParen
            || matches!(self.peek(), Tok::Ident { .. }) && *self.peek_at(1) == Tok::Eq
        {
            let patterns = self.pattern_list()?;
            let filter = self.where_clause()?;
            Query {
                clauses: vec![Clause::Match {
                    optional: false,
                    patterns: patterns.into(),
                    filter,
                }],
                union: None,
            }
        } else {
            if *self.peek() == Tok::RBrace {
                return Err(self.error("a query inside '{ }'"));
            }
            self.query_until(&Tok::RBrace)?
        };
        self.expect(&Tok::RBrace, "'}'")?;
        self.depth -= 1;
        Ok(query)
    }

    /// `(a)-->(b)` inside an expression. A parenthesised expression is tried when this fails, so
    /// anything that is not a pattern with at least one relationship is left alone.
    fn try_pattern_predicate(&mut self) -> Option<PatternPart> {
        let (pos, depth) = (self.pos, self.depth);
        match self.pattern_part() {
            Ok(part) if !part.steps.is_empty() && part.path_variable.is_none() => Some(part),
            _ => {
                self.pos = pos;
                self.depth = depth;
                None
            }
        }
    }

    /// `[p = (a)-->(b) WHERE pred | expr]`, after the `[`; `None` (nothing consumed) when the
    /// list does not start with a relationship pattern followed by `WHERE` or `|`.
    fn try_pattern_comprehension(&mut self) -> Result<Option<Expr>, SyntaxError> {
        let starts_pattern = *self.peek() == Tok::LParen
            || matches!(self.peek(), Tok::Ident { .. })
                && *self.peek_at(1) == Tok::Eq
                && *self.peek_at(2) == Tok::LParen;
        if !starts_pattern {
            return Ok(None);
        }
        let (pos, depth) = (self.pos, self.depth);
        let pattern = match self.pattern_part() {
            Ok(part) if !part.steps.is_empty() => part,
            _ => {
                self.pos = pos;
                self.depth = depth;
                return Ok(None);
            }
        };
        if !self.at_keyword("WHERE") && *self.peek() != Tok::Pipe {
            self.pos = pos;
            self.depth = depth;
            return Ok(None);
        }
        let predicate = if self.eat_keyword("WHERE") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect(
            &Tok::Pipe,
            "'|' and the expression of the pattern comprehension",
        )?;
        let projection = Box::new(self.expr()?);
        self.expect(&Tok::RBracket, "']'")?;
        Ok(Some(Expr::PatternComprehension {
            pattern: Box::new(pattern),
            predicate,
            projection,
        }))
    }

    /// `any/all/none/single(x IN list WHERE pred)` and `reduce(acc = init, x IN list | expr)`;
    /// `None` (nothing consumed) when `name(` is an ordinary call.
    fn list_function(&mut self, name: &str) -> Result<Option<Expr>, SyntaxError> {
        let quantifier = match name.to_ascii_lowercase().as_str() {
            "any" => Some(Quantifier::Any),
            "all" => Some(Quantifier::All),
            "none" => Some(Quantifier::None),
            "single" => Some(Quantifier::Single),
            "reduce" => None,
            _ => return Ok(None),
        };
        let is_ident = matches!(self.peek_at(1), Tok::Ident { .. });
        match quantifier {
            Some(quantifier) if is_ident && self.keyword_at(2, "IN") => {
                self.advance();
                let variable = self.name("a variable")?;
                self.expect_keyword("IN")?;
                let list = Box::new(self.expr()?);
                self.expect_keyword("WHERE")?;
                let predicate = Box::new(self.expr()?);
                self.expect(&Tok::RParen, "')'")?;
                Ok(Some(Expr::Quantified {
                    quantifier,
                    variable,
                    list,
                    predicate,
                }))
            }
            None if is_ident && *self.peek_at(2) == Tok::Eq => {
                self.advance();
                let accumulator = self.name("an accumulator")?;
                self.expect(&Tok::Eq, "'='")?;
                let init = Box::new(self.expr()?);
                self.expect(&Tok::Comma, "','")?;
                let variable = self.name("a variable")?;
                self.expect_keyword("IN")?;
                let list = Box::new(self.expr()?);
                self.expect(&Tok::Pipe, "'|'")?;
                let expr = Box::new(self.expr()?);
                self.expect(&Tok::RParen, "')'")?;
                Ok(Some(Expr::Reduce {
                    accumulator,
                    init,
                    variable,
                    list,
                    expr,
                }))
            }
            _ => Ok(None),
        }
    }

    /// `a.b(` or `a.b.c(` after `a`: a namespaced function (`date.truncate`, `point.distance`),
    /// consumed up to and including the `(` and named `a.b.c`. `None` (nothing consumed) when
    /// the dots are property lookups (`a.b`, `a.b.c`) because no `(` follows the last name.
    fn namespaced_call_name(&mut self, first: &str) -> Option<String> {
        let mut segments = 0;
        while *self.peek_at(2 * segments) == Tok::Dot
            && matches!(self.peek_at(2 * segments + 1), Tok::Ident { .. })
        {
            segments += 1;
        }
        if segments == 0 || *self.peek_at(2 * segments) != Tok::LParen {
            return None;
        }
        let mut name = first.to_owned();
        for _ in 0..segments {
            self.advance();
            if let Tok::Ident { name: part, .. } = self.peek().clone() {
                name.push('.');
                name.push_str(&part);
            }
            self.advance();
        }
        self.advance();
        Some(name)
    }

    fn call(&mut self, name: String) -> Result<Expr, SyntaxError> {
        if name.eq_ignore_ascii_case("count") && self.eat(&Tok::Star) {
            self.expect(&Tok::RParen, "')'")?;
            return Ok(Expr::CountStar);
        }
        let distinct = self.eat_keyword("DISTINCT");
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                args.push(self.expr()?);
                if self.eat(&Tok::Comma) {
                    continue;
                }
                self.expect(&Tok::RParen, "',' or ')'")?;
                break;
            }
        }
        Ok(Expr::Call {
            name,
            distinct,
            args,
        })
    }

    fn list(&mut self) -> Result<Expr, SyntaxError> {
        self.expect(&Tok::LBracket, "'['")?;
        // `[x IN list WHERE ... | ...]` is a comprehension, not a list holding a predicate.
        if matches!(self.peek(), Tok::Ident { .. }) && self.keyword_at(1, "IN") {
            let variable = self.name("a variable")?;
            self.expect_keyword("IN")?;
            let list = self.expr()?;
            let predicate = if self.eat_keyword("WHERE") {
                Some(Box::new(self.expr()?))
            } else {
                None
            };
            let projection = if self.eat(&Tok::Pipe) {
                Some(Box::new(self.expr()?))
            } else {
                None
            };
            self.expect(&Tok::RBracket, "']'")?;
            return Ok(Expr::ListComprehension {
                variable,
                list: Box::new(list),
                predicate,
                projection,
            });
        }
        if let Some(e) = self.try_pattern_comprehension()? {
            return Ok(e);
        }
        let mut items = Vec::new();
        if self.eat(&Tok::RBracket) {
            return Ok(Expr::List(items));
        }
        loop {
            items.push(self.expr()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&Tok::RBracket, "',' or ']'")?;
            return Ok(Expr::List(items));
        }
    }

    fn map_literal(&mut self) -> Result<Expr, SyntaxError> {
        self.expect(&Tok::LBrace, "'{'")?;
        let mut entries = Vec::new();
        if self.eat(&Tok::RBrace) {
            return Ok(Expr::Map(entries));
        }
        loop {
            let key = self.name("a map key")?;
            self.expect(&Tok::Colon, "':'")?;
            entries.push((key, self.expr()?));
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&Tok::RBrace, "',' or '}'")?;
            return Ok(Expr::Map(entries));
        }
    }

    fn case(&mut self) -> Result<Expr, SyntaxError> {
        let subject = if self.at_keyword("WHEN") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        while self.eat_keyword("WHEN") {
            let when = self.expr()?;
            self.expect_keyword("THEN")?;
            whens.push((when, self.expr()?));
        }
        if whens.is_empty() {
            return Err(self.error("WHEN"));
        }
        let otherwise = if self.eat_keyword("ELSE") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_keyword("END")?;
        Ok(Expr::Case {
            subject,
            whens,
            otherwise,
        })
    }
}

/// The clauses of a query that must parse, for the parser's tests.
#[cfg(test)]
fn clauses_of(q: &str) -> Vec<Clause> {
    match super::parse(q) {
        Ok(Statement::Query(query)) => Arc::unwrap_or_clone(query).clauses,
        other => panic!("{q}: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::parse;

    /// The parse alone, without the semantic pass: these tests are about syntax.
    fn query(q: &str) -> Query {
        let tokens = crate::cypher::lexer::tokenize(q).expect("lexes");
        match parse_tokens(q, tokens) {
            Ok(Statement::Query(query)) => Arc::unwrap_or_clone(query),
            other => panic!("{q}: {other:?}"),
        }
    }

    fn items(q: &str) -> Vec<ReturnItem> {
        match query(q).clauses.pop() {
            Some(Clause::Return(p)) => p.items,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn column_names_are_the_source_text_or_alias() {
        let names: Vec<String> = items("RETURN 1 + 2, $x AS y, [1,2][0]")
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, vec!["1 + 2", "y", "[1,2][0]"]);
    }

    #[test]
    fn dotted_names_before_a_parenthesis_are_function_calls() {
        let e = items("RETURN date.truncate('month', d), a.b.c(1), a.b, a.b.c");
        let call_name = |e: &Expr| match e {
            Expr::Call { name, args, .. } => Some((name.clone(), args.len())),
            _ => None,
        };
        assert_eq!(call_name(&e[0].expr), Some(("date.truncate".into(), 2)));
        assert_eq!(call_name(&e[1].expr), Some(("a.b.c".into(), 1)));
        assert!(
            matches!(&e[2].expr, Expr::Property(t, k) if **t == Expr::Variable("a".into()) && k == "b")
        );
        assert!(
            matches!(&e[3].expr, Expr::Property(t, k) if matches!(**t, Expr::Property(..)) && k == "c")
        );
        let e = items("RETURN datetime.statement()")[0].expr.clone();
        assert_eq!(call_name(&e), Some(("datetime.statement".into(), 0)));
    }

    #[test]
    fn precedence() {
        let e = &items("RETURN 1 + 2 * 3 = 7 AND NOT false")[0].expr;
        let Expr::Binary(BinaryOp::And, left, right) = e else {
            panic!("{e:?}")
        };
        assert!(matches!(**left, Expr::Binary(BinaryOp::Eq, _, _)));
        assert!(matches!(**right, Expr::Not(_)));
    }

    #[test]
    fn unsupported_clauses_are_named() {
        for (q, kw) in [
            ("USING PERIODIC COMMIT 10 MATCH (n) RETURN n", "USING"),
            ("FREE MEMORY", "FREE"),
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.message.starts_with(kw), "{q}: {}", e.message);
        }
    }

    #[test]
    fn procedure_calls_standalone_and_in_queries() {
        let call = |q: &str, at: usize| match query(q).clauses.swap_remove(at) {
            Clause::CallProcedure(c) => c,
            other => panic!("{q}: {other:?}"),
        };
        let c = call("CALL db.labels()", 0);
        assert_eq!(
            (c.name.as_str(), c.yields, c.filter),
            ("db.labels", None, None)
        );
        assert_eq!(call("call db.labels;", 0).name, "db.labels");
        let c = call("CALL mg.procedures() YIELD *", 0);
        assert_eq!(c.yields, None);
        let c = call(
            "MATCH (n) CALL a.b.c(n, 1 + 2) YIELD x AS y, z WHERE y > 1 RETURN y, z",
            1,
        );
        assert_eq!(c.name, "a.b.c");
        assert_eq!(c.args.len(), 2);
        assert_eq!(
            c.yields,
            Some(vec![("x".into(), "y".into()), ("z".into(), "z".into())])
        );
        assert!(matches!(c.filter, Some(Expr::Binary(BinaryOp::Gt, _, _))));
        // Only a query of one CALL may end with it.
        let e = parse("MATCH (n) CALL db.labels() YIELD label").unwrap_err();
        assert!(e.message.contains("must end with RETURN"), "{}", e.message);
        for bad in [
            "CALL db.labels(",
            "CALL db.",
            "CALL db.labels() YIELD",
            "CALL",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("CALL { RETURN 1 AS x } RETURN x").is_ok());
    }

    #[test]
    fn patterns() {
        let q =
            query("MATCH p = (a:Person {name: $n})-[r:KNOWS|LIKES*1..3]->(b), (b)<--(c) RETURN p");
        let Clause::Match { patterns, .. } = &q.clauses[0] else {
            panic!("{q:?}")
        };
        assert_eq!(patterns.len(), 2);
        let first = &patterns[0];
        assert_eq!(first.path_variable.as_deref(), Some("p"));
        assert_eq!(first.start.labels, vec!["Person"]);
        assert!(first.start.properties.is_some());
        let (rel, end) = &first.steps[0];
        assert_eq!(rel.types, vec!["KNOWS", "LIKES"]);
        assert_eq!(rel.length, Some((Some(1), Some(3))));
        assert_eq!(rel.direction, Direction::Outgoing);
        assert_eq!(end.variable.as_deref(), Some("b"));
        assert_eq!(patterns[1].steps[0].0.direction, Direction::Incoming);
        for (q, length) in [
            ("MATCH (a)-[*]-(b) RETURN a", (None, None)),
            ("MATCH (a)-[*2]-(b) RETURN a", (Some(2), Some(2))),
            ("MATCH (a)-[*..3]-(b) RETURN a", (None, Some(3))),
            ("MATCH (a)-[*2..]-(b) RETURN a", (Some(2), None)),
        ] {
            let Clause::Match { patterns, .. } = &query(q).clauses[0] else {
                panic!()
            };
            assert_eq!(patterns[0].steps[0].0.length, Some(length), "{q}");
        }
    }

    #[test]
    fn updating_clauses() {
        let q = query(
            "MERGE (n:P {id: 1}) ON CREATE SET n.new = true ON MATCH SET n += {seen: 1} \
             SET n:Q:R, n = {a: 1}, n.x.y = 2 REMOVE n.a, n:Q DETACH DELETE n",
        );
        assert_eq!(q.clauses.len(), 4);
        let Clause::Merge {
            on_create,
            on_match,
            ..
        } = &q.clauses[0]
        else {
            panic!()
        };
        assert_eq!(on_create.len(), 1);
        assert!(matches!(on_match[0], SetItem::Merge { .. }));
        let Clause::Set(items) = &q.clauses[1] else {
            panic!()
        };
        assert!(matches!(items[0], SetItem::Labels { .. }));
        assert!(matches!(items[1], SetItem::Replace { .. }));
        assert!(matches!(items[2], SetItem::Property { .. }));
        assert!(matches!(q.clauses[3], Clause::Delete { detach: true, .. }));
        // A query may end with an updating clause but not with a reading one.
        assert!(parse("CREATE (n)").is_ok());
        let e = parse("MATCH (n)").unwrap_err();
        assert!(e.message.contains("must end with RETURN"), "{}", e.message);
    }

    #[test]
    fn pattern_predicates_and_label_tests() {
        let q = query("MATCH (a), (b) WHERE (a)-[:R]->(b) AND a:X AND (1 + 2) = 3 RETURN a");
        let Clause::Match {
            filter: Some(Expr::Binary(BinaryOp::And, left, _)),
            ..
        } = &q.clauses[0]
        else {
            panic!("{q:?}")
        };
        let Expr::Binary(BinaryOp::And, pattern, label) = left.as_ref() else {
            panic!()
        };
        assert!(matches!(pattern.as_ref(), Expr::Pattern(_)));
        assert!(matches!(label.as_ref(), Expr::HasLabels(_, _)));
    }

    #[test]
    fn unions_and_schema() {
        let q = query("RETURN 1 AS x UNION ALL RETURN 2 AS x UNION ALL RETURN 3 AS x");
        let (all, next) = q.union.unwrap();
        assert!(all);
        assert!(next.union.unwrap().0);
        let q = query("RETURN 1 AS x UNION RETURN 2 AS x");
        assert!(!q.union.unwrap().0);
        assert_eq!(
            parse("CREATE INDEX ON :Person(name)").unwrap(),
            Statement::Schema(SchemaCommand::CreateIndex {
                label: "Person".into(),
                property: Some("name".into())
            })
        );
        assert_eq!(
            parse("drop index on :Person;").unwrap(),
            Statement::Schema(SchemaCommand::DropIndex {
                label: "Person".into(),
                property: None
            })
        );
        assert_eq!(
            parse("CREATE CONSTRAINT ON (n:User) ASSERT n.email IS UNIQUE").unwrap(),
            Statement::Schema(SchemaCommand::CreateUnique {
                label: "User".into(),
                property: "email".into()
            })
        );
        assert!(parse("CREATE CONSTRAINT ON (n:User) ASSERT m.email IS UNIQUE").is_err());
        assert_eq!(
            parse("DROP CONSTRAINT ON (n:User) ASSERT EXISTS (n.email)").unwrap(),
            Statement::Schema(SchemaCommand::DropExists {
                label: "User".into(),
                property: "email".into()
            })
        );
        assert_eq!(
            parse("SHOW STORAGE INFO").unwrap(),
            Statement::Schema(SchemaCommand::ShowStorageInfo)
        );
        assert_eq!(
            parse("STORAGE MODE IN_MEMORY_TRANSACTIONAL").unwrap(),
            Statement::Schema(SchemaCommand::StorageMode("IN_MEMORY_TRANSACTIONAL".into()))
        );
        for text in ["DUMP DATABASE", "dump database;", "Dump  Database ;"] {
            assert_eq!(
                parse(text).unwrap(),
                Statement::Schema(SchemaCommand::DumpDatabase),
                "{text}"
            );
        }
        assert!(parse("DUMP DATABASE now").is_err());
    }

    #[test]
    fn pattern_errors_have_positions() {
        let e = parse("MATCH (n:Person RETURN n").unwrap_err();
        assert!(
            e.message.contains("line 1, column 17") && e.message.contains("')'"),
            "{}",
            e.message
        );
        let e = parse("MATCH (a)-[r->(b) RETURN a").unwrap_err();
        assert!(e.message.contains("']'"), "{}", e.message);
        let e = parse("MATCH (a)\nWHERE a.x = \nRETURN a").unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let e = parse("RETURN 1 +").unwrap_err();
        assert!(e.message.contains("the end of the query"), "{}", e.message);
        assert!(
            e.message.contains("expected an expression"),
            "{}",
            e.message
        );
        let e = parse("RETURN (1").unwrap_err();
        assert!(e.message.contains("')'"), "{}", e.message);
        assert!(parse("").is_err());
        assert!(parse("RETURN 1 RETURN 2").is_err());
    }

    #[test]
    fn deep_subqueries_are_refused_not_overflowed() {
        let q = format!(
            "{}RETURN 1 AS x{}",
            "CALL { ".repeat(300),
            " } RETURN x".repeat(300)
        );
        assert!(parse(&q).unwrap_err().message.contains("deeper than"));
        let q = format!(
            "{}RETURN 1 AS x{}",
            "CALL { ".repeat(20),
            " } RETURN x".repeat(20)
        );
        assert!(parse(&q).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let q = format!("RETURN {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&q).unwrap_err().message.contains("deeper"));
        let q = format!("RETURN {}1", "NOT ".repeat(10_000));
        assert!(parse(&q).is_err());
        let q = format!("RETURN {}1", "- ".repeat(10_000));
        assert!(parse(&q).is_err());
        let q = format!("RETURN 1{}", " + 1".repeat(10_000));
        assert!(parse(&q).is_err());
        let q = format!("RETURN [1]{}", "[0]".repeat(10_000));
        assert!(parse(&q).is_err());
        // Reasonable nesting still parses.
        let q = format!("RETURN {}1{}", "(".repeat(30), ")".repeat(30));
        assert!(parse(&q).is_ok());
        let q = format!("RETURN 1{}", " + 1".repeat(60));
        assert!(parse(&q).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let pieces = [
            "RETURN", "UNWIND", "AS", "x", "(", ")", "[", "]", "{", "}", ",", ".", "..", "1",
            "'s'", "$p", "+", "-", "*", "IN", "CASE", "WHEN", "THEN", "END", "NOT", "IS", "NULL",
            ":", "|", "WHERE", "count", "ORDER", "BY", "LIMIT", "é", "`q`", ";", "MATCH", "->",
            "<-", "CREATE", "MERGE", "SET", "=", "+=", "DELETE", "WITH", "UNION", "INDEX", "ON",
        ];
        let mut state: u64 = 42;
        for _ in 0..5_000 {
            let mut q = String::new();
            for _ in 0..12 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                q.push_str(pieces[(state % pieces.len() as u64) as usize]);
                q.push(' ');
            }
            let _ = parse(&q);
        }
    }
}
