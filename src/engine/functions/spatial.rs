//! Spatial values as Memgraph stores them: `point()` in four coordinate reference systems
//! (cartesian and WGS-84, 2D and 3D, SRIDs 7203, 9157, 4326 and 4979), `point.distance()`,
//! `point.withinbbox()` and the accessors `p.x`, `p.longitude`, `p.srid`, `p.crs`, ...

use super::math::number;
use super::{arity, pair, single, wrong, Function};
use crate::engine::EngineError;
use crate::value::{Map, Value};

pub const CARTESIAN: i64 = 7203;
pub const CARTESIAN_3D: i64 = 9157;
pub const WGS84: i64 = 4326;
pub const WGS84_3D: i64 = 4979;

/// The mean Earth radius Neo4j and Memgraph compute geographic distances with, in metres.
const EARTH_RADIUS: f64 = 6_378_140.0;

pub(super) fn lookup(n: &str) -> Option<Function> {
    let f: Function = match n {
        "point" => |name, args| match single(name, args)? {
            Value::Null => Ok(Value::Null),
            Value::Map(m) => from_map(&m),
            other => Err(wrong(name, &other)),
        },
        "point.distance" | "distance" => distance,
        "point.withinbbox" => within_bbox,
        _ => return None,
    };
    Some(f)
}

/// A point's SRID and coordinates; `z` only in 3D.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    srid: i64,
    x: f64,
    y: f64,
    z: Option<f64>,
}

impl Point {
    fn of(v: &Value) -> Option<Point> {
        match *v {
            Value::Point2D { srid, x, y } => Some(Point {
                srid,
                x,
                y,
                z: None,
            }),
            Value::Point3D { srid, x, y, z } => Some(Point {
                srid,
                x,
                y,
                z: Some(z),
            }),
            _ => None,
        }
    }

    fn geographic(&self) -> bool {
        matches!(self.srid, WGS84 | WGS84_3D)
    }
}

/// The name of a coordinate reference system, as `p.crs` and `toString(p)` give it.
fn crs_name(srid: i64) -> &'static str {
    match srid {
        CARTESIAN => "cartesian",
        CARTESIAN_3D => "cartesian-3d",
        WGS84 => "wgs-84",
        WGS84_3D => "wgs-84-3d",
        _ => "unknown",
    }
}

fn bad(message: String) -> EngineError {
    EngineError::client(message)
}

/// `point({x, y[, z][, crs | srid]})` or `point({longitude, latitude[, height][, crs | srid]})`.
/// A null coordinate gives null.
fn from_map(map: &Map) -> Result<Value, EngineError> {
    let get = |key: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    };
    let coordinate = |key: &str| -> Result<Option<Option<f64>>, EngineError> {
        match get(key) {
            None => Ok(None),
            Some(v) => number("point", v).map(Some).map_err(|_| {
                bad(format!(
                    "point() needs a number for '{key}', got {}.",
                    v.type_name()
                ))
            }),
        }
    };
    let (x, y, z, geographic_keys) = match (coordinate("x")?, coordinate("longitude")?) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "point() takes either x and y or longitude and latitude, not both.".to_owned(),
            ))
        }
        (Some(x), None) => (Some(x), coordinate("y")?, coordinate("z")?, false),
        (None, Some(lon)) => (
            Some(lon),
            coordinate("latitude")?,
            coordinate("height")?,
            true,
        ),
        (None, None) => (None, None, None, false),
    };
    let (Some(x), Some(y)) = (x, y) else {
        return Err(bad(
            "point() needs x and y (or longitude and latitude) in its map.".to_owned(),
        ));
    };
    let three_d = z.is_some();
    let srid = srid_of(get("crs"), get("srid"), geographic_keys, three_d)?;
    let (Some(x), Some(y)) = (x, y) else {
        return Ok(Value::Null);
    };
    let z = match z {
        Some(None) => return Ok(Value::Null),
        Some(Some(z)) => Some(z),
        None => None,
    };
    if matches!(srid, WGS84 | WGS84_3D) && !(-90.0..=90.0).contains(&y) {
        return Err(bad(format!(
            "point(): latitude must be between -90 and 90 degrees, got {y}."
        )));
    }
    Ok(match z {
        Some(z) => Value::Point3D { srid, x, y, z },
        None => Value::Point2D { srid, x, y },
    })
}

