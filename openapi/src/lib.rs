//! OpenAPI 3.1 documents of HTTP/JSON routes.
//!
//! The input is a list of [`Operation`]s — one per HTTP binding of a method,
//! with the method's request and response descriptors — and the output an
//! OpenAPI document whose schemas follow the proto3 JSON mapping the
//! runtime speaks ([`schema`]): lowerCamel field names, 64-bit integers as
//! strings, enums by name, well-known types in their JSON forms. A path
//! variable becomes a path parameter (a variable matching several segments,
//! `{name=shelves/*}` or `**`, is one parameter whose description says so);
//! fields neither in the path nor in the body become query parameters
//! (scalars, repeated scalars and nested scalars as `a.b`); a
//! server-streaming reply is NDJSON (`application/x-ndjson`) or Server-Sent
//! Events; errors are `google.rpc.Status` objects.

// Module docs name their private submodules for contributors; they resolve
// with `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

mod schema;

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

pub use schema::Schemas;

/// Where an operation's request body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// The whole request message (`body: "*"`).
    Whole,
    /// One top-level field of the request (`body: "field"`).
    Field(String),
}

/// One HTTP binding of one method.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `GET`, `POST`, ... (custom methods are left out of the document).
    pub http_method: String,
    /// The path template as written (`/v1/{name=shelves/*}/books:publish`).
    pub template: String,
    /// The gRPC path of the method (`/package.Service/Method`), the operation id.
    pub grpc_path: String,
    /// Where the body goes.
    pub body: Body,
    /// The reply field sent as the body, if not the whole reply.
    pub response_body: Option<String>,
    /// The request message.
    pub input: MessageDescriptor,
    /// The reply message.
    pub output: MessageDescriptor,
    /// Whether replies stream.
    pub server_streaming: bool,
    /// Whether requests stream (an NDJSON body).
    pub client_streaming: bool,
    /// The method's leading comment.
    pub summary: Option<String>,
    /// The service (`package.Service`), the operation's tag.
    pub service: String,
}

/// The OpenAPI document of `operations`, titled `title`.
pub fn document(title: &str, operations: &[Operation]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for op in operations {
        let method = op.http_method.to_ascii_lowercase();
        if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
            continue;
        }
        let (path, variables) = openapi_path(&op.template);
        let entry = paths.entry(path).or_default();
        // A method with several bindings: each later one numbered.
        let base = op.grpc_path.trim_start_matches('/').replace('/', ".");
        let id = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}.{n}")
                }
            })
            .find(|id| !ids.contains(id))
            .unwrap_or(base);
        ids.insert(id.clone());
        entry.insert(method, operation(op, &id, &variables, &mut schemas));
    }
    schemas.add_status();
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": "1" },
        "paths": paths,
        "components": { "schemas": schemas.into_map() },
    })
}

/// A path variable: its name in the OpenAPI path and the field it sets.
struct Variable {
    name: String,
    field_path: Vec<String>,
    multi_segment: bool,
}

/// The OpenAPI form of a template: `{name=shelves/*}` becomes `{name}`,
/// a custom verb stays literal.
fn openapi_path(template: &str) -> (String, Vec<Variable>) {
    let mut path = String::new();
    let mut variables = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
        path.push('{');
        path.push_str(field);
        path.push('}');
        variables.push(Variable {
            name: field.to_owned(),
            field_path: field.split('.').map(str::to_owned).collect(),
            multi_segment: pattern != "*",
        });
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);
    if path.is_empty() {
        path.push('/');
    }
    (path, variables)
}

