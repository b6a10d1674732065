//! A handler whose reply type is not the rpc's output message.

use customer_registry::customer::api::{
    ChangeAddressRequest, ChangeNameRequest, Customer, CustomerEntity, DeleteCustomerRequest,
    GetCustomerRequest,
};
use customer_registry::customer::domain::CustomerState;
use plinth::{CommandContext, Effect};

struct Registry;

impl CustomerEntity for Registry {
    fn create(&self, _: &CustomerState, _: Customer, _: &CommandContext) -> Effect<CustomerState, ()> {
        Effect::reply(())
    }
    // `GetCustomer` returns `Customer`, not the state.
    fn get_customer(&self, state: &CustomerState, _: GetCustomerRequest, _: &CommandContext) -> Effect<CustomerState, CustomerState> {
        Effect::reply(state.clone())
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
