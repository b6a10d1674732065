//! TLS on the service port (rustls, with the ring provider already used by
//! the NATS client): HTTP/1.1 and HTTP/2 (so gRPC) over one listener, ALPN
//! `h2` and `http/1.1`, and optional client certificates.
//!
//! A client certificate signed by the configured CA proves a caller's name:
//! its first DNS subject alternative name is the calling service's name
//! ([`peer_service`]). Certificates from any other CA fail the handshake.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("TLS: cannot read {what} from {path}: {message}")]
    Pem {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: String,
        /// Why it failed.
        message: String,
    },
    /// rustls refused the certificate, key or client CA.
    #[error("TLS: {0}")]
    Config(String),
}

/// An acceptor for the configured certificate, key and client CA.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain =
        certificates(&config.cert).map_err(|e| pem_error("a certificate", &config.cert, e))?;
    let key = PrivateKeyDer::from_pem_file(&config.key)
        .map_err(|e| pem_error("a private key", &config.key, e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca).map_err(|e| pem_error("a CA certificate", ca, e))? {
                roots.add(cert).map_err(|error| {
                    TlsError::Config(format!("client CA {}: {error}", ca.display()))
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if config.client_cert_required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|error| TlsError::Config(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn pem_error(
    what: &'static str,
    path: &std::path::Path,
    error: impl std::fmt::Display,
) -> TlsError {
    TlsError::Pem {
        what,
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// Every certificate in a PEM file; at least one.
fn certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| error.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| error.to_string())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block".to_string());
    }
    Ok(certs)
}

/// The calling service's name: the first DNS name of the verified client
/// certificate, if the client presented one.
pub(crate) fn peer_service(connection: &rustls::ServerConnection) -> Option<String> {
    let leaf = connection.peer_certificates()?.first()?;
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    cert.valid_dns_names().next().map(str::to_owned)
}
