//! Engine-level tests of the built-in functions, aggregation and ordering, written from the
//! openCypher specification: each runs real queries through [`MemoryEngine`].

use super::memory::MemoryEngine;
use super::testing::*;
use crate::value::Value;

/// Whether the query fails, when it starts or while its rows are pulled.
async fn fails(q: &str) -> bool {
    match run(q).await {
        Err(_) => true,
        Ok((_, rows)) => rows.iter().any(|r| r.is_err()),
    }
}

fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|f| Value::Float(*f)).collect())
}

async fn people() -> MemoryEngine {
    let engine = MemoryEngine::new();
    rows(
        &engine,
        "CREATE (:P {name: 'a', age: 10, team: 'x'}), (:P {name: 'b', age: 20, team: 'x'}), \
         (:P {name: 'c', age: 40, team: 'y'}), (:P {name: 'd', team: 'y'})",
    )
    .await;
    engine
}

#[tokio::test]
async fn parameters_next_to_aggregates() {
    let engine = MemoryEngine::new();
    // No rows at all: the one group still sees the parameters ($n is 3).
    assert_eq!(
        one(&engine, "MATCH (p) RETURN $n + avg(p.age) - 1").await,
        Value::Null
    );
    assert_eq!(
        one(&engine, "MATCH (p) RETURN $n + count(*)").await,
        Value::Int(3)
    );
    let engine = people().await;
    assert_eq!(
        one(&engine, "MATCH (p:P) RETURN $n + avg(p.age) AS v").await,
        Value::Float(3.0 + 70.0 / 3.0)
    );
    let r = rows(
        &engine,
        "MATCH (p:P) WITH p.team AS team, avg(p.age) AS a ORDER BY $n - avg(p.age) RETURN team",
    )
    .await;
    assert_eq!(r, vec![vec![Value::from("y")], vec![Value::from("x")]]);
}

#[tokio::test]
async fn order_by_aggregates_of_the_projection() {
    let engine = people().await;
    let r = rows(
        &engine,
        "MATCH (p:P) RETURN p.team AS team, count(*) ORDER BY count(*) DESC, team",
    )
    .await;
    assert_eq!(r.len(), 2);
    let r = rows(
        &engine,
        "MATCH (p:P) RETURN p.team AS team, max(p.age) ORDER BY max(p.age)",
    )
    .await;
    assert_eq!(r[0][0], Value::from("x"));
    // An aggregate the projection does not compute cannot be sorted on.
    let e = run_in(
        &engine,
        "MATCH (p:P) RETURN p.team, min(p.age) ORDER BY sum(p.age)",
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("ORDER BY"), "{e}");
}

#[tokio::test]
async fn aggregate_details() {
    let engine = people().await;
    let q = |s: &'static str| {
        let engine = &engine;
        async move { one(engine, s).await }
    };
    assert_eq!(
        q("MATCH (p:P) RETURN count(DISTINCT p.team)").await,
        Value::Int(2)
    );
    assert_eq!(q("MATCH (p:P) RETURN count(p.age)").await, Value::Int(3));
    assert_eq!(
        q("MATCH (p:P) RETURN collect(p.age)").await,
        Value::List(vec![10.into(), 20.into(), 40.into()])
    );
    assert_eq!(q("MATCH (p:Nobody) RETURN avg(p.age)").await, Value::Null);
    assert_eq!(q("MATCH (p:Nobody) RETURN sum(p.age)").await, Value::Int(0));
    assert_eq!(
        q("UNWIND [1, 'a', null, 2.5] AS x RETURN min(x)").await,
        Value::from("a")
    );
    assert_eq!(
        q("UNWIND [1, 'a', null, 2.5] AS x RETURN max(x)").await,
        Value::Float(2.5)
    );
    assert_eq!(
        q("UNWIND [1, 2, 3, 4] AS x RETURN [y IN collect(x) WHERE y % 2 = 0 | y * 10]").await,
        Value::List(vec![20.into(), 40.into()])
    );
    assert_eq!(
        q("UNWIND [1, 2, 3] AS x RETURN all(y IN collect(x) WHERE y > 0)").await,
        Value::Bool(true)
    );
    assert_eq!(
        q("UNWIND [1, 2, 3] AS x RETURN reduce(s = 0, y IN collect(x) | s + y)").await,
        Value::Int(6)
    );
}

