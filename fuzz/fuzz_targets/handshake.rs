//! The Bolt handshake: magic and version negotiation over an in-memory stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let (mut client, mut server) = tokio::io::duplex(64);
        let input = data.to_vec();
        let writer = async move {
            use tokio::io::AsyncWriteExt;
            // Fails with a broken pipe once the server side is dropped.
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut client, &mut sink).await;
        };
        let negotiation = async move {
            let result = boltd::bolt::handshake::negotiate(&mut server, boltd::bolt::handshake::NEWEST).await;
            drop(server);
            result
        };
        let (_, result) = tokio::join!(writer, negotiation);
        if let Ok(v) = result {
            assert!(boltd::bolt::handshake::SUPPORTED.contains(&v));
        }
    });
    if let Ok(p) = <[u8; 16]>::try_from(data.get(..16).unwrap_or(&[])) {
        let _ = boltd::bolt::handshake::choose(&p, boltd::bolt::handshake::NEWEST);
    }
});
