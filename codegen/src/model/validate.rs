//! Checks that span components: unique type ids, subscriptions to declared
//! sources taking what those deliver, every event type handled, and no two
//! HTTP routes alike.

use std::collections::HashMap;

use super::Ctx;
use super::component::Built;
use super::span::Loc;
use super::template::route_key;
use super::types::{ComponentKind, Source, TypeRef};
use crate::error::ErrorKind;

/// Runs every cross-component check over `built`.
pub(crate) fn check(ctx: &mut Ctx<'_>, built: &[Built]) {
    type_ids(ctx, built);
    subscriptions(ctx, built);
    routes(ctx, built);
}

/// The storage name of a stateful component.
fn type_id(kind: &ComponentKind) -> Option<(&'static str, &str)> {
    match kind {
        ComponentKind::ValueEntity { type_id, .. } => Some(("value entity", type_id)),
        ComponentKind::EventSourcedEntity { type_id, .. } => {
            Some(("event-sourced entity", type_id))
        }
        ComponentKind::Workflow { type_id, .. } => Some(("workflow", type_id)),
        _ => None,
    }
}

fn type_ids(ctx: &mut Ctx<'_>, built: &[Built]) {
    let mut seen: HashMap<&str, &Built> = HashMap::new();
    for b in built {
        let Some((_, id)) = type_id(&b.component.kind) else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(id) {
            ctx.error(
                ErrorKind::DuplicateTypeId,
                &b.loc.clone().at(id),
                "used again here",
                format!(
                    "type_id `{id}` of `{}` is already the type_id of `{}`",
                    b.component.service_full_name, first.component.service_full_name
                ),
                "each entity and workflow needs its own type_id: it names its storage",
            );
        } else {
            seen.insert(id, b);
        }
    }
}

fn subscriptions(ctx: &mut Ctx<'_>, built: &[Built]) {
    let entity = |source: &Source| -> Option<Option<&Built>> {
        let (id, want_es) = match source {
            Source::ValueEntity(id) => (id, false),
            Source::EventSourcedEntity(id) => (id, true),
            Source::Topic(_) | Source::Direct { .. } => return None,
        };
        Some(built.iter().find(|b| match &b.component.kind {
            // A workflow's state changes are on the feed like a value entity's.
            ComponentKind::ValueEntity { type_id, .. }
            | ComponentKind::Workflow { type_id, .. } => !want_es && type_id == id,
            ComponentKind::EventSourcedEntity { type_id, .. } => want_es && type_id == id,
            _ => false,
        }))
    };
    for b in built {
        // Each source is reported once per service.
        let mut checked: Vec<Source> = Vec::new();
        for (method, extra) in b.component.methods.iter().zip(&b.methods) {
            let (Some(sub), Some(loc)) = (&method.subscribe, &extra.subscribe_loc) else {
                continue;
            };
            if let Some(Some(source)) = entity(&sub.source) {
                delivered_type(ctx, method, sub, &source.component.kind, &extra.loc);
            }
            if checked.contains(&sub.source) {
                continue;
            }
            checked.push(sub.source.clone());
            match entity(&sub.source) {
                Some(None) => unknown_source(ctx, built, &sub.source, loc),
                Some(Some(source)) => {
                    if let ComponentKind::EventSourcedEntity { events, .. } = &source.component.kind
                    {
                        unhandled_events(ctx, b, &sub.source, events, loc);
                    }
                }
                None => {}
            }
        }
    }
}

/// A subscribed method must take what its source delivers: a value
/// entity's state (`Empty` for deletes, checked where the option is read),
/// one of an event-sourced entity's event types (or its state, with
/// `handle_snapshots`), or `google.protobuf.Any`
/// (a catch-all). Anything else would decode one message's bytes as another.
fn delivered_type(
    ctx: &mut Ctx<'_>,
    method: &super::types::Method,
    sub: &super::types::Subscription,
    source: &ComponentKind,
    loc: &Loc,
) {
    let input = &method.input;
    if sub.handle_deletes || input.full_name == "google.protobuf.Any" {
        return;
    }
    let (id, what, allowed): (&str, &str, Vec<&TypeRef>) = match source {
        ComponentKind::ValueEntity { type_id, state }
        | ComponentKind::Workflow { type_id, state } => (type_id, "state", vec![state]),
        ComponentKind::EventSourcedEntity {
            type_id,
            events,
            state,
            ..
        } => {
            let mut allowed: Vec<&TypeRef> = events.iter().collect();
            // Snapshots deliver the state.
            if sub.handle_snapshots {
                allowed.push(state);
            }
            (type_id, "event", allowed)
        }
        _ => return,
    };
    if allowed.contains(&input) {
        return;
    }
    let names: Vec<String> = allowed
        .iter()
        .map(|t| format!("`{}`", t.full_name))
        .collect();
    let (message, help) = if what == "state" {
        (
            format!(
                "rpc `{}` subscribes to value entity `{id}` but takes `{}`, not its state type",
                method.name, input.full_name
            ),
            format!(
                "take the state type {} (or `google.protobuf.Empty` with `handle_deletes: true`)",
                names.join(", ")
            ),
        )
    } else {
        (
            format!(
                "rpc `{}` subscribes to event-sourced entity `{id}` but takes `{}`, which is not one of its event types",
                method.name, input.full_name
            ),
            format!(
                "take one of {}, add `{}` to the entity's events, or take `google.protobuf.Any` with `ignore: true`",
                names.join(", "),
                input.full_name
            ),
        )
    };
    ctx.error(
        ErrorKind::WrongInputType,
        &loc.clone().at(format!(
            "({})",
            input.path.last().cloned().unwrap_or_default()
        )),
        if what == "state" {
            format!("not the state type of `{id}`")
        } else {
            format!("not an event type of `{id}`")
        },
        message,
        help,
    );
}

