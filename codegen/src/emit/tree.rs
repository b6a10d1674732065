//! `plinth_generated.rs`: one module per proto package, each including its
//! generated file, and the descriptor set at the root.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::{DESCRIPTOR_FILE, format};
use crate::Result;
use crate::naming::{self, ident};

/// One module of the tree.
#[derive(Default)]
struct Node {
    /// The proto package whose file this module includes.
    package: Option<String>,
    children: BTreeMap<String, Node>,
}

/// The module tree over `packages` (the empty package is the root).
pub fn emit(packages: impl IntoIterator<Item = impl AsRef<str>>) -> Result<String> {
    let mut root = Node::default();
    for package in packages {
        let package = package.as_ref();
        let mut node = &mut root;
        for module in naming::package_modules(package) {
            node = node.children.entry(module).or_default();
        }
        node.package = Some(package.to_owned());
    }
    let descriptor = format!("/{DESCRIPTOR_FILE}");
    let body = node_items(&root, "", true);
    format::format(quote! {
        /// The encoded `FileDescriptorSet` of every compiled proto file and its
        /// imports, options included.
        pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), #descriptor));
        #body
    })
}

fn include(package: &str) -> TokenStream {
    let file = format!("/{}", naming::package_file_name(package));
    quote!(include!(concat!(env!("OUT_DIR"), #file));)
}

fn node_items(node: &Node, prefix: &str, is_root: bool) -> TokenStream {
    // The root's own package (files without one) is included where the macro
    // is called; its items follow the lints of the including crate.
    let own = node.package.as_deref().map(include).unwrap_or_default();
    let children = node.children.iter().map(|(module, child)| {
        let proto_name = module.trim_start_matches("r#");
        let full = if prefix.is_empty() {
            proto_name.to_owned()
        } else {
            format!("{prefix}.{proto_name}")
        };
        let doc = match &child.package {
            Some(package) => format!(" Generated from proto package `{package}`."),
            None => format!(" Generated from the proto packages under `{full}`."),
        };
        let items = node_items(child, &full, false);
        let name = ident(module);
        // Lints are relaxed once per top-level module (nested ones inherit):
        // prost's messages carry only the docs the protos have.
        let allow = is_root.then(|| {
            quote! {
                #![allow(
                    missing_docs,
                    missing_debug_implementations,
                    unreachable_pub,
                    unused_qualifications,
                    clippy::all,
                    clippy::pedantic,
                    clippy::nursery,
                    rustdoc::all
                )]
            }
        });
        quote! {
            #[doc = #doc]
            pub mod #name {
                #allow
                #items
            }
        }
    });
    quote!(#own #(#children)*)
}
