//! The JSON codecs: `ToJson`, `FromJson` and `JsonEnum` impls over prost's
//! structs, for the messages and enums of the model's [`JsonModel`], each in
//! the file of the package that declares it; and the `JsonCodec` list of a
//! component. What the impls must do is stated by the runtime's
//! `http::typed_json`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{JsonField, JsonMessage, JsonModel, Scalar, Shape, TypeRef, ValueKind};
use crate::naming;

const JSON: &str = "::plinth::codegen::json";

fn json() -> TokenStream {
    JSON.parse().unwrap_or_default()
}

/// The impls for the messages and enums `json` declares in `package`.
pub fn impls(package: &str, json: &JsonModel) -> TokenStream {
    let messages = json
        .messages
        .iter()
        .filter(|message| message.ty.package == package)
        .map(|message| message_impls(package, message));
    let enums = json
        .enums
        .iter()
        .filter(|e| e.package == package)
        .map(|e| enum_impl(package, e));
    quote! { #(#messages)* #(#enums)* }
}

/// `&[JsonCodec { .. }, ..]` for `codecs`, seen from `package`.
pub fn codec_list(package: &str, codecs: &[TypeRef]) -> TokenStream {
    let json = json();
    let codecs = codecs.iter().map(|ty| {
        let name = &ty.full_name;
        let path = naming::type_path(package, ty);
        quote! {
            ::plinth::codegen::JsonCodec {
                type_name: #name,
                parse: #json::parse::<#path>,
                render: #json::render::<#path>,
            }
        }
    });
    quote!(&[#(#codecs),*])
}

fn message_impls(package: &str, message: &JsonMessage) -> TokenStream {
    let json = json();
    let ty = naming::type_path(package, &message.ty);
    let writes = message
        .fields
        .iter()
        .map(|field| write_field(package, field));
    let read = if message.fields.is_empty() {
        quote! {
            let _ = (key, seen, map);
            ::core::result::Result::Err(#json::unknown())
        }
    } else {
        let arms = message.fields.iter().map(|field| read_arm(package, field));
        quote! {
            match key {
                #(#arms)*
                _ => return ::core::result::Result::Err(#json::unknown()),
            }
            ::core::result::Result::Ok(())
        }
    };
    quote! {
        impl #json::ToJson for #ty {
            fn write_json(&self, out: &mut #json::JsonWriter) {
                out.begin_object();
                #(#writes)*
                out.end_object();
            }
        }

        impl #json::FromJson for #ty {
            fn read_field<'de, A: #json::serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                seen: &mut #json::Seen,
                map: &mut A,
            ) -> ::core::result::Result<(), A::Error> {
                #read
            }
        }
    }
}

fn enum_impl(package: &str, e: &TypeRef) -> TokenStream {
    let json = json();
    let ty = naming::type_path(package, e);
    quote! {
        impl #json::JsonEnum for #ty {
            fn name_of(number: i32) -> ::core::option::Option<&'static str> {
                <#ty as ::core::convert::TryFrom<i32>>::try_from(number)
                    .ok()
                    .map(|value| value.as_str_name())
            }
            fn number_of(name: &str) -> ::core::option::Option<i32> {
                #ty::from_str_name(name).map(|value| value as i32)
            }
        }
    }
}

/// The member's key as JSON text with its colon: `"customerId":`.
fn key(field: &JsonField) -> String {
    let quoted = serde_json::to_string(&field.json_name).unwrap_or_default();
    format!("{quoted}:")
}

