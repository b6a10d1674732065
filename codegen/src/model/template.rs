//! Path templates of `google.api.http` rules.
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

use super::types::{HttpMethod, PathTemplate, Segment};

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
    // `/` alone (a site's root, as Kalix serves `index.html`) has no segments.
    let segments = if path.is_empty() {
        Vec::new()
    } else {
        parse_segments(path, true)?
    };
    // `**` must be the last part of the path, also inside a variable.
    let flat: Vec<&Segment> = segments
        .iter()
        .flat_map(|segment| match segment {
            Segment::Variable { pattern, .. } => pattern.iter().collect::<Vec<_>>(),
            plain => vec![plain],
        })
        .collect();
    if let Some(at) = flat.iter().position(|s| **s == Segment::DoubleWildcard)
        && at + 1 != flat.len()
    {
        return Err("`**` may only be the last part of the path".to_owned());
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
            "/{x=**/a}",
            "/a/{x=**/b}",
            "/a:",
            "/{1x}",
            "/a b",
        ] {
            assert!(parse_template(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn the_root_is_a_template() {
        let root = parse_template("/").unwrap();
        assert!(root.segments.is_empty());
        assert_eq!(root.verb, None);
        assert!(parse_template("//").is_err());
        let tail = parse_template("/files/{path=a/**}").unwrap();
        assert_eq!(tail.segments.len(), 2);
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
