//! The route table: every HTTP binding of every method, resolved against the
//! descriptor pool once at startup, and the lookup of a request's route.
//!
//! Lookup scans the routes in order (services have tens of routes, not
//! thousands). Among routes matching the path and method, the most specific
//! wins: compared segment by segment, a literal beats `*` beats `**`; then a
//! route with a custom verb beats one without; then a named HTTP method beats
//! `custom: "*"`; then the route declared first.

use std::collections::HashSet;

use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor};

use crate::component::info::{BodySelector, ComponentInfo, HttpMethod, MethodInfo};

use super::typed_json::{self, JsonCodec};

use super::binding;
use super::error::HttpSetupError;
use super::template::{PathMatch, Pattern, split_path};

/// Build one descriptor pool from the components' descriptor sets, decoding
/// each distinct set once.
pub(crate) fn descriptor_pool(
    components: &[&'static ComponentInfo],
) -> Result<DescriptorPool, HttpSetupError> {
    let mut pool = DescriptorPool::new();
    let mut seen: HashSet<&'static [u8]> = HashSet::new();
    for component in components {
        if !seen.insert(component.file_descriptor_set) {
            continue;
        }
        pool.decode_file_descriptor_set(component.file_descriptor_set)
            .map_err(|source| HttpSetupError::Descriptors {
                component: component.name,
                source,
            })?;
    }
    Ok(pool)
}

/// Where the body of a routed request goes.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body.
    None,
    /// The body is the whole request.
    Whole,
    /// The body is this field of the request.
    Field(FieldDescriptor),
}

/// One HTTP binding of one method.
#[derive(Debug)]
pub(crate) struct Route {
    /// The HTTP method of the binding.
    pub http_method: HttpMethod,
    /// The path pattern.
    pub pattern: Pattern,
    /// The method called.
    pub method: &'static MethodInfo,
    /// The request message.
    pub input: MessageDescriptor,
    /// The reply message.
    pub output: MessageDescriptor,
    /// Where the body goes.
    pub body: Body,
    /// The reply field sent as the body, if not the whole reply.
    pub response_body: Option<FieldDescriptor>,
    /// The fields the pattern's variables set, one path per variable.
    pub path_fields: Vec<Vec<FieldDescriptor>>,
    /// Whether the reply can hold float wrappers (see [`super::json::encode`]).
    pub float_wrappers: bool,
    /// The generated codec of the request message, if it has one.
    pub input_codec: Option<JsonCodec>,
    /// The generated codec of the reply message, if it has one.
    pub output_codec: Option<JsonCodec>,
}

/// The outcome of looking a request up.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// This route serves the request.
    Found(&'a Route, PathMatch),
    /// No route has this path.
    NotFound,
    /// Routes have this path, for these other methods.
    MethodNotAllowed(Vec<String>),
}

