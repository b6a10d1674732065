//! Direct event streams between services, with no broker of their own.
//!
//! A producing service's action declares a stream (`direct_stream`, Kalix's
//! `eventing.out.direct`): each result of its methods is published to the
//! service's topic backend under [`topic_of`] the stream, with CloudEvents
//! attributes (its `ce-subject` the entity it is about), and the service
//! serves the stream at `GET /plinth.direct/{stream}?after=N&limit=M&wait_ms=W`
//! on its own port: the messages after position `N`, waiting up to `W` ms
//! for one when there are none yet, answered as a protobuf [`Batch`]. The
//! producing methods' ACL decides who may read it (another service by its
//! client certificate, as for calls).
//!
//! A consuming service subscribes with `direct: { service event_stream_id }`
//! (Kalix's `eventing.in.direct`) and finds the producer's address in
//! `PLINTH_DIRECT_SERVICES` (`name=http://host:port,...`). Its consumer
//! reads the stream as a change feed ([`DirectFeed`]) with the offsets stored
//! in its own storage — at least once, in per-subject order, resumed after a
//! restart from the stored offset, like a topic subscription.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use prost::Message;

use super::codec;
use super::topics::Topics;
use crate::component::info::{ComponentInfo, MethodInfo};
use crate::storage::{FeedKind, FeedRecord, FeedSource, StorageError, StorageResult};

/// The topic prefix of the direct streams a service produces (the
/// generator sets it as the producing methods' `publish`).
const TOPIC_PREFIX: &str = "plinth-direct.";
/// The longest a read waits for a message.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// The most messages one read returns.
const MAX_BATCH: usize = 1000;

/// The topic stream `stream` is kept in.
pub(crate) fn topic_of(stream: &str) -> String {
    format!("{TOPIC_PREFIX}{stream}")
}

/// One message of a stream, at its position.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Entry {
    #[prost(uint64, tag = "1")]
    position: u64,
    /// The message (attributes and payload) in the topic codec's form.
    #[prost(bytes = "bytes", tag = "2")]
    message: Bytes,
}

/// What one read of a stream answers.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Batch {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<Entry>,
}

/// Parse `PLINTH_DIRECT_SERVICES`: `name=http://host:port` entries separated
/// by commas.
pub fn parse_direct_services(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut services = BTreeMap::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, url)) = entry.split_once('=') else {
            return Err(format!("`{entry}` is not `name=http://host:port`"));
        };
        let url = url.trim().trim_end_matches('/');
        if !url.starts_with("http://") {
            return Err(format!(
                "`{url}` (service {name}): direct streams are read over plain http:// (put the services on a private network)"
            ));
        }
        services.insert(name.trim().to_owned(), url.to_owned());
    }
    Ok(services)
}

