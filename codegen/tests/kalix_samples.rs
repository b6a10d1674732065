//! The Kalix sample protos (copied byte-identical) build into the model
//! unchanged, with the Kalix option names read into Plinth's model.

use std::path::{Path, PathBuf};

use plinth_codegen::model::{
    BodySelector, Component, ComponentKind, HttpMethod, IdField, IdKind, IdSpec, Method, Model,
    Principal, Segment, Source, ViewRole,
};
use plinth_codegen::{compile, model};

fn root(sample: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kalix")
        .join(sample)
}

fn protos(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            protos(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            let name = path.strip_prefix(base).unwrap().to_str().unwrap();
            out.push(name.replace('\\', "/"));
        }
    }
}

/// Compiles every proto of a sample tree and builds its model.
fn build(sample: &str) -> Model {
    let root = root(sample);
    let mut files = Vec::new();
    protos(&root, &root, &mut files);
    files.sort();
    let compiled = compile(&files, &[&root]).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    model::build(&compiled.pool, &compiled.sources)
        .unwrap_or_else(|e| panic!("{}", e.render_plain()))
}

fn component<'a>(model: &'a Model, name: &str) -> &'a Component {
    model
        .packages
        .iter()
        .flat_map(|p| &p.components)
        .find(|c| c.service_full_name == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn method<'a>(component: &'a Component, name: &str) -> &'a Method {
    component
        .methods
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no method {name}"))
}

fn id(name: &str) -> IdSpec {
    IdSpec::Fields(vec![IdField {
        path: vec![name.to_owned()],
        kind: IdKind::String,
    }])
}

#[test]
fn eventsourced_customer_registry() {
    let model = build("java-protobuf-eventsourced-customer-registry");
    let names: Vec<&str> = model.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["customer.api", "customer.domain", "customer.view"]);
    assert!(model.packages[1].components.is_empty());

    let entity = component(&model, "customer.api.CustomerService");
    assert_eq!(entity.name, "CustomerEntity");
    let ComponentKind::EventSourcedEntity {
        type_id,
        state,
        events,
        ..
    } = &entity.kind
    else {
        panic!("{:?}", entity.kind)
    };
    assert_eq!(type_id, "customers");
    assert_eq!(state.full_name, "customer.domain.CustomerState");
    let events: Vec<&str> = events.iter().map(|e| e.full_name.as_str()).collect();
    assert_eq!(
        events,
        [
            "customer.domain.CustomerCreated",
            "customer.domain.CustomerNameChanged",
            "customer.domain.CustomerAddressChanged"
        ]
    );
    assert_eq!(method(entity, "Create").id, id("customer_id"));
    let default = &method(entity, "GetCustomer").http[0];
    assert_eq!(default.method, HttpMethod::Post);
    assert_eq!(
        default.template.source,
        "/customer.api.CustomerService/GetCustomer"
    );
    assert_eq!(default.body, BodySelector::Whole);

    let events_action = component(&model, "customer.api.CustomerEventsService");
    assert_eq!(events_action.kind, ComponentKind::Action);
    let transform = method(events_action, "TransformCustomerCreated");
    let sub = transform.subscribe.as_ref().unwrap();
    assert_eq!(sub.source, Source::EventSourcedEntity("customers".into()));
    assert!(sub.ignore_unknown);
    assert_eq!(
        transform.acl.as_ref().unwrap().allow,
        [Principal::Service("*".into())]
    );
    assert_eq!(transform.acl.as_ref().unwrap().deny_code, 7);
    assert_eq!(transform.id, IdSpec::None);
    // Its results form the direct event stream other services read.
    assert_eq!(
        transform.publish.as_deref(),
        Some("plinth-direct.customer_events")
    );
    let warnings: Vec<String> = model
        .warnings
        .0
        .iter()
        .map(|w| format!("{} at {}", w.message(), w.location().unwrap_or_default()))
        .collect();
    assert!(
        !warnings.iter().any(|w| w.contains("eventing.out.direct")),
        "{warnings:?}"
    );
    // Its view's snapshot handler is never called: reported too.
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`handle_snapshots` is not served")
                && w.contains("customer/view/customer_view.proto:81:")),
        "{warnings:?}"
    );
    // Its live query's view can delete rows, which the stream does not announce.
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`GetCustomers` streams updates")
                && w.contains("customer/view/customer_view.proto:148:")),
        "{warnings:?}"
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(model.warnings.0.iter().all(|w| w.is_warning()));

    let by_name = component(&model, "customer.view.CustomerByName");
    let ComponentKind::View { tables } = &by_name.kind else {
        panic!()
    };
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].name, "customers");
    assert_eq!(tables[0].row.full_name, "customer.api.Customer");
    // The input (an event) differs from the row type: Kalix implies transform_updates.
    assert_eq!(
        method(by_name, "ProcessCustomerCreated").view,
        Some(ViewRole::Update {
            table: "customers".into(),
            transform_updates: true
        })
    );
    let ignore = method(by_name, "IgnoreOtherEvents");
    assert!(ignore.subscribe.as_ref().unwrap().ignore);
    assert_eq!(ignore.view, None);
    assert!(
        method(by_name, "ProcessSnapshot")
            .subscribe
            .as_ref()
            .unwrap()
            .handle_snapshots
    );
    assert_eq!(
        method(by_name, "GetCustomers").view,
        Some(ViewRole::Query {
            sql: "SELECT * FROM customers WHERE name = :customer_name".into(),
            stream_updates: false
        })
    );

    let streaming = component(&model, "customer.view.CustomerByCityStreaming");
    let get = method(streaming, "GetCustomers");
    assert!(get.server_streaming);
    assert!(matches!(
        get.view,
        Some(ViewRole::Query {
            stream_updates: true,
            ..
        })
    ));
    assert_eq!(get.http.len(), 1);
    assert_eq!(get.http[0].method, HttpMethod::Get);
    assert_eq!(get.http[0].template.source, "/stream-city/{city}");
    assert_eq!(get.http[0].body, BodySelector::None);
}

