//! The generated JSON codecs against the reflective path they replace on the
//! hot path (prost-reflect with the front door's options, `runtime/src/http/json.rs`):
//! for random messages holding every kind of field, the rendering is the
//! same text and parsing it gives the same message; what the fast parser does
//! not take falls back, so errors keep their messages; and over a real
//! socket, replies and requests (path variables included) are what the
//! reflective path makes of them.

use plinth::{Config, RunningService, Service};
use plinth_tests::kinds::everything::Choice;
use plinth_tests::kinds::{Echo, Everything, KINDS_ACTION_INFO, KindsActionComponent, Node};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};
use serde_json::Value;

fn pool() -> DescriptorPool {
    DescriptorPool::decode(KINDS_ACTION_INFO.file_descriptor_set).expect("descriptors")
}

/// The reflective rendering of `bytes` (an encoded `Everything`).
fn reflective(pool: &DescriptorPool, bytes: &[u8]) -> Vec<u8> {
    let desc = pool
        .get_message_by_name("kinds.Everything")
        .expect("message");
    let message = DynamicMessage::decode(desc, bytes).expect("decodes");
    let mut out = Vec::new();
    message
        .serialize_with_options(
            &mut serde_json::Serializer::new(&mut out),
            &SerializeOptions::new().skip_default_fields(false),
        )
        .expect("renders");
    out
}

/// The reflective decoding of `json`, encoded.
fn reflective_parse(pool: &DescriptorPool, json: &[u8]) -> Option<Vec<u8>> {
    let desc = pool
        .get_message_by_name("kinds.Everything")
        .expect("message");
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize_with_options(
        desc,
        &mut deserializer,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .ok()?;
    Some(message.encode_to_vec())
}

fn render(bytes: &[u8]) -> Vec<u8> {
    plinth::codegen::json::render::<Everything>(bytes).expect("renders")
}

fn parse(json: &[u8]) -> Option<Vec<u8>> {
    plinth::codegen::json::parse::<Everything>(json)
}

fn text(rng: &mut fastrand::Rng) -> String {
    let pieces = [
        "",
        "a",
        "Zoë",
        "\"quoted\"",
        "back\\slash",
        "line\nbreak",
        "\u{1}",
        "日本",
        "😀",
    ];
    (0..rng.usize(0..3))
        .map(|_| pieces[rng.usize(..pieces.len())])
        .collect()
}

fn bytes(rng: &mut fastrand::Rng) -> Vec<u8> {
    (0..rng.usize(0..7)).map(|_| rng.u8(..)).collect()
}

fn real(rng: &mut fastrand::Rng) -> f64 {
    let special = [
        0.0,
        -0.0,
        0.1,
        1e300,
        -2.5e-300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        3.0,
    ];
    if rng.bool() {
        special[rng.usize(..special.len())]
    } else {
        (rng.f64() - 0.5) * 10f64.powi(rng.i32(-10..10))
    }
}

fn colour(rng: &mut fastrand::Rng) -> i32 {
    // 7 is not declared: rendered as a number.
    [0, 1, 2, 7][rng.usize(..4)]
}

fn node(rng: &mut fastrand::Rng, depth: u32) -> Node {
    Node {
        label: text(rng),
        next: (depth > 0 && rng.bool()).then(|| Box::new(node(rng, depth - 1))),
        children: (0..if depth > 0 { rng.usize(0..2) } else { 0 })
            .map(|_| node(rng, depth - 1))
            .collect(),
    }
}

/// A random message; maps get at most `entries` entries.
fn everything(rng: &mut fastrand::Rng, entries: usize) -> Everything {
    let small = |rng: &mut fastrand::Rng| rng.usize(0..=entries);
    Everything {
        text: text(rng),
        data: bytes(rng),
        flag: rng.bool(),
        i32: rng.i32(..),
        s32: rng.i32(..),
        sf32: rng.i32(..),
        u32: rng.u32(..),
        f32: rng.u32(..),
        i64: rng.i64(..),
        s64: rng.i64(..),
        sf64: rng.i64(..),
        u64: rng.u64(..),
        fx64: rng.u64(..),
        real32: real(rng) as f32,
        real64: real(rng),
        colour: colour(rng),
        node: rng.bool().then(|| node(rng, 2)),
        texts: (0..rng.usize(0..3)).map(|_| text(rng)).collect(),
        numbers: (0..rng.usize(0..3)).map(|_| rng.i64(..)).collect(),
        colours: (0..rng.usize(0..3)).map(|_| colour(rng)).collect(),
        nodes: (0..rng.usize(0..2)).map(|_| node(rng, 1)).collect(),
        blobs: (0..rng.usize(0..2)).map(|_| bytes(rng)).collect(),
        reals: (0..rng.usize(0..3)).map(|_| real(rng)).collect(),
        by_name: (0..small(rng)).map(|_| (text(rng), rng.i64(..))).collect(),
        by_number: (0..small(rng))
            .map(|_| (rng.i32(..), node(rng, 1)))
            .collect(),
        by_flag: (0..small(rng).min(2))
            .map(|_| (rng.bool(), colour(rng)))
            .collect(),
        by_big: (0..small(rng)).map(|_| (rng.u64(..), bytes(rng))).collect(),
        maybe: rng.bool().then(|| rng.i32(-2..2)),
        maybe_text: rng.bool().then(|| text(rng)),
        choice: match rng.u8(0..5) {
            0 => None,
            1 => Some(Choice::ChoiceText(text(rng))),
            2 => Some(Choice::ChoiceNode(node(rng, 1))),
            3 => Some(Choice::ChoiceColour(colour(rng))),
            _ => Some(Choice::ChoiceNumber(rng.i64(-1..2))),
        },
        snake_case_name: text(rng),
        renamed: text(rng),
    }
}

#[test]
fn rendering_is_the_reflective_text() {
    let pool = pool();
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..2_000 {
        let bytes = everything(&mut rng, 1).encode_to_vec();
        let (fast, slow) = (render(&bytes), reflective(&pool, &bytes));
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow),
            "round {round}"
        );
    }
}

