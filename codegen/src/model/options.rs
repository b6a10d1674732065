//! Reading `(plinth.*)` options into declarations, and the value helpers the
//! Kalix reader shares. Declarations are what a service or rpc says, before
//! names are resolved and rules are checked.

use prost_reflect::{
    DynamicMessage, ExtensionDescriptor, MethodDescriptor, ServiceDescriptor, Value,
};

use super::Ctx;
use super::span::{Loc, options_field};
use super::types::{Acl, Jwt, Principal, Source, Subscription};
use crate::error::ErrorKind;

/// What a service declares itself to be.
#[derive(Debug, Clone)]
pub(crate) struct ComponentDecl {
    pub kind: KindDecl,
    /// The declared `name` (may be empty or dotted).
    pub name: String,
    pub acl: Option<Acl>,
    pub jwt: Option<JwtDecl>,
    /// The default source of the service's methods.
    pub subscribe: Option<SubscribeDecl>,
    /// The direct event stream the service's results form, and where it is declared.
    pub direct_stream: Option<(String, Loc)>,
    /// The component option.
    pub loc: Loc,
}

/// The kind-specific part of a component declaration; type names unresolved.
#[derive(Debug, Clone)]
pub(crate) enum KindDecl {
    ValueEntity {
        type_id: String,
        state: String,
    },
    EventSourcedEntity {
        type_id: String,
        state: String,
        events: Vec<String>,
        snapshot_every: i32,
    },
    Action,
    View,
    Workflow {
        type_id: String,
        state: String,
    },
}

/// A declared subscription and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct SubscribeDecl {
    /// `None` when no source is set (only flags such as `ignore`).
    pub source: Option<Source>,
    pub sub: Subscription,
    pub loc: Loc,
}

/// A declared view update.
#[derive(Debug, Clone)]
pub(crate) struct UpdateDecl {
    pub table: String,
    pub transform_updates: bool,
    /// Kalix semantics: an input type different from the row type implies
    /// `transform_updates`.
    pub implied_transform: bool,
    pub loc: Loc,
}

/// What an rpc declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct MethodDecl {
    pub id_generator: Option<Loc>,
    pub subscribe: Option<SubscribeDecl>,
    pub update: Option<UpdateDecl>,
    pub query: Option<(String, bool, Loc)>,
    pub publish: Option<(String, Loc)>,
    pub acl: Option<Acl>,
    pub jwt: Option<JwtDecl>,
    pub trigger: Option<TriggerDecl>,
}

/// Declared bearer-token validation, with what of it Plinth does not
/// enforce (Kalix's `sign`, `validate: MESSAGE`) and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct JwtDecl {
    pub jwt: Jwt,
    pub unsupported: Vec<&'static str>,
    pub loc: Loc,
}

/// A `trigger` option: the event number, the retries, and where it is.
#[derive(Debug, Clone)]
pub(crate) struct TriggerDecl {
    pub on: i64,
    pub max_retries: i64,
    pub loc: Loc,
}

/// Reads a `trigger` option (Plinth's or Kalix's: the same fields).
pub(crate) fn trigger(msg: &DynamicMessage, loc: Loc) -> TriggerDecl {
    TriggerDecl {
        on: int(msg, "on"),
        max_retries: int(msg, "max_retries"),
        loc,
    }
}

/// The option location of extension `ext` on a service.
pub(crate) fn service_option_loc(service: &ServiceDescriptor, ext: &ExtensionDescriptor) -> Loc {
    Loc::new(&service.parent_file(), service.path())
        .child(&[options_field::SERVICE, ext.number() as i32])
}

/// The option location of extension `ext` on a method.
pub(crate) fn method_option_loc(method: &MethodDescriptor, ext: &ExtensionDescriptor) -> Loc {
    Loc::new(&method.parent_service().parent_file(), method.path())
        .child(&[options_field::METHOD, ext.number() as i32])
}

/// The value of extension `ext` in `options`, when set.
pub(crate) fn extension(
    options: &DynamicMessage,
    ext: Option<&ExtensionDescriptor>,
) -> Option<DynamicMessage> {
    let ext = ext?;
    if !options.has_extension(ext) {
        return None;
    }
    match options.get_extension(ext).as_ref() {
        Value::Message(message) => Some(message.clone()),
        _ => None,
    }
}

/// A set message field.
pub(crate) fn message(msg: &DynamicMessage, name: &str) -> Option<DynamicMessage> {
    if !msg.has_field_by_name(name) {
        return None;
    }
    match msg.get_field_by_name(name)?.as_ref() {
        Value::Message(message) => Some(message.clone()),
        _ => None,
    }
}