/// Every route of every component.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Every route, in the order they are tried.
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Resolve every HTTP rule of every method, plus the default
    /// `POST /package.Service/Method` route of each method (unless a rule
    /// already binds exactly that). An internal method (fed by a
    /// subscription, or a view's update; see [`MethodInfo::public`]) gets
    /// no default route: a request for it is answered 404.
    ///
    /// [`MethodInfo::public`]: crate::component::info::MethodInfo::public
    pub fn build(
        components: &[&'static ComponentInfo],
        pool: &DescriptorPool,
    ) -> Result<RouteTable, HttpSetupError> {
        let mut table = RouteTable { routes: Vec::new() };
        for component in components {
            for method in component.methods {
                let public = method.public();
                for rule in method.http {
                    if !public && method.is_default_route(rule) {
                        continue;
                    }
                    let pattern = Pattern::compile(&rule.template);
                    let (body, response_body) = (rule.body, rule.response_body);
                    let route = resolve_route(
                        component,
                        method,
                        rule.method,
                        pattern,
                        body,
                        response_body,
                        pool,
                    )?;
                    table.add(route, true)?;
                }
            }
        }
        for component in components {
            for method in component.methods.iter().filter(|m| m.public()) {
                let pattern = Pattern::literal(method.path);
                let route = resolve_route(
                    component,
                    method,
                    HttpMethod::Post,
                    pattern,
                    BodySelector::Whole,
                    None,
                    pool,
                )?;
                table.add(route, false)?;
            }
        }
        Ok(table)
    }

    /// Add a route; an explicit route clashing with an earlier one is an error,
    /// a default route clashing with one is left out.
    fn add(&mut self, route: Route, explicit: bool) -> Result<(), HttpSetupError> {
        if let Some(earlier) = self
            .routes
            .iter()
            .find(|r| r.http_method == route.http_method && r.pattern.same_shape(&route.pattern))
        {
            if !explicit || earlier.method.path == route.method.path {
                return Ok(());
            }
            return Err(HttpSetupError::DuplicateRoute {
                http_method: method_name(&route.http_method).to_string(),
                template: route.pattern.source.clone(),
                first: earlier.method.path,
                second: route.method.path,
            });
        }
        self.routes.push(route);
        Ok(())
    }

    /// The route serving `method` on `path`.
    pub fn lookup(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        let segments = split_path(path);
        let mut best: Option<(&Route, PathMatch, (bool, bool))> = None;
        // Templates of other methods are matched only when none of this
        // method matches (for the 405's `Allow`): a path usually matches
        // the templates of several methods, and a match costs allocations.
        let mut other_methods = false;
        for route in &self.routes {
            if !method_matches(&route.http_method, method) {
                other_methods = true;
                continue;
            }
            let Some(found) = route.pattern.matches(&segments) else {
                continue;
            };
            // Lower is better: (ranks, no verb, any-method).
            let key = (
                !found.has_verb,
                matches!(route.http_method, HttpMethod::Custom("*")),
            );
            let better = match &best {
                None => true,
                Some((_, best_found, best_key)) => {
                    (&found.ranks, key.0, key.1) < (&best_found.ranks, best_key.0, best_key.1)
                }
            };
            if better {
                best = Some((route, found, key));
            }
        }
        if let Some((route, found, _)) = best {
            return Lookup::Found(route, found);
        }
        let mut allowed: Vec<String> = Vec::new();
        if other_methods {
            for route in &self.routes {
                if method_matches(&route.http_method, method)
                    || route.pattern.matches(&segments).is_none()
                {
                    continue;
                }
                let name = method_name(&route.http_method).to_string();
                if !allowed.contains(&name) {
                    allowed.push(name);
                }
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::MethodNotAllowed(allowed)
        }
    }
}

fn resolve_route(
    component: &'static ComponentInfo,
    method: &'static MethodInfo,
    http_method: HttpMethod,
    pattern: Pattern,
    body: BodySelector,
    response_body: Option<&'static str>,
    pool: &DescriptorPool,
) -> Result<Route, HttpSetupError> {
    let message = |name: &'static str| {
        pool.get_message_by_name(name)
            .ok_or(HttpSetupError::MissingMessage {
                method: method.path,
                message: name,
            })
    };
    let input = message(method.input_type)?;
    let output = message(method.output_type)?;
    let bad = |problem: String| HttpSetupError::BadField {
        method: method.path,
        template: pattern.source.clone(),
        problem,
    };
    let mut path_fields = Vec::with_capacity(pattern.variables.len());
    for variable in &pattern.variables {
        let fields = binding::resolve(&input, &variable.field_path, false).map_err(&bad)?;
        if let Some(leaf) = fields.last() {
            binding::check_path_field(leaf).map_err(&bad)?;
        }
        path_fields.push(fields);
    }
    let body = match body {
        BodySelector::None => Body::None,
        BodySelector::Whole => Body::Whole,
        BodySelector::Field(name) => {
            Body::Field(input.get_field_by_name(name).ok_or_else(|| {
                bad(format!(
                    "body field `{name}` is not a field of `{}`",
                    input.full_name()
                ))
            })?)
        }
    };
    let response_body = match response_body {
        None => None,
        Some(name) => Some(output.get_field_by_name(name).ok_or_else(|| {
            bad(format!(
                "response_body field `{name}` is not a field of `{}`",
                output.full_name()
            ))
        })?),
    };
    Ok(Route {
        input_codec: codec(component, method.input_type),
        output_codec: codec(component, method.output_type),
        http_method,
        pattern,
        method,
        input,
        float_wrappers: super::json::holds_float_wrappers(&output),
        output,
        body,
        response_body,
        path_fields,
    })
}

/// The generated codec of message `name` among `component`'s.
fn codec(component: &ComponentInfo, name: &str) -> Option<JsonCodec> {
    if name == typed_json::EMPTY.type_name {
        return Some(typed_json::EMPTY);
    }
    component
        .json
        .iter()
        .find(|codec| codec.type_name == name)
        .copied()
}

fn method_matches(rule: &HttpMethod, method: &http::Method) -> bool {
    match rule {
        HttpMethod::Get => method == http::Method::GET,
        HttpMethod::Put => method == http::Method::PUT,
        HttpMethod::Post => method == http::Method::POST,
        HttpMethod::Delete => method == http::Method::DELETE,
        HttpMethod::Patch => method == http::Method::PATCH,
        HttpMethod::Custom("*") => true,
        HttpMethod::Custom(kind) => method.as_str().eq_ignore_ascii_case(kind),
    }
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Custom(kind) => kind,
    }
}
