//! Development PKI: a scheme CA, the switch's server and client certificates and one
//! certificate per participant (client, and server for its callback endpoint), generated once into a data directory and loaded from there afterwards.
//!
//! A participant certificate's subject common name is the participant's BIC; the switch's
//! endpoint takes the participant's identity from it. These are for development and tests
//! only: a real scheme issues certificates from its own CA and points the config at them.
//!
//! Must not: be used in production (private keys are written unencrypted, mode 0600).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

/// Common name of the switch's client certificate: a bank's callback endpoint accepts pushes
/// from it only.
pub const SWITCH_CLIENT: &str = "switch";

/// Errors creating or loading the development PKI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// File system error; check the data directory's permissions and free space.
    #[error("PKI file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}

/// PEM paths of one identity (certificate and private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// The files of a development PKI in `<data>/pki/`.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The CA certificate (PEM), trusted by the switch for clients and by banks for the server.
    pub ca_cert: PathBuf,
    /// The switch's server identity.
    pub server: IdentityFiles,
}

fn write(path: &Path, data: &str, secret: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io { path: path.to_path_buf(), source };
    std::fs::write(path, data).map_err(io)?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path)
        .map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, "Instant Payment Switch (development)");
    d.push(DnType::CommonName, cn);
    d
}

impl DevPki {
    /// Load the PKI from `<data>/pki`, creating the CA and server certificate if missing and a
    /// client certificate for every name in `participants` that has none yet.
    pub fn ensure(data: &Path, participants: &[&str]) -> Result<DevPki, PkiError> {
        let dir = data.join("pki");
        std::fs::create_dir_all(&dir)
            .map_err(|source| PkiError::Io { path: dir.clone(), source })?;
        let ca_cert_path = dir.join("ca.pem");
        let ca_key_path = dir.join("ca.key");
        let (ca_cert, ca_key) = if ca_cert_path.exists() && ca_key_path.exists() {
            let key = KeyPair::from_pem(&read(&ca_key_path)?)?;
            let params = CertificateParams::from_ca_cert_pem(&read(&ca_cert_path)?)?;
            (params.self_signed(&key)?, key)
        } else {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name = dn("Development Scheme CA");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = params.self_signed(&key)?;
            write(&ca_key_path, &key.serialize_pem(), true)?;
            write(&ca_cert_path, &cert.pem(), false)?;
            (cert, key)
        };
        let server = IdentityFiles { cert: dir.join("server.pem"), key: dir.join("server.key") };
        if !server.cert.exists() || !server.key.exists() {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
            params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
            params.distinguished_name = dn("switch");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
            write(&server.key, &key.serialize_pem(), true)?;
            write(&server.cert, &cert.pem(), false)?;
        }
        let pki = DevPki { dir, ca_cert: ca_cert_path, server };
        let switch = pki.switch_client();
        if !switch.cert.exists() || !switch.key.exists() {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name = dn(SWITCH_CLIENT);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
            write(&switch.key, &key.serialize_pem(), true)?;
            write(&switch.cert, &cert.pem(), false)?;
        }
        for name in participants {
            let files = pki.participant(name);
            if files.cert.exists() && files.key.exists() {
                continue;
            }
            let key = KeyPair::generate()?;
            // Also a server certificate on this machine, for the bank's callback endpoint
            // (the switch pushes to it and checks that it names the bank).
            let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
            params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
            params.distinguished_name = dn(name);
            params.extended_key_usages =
                vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
            let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
            write(&files.key, &key.serialize_pem(), true)?;
            write(&files.cert, &cert.pem(), false)?;
        }
        Ok(pki)
    }

    /// The switch's client identity, with which it pushes to banks' callback endpoints
    /// (common name [`SWITCH_CLIENT`]).
    pub fn switch_client(&self) -> IdentityFiles {
        IdentityFiles {
            cert: self.dir.join("switch-client.pem"),
            key: self.dir.join("switch-client.key"),
        }
    }

    /// The files of a participant's client identity (whether or not they exist yet).
    pub fn participant(&self, name: &str) -> IdentityFiles {
        IdentityFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        }
    }
}
