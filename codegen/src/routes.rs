//! `plinth routes`: every gRPC method and HTTP route of the services, with
//! their component, as the runtime will serve them (internal methods —
//! those fed by a subscription and views' update methods — marked).

use std::fmt::Write;

use crate::model::{BodySelector, Component, ComponentKind, HttpMethod, Method, Model, ViewRole};

/// Whether the runtime alone calls `method` (a subscription feeds it, or it
/// updates a view).
pub(crate) fn internal(method: &Method) -> bool {
    method.subscribe.is_some() || matches!(method.view, Some(ViewRole::Update { .. }))
}

/// The HTTP bindings the runtime serves for `method` of `component`: its
/// own, plus the default `POST /package.Service/Method` of a public method
/// (with the whole request as the body).
pub(crate) fn bindings(
    component: &Component,
    method: &Method,
) -> Vec<(HttpMethod, String, BodySelector, Option<String>)> {
    let default = format!("/{}/{}", component.service_full_name, method.name);
    let mut bindings: Vec<_> = method
        .http
        .iter()
        .filter(|b| {
            !(internal(method) && b.method == HttpMethod::Post && b.template.source == default)
        })
        .map(|b| {
            (
                b.method.clone(),
                b.template.source.clone(),
                b.body.clone(),
                b.response_body.clone(),
            )
        })
        .collect();
    if !internal(method)
        && !bindings
            .iter()
            .any(|(m, t, _, _)| *m == HttpMethod::Post && *t == default)
    {
        bindings.push((HttpMethod::Post, default, BodySelector::Whole, None));
    }
    bindings
}

fn kind(kind: &ComponentKind) -> &'static str {
    match kind {
        ComponentKind::ValueEntity { .. } => "value entity",
        ComponentKind::EventSourcedEntity { .. } => "event-sourced entity",
        ComponentKind::Action => "action",
        ComponentKind::View { .. } => "view",
        ComponentKind::Workflow { .. } => "workflow",
    }
}

fn verb(method: &HttpMethod) -> &str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Custom(name) => name,
    }
}

/// The routes of `model`, one block per service.
pub fn render(model: &Model) -> String {
    let mut out = String::new();
    for component in model.packages.iter().flat_map(|p| &p.components) {
        let _ = writeln!(
            out,
            "{} ({} {})",
            component.service_full_name,
            kind(&component.kind),
            component.name
        );
        for method in &component.methods {
            let streams = match (method.client_streaming, method.server_streaming) {
                (false, false) => "",
                (true, false) => " [request stream]",
                (false, true) => " [reply stream]",
                (true, true) => " [streams both ways]",
            };
            let _ = writeln!(
                out,
                "  gRPC /{}/{}{streams}",
                component.service_full_name, method.name
            );
            if internal(method) {
                let why = if method.subscribe.is_some() {
                    "fed by its subscription"
                } else {
                    "updates the view"
                };
                let _ = writeln!(out, "       called by the runtime only ({why})");
            }
            for (http, template, _, _) in bindings(component, method) {
                let _ = writeln!(out, "  HTTP {} {template}", verb(&http));
            }
        }
    }
    out
}