#[tokio::test]
async fn percentiles_and_standard_deviations() {
    let engine = MemoryEngine::new();
    let q = |s: String| {
        let engine = &engine;
        async move { one(engine, &s).await }
    };
    let data = "UNWIND [10.0, 20.0, 30.0, null] AS x";
    for (p, disc, cont) in [
        (0.0, 10.0, 10.0),
        (0.5, 20.0, 20.0),
        (1.0, 30.0, 30.0),
        (0.25, 10.0, 15.0),
    ] {
        assert_eq!(
            q(format!("{data} RETURN percentileDisc(x, {p})")).await,
            Value::Float(disc),
            "disc {p}"
        );
        assert_eq!(
            q(format!("{data} RETURN percentileCont(x, {p})")).await,
            Value::Float(cont),
            "cont {p}"
        );
    }
    assert_eq!(
        q("UNWIND [1, 2, 3] AS x RETURN percentileDisc(x, 0.5)".into()).await,
        Value::Int(2)
    );
    assert_eq!(
        q("UNWIND [] AS x RETURN percentileCont(x, 0.5)".into()).await,
        Value::Null
    );
    for bad in ["1.5", "-0.1", "'half'"] {
        assert!(
            fails(&format!("{data} RETURN percentileCont(x, {bad})")).await,
            "{bad}"
        );
    }
    let Value::Float(sd) = q("UNWIND [2, 4, 4, 4, 5, 5, 7, 9] AS x RETURN stDevP(x)".into()).await
    else {
        panic!()
    };
    assert!((sd - 2.0).abs() < 1e-12, "{sd}");
    let Value::Float(sd) = q("UNWIND [1, 2, 3, 4] AS x RETURN stDev(x)".into()).await else {
        panic!()
    };
    assert!((sd - 1.2909944487358056).abs() < 1e-12, "{sd}");
    assert_eq!(
        q("UNWIND [5] AS x RETURN stDev(x)".into()).await,
        Value::Float(0.0)
    );
    assert!(fails("UNWIND ['a'] AS x RETURN stDev(x)").await);
}

#[tokio::test]
async fn nan_comparisons_are_false() {
    let engine = MemoryEngine::new();
    let r = rows(
        &engine,
        "WITH 0.0 / 0.0 AS nan RETURN nan > 1, nan <= 1.0, nan < nan, nan = nan, nan <> nan, \
         1 >= nan",
    )
    .await;
    let f = Value::Bool(false);
    assert_eq!(
        r,
        vec![vec![
            f.clone(),
            f.clone(),
            f.clone(),
            f.clone(),
            Value::Bool(true),
            f
        ]]
    );
    // Comparing across types is still unknown.
    assert_eq!(one(&engine, "RETURN 0.0 / 0.0 < 'a'").await, Value::Null);
}

#[tokio::test]
async fn order_by_follows_the_global_order() {
    let engine = MemoryEngine::new();
    let lists = "UNWIND [[], ['a'], ['a', 1], [1], [1, 'a'], [1, null], [null, 1], [null, 2]] AS l";
    let asc = rows(&engine, &format!("{lists} RETURN l ORDER BY l")).await;
    let desc = rows(&engine, &format!("{lists} RETURN l ORDER BY l DESC")).await;
    let mut reversed = asc.clone();
    reversed.reverse();
    assert_eq!(desc, reversed);
    assert_eq!(asc[0][0], Value::List(vec![]));
    assert_eq!(asc[4][0], Value::List(vec![1.into(), "a".into()]));
    assert_eq!(asc[5][0], Value::List(vec![1.into(), Value::Null]));
    let mixed = "UNWIND [1, 'b', null, true, [1], {a: 1}, 0.0 / 0.0, 2.5, 'a'] AS x";
    let asc = rows(&engine, &format!("{mixed} RETURN x ORDER BY x")).await;
    let kinds: Vec<&str> = asc.iter().map(|r| r[0].type_name()).collect();
    assert_eq!(
        kinds,
        ["MAP", "LIST", "STRING", "STRING", "BOOLEAN", "INTEGER", "FLOAT", "FLOAT", "NULL"]
    );
    assert!(
        matches!(asc[7][0], Value::Float(f) if f.is_nan()),
        "NaN after the numbers"
    );
    let desc = rows(&engine, &format!("{mixed} RETURN x ORDER BY x DESC")).await;
    assert_eq!(desc[0][0], Value::Null);
    assert_eq!(desc[8][0].type_name(), "MAP");
}

