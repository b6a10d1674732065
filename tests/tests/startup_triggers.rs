//! Startup triggers over a real service: a method marked to run at startup
//! is called once per start, a failure is retried with backoff until it
//! succeeds, and a method that keeps failing is given up after its retries.
//! Each call counts itself on a fixture counter, so the counts are durable
//! and read back over HTTP.

use std::sync::LazyLock;
use std::time::Duration;

use futures::FutureExt;
use plinth::codegen::*;
use plinth::{Config, RunningService};
use plinth_tests::fixture::{CounterState, Increment};
use prost_types::{
    DescriptorProto, FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto,
    ServiceDescriptorProto,
};
use serde_json::{Value, json};

const fn triggered(name: &'static str, path: &'static str, max_retries: u32) -> MethodInfo {
    MethodInfo {
        name,
        path,
        input_type: "boot.Note",
        output_type: "boot.Note",
        server_streaming: false,
        client_streaming: false,
        id: IdSource::None,
        http: &[],
        subscribe: None,
        view: None,
        publish: None,
        acl: None,
        jwt: None,
        trigger: Some(Trigger { max_retries }),
    }
}

/// `WarmUp` fails until it has been called three times (two retries);
/// `Doomed` always fails and may be retried once.
static METHODS: [MethodInfo; 2] = [
    triggered("WarmUp", "/boot.Boot/WarmUp", 5),
    triggered("Doomed", "/boot.Boot/Doomed", 1),
];

static DESCRIPTORS: LazyLock<&'static [u8]> = LazyLock::new(|| {
    let file = FileDescriptorProto {
        name: Some("boot/boot.proto".into()),
        package: Some("boot".into()),
        syntax: Some("proto3".into()),
        message_type: vec![DescriptorProto {
            name: Some("Note".into()),
            ..Default::default()
        }],
        service: vec![ServiceDescriptorProto {
            name: Some("Boot".into()),
            method: METHODS
                .iter()
                .map(|m| MethodDescriptorProto {
                    name: Some(m.name.into()),
                    input_type: Some(".boot.Note".into()),
                    output_type: Some(".boot.Note".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    Box::leak(
        FileDescriptorSet { file: vec![file] }
            .encode_to_vec()
            .into_boxed_slice(),
    )
});

static INFO: LazyLock<ComponentInfo> = LazyLock::new(|| ComponentInfo {
    kind: ComponentKind::Action,
    name: "Boot",
    service: "boot.Boot",
    type_id: "",
    state_type: "",
    event_types: &[],
    snapshot_every: 0,
    methods: &METHODS,
    file_descriptor_set: *DESCRIPTORS,
    json: &[],
});

/// The triggered action: counts each call on counter `<method>-calls`.
struct Boot;

impl ActionAdapter for Boot {
    fn info(&self) -> &'static ComponentInfo {
        &INFO
    }

    fn call(
        &self,
        method: usize,
        _payload: Bytes,
        ctx: ActionContext,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        async move {
            let name = METHODS[method].name;
            if ctx.caller() != plinth::context::Caller::Runtime {
                return Err(Status::permission_denied("for the runtime only"));
            }
            let increment = Increment {
                id: format!("{name}-calls"),
                by: 1,
            };
            let counted: CounterState = ctx
                .call(DeferredCall::<CounterState>::new(
                    "/test.Counter/Increment",
                    encode(&increment),
                ))
                .await?;
            match name {
                "WarmUp" if counted.value >= 3 => Ok(ActionReply::Unary(Bytes::new())),
                _ => Err(Status::unavailable(format!("{name} is not ready"))),
            }
        }
        .boxed()
    }
}

async fn start(db: &std::path::Path) -> RunningService {
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(db);
    plinth_tests::fixture::service()
        .with(Registration::action(Boot))
        .config(config)
        .start()
        .await
        .expect("the service starts")
}

async fn calls(http: &reqwest::Client, service: &RunningService, method: &str) -> i64 {
    let reply: Value = http
        .post(format!("http://{}/test.Counter/Get", service.local_addr()))
        .json(&json!({"id": format!("{method}-calls")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["value"].as_str().map_or_else(
        || reply["value"].as_i64().unwrap_or(0),
        |text| text.parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_methods_run_once_per_start_with_retries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let http = reqwest::Client::new();

    let service = start(&db).await;
    // Two failures, then success: three calls, 0.5 s and 1 s apart.
    plinth_tests::views::eventually("WarmUp to succeed on its third call", || {
        let (http, service) = (&http, &service);
        async move { (calls(http, service, "WarmUp").await == 3).then_some(()) }
    })
    .await;
    plinth_tests::views::eventually("Doomed to be called and retried once", || {
        let (http, service) = (&http, &service);
        async move { (calls(http, service, "Doomed").await == 2).then_some(()) }
    })
    .await;
    // Longer than the next backoff (1 s): nothing is called again.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        calls(&http, &service, "WarmUp").await,
        3,
        "a success ends the trigger"
    );
    assert_eq!(
        calls(&http, &service, "Doomed").await,
        2,
        "given up after max_retries"
    );
    service.shutdown().await;

    // A new start runs the triggers again: WarmUp now succeeds at once.
    let service = start(&db).await;
    plinth_tests::views::eventually("WarmUp to run at the second start", || {
        let (http, service) = (&http, &service);
        async move { (calls(http, service, "WarmUp").await == 4).then_some(()) }
    })
    .await;
    plinth_tests::views::eventually("Doomed to run twice more", || {
        let (http, service) = (&http, &service);
        async move { (calls(http, service, "Doomed").await == 4).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(calls(&http, &service, "WarmUp").await, 4);
    service.shutdown().await;
}
