//! One annotated service to a [`Component`]: resolves type names, ids, HTTP
//! bindings, subscriptions, view roles and access rules, and checks the rules
//! that concern a single service.

use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use super::options::{
    self, ComponentDecl, KindDecl, MethodDecl, SubscribeDecl, extension, message,
};
use super::span::{self, Loc};
use super::types::*;
use super::{Ctx, http, kalix, type_ref};
use crate::error::ErrorKind;

/// A built component plus what cross-component checks need.
#[derive(Debug)]
pub(crate) struct Built {
    pub component: Component,
    /// The component option.
    pub loc: Loc,
    /// Per method (same order): where its subscription is declared and its
    /// HTTP bindings with their locations.
    pub methods: Vec<MethodExtra>,
}

/// Locations of one method's declarations.
#[derive(Debug)]
pub(crate) struct MethodExtra {
    /// The rpc itself.
    pub loc: Loc,
    pub subscribe_loc: Option<Loc>,
    /// Where the view query option is declared.
    pub query_loc: Option<Loc>,
    pub routes: Vec<(HttpBinding, Loc)>,
}

/// A service without a component option whose rpcs carry `(plinth.method)`
/// or `(kalix.method)` options (the older Kalix style, where the SDK code
/// named the component) would serve nothing those options ask for: refused.
fn options_without_component(ctx: &mut Ctx<'_>, service: &ServiceDescriptor) {
    // The oldest Kalix style binds a service to a file-level entity with
    // `(kalix.service) = { type component }`.
    if let Some(ext) = ctx.ext.kalix_service.clone()
        && let Some(options) = options::extension(&service.options(), Some(&ext))
        && (options::int(&options, "type") != 0
            || !options::string(&options, "component").is_empty())
    {
        ctx.error(
            ErrorKind::MisplacedOption,
            &options::service_option_loc(service, &ext),
            "older Kalix style",
            format!(
                "service `{}` names its component with `(kalix.service).type`/`component` and \
                 file-level entity options, the Kalix style before `(kalix.codegen)`, which Plinth does not read",
                service.name()
            ),
            "declare the component on the service: `option (kalix.codegen) = { value_entity: { name type_id state } };` (see docs/annotations.md#kalix-options)",
        );
        return;
    }
    let exts = [
        (
            "plinth.method",
            "plinth.component",
            ctx.ext.plinth_method.clone(),
        ),
        (
            "kalix.method",
            "kalix.codegen",
            ctx.ext.kalix_method.clone(),
        ),
    ];
    for method in service.methods() {
        for (name, component, ext) in &exts {
            let Some(ext) = ext else {
                continue;
            };
            if options::extension(&method.options(), Some(ext)).is_none() {
                continue;
            }
            let loc = options::method_option_loc(&method, ext);
            ctx.error(
                ErrorKind::MisplacedOption,
                &loc,
                "needs a component",
                format!(
                    "rpc `{}` has `({name})` options, but service `{}` declares no component, \
                     so nothing would serve them",
                    method.name(),
                    service.name()
                ),
                format!(
                    "declare what the service is, e.g. `option ({component}) = {{ view: {{}} }};` \
                     or `{{ action: {{}} }}`"
                ),
            );
            return;
        }
    }
}

