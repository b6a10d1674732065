//! Which messages get a generated JSON codec, and their fields as the codec
//! sees them (prost's Rust shape and the proto3 JSON names).
//!
//! A codec is made for every message a component's methods take or return,
//! and for every message and enum inside those, when the whole tree is plain
//! proto3: scalars, enums, messages, repeated fields, maps, oneofs and
//! `optional` fields. A tree holding a well-known type (other than an `Empty`
//! input or output, which the runtime handles itself) or a proto2 or editions
//! file gets none, and its routes are transcoded by reflection; nothing is
//! reported, since the JSON is the same either way.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Syntax,
};

use super::type_ref;
use super::types::{Component, TypeRef};

/// The generated JSON codecs of one compilation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonModel {
    /// The messages that get `ToJson` and `FromJson` impls, by full name.
    pub messages: Vec<JsonMessage>,
    /// The enums those messages use, which get `JsonEnum` impls.
    pub enums: Vec<TypeRef>,
}

impl JsonModel {
    /// Whether message `full_name` has a codec.
    pub fn has(&self, full_name: &str) -> bool {
        self.messages.iter().any(|m| m.ty.full_name == full_name)
    }
}

/// One message with a codec.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonMessage {
    /// The message.
    pub ty: TypeRef,
    /// Its fields in field-number order (the order they are rendered in).
    pub fields: Vec<JsonField>,
}

/// One field of a message with a codec.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonField {
    /// The proto name (accepted when parsing).
    pub name: String,
    /// The JSON name (rendered, and accepted when parsing).
    pub json_name: String,
    /// The Rust name of the struct field (or of the oneof's field).
    pub rust: String,
    /// Its slot in the parser's set of given fields.
    pub slot: u32,
    /// How the value is held.
    pub shape: Shape,
    /// The value (of each item, for repeated fields; of each entry, for maps).
    pub value: ValueKind,
}

/// How prost holds a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A plain value, always rendered.
    Plain,
    /// `Option<T>`: a message field, or a proto3 `optional` field.
    Optional,
    /// `Vec<T>`.
    Repeated,
    /// `HashMap<K, V>`.
    Map(Scalar),
    /// A member of a oneof: a variant of the oneof's enum.
    Oneof {
        /// The oneof's enum (`outer::Choice`).
        oneof: TypeRef,
        /// The variant (`Text`).
        variant: String,
        /// The oneof's slot (two members cannot both be given).
        slot: u32,
    },
}

/// The kind of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A scalar.
    Scalar(Scalar),
    /// An enum (held as `i32`).
    Enum(TypeRef),
    /// A message.
    Message(TypeRef),
}

/// The scalar kinds, grouped as JSON renders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// `string`.
    String,
    /// `bytes` (base64).
    Bytes,
    /// `bool`.
    Bool,
    /// `int32`, `sint32`, `sfixed32`.
    I32,
    /// `uint32`, `fixed32`.
    U32,
    /// `int64`, `sint64`, `sfixed64` (rendered as strings).
    I64,
    /// `uint64`, `fixed64` (rendered as strings).
    U64,
    /// `float`.
    F32,
    /// `double`.
    F64,
}

/// The codecs for every message `components`' methods take or return.
pub(crate) fn build(pool: &DescriptorPool, components: &[&Component]) -> JsonModel {
    let mut walk = Walk::default();
    for component in components {
        for method in &component.methods {
            for ty in [&method.input, &method.output] {
                if let Some(message) = pool.get_message_by_name(&ty.full_name) {
                    walk.supported(&message);
                }
            }
        }
    }
    walk.settle();
    let mut model = JsonModel::default();
    for (name, ok) in &walk.verdicts {
        if !ok {
            continue;
        }
        if let Some(message) = pool.get_message_by_name(name) {
            model.messages.push(JsonMessage {
                ty: type_ref(&message),
                fields: fields(&message),
            });
        }
    }
    model.enums = walk
        .enums
        .iter()
        .filter_map(|name| pool.get_enum_by_name(name))
        .map(|e| enum_ref(&e))
        .collect();
    model
}

/// The verdict on each message seen, the messages each one holds, and the
/// enums of the supported ones.
#[derive(Default)]
struct Walk {
    verdicts: BTreeMap<String, bool>,
    holds: BTreeMap<String, Vec<String>>,
    enums: BTreeSet<String>,
}

impl Walk {
    /// A message was assumed supported while a message inside it was being
    /// judged (a cycle); one that holds an unsupported message is not.
    fn settle(&mut self) {
        loop {
            let failing: Vec<String> = self
                .holds
                .iter()
                .filter(|(name, inner)| {
                    self.verdicts[*name] && inner.iter().any(|i| !self.verdicts[i])
                })
                .map(|(name, _)| name.clone())
                .collect();
            if failing.is_empty() {
                return;
            }
            for name in failing {
                self.verdicts.insert(name, false);
            }
        }
    }

