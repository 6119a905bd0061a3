//! Bolt request decoding for every supported version.
#![no_main]

use boltd::bolt::handshake::SUPPORTED;
use boltd::bolt::message::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for v in SUPPORTED {
        let _ = decode(data, *v);
    }
});
