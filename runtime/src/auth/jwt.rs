//! Checking one bearer token against the configured keys: the key is chosen
//! by the token's issuer (and `kid`), the token's algorithm must be that
//! key's algorithm, `iss` and `aud` are checked, and `exp` (required) and
//! `nbf` are checked against the service's clock with a small leeway for
//! clock skew.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::Claims;
use super::keys::Key;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub(crate) const LEEWAY_SECS: u64 = 30;

/// The longest token looked at, in bytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused. The caller only learns that it was; the reason
/// goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The request carries no `authorization: Bearer` token.
    #[error("no bearer token")]
    Missing,
    /// The `authorization` header is not `Bearer <token>`.
    #[error("the authorization header is not a bearer token")]
    NotBearer,
    /// The token is longer than accepted.
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    /// The token is not a well-formed JWT (or names an unknown algorithm,
    /// such as `none`).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token names no issuer (`iss` as a string).
    #[error("the token has no `iss` claim")]
    NoIssuer,
    /// No configured key belongs to the token's issuer (and `kid`).
    #[error("no key is configured for issuer {issuer:?} (kid {kid:?})")]
    UnknownKey {
        /// The token's issuer.
        issuer: String,
        /// The token's key id.
        kid: Option<String>,
    },
    /// The token's algorithm is not the algorithm of its issuer's keys.
    #[error("algorithm {0} is not the algorithm of the issuer's keys")]
    WrongAlgorithm(String),
    /// The signature does not verify with any key of the issuer.
    #[error("the signature does not verify")]
    BadSignature,
    /// The token has expired (`exp`), or carries none.
    #[error("the token has expired or has no `exp`")]
    Expired,
    /// The token is not valid yet (`nbf`).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token's audience (`aud`) is not one the key accepts.
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// The token's issuer is not one the method accepts.
    #[error("issuer {0:?} is not accepted by this method")]
    WrongIssuer(String),
    /// The token lacks a claim the method requires, or has another value.
    #[error("the token lacks claim {claim:?} = {value:?}")]
    StaticClaim {
        /// The claim.
        claim: String,
        /// The required value.
        value: String,
    },
    /// The token lacks a claim that a request field is filled from.
    #[error("the token lacks claim {claim:?}, which field `{field}` is filled from")]
    FieldClaim {
        /// The claim.
        claim: String,
        /// The field.
        field: String,
    },
    /// The claims are not valid (a claim of the wrong type, bad JSON).
    #[error("invalid claims: {0}")]
    Invalid(String),
}

/// The part of the payload read before the signature is checked: which
/// issuer's keys to check it with.
#[derive(Deserialize)]
struct Unverified {
    iss: Option<Value>,
}

/// The token of an `authorization` header value: `Bearer <token>` (scheme
/// case-insensitive).
pub(crate) fn bearer(header: Option<&str>) -> Result<&str, TokenError> {
    let header = header.ok_or(TokenError::Missing)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(TokenError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token)
}

/// Check `token` with `keys` at the time `now`; its claims when it is valid.
pub(crate) fn verify(keys: &[Key], token: &str, now: SystemTime) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let header = decode_header(token).map_err(|error| TokenError::Malformed(error.to_string()))?;
    let unverified: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|error| TokenError::Malformed(error.to_string()))?;
    let Some(Value::String(issuer)) = unverified.iss else {
        return Err(TokenError::NoIssuer);
    };
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|key| key.issuer == issuer)
        .filter(|key| key.kid.is_none() || key.kid == header.kid)
        .collect();
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey {
            issuer,
            kid: header.kid,
        });
    }
    let mut outcome = Err(TokenError::WrongAlgorithm(format!("{:?}", header.alg)));
    for key in candidates
        .into_iter()
        .filter(|key| key.algorithm == header.alg)
    {
        let mut validation = Validation::new(key.algorithm);
        // The times are checked here, by the service's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&key.issuer]);
        if key.audience.is_empty() {
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "iss"]);
        } else {
            validation.set_audience(&key.audience);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        }
        match decode::<Map<String, Value>>(token, &key.decoding, &validation) {
            Ok(data) => {
                check_times(&data.claims, now)?;
                return Ok(Claims::new(data.claims));
            }
            Err(error) => {
                if checked_after_times(error.kind()) {
                    // The signature verified: a token that is also out of
                    // its time is refused for that, as jsonwebtoken orders
                    // its checks.
                    if let Ok(claims) = jsonwebtoken::dangerous::insecure_decode_claims(token) {
                        check_times(&claims, now)?;
                    }
                }
                outcome = Err(token_error(error.kind()));
                // Another key of the issuer may have signed it.
                if !matches!(error.kind(), ErrorKind::InvalidSignature) {
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// `exp` and `nbf` against `now`, with [`LEEWAY_SECS`] either way and in
/// jsonwebtoken's order: a malformed `nbf`, then expiry, then `nbf`.
fn check_times(claims: &Map<String, Value>, now: SystemTime) -> Result<(), TokenError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let nbf = match claims.get("nbf") {
        Some(nbf) => Some(
            numeric_date(nbf)
                .ok_or_else(|| token_error(&ErrorKind::InvalidClaimFormat("nbf".into())))?,
        ),
        None => None,
    };
    // Decoding already refused a token without a numeric `exp`.
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(TokenError::Expired)?;
    if exp < now.saturating_sub(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS)) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// A NumericDate claim in whole seconds, read as jsonwebtoken reads it: a
/// non-negative integer, or a non-negative number rounded.
fn numeric_date(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    number.as_u64().or_else(|| {
        let float = number.as_f64()?;
        (float.is_finite() && float >= 0.0 && float < u64::MAX as f64).then(|| float.round() as u64)
    })
}

/// Whether jsonwebtoken refuses for `kind` only after it checked the times
/// (the issuer, the audience and the subject come after them).
fn checked_after_times(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidIssuer
            | ErrorKind::InvalidAudience
            | ErrorKind::InvalidSubject
            | ErrorKind::InvalidClaimFormat(_)
    )
}

/// A `jsonwebtoken` refusal as a reason.
fn token_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => TokenError::Expired,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenError::WrongAudience,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::NoIssuer,
        ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm("(key mismatch)".into()),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            TokenError::Malformed(format!("{kind:?}"))
        }
        other => TokenError::Invalid(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(TokenError::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(TokenError::NotBearer));
        assert_eq!(bearer(Some("Bearer  ")), Err(TokenError::NotBearer));
        assert_eq!(bearer(Some("Basic dXNlcg==")), Err(TokenError::NotBearer));
        assert_eq!(bearer(Some("abc")), Err(TokenError::NotBearer));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "eyJhbGciOiJub25lIn0.e30.",
            "\u{0}.\u{1}.x",
        ] {
            assert!(verify(&[], token, SystemTime::now()).is_err(), "{token:?}");
        }
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            verify(&[], &long, SystemTime::now()),
            Err(TokenError::TooLong)
        );
    }
}