    /// Whether `message` (with everything inside it) can have a codec.
    fn supported(&mut self, message: &MessageDescriptor) -> bool {
        if let Some(verdict) = self.verdicts.get(message.full_name()) {
            return *verdict;
        }
        // Assumed supported while inside it (recursive messages).
        self.verdicts.insert(message.full_name().to_owned(), true);
        let mut enums = Vec::new();
        let mut holds = Vec::new();
        let own = plain_proto3(message)
            && message.fields().count() + message.oneofs().count() <= 128
            && message.fields().all(|field| {
                let kind = if field.is_map() {
                    match field.kind() {
                        Kind::Message(entry) => entry.map_entry_value_field().kind(),
                        _ => return false,
                    }
                } else {
                    field.kind()
                };
                match kind {
                    Kind::Message(inner) => {
                        holds.push(inner.full_name().to_owned());
                        self.supported(&inner)
                    }
                    Kind::Enum(e) => {
                        enums.push(e.full_name().to_owned());
                        plain_proto3_enum(&e)
                    }
                    _ => true,
                }
            });
        self.verdicts.insert(message.full_name().to_owned(), own);
        self.holds.insert(message.full_name().to_owned(), holds);
        if own {
            self.enums.extend(enums);
        }
        own
    }
}

/// A proto3 message of the user's files (not a well-known type, not one of
/// the annotation protos, whose messages are not generated).
fn plain_proto3(message: &MessageDescriptor) -> bool {
    let file = message.parent_file();
    file.syntax() == Syntax::Proto3 && !super::is_infrastructure(file.name())
}

fn plain_proto3_enum(e: &EnumDescriptor) -> bool {
    let file = e.parent_file();
    file.syntax() == Syntax::Proto3 && !super::is_infrastructure(file.name())
}

fn fields(message: &MessageDescriptor) -> Vec<JsonField> {
    let field_count = message.fields().len() as u32;
    let oneofs: Vec<String> = message.oneofs().map(|o| o.full_name().to_owned()).collect();
    let oneof_slot = |full_name: &str| {
        field_count + oneofs.iter().position(|o| o == full_name).unwrap_or(0) as u32
    };
    let mut fields: Vec<FieldDescriptor> = message.fields().collect();
    fields.sort_by_key(FieldDescriptor::number);
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let real_oneof = field
                .containing_oneof()
                .filter(|_| !field.field_descriptor_proto().proto3_optional());
            let (rust, shape) = match &real_oneof {
                Some(oneof) => (
                    crate::naming::snake(oneof.name()),
                    Shape::Oneof {
                        oneof: oneof_ref(message, oneof.name()),
                        variant: crate::naming::upper_camel(field.name()),
                        slot: oneof_slot(oneof.full_name()),
                    },
                ),
                None => (crate::naming::snake(field.name()), shape(field)),
            };
            let value_field = match field.kind() {
                Kind::Message(entry) if field.is_map() => entry.map_entry_value_field(),
                _ => field.clone(),
            };
            JsonField {
                name: field.name().to_owned(),
                json_name: field.json_name().to_owned(),
                rust,
                slot: index as u32,
                shape,
                value: value_kind(&value_field),
            }
        })
        .collect()
}

fn shape(field: &FieldDescriptor) -> Shape {
    if field.is_map() {
        let key = match field.kind() {
            Kind::Message(entry) => scalar(&entry.map_entry_key_field().kind()),
            _ => None,
        };
        return Shape::Map(key.unwrap_or(Scalar::String));
    }
    if field.is_list() {
        return Shape::Repeated;
    }
    if field.supports_presence() {
        return Shape::Optional;
    }
    Shape::Plain
}

fn value_kind(field: &FieldDescriptor) -> ValueKind {
    match field.kind() {
        Kind::Message(message) => ValueKind::Message(type_ref(&message)),
        Kind::Enum(e) => ValueKind::Enum(enum_ref(&e)),
        kind => ValueKind::Scalar(scalar(&kind).unwrap_or(Scalar::String)),
    }
}

fn scalar(kind: &Kind) -> Option<Scalar> {
    Some(match kind {
        Kind::String => Scalar::String,
        Kind::Bytes => Scalar::Bytes,
        Kind::Bool => Scalar::Bool,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Scalar::I32,
        Kind::Uint32 | Kind::Fixed32 => Scalar::U32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Scalar::I64,
        Kind::Uint64 | Kind::Fixed64 => Scalar::U64,
        Kind::Float => Scalar::F32,
        Kind::Double => Scalar::F64,
        Kind::Message(_) | Kind::Enum(_) => return None,
    })
}

/// The reference to enum `e` (its path inside the package, as for messages).
fn enum_ref(e: &EnumDescriptor) -> TypeRef {
    let package = e.package_name().to_owned();
    let full_name = e.full_name().to_owned();
    let local = full_name
        .strip_prefix(&package)
        .map(|rest| rest.trim_start_matches('.'))
        .unwrap_or(&full_name)
        .to_owned();
    TypeRef {
        path: local.split('.').map(str::to_owned).collect(),
        full_name,
        package,
    }
}

/// The reference to the enum prost makes for oneof `name` of `message`: a
/// type named after the oneof in the message's module.
fn oneof_ref(message: &MessageDescriptor, name: &str) -> TypeRef {
    let mut ty = type_ref(message);
    ty.full_name = format!("{}.{name}", ty.full_name);
    ty.path.push(name.to_owned());
    ty
}
