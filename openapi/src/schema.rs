//! JSON Schemas of messages in their proto3 JSON form, collected under
//! `components/schemas` by full name and referenced with `$ref`.

use std::collections::BTreeMap;

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

/// The schemas referenced so far.
#[derive(Debug, Default)]
pub struct Schemas {
    done: BTreeMap<String, Value>,
}

/// Well-known types that travel as a single JSON value, not an object.
pub(crate) fn is_scalar_like(message: &MessageDescriptor) -> bool {
    well_known(message.full_name()).is_some()
}

/// Whether a schema is the raw body of `google.api.HttpBody`.
pub(crate) fn is_http_body_schema(schema: &Value) -> bool {
    schema["$ref"] == "#/components/schemas/google.api.HttpBody"
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The JSON form of a well-known type, if `name` is one.
fn well_known(name: &str) -> Option<Value> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$" })
        }
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Empty" => json!({ "type": "object" }),
        "google.protobuf.StringValue" => json!({ "type": ["string", "null"] }),
        "google.protobuf.BytesValue" => {
            json!({ "type": ["string", "null"], "contentEncoding": "base64" })
        }
        "google.protobuf.BoolValue" => json!({ "type": ["boolean", "null"] }),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({ "type": ["integer", "null"] })
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "null"], "format": "int64" })
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({ "oneOf": [{ "type": ["number", "null"] }, { "enum": ["NaN", "Infinity", "-Infinity"] }] })
        }
        _ => return None,
    })
}

impl Schemas {
    /// The schemas collected, by full name.
    pub fn into_map(self) -> Map<String, Value> {
        self.done.into_iter().collect()
    }

    /// The schema of `message`: a `$ref` to its definition (added on first use).
    pub fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(known) = well_known(message.full_name()) {
            return known;
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            // Placeholder first, so that recursive messages end.
            self.done.insert(name.clone(), json!({}));
            let definition = self.definition(message);
            self.done.insert(name.clone(), definition);
        }
        reference(&name)
    }

    fn definition(&mut self, message: &MessageDescriptor) -> Value {
        if message.full_name() == "google.protobuf.Any" {
            return json!({
                "type": "object",
                "properties": { "@type": { "type": "string" } },
                "required": ["@type"],
                "additionalProperties": true,
            });
        }
        let mut properties = Map::new();
        for field in message.fields() {
            let mut schema = self.field(&field);
            if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
                schema = json!({
                    "allOf": [schema],
                    "description": format!("one of `{}`: at most one of its fields is set", oneof.name()),
                });
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        json!({
            "type": "object",
            "title": message.full_name(),
            "properties": properties,
        })
    }

    /// The schema of a field (repeated and map fields included).
    pub fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({ "type": "object" });
            };
            let value = entry.map_entry_value_field();
            return json!({ "type": "object", "additionalProperties": self.single(&value.kind()) });
        }
        let single = self.single(&field.kind());
        if field.is_list() {
            json!({ "type": "array", "items": single })
        } else {
            single
        }
    }

    fn single(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double | Kind::Float => json!({
                "oneOf": [{ "type": "number" }, { "enum": ["NaN", "Infinity", "-Infinity"] }]
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "int32", "minimum": 0 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
                json!({ "type": "string", "format": "int64" })
            }
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
            Kind::Enum(e) => enum_schema(e),
            Kind::Message(m) => self.message(m),
        }
    }

    /// The error body every operation may answer: `google.rpc.Status`.
    pub(crate) fn add_status(&mut self) {
        self.done.insert(
            "google.rpc.Status".to_owned(),
            json!({
                "type": "object",
                "title": "google.rpc.Status",
                "properties": {
                    "code": { "type": "integer", "format": "int32", "description": "the gRPC status code" },
                    "message": { "type": "string" },
                    "details": { "type": "array", "items": { "type": "object" } },
                },
                "required": ["code", "message"],
            }),
        );
    }
}

fn enum_schema(e: &EnumDescriptor) -> Value {
    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    json!({ "type": "string", "enum": names })
}
