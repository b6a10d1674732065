//! `google.api.http` rules: the path template parser and the checks of a
//! binding against the rpc's request and response messages.
//!
//! The template grammar is the one of `google/api/http.proto`:
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! It is small and its error messages should name the exact problem, so it is
//! written by hand rather than with a parser library.

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor};

use super::Ctx;
use super::options::{extension, has, list, message, method_option_loc, string};
use super::span::Loc;
use super::types::{BodySelector, HttpBinding, HttpMethod, PathTemplate, Segment};
use crate::error::ErrorKind;

/// Parses a path template.
pub fn parse_template(source: &str) -> Result<PathTemplate, String> {
    let rest = source
        .strip_prefix('/')
        .ok_or_else(|| "a path template must start with `/`".to_owned())?;
    // The verb follows the last `:` outside braces.
    let mut depth = 0usize;
    let mut verb_at = None;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => verb_at = Some(i),
            _ => {}
        }
    }
    let (path, verb) = match verb_at {
        Some(i) => {
            let verb = &rest[i + 1..];
            if verb.is_empty() || !verb.chars().all(is_literal_char) {
                return Err(format!("`{verb}` is not a valid custom verb"));
            }
            (&rest[..i], Some(verb.to_owned()))
        }
        None => (rest, None),
    };
    let segments = parse_segments(path, true)?;
    let count = segments.len();
    for (i, segment) in segments.iter().enumerate() {
        let double = match segment {
            Segment::DoubleWildcard => true,
            Segment::Variable { pattern, .. } => pattern.contains(&Segment::DoubleWildcard),
            _ => false,
        };
        if double && i + 1 != count {
            return Err("`**` may only appear in the last segment".to_owned());
        }
    }
    Ok(PathTemplate {
        source: source.to_owned(),
        segments,
        verb,
    })
}

fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'()+,;@".contains(c)
}

fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' if depth > 0 => return Err("variables cannot be nested".to_owned()),
            '{' => depth += 1,
            '}' if depth == 0 => return Err("`}` without a matching `{`".to_owned()),
            '}' => depth -= 1,
            '/' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("`{` without a matching `}`".to_owned());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_segments(text: &str, allow_variables: bool) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    for part in split_top_level(text)? {
        let segment = match part {
            "" => return Err("empty path segment (`//` or a trailing `/`)".to_owned()),
            "*" => Segment::Wildcard,
            "**" => Segment::DoubleWildcard,
            _ if part.starts_with('{') => {
                if !allow_variables {
                    return Err("variables cannot be nested".to_owned());
                }
                let inner = part
                    .strip_prefix('{')
                    .and_then(|p| p.strip_suffix('}'))
                    .ok_or_else(|| format!("`{part}` is not a valid variable"))?;
                let (path, pattern) = match inner.split_once('=') {
                    Some((path, pattern)) => (path, parse_segments(pattern, false)?),
                    None => (inner, vec![Segment::Wildcard]),
                };
                let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
                let valid_ident = |p: &String| {
                    p.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                };
                if !field_path.iter().all(valid_ident) {
                    return Err(format!("`{path}` is not a field path"));
                }
                Segment::Variable {
                    field_path,
                    pattern,
                }
            }
            _ if part.chars().all(is_literal_char) => Segment::Literal(part.to_owned()),
            _ => return Err(format!("`{part}` is not a valid path segment")),
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// The template's shape, ignoring variable names: two templates with the same
/// key match the same requests.
pub(crate) fn route_key(method: &HttpMethod, template: &PathTemplate) -> String {
    fn flat(segments: &[Segment], out: &mut Vec<String>) {
        for segment in segments {
            match segment {
                Segment::Literal(l) => out.push(l.clone()),
                Segment::Wildcard => out.push("*".to_owned()),
                Segment::DoubleWildcard => out.push("**".to_owned()),
                Segment::Variable { pattern, .. } => flat(pattern, out),
            }
        }
    }
    let mut parts = Vec::new();
    flat(&template.segments, &mut parts);
    let verb = template
        .verb
        .as_deref()
        .map(|v| format!(":{v}"))
        .unwrap_or_default();
    let method = match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Custom(kind) => kind.as_str(),
    };
    format!("{method} /{}{verb}", parts.join("/"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn var(path: &str, pattern: Vec<Segment>) -> Segment {
        Segment::Variable {
            field_path: path.split('.').map(str::to_owned).collect(),
            pattern,
        }
    }

    #[test]
    fn parses_literals_variables_and_verbs() {
        let t = parse_template("/v1/{name=shelves/*}/books:publish").unwrap();
        assert_eq!(
            t.segments,
            vec![
                Segment::Literal("v1".into()),
                var(
                    "name",
                    vec![Segment::Literal("shelves".into()), Segment::Wildcard]
                ),
                Segment::Literal("books".into()),
            ]
        );
        assert_eq!(t.verb.as_deref(), Some("publish"));
        let t = parse_template("/cart/{cart_id}/items/{key.product_id}").unwrap();
        assert_eq!(t.segments[1], var("cart_id", vec![Segment::Wildcard]));
        assert_eq!(
            t.segments[3],
            var("key.product_id", vec![Segment::Wildcard])
        );
        assert_eq!(t.verb, None);
        let t = parse_template("/files/**").unwrap();
        assert_eq!(t.segments[1], Segment::DoubleWildcard);
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in [
            "cart",
            "/a//b",
            "/a/",
            "/{a",
            "/a}",
            "/{a={b}}",
            "/**/a",
            "/{x=**}/a",
            "/a:",
            "/{1x}",
            "/a b",
        ] {
            assert!(parse_template(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn route_keys_ignore_variable_names() {
        let a = parse_template("/carts/{cart_id}").unwrap();
        let b = parse_template("/carts/{id}").unwrap();
        let c = parse_template("/carts/{id}:x").unwrap();
        assert_eq!(
            route_key(&HttpMethod::Get, &a),
            route_key(&HttpMethod::Get, &b)
        );
        assert_ne!(
            route_key(&HttpMethod::Get, &a),
            route_key(&HttpMethod::Post, &b)
        );
        assert_ne!(
            route_key(&HttpMethod::Get, &a),
            route_key(&HttpMethod::Get, &c)
        );
    }
}
