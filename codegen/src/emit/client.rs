//! Typed clients: one constructor per callable method — a `DeferredCall` for
//! a unary one (entities' forwards and side effects, actions'
//! `ActionContext::call`, the test harness), a `StreamingCall` for a
//! server-streaming one (a view's `stream_updates` query, a streaming action
//! method; made by external clients and the test harness). A view's update
//! methods are left out: they are fed by its projection, and a call could
//! only fail. Client-streaming methods are called over gRPC or HTTP directly.

use proc_macro2::TokenStream;
use quote::quote;

use super::Ctx;
use crate::model::ViewRole;

/// The client struct of a service.
pub fn emit(ctx: &Ctx<'_>) -> TokenStream {
    let component = ctx.component;
    let client = &ctx.names.client;
    let doc = format!(
        " Calls to `{}`: forwards and side effects of entities (`Effect::forward`, `with_side_effect`), awaited calls of actions (`ActionContext::call`).",
        component.service_full_name
    );
    let methods = component
        .methods
        .iter()
        .filter(|method| !matches!(method.view, Some(ViewRole::Update { .. })))
        .filter(|method| !(method.client_streaming && method.server_streaming))
        .map(|method| {
            let name = ctx.handler(method);
            let input = ctx.ty(&method.input);
            let output = ctx.ty(&method.output);
            let path = ctx.method_path(method);
            if method.server_streaming {
                let doc = format!(" A call of `{path}`, replying with a stream.");
                quote! {
                    #[doc = #doc]
                    pub fn #name(request: #input) -> ::plinth::codegen::StreamingCall<#output> {
                        ::plinth::codegen::StreamingCall::new(#path, ::plinth::codegen::encode(&request))
                    }
                }
            } else {
                let doc = format!(" A call of `{path}`.");
                quote! {
                    #[doc = #doc]
                    pub fn #name(request: #input) -> ::plinth::codegen::DeferredCall<#output> {
                        ::plinth::codegen::DeferredCall::new(#path, ::plinth::codegen::encode(&request))
                    }
                }
            }
        });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct #client;

        impl #client {
            #(#methods)*
        }
    }
}
