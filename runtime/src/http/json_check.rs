//! What the proto3 JSON mapping requires of a request body that the
//! deserializer does not check: no field given twice in one object (also not
//! once under its proto name and once under its JSON name), no key twice in
//! a map or a free-form object, and at most one member of a oneof (a `null`
//! member counts as absent). One pass over the body's text before it is
//! decoded; hand-written because neither serde_json nor prost-reflect reports
//! duplicate keys (both keep the last one silently).
//!
//! It runs on every request body, so the success path allocates only for
//! keys written with escapes and for large objects: keys are borrowed from
//! the body, seen keys are scanned linearly up to [`SMALL`] and hashed past
//! it, and a field's path is put together only for an error message.

use std::collections::HashSet;
use std::fmt;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// Check `body` against those rules for a `desc` message. The error names
/// the field; malformed JSON passes (the decoder reports it).
pub(crate) fn check(desc: &MessageDescriptor, body: &[u8]) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let node = Node {
        what: What::Message(desc.clone()),
        at: &At::ROOT,
    };
    match node.deserialize(&mut deserializer) {
        Err(error) if error.is_data() => Err(error.to_string()),
        _ => Ok(()),
    }
}

/// Where a value is: a chain of steps from the body's top, rendered only
/// for an error.
struct At<'a> {
    parent: Option<&'a At<'a>>,
    step: Step<'a>,
}

enum Step<'a> {
    Root,
    Field(&'a str),
    Index(usize),
    Key(&'a str),
}

impl At<'_> {
    const ROOT: At<'static> = At {
        parent: None,
        step: Step::Root,
    };
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        let top = self.parent.is_none_or(|p| matches!(p.step, Step::Root));
        match self.step {
            Step::Root => Ok(()),
            Step::Field(name) if top => f.write_str(name),
            Step::Field(name) => write!(f, ".{name}"),
            Step::Index(at) => write!(f, "[{at}]"),
            Step::Key(key) if top => f.write_str(key),
            Step::Key(key) => write!(f, ".{key}"),
        }
    }
}

/// What a JSON value stands for.
enum What {
    /// A message with the JSON form of an object of its fields.
    Message(MessageDescriptor),
    /// A map field's object.
    Map(FieldDescriptor),
    /// A repeated field's array.
    List(FieldDescriptor),
    /// Anything else: only duplicate keys are checked.
    Free,
}

struct Node<'a> {
    what: What,
    at: &'a At<'a>,
}

/// Whether a message type's JSON form is an object of its fields (the
/// well-known types but `Empty` have forms of their own).
fn plain(desc: &MessageDescriptor) -> bool {
    !desc.full_name().starts_with("google.protobuf.") || desc.full_name() == "google.protobuf.Empty"
}

/// What a single value of kind `kind` stands for.
fn value_of(kind: Kind) -> What {
    match kind {
        Kind::Message(desc) if plain(&desc) => What::Message(desc),
        _ => What::Free,
    }
}

/// What field `field`'s value stands for.
fn field_value(field: &FieldDescriptor) -> What {
    if field.is_map() {
        What::Map(field.clone())
    } else if field.is_list() {
        What::List(field.clone())
    } else {
        value_of(field.kind())
    }
}

/// The oneof a field belongs to, unless it is proto3's `optional`.
fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field
        .containing_oneof()
        .filter(|oneof| !oneof.is_synthetic())
}

/// An object key, borrowed from the body unless it was written with escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(key))
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(key.to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Objects with at most this many keys are checked by a linear scan.
const SMALL: usize = 16;

/// The keys of one object seen so far.
#[derive(Default)]
struct Seen<'de> {
    keys: Vec<Key<'de>>,
    hashed: Option<HashSet<String>>,
}

impl<'de> Seen<'de> {
    fn contains(&self, key: &str) -> bool {
        match &self.hashed {
            Some(hashed) => hashed.contains(key),
            None => self.keys.iter().any(|seen| seen.as_str() == key),
        }
    }

