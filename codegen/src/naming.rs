//! Proto names to Rust identifiers and paths: the one place every naming rule
//! lives, so generated code and prost's messages always agree.
//!
//! The rules follow prost-build's: fields, methods and modules are snake_case,
//! types and variants UpperCamelCase (both through heck); Rust keywords become
//! raw identifiers (`r#type`), and the keywords that cannot be raw (`self`,
//! `super`, `crate`, `Self`, `extern`, `_`) get a `_` suffix.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::model::TypeRef;

/// The facade path generated code names the prost crate by.
pub const PROST_PATH: &str = "::plinth::codegen::prost";
/// The facade path generated code names the prost-types crate by.
pub const PROST_TYPES_PATH: &str = "::plinth::codegen::prost_types";

/// Make `ident` a valid Rust identifier (prost-build's rule): keywords become
/// raw identifiers, `self`-like keywords get a `_` suffix, a leading digit gets
/// a `_` prefix.
pub fn sanitize(ident: &str) -> String {
    match ident {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        s if s.starts_with(|c: char| c.is_numeric()) => format!("_{ident}"),
        _ => ident.to_owned(),
    }
}

/// A field, method or module name: `customerId` → `customer_id`, `type` → `r#type`.
pub fn snake(name: &str) -> String {
    sanitize(&name.to_snake_case())
}

/// A type or variant name: `add_item` → `AddItem`, `Self` → `Self_`.
pub fn upper_camel(name: &str) -> String {
    sanitize(&name.to_upper_camel_case())
}

/// A static's name: `CustomerEntity` → `CUSTOMER_ENTITY`.
pub fn screaming_snake(name: &str) -> String {
    sanitize(&name.to_shouty_snake_case())
}

/// A Rust identifier token for an already sanitized name (`r#type` becomes a
/// raw identifier).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// The module path of a proto package: `customer.api` → `["customer", "api"]`.
pub fn package_modules(package: &str) -> Vec<String> {
    package
        .split('.')
        .filter(|part| !part.is_empty())
        .map(snake)
        .collect()
}

/// The name of the file holding a package's code (`customer.api.rs`; `_.rs`
/// for files without a package), as prost-build names it.
pub fn package_file_name(package: &str) -> String {
    let modules = package_modules(package);
    if modules.is_empty() {
        "_.rs".to_owned()
    } else {
        format!("{}.rs", modules.join("."))
    }
}

