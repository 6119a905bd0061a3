//! A recursive-descent Cypher parser.
//!
//! Precedence, loosest first: OR, XOR, AND, NOT, comparison, the predicates (IN, STARTS WITH,
//! ENDS WITH, CONTAINS, =~, IS NULL), + and -, * / %, ^, unary minus, then property access,
//! indexing and slicing. Nesting is capped so that a hostile query cannot overflow the stack.

use super::ast::{BinaryOp, Clause, Expr, Projection, Query, ReturnItem, SortItem};
use super::lexer::{position, tokenize, Tok, Token};
use super::EngineError;
use crate::value::Value;

/// Deeper expression nesting than this is refused.
const MAX_DEPTH: usize = 128;
/// When less stack than this remains, recursion continues on a fresh segment...
pub(crate) const RED_ZONE: usize = 128 * 1024;
/// ...of this size.
pub(crate) const STACK_GROWTH: usize = 4 * 1024 * 1024;

/// Clause keywords that the engine does not run yet; named in the error so users know why.
const UNSUPPORTED_CLAUSES: &[&str] = &[
    "MATCH", "OPTIONAL", "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "WITH", "CALL",
    "UNION", "FOREACH", "LOAD", "USING", "SHOW", "DROP", "GRANT", "DENY", "REVOKE", "EXPLAIN",
    "PROFILE", "ANALYZE", "STORAGE", "FREE", "TRIGGER",
];

