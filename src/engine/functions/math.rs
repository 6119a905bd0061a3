//! Numeric functions: `abs`, `sign`, rounding (`round` with openCypher's precision and rounding
//! modes), logarithms and exponentials, trigonometry, `e()`, `pi()` and `rand()`.

use super::{arity, pair, single, wrong, Function};
use crate::engine::EngineError;
use crate::value::Value;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "abs" => abs,
        "sign" => sign,
        "ceil" => |name, args| float1(name, args, f64::ceil),
        "floor" => |name, args| float1(name, args, f64::floor),
        "round" => round,
        "sqrt" => |name, args| float1(name, args, f64::sqrt),
        "exp" => |name, args| float1(name, args, f64::exp),
        "log" => |name, args| float1(name, args, f64::ln),
        "log10" => |name, args| float1(name, args, f64::log10),
        "sin" => |name, args| float1(name, args, f64::sin),
        "cos" => |name, args| float1(name, args, f64::cos),
        "tan" => |name, args| float1(name, args, f64::tan),
        "cot" => |name, args| float1(name, args, |x| 1.0 / x.tan()),
        "asin" => |name, args| float1(name, args, f64::asin),
        "acos" => |name, args| float1(name, args, f64::acos),
        "atan" => |name, args| float1(name, args, f64::atan),
        "degrees" => |name, args| float1(name, args, f64::to_degrees),
        "radians" => |name, args| float1(name, args, f64::to_radians),
        "haversin" => |name, args| float1(name, args, |x| (1.0 - x.cos()) / 2.0),
        "isnan" => is_nan,
        "atan2" => atan2,
        "e" => |name, args| constant(name, &args, std::f64::consts::E),
        "pi" => |name, args| constant(name, &args, std::f64::consts::PI),
        "rand" => |name, args| {
            arity(name, &args, 0, 0)?;
            Ok(Value::Float(random_unit()))
        },
        _ => return None,
    };
    Some(f)
}

/// A float in [0, 1).
fn random_unit() -> f64 {
    (super::random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A number argument as a float; `None` for null.
pub(crate) fn number(name: &str, v: &Value) -> Result<Option<f64>, EngineError> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(*i as f64)),
        Value::Float(f) => Ok(Some(*f)),
        other => Err(wrong(name, other)),
    }
}

fn float1(name: &str, args: Vec<Value>, f: fn(f64) -> f64) -> Result<Value, EngineError> {
    let v = single(name, args)?;
    Ok(number(name, &v)?.map_or(Value::Null, |x| Value::Float(f(x))))
}

fn constant(name: &str, args: &[Value], c: f64) -> Result<Value, EngineError> {
    arity(name, args, 0, 0)?;
    Ok(Value::Float(c))
}

fn abs(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| EngineError::client("Integer overflow in abs().")),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        other => Err(wrong(name, &other)),
    }
}

fn sign(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::Int(i) => Ok(Value::Int(i.signum())),
        Value::Float(f) if f.is_nan() => Ok(Value::Int(0)),
        Value::Float(f) => Ok(Value::Int(if f > 0.0 {
            1
        } else if f < 0.0 {
            -1
        } else {
            0
        })),
        other => Err(wrong(name, &other)),
    }
}

fn is_nan(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    match single(name, args)? {
        Value::Null => Ok(Value::Null),
        Value::Int(_) => Ok(Value::Bool(false)),
        Value::Float(f) => Ok(Value::Bool(f.is_nan())),
        other => Err(wrong(name, &other)),
    }
}

fn atan2(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let (y, x) = pair(name, args)?;
    match (number(name, &y)?, number(name, &x)?) {
        (Some(y), Some(x)) => Ok(Value::Float(y.atan2(x))),
        _ => Ok(Value::Null),
    }
}

/// How `round(x, precision, mode)` breaks ties and drops digits, with Java's `RoundingMode`
/// names that openCypher and Neo4j use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    Down,
    Ceiling,
    Floor,
    HalfUp,
    HalfDown,
    HalfEven,
}

