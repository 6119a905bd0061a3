//! Reads a certificate chain and key from PEM files, validates them, and builds an `SslAcceptor`.
//!
//! Both files are read into memory before anything is parsed, so a reload never sees a file that
//! is half-read while another process rewrites it; parsing then happens on those bytes only. Every
//! check runs before the acceptor exists, so a failed build has no effect on what is served.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslOptions, SslSessionCacheMode, SslVersion};
use openssl::x509::{X509NameRef, X509Ref, X509};

use super::TlsError;

/// What a TLS configuration is made of. Reloads re-read these same paths with these same rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Refuse to load a certificate whose validity has ended (by default it is served, with an
    /// error in the log, as Memgraph does).
    pub refuse_expired: bool,
    /// Warn when the certificate expires within this many days.
    pub expiry_warning_days: u32,
}

/// What operators need to know about a served certificate; logged on load and reload and
/// returned by the status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject, e.g. `O=boltd tests, CN=localhost`.
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub sans: Vec<String>,
    /// Serial number in uppercase hex.
    pub serial: String,
    /// Uppercase hex with colons, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
    /// Validity bounds as Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// e.g. `RSA 2048`, `EC P-256`.
    pub key_type: String,
}

/// A ready acceptor and the summary of the certificate it serves.
#[derive(Clone)]
pub struct LoadedAcceptor {
    pub acceptor: Arc<SslAcceptor>,
    pub summary: CertSummary,
}

impl std::fmt::Debug for LoadedAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedAcceptor")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Builds an acceptor from `paths`. Blocking (file I/O and key parsing): call it from a blocking
/// context.
pub fn build(paths: &TlsSettings) -> Result<LoadedAcceptor, TlsError> {
    let cert_err = |reason: String| TlsError::Certificate {
        path: paths.cert.clone(),
        reason,
    };
    let key_err = |reason: String| TlsError::PrivateKey {
        path: paths.key.clone(),
        reason,
    };

    // Read both files before parsing either (see the module comment). The certificate is
    // checked first, as Memgraph does: with two bad files, the certificate error is reported.
    let cert_pem = std::fs::read(&paths.cert).map_err(|e| cert_err(e.to_string()));
    let key_pem = std::fs::read(&paths.key).map_err(|e| key_err(e.to_string()));
    let cert_pem = cert_pem?;

    let chain = parse_chain(&cert_pem).map_err(cert_err)?;
    let key_pem = key_pem?;
    let key = parse_key(&key_pem).map_err(key_err)?;
    let leaf = &chain[0];

    let cert_key = leaf.public_key().map_err(|e| {
        cert_err(format!(
            "cannot read the certificate's public key: {}",
            openssl_reason(&e)
        ))
    })?;
    if !cert_key.public_eq(&key) {
        return Err(key_err(format!(
            "key values mismatch: this key does not belong to the certificate in {}; \
             install the key that was generated with that certificate",
            paths.cert.display()
        )));
    }

    let acceptor = assemble(&chain, &key).map_err(|e| TlsError::Context {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
        reason: openssl_reason(&e),
    })?;
    let summary = summarize(leaf).map_err(|e| cert_err(openssl_reason(&e)))?;
    if paths.refuse_expired && summary.not_after < now_unix() {
        return Err(cert_err(format!(
            "the certificate expired on {}; install a renewed certificate (or drop \
             --bolt-tls-refuse-expired to serve expired certificates)",
            crate::tls::manager::format_unix(summary.not_after)
        )));
    }
    Ok(LoadedAcceptor {
        acceptor: Arc::new(acceptor),
        summary,
    })
}

/// Parses a PEM chain, leaf first. An empty or non-PEM file yields a message that says what the
/// file must contain, since "no start line" alone leaves users guessing.
fn parse_chain(pem: &[u8]) -> Result<Vec<X509>, String> {
    match X509::stack_from_pem(pem) {
        Ok(chain) if !chain.is_empty() => Ok(chain),
        Ok(_) => Err(
            "no start line (PEM routines): the file holds no PEM certificate; it must contain \
             -----BEGIN CERTIFICATE----- blocks, the server certificate first"
                .to_owned(),
        ),
        Err(e) => Err(format!(
            "{}: the file must contain PEM certificates, the server certificate first",
            openssl_reason(&e)
        )),
    }
}

