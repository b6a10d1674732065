//! Bearer tokens over real sockets, HTTP/JSON and gRPC alike: which tokens
//! a method that validates them accepts (table-driven), claims copied into
//! request fields whatever the client sent (body, query, path, gRPC
//! message), the typed caller handlers see, and a service that requires
//! tokens without keys refusing to start.

mod jwt_support;

use http::uri::PathAndQuery;
use jwt_support::*;
use plinth::codegen::Registration;
use plinth::{Config, Service};
use serde_json::json;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

async fn channel(addr: std::net::SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

/// A gRPC call of `path` with `authorization` (if any).
async fn grpc(
    channel: &Channel,
    path: &'static str,
    request: WhoAmI,
    authorization: Option<&str>,
) -> Result<Reply, tonic::Status> {
    let mut request = tonic::Request::new(request);
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("ascii metadata"));
    }
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.expect("ready");
    client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<WhoAmI, Reply>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
}

/// An HTTP request; the status, the `WWW-Authenticate` header and the JSON body.
async fn http(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<serde_json::Value>,
    authorization: Option<&str>,
) -> (u16, Option<String>, serde_json::Value) {
    let mut request = client.request(method, url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("(not text)").to_string());
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, challenge, json)
}

#[tokio::test]
async fn only_valid_tokens_reach_a_method_that_validates_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = start(dir.path()).await;
    let addr = service.local_addr();
    let channel = channel(addr).await;
    let client = reqwest::Client::new();

    let with = |changes: serde_json::Value| {
        let mut claims = good_claims(ISSUER_RS);
        for (key, value) in changes.as_object().expect("object") {
            if value.is_null() {
                claims.as_object_mut().expect("object").remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    let bearer = |token: String| Some(format!("Bearer {token}"));
    let cases: Vec<(&str, Option<String>, bool)> = vec![
        ("no token", None, false),
        (
            "valid RS256",
            bearer(mint(Signer::Rs, &good_claims(ISSUER_RS))),
            true,
        ),
        (
            "valid ES256 with kid",
            bearer(mint(Signer::Es, &good_claims(ISSUER_ES))),
            true,
        ),
        (
            "valid EdDSA from JWKS",
            bearer(mint(Signer::Ed, &good_claims(ISSUER_ED))),
            true,
        ),
        (
            "valid HS256",
            bearer(mint(Signer::Hs, &good_claims(ISSUER_HS))),
            true,
        ),
        (
            "scheme in lower case",
            Some(format!(
                "bearer {}",
                mint(Signer::Rs, &good_claims(ISSUER_RS))
            )),
            true,
        ),
        (
            "expired within the leeway",
            bearer(mint(Signer::Rs, &with(json!({"exp": now() - 10})))),
            true,
        ),
        (
            "expired",
            bearer(mint(Signer::Rs, &with(json!({"exp": now() - 120})))),
            false,
        ),
        (
            "no exp",
            bearer(mint(Signer::Rs, &with(json!({"exp": null})))),
            false,
        ),
        (
            "not yet valid",
            bearer(mint(Signer::Rs, &with(json!({"nbf": now() + 300})))),
            false,
        ),
        (
            "issuer the method does not accept",
            bearer(mint(Signer::Rs, &with(json!({"iss": ISSUER_OTHER})))),
            false,
        ),
        (
            "issuer without a key",
            bearer(mint(
                Signer::Rs,
                &with(json!({"iss": "https://nobody.test"})),
            )),
            false,
        ),
        (
            "no issuer",
            bearer(mint(Signer::Rs, &with(json!({"iss": null})))),
            false,
        ),
        (
            "wrong audience",
            bearer(mint(Signer::Rs, &with(json!({"aud": "someone-else"})))),
            false,
        ),
        (
            "no audience",
            bearer(mint(Signer::Rs, &with(json!({"aud": null})))),
            false,
        ),
        (
            "signed by an unknown key",
            bearer(mint(Signer::Stranger, &good_claims(ISSUER_RS))),
            false,
        ),
        (
            "ES256 token claiming the RS256 issuer",
            bearer(mint(Signer::Es, &good_claims(ISSUER_RS))),
            false,
        ),
        ("alg none", bearer(unsigned(&good_claims(ISSUER_RS))), false),
        (
            "HS256 signed with the RS256 public key",
            bearer(confused(&good_claims(ISSUER_RS))),
            false,
        ),
        (
            "HS256 with the RS256 public key, HS issuer",
            bearer(confused(&good_claims(ISSUER_HS))),
            false,
        ),
        (
            "missing required static claim",
            bearer(mint(Signer::Rs, &with(json!({"role": null})))),
            false,
        ),
        (
            "wrong static claim value",
            bearer(mint(Signer::Rs, &with(json!({"role": "guest"})))),
            false,
        ),
        (
            "not a bearer scheme",
            Some("Basic YWxpY2U6c2VjcmV0".into()),
            false,
        ),
        ("empty bearer", Some("Bearer ".into()), false),
        ("garbage", bearer("not.a.token".into()), false),
    ];
    let url = format!("http://{addr}/jwtauth.Guarded/Secure");
    for (name, authorization, accepted) in &cases {
        let auth = authorization.as_deref();
        let (status, challenge, body) = http(
            &client,
            reqwest::Method::POST,
            url.clone(),
            Some(json!({"id": "x"})),
            auth,
        )
        .await;
        let reply = grpc(
            &channel,
            "/jwtauth.Guarded/Secure",
            WhoAmI {
                id: "x".into(),
                ..Default::default()
            },
            auth,
        )
        .await;
        if *accepted {
            assert_eq!(status, 200, "{name} over HTTP: {body}");
            assert_eq!(body["claimSub"], "alice", "{name}");
            assert_eq!(body["caller"], "Internet", "{name}");
            let reply = reply.unwrap_or_else(|status| panic!("{name} over gRPC: {status:?}"));
            assert_eq!(reply.claim_sub, "alice", "{name}");
        } else {
            assert_eq!(status, 401, "{name} over HTTP: {body}");
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{name}");
            assert_eq!(body["code"], 16, "{name}");
            assert_eq!(
                body["message"], "this method requires a valid bearer token",
                "{name}: the reason stays in the log"
            );
            let status = reply.expect_err(name);
            assert_eq!(
                status.code(),
                tonic::Code::Unauthenticated,
                "{name} over gRPC"
            );
        }
    }

    // A method without `jwt` ignores tokens: no claims, still an internet caller.
    let (status, _, body) = http(
        &client,
        reqwest::Method::POST,
        format!("http://{addr}/jwtauth.Guarded/Open"),
        Some(json!({"id": "x"})),
        bearer(mint(Signer::Rs, &good_claims(ISSUER_RS))).as_deref(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"], "Internet");
    assert_eq!(body["claimSub"], "", "no claims without validation: {body}");
    service.shutdown().await;
}

#[tokio::test]
async fn claims_replace_what_the_client_put_in_their_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = start(dir.path()).await;
    let addr = service.local_addr();
    let channel = channel(addr).await;
    let client = reqwest::Client::new();
    let mut claims = good_claims(ISSUER_HS);
    claims["sub"] = "alice".into();
    claims["tenant"] = "acme".into();
    let authorization = format!("Bearer {}", mint(Signer::Hs, &claims));
    let auth = Some(authorization.as_str());

    let requests = [
        (
            "body",
            reqwest::Method::POST,
            format!("http://{addr}/jwtauth.Guarded/Mine"),
            Some(json!({"id": "m1", "subject": "root", "tenant": "evil"})),
        ),
        (
            "query",
            reqwest::Method::GET,
            format!("http://{addr}/mine/m1?subject=root&tenant=evil"),
            None,
        ),
        (
            "path",
            reqwest::Method::GET,
            format!("http://{addr}/users/root?id=m1&tenant=evil"),
            None,
        ),
        (
            "nothing sent",
            reqwest::Method::POST,
            format!("http://{addr}/jwtauth.Guarded/Mine"),
            Some(json!({"id": "m1"})),
        ),
    ];
    for (name, method, url, body) in requests {
        let (status, _, reply) = http(&client, method, url, body, auth).await;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(reply["id"], "m1", "{name}");
        assert_eq!(reply["subject"], "alice", "{name}: the claim wins");
        assert_eq!(reply["tenant"], "acme", "{name}: the claim wins");
    }

    let forged = WhoAmI {
        id: "m1".into(),
        subject: "root".into(),
        tenant: "evil".into(),
    };
    let reply = grpc(&channel, "/jwtauth.Guarded/Mine", forged.clone(), auth)
        .await
        .expect("served");
    assert_eq!(
        (
            reply.id.as_str(),
            reply.subject.as_str(),
            reply.tenant.as_str()
        ),
        ("m1", "alice", "acme")
    );

    // A message whose last field runs past its end would swallow the
    // appended claims, leaving the forged subject in place: refused.
    let mut swallowing = prost::Message::encode_to_vec(&forged);
    swallowing.extend_from_slice(&[0x0a, 7]);
    let mut request = tonic::Request::new(bytes::Bytes::from(swallowing));
    request
        .metadata_mut()
        .insert("authorization", authorization.parse().expect("ascii"));
    let mut raw = tonic::client::Grpc::new(channel.clone());
    raw.ready().await.expect("ready");
    let status = raw
        .unary(
            request,
            PathAndQuery::from_static("/jwtauth.Guarded/Mine"),
            plinth::grpc::BytesCodec,
        )
        .await
        .expect_err("an unterminated field is refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    // A token without a claim a field is filled from is refused.
    let mut no_tenant = claims.clone();
    no_tenant.as_object_mut().expect("object").remove("tenant");
    let authorization = format!("Bearer {}", mint(Signer::Hs, &no_tenant));
    let status = grpc(
        &channel,
        "/jwtauth.Guarded/Mine",
        forged,
        Some(&authorization),
    )
    .await
    .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let (status, _, _) = http(
        &client,
        reqwest::Method::GET,
        format!("http://{addr}/mine/m1"),
        None,
        Some(&authorization),
    )
    .await;
    assert_eq!(status, 401);
    service.shutdown().await;
}

#[tokio::test]
async fn a_service_requiring_tokens_without_keys_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let error = Service::new()
        .with(Registration::action(Guarded))
        .config(config.clone())
        .start()
        .await
        .expect_err("no keys for a method that requires tokens");
    let message = error.to_string();
    assert!(
        message.contains("/jwtauth.Guarded/Secure") && message.contains("jwt_keys"),
        "{message}"
    );

    // Keys, but none of an issuer `Secure` accepts.
    let mut keys = key_entries(dir.path());
    keys.retain(|k| k.issuer != ISSUER_ES);
    let error = Service::new()
        .with(Registration::action(Guarded))
        .config(Config {
            jwt_keys: keys,
            ..config.clone()
        })
        .start()
        .await
        .expect_err("an accepted issuer without a key");
    let message = error.to_string();
    assert!(
        message.contains(ISSUER_ES) && message.contains("Secure"),
        "{message}"
    );

    // A key file that is not a key names its entry.
    let mut keys = key_entries(dir.path());
    keys[0].pem = Some(keys_dir().join("hs256.secret"));
    let error = Service::new()
        .with(Registration::action(Guarded))
        .config(Config {
            jwt_keys: keys,
            ..config
        })
        .start()
        .await
        .expect_err("a bad key file");
    assert!(error.to_string().contains("jwt_keys[0]"), "{error}");
}
