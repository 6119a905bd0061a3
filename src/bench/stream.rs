//! `stream`: one session pulls `UNWIND range(1, --rows) AS x RETURN x` to the end; rows per
//! second is the figure.

use std::sync::Arc;
use std::time::Instant;

use super::connect::{self, connector, session};
use super::report::report;
use super::sample::Sample;
use super::{BenchArgs, Error};

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let connector = connector(args)?;
    let mut bolt = session(args, &connector).await?;
    let t = Instant::now();
    let rows = connect::query(
        &mut bolt,
        &format!("UNWIND range(1, {}) AS x RETURN x", args.rows),
    )
    .await?;
    let took = t.elapsed().as_secs_f64();
    let sample = Sample {
        latencies: vec![(took * 1e6) as u64],
        ..Sample::default()
    };
    Ok(report(
        args,
        &sample,
        took,
        &[
            ("rows".to_owned(), rows as f64),
            ("rows_per_second".to_owned(), rows as f64 / took),
        ],
    ))
}
