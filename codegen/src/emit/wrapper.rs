//! The registrable wrapper of every component with user code: a struct holding
//! the user's implementation, its constructor, `Debug`, and the `Component`
//! impl that registers it with the runtime.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// How the wrapper holds the implementation.
pub(crate) enum Holding {
    /// By value: handlers run while the runtime borrows the component.
    Owned,
    /// In an `Arc`: async handlers outlive the borrow.
    Shared,
}

/// The wrapper `component` of an implementation of `trait_name`, registered
/// with `Registration::<register>` and described as a `kind`.
pub(crate) fn emit(
    component: &Ident,
    trait_name: &Ident,
    kind: &str,
    register: TokenStream,
    holding: Holding,
) -> TokenStream {
    let component_doc = format!(" The `{trait_name}` {kind} as a registrable component.");
    let new_doc = format!(" Wrap an implementation of `{trait_name}`.");
    let debug_name = component.to_string();
    let (field, init) = match holding {
        Holding::Owned => (quote!(T), quote!(Self { inner })),
        Holding::Shared => (
            quote!(::std::sync::Arc<T>),
            quote!(Self {
                inner: ::std::sync::Arc::new(inner)
            }),
        ),
    };
    quote! {
        #[doc = #component_doc]
        pub struct #component<T> {
            inner: #field,
        }

        impl<T: #trait_name> #component<T> {
            #[doc = #new_doc]
            pub fn new(inner: T) -> Self {
                #init
            }
        }

        impl<T> ::core::fmt::Debug for #component<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#debug_name).finish_non_exhaustive()
            }
        }

        impl<T: #trait_name> ::plinth::codegen::Component for #component<T> {
            fn into_registration(self) -> ::plinth::codegen::Registration {
                ::plinth::codegen::Registration::#register(self)
            }
        }
    }
}