impl Mode {
    fn parse(name: &str, v: &Value) -> Result<Mode, EngineError> {
        let Value::String(s) = v else {
            return Err(wrong(name, v));
        };
        Ok(match s.to_ascii_uppercase().as_str() {
            "UP" => Mode::Up,
            "DOWN" => Mode::Down,
            "CEILING" => Mode::Ceiling,
            "FLOOR" => Mode::Floor,
            "HALF_UP" => Mode::HalfUp,
            "HALF_DOWN" => Mode::HalfDown,
            "HALF_EVEN" => Mode::HalfEven,
            _ => {
                return Err(EngineError::client(format!(
                    "Function {name}() has no rounding mode '{s}'; use one of UP, DOWN, \
                     CEILING, FLOOR, HALF_UP, HALF_DOWN, HALF_EVEN."
                )))
            }
        })
    }
}

/// `round(x)` rounds half away from zero; `round(x, precision[, mode])` rounds the decimal
/// form of `x` (its shortest representation, so `round(2.675, 2)` is 2.68) to `precision`
/// digits after the point, half up unless `mode` says otherwise.
fn round(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    arity(name, &args, 1, 3)?;
    let Some(x) = number(name, &args[0])? else {
        return Ok(Value::Null);
    };
    if args.len() == 1 {
        return Ok(Value::Float(x.round()));
    }
    let precision = match &args[1] {
        Value::Null => return Ok(Value::Null),
        Value::Int(p) => *p,
        other => return Err(wrong(name, other)),
    };
    let mode = match args.get(2) {
        None => Mode::HalfUp,
        Some(Value::Null) => return Ok(Value::Null),
        Some(m) => Mode::parse(name, m)?,
    };
    let precision = i32::try_from(precision.clamp(-400, 400)).unwrap_or(0);
    Ok(Value::Float(round_decimal(x, precision, mode)))
}

/// Rounds the shortest decimal form of `x` to `precision` fractional digits.
fn round_decimal(x: f64, precision: i32, mode: Mode) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // `{:e}` gives the shortest digits that read back as `x`: "d.ddde±N".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    // Digits before the decimal point, then how many of `digits` survive.
    let keep = i64::from(exp) + 1 + i64::from(precision);
    if keep >= digits.len() as i64 {
        return x;
    }
    let negative = x < 0.0;
    let (kept, dropped): (&[u8], &[u8]) = if keep <= 0 {
        (&[], &digits)
    } else {
        digits.split_at(keep as usize)
    };
    // With `keep < 0` the first dropped digit is a leading zero.
    let first = if keep < 0 { 0 } else { dropped[0] };
    let rest_nonzero = if keep < 0 {
        true
    } else {
        dropped[1..].iter().any(|&d| d != 0)
    };
    let any_nonzero = first != 0 || rest_nonzero;
    let last_odd = kept.last().is_some_and(|d| d % 2 == 1);
    let away = match mode {
        Mode::Up => any_nonzero,
        Mode::Down => false,
        Mode::Ceiling => !negative && any_nonzero,
        Mode::Floor => negative && any_nonzero,
        Mode::HalfUp => first >= 5,
        Mode::HalfDown => first > 5 || (first == 5 && rest_nonzero),
        Mode::HalfEven => first > 5 || (first == 5 && (rest_nonzero || last_odd)),
    };
    let mut int: String = kept.iter().map(|d| char::from(b'0' + d)).collect();
    if int.is_empty() {
        int.push('0');
    }
    if away {
        // Adding one in decimal text keeps the result exact.
        int = increment(&int);
    }
    let value: f64 = format!("{int}e{}", -precision).parse().unwrap_or(0.0);
    if negative {
        -value
    } else {
        value
    }
}