#[test]
fn rendering_with_larger_maps_is_the_reflective_json() {
    // Map entries come in hash order on both sides, so compare as values.
    let pool = pool();
    let mut rng = fastrand::Rng::with_seed(11);
    for round in 0..300 {
        let bytes = everything(&mut rng, 5).encode_to_vec();
        let fast: Value = serde_json::from_slice(&render(&bytes)).unwrap();
        let slow: Value = serde_json::from_slice(&reflective(&pool, &bytes)).unwrap();
        assert_eq!(fast, slow, "round {round}");
    }
}

#[test]
fn parsing_the_rendering_gives_the_message_back() {
    let pool = pool();
    let mut rng = fastrand::Rng::with_seed(3);
    for round in 0..2_000 {
        let bytes = everything(&mut rng, 3).encode_to_vec();
        let json = reflective(&pool, &bytes);
        let parsed = parse(&json).unwrap_or_else(|| {
            panic!(
                "round {round}: the fast path refused {}",
                String::from_utf8_lossy(&json)
            )
        });
        // Compared through the reflective rendering: NaN is not equal to itself.
        let slow = reflective_parse(&pool, &json).expect("the reflective path takes it");
        assert_eq!(
            serde_json::from_slice::<Value>(&reflective(&pool, &parsed)).unwrap(),
            serde_json::from_slice::<Value>(&reflective(&pool, &slow)).unwrap(),
            "round {round}"
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&reflective(&pool, &parsed)).unwrap(),
            serde_json::from_slice::<Value>(&json).unwrap(),
            "round {round}"
        );
    }
}

#[test]
fn proto_names_and_other_accepted_forms_parse_as_reflection_parses_them() {
    let pool = pool();
    let bodies = [
        r#"{"snake_case_name":"a","by_name":{"k":"5"},"maybe_text":"t"}"#,
        r#"{"snakeCaseName":"a","byName":{"k":5},"maybeText":"t","otherName":"r"}"#,
        r#"{"i32":"-12","u32":"7","i64":-3,"u64":"18446744073709551615","fx64":1}"#,
        r#"{"colour":"COLOUR_BLUE","colours":[1,"COLOUR_RED",9],"choiceColour":2}"#,
        r#"{"real32":1,"real64":-0.0,"reals":[1e308,2,-3.5]}"#,
        r#"{"data":"AP9h","blobs":["AP9hYg","-_8="],"byBig":{"18446744073709551615":""}}"#,
        r#"{"byNumber":{"-1":{"label":"x","next":{"label":"y"}}},"byFlag":{"false":"COLOUR_RED"}}"#,
        r#"{"node":{"children":[{},{"label":"c"}]},"nodes":[],"choiceNode":{}}"#,
        r#"  {"maybe":0}  "#,
        r#"{"te\u0078t":"escaped key","byName":{"a\"b":1},"real64":"NaN","reals":["-Infinity","2.5"]}"#,
        "{}",
    ];
    for body in bodies {
        let fast = parse(body.as_bytes()).unwrap_or_else(|| panic!("refused {body}"));
        let slow = reflective_parse(&pool, body.as_bytes()).expect("reflection takes it");
        // Compared through the reflective rendering: NaN is not equal to itself.
        assert_eq!(
            String::from_utf8(reflective(&pool, &fast)).unwrap(),
            String::from_utf8(reflective(&pool, &slow)).unwrap(),
            "{body}"
        );
    }
}