/// Parses a whole query.
pub fn parse(text: &str) -> Result<Query, EngineError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
    };
    p.query()
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

    fn error(&self, expected: &str) -> EngineError {
        let found = match self.tokens.get(self.pos) {
            Some(Token { tok: Tok::Eof, .. }) | None => "the end of the query".to_owned(),
            Some(t) => format!("'{}'", &self.text[t.start..t.end]),
        };
        EngineError::client(format!(
            "Invalid input {found} at {}: expected {expected}.",
            position(self.text, self.start_of_current())
        ))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), EngineError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), EngineError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(kw))
        }
    }

    fn name(&mut self, what: &str) -> Result<String, EngineError> {
        match self.peek().clone() {
            Tok::Ident { name, .. } => {
                self.advance();
                Ok(name)
            }
            _ => Err(self.error(what)),
        }
    }

    fn query(&mut self) -> Result<Query, EngineError> {
        let mut clauses = Vec::new();
        loop {
            if let Some(kw) = UNSUPPORTED_CLAUSES.iter().find(|kw| self.at_keyword(kw)) {
                let shown = if *kw == "OPTIONAL" {
                    "OPTIONAL MATCH"
                } else {
                    kw
                };
                return Err(EngineError::client(format!(
                    "{shown} is not supported yet by boltd's embedded engine (supported: RETURN, \
                     and UNWIND ... RETURN)."
                )));
            }
            if self.eat_keyword("UNWIND") {
                let expr = self.expr()?;
                self.expect_keyword("AS")?;
                let variable = self.name("a variable name after AS")?;
                clauses.push(Clause::Unwind { expr, variable });
                continue;
            }
            if self.eat_keyword("RETURN") {
                clauses.push(Clause::Return(self.projection()?));
                self.eat(&Tok::Semicolon);
                if *self.peek() != Tok::Eof {
                    if let Some(kw) = UNSUPPORTED_CLAUSES.iter().find(|kw| self.at_keyword(kw)) {
                        return Err(EngineError::client(format!(
                            "{kw} is not supported yet by boltd's embedded engine."
                        )));
                    }
                    return Err(self.error("the end of the query after RETURN"));
                }
                return Ok(Query { clauses });
            }
            if clauses.is_empty() && *self.peek() == Tok::Eof {
                return Err(EngineError::client("The query is empty."));
            }
            return Err(self.error(if clauses.is_empty() {
                "a clause (RETURN or UNWIND)"
            } else {
                "UNWIND or RETURN (a query must end with RETURN)"
            }));
        }
    }

    fn projection(&mut self) -> Result<Projection, EngineError> {
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

    fn expr(&mut self) -> Result<Expr, EngineError> {
        self.nest()?;
        // Debug builds spend kilobytes of stack per nesting level; grow the stack on demand
        // rather than lowering the limit for everyone.
        let r = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.or());
        self.depth -= 1;
        r
    }

    /// Counts one level of nesting. Every level costs stack when the expression is parsed,
    /// evaluated and dropped, so chains (`1 + 1 + ...`) count as well as parentheses.
    fn nest(&mut self) -> Result<(), EngineError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(EngineError::client(format!(
                "The query nests expressions deeper than {MAX_DEPTH} levels."
            )));
        }
        Ok(())
    }

    fn binary_chain(
        &mut self,
        ops: &[(&str, BinaryOp)],
        next: fn(&mut Self) -> Result<Expr, EngineError>,
    ) -> Result<Expr, EngineError> {
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

    fn or(&mut self) -> Result<Expr, EngineError> {
        self.binary_chain(&[("OR", BinaryOp::Or)], Self::xor)
    }

    fn xor(&mut self) -> Result<Expr, EngineError> {
        self.binary_chain(&[("XOR", BinaryOp::Xor)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, EngineError> {
        self.binary_chain(&[("AND", BinaryOp::And)], Self::not)
    }

    fn not(&mut self) -> Result<Expr, EngineError> {
        if self.eat_keyword("NOT") {
            self.nest()?;
            let inner = self.not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.comparison()
    }

    /// `a < b < c` means `a < b AND b < c`, as in openCypher.
    fn comparison(&mut self) -> Result<Expr, EngineError> {
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

    fn predicate(&mut self) -> Result<Expr, EngineError> {
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

    fn additive(&mut self) -> Result<Expr, EngineError> {
        self.left_assoc(
            |t| match t {
                Tok::Plus => Some(BinaryOp::Add),
                Tok::Minus => Some(BinaryOp::Sub),
                _ => None,
            },
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> Result<Expr, EngineError> {
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

    fn power(&mut self) -> Result<Expr, EngineError> {
        self.left_assoc(|t| (*t == Tok::Caret).then_some(BinaryOp::Pow), Self::unary)
    }

    /// `next (op next)*`, left-associative, for operators that are single tokens.
    fn left_assoc(
        &mut self,
        op_of: fn(&Tok) -> Option<BinaryOp>,
        next: fn(&mut Self) -> Result<Expr, EngineError>,
    ) -> Result<Expr, EngineError> {
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

    fn unary(&mut self) -> Result<Expr, EngineError> {
        if self.eat(&Tok::Minus) {
            // Fold `-<integer literal>` so that i64::MIN can be written.
            if let Tok::Int(_) = self.peek() {
                let start = self.pos;
                if let Tok::Int(v) = self.advance() {
                    if !matches!(self.peek(), Tok::Dot | Tok::LBracket | Tok::Caret) {
                        return Ok(Expr::Literal(Value::Int(-v)));
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

    fn postfix(&mut self) -> Result<Expr, EngineError> {
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

    fn atom(&mut self) -> Result<Expr, EngineError> {
        match self.peek().clone() {
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
                if self.eat(&Tok::LParen) {
                    return self.call(name);
                }
                Ok(Expr::Variable(name))
            }
            _ => Err(self.error("an expression")),
        }
    }

    fn call(&mut self, name: String) -> Result<Expr, EngineError> {
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

    fn list(&mut self) -> Result<Expr, EngineError> {
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

    fn map_literal(&mut self) -> Result<Expr, EngineError> {
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

    fn case(&mut self) -> Result<Expr, EngineError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn items(q: &str) -> Vec<ReturnItem> {
        match parse(q).unwrap().clauses.pop() {
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
            ("MATCH (n) RETURN n", "MATCH"),
            ("optional match (n) return n", "OPTIONAL MATCH"),
            ("CREATE (n)", "CREATE"),
            ("UNWIND [1] AS x WITH x RETURN x", "WITH"),
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.message.starts_with(kw), "{q}: {}", e.message);
        }
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
            ":", "|", "WHERE", "count", "ORDER", "BY", "LIMIT", "é", "`q`", ";",
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
