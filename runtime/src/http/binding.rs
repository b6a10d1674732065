//! Path variables and query parameters into request fields: resolving dotted
//! field paths and parsing text by the field's kind.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

/// Resolve a field path from `message`: every step but the last must be a
/// singular message field. Steps match proto names, and also JSON names when
/// `json_names` is set (query parameters may use either).
pub(crate) fn resolve<S: AsRef<str>>(
    message: &MessageDescriptor,
    path: &[S],
    json_names: bool,
) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::with_capacity(path.len());
    let mut current = message.clone();
    for (index, step) in path.iter().enumerate() {
        let step = step.as_ref();
        let field = current
            .get_field_by_name(step)
            .or_else(|| {
                if json_names {
                    current.get_field_by_json_name(step)
                } else {
                    None
                }
            })
            .ok_or_else(|| format!("message `{}` has no field `{step}`", current.full_name()))?;
        if index + 1 < path.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => current = inner,
                _ => {
                    return Err(format!(
                        "field `{}` is not a singular message, so `{step}.` cannot go into it",
                        field.full_name()
                    ));
                }
            }
        }
        fields.push(field);
    }
    if fields.is_empty() {
        return Err("empty field path".to_string());
    }
    Ok(fields)
}

/// Check that a path variable can bind `field`: a singular scalar or enum.
pub(crate) fn check_path_field(field: &FieldDescriptor) -> Result<(), String> {
    if field.is_list() || field.is_map() {
        return Err(format!(
            "path variable field `{}` is repeated",
            field.full_name()
        ));
    }
    if matches!(field.kind(), Kind::Message(_)) {
        return Err(format!(
            "path variable field `{}` is a message",
            field.full_name()
        ));
    }
    Ok(())
}

/// Set the field at the end of `fields` (resolved from `message`'s type) to
/// `text` parsed by the field's kind, creating the parents on the way. A
/// repeated field gets the value appended. `name` is how errors call the field.
pub(crate) fn set_text(
    message: &mut DynamicMessage,
    fields: &[FieldDescriptor],
    text: &str,
    name: &str,
) -> Result<(), String> {
    let Some((leaf, parents)) = fields.split_last() else {
        return Err(format!("`{name}` names no field"));
    };
    if leaf.is_map() {
        return Err(format!(
            "`{name}` is a map field: set its entries as `{name}[key]=value`"
        ));
    }
    let value = parse(leaf, text)
        .map_err(|problem| format!("invalid value for field `{name}`: {problem}"))?;
    let current = nested_mut(message, parents)?;
    if leaf.is_list() {
        match current.get_field_mut(leaf).as_list_mut() {
            Some(list) => list.push(value),
            None => return Err(format!("field `{name}` is not a list")),
        }
    } else {
        current.set_field(leaf, value);
    }
    Ok(())
}

/// Appends `text` encoded as a top-level singular `string` field — the usual
/// path variable, an id — without building a message: decoded after the
/// body's bytes, it replaces the body's value as [`set_text`] would. False,
/// appending nothing, for any other field or an empty text (a default that
/// encoding would drop); the caller then takes the general path.
pub(crate) fn encode_plain_string(
    fields: &[FieldDescriptor],
    text: &str,
    out: &mut Vec<u8>,
) -> bool {
    let [field] = fields else {
        return false;
    };
    if field.kind() != Kind::String || field.is_list() || field.is_map() || text.is_empty() {
        return false;
    }
    prost::encoding::encode_key(
        field.number(),
        prost::encoding::WireType::LengthDelimited,
        out,
    );
    prost::encoding::encode_varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
    true
}

/// Whether the field at the end of `fields` (resolved from `message`'s type)
/// is set: present, for a field with presence; not its default, otherwise.
pub(crate) fn is_set(message: &DynamicMessage, fields: &[FieldDescriptor]) -> bool {
    let Some((leaf, parents)) = fields.split_last() else {
        return false;
    };
    let mut current = std::borrow::Cow::Borrowed(message);
    for parent in parents {
        let next = match current.get_field(parent).as_message() {
            Some(inner) => inner.clone(),
            None => return false,
        };
        current = std::borrow::Cow::Owned(next);
    }
    current.has_field(leaf)
}

/// The message at the end of `parents` inside `message`, created on the way.
fn nested_mut<'m>(
    message: &'m mut DynamicMessage,
    parents: &[FieldDescriptor],
) -> Result<&'m mut DynamicMessage, String> {
    let mut current = message;
    for parent in parents {
        current = current
            .get_field_mut(parent)
            .as_message_mut()
            .ok_or_else(|| format!("field `{}` is not a message", parent.name()))?;
    }
    Ok(current)
}

