//! A customer registry: one value entity per customer (create, read, change
//! name and address, delete) and two views of every customer: by name, by
//! e-mail, by several e-mails at once (`ANY`) and a paged listing
//! (`CustomerByName`), and by city with live updates (`CustomersByCity`).
//!
//! The views need no code: they store each customer's state as a row, drop
//! the row when the customer is deleted (`handle_deletes`), and their queries
//! are compiled from the proto.

// Generated code included below must compile without a single warning.
#![deny(warnings)]

plinth::include_protos!();

use customer::api::{
    Address, ChangeAddressRequest, ChangeNameRequest, Customer, CustomerEntity,
    DeleteCustomerRequest, GetCustomerRequest,
};
use customer::domain::{self, CustomerState};
use plinth::{CommandContext, Effect, Status};

/// The registry: the customer entity and both views.
pub fn service() -> plinth::Service {
    plinth::Service::new()
        .with(customer::api::CustomerEntityComponent::new(
            CustomerRegistry,
        ))
        .with(customer::view::CustomerByNameView)
        .with(customer::view::CustomersByCityView)
}

/// The registry's business rules for one customer.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerRegistry;

fn to_domain(address: Address) -> domain::Address {
    domain::Address {
        street: address.street,
        city: address.city,
    }
}

fn to_api(address: domain::Address) -> Address {
    Address {
        street: address.street,
        city: address.city,
    }
}

/// Whether the entity holds a registered customer.
fn exists(state: &CustomerState) -> bool {
    !state.customer_id.is_empty()
}

fn not_found(ctx: &CommandContext) -> Status {
    Status::not_found(format!("customer {} is not registered", ctx.entity_id()))
}

fn check_name(name: &str) -> Result<(), Status> {
    if name.trim().is_empty() {
        Err(Status::invalid_argument("name must not be empty"))
    } else {
        Ok(())
    }
}

impl CustomerEntity for CustomerRegistry {
    fn create(
        &self,
        state: &CustomerState,
        command: Customer,
        ctx: &CommandContext,
    ) -> Effect<CustomerState, ()> {
        if exists(state) {
            return Effect::error(Status::already_exists(format!(
                "customer {} already exists",
                ctx.entity_id()
            )));
        }
        if let Err(status) = check_name(&command.name) {
            return Effect::error(status);
        }
        if !command.email.contains('@') {
            return Effect::error(Status::invalid_argument(format!(
                "`{}` is not an e-mail address",
                command.email
            )));
        }
        Effect::update(CustomerState {
            customer_id: command.customer_id,
            email: command.email,
            name: command.name,
            address: command.address.map(to_domain),
        })
        .then_reply(())
    }

    fn get_customer(
        &self,
        state: &CustomerState,
        _command: GetCustomerRequest,
        ctx: &CommandContext,
    ) -> Effect<CustomerState, Customer> {
        if !exists(state) {
            return Effect::error(not_found(ctx));
        }
        let state = state.clone();
        Effect::reply(Customer {
            customer_id: state.customer_id,
            email: state.email,
            name: state.name,
            address: state.address.map(to_api),
        })
    }

    fn change_name(
        &self,
        state: &CustomerState,
        command: ChangeNameRequest,
        ctx: &CommandContext,
    ) -> Effect<CustomerState, ()> {
        if !exists(state) {
            return Effect::error(not_found(ctx));
        }
        if let Err(status) = check_name(&command.new_name) {
            return Effect::error(status);
        }
        Effect::update(CustomerState {
            name: command.new_name,
            ..state.clone()
        })
        .then_reply(())
    }

    fn change_address(
        &self,
        state: &CustomerState,
        command: ChangeAddressRequest,
        ctx: &CommandContext,
    ) -> Effect<CustomerState, ()> {
        if !exists(state) {
            return Effect::error(not_found(ctx));
        }
        let Some(address) = command.new_address else {
            return Effect::error(Status::invalid_argument("new_address is required"));
        };
        Effect::update(CustomerState {
            address: Some(to_domain(address)),
            ..state.clone()
        })
        .then_reply(())
    }

