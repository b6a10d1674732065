//! Subscriptions: action methods fed by value-entity changes, event-sourced
//! events or topic messages, each group of methods one consumer of the feed
//! engine (at least once, per-entity order, retries with backoff, stored
//! offsets).
//!
//! A group is the methods of one action service with the same source and
//! consumer group. A record goes to the method whose input type is the
//! record's type (the state type, the event type, a topic message's
//! `ce-type`); a value-entity delete goes to the `handle_deletes` method (and
//! is dropped without one); `ignore` methods and, with `ignore_unknown`,
//! types no method takes are dropped. A type nobody handles otherwise is an
//! error the generator reports at build time; at run time it holds the entity
//! back (retried, logged), never skipped.

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use prost_reflect::DescriptorPool;

use super::cloudevents as ce;
use super::codec;
use crate::component::adapter::ActionReply;
use crate::component::info::{ComponentInfo, ComponentKind, MethodInfo, SourceKind};
use crate::context::Metadata;
use crate::dispatch::SharedDispatch;
use crate::feed::{FeedHandler, HandlerError};
use crate::storage::{FeedKind, FeedRecord};

/// The methods of one action fed by one source in one consumer group.
#[derive(Debug, Clone)]
pub struct SubscriptionGroup {
    /// The action.
    pub info: &'static ComponentInfo,
    /// The source.
    pub source: SourceKind,
    /// The consumer group (the action's service name when not set).
    pub group: String,
    /// The subscribed methods (indexes into `info.methods`).
    pub methods: Vec<usize>,
    /// Drop records whose type no method takes.
    pub ignore_unknown: bool,
}

impl SubscriptionGroup {
    /// The name the group's offset is stored under. A different topic (after
    /// `${ENV}` expansion) or group starts from the beginning.
    pub fn consumer_name(&self, resolved_topic: Option<&str>) -> String {
        match (self.source, resolved_topic) {
            (SourceKind::ValueEntity(type_id), _) => {
                format!("eventing:{}:value_entity:{type_id}", self.group)
            }
            (SourceKind::EventSourcedEntity(type_id), _) => {
                format!("eventing:{}:event_sourced_entity:{type_id}", self.group)
            }
            (SourceKind::Direct { service, stream }, resolved) => {
                format!(
                    "eventing:{}:{}",
                    self.group,
                    resolved.map_or_else(|| format!("direct:{service}/{stream}"), str::to_owned)
                )
            }
            (SourceKind::Topic(template), resolved) => {
                format!(
                    "eventing:{}:topic:{}",
                    self.group,
                    resolved.unwrap_or(template)
                )
            }
        }
    }
}

/// The subscription groups of the given components.
pub fn plan(components: &[&'static ComponentInfo]) -> Vec<SubscriptionGroup> {
    let mut groups: Vec<SubscriptionGroup> = Vec::new();
    for info in components {
        if info.kind != ComponentKind::Action {
            continue;
        }
        for (index, method) in info.methods.iter().enumerate() {
            let Some(subscription) = method.subscribe else {
                continue;
            };
            let group = if subscription.consumer_group.is_empty() {
                info.service.to_owned()
            } else {
                subscription.consumer_group.to_owned()
            };
            match groups.iter_mut().find(|g| {
                g.info.service == info.service
                    && g.source == subscription.source
                    && g.group == group
            }) {
                Some(existing) => {
                    existing.methods.push(index);
                    existing.ignore_unknown |= subscription.ignore_unknown;
                }
                None => groups.push(SubscriptionGroup {
                    info,
                    source: subscription.source,
                    group,
                    methods: vec![index],
                    ignore_unknown: subscription.ignore_unknown,
                }),
            }
        }
    }
    groups
}

/// Where a record goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// To this method, with this payload.
    Call(usize),
    /// To this catch-all method (it takes `google.protobuf.Any`), the
    /// payload wrapped in an `Any` naming its type.
    CallAny(usize),
    /// Nowhere: dropped (a delete without handler, an `ignore` method, an
    /// unknown type with `ignore_unknown`).
    Drop,
}

/// The catch-all input type.
const ANY: &str = "google.protobuf.Any";

