//! The aggregate functions of WITH and RETURN, one `Accumulator` per aggregate per group:
//! `count`, `collect`, `sum`, `avg`, `min`, `max`, `percentileDisc`, `percentileCont`, `stDev`
//! and `stDevP`. Nulls are skipped, `DISTINCT` drops repeated values, and an empty group gives
//! 0 for `count`, `[]` for `collect` and null for the rest (`stDev`s give 0.0, as Neo4j does).

use std::collections::HashSet;

use super::eval::{apply, eval, order, Env};
use super::project::value_key;
use super::EngineError;
use crate::cypher::ast::{BinaryOp, Expr};
use crate::value::Value;

/// Which aggregate an accumulator computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CountStar,
    Count,
    Collect,
    Sum,
    Avg,
    Min,
    Max,
    PercentileDisc,
    PercentileCont,
    StDev,
    StDevP,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        const KINDS: [(&str, Kind); 10] = [
            ("count", Kind::Count),
            ("collect", Kind::Collect),
            ("sum", Kind::Sum),
            ("avg", Kind::Avg),
            ("min", Kind::Min),
            ("max", Kind::Max),
            ("percentileDisc", Kind::PercentileDisc),
            ("percentileCont", Kind::PercentileCont),
            ("stDev", Kind::StDev),
            ("stDevP", Kind::StDevP),
        ];
        KINDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    fn arguments(self) -> usize {
        match self {
            Kind::CountStar => 0,
            Kind::PercentileDisc | Kind::PercentileCont => 2,
            _ => 1,
        }
    }
}

/// Whether `name` is an aggregate of one argument (all but the percentiles), which
/// [`Accumulator::add_value`] takes in whole.
pub(crate) fn takes_one_argument(name: &str) -> bool {
    Kind::of(name).is_some_and(|k| k.arguments() == 1)
}

/// The running state of one aggregate in one group.
pub(crate) struct Accumulator {
    kind: Kind,
    distinct: Option<HashSet<String>>,
    count: i64,
    /// `collect`'s values, and the numbers the percentiles sort.
    values: Vec<Value>,
    sum: Value,
    /// `avg`'s running sum, in floating point as the result is.
    float_sum: f64,
    /// For the standard deviations and the standard deviations: Welford's running mean and sum of squared
    /// deviations, which stay accurate where a naive sum of squares cancels.
    mean: f64,
    m2: f64,
    best: Option<Value>,
    /// The percentile asked for, from the first row.
    percentile: Option<f64>,
}

impl Accumulator {
    pub(crate) fn new(call: &Expr) -> Self {
        let (kind, distinct) = match call {
            Expr::Call { name, distinct, .. } => (Kind::of(name).unwrap_or(Kind::Count), *distinct),
            _ => (Kind::CountStar, false),
        };
        Accumulator {
            kind,
            distinct: distinct.then(HashSet::new),
            count: 0,
            values: Vec::new(),
            sum: Value::Int(0),
            float_sum: 0.0,
            mean: 0.0,
            m2: 0.0,
            best: None,
            percentile: None,
        }
    }

    /// Takes in one row of the group.
    pub(crate) fn add(&mut self, call: &Expr, env: &Env) -> Result<(), EngineError> {
        let Expr::Call { name, args, .. } = call else {
            self.count += 1;
            return Ok(());
        };
        let wanted = self.kind.arguments();
        if args.len() != wanted {
            return Err(EngineError::client(format!(
                "Aggregation function {name}() takes {wanted} argument{}, got {}.",
                if wanted == 1 { "" } else { "s" },
                args.len()
            )));
        }
        let v = eval(&args[0], env)?;
        if wanted == 2 && self.percentile.is_none() {
            self.percentile = Some(percentile_arg(name, eval(&args[1], env)?)?);
        }
        self.add_value(name, v)
    }

    /// Takes in a row with no argument to evaluate: `count(*)`, or a count of something never
    /// null.
    pub(crate) fn add_row(&mut self) {
        self.count += 1;
    }

