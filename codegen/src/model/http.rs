//! `google.api.http` rules: the bindings of an rpc, checked against its
//! request and response messages (the templates are parsed by [`super::template`]).

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor};

use super::Ctx;
use super::options::{extension, has, list, message, method_option_loc, string};
use super::span::Loc;
use super::template::parse_template;
use super::types::{BodySelector, HttpBinding, HttpMethod, PathTemplate, Segment};
use crate::error::ErrorKind;

/// The default binding: `POST /<package>.<Service>/<Method>` with the whole
/// body.
pub(crate) fn default_binding(method: &MethodDescriptor) -> HttpBinding {
    let service = method.parent_service();
    let source = format!("/{}/{}", service.full_name(), method.name());
    HttpBinding {
        method: HttpMethod::Post,
        template: PathTemplate {
            source,
            segments: vec![
                Segment::Literal(service.full_name().to_owned()),
                Segment::Literal(method.name().to_owned()),
            ],
            verb: None,
        },
        body: BodySelector::Whole,
        response_body: None,
    }
}

/// The bindings of `method`: its `google.api.http` rule and additional
/// bindings, else the default one. Invalid bindings are reported and left out.
/// Returns each binding with the location to report it at.
pub(crate) fn bindings(ctx: &mut Ctx<'_>, method: &MethodDescriptor) -> Vec<(HttpBinding, Loc)> {
    let Some(ext) = ctx.ext.google_http.clone() else {
        return vec![(
            default_binding(method),
            Loc::new(&method.parent_service().parent_file(), method.path()),
        )];
    };
    let Some(rule) = extension(&method.options(), Some(&ext)) else {
        return vec![(
            default_binding(method),
            Loc::new(&method.parent_service().parent_file(), method.path()),
        )];
    };
    let loc = method_option_loc(method, &ext);
    let mut out = Vec::new();
    if let Some(binding) = binding(ctx, method, &rule, &loc) {
        out.push(binding);
    }
    for extra in list(&rule, "additional_bindings") {
        let Some(extra) = extra.as_message() else {
            continue;
        };
        if !list(extra, "additional_bindings").is_empty() {
            ctx.error(
                ErrorKind::InvalidHttpRule,
                &loc.clone().at("additional_bindings"),
                "nested here",
                format!("`additional_bindings` of rpc `{}` nest another `additional_bindings`", method.name()),
                "list every binding directly under the rule's `additional_bindings`; they cannot nest",
            );
        }
        if let Some(binding) = binding(ctx, method, extra, &loc) {
            out.push(binding);
        }
    }
    out
}

