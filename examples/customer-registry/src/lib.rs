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
    use plinth::codegen::{Code, ValueEntityAdapter};

    use super::customer::api::CustomerEntityComponent;
    use super::*;

    fn ctx() -> CommandContext {
        CommandContext::new("c1")
    }

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

    fn created() -> CustomerState {
        let effect = CustomerRegistry.create(&CustomerState::default(), alice(), &ctx());
        effect
            .updated_state()
            .cloned()
            .expect("create stores the customer")
    }

    #[test]
    fn create_stores_the_customer() {
        let state = created();
        assert_eq!(state.name, "Alice");
        assert_eq!(
            state.address.as_ref().map(|a| a.city.as_str()),
            Some("Springfield")
        );
    }

    #[test]
    fn create_rejects_duplicates_and_bad_input() {
        let again = CustomerRegistry.create(&created(), alice(), &ctx());
        assert_eq!(
            again.error_status().map(Status::code),
            Some(Code::AlreadyExists)
        );

        let nameless = CustomerRegistry.create(
            &CustomerState::default(),
            Customer {
                name: " ".into(),
                ..alice()
            },
            &ctx(),
        );
        assert_eq!(
            nameless.error_status().map(Status::code),
            Some(Code::InvalidArgument)
        );
        assert!(nameless.updated_state().is_none());

        let bad_email = CustomerRegistry.create(
            &CustomerState::default(),
            Customer {
                email: "nope".into(),
                ..alice()
            },
            &ctx(),
        );
        assert_eq!(
            bad_email.error_status().map(Status::code),
            Some(Code::InvalidArgument)
        );
    }

    #[test]
    fn get_returns_the_customer_or_not_found() {
        let effect = CustomerRegistry.get_customer(
            &created(),
            GetCustomerRequest {
                customer_id: "c1".into(),
            },
            &ctx(),
        );
        assert_eq!(effect.reply_message(), Some(&alice()));

        let missing = CustomerRegistry.get_customer(
            &CustomerState::default(),
            GetCustomerRequest {
                customer_id: "c1".into(),
            },
            &ctx(),
        );
        assert_eq!(
            missing.error_status().map(Status::code),
            Some(Code::NotFound)
        );
    }

    #[test]
    fn changes_update_the_state() {
        let renamed = CustomerRegistry.change_name(
            &created(),
            ChangeNameRequest {
                customer_id: "c1".into(),
                new_name: "Alicia".into(),
            },
            &ctx(),
        );
        assert_eq!(
            renamed.updated_state().map(|s| s.name.as_str()),
            Some("Alicia")
        );
        assert_eq!(
            renamed.updated_state().map(|s| s.email.as_str()),
            Some("alice@example.com")
        );

        let moved = CustomerRegistry.change_address(
            &created(),
            ChangeAddressRequest {
                customer_id: "c1".into(),
                new_address: Some(Address {
                    street: "Elm 2".into(),
                    city: "Shelbyville".into(),
                }),
            },
            &ctx(),
        );
        let address = moved
            .updated_state()
            .and_then(|s| s.address.clone())
            .expect("address stored");
        assert_eq!(address.city, "Shelbyville");

        let empty = CustomerRegistry.change_address(
            &created(),
            ChangeAddressRequest {
                customer_id: "c1".into(),
                new_address: None,
            },
            &ctx(),
        );
        assert_eq!(
            empty.error_status().map(Status::code),
            Some(Code::InvalidArgument)
        );
    }

    #[test]
    fn delete_removes_an_existing_customer() {
        let deleted = CustomerRegistry.delete(
            &created(),
            DeleteCustomerRequest {
                customer_id: "c1".into(),
            },
            &ctx(),
        );
        assert!(deleted.is_delete());
        let missing = CustomerRegistry.delete(
            &CustomerState::default(),
            DeleteCustomerRequest {
                customer_id: "c1".into(),
            },
            &ctx(),
        );
        assert_eq!(
            missing.error_status().map(Status::code),
            Some(Code::NotFound)
        );
    }

    #[test]
    fn the_component_decodes_ids_and_encodes_replies() {
        use plinth::codegen::{Message, decode};

        let component = CustomerEntityComponent::new(CustomerRegistry);
        let info = component.info();
        let (index, method) = info
            .method_by_path("/customer.api.CustomerService/GetCustomer")
            .expect("method");
        assert_eq!(method.http.len(), 1);

        let payload = GetCustomerRequest {
            customer_id: "c1".into(),
        }
        .encode_to_vec();
        let decoded = component.decode(index, &payload).expect("decodes");
        assert_eq!(decoded.entity_id.as_deref(), Some("c1"));
        let effect = component.handle(&created(), decoded.command, &ctx());
        let reply: Customer =
            decode(effect.reply_message().expect("reply")).expect("reply decodes");
        assert_eq!(reply.name, "Alice");

        let empty_id = GetCustomerRequest {
            customer_id: String::new(),
        }
        .encode_to_vec();
        let error = component.decode(index, &empty_id).expect_err("empty id");
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(
            error.message().contains("customer_id"),
            "{}",
            error.message()
        );

        let error = component.decode(index, &[0xff, 0xff]).expect_err("garbage");
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            component
                .decode(99, &payload)
                .expect_err("no such method")
                .code(),
            Code::Unimplemented
        );
    }

    #[test]
    fn the_view_stores_states_as_rows() {
        use plinth::UpdateContext;
        use plinth::codegen::{Metadata, RowUpdate, ViewAdapter};

        use super::customer::view::{CUSTOMER_BY_NAME_VIEW_INFO, CustomerByNameView};

        let row = created();
        let bytes = plinth::codegen::encode(&row);
        let update =
            CustomerByNameView.update(0, None, &bytes, &UpdateContext::new("c1", Metadata::new()));
        assert_eq!(update, Ok(RowUpdate::Upsert(bytes)));
        let query = &CUSTOMER_BY_NAME_VIEW_INFO.methods[1];
        assert!(matches!(
            query.view,
            Some(plinth::codegen::ViewMethod::Query {
                sql: "SELECT * FROM customers WHERE name = :name",
                ..
            })
        ));
    }
}
