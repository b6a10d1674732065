//! Bearer-token (JWT) authentication at the front doors.
//!
//! A method whose `jwt` option asks for validation (`validate_bearer_token`,
//! Kalix's `validate: BEARER_TOKEN`) is served only to calls carrying an
//! `authorization: Bearer <token>` header (HTTP) or metadata entry (gRPC)
//! whose token verifies with a configured key of its issuer (`jwt_keys`,
//! see [`JwtKeyConfig`]), whose issuer the method accepts, which carries the
//! method's required claims and every claim a request field is filled
//! from. Anything else is `UNAUTHENTICATED` (HTTP 401 with
//! `WWW-Authenticate: Bearer`); why goes to the log, not to the caller.
//!
//! - `keys`: the configuration entries and loading them at startup.
//! - `jwt`: checking one token (signature, algorithm, `exp`/`nbf`/`iss`/`aud`;
//!   the times by the service's clock).
//! - `claims`: the validated claims handlers see, and claims into fields.

mod claims;
mod jwt;
mod keys;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

pub use claims::Claims;
pub(crate) use jwt::TokenError;
pub(crate) use keys::from_config as keys_from_config;
pub use keys::{JwtAlgorithm, JwtKeyConfig, KeyError};

use crate::clock::Clock;
use crate::component::info::{ComponentInfo, MethodInfo};
use crate::status::Status;

/// Why token validation cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A configured key could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A method requires bearer tokens but no key is configured.
    #[error(
        "{method} requires a bearer token (its `jwt` option) but no key is configured to check \
         one: set jwt_keys in plinth.yaml or PLINTH_JWT_KEYS"
    )]
    NoKeys {
        /// The method's gRPC path.
        method: &'static str,
    },
    /// A method accepts an issuer no configured key belongs to.
    #[error(
        "{method} accepts tokens of issuer {issuer:?}, but no key in jwt_keys belongs to that issuer"
    )]
    IssuerWithoutKey {
        /// The method's gRPC path.
        method: &'static str,
        /// The issuer.
        issuer: &'static str,
    },
}

/// Checks the bearer tokens of calls through the front doors.
#[derive(Debug)]
pub(crate) struct Authenticator {
    keys: Vec<keys::Key>,
    /// What `exp` and `nbf` are checked against.
    clock: Arc<dyn Clock>,
    log: RefusalLog,
}

impl Default for Authenticator {
    /// No keys (a method that validates tokens refuses every call), the
    /// system clock.
    fn default() -> Authenticator {
        Authenticator {
            keys: Vec::new(),
            clock: crate::clock::system(),
            log: RefusalLog::default(),
        }
    }
}

impl Authenticator {
    /// An authenticator with the keys of `entries`, for `components`, checking
    /// token times by `clock`: fails when a key does not load, or when a
    /// method that requires tokens could never get a valid one (no keys at
    /// all, or none of an issuer it names).
    pub(crate) fn new(
        entries: &[JwtKeyConfig],
        components: &[&'static ComponentInfo],
        clock: Arc<dyn Clock>,
    ) -> Result<Authenticator, AuthError> {
        let keys = keys::load(entries)?;
        for method in components.iter().flat_map(|c| c.methods.iter()) {
            let Some(jwt) = method.jwt.filter(|jwt| jwt.validate_bearer_token) else {
                continue;
            };
            if keys.is_empty() {
                return Err(AuthError::NoKeys {
                    method: method.path,
                });
            }
            if let Some(issuer) = jwt
                .issuers
                .iter()
                .find(|issuer| !keys.iter().any(|key| key.issuer == **issuer))
            {
                return Err(AuthError::IssuerWithoutKey {
                    method: method.path,
                    issuer,
                });
            }
        }
        Ok(Authenticator {
            keys,
            clock,
            log: RefusalLog::default(),
        })
    }

    /// Authenticate a call of `method` whose `authorization` header (or
    /// metadata entry) is `authorization`: the validated claims when the
    /// method requires a token, `None` when it does not look at tokens.
    pub(crate) fn authenticate(
        &self,
        method: &MethodInfo,
        authorization: Option<&str>,
    ) -> Result<Option<Arc<Claims>>, Status> {
        let Some(jwt) = method.jwt.filter(|jwt| jwt.validate_bearer_token) else {
            return Ok(None);
        };
        let checked = jwt::bearer(authorization)
            .and_then(|token| jwt::verify(&self.keys, token, self.clock.now()))
            .and_then(|claims| {
                let issuer = claims.issuer().unwrap_or_default();
                if !jwt.issuers.is_empty() && !jwt.issuers.contains(&issuer) {
                    return Err(TokenError::WrongIssuer(issuer.to_string()));
                }
                if let Some((claim, value)) =
                    jwt.static_claims.iter().find(|(c, v)| !claims.has(c, v))
                {
                    return Err(TokenError::StaticClaim {
                        claim: claim.to_string(),
                        value: value.to_string(),
                    });
                }
                if let Some(field) = jwt
                    .claim_fields
                    .iter()
                    .find(|f| claims.text(f.claim).is_none())
                {
                    return Err(TokenError::FieldClaim {
                        claim: field.claim.to_string(),
                        field: field.field.to_string(),
                    });
                }
                Ok(claims)
            });
        match checked {
            Ok(claims) => Ok(Some(Arc::new(claims))),
            Err(reason) => {
                self.log.refused(method.path, &reason);
                Err(unauthenticated())
            }
        }
    }

    /// `payload` with the method's claim fields set from `claims`.
    pub(crate) fn fill_fields(
        &self,
        method: &MethodInfo,
        payload: Bytes,
        claims: Option<&Claims>,
    ) -> Result<Bytes, Status> {
        let Some(jwt) = method.jwt.filter(|jwt| !jwt.claim_fields.is_empty()) else {
            return Ok(payload);
        };
        // The generator admits claim fields only on methods that validate
        // tokens; without claims nothing may reach the handler.
        let claims = claims.ok_or_else(unauthenticated)?;
        claims::inject(payload, jwt.claim_fields, claims).map_err(|error| match error {
            claims::InjectError::Missing(field) => {
                self.log.refused(
                    method.path,
                    &TokenError::FieldClaim {
                        claim: field.claim.to_string(),
                        field: field.field.to_string(),
                    },
                );
                unauthenticated()
            }
            claims::InjectError::Malformed => {
                Status::invalid_argument("invalid request message: not a complete protobuf message")
            }
        })
    }
}

/// What a refused caller is told.
fn unauthenticated() -> Status {
    Status::unauthenticated("this method requires a valid bearer token")
}

/// Logs refused tokens: at most one warning a second of real time (with how
/// many were refused since the last one); every refusal at debug level.
#[derive(Debug, Default)]
struct RefusalLog {
    last_second: AtomicU64,
    suppressed: AtomicU64,
}

impl RefusalLog {
    fn refused(&self, method: &str, reason: &TokenError) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_second.load(Ordering::Relaxed);
        if now != last
            && self
                .last_second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(method, %reason, suppressed, "bearer token refused");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(method, %reason, "bearer token refused");
        }
    }
}
