//! Typed clients: one `DeferredCall` constructor per unary method, for
//! entities' forwards and side effects and for actions' `ActionContext::call`.

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
        // A view's update methods are fed by its projection: a call could
        // only fail.
        .filter(|method| {
            !method.server_streaming && !matches!(method.view, Some(ViewRole::Update { .. }))
        })
        .map(|method| {
            let name = ctx.handler(method);
            let input = ctx.ty(&method.input);
            let output = ctx.ty(&method.output);
            let path = ctx.method_path(method);
            let doc = format!(" A call of `{path}`.");
            quote! {
                #[doc = #doc]
                pub fn #name(request: #input) -> ::plinth::codegen::DeferredCall<#output> {
                    ::plinth::codegen::DeferredCall::new(#path, ::plinth::codegen::encode(&request))
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