/// The decimal string `digits` plus one.
fn increment(digits: &str) -> String {
    let mut out: Vec<char> = digits.chars().collect();
    for c in out.iter_mut().rev() {
        if *c == '9' {
            *c = '0';
        } else {
            *c = char::from(*c as u8 + 1);
            return out.into_iter().collect();
        }
    }
    std::iter::once('1').chain(out).collect()
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::*;

    fn f(name: &str, args: Vec<Value>) -> f64 {
        match call(name, args).unwrap() {
            Value::Float(f) => f,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn logarithms_trigonometry_and_constants() {
        assert_eq!(f("log", vec![Value::Float(std::f64::consts::E)]), 1.0);
        assert_eq!(f("log10", vec![Value::Int(1000)]), 3.0);
        assert_eq!(f("exp", vec![Value::Int(0)]), 1.0);
        assert_eq!(f("e", vec![]), std::f64::consts::E);
        assert!((f("sin", vec![Value::Float(std::f64::consts::FRAC_PI_2)]) - 1.0).abs() < 1e-12);
        assert!((f("cot", vec![Value::Float(std::f64::consts::FRAC_PI_4)]) - 1.0).abs() < 1e-12);
        assert_eq!(
            f("atan2", vec![Value::Int(1), Value::Int(1)]),
            std::f64::consts::FRAC_PI_4
        );
        assert_eq!(
            f("degrees", vec![Value::Float(std::f64::consts::PI)]),
            180.0
        );
        assert_eq!(f("radians", vec![Value::Int(180)]), std::f64::consts::PI);
        assert_eq!(f("haversin", vec![Value::Float(std::f64::consts::PI)]), 1.0);
        assert!(f("sqrt", vec![Value::Int(-1)]).is_nan());
        assert_eq!(f("log", vec![Value::Int(0)]), f64::NEG_INFINITY);
        let r = f("rand", vec![]);
        assert!((0.0..1.0).contains(&r));
        assert_eq!(call("sin", vec![Value::Null]).unwrap(), Value::Null);
        assert_eq!(
            call("atan2", vec![Value::Null, Value::Int(1)]).unwrap(),
            Value::Null
        );
        let e = call("cos", vec!["x".into()]).unwrap_err();
        assert_eq!(
            e.message,
            "Function cos() cannot take an argument of type STRING."
        );
    }

    #[test]
    fn sign_abs_and_ceil_floor() {
        assert_eq!(
            call("sign", vec![Value::Float(-0.5)]).unwrap(),
            Value::Int(-1)
        );
        assert_eq!(call("sign", vec![Value::Int(0)]).unwrap(), Value::Int(0));
        assert_eq!(call("abs", vec![Value::Int(-3)]).unwrap(), Value::Int(3));
        assert!(call("abs", vec![Value::Int(i64::MIN)]).is_err());
        assert_eq!(f("ceil", vec![Value::Float(0.1)]), 1.0);
        assert_eq!(f("floor", vec![Value::Int(-2)]), -2.0);
    }

    #[test]
    fn rounding_with_precision_and_modes() {
        let round = |x: f64, p: i64, mode: Option<&str>| {
            let mut args = vec![Value::Float(x), Value::Int(p)];
            args.extend(mode.map(Value::from));
            f("round", args)
        };
        assert_eq!(f("round", vec![Value::Float(2.5)]), 3.0);
        assert_eq!(f("round", vec![Value::Float(-2.5)]), -3.0);
        assert_eq!(round(5.123456, 3, None), 5.123);
        assert_eq!(round(5.12345, 4, None), 5.1235);
        assert_eq!(round(2.675, 2, None), 2.68);
        assert_eq!(round(-1.5, 0, None), -2.0);
        assert_eq!(round(1.25, 1, Some("HALF_EVEN")), 1.2);
        assert_eq!(round(1.35, 1, Some("half_even")), 1.4);
        assert_eq!(round(1.25, 1, Some("HALF_DOWN")), 1.2);
        assert_eq!(round(1.21, 1, Some("UP")), 1.3);
        assert_eq!(round(-1.21, 1, Some("UP")), -1.3);
        assert_eq!(round(-1.29, 1, Some("DOWN")), -1.2);
        assert_eq!(round(-1.21, 1, Some("CEILING")), -1.2);
        assert_eq!(round(-1.21, 1, Some("FLOOR")), -1.3);
        assert_eq!(round(9.99, 1, None), 10.0);
        assert_eq!(round(1234.5, -2, None), 1200.0);
        assert_eq!(round(0.004, 2, Some("UP")), 0.01);
        assert_eq!(round(0.004, 2, None), 0.0);
        assert_eq!(round(1.5, 5, None), 1.5);
        assert!(call(
            "round",
            vec![Value::Float(1.0), Value::Int(1), "SIDEWAYS".into()]
        )
        .unwrap_err()
        .message
        .contains("SIDEWAYS"));
    }
}
