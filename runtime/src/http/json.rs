//! Canonical proto3 JSON in and out, through prost-reflect's serde support.
//!
//! In: lowerCamel and proto field names, unknown fields rejected, a field
//! given twice or two members of a oneof rejected ([`super::json_check`]);
//! errors name the field they are about (tracked with `serde_path_to_error`). Out:
//! lowerCamel names, 64-bit integers as strings, enums by name, and every field
//! including those with default values.

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, MessageDescriptor, SerializeOptions,
};

use crate::status::Status;

use super::error::bad_request;

const DESERIALIZE: DeserializeOptions = DeserializeOptions::new().deny_unknown_fields(true);
const SERIALIZE: SerializeOptions = SerializeOptions::new().skip_default_fields(false);

/// Decode a JSON body into a message of type `desc`.
pub(crate) fn decode_message(
    desc: MessageDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    super::json_check::check(&desc, body)
        .map_err(|problem| bad_request(format!("invalid JSON body: {problem}")))?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let message = DynamicMessage::deserialize_with_options(
        desc,
        serde_path_to_error::Deserializer::new(&mut deserializer, &mut track),
        &DESERIALIZE,
    )
    .map_err(|err| json_error(&track.path(), &err))?;
    deserializer
        .end()
        .map_err(|err| bad_request(format!("invalid JSON body: {err}")))?;
    Ok(message)
}

/// Decode a JSON body that is the value of field `field` of a `desc` message
/// (`body: "field"`), and return that message with only the field set.
pub(crate) fn decode_field(
    desc: MessageDescriptor,
    field: &FieldDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    if let Some(inner) = field
        .kind()
        .as_message()
        .filter(|_| !field.is_list() && !field.is_map())
    {
        super::json_check::check(inner, body)
            .map_err(|problem| bad_request(format!("invalid JSON body: {problem}")))?;
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| bad_request(format!("invalid JSON body: {err}")))?;
    let wrapped = serde_json::Value::Object(
        [(field.json_name().to_string(), value)]
            .into_iter()
            .collect(),
    );
    let mut track = serde_path_to_error::Track::new();
    DynamicMessage::deserialize_with_options(
        desc,
        serde_path_to_error::Deserializer::new(wrapped, &mut track),
        &DESERIALIZE,
    )
    .map_err(|err| json_error(&track.path(), &err))
}

fn json_error(path: &serde_path_to_error::Path, err: &serde_json::Error) -> Status {
    let at = path.to_string();
    let malformed = matches!(
        err.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    );
    if malformed || at.is_empty() || at == "." || at.contains('?') {
        bad_request(format!("invalid JSON body: {err}"))
    } else {
        bad_request(format!("invalid JSON for field `{at}`: {err}"))
    }
}

/// Render a message, or only its field `response_body`, as JSON.
/// `float_wrappers`: whether the message type can hold a `DoubleValue` or
/// `FloatValue` ([`holds_float_wrappers`]), whose non-finite values need
/// [`non_finite_wrappers`].
pub(crate) fn encode(
    message: &DynamicMessage,
    response_body: Option<&FieldDescriptor>,
    float_wrappers: bool,
) -> Result<Vec<u8>, Status> {
    let rendered = match response_body {
        None if float_wrappers => {
            let mut whole = message
                .serialize_with_options(serde_json::value::Serializer, &SERIALIZE)
                .map_err(render_error)?;
            non_finite_wrappers(message, &mut whole);
            whole
        }
        None => {
            let mut out = Vec::new();
            let mut serializer = serde_json::Serializer::new(&mut out);
            message
                .serialize_with_options(&mut serializer, &SERIALIZE)
                .map_err(render_error)?;
            return Ok(out);
        }
        Some(field) => {
            let mut whole = message
                .serialize_with_options(serde_json::value::Serializer, &SERIALIZE)
                .map_err(render_error)?;
            if float_wrappers {
                non_finite_wrappers(message, &mut whole);
            }
            whole
                .get(field.json_name())
                .cloned()
                .unwrap_or(serde_json::Value::Null)
        }
    };
    serde_json::to_vec(&rendered).map_err(render_error)
}

fn render_error(err: serde_json::Error) -> Status {
    Status::internal(format!("the reply cannot be rendered as JSON: {err}"))
}

const FLOAT_WRAPPERS: [&str; 2] = ["google.protobuf.DoubleValue", "google.protobuf.FloatValue"];

/// Whether messages of type `desc` can hold a `DoubleValue` or `FloatValue`
/// anywhere inside.
pub(crate) fn holds_float_wrappers(desc: &MessageDescriptor) -> bool {
    fn walk(desc: &MessageDescriptor, seen: &mut Vec<String>) -> bool {
        if FLOAT_WRAPPERS.contains(&desc.full_name()) {
            return true;
        }
        if seen.iter().any(|name| name == desc.full_name()) {
            return false;
        }
        seen.push(desc.full_name().to_owned());
        desc.fields().any(|field| match field.kind() {
            prost_reflect::Kind::Message(inner) => walk(&inner, seen),
            _ => false,
        })
    }
    walk(desc, &mut Vec::new())
}

/// prost-reflect renders a non-finite `DoubleValue`/`FloatValue` as `null`
/// (its JSON number); the proto3 JSON mapping asks for `"NaN"`,
/// `"Infinity"` and `"-Infinity"`, as for plain double fields. This puts
/// them into `json`, the rendering of `message`.
fn non_finite_wrappers(message: &DynamicMessage, json: &mut serde_json::Value) {
    use prost_reflect::{MapKey, ReflectMessage as _, Value};
    fn fix(value: &Value, json: &mut serde_json::Value) {
        match value {
            Value::Message(inner) if FLOAT_WRAPPERS.contains(&inner.descriptor().full_name()) => {
                let number = match inner.get_field_by_number(1).as_deref() {
                    Some(Value::F64(number)) => *number,
                    Some(Value::F32(number)) => f64::from(*number),
                    _ => return,
                };
                let text = if number.is_nan() {
                    "NaN"
                } else if number == f64::INFINITY {
                    "Infinity"
                } else if number == f64::NEG_INFINITY {
                    "-Infinity"
                } else {
                    return;
                };
                *json = serde_json::Value::String(text.to_owned());
            }
            Value::Message(inner) => non_finite_wrappers(inner, json),
            Value::List(items) => {
                if let serde_json::Value::Array(rendered) = json {
                    for (item, rendered) in items.iter().zip(rendered.iter_mut()) {
                        fix(item, rendered);
                    }
                }
            }
            Value::Map(entries) => {
                if let serde_json::Value::Object(rendered) = json {
                    for (key, item) in entries {
                        let key = match key {
                            MapKey::Bool(b) => b.to_string(),
                            MapKey::I32(n) => n.to_string(),
                            MapKey::I64(n) => n.to_string(),
                            MapKey::U32(n) => n.to_string(),
                            MapKey::U64(n) => n.to_string(),
                            MapKey::String(s) => s.clone(),
                        };
                        if let Some(rendered) = rendered.get_mut(&key) {
                            fix(item, rendered);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let serde_json::Value::Object(fields) = json else {
        return;
    };
    for (field, value) in message.fields() {
        if let Some(rendered) = fields.get_mut(field.json_name()) {
            fix(value, rendered);
        }
    }
}
