//! Memgraph's index, constraint, storage-mode and info statements, and `DUMP DATABASE` (whose
//! statements `dump.rs` writes).
//!
//! They change or describe the committed graph directly, outside any transaction, which is why
//! Memgraph (and so boltd) refuses them inside an explicit one.

use super::graph::Graph;
use std::sync::Arc;

use super::store::Store;
use super::{EngineError, QueryResult, QueryType, Row, RowStream};
use crate::cypher::ast::SchemaCommand;
use crate::value::Value;

fn table(columns: &[&str], rows: Vec<Row>) -> QueryResult {
    let rows: RowStream = Box::new(rows.into_iter().map(Ok));
    QueryResult {
        fields: columns.iter().map(|c| c.to_string()).collect(),
        rows,
        query_type: QueryType::Read,
        stats: None,
        heavy: false,
    }
}

fn done() -> QueryResult {
    QueryResult::empty(QueryType::Schema)
}

/// Runs a schema statement against the committed graph.
pub fn run(store: &Arc<Store>, command: &SchemaCommand) -> Result<QueryResult, EngineError> {
    match command {
        SchemaCommand::CreateIndex { label, property } => store.alter(|g| {
            match property {
                Some(p) => g.ensure_property_index(label, p).explicit = true,
                None => {
                    g.label_indexes.insert(label.clone());
                }
            }
            Ok(done())
        }),
        SchemaCommand::DropIndex { label, property } => store.alter(|g| {
            let existed = match property {
                Some(p) => {
                    let key = (label.clone(), p.clone());
                    match g.property_indexes.get_mut(&key) {
                        Some(index) if index.explicit => {
                            index.explicit = false;
                            g.release_property_index(label, p);
                            true
                        }
                        _ => false,
                    }
                }
                None => g.label_indexes.remove(label).is_some(),
            };
            if !existed {
                let shown = property
                    .as_ref()
                    .map_or(String::new(), |p| format!("({p})"));
                return Err(EngineError::client(format!(
                    "Index :{label}{shown} doesn't exist."
                )));
            }
            Ok(done())
        }),
        SchemaCommand::CreateUnique { label, property } => store.alter(|g| {
            let index = g.ensure_property_index(label, property);
            if index.unique {
                return Err(EngineError::client(format!(
                    "Constraint UNIQUE on :{label}({property}) already exists."
                )));
            }
            if let Some(dupe) = index.duplicate() {
                let ids: Vec<String> = dupe.iter().map(|i| i.to_string()).collect();
                g.release_property_index(label, property);
                return Err(EngineError::client(format!(
                    "Unable to create unique constraint :{label}({property}), because an \
                     existing node violates it (nodes {} share a value).",
                    ids.join(", ")
                )));
            }
            index.unique = true;
            Ok(done())
        }),
        SchemaCommand::DropUnique { label, property } => store.alter(|g| {
            let key = (label.clone(), property.clone());
            match g.property_indexes.get_mut(&key) {
                Some(index) if index.unique => index.unique = false,
                _ => {
                    return Err(EngineError::client(format!(
                        "Constraint UNIQUE on :{label}({property}) doesn't exist."
                    )))
                }
            }
            g.release_property_index(label, property);
            Ok(done())
        }),
        SchemaCommand::CreateExists { label, property } => store.alter(|g| {
            let key = (label.clone(), property.clone());
            if g.existence.contains(&key) {
                return Err(EngineError::client(format!(
                    "Constraint EXISTS on :{label}({property}) already exists."
                )));
            }
            let missing = g
                .nodes_with_label(label)
                .into_iter()
                .find(|id| g.node(*id).is_some_and(|n| n.props.get(property).is_none()));
            if let Some(id) = missing {
                return Err(EngineError::client(format!(
                    "Unable to create existence constraint :{label}({property}), because an \
                     existing node violates it (node {id} has no {property})."
                )));
            }
            g.existence.insert(key);
            Ok(done())
        }),
        SchemaCommand::DropExists { label, property } => store.alter(|g| {
            if g.existence
                .remove(&(label.clone(), property.clone()))
                .is_none()
            {
                return Err(EngineError::client(format!(
                    "Constraint EXISTS on :{label}({property}) doesn't exist."
                )));
            }
            Ok(done())
        }),
        SchemaCommand::StorageMode(mode) => {
            if mode.eq_ignore_ascii_case("IN_MEMORY_TRANSACTIONAL") {
                Ok(done())
            } else {
                Err(EngineError::client(format!(
                    "Storage mode {mode} is not available: boltd's embedded engine is always \
                     IN_MEMORY_TRANSACTIONAL."
                )))
            }
        }
        SchemaCommand::CreateSnapshot => {
            let written = store
                .write_snapshot()
                .map_err(|e| EngineError::database(format!("CREATE SNAPSHOT failed: {e}")))?;
            Ok(table(
                &["path"],
                vec![vec![Value::from(
                    written.info.path.display().to_string().as_str(),
                )]],
            ))
        }
        SchemaCommand::ShowSnapshots => {
            let Some(storage) = store.storage() else {
                return Ok(table(SNAPSHOT_COLUMNS, Vec::new()));
            };
            let rows = storage
                .snapshots()
                .into_iter()
                .rev()
                .map(|s| {
                    let nanos = s.created_nanos;
                    vec![
                        Value::from(s.path.display().to_string().as_str()),
                        Value::Int(s.seq as i64),
                        Value::DateTime {
                            seconds: (nanos / 1_000_000_000) as i64,
                            nanos: (nanos % 1_000_000_000) as u32,
                            zone: crate::value::TimeZone::Offset(0),
                        },
                        Value::Int(s.size as i64),
                    ]
                })
                .collect();
            Ok(table(SNAPSHOT_COLUMNS, rows))
        }
        SchemaCommand::ShowIndexInfo => Ok(table(
            &["index type", "label", "property", "count"],
            index_rows(&store.committed()),
        )),
        SchemaCommand::ShowConstraintInfo => {
            let g = store.committed();
            let exists = g.existence.iter().map(|(l, p)| {
                vec![
                    Value::from("exists"),
                    Value::from(l.as_str()),
                    Value::from(p.as_str()),
                ]
            });
            let unique = g
                .property_indexes
                .iter()
                .filter(|(_, i)| i.unique)
                .map(|((l, p), _)| {
                    vec![
                        Value::from("unique"),
                        Value::from(l.as_str()),
                        Value::List(vec![Value::from(p.as_str())]),
                    ]
                });
            let rows = exists.chain(unique).collect();
            Ok(table(&["constraint type", "label", "properties"], rows))
        }
        SchemaCommand::DumpDatabase => Ok(QueryResult {
            fields: vec![super::dump::COLUMN.to_owned()],
            rows: super::dump::dump(store.committed()),
            query_type: QueryType::Read,
            stats: None,
            // Each row is one entity, but a property can be a long string or list: batches of
            // them are written where blocking is allowed.
            heavy: true,
        }),
        SchemaCommand::ShowStorageInfo => {
            let g = store.committed();
            let (nodes, rels) = (g.nodes.len() as i64, g.rels.len() as i64);
            let degree = if nodes == 0 {
                0.0
            } else {
                2.0 * rels as f64 / nodes as f64
            };
            let rows = vec![
                vec![Value::from("name"), Value::from("memgraph")],
                vec![Value::from("vertex_count"), Value::Int(nodes)],
                vec![Value::from("edge_count"), Value::Int(rels)],
                vec![Value::from("average_degree"), Value::Float(degree)],
                vec![
                    Value::from("storage_mode"),
                    Value::from("IN_MEMORY_TRANSACTIONAL"),
                ],
                vec![
                    Value::from("isolation_level"),
                    Value::from("SNAPSHOT_ISOLATION"),
                ],
                vec![
                    Value::from("disk_usage"),
                    Value::Int(store.storage().map_or(0, |s| s.disk_usage()) as i64),
                ],
                vec![
                    Value::from("durability"),
                    Value::from(match store.storage() {
                        Some(s) if s.logs() => "WAL and snapshots",
                        Some(_) => "snapshots only (--storage-wal-enabled=false)",
                        None => "none (in memory only)",
                    }),
                ],
            ];
            Ok(table(&["storage info", "value"], rows))
        }
    }
}

/// `SHOW SNAPSHOTS`, newest first: the file, the last WAL record it covers, when it was written,
/// and its size in bytes.
const SNAPSHOT_COLUMNS: &[&str] = &["path", "timestamp", "creation_time", "size"];

fn index_rows(g: &Graph) -> Vec<Row> {
    let mut rows: Vec<Row> = g
        .label_indexes
        .iter()
        .map(|l| {
            let count = g.labels.get(l).map_or(0, |s| s.len()) as i64;
            vec![
                Value::from("label"),
                Value::from(l.as_str()),
                Value::Null,
                Value::Int(count),
            ]
        })
        .collect();
    for ((l, p), index) in g.property_indexes.iter() {
        if index.explicit {
            let count = index.entries.len();
            rows.push(vec![
                Value::from("label+property"),
                Value::from(l.as_str()),
                Value::from(p.as_str()),
                Value::Int(count as i64),
            ]);
        }
    }
    rows
}
