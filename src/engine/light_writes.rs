//! Which updating queries are small enough to run on the async worker that received them.
//!
//! An updating query runs to completion before RUN answers, so by default it goes to the blocking
//! pool ([`super::offload::blocking`]): one bulk `UNWIND` or a `SET` over a whole label would
//! otherwise stall every session sharing the worker. The hand-off costs two thread switches, which
//! is most of the CPU of the writes clients send one by one (`CREATE (:C {i: $i})`, an
//! edge between two nodes found by index). Those touch a handful of records, so they run in place.
//!
//! The judgement is structural and conservative: only `CREATE`, `SET`, `REMOVE`, `DELETE` (not
//! `DETACH DELETE`, which takes every relationship of the node along), `MATCH`
//! with no relationship steps and `MERGE` whose start node is pinpointed (already bound, found by
//! `id()`, or by a property an index covers), and `WITH`/`RETURN` that do not sort, group or
//! filter. No `UNWIND` (a batch can be any size), no `FOREACH`, procedures, subqueries, `LOAD
//! CSV`, unions or variable-length steps. A `MERGE` step from a bound node checks that node's
//! relationships once; it does not multiply rows.

use crate::cypher::ast::{Clause, Expr, NodePattern, PatternPart, Projection, Query};

use super::exec::has_aggregate;
use super::graph::Graph;
use super::pattern;

/// Whether the updating query `q` is a few record changes, judged against `graph`'s indexes.
pub fn light(q: &Query, graph: &Graph) -> bool {
    if q.union.is_some() {
        return false;
    }
    let mut bound: Vec<String> = Vec::new();
    for clause in &q.clauses {
        let fits = match clause {
            Clause::Create(parts) => {
                bound.extend(pattern::variables(parts));
                true
            }
            // DETACH DELETE also deletes every relationship of the node: a million for a hub.
            Clause::Delete { detach, .. } => !detach,
            Clause::Set(_) | Clause::Remove(_) => true,
            Clause::Match {
                patterns, filter, ..
            } => {
                let hints = pattern::hints(filter.as_ref());
                let pinpointed = |node: &NodePattern, bound: &[String]| {
                    let by_hint = node.variable.as_ref().is_some_and(|v| {
                        hints.iter().any(|h| {
                            &h.variable == v
                                && !h.any_of
                                && h.property
                                    .as_ref()
                                    .is_none_or(|p| indexed(&node.labels, p, graph))
                        })
                    });
                    by_hint || pinpointed(node, bound, graph)
                };
                // No expansion: from a hub it would feed the clauses after it a row per
                // relationship, millions for one node.
                patterns.iter().all(|part| {
                    let ok = pinpointed(&part.start, &bound) && part.steps.is_empty();
                    bound.extend(pattern::variables(std::slice::from_ref(part)));
                    ok
                })
            }
            Clause::Merge { pattern, .. } => {
                let ok = pinpointed(&pattern.start, &bound, graph) && fixed_length(pattern);
                bound.extend(pattern::variables(std::slice::from_ref(pattern)));
                ok
            }
            Clause::With { projection, filter } => {
                if !projection.star {
                    bound = projection.items.iter().map(|i| i.name.clone()).collect();
                }
                filter.is_none() && streams(projection)
            }
            Clause::Return(projection) => streams(projection),
            Clause::Unwind { .. }
            | Clause::Foreach { .. }
            | Clause::LoadCsv(_)
            | Clause::CallProcedure(_)
            | Clause::CallSubquery(_) => false,
        };
        if !fits {
            return false;
        }
    }
    true
}

/// A node found without a scan: bound earlier, or with inline properties one of which an index on
/// one of its labels covers.
fn pinpointed(node: &NodePattern, bound: &[String], graph: &Graph) -> bool {
    if node.variable.as_ref().is_some_and(|v| bound.contains(v)) {
        return true;
    }
    match &node.properties {
        Some(Expr::Map(entries)) => entries
            .iter()
            .any(|(key, _)| indexed(&node.labels, key, graph)),
        _ => false,
    }
}