/// Where a record of `kind` and message type `type_name` goes.
fn route(
    group: &SubscriptionGroup,
    kind: FeedKind,
    type_name: &str,
) -> Result<Route, HandlerError> {
    let handles_deletes = |&&index: &&usize| {
        group.info.methods[index]
            .subscribe
            .is_some_and(|s| s.handle_deletes)
    };
    if kind == FeedKind::Delete {
        return Ok(match group.methods.iter().find(handles_deletes) {
            Some(&index) => Route::Call(index),
            None => Route::Drop,
        });
    }
    let candidates: Vec<usize> = group
        .methods
        .iter()
        .filter(|index| !handles_deletes(index))
        .copied()
        .collect();
    let exact = candidates
        .iter()
        .copied()
        .find(|&index| group.info.methods[index].input_type == type_name);
    // A value entity has one state type, and a lone topic handler takes
    // every message of its topic.
    let lone = match (group.source, candidates.as_slice()) {
        (SourceKind::ValueEntity(_) | SourceKind::Topic(_), [only]) => Some(*only),
        _ => None,
    };
    // `google.protobuf.Any` takes what no other method takes.
    let catch_all = candidates
        .iter()
        .copied()
        .find(|&index| group.info.methods[index].input_type == ANY);
    let ignored = |index: usize| {
        group.info.methods[index]
            .subscribe
            .is_some_and(|s| s.ignore)
    };
    match (exact.or(lone), catch_all) {
        (Some(index), _) if ignored(index) => Ok(Route::Drop),
        (Some(index), _) if group.info.methods[index].input_type == ANY && exact.is_none() => {
            Ok(Route::CallAny(index))
        }
        (Some(index), _) => Ok(Route::Call(index)),
        (None, Some(index)) if ignored(index) => Ok(Route::Drop),
        (None, Some(index)) => Ok(Route::CallAny(index)),
        (None, None) if group.ignore_unknown => Ok(Route::Drop),
        (None, None) => Err(HandlerError::msg(format!(
            "{}: no method takes messages of type {type_name:?} from {:?} and \
             ignore_unknown is not set",
            group.info.service, group.source
        ))),
    }
}

/// Delivers the records of one group to its action, through the dispatcher
/// (so panics are caught and results published like any call's).
pub(crate) struct SubscriptionHandler {
    group: SubscriptionGroup,
    /// The topic, for topic sources.
    topic: Option<String>,
    dispatch: SharedDispatch,
    /// The action's descriptors, for JSON payloads.
    pool: Option<DescriptorPool>,
}

impl SubscriptionHandler {
    pub(crate) fn new(
        group: SubscriptionGroup,
        topic: Option<String>,
        dispatch: SharedDispatch,
    ) -> SubscriptionHandler {
        let pool = DescriptorPool::decode(group.info.file_descriptor_set).ok();
        SubscriptionHandler {
            group,
            topic,
            dispatch,
            pool,
        }
    }

    fn method(&self, index: usize) -> &'static MethodInfo {
        &self.group.info.methods[index]
    }

    /// A JSON payload as protobuf of the method's input type.
    fn transcode(&self, method: &MethodInfo, payload: &[u8]) -> Result<Bytes, HandlerError> {
        let desc = self
            .pool
            .as_ref()
            .and_then(|pool| pool.get_message_by_name(method.input_type))
            .ok_or_else(|| {
                HandlerError::msg(format!(
                    "no descriptor of {} to decode a JSON message",
                    method.input_type
                ))
            })?;
        let message = crate::http::json::decode_message(desc, payload)?;
        Ok(Bytes::from(prost::Message::encode_to_vec(&message)))
    }

    async fn deliver(&self, record: &FeedRecord) -> Result<(), HandlerError> {
        let (payload, metadata) = match &self.topic {
            Some(topic) => {
                let message = codec::decode_message(&record.payload).map_err(|error| {
                    HandlerError::msg(format!("topic {topic}: undecodable message: {error}"))
                })?;
                let metadata = message
                    .metadata
                    .with("plinth-topic", topic.as_str())
                    .with("plinth-position", record.offset.to_string());
                (message.payload, metadata)
            }
            None => (record.payload.clone(), ce::of_record(record)),
        };
        let type_name = metadata.get(ce::TYPE).unwrap_or("").to_owned();
        let (index, wrap) = match route(&self.group, record.kind, &type_name)? {
            Route::Call(index) => (index, false),
            Route::CallAny(index) => (index, true),
            Route::Drop => return Ok(()),
        };
        let method = self.method(index);
        let json = metadata
            .get(ce::CONTENT_TYPE)
            .is_some_and(|content| content.starts_with(ce::JSON));
        let payload = if record.kind == FeedKind::Delete {
            Bytes::new()
        } else if wrap && json {
            return Err(HandlerError::msg(format!(
                "{}: a JSON message of type {type_name:?} cannot be wrapped in the \
                 google.protobuf.Any that {} takes; mark it `ignore: true` or add a method \
                 taking {type_name}",
                self.group.info.service, method.name
            )));
        } else if wrap {
            let any = prost_types::Any {
                type_url: format!("type.googleapis.com/{type_name}"),
                value: payload.to_vec(),
            };
            Bytes::from(prost::Message::encode_to_vec(&any))
        } else if json {
            self.transcode(method, &payload)?
        } else {
            payload
        };
        deliver_to(&self.dispatch, method.path, payload, metadata).await
    }
}

