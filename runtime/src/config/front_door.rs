//! The front-door settings of the configuration: TLS on the port, and where
//! the admin surface is served and to whom.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{ConfigResult, Raw};

/// TLS on the service port (`PLINTH_TLS_CERT` and `PLINTH_TLS_KEY`, both or
/// neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first (`PLINTH_TLS_CERT`).
    pub cert: PathBuf,
    /// The private key, PEM (`PLINTH_TLS_KEY`).
    pub key: PathBuf,
    /// The CA that signs client certificates (`PLINTH_TLS_CLIENT_CA`): with
    /// it, a client certificate is verified and its first DNS name is the
    /// calling service's name.
    pub client_ca: Option<PathBuf>,
    /// Whether every client must present a certificate signed by
    /// `client_ca` (`PLINTH_TLS_CLIENT_AUTH`: `required`, the default with a
    /// CA, or `optional`: callers without one count as the internet).
    pub client_cert_required: bool,
}

/// Who may reach the admin surface (`/_plinth/*` and gRPC reflection) on the
/// service port (`PLINTH_ADMIN_ACCESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminAccess {
    /// Callers on this host only (`loopback`, the default).
    #[default]
    Loopback,
    /// Every caller (`any`).
    Any,
}

/// The raw front-door settings, by key.
pub(super) struct FrontDoorRaw<'a> {
    pub(super) tls_cert: Option<Raw<'a>>,
    pub(super) tls_key: Option<Raw<'a>>,
    pub(super) tls_client_ca: Option<Raw<'a>>,
    pub(super) tls_client_auth: Option<Raw<'a>>,
    pub(super) admin_addr: Option<Raw<'a>>,
    pub(super) admin_access: Option<Raw<'a>>,
}

/// The parsed front-door settings.
pub(super) struct FrontDoor {
    pub(super) tls: Option<TlsConfig>,
    pub(super) admin_addr: Option<SocketAddr>,
    pub(super) admin_access: AdminAccess,
}

/// Parse the front-door settings; a TLS setting without the certificate and
/// key it needs names its key.
pub(super) fn parse(raw: FrontDoorRaw<'_>) -> ConfigResult<FrontDoor> {
    let path = |raw: &Raw<'_>| -> ConfigResult<PathBuf> {
        let value = raw.value.trim();
        if value.is_empty() {
            return Err(raw.invalid("a file path"));
        }
        Ok(PathBuf::from(value))
    };
    let tls = match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => {
            let client_ca = raw.tls_client_ca.as_ref().map(path).transpose()?;
            let client_cert_required = match &raw.tls_client_auth {
                None => true,
                Some(auth) => match auth.value.trim() {
                    "required" => true,
                    "optional" => false,
                    _ => return Err(auth.invalid("`required` or `optional`")),
                },
            };
            if client_ca.is_none()
                && let Some(auth) = &raw.tls_client_auth
            {
                return Err(auth.invalid("client certificates need PLINTH_TLS_CLIENT_CA"));
            }
            Some(TlsConfig {
                cert: path(cert)?,
                key: path(key)?,
                client_ca,
                client_cert_required,
            })
        }
        (Some(cert), None) => return Err(cert.invalid("TLS needs PLINTH_TLS_KEY too")),
        (None, Some(key)) => return Err(key.invalid("TLS needs PLINTH_TLS_CERT too")),
        (None, None) => {
            if let Some(other) = raw.tls_client_ca.as_ref().or(raw.tls_client_auth.as_ref()) {
                return Err(
                    other.invalid("client certificates need PLINTH_TLS_CERT and PLINTH_TLS_KEY")
                );
            }
            None
        }
    };
    let admin_addr = raw
        .admin_addr
        .as_ref()
        .map(|raw| {
            raw.value
                .trim()
                .parse()
                .map_err(|_| raw.invalid("a socket address such as 127.0.0.1:9001"))
        })
        .transpose()?;
    let admin_access = match &raw.admin_access {
        None => AdminAccess::Loopback,
        Some(raw) => match raw.value.trim() {
            "loopback" => AdminAccess::Loopback,
            "any" => AdminAccess::Any,
            _ => return Err(raw.invalid("`loopback` or `any`")),
        },
    };
    Ok(FrontDoor {
        tls,
        admin_addr,
        admin_access,
    })
}
