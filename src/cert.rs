//! `boltd cert generate` and `boltd cert inspect`: make a self-signed pair for testing (as the
//! packages of Memgraph do at install time) and show what the server would report for a file.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use crate::tls::acceptor::{now_unix, openssl_reason, summarize};
use crate::tls::time::format_unix;

/// `boltd cert ...`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Write a self-signed certificate and key (cert.pem, key.pem) for testing.
    Generate(GenerateArgs),
    /// Print what SHOW BOLT_SERVER TLS INFO would show for a PEM certificate file.
    Inspect {
        /// PEM certificate (or chain: the first certificate is inspected).
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyKind {
    Rsa2048,
    Rsa4096,
    P256,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write cert.pem and key.pem into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Subject common name.
    #[arg(long, value_name = "NAME", default_value = "boltd")]
    pub cn: String,
    /// Extra subject alternative names (DNS names or IP addresses); localhost, 127.0.0.1 and ::1
    /// are always included.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// Validity in days.
    #[arg(long, value_name = "N", default_value_t = 3650)]
    pub days: u32,
    /// Key type.
    #[arg(long, value_enum, default_value = "rsa4096")]
    pub key: KeyKind,
    /// Overwrite existing cert.pem and key.pem.
    #[arg(long)]
    pub force: bool,
}

/// Runs a `cert` subcommand; the text is what to print, the error what to report.
pub fn run(command: &CertCommand) -> Result<String, String> {
    match command {
        CertCommand::Generate(args) => {
            let (cert, key) = generate(args)?;
            Ok(format!(
                "wrote {} and {} (key mode 0600)\n{}",
                cert.display(),
                key.display(),
                inspect(&cert)?
            ))
        }
        CertCommand::Inspect { file } => inspect(file),
    }
}

/// Writes a self-signed pair into `args.out`; returns the two paths.
pub fn generate(args: &GenerateArgs) -> Result<(PathBuf, PathBuf), String> {
    let cert_path = args.out.join("cert.pem");
    let key_path = args.out.join("key.pem");
    if !args.force {
        for p in [&cert_path, &key_path] {
            if p.exists() {
                return Err(format!(
                    "{} already exists; pass --force to overwrite it",
                    p.display()
                ));
            }
        }
    }
    if args.days == 0 {
        return Err("--days must be at least 1".to_owned());
    }
    let key = new_key(args.key).map_err(|e| format!("cannot generate the key: {e}"))?;
    let cert = self_signed(&key, args).map_err(|e| format!("cannot build the certificate: {e}"))?;
    let key_pem = key
        .private_key_to_pem_pkcs8()
        .map_err(|e| openssl_reason(&e))?;
    let cert_pem = cert.to_pem().map_err(|e| openssl_reason(&e))?;

    fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    write_file(&key_path, &key_pem, 0o600)?;
    write_file(&cert_path, &cert_pem, 0o644)?;
    Ok((cert_path, key_path))
}

/// Writes with the given mode from the first byte (a key must never be world-readable, not even
/// for a moment), and fixes the mode of a file that already existed.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)
}

fn new_key(kind: KeyKind) -> Result<PKey<Private>, String> {
    let key = match kind {
        KeyKind::Rsa2048 => Rsa::generate(2048).and_then(PKey::from_rsa),
        KeyKind::Rsa4096 => Rsa::generate(4096).and_then(PKey::from_rsa),
        KeyKind::P256 => EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
            .and_then(|g| EcKey::generate(&g))
            .and_then(PKey::from_ec_key),
    };
    key.map_err(|e| openssl_reason(&e))
}

fn self_signed(key: &PKey<Private>, args: &GenerateArgs) -> Result<X509, String> {
    let build = || -> Result<X509, openssl::error::ErrorStack> {
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("O", "boltd")?;
        name.append_entry_by_text("CN", &args.cn)?;
        let name = name.build();

        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(key)?;
        let now = now_unix();
        let not_before = Asn1Time::from_unix(now - 60)?;
        let not_after = Asn1Time::from_unix(now + i64::from(args.days) * 86_400)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;

        let mut san = SubjectAlternativeName::new();
        san.dns("localhost").ip("127.0.0.1").ip("::1");
        for extra in &args.sans {
            if extra.parse::<IpAddr>().is_ok() {
                san.ip(extra);
            } else {
                san.dns(extra);
            }
        }
        let san = san.build(&b.x509v3_context(None, None))?;
        b.append_extension(san)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(key, MessageDigest::sha256())?;
        Ok(b.build())
    };
    build().map_err(|e| openssl_reason(&e))
}

/// Describes the first certificate of a PEM file with the fields of `SHOW BOLT_SERVER TLS INFO`.
pub fn inspect(path: &Path) -> Result<String, String> {
    let pem = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let chain = X509::stack_from_pem(&pem)
        .map_err(|e| format!("{}: {}", path.display(), openssl_reason(&e)))?;
    let cert = chain
        .first()
        .ok_or_else(|| format!("{} holds no PEM certificate", path.display()))?;
    let s = summarize(cert).map_err(|e| openssl_reason(&e))?;
    let mut out = String::new();
    let _ = writeln!(out, "subject: {}", s.subject);
    let _ = writeln!(out, "issuer: {}", s.issuer);
    let _ = writeln!(out, "sans: {}", s.sans.join(", "));
    let _ = writeln!(out, "serial: {}", s.serial);
    let _ = writeln!(out, "not_before: {}", format_unix(s.not_before));
    let _ = writeln!(out, "not_after: {}", format_unix(s.not_after));
    let _ = writeln!(out, "days_left: {}", s.days_left(now_unix()));
    let _ = writeln!(out, "sha256_fingerprint: {}", s.sha256_fingerprint);
    let _ = writeln!(out, "key_type: {}", s.key_type);
    if chain.len() > 1 {
        let _ = writeln!(out, "chain: {} more certificate(s)", chain.len() - 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::acceptor::{build, TlsSettings};

    fn args(dir: &Path, key: KeyKind) -> GenerateArgs {
        GenerateArgs {
            out: dir.to_owned(),
            cn: "db.example".into(),
            sans: vec!["db.example".into(), "10.1.2.3".into()],
            days: 5,
            key,
            force: false,
        }
    }

    #[test]
    fn generated_pairs_load_and_are_protected() {
        for kind in [KeyKind::Rsa2048, KeyKind::P256] {
            let dir = tempfile::tempdir().unwrap();
            let (cert, key) = generate(&args(dir.path(), kind)).unwrap();
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let loaded = build(&TlsSettings::new(&cert, &key)).unwrap();
            assert_eq!(
                loaded.summary.sans,
                vec!["localhost", "127.0.0.1", "::1", "db.example", "10.1.2.3"]
            );
            assert_eq!(loaded.summary.subject, "O=boltd, CN=db.example");
            let days = loaded.summary.days_left(now_unix());
            assert!((4..=5).contains(&days), "{days}");
            let shown = inspect(&cert).unwrap();
            assert!(shown.contains(&loaded.summary.sha256_fingerprint));
        }
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), KeyKind::P256);
        let (cert, _) = generate(&a).unwrap();
        let first = fs::read(&cert).unwrap();
        let err = generate(&a).unwrap_err();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(fs::read(&cert).unwrap(), first);
        a.force = true;
        generate(&a).unwrap();
        assert_ne!(fs::read(&cert).unwrap(), first);
    }
}
