//! The benchmark's `Customer` reply (and `UpsertCustomer` request) through the generated JSON
//! codecs against prost-reflect with the front door's options (what unary HTTP/JSON calls went
//! through before the codecs): nanoseconds per message, the median of several rounds of one
//! process, so that both sides see the same machine.
//!
//! ```sh
//! cargo run --release -p plinth-bench-service --bin json-bench -- [payload bytes] [rounds]
//! ```

use std::hint::black_box;
use std::time::Instant;

use plinth::codegen::JsonCodec;
use plinth_bench_service::bench::{CUSTOMER_RECORD_ENTITY_INFO, Customer, UpsertCustomer};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};

/// Messages per round.
const ITERATIONS: u32 = 20_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let payload_size: usize = args
        .next()
        .map_or(550, |arg| arg.parse().expect("payload bytes"));
    let rounds: usize = args.next().map_or(7, |arg| arg.parse().expect("rounds"));

    let info = &CUSTOMER_RECORD_ENTITY_INFO;
    let pool = DescriptorPool::decode(info.file_descriptor_set).expect("descriptors");
    let codec = |name: &str| -> &JsonCodec {
        info.json
            .iter()
            .find(|codec| codec.type_name == name)
            .unwrap_or_else(|| panic!("no generated codec for {name}"))
    };
    let descriptor =
        |name: &str| -> MessageDescriptor { pool.get_message_by_name(name).expect("message") };

    let customer = Customer {
        id: "customer-000042".into(),
        name: "Name 42".into(),
        email: "c42@example.com".into(),
        payload: "x".repeat(payload_size),
    };
    let reply = customer.encode_to_vec();
    let request_json = serde_json::to_vec(&serde_json::json!({
        "id": customer.id, "name": customer.name, "email": customer.email, "payload": customer.payload,
    }))
    .expect("json");

    let render = codec("bench.Customer").render;
    let parse = codec("bench.UpsertCustomer").parse;
    let customer_desc = descriptor("bench.Customer");
    let upsert_desc = descriptor("bench.UpsertCustomer");

    // Both sides give the same answer before either is timed.
    assert_eq!(
        render(&reply).expect("renders"),
        reflective_render(&customer_desc, &reply)
    );
    let parsed = UpsertCustomer::decode(&*parse(&request_json).expect("parses")).expect("decodes");
    assert_eq!(
        parsed,
        UpsertCustomer::decode(&*reflective_parse(&upsert_desc, &request_json)).expect("decodes")
    );

    println!(
        "payload {payload_size} bytes, {rounds} rounds of {ITERATIONS}, median ns per message"
    );
    let typed_render = median(rounds, || {
        black_box(render(black_box(&reply)));
    });
    let dynamic_render = median(rounds, || {
        black_box(reflective_render(&customer_desc, black_box(&reply)));
    });
    let typed_parse = median(rounds, || {
        black_box(parse(black_box(&request_json)));
    });
    let dynamic_parse = median(rounds, || {
        black_box(reflective_parse(&upsert_desc, black_box(&request_json)));
    });
    report("render Customer", typed_render, dynamic_render);
    report("parse UpsertCustomer", typed_parse, dynamic_parse);
}

/// The reply as the reflective path renders it: decode, then serialize every field.
fn reflective_render(desc: &MessageDescriptor, bytes: &[u8]) -> Vec<u8> {
    let message = DynamicMessage::decode(desc.clone(), bytes).expect("decodes");
    let mut out = Vec::new();
    let options = SerializeOptions::new().skip_default_fields(false);
    message
        .serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options)
        .expect("serializes");
    out
}

/// The request as the reflective path reads it: tracking the field path for errors, refusing
/// unknown fields, then encoding.
fn reflective_parse(desc: &MessageDescriptor, body: &[u8]) -> Vec<u8> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let message = DynamicMessage::deserialize_with_options(
        desc.clone(),
        serde_path_to_error::Deserializer::new(&mut deserializer, &mut track),
        &options,
    )
    .expect("parses");
    message.encode_to_vec()
}

/// The median over `rounds` of the time per call of `step`, in nanoseconds.
fn median(rounds: usize, mut step: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ITERATIONS {
                step();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn report(what: &str, typed: f64, reflective: f64) {
    println!(
        "{what}: generated {typed:.0} ns, prost-reflect {reflective:.0} ns, {:.2}x faster",
        reflective / typed
    );
}
