//! What the proto3 JSON mapping requires of a request body that the
//! deserializer does not check: no field given twice in one object (also not
//! once under its proto name and once under its JSON name), no key twice in
//! a map or a free-form object, and at most one member of a oneof (a `null`
//! member counts as absent). One pass over the body's text before it is
//! decoded; hand-written because neither serde_json nor prost-reflect reports
//! duplicate keys (both keep the last one silently).

use std::collections::{HashMap, HashSet};
use std::fmt;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// Check `body` against those rules for a `desc` message. The error names
/// the field; malformed JSON passes (the decoder reports it).
pub(crate) fn check(desc: &MessageDescriptor, body: &[u8]) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match Node::Message(desc.clone(), String::new()).deserialize(&mut deserializer) {
        Err(error) if error.is_data() => Err(error.to_string()),
        _ => Ok(()),
    }
}

/// What a JSON value stands for.
enum Node {
    /// A message with the JSON form of an object of its fields, at a path.
    Message(MessageDescriptor, String),
    /// A map field's object.
    Map(FieldDescriptor, String),
    /// A repeated field's array.
    List(FieldDescriptor, String),
    /// Anything else: only duplicate keys are checked.
    Free(String),
}

/// Whether a message type's JSON form is an object of its fields (the
/// well-known types but `Empty` have forms of their own).
fn plain(desc: &MessageDescriptor) -> bool {
    !desc.full_name().starts_with("google.protobuf.") || desc.full_name() == "google.protobuf.Empty"
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The node of a single value of kind `kind`.
fn value_node(kind: Kind, path: String) -> Node {
    match kind {
        Kind::Message(desc) if plain(&desc) => Node::Message(desc, path),
        _ => Node::Free(path),
    }
}

/// The node of field `field`'s value.
fn field_node(field: &FieldDescriptor, path: String) -> Node {
    if field.is_map() {
        Node::Map(field.clone(), path)
    } else if field.is_list() {
        Node::List(field.clone(), path)
    } else {
        value_node(field.kind(), path)
    }
}

/// The oneof a field belongs to, unless it is proto3's `optional`.
fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field
        .containing_oneof()
        .filter(|oneof| !oneof.is_synthetic())
        .map(|oneof| oneof.name().to_owned())
}

