//! Spans exported over OTLP: a service configured with an endpoint sends
//! its spans to a real OTLP/gRPC receiver (a `TraceService` served here on
//! a loopback port). A call that comes with a `traceparent` is served in a
//! front-door span whose parent is the caller's span, in the caller's
//! trace, with the dispatcher's handler span, the executor's command span
//! and the storage writer's commit span below it; the same over gRPC; and
//! a message published by a handler names that handler's span as parent.
//!
//! The tracing subscriber is the process's, installed by the first service
//! that exports: this file holds one test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use counter::Counter;
use counter::counter::{ChangeValue, CounterEntityComponent, CounterServiceClient};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use plinth::Metadata;
use plinth::testkit::{TestService, eventually};
use plinth_tests::relay::{
    InboxEntityComponent, Inboxes, Note, Relay, RelayActionComponent, RelayServiceClient,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// The trace of the gRPC call.
const GRPC_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
/// The trace of the call that publishes.
const RELAY_TRACE_ID: &str = "5c6ae4b7e0d0f7c3a1b2c3d4e5f60718";

/// An OTLP receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("the span list");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one span named `name` in `spans`, or why there is none.
fn named<'a>(spans: &'a [Span], name: &str) -> Result<&'a Span, String> {
    let mut found = spans.iter().filter(|span| span.name == name);
    match (found.next(), found.next()) {
        (Some(span), None) => Ok(span),
        (None, _) => Err(format!(
            "no span {name:?} among {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )),
        (Some(_), Some(_)) => Err(format!("more than one span {name:?}")),
    }
}

/// A span named `name` that is a child of `parent`, in its trace.
fn child<'a>(spans: &'a [Span], parent: &Span, name: &str) -> Result<&'a Span, String> {
    spans
        .iter()
        .find(|span| {
            span.name == name
                && span.parent_span_id == parent.span_id
                && span.trace_id == parent.trace_id
        })
        .ok_or_else(|| {
            format!(
                "no span {name:?} is a child of {:?}; spans: {:?}",
                parent.name,
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(n) => n.to_string(),
            other => format!("{other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_traceparent_is_exported_in_the_callers_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the collector");
    let collector_addr = listener.local_addr().expect("its address");
    let receiver = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let service =
        TestService::builder(plinth::Service::new().with(CounterEntityComponent::new(Counter)))
            .configure(move |config| {
                config.otlp_endpoint = Some(format!("http://{collector_addr}"));
                config.service_name = Some("counter-under-test".to_owned());
            })
            .start()
            .await
            .expect("the service starts");
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let reply = service
        .http_with(
            "POST",
            "/counters/c1/increase",
            Some(serde_json::json!({"amount": 3})),
            &[("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    service
        .call_with(
            CounterServiceClient::increase(ChangeValue {
                counter_id: "c2".into(),
                amount: 1,
            }),
            Metadata::new().with(
                "traceparent",
                format!("00-{GRPC_TRACE_ID}-{CALLER_SPAN}-01"),
            ),
        )
        .await
        .expect("increased over gRPC");
    // A second service of the process exports through the same pipeline.
    let relay = TestService::start(
        plinth::Service::new()
            .with(InboxEntityComponent::new(Inboxes))
            .with(RelayActionComponent::new(Relay)),
    )
    .await
    .expect("the relay service starts");
    relay
        .call_with(
            RelayServiceClient::relay(Note {
                inbox_id: "t1".into(),
                text: "traced".into(),
            }),
            Metadata::new().with(
                "traceparent",
                format!("00-{RELAY_TRACE_ID}-{CALLER_SPAN}-01"),
            ),
        )
        .await
        .expect("relayed");
    let published = relay.published("relayed");
    let sent_on = published[0]
        .metadata
        .get("traceparent")
        .expect("the published message carries the trace")
        .to_owned();
    relay.shutdown().await;
    // The shutdown sends the spans still queued.
    service.shutdown().await;

    let (door, handler, command, commit) = eventually(Duration::from_secs(10), || {
        let spans = collector.spans.lock().expect("the span list").clone();
        async move {
            let door = named(&spans, "POST /counters/{counter_id}/increase")?;
            let handler = child(&spans, door, "counter.CounterService/Increase")?;
            let command = child(&spans, handler, "plinth.command")?;
            let commit = child(&spans, command, "plinth.storage.commit")?;
            Ok::<_, String>((
                door.clone(),
                handler.clone(),
                command.clone(),
                commit.clone(),
            ))
        }
    })
    .await;
    assert_eq!(hex(&door.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(hex(&door.parent_span_id), CALLER_SPAN, "the caller's span");
    assert_eq!(
        attribute(&door, "http.route").as_deref(),
        Some("/counters/{counter_id}/increase")
    );
    assert_eq!(
        attribute(&door, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(attribute(&door, "request_id").is_some_and(|id| !id.is_empty()));
    assert_eq!(attribute(&handler, "method").as_deref(), Some("Increase"));
    assert!(attribute(&command, "entity.type").is_some());
    // The id is user data: not recorded at the default INFO level.
    assert_eq!(attribute(&command, "entity.id"), None);
    assert_eq!(attribute(&commit, "db.system").as_deref(), Some("sqlite"));
    assert_eq!(attribute(&commit, "batch.size").as_deref(), Some("1"));

    let spans = collector.spans.lock().expect("the span list").clone();
    let grpc_door = spans
        .iter()
        .find(|span| {
            hex(&span.trace_id) == GRPC_TRACE_ID && hex(&span.parent_span_id) == CALLER_SPAN
        })
        .expect("the gRPC call's front-door span, a child of the caller's");
    assert_eq!(grpc_door.name, "counter.CounterService/Increase");
    assert_eq!(attribute(grpc_door, "rpc.system").as_deref(), Some("grpc"));
    child(&spans, grpc_door, "counter.CounterService/Increase").expect("its handler span");

    // What the relay published names its handler's span, in the caller's trace.
    let parts: Vec<&str> = sent_on.split('-').collect();
    assert_eq!(parts[1], RELAY_TRACE_ID, "{sent_on}");
    assert_ne!(parts[2], CALLER_SPAN, "{sent_on}");
    let publisher = spans
        .iter()
        .find(|span| hex(&span.span_id) == parts[2])
        .expect("the span named by the published traceparent is exported");
    assert_eq!(publisher.name, "relay.RelayService/Relay");
    assert_eq!(hex(&publisher.trace_id), RELAY_TRACE_ID);
    receiver.abort();
}
