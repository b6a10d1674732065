//! Model building from small Plinth protos written to a temporary directory.

use prost_reflect::{DescriptorPool, Value};

use super::*;
use crate::compile;

fn build_proto(text: &str) -> Result<Model> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.proto"), text).unwrap();
    let compiled = compile(&["shop.proto"], &[dir.path()])?;
    build(&compiled.pool, &compiled.sources)
}

const SHOP: &str = r#"syntax = "proto3";
package shop;
import "google/protobuf/empty.proto";
import "google/api/annotations.proto";
import "plinth/annotations.proto";

option (plinth.file) = { acl: { allow: { principal: INTERNET } } };

message Cart { repeated string items = 1; }
message CartKey {
  string shop_id = 1 [(plinth.field).id = true];
  int64 cart_no = 2 [(plinth.field).id = true];
}
message AddItem { CartKey key = 1 [(plinth.field).id = true]; string item = 2; }
message Create { string owner = 1; }

// Shopping carts.
// One per customer.
service Carts {
  option (plinth.component) = {
    value_entity: { name: "shop.domain.Cart" type_id: "carts" state: "Cart" }
    acl: { allow: { service: "billing" } deny_code: 5 }
  };
  // Adds an item.
  rpc Add(AddItem) returns (google.protobuf.Empty) {
    option (google.api.http) = { post: "/shops/{key.shop_id}/carts/{key.cart_no}" body: "item" };
    option (plinth.method) = { acl: { allow: { principal: ALL } } };
  }
  rpc Create(Create) returns (google.protobuf.Empty) {
    option (plinth.method) = { id_generator: UUID };
  }
}

service Publisher {
  option (plinth.component) = { action: {} };
  rpc Forward(Cart) returns (Cart) {
    option (plinth.method) = {
      subscribe: { value_entity: "carts" }
      publish: { topic: "carts" }
    };
  }
}
"#;

#[test]
fn reads_plinth_options_into_the_model() {
    let model = build_proto(SHOP).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    assert_eq!(model.packages.len(), 1);
    let carts = &model.packages[0].components[0];
    assert_eq!(carts.name, "Cart");
    assert_eq!(
        carts.comments.leading,
        ["Shopping carts.", "One per customer."]
    );
    let add = &carts.methods[0];
    assert_eq!(add.comments.leading, ["Adds an item."]);
    assert_eq!(
        add.id,
        IdSpec::Fields(vec![
            IdField {
                path: vec!["key".into(), "shop_id".into()],
                kind: IdKind::String
            },
            IdField {
                path: vec!["key".into(), "cart_no".into()],
                kind: IdKind::Integer
            },
        ])
    );
    assert_eq!(add.http[0].body, BodySelector::Field("item".into()));
    // Method acl beats the service's, which beats the file's.
    assert_eq!(add.acl.as_ref().unwrap().allow, [Principal::All]);
    let create = &carts.methods[1];
    assert_eq!(create.id, IdSpec::GeneratedUuid);
    assert_eq!(
        create.acl.as_ref().unwrap().allow,
        [Principal::Service("billing".into())]
    );
    assert_eq!(create.acl.as_ref().unwrap().deny_code, 5);
    let forward = &model.packages[0].components[1].methods[0];
    assert_eq!(forward.publish.as_deref(), Some("carts"));
    assert_eq!(forward.acl.as_ref().unwrap().allow, [Principal::Internet]);
    assert_eq!(
        forward.subscribe.as_ref().unwrap().source,
        Source::ValueEntity("carts".into())
    );
}

#[test]
fn the_descriptor_set_keeps_custom_options() {
    let model = build_proto(SHOP).unwrap();
    let pool = DescriptorPool::decode(model.file_descriptor_set.as_slice()).unwrap();
    let service = pool.get_service_by_name("shop.Carts").unwrap();
    let component = pool.get_extension_by_name("plinth.component").unwrap();
    let options = service.options();
    assert!(options.has_extension(&component));
    let Value::Message(value) = options.get_extension(&component).into_owned() else {
        panic!()
    };
    assert!(value.has_field_by_name("value_entity"));
    let http = pool.get_extension_by_name("google.api.http").unwrap();
    let add = service.methods().next().unwrap();
    let Value::Message(rule) = add.options().get_extension(&http).into_owned() else {
        panic!()
    };
    assert_eq!(
        rule.get_field_by_name("post").unwrap().as_str(),
        Some("/shops/{key.shop_id}/carts/{key.cart_no}")
    );
}

#[test]
fn a_proto_without_plinth_options_has_packages_but_no_components() {
    let model = build_proto(
        "syntax = \"proto3\";\npackage plain;\nmessage Ping { string text = 1; }\n\
         service Echo { rpc Say(Ping) returns (Ping); }\n",
    )
    .unwrap();
    assert_eq!(model.packages.len(), 1);
    assert_eq!(model.packages[0].name, "plain");
    assert!(model.packages[0].components.is_empty());
    assert!(!model.file_descriptor_set.is_empty());
}

#[test]
fn views_store_their_input_as_the_row_unless_transforming() {
    let text = SHOP.replace(
        "service Publisher {",
        r#"message Row { string item = 1; }
service Rows {
  option (plinth.component) = { view: {} subscribe: { value_entity: "carts" } };
  rpc OnCart(Cart) returns (Row) {
    option (plinth.method) = { update: { table: "rows" transform_updates: true } };
  }
  rpc All(google.protobuf.Empty) returns (stream Row) {
    option (plinth.method) = { query: { sql: "SELECT * FROM rows" stream_updates: true } };
  }
}

service Publisher {"#,
    );
    let model = build_proto(&text).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    let rows = &model.packages[0].components[1];
    let ComponentKind::View { tables } = &rows.kind else {
        panic!("{:?}", rows.kind)
    };
    assert_eq!(tables[0].row.full_name, "shop.Row");
    assert_eq!(
        rows.methods[0].view,
        Some(ViewRole::Update {
            table: "rows".into(),
            transform_updates: true
        })
    );
    // The service's subscription feeds the methods without their own.
    assert_eq!(
        rows.methods[0].subscribe.as_ref().unwrap().source,
        Source::ValueEntity("carts".into())
    );
    assert_eq!(rows.methods[1].subscribe, None);
}

#[test]
fn a_consumer_group_on_a_view_update_is_reported_as_unused() {
    let text = SHOP.replace(
        "service Publisher {",
        r#"service Rows {
  option (plinth.component) = { view: {} };
  rpc OnCart(Cart) returns (Cart) {
    option (plinth.method) = {
      subscribe: { value_entity: "carts" consumer_group: "audit" }
      update: { table: "rows" }
    };
  }
}

service Publisher {"#,
    );
    let model = build_proto(&text).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    let warnings: Vec<String> = model.warnings.0.iter().map(|w| w.render_plain()).collect();
    let [warning] = warnings.as_slice() else {
        panic!("one warning, not {warnings:?}")
    };
    let flat = warning.replace("\n  | ", " ");
    assert!(
        flat.contains("`consumer_group` (\"audit\") changes nothing"),
        "{warning}"
    );
    assert!(warning.contains("shop.proto:38:42"), "{warning}");
    // An action's subscription uses it: no warning there.
    let grouped = SHOP.replace(
        r#"subscribe: { value_entity: "carts" }
      publish"#,
        r#"subscribe: { value_entity: "carts" consumer_group: "audit" }
      publish"#,
    );
    assert!(grouped.contains("consumer_group"));
    let model = build_proto(&grouped).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    assert!(model.warnings.0.is_empty(), "{:?}", model.warnings.0);
}