    fn insert(&mut self, key: Key<'de>) {
        match &mut self.hashed {
            Some(hashed) => {
                hashed.insert(key.as_str().to_owned());
            }
            None => {
                self.keys.push(key);
                if self.keys.len() > SMALL {
                    let keys = self.keys.drain(..).map(|k| k.as_str().to_owned());
                    self.hashed = Some(keys.collect());
                }
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    /// Whether the value was `null`.
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
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
        let element = match &self.what {
            What::List(field) => Some(field.kind()),
            _ => None,
        };
        let mut index = 0usize;
        loop {
            let at = At {
                parent: Some(self.at),
                step: Step::Index(index),
            };
            let what = match &element {
                Some(kind) => value_of(kind.clone()),
                None => What::Free,
            };
            if seq.next_element_seed(Node { what, at: &at })?.is_none() {
                return Ok(false);
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        match &self.what {
            What::Message(desc) => self.visit_message(desc, map),
            _ => {
                // A map or a free-form object: each key once.
                let mut seen = Seen::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let at = At {
                        parent: Some(self.at),
                        step: Step::Key(key.as_str()),
                    };
                    if seen.contains(key.as_str()) {
                        return Err(A::Error::custom(format!("`{at}` is given twice")));
                    }
                    let what = match &self.what {
                        What::Map(field) => field
                            .kind()
                            .as_message()
                            .and_then(|entry| entry.get_field(2))
                            .map_or(What::Free, |value| value_of(value.kind())),
                        _ => What::Free,
                    };
                    map.next_value_seed(Node { what, at: &at })?;
                    seen.insert(key);
                }
                Ok(false)
            }
        }
    }
}

impl<'a> Node<'a> {
    /// A message's object: each field once (under either of its names), at
    /// most one member per oneof. Unknown keys are left to the decoder.
    fn visit_message<'de, A: MapAccess<'de>>(
        &self,
        desc: &MessageDescriptor,
        mut map: A,
    ) -> Result<bool, A::Error> {
        // The fields given so far, by number, with the key they came under;
        // the oneofs with a member set, with that member.
        let mut fields: Vec<(u32, Key<'de>)> = Vec::new();
        let mut oneofs: Vec<(OneofDescriptor, FieldDescriptor)> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let Some(field) = desc
                .get_field_by_json_name(key.as_str())
                .or_else(|| desc.get_field_by_name(key.as_str()))
            else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let at = At {
                parent: Some(self.at),
                step: Step::Field(field.name()),
            };
            if let Some((_, earlier)) = fields.iter().find(|(n, _)| *n == field.number()) {
                if earlier.as_str() == key.as_str() {
                    let written = At {
                        parent: Some(self.at),
                        step: Step::Key(key.as_str()),
                    };
                    return Err(A::Error::custom(format!("`{written}` is given twice")));
                }
                return Err(A::Error::custom(format!(
                    "field `{at}` is given twice, as `{}` and as `{}`",
                    earlier.as_str(),
                    key.as_str()
                )));
            }
            let null = map.next_value_seed(Node {
                what: field_value(&field),
                at: &at,
            })?;
            if let (Some(oneof), false) = (real_oneof(&field), null) {
                if let Some((_, other)) = oneofs
                    .iter()
                    .find(|(o, _)| o.full_name() == oneof.full_name())
                {
                    let first = At {
                        parent: Some(self.at),
                        step: Step::Field(other.name()),
                    };
                    let group = At {
                        parent: Some(self.at),
                        step: Step::Field(oneof.name()),
                    };
                    return Err(A::Error::custom(format!(
                        "fields `{first}` and `{at}` of oneof `{group}` are both set; set at most one"
                    )));
                }
                oneofs.push((oneof, field.clone()));
            }
            fields.push((field.number(), key));
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
