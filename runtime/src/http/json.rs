//! Canonical proto3 JSON in and out, through prost-reflect's serde support.
//!
//! In: lowerCamel and proto field names, unknown fields rejected; errors name
//! the field they are about (tracked with `serde_path_to_error`). Out:
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
pub(crate) fn encode(
    message: &DynamicMessage,
    response_body: Option<&FieldDescriptor>,
) -> Result<Vec<u8>, Status> {
    let rendered = match response_body {
        None => {
            let mut out = Vec::new();
            let mut serializer = serde_json::Serializer::new(&mut out);
            message
                .serialize_with_options(&mut serializer, &SERIALIZE)
                .map_err(render_error)?;
            return Ok(out);
        }
        Some(field) => {
            let whole = message
                .serialize_with_options(serde_json::value::Serializer, &SERIALIZE)
                .map_err(render_error)?;
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
