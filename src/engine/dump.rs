//! `DUMP DATABASE`: the committed graph and its schema as Cypher statements that rebuild them.
//!
//! The statements follow Memgraph's dump, in its order: label indexes, label-property indexes,
//! existence constraints, uniqueness constraints; then (when there are nodes) a temporary index on
//! `:__mg_vertex__(__mg_id__)`, one `CREATE` per node carrying that label and its id, one
//! `MATCH ... CREATE` per relationship finding its ends by id, and finally the temporary index and
//! the helper label and property removed again. Run in order on an empty server they give back
//! the same graph.
//!
//! The rows are produced lazily from one O(1) clone of the committed graph: a cursor walks the
//! node map and then the relationship map, so dumping millions of nodes needs no more memory than
//! the statement being written. Only the schema statements (a handful) are built up front.
//!
//! This file owns the statement shapes; how a value is written as a Cypher literal is
//! [`literal`]'s job. It must never change the graph.

use std::ops::Bound;

use imbl::OrdMap;

use super::graph::{Graph, Props};
use super::literal::{self, name};
use super::{EngineError, Row, RowStream};
use crate::value::Value;

/// The one column, named as Memgraph names it.
pub const COLUMN: &str = "QUERY";

/// The label every dumped node carries until the last statement, so that relationships can find
/// their ends through one index.
const VERTEX_LABEL: &str = "__mg_vertex__";

/// The property holding a node's id in the dump, removed by the last statement.
const ID_PROPERTY: &str = "__mg_id__";

/// The statements rebuilding `graph`, one per row, produced as they are pulled.
pub fn dump(graph: Graph) -> RowStream {
    Box::new(Dump {
        schema: schema_statements(&graph).into_iter(),
        graph,
        phase: Phase::Schema,
    })
}

/// Where the dump is; the cursors are the last id written, so that each step is one lookup in
/// the persistent map and nothing borrows the graph between pulls.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Schema,
    InternalIndex,
    Nodes(Option<i64>),
    Relationships(Option<i64>),
    DropInternalIndex,
    Cleanup,
    Done,
}

struct Dump {
    /// The snapshot being dumped: later commits do not show up half-way through.
    graph: Graph,
    /// Index and constraint statements, built at the start (there are few).
    schema: std::vec::IntoIter<String>,
    phase: Phase,
}

impl Iterator for Dump {
    type Item = Result<Row, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let statement = match self.phase {
                Phase::Schema => match self.schema.next() {
                    Some(statement) => Ok(statement),
                    None => {
                        // Memgraph leaves the helper statements out of the dump of an empty graph.
                        self.phase = if self.graph.nodes.is_empty() {
                            Phase::Done
                        } else {
                            Phase::InternalIndex
                        };
                        continue;
                    }
                },
                Phase::InternalIndex => {
                    self.phase = Phase::Nodes(None);
                    Ok(format!("CREATE INDEX ON :{VERTEX_LABEL}({ID_PROPERTY});"))
                }
                Phase::Nodes(last) => match after(&self.graph.nodes, last) {
                    Some((id, node)) => {
                        self.phase = Phase::Nodes(Some(*id));
                        node_statement(*id, &node.labels, &node.props)
                    }
                    None => {
                        self.phase = Phase::Relationships(None);
                        continue;
                    }
                },
                Phase::Relationships(last) => match after(&self.graph.rels, last) {
                    Some((id, rel)) => {
                        self.phase = Phase::Relationships(Some(*id));
                        relationship_statement(*id, rel.start, rel.end, &rel.rel_type, &rel.props)
                    }
                    None => {
                        self.phase = Phase::DropInternalIndex;
                        continue;
                    }
                },
                Phase::DropInternalIndex => {
                    self.phase = Phase::Cleanup;
                    Ok(format!("DROP INDEX ON :{VERTEX_LABEL}({ID_PROPERTY});"))
                }
                Phase::Cleanup => {
                    self.phase = Phase::Done;
                    Ok(format!(
                        "MATCH (u) REMOVE u:{VERTEX_LABEL}, u.{ID_PROPERTY};"
                    ))
                }
                Phase::Done => return None,
            };
            if statement.is_err() {
                // A dump that cannot be completed ends at the first value it cannot write.
                self.phase = Phase::Done;
            }
            return Some(statement.map(|s| vec![Value::String(s)]));
        }
    }
}

