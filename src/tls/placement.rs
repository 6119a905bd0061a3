//! Where a TLS handshake runs: on the Bolt worker that accepted the connection, or on the
//! handshake threads (`pool.rs`).
//!
//! Moving every handshake to other threads cost more than the crypto it protected against: each
//! move, and each readiness event relayed from the Bolt runtime's reactor to the pool, is a
//! cross-thread wake-up and a context switch, and the niced pool thread was preempted whenever
//! the worker woke. That was about ten context switches per handshake against nginx's one, and
//! 100–200 µs of server CPU per handshake above nginx's. The pool is only worth its hand-offs
//! when one poll of the handshake could hold a Bolt worker for long: a slow certificate key
//! (an RSA 4096 signature takes milliseconds) or a slow key exchange, which the client picks.
//!
//! So OpenSSL's ClientHello callback decides per connection, after the ClientHello is parsed
//! and before any costly work: with a cheap certificate key and a cheap key exchange the
//! handshake goes on where it is; otherwise the callback suspends the handshake
//! (`WANT_CLIENT_HELLO_CB`) and marks it, `accept.rs` moves it to the pool, and there the
//! callback sees the mark and lets it continue. The callback runs again for the second ClientHello after a HelloRetryRequest, so a
//! client cannot start cheap and switch to a costly group.

use std::sync::OnceLock;

use openssl::ex_data::Index;
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::ssl::{ClientHelloResponse, Ssl, SslContextBuilder, SslRef};

/// What each signature costs, by key kind (one core of the development machine, OpenSSL 3.0,
/// `openssl speed`): RSA 2048 0.23 ms, RSA 3072 1.5 ms, RSA 4096 3.4 ms, ECDSA P-256 15 µs,
/// P-384 0.59 ms, P-521 0.18 ms, Ed25519 25 µs, Ed448 0.14 ms. A key is cheap when one
/// signature stays near a quarter of a millisecond: about what a heavy query's poll holds a
/// worker for.
pub fn cheap_key(key: &PKeyRef<Private>) -> bool {
    match key.id() {
        Id::RSA | Id::RSA_PSS => key.bits() <= 2048,
        Id::EC => key
            .ec_key()
            .ok()
            .and_then(|ec| ec.group().curve_name())
            .is_some_and(|nid| {
                nid == openssl::nid::Nid::X9_62_PRIME256V1 || nid == openssl::nid::Nid::SECP521R1
            }),
        Id::ED25519 | Id::ED448 => true,
        _ => false,
    }
}

/// Installs the callback on a context whose certificate key is `key`.
pub fn install(builder: &mut SslContextBuilder, key: &PKeyRef<Private>) {
    let cheap = cheap_key(key);
    builder.set_client_hello_callback(move |ssl, _alert| Ok(decide(ssl, cheap)));
}

/// Lets the handshake go on, or suspends it once, marking it so that it goes on after the move.
fn decide(ssl: &mut SslRef, cheap_key: bool) -> ClientHelloResponse {
    if ssl.ex_data(moved_index()).is_some() {
        return ClientHelloResponse::SUCCESS;
    }
    let cheap_exchange = match client_hello_ext(ssl, KEY_SHARE) {
        Some(shares) => first_key_share(shares).is_some_and(cheap_group),
        // TLS 1.2 has no key shares: the server picks from the client's groups in its own order
        // of preference, which starts with X25519 and P-256.
        None => client_hello_ext(ssl, SUPPORTED_GROUPS)
            .is_some_and(|groups| group_list(groups).any(cheap_group)),
    };
    if cheap_key && cheap_exchange {
        ClientHelloResponse::SUCCESS
    } else {
        ssl.set_ex_data(moved_index(), ());
        ClientHelloResponse::RETRY
    }
}

/// TLS extension numbers (RFC 8446, section 4.2).
const SUPPORTED_GROUPS: u32 = 10;
const KEY_SHARE: u32 = 51;

/// Groups whose key exchange costs tens of microseconds: X25519, P-256, and the hybrids built
/// on them (X25519MLKEM768, SecP256r1MLKEM768), which servers without them skip.
fn cheap_group(group: u16) -> bool {
    matches!(group, 0x001d | 0x0017 | 0x11ec | 0x11eb)
}

/// GREASE values (RFC 8701), which clients send to keep servers tolerant; never a real group.
fn grease(group: u16) -> bool {
    group & 0x0f0f == 0x0a0a && group >> 8 == group & 0xff
}

/// The first real group of a `key_share` extension's body: the share OpenSSL takes when it
/// supports it. `None` when the body is malformed or holds no share (the client wants a
/// HelloRetryRequest), which sends the handshake to the pool.
fn first_key_share(body: &[u8]) -> Option<u16> {
    let list = length_prefixed(body)?;
    let mut rest = list;
    while rest.len() >= 4 {
        let group = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if rest.len() < 4 + len {
            return None;
        }
        if !grease(group) {
            return Some(group);
        }
        rest = &rest[4 + len..];
    }
    None
}

