//! Workflows: a trait of synchronous command handlers over the state plus
//! the step definition, and a component implementing `WorkflowAdapter`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, commands, doc_with, names, wrapper};
use crate::Result;
use crate::model::TypeRef;

/// The trait, the component and the command enum of a workflow.
pub fn emit(ctx: &Ctx<'_>, state: &TypeRef) -> Result<TokenStream> {
    let component = ctx.component;
    names::check_handlers(
        component,
        [
            (String::from("empty_state"), "the empty state"),
            (String::from("definition"), "the step definition"),
        ]
        .into_iter()
        .chain(
            component
                .methods
                .iter()
                .map(|m| (ctx.handler(m).to_string(), m.name.as_str())),
        ),
    )?;
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
            "The workflow `{}` of service `{}`: one `{}` per id, moved by commands and by the steps of [`{trait_name}::definition`].\n\nImplement it and register `{component_name}::new(implementation)`.",
            component.name, component.service_full_name, state.full_name
        ),
    );
    let handlers = commands::handler_decls(
        ctx,
        &state_ty,
        &quote!(::plinth::codegen::WorkflowContext),
        |path| format!("Handles `{path}`."),
        |output| quote!(::plinth::codegen::WorkflowEffect<#state_ty, #output>),
    );
    let command_enum = commands::command_enum(ctx);
    let decode = commands::decode_body(ctx);
    let arms = commands::handle_arms(ctx);
    let (state_param, ctx_param) = commands::handle_params(ctx);
    let wrapper = wrapper::emit(
        component_name,
        trait_name,
        "workflow",
        quote!(workflow),
        wrapper::Holding::Owned,
    );

    Ok(quote! {
        #trait_doc
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            /// The state of a workflow that has none stored yet (the message's defaults unless overridden).
            fn empty_state(&self) -> #state_ty {
                ::core::default::Default::default()
            }
            /// The workflow's steps, timeouts and recovery (asked once, when the service starts).
            fn definition(&self) -> ::plinth::codegen::WorkflowDefinition<#state_ty>;
            #(#handlers)*
        }

        #command_enum

        #wrapper

        impl<T: #trait_name> ::plinth::codegen::WorkflowAdapter for #component_name<T> {
            type State = #state_ty;
            type Command = #command;

            fn info(&self) -> &'static ::plinth::codegen::ComponentInfo {
                &#info
            }

            fn empty_state(&self) -> #state_ty {
                self.inner.empty_state()
            }

            fn definition(&self) -> ::plinth::codegen::WorkflowDefinition<#state_ty> {
                self.inner.definition()
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
                #ctx_param: &::plinth::codegen::WorkflowContext,
            ) -> ::plinth::codegen::WorkflowEffect<#state_ty, ::plinth::codegen::Bytes> {
                match command {
                    #(#arms)*
                }
            }
        }
    })
}
