//! Rendering: the writer generated `ToJson` impls call, field by field.
//!
//! Numbers and strings are written by serde_json's own serializer, so their
//! text is byte for byte what the reflective path (prost-reflect through
//! serde_json) writes: the same float formatting, the same string escapes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serializer as _;

/// A message type rendered as canonical proto3 JSON by generated code.
pub trait ToJson {
    /// Write `self` as one JSON object.
    fn write_json(&self, out: &mut JsonWriter);
}

/// A proto enum, by generated code: its value names.
pub trait JsonEnum {
    /// The name of value `number`, if the enum declares it.
    fn name_of(number: i32) -> Option<&'static str>;
    /// The number of the value named `name`, if the enum declares it.
    fn number_of(name: &str) -> Option<i32>;
}

/// JSON text being written. Objects and arrays put their commas themselves:
/// [`JsonWriter::key`] and [`JsonWriter::item`] write one before every member
/// but the first.
#[derive(Debug, Default)]
pub struct JsonWriter {
    out: Vec<u8>,
    first: bool,
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> JsonWriter {
        JsonWriter {
            out: Vec::with_capacity(256),
            first: true,
        }
    }

    /// The text written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// `{`.
    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.first = true;
    }

    /// `}`.
    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    /// `[`.
    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.first = true;
    }

    /// `]`.
    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.first = false;
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    /// A member's key: `key` is its JSON text with the quotes and the colon
    /// (`"customerId":`), made at build time.
    pub fn key(&mut self, key: &str) {
        self.comma();
        self.out.extend_from_slice(key.as_bytes());
    }

    /// A map entry's key, any text (escaped here), and its colon.
    pub fn map_key(&mut self, key: &str) {
        self.comma();
        self.string(key);
        self.out.push(b':');
    }

    /// A map entry's key that is a number or a boolean, as a JSON string.
    pub fn map_key_display(&mut self, key: impl std::fmt::Display) {
        use std::io::Write as _;
        self.comma();
        let _ = write!(self.out, "\"{key}\":");
    }

    /// Before an array's next item.
    pub fn item(&mut self) {
        self.comma();
    }

    /// A string.
    pub fn string(&mut self, value: &str) {
        if needs_no_escape(value.as_bytes()) {
            self.out.reserve(value.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(value.as_bytes());
            self.out.push(b'"');
            return;
        }
        // Writing into a Vec cannot fail.
        let _ = serde_json::Serializer::new(&mut self.out).serialize_str(value);
    }

    /// A boolean.
    pub fn bool(&mut self, value: bool) {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// A 32-bit integer.
    pub fn i32(&mut self, value: i32) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// An unsigned 32-bit integer.
    pub fn u32(&mut self, value: u32) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A 64-bit integer, as a string.
    pub fn i64(&mut self, value: i64) {
        self.out.push(b'"');
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'"');
    }

    /// An unsigned 64-bit integer, as a string.
    pub fn u64(&mut self, value: u64) {
        self.out.push(b'"');
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'"');
    }

    /// A double: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn f64(&mut self, value: f64) {
        if value.is_finite() {
            let _ = serde_json::Serializer::new(&mut self.out).serialize_f64(value);
        } else {
            self.non_finite(value.is_nan(), value > 0.0);
        }
    }

    /// A float: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn f32(&mut self, value: f32) {
        if value.is_finite() {
            let _ = serde_json::Serializer::new(&mut self.out).serialize_f32(value);
        } else {
            self.non_finite(value.is_nan(), value > 0.0);
        }
    }

    fn non_finite(&mut self, nan: bool, positive: bool) {
        let text: &[u8] = match (nan, positive) {
            (true, _) => b"\"NaN\"",
            (false, true) => b"\"Infinity\"",
            (false, false) => b"\"-Infinity\"",
        };
        self.out.extend_from_slice(text);
    }

    /// Bytes, as standard base64 with padding.
    pub fn bytes(&mut self, value: &[u8]) {
        self.out.push(b'"');
        let start = self.out.len();
        self.out.resize(
            start + base64::encoded_len(value.len(), true).unwrap_or(0),
            0,
        );
        let written = STANDARD
            .encode_slice(value, &mut self.out[start..])
            .unwrap_or(0);
        self.out.truncate(start + written);
        self.out.push(b'"');
    }

    /// An enum value: its name, or its number when `E` declares no such value.
    pub fn enumeration<E: JsonEnum>(&mut self, number: i32) {
        match E::name_of(number) {
            Some(name) => self.string(name),
            None => self.i32(number),
        }
    }

    /// A message.
    pub fn message<M: ToJson + ?Sized>(&mut self, message: &M) {
        message.write_json(self);
    }
}

