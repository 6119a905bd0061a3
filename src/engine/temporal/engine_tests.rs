//! Temporal values through whole queries on the in-memory engine: parsing of namespaced calls,
//! the clock's fixed instants, storage, ordering and errors.

use crate::engine::memory::MemoryEngine;
use crate::engine::testing::*;
use crate::engine::{Params, QueryEngine};
use crate::value::Value;

/// The first column of the first row of `q`, run in `tx`.
async fn first(tx: &mut Box<dyn crate::engine::Transaction>, q: &str) -> Value {
    let mut r = tx.run_text(q, &Params::new()).await.unwrap();
    let row = r.rows.next().unwrap().unwrap();
    row.into_iter().next().unwrap()
}

async fn text(q: &str) -> String {
    match one(&MemoryEngine::new(), q).await {
        Value::String(s) => s,
        other => panic!("{q}: {other:?}"),
    }
}

async fn error(q: &str) -> String {
    match run(q).await {
        Err(e) => e.message,
        Ok((_, rows)) => match rows.into_iter().find_map(Result::err) {
            Some(e) => e.message,
            None => panic!("{q} did not fail"),
        },
    }
}

#[tokio::test]
async fn namespaced_functions_in_any_case() {
    assert_eq!(
        text("RETURN toString(DATE.Truncate('month', date('2024-05-17')))").await,
        "2024-05-01"
    );
    assert_eq!(
        text("RETURN toString(datetime.fromEpochMillis(1000))").await,
        "1970-01-01T00:00:01Z"
    );
    assert_eq!(
        text("RETURN toString(duration.inDays(date('2024-02-01'), date('2024-03-01')))").await,
        "P29D"
    );
    assert_eq!(
        error("RETURN date.nonsense(1)").await,
        "Function 'date.nonsense' doesn't exist."
    );
}

#[tokio::test]
async fn the_transaction_instant_holds_for_every_statement_and_the_statement_instant_for_every_row()
{
    let engine = MemoryEngine::new();
    let mut tx = engine.begin().await.unwrap();
    let t1 = first(&mut tx, "RETURN datetime.transaction() AS t").await;
    let s1 = first(&mut tx, "RETURN localdatetime.statement() AS t").await;
    std::thread::sleep(std::time::Duration::from_millis(2));
    let t2 = first(&mut tx, "RETURN datetime.transaction() AS t").await;
    let s2 = first(&mut tx, "RETURN localdatetime.statement() AS t").await;
    assert_eq!(t1, t2);
    assert_ne!(s1, s2);
    let distinct = first(
        &mut tx,
        "UNWIND range(1, 2000) AS i WITH datetime.statement() AS s, datetime.realtime() AS r \
         RETURN [count(DISTINCT s), count(DISTINCT r) > 1]",
    )
    .await;
    assert_eq!(
        distinct,
        Value::List(vec![Value::Int(1), Value::Bool(true)])
    );
    // Now in a zone: the date in Kiritimati (+14:00) is never before the date at UTC.
    let ahead = first(
        &mut tx,
        "RETURN date({timezone: 'Pacific/Kiritimati'}) >= date.statement('Z')",
    )
    .await;
    assert_eq!(ahead, Value::Bool(true));
    let zoned = first(
        &mut tx,
        "RETURN datetime.transaction('Europe/Stockholm').timezone",
    )
    .await;
    assert_eq!(zoned, Value::from("Europe/Stockholm"));
}

#[tokio::test]
async fn stored_values_keep_their_components() {
    let engine = MemoryEngine::new();
    rows(
        &engine,
        "CREATE ({d: date('2024-W09-4'), t: time('235959.5-0330'), \
         dt: datetime('2024-10-27T02:30+01:00[Europe/Zagreb]'), dur: duration('P1Y2M3DT4.5S')})",
    )
    .await;
    let r = rows(
        &engine,
        "MATCH (n) RETURN n.d.month, n.d.day, n.t.offsetMinutes, n.t.millisecond, \
         n.dt.offset, n.dur.monthsOfYear, n.dur.millisecondsOfSecond, toString(n.dt)",
    )
    .await;
    assert_eq!(
        r[0],
        vec![
            Value::Int(2),
            Value::Int(29),
            Value::Int(-210),
            Value::Int(500),
            Value::from("+01:00"),
            Value::Int(2),
            Value::Int(500),
            // The second 02:30 of the night the clocks go back, kept as written.
            Value::from("2024-10-27T02:30+01:00[Europe/Zagreb]"),
        ]
    );
}