/// The SRID a map asks for, checked against its keys and dimension.
fn srid_of(
    crs: Option<&Value>,
    srid: Option<&Value>,
    geographic_keys: bool,
    three_d: bool,
) -> Result<i64, EngineError> {
    let default = match (geographic_keys, three_d) {
        (false, false) => CARTESIAN,
        (false, true) => CARTESIAN_3D,
        (true, false) => WGS84,
        (true, true) => WGS84_3D,
    };
    let chosen = match (crs, srid) {
        (Some(_), Some(_)) => {
            return Err(bad("point() takes crs or srid, not both.".to_owned()));
        }
        (Some(Value::String(name)), None) => match name.to_ascii_lowercase().as_str() {
            "cartesian" => CARTESIAN,
            "cartesian-3d" => CARTESIAN_3D,
            "wgs-84" => WGS84,
            "wgs-84-3d" => WGS84_3D,
            _ => {
                return Err(bad(format!(
                    "point(): unknown crs '{name}'; use cartesian, cartesian-3d, wgs-84 or \
                     wgs-84-3d."
                )))
            }
        },
        (None, Some(Value::Int(s))) if [CARTESIAN, CARTESIAN_3D, WGS84, WGS84_3D].contains(s) => *s,
        (None, Some(Value::Int(s))) => {
            return Err(bad(format!(
                "point(): unknown srid {s}; use 7203, 9157, 4326 or 4979."
            )))
        }
        (Some(v), None) | (None, Some(v)) => {
            return Err(bad(format!(
                "point() needs a STRING crs or an INTEGER srid, got {}.",
                v.type_name()
            )))
        }
        (None, None) => default,
    };
    let chosen_3d = matches!(chosen, CARTESIAN_3D | WGS84_3D);
    if chosen_3d != three_d {
        return Err(bad(format!(
            "point(): the crs {} is {} but the map has {} coordinates.",
            crs_name(chosen),
            if chosen_3d { "3D" } else { "2D" },
            if three_d { "3" } else { "2" }
        )));
    }
    if geographic_keys && matches!(chosen, CARTESIAN | CARTESIAN_3D) {
        return Err(bad(format!(
            "point(): longitude and latitude need a geographic crs, not {}.",
            crs_name(chosen)
        )));
    }
    Ok(chosen)
}

/// The two points of a spatial function; `None` if either is null.
fn points(name: &str, a: &Value, b: &Value) -> Result<Option<(Point, Point)>, EngineError> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    let p = Point::of(a).ok_or_else(|| wrong(name, a))?;
    let q = Point::of(b).ok_or_else(|| wrong(name, b))?;
    Ok(Some((p, q)))
}

/// `point.distance(a, b)`: Euclidean for cartesian points, the haversine great-circle distance
/// in metres for WGS-84 (3D: at the mean height, combined with the height difference); null
/// when the points are in different coordinate systems.
fn distance(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    let (a, b) = pair(name, args)?;
    let Some((p, q)) = points(name, &a, &b)? else {
        return Ok(Value::Null);
    };
    if p.srid != q.srid {
        return Ok(Value::Null);
    }
    let dz = match (p.z, q.z) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let d = if p.geographic() {
        let height = (p.z.unwrap_or(0.0) + q.z.unwrap_or(0.0)) / 2.0;
        let (lat1, lat2) = (p.y.to_radians(), q.y.to_radians());
        let (dlat, dlon) = (lat2 - lat1, (q.x - p.x).to_radians());
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        let arc = 2.0 * h.sqrt().min(1.0).asin();
        let ground = (EARTH_RADIUS + height) * arc;
        ground.hypot(dz)
    } else {
        let (dx, dy) = (q.x - p.x, q.y - p.y);
        (dx * dx + dy * dy + dz * dz).sqrt()
    };
    Ok(Value::Float(d))
}

