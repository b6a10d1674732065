//! Test kits: beside each component with user code, `<Name>TestKit` — the
//! component under test in one of `plinth::codegen`'s generic kits, with
//! one typed method per rpc, dereferencing to the generic kit for the rest
//! (state, events, clock, timers, canned replies).

use proc_macro2::TokenStream;
use quote::quote;

use super::view::{Update, update_of};
use super::{Ctx, names};
use crate::Result;
use crate::model::{ComponentKind, Method, TypeRef};
use crate::naming::{self, ident};

/// The entity id of a kit made with `of`.
const TEST_ID: &str = "test-id";

/// The test kit of the component in `ctx`, if it has user code.
pub fn emit(ctx: &Ctx<'_>) -> Result<TokenStream> {
    let component = ctx.component;
    let tokens = match &component.kind {
        ComponentKind::ValueEntity { state, .. } => {
            check(ctx, &["of", "with_id"])?;
            let state = ctx.ty(state);
            stateful(
                ctx,
                quote!(::plinth::codegen::ValueEntityKit<#state>),
                |method| {
                    let output = ctx.ty(&method.output);
                    quote!(::plinth::codegen::ValueEntityResult<#output, #state>)
                },
                quote!(::plinth::codegen::ValueEntityKit::new(
                    entity_id,
                    ::plinth::codegen::ValueEntityAdapter::empty_state(&component)
                )),
                TokenStream::new(),
            )
        }
        ComponentKind::EventSourcedEntity { state, events, .. } => {
            check(ctx, &["of", "with_id", "given", "recovered_state"])?;
            event_sourced(ctx, state, events)
        }
        ComponentKind::Workflow { state, .. } => {
            check(ctx, &["of", "with_id"])?;
            let state = ctx.ty(state);
            stateful(
                ctx,
                quote!(::plinth::codegen::WorkflowKit<#state>),
                |method| {
                    let output = ctx.ty(&method.output);
                    quote!(::plinth::codegen::WorkflowResult<#output, #state>)
                },
                quote!(::plinth::codegen::WorkflowKit::new(&component, entity_id)),
                TokenStream::new(),
            )
        }
        ComponentKind::Action => {
            check(ctx, &["of"])?;
            action(ctx)
        }
        ComponentKind::View { .. } if names::view_transforms(component) => {
            check(ctx, &["of", "row"])?;
            view(ctx)
        }
        ComponentKind::View { .. } => TokenStream::new(),
    };
    Ok(tokens)
}

/// Fail when an rpc's method name is one the kit uses itself.
fn check(ctx: &Ctx<'_>, reserved: &[&str]) -> Result<()> {
    for method in &ctx.component.methods {
        let name = ctx.handler(method).to_string();
        if reserved.contains(&name.trim_start_matches("r#")) {
            return Err(super::error(format!(
                "service `{}`: rpc `{}` becomes the method `{name}` of the generated `{}`, which the test kit \
                 has itself; hint: rename the rpc",
                ctx.component.service_full_name, method.name, ctx.names.test_kit
            )));
        }
    }
    Ok(())
}

fn doc_of(ctx: &Ctx<'_>, what: &str) -> String {
    format!(
        " A test kit for `{}`: {what} with no service, storage or network (see `plinth::testkit`).",
        ctx.names.trait_name
    )
}

/// The struct, its `Debug` and `Deref` to the generic kit `kit_ty`.
fn shell(ctx: &Ctx<'_>, kit_ty: &TokenStream, doc: &str) -> TokenStream {
    let (kit, component) = (&ctx.names.test_kit, &ctx.names.component);
    let debug_name = kit.to_string();
    quote! {
        #[doc = #doc]
        pub struct #kit<T> {
            component: #component<T>,
            kit: #kit_ty,
        }

        impl<T> ::core::fmt::Debug for #kit<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#debug_name).field("kit", &self.kit).finish_non_exhaustive()
            }
        }

        impl<T> ::core::ops::Deref for #kit<T> {
            type Target = #kit_ty;
            fn deref(&self) -> &#kit_ty {
                &self.kit
            }
        }

        impl<T> ::core::ops::DerefMut for #kit<T> {
            fn deref_mut(&mut self) -> &mut #kit_ty {
                &mut self.kit
            }
        }
    }
}

