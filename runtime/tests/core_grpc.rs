//! The gRPC front door over a real socket with a tonic client: unary and
//! server-streaming calls, metadata, errors, reflection, health, the
//! concurrency limit and graceful shutdown.

mod core_support;

use std::sync::Arc;
use std::time::Duration;

use core_support::*;
use http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

async fn channel(service: &plinth::RunningService) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
        .unwrap()
        .connect()
        .await
        .expect("connects")
}

async fn unary<Q, R>(
    channel: &Channel,
    path: &'static str,
    request: tonic::Request<Q>,
) -> Result<R, tonic::Status>
where
    Q: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.unwrap();
    let reply = client
        .unary(
            request,
            PathAndQuery::from_static(path),
            ProstCodec::<Q, R>::default(),
        )
        .await?;
    Ok(reply.into_inner())
}

#[tokio::test]
async fn unary_and_streaming_calls_reach_their_handlers() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let channel = channel(&service).await;

    let state: CounterState = unary(
        &channel,
        "/test.Counter/Increment",
        tonic::Request::new(inc("g1", 2)),
    )
    .await
    .unwrap();
    assert_eq!(state.value, 2);
    let state: CounterState = unary(
        &channel,
        "/test.Counter/Get",
        tonic::Request::new(inc("g1", 0)),
    )
    .await
    .unwrap();
    assert_eq!((state.value, state.id.as_str()), (2, "g1"));

    let mut request = tonic::Request::new(EchoRequest {
        text: "hi from ".into(),
        count: 0,
    });
    request
        .metadata_mut()
        .insert("x-caller", "tests".parse().unwrap());
    let reply: EchoReply = unary(&channel, "/test.Echo/Say", request).await.unwrap();
    assert_eq!(reply.text, "hi from tests", "metadata reaches the handler");

    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.unwrap();
    let mut stream = client
        .server_streaming(
            tonic::Request::new(EchoRequest {
                text: "n".into(),
                count: 3,
            }),
            PathAndQuery::from_static("/test.Echo/Repeat"),
            ProstCodec::<EchoRequest, EchoReply>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let mut texts = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        texts.push(reply.text);
    }
    assert_eq!(texts, ["n #0", "n #1", "n #2"]);
    service.shutdown().await;
}

#[tokio::test]
async fn errors_keep_their_codes() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let channel = channel(&service).await;

    let error = unary::<_, CounterState>(
        &channel,
        "/test.Counter/Increment",
        tonic::Request::new(inc("e", -1)),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert_eq!(error.message(), "by must not be negative");

    let error = unary::<_, CounterState>(
        &channel,
        "/test.Counter/Nope",
        tonic::Request::new(inc("e", 1)),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);

    let error = unary::<_, CounterState>(
        &channel,
        "/test.Counter/Explode",
        tonic::Request::new(inc("e", 1)),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Internal);
    assert!(
        error.message().contains("correlation id"),
        "{}",
        error.message()
    );
    let state: CounterState = unary(
        &channel,
        "/test.Counter/Increment",
        tonic::Request::new(inc("e", 1)),
    )
    .await
    .unwrap();
    assert_eq!(state.value, 1, "the server keeps serving after a panic");
    service.shutdown().await;
}

#[tokio::test]
async fn reflection_lists_and_describes_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let mut client = ServerReflectionClient::new(channel(&service).await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("test.Counter".to_string()),
    ]
    .map(|message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    });
    let mut responses = client
        .server_reflection_info(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner();

    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "test.Counter",
            "test.Echo",
            "test.EsCounter"
        ]
    );
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected file descriptors")
    };
    let file = <prost_types::FileDescriptorProto as prost::Message>::decode(
        files.file_descriptor_proto[0].as_slice(),
    )
    .unwrap();
    assert_eq!(file.name(), "fixture.proto");

    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let mut alpha = AlphaClient::new(channel(&service).await);
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let mut responses = alpha
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(AlphaResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    assert!(list.service.iter().any(|s| s.name == "test.Echo"));
    service.shutdown().await;
}