/// The streams `components` produce, each with the methods publishing to it
/// (whose ACL guards it).
fn produced(components: &[&'static ComponentInfo]) -> BTreeMap<String, &'static MethodInfo> {
    let mut streams = BTreeMap::new();
    for method in components.iter().flat_map(|c| c.methods.iter()) {
        if let Some(stream) = method
            .publish
            .and_then(|topic| topic.strip_prefix(TOPIC_PREFIX))
        {
            streams.entry(stream.to_owned()).or_insert(method);
        }
    }
    streams
}

/// The producer's route, when `components` produce a stream (and a topic
/// backend keeps it).
pub(crate) fn router(
    components: &[&'static ComponentInfo],
    topics: Option<Arc<dyn Topics>>,
) -> Option<axum::Router> {
    let streams = produced(components);
    let topics = topics?;
    if streams.is_empty() {
        return None;
    }
    let streams = Arc::new(streams);
    Some(
        axum::Router::new().route(
            "/plinth.direct/{stream}",
            get(
                move |Path(stream): Path<String>,
                      Query(read): Query<ReadParams>,
                      parts: axum::http::request::Parts| {
                    let (streams, topics) = (streams.clone(), topics.clone());
                    let caller =
                        crate::server::calling_service(&parts.extensions).map(str::to_owned);
                    async move {
                        serve(&streams, topics.as_ref(), &stream, read, caller.as_deref()).await
                    }
                },
            ),
        ),
    )
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ReadParams {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    wait_ms: u64,
}

async fn serve(
    streams: &BTreeMap<String, &'static MethodInfo>,
    topics: &dyn Topics,
    stream: &str,
    read: ReadParams,
    caller: Option<&str>,
) -> Response {
    let Some(method) = streams.get(stream) else {
        let status = crate::status::Status::not_found(format!(
            "this service has no direct stream {stream:?}"
        ));
        return crate::http::error_response(&status);
    };
    if let Err(status) = crate::acl::check(method, caller) {
        return crate::http::error_response(&status);
    }
    let topic = topic_of(stream);
    let limit = read.limit.unwrap_or(MAX_BATCH).clamp(1, MAX_BATCH);
    let deadline = Instant::now() + Duration::from_millis(read.wait_ms).min(MAX_WAIT);
    let mut watch = topics.watch(&topic);
    loop {
        let messages = match topics.read(&topic, read.after, limit).await {
            Ok(messages) => messages,
            Err(error) => {
                let status = crate::status::Status::unavailable(format!(
                    "the stream cannot be read: {error}"
                ));
                return crate::http::error_response(&status);
            }
        };
        if !messages.is_empty() || Instant::now() >= deadline {
            let batch = Batch {
                entries: messages
                    .iter()
                    .map(|stored| Entry {
                        position: stored.position,
                        message: codec::encode_message(&stored.message),
                    })
                    .collect(),
            };
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/protobuf")],
                batch.encode_to_vec(),
            )
                .into_response();
        }
        // Nothing yet: wait for a publish here, or poll (other processes).
        let pause =
            Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now()));
        match watch.as_mut() {
            Some(watch) => {
                let _ = tokio::time::timeout(pause, watch.changed()).await;
            }
            None => tokio::time::sleep(pause).await,
        }
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<Bytes>,
>;

/// Another service's direct stream read as a change feed (its records have
/// the shape of a topic feed's: the whole message as the payload, the
/// subject as the entity).
pub(crate) struct DirectFeed {
    client: Client,
    base: String,
    stream: String,
    type_id: String,
}

impl DirectFeed {
    /// The stream `stream` of the service at `base` (`http://host:port`).
    pub(crate) fn new(base: &str, service: &str, stream: &str) -> DirectFeed {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        DirectFeed {
            client,
            base: base.to_owned(),
            stream: stream.to_owned(),
            type_id: format!("direct:{service}/{stream}"),
        }
    }

    async fn fetch(&self, after: u64, limit: usize) -> StorageResult<Batch> {
        let transient = |what: &str, error: &dyn std::fmt::Display| {
            StorageError::Transient(format!(
                "direct stream {} at {}: {what}: {error}",
                self.stream, self.base
            ))
        };
        let uri: http::Uri = format!(
            "{}/plinth.direct/{}?after={after}&limit={limit}&wait_ms=1000",
            self.base, self.stream
        )
        .parse()
        .map_err(|e| StorageError::Backend(format!("invalid direct stream address: {e}")))?;
        let response =
            tokio::time::timeout(MAX_WAIT + Duration::from_secs(5), self.client.get(uri))
                .await
                .map_err(|_| transient("no answer", &"timed out"))?
                .map_err(|e| transient("cannot connect", &e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transient("cannot read the answer", &e))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(transient(&format!("refused with {status}"), &text));
        }
        Batch::decode(body).map_err(|e| transient("an undecodable answer", &e))
    }
}

impl FeedSource for DirectFeed {
    fn read_feed<'a>(
        &'a self,
        after: u64,
        _type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>> {
        Box::pin(async move {
            let batch = self.fetch(after, limit).await?;
            batch
                .entries
                .into_iter()
                .map(|entry| {
                    let message = codec::decode_message(&entry.message).map_err(|e| {
                        StorageError::Backend(format!(
                            "direct stream {}: an undecodable message: {e}",
                            self.stream
                        ))
                    })?;
                    Ok(FeedRecord {
                        offset: entry.position,
                        type_id: self.type_id.clone(),
                        entity_id: message.subject().to_owned(),
                        seq: entry.position,
                        kind: FeedKind::Event,
                        type_name: message
                            .metadata
                            .get(super::cloudevents::TYPE)
                            .unwrap_or("")
                            .to_owned(),
                        payload: entry.message,
                        // The message's own metadata carries its trace context.
                        trace: None,
                    })
                })
                .collect()
        })
    }
}

/// The feed of `service`'s stream `stream`, its address looked up in `services`.
pub(crate) fn feed(
    services: &BTreeMap<String, String>,
    service: &str,
    stream: &str,
) -> Result<(String, Arc<dyn FeedSource>), String> {
    let service = super::template::expand_env(service).map_err(|e| e.to_string())?;
    let base = services.get(&service).ok_or_else(|| {
        format!("no address for service {service:?}: set PLINTH_DIRECT_SERVICES={service}=http://host:port")
    })?;
    let feed = DirectFeed::new(base, &service, stream);
    let type_id = feed.type_id.clone();
    Ok((type_id, Arc::new(feed)))
}

#[cfg(test)]
mod tests {
    use super::parse_direct_services;

    #[test]
    fn service_addresses_are_names_and_http_urls() {
        let services =
            parse_direct_services(" shop=http://10.0.0.5:9000/ , billing=http://b:1").unwrap();
        assert_eq!(services["shop"], "http://10.0.0.5:9000");
        assert_eq!(services["billing"], "http://b:1");
        assert!(parse_direct_services("").unwrap().is_empty());
        let missing = parse_direct_services("shop").unwrap_err();
        assert!(missing.contains("name=http://host:port"), "{missing}");
        let tls = parse_direct_services("shop=https://x:1").unwrap_err();
        assert!(tls.contains("plain http://"), "{tls}");
    }
}