fn unknown_source(ctx: &mut Ctx<'_>, built: &[Built], source: &Source, loc: &Loc) {
    let (id, what) = match source {
        Source::ValueEntity(id) => (id, "value entity"),
        Source::EventSourcedEntity(id) => (id, "event-sourced entity"),
        Source::Topic(_) | Source::Direct { .. } => return,
    };
    let declared: Vec<String> = built
        .iter()
        .filter_map(|b| type_id(&b.component.kind))
        .filter(|(kind, _)| *kind == what)
        .map(|(_, id)| format!("`{id}`"))
        .collect();
    let help = if declared.is_empty() {
        format!("no {what} is declared in the compiled files; compile the proto declaring it too")
    } else {
        format!(
            "the declared {what} type_ids are {}; or compile the proto declaring `{id}` too",
            declared.join(", ")
        )
    };
    ctx.error(
        ErrorKind::UnknownSource,
        &loc.clone().at(id.clone()),
        "no such entity",
        format!("subscription to {what} `{id}`, which no compiled component declares"),
        help,
    );
}

/// Every event type of the entity must reach a method of `b` taking it, be
/// ignored (an `ignore` method with that input or a `google.protobuf.Any`
/// catch-all), or be skipped by `ignore_unknown`.
fn unhandled_events(ctx: &mut Ctx<'_>, b: &Built, source: &Source, events: &[TypeRef], loc: &Loc) {
    let subscribed: Vec<_> = b
        .component
        .methods
        .iter()
        .filter(|m| m.subscribe.as_ref().is_some_and(|s| &s.source == source))
        .collect();
    let ignore_unknown = subscribed
        .iter()
        .any(|m| m.subscribe.as_ref().is_some_and(|s| s.ignore_unknown));
    let catch_all = subscribed.iter().any(|m| {
        m.input.full_name == "google.protobuf.Any" && m.subscribe.as_ref().is_some_and(|s| s.ignore)
    });
    if ignore_unknown || catch_all {
        return;
    }
    let Source::EventSourcedEntity(id) = source else {
        return;
    };
    for event in events {
        if subscribed.iter().any(|m| m.input == *event) {
            continue;
        }
        ctx.error(
            ErrorKind::UnhandledEvent,
            &loc.clone().at(id.clone()),
            format!("`{}` is not handled", event.full_name),
            format!(
                "`{}` subscribes to the events of `{id}` but no method handles event type `{}`",
                b.component.service_name, event.full_name
            ),
            format!(
                "add an rpc taking `{}` with the same subscription, mark one `ignore: true`, \
                 or set `ignore_unknown: true` on the service's subscription",
                event.full_name
            ),
        );
    }
}

fn routes(ctx: &mut Ctx<'_>, built: &[Built]) {
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    for b in built {
        for (method, extra) in b.component.methods.iter().zip(&b.methods) {
            for (binding, loc) in &extra.routes {
                let key = route_key(&binding.method, &binding.template);
                let here = format!("{}.{}", b.component.service_full_name, method.name);
                match seen.get(&key) {
                    Some((other, template)) => {
                        ctx.error(
                            ErrorKind::DuplicateRoute,
                            loc,
                            "same route",
                            format!(
                                "route `{key}` of `{here}` also matches `{template}` of `{other}`",
                            ),
                            "change one of the templates (variable names do not tell routes apart)",
                        )
                    }
                    None => {
                        seen.insert(key, (here, binding.template.source.clone()));
                    }
                }
            }
        }
    }
}
