//! TLS 1.3 configuration for both ends of a participant connection: the switch requires a
//! client certificate issued by the scheme CA; banks verify the switch against the same CA.
//! ALPN is `h2` only. The participant's identity is the subject common name of its
//! certificate ([`identity_of`]).
//!
//! Must not: accept TLS 1.2 or connections without a verified client certificate.

use crate::pki::IdentityFiles;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// Errors building a TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A PEM file holds no certificate or key.
    #[error("{0}: no certificate or private key found in the PEM file")]
    Empty(String),
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let io = |source| TlsError::Io { path: path.display().to_string(), source };
    let data = std::fs::read(path).map_err(io)?;
    let certs =
        rustls_pemfile::certs(&mut data.as_slice()).collect::<Result<Vec<_>, _>>().map_err(io)?;
    if certs.is_empty() {
        return Err(TlsError::Empty(path.display().to_string()));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let io = |source| TlsError::Io { path: path.display().to_string(), source };
    let data = std::fs::read(path).map_err(io)?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(io)?
        .ok_or_else(|| TlsError::Empty(path.display().to_string()))
}

fn roots(ca: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs(ca)? {
        store.add(c)?;
    }
    Ok(Arc::new(store))
}

/// The switch's server configuration: TLS 1.3, client certificates mandatory, ALPN h2.
pub fn server_config(ca: &Path, identity: &IdentityFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&identity.cert)?, key(&identity.key)?)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// A bank's client configuration: TLS 1.3, its own certificate, the scheme CA, ALPN h2.
pub fn client_config(ca: &Path, identity: &IdentityFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(certs(&identity.cert)?, key(&identity.key)?)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// The subject common name of a DER certificate: the participant's identity.
pub fn identity_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}
