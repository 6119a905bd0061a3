//! Reads a certificate chain, a key and (for client authentication) a CA bundle from PEM files,
//! validates them, and builds the OpenSSL server context.
//!
//! All files are read into memory before anything is parsed, so a reload never sees a file that
//! is half-read while another process rewrites it; parsing then happens on those bytes only. Every
//! check runs before the context exists, so a failed build has no effect on what is served.
//!
//! The context is built from `SSL_CTX_new` rather than one of the openssl crate's `SslAcceptor`
//! profiles: those set a cipher list of their own, which would override the distribution's crypto
//! policy (`/etc/ssl/openssl.cnf`). Only what the operator sets with flags is changed.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private};
use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::stack::Stack;
use openssl::x509::{X509NameRef, X509Ref, X509};

use super::TlsError;

/// Lowest TLS version accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    Tls12,
    Tls13,
}

/// Whether clients must present a certificate signed by the configured CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is requested (Memgraph's behaviour).
    None,
    /// Requested and verified if sent; clients without one are let in.
    Optional,
    /// Clients without a valid certificate cannot connect.
    Require,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Require => "require",
        }
    }
}

/// What a TLS configuration is made of. Reloads re-read these same paths with these same rules.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Refuse to load a certificate whose validity has ended (by default it is served, with an
    /// error in the log, as Memgraph does).
    pub refuse_expired: bool,
    /// Warn when the certificate expires within this many days.
    pub expiry_warning_days: u32,
    pub min_version: MinVersion,
    /// TLS 1.2 cipher list (OpenSSL syntax); None keeps the system default.
    pub ciphers: Option<String>,
    /// TLS 1.3 cipher suites (OpenSSL syntax); None keeps the system default.
    pub ciphersuites: Option<String>,
    /// PEM bundle of CAs that sign client certificates; re-read on every reload.
    pub ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// File holding the passphrase of an encrypted key; re-read on every reload.
    pub key_password_file: Option<PathBuf>,
    /// The passphrase itself (from BOLTD_BOLT_KEY_PASSWORD), used when no file is given.
    pub key_password: Option<String>,
}

/// Never print a passphrase, even in debug output.
impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("min_version", &self.min_version)
            .field("client_auth", &self.client_auth)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
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

/// A ready server context and the summary of the certificate it serves.
#[derive(Clone)]
pub struct LoadedAcceptor {
    /// Shared by every connection handed this generation; each `Ssl` holds a reference, so the
    /// context lives until the last of those connections ends.
    pub context: Arc<SslContext>,
    pub summary: CertSummary,
    /// Problems worth a warning that do not stop the load (a key readable by others).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for LoadedAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedAcceptor")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Builds a server context from `settings`. Blocking (file I/O and key parsing): call it from a
/// blocking context.
pub fn build(settings: &TlsSettings) -> Result<LoadedAcceptor, TlsError> {
    let cert_err = |reason: String| TlsError::Certificate {
        path: settings.cert.clone(),
        reason,
    };
    let key_err = |reason: String| TlsError::PrivateKey {
        path: settings.key.clone(),
        reason,
    };

    // Read every file before parsing any (see the module comment). The certificate is checked
    // first, as Memgraph does: with two bad files, the certificate error is reported.
    let cert_pem = std::fs::read(&settings.cert).map_err(|e| cert_err(e.to_string()));
    let key_pem = std::fs::read(&settings.key).map_err(|e| key_err(e.to_string()));
    let ca_pem = settings
        .ca_file
        .as_ref()
        .map(|path| std::fs::read(path).map_err(|e| ca_error(path, e.to_string())));
    let password = read_password(settings)?;
    let cert_pem = cert_pem?;

    let chain = parse_chain(&cert_pem).map_err(cert_err)?;
    let key_pem = key_pem?;
    let key = parse_key(&key_pem, password.as_deref()).map_err(key_err)?;
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
            settings.cert.display()
        )));
    }
    let cas = match (&settings.ca_file, ca_pem) {
        (Some(path), Some(pem)) => {
            let cas =
                X509::stack_from_pem(&pem?).map_err(|e| ca_error(path, openssl_reason(&e)))?;
            if cas.is_empty() {
                return Err(ca_error(
                    path,
                    "no PEM certificate in the file; it must hold the CA certificates that sign \
                     client certificates"
                        .to_owned(),
                ));
            }
            cas
        }
        _ => Vec::new(),
    };

    let summary = summarize(leaf).map_err(|e| cert_err(openssl_reason(&e)))?;
    if settings.refuse_expired && summary.not_after < now_unix() {
        return Err(cert_err(format!(
            "the certificate expired on {}; install a renewed certificate (or drop \
             --bolt-tls-refuse-expired to serve expired certificates)",
            super::time::format_unix(summary.not_after)
        )));
    }
    let mut builder =
        SslContext::builder(SslMethod::tls_server()).map_err(|e| context_error(settings, &e))?;
    apply_policy(&mut builder, settings)?;
    install_identity(&mut builder, &chain, &key, &cas, settings.client_auth)
        .map_err(|e| context_error(settings, &e))?;
    Ok(LoadedAcceptor {
        context: Arc::new(builder.build()),
        summary,
        warnings: key_permission_warning(&settings.key).into_iter().collect(),
    })
}

