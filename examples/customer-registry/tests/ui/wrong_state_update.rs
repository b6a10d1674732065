//! A handler that stores a message other than the entity's state.

use customer_registry::customer::api::{
    ChangeAddressRequest, ChangeNameRequest, Customer, CustomerEntity, DeleteCustomerRequest,
    GetCustomerRequest,
};
use customer_registry::customer::domain::CustomerState;
use plinth::{CommandContext, Effect};

struct Registry;

impl CustomerEntity for Registry {
    // The command is not the state: it must be turned into one.
    fn create(&self, _: &CustomerState, command: Customer, _: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::update(command).then_reply(())
    }
    fn get_customer(&self, _: &CustomerState, _: GetCustomerRequest, _: &CommandContext) -> Effect<CustomerState, Customer> {
        Effect::reply(Customer::default())
    }
    fn change_name(&self, _: &CustomerState, _: ChangeNameRequest, _: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::reply(())
    }
    fn change_address(&self, _: &CustomerState, _: ChangeAddressRequest, _: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::reply(())
    }
    fn delete(&self, _: &CustomerState, _: DeleteCustomerRequest, _: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::delete().then_reply(())
    }
}

fn main() {}
