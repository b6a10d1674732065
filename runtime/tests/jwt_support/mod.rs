//! What the bearer-token tests share: the `jwtauth.Guarded` action (statics
//! written by hand, as codegen would emit them, over
//! `tests/protos/jwt_auth.proto`), the test keys (`tests/jwt_keys/`, made
//! once with openssl; test-only), minting tokens, and a running service with
//! `jwt_keys` configured.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use plinth::auth::{JwtAlgorithm, JwtKeyConfig};
use plinth::codegen::*;
use plinth::{Config, RunningService, Service};

pub const ISSUER_RS: &str = "https://issuer-rs.test";
pub const ISSUER_ES: &str = "https://issuer-es.test";
pub const ISSUER_ED: &str = "https://issuer-ed.test";
pub const ISSUER_HS: &str = "https://issuer-hs.test";
/// Has a key, but `Secure` does not accept it.
pub const ISSUER_OTHER: &str = "https://issuer-other.test";
pub const AUDIENCE: &str = "plinth-tests";

/// `jwtauth.WhoAmI`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WhoAmI {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub tenant: String,
}

/// `jwtauth.Reply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reply {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub tenant: String,
    #[prost(string, tag = "4")]
    pub caller: String,
    #[prost(string, tag = "5")]
    pub claim_sub: String,
}

const fn method(
    name: &'static str,
    path: &'static str,
    http: &'static [HttpRule],
    jwt: Option<Jwt>,
) -> MethodInfo {
    MethodInfo {
        name,
        path,
        input_type: "jwtauth.WhoAmI",
        output_type: "jwtauth.Reply",
        server_streaming: false,
        client_streaming: false,
        id: IdSource::None,
        http,
        subscribe: None,
        view: None,
        publish: None,
        acl: None,
        jwt,
        trigger: None,
    }
}

const fn get(source: &'static str, segments: &'static [Segment]) -> HttpRule {
    HttpRule {
        method: HttpMethod::Get,
        template: PathTemplate {
            source,
            segments,
            verb: None,
        },
        body: BodySelector::None,
        response_body: None,
    }
}

const WILD: &[Segment] = &[Segment::Wildcard];

pub static METHODS: &[MethodInfo] = &[
    method("Open", "/jwtauth.Guarded/Open", &[], None),
    method(
        "Secure",
        "/jwtauth.Guarded/Secure",
        &[],
        Some(Jwt {
            validate_bearer_token: true,
            issuers: &[ISSUER_RS, ISSUER_ES, ISSUER_ED, ISSUER_HS],
            static_claims: &[("role", "admin")],
            claim_fields: &[],
        }),
    ),
    method(
        "Mine",
        "/jwtauth.Guarded/Mine",
        &[
            get(
                "/mine/{id}",
                &[
                    Segment::Literal("mine"),
                    Segment::Variable {
                        field_path: &["id"],
                        pattern: WILD,
                    },
                ],
            ),
            get(
                "/users/{subject}",
                &[
                    Segment::Literal("users"),
                    Segment::Variable {
                        field_path: &["subject"],
                        pattern: WILD,
                    },
                ],
            ),
        ],
        Some(Jwt {
            validate_bearer_token: true,
            issuers: &[],
            static_claims: &[],
            claim_fields: &[
                ClaimField {
                    claim: "sub",
                    field: "subject",
                    number: 2,
                },
                ClaimField {
                    claim: "tenant",
                    field: "tenant",
                    number: 3,
                },
            ],
        }),
    ),
];

/// The encoded descriptor set of `tests/protos/jwt_auth.proto`.
fn descriptor_set() -> &'static [u8] {
    static SET: OnceLock<Vec<u8>> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/protos");
        protox::compile(["jwt_auth.proto"], [dir])
            .expect("the test proto compiles")
            .encode_to_vec()
    })
}

fn info() -> &'static ComponentInfo {
    static INFO: OnceLock<ComponentInfo> = OnceLock::new();
    INFO.get_or_init(|| ComponentInfo {
        kind: ComponentKind::Action,
        name: "Guarded",
        service: "jwtauth.Guarded",
        type_id: "",
        state_type: "",
        event_types: &[],
        snapshot_every: 0,
        methods: METHODS,
        file_descriptor_set: descriptor_set(),
        json: &[],
    })
}

/// Echoes its input with who called and the validated `sub`.
pub struct Guarded;