/// The path from a package's module up to the root of the generated tree:
/// `super::super` for `customer.api`, empty for the root.
pub fn path_to_root(package: &str) -> TokenStream {
    let supers = package_modules(package)
        .into_iter()
        .map(|_| quote!(super::));
    quote!(#(#supers)*)
}

/// The Rust type of the well-known type `name` (without `google.protobuf.`),
/// as prost-build maps it.
/// The Rust type of `google.api.HttpBody` (served as a raw HTTP body).
pub const HTTP_BODY_PATH: &str = "::plinth::codegen::HttpBody";

fn well_known_type(name: &str) -> String {
    match name {
        "Empty" => "()".to_owned(),
        "BoolValue" => "bool".to_owned(),
        "BytesValue" => format!("{PROST_PATH}::alloc::vec::Vec<u8>"),
        "DoubleValue" => "f64".to_owned(),
        "FloatValue" => "f32".to_owned(),
        "Int32Value" => "i32".to_owned(),
        "Int64Value" => "i64".to_owned(),
        "UInt32Value" => "u32".to_owned(),
        "UInt64Value" => "u64".to_owned(),
        "StringValue" => format!("{PROST_PATH}::alloc::string::String"),
        other => {
            let mut parts: Vec<&str> = other.split('.').collect();
            let last = parts.pop().unwrap_or_default();
            let mut path = PROST_TYPES_PATH.to_owned();
            for part in parts {
                path.push_str("::");
                path.push_str(&snake(part));
            }
            path.push_str("::");
            path.push_str(&upper_camel(last));
            path
        }
    }
}

/// The path of message type `ty` as seen from the module of package `from`
/// (prost-build's rule): `customer.domain.CustomerState` from `customer.api`
/// is `super::domain::CustomerState`; nested `Outer.Inner` is `outer::Inner`.
pub fn type_path_string(from: &str, ty: &TypeRef) -> String {
    if ty.package == "google.protobuf" {
        return well_known_type(&ty.path.join("."));
    }
    if ty.package == "google.api" && ty.path == ["HttpBody"] {
        return HTTP_BODY_PATH.to_owned();
    }
    let mut local = from.split('.').filter(|p| !p.is_empty()).peekable();
    let mut target = ty.package.split('.').filter(|p| !p.is_empty()).peekable();
    while local.peek().is_some() && local.peek() == target.peek() {
        local.next();
        target.next();
    }
    let (last, outer) = ty
        .path
        .split_last()
        .map(|(l, o)| (l.as_str(), o))
        .unwrap_or(("", &[]));
    local
        .map(|_| "super".to_owned())
        .chain(target.map(snake))
        .chain(outer.iter().map(|part| snake(part)))
        .chain(std::iter::once(upper_camel(last)))
        .collect::<Vec<_>>()
        .join("::")
}

/// [`type_path_string`] as tokens.
pub fn type_path(from: &str, ty: &TypeRef) -> TokenStream {
    let path = type_path_string(from, ty);
    if path == "()" {
        return quote!(());
    }
    let leading = path.starts_with("::");
    let segments = path.trim_start_matches("::").split("::").map(|segment| {
        // Only `Vec<u8>` carries generics among the mapped types.
        match segment.strip_suffix("<u8>") {
            Some(name) => {
                let name = ident(name);
                quote!(#name<u8>)
            }
            None => {
                let name = ident(segment);
                quote!(#name)
            }
        }
    });
    if leading {
        quote!(#(::#segments)*)
    } else {
        quote!(#(#segments)::*)
    }
}

/// The Rust name of a message as a single UpperCamel identifier, nesting
/// included: `Outer.Inner` → `OuterInner` (event enum variants).
pub fn flat_type_name(ty: &TypeRef) -> String {
    sanitize(
        &ty.path
            .iter()
            .map(|part| part.to_upper_camel_case())
            .collect::<String>(),
    )
}

/// The name of a component's trait: the component name in UpperCamelCase with
/// the kind suffix (`Entity`, `Action`, `View`, `Workflow`) added unless it is
/// already there (`Customer` → `CustomerEntity`, `CounterEvents` →
/// `CounterEventsAction`).
pub fn trait_name(component_name: &str, suffix: &str) -> String {
    let last = component_name.rsplit('.').next().unwrap_or(component_name);
    let base = last.to_upper_camel_case();
    let name = if base.ends_with(suffix) {
        base
    } else {
        format!("{base}{suffix}")
    };
    sanitize(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(full: &str, package: &str) -> TypeRef {
        let rest = full
            .strip_prefix(package)
            .unwrap_or(full)
            .trim_start_matches('.');
        TypeRef {
            full_name: full.to_owned(),
            package: package.to_owned(),
            path: rest.split('.').map(str::to_owned).collect(),
        }
    }

    #[test]
    fn cases_and_keywords() {
        assert_eq!(snake("customerId"), "customer_id");
        assert_eq!(snake("AddItem"), "add_item");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("Super"), "super_");
        assert_eq!(snake("crate"), "crate_");
        assert_eq!(upper_camel("add_item"), "AddItem");
        assert_eq!(upper_camel("self"), "Self_");
        assert_eq!(upper_camel("3d"), "_3d");
        assert_eq!(screaming_snake("CustomerEntity"), "CUSTOMER_ENTITY");
        assert_eq!(ident("r#type").to_string(), "r#type");
        assert_eq!(ident("name").to_string(), "name");
    }

    #[test]
    fn type_paths_are_relative_to_the_package() {
        let state = ty("customer.domain.CustomerState", "customer.domain");
        assert_eq!(
            type_path_string("customer.api", &state),
            "super::domain::CustomerState"
        );
        assert_eq!(type_path_string("customer.domain", &state), "CustomerState");
        assert_eq!(
            type_path_string("", &state),
            "customer::domain::CustomerState"
        );
        assert_eq!(
            type_path_string("shop", &state),
            "super::customer::domain::CustomerState"
        );
        let nested = ty("a.b.Outer.Inner", "a.b");
        assert_eq!(type_path_string("a.b", &nested), "outer::Inner");
        let rootless = ty("Thing", "");
        assert_eq!(type_path_string("a.b", &rootless), "super::super::Thing");
        let keyword = ty("x.type.Self", "x.type");
        assert_eq!(type_path_string("x", &keyword), "r#type::Self_");
        assert_eq!(type_path("x", &keyword).to_string(), "r#type :: Self_");
    }

    #[test]
    fn http_body_is_the_runtime_type() {
        let body = ty("google.api.HttpBody", "google.api");
        assert_eq!(type_path_string("a.b", &body), HTTP_BODY_PATH);
        assert_eq!(
            type_path("a", &body).to_string(),
            ":: plinth :: codegen :: HttpBody"
        );
    }

    #[test]
    fn well_known_types_map_like_prost() {
        let empty = ty("google.protobuf.Empty", "google.protobuf");
        assert_eq!(type_path_string("a", &empty), "()");
        assert_eq!(type_path("a", &empty).to_string(), "()");
        let timestamp = ty("google.protobuf.Timestamp", "google.protobuf");
        assert_eq!(
            type_path_string("a", &timestamp),
            "::plinth::codegen::prost_types::Timestamp"
        );
        assert_eq!(
            type_path("a", &timestamp).to_string(),
            ":: plinth :: codegen :: prost_types :: Timestamp"
        );
        let string = ty("google.protobuf.StringValue", "google.protobuf");
        assert_eq!(
            type_path_string("a", &string),
            "::plinth::codegen::prost::alloc::string::String"
        );
        let bytes = ty("google.protobuf.BytesValue", "google.protobuf");
        assert_eq!(
            type_path("a", &bytes).to_string(),
            ":: plinth :: codegen :: prost :: alloc :: vec :: Vec < u8 >"
        );
    }

    #[test]
    fn trait_names_get_one_kind_suffix() {
        assert_eq!(trait_name("Customer", "Entity"), "CustomerEntity");
        assert_eq!(
            trait_name("customer.domain.CustomerEntity", "Entity"),
            "CustomerEntity"
        );
        assert_eq!(trait_name("CounterEvents", "Action"), "CounterEventsAction");
        assert_eq!(trait_name("shopping_cart", "Entity"), "ShoppingCartEntity");
        assert_eq!(trait_name("CustomerByName", "View"), "CustomerByNameView");
    }

    #[test]
    fn packages_become_modules_and_files() {
        assert_eq!(package_modules("customer.api"), ["customer", "api"]);
        assert_eq!(package_modules("My.Type"), ["my", "r#type"]);
        assert_eq!(package_file_name("customer.api"), "customer.api.rs");
        assert_eq!(package_file_name(""), "_.rs");
        assert_eq!(
            path_to_root("customer.api").to_string(),
            "super :: super ::"
        );
        assert!(path_to_root("").is_empty());
        assert_eq!(
            flat_type_name(&ty("a.Outer.inner_event", "a")),
            "OuterInnerEvent"
        );
    }
}
