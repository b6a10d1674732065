//! JSON without run-time reflection: the hot path of the HTTP front door.
//!
//! The generator emits, for every message a service's methods take or return
//! over HTTP (and the messages inside them), a [`ToJson`] and a [`FromJson`]
//! impl over the message's prost struct, and lists them per component as
//! [`JsonCodec`]s. The front door then renders a reply by decoding its bytes
//! into the struct and writing it field by field, and parses a body straight
//! into the struct, without building a `DynamicMessage`.
//!
//! The guarantee is that nothing changes but the speed:
//! - Rendering writes exactly what the reflective path writes: fields in
//!   field-number order, every field without presence (defaults included),
//!   fields with presence only when set, lowerCamel names, 64-bit integers as
//!   strings, enums by name (by number when undeclared), bytes as padded
//!   standard base64, numbers and strings through serde_json's serializer.
//! - Parsing takes only what the reflective decoder takes, to the same
//!   message; anything else (an unknown or repeated field, two members of a
//!   oneof, `null`, a value of another type) fails this path
//!   and the body is decoded the reflective way, which gives today's error
//!   naming the field — or decodes it, for the forms this path leaves to it.
//! - Messages holding a well-known type other than `Empty` (timestamps,
//!   durations, wrappers, `Struct`, `Any`, field masks), or declared outside
//!   proto3, get no codec: their routes keep the reflective path.

mod read;
mod write;

use prost::Message;

pub use read::{
    Base64, Enum, F32, F64, FromJson, I32, I64, JsonValue, List, Map, MapKey, Msg, Seen, U32, U64,
    unknown,
};
pub use write::{JsonEnum, JsonWriter, ToJson};

/// The JSON codec of one message type, made by generated code.
#[derive(Debug, Clone, Copy)]
pub struct JsonCodec {
    /// The fully qualified message name.
    pub type_name: &'static str,
    /// JSON body → the message's protobuf bytes; `None` sends the body down
    /// the reflective path.
    pub parse: fn(&[u8]) -> Option<Vec<u8>>,
    /// The message's protobuf bytes → JSON; `None` when they do not decode.
    pub render: fn(&[u8]) -> Option<Vec<u8>>,
}

/// A JSON body into a `M`, encoded; `None` when the fast path does not take it.
pub fn parse<M: FromJson + Message>(body: &[u8]) -> Option<Vec<u8>> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = serde::Deserialize::deserialize(&mut deserializer)
        .ok()
        .map(|Msg::<M>(message)| message)?;
    deserializer.end().ok()?;
    Some(message.encode_to_vec())
}

/// A `M`'s protobuf bytes as JSON; `None` when they do not decode.
pub fn render<M: ToJson + Message + Default>(bytes: &[u8]) -> Option<Vec<u8>> {
    let message = M::decode(bytes).ok()?;
    let mut out = JsonWriter::new();
    message.write_json(&mut out);
    Some(out.into_bytes())
}

/// The codec of `google.protobuf.Empty` (`{}`), which has no generated struct.
pub(crate) const EMPTY: JsonCodec = JsonCodec {
    type_name: "google.protobuf.Empty",
    parse: parse::<EmptyMessage>,
    render: render::<EmptyMessage>,
};

#[derive(Clone, PartialEq, Message)]
struct EmptyMessage {}

impl FromJson for EmptyMessage {
    fn read_field<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        _key: &str,
        _seen: &mut Seen,
        _map: &mut A,
    ) -> Result<(), A::Error> {
        Err(unknown())
    }
}

impl ToJson for EmptyMessage {
    fn write_json(&self, out: &mut JsonWriter) {
        out.begin_object();
        out.end_object();
    }
}

#[cfg(test)]
mod tests;
