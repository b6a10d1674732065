//! An implementation that forgot a command handler.

use customer_registry::customer::api::{Customer, CustomerEntity};
use customer_registry::customer::domain::CustomerState;
use plinth::{CommandContext, Effect};

struct Registry;

impl CustomerEntity for Registry {
    fn create(&self, _state: &CustomerState, _command: Customer, _ctx: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::reply(())
    }
}

fn main() {}
