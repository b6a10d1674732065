//! Model to Rust.
//!
//! Emission is pure: it reads the validated [`Model`] (and, for name clashes,
//! the messages of the pool) and builds token streams with `quote`, formatted
//! once by [`format::format`]. It reads no options and does no I/O.
//!
//! Per component kind, one module: [`entity`] (value entities), [`workflow`],
//! [`event_sourced`], [`action`], [`view`]; shared pieces: [`info`] (the static
//! `ComponentInfo`), [`client`] (typed deferred calls), [`commands`] (command
//! decoding and entity ids), [`testkit`] (the typed test kits), [`json`] (the
//! generated JSON codecs). [`messages`] runs prost-build; [`tree`] writes the
//! module tree.

mod action;
mod client;
mod commands;
mod entity;
mod event_sourced;
pub mod format;
mod info;
mod json;
pub mod messages;
mod names;
pub mod sql;
mod testkit;
mod tree;
mod view;
mod workflow;
mod wrapper;

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use prost_reflect::DescriptorPool;
use quote::quote;

use crate::model::{Comments, Component, ComponentKind, Method, Model, Package, TypeRef};
use crate::naming;
use crate::{Error, GeneratedFile, Result};

pub use names::Names;

/// The name of the generated file holding the encoded descriptor set.
pub const DESCRIPTOR_FILE: &str = "plinth_descriptor.bin";
/// The name of the generated file holding the module tree.
pub const TREE_FILE: &str = "plinth_generated.rs";

/// An error of emission (a name clash, or a generator bug).
pub(crate) fn error(message: String) -> Error {
    Error::generate(message)
}

/// Emit every generated file for `model`: one `<package>.rs` per package
/// (prost's messages, then Plinth's code), the descriptor set and the module
/// tree.
pub fn emit(pool: &DescriptorPool, model: &Model) -> Result<Vec<GeneratedFile>> {
    let mut messages = messages::generate(pool)?;
    let mut packages: BTreeSet<String> = messages.keys().cloned().collect();
    packages.extend(model.packages.iter().map(|package| package.name.clone()));

    let mut files = Vec::new();
    for name in &packages {
        let mut contents = messages.remove(name).unwrap_or_default();
        let codecs = json::impls(name, &model.json);
        if !codecs.is_empty() {
            if !contents.is_empty() {
                contents.push('\n');
            }
            contents.push_str(&format::format(codecs)?);
        }
        if let Some(package) = model.packages.iter().find(|package| &package.name == name) {
            let plinth = emit_package(pool, package)?;
            if !plinth.is_empty() {
                if !contents.is_empty() {
                    contents.push('\n');
                }
                contents.push_str(&plinth);
            }
        }
        files.push(GeneratedFile {
            name: naming::package_file_name(name),
            contents: contents.into_bytes(),
        });
    }
    files.push(GeneratedFile {
        name: DESCRIPTOR_FILE.to_owned(),
        contents: model.file_descriptor_set.clone(),
    });
    files.push(GeneratedFile {
        name: TREE_FILE.to_owned(),
        contents: tree::emit(&packages)?.into_bytes(),
    });
    Ok(files)
}

/// Plinth's code for one package (traits, components, infos, clients),
/// formatted; empty when the package has no components. Messages are not
/// included (prost-build writes them).
pub fn emit_package(pool: &DescriptorPool, package: &Package) -> Result<String> {
    if package.components.is_empty() {
        return Ok(String::new());
    }
    let mut taken = names::Taken::of_package(pool, &package.name);
    let mut items = TokenStream::new();
    for component in &package.components {
        let names = taken.reserve(component)?;
        let ctx = Ctx {
            package: &package.name,
            component,
            names,
        };
        items.extend(emit_component(&ctx)?);
    }
    format::format(items)
}

fn emit_component(ctx: &Ctx<'_>) -> Result<TokenStream> {
    let body = match &ctx.component.kind {
        ComponentKind::ValueEntity { state, .. } => entity::emit(ctx, state)?,
        ComponentKind::Workflow { state, .. } => workflow::emit(ctx, state)?,
        ComponentKind::EventSourcedEntity { state, events, .. } => {
            event_sourced::emit(ctx, state, events)?
        }
        ComponentKind::Action => action::emit(ctx),
        ComponentKind::View { .. } => view::emit(ctx),
    };
    let info = info::emit(ctx);
    let client = client::emit(ctx);
    let kit = testkit::emit(ctx)?;
    Ok(quote! { #body #info #client #kit })
}

/// What emitting one component needs.
pub(crate) struct Ctx<'a> {
    /// The package the code is generated into.
    pub package: &'a str,
    /// The component.
    pub component: &'a Component,
    /// The names of its generated items.
    pub names: Names,
}

impl Ctx<'_> {
    /// The Rust path of a message, from this package.
    pub fn ty(&self, ty: &TypeRef) -> TokenStream {
        naming::type_path(self.package, ty)
    }

    /// The gRPC path of a method: `/package.Service/Method`.
    pub fn method_path(&self, method: &Method) -> String {
        format!("/{}/{}", self.component.service_full_name, method.name)
    }

    /// The Rust name of a method's handler.
    pub fn handler(&self, method: &Method) -> proc_macro2::Ident {
        naming::ident(&naming::snake(&method.name))
    }

    /// The path from this package's module to the root of the generated tree.
    pub fn root(&self) -> TokenStream {
        naming::path_to_root(self.package)
    }
}

/// Doc attributes from proto comments, or `fallback` when there are none.
pub(crate) fn doc(comments: &Comments, fallback: &str) -> TokenStream {
    let lines: Vec<String> = if comments.leading.iter().all(|line| line.trim().is_empty()) {
        vec![format!(" {fallback}")]
    } else {
        doc_lines(&comments.leading)
    };
    quote!(#(#[doc = #lines])*)
}

/// Doc attributes from proto comments followed by generated text.
pub(crate) fn doc_with(comments: &Comments, text: &str) -> TokenStream {
    let mut lines = doc_lines(&comments.leading);
    if !lines.is_empty() {
        lines.push(String::new());
    }
    lines.extend(text.lines().map(|line| {
        if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        }
    }));
    quote!(#(#[doc = #lines])*)
}

fn doc_lines(leading: &[String]) -> Vec<String> {
    let start = leading
        .iter()
        .position(|line| !line.trim().is_empty())
        .unwrap_or(leading.len());
    let end = leading
        .iter()
        .rposition(|line| !line.trim().is_empty())
        .map_or(start, |i| i + 1);
    leading[start..end]
        .iter()
        .map(|line| {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with(' ') {
                line.to_owned()
            } else {
                format!(" {line}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