/// Parses a PEM private key in PKCS#8, PKCS#1 or SEC1 form. A password callback that supplies
/// nothing is installed on purpose: OpenSSL's default would prompt on the terminal, which hangs a
/// daemon.
fn parse_key(pem: &[u8]) -> Result<PKey<Private>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("ENCRYPTED") {
        return Err(
            "the private key is encrypted with a passphrase, which boltd cannot use; \
             decrypt it (openssl pkey -in KEY -out KEY.plain) and protect the file with mode 0400"
                .to_owned(),
        );
    }
    PKey::private_key_from_pem_callback(pem, |_password| Ok(0)).map_err(|e| {
        format!(
            "{}: the file must contain one PEM private key (BEGIN PRIVATE KEY, \
             BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)",
            openssl_reason(&e)
        )
    })
}

/// Creates the acceptor: TLS 1.2 minimum with forward-secret ciphers (Mozilla's intermediate
/// profile), no renegotiation, and tolerance of peers that close without close_notify, as
/// mgclient-based clients always do.
fn assemble(chain: &[X509], key: &PKeyRef<Private>) -> Result<SslAcceptor, ErrorStack> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_options(SslOptions::IGNORE_UNEXPECTED_EOF | SslOptions::NO_RENEGOTIATION);
    builder.set_session_cache_mode(SslSessionCacheMode::SERVER);
    builder.set_session_id_context(b"boltd")?;
    builder.set_private_key(key)?;
    builder.set_certificate(&chain[0])?;
    for intermediate in &chain[1..] {
        builder.add_extra_chain_cert(intermediate.clone())?;
    }
    builder.check_private_key()?;
    Ok(builder.build())
}