/// Builds the component of `service`, when it declares one.
pub(crate) fn build(ctx: &mut Ctx<'_>, service: &ServiceDescriptor) -> Option<Built> {
    let plinth = options::component(ctx, service);
    let kalix = kalix::component(ctx, service);
    let decl = match (plinth, kalix) {
        (Some(p), Some(_)) => {
            ctx.error(
                ErrorKind::InvalidOption,
                &p.loc,
                "second component option",
                format!(
                    "service `{}` has both `(plinth.component)` and `(kalix.codegen)`",
                    service.name()
                ),
                "keep one of the two options",
            );
            p
        }
        (Some(d), None) | (None, Some(d)) => d,
        (None, None) => {
            options_without_component(ctx, service);
            return None;
        }
    };
    if service.methods().len() == 0 {
        ctx.error(
            ErrorKind::NoRpcs,
            &decl.loc,
            "component declared here",
            format!(
                "service `{}` declares a component but no rpcs",
                service.name()
            ),
            "add the component's rpcs to the service, or remove the component option",
        );
        return None;
    }
    if let Some(jwt) = &decl.jwt {
        super::jwt::check(ctx, jwt, &format!("service `{}`", service.name()));
    }
    let file = service.parent_file();
    let kind = kind(ctx, service, &decl);
    if let Some((stream, at)) = &decl.direct_stream {
        super::direct::check(ctx, service, &kind, stream, at);
    }
    let file_acl = file_acl(ctx, service);
    let mut methods = Vec::new();
    let mut extras = Vec::new();
    for method in service.methods() {
        let (m, extra) = self::method(ctx, &method, &decl, &kind, file_acl.as_ref());
        methods.push(m);
        extras.push(extra);
    }
    let kind = match kind {
        ComponentKind::View { .. } => {
            let tables = tables(ctx, service, &decl, &methods);
            super::view::compile(ctx, service, &mut methods, &extras, &tables);
            ComponentKind::View { tables }
        }
        other => other,
    };
    let declared = decl.name.rsplit('.').next().unwrap_or_default();
    let component = Component {
        service_name: service.name().to_owned(),
        service_full_name: service.full_name().to_owned(),
        name: if declared.is_empty() {
            service.name().to_owned()
        } else {
            declared.to_owned()
        },
        comments: span::comments(&file, service.path()),
        kind,
        methods,
        json_codecs: Vec::new(),
    };
    Some(Built {
        component,
        loc: decl.loc,
        methods: extras,
    })
}

fn kind(ctx: &mut Ctx<'_>, service: &ServiceDescriptor, decl: &ComponentDecl) -> ComponentKind {
    let file = service.parent_file();
    let type_id = |ctx: &mut Ctx<'_>, id: &str, what: &str| {
        if id.is_empty() {
            ctx.error(
                ErrorKind::InvalidOption,
                &decl.loc,
                "no type_id",
                format!("{what} `{}` declares no type_id", service.name()),
                "set `type_id: \"<stable storage name>\"`; subscriptions refer to it and it must never change once data exists",
            );
        }
        id.to_owned()
    };
    // An unresolved name is reported and stands in as written, so that the
    // methods are still checked (the model is not returned when anything failed).
    let resolve = |ctx: &mut Ctx<'_>, name: &str, what: &str| match ctx
        .resolve(&file, name, what, &decl.loc)
    {
        Some(message) => type_ref(&message),
        None => TypeRef {
            full_name: name.to_owned(),
            package: String::new(),
            path: vec![name.to_owned()],
        },
    };
    match &decl.kind {
        KindDecl::ValueEntity { type_id: id, state } => ComponentKind::ValueEntity {
            type_id: type_id(ctx, id, "value entity"),
            state: resolve(ctx, state, "state"),
        },
        KindDecl::Workflow { type_id: id, state } => ComponentKind::Workflow {
            type_id: type_id(ctx, id, "workflow"),
            state: resolve(ctx, state, "state"),
        },
        KindDecl::EventSourcedEntity {
            type_id: id,
            state,
            events,
            snapshot_every,
        } => {
            let type_id = type_id(ctx, id, "event-sourced entity");
            let state = resolve(ctx, state, "state");
            if events.is_empty() {
                ctx.error(
                    ErrorKind::InvalidEvents,
                    &decl.loc.clone().at("event_sourced_entity"),
                    "no events",
                    format!(
                        "event-sourced entity `{}` declares no events",
                        service.name()
                    ),
                    "list the event messages its commands emit: `events: [\"MyEvent\", ...]`",
                );
            }
            let mut resolved: Vec<TypeRef> = Vec::new();
            for event in events {
                let event_ref = resolve(ctx, event, "event");
                if resolved.iter().any(|r| r.full_name == event_ref.full_name) {
                    ctx.error(
                        ErrorKind::InvalidEvents,
                        &decl.loc.clone().at(event.clone()),
                        "listed again",
                        format!(
                            "event `{}` is listed twice in `{}`",
                            event_ref.full_name,
                            service.name()
                        ),
                        "list each event message once",
                    );
                } else {
                    resolved.push(event_ref);
                }
            }
            ComponentKind::EventSourcedEntity {
                type_id,
                state,
                events: resolved,
                snapshot_every: *snapshot_every,
            }
        }
        KindDecl::Action => ComponentKind::Action,
        KindDecl::View => ComponentKind::View { tables: Vec::new() },
    }
}

