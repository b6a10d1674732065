//! A fixture service with hand-written components (what the generator would
//! emit) over hand-written prost messages: a value-entity counter, an
//! event-sourced counter and an echo action, all in proto package `test`. The
//! `plinth-fixture` binary serves it, so tests can kill and restart a real
//! process; the runtime's own `core_*` tests include this file too.

use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use plinth::codegen::*;
use plinth::effect::{DeferredCall, Effect, EventEffect};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto, field_descriptor_proto::Type,
};

/// `test.Increment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Increment {
    /// The counter id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// How much to add.
    #[prost(int64, tag = "2")]
    pub by: i64,
}

/// `test.CounterState`: the state, and the reply of counter methods.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CounterState {
    /// The value.
    #[prost(int64, tag = "1")]
    pub value: i64,
    /// The entity id (set in replies).
    #[prost(string, tag = "2")]
    pub id: String,
}

/// `test.Incremented`: the event of the event-sourced counter.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Incremented {
    /// How much was added.
    #[prost(int64, tag = "1")]
    pub by: i64,
}

/// `test.EchoRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    /// The text.
    #[prost(string, tag = "1")]
    pub text: String,
    /// How many replies (Repeat) or milliseconds to wait (Slow).
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

/// `test.EchoReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    /// The text.
    #[prost(string, tag = "1")]
    pub text: String,
}

const ID: IdSource = IdSource::Fields(&[&["id"]]);

const fn method(
    name: &'static str,
    path: &'static str,
    input: &'static str,
    output: &'static str,
) -> MethodInfo {
    MethodInfo {
        name,
        path,
        input_type: input,
        output_type: output,
        server_streaming: false,
        id: IdSource::None,
        http: &[],
        subscribe: None,
        view: None,
        publish: None,
        acl: None,
        jwt: None,
        trigger: None,
    }
}

const fn entity_method(
    name: &'static str,
    path: &'static str,
    input: &'static str,
    id: IdSource,
) -> MethodInfo {
    MethodInfo {
        id,
        ..method(name, path, input, "test.CounterState")
    }
}

static COUNTER_METHODS: [MethodInfo; 7] = [
    entity_method("Increment", "/test.Counter/Increment", "test.Increment", ID),
    entity_method("Get", "/test.Counter/Get", "test.Increment", ID),
    entity_method("Explode", "/test.Counter/Explode", "test.Increment", ID),
    entity_method(
        "Create",
        "/test.Counter/Create",
        "test.Increment",
        IdSource::GeneratedUuid,
    ),
    entity_method(
        "IncrementViaForward",
        "/test.Counter/IncrementViaForward",
        "test.Increment",
        ID,
    ),
    entity_method(
        "IncrementWithAudit",
        "/test.Counter/IncrementWithAudit",
        "test.Increment",
        ID,
    ),
    entity_method("Reset", "/test.Counter/Reset", "test.Increment", ID),
];

static ES_METHODS: [MethodInfo; 3] = [
    entity_method(
        "Increment",
        "/test.EsCounter/Increment",
        "test.Increment",
        ID,
    ),
    entity_method("Get", "/test.EsCounter/Get", "test.Increment", ID),
    entity_method("AddMany", "/test.EsCounter/AddMany", "test.Increment", ID),
];

static ECHO_METHODS: [MethodInfo; 6] = [
    method(
        "Say",
        "/test.Echo/Say",
        "test.EchoRequest",
        "test.EchoReply",
    ),
    MethodInfo {
        server_streaming: true,
        ..method(
            "Repeat",
            "/test.Echo/Repeat",
            "test.EchoRequest",
            "test.EchoReply",
        )
    },
    method(
        "Slow",
        "/test.Echo/Slow",
        "test.EchoRequest",
        "test.EchoReply",
    ),
    method(
        "Explode",
        "/test.Echo/Explode",
        "test.EchoRequest",
        "test.EchoReply",
    ),
    method(
        "Relay",
        "/test.Echo/Relay",
        "test.EchoRequest",
        "test.EchoReply",
    ),
    // `Say`, for the billing services only (proven by a client certificate).
    MethodInfo {
        acl: Some(Acl {
            allow: &[Principal::Service("billing-*")],
            deny: &[],
            deny_code: 0,
        }),
        ..method(
            "BillingOnly",
            "/test.Echo/BillingOnly",
            "test.EchoRequest",
            "test.EchoReply",
        )
    },
];