    /// Takes in one row's (first) argument, already evaluated: `name` is the function's, for
    /// errors. The percentiles' second argument is not taken here.
    pub(crate) fn add_value(&mut self, name: &str, v: Value) -> Result<(), EngineError> {
        if v.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.distinct {
            let mut key = String::new();
            value_key(&v, &mut key);
            if !seen.insert(key) {
                return Ok(());
            }
        }
        self.count += 1;
        match self.kind {
            Kind::Count | Kind::CountStar => {}
            Kind::Collect => self.values.push(v),
            Kind::Sum => {
                if !matches!(v, Value::Int(_) | Value::Float(_) | Value::Duration(_)) {
                    return Err(needs_numbers(name, &v));
                }
                self.sum = if self.count == 1 {
                    v
                } else {
                    let sum = std::mem::replace(&mut self.sum, Value::Null);
                    apply(BinaryOp::Add, sum, v)?
                };
            }
            Kind::Avg => self.float_sum += number(name, &v)?,
            Kind::StDev | Kind::StDevP => {
                let x = number(name, &v)?;
                let delta = x - self.mean;
                self.mean += delta / self.count as f64;
                self.m2 += delta * (x - self.mean);
            }
            Kind::PercentileDisc | Kind::PercentileCont => {
                number(name, &v)?;
                self.values.push(v);
            }
            Kind::Min | Kind::Max => {
                let better = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = order(&v, b);
                        if self.kind == Kind::Min {
                            o.is_lt()
                        } else {
                            o.is_gt()
                        }
                    }
                };
                if better {
                    self.best = Some(v);
                }
            }
        }
        Ok(())
    }

    /// The aggregate's value for the group.
    pub(crate) fn finish(mut self) -> Result<Value, EngineError> {
        let n = self.count;
        Ok(match self.kind {
            Kind::Count | Kind::CountStar => Value::Int(n),
            Kind::Collect => Value::List(self.values),
            Kind::Sum => self.sum,
            Kind::Avg if n == 0 => Value::Null,
            Kind::Avg => Value::Float(self.float_sum / n as f64),
            Kind::StDev if n < 2 => Value::Float(0.0),
            Kind::StDev => Value::Float((self.m2 / (n - 1) as f64).sqrt()),
            Kind::StDevP if n == 0 => Value::Float(0.0),
            Kind::StDevP => Value::Float((self.m2 / n as f64).sqrt()),
            Kind::PercentileDisc | Kind::PercentileCont if self.values.is_empty() => Value::Null,
            Kind::PercentileDisc => {
                let p = self.percentile.unwrap_or(0.5);
                sort_numbers(&mut self.values);
                let len = self.values.len();
                let at = if p >= 1.0 {
                    len - 1
                } else {
                    ((p * len as f64).ceil() as usize)
                        .saturating_sub(1)
                        .min(len - 1)
                };
                self.values.swap_remove(at)
            }
            Kind::PercentileCont => {
                let p = self.percentile.unwrap_or(0.5);
                sort_numbers(&mut self.values);
                let xs: Vec<f64> = self.values.iter().filter_map(as_f64).collect();
                let pos = p * (xs.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                let (a, b) = (xs[lo], xs[hi.min(xs.len() - 1)]);
                Value::Float(a + (b - a) * (pos - lo as f64))
            }
            Kind::Min | Kind::Max => self.best.unwrap_or(Value::Null),
        })
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn sort_numbers(values: &mut [Value]) {
    values.sort_by(|a, b| {
        as_f64(a)
            .unwrap_or(0.0)
            .total_cmp(&as_f64(b).unwrap_or(0.0))
    });
}

fn needs_numbers(name: &str, v: &Value) -> EngineError {
    EngineError::client(format!(
        "Aggregation function {name}() needs numbers, got {}.",
        v.type_name()
    ))
}

fn number(name: &str, v: &Value) -> Result<f64, EngineError> {
    as_f64(v).ok_or_else(|| needs_numbers(name, v))
}

/// The percentile of `percentileDisc`/`percentileCont`: a number from 0 to 1.
fn percentile_arg(name: &str, v: Value) -> Result<f64, EngineError> {
    match as_f64(&v) {
        Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Some(p) => Err(EngineError::client(format!(
            "Aggregation function {name}() needs a percentile between 0.0 and 1.0, got {p}."
        ))),
        None => Err(EngineError::client(format!(
            "Aggregation function {name}() needs a number as its percentile, got {}.",
            v.type_name()
        ))),
    }
}