fn file_acl(ctx: &Ctx<'_>, service: &ServiceDescriptor) -> Option<Acl> {
    let file_options = service.parent_file().options();
    [&ctx.ext.plinth_file, &ctx.ext.kalix_file]
        .into_iter()
        .find_map(|ext| extension(&file_options, ext.as_ref()).and_then(|m| message(&m, "acl")))
        .map(|m| options::acl(&m))
}

fn method(
    ctx: &mut Ctx<'_>,
    method: &MethodDescriptor,
    decl: &ComponentDecl,
    kind: &ComponentKind,
    file_acl: Option<&Acl>,
) -> (Method, MethodExtra) {
    let file = method.parent_service().parent_file();
    let loc = Loc::new(&file, method.path());
    let name = method.name();
    if method.is_client_streaming() && !matches!(kind, ComponentKind::Action) {
        ctx.error(
            ErrorKind::UnsupportedRpc,
            &loc.clone().at("stream"),
            "client streaming",
            format!("rpc `{name}` streams its requests, which only an action's methods may do"),
            "take a single request message (entities, workflows and views handle one at a time), or move the method to an action",
        );
    }
    let mut m = MethodDecl::default();
    kalix::method(ctx, method, &mut m);
    options::method(ctx, method, &mut m);
    let stateful = matches!(
        kind,
        ComponentKind::ValueEntity { .. }
            | ComponentKind::EventSourcedEntity { .. }
            | ComponentKind::Workflow { .. }
    );
    let id = if stateful {
        super::id::id_spec(ctx, method, &m, &loc)
    } else {
        IdSpec::None
    };
    let routes = http::bindings(ctx, method);
    let is_view = matches!(kind, ComponentKind::View { .. });
    let is_action = matches!(kind, ComponentKind::Action);
    // Queries answer from the table: the service's default source is not theirs.
    let default = if m.query.is_some() {
        None
    } else {
        decl.subscribe.as_ref()
    };
    let (subscribe, subscribe_loc) = subscription(ctx, method, m.subscribe.as_ref(), default);
    if let (Some(_), Some(at)) = (&subscribe, &subscribe_loc)
        && is_action
        && method.is_client_streaming()
    {
        ctx.error(
            ErrorKind::UnsupportedRpc,
            &at.clone().at("subscribe"),
            "a subscription on a request stream",
            format!("rpc `{name}` streams its requests and is fed by a subscription, which delivers one message per call"),
            "take a single request message (`rpc M(Event)`), or drop the subscription",
        );
    }
    if let (Some(_), Some(at)) = (&subscribe, &subscribe_loc)
        && !is_view
        && !is_action
    {
        misplaced(
            ctx,
            &at.clone().at("subscribe"),
            name,
            "subscription",
            "actions and views",
        );
    }
    if let (Some(sub), Some(at)) = (&subscribe, &subscribe_loc)
        && is_view
        && !sub.consumer_group.is_empty()
    {
        ctx.warning(
            ErrorKind::InvalidOption,
            &at.clone().at("consumer_group"),
            "not used by views",
            format!(
                "rpc `{name}` updates a view: a view's projection keeps its own offsets, so \
                 `consumer_group` (\"{}\") changes nothing here",
                sub.consumer_group
            ),
            "remove `consumer_group`; it groups the processes of an action's subscription (see docs/annotations.md#subscribe)",
        );
    }
    let mut view = None;
    if let Some(update) = &m.update {
        if !is_view {
            misplaced(
                ctx,
                &update.loc.clone().at("update"),
                name,
                "view update",
                "views",
            );
        }
        let deletes = subscribe.as_ref().is_some_and(|s| s.handle_deletes);
        let differs = method.input().full_name() != method.output().full_name();
        let transform =
            update.transform_updates || (update.implied_transform && differs && !deletes);
        if is_view && differs && !transform && !deletes {
            ctx.error(
                ErrorKind::InvalidView,
                &update.loc.clone().at("update"),
                "input is stored as the row",
                format!(
                    "update output type ≠ table row type without transform_updates: rpc `{name}` takes `{}` but table `{}` stores `{}`",
                    method.input().full_name(),
                    update.table,
                    method.output().full_name()
                ),
                "set `transform_updates: true` and compute the row in code, or take the row type as input",
            );
        }
        view = Some(ViewRole::Update {
            table: update.table.clone(),
            transform_updates: transform,
        });
    }
    if let Some((sql, stream_updates, at)) = &m.query {
        if !is_view {
            misplaced(ctx, &at.clone().at("query"), name, "view query", "views");
        }
        view = Some(ViewRole::Query {
            sql: sql.clone(),
            stream_updates: *stream_updates,
        });
    }
    if let Some((_, at)) = &m.publish
        && !is_action
    {
        misplaced(ctx, &at.clone().at("publish"), name, "publish", "actions");
    }
    let jwt = super::jwt::method(ctx, method, m.jwt, decl.jwt.as_ref(), &loc);
    let startup_retries = m.trigger.as_ref().and_then(|t| {
        let streaming = method.is_server_streaming() || method.is_client_streaming();
        startup_trigger(ctx, t, name, is_action, streaming)
    });
    let method_model = Method {
        name: name.to_owned(),
        input: type_ref(&method.input()),
        output: type_ref(&method.output()),
        server_streaming: method.is_server_streaming(),
        client_streaming: method.is_client_streaming(),
        comments: span::comments(&file, method.path()),
        id,
        http: routes.iter().map(|(b, _)| b.clone()).collect(),
        subscribe,
        view,
        view_plan: None,
        publish: match (&decl.direct_stream, m.publish) {
            // An action's results form its service's direct event stream.
            (Some((stream, _)), None) if is_action => Some(super::direct::topic(stream)),
            (Some((stream, at)), Some((topic, _))) if is_action => {
                ctx.error(
                    ErrorKind::InvalidOption,
                    &at.clone().at("direct"),
                    "two destinations",
                    format!("rpc `{name}` publishes to topic `{topic}` and its service's results form direct stream `{stream}`; a result goes to one place"),
                    "drop the method's `publish`, or move the method to another action",
                );
                None
            }
            (_, publish) => publish.map(|(topic, _)| topic),
        },
        acl: m
            .acl
            .or_else(|| decl.acl.clone())
            .or_else(|| file_acl.cloned()),
        jwt,
        startup_retries,
    };
    (
        method_model,
        MethodExtra {
            loc,
            subscribe_loc,
            query_loc: m.query.as_ref().map(|(_, _, at)| at.clone()),
            routes,
        },
    )
}

