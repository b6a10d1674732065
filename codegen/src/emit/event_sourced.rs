//! Event-sourced entities: the closed event enum, the effect alias, a trait of
//! command handlers plus one `apply_*` per event type, and a component
//! implementing `EventSourcedAdapter`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, commands, doc_with, names, wrapper};
use crate::Result;
use crate::model::TypeRef;
use crate::naming::{self, ident};

/// Everything generated for an event-sourced entity.
pub fn emit(ctx: &Ctx<'_>, state: &TypeRef, events: &[TypeRef]) -> Result<TokenStream> {
    let component = ctx.component;
    let variants: Vec<String> = events.iter().map(naming::flat_type_name).collect();
    for (i, variant) in variants.iter().enumerate() {
        if let Some(j) = variants[..i].iter().position(|other| other == variant) {
            return Err(super::error(format!(
                "service `{}`: events `{}` and `{}` would both be the variant `{variant}` of `{}`; hint: rename one of the messages",
                component.service_full_name,
                events[j].full_name,
                events[i].full_name,
                ctx.names.event
            )));
        }
    }
    let appliers: Vec<String> = events
        .iter()
        .map(|event| naming::snake(&format!("apply_{}", event.path.join("_"))))
        .collect();
    names::check_handlers(
        component,
        std::iter::once((String::from("empty_state"), "the empty state"))
            .chain(
                component
                    .methods
                    .iter()
                    .map(|m| (ctx.handler(m).to_string(), m.name.as_str())),
            )
            .chain(
                appliers
                    .iter()
                    .zip(events)
                    .map(|(name, event)| (name.clone(), event.full_name.as_str())),
            ),
    )?;

    let names = &ctx.names;
    let (trait_name, component_name, info, command) = (
        &names.trait_name,
        &names.component,
        &names.info,
        &names.command,
    );
    let (event, effect) = (&names.event, &names.effect);
    let state_ty = ctx.ty(state);
    let variants: Vec<_> = variants.iter().map(|name| ident(name)).collect();
    let event_tys: Vec<_> = events.iter().map(|event| ctx.ty(event)).collect();
    let event_names: Vec<&str> = events
        .iter()
        .map(|event| event.full_name.as_str())
        .collect();
    let appliers: Vec<_> = appliers.iter().map(|name| ident(name)).collect();

    let event_doc = format!(" The events of `{trait_name}`, one variant per event message.");
    let variant_docs = event_names.iter().map(|name| format!(" A `{name}`."));
    let unknown_event = format!("`{trait_name}` has no event type `{{other}}`");
    let effect_doc = format!(" The effect of a `{trait_name}` command handler, replying `R`.");
    let trait_doc = doc_with(
        &component.comments,
        &format!(
            "The event-sourced entity `{}` of service `{}`: events folded into one `{}` per id.\n\nImplement it and register `{component_name}::new(implementation)`.",
            component.name, component.service_full_name, state.full_name
        ),
    );
    let handlers = commands::handler_decls(
        ctx,
        &state_ty,
        &quote!(::plinth::codegen::CommandContext),
        |path| format!("Handles `{path}`: returns the events to persist and the reply."),
        |output| quote!(#effect<#output>),
    );
    let apply_docs = event_names
        .iter()
        .map(|name| format!(" Folds a `{name}` into the state."));
    let command_enum = commands::command_enum(ctx);
    let decode = commands::decode_body(ctx);
    let arms = commands::handle_arms(ctx);
    let (state_param, ctx_param) = commands::handle_params(ctx);

    let wrapper = wrapper::emit(
        component_name,
        trait_name,
        "event-sourced entity",
        quote!(event_sourced),
        wrapper::Holding::Owned,
    );

    Ok(quote! {
        #[doc = #event_doc]
        #[derive(Debug, Clone, PartialEq)]
        pub enum #event {
            #(#[doc = #variant_docs] #variants(#event_tys),)*
        }

        #(
            impl ::core::convert::From<#event_tys> for #event {
                fn from(event: #event_tys) -> Self {
                    Self::#variants(event)
                }
            }
        )*

        impl ::plinth::codegen::EventSet for #event {
            fn type_name(&self) -> &'static str {
                match self {
                    #(Self::#variants(_) => #event_names,)*
                }
            }

            fn encode_payload(&self) -> ::std::vec::Vec<u8> {
                match self {
                    #(Self::#variants(event) => ::plinth::codegen::Message::encode_to_vec(event),)*
                }
            }

            fn decode_payload(type_name: &str, payload: &[u8]) -> ::core::result::Result<Self, ::plinth::codegen::Status> {
                match type_name {
                    #(#event_names => ::plinth::codegen::decode::<#event_tys>(payload).map(Self::#variants),)*
                    other => ::core::result::Result::Err(::plinth::codegen::Status::internal(::std::format!(#unknown_event))),
                }
            }
        }

        #[doc = #effect_doc]
        pub type #effect<R> = ::plinth::codegen::EventEffect<#state_ty, #event, R>;

        #trait_doc
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            /// The state before the first event (the message's defaults unless overridden).
            fn empty_state(&self) -> #state_ty {
                ::core::default::Default::default()
            }
            #(#handlers)*
            #(
                #[doc = #apply_docs]
                fn #appliers(&self, state: &mut #state_ty, event: &#event_tys);
            )*
        }

        #command_enum

        #wrapper

        impl<T: #trait_name> ::plinth::codegen::EventSourcedAdapter for #component_name<T> {
            type State = #state_ty;
            type Event = #event;
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
            ) -> ::plinth::codegen::EventEffect<#state_ty, #event, ::plinth::codegen::Bytes> {
                match command {
                    #(#arms)*
                }
            }

            fn apply(&self, state: &mut #state_ty, event: &#event) {
                match event {
                    #(#event::#variants(event) => self.inner.#appliers(state, event),)*
                }
            }
        }
    })
}