fn operation(op: &Operation, id: &str, variables: &[Variable], schemas: &mut Schemas) -> Value {
    let mut parameters = Vec::new();
    for variable in variables {
        let field = field_at(&op.input, &variable.field_path);
        let mut description = format!("sets `{}`", variable.field_path.join("."));
        if variable.multi_segment {
            description.push_str(" (may span several path segments)");
        }
        parameters.push(json!({
            "name": variable.name,
            "in": "path",
            "required": true,
            "description": description,
            "schema": field.map_or(json!({"type": "string"}), |f| schemas.field(&f)),
        }));
    }
    if op.body != Body::Whole && !op.client_streaming {
        let bound: Vec<Vec<String>> = variables.iter().map(|v| v.field_path.clone()).collect();
        let skip_top = match &op.body {
            Body::Field(field) => Some(field.clone()),
            _ => None,
        };
        query_parameters(
            &op.input,
            &[],
            &bound,
            skip_top.as_deref(),
            schemas,
            &mut parameters,
            0,
        );
    }
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(id));
    operation.insert("tags".into(), json!([op.service]));
    if let Some(summary) = &op.summary {
        operation.insert("summary".into(), json!(summary));
    }
    if !parameters.is_empty() {
        operation.insert("parameters".into(), json!(parameters));
    }
    if let Some(body) = request_body(op, schemas) {
        operation.insert("requestBody".into(), body);
    }
    operation.insert("responses".into(), responses(op, schemas));
    Value::Object(operation)
}

/// The field at `path` (proto names) below `message`.
fn field_at(message: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (first, rest) = path.split_first()?;
    let field = message.get_field_by_name(first)?;
    if rest.is_empty() {
        return Some(field);
    }
    match field.kind() {
        Kind::Message(inner) => field_at(&inner, rest),
        _ => None,
    }
}

/// Query parameters for the scalar fields (and repeated scalars) of
/// `message`, nested ones as `a.b`, leaving out bound fields.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &[String],
    bound: &[Vec<String>],
    skip_top: Option<&str>,
    schemas: &mut Schemas,
    out: &mut Vec<Value>,
    depth: usize,
) {
    for field in message.fields() {
        let mut path = prefix.to_vec();
        path.push(field.name().to_owned());
        if bound.contains(&path) || (prefix.is_empty() && skip_top == Some(field.name())) {
            continue;
        }
        match field.kind() {
            Kind::Message(inner) if !schema::is_scalar_like(&inner) => {
                if !field.is_list() && !field.is_map() && depth < 3 {
                    query_parameters(&inner, &path, bound, None, schemas, out, depth + 1);
                }
            }
            _ if field.is_map() => {}
            _ => {
                let name = if prefix.is_empty() {
                    field.json_name().to_owned()
                } else {
                    let mut parts: Vec<&str> = prefix.iter().map(String::as_str).collect();
                    parts.push(field.json_name());
                    parts.join(".")
                };
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "schema": schemas.field(&field),
                });
                if field.is_list() {
                    parameter["explode"] = json!(true);
                }
                out.push(parameter);
            }
        }
    }
}

fn request_body(op: &Operation, schemas: &mut Schemas) -> Option<Value> {
    if op.client_streaming {
        let item = schemas.message(&op.input);
        return Some(json!({
            "required": true,
            "description": "one JSON request per line",
            "content": { "application/x-ndjson": { "schema": item } },
        }));
    }
    let schema = match &op.body {
        Body::None => return None,
        Body::Whole => schemas.message(&op.input),
        Body::Field(name) => op
            .input
            .get_field_by_name(name)
            .map_or(json!({}), |field| schemas.field(&field)),
    };
    if schema::is_http_body_schema(&schema) {
        let content = json!({ "*/*": { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } } });
        return Some(json!({ "required": true, "content": content }));
    }
    // The front door reads an empty JSON body as the empty message.
    Some(json!({
        "required": false,
        "description": "an empty body is the empty message (every field its default)",
        "content": { "application/json": { "schema": schema } },
    }))
}

fn responses(op: &Operation, schemas: &mut Schemas) -> Value {
    let schema = match &op.response_body {
        Some(name) => op
            .output
            .get_field_by_name(name)
            .map_or(json!({}), |field| schemas.field(&field)),
        None => schemas.message(&op.output),
    };
    let content = if schema::is_http_body_schema(&schema) {
        json!({ "*/*": { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } } })
    } else if op.server_streaming {
        json!({
            "application/x-ndjson": { "schema": schema },
            "text/event-stream": { "schema": { "type": "string" } },
        })
    } else {
        json!({ "application/json": { "schema": schema } })
    };
    let description = if op.server_streaming {
        "the replies: one JSON value per line (NDJSON), or one Server-Sent Event each"
    } else {
        "the reply"
    };
    json!({
        "200": { "description": description, "content": content },
        "default": {
            "description": "an error: a google.rpc.Status with the HTTP status of its gRPC code",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/google.rpc.Status" } } },
        },
    })
}
