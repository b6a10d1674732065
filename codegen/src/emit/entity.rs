//! Value entities: a trait of synchronous command handlers over the state,
//! and a component implementing `ValueEntityAdapter`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, commands, doc_with, names, wrapper};
use crate::Result;
use crate::model::TypeRef;

/// The trait, the component and the command enum of a value entity.
pub fn emit(ctx: &Ctx<'_>, state: &TypeRef) -> Result<TokenStream> {
    let component = ctx.component;
    names::check_handlers(
        component,
        std::iter::once((String::from("empty_state"), "the empty state")).chain(
            component
                .methods
                .iter()
                .map(|m| (ctx.handler(m).to_string(), m.name.as_str())),
        ),
    )?;
    let (kind, noun) = ("value entity", "entity");
    let names = &ctx.names;
    let (trait_name, component_name, info, command) = (
        &names.trait_name,
        &names.component,
        &names.info,
        &names.command,
    );
    let state_ty = ctx.ty(state);

    let trait_doc = doc_with(
        &component.comments,
        &format!(
            "The {kind} `{}` of service `{}`: one `{}` per id.\n\nImplement it and register `{component_name}::new(implementation)`.",
            component.name, component.service_full_name, state.full_name
        ),
    );
    let handlers = commands::handler_decls(
        ctx,
        &state_ty,
        &quote!(::plinth::codegen::CommandContext),
        |path| format!("Handles `{path}`."),
        |output| quote!(::plinth::codegen::Effect<#state_ty, #output>),
    );
    let empty_doc = format!(
        " The state of an {noun} that has none stored yet (the message's defaults unless overridden)."
    );
    let command_enum = commands::command_enum(ctx);
    let decode = commands::decode_body(ctx);
    let arms = commands::handle_arms(ctx);
    let (state_param, ctx_param) = commands::handle_params(ctx);

    let wrapper = wrapper::emit(
        component_name,
        trait_name,
        kind,
        quote!(value_entity),
        wrapper::Holding::Owned,
    );

    Ok(quote! {
        #trait_doc
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            #[doc = #empty_doc]
            fn empty_state(&self) -> #state_ty {
                ::core::default::Default::default()
            }
            #(#handlers)*
        }

        #command_enum

        #wrapper

        impl<T: #trait_name> ::plinth::codegen::ValueEntityAdapter for #component_name<T> {
            type State = #state_ty;
            type Command = #command;

            fn info(&self) -> &'static ::plinth::codegen::ComponentInfo {
                &#info
            }

            fn empty_state(&self) -> #state_ty {
                self.inner.empty_state()
            }

            fn decode(
                &self,
                method: usize,
                payload: &[u8],
            ) -> ::core::result::Result<::plinth::codegen::Decoded<#command>, ::plinth::codegen::Status> {
                #decode
            }

            fn handle(
                &self,
                #state_param: &#state_ty,
                command: #command,
                #ctx_param: &::plinth::codegen::CommandContext,
            ) -> ::plinth::codegen::Effect<#state_ty, ::plinth::codegen::Bytes> {
                match command {
                    #(#arms)*
                }
            }
        }
    })
}
