//! The generated notebook service over a real socket: every call needs a
//! valid token, and the notebook a call reaches is its token's subject,
//! whatever owner the request names.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use plinth::Service;
use plinth::auth::{JwtAlgorithm, JwtKeyConfig};
use plinth::testkit::TestService;
use private_notes::Notes;
use private_notes::notes::NotesEntityComponent;
use serde_json::json;

const SECRET: &str = "a test secret of at least thirty-two bytes";

fn token(subject: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let claims = json!({"iss": "internal", "sub": subject, "exp": exp});
    let key = EncodingKey::from_secret(SECRET.as_bytes()).expect("a secret");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("signs")
}

fn notes() -> Service {
    Service::new().with(NotesEntityComponent::new(Notes))
}

#[tokio::test]
async fn each_caller_reaches_only_the_notebook_of_their_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("hs256.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("writes the secret");
    let service = TestService::builder(notes())
        .configure(move |config| {
            config.jwt_keys = vec![JwtKeyConfig {
                issuer: "internal".into(),
                algorithm: Some(JwtAlgorithm::HS256),
                kid: None,
                pem: None,
                secret_file: Some(secret),
                jwks: None,
                audience: Vec::new(),
            }];
        })
        .start()
        .await
        .expect("starts");
    let (alice, bob) = (
        format!("Bearer {}", token("alice")),
        format!("Bearer {}", token("bob")),
    );

    // Alice writes into "bob"'s notebook: the note lands in hers.
    let reply = service
        .http_with(
            "POST",
            "/notes",
            Some(json!({"owner": "bob", "text": "buy milk"})),
            &[("authorization", &alice)],
        )
        .await;
    assert_eq!(reply.body, json!({"owner": "alice", "notes": ["buy milk"]}));

    let list = |token: &str, query: &str| {
        let path = format!("/notes{query}");
        let token = token.to_owned();
        let service = &service;
        async move {
            service
                .http_with("GET", &path, None, &[("authorization", &token)])
                .await
                .body
        }
    };
    assert_eq!(list(&bob, "").await, json!({"owner": "bob", "notes": []}));
    assert_eq!(
        list(&bob, "?owner=alice").await,
        json!({"owner": "bob", "notes": []}),
        "a query parameter cannot pick another notebook"
    );
    assert_eq!(
        list(&alice, "").await,
        json!({"owner": "alice", "notes": ["buy milk"]})
    );

    let refused = service
        .http_with("GET", "/notes?owner=alice", None, &[])
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    service.shutdown().await;
}

#[tokio::test]
async fn without_keys_the_service_does_not_start() {
    let error = TestService::start(notes())
        .await
        .expect_err("a method requires tokens and no key is configured");
    assert!(
        error.to_string().contains("/notes.NotesService/Add"),
        "{error}"
    );
}