fn ca_error(path: &Path, reason: String) -> TlsError {
    TlsError::CaFile {
        path: path.to_owned(),
        reason,
    }
}

fn context_error(settings: &TlsSettings, e: &ErrorStack) -> TlsError {
    TlsError::Context {
        cert: settings.cert.clone(),
        key: settings.key.clone(),
        reason: openssl_reason(e),
    }
}

/// The key's passphrase: the file (re-read each time, so it can rotate with the key) or the
/// environment variable. A trailing newline, as editors leave, is not part of it.
fn read_password(settings: &TlsSettings) -> Result<Option<String>, TlsError> {
    match &settings.key_password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| TlsError::PrivateKey {
                path: settings.key.clone(),
                reason: format!(
                    "cannot read the passphrase file {} (--bolt-key-password-file): {e}",
                    path.display()
                ),
            })?;
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
        }
        None => Ok(settings.key_password.clone()),
    }
}

/// Versions, ciphers and options. The defaults leave the system's crypto policy in force; only
/// what a flag sets is changed, and a value OpenSSL rejects is named in the error.
fn apply_policy(builder: &mut SslContextBuilder, settings: &TlsSettings) -> Result<(), TlsError> {
    let policy = |what: &str, value: &str, e: ErrorStack| {
        TlsError::Policy(format!(
            "invalid {what} {value:?}: {}; see `openssl ciphers -v` for valid names",
            openssl_reason(&e)
        ))
    };
    let min = match settings.min_version {
        MinVersion::Tls12 => SslVersion::TLS1_2,
        MinVersion::Tls13 => SslVersion::TLS1_3,
    };
    builder
        .set_min_proto_version(Some(min))
        .map_err(|e| policy("--bolt-tls-min-version", "", e))?;
    if let Some(list) = &settings.ciphers {
        builder
            .set_cipher_list(list)
            .map_err(|e| policy("--bolt-tls-ciphers", list, e))?;
    }
    if let Some(suites) = &settings.ciphersuites {
        builder
            .set_ciphersuites(suites)
            .map_err(|e| policy("--bolt-tls-ciphersuites", suites, e))?;
    }
    // No renegotiation (a DoS vector), no compression (CRIME), and tolerance of peers that close
    // without close_notify, as mgclient-based clients always do.
    builder.set_options(
        SslOptions::IGNORE_UNEXPECTED_EOF
            | SslOptions::NO_RENEGOTIATION
            | SslOptions::NO_COMPRESSION
            | SslOptions::CIPHER_SERVER_PREFERENCE,
    );
    // Resumption (session IDs for TLS 1.2, tickets for both) works within one generation: the
    // cache and ticket keys belong to this context, so a reload starts them afresh.
    // Read whole TLS records (and whatever follows) per syscall instead of a 5-byte header and
    // then the body: half the reads on the Bolt request/response path.
    builder.set_read_ahead(true);
    // Idle connections give their record buffers back after a second without traffic
    // (`tls/stream.rs`), not after every record as `SSL_MODE_RELEASE_BUFFERS` would.
    builder.set_session_cache_mode(SslSessionCacheMode::SERVER);
    builder
        .set_session_id_context(b"boltd")
        .map_err(|e| policy("session id context", "boltd", e))?;
    Ok(())
}