/// `point.withinbbox(p, lowerLeft, upperRight)`: whether `p` lies in the box (for WGS-84, a box
/// whose left edge is east of its right edge crosses the antimeridian).
fn within_bbox(name: &str, args: Vec<Value>) -> Result<Value, EngineError> {
    arity(name, &args, 3, 3)?;
    let Some((p, lower)) = points(name, &args[0], &args[1])? else {
        return Ok(Value::Null);
    };
    let Some((_, upper)) = points(name, &args[0], &args[2])? else {
        return Ok(Value::Null);
    };
    if p.srid != lower.srid || p.srid != upper.srid {
        return Ok(Value::Null);
    }
    let within = |v: f64, lo: f64, hi: f64| lo <= v && v <= hi;
    let x_ok = if p.geographic() && lower.x > upper.x {
        p.x >= lower.x || p.x <= upper.x
    } else {
        within(p.x, lower.x, upper.x)
    };
    let z_ok = match (p.z, lower.z, upper.z) {
        (Some(z), Some(lo), Some(hi)) => within(z, lo, hi),
        _ => true,
    };
    Ok(Value::Bool(x_ok && within(p.y, lower.y, upper.y) && z_ok))
}

/// `p.key` on a point.
pub fn property(v: &Value, key: &str) -> Result<Value, EngineError> {
    let Some(p) = Point::of(v) else {
        return Err(wrong("point property", v));
    };
    let unavailable = || {
        EngineError::client(format!(
            "Invalid property lookup .{key} on a {} point.",
            crs_name(p.srid)
        ))
    };
    let geo = p.geographic();
    let k = key.to_ascii_lowercase();
    Ok(match k.as_str() {
        "x" => Value::Float(p.x),
        "y" => Value::Float(p.y),
        "z" => Value::Float(p.z.ok_or_else(unavailable)?),
        "longitude" if geo => Value::Float(p.x),
        "latitude" if geo => Value::Float(p.y),
        "height" if geo => Value::Float(p.z.ok_or_else(unavailable)?),
        "srid" => Value::Int(p.srid),
        "crs" => Value::String(crs_name(p.srid).to_owned()),
        _ => return Err(unavailable()),
    })
}

