//! The benchmark's customer API served by Plinth, so that `bench/run.sh` measures a real Plinth
//! service against the hand-written reference: `bench.CustomerService` (a value entity: upsert
//! and read) and `bench.CustomerJournal` (an event-sourced entity appending one event per
//! command, with a snapshot every 10 events).

plinth::include_protos!();

use bench::{
    Ack, Customer, CustomerLogEntity, CustomerLogEntityEffect, CustomerRecordEntity, EventAck,
    EventRecorded, GetCustomer, JournalState, RecordEvent, UpsertCustomer,
};
use plinth::{CommandContext, Effect, EventEffect, Status};

/// The customer record's handlers: store what is sent, return what is stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerRecord;

impl CustomerRecordEntity for CustomerRecord {
    fn upsert(
        &self,
        _state: &Customer,
        command: UpsertCustomer,
        _ctx: &CommandContext,
    ) -> Effect<Customer, Ack> {
        Effect::update(Customer {
            id: command.id,
            name: command.name,
            email: command.email,
            payload: command.payload,
        })
        .then_reply(Ack {})
    }

    fn get(
        &self,
        state: &Customer,
        _command: GetCustomer,
        ctx: &CommandContext,
    ) -> Effect<Customer, Customer> {
        if state.id.is_empty() {
            return Effect::error(Status::not_found(format!(
                "customer {} does not exist",
                ctx.entity_id()
            )));
        }
        Effect::reply(state.clone())
    }
}

/// The customer journal's handlers: every command records one event.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerLog;

impl CustomerLogEntity for CustomerLog {
    fn record_event(
        &self,
        _state: &JournalState,
        command: RecordEvent,
        _ctx: &CommandContext,
    ) -> CustomerLogEntityEffect<EventAck> {
        EventEffect::emit(EventRecorded {
            kind: command.kind,
            payload: command.payload,
        })
        .then_reply(|state: &JournalState| EventAck { seq: state.events })
    }

    fn apply_event_recorded(&self, state: &mut JournalState, event: &EventRecorded) {
        state.events += 1;
        state.last_kind.clone_from(&event.kind);
        state.last_payload.clone_from(&event.payload);
    }
}