/// Whether serde_json would write `bytes` unchanged between quotes: it escapes
/// only control characters, `"` and `\\`. Checked 16 bytes at a time without
/// an early exit inside a block, a loop the compiler vectorizes, where serde_json
/// looks each byte up in its escape table (most of the time of rendering an
/// ordinary reply); strings that do need escaping still go through serde_json.
fn needs_no_escape(bytes: &[u8]) -> bool {
    let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |found, &b| found | special(b)) {
            return false;
        }
    }
    !blocks.remainder().iter().any(|&b| special(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's own text for a value, for comparison.
    mod erased {
        pub trait Value {
            fn text(&self) -> String;
        }
        impl<T: serde::Serialize> Value for T {
            fn text(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }

    #[test]
    fn members_and_items_are_separated_by_commas() {
        let mut out = JsonWriter::new();
        out.begin_object();
        out.key("\"a\":");
        out.begin_array();
        out.item();
        out.i32(1);
        out.item();
        out.begin_object();
        out.end_object();
        out.end_array();
        out.key("\"b\":");
        out.begin_object();
        out.map_key("k\"1");
        out.i64(-5);
        out.map_key_display(true);
        out.u64(7);
        out.end_object();
        out.end_object();
        assert_eq!(
            String::from_utf8(out.into_bytes()).unwrap(),
            r#"{"a":[1,{}],"b":{"k\"1":"-5","true":"7"}}"#
        );
    }

    #[test]
    fn numbers_and_bytes_are_written_as_serde_json_writes_them() {
        let mut out = JsonWriter::new();
        out.begin_array();
        for value in [
            0.1f64,
            -0.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            out.item();
            out.f64(value);
        }
        out.item();
        out.f32(0.1);
        out.item();
        out.bytes(b"\x00\xffab");
        out.item();
        out.string("\u{1}é\n");
        out.end_array();
        let json = |value: &dyn erased::Value| value.text();
        let parts = [
            json(&0.1f64),
            json(&-0.0f64),
            json(&1e300f64),
            json(&"NaN"),
            json(&"Infinity"),
            json(&"-Infinity"),
            json(&0.1f32),
            json(&"AP9hYg=="),
            json(&"\u{1}é\n"),
        ];
        let expected = format!("[{}]", parts.join(","));
        assert_eq!(String::from_utf8(out.into_bytes()).unwrap(), expected);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        // Every special byte at every position of a block, and the remainder.
        for special in ["\"", "\\", "\u{0}", "\n", "\u{1f}"] {
            for len in [0, 1, 15, 16, 17, 31, 32, 40] {
                for at in 0..=len {
                    let mut text = "é".repeat(len / 2) + &"a".repeat(len % 2);
                    let at = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
                    text.insert_str(at, special);
                    for value in [text.as_str(), &text[..at], "\u{7f}\u{2028}plain"] {
                        let mut out = JsonWriter::new();
                        out.string(value);
                        assert_eq!(
                            String::from_utf8(out.into_bytes()).unwrap(),
                            serde_json::to_string(value).unwrap(),
                            "{value:?}"
                        );
                    }
                }
            }
        }
    }
}