/// `toString(p)`, as Neo4j writes it: `point({x: 1.0, y: 2.0, crs: 'cartesian'})`.
pub fn render(v: &Value) -> String {
    match Point::of(v) {
        Some(Point {
            srid,
            x,
            y,
            z: Some(z),
        }) => format!(
            "point({{x: {x:?}, y: {y:?}, z: {z:?}, crs: '{}'}})",
            crs_name(srid)
        ),
        Some(Point { srid, x, y, .. }) => {
            format!("point({{x: {x:?}, y: {y:?}, crs: '{}'}})", crs_name(srid))
        }
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::*;

    fn point(entries: &[(&str, Value)]) -> Result<Value, EngineError> {
        let map: Map = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        call("point", vec![Value::Map(map)])
    }

    fn f(v: f64) -> Value {
        Value::Float(v)
    }

    #[test]
    fn points_in_each_reference_system() {
        assert_eq!(
            point(&[("x", Value::Int(1)), ("y", f(2.0))]).unwrap(),
            Value::Point2D {
                srid: CARTESIAN,
                x: 1.0,
                y: 2.0
            }
        );
        assert_eq!(
            point(&[("x", f(1.0)), ("y", f(2.0)), ("z", f(3.0))]).unwrap(),
            Value::Point3D {
                srid: CARTESIAN_3D,
                x: 1.0,
                y: 2.0,
                z: 3.0
            }
        );
        assert_eq!(
            point(&[("longitude", f(13.4)), ("latitude", f(52.5))]).unwrap(),
            Value::Point2D {
                srid: WGS84,
                x: 13.4,
                y: 52.5
            }
        );
        assert_eq!(
            point(&[
                ("longitude", f(1.0)),
                ("latitude", f(2.0)),
                ("height", f(3.0))
            ])
            .unwrap(),
            Value::Point3D {
                srid: WGS84_3D,
                x: 1.0,
                y: 2.0,
                z: 3.0
            }
        );
        assert_eq!(
            point(&[("x", f(1.0)), ("y", f(2.0)), ("crs", "WGS-84".into())]).unwrap(),
            Value::Point2D {
                srid: WGS84,
                x: 1.0,
                y: 2.0
            }
        );
        assert_eq!(
            point(&[
                ("x", f(1.0)),
                ("y", f(2.0)),
                ("z", f(0.0)),
                ("srid", Value::Int(4979))
            ])
            .unwrap(),
            Value::Point3D {
                srid: WGS84_3D,
                x: 1.0,
                y: 2.0,
                z: 0.0
            }
        );
        assert_eq!(
            point(&[("x", Value::Null), ("y", f(2.0))]).unwrap(),
            Value::Null
        );
        assert_eq!(call("point", vec![Value::Null]).unwrap(), Value::Null);
    }

    #[test]
    fn bad_points_are_client_errors() {
        assert!(point(&[("x", f(1.0))]).is_err());
        assert!(point(&[("x", "a".into()), ("y", f(1.0))]).is_err());
        assert!(point(&[("x", f(1.0)), ("y", f(1.0)), ("crs", "mars".into())]).is_err());
        assert!(point(&[("x", f(1.0)), ("y", f(1.0)), ("srid", Value::Int(1))]).is_err());
        assert!(point(&[("x", f(1.0)), ("y", f(1.0)), ("crs", "cartesian-3d".into())]).is_err());
        assert!(point(&[("longitude", f(1.0)), ("latitude", f(91.0))]).is_err());
        assert!(point(&[
            ("longitude", f(1.0)),
            ("latitude", f(1.0)),
            ("crs", "cartesian".into())
        ])
        .is_err());
        assert!(call("point", vec![Value::Int(1)]).is_err());
    }

    #[test]
    fn distances() {
        let a = point(&[("x", f(0.0)), ("y", f(0.0))]).unwrap();
        let b = point(&[("x", f(3.0)), ("y", f(4.0))]).unwrap();
        assert_eq!(call("point.distance", vec![a.clone(), b]).unwrap(), f(5.0));
        let c = point(&[("x", f(1.0)), ("y", f(2.0)), ("z", f(2.0))]).unwrap();
        let o = point(&[("x", f(0.0)), ("y", f(0.0)), ("z", f(0.0))]).unwrap();
        assert_eq!(call("point.distance", vec![o, c.clone()]).unwrap(), f(3.0));
        // Different reference systems have no distance.
        assert_eq!(
            call("point.distance", vec![a.clone(), c]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("POINT.DISTANCE", vec![a, Value::Null]).unwrap(),
            Value::Null
        );
        // A quarter of the equator.
        let g1 = point(&[("longitude", f(0.0)), ("latitude", f(0.0))]).unwrap();
        let g2 = point(&[("longitude", f(90.0)), ("latitude", f(0.0))]).unwrap();
        let Value::Float(d) = call("point.distance", vec![g1, g2]).unwrap() else {
            panic!()
        };
        assert!(
            (d - EARTH_RADIUS * std::f64::consts::FRAC_PI_2).abs() < 1e-6,
            "{d}"
        );
        // Straight up: only the height differs.
        let h1 = point(&[
            ("longitude", f(5.0)),
            ("latitude", f(5.0)),
            ("height", f(0.0)),
        ])
        .unwrap();
        let h2 = point(&[
            ("longitude", f(5.0)),
            ("latitude", f(5.0)),
            ("height", f(10.0)),
        ])
        .unwrap();
        assert_eq!(call("point.distance", vec![h1, h2]).unwrap(), f(10.0));
        assert!(call("point.distance", vec![Value::Int(1), Value::Int(2)]).is_err());
    }

    #[test]
    fn accessors_bbox_and_rendering() {
        let g = point(&[("longitude", f(1.5)), ("latitude", f(2.5))]).unwrap();
        assert_eq!(property(&g, "longitude").unwrap(), f(1.5));
        assert_eq!(property(&g, "y").unwrap(), f(2.5));
        assert_eq!(property(&g, "srid").unwrap(), Value::Int(WGS84));
        assert_eq!(property(&g, "crs").unwrap(), Value::from("wgs-84"));
        assert!(property(&g, "z").is_err());
        let c = point(&[("x", f(1.0)), ("y", f(2.0))]).unwrap();
        assert!(property(&c, "latitude").is_err());
        assert_eq!(render(&c), "point({x: 1.0, y: 2.0, crs: 'cartesian'})");
        assert_eq!(
            call("toString", vec![g.clone()]).unwrap(),
            Value::from("point({x: 1.5, y: 2.5, crs: 'wgs-84'})")
        );
        let lo = point(&[("longitude", f(170.0)), ("latitude", f(0.0))]).unwrap();
        let hi = point(&[("longitude", f(-170.0)), ("latitude", f(10.0))]).unwrap();
        let inside = point(&[("longitude", f(175.0)), ("latitude", f(5.0))]).unwrap();
        assert_eq!(
            call("point.withinbbox", vec![inside, lo.clone(), hi.clone()]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call("point.withinBBox", vec![g, lo, hi]).unwrap(),
            Value::Bool(false)
        );
    }
}