impl ActionAdapter for Guarded {
    fn info(&self) -> &'static ComponentInfo {
        info()
    }

    fn call(
        &self,
        _method: usize,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        async move {
            let input: WhoAmI = decode(&payload)?;
            let claim_sub = ctx
                .jwt_claims()
                .and_then(|c| c.subject())
                .unwrap_or("")
                .to_string();
            Ok(ActionReply::Unary(encode(&Reply {
                id: input.id,
                subject: input.subject,
                tenant: input.tenant,
                caller: format!("{:?}", ctx.caller()),
                claim_sub,
            })))
        }
        .boxed()
    }
}

pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/jwt_keys")
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(keys_dir().join(name)).expect("test key")
}

fn entry(issuer: &str, algorithm: Option<JwtAlgorithm>) -> JwtKeyConfig {
    JwtKeyConfig {
        issuer: issuer.into(),
        algorithm,
        kid: None,
        pem: None,
        secret_file: None,
        jwks: None,
        audience: Vec::new(),
    }
}

/// The `jwt_keys` of the test service: RS256 (with an audience), ES256
/// (with a kid), EdDSA from a JWKS file written into `dir`, HS256, and an
/// issuer `Secure` does not accept.
pub fn key_entries(dir: &Path) -> Vec<JwtKeyConfig> {
    // The Ed25519 public key is the last 32 bytes of its DER form.
    let pem = String::from_utf8(key_file("eddsa.pub.pem")).expect("pem text");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("pem base64");
    let x = URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]);
    let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-1", "alg": "EdDSA"}]});
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).expect("writes the jwks");
    let keys = keys_dir();
    vec![
        JwtKeyConfig {
            pem: Some(keys.join("rs256.pub.pem")),
            audience: vec![AUDIENCE.into()],
            ..entry(ISSUER_RS, Some(JwtAlgorithm::RS256))
        },
        JwtKeyConfig {
            pem: Some(keys.join("es256.pub.pem")),
            kid: Some("es-1".into()),
            ..entry(ISSUER_ES, Some(JwtAlgorithm::ES256))
        },
        JwtKeyConfig {
            jwks: Some(jwks_path),
            ..entry(ISSUER_ED, None)
        },
        JwtKeyConfig {
            secret_file: Some(keys.join("hs256.secret")),
            ..entry(ISSUER_HS, Some(JwtAlgorithm::HS256))
        },
        JwtKeyConfig {
            pem: Some(keys.join("rs256.pub.pem")),
            ..entry(ISSUER_OTHER, Some(JwtAlgorithm::RS256))
        },
    ]
}

/// The service, serving on a free port with the test keys.
pub async fn start(dir: &Path) -> RunningService {
    let config = Config {
        jwt_keys: key_entries(dir),
        ..Config::default()
            .with_addr("127.0.0.1:0".parse().expect("addr"))
            .with_sqlite(dir.join("plinth.db"))
    };
    Service::new()
        .with(Registration::action(Guarded))
        .config(config)
        .start()
        .await
        .expect("the service starts")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The signing keys of the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Rs,
    Es,
    Ed,
    Hs,
    /// An RSA key no configuration knows.
    Stranger,
}

/// A token with `claims`, signed by `signer` (ES256 tokens name kid `es-1`,
/// EdDSA ones `ed-1`).
pub fn mint(signer: Signer, claims: &serde_json::Value) -> String {
    let (algorithm, key, kid) = match signer {
        Signer::Rs => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&key_file("rs256.key.pem")),
            None,
        ),
        Signer::Stranger => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&key_file("other.key.pem")),
            None,
        ),
        Signer::Es => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&key_file("es256.key.pem")),
            Some("es-1"),
        ),
        Signer::Ed => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&key_file("eddsa.key.pem")),
            Some("ed-1"),
        ),
        Signer::Hs => {
            let mut secret = key_file("hs256.secret");
            secret.pop();
            (Algorithm::HS256, EncodingKey::from_secret(&secret), None)
        }
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key.expect("signing key")).expect("signs")
}

/// An HS256 token whose HMAC key is the RS256 *public* key file: the
/// algorithm-confusion attack.
pub fn confused(claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_secret(&key_file("rs256.pub.pem")).expect("any bytes are a secret");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("signs")
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// Claims accepted by `Secure` for `issuer`.
pub fn good_claims(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": issuer,
        "sub": "alice",
        "aud": AUDIENCE,
        "role": "admin",
        "tenant": "acme",
        "exp": now() + 600,
    })
}