/// The retries of a valid startup trigger; errors for any other.
fn startup_trigger(
    ctx: &mut Ctx<'_>,
    trigger: &super::options::TriggerDecl,
    method: &str,
    is_action: bool,
    streaming: bool,
) -> Option<u32> {
    let at = trigger.loc.clone().at("trigger");
    if !is_action {
        misplaced(ctx, &at, method, "startup trigger", "actions");
        return None;
    }
    if trigger.on != 1 {
        ctx.error(
            ErrorKind::InvalidOption,
            &at,
            "trigger without an event",
            format!("rpc `{method}` declares a trigger with no `on` event"),
            "set `on: STARTUP`, the one event a trigger can name",
        );
        return None;
    }
    if streaming {
        ctx.error(
            ErrorKind::InvalidOption,
            &at,
            "startup trigger on a streaming rpc",
            format!("rpc `{method}` streams its replies, and nobody would read them at startup"),
            "trigger a unary rpc",
        );
        return None;
    }
    match u32::try_from(trigger.max_retries) {
        Ok(retries) => Some(retries),
        Err(_) => {
            ctx.error(
                ErrorKind::InvalidOption,
                &at,
                "negative max_retries",
                format!("rpc `{method}` sets `max_retries: {}`", trigger.max_retries),
                "use 0 (no retry) or more",
            );
            None
        }
    }
}