/// The entry after `last` (the first one when `None`).
fn after<V>(map: &OrdMap<i64, V>, last: Option<i64>) -> Option<(&i64, &V)> {
    match last {
        None => map.iter().next(),
        Some(last) => map.range((Bound::Excluded(last), Bound::Unbounded)).next(),
    }
}

/// Indexes, then constraints, in Memgraph's order.
fn schema_statements(g: &Graph) -> Vec<String> {
    let label_indexes = g
        .label_indexes
        .iter()
        .map(|label| format!("CREATE INDEX ON :{};", name(label)));
    let property_indexes = g
        .property_indexes
        .iter()
        .filter(|(_, index)| index.explicit)
        .map(|((label, property), _)| {
            format!("CREATE INDEX ON :{}({});", name(label), name(property))
        });
    let existence = g.existence.iter().map(|(label, property)| {
        format!(
            "CREATE CONSTRAINT ON (u:{}) ASSERT EXISTS (u.{});",
            name(label),
            name(property)
        )
    });
    let unique = g
        .property_indexes
        .iter()
        .filter(|(_, index)| index.unique)
        .map(|((label, property), _)| {
            format!(
                "CREATE CONSTRAINT ON (u:{}) ASSERT u.{} IS UNIQUE;",
                name(label),
                name(property)
            )
        });
    label_indexes
        .chain(property_indexes)
        .chain(existence)
        .chain(unique)
        .collect()
}

fn node_statement(id: i64, labels: &[String], props: &Props) -> Result<String, EngineError> {
    let mut out = format!("CREATE (:{VERTEX_LABEL}");
    for label in labels {
        out.push(':');
        out.push_str(&name(label));
    }
    out.push_str(&format!(" {{{ID_PROPERTY}: {id}"));
    for (key, value) in props.iter() {
        out.push_str(", ");
        property(&mut out, key, value, || format!("node {id}"))?;
    }
    out.push_str("});");
    Ok(out)
}

fn relationship_statement(
    id: i64,
    start: i64,
    end: i64,
    rel_type: &str,
    props: &Props,
) -> Result<String, EngineError> {
    let mut out = format!(
        "MATCH (u:{VERTEX_LABEL}), (v:{VERTEX_LABEL}) WHERE u.{ID_PROPERTY} = {start} AND \
         v.{ID_PROPERTY} = {end} CREATE (u)-[:{}",
        name(rel_type)
    );
    if !props.is_empty() {
        out.push_str(" {");
        for (i, (key, value)) in props.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            property(&mut out, key, value, || format!("relationship {id}"))?;
        }
        out.push('}');
    }
    out.push_str("]->(v);");
    Ok(out)
}