#[test]
fn what_the_fast_parser_refuses_is_left_to_reflection() {
    let refused = [
        r#"{"text":"a","text":"b"}"#,
        r#"{"snakeCaseName":"a","snake_case_name":"b"}"#,
        r#"{"choiceText":"a","choiceNumber":"1"}"#,
        r#"{"unknown":1}"#,
        r#"{"text":null}"#,
        r#"{"node":null}"#,
        r#"{"i32":1.0}"#,
        r#"{"colour":"COLOUR_GREEN"}"#,
        r#"{"byName":{"k":1,"k":2}}"#,
        r#"{"byNumber":{"x":{}}}"#,
        r#"{"i32":2147483648}"#,
        r#"{"data":"@@"}"#,
        r#"{"text":"a"} trailing"#,
        r#"[]"#,
        r#"{"text":"a""#,
    ];
    for body in refused {
        assert_eq!(parse(body.as_bytes()), None, "{body}");
    }
}

async fn start() -> (RunningService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let service = Service::new()
        .with(KindsActionComponent::new(Echo))
        .config(config)
        .start()
        .await
        .expect("starts");
    (service, dir)
}

#[tokio::test]
async fn over_http_replies_and_requests_are_those_of_the_reflective_path() {
    let (service, _dir) = start().await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();
    let pool = pool();
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..50 {
        let message = everything(&mut rng, 1);
        let json = reflective(&pool, &message.encode_to_vec());
        // What the reflective path makes of the request, rendered.
        let expected = reflective(&pool, &reflective_parse(&pool, &json).unwrap());
        let reply = client
            .post(format!("{base}/kinds/echo"))
            .header("content-type", "application/json")
            .body(json.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(
            String::from_utf8_lossy(&reply.bytes().await.unwrap()),
            String::from_utf8_lossy(&expected)
        );
    }

    // A streamed reply is one rendering per line, the same as the reflective path's.
    for _ in 0..10 {
        let message = everything(&mut rng, 1);
        let json = reflective(&pool, &message.encode_to_vec());
        let expected = reflective(&pool, &reflective_parse(&pool, &json).unwrap());
        let reply = client
            .post(format!("{base}/kinds/echo-thrice"))
            .body(json.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body = reply.text().await.unwrap();
        let lines: Vec<&str> = body.lines().collect();
        let expected = String::from_utf8_lossy(&expected);
        assert_eq!(lines, vec![&*expected; 3]);
    }

    // Path variables replace what the body says, also with the body's own value.
    let reply: Value = client
        .post(format!("{base}/kinds/from%20path/echo"))
        .body(r#"{"text":"from body","i32":4}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["text"], "from path");
    assert_eq!(reply["i32"], 4);
    let reply: Value = client
        .get(format!("{base}/kinds/t/-9007199254740993"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (reply["text"].as_str(), reply["i64"].as_str()),
        (Some("t"), Some("-9007199254740993"))
    );
    // A path variable with the default value still replaces the body's.
    let reply: Value = client
        .post(format!("{base}/kinds/number/0"))
        .body(r#"{"text":"kept","i32":4}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (reply["text"].as_str(), reply["i32"].as_i64()),
        (Some("kept"), Some(0))
    );
    service.shutdown().await;
}

#[tokio::test]
async fn over_http_bad_bodies_get_the_reflective_errors_naming_the_field() {
    let (service, _dir) = start().await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();
    let cases = [
        (r#"{"text":"a","text":"b"}"#, "text"),
        (r#"{"i32":"x"}"#, "i32"),
        (r#"{"node":{"label":5}}"#, "node.label"),
        (r#"{"choiceText":"a","choiceNumber":"1"}"#, "choice"),
        (r#"{"nope":1}"#, "nope"),
        (r#"{"colour":"COLOUR_GREEN"}"#, "colour"),
    ];
    for (body, field) in cases {
        let reply = client
            .post(format!("{base}/kinds/echo"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body}");
        let error: Value = reply.json().await.unwrap();
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {error}");
    }
    service.shutdown().await;
}