#[tokio::test]
async fn arithmetic_and_comparison() {
    assert_eq!(
        text("RETURN toString(date('2024-01-31') + duration('P1M'))").await,
        "2024-02-29"
    );
    assert_eq!(
        text("RETURN toString(localdatetime('2024-01-01T23:00') + duration({hours: 2}))").await,
        "2024-01-02T01:00"
    );
    assert_eq!(
        text("RETURN toString(-(duration('P1D') * 2 - duration('PT1S')))").await,
        "P-2DT1S"
    );
    assert_eq!(
        text("RETURN toString(duration({days: 3}) / 2)").await,
        "P1DT12H"
    );
    let r = rows(
        &MemoryEngine::new(),
        "RETURN time('10:00+01:00') < time('09:30Z'), duration('P1D') < duration('P2D'), \
         duration('PT60S') = duration('PT1M'), date('2024-01-01') = localdatetime('2024-01-01T00:00')",
    )
    .await;
    assert_eq!(
        r[0],
        vec![
            Value::Bool(true),
            Value::Null,
            Value::Bool(true),
            Value::Bool(false)
        ]
    );
    assert!(error("RETURN date('2024-01-01') + 1")
        .await
        .contains("Invalid types: DATE and INTEGER for '+'"));
}

#[tokio::test]
async fn order_by_temporals() {
    let r = rows(
        &MemoryEngine::new(),
        "UNWIND [time('12:00+06:00'), time('08:00Z'), time('09:00+02:00')] AS t \
         RETURN toString(t) ORDER BY t",
    )
    .await;
    let order: Vec<Value> = r.into_iter().map(|mut row| row.remove(0)).collect();
    assert_eq!(
        order,
        vec![
            Value::from("12:00+06:00"),
            Value::from("09:00+02:00"),
            Value::from("08:00Z")
        ]
    );
    let r = rows(
        &MemoryEngine::new(),
        "UNWIND [duration('P1M'), duration('PT1H'), duration('P1D')] AS d \
         RETURN toString(d) ORDER BY d DESC",
    )
    .await;
    let order: Vec<Value> = r.into_iter().map(|mut row| row.remove(0)).collect();
    assert_eq!(
        order,
        vec![Value::from("P1M"), Value::from("P1D"), Value::from("PT1H")]
    );
}

#[tokio::test]
async fn a_wall_clock_time_that_never_happens_moves_past_the_gap() {
    assert_eq!(
        text(
            "RETURN toString(datetime({date: date('2024-03-31'), time: localtime('02:30'), \
             timezone: 'Europe/Berlin'}))"
        )
        .await,
        "2024-03-31T03:30+02:00[Europe/Berlin]"
    );
}

#[tokio::test]
async fn bad_input_names_the_function_and_the_value() {
    let e = error("RETURN date('2015-13-01')").await;
    assert!(e.contains("date()") && e.contains("'2015-13-01'"), "{e}");
    let e = error("RETURN date({year: 2015, month: 2, week: 3})").await;
    assert!(e.contains("date()") && e.contains("mix"), "{e}");
    let e = error("RETURN localtime({hour: 1, colour: 'red'})").await;
    assert!(e.contains("localtime()") && e.contains("'colour'"), "{e}");
    let e = error("RETURN localtime({hour: 24})").await;
    assert!(e.contains("hour 24"), "{e}");
    let e = error("RETURN datetime({year: 2015, timezone: 'Mars/Olympus'})").await;
    assert!(e.contains("'Mars/Olympus'"), "{e}");
    let e = error("RETURN duration({days: 'x'})").await;
    assert!(e.contains("duration()") && e.contains("'days'"), "{e}");
    let e = error("RETURN date.truncate('fortnight', date())").await;
    assert!(
        e.contains("date.truncate()") && e.contains("'fortnight'"),
        "{e}"
    );
    let e = error("RETURN localdatetime({year: 2015, timezone: '+01:00'})").await;
    assert!(e.contains("has no time zone"), "{e}");
    assert_eq!(
        one(&MemoryEngine::new(), "RETURN date(null)").await,
        Value::Null
    );
}