fn install_identity(
    builder: &mut SslContextBuilder,
    chain: &[X509],
    key: &PKeyRef<Private>,
    cas: &[X509],
    client_auth: ClientAuth,
) -> Result<(), ErrorStack> {
    builder.set_private_key(key)?;
    builder.set_certificate(&chain[0])?;
    for intermediate in &chain[1..] {
        builder.add_extra_chain_cert(intermediate.clone())?;
    }
    builder.check_private_key()?;
    super::placement::install(builder, key);
    if client_auth != ClientAuth::None {
        let mut names = Stack::new()?;
        for ca in cas {
            builder.cert_store_mut().add_cert(ca.clone())?;
            names.push(ca.subject_name().to_owned()?)?;
        }
        builder.set_client_ca_list(names);
        let mode = match client_auth {
            ClientAuth::Require => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            _ => SslVerifyMode::PEER,
        };
        builder.set_verify(mode);
    }
    Ok(())
}

/// A private key readable by group or others is worth a warning (not an error: some deployments
/// share keys through a group on purpose).
fn key_permission_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the private key file {} is readable by group or others (mode {mode:04o}); \
             restrict it with chmod 0600 (or 0400) {}",
            path.display(),
            path.display()
        )
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

/// Parses a PEM private key in PKCS#8, PKCS#1 or SEC1 form, encrypted or not. The passphrase
/// callback never prompts: OpenSSL's default would ask on the terminal, which hangs a daemon.
fn parse_key(pem: &[u8], password: Option<&str>) -> Result<PKey<Private>, String> {
    let encrypted = String::from_utf8_lossy(pem).contains("ENCRYPTED");
    if encrypted && password.is_none() {
        return Err("the private key is encrypted: give its passphrase with \
             --bolt-key-password-file FILE or the BOLTD_BOLT_KEY_PASSWORD environment variable"
            .to_owned());
    }
    let parsed = PKey::private_key_from_pem_callback(pem, |buf| {
        let pass = password.unwrap_or("").as_bytes();
        if pass.len() > buf.len() {
            return Ok(0);
        }
        buf[..pass.len()].copy_from_slice(pass);
        Ok(pass.len())
    });
    parsed.map_err(|e| {
        if encrypted {
            format!(
                "wrong passphrase for the encrypted private key ({}); check \
                 --bolt-key-password-file or BOLTD_BOLT_KEY_PASSWORD",
                openssl_reason(&e)
            )
        } else {
            format!(
                "{}: the file must contain one PEM private key (BEGIN PRIVATE KEY, \
                 BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)",
                openssl_reason(&e)
            )
        }
    })
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

/// `O=..., CN=...` in the certificate's own order.
pub fn name_to_string(name: &X509NameRef) -> String {
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
    /// Settings with the defaults: system ciphers with TLS 1.2 at least, no client certificates,
    /// expired certificates served, warnings 30 days ahead.
    pub fn new(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        TlsSettings {
            cert: cert.as_ref().to_owned(),
            key: key.as_ref().to_owned(),
            refuse_expired: false,
            expiry_warning_days: 30,
            min_version: MinVersion::Tls12,
            ciphers: None,
            ciphersuites: None,
            ca_file: None,
            client_auth: ClientAuth::None,
            key_password_file: None,
            key_password: None,
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
    fn encrypted_keys_need_the_right_passphrase_and_never_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            PKey::private_key_from_pem(&std::fs::read(fixture("server.key")).unwrap()).unwrap();
        let pem = key
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"secret")
            .unwrap();
        let key_path = dir.path().join("enc.key");
        std::fs::write(&key_path, pem).unwrap();
        let mut settings = TlsSettings::new(fixture("server.pem"), &key_path);
        let err = build(&settings).unwrap_err().to_string();
        assert!(
            err.contains("encrypted") && err.contains("--bolt-key-password-file"),
            "{err}"
        );

        settings.key_password = Some("wrong".into());
        let err = build(&settings).unwrap_err().to_string();
        assert!(err.contains("wrong passphrase"), "{err}");

        settings.key_password = Some("secret".into());
        build(&settings).expect("the environment's passphrase works");

        let pass_file = dir.path().join("pass");
        std::fs::write(&pass_file, "secret\n").unwrap();
        settings.key_password = Some("wrong".into());
        settings.key_password_file = Some(pass_file);
        build(&settings).expect("the passphrase file wins over the variable");
    }

    #[test]
    fn readable_keys_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::copy(fixture("server.key"), &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = build(&TlsSettings::new(fixture("server.pem"), &key)).unwrap();
        assert!(
            loaded.warnings[0].contains("mode 0644"),
            "{:?}",
            loaded.warnings
        );
        assert!(
            loaded.warnings[0].contains("chmod 0600"),
            "{:?}",
            loaded.warnings
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = build(&TlsSettings::new(fixture("server.pem"), &key)).unwrap();
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn invalid_cipher_settings_name_the_value() {
        let mut s = TlsSettings::new(fixture("server.pem"), fixture("server.key"));
        s.ciphers = Some("NOT-A-CIPHER".into());
        let err = build(&s).unwrap_err().to_string();
        assert!(
            err.contains("--bolt-tls-ciphers") && err.contains("NOT-A-CIPHER"),
            "{err}"
        );
        let mut s = TlsSettings::new(fixture("server.pem"), fixture("server.key"));
        s.ciphersuites = Some("TLS_NOPE".into());
        let err = build(&s).unwrap_err().to_string();
        assert!(
            err.contains("--bolt-tls-ciphersuites") && err.contains("TLS_NOPE"),
            "{err}"
        );
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let mut s = TlsSettings::new(fixture("server.pem"), fixture("server.key"));
        s.client_auth = ClientAuth::Require;
        s.ca_file = Some(fixture("garbage.pem"));
        let err = build(&s).unwrap_err().to_string();
        assert!(err.contains("garbage.pem") && err.contains("CA"), "{err}");
        s.ca_file = Some(fixture("ca.pem"));
        build(&s).unwrap();
    }

    #[test]
    fn fingerprint_format() {
        assert_eq!(fingerprint_hex(&[0xab, 0x01, 0xff]), "AB:01:FF");
    }

    /// The built-in library is the pinned series and looks for openssl.cnf where
    /// `.cargo/config.toml` (or the builder's `OPENSSL_CONFIG_DIR`) says: without it, it would
    /// read no configuration and ignore the distribution's policy.
    #[cfg(feature = "vendored-openssl")]
    #[test]
    fn the_vendored_library_is_3_5_and_reads_the_configured_directory() {
        assert!(
            openssl::version::version().starts_with("OpenSSL 3.5."),
            "{}",
            openssl::version::version()
        );
        let configured = env!("OPENSSL_CONFIG_DIR");
        assert_eq!(
            openssl::version::dir(),
            format!("OPENSSLDIR: \"{configured}\"")
        );
    }
}
