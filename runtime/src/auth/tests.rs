//! Token times are checked against the service's clock: with a clock standing
//! in 2040, a token valid by real time is refused and one valid only by the
//! clock is accepted.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::jwt::{self, TokenError};
use super::{Authenticator, JwtAlgorithm, JwtKeyConfig};
use crate::clock::{Clock, ManualClock};
use crate::component::info::{IdSource, Jwt, MethodInfo};
use crate::status::Code;

const ISSUER: &str = "https://issuer.test";
const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!";
/// 2040-01-01T00:00:00Z.
const CLOCK_SECS: u64 = 2_208_988_800;

static GUARDED: MethodInfo = MethodInfo {
    name: "Get",
    path: "/test.Guarded/Get",
    input_type: "test.Request",
    output_type: "test.Reply",
    server_streaming: false,
    client_streaming: false,
    id: IdSource::None,
    http: &[],
    subscribe: None,
    view: None,
    publish: None,
    acl: None,
    jwt: Some(Jwt {
        validate_bearer_token: true,
        issuers: &[],
        static_claims: &[],
        claim_fields: &[],
    }),
    trigger: None,
};

fn mint(claims: &Value) -> String {
    let key = EncodingKey::from_secret(SECRET).expect("a secret");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("signs")
}

/// An authenticator with one HS256 key for `audience`, checking times by `clock`.
fn authenticator(dir: &std::path::Path, clock: &ManualClock, audience: &[&str]) -> Authenticator {
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let entry = JwtKeyConfig {
        issuer: ISSUER.into(),
        algorithm: Some(JwtAlgorithm::HS256),
        kid: None,
        pem: None,
        secret_file: Some(secret),
        jwks: None,
        audience: audience.iter().map(|a| a.to_string()).collect(),
    };
    Authenticator::new(&[entry], &[], Arc::new(clock.clone())).expect("the key loads")
}

/// `claims` with `more` added.
fn with(mut claims: Value, more: Value) -> Value {
    let object = claims.as_object_mut().unwrap();
    object.extend(more.as_object().unwrap().clone());
    claims
}

/// The claims of a token for `ann`, with `times`.
fn claims(times: Value) -> Value {
    with(json!({"iss": ISSUER, "sub": "ann"}), times)
}

#[test]
fn token_times_are_checked_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(CLOCK_SECS));
    let auth = authenticator(dir.path(), &clock, &[]);
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let check = |times: Value| {
        let bearer = format!("Bearer {}", mint(&claims(times)));
        auth.authenticate(&GUARDED, Some(&bearer))
    };

    // Valid by real time, expired by the clock.
    let refused = check(json!({"exp": real + 3600})).expect_err("expired by the clock");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // Not valid yet by real time, valid by the clock.
    let accepted = check(json!({"nbf": CLOCK_SECS - 60, "exp": CLOCK_SECS + 600}))
        .expect("valid by the clock")
        .expect("the method looks at tokens");
    assert_eq!(accepted.subject(), Some("ann"));

    // Moving the clock past `exp` (and the leeway) expires the same token.
    let token = format!("Bearer {}", mint(&claims(json!({"exp": CLOCK_SECS + 600}))));
    assert!(auth.authenticate(&GUARDED, Some(&token)).is_ok());
    clock.advance(Duration::from_secs(600 + jwt::LEEWAY_SECS + 1));
    assert!(auth.authenticate(&GUARDED, Some(&token)).is_err());
}

#[test]
fn expiry_and_nbf_keep_their_leeway_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(CLOCK_SECS));
    let auth = authenticator(dir.path(), &clock, &["api"]);
    let verify = |claims: Value| jwt::verify(&auth.keys, &mint(&claims), clock.now());
    let t = CLOCK_SECS;
    let timed = |times: Value| with(json!({"iss": ISSUER, "aud": "api"}), times);

    assert!(
        verify(timed(json!({"exp": t - 10}))).is_ok(),
        "within the leeway"
    );
    assert_eq!(
        verify(timed(json!({"exp": t - 120}))),
        Err(TokenError::Expired)
    );
    assert_eq!(
        verify(timed(json!({"exp": null}))),
        Err(TokenError::Expired)
    );
    assert_eq!(verify(timed(json!({}))), Err(TokenError::Expired));
    assert!(verify(timed(json!({"exp": (t + 60) as f64 + 0.4}))).is_ok());
    assert!(verify(timed(json!({"exp": t + 60, "nbf": t + 10}))).is_ok());
    assert_eq!(
        verify(timed(json!({"exp": t + 600, "nbf": t + 300}))),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        verify(timed(json!({"exp": t + 600, "nbf": "soon"}))),
        Err(TokenError::Invalid("InvalidClaimFormat(\"nbf\")".into()))
    );
    // A wrong audience is reported only for a token within its time.
    let elsewhere = json!({"iss": ISSUER, "aud": "elsewhere"});
    assert_eq!(
        verify(with(elsewhere.clone(), json!({"exp": t - 120}))),
        Err(TokenError::Expired)
    );
    assert_eq!(
        verify(with(elsewhere, json!({"exp": t + 600}))),
        Err(TokenError::WrongAudience)
    );
}