    fn delete(
        &self,
        state: &CustomerState,
        _command: DeleteCustomerRequest,
        ctx: &CommandContext,
    ) -> Effect<CustomerState, ()> {
        if !exists(state) {
            return Effect::error(not_found(ctx));
        }
        Effect::delete().then_reply(())
    }
}

#[cfg(test)]
mod tests {
    use plinth::Code;

    use super::customer::api::CustomerEntityTestKit;
    use super::*;

    fn alice() -> Customer {
        Customer {
            customer_id: "c1".into(),
            email: "alice@example.com".into(),
            name: "Alice".into(),
            address: Some(Address {
                street: "Main 1".into(),
                city: "Springfield".into(),
            }),
        }
    }

    /// A kit holding Alice.
    fn registry() -> CustomerEntityTestKit<CustomerRegistry> {
        let mut kit = CustomerEntityTestKit::with_id("c1", CustomerRegistry);
        assert!(kit.create(alice()).state_was_updated());
        kit
    }

    fn get() -> GetCustomerRequest {
        GetCustomerRequest {
            customer_id: "c1".into(),
        }
    }

    #[test]
    fn create_stores_the_customer() {
        let kit = registry();
        assert_eq!(kit.state().name, "Alice");
        assert_eq!(
            kit.state().address.as_ref().map(|a| a.city.as_str()),
            Some("Springfield")
        );
    }

    #[test]
    fn create_rejects_duplicates_and_bad_input() {
        let mut kit = registry();
        assert_eq!(kit.create(alice()).error().code(), Code::AlreadyExists);

        let mut empty = CustomerEntityTestKit::of(CustomerRegistry);
        let nameless = empty.create(Customer {
            name: " ".into(),
            ..alice()
        });
        assert_eq!(nameless.error().code(), Code::InvalidArgument);
        assert!(!nameless.state_was_updated());
        let bad_email = empty.create(Customer {
            email: "nope".into(),
            ..alice()
        });
        assert_eq!(bad_email.error().code(), Code::InvalidArgument);
        assert!(!empty.exists());
    }

    #[test]
    fn get_returns_the_customer_or_not_found() {
        assert_eq!(registry().get_customer(get()).reply(), &alice());
        let mut empty = CustomerEntityTestKit::of(CustomerRegistry);
        assert_eq!(empty.get_customer(get()).error().code(), Code::NotFound);
    }

    #[test]
    fn changes_update_the_state() {
        let mut kit = registry();
        let renamed = kit.change_name(ChangeNameRequest {
            customer_id: "c1".into(),
            new_name: "Alicia".into(),
        });
        assert_eq!(renamed.state().name, "Alicia");
        assert_eq!(renamed.state().email, "alice@example.com");

        kit.change_address(ChangeAddressRequest {
            customer_id: "c1".into(),
            new_address: Some(Address {
                street: "Elm 2".into(),
                city: "Shelbyville".into(),
            }),
        });
        let address = kit.state().address.clone().expect("address stored");
        assert_eq!(address.city, "Shelbyville");

        let empty = kit.change_address(ChangeAddressRequest {
            customer_id: "c1".into(),
            new_address: None,
        });
        assert_eq!(empty.error().code(), Code::InvalidArgument);
        assert_eq!(kit.get_customer(get()).reply().name, "Alicia");
    }

    #[test]
    fn delete_removes_an_existing_customer() {
        let mut kit = registry();
        let delete = || DeleteCustomerRequest {
            customer_id: "c1".into(),
        };
        assert!(kit.delete(delete()).state_was_deleted());
        assert!(!kit.exists());
        assert_eq!(kit.delete(delete()).error().code(), Code::NotFound);
        assert_eq!(kit.get_customer(get()).error().code(), Code::NotFound);
    }
}