/// A value entity's or workflow's kit: `of`, `with_id` and a method per
/// command.
fn stateful(
    ctx: &Ctx<'_>,
    kit_ty: TokenStream,
    result: impl Fn(&Method) -> TokenStream,
    new_kit: TokenStream,
    extra: TokenStream,
) -> TokenStream {
    let names = &ctx.names;
    let (kit, trait_name, component, command) = (
        &names.test_kit,
        &names.trait_name,
        &names.component,
        &names.command,
    );
    let shell = shell(
        ctx,
        &kit_ty,
        &doc_of(ctx, "its commands run on a state kept across calls"),
    );
    let methods = ctx.component.methods.iter().map(|method| {
        let handler = ctx.handler(method);
        let variant = ident(&naming::upper_camel(&method.name));
        let input = ctx.ty(&method.input);
        let result = result(method);
        let doc = format!(" Run `{}` with `command`.", ctx.method_path(method));
        quote! {
            #[doc = #doc]
            pub fn #handler(&mut self, command: #input) -> #result {
                self.kit.handle(&self.component, #command::#variant(command))
            }
        }
    });
    let of_doc = format!(" A kit for `implementation`, with the id `{TEST_ID}`.");
    quote! {
        #shell

        impl<T: #trait_name> #kit<T> {
            #[doc = #of_doc]
            pub fn of(implementation: T) -> Self {
                Self::with_id(#TEST_ID, implementation)
            }

            /// A kit for `implementation`, with the id `entity_id`.
            pub fn with_id(entity_id: impl ::core::convert::Into<::std::string::String>, implementation: T) -> Self {
                let component = #component::new(implementation);
                let kit = #new_kit;
                Self { component, kit }
            }

            #extra
            #(#methods)*
        }
    }
}

fn event_sourced(ctx: &Ctx<'_>, state: &TypeRef, events: &[TypeRef]) -> TokenStream {
    let names = &ctx.names;
    let event = &names.event;
    let state = ctx.ty(state);
    let info = &names.info;
    let extra = quote! {
        /// Persist `events` (applied through the implementation's
        /// `apply_*`), as if earlier commands had emitted them.
        pub fn given(&mut self, events: ::std::vec::Vec<#event>) {
            self.kit.given(&self.component, events);
        }

        /// The state a restart would rebuild: the latest snapshot and the
        /// events after it, applied through the implementation.
        pub fn recovered_state(&self) -> #state {
            self.kit.recovered_state(&self.component)
        }
    };
    let body = stateful(
        ctx,
        quote!(::plinth::codegen::EventSourcedKit<#state, #event>),
        |method| {
            let output = ctx.ty(&method.output);
            quote!(::plinth::codegen::EventSourcedResult<#output, #event, #state>)
        },
        quote!(::plinth::codegen::EventSourcedKit::new(
            entity_id,
            ::plinth::codegen::EventSourcedAdapter::empty_state(&component),
            #info.snapshot_every,
        )),
        extra,
    );
    let variants: Vec<_> = events
        .iter()
        .map(|e| ident(&naming::flat_type_name(e)))
        .collect();
    let event_tys: Vec<_> = events.iter().map(|e| ctx.ty(e)).collect();
    quote! {
        #body

        #(
            impl ::plinth::codegen::EventOf<#event> for #event_tys {
                #[allow(unreachable_patterns)]
                fn from_event(event: &#event) -> ::core::option::Option<&Self> {
                    match event {
                        #event::#variants(event) => ::core::option::Option::Some(event),
                        _ => ::core::option::Option::None,
                    }
                }
            }
        )*
    }
}