#[tokio::test]
async fn health_reports_every_service_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let mut client = HealthClient::new(channel(&service).await);
    for name in ["", "test.Counter", "test.EsCounter", "test.Echo"] {
        let reply = client
            .check(HealthCheckRequest {
                service: name.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "service {name:?}");
    }
    let error = client
        .check(HealthCheckRequest {
            service: "test.Unknown".to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::NotFound);
    service.shutdown().await;
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_are_refused() {
    let mut config = test_config();
    config.max_concurrency = 1;
    let service = start(Arc::new(MemoryStorage::default()), config).await;
    let channel = channel(&service).await;
    let slow = {
        let channel = channel.clone();
        tokio::spawn(async move {
            unary::<_, EchoReply>(
                &channel,
                "/test.Echo/Slow",
                tonic::Request::new(EchoRequest {
                    text: "s".into(),
                    count: 500,
                }),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let error = unary::<_, EchoReply>(
        &channel,
        "/test.Echo/Say",
        tonic::Request::new(EchoRequest::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::ResourceExhausted);
    assert_eq!(slow.await.unwrap().unwrap().text, "s");
    let reply: EchoReply = unary(
        &channel,
        "/test.Echo/Say",
        tonic::Request::new(EchoRequest {
            text: "ok".into(),
            count: 0,
        }),
    )
    .await
    .unwrap();
    assert_eq!(reply.text, "ok", "capacity returns once the slow call ends");
    service.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let addr = service.local_addr();
    let channel = channel(&service).await;
    let slow = tokio::spawn(async move {
        unary::<_, EchoReply>(
            &channel,
            "/test.Echo/Slow",
            tonic::Request::new(EchoRequest {
                text: "done".into(),
                count: 300,
            }),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    service.shutdown().await;
    assert_eq!(
        slow.await
            .unwrap()
            .expect("the in-flight call completes")
            .text,
        "done"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting connections"
    );
}

fn relay(text: &str, count: u32) -> tonic::Request<EchoRequest> {
    tonic::Request::new(EchoRequest {
        text: text.to_string(),
        count,
    })
}

#[tokio::test]
async fn actions_call_other_components_through_their_context() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let channel = channel(&service).await;

    let calls = (0..20).map(|_| {
        let channel = channel.clone();
        async move { unary::<_, EchoReply>(&channel, "/test.Echo/Relay", relay("r1", 2)).await }
    });
    let replies = futures::future::try_join_all(calls).await.unwrap();
    let mut seen: Vec<i64> = replies.iter().map(|r| r.text.parse().unwrap()).collect();
    seen.sort_unstable();
    assert!(
        seen.iter().all(|v| v % 2 == 0 && (2..=40).contains(v)),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&40),
        "every relayed increment counted once"
    );
    let state: CounterState = unary(
        &channel,
        "/test.Counter/Get",
        tonic::Request::new(inc("r1", 0)),
    )
    .await
    .unwrap();
    assert_eq!(state.value, 40);

    for (target, code) in [
        // The entity refuses a negative increment: its error comes back as is.
        ("/test.Counter/Increment", tonic::Code::InvalidArgument),
        ("/test.Nope/Nothing", tonic::Code::Unimplemented),
        // A streaming method cannot be awaited as one reply.
        ("/test.Echo/Repeat", tonic::Code::InvalidArgument),
        // The callee's panic is its own INTERNAL, not the caller's.
        ("/test.Counter/Explode", tonic::Code::Internal),
    ] {
        let error = unary::<_, EchoReply>(&channel, "/test.Echo/Relay", relay(target, 0))
            .await
            .unwrap_err();
        assert_eq!(error.code(), code, "{target}: {}", error.message());
    }
    service.shutdown().await;
}

#[tokio::test]
async fn a_context_outside_a_service_cannot_call() {
    let ctx = plinth::ActionContext::new(plinth::Metadata::new());
    let call = plinth::DeferredCall::<CounterState>::new("/test.Counter/Get", Default::default());
    let error = ctx.call(call).await.unwrap_err();
    assert_eq!(error.code(), plinth::Code::FailedPrecondition);
    assert!(
        error.message().contains("/test.Counter/Get"),
        "{}",
        error.message()
    );
}
