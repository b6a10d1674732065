//! Emission over hand-built models.

use prost_reflect::DescriptorPool;

use super::*;
use crate::model::{ComponentKind, IdSpec};

fn ty(package: &str, name: &str) -> TypeRef {
    TypeRef {
        full_name: format!("{package}.{name}"),
        package: package.into(),
        path: vec![name.into()],
    }
}

fn method(name: &str, input: TypeRef, output: TypeRef) -> Method {
    Method {
        name: name.into(),
        input,
        output,
        server_streaming: false,
        client_streaming: false,
        comments: Comments::default(),
        id: IdSpec::GeneratedUuid,
        http: Vec::new(),
        subscribe: None,
        view: None,
        view_plan: None,
        publish: None,
        acl: None,
        jwt: None,
        startup_retries: None,
    }
}

fn entity(name: &str, methods: Vec<Method>) -> Package {
    Package {
        name: "shop".into(),
        components: vec![Component {
            service_name: "CartService".into(),
            service_full_name: "shop.CartService".into(),
            name: name.into(),
            comments: Comments {
                leading: vec![" Carts.".into()],
            },
            kind: ComponentKind::ValueEntity {
                type_id: "carts".into(),
                state: ty("shop", "Cart"),
            },
            methods,
            json_codecs: Vec::new(),
        }],
    }
}

#[test]
fn a_value_entity_gets_a_trait_component_info_and_client() {
    let package = entity(
        "Cart",
        vec![method(
            "AddItem",
            ty("shop", "Add"),
            ty("google.protobuf", "Empty"),
        )],
    );
    let code = emit_package(&DescriptorPool::new(), &package).unwrap();
    assert!(code.contains("/// Carts.\n"), "{code}");
    assert!(code.contains("pub trait CartEntity"), "{code}");
    assert!(code.contains("fn add_item("), "{code}");
    assert!(
        code.contains("::plinth::codegen::Effect<Cart, ()>"),
        "{code}"
    );
    assert!(code.contains("pub static CART_ENTITY_INFO"), "{code}");
    assert!(
        code.contains("file_descriptor_set: super::FILE_DESCRIPTOR_SET"),
        "{code}"
    );
    assert!(code.contains("pub struct CartServiceClient;"), "{code}");
}

#[test]
fn handler_name_clashes_are_errors() {
    let package = entity(
        "Cart",
        vec![
            method("AddItem", ty("shop", "Add"), ty("shop", "Cart")),
            method("add_item", ty("shop", "Add"), ty("shop", "Cart")),
        ],
    );
    let error = emit_package(&DescriptorPool::new(), &package).unwrap_err();
    assert!(error.to_string().contains("add_item"), "{error}");
}

#[test]
fn an_rpc_named_like_a_test_kit_method_is_an_error_with_a_hint() {
    let package = entity(
        "Cart",
        vec![method("Of", ty("shop", "Add"), ty("shop", "Cart"))],
    );
    let error = emit_package(&DescriptorPool::new(), &package)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("rpc `Of`") && error.contains("CartEntityTestKit"),
        "{error}"
    );
    assert!(error.contains("hint: rename the rpc"), "{error}");
}

#[test]
fn generated_names_must_not_clash_with_messages() {
    let mut taken = names::Taken::default();
    taken.insert("CartEntity", "message `shop.CartEntity`");
    let package = entity("Cart", Vec::new());
    let error = taken
        .reserve(&package.components[0])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("CartEntity") && error.contains("message `shop.CartEntity`"),
        "{error}"
    );
    assert!(error.contains("name:"), "{error}");
}

#[test]
fn the_tree_nests_packages_and_relaxes_lints_once() {
    let tree = tree::emit(["a.b", "a.c", "d"]).unwrap();
    assert!(tree.contains("pub const FILE_DESCRIPTOR_SET"), "{tree}");
    assert_eq!(tree.matches("#![allow(").count(), 2, "{tree}");
    assert!(tree.contains("\"/a.b.rs\""), "{tree}");
}
