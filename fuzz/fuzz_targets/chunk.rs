//! Chunk reassembly: arbitrary bytes as a stream of chunks, with a small message limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut reader = boltd::bolt::chunk::ChunkReader::new(data);
        for _ in 0..64 {
            match reader.read_message(4096).await {
                Ok(Some(m)) => assert!(m.len() <= 4096),
                _ => break,
            }
        }
    });
});
