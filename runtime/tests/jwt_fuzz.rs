//! Seeded mutations of valid bearer tokens and random `authorization`
//! values, sent over real sockets to a method that validates tokens: the
//! service never panics or hangs, every answer is 401 / `UNAUTHENTICATED`
//! (or 400 for a request the client library could not even frame), and a
//! valid token still works afterwards.

mod jwt_support;

use std::time::Duration;

use http::uri::PathAndQuery;
use jwt_support::*;
use tonic_prost::ProstCodec;

/// How many mutated values each front door gets.
const ROUNDS: usize = 300;

/// A mutation of `token`, chosen by `rng`.
fn mutate(rng: &mut fastrand::Rng, token: &str) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    match rng.u8(0..9) {
        // Flip one bit somewhere before the last character (whose spare
        // bits a lenient base64 decoder might ignore).
        0 => {
            let at = rng.usize(0..bytes.len().saturating_sub(1).max(1));
            bytes[at] ^= 1 << rng.u8(0..7);
        }
        // Truncate.
        1 => bytes.truncate(rng.usize(0..bytes.len())),
        // Insert random bytes.
        2 => {
            let at = rng.usize(0..=bytes.len());
            let junk: Vec<u8> = (0..rng.usize(1..8)).map(|_| rng.u8(..)).collect();
            bytes.splice(at..at, junk);
        }
        // Swap two of the three parts.
        3 => {
            let parts: Vec<&str> = token.split('.').collect();
            let (a, b) = (rng.usize(0..3), rng.usize(0..3));
            let mut parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            if a != b && parts.len() == 3 {
                parts.swap(a, b);
            } else {
                parts.reverse();
            }
            bytes = parts.join(".").into_bytes();
        }
        // Drop or double the dots.
        4 => {
            bytes = if rng.bool() {
                token.replace('.', "").into_bytes()
            } else {
                token.replace('.', "..").into_bytes()
            }
        }
        // Replace a part with random base64url text.
        5 => {
            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            let part = rng.usize(0..parts.len());
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            parts[part] = (0..rng.usize(0..200))
                .map(|_| alphabet[rng.usize(0..alphabet.len())] as char)
                .collect();
            bytes = parts.join(".").into_bytes();
        }
        // Random bytes of any kind.
        6 => bytes = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect(),
        // A header naming another algorithm over the same payload and signature.
        7 => {
            use base64::Engine as _;
            let algs = ["none", "HS256", "RS512", "ES384", "PS256", "", "\u{0}"];
            let alg = algs[rng.usize(0..algs.len())];
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let rest = token.split_once('.').map(|(_, rest)| rest).unwrap_or("");
            bytes = format!("{header}.{rest}").into_bytes();
        }
        // A huge token.
        _ => bytes = token.repeat(rng.usize(2..40)).into_bytes(),
    }
    bytes
}

/// The `authorization` value of round `i`: usually `Bearer <mutation>`,
/// sometimes a mangled scheme.
fn authorization(rng: &mut fastrand::Rng, tokens: &[String]) -> Vec<u8> {
    let token = &tokens[rng.usize(0..tokens.len())];
    let mutated = mutate(rng, token);
    let mut value = match rng.u8(0..6) {
        0 => b"bearer".to_vec(),
        1 => b"Bearer\t".to_vec(),
        2 => b"Bear ".to_vec(),
        _ => b"Bearer ".to_vec(),
    };
    value.extend(mutated);
    value
}

#[tokio::test]
async fn mutated_tokens_are_refused_and_never_crash_the_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = start(dir.path()).await;
    let addr = service.local_addr();
    let tokens = vec![
        mint(Signer::Rs, &good_claims(ISSUER_RS)),
        mint(Signer::Es, &good_claims(ISSUER_ES)),
        mint(Signer::Ed, &good_claims(ISSUER_ED)),
        mint(Signer::Hs, &good_claims(ISSUER_HS)),
    ];
    let mut rng = fastrand::Rng::with_seed(0x6a77_7431);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = format!("http://{addr}/jwtauth.Guarded/Secure");
    let (mut sent, mut unframable) = (0, 0);
    for round in 0..ROUNDS {
        let value = authorization(&mut rng, &tokens);
        let Ok(header) = reqwest::header::HeaderValue::from_bytes(&value) else {
            unframable += 1;
            continue;
        };
        let response = client
            .post(&url)
            .header("authorization", header)
            .header("content-type", "application/json")
            .body(r#"{"id":"x"}"#)
            .send()
            .await
            .unwrap_or_else(|error| panic!("round {round}: no answer ({error})"));
        let status = response.status().as_u16();
        assert!(
            status == 401 || status == 400 || status == 431,
            "round {round}: {status} for {:?}",
            String::from_utf8_lossy(&value)
        );
        sent += 1;
    }
    assert!(
        sent > ROUNDS / 2,
        "most values were sent ({sent}, {unframable} unframable)"
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connects");
    for round in 0..ROUNDS {
        let value = authorization(&mut rng, &tokens);
        let Ok(text) = std::str::from_utf8(&value) else {
            continue;
        };
        let Ok(metadata) = text.parse::<tonic::metadata::AsciiMetadataValue>() else {
            continue;
        };
        let mut request = tonic::Request::new(WhoAmI::default());
        request.metadata_mut().insert("authorization", metadata);
        let mut client = tonic::client::Grpc::new(channel.clone());
        client.ready().await.expect("ready");
        let outcome = client
            .unary(
                request,
                PathAndQuery::from_static("/jwtauth.Guarded/Secure"),
                ProstCodec::<WhoAmI, Reply>::default(),
            )
            .await;
        let status = outcome.expect_err("a mutated token is refused");
        // Values past the HTTP/2 header limits may be refused by the
        // transport instead; anything else must be UNAUTHENTICATED.
        if text.len() < 8 * 1024 {
            assert_eq!(
                status.code(),
                tonic::Code::Unauthenticated,
                "round {round}: {status:?} for {text:?}"
            );
        }
    }

    // Still serving, and a valid token still gets through.
    let response = client
        .post(&url)
        .bearer_auth(&tokens[0])
        .json(&serde_json::json!({"id": "x"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    service.shutdown().await;
}
