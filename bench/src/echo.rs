//! The RPC ceiling: the customer API with no storage, plus a bare echo, over axum and tonic.
//!
//! Requests are parsed and answered with responses of the same shape and size as the reference
//! service's, so each scenario run against it measures what the RPC layer alone can do.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use crate::load::template::payload;
use crate::proto::customer_journal_server::{CustomerJournal, CustomerJournalServer};
use crate::proto::customer_service_server::{CustomerService, CustomerServiceServer};
use crate::proto::echo_server::{Echo, EchoServer};
use crate::proto::{Ack, Customer, EventAck, GetCustomer, RecordEvent, UpsertCustomer};
use crate::reference::CustomerRow;
use crate::reference::http::{EventBody, UpsertBody};

/// The echo service: answers reads with a synthesized customer carrying `payload`.
#[derive(Debug, Clone)]
pub struct EchoService {
    payload: Arc<str>,
}

impl EchoService {
    /// An echo service whose reads return a `payload_size`-byte payload.
    pub fn new(payload_size: usize) -> Self {
        EchoService {
            payload: payload(payload_size).into(),
        }
    }

    fn customer(&self, id: String) -> CustomerRow {
        CustomerRow {
            name: format!("name-{id}"),
            email: format!("{id}@example.com"),
            id,
            payload: self.payload.to_string(),
        }
    }
}

/// HTTP routes: the reference service's routes without storage, and `POST /echo`.
pub fn router(service: EchoService) -> axum::Router {
    axum::Router::new()
        .route(
            "/customers/{id}",
            get(
                |State(s): State<EchoService>, Path(id): Path<String>| async move {
                    Json(s.customer(id))
                },
            )
            .post(upsert)
            .put(upsert),
        )
        .route(
            "/customers/{id}/events",
            post(
                |Path(_id): Path<String>, Json(_body): Json<EventBody>| async {
                    Json(json!({ "seq": 1 }))
                },
            ),
        )
        .route(
            "/echo",
            post(|Json(body): Json<Value>| async { Json(body) }),
        )
        .route("/health", get(|| async { "ok" }))
        .with_state(service)
}

async fn upsert(Path(_id): Path<String>, Json(_body): Json<UpsertBody>) -> Json<Value> {
    Json(json!({}))
}

/// gRPC routes: `bench.CustomerService` and `bench.CustomerJournal` without storage, and `bench.Echo`.
pub fn routes(service: EchoService) -> tonic::service::Routes {
    tonic::service::Routes::new(CustomerServiceServer::new(service.clone()))
        .add_service(CustomerJournalServer::new(service.clone()))
        .add_service(EchoServer::new(service))
}

#[tonic::async_trait]
impl CustomerService for EchoService {
    async fn upsert(&self, _request: Request<UpsertCustomer>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }

    async fn get(&self, request: Request<GetCustomer>) -> Result<Response<Customer>, Status> {
        let row = self.customer(request.into_inner().id);
        Ok(Response::new(Customer {
            id: row.id,
            name: row.name,
            email: row.email,
            payload: row.payload,
        }))
    }
}

#[tonic::async_trait]
impl CustomerJournal for EchoService {
    async fn record_event(
        &self,
        _request: Request<RecordEvent>,
    ) -> Result<Response<EventAck>, Status> {
        Ok(Response::new(EventAck { seq: 1 }))
    }
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<Customer>) -> Result<Response<Customer>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}
