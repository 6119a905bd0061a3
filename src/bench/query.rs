//! `query`: any Cypher text with parameters, on `--concurrency` sessions for the measured window,
//! against any Bolt server. This is what lets one load generator measure boltd and its peers
//! (bench/peers.sh) alike: the text, the parameters (`--param`), the credentials (`--auth`), the
//! database (`--database`) and the Bolt version (`--bolt-version`) are the run's, not the mode's.
//!
//! A failed query is counted and the session replaced by a new one (a FAILED session answers
//! IGNORED until a RESET, and some servers drop the connection instead), so one bad answer does
//! not end a task and every failure in the window is counted once. `--expect-records` turns a
//! wrong number of records into a failure too. The first value of the first record of one
//! unmeasured run before the window is reported as `first_value` when it is a number, so that a
//! script can check that every server gave the same answer (a count over the whole graph).

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use openssl::ssl::SslConnector;

use crate::value::{Map, Value};

use super::connect::{self, connector, Bolt};
use super::report::report;
use super::sample::{Sample, Window};
use super::{BenchArgs, Error};

/// One `--param NAME=SPEC`: a parameter of every run, fixed or drawn afresh for each run.
#[derive(Debug, Clone)]
pub struct Param {
    /// The parameter's name, as the query text refers to it (`$name`).
    name: String,
    /// How its value is made.
    spec: Spec,
}

/// How a parameter's value is made for each run.
#[derive(Debug, Clone)]
enum Spec {
    /// The same value every time (`42`, `1.5`, `str:TEXT`, `true`).
    Fixed(Value),
    /// A uniform integer in `[low, high)`, from each task's own generator (`rand:LOW..HIGH`).
    Random { low: i64, high: i64 },
    /// The next integer of a counter shared by every task of the run (`seq:START`), so that
    /// writes create distinct values however many sessions there are. Shared through an `Arc`
    /// because clap clones the values it parses.
    Sequence(Arc<AtomicI64>),
}

/// What is wrong with a `--param` value; shown by clap next to the flag.
#[derive(Debug, thiserror::Error)]
/// clap prints the flag and the value given in front of it.
#[error("{why} (expected NAME=SPEC, SPEC one of an integer, a float, true, false, str:TEXT, rand:LOW..HIGH or seq:START)")]
pub struct ParamError {
    why: &'static str,
}

impl FromStr for Param {
    type Err = ParamError;

    fn from_str(given: &str) -> Result<Param, ParamError> {
        let err = |why| ParamError { why };
        let (name, spec) = given.split_once('=').ok_or_else(|| err("no '='"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(err("the name must be letters, digits and '_'"));
        }
        let spec = if let Some(text) = spec.strip_prefix("str:") {
            Spec::Fixed(Value::String(text.to_owned()))
        } else if let Some(range) = spec.strip_prefix("rand:") {
            let (low, high) = range
                .split_once("..")
                .ok_or_else(|| err("rand needs LOW..HIGH"))?;
            let low = low
                .parse()
                .map_err(|_| err("rand's LOW is not an integer"))?;
            let high = high
                .parse()
                .map_err(|_| err("rand's HIGH is not an integer"))?;
            if high <= low {
                return Err(err("rand's range is empty (HIGH must exceed LOW)"));
            }
            Spec::Random { low, high }
        } else if let Some(start) = spec.strip_prefix("seq:") {
            let start = start
                .parse()
                .map_err(|_| err("seq's START is not an integer"))?;
            Spec::Sequence(Arc::new(AtomicI64::new(start)))
        } else if let Ok(i) = spec.parse::<i64>() {
            Spec::Fixed(Value::Int(i))
        } else if let Ok(f) = spec.parse::<f64>() {
            Spec::Fixed(Value::Float(f))
        } else if let Ok(b) = spec.parse::<bool>() {
            Spec::Fixed(Value::Bool(b))
        } else {
            return Err(err("not a number, a boolean, str:, rand: or seq:"));
        };
        Ok(Param {
            name: name.to_owned(),
            spec,
        })
    }
}

/// A small, fast generator (xorshift64*) per task: lookups must hit scattered keys, and the
/// generator must cost nothing next to a round trip. Not for anything that must be unpredictable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform integer in `[low, high)` (the modulo bias is negligible for benchmark ranges).
    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = high.wrapping_sub(low) as u64;
        low.wrapping_add((self.next() % span) as i64)
    }
}

/// The parameters of one run.
fn params(specs: &[Param], rng: &mut Rng) -> Map {
    specs
        .iter()
        .map(|p| {
            let v = match &p.spec {
                Spec::Fixed(v) => v.clone(),
                Spec::Random { low, high } => Value::Int(rng.between(*low, *high)),
                Spec::Sequence(next) => Value::Int(next.fetch_add(1, Ordering::Relaxed)),
            };
            (p.name.clone(), v)
        })
        .collect()
}

