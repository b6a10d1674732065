//! Views: a component implementing `ViewAdapter`. Only views whose update
//! methods transform their input get a trait; the others need no user code and
//! are a unit struct. Query methods are answered by the runtime.

use proc_macro2::TokenStream;
use quote::quote;

use super::names::view_transforms;
use super::{Ctx, commands, doc, doc_with, wrapper};
use crate::model::{Method, ViewRole};
use crate::naming::ident;

/// How the adapter answers one update method.
pub(super) enum Update {
    /// Store the input as the row.
    Store,
    /// Delete the row (a delete of the source entity).
    Delete,
    /// Leave the row alone (`ignore`).
    Ignore,
    /// Call the user's handler.
    Transform,
    /// Not an update method.
    Query,
}

pub(super) fn update_of(method: &Method) -> Update {
    let subscription = method.subscribe.as_ref();
    if subscription.is_some_and(|s| s.ignore) {
        return Update::Ignore;
    }
    match &method.view {
        Some(ViewRole::Update {
            transform_updates: true,
            ..
        }) => Update::Transform,
        Some(ViewRole::Update { .. }) if subscription.is_some_and(|s| s.handle_deletes) => {
            Update::Delete
        }
        Some(ViewRole::Update { .. }) => Update::Store,
        _ => Update::Query,
    }
}

/// The (optional) trait and the component of a view.
pub fn emit(ctx: &Ctx<'_>) -> TokenStream {
    let component = ctx.component;
    let names = &ctx.names;
    let (trait_name, info) = (&names.trait_name, &names.info);
    let transforms = view_transforms(component);
    let updates: Vec<Update> = component.methods.iter().map(update_of).collect();
    let uses_input = updates
        .iter()
        .any(|u| matches!(u, Update::Store | Update::Transform));
    let (row_param, input_param, ctx_param) = if transforms {
        (ident("row"), ident("input"), ident("ctx"))
    } else if uses_input {
        (ident("_row"), ident("input"), ident("_ctx"))
    } else {
        (ident("_row"), ident("_input"), ident("_ctx"))
    };

    let arms = component.methods.iter().zip(&updates).enumerate().map(|(index, (method, update))| {
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        match update {
        Update::Store => quote! {
            #index => ::core::result::Result::Ok(::plinth::codegen::RowUpdate::Upsert(
                ::plinth::codegen::Bytes::copy_from_slice(input),
            )),
        },
        Update::Delete => quote!(#index => ::core::result::Result::Ok(::plinth::codegen::RowUpdate::Delete),),
        Update::Ignore => quote!(#index => ::core::result::Result::Ok(::plinth::codegen::RowUpdate::Ignore),),
        Update::Query => {
            let message = format!("`{}` is a query, not an update method", ctx.method_path(method));
            quote!(#index => ::core::result::Result::Err(::plinth::codegen::Status::internal(#message)),)
        }
        Update::Transform => {
            let handler = ctx.handler(method);
            let row_ty = ctx.ty(&method.output);
            let input_ty = ctx.ty(&method.input);
            let corrupt = format!("a stored row of `{}` does not decode: {{}}", method.output.full_name);
            quote! {
                #index => {
                    let row = match row {
                        ::core::option::Option::Some(row) => ::core::option::Option::Some(
                            ::plinth::codegen::decode::<#row_ty>(row).map_err(|status| {
                                ::plinth::codegen::Status::internal(::std::format!(#corrupt, status.message()))
                            })?,
                        ),
                        ::core::option::Option::None => ::core::option::Option::None,
                    };
                    let input: #input_ty = ::plinth::codegen::decode(input)?;
                    ::core::result::Result::Ok(
                        self.inner.#handler(row.as_ref(), input, ctx)?.map(|row| ::plinth::codegen::encode(&row)),
                    )
                }
            }
        }
        }
    });
    let unknown = commands::unknown_method(ctx);
    let update_fn = quote! {
        fn info(&self) -> &'static ::plinth::codegen::ComponentInfo {
            &#info
        }

        fn update(
            &self,
            method: usize,
            #row_param: ::core::option::Option<&[u8]>,
            #input_param: &[u8],
            #ctx_param: &::plinth::codegen::UpdateContext,
        ) -> ::core::result::Result<::plinth::codegen::RowUpdate<::plinth::codegen::Bytes>, ::plinth::codegen::Status> {
            match method {
                #(#arms)*
                _ => ::core::result::Result::Err(#unknown),
            }
        }
    };

    if !transforms {
        let doc = doc_with(
            &component.comments,
            &format!(
                "The view `{}` of service `{}`. It needs no code: register `{trait_name}`.",
                component.name, component.service_full_name
            ),
        );
        return quote! {
            #doc
            #[derive(Debug, Clone, Copy, Default)]
            pub struct #trait_name;

            impl ::plinth::codegen::Component for #trait_name {
                fn into_registration(self) -> ::plinth::codegen::Registration {
                    ::plinth::codegen::Registration::view(self)
                }
            }

            impl ::plinth::codegen::ViewAdapter for #trait_name {
                #update_fn
            }
        };
    }

    let component_name = &names.component;
    let trait_doc = doc_with(
        &component.comments,
        &format!(
            "The view `{}` of service `{}`: computes the rows its update methods store.\n\nImplement it and register `{component_name}::new(implementation)`.",
            component.name, component.service_full_name
        ),
    );
    let handlers = component.methods.iter().zip(&updates).filter(|(_, u)| matches!(u, Update::Transform)).map(|(method, _)| {
        let handler = ctx.handler(method);
        let row_ty = ctx.ty(&method.output);
        let input_ty = ctx.ty(&method.input);
        let doc = doc(
            &method.comments,
            &format!("Computes the new row for `{}` from the stored row (if any) and the input.", ctx.method_path(method)),
        );
        quote! {
            #doc
            fn #handler(
                &self,
                row: ::core::option::Option<&#row_ty>,
                input: #input_ty,
                ctx: &::plinth::codegen::UpdateContext,
            ) -> ::core::result::Result<::plinth::codegen::RowUpdate<#row_ty>, ::plinth::codegen::Status>;
        }
    });
    let wrapper = wrapper::emit(
        component_name,
        trait_name,
        "view",
        quote!(view),
        wrapper::Holding::Owned,
    );

    quote! {
        #trait_doc
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#handlers)*
        }

        #wrapper

        impl<T: #trait_name> ::plinth::codegen::ViewAdapter for #component_name<T> {
            #update_fn
        }
    }
}