/// The encoded descriptor set of `test/components.proto`.
static DESCRIPTORS: LazyLock<&'static [u8]> = LazyLock::new(|| {
    let field = |name: &str, number: i32, kind: Type| FieldDescriptorProto {
        name: Some(name.to_string()),
        number: Some(number),
        r#type: Some(kind as i32),
        label: Some(1),
        json_name: Some(name.to_string()),
        ..Default::default()
    };
    let message = |name: &str, fields: Vec<FieldDescriptorProto>| DescriptorProto {
        name: Some(name.to_string()),
        field: fields,
        ..Default::default()
    };
    let service = |name: &str, methods: &[MethodInfo]| ServiceDescriptorProto {
        name: Some(name.to_string()),
        method: methods
            .iter()
            .map(|m| MethodDescriptorProto {
                name: Some(m.name.to_string()),
                input_type: Some(format!(".{}", m.input_type)),
                output_type: Some(format!(".{}", m.output_type)),
                server_streaming: Some(m.server_streaming),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("test/components.proto".to_string()),
        package: Some("test".to_string()),
        syntax: Some("proto3".to_string()),
        message_type: vec![
            message(
                "Increment",
                vec![field("id", 1, Type::String), field("by", 2, Type::Int64)],
            ),
            message(
                "CounterState",
                vec![field("value", 1, Type::Int64), field("id", 2, Type::String)],
            ),
            message("Incremented", vec![field("by", 1, Type::Int64)]),
            message(
                "EchoRequest",
                vec![
                    field("text", 1, Type::String),
                    field("count", 2, Type::Uint32),
                ],
            ),
            message("EchoReply", vec![field("text", 1, Type::String)]),
        ],
        service: vec![
            service("Counter", &COUNTER_METHODS),
            service("EsCounter", &ES_METHODS),
            service("Echo", &ECHO_METHODS),
        ],
        ..Default::default()
    };
    Box::leak(
        FileDescriptorSet { file: vec![file] }
            .encode_to_vec()
            .into_boxed_slice(),
    )
});

static COUNTER_INFO: LazyLock<ComponentInfo> = LazyLock::new(|| ComponentInfo {
    kind: ComponentKind::ValueEntity,
    name: "Counter",
    service: "test.Counter",
    type_id: "counters",
    state_type: "test.CounterState",
    event_types: &[],
    snapshot_every: 0,
    methods: &COUNTER_METHODS,
    file_descriptor_set: *DESCRIPTORS,
});

static ES_INFO: LazyLock<ComponentInfo> = LazyLock::new(|| ComponentInfo {
    kind: ComponentKind::EventSourcedEntity,
    name: "EsCounter",
    service: "test.EsCounter",
    type_id: "es-counters",
    state_type: "test.CounterState",
    event_types: &["test.Incremented"],
    snapshot_every: 3,
    methods: &ES_METHODS,
    file_descriptor_set: *DESCRIPTORS,
});

static ECHO_INFO: LazyLock<ComponentInfo> = LazyLock::new(|| ComponentInfo {
    kind: ComponentKind::Action,
    name: "Echo",
    service: "test.Echo",
    type_id: "",
    state_type: "",
    event_types: &[],
    snapshot_every: 0,
    methods: &ECHO_METHODS,
    file_descriptor_set: *DESCRIPTORS,
});

/// A decoded counter command: the method index and its input.
#[derive(Debug)]
pub struct CounterCommand {
    method: usize,
    input: Increment,
}

fn decode_increment(
    method: usize,
    payload: &[u8],
    id: IdSource,
) -> Result<Decoded<CounterCommand>, Status> {
    let input: Increment = decode(payload)?;
    let entity_id = match id {
        IdSource::GeneratedUuid => None,
        _ => Some(input.id.clone()),
    };
    Ok(Decoded {
        command: CounterCommand { method, input },
        entity_id,
    })
}

fn reply(state: &CounterState, id: &str) -> Bytes {
    encode(&CounterState {
        value: state.value,
        id: id.to_string(),
    })
}

/// The value-entity counter.
#[derive(Debug)]
pub struct Counter;

impl ValueEntityAdapter for Counter {
    type State = CounterState;
    type Command = CounterCommand;

    fn info(&self) -> &'static ComponentInfo {
        &COUNTER_INFO
    }

    fn empty_state(&self) -> CounterState {
        CounterState::default()
    }

    fn decode(&self, method: usize, payload: &[u8]) -> Result<Decoded<CounterCommand>, Status> {
        decode_increment(method, payload, COUNTER_METHODS[method].id)
    }

    fn handle(
        &self,
        state: &CounterState,
        command: CounterCommand,
        ctx: &CommandContext,
    ) -> Effect<CounterState, Bytes> {
        let input = command.input;
        let id = ctx.entity_id();
        let incremented = CounterState {
            value: state.value + input.by,
            id: String::new(),
        };
        match COUNTER_METHODS[command.method].name {
            "Increment" | "Create" => {
                if input.by < 0 {
                    return Effect::error(Status::invalid_argument("by must not be negative"));
                }
                if incremented.value > 1_000_000 {
                    let refusal = Status::failed_precondition("the counter would pass 1000000");
                    return Effect::error(refusal.with_http_status(422));
                }
                let reply = reply(&incremented, id);
                Effect::update(incremented).then_reply(reply)
            }
            "Get" => Effect::reply(reply(state, id)),
            "Explode" => panic!("counter {id} exploded"),
            "IncrementViaForward" => {
                let call = DeferredCall::new("/test.Counter/Increment", encode(&input));
                Effect::forward(call)
            }
            "IncrementWithAudit" => {
                let audit = Increment {
                    id: "audit".to_string(),
                    by: 1,
                };
                let reply = reply(&incremented, id);
                Effect::update(incremented)
                    .then_reply(reply)
                    .with_side_effect(DeferredCall::<CounterState>::new(
                        "/test.Counter/Increment",
                        encode(&audit),
                    ))
            }
            "Reset" => Effect::delete().then_reply(reply(&CounterState::default(), id)),
            other => Effect::error(Status::unimplemented(other)),
        }
    }
}