fn action(ctx: &Ctx<'_>) -> TokenStream {
    let names = &ctx.names;
    let (kit, trait_name, component, info) = (
        &names.test_kit,
        &names.trait_name,
        &names.component,
        &names.info,
    );
    let kit_ty = quote!(::plinth::codegen::ActionKit);
    let shell = shell(
        ctx,
        &kit_ty,
        &doc_of(
            ctx,
            "its handlers run with canned replies for the calls they make",
        ),
    );
    let methods = ctx.component.methods.iter().enumerate().filter(|(_, m)| {
        !m.subscribe.as_ref().is_some_and(|s| s.ignore)
    }).map(|(index, method)| {
        let handler = ctx.handler(method);
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        let input = ctx.ty(&method.input);
        let output = ctx.ty(&method.output);
        let path = ctx.method_path(method);
        match (method.client_streaming, method.server_streaming) {
            (false, false) => {
                let doc = format!(" Call `{path}` with `request`.");
                quote! {
                    #[doc = #doc]
                    pub async fn #handler(&mut self, request: #input) -> ::plinth::codegen::ActionResult<#output> {
                        self.kit.call_unary(&self.component, #index, &request).await
                    }
                }
            }
            (false, true) => {
                let doc = format!(" Call `{path}` with `request`; its replies collected.");
                quote! {
                    #[doc = #doc]
                    pub async fn #handler(&mut self, request: #input) -> ::plinth::codegen::ActionResult<::std::vec::Vec<#output>> {
                        self.kit.call_server_stream(&self.component, #index, &request).await
                    }
                }
            }
            (true, false) => {
                let doc = format!(" Call `{path}` with the stream `requests`.");
                quote! {
                    #[doc = #doc]
                    pub async fn #handler(&mut self, requests: ::std::vec::Vec<#input>) -> ::plinth::codegen::ActionResult<#output> {
                        self.kit.call_client_stream(&self.component, #index, requests).await
                    }
                }
            }
            (true, true) => {
                let doc = format!(" Call `{path}` with the stream `requests`; its replies collected.");
                quote! {
                    #[doc = #doc]
                    pub async fn #handler(&mut self, requests: ::std::vec::Vec<#input>) -> ::plinth::codegen::ActionResult<::std::vec::Vec<#output>> {
                        self.kit.call_bidi_stream(&self.component, #index, requests).await
                    }
                }
            }
        }
    });
    quote! {
        #shell

        impl<T: #trait_name> #kit<T> {
            /// A kit for `implementation`.
            pub fn of(implementation: T) -> Self {
                Self { component: #component::new(implementation), kit: ::plinth::codegen::ActionKit::new(&#info) }
            }

            #(#methods)*
        }
    }
}

fn view(ctx: &Ctx<'_>) -> TokenStream {
    let names = &ctx.names;
    let (kit, trait_name, component) = (&names.test_kit, &names.trait_name, &names.component);
    let kit_ty = quote!(::plinth::codegen::ViewKit);
    let shell = shell(
        ctx,
        &kit_ty,
        &doc_of(ctx, "its update handlers run on rows kept by subject"),
    );
    let updates: Vec<(usize, &Method, Update)> = ctx
        .component
        .methods
        .iter()
        .enumerate()
        .map(|(index, method)| (index, method, update_of(method)))
        .filter(|(_, _, update)| !matches!(update, Update::Query | Update::Ignore))
        .collect();
    let row_ty = updates.first().map(|(_, method, _)| ctx.ty(&method.output));
    let methods = updates.iter().map(|(index, method, update)| {
        let handler = ctx.handler(method);
        let index = proc_macro2::Literal::usize_unsuffixed(*index);
        let output = ctx.ty(&method.output);
        let path = ctx.method_path(method);
        if matches!(update, Update::Delete) {
            let doc = format!(" Deliver `{path}`: the source entity `subject` was deleted.");
            quote! {
                #[doc = #doc]
                pub fn #handler(&mut self, subject: &str) -> ::plinth::codegen::ViewResult<#output> {
                    self.kit.update(&self.component, #index, subject, &())
                }
            }
        } else {
            let input = ctx.ty(&method.input);
            let doc = format!(" Deliver `{path}` with `input`, for the row of `subject`.");
            quote! {
                #[doc = #doc]
                pub fn #handler(&mut self, subject: &str, input: #input) -> ::plinth::codegen::ViewResult<#output> {
                    self.kit.update(&self.component, #index, subject, &input)
                }
            }
        }
    });
    let row = row_ty.map(|row_ty| {
        quote! {
            /// The row of `subject`, if there is one.
            pub fn row(&self, subject: &str) -> ::core::option::Option<#row_ty> {
                self.kit.row(subject)
            }
        }
    });
    quote! {
        #shell

        impl<T: #trait_name> #kit<T> {
            /// A kit for `implementation`, with no rows.
            pub fn of(implementation: T) -> Self {
                Self { component: #component::new(implementation), kit: ::plinth::codegen::ViewKit::new() }
            }

            #row
            #(#methods)*
        }
    }
}