/// Writing the value `value` (an expression of type `&T`).
fn write_value(package: &str, kind: &ValueKind, value: TokenStream) -> TokenStream {
    match kind {
        ValueKind::Scalar(scalar) => match scalar {
            Scalar::String => quote!(out.string(#value)),
            Scalar::Bytes => quote!(out.bytes(#value)),
            Scalar::Bool => quote!(out.bool(*#value)),
            Scalar::I32 => quote!(out.i32(*#value)),
            Scalar::U32 => quote!(out.u32(*#value)),
            Scalar::I64 => quote!(out.i64(*#value)),
            Scalar::U64 => quote!(out.u64(*#value)),
            Scalar::F32 => quote!(out.f32(*#value)),
            Scalar::F64 => quote!(out.f64(*#value)),
        },
        ValueKind::Enum(e) => {
            let ty = naming::type_path(package, e);
            quote!(out.enumeration::<#ty>(*#value))
        }
        ValueKind::Message(m) => {
            let ty = naming::type_path(package, m);
            quote!(out.message::<#ty>(#value))
        }
    }
}

fn write_field(package: &str, field: &JsonField) -> TokenStream {
    let key = key(field);
    let rust = naming::ident(&field.rust);
    let value = write_value(package, &field.value, quote!(value));
    match &field.shape {
        Shape::Plain => quote! {
            {
                let value = &self.#rust;
                out.key(#key);
                #value;
            }
        },
        Shape::Optional => quote! {
            if let ::core::option::Option::Some(value) = &self.#rust {
                out.key(#key);
                #value;
            }
        },
        Shape::Repeated => quote! {
            out.key(#key);
            out.begin_array();
            for value in &self.#rust {
                out.item();
                #value;
            }
            out.end_array();
        },
        Shape::Map(key_kind) => {
            let write_key = match key_kind {
                Scalar::String => quote!(out.map_key(entry_key)),
                _ => quote!(out.map_key_display(entry_key)),
            };
            quote! {
                out.key(#key);
                out.begin_object();
                for (entry_key, value) in &self.#rust {
                    #write_key;
                    #value;
                }
                out.end_object();
            }
        }
        Shape::Oneof { oneof, variant, .. } => {
            let oneof = naming::type_path(package, oneof);
            let variant = naming::ident(variant);
            quote! {
                if let ::core::option::Option::Some(#oneof::#variant(value)) = &self.#rust {
                    out.key(#key);
                    #value;
                }
            }
        }
    }
}

/// The reader type of a value.
fn reader(package: &str, kind: &ValueKind) -> TokenStream {
    let json = json();
    match kind {
        ValueKind::Scalar(scalar) => match scalar {
            Scalar::String => quote!(::std::string::String),
            Scalar::Bytes => quote!(#json::Base64),
            Scalar::Bool => quote!(bool),
            Scalar::I32 => quote!(#json::I32),
            Scalar::U32 => quote!(#json::U32),
            Scalar::I64 => quote!(#json::I64),
            Scalar::U64 => quote!(#json::U64),
            Scalar::F32 => quote!(#json::F32),
            Scalar::F64 => quote!(#json::F64),
        },
        ValueKind::Enum(e) => {
            let ty = naming::type_path(package, e);
            quote!(#json::Enum<#ty>)
        }
        ValueKind::Message(m) => {
            let ty = naming::type_path(package, m);
            quote!(#json::Msg<#ty>)
        }
    }
}

fn map_key(key: Scalar) -> TokenStream {
    match key {
        Scalar::Bool => quote!(bool),
        Scalar::I32 => quote!(i32),
        Scalar::U32 => quote!(u32),
        Scalar::I64 => quote!(i64),
        Scalar::U64 => quote!(u64),
        _ => quote!(::std::string::String),
    }
}

fn read_arm(package: &str, field: &JsonField) -> TokenStream {
    let json = json();
    let names = if field.json_name == field.name {
        let name = &field.name;
        quote!(#name)
    } else {
        let (json_name, name) = (&field.json_name, &field.name);
        quote!(#json_name | #name)
    };
    let rust = naming::ident(&field.rust);
    let slot = field.slot;
    let reader = reader(package, &field.value);
    let take =
        |reader: TokenStream| quote!(#json::JsonValue::into_rust(map.next_value::<#reader>()?));
    let assign = match &field.shape {
        Shape::Plain => {
            let value = take(reader);
            quote!(self.#rust = #value;)
        }
        Shape::Optional => {
            let value = take(reader);
            quote!(self.#rust = ::core::option::Option::Some(#value.into());)
        }
        Shape::Repeated => {
            let value = take(quote!(#json::List<#reader>));
            quote!(self.#rust = #value;)
        }
        Shape::Map(key) => {
            let key = map_key(*key);
            let value = take(quote!(#json::Map<#key, #reader>));
            quote!(self.#rust = #value;)
        }
        Shape::Oneof {
            oneof,
            variant,
            slot: oneof_slot,
        } => {
            let oneof = naming::type_path(package, oneof);
            let variant = naming::ident(variant);
            let value = take(reader);
            quote! {
                seen.once(#oneof_slot)?;
                self.#rust = ::core::option::Option::Some(#oneof::#variant(#value.into()));
            }
        }
    };
    quote! {
        #names => {
            seen.once(#slot)?;
            #assign
        }
    }
}
