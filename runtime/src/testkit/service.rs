//! The service test harness: the real service, started in this process on
//! an ephemeral loopback port with a temporary SQLite database (or a given
//! storage URL) and in-memory topics, called over real sockets — gRPC with
//! the generated clients' calls, HTTP/JSON with [`TestService::http`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::grpc::{GrpcClient, ReplyStream};
use super::outbound::Published;
use crate::clock::Clock;
use crate::config::{Config, StorageTarget};
use crate::context::Metadata;
use crate::effect::DeferredCall;
use crate::eventing::publisher::{Origin, Publisher};
use crate::eventing::topics::MemoryTopics;
use crate::service::{RunningService, Service, ServiceResult};
use crate::status::Status;
use crate::streaming_call::StreamingCall;

/// A change to the configuration before the start.
type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// How a [`TestService`] starts: see [`TestService::builder`].
#[must_use = "start the service with .start().await"]
pub struct TestServiceBuilder {
    service: Service,
    storage: Option<StorageTarget>,
    clock: Option<Arc<dyn Clock>>,
    configure: Vec<Configure>,
}

impl std::fmt::Debug for TestServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServiceBuilder")
            .field("service", &self.service)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl TestServiceBuilder {
    /// Store state at this storage URL (`postgres://…`) instead of a
    /// temporary SQLite file.
    ///
    /// # Panics
    /// When the URL is not a storage URL.
    pub fn storage_url(mut self, url: &str) -> TestServiceBuilder {
        let target = StorageTarget::parse(url)
            .unwrap_or_else(|expected| panic!("{url:?} is not a storage URL: expected {expected}"));
        self.storage = Some(target);
        self
    }

    /// Run the service on this clock (a [`ManualClock`](crate::ManualClock)
    /// makes timers fire when the test moves it).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> TestServiceBuilder {
        self.clock = Some(clock);
        self
    }

    /// Change the configuration before the start (the address, storage
    /// and topics are the harness's).
    pub fn configure(
        mut self,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> TestServiceBuilder {
        self.configure.push(Box::new(configure));
        self
    }

    /// Start the service.
    pub async fn start(self) -> ServiceResult<TestService> {
        let dir = tempfile::tempdir().map_err(|error| crate::ServiceError::Storage {
            target: "a temporary directory".to_owned(),
            message: error.to_string(),
        })?;
        let mut config = Config {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_path_buf(),
            storage: StorageTarget::Sqlite(dir.path().join("plinth.db")),
            shutdown_grace: Duration::from_secs(5),
            log: "warn".to_owned(),
            ..Config::default()
        };
        for configure in self.configure {
            configure(&mut config);
        }
        config.addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        if let Some(storage) = self.storage {
            config.storage = storage;
        }
        let topics = Arc::new(MemoryTopics::new());
        let clock = self.clock.unwrap_or_else(crate::clock::system);
        let service = self
            .service
            .config(config)
            .topics(topics.clone())
            .clock(clock.clone());
        let running = service.start().await?;
        let base = format!("http://{}", running.local_addr());
        Ok(TestService {
            running,
            publisher: Publisher::new(topics.clone(), clock),
            topics,
            grpc: GrpcClient::new(base.clone()),
            base,
            _dir: dir,
        })
    }
}

/// A service running in this process for a test (see the module doc).
#[derive(Debug)]
pub struct TestService {
    running: RunningService,
    topics: Arc<MemoryTopics>,
    publisher: Publisher,
    base: String,
    grpc: GrpcClient,
    _dir: tempfile::TempDir,
}

impl TestService {
    /// Start `service` with a temporary SQLite database and in-memory topics.
    pub async fn start(service: Service) -> ServiceResult<TestService> {
        TestService::builder(service).start().await
    }

    /// Start `service` with other storage, a clock or configuration.
    pub fn builder(service: Service) -> TestServiceBuilder {
        TestServiceBuilder {
            service,
            storage: None,
            clock: None,
            configure: Vec::new(),
        }
    }