fn misplaced(ctx: &mut Ctx<'_>, at: &Loc, method: &str, what: &str, allowed: &str) {
    ctx.error(
        ErrorKind::MisplacedOption,
        at,
        format!("{what} not allowed here"),
        format!("rpc `{method}` declares a {what}, which only {allowed} may have"),
        format!("remove it, or move the rpc to a service that is one of: {allowed} (see docs/annotations.md#methods)"),
    );
}

/// The method's subscription (its own, else the service default; a method
/// that only sets flags such as `ignore` takes the service's source).
fn subscription(
    ctx: &mut Ctx<'_>,
    method: &MethodDescriptor,
    own: Option<&SubscribeDecl>,
    default: Option<&SubscribeDecl>,
) -> (Option<Subscription>, Option<Loc>) {
    let (mut sub, loc) =
        match (own, default) {
            (Some(own), _) if own.source.is_some() => (own.sub.clone(), own.loc.clone()),
            (Some(own), Some(d)) if d.source.is_some() => {
                let mut sub = own.sub.clone();
                sub.source = d.sub.source.clone();
                sub.ignore_unknown |= d.sub.ignore_unknown;
                (sub, own.loc.clone())
            }
            (Some(own), _) => {
                ctx.error(
                ErrorKind::InvalidOption,
                &own.loc,
                "no source",
                format!("the subscription of rpc `{}` names no source", method.name()),
                "set one of value_entity, event_sourced_entity or topic (here or on the service)",
            );
                return (None, None);
            }
            (None, Some(d)) if d.source.is_some() => (d.sub.clone(), d.loc.clone()),
            (None, _) => return (None, None),
        };
    if sub.handle_deletes && method.input().full_name() != "google.protobuf.Empty" {
        ctx.error(
            ErrorKind::InvalidOption,
            &loc.clone().at("handle_deletes"),
            "deletes carry no message",
            format!(
                "rpc `{}` handles deletes but takes `{}`",
                method.name(),
                method.input().full_name()
            ),
            "a delete handler takes `google.protobuf.Empty`",
        );
        sub.handle_deletes = false;
    }
    (Some(sub), Some(loc))
}

/// The tables of a view, checking that it has an update method and that the
/// update methods of a table agree on its row type.
fn tables(
    ctx: &mut Ctx<'_>,
    service: &ServiceDescriptor,
    decl: &ComponentDecl,
    methods: &[Method],
) -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    for (method, desc) in methods.iter().zip(service.methods()) {
        let Some(ViewRole::Update { table, .. }) = &method.view else {
            continue;
        };
        match tables.iter().find(|t| &t.name == table) {
            Some(existing) if existing.row != method.output => {
                let at = Loc::new(&service.parent_file(), desc.path());
                ctx.error(
                    ErrorKind::InvalidView,
                    &at.at(method.output.path.join(".")),
                    "different row type",
                    format!(
                        "rpc `{}` stores `{}` into table `{table}`, whose rows are `{}`",
                        method.name, method.output.full_name, existing.row.full_name
                    ),
                    "every update method of a table returns the same row message; use another table name for another row type",
                );
            }
            Some(_) => {}
            None => tables.push(Table {
                name: table.clone(),
                row: method.output.clone(),
            }),
        }
    }
    if !methods
        .iter()
        .any(|m| matches!(m.view, Some(ViewRole::Update { .. })))
    {
        ctx.error(
            ErrorKind::InvalidView,
            &decl.loc,
            "view declared here",
            format!("view `{}` has no update method, so nothing ever fills its table", service.name()),
            "add an rpc with `option (plinth.method) = { update: { table: \"...\" } subscribe: { ... } };`",
        );
    }
    tables
}