fn indexed(labels: &[String], prop: &str, graph: &Graph) -> bool {
    labels.iter().any(|l| graph.has_property_index(l, prop))
}

fn fixed_length(part: &PatternPart) -> bool {
    part.steps.iter().all(|(r, _)| r.length.is_none())
}

/// A projection that passes rows through: no ordering, DISTINCT or aggregation.
fn streams(p: &Projection) -> bool {
    p.order_by.is_empty() && !p.distinct && !p.items.iter().any(|i| has_aggregate(&i.expr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::ast::Statement;

    fn judged(text: &str, graph: &Graph) -> bool {
        match crate::cypher::parse(text) {
            Ok(Statement::Query(q)) => light(&q, graph),
            other => panic!("{text}: not a query: {other:?}"),
        }
    }

    fn indexed_graph() -> Graph {
        let mut g = Graph::default();
        g.ensure_property_index("Person", "id");
        g
    }

    #[test]
    fn writes_of_a_few_records_are_light() {
        let g = indexed_graph();
        for text in [
            "CREATE (:C {i: $i})",
            "CREATE (a:A)-[:R]->(b:B) RETURN a, b",
            "MATCH (a:Person {id: $a}), (b:Person {id: $b}) CREATE (a)-[:KNOWS]->(b)",
            "MATCH (a:Person) WHERE a.id = 1 SET a.x = 2",
            "MATCH (n) WHERE id(n) = $id DELETE n",
            "MERGE (p:Person {id: $id}) ON CREATE SET p.new = true",
            "CREATE (a:A) WITH a MERGE (a)-[:R]->(:B)",
            "MATCH (a:Person {id: 1}) REMOVE a.x RETURN a.id AS id",
        ] {
            assert!(judged(text, &g), "{text} should run in place");
        }
    }

    #[test]
    fn writes_that_may_touch_many_records_go_to_the_blocking_pool() {
        let g = indexed_graph();
        for text in [
            // Scans: no index, no inline properties, a list of ids, an unindexed property.
            "MATCH (n:Person) SET n.x = 1",
            "MATCH (n:Person {name: 'x'}) SET n.x = 1",
            "MATCH (n:Person) WHERE n.id IN $ids SET n.x = 1",
            "MATCH (n:Other {id: 1}) DELETE n",
            "MERGE (p:Person {name: $name})",
            // Batches and loops of any size.
            "UNWIND $rows AS row CREATE (:P {id: row.id})",
            "FOREACH (i IN range(1, 100000) | CREATE (:N {i: i}))",
            "LOAD CSV FROM 'f.csv' NO HEADER AS row CREATE (:N {v: row[0]})",
            "CALL { CREATE (:N) RETURN 1 AS one } RETURN one",
            // Variable length, grouping, sorting, filtering after WITH.
            "MATCH (a:Person {id: 1})-[*1..5]->(b) SET b.seen = true",
            "MATCH (a:Person {id: 1}) CREATE (c:C) RETURN count(c)",
            "MATCH (a:Person {id: 1}) CREATE (c:C) RETURN c ORDER BY c.x",
            "MATCH (a:Person {id: 1}) WITH a WHERE a.x > 1 SET a.y = 1",
            // A variable that a WITH dropped is no longer bound.
            "MATCH (a:Person {id: 1}) WITH 1 AS one MATCH (a) SET a.y = 1",
            "CREATE (:A) UNION CREATE (:B)",
            // One row per relationship of the start node, however many it has.
            "MATCH (a:Person {id: 1})-[r:KNOWS]->(b) DELETE r",
            // A node's every relationship goes with it.
            "MATCH (n) WHERE id(n) = $id DETACH DELETE n",
        ] {
            assert!(!judged(text, &g), "{text} should leave the async worker");
        }
    }

    #[test]
    fn the_judgement_follows_the_indexes() {
        let text = "MATCH (a:Person {id: 1}) SET a.x = 2";
        assert!(judged(text, &indexed_graph()));
        assert!(!judged(text, &Graph::default()));
    }
}
