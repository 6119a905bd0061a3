//! The statement front end (lexer and parsers), and execution of the queries that parse (first
//! rows only), on an engine with a one-second timeout and a memory limit, as the server runs it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(boltd::cypher::Statement::Query(query)) = boltd::cypher::parse(text) else {
        return;
    };
    // Sorting and DISTINCT must see every row, and a fuzzer can ask for 2^63 of them.
    let upper = text.to_ascii_uppercase();
    if upper.contains("ORDER") || upper.contains("DISTINCT") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        use boltd::engine::{MemoryEngine, Params, QueryEngine};
        let engine = MemoryEngine::with_limits(
            Some(std::time::Duration::from_secs(1)),
            Some(boltd::alloc::live_bytes() + (512 << 20)),
        );
        let mut tx = engine.begin().await.unwrap();
        if let Ok(result) = tx.run(query, Params::new()).await {
            for _ in result.rows.take(100) {}
        }
    });
});