impl<'de> DeserializeSeed<'de> for Node {
    /// Whether the value was `null`.
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let (element, path) = match self {
            Node::List(field, path) => (Some(field.kind()), path),
            Node::Message(_, path) | Node::Map(_, path) | Node::Free(path) => (None, path),
        };
        let mut at = 0usize;
        loop {
            let path = format!("{path}[{at}]");
            let node = match &element {
                Some(kind) => value_node(kind.clone(), path),
                None => Node::Free(path),
            };
            if seq.next_element_seed(node)?.is_none() {
                return Ok(false);
            }
            at += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut keys = HashSet::new();
        // Per field number, the key it was given under; per oneof, the member set.
        let mut fields: HashMap<u32, String> = HashMap::new();
        let mut oneofs: HashMap<String, String> = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                let path = match &self {
                    Node::Message(_, path)
                    | Node::Map(_, path)
                    | Node::List(_, path)
                    | Node::Free(path) => join(path, &key),
                };
                return Err(A::Error::custom(format!("`{path}` is given twice")));
            }
            match &self {
                Node::Message(desc, path) => {
                    let field = desc
                        .get_field_by_json_name(&key)
                        .or_else(|| desc.get_field_by_name(&key));
                    let Some(field) = field else {
                        // Unknown: the decoder refuses it.
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    let at = join(path, field.name());
                    if let Some(earlier) = fields.insert(field.number(), key.clone()) {
                        return Err(A::Error::custom(format!(
                            "field `{at}` is given twice, as `{earlier}` and as `{key}`"
                        )));
                    }
                    let null = map.next_value_seed(field_node(&field, at.clone()))?;
                    if let (Some(oneof), false) = (real_oneof(&field), null)
                        && let Some(other) = oneofs.insert(oneof.clone(), field.name().to_owned())
                    {
                        return Err(A::Error::custom(format!(
                            "fields `{}` and `{}` of oneof `{}` are both set; set at most one",
                            join(path, &other),
                            at,
                            join(path, &oneof)
                        )));
                    }
                }
                Node::Map(field, path) => {
                    let value = field
                        .kind()
                        .as_message()
                        .and_then(|entry| entry.get_field(2))
                        .map(|value| value.kind());
                    let at = format!("{path}[{key}]");
                    match value {
                        Some(kind) => map.next_value_seed(value_node(kind, at))?,
                        None => map.next_value_seed(Node::Free(at))?,
                    };
                }
                Node::List(_, path) | Node::Free(path) => {
                    map.next_value_seed(Node::Free(join(path, &key)))?;
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> MessageDescriptor {
        let pool = prost_reflect::DescriptorPool::decode(descriptors().as_slice()).unwrap();
        pool.get_message_by_name("t.Book").unwrap()
    }

    /// `t.Book { string title_text = 1; Book sequel = 2; map<string, Book>
    /// parts = 3; repeated Book volumes = 4; oneof cover { string hard = 5;
    /// string soft = 6; } }`.
    fn descriptors() -> Vec<u8> {
        use prost::Message;
        use prost_types::field_descriptor_proto::{Label, Type};
        use prost_types::{
            DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
            MessageOptions, OneofDescriptorProto,
        };
        let field = |name: &str, number: i32, kind: Type, label: Label, type_name: Option<&str>| {
            FieldDescriptorProto {
                name: Some(name.into()),
                number: Some(number),
                r#type: Some(kind as i32),
                label: Some(label as i32),
                type_name: type_name.map(str::to_owned),
                ..Default::default()
            }
        };
        let mut hard = field("hard", 5, Type::String, Label::Optional, None);
        hard.oneof_index = Some(0);
        let mut soft = field("soft", 6, Type::String, Label::Optional, None);
        soft.oneof_index = Some(0);
        let entry = DescriptorProto {
            name: Some("PartsEntry".into()),
            field: vec![
                field("key", 1, Type::String, Label::Optional, None),
                field("value", 2, Type::Message, Label::Optional, Some(".t.Book")),
            ],
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let book = DescriptorProto {
            name: Some("Book".into()),
            field: vec![
                field("title_text", 1, Type::String, Label::Optional, None),
                field("sequel", 2, Type::Message, Label::Optional, Some(".t.Book")),
                field(
                    "parts",
                    3,
                    Type::Message,
                    Label::Repeated,
                    Some(".t.Book.PartsEntry"),
                ),
                field(
                    "volumes",
                    4,
                    Type::Message,
                    Label::Repeated,
                    Some(".t.Book"),
                ),
                hard,
                soft,
            ],
            nested_type: vec![entry],
            oneof_decl: vec![OneofDescriptorProto {
                name: Some("cover".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            syntax: Some("proto3".into()),
            message_type: vec![book],
            ..Default::default()
        };
        FileDescriptorSet { file: vec![file] }.encode_to_vec()
    }

    fn refused(body: &str) -> String {
        check(&library(), body.as_bytes()).expect_err(body)
    }

    #[test]
    fn a_field_may_be_given_once() {
        let both = refused(r#"{"titleText": "a", "title_text": "b"}"#);
        assert!(both.contains("field `title_text` is given twice"), "{both}");
        let same = refused(r#"{"titleText": "a", "titleText": "b"}"#);
        assert!(same.contains("`titleText` is given twice"), "{same}");
        let nested = refused(r#"{"sequel": {"volumes": [{"titleText": "a", "title_text": "b"}]}}"#);
        assert!(
            nested.contains("`sequel.volumes[0].title_text`"),
            "{nested}"
        );
        let in_map = refused(r#"{"parts": {"x": {}, "x": {}}}"#);
        assert!(in_map.contains("`parts.x` is given twice"), "{in_map}");
    }

    #[test]
    fn a_oneof_takes_one_member() {
        let both = refused(r#"{"hard": "h", "soft": "s"}"#);
        assert!(
            both.contains("`hard` and `soft` of oneof `cover`"),
            "{both}"
        );
        assert_eq!(check(&library(), br#"{"hard": "h", "soft": null}"#), Ok(()));
    }

    #[test]
    fn well_formed_and_malformed_bodies_pass_to_the_decoder() {
        let book = library();
        for body in [
            r#"{"titleText": "a", "sequel": {"titleText": "b"}, "parts": {"x": {}, "y": {}}}"#,
            r#"{"volumes": [{}, {"hard": "h"}], "unknown": {"a": 1}}"#,
            r#"{"titleText": "#,
            "[1, 2]",
            "",
        ] {
            assert_eq!(check(&book, body.as_bytes()), Ok(()), "{body}");
        }
    }
}