/// Call `path` and wait for the whole reply (every message of a stream).
async fn deliver_to(
    dispatch: &SharedDispatch,
    path: &str,
    payload: Bytes,
    mut metadata: Metadata,
) -> Result<(), HandlerError> {
    metadata.set_caller(crate::context::Caller::Runtime);
    match dispatch.dispatch(path, payload, metadata).await? {
        ActionReply::Unary(_) => Ok(()),
        ActionReply::Stream(mut stream) => {
            while let Some(item) = stream.next().await {
                item.map_err(HandlerError::Status)?;
            }
            Ok(())
        }
    }
}

impl FeedHandler for SubscriptionHandler {
    fn handle<'a>(&'a self, record: &'a FeedRecord) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let outcome = self.deliver(record).await;
            if let Err(error) = &outcome {
                tracing::warn!(
                    service = self.group.info.service,
                    subject = %record.entity_id,
                    seq = record.seq,
                    %error,
                    "subscription delivery failed; retrying"
                );
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::info::{IdSource, Subscription};

    const fn subscribed(
        name: &'static str,
        input: &'static str,
        source: SourceKind,
        ignore: bool,
        handle_deletes: bool,
    ) -> MethodInfo {
        MethodInfo {
            name,
            path: name,
            input_type: input,
            output_type: "google.protobuf.Empty",
            server_streaming: false,
            client_streaming: false,
            id: IdSource::None,
            http: &[],
            subscribe: Some(Subscription {
                source,
                consumer_group: "",
                ignore,
                ignore_unknown: false,
                handle_deletes,
                handle_snapshots: false,
            }),
            view: None,
            publish: None,
            acl: None,
            jwt: None,
            trigger: None,
        }
    }

    const CARTS: SourceKind = SourceKind::EventSourcedEntity("carts");
    const USERS: SourceKind = SourceKind::ValueEntity("users");

    static METHODS: [MethodInfo; 5] = [
        subscribed("OnAdded", "cart.ItemAdded", CARTS, false, false),
        subscribed("OnRemoved", "cart.ItemRemoved", CARTS, false, false),
        subscribed("IgnoreCheckout", "cart.CheckedOut", CARTS, true, false),
        subscribed("OnUser", "user.User", USERS, false, false),
        subscribed("OnUserDeleted", "google.protobuf.Empty", USERS, false, true),
    ];

    static INFO: ComponentInfo = ComponentInfo {
        kind: ComponentKind::Action,
        name: "Watcher",
        service: "test.Watcher",
        type_id: "",
        state_type: "",
        event_types: &[],
        snapshot_every: 0,
        methods: &METHODS,
        file_descriptor_set: &[],
        json: &[],
    };

    fn group_of(groups: &[SubscriptionGroup], source: SourceKind) -> SubscriptionGroup {
        groups.iter().find(|g| g.source == source).unwrap().clone()
    }

    #[test]
    fn methods_group_by_source_and_events_route_by_type() {
        let groups = plan(&[&INFO]);
        assert_eq!(groups.len(), 2);
        let mut carts = group_of(&groups, CARTS);
        assert_eq!(carts.methods, [0, 1, 2]);
        assert_eq!(
            carts.consumer_name(None),
            "eventing:test.Watcher:event_sourced_entity:carts"
        );
        let event = |group: &SubscriptionGroup, name: &str| route(group, FeedKind::Event, name);
        assert_eq!(event(&carts, "cart.ItemAdded").unwrap(), Route::Call(0));
        assert_eq!(event(&carts, "cart.ItemRemoved").unwrap(), Route::Call(1));
        assert_eq!(event(&carts, "cart.CheckedOut").unwrap(), Route::Drop);
        let unknown = event(&carts, "cart.Renamed").unwrap_err().to_string();
        assert!(
            unknown.contains("cart.Renamed") && unknown.contains("ignore_unknown"),
            "{unknown}"
        );
        carts.ignore_unknown = true;
        assert_eq!(event(&carts, "cart.Renamed").unwrap(), Route::Drop);
    }

    #[test]
    fn a_method_taking_any_catches_what_no_other_takes() {
        static CAUGHT: [MethodInfo; 2] = [
            subscribed("OnAdded", "cart.ItemAdded", CARTS, false, false),
            subscribed("Rest", "google.protobuf.Any", CARTS, false, false),
        ];
        static DROPPED: [MethodInfo; 2] = [
            subscribed("OnAdded", "cart.ItemAdded", CARTS, false, false),
            subscribed("Rest", "google.protobuf.Any", CARTS, true, false),
        ];
        let info = |methods: &'static [MethodInfo]| ComponentInfo { methods, ..INFO };
        let (caught, dropped) = (
            Box::leak(Box::new(info(&CAUGHT))),
            Box::leak(Box::new(info(&DROPPED))),
        );
        let caught = group_of(&plan(&[caught]), CARTS);
        let dropped = group_of(&plan(&[dropped]), CARTS);
        let event = |group: &SubscriptionGroup, name: &str| route(group, FeedKind::Event, name);
        assert_eq!(event(&caught, "cart.ItemAdded").unwrap(), Route::Call(0));
        assert_eq!(event(&caught, "cart.Renamed").unwrap(), Route::CallAny(1));
        assert_eq!(event(&dropped, "cart.ItemAdded").unwrap(), Route::Call(0));
        // `ignore: true` on the catch-all: unmatched events are dropped, not retried.
        assert_eq!(event(&dropped, "cart.Renamed").unwrap(), Route::Drop);
    }

    #[tokio::test]
    async fn one_group_of_one_source_belongs_to_one_action() {
        static GROUPED: [MethodInfo; 1] = [MethodInfo {
            subscribe: Some(Subscription {
                source: USERS,
                consumer_group: "audit",
                ignore: false,
                ignore_unknown: false,
                handle_deletes: false,
                handle_snapshots: false,
            }),
            ..subscribed("OnUser", "user.User", USERS, false, false)
        }];
        static A: ComponentInfo = ComponentInfo {
            service: "test.A",
            methods: &GROUPED,
            ..INFO
        };
        static B: ComponentInfo = ComponentInfo {
            service: "test.B",
            methods: &GROUPED,
            ..INFO
        };
        let groups = plan(&[&A, &B]);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].consumer_name(None),
            "eventing:audit:value_entity:users"
        );
        let dir = tempfile::tempdir().unwrap();
        let storage: std::sync::Arc<dyn crate::storage::Storage> = std::sync::Arc::new(
            crate::storage::SqliteStorage::open(
                dir.path().join("s.db"),
                crate::storage::SqliteOptions::default(),
            )
            .unwrap(),
        );
        struct Nothing;
        impl crate::dispatch::Dispatch for Nothing {
            fn components(&self) -> &[&'static ComponentInfo] {
                &[]
            }
            fn dispatch(
                &self,
                _: &str,
                _: Bytes,
                _: Metadata,
            ) -> BoxFuture<'static, Result<ActionReply, crate::Status>> {
                Box::pin(async { Err(crate::Status::unimplemented("none")) })
            }
        }
        let error = super::super::Eventing::start(
            groups,
            storage,
            None,
            &Default::default(),
            std::sync::Arc::new(Nothing),
            None,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("test.A") && error.contains("test.B") && error.contains("audit"),
            "{error}"
        );
    }

    #[test]
    fn value_entity_changes_and_deletes() {
        let users = group_of(&plan(&[&INFO]), USERS);
        assert_eq!(
            route(&users, FeedKind::State, "user.User").unwrap(),
            Route::Call(3)
        );
        assert_eq!(route(&users, FeedKind::Delete, "").unwrap(), Route::Call(4));
        let mut without_deletes = users.clone();
        without_deletes.methods = vec![3];
        assert_eq!(
            route(&without_deletes, FeedKind::Delete, "").unwrap(),
            Route::Drop
        );
        // One state type: the lone method takes it under any recorded name.
        assert_eq!(
            route(&without_deletes, FeedKind::State, "user.v2.User").unwrap(),
            Route::Call(3)
        );
    }
}