#[tokio::test]
async fn points_through_queries() {
    let engine = MemoryEngine::new();
    rows(
        &engine,
        "CREATE (:City {name: 'a', at: point({longitude: 15.98, latitude: 45.81})}), \
         (:City {name: 'b', at: point({x: 1, y: 2, z: 3})})",
    )
    .await;
    assert_eq!(
        one(&engine, "MATCH (c:City {name: 'a'}) RETURN c.at.latitude").await,
        Value::Float(45.81)
    );
    assert_eq!(
        one(&engine, "MATCH (c:City {name: 'a'}) RETURN c.at.crs").await,
        Value::from("wgs-84")
    );
    assert_eq!(
        one(&engine, "MATCH (c:City {name: 'b'}) RETURN c.at.srid").await,
        Value::Int(9157)
    );
    assert_eq!(
        one(
            &engine,
            "RETURN point({x: 1, y: 2}) = point({x: 1.0, y: 2.0})"
        )
        .await,
        Value::Bool(true)
    );
    assert_eq!(
        one(
            &engine,
            "RETURN point({x: 1, y: 2}) = point({x: 1, y: 2, z: 0})"
        )
        .await,
        Value::Bool(false)
    );
    assert_eq!(
        one(&engine, "RETURN point({x: 1, y: 2}) < point({x: 3, y: 4})").await,
        Value::Null
    );
    assert!(fails("RETURN point({x: 1, y: 2}).z").await);
    assert!(fails("RETURN point({x: 1, y: 2}).latitude").await);
    assert_eq!(one(&engine, "RETURN point(null)").await, Value::Null);
    let r = rows(
        &engine,
        "UNWIND [point({x: 2, y: 0}), point({x: 1, y: 5})] AS p RETURN p.x ORDER BY p",
    )
    .await;
    assert_eq!(r, vec![vec![Value::Float(1.0)], vec![Value::Float(2.0)]]);
}

#[tokio::test]
async fn functions_through_queries() {
    let engine = MemoryEngine::new();
    rows(&engine, "CREATE (:A {v: 1})-[:T {w: 2}]->(:B)").await;
    assert_eq!(
        one(&engine, "MATCH ()-[r]->() RETURN r:T").await,
        Value::Bool(true)
    );
    assert_eq!(
        one(&engine, "MATCH ()-[r]->() RETURN r:U").await,
        Value::Bool(false)
    );
    let Value::String(id) = one(&engine, "MATCH (a:A) RETURN elementId(a)").await else {
        panic!()
    };
    assert_eq!(
        one(&engine, "MATCH (a:A) RETURN toString(id(a))").await,
        Value::String(id)
    );
    assert_eq!(
        one(&engine, "MATCH (a:A) RETURN valueType(a)").await,
        Value::from("NODE NOT NULL")
    );
    assert_eq!(
        one(&engine, "RETURN valueType([1, 2])").await,
        Value::from("LIST<INTEGER NOT NULL> NOT NULL")
    );
    // Function names are case-insensitive.
    let r = rows(
        &engine,
        "RETURN ROUND(e(), 2), Log10(100), toIntegerList(['1', 'x'])",
    )
    .await;
    assert_eq!(
        r,
        vec![vec![
            Value::Float(2.72),
            Value::Float(2.0),
            Value::List(vec![Value::Int(1), Value::Null])
        ]]
    );
    let Value::String(uuid) = one(&engine, "RETURN randomUUID()").await else {
        panic!()
    };
    assert_eq!(uuid.len(), 36);
    assert_eq!(
        one(&engine, "RETURN toStringList([1, 1.5, true, null])").await,
        Value::List(vec!["1".into(), "1.5".into(), "true".into(), Value::Null])
    );
    assert_eq!(
        one(&engine, "RETURN toFloatList([1, 'x'])").await,
        Value::List(vec![Value::Float(1.0), Value::Null])
    );
    assert_eq!(
        one(&engine, "RETURN [sin(0), cos(0)]").await,
        floats(&[0.0, 1.0])
    );
    let (_, r) = run("RETURN sqrt('x')").await.unwrap();
    let e = r[0].as_ref().unwrap_err();
    assert!(
        e.message.contains("sqrt") && e.message.contains("STRING"),
        "{e}"
    );
}
