//! The parsed form of a statement.

use std::sync::Arc;

use super::auth::AuthStatement;
use crate::value::Value;

/// What one statement text asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// A Cypher query, run by the engine inside a transaction. Shared: the parse cache hands the
    /// same parsed query to every request with its text, and nothing downstream changes it.
    Query(Arc<Query>),
    /// An index, constraint, storage or info statement (outside explicit transactions only).
    Schema(SchemaCommand),
    /// A user, role or privilege statement.
    Auth(AuthStatement),
    /// Cypher `BEGIN`: open an explicit transaction.
    Begin,
    /// Cypher `COMMIT`.
    Commit,
    /// Cypher `ROLLBACK`.
    Rollback,
    /// `RELOAD BOLT_SERVER TLS`.
    ReloadTls,
    /// `SHOW BOLT_SERVER TLS INFO`.
    ShowTlsInfo,
    /// `EXPLAIN query`: the plan, not run.
    Explain(Arc<Query>),
    /// `PROFILE query`: run, and the plan with hits and times per operator.
    Profile(Arc<Query>),
    /// A server statement tools send (`SHOW CONFIG`, `SHOW TRANSACTIONS`, ...).
    Server(ServerStatement),
}

/// Server statements answered by the dispatcher, not the graph engine.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerStatement {
    ShowConfig,
    ShowVersion,
    ShowBuildInfo,
    ShowDatabases,
    /// `USE DATABASE name`: there is one database, `memgraph`.
    UseDatabase(String),
    ShowTransactions,
    /// `TERMINATE TRANSACTIONS 'id', ...`.
    TerminateTransactions(Vec<String>),
    ShowNodeLabelsInfo,
    ShowEdgeTypesInfo,
    ShowActiveUsersInfo,
}

/// Index, constraint and storage statements. They run outside explicit transactions only.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaCommand {
    CreateIndex {
        label: String,
        property: Option<String>,
    },
    DropIndex {
        label: String,
        property: Option<String>,
    },
    CreateUnique {
        label: String,
        property: String,
    },
    DropUnique {
        label: String,
        property: String,
    },
    /// `ASSERT EXISTS (n.p)`: every node with the label must have the property.
    CreateExists {
        label: String,
        property: String,
    },
    DropExists {
        label: String,
        property: String,
    },
    ShowIndexInfo,
    ShowConstraintInfo,
    ShowStorageInfo,
    /// `STORAGE MODE IN_MEMORY_TRANSACTIONAL`: what we always are.
    StorageMode(String),
    /// `CREATE SNAPSHOT`: write one now.
    CreateSnapshot,
    /// `SHOW SNAPSHOTS`: the snapshots on disk.
    ShowSnapshots,
    /// `DUMP DATABASE`: the committed graph and its schema as Cypher statements, one per row.
    DumpDatabase,
}