fn binding(
    ctx: &mut Ctx<'_>,
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    loc: &Loc,
) -> Option<(HttpBinding, Loc)> {
    let name = method.name();
    let (verb, template) = if has(rule, "get") {
        (HttpMethod::Get, string(rule, "get"))
    } else if has(rule, "put") {
        (HttpMethod::Put, string(rule, "put"))
    } else if has(rule, "post") {
        (HttpMethod::Post, string(rule, "post"))
    } else if has(rule, "delete") {
        (HttpMethod::Delete, string(rule, "delete"))
    } else if has(rule, "patch") {
        (HttpMethod::Patch, string(rule, "patch"))
    } else if let Some(custom) = message(rule, "custom") {
        (
            HttpMethod::Custom(string(&custom, "kind")),
            string(&custom, "path"),
        )
    } else {
        ctx.error(
            ErrorKind::InvalidHttpRule,
            loc,
            "no HTTP method",
            format!("the HTTP rule of rpc `{name}` sets no method and path"),
            "set one of get, put, post, delete, patch or custom, e.g. `post: \"/items/{id}\"`",
        );
        return None;
    };
    let at = loc.clone().at(template.clone());
    let parsed = match parse_template(&template) {
        Ok(parsed) => parsed,
        Err(why) => {
            ctx.error(
                ErrorKind::InvalidHttpRule,
                &at,
                "invalid template",
                format!("invalid path template `{template}` on rpc `{name}`: {why}"),
                "templates look like `/v1/items/{item_id}` or `/v1/{name=shelves/*}:publish`",
            );
            return None;
        }
    };
    let input = method.input();
    let mut ok = true;
    let mut seen: Vec<Vec<String>> = Vec::new();
    for segment in &parsed.segments {
        let Segment::Variable { field_path, .. } = segment else {
            continue;
        };
        let dotted = field_path.join(".");
        if seen.contains(field_path) {
            ok = false;
            ctx.error(
                ErrorKind::InvalidHttpRule,
                &at,
                "bound twice",
                format!("path variable `{dotted}` appears twice in `{template}`"),
                "bind each request field at most once per template",
            );
            continue;
        }
        seen.push(field_path.clone());
        if let Err((why, help)) = check_variable(&input, field_path) {
            ok = false;
            ctx.error(
                ErrorKind::InvalidHttpRule,
                &at,
                why.clone(),
                format!("path variable `{{{dotted}}}` of rpc `{name}`: {why}"),
                help,
            );
        }
    }
    let body = string(rule, "body");
    let body_selector = match body.as_str() {
        "" => BodySelector::None,
        "*" => BodySelector::Whole,
        field => {
            if input.get_field_by_name(field).is_none() {
                ok = false;
                ctx.error(
                    ErrorKind::InvalidHttpRule,
                    &loc.clone().at(field),
                    "no such field",
                    format!(
                        "`body: \"{field}\"` of rpc `{name}` names no field of `{}`",
                        input.full_name()
                    ),
                    format!(
                        "use `*` for the whole message, or one of: {}",
                        field_names(&input)
                    ),
                );
            }
            BodySelector::Field(field.to_owned())
        }
    };
    if matches!(verb, HttpMethod::Get | HttpMethod::Delete) && body_selector != BodySelector::None {
        ok = false;
        let verb_name = if verb == HttpMethod::Get {
            "GET"
        } else {
            "DELETE"
        };
        ctx.error(
            ErrorKind::InvalidHttpRule,
            &loc.clone().at("body"),
            "body not allowed",
            format!("{verb_name} binding `{template}` of rpc `{name}` declares a request body"),
            format!("remove `body` (request fields come from the path and the query string), or bind with post/put/patch instead of {}", verb_name.to_lowercase()),
        );
    }
    let response_body = string(rule, "response_body");
    let output = method.output();
    if !response_body.is_empty() && output.get_field_by_name(&response_body).is_none() {
        ok = false;
        ctx.error(
            ErrorKind::InvalidHttpRule,
            &loc.clone().at(response_body.clone()),
            "no such field",
            format!(
                "`response_body: \"{response_body}\"` of rpc `{name}` names no field of `{}`",
                output.full_name()
            ),
            format!("name one of: {}", field_names(&output)),
        );
    }
    ok.then(|| {
        let binding = HttpBinding {
            method: verb,
            template: parsed,
            body: body_selector,
            response_body: (!response_body.is_empty()).then_some(response_body),
        };
        (binding, at)
    })
}

fn check_variable(input: &MessageDescriptor, path: &[String]) -> Result<(), (String, String)> {
    let mut message = input.clone();
    for (i, part) in path.iter().enumerate() {
        let Some(field) = message.get_field_by_name(part) else {
            return Err((
                "no such field".to_owned(),
                format!(
                    "`{}` has no field `{part}`; its fields are: {}",
                    message.full_name(),
                    field_names(&message)
                ),
            ));
        };
        let last = i + 1 == path.len();
        if field.is_list() || field.is_map() {
            return Err((
                "repeated field".to_owned(),
                format!(
                    "`{part}` is repeated; path variables bind single values (pass lists in the query string or the body)"
                ),
            ));
        }
        match field.kind() {
            Kind::Message(inner) if !last => message = inner,
            Kind::Message(inner) => {
                return Err((
                    "message-typed field".to_owned(),
                    format!(
                        "`{part}` is a message (`{}`); bind one of its scalar fields, e.g. `{{{}.<field>}}`",
                        inner.full_name(),
                        path.join(".")
                    ),
                ));
            }
            _ if !last => {
                return Err((
                    "not a message".to_owned(),
                    format!(
                        "`{part}` is not a message, so `{}` cannot go inside it",
                        path[i + 1..].join(".")
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn field_names(message: &MessageDescriptor) -> String {
    let names: Vec<String> = message
        .fields()
        .map(|f| format!("`{}`", f.name()))
        .collect();
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}
