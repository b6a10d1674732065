//! Commands of stateful components: the decoded-command enum, `decode` (input
//! message and entity id) and the dispatch of `handle`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, doc};
use crate::model::{IdKind, IdSpec, Method, TypeRef};
use crate::naming::{self, ident};

/// The variant of a method in the command enum.
fn variant(method: &Method) -> proc_macro2::Ident {
    ident(&naming::upper_camel(&method.name))
}

/// The doc-hidden enum of decoded commands.
pub fn command_enum(ctx: &Ctx<'_>) -> TokenStream {
    let command = &ctx.names.command;
    let doc = format!(
        " A decoded command of `{}` (used by the generated component).",
        ctx.names.trait_name
    );
    let variants = ctx.component.methods.iter().map(|method| {
        let variant = variant(method);
        let input = ctx.ty(&method.input);
        let doc = format!(" The input of `{}`.", ctx.method_path(method));
        quote!(#[doc = #doc] #variant(#input))
    });
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[derive(Debug)]
        pub enum #command { #(#variants,)* }
    }
}

/// The body of an adapter's `decode(&self, method, payload)`.
pub fn decode_body(ctx: &Ctx<'_>) -> TokenStream {
    let command = &ctx.names.command;
    let arms = ctx.component.methods.iter().enumerate().map(|(index, method)| {
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        let variant = variant(method);
        let input = ctx.ty(&method.input);
        let entity_id = entity_id(&method.input, &method.id);
        quote! {
            #index => {
                let command: #input = ::plinth::codegen::decode(payload)?;
                let entity_id = #entity_id;
                ::core::result::Result::Ok(::plinth::codegen::Decoded { command: #command::#variant(command), entity_id })
            }
        }
    });
    let unknown = unknown_method(ctx);
    quote! {
        match method {
            #(#arms)*
            _ => ::core::result::Result::Err(#unknown),
        }
    }
}

/// The `Status` for a method index the component does not have.
pub fn unknown_method(ctx: &Ctx<'_>) -> TokenStream {
    let message = format!(
        "`{}` has no method {{method}}",
        ctx.component.service_full_name
    );
    quote!(::plinth::codegen::Status::unimplemented(
        ::std::format!(#message)
    ))
}

/// The expression computing the `Option<String>` entity id of a decoded
/// `command`, returning `INVALID_ARGUMENT` from `decode` when an id part is
/// empty or its message is missing.
fn entity_id(input: &TypeRef, id: &IdSpec) -> TokenStream {
    let fields = match id {
        IdSpec::Fields(fields) if !fields.is_empty() => fields,
        _ => return quote!(::core::option::Option::None),
    };
    let mut statements = Vec::new();
    let mut parts = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let part = ident(&format!("id_{index}"));
        let mut access = quote!(command);
        for (depth, name) in field.path.iter().enumerate() {
            let member = ident(&naming::snake(name));
            if depth + 1 < field.path.len() {
                let message = format!(
                    "the entity id of `{}` is missing: field `{}` is not set",
                    input.full_name,
                    field.path[..=depth].join(".")
                );
                access = quote! {
                    #access.#member.as_ref().ok_or_else(|| ::plinth::codegen::Status::invalid_argument(#message))?
                };
            } else {
                access = quote!(#access.#member);
            }
        }
        statements.push(quote!(let #part = &#access;));
        if field.kind == IdKind::String {
            let message = format!(
                "the entity id of `{}` is missing: field `{}` is empty",
                input.full_name,
                field.path.join(".")
            );
            statements.push(quote! {
                if #part.is_empty() {
                    return ::core::result::Result::Err(::plinth::codegen::Status::invalid_argument(#message));
                }
            });
        }
        parts.push(part);
    }
    let joined = match (parts.as_slice(), fields[0].kind) {
        ([only], IdKind::String) => quote!(::std::string::String::clone(#only)),
        ([only], IdKind::Integer) => quote!(::std::string::ToString::to_string(#only)),
        _ => quote!(::plinth::codegen::join_id(&[#(#parts),*])),
    };
    quote! {{
        #(#statements)*
        ::core::option::Option::Some(#joined)
    }}
}

/// The arms of `handle`'s `match command`, each calling the user's handler and
/// encoding its reply.
pub fn handle_arms(ctx: &Ctx<'_>) -> Vec<TokenStream> {
    let command = &ctx.names.command;
    ctx.component
        .methods
        .iter()
        .map(|method| {
            let variant = variant(method);
            let handler = ctx.handler(method);
            quote! {
                #command::#variant(command) => self
                    .inner
                    .#handler(state, command, ctx)
                    .map_reply(|reply| ::plinth::codegen::encode(&reply)),
            }
        })
        .collect()
}

/// The `(state, command, ctx)` parameter names of `handle`: underscored when
/// the component has no method (nothing uses them).
pub fn handle_params(ctx: &Ctx<'_>) -> (proc_macro2::Ident, proc_macro2::Ident) {
    if ctx.component.methods.is_empty() {
        (ident("_state"), ident("_ctx"))
    } else {
        (ident("state"), ident("ctx"))
    }
}

/// The handler declarations of a stateful component's trait, one per
/// method: `fn handler(&self, state: &S, command: I, ctx: &C) -> R`, with the
/// context type `context`, the return type `effect(output)` and the doc line
/// `what` (after the method's own comments) saying what it does with `path`.
pub fn handler_decls(
    ctx: &Ctx<'_>,
    state_ty: &TokenStream,
    context: &TokenStream,
    what: impl Fn(&str) -> String,
    effect: impl Fn(TokenStream) -> TokenStream,
) -> Vec<TokenStream> {
    ctx.component
        .methods
        .iter()
        .map(|method| {
            let handler = ctx.handler(method);
            let input = ctx.ty(&method.input);
            let returns = effect(ctx.ty(&method.output));
            let doc = doc(&method.comments, &what(&ctx.method_path(method)));
            quote! {
                #doc
                fn #handler(
                    &self,
                    state: &#state_ty,
                    command: #input,
                    ctx: &#context,
                ) -> #returns;
            }
        })
        .collect()
}