/// Writes `key: value`, or says which entity's property could not be written.
fn property(
    out: &mut String,
    key: &str,
    value: &Value,
    owner: impl Fn() -> String,
) -> Result<(), EngineError> {
    out.push_str(&name(key));
    out.push_str(": ");
    literal::write(out, value).map_err(|unwritable| {
        EngineError::client(format!(
            "DUMP DATABASE cannot write property {} of {}: {unwritable}",
            name(key),
            owner()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use super::*;
    use crate::cypher::ast::Statement;
    use crate::engine::{MemoryEngine, Params, QueryEngine};
    use crate::value::{Duration, Map, TimeZone};

    /// Runs one statement as an auto-commit RUN would, returning its rows.
    async fn run(engine: &MemoryEngine, text: &str, params: Params) -> Vec<Row> {
        let mut result = match crate::cypher::parse(text) {
            Ok(Statement::Schema(command)) => engine.schema(command).await,
            Ok(Statement::Query(query)) => {
                let mut tx = engine.begin().await.unwrap();
                let mut r = tx
                    .run(query, params)
                    .await
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                let rows: Vec<Row> = std::mem::replace(&mut r.rows, Box::new(std::iter::empty()))
                    .map(|row| row.unwrap_or_else(|e| panic!("{text}: {e}")))
                    .collect();
                tx.commit().await.unwrap_or_else(|e| panic!("{text}: {e}"));
                return rows;
            }
            other => panic!("{text}: {other:?}"),
        }
        .unwrap_or_else(|e| panic!("{text}: {e}"));
        std::mem::replace(&mut result.rows, Box::new(std::iter::empty()))
            .map(|row| row.unwrap_or_else(|e| panic!("{text}: {e}")))
            .collect()
    }

    /// The dump's statements, each checked to be one string in the one column.
    async fn dump_of(engine: &MemoryEngine) -> Vec<String> {
        let result = engine
            .schema(crate::cypher::SchemaCommand::DumpDatabase)
            .await
            .unwrap();
        assert_eq!(result.fields, vec![COLUMN]);
        result
            .rows
            .map(|row| match row.unwrap().as_slice() {
                [Value::String(s)] => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// Every node as (key, labels, properties without the key), by the unique `key` property.
    async fn nodes(engine: &MemoryEngine) -> BTreeMap<String, (Vec<Value>, Value)> {
        run(
            engine,
            "MATCH (n) RETURN n.key, labels(n), properties(n)",
            Params::new(),
        )
        .await
        .into_iter()
        .map(|row| {
            let [key, Value::List(mut labels), props] = <[Value; 3]>::try_from(row).unwrap() else {
                panic!()
            };
            labels.sort_by(|a, b| a.structural_cmp(b));
            let Value::String(key) = key else {
                panic!("{key:?}")
            };
            (key, (labels, props))
        })
        .collect()
    }

    async fn relationships(engine: &MemoryEngine) -> Vec<Row> {
        let mut rows = run(
            engine,
            "MATCH (a)-[r]->(b) RETURN a.key, type(r), properties(r), b.key",
            Params::new(),
        )
        .await;
        rows.sort_by(|a, b| Value::List(a.clone()).structural_cmp(&Value::List(b.clone())));
        rows
    }

    async fn sorted(engine: &MemoryEngine, text: &str) -> Vec<Row> {
        let mut rows = run(engine, text, Params::new()).await;
        rows.sort_by(|a, b| Value::List(a.clone()).structural_cmp(&Value::List(b.clone())));
        rows
    }

    /// Structural equality, except that any NaN equals any NaN: `0.0 / 0.0` makes the CPU's
    /// default NaN, whose sign bit may differ from the original's, which nothing but the
    /// structural order can see.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) if x.is_nan() && y.is_nan() => true,
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Map(x), Value::Map(y)) => {
                x.keys().eq(y.keys()) && x.values().zip(y.values()).all(|(x, y)| same(x, y))
            }
            _ => a.structural_cmp(b).is_eq(),
        }
    }

    /// Replays `statements` on a fresh engine.
    async fn replay(statements: &[String]) -> MemoryEngine {
        let fresh = MemoryEngine::new();
        for statement in statements {
            run(&fresh, statement, Params::new()).await;
        }
        fresh
    }

    fn utc(seconds: i64, nanos: u32, zone: TimeZone) -> Value {
        Value::DateTime {
            seconds,
            nanos,
            zone,
        }
    }

    /// Property values of every kind the engine stores and the dump can write, including the
    /// awkward ones: integral and non-finite floats, i64::MIN, escapes, nested lists and maps,
    /// nanoseconds, years outside 0..9999, zone names and a wall-clock time Zagreb passes twice.
    fn every_value() -> Map {
        let mut nested = Map::new();
        nested.insert(
            "inner `key`".into(),
            Value::List(vec![Value::Null, 2.5.into()]),
        );
        nested.insert("empty".into(), Value::Map(Map::new()));
        let values: Vec<(&str, Value)> = vec![
            ("int", Value::Int(-42)),
            ("min", Value::Int(i64::MIN)),
            ("max", Value::Int(i64::MAX)),
            ("float", Value::Float(1.0)),
            ("tiny", Value::Float(-1.5e-300)),
            ("big", Value::Float(1e300)),
            ("negative zero", Value::Float(-0.0)),
            ("nan", Value::Float(f64::NAN)),
            ("inf", Value::Float(f64::INFINITY)),
            ("-inf", Value::Float(f64::NEG_INFINITY)),
            (
                "string",
                "quote ' \" back \\ tab \t nl \n cr \r bell \u{7} é ✓".into(),
            ),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            (
                "list",
                Value::List(vec![
                    Value::Int(1),
                    Value::List(vec!["a".into(), Value::List(vec![])]),
                    Value::Map(nested.clone()),
                ]),
            ),
            ("map", Value::Map(nested)),
            ("date", Value::Date(19_724)),
            ("ancient date", Value::Date(-800_000)),
            ("far date", Value::Date(3_000_000)),
            ("localtime", Value::LocalTime(45_296_000_000_123)),
            ("midnight", Value::LocalTime(0)),
            (
                "localdatetime",
                Value::LocalDateTime {
                    seconds: 1_704_164_645,
                    nanos: 5,
                },
            ),
            (
                "ancient localdatetime",
                Value::LocalDateTime {
                    seconds: -70_000_000_000,
                    nanos: 0,
                },
            ),
            (
                "offset datetime",
                utc(1_704_164_645, 120, TimeZone::Offset(-9000)),
            ),
            ("utc datetime", utc(0, 0, TimeZone::Offset(0))),
            (
                "zoned datetime",
                utc(1_704_164_645, 0, TimeZone::Named("Europe/Zagreb".into())),
            ),
            // 2024-10-27 02:30 happens twice in Zagreb; this is the second (01:30 UTC).
            (
                "repeated hour",
                utc(1_729_992_600, 0, TimeZone::Named("Europe/Zagreb".into())),
            ),
            (
                "first of the repeated hour",
                utc(
                    1_729_992_600 - 3600,
                    0,
                    TimeZone::Named("Europe/Zagreb".into()),
                ),
            ),
            (
                "duration",
                Value::Duration(Duration {
                    months: 14,
                    days: -3,
                    seconds: -7_200,
                    nanos: 999_999_999,
                }),
            ),
            ("zero duration", Value::Duration(Duration::default())),
        ];
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[tokio::test]
    async fn a_dump_rebuilds_graph_and_schema_on_a_fresh_engine() {
        let engine = MemoryEngine::new();
        for statement in [
            "CREATE INDEX ON :`Odd Label`",
            "CREATE INDEX ON :Person(name)",
            "CREATE INDEX ON :`we``ird`(`a prop`)",
            "CREATE CONSTRAINT ON (p:Person) ASSERT p.key IS UNIQUE",
            "CREATE CONSTRAINT ON (p:Person) ASSERT EXISTS (p.name)",
            "CREATE CONSTRAINT ON (p:`we``ird`) ASSERT EXISTS (p.key)",
        ] {
            run(&engine, statement, Params::new()).await;
        }
        let mut params = Params::new();
        params.insert("props".into(), Value::Map(every_value()));
        run(
            &engine,
            "CREATE (a:Person {key: 'a', name: 'Ann'}), (b:Person:`Odd Label` {key: 'b', name: 'B'}),
                    (c:`we``ird` {key: 'c', `a prop`: 1}), (d {key: 'd'}), (e:`Odd Label` $props),
                    (a)-[:KNOWS {since: 2020, w: 0.5}]->(b), (b)-[:`rel type` ]->(c),
                    (c)-[:SELF $props]->(c), (d)-[:KNOWS]->(a)",
            params,
        )
        .await;
        run(
            &engine,
            "MATCH (e:`Odd Label`) WHERE e.int = -42 SET e.key = 'e'",
            Params::new(),
        )
        .await;

        let statements = dump_of(&engine).await;
        let copy = replay(&statements).await;

        let (original, rebuilt) = (nodes(&engine).await, nodes(&copy).await);
        assert_eq!(original.len(), 5);
        // NaN is not equal to itself under `==`, so compare by structure.
        for (key, (labels, props)) in &original {
            let (labels2, props2) = &rebuilt[key];
            assert_eq!(labels, labels2, "node {key}");
            let (Value::Map(props), Value::Map(props2)) = (props, props2) else {
                panic!("{props:?}")
            };
            assert!(props.keys().eq(props2.keys()), "node {key}");
            for (k, v) in props {
                let v2 = &props2[k];
                assert!(same(v, v2), "node {key}, {k}: {v:?} became {v2:?}");
            }
        }
        let (original, rebuilt) = (relationships(&engine).await, relationships(&copy).await);
        assert_eq!(original.len(), 4);
        assert!(same(
            &Value::List(original.into_iter().map(Value::List).collect()),
            &Value::List(rebuilt.into_iter().map(Value::List).collect())
        ));
        for info in ["SHOW INDEX INFO", "SHOW CONSTRAINT INFO"] {
            assert_eq!(
                sorted(&engine, info).await,
                sorted(&copy, info).await,
                "{info}"
            );
        }
        // The helpers are gone again.
        assert!(
            run(&copy, "MATCH (n:__mg_vertex__) RETURN n", Params::new())
                .await
                .is_empty()
        );
        assert!(run(
            &copy,
            "MATCH (n) WHERE n.__mg_id__ IS NOT NULL RETURN n",
            Params::new()
        )
        .await
        .is_empty());
        // Dumping the copy says the same, but for the node ids.
        assert_eq!(dump_of(&copy).await.len(), statements.len());
    }

    #[tokio::test]
    async fn statements_have_memgraphs_shapes_and_order() {
        let engine = MemoryEngine::new();
        for statement in [
            "CREATE CONSTRAINT ON (n:L) ASSERT n.p IS UNIQUE",
            "CREATE CONSTRAINT ON (n:L) ASSERT EXISTS (n.p)",
            "CREATE INDEX ON :L(p)",
            "CREATE INDEX ON :L",
            "CREATE (:L {p: 1})-[:T {w: 'x'}]->(:L:M {p: 2.0})",
        ] {
            run(&engine, statement, Params::new()).await;
        }
        let ids: Vec<i64> = run(
            &engine,
            "MATCH (n:L) RETURN id(n) ORDER BY n.p",
            Params::new(),
        )
        .await
        .into_iter()
        .map(|row| match row.as_slice() {
            [Value::Int(i)] => *i,
            other => panic!("{other:?}"),
        })
        .collect();
        let (a, b) = (ids[0], ids[1]);
        assert_eq!(
            dump_of(&engine).await,
            vec![
                "CREATE INDEX ON :`L`;".to_owned(),
                "CREATE INDEX ON :`L`(`p`);".to_owned(),
                "CREATE CONSTRAINT ON (u:`L`) ASSERT EXISTS (u.`p`);".to_owned(),
                "CREATE CONSTRAINT ON (u:`L`) ASSERT u.`p` IS UNIQUE;".to_owned(),
                "CREATE INDEX ON :__mg_vertex__(__mg_id__);".to_owned(),
                format!("CREATE (:__mg_vertex__:`L` {{__mg_id__: {a}, `p`: 1}});"),
                format!("CREATE (:__mg_vertex__:`L`:`M` {{__mg_id__: {b}, `p`: 2.0}});"),
                format!(
                    "MATCH (u:__mg_vertex__), (v:__mg_vertex__) WHERE u.__mg_id__ = {a} AND \
                     v.__mg_id__ = {b} CREATE (u)-[:`T` {{`w`: \"x\"}}]->(v);"
                ),
                "DROP INDEX ON :__mg_vertex__(__mg_id__);".to_owned(),
                "MATCH (u) REMOVE u:__mg_vertex__, u.__mg_id__;".to_owned(),
            ]
        );
    }

    #[tokio::test]
    async fn an_empty_graph_dumps_only_its_schema() {
        let engine = MemoryEngine::new();
        assert!(dump_of(&engine).await.is_empty());
        run(&engine, "CREATE INDEX ON :L", Params::new()).await;
        assert_eq!(dump_of(&engine).await, vec!["CREATE INDEX ON :`L`;"]);
    }

    #[tokio::test]
    async fn values_without_a_constructor_end_the_dump_with_an_error() {
        let engine = MemoryEngine::new();
        let mut params = Params::new();
        params.insert(
            "t".into(),
            Value::Time {
                nanos: 1,
                offset_seconds: 3600,
            },
        );
        run(&engine, "CREATE (:A {ok: 1}), (:B {t: $t})", params).await;
        let result = engine
            .schema(crate::cypher::SchemaCommand::DumpDatabase)
            .await
            .unwrap();
        let rows: Vec<_> = result.rows.collect();
        // The index, the first node, then the refusal, and nothing after it.
        assert_eq!(rows.len(), 3);
        let err = rows[2].as_ref().unwrap_err();
        assert!(err.message.contains("`t`"), "{}", err.message);
        assert!(err.message.contains("ZONED_TIME"), "{}", err.message);
    }

    #[tokio::test]
    async fn the_dump_streams_from_a_snapshot() {
        let engine = MemoryEngine::new();
        run(
            &engine,
            "UNWIND range(1, 100000) AS i CREATE (:N {i: i})",
            Params::new(),
        )
        .await;
        let started = Instant::now();
        let result = engine
            .schema(crate::cypher::SchemaCommand::DumpDatabase)
            .await
            .unwrap();
        let mut rows = result.rows;
        let first: Vec<_> = rows.by_ref().take(3).map(Result::unwrap).collect();
        assert_eq!(first.len(), 3);
        // Taking three rows of a 100,000-node dump writes three statements, not 100,000; well
        // under the time a full dump takes even in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        // Writes after the dump started are not in it.
        run(&engine, "CREATE (:Late)", Params::new()).await;
        // The index, 100,000 nodes and the two closing statements, less the three taken.
        assert_eq!(rows.count(), 1 + 100_000 + 2 - 3);
    }
}
