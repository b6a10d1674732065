//! The generated notebook service over a real socket: every call needs a
//! valid token, and the notebook a call reaches is its token's subject,
//! whatever owner the request names.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use plinth::auth::{JwtAlgorithm, JwtKeyConfig};
use plinth::{Config, Service};
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

#[tokio::test]
async fn each_caller_reaches_only_the_notebook_of_their_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("hs256.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("writes the secret");
    let config = Config {
        jwt_keys: vec![JwtKeyConfig {
            issuer: "internal".into(),
            algorithm: Some(JwtAlgorithm::HS256),
            kid: None,
            pem: None,
            secret_file: Some(secret),
            jwks: None,
            audience: Vec::new(),
        }],
        ..Config::default()
            .with_addr("127.0.0.1:0".parse().expect("addr"))
            .with_sqlite(dir.path().join("plinth.db"))
    };
    let service = Service::new()
        .with(NotesEntityComponent::new(Notes))
        .config(config)
        .start()
        .await
        .expect("starts");
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();
    let (alice, bob) = (token("alice"), token("bob"));

    // Alice writes into "bob"'s notebook: the note lands in hers.
    let reply: serde_json::Value = client
        .post(format!("{base}/notes"))
        .bearer_auth(&alice)
        .json(&json!({"owner": "bob", "text": "buy milk"}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(reply, json!({"owner": "alice", "notes": ["buy milk"]}));

    let list = |token: String, query: &'static str| {
        let request = client
            .get(format!("{base}/notes{query}"))
            .bearer_auth(token);
        async move {
            let reply: serde_json::Value = request
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("json");
            reply
        }
    };
    assert_eq!(
        list(bob.clone(), "").await,
        json!({"owner": "bob", "notes": []})
    );
    assert_eq!(
        list(bob, "?owner=alice").await,
        json!({"owner": "bob", "notes": []}),
        "a query parameter cannot pick another notebook"
    );
    assert_eq!(
        list(alice, "").await,
        json!({"owner": "alice", "notes": ["buy milk"]})
    );

    let refused = client
        .get(format!("{base}/notes?owner=alice"))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    service.shutdown().await;
}

#[tokio::test]
async fn without_keys_the_service_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let error = Service::new()
        .with(NotesEntityComponent::new(Notes))
        .config(config)
        .start()
        .await
        .expect_err("a method requires tokens and no key is configured");
    assert!(
        error.to_string().contains("/notes.NotesService/Add"),
        "{error}"
    );
}