/// A query: clauses in order, optionally followed by `UNION [ALL]` and another query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub clauses: Vec<Clause>,
    /// `(all, next)`: `UNION ALL` keeps duplicates.
    pub union: Option<(bool, Box<Query>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Match {
        optional: bool,
        /// Shared: every execution's matcher holds them, and a parsed query is run many times.
        patterns: std::sync::Arc<Vec<PatternPart>>,
        filter: Option<Expr>,
    },
    Unwind {
        expr: Expr,
        variable: String,
    },
    With {
        projection: Projection,
        filter: Option<Expr>,
    },
    Return(Projection),
    Create(Vec<PatternPart>),
    Merge {
        pattern: PatternPart,
        on_create: Vec<SetItem>,
        on_match: Vec<SetItem>,
    },
    Set(Vec<SetItem>),
    Remove(Vec<RemoveItem>),
    Delete {
        detach: bool,
        targets: Vec<Expr>,
    },
    /// `FOREACH (variable IN list | clauses)`: updating clauses run once per element.
    Foreach {
        variable: String,
        list: Expr,
        clauses: Vec<Clause>,
    },
    /// Memgraph's `LOAD CSV FROM source WITH HEADER|NO HEADER [IGNORE BAD] [DELIMITER d]
    /// [QUOTE q] [NULLIF s] AS variable`.
    LoadCsv(LoadCsv),
    /// `CALL name(args) [YIELD ...] [WHERE ...]`.
    CallProcedure(ProcedureCall),
    /// `CALL { query }`: runs once per incoming row; its RETURN columns join the row.
    CallSubquery(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadCsv {
    pub source: Expr,
    /// `WITH HEADER`: each row is a map keyed by the header; otherwise a list.
    pub header: bool,
    pub ignore_bad: bool,
    pub delimiter: Option<Expr>,
    pub quote: Option<Expr>,
    pub nullif: Option<Expr>,
    pub variable: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcedureCall {
    /// The dotted name, e.g. `db.labels`.
    pub name: String,
    pub args: Vec<Expr>,
    /// `YIELD field [AS alias], ...`; `None` when there is no YIELD (every field, by its name);
    /// `YIELD *` is also `None`.
    pub yields: Option<Vec<(String, String)>>,
    /// `YIELD ... WHERE predicate`.
    pub filter: Option<Expr>,
}

impl Clause {
    /// Whether the clause changes the graph. LOAD CSV only reads (a file), so it streams like
    /// UNWIND instead of being drained row by row as updating clauses are.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Clause::Create(_)
                | Clause::Merge { .. }
                | Clause::Set(_)
                | Clause::Remove(_)
                | Clause::Delete { .. }
                | Clause::Foreach { .. }
        ) || matches!(self, Clause::CallSubquery(q) if q.writes())
    }
}

impl Query {
    /// Whether any clause of the query (or of a query UNIONed to it) changes the graph.
    pub fn writes(&self) -> bool {
        self.clauses.iter().any(Clause::writes)
            || self.union.as_ref().is_some_and(|(_, next)| next.writes())
    }
}

/// `p = (a)-[r]->(b)...`: a start node and a chain of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternPart {
    pub path_variable: Option<String>,
    pub start: NodePattern,
    pub steps: Vec<(RelPattern, NodePattern)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodePattern {
    pub variable: Option<String>,
    pub labels: Vec<String>,
    /// A map literal or a parameter.
    pub properties: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `-[]->`
    Outgoing,
    /// `<-[]-`
    Incoming,
    /// `-[]-`
    Either,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RelPattern {
    pub variable: Option<String>,
    /// Any of these types (`:A|B`); empty means any type.
    pub types: Vec<String>,
    pub properties: Option<Expr>,
    pub direction: Direction,
    /// `*min..max` for variable-length patterns.
    pub length: Option<(Option<u32>, Option<u32>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetItem {
    /// `target.key = value`
    Property {
        target: Expr,
        key: String,
        value: Expr,
    },
    /// `n = {map}`: replaces every property.
    Replace { variable: String, value: Expr },
    /// `n += {map}`: adds and overwrites.
    Merge { variable: String, value: Expr },
    /// `n:A:B`
    Labels {
        variable: String,
        labels: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RemoveItem {
    Property {
        target: Expr,
        key: String,
    },
    Labels {
        variable: String,
        labels: Vec<String>,
    },
}

/// `RETURN [DISTINCT] items [ORDER BY ...] [SKIP n] [LIMIT n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub distinct: bool,
    /// `RETURN *`: every variable in scope, by name.
    pub star: bool,
    pub items: Vec<ReturnItem>,
    pub order_by: Vec<SortItem>,
    pub skip: Option<Expr>,
    pub limit: Option<Expr>,
}

/// One returned column: the expression and its column name (the alias, or the expression's text
/// as written).
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnItem {
    pub expr: Expr,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortItem {
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    Xor,
    And,
    Eq,
    Neq,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    In,
    StartsWith,
    EndsWith,
    Contains,
    RegexMatch,
}

impl BinaryOp {
    /// The operator as written, for error messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::Xor => "XOR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::In => "IN",
            BinaryOp::StartsWith => "STARTS WITH",
            BinaryOp::EndsWith => "ENDS WITH",
            BinaryOp::Contains => "CONTAINS",
            BinaryOp::RegexMatch => "=~",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
    None,
    Single,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Parameter(String),
    Variable(String),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    IsNull(Box<Expr>, bool),
    Call {
        name: String,
        distinct: bool,
        args: Vec<Expr>,
    },
    /// `count(*)`.
    CountStar,
    Case {
        subject: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `n:Label:Other`: true when the node has every label.
    HasLabels(Box<Expr>, Vec<String>),
    /// A pattern used as a predicate: true when it has at least one match.
    Pattern(Box<PatternPart>),
    /// `any|all|none|single(x IN list WHERE pred)`.
    Quantified {
        quantifier: Quantifier,
        variable: String,
        list: Box<Expr>,
        predicate: Box<Expr>,
    },
    /// `reduce(acc = init, x IN list | expr)`.
    Reduce {
        accumulator: String,
        init: Box<Expr>,
        variable: String,
        list: Box<Expr>,
        expr: Box<Expr>,
    },
    /// `EXISTS { query }` (or `EXISTS { pattern [WHERE ...] }`, parsed as a MATCH).
    ExistsSubquery(Box<Query>),
    /// `COUNT { query }`: how many rows the subquery yields.
    CountSubquery(Box<Query>),
    /// `[p = (a)-->(b) WHERE pred | expr]`.
    PatternComprehension {
        pattern: Box<PatternPart>,
        predicate: Option<Box<Expr>>,
        projection: Box<Expr>,
    },
    /// `[x IN list WHERE pred | expr]`.
    ListComprehension {
        variable: String,
        list: Box<Expr>,
        predicate: Option<Box<Expr>>,
        projection: Option<Box<Expr>>,
    },
}