/// The events of the event-sourced counter.
#[derive(Clone, Debug)]
pub enum CounterEvent {
    /// `test.Incremented`.
    Incremented(Incremented),
}

impl EventSet for CounterEvent {
    fn type_name(&self) -> &'static str {
        "test.Incremented"
    }

    fn encode_payload(&self) -> Vec<u8> {
        match self {
            CounterEvent::Incremented(event) => event.encode_to_vec(),
        }
    }

    fn decode_payload(type_name: &str, payload: &[u8]) -> Result<CounterEvent, Status> {
        match type_name {
            "test.Incremented" => Ok(CounterEvent::Incremented(decode(payload)?)),
            other => Err(Status::internal(format!("unknown event type {other}"))),
        }
    }
}

/// The event-sourced counter.
#[derive(Debug)]
pub struct EsCounter;

impl EventSourcedAdapter for EsCounter {
    type State = CounterState;
    type Event = CounterEvent;
    type Command = CounterCommand;

    fn info(&self) -> &'static ComponentInfo {
        &ES_INFO
    }

    fn empty_state(&self) -> CounterState {
        CounterState::default()
    }

    fn decode(&self, method: usize, payload: &[u8]) -> Result<Decoded<CounterCommand>, Status> {
        decode_increment(method, payload, ID)
    }

    fn handle(
        &self,
        _state: &CounterState,
        command: CounterCommand,
        ctx: &CommandContext,
    ) -> EventEffect<CounterState, CounterEvent, Bytes> {
        let id = ctx.entity_id().to_string();
        let by = command.input.by;
        let events: Vec<CounterEvent> = match ES_METHODS[command.method].name {
            "Increment" => vec![CounterEvent::Incremented(Incremented { by })],
            "AddMany" => (0..by)
                .map(|_| CounterEvent::Incremented(Incremented { by: 1 }))
                .collect(),
            _ => Vec::new(),
        };
        EventEffect::emit_all(events).then_reply(move |state: &CounterState| reply(state, &id))
    }

    fn apply(&self, state: &mut CounterState, event: &CounterEvent) {
        match event {
            CounterEvent::Incremented(e) => state.value += e.by,
        }
    }
}

/// The echo action.
#[derive(Debug)]
pub struct Echo;

impl ActionAdapter for Echo {
    fn info(&self) -> &'static ComponentInfo {
        &ECHO_INFO
    }

    fn call(
        &self,
        method: usize,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        async move {
            let input: EchoRequest = decode(&payload)?;
            let caller = ctx.metadata().get("x-caller").unwrap_or("").to_string();
            match ECHO_METHODS[method].name {
                "BillingOnly" => Ok(ActionReply::Unary(encode(&EchoReply {
                    text: match ctx.caller() {
                        plinth::context::Caller::Service(name) => name,
                        other => format!("{other:?}"),
                    },
                }))),
                "Say" => Ok(ActionReply::Unary(encode(&EchoReply {
                    text: format!("{}{caller}", input.text),
                }))),
                "Repeat" => {
                    let replies = (0..input.count).map(move |i| {
                        Ok(encode(&EchoReply {
                            text: format!("{} #{i}", input.text),
                        }))
                    });
                    Ok(ActionReply::Stream(futures::stream::iter(replies).boxed()))
                }
                "Slow" => {
                    tokio::time::sleep(Duration::from_millis(u64::from(input.count))).await;
                    Ok(ActionReply::Unary(encode(&EchoReply { text: input.text })))
                }
                "Relay" => relay(&ctx, input).await,
                _ => panic!("echo exploded"),
            }
        }
        .boxed()
    }
}

/// `Relay`, through the action's context: increments counter `text` by
/// `count` and reads it back; a `text` that is a method path calls that method
/// instead, with a negative increment of entity `relay`.
async fn relay(ctx: &ActionContext, input: EchoRequest) -> Result<ActionReply, Status> {
    let call = |path: &'static str, id: &str, by: i64| {
        let increment = Increment { id: id.into(), by };
        DeferredCall::<CounterState>::new(path, encode(&increment))
    };
    let state = if input.text.starts_with('/') {
        let path: &'static str = Box::leak(input.text.into_boxed_str());
        ctx.call(call(path, "relay", -1)).await?
    } else {
        let by = i64::from(input.count);
        ctx.call(call("/test.Counter/Increment", &input.text, by))
            .await?;
        ctx.call(call("/test.Counter/Get", &input.text, 0)).await?
    };
    let text = state.value.to_string();
    Ok(ActionReply::Unary(encode(&EchoReply { text })))
}

/// The fixture service: the three components.
pub fn service() -> plinth::Service {
    plinth::Service::new()
        .with(Registration::value_entity(Counter))
        .with(Registration::event_sourced(EsCounter))
        .with(Registration::action(Echo))
}