/// Summarises a certificate (its key type comes from its own public key).
pub fn summarize(cert: &X509Ref) -> Result<CertSummary, ErrorStack> {
    let public_key = cert.public_key()?;
    let digest = cert.digest(MessageDigest::sha256())?;
    let serial = cert.serial_number().to_bn()?.to_hex_str()?.to_string();
    let sans = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.dnsname().map(str::to_owned).or_else(|| {
                        n.ipaddress().and_then(|ip| match ip.len() {
                            4 => {
                                let b: [u8; 4] = ip.try_into().ok()?;
                                Some(std::net::Ipv4Addr::from(b).to_string())
                            }
                            16 => {
                                let b: [u8; 16] = ip.try_into().ok()?;
                                Some(std::net::Ipv6Addr::from(b).to_string())
                            }
                            _ => None,
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertSummary {
        subject: name_to_string(cert.subject_name()),
        issuer: name_to_string(cert.issuer_name()),
        sans,
        serial,
        sha256_fingerprint: fingerprint_hex(&digest),
        not_before: unix_time(cert.not_before())?,
        not_after: unix_time(cert.not_after())?,
        key_type: key_type(&public_key),
    })
}

/// Formats digest bytes as `AB:CD:...`.
pub fn fingerprint_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}

fn name_to_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let field = entry.object().nid().short_name().unwrap_or("?");
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{field}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn unix_time(t: &Asn1TimeRef) -> Result<i64, ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(t)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn key_type<T: openssl::pkey::HasPublic>(key: &PKeyRef<T>) -> String {
    match key.id() {
        Id::RSA => format!("RSA {}", key.bits()),
        Id::EC => {
            let curve = key
                .ec_key()
                .ok()
                .and_then(|k| k.group().curve_name())
                .map(|nid| match nid {
                    Nid::X9_62_PRIME256V1 => "P-256".to_owned(),
                    Nid::SECP384R1 => "P-384".to_owned(),
                    Nid::SECP521R1 => "P-521".to_owned(),
                    other => other.short_name().unwrap_or("unknown curve").to_owned(),
                })
                .unwrap_or_else(|| "unknown curve".to_owned());
            format!("EC {curve}")
        }
        Id::ED25519 => "Ed25519".to_owned(),
        Id::ED448 => "Ed448".to_owned(),
        other => format!("key type {}", other.as_raw()),
    }
}

/// Renders an OpenSSL error stack the way Memgraph's messages show it, `reason (library)`, instead
/// of OpenSSL's long `error:1E08010C:...` form.
pub fn openssl_reason(stack: &ErrorStack) -> String {
    let parts: Vec<String> = stack
        .errors()
        .iter()
        .map(|e| match (e.reason(), e.library()) {
            (Some(reason), Some(lib)) => format!("{reason} ({lib})"),
            (Some(reason), None) => reason.to_owned(),
            _ => e.to_string(),
        })
        .collect();
    if parts.is_empty() {
        "unknown OpenSSL error".to_owned()
    } else {
        let mut unique = Vec::new();
        for p in parts {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        unique.join("; ")
    }
}

impl TlsSettings {
    /// Settings with the defaults: expired certificates served, warnings 30 days ahead.
    pub fn new(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        TlsSettings {
            cert: cert.as_ref().to_owned(),
            key: key.as_ref().to_owned(),
            refuse_expired: false,
            expiry_warning_days: 30,
        }
    }
}

impl CertSummary {
    /// Whole days until `not_after` (negative once expired), as of `now` (Unix seconds).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

/// The current Unix time in seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/ssl")
            .join(name)
    }

    fn paths(cert: &str, key: &str) -> TlsSettings {
        TlsSettings::new(fixture(cert), fixture(key))
    }

    #[test]
    fn loads_every_supported_kind() {
        for (cert, key, kind) in [
            ("server.pem", "server.key", "RSA 2048"),
            ("server2.pem", "server2.key", "RSA 2048"),
            ("rsa4096-v1.pem", "rsa4096-v1.key", "RSA 4096"),
            ("ec.pem", "ec.key", "EC P-256"),
            ("chain.pem", "chain.key", "EC P-256"),
        ] {
            let loaded = build(&paths(cert, key)).unwrap_or_else(|e| panic!("{cert}: {e}"));
            assert_eq!(loaded.summary.key_type, kind, "{cert}");
            assert_eq!(loaded.summary.sha256_fingerprint.len(), 32 * 3 - 1);
            assert!(loaded.summary.not_after > loaded.summary.not_before);
        }
    }

    #[test]
    fn summary_has_sans_and_names() {
        let s = build(&paths("server.pem", "server.key")).unwrap().summary;
        assert_eq!(s.subject, "O=boltd tests, CN=localhost");
        assert_eq!(s.issuer, "O=boltd tests, CN=boltd test CA");
        assert_eq!(s.sans, vec!["localhost".to_owned(), "127.0.0.1".to_owned()]);
    }

    #[test]
    fn errors_name_the_file_and_reason() {
        let err = build(&paths("garbage.pem", "server.key")).unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }));
        let msg = err.to_string();
        assert!(
            msg.starts_with("Couldn't load server certificate from file "),
            "{msg}"
        );
        assert!(msg.contains("garbage.pem. Error: no start line"), "{msg}");

        let msg = build(&paths("server.pem", "garbage.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("Couldn't load server private key from file "),
            "{msg}"
        );

        let msg = build(&paths("server.pem", "server2.key"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("server2.key. Error: key values mismatch"),
            "{msg}"
        );

        let msg = build(&paths("missing.pem", "server.key"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("missing.pem. Error: No such file or directory"),
            "{msg}"
        );

        // Both bad: the certificate is reported, as Memgraph does.
        let err = build(&paths("garbage.pem", "garbage.pem")).unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }));
    }

    #[test]
    fn encrypted_key_is_refused_without_prompting() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            PKey::private_key_from_pem(&std::fs::read(fixture("server.key")).unwrap()).unwrap();
        let pem = key
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"secret")
            .unwrap();
        let key_path = dir.path().join("enc.key");
        std::fs::write(&key_path, pem).unwrap();
        let err = build(&TlsSettings::new(fixture("server.pem"), &key_path)).unwrap_err();
        assert!(err.to_string().contains("encrypted"), "{err}");
    }

    #[test]
    fn fingerprint_format() {
        assert_eq!(fingerprint_hex(&[0xab, 0x01, 0xff]), "AB:01:FF");
    }
}