/// Parse `text` as a value of `field`'s kind.
fn parse(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("`{text}` is not {what}"))
    }
    Ok(match field.kind() {
        Kind::String => Value::String(text.to_string()),
        Kind::Bytes => Value::Bytes(
            decode_base64(text)
                .ok_or_else(|| format!("`{text}` is not base64"))?
                .into(),
        ),
        Kind::Bool => match text {
            "true" | "True" | "TRUE" | "1" => Value::Bool(true),
            "false" | "False" | "FALSE" | "0" => Value::Bool(false),
            _ => return Err(format!("`{text}` is not a boolean (true or false)")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(number(text, "a 32-bit integer")?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(number(text, "a 64-bit integer")?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(number(text, "an unsigned 32-bit integer")?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(number(text, "an unsigned 64-bit integer")?),
        Kind::Float => Value::F32(number(text, "a number")?),
        Kind::Double => Value::F64(number(text, "a number")?),
        Kind::Enum(enumeration) => match enumeration.get_value_by_name(text) {
            Some(value) => Value::EnumNumber(value.number()),
            None => match text.parse::<i32>() {
                Ok(number) => Value::EnumNumber(number),
                Err(_) => {
                    let names: Vec<_> =
                        enumeration.values().map(|v| v.name().to_string()).collect();
                    return Err(format!(
                        "`{text}` is not a value of enum `{}` ({})",
                        enumeration.full_name(),
                        names.join(", ")
                    ));
                }
            },
        },
        Kind::Message(message) => return well_known_from_text(&message, text),
    })
}

/// A well-known type with a one-value JSON form (a timestamp, a duration, a
/// field mask, a wrapper) from the text of a path variable or query
/// parameter, read as its JSON form would be.
fn well_known_from_text(message: &MessageDescriptor, text: &str) -> Result<Value, String> {
    use serde_json::Value as Json;
    let name = message.full_name();
    let json = match name {
        "google.protobuf.Timestamp"
        | "google.protobuf.Duration"
        | "google.protobuf.FieldMask"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value" => Json::String(text.to_owned()),
        "google.protobuf.BoolValue" => match text {
            "true" | "True" | "TRUE" | "1" => Json::Bool(true),
            "false" | "False" | "FALSE" | "0" => Json::Bool(false),
            _ => return Err(format!("`{text}` is not a boolean (true or false)")),
        },
        "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.FloatValue"
        | "google.protobuf.DoubleValue" => {
            match serde_json::from_str::<serde_json::Number>(text.trim()) {
                Ok(number) => Json::Number(number),
                // `NaN`, `Infinity`, or text the decoder refuses with its reason.
                Err(_) => Json::String(text.to_owned()),
            }
        }
        _ => {
            return Err(format!(
                "it has message type `{name}`, which cannot be set from text"
            ));
        }
    };
    DynamicMessage::deserialize(message.clone(), json)
        .map(Value::Message)
        .map_err(|error| format!("`{text}` is not a valid {name}: {error}"))
}

/// Set entry `key` of the map field at the end of `fields` to `text`
/// (`labels[key]=value` in a query), the key and value parsed by the map's
/// key and value kinds.
pub(crate) fn set_map_entry(
    message: &mut DynamicMessage,
    fields: &[FieldDescriptor],
    key: &str,
    text: &str,
    name: &str,
) -> Result<(), String> {
    let Some((leaf, parents)) = fields.split_last() else {
        return Err(format!("`{name}` names no field"));
    };
    let entry = match leaf.kind() {
        Kind::Message(entry) if leaf.is_map() => entry,
        _ => {
            return Err(format!(
                "`{name}` indexes field `{}`, which is not a map",
                leaf.name()
            ));
        }
    };
    let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
    let key = parse(&key_field, key)
        .map_err(|problem| format!("invalid key in `{name}`: {problem}"))?
        .into_map_key()
        .ok_or_else(|| format!("invalid key in `{name}`"))?;
    let value = parse(&value_field, text)
        .map_err(|problem| format!("invalid value for `{name}`: {problem}"))?;
    let current = nested_mut(message, parents)?;
    match current.get_field_mut(leaf).as_map_mut() {
        Some(map) => {
            map.insert(key, value);
            Ok(())
        }
        None => Err(format!("field `{name}` is not a map")),
    }
}

/// Bytes fields in paths and queries are base64, standard or URL-safe,
/// padded or not (as the proto3 JSON mapping accepts).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD]
        .into_iter()
        .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_reflect::{DescriptorPool, ReflectMessage as _};
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
        FileDescriptorProto, FileDescriptorSet,
    };

    use super::*;

    fn field(
        name: &str,
        number: i32,
        kind: Type,
        type_name: Option<&str>,
        repeated: bool,
    ) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            r#type: Some(kind as i32),
            type_name: type_name.map(str::to_string),
            label: Some(if repeated {
                Label::Repeated
            } else {
                Label::Optional
            } as i32),
            json_name: Some(heck_lower_camel(name)),
            ..Default::default()
        }
    }

    fn heck_lower_camel(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    fn pool() -> DescriptorPool {
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            syntax: Some("proto3".into()),
            message_type: vec![
                DescriptorProto {
                    name: Some("Req".into()),
                    field: vec![
                        field("name", 1, Type::String, None, false),
                        field("page_size", 2, Type::Int32, None, false),
                        field("big", 3, Type::Int64, None, false),
                        field("flag", 4, Type::Bool, None, false),
                        field("ratio", 5, Type::Double, None, false),
                        field("color", 6, Type::Enum, Some(".t.Color"), false),
                        field("data", 7, Type::Bytes, None, false),
                        field("tags", 8, Type::String, None, true),
                        field("inner", 9, Type::Message, Some(".t.Inner"), false),
                        field("count", 10, Type::Uint32, None, false),
                    ],
                    ..Default::default()
                },
                DescriptorProto {
                    name: Some("Inner".into()),
                    field: vec![field("id", 1, Type::String, None, false)],
                    ..Default::default()
                },
            ],
            enum_type: vec![EnumDescriptorProto {
                name: Some("Color".into()),
                value: vec![
                    EnumValueDescriptorProto {
                        name: Some("COLOR_UNSPECIFIED".into()),
                        number: Some(0),
                        ..Default::default()
                    },
                    EnumValueDescriptorProto {
                        name: Some("RED".into()),
                        number: Some(1),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = FileDescriptorSet { file: vec![file] }.encode_to_vec();
        DescriptorPool::decode(bytes.as_slice()).unwrap()
    }

    fn set(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), String> {
        let steps: Vec<&str> = path.split('.').collect();
        let fields = resolve(&message.descriptor(), &steps, true)?;
        set_text(message, &fields, text, path)
    }

    #[test]
    fn values_are_parsed_by_field_kind() {
        let desc = pool().get_message_by_name("t.Req").unwrap();
        let mut m = DynamicMessage::new(desc);
        set(&mut m, "name", "n 1").unwrap();
        set(&mut m, "pageSize", "-7").unwrap();
        set(&mut m, "big", "9007199254740993").unwrap();
        set(&mut m, "flag", "true").unwrap();
        set(&mut m, "ratio", "0.5").unwrap();
        set(&mut m, "color", "RED").unwrap();
        set(&mut m, "data", "aGk").unwrap();
        set(&mut m, "tags", "a").unwrap();
        set(&mut m, "tags", "b").unwrap();
        set(&mut m, "inner.id", "x").unwrap();
        set(&mut m, "count", "3").unwrap();
        assert_eq!(m.get_field_by_name("name").unwrap().as_str(), Some("n 1"));
        assert_eq!(m.get_field_by_name("page_size").unwrap().as_i32(), Some(-7));
        assert_eq!(
            m.get_field_by_name("big").unwrap().as_i64(),
            Some(9007199254740993)
        );
        assert_eq!(m.get_field_by_name("flag").unwrap().as_bool(), Some(true));
        assert_eq!(m.get_field_by_name("ratio").unwrap().as_f64(), Some(0.5));
        assert_eq!(
            m.get_field_by_name("color").unwrap().as_enum_number(),
            Some(1)
        );
        assert_eq!(
            m.get_field_by_name("data")
                .unwrap()
                .as_bytes()
                .unwrap()
                .as_ref(),
            b"hi"
        );
        let tags = m.get_field_by_name("tags").unwrap();
        let tags: Vec<_> = tags
            .as_list()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(tags, vec!["a", "b"]);
        let inner = m.get_field_by_name("inner").unwrap();
        assert_eq!(
            inner
                .as_message()
                .unwrap()
                .get_field_by_name("id")
                .unwrap()
                .as_str(),
            Some("x")
        );
        set(&mut m, "color", "0").unwrap();
        assert_eq!(
            m.get_field_by_name("color").unwrap().as_enum_number(),
            Some(0)
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let desc = pool().get_message_by_name("t.Req").unwrap();
        let mut m = DynamicMessage::new(desc.clone());
        for (path, text) in [
            ("page_size", "x"),
            ("big", "1.5"),
            ("flag", "yes"),
            ("color", "BLUE"),
            ("data", "%%%"),
            ("count", "-1"),
            ("ratio", "half"),
        ] {
            let err = set(&mut m, path, text).unwrap_err();
            assert!(err.contains(&format!("field `{path}`")), "{err}");
        }
        assert!(
            set(&mut m, "inner", "x")
                .unwrap_err()
                .contains("message type `t.Inner`")
        );
        assert!(
            set(&mut m, "nope", "x")
                .unwrap_err()
                .contains("no field `nope`")
        );
        assert!(
            set(&mut m, "name.x", "x")
                .unwrap_err()
                .contains("not a singular message")
        );
        assert!(
            resolve(&desc, &["pageSize"], false).is_err(),
            "path variables use proto names only"
        );
    }

    #[test]
    fn path_fields_must_be_singular_scalars() {
        let desc = pool().get_message_by_name("t.Req").unwrap();
        assert!(check_path_field(&desc.get_field_by_name("name").unwrap()).is_ok());
        assert!(check_path_field(&desc.get_field_by_name("tags").unwrap()).is_err());
        assert!(check_path_field(&desc.get_field_by_name("inner").unwrap()).is_err());
    }
}