#[test]
fn valueentity_shopping_cart_http_bindings() {
    let model = build("java-protobuf-valueentity-shopping-cart");
    let cart = component(&model, "com.example.shoppingcart.ShoppingCartService");
    assert_eq!(cart.name, "ShoppingCart");
    let ComponentKind::ValueEntity { type_id, state } = &cart.kind else {
        panic!()
    };
    assert_eq!(type_id, "shopping-cart");
    assert_eq!(state.full_name, "com.example.shoppingcart.domain.Cart");
    assert_eq!(state.package, "com.example.shoppingcart.domain");
    assert_eq!(state.path, ["Cart"]);

    let create = method(cart, "Create");
    assert_eq!(create.id, id("cart_id"));
    assert_eq!(create.http[0].method, HttpMethod::Post);
    assert_eq!(create.http[0].body, BodySelector::None);
    assert_eq!(
        create.http[0].template.segments,
        [
            Segment::Literal("cart".into()),
            Segment::Variable {
                field_path: vec!["cart_id".into()],
                pattern: vec![Segment::Wildcard]
            },
            Segment::Literal("create".into()),
        ]
    );
    assert_eq!(method(cart, "AddItem").http[0].body, BodySelector::Whole);
    let remove = &method(cart, "RemoveItem").http[0];
    assert_eq!(
        remove.template.source,
        "/cart/{cart_id}/items/{product_id}/remove"
    );

    let get = method(cart, "GetCart");
    assert_eq!(get.http.len(), 2);
    assert_eq!(get.http[0].method, HttpMethod::Get);
    assert_eq!(get.http[0].template.source, "/carts/{cart_id}");
    assert_eq!(get.http[0].response_body, None);
    assert_eq!(get.http[1].template.source, "/carts/{cart_id}/items");
    assert_eq!(get.http[1].response_body.as_deref(), Some("items"));

    let remove_cart = &method(cart, "RemoveCart").http[0];
    assert_eq!(remove_cart.method, HttpMethod::Post);
    assert_eq!(remove_cart.template.source, "/carts/{cart_id}/remove");
}

#[test]
fn valueentity_customer_registry_views() {
    let model = build("java-protobuf-valueentity-customer-registry");
    let entity = component(&model, "customer.api.CustomerService");
    assert!(
        matches!(&entity.kind, ComponentKind::ValueEntity { type_id, .. } if type_id == "customer")
    );

    let by_name = component(&model, "customer.view.CustomerByName");
    let update = method(by_name, "UpdateCustomer");
    assert_eq!(
        update.subscribe.as_ref().unwrap().source,
        Source::ValueEntity("customer".into())
    );
    // Same input and row type: the input is stored as the row.
    assert_eq!(
        update.view,
        Some(ViewRole::Update {
            table: "customers".into(),
            transform_updates: false
        })
    );
    let delete = method(by_name, "DeleteCustomer");
    assert!(delete.subscribe.as_ref().unwrap().handle_deletes);
    assert_eq!(delete.input.full_name, "google.protobuf.Empty");
    let ComponentKind::View { tables } = &by_name.kind else {
        panic!()
    };
    assert_eq!(tables[0].row.full_name, "customer.domain.CustomerState");

    let details = component(&model, "customer.view.CustomerDetailsByName");
    let Some(ViewRole::Query { sql, .. }) = &method(details, "GetCustomers").view else {
        panic!()
    };
    assert!(
        sql.contains("(address.street AS address, address.city, email) AS billing_details"),
        "{sql}"
    );

    let views = model
        .packages
        .iter()
        .find(|p| p.name == "customer.view")
        .unwrap();
    assert_eq!(views.components.len(), 6);
}