/// The groups of a `supported_groups` extension's body, GREASE left out; none when malformed.
fn group_list(body: &[u8]) -> impl Iterator<Item = u16> + '_ {
    length_prefixed(body)
        .filter(|list| list.len() % 2 == 0)
        .unwrap_or(&[])
        .chunks_exact(2)
        .map(|g| u16::from_be_bytes([g[0], g[1]]))
        .filter(|g| !grease(*g))
}

/// The bytes behind a two-byte length that must cover the rest of `body` exactly.
fn length_prefixed(body: &[u8]) -> Option<&[u8]> {
    let (len, rest) = body.split_first_chunk::<2>()?;
    (usize::from(u16::from_be_bytes(*len)) == rest.len()).then_some(rest)
}

/// One index for the "suspended once, so moved" mark, shared by every context and generation.
fn moved_index() -> Index<Ssl, ()> {
    static INDEX: OnceLock<Index<Ssl, ()>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("OpenSSL cannot allocate an ex_data index"))
}

/// The body of one ClientHello extension, if the client sent it. Only valid inside the
/// ClientHello callback; the openssl crate has no wrapper for this call.
#[allow(unsafe_code)]
fn client_hello_ext(ssl: &SslRef, ext: u32) -> Option<&[u8]> {
    use foreign_types::ForeignTypeRef;
    let mut ptr: *const u8 = std::ptr::null();
    let mut len: usize = 0;
    // SAFETY: called only from the ClientHello callback, when OpenSSL holds the parsed
    // ClientHello; on success `ptr` points at `len` bytes that live as long as that message,
    // which outlives this borrow of `ssl`.
    unsafe {
        if openssl_sys::SSL_client_hello_get0_ext(ssl.as_ptr(), ext, &mut ptr, &mut len) != 1
            || ptr.is_null()
        {
            return None;
        }
        Some(std::slice::from_raw_parts(ptr, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(entries: &[(u16, usize)]) -> Vec<u8> {
        let mut list = Vec::new();
        for &(group, len) in entries {
            list.extend_from_slice(&group.to_be_bytes());
            list.extend_from_slice(&(len as u16).to_be_bytes());
            list.extend(std::iter::repeat_n(7u8, len));
        }
        let mut body = (list.len() as u16).to_be_bytes().to_vec();
        body.extend(list);
        body
    }

    #[test]
    fn the_first_real_key_share_decides() {
        assert_eq!(first_key_share(&shares(&[(0x001d, 32)])), Some(0x001d));
        // Chrome: GREASE first, then the hybrid, then X25519.
        assert_eq!(
            first_key_share(&shares(&[(0x3a3a, 1), (0x11ec, 1216), (0x001d, 32)])),
            Some(0x11ec)
        );
        assert_eq!(first_key_share(&shares(&[(0x0018, 97)])), Some(0x0018));
        assert!(!cheap_group(0x0018)); // P-384
        assert!(!cheap_group(0x0100)); // ffdhe2048
    }

    #[test]
    fn malformed_or_empty_shares_go_to_the_pool() {
        assert_eq!(first_key_share(&shares(&[])), None);
        assert_eq!(first_key_share(&[0, 9, 0, 0x1d]), None);
        let mut short = shares(&[(0x001d, 32)]);
        short.pop();
        assert_eq!(first_key_share(&short), None);
        let mut lying = shares(&[(0x001d, 32)]);
        lying[5] = 200; // the share claims more bytes than there are
        assert_eq!(first_key_share(&lying), None);
    }

    #[test]
    fn grease_is_recognised() {
        for g in [0x0a0a, 0x1a1a, 0xfafa] {
            assert!(grease(g));
        }
        for g in [0x001d, 0x0a1a, 0x11ec] {
            assert!(!grease(g));
        }
    }

    #[test]
    fn supported_groups_skip_grease() {
        let body = [0, 6, 0x2a, 0x2a, 0x00, 0x18, 0x00, 0x17];
        assert_eq!(group_list(&body).collect::<Vec<_>>(), vec![0x0018, 0x0017]);
        assert_eq!(group_list(&[0, 3, 0, 1, 2]).count(), 0);
    }

    #[test]
    fn key_costs() {
        let rsa = |bits| PKey::from_rsa(openssl::rsa::Rsa::generate(bits).unwrap()).unwrap();
        let ec = |nid| {
            let group = openssl::ec::EcGroup::from_curve_name(nid).unwrap();
            PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
        };
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        assert!(cheap_key(&rsa(2048)));
        assert!(!cheap_key(&rsa(3072)));
        assert!(cheap_key(&ec(Nid::X9_62_PRIME256V1)));
        assert!(!cheap_key(&ec(Nid::SECP384R1)));
        assert!(cheap_key(&PKey::generate_ed25519().unwrap()));
    }
}