/// A string field (empty when unset).
pub(crate) fn string(msg: &DynamicMessage, name: &str) -> String {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Whether a string field is set (a oneof member may be set to "").
pub(crate) fn has(msg: &DynamicMessage, name: &str) -> bool {
    msg.has_field_by_name(name)
}

/// A bool field.
pub(crate) fn flag(msg: &DynamicMessage, name: &str) -> bool {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// An integer field (int32, uint32 or enum number).
pub(crate) fn int(msg: &DynamicMessage, name: &str) -> i64 {
    msg.get_field_by_name(name)
        .and_then(|v| match v.as_ref() {
            Value::I32(n) | Value::EnumNumber(n) => Some(i64::from(*n)),
            Value::U32(n) => Some(i64::from(*n)),
            _ => None,
        })
        .unwrap_or(0)
}

/// A repeated field's values.
pub(crate) fn list(msg: &DynamicMessage, name: &str) -> Vec<Value> {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_list().map(<[Value]>::to_vec))
        .unwrap_or_default()
}

/// A repeated string field.
pub(crate) fn strings(msg: &DynamicMessage, name: &str) -> Vec<String> {
    list(msg, name)
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Reads an access rule (`plinth.Acl` and `kalix.Acl` have the same shape).
pub(crate) fn acl(msg: &DynamicMessage) -> Acl {
    let principals = |name: &str| {
        list(msg, name)
            .iter()
            .filter_map(|v| v.as_message())
            .filter_map(|m| {
                if has(m, "service") {
                    Some(Principal::Service(string(m, "service")))
                } else {
                    match int(m, "principal") {
                        1 => Some(Principal::All),
                        2 => Some(Principal::Internet),
                        _ => None,
                    }
                }
            })
            .collect()
    };
    let deny_code = u32::try_from(int(msg, "deny_code")).unwrap_or(0);
    Acl {
        allow: principals("allow"),
        deny: principals("deny"),
        deny_code: if deny_code == 0 { 7 } else { deny_code },
    }
}

/// Reads bearer-token validation (`plinth.Jwt`, or Kalix's method/service
/// JWT options where `validate` holds `BEARER_TOKEN` = 1) written at `loc`.
pub(crate) fn jwt(msg: &DynamicMessage, loc: Loc) -> JwtDecl {
    let validate = flag(msg, "validate_bearer_token")
        || int(msg, "validate") == 1
        || list(msg, "validate")
            .iter()
            .any(|v| v.as_enum_number() == Some(1));
    let mut unsupported = Vec::new();
    if list(msg, "validate")
        .iter()
        .any(|v| v.as_enum_number() == Some(2))
    {
        unsupported.push("validate: MESSAGE");
    }
    if !list(msg, "sign").is_empty() {
        unsupported.push("sign");
    }
    let jwt = Jwt {
        validate_bearer_token: validate,
        issuers: strings(msg, "bearer_token_issuer"),
        static_claims: list(msg, "static_claim")
            .iter()
            .filter_map(|v| v.as_message())
            .map(|m| (string(m, "claim"), string(m, "value")))
            .collect(),
        claim_fields: Vec::new(),
    };
    JwtDecl {
        jwt,
        unsupported,
        loc,
    }
}

/// Reads a subscription (`plinth.Subscribe` or `kalix.EventSource`).
pub(crate) fn subscribe(ctx: &mut Ctx<'_>, msg: &DynamicMessage, loc: Loc) -> SubscribeDecl {
    let source = if has(msg, "value_entity") {
        Some(Source::ValueEntity(string(msg, "value_entity")))
    } else if has(msg, "event_sourced_entity") {
        Some(Source::EventSourcedEntity(string(
            msg,
            "event_sourced_entity",
        )))
    } else if has(msg, "topic") {
        Some(Source::Topic(string(msg, "topic")))
    } else if let Some(direct) = message(msg, "direct") {
        let (service, stream) = (
            string(&direct, "service"),
            string(&direct, "event_stream_id"),
        );
        if service.is_empty() || stream.is_empty() {
            ctx.error(
                ErrorKind::InvalidOption,
                &loc.clone().at("direct"),
                "incomplete",
                "a direct subscription names the producing `service` and its `event_stream_id`",
                "set both: `direct: { service: \"orders\" event_stream_id: \"order-events\" }`",
            );
            None
        } else {
            Some(Source::Direct { service, stream })
        }
    } else {
        None
    };
    if flag(msg, "handle_snapshots") {
        // Snapshots are never delivered: every event is, so a projection
        // or subscription still sees the whole history.
        ctx.warning(
            ErrorKind::InvalidOption,
            &loc.clone().at("handle_snapshots"),
            "not served",
            "`handle_snapshots` is not served: the runtime delivers every event, never snapshots, \
             so this method is not called with snapshots",
            "handle the events instead (a view is then built from the whole journal), or remove the option (see docs/annotations.md#subscribe)",
        );
    }
    let sub = Subscription {
        source: source.clone().unwrap_or(Source::Topic(String::new())),
        consumer_group: string(msg, "consumer_group"),
        ignore: flag(msg, "ignore"),
        ignore_unknown: flag(msg, "ignore_unknown"),
        handle_deletes: flag(msg, "handle_deletes"),
        handle_snapshots: flag(msg, "handle_snapshots"),
    };
    SubscribeDecl { source, sub, loc }
}

/// Reads `(plinth.component)` of `service`, when set.
pub(crate) fn component(ctx: &mut Ctx<'_>, service: &ServiceDescriptor) -> Option<ComponentDecl> {
    let ext = ctx.ext.plinth_component.clone()?;
    let msg = extension(&service.options(), Some(&ext))?;
    let loc = service_option_loc(service, &ext);
    let kinds = [
        "value_entity",
        "event_sourced_entity",
        "action",
        "view",
        "workflow",
    ];
    let set: Vec<&str> = kinds.iter().copied().filter(|k| has(&msg, k)).collect();
    if set.len() != 1 {
        let message = if set.is_empty() {
            format!(
                "`(plinth.component)` of service `{}` sets no component kind",
                service.name()
            )
        } else {
            format!(
                "`(plinth.component)` of service `{}` sets several component kinds: {}",
                service.name(),
                set.join(", ")
            )
        };
        ctx.error(
            ErrorKind::InvalidOption,
            &loc,
            "exactly one kind expected",
            message,
            "set exactly one of value_entity, event_sourced_entity, action, view, workflow",
        );
        return None;
    }
    let body = message(&msg, set[0])?;
    let kind = match set[0] {
        "value_entity" => KindDecl::ValueEntity {
            type_id: string(&body, "type_id"),
            state: string(&body, "state"),
        },
        "event_sourced_entity" => KindDecl::EventSourcedEntity {
            type_id: string(&body, "type_id"),
            state: string(&body, "state"),
            events: strings(&body, "events"),
            snapshot_every: int(&body, "snapshot_every") as i32,
        },
        "action" => KindDecl::Action,
        "view" => KindDecl::View,
        _ => KindDecl::Workflow {
            type_id: string(&body, "type_id"),
            state: string(&body, "state"),
        },
    };
    let subscribe = message(&msg, "subscribe").map(|s| subscribe(ctx, &s, loc.child(&[12])));
    Some(ComponentDecl {
        kind,
        name: string(&body, "name"),
        acl: message(&msg, "acl").map(|m| acl(&m)),
        jwt: message(&msg, "jwt").map(|m| jwt(&m, loc.child(&[11]))),
        subscribe,
        direct_stream: Some(string(&msg, "direct_stream"))
            .filter(|id| !id.is_empty())
            .map(|id| (id, loc.child(&[13]))),
        loc,
    })
}

/// Reads `(plinth.method)` of `method` into `decl`.
pub(crate) fn method(ctx: &mut Ctx<'_>, method: &MethodDescriptor, decl: &mut MethodDecl) {
    let Some(ext) = ctx.ext.plinth_method.clone() else {
        return;
    };
    let Some(msg) = extension(&method.options(), Some(&ext)) else {
        return;
    };
    let loc = method_option_loc(method, &ext);
    if int(&msg, "id_generator") == 1 {
        decl.id_generator = Some(loc.child(&[1]));
    }
    if let Some(s) = message(&msg, "subscribe") {
        decl.subscribe = Some(subscribe(ctx, &s, loc.child(&[2])));
    }
    if let Some(u) = message(&msg, "update") {
        decl.update = Some(UpdateDecl {
            table: string(&u, "table"),
            transform_updates: flag(&u, "transform_updates"),
            implied_transform: false,
            loc: loc.child(&[3]),
        });
    }
    if let Some(q) = message(&msg, "query") {
        decl.query = Some((
            string(&q, "sql"),
            flag(&q, "stream_updates"),
            loc.child(&[4]),
        ));
    }
    if let Some(p) = message(&msg, "publish") {
        decl.publish = Some((string(&p, "topic"), loc.child(&[5])));
    }
    if let Some(t) = message(&msg, "trigger") {
        decl.trigger = Some(trigger(&t, loc.child(&[8])));
    }
    decl.acl = message(&msg, "acl").map(|m| acl(&m)).or(decl.acl.take());
    decl.jwt = message(&msg, "jwt")
        .map(|m| jwt(&m, loc.child(&[7])))
        .or(decl.jwt.take());
}
