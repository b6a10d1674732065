//! An action subscribed to an event-sourced entity (the fixture's
//! `test.EsCounter`, driven over gRPC): every event, not every command, is
//! delivered, by event type, in sequence order per entity, with the event's
//! identity in the context.

use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use plinth::codegen::*;
use plinth::{Config, Status};
use plinth_tests::eventing::eventually;
use plinth_tests::fixture::{
    CounterState, EsCounterEntityComponent, EsCounters, FILE_DESCRIPTOR_SET, Increment, Incremented,
};
use tonic_prost::ProstCodec;

static WATCHER_METHODS: [MethodInfo; 1] = [MethodInfo {
    name: "OnIncremented",
    path: "/test.EsWatcher/OnIncremented",
    input_type: "test.Incremented",
    output_type: "test.CounterState",
    server_streaming: false,
    client_streaming: false,
    id: IdSource::None,
    http: &[],
    subscribe: Some(Subscription {
        source: SourceKind::EventSourcedEntity("es-counters"),
        consumer_group: "",
        ignore: false,
        ignore_unknown: false,
        handle_deletes: false,
        handle_snapshots: false,
    }),
    view: None,
    publish: None,
    acl: None,
    jwt: None,
    trigger: None,
}];

static WATCHER_INFO: LazyLock<ComponentInfo> = LazyLock::new(|| ComponentInfo {
    kind: ComponentKind::Action,
    name: "EsWatcher",
    service: "test.EsWatcher",
    type_id: "",
    state_type: "",
    event_types: &[],
    snapshot_every: 0,
    methods: &WATCHER_METHODS,
    // The fixture's messages, for the HTTP/JSON route of the method.
    file_descriptor_set: FILE_DESCRIPTOR_SET,
    json: &[],
});

/// One delivery: subject, `by`, `plinth-seq`, `ce-type`.
type Seen = (String, i64, String, String);

/// Records the events it is given (what the generator would emit for an
/// action with one subscribed method, by hand).
#[derive(Clone, Default)]
struct EsWatcher {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl ActionAdapter for EsWatcher {
    fn info(&self) -> &'static ComponentInfo {
        &WATCHER_INFO
    }

    fn call(
        &self,
        method: usize,
        payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let seen = self.seen.clone();
        Box::pin(async move {
            if method != 0 {
                return Err(Status::unimplemented("no such method"));
            }
            let event: Incremented = decode(&payload)?;
            let metadata = ctx.metadata();
            seen.lock().unwrap().push((
                ctx.event_subject().unwrap_or_default().to_owned(),
                event.by,
                metadata.get("plinth-seq").unwrap_or_default().to_owned(),
                metadata.get("ce-type").unwrap_or_default().to_owned(),
            ));
            Ok(ActionReply::Unary(Bytes::new()))
        })
    }
}

async fn call(channel: &tonic::transport::Channel, path: &'static str, id: &str, by: i64) {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.unwrap();
    client
        .unary(
            tonic::Request::new(Increment { id: id.into(), by }),
            PathAndQuery::from_static(path),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventing_event_sourced_events_reach_the_action_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let watcher = EsWatcher::default();
    let service = plinth::Service::new()
        .with(EsCounterEntityComponent::new(EsCounters))
        .with(Registration::action(watcher.clone()))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.path().join("plinth.db")),
        )
        .start()
        .await
        .unwrap();
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    // Three events from one command, then one, for two entities.
    call(&channel, "/test.EsCounter/AddMany", "a", 3).await;
    call(&channel, "/test.EsCounter/Increment", "b", 5).await;
    call(&channel, "/test.EsCounter/Increment", "a", 7).await;
    call(&channel, "/test.EsCounter/AddMany", "b", 2).await;
    eventually("every event delivered", || async {
        watcher.seen.lock().unwrap().len() >= 7
    })
    .await;
    let seen = watcher.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 7);
    let of = |subject: &str| -> Vec<(i64, String)> {
        seen.iter()
            .filter(|(s, ..)| s == subject)
            .map(|(_, by, seq, _)| (*by, seq.clone()))
            .collect()
    };
    let pairs = |list: &[(i64, &str)]| -> Vec<(i64, String)> {
        list.iter()
            .map(|(by, seq)| (*by, seq.to_string()))
            .collect()
    };
    assert_eq!(of("a"), pairs(&[(1, "1"), (1, "2"), (1, "3"), (7, "4")]));
    assert_eq!(of("b"), pairs(&[(5, "1"), (1, "2"), (1, "3")]));
    assert!(
        seen.iter()
            .all(|(.., ce_type)| ce_type == "test.Incremented")
    );
    let status = &service.subscriptions()[0];
    assert_eq!(
        status.name,
        "eventing:test.EsWatcher:event_sourced_entity:es-counters"
    );
    // The counter moves once the handler call has returned, after it saw the events.
    eventually("the delivered count", || async {
        service.subscriptions()[0].delivered == 7
    })
    .await;
    service.shutdown().await;
}
