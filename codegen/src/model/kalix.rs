//! Reading the Kalix compatibility options (`kalix/annotations.proto`) into the
//! same declarations as Plinth's own options, so Kalix service definitions
//! build unchanged.

use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use super::Ctx;
use super::options::{
    ComponentDecl, KindDecl, MethodDecl, UpdateDecl, acl, extension, has, int, jwt, message,
    method_option_loc, service_option_loc, string, strings, subscribe,
};
use crate::error::ErrorKind;

/// Reads `(kalix.codegen)` and `(kalix.service)` of `service`, when the
/// service has a `(kalix.codegen)` component.
pub(crate) fn component(ctx: &mut Ctx<'_>, service: &ServiceDescriptor) -> Option<ComponentDecl> {
    let ext = ctx.ext.kalix_codegen.clone()?;
    let msg = extension(&service.options(), Some(&ext))?;
    let loc = service_option_loc(service, &ext);
    let (kind, body) = if let Some(b) = message(&msg, "value_entity") {
        let kind = KindDecl::ValueEntity {
            type_id: type_id(&b),
            state: string(&b, "state"),
        };
        (kind, b)
    } else if let Some(b) = message(&msg, "event_sourced_entity") {
        let kind = KindDecl::EventSourcedEntity {
            type_id: type_id(&b),
            state: string(&b, "state"),
            events: strings(&b, "events"),
            snapshot_every: 0,
        };
        (kind, b)
    } else if let Some(b) = message(&msg, "action") {
        (KindDecl::Action, b)
    } else if let Some(b) = message(&msg, "view") {
        (KindDecl::View, b)
    } else if let Some(b) = message(&msg, "workflow") {
        let kind = KindDecl::Workflow {
            type_id: string(&b, "type_id"),
            state: string(&b, "state"),
        };
        (kind, b)
    } else if message(&msg, "replicated_entity").is_some() {
        ctx.error(
            ErrorKind::InvalidOption,
            &loc.clone().at("replicated_entity"),
            "not supported",
            format!(
                "service `{}` is a replicated entity, which Plinth does not support",
                service.name()
            ),
            "model the state as a value entity or an event-sourced entity (see docs/annotations.md#kalix-options)",
        );
        return None;
    } else {
        ctx.error(
            ErrorKind::InvalidOption,
            &loc,
            "no component kind",
            format!(
                "`(kalix.codegen)` of service `{}` sets no component kind",
                service.name()
            ),
            "set one of value_entity, event_sourced_entity, action, view, workflow",
        );
        return None;
    };
    let mut decl = ComponentDecl {
        kind,
        name: string(&body, "name"),
        acl: None,
        jwt: None,
        subscribe: None,
        direct_stream: None,
        loc,
    };
    let service_ext = ctx.ext.kalix_service.clone();
    if let Some(options) = extension(&service.options(), service_ext.as_ref()) {
        let service_loc = service_ext
            .as_ref()
            .map(|e| service_option_loc(service, e))
            .unwrap_or_else(|| decl.loc.clone());
        decl.acl = message(&options, "acl").map(|m| acl(&m));
        decl.jwt = message(&options, "jwt").map(|m| jwt(&m, service_loc.child(&[5])));
        // `eventing.out.direct`: the service's results form a direct event
        // stream other services read from this one.
        if let Some(direct) = message(&options, "eventing")
            .and_then(|e| message(&e, "out"))
            .and_then(|out| message(&out, "direct"))
        {
            decl.direct_stream = Some((
                string(&direct, "event_stream_id"),
                service_loc.child(&[4, 2, 1]),
            ));
        }
        if let Some(source) = message(&options, "eventing").and_then(|e| message(&e, "in")) {
            decl.subscribe = Some(subscribe(ctx, &source, service_loc.child(&[4, 1])));
        }
    }
    Some(decl)
}

/// `type_id`, else the legacy `entity_type`.
fn type_id(body: &prost_reflect::DynamicMessage) -> String {
    let id = string(body, "type_id");
    if id.is_empty() {
        string(body, "entity_type")
    } else {
        id
    }
}

/// Reads `(kalix.method)` of `method` into `decl`.
pub(crate) fn method(ctx: &mut Ctx<'_>, method: &MethodDescriptor, decl: &mut MethodDecl) {
    let Some(ext) = ctx.ext.kalix_method.clone() else {
        return;
    };
    let Some(msg) = extension(&method.options(), Some(&ext)) else {
        return;
    };
    let loc = method_option_loc(method, &ext);
    if let Some(eventing) = message(&msg, "eventing") {
        if let Some(source) = message(&eventing, "in") {
            decl.subscribe = Some(subscribe(ctx, &source, loc.child(&[1, 1])));
        }
        if let Some(out) = message(&eventing, "out")
            && has(&out, "topic")
        {
            decl.publish = Some((string(&out, "topic"), loc.child(&[1, 2])));
        }
    }
    if let Some(t) = message(&msg, "trigger") {
        decl.trigger = Some(super::options::trigger(&t, loc.child(&[7])));
    }
    if let Some(view) = message(&msg, "view") {
        if view.has_field_by_name("json_schema") {
            ctx.error(
                ErrorKind::InvalidOption,
                &loc.child(&[2]).at("json_schema"),
                "not supported",
                format!(
                    "rpc `{}` declares a JSON view (`view.json_schema`), which is not supported",
                    method.name()
                ),
                "give the view's rows a protobuf message type and drop `json_schema` (see docs/annotations.md#kalix-options)",
            );
        }
        if let Some(update) = message(&view, "update") {
            decl.update = Some(UpdateDecl {
                table: string(&update, "table"),
                transform_updates: super::options::flag(&update, "transform_updates"),
                implied_transform: true,
                loc: loc.child(&[2, 1]),
            });
        }
        if let Some(query) = message(&view, "query") {
            if super::options::flag(&query, "transform_results") {
                ctx.error(
                    ErrorKind::InvalidOption,
                    &loc.child(&[2, 2]).at("transform_results"),
                    "not supported",
                    format!(
                        "rpc `{}` asks for `transform_results`, which Kalix itself dropped: no user code \
                         reshapes a query's results here",
                        method.name()
                    ),
                    "shape the result in the query (`SELECT ... AS field`, nested projections) and remove the option (see docs/annotations.md#kalix-options)",
                );
            }
            decl.query = Some((
                string(&query, "query"),
                super::options::flag(&query, "stream_updates"),
                loc.child(&[2, 2]),
            ));
        }
    }
    let uuid = |m: Option<prost_reflect::DynamicMessage>, field: &str| {
        m.is_some_and(|m| int(&m, field) == 1)
    };
    if uuid(message(&msg, "id_generator"), "algorithm") {
        decl.id_generator = Some(loc.child(&[8]));
    } else if uuid(message(&msg, "entity"), "key_generator") {
        decl.id_generator = Some(loc.child(&[4]));
    } else if uuid(message(&msg, "workflow"), "key_generator") {
        decl.id_generator = Some(loc.child(&[6]));
    }
    decl.acl = message(&msg, "acl").map(|m| acl(&m)).or(decl.acl.take());
    decl.jwt = message(&msg, "jwt")
        .map(|m| jwt(&m, loc.child(&[3])))
        .or(decl.jwt.take());
}