    /// The service's base URL (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The running service.
    pub fn running(&self) -> &RunningService {
        &self.running
    }

    /// Make a call over gRPC, as an external client would:
    /// `service.call(CustomerServiceClient::create(request)).await`.
    pub async fn call<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
    ) -> Result<R, Status> {
        self.call_with(call, Metadata::new()).await
    }

    /// Make a call over gRPC with request metadata (e.g. `authorization`).
    pub async fn call_with<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
        metadata: Metadata,
    ) -> Result<R, Status> {
        let reply = self
            .grpc
            .unary(call.path(), call.payload().clone(), &metadata)
            .await?;
        super::grpc::decode(call.path(), reply)
    }

    /// Make a server-streaming call over gRPC (a view's `stream_updates`
    /// query, a streaming action method), as an external client would:
    /// `service.stream(CustomersByCityClient::watch(request)).await?`.
    pub async fn stream<R: prost::Message + Default>(
        &self,
        call: StreamingCall<R>,
    ) -> Result<ReplyStream<R>, Status> {
        self.stream_with(call, Metadata::new()).await
    }

    /// Make a server-streaming call over gRPC with request metadata.
    pub async fn stream_with<R: prost::Message + Default>(
        &self,
        call: StreamingCall<R>,
        metadata: Metadata,
    ) -> Result<ReplyStream<R>, Status> {
        let replies = self
            .grpc
            .server_streaming(call.path(), call.payload().clone(), &metadata)
            .await?;
        Ok(ReplyStream::new(call.path(), replies))
    }

    /// An HTTP/JSON request: `method` (`GET`, `POST`, ...) to `path` with
    /// an optional JSON body; the status and the parsed JSON reply
    /// (`null` for an empty body).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let reply = super::http::request(&self.base, method, path, body, &[]).await;
        (reply.status, reply.body)
    }

    /// An HTTP/JSON request with extra headers (e.g. `authorization`); the
    /// whole reply.
    pub async fn http_with(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> super::HttpReply {
        super::http::request(&self.base, method, path, body, headers).await
    }

    /// Push `message` into `topic`, as another service publishing it would
    /// (CloudEvents attributes set, `ce-subject` from `subject`); the
    /// service's subscriptions to the topic receive it.
    pub async fn publish<M: prost::Message + prost::Name>(
        &self,
        topic: &str,
        message: &M,
        subject: Option<&str>,
    ) {
        let incoming =
            subject.map_or_else(Metadata::new, |s| Metadata::new().with("ce-subject", s));
        let origin = Origin {
            source: "plinth.testkit",
            ce_type: &M::full_name(),
            incoming: &incoming,
            keep_id: false,
            content_type: "application/protobuf",
        };
        let payload = Bytes::from(message.encode_to_vec());
        if let Err(status) = self.publisher.publish(topic, origin, payload).await {
            panic!("cannot publish to {topic}: {}", status.message());
        }
    }

    /// Every message published to `topic` so far, in order (by the service,
    /// or by [`TestService::publish`]).
    pub fn published(&self, topic: &str) -> Vec<Published> {
        self.topics
            .messages(topic)
            .into_iter()
            .map(|message| Published::of(topic, message))
            .collect()
    }

    /// Wait (up to `within`) until `topic` has exactly one message more
    /// than `seen`, and return it decoded as `T`.
    ///
    /// # Panics
    /// When none comes in time, or it is not a `T`.
    pub async fn expect_one<T: prost::Message + Default>(
        &self,
        topic: &str,
        seen: usize,
        within: Duration,
    ) -> T {
        let published = super::eventually(within, || async {
            let all = self.published(topic);
            match all.len().checked_sub(seen) {
                Some(1) => Ok(all[seen].clone()),
                _ => Err(format!(
                    "{} message(s) on {topic}, {seen} seen before",
                    all.len()
                )),
            }
        })
        .await;
        published.payload_as()
    }

    /// The topic backend (in memory).
    pub fn topics(&self) -> &Arc<MemoryTopics> {
        &self.topics
    }

    /// Stop the service.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
