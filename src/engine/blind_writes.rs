//! Which queries write without reading the graph, so that their auto-commit transaction may start
//! on the newest state, commits still being logged included.
//!
//! Transactions normally start on the visible graph, which holds only logged commits, so that no
//! reader sees a commit that a crash could still take back. With commits in flight the newest
//! state is ahead of the visible one, and a transaction started on the visible one has to be
//! merged into the newest at commit: each record it wrote is inserted a second time. Under
//! concurrent single-node `CREATE`s, which group commit keeps in flight all the time, that merge
//! was about a seventh of the server's CPU per commit.
//!
//! A query that reads nothing of the graph cannot see the commits in flight, whichever state it
//! starts on; it can only see what it creates itself. Its commit, if it writes, is logged after
//! theirs, and if one of them fails the commits after it fail too. So its transaction starts on
//! the newest state and commits without a merge. Only an auto-commit transaction qualifies: the
//! next statement of an explicit one could read.
//!
//! The judgement is structural and conservative: only `CREATE`, `UNWIND`, `WITH`, `RETURN` and
//! `FOREACH` over such clauses, no `UNION`, and no expression that matches the graph (a pattern
//! predicate, a pattern comprehension, `EXISTS { }` or `COUNT { }`). Variables can then hold only
//! parameters, literals and what the query created: functions that follow a relationship to its
//! nodes (`startNode`) reach only nodes it created.

use crate::cypher::ast::{Clause, Expr, PatternPart, Projection, Query};
use crate::cypher::semantic::children;

/// Whether `q` writes without reading anything of the graph but its own writes.
pub fn blind(q: &Query) -> bool {
    q.union.is_none() && q.writes() && q.clauses.iter().all(clause_blind)
}

fn clause_blind(clause: &Clause) -> bool {
    match clause {
        Clause::Create(parts) => parts.iter().all(pattern_blind),
        Clause::Unwind { expr, .. } => expr_blind(expr),
        Clause::With { projection, filter } => {
            projection_blind(projection) && filter.as_ref().is_none_or(expr_blind)
        }
        Clause::Return(projection) => projection_blind(projection),
        Clause::Foreach { list, clauses, .. } => {
            expr_blind(list) && clauses.iter().all(clause_blind)
        }
        Clause::Match { .. }
        | Clause::Merge { .. }
        | Clause::Set(_)
        | Clause::Remove(_)
        | Clause::Delete { .. }
        | Clause::LoadCsv(_)
        | Clause::CallProcedure(_)
        | Clause::CallSubquery(_) => false,
    }
}

fn pattern_blind(part: &PatternPart) -> bool {
    let nodes = std::iter::once(&part.start).chain(part.steps.iter().map(|(_, n)| n));
    let node_props = nodes.filter_map(|n| n.properties.as_ref());
    let rel_props = part.steps.iter().filter_map(|(r, _)| r.properties.as_ref());
    node_props.chain(rel_props).all(expr_blind)
}

fn projection_blind(p: &Projection) -> bool {
    p.items.iter().all(|i| expr_blind(&i.expr))
        && p.order_by.iter().all(|s| expr_blind(&s.expr))
        && [&p.skip, &p.limit].into_iter().flatten().all(expr_blind)
}

fn expr_blind(e: &Expr) -> bool {
    if matches!(
        e,
        Expr::Pattern(_)
            | Expr::PatternComprehension { .. }
            | Expr::ExistsSubquery(_)
            | Expr::CountSubquery(_)
    ) {
        return false;
    }
    let mut all = true;
    children(e, &mut |c| all = all && expr_blind(c));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::ast::Statement;

    fn query(text: &str) -> std::sync::Arc<Query> {
        match crate::cypher::parse(text).unwrap() {
            Statement::Query(q) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn writes_from_parameters_and_literals_are_blind() {
        for text in [
            "CREATE (:C {i: $i})",
            "CREATE (n:Person $props) RETURN id(n)",
            "CREATE (a:A)-[r:R {w: 1.5}]->(b:B) RETURN a, r, startNode(r), b",
            "UNWIND $rows AS row CREATE (:N {id: row.id, name: toUpper(row.name)})",
            "CREATE (n {at: timestamp()}) WITH n WHERE n.at > 0 RETURN n ORDER BY n.at LIMIT 1",
            "FOREACH (x IN range(1, $n) | CREATE (:F {x: x}))",
            "CREATE (n {xs: [x IN $list WHERE x > 1 | x * 2]})",
        ] {
            assert!(blind(&query(text)), "{text}");
        }
    }

    #[test]
    fn anything_that_reads_the_graph_is_not() {
        for text in [
            "RETURN 1",
            "MATCH (n) RETURN n",
            "MATCH (a {id: 1}) CREATE (a)-[:R]->(:B)",
            "MERGE (n:M {id: 1})",
            "CREATE (n) WITH n MATCH (m) RETURN count(m)",
            "CREATE (n {c: COUNT { MATCH (m) RETURN m }})",
            "CREATE (n) WITH n WHERE EXISTS { MATCH (m:Other) } RETURN n",
            "CREATE (n)-[:R]->(m) RETURN [(n)-->(x) | x]",
            "CREATE (n) WITH n WHERE (n)-->() RETURN n",
            "CREATE (n) SET n.x = 1",
            "CREATE (n) WITH n CALL { MATCH (m) RETURN m } RETURN m",
            "FOREACH (x IN [1] | MERGE (:F {x: x}))",
            "CREATE (:A) UNION CREATE (:B)",
            "CALL db.labels() YIELD label RETURN label",
        ] {
            assert!(!blind(&query(text)), "{text}");
        }
    }
}
