//! Actions: a trait of async handlers (unary, streaming either way, subscription)
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
            let (input_name, input) = if method.client_streaming {
                (
                    ident("requests"),
                    quote!(::plinth::codegen::RequestStream<#input>),
                )
            } else if method.subscribe.is_some() {
                (ident("message"), input)
            } else {
                (ident("request"), input)
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
        let input = ctx.ty(&method.input);
        let reply = reply_of(ctx, method);
        let request = if method.client_streaming {
            // One request is a stream of one.
            quote! {
                let request: ::plinth::codegen::RequestStream<#input> = ::std::boxed::Box::pin(
                    ::plinth::codegen::futures::stream::once(::core::future::ready(::core::result::Result::Ok(request))),
                );
            }
        } else {
            TokenStream::new()
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
                ::std::boxed::Box::pin(async move {
                    #request
                    #reply
                })
            }
        }
    });
    let stream_arms: Vec<TokenStream> = component
        .methods
        .iter()
        .enumerate()
        .filter(|(_, method)| method.client_streaming && handled(method))
        .map(|(index, method)| {
            let index = proc_macro2::Literal::usize_unsuffixed(index);
            let input = ctx.ty(&method.input);
            let reply = reply_of(ctx, method);
            quote! {
                #index => {
                    let request: ::plinth::codegen::RequestStream<#input> = ::std::boxed::Box::pin(
                        ::plinth::codegen::futures::StreamExt::map(requests, |item| {
                            item.and_then(|bytes| ::plinth::codegen::decode::<#input>(&bytes))
                        }),
                    );
                    let inner = ::std::sync::Arc::clone(&self.inner);
                    ::std::boxed::Box::pin(async move { #reply })
                }
            }
        })
        .collect();
    let unknown = commands::unknown_method(ctx);
    let call_stream = if stream_arms.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            fn call_stream(
                &self,
                method: usize,
                requests: ::plinth::codegen::BoxStream<'static, ::core::result::Result<::plinth::codegen::Bytes, ::plinth::codegen::Status>>,
                ctx: ::plinth::codegen::ActionContext,
            ) -> ::plinth::codegen::BoxFuture<
                'static,
                ::core::result::Result<::plinth::codegen::ActionReply, ::plinth::codegen::Status>,
            > {
                match method {
                    #(#stream_arms)*
                    _ => ::std::boxed::Box::pin(::core::future::ready(::core::result::Result::Err(#unknown))),
                }
            }
        }
    };
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

            #call_stream
        }
    }
}

/// The body of a call arm: run the handler with `request` (a message or a
/// request stream) and encode its reply (one message or a stream).
fn reply_of(ctx: &Ctx<'_>, method: &Method) -> TokenStream {
    let handler = ctx.handler(method);
    if method.server_streaming {
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
    }
}