/// What one task measured: its sample and the records it read in the window.
#[derive(Default)]
struct Tally {
    sample: Sample,
    records: u64,
}

/// Seeds of the tasks' generators: distinct per task, the same from run to run, so two servers
/// are asked for the same keys.
static NEXT_SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

pub(super) async fn run(args: &Arc<BenchArgs>) -> Result<String, Error> {
    let Some(text) = args.query.as_deref() else {
        return Err("query: give the Cypher text with --query".into());
    };
    let connector = Arc::new(connector(args)?);
    // One unmeasured run first: it shows a wrong query, wrong credentials or an unknown database
    // at once and with the server's own words, instead of as a window full of failures.
    let mut rng = Rng(NEXT_SEED.fetch_add(1, Ordering::Relaxed));
    let mut first = connect::session(args, &connector).await?;
    let rows = connect::records_with(
        &mut first,
        text,
        params(&args.params, &mut rng),
        connect::run_extra(args),
    )
    .await?;
    drop(first);
    let first_value = match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(i)) => Some(*i as f64),
        Some(Value::Float(f)) => Some(*f),
        _ => None,
    };

    let window = Arc::new(Window::new(args.warmup, args.duration));
    let handles: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let seed = NEXT_SEED.fetch_add(0x6A09_E667_F3BC_C909, Ordering::Relaxed) | 1;
            tokio::spawn(task(
                Arc::clone(args),
                Arc::clone(&connector),
                Arc::clone(&window),
                Rng(seed),
            ))
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        let t = h.await?;
        all.sample.absorb(t.sample);
        all.records += t.records;
    }
    let mut extra = vec![("records".to_owned(), all.records as f64)];
    if let Some(v) = first_value {
        extra.push(("first_value".to_owned(), v));
    }
    Ok(report(args, &all.sample, args.duration, &extra))
}

/// One session running the query until the window closes. A failure (the server's FAILURE, a
/// dropped connection, a wrong record count) is counted and the session replaced; a session
/// that cannot be opened again ends the task, counted as one more failure.
async fn task(
    args: Arc<BenchArgs>,
    connector: Arc<SslConnector>,
    window: Arc<Window>,
    mut rng: Rng,
) -> Tally {
    let text = args.query.as_deref().unwrap_or_default();
    let extra = connect::run_extra(&args);
    let mut tally = Tally::default();
    let mut bolt: Option<Bolt> = None;
    while !window.done() {
        let b = match bolt.as_mut() {
            Some(b) => b,
            None => match connect::session(&args, &connector).await {
                Ok(b) => bolt.insert(b),
                Err(_) => {
                    tally.sample.failures += 1;
                    break;
                }
            },
        };
        let params = params(&args.params, &mut rng);
        let t = Instant::now();
        let (ok, records) = match b.count_records_with(text, params, extra.clone()).await {
            Ok(n) => (args.expect_records.is_none_or(|want| want == n), n),
            Err(_) => {
                bolt = None;
                (false, 0)
            }
        };
        if window.measuring() {
            if ok {
                tally.sample.latencies.push(t.elapsed().as_micros() as u64);
                tally.records += records;
            } else {
                tally.sample.failures += 1;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Param, String> {
        s.parse::<Param>().map_err(|e| e.to_string())
    }

    #[test]
    fn fixed_values_keep_their_type() {
        let mut rng = Rng(1);
        let specs: Vec<Param> = ["a=42", "b=1.5", "c=str:x=y", "d=true", "e=-3"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        let p = params(&specs, &mut rng);
        assert_eq!(p["a"], Value::Int(42));
        assert_eq!(p["b"], Value::Float(1.5));
        assert_eq!(p["c"], Value::String("x=y".into()));
        assert_eq!(p["d"], Value::Bool(true));
        assert_eq!(p["e"], Value::Int(-3));
    }

    #[test]
    fn random_values_stay_in_range_and_sequences_count_up() {
        let specs = vec![parse("id=rand:5..8").unwrap(), parse("i=seq:10").unwrap()];
        let mut rng = Rng(0x1234_5678);
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..300 {
            let p = params(&specs, &mut rng);
            let Value::Int(id) = p["id"] else { panic!() };
            assert!((5..8).contains(&id), "{id}");
            seen.insert(id);
            assert_eq!(p["i"], Value::Int(10 + n));
        }
        assert_eq!(seen.len(), 3, "every value of the range is drawn");
        // Clones (clap clones parsed values) share the counter.
        let copy = specs[1].clone();
        assert_eq!(params(&[copy], &mut rng)["i"], Value::Int(310));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (given, why) in [
            ("id", "no '='"),
            ("=1", "the name"),
            ("id=rand:9..2", "empty"),
            ("id=rand:1", "LOW..HIGH"),
            ("id=rand:a..2", "LOW is not an integer"),
            ("id=seq:x", "START"),
            ("id=banana", "not a number"),
        ] {
            let e = parse(given).unwrap_err();
            assert!(e.contains(why), "{given}: {e}");
        }
    }
}
