//! The graph's side of durability: images of its records for the WAL and snapshots, and the
//! graph rebuilt from them at start.
//!
//! The storage layer knows nothing of [`Graph`]; this file translates. A commit's record is the
//! final image of every node and relationship it wrote (or their deletion), ordered so that replay
//! needs no lookups: relationship deletions, then nodes, then relationship images. A schema change
//! logs the whole schema. At recovery the nodes and relationships are loaded first and indexes
//! are built once at the end, which is much faster than keeping them up to date record by record.

use std::collections::HashSet;
use std::sync::Arc;

use super::graph::{Graph, NodeRec, Props, RelRec};
use super::EngineError;
use crate::storage::record::{self, Change, ChangeRef, PropertyIndexDef, Schema};
use crate::storage::recovery::Sink;

/// The encoded changes of a commit that wrote `nodes` and `rels`, as they are in `graph`.
/// `before` is the graph the transaction started from: a node touched only because a
/// relationship to it was created or deleted keeps its very record (the same `Arc`) and is left
/// out, since replay rebuilds adjacency from the relationships. A relationship load would
/// otherwise log both end nodes of every relationship.
pub fn commit_record(
    before: &Graph,
    graph: &Graph,
    nodes: &HashSet<i64>,
    rels: &HashSet<i64>,
) -> Result<Vec<u8>, EngineError> {
    let unchanged = |id: i64| match (before.node(id), graph.node(id)) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    let mut node_ids: Vec<i64> = nodes.iter().copied().filter(|id| !unchanged(*id)).collect();
    let mut rel_ids: Vec<i64> = rels.iter().copied().collect();
    node_ids.sort_unstable();
    rel_ids.sort_unstable();
    let deleted_rels = rel_ids
        .iter()
        .filter(|id| graph.rel(**id).is_none())
        .map(|&id| ChangeRef::DeleteRel { id });
    let node_images = node_ids.iter().map(|&id| match graph.node(id) {
        Some(n) => node_image(id, n),
        None => ChangeRef::DeleteNode { id },
    });
    let rel_images = rel_ids
        .iter()
        .filter_map(|&id| graph.rel(id).map(|r| rel_image(id, r)));
    record::encode_changes(
        node_ids.len() + rel_ids.len(),
        deleted_rels.chain(node_images).chain(rel_images),
    )
    .map_err(|e| EngineError::client(format!("The transaction cannot be committed: {e}.")))
}

/// The encoded schema of `graph`, as a schema statement logs it.
pub fn schema_record(graph: &Graph) -> Result<Vec<u8>, EngineError> {
    let schema = schema_of(graph);
    record::encode_changes(1, std::iter::once(ChangeRef::Schema(&schema)))
        .map_err(|e| EngineError::database(e.to_string()))
}

/// A node's image for the WAL or a snapshot.
pub fn node_image(id: i64, n: &NodeRec) -> ChangeRef<'_> {
    ChangeRef::PutNode {
        id,
        labels: &n.labels,
        props: n.props.as_slice(),
    }
}

/// A relationship's image for the WAL or a snapshot.
pub fn rel_image(id: i64, r: &RelRec) -> ChangeRef<'_> {
    ChangeRef::PutRel {
        id,
        start: r.start,
        end: r.end,
        rel_type: &r.rel_type,
        props: r.props.as_slice(),
    }
}

/// The indexes and constraints of `graph`.
pub fn schema_of(graph: &Graph) -> Schema {
    Schema {
        label_indexes: graph.label_indexes.iter().cloned().collect(),
        property_indexes: graph
            .property_indexes
            .iter()
            .map(|((label, property), index)| PropertyIndexDef {
                label: label.clone(),
                property: property.clone(),
                explicit: index.explicit,
                unique: index.unique,
            })
            .collect(),
        existence: graph.existence.iter().cloned().collect(),
    }
}

/// Rebuilds a graph from recovered changes.
#[derive(Debug, Default)]
pub struct Builder {
    graph: Graph,
    schema: Option<Schema>,
}

impl Sink for Builder {
    fn apply(&mut self, change: Change) {
        match change {
            Change::PutNode { id, labels, props } => self.graph.put_node(
                id,
                NodeRec {
                    labels,
                    props: Props::from_pairs(props),
                },
            ),
            Change::DeleteNode { id } => self.graph.remove_node(id),
            Change::PutRel {
                id,
                start,
                end,
                rel_type,
                props,
            } => self.graph.put_rel(
                id,
                RelRec {
                    start,
                    end,
                    rel_type: super::rel_types::shared_name(&rel_type),
                    props: Props::from_pairs(props),
                },
            ),
            Change::DeleteRel { id } => self.graph.remove_rel(id),
            Change::Schema(schema) => self.schema = Some(schema),
        }
    }

    fn clear(&mut self) {
        *self = Builder::default();
    }
}

impl Builder {
    /// The graph with its indexes and constraints built.
    pub fn finish(self) -> Graph {
        let mut graph = self.graph;
        if let Some(schema) = self.schema {
            graph.label_indexes = schema.label_indexes.into_iter().collect();
            for def in schema.property_indexes {
                let index = graph.ensure_property_index(&def.label, &def.property);
                index.explicit = def.explicit;
                index.unique = def.unique;
            }
            graph.existence = schema.existence.into_iter().collect();
        }
        graph
    }
}
