//! Shared by the `core_*` tests: hand-written components (the end-to-end
//! tests' fixture, one file for both), an in-memory storage, and helpers to
//! start a service on a free port.
#![allow(dead_code, missing_docs)]

#[path = "../../../tests/src/fixture/mod.rs"]
pub mod components;
pub mod queue;
pub mod storage;

use std::sync::Arc;

use bytes::Bytes;
use plinth::component::adapter::ActionReply;
use plinth::dispatch::SharedDispatch;
use plinth::{Config, Metadata, RunningService, Service, Status};
use prost::Message;

pub use components::*;
pub use storage::MemoryStorage;

/// A configuration on a free local port.
pub fn test_config() -> Config {
    Config::default().with_addr("127.0.0.1:0".parse().unwrap())
}

/// The test components.
pub fn test_service() -> Service {
    components::service()
}

/// Start the test components over `storage`.
pub async fn start(storage: Arc<MemoryStorage>, config: Config) -> RunningService {
    test_service()
        .config(config)
        .storage(storage)
        .start()
        .await
        .expect("service starts")
}

/// Start the test components over the SQLite database `path`.
pub async fn start_sqlite(path: &std::path::Path, config: Config) -> RunningService {
    test_service()
        .config(config.with_sqlite(path))
        .start()
        .await
        .expect("service starts")
}

/// Call a unary method in-process and decode its reply.
pub async fn call<R: Message + Default>(
    dispatch: &SharedDispatch,
    path: &str,
    input: &impl Message,
) -> Result<R, Status> {
    match dispatch
        .dispatch(path, Bytes::from(input.encode_to_vec()), Metadata::new())
        .await?
    {
        ActionReply::Unary(bytes) => Ok(R::decode(bytes).expect("reply decodes")),
        ActionReply::Stream(_) => panic!("{path} streamed"),
    }
}

/// `test.Increment`.
pub fn inc(id: &str, by: i64) -> Increment {
    Increment {
        id: id.to_string(),
        by,
    }
}
