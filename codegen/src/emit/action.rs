//! Actions: a trait of async handlers (unary, server-streaming, subscription)
//! and a component implementing `ActionAdapter`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Ctx, commands, doc, doc_with, wrapper};
use crate::model::Method;
use crate::naming::ident;

/// Whether user code handles `method` (ignored subscriptions have no handler).
fn handled(method: &Method) -> bool {
    !method
        .subscribe
        .as_ref()
        .is_some_and(|subscription| subscription.ignore)
}

/// The trait and the component of an action.
pub fn emit(ctx: &Ctx<'_>) -> TokenStream {
    let component = ctx.component;
    let names = &ctx.names;
    let (trait_name, component_name, info) = (&names.trait_name, &names.component, &names.info);

    let trait_doc = doc_with(
        &component.comments,
        &format!(
            "The action `{}` of service `{}`.\n\nImplement it (with `async fn`s) and register `{component_name}::new(implementation)`.",
            component.name, component.service_full_name
        ),
    );
    let handlers = component
        .methods
        .iter()
        .filter(|method| handled(method))
        .map(|method| {
            let handler = ctx.handler(method);
            let input = ctx.ty(&method.input);
            let output = ctx.ty(&method.output);
            let reply = if method.server_streaming {
                quote!(::plinth::codegen::ReplyStream<#output>)
            } else {
                output
            };
            let what = match &method.subscribe {
                Some(_) => "Handles a message delivered to",
                None => "Handles",
            };
            let doc = doc(
                &method.comments,
                &format!("{what} `{}`.", ctx.method_path(method)),
            );
            let input_name = if method.subscribe.is_some() {
                ident("message")
            } else {
                ident("request")
            };
            quote! {
                #doc
                fn #handler(
                    &self,
                    #input_name: #input,
                    ctx: ::plinth::codegen::ActionContext,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<#reply, ::plinth::codegen::Status>,
                > + ::core::marker::Send;
            }
        });

    let any_handled = component.methods.iter().any(handled);
    let (payload, ctx_param) = if any_handled {
        (ident("payload"), ident("ctx"))
    } else {
        (ident("_payload"), ident("_ctx"))
    };
    let arms = component.methods.iter().enumerate().map(|(index, method)| {
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        if !handled(method) {
            return quote! {
                #index => ::std::boxed::Box::pin(::core::future::ready(::core::result::Result::Ok(
                    ::plinth::codegen::ActionReply::Unary(::plinth::codegen::Bytes::new()),
                ))),
            };
        }
        let handler = ctx.handler(method);
        let input = ctx.ty(&method.input);
        let reply = if method.server_streaming {
            quote! {
                let replies = inner.#handler(request, ctx).await?;
                ::core::result::Result::Ok(::plinth::codegen::ActionReply::Stream(::std::boxed::Box::pin(
                    ::plinth::codegen::futures::StreamExt::map(replies, |reply| {
                        reply.map(|reply| ::plinth::codegen::encode(&reply))
                    }),
                )))
            }
        } else {
            quote! {
                let reply = inner.#handler(request, ctx).await?;
                ::core::result::Result::Ok(::plinth::codegen::ActionReply::Unary(::plinth::codegen::encode(&reply)))
            }
        };
        quote! {
            #index => {
                let request: #input = match ::plinth::codegen::decode(&payload) {
                    ::core::result::Result::Ok(request) => request,
                    ::core::result::Result::Err(status) => {
                        return ::std::boxed::Box::pin(::core::future::ready(::core::result::Result::Err(status)));
                    }
                };
                let inner = ::std::sync::Arc::clone(&self.inner);
                ::std::boxed::Box::pin(async move { #reply })
            }
        }
    });
    let unknown = commands::unknown_method(ctx);

    let wrapper = wrapper::emit(
        component_name,
        trait_name,
        "action",
        quote!(action),
        wrapper::Holding::Shared,
    );

    quote! {
        #trait_doc
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#handlers)*
        }

        #wrapper

        impl<T: #trait_name> ::plinth::codegen::ActionAdapter for #component_name<T> {
            fn info(&self) -> &'static ::plinth::codegen::ComponentInfo {
                &#info
            }

            fn call(
                &self,
                method: usize,
                #payload: ::plinth::codegen::Bytes,
                #ctx_param: ::plinth::codegen::ActionContext,
            ) -> ::plinth::codegen::BoxFuture<
                'static,
                ::core::result::Result<::plinth::codegen::ActionReply, ::plinth::codegen::Status>,
            > {
                match method {
                    #(#arms)*
                    _ => ::std::boxed::Box::pin(::core::future::ready(::core::result::Result::Err(#unknown))),
                }
            }
        }
    }
}
