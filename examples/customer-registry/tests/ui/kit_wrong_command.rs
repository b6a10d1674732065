//! A test kit called with another method's command.

use customer_registry::CustomerRegistry;
use customer_registry::customer::api::{CustomerEntityTestKit, GetCustomerRequest};

fn main() {
    let mut kit = CustomerEntityTestKit::of(CustomerRegistry);
    kit.create(GetCustomerRequest { customer_id: "c1".into() });
}
