//! A result's rows, pulled in batches.
//!
//! The session asks for up to `n` rows at a time (`PULL {n}`); the rows are produced on demand by
//! the executor's lazy pipeline. A heavy result's batch runs under [`offload::in_place`], paid once
//! per batch rather than per row.

use std::iter::Peekable;

use super::{offload, EngineError, Row, RowStream};

/// Rows handed out at most per batch: small enough to keep memory flat, large enough that moving
/// a heavy query off its worker is paid once per batch, not per row.
pub const BATCH: usize = 256;

/// The rows of one result, with the rule for where they are produced.
pub struct Rows {
    stream: Peekable<RowStream>,
    heavy: bool,
}

impl Rows {
    /// Rows from the executor's stream; `heavy` as the executor judged the query.
    pub fn new(stream: RowStream, heavy: bool) -> Self {
        Rows {
            stream: stream.peekable(),
            heavy,
        }
    }

    /// No rows at all: transaction words and server statements.
    pub fn empty() -> Self {
        Rows::new(Box::new(std::iter::empty()), false)
    }

    /// Up to `want` rows (at most [`BATCH`]), stopping after an error or at the end. The error
    /// comes out as the caller's type, so that the batch is built once.
    pub fn batch<E: From<EngineError>>(&mut self, want: usize) -> Vec<Result<Row, E>> {
        let want = want.clamp(1, BATCH);
        let stream = &mut self.stream;
        offload::in_place(self.heavy, || {
            // Grown as rows come, not sized to `want`: most results are a row or none, and a
            // vector of BATCH results is a large allocation (glibc consolidates its free lists
            // for it) made twice per PULL, the second time only to find the end.
            let mut batch = Vec::new();
            while batch.len() < want {
                match stream.next() {
                    None => break,
                    Some(Err(e)) => {
                        batch.push(Err(E::from(e)));
                        break;
                    }
                    Some(Ok(row)) => batch.push(Ok(row)),
                }
            }
            batch
        })
    }

    /// Whether another row follows; producing it may take as long as a batch.
    pub fn has_more(&mut self) -> bool {
        let stream = &mut self.stream;
        offload::in_place(self.heavy, || stream.peek().is_some())
    }
}
