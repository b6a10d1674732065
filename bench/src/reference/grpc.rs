//! gRPC (`bench.CustomerService`, `bench.CustomerJournal`) of the reference service.

use tonic::{Request, Response, Status};

use super::backend::Backend;
use super::store::CustomerRow;
use crate::proto::customer_journal_server::{CustomerJournal, CustomerJournalServer};
use crate::proto::customer_service_server::{CustomerService, CustomerServiceServer};
use crate::proto::{Ack, Customer, EventAck, GetCustomer, RecordEvent, UpsertCustomer};

/// The gRPC service over a [`Backend`].
#[derive(Debug, Clone)]
pub struct ReferenceGrpc {
    store: Backend,
}

/// The tonic routes of the reference service.
pub fn routes(store: Backend) -> tonic::service::Routes {
    let grpc = ReferenceGrpc { store };
    tonic::service::Routes::new(CustomerServiceServer::new(grpc.clone()))
        .add_service(CustomerJournalServer::new(grpc))
}

fn require_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        Err(Status::invalid_argument("id: must not be empty"))
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl CustomerService for ReferenceGrpc {
    async fn upsert(&self, request: Request<UpsertCustomer>) -> Result<Response<Ack>, Status> {
        let c = request.into_inner();
        require_id(&c.id)?;
        let row = CustomerRow {
            id: c.id,
            name: c.name,
            email: c.email,
            payload: c.payload,
        };
        self.store
            .upsert(row)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(Ack {}))
    }

    async fn get(&self, request: Request<GetCustomer>) -> Result<Response<Customer>, Status> {
        let id = request.into_inner().id;
        require_id(&id)?;
        match self
            .store
            .get(id.clone())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
        {
            Some(row) => Ok(Response::new(Customer {
                id: row.id,
                name: row.name,
                email: row.email,
                payload: row.payload,
            })),
            None => Err(Status::not_found(format!("customer `{id}` not found"))),
        }
    }
}

#[tonic::async_trait]
impl CustomerJournal for ReferenceGrpc {
    async fn record_event(
        &self,
        request: Request<RecordEvent>,
    ) -> Result<Response<EventAck>, Status> {
        let e = request.into_inner();
        require_id(&e.id)?;
        let seq = self
            .store
            .record_event(e.id, e.kind, e.payload)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(EventAck { seq }))
    }
}
