//! The static `ComponentInfo` of a component: everything the runtime needs to
//! route, transcode, subscribe and authorize its methods.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Ctx;
use crate::model::{
    Acl, BodySelector, ComponentKind, HttpBinding, HttpMethod, IdSpec, Jwt, Method, PathTemplate,
    Principal, Segment, Source, Subscription, ViewRole,
};

/// `pub static <NAME>_INFO: ComponentInfo = ...;`
pub fn emit(ctx: &Ctx<'_>) -> TokenStream {
    let component = ctx.component;
    let info = &ctx.names.info;
    let name = ctx.names.trait_name.to_string();
    let name = name.trim_start_matches("r#");
    let service = &component.service_full_name;
    let (kind, type_id, state, events, snapshot_every) = match &component.kind {
        ComponentKind::ValueEntity { type_id, state } => (
            quote!(ValueEntity),
            type_id.as_str(),
            state.full_name.as_str(),
            Vec::new(),
            0,
        ),
        ComponentKind::EventSourcedEntity {
            type_id,
            state,
            events,
            snapshot_every,
        } => (
            quote!(EventSourcedEntity),
            type_id.as_str(),
            state.full_name.as_str(),
            events
                .iter()
                .map(|event| event.full_name.as_str())
                .collect(),
            *snapshot_every,
        ),
        ComponentKind::Action => (quote!(Action), "", "", Vec::new(), 0),
        ComponentKind::View { .. } => (quote!(View), "", "", Vec::new(), 0),
        ComponentKind::Workflow { type_id, state } => (
            quote!(Workflow),
            type_id.as_str(),
            state.full_name.as_str(),
            Vec::new(),
            0,
        ),
    };
    let snapshot_every = int(i64::from(snapshot_every));
    let methods = component
        .methods
        .iter()
        .map(|method| method_info(ctx, method));
    let root = ctx.root();
    let json = super::json::codec_list(ctx.package, &component.json_codecs);
    let doc = format!(" What the runtime knows about `{service}` (component `{name}`).");
    quote! {
        #[doc = #doc]
        pub static #info: ::plinth::codegen::ComponentInfo = ::plinth::codegen::ComponentInfo {
            kind: ::plinth::codegen::ComponentKind::#kind,
            name: #name,
            service: #service,
            type_id: #type_id,
            state_type: #state,
            event_types: &[#(#events),*],
            snapshot_every: #snapshot_every,
            methods: &[#(#methods),*],
            file_descriptor_set: #root FILE_DESCRIPTOR_SET,
            json: #json,
        };
    }
}

/// An unsuffixed integer literal (negative values as a negation).
fn int(value: i64) -> TokenStream {
    let literal = Literal::u64_unsuffixed(value.unsigned_abs());
    if value < 0 {
        quote!(-#literal)
    } else {
        quote!(#literal)
    }
}

fn option<T>(value: Option<&T>, f: impl FnOnce(&T) -> TokenStream) -> TokenStream {
    match value {
        Some(value) => {
            let inner = f(value);
            quote!(::core::option::Option::Some(#inner))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn method_info(ctx: &Ctx<'_>, method: &Method) -> TokenStream {
    let name = &method.name;
    let path = ctx.method_path(method);
    let input = &method.input.full_name;
    let output = &method.output.full_name;
    let streaming = method.server_streaming;
    let client_streaming = method.client_streaming;
    let id = match &method.id {
        IdSpec::None => quote!(None),
        IdSpec::GeneratedUuid => quote!(GeneratedUuid),
        IdSpec::Fields(fields) => {
            let paths = fields.iter().map(|field| {
                let parts = &field.path;
                quote!(&[#(#parts),*])
            });
            quote!(Fields(&[#(#paths),*]))
        }
    };
    let http = method.http.iter().map(http_rule);
    let subscribe = option(method.subscribe.as_ref(), subscription);
    let view = option(method.view.as_ref(), |role| {
        view_role(role, method.view_plan.as_deref().unwrap_or_default())
    });
    let publish = option(method.publish.as_ref(), |topic| quote!(#topic));
    let acl = option(method.acl.as_ref(), acl);
    let jwt = option(method.jwt.as_ref(), jwt);
    let trigger = option(
        method.startup_retries.as_ref(),
        |retries| quote!(::plinth::codegen::Trigger { max_retries: #retries }),
    );
    quote! {
        ::plinth::codegen::MethodInfo {
            name: #name,
            path: #path,
            input_type: #input,
            output_type: #output,
            server_streaming: #streaming,
            client_streaming: #client_streaming,
            id: ::plinth::codegen::IdSource::#id,
            http: &[#(#http),*],
            subscribe: #subscribe,
            view: #view,
            publish: #publish,
            acl: #acl,
            jwt: #jwt,
            trigger: #trigger,
        }
    }
}

fn http_rule(binding: &HttpBinding) -> TokenStream {
    let method = match &binding.method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Delete => quote!(Delete),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Custom(kind) => quote!(Custom(#kind)),
    };
    let template = template(&binding.template);
    let body = match &binding.body {
        BodySelector::None => quote!(None),
        BodySelector::Whole => quote!(Whole),
        BodySelector::Field(field) => quote!(Field(#field)),
    };
    let response_body = option(binding.response_body.as_ref(), |field| quote!(#field));
    quote! {
        ::plinth::codegen::HttpRule {
            method: ::plinth::codegen::HttpMethod::#method,
            template: #template,
            body: ::plinth::codegen::BodySelector::#body,
            response_body: #response_body,
        }
    }
}

fn template(template: &PathTemplate) -> TokenStream {
    let source = &template.source;
    let segments = template.segments.iter().map(segment);
    let verb = option(template.verb.as_ref(), |verb| quote!(#verb));
    quote! {
        ::plinth::codegen::PathTemplate {
            source: #source,
            segments: &[#(#segments),*],
            verb: #verb,
        }
    }
}

fn segment(segment: &Segment) -> TokenStream {
    match segment {
        Segment::Literal(literal) => quote!(::plinth::codegen::Segment::Literal(#literal)),
        Segment::Wildcard => quote!(::plinth::codegen::Segment::Wildcard),
        Segment::DoubleWildcard => quote!(::plinth::codegen::Segment::DoubleWildcard),
        Segment::Variable {
            field_path,
            pattern,
        } => {
            let pattern = pattern.iter().map(self::segment);
            quote! {
                ::plinth::codegen::Segment::Variable {
                    field_path: &[#(#field_path),*],
                    pattern: &[#(#pattern),*],
                }
            }
        }
    }
}

fn subscription(subscription: &Subscription) -> TokenStream {
    let source = match &subscription.source {
        Source::ValueEntity(type_id) => quote!(ValueEntity(#type_id)),
        Source::EventSourcedEntity(type_id) => quote!(EventSourcedEntity(#type_id)),
        Source::Topic(topic) => quote!(Topic(#topic)),
        Source::Direct { service, stream } => quote!(Direct { service: #service, stream: #stream }),
    };
    let Subscription {
        consumer_group,
        ignore,
        ignore_unknown,
        handle_deletes,
        handle_snapshots,
        ..
    } = subscription;
    quote! {
        ::plinth::codegen::Subscription {
            source: ::plinth::codegen::SourceKind::#source,
            consumer_group: #consumer_group,
            ignore: #ignore,
            ignore_unknown: #ignore_unknown,
            handle_deletes: #handle_deletes,
            handle_snapshots: #handle_snapshots,
        }
    }
}

fn view_role(role: &ViewRole, plan: &str) -> TokenStream {
    match role {
        ViewRole::Update {
            table,
            transform_updates,
        } => quote! {
            ::plinth::codegen::ViewMethod::Update { table: #table, transform_updates: #transform_updates, plan: #plan }
        },
        ViewRole::Query {
            sql,
            stream_updates,
        } => quote! {
            ::plinth::codegen::ViewMethod::Query { sql: #sql, stream_updates: #stream_updates, plan: #plan }
        },
    }
}

fn principal(principal: &Principal) -> TokenStream {
    match principal {
        Principal::All => quote!(::plinth::codegen::Principal::All),
        Principal::Internet => quote!(::plinth::codegen::Principal::Internet),
        Principal::Service(name) => quote!(::plinth::codegen::Principal::Service(#name)),
    }
}

fn acl(acl: &Acl) -> TokenStream {
    let allow = acl.allow.iter().map(principal);
    let deny = acl.deny.iter().map(principal);
    let deny_code = int(i64::from(acl.deny_code));
    quote! {
        ::plinth::codegen::Acl { allow: &[#(#allow),*], deny: &[#(#deny),*], deny_code: #deny_code }
    }
}

fn jwt(jwt: &Jwt) -> TokenStream {
    let validate = jwt.validate_bearer_token;
    let issuers = &jwt.issuers;
    let claims = jwt
        .static_claims
        .iter()
        .map(|(claim, value)| quote!((#claim, #value)));
    let fields = jwt.claim_fields.iter().map(|f| {
        let (claim, field, number) = (&f.claim, &f.field, f.number);
        quote!(::plinth::codegen::ClaimField { claim: #claim, field: #field, number: #number })
    });
    quote! {
        ::plinth::codegen::Jwt {
            validate_bearer_token: #validate,
            issuers: &[#(#issuers),*],
            static_claims: &[#(#claims),*],
            claim_fields: &[#(#fields),*],
        }
    }
}
