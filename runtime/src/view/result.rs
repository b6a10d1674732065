//! Result rows to response messages, following a query's compiled
//! [`Projection`].
//!
//! A result row holds `_key` and `_row` of every table the query reads (see
//! `CompiledQuery::tables`); `_row` is the stored protobuf, decoded here with
//! the table's row message. Values move from row fields to response fields by
//! name; where the types differ only by their message type (the row's
//! `Address` and the API's `Address`) or by integer width, they are converted
//! (messages by re-encoding).

use plinth_view_plan::{FieldSource, Projection, SqlValue};
use prost::Message;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

use crate::status::Status;

/// One result row: per table, its decoded row (`None` after a LEFT JOIN
/// without a match) and key.
pub(crate) type Row = Vec<Option<(String, DynamicMessage)>>;

/// What a response can echo besides row data.
pub(crate) struct Extras<'a> {
    /// The request.
    pub request: &'a DynamicMessage,
    /// `next_page_token()`.
    pub next_page_token: String,
    /// `has_more()`.
    pub has_more: bool,
    /// `COUNT(*)`.
    pub count: i64,
}

/// Decode raw result rows: `2 * tables` values each.
pub(crate) fn decode_rows(
    raw: Vec<Vec<SqlValue>>,
    rows: &[MessageDescriptor],
) -> Result<Vec<Row>, Status> {
    raw.into_iter()
        .map(|values| {
            let mut out = Vec::with_capacity(rows.len());
            let mut values = values.into_iter();
            for desc in rows {
                let (key, row) = (values.next(), values.next());
                out.push(match (key, row) {
                    (Some(SqlValue::Text(key)), Some(SqlValue::Blob(bytes))) => {
                        let message = DynamicMessage::decode(desc.clone(), bytes.as_slice())
                            .map_err(|e| {
                                Status::internal(format!(
                                    "a stored row of {} does not decode: {e}",
                                    desc.full_name()
                                ))
                            })?;
                        Some((key, message))
                    }
                    _ => None,
                });
            }
            Ok(out)
        })
        .collect()
}

/// The tables whose keys identify one response of a grouped projection: those
/// projected outside repeated nested items.
pub(crate) fn group_tables(projection: &Projection, out: &mut Vec<usize>) {
    match projection {
        Projection::WholeRow { table } => out.push(*table),
        Projection::Fields(fields) => {
            for f in fields {
                match &f.source {
                    FieldSource::Row { table, .. } => out.push(*table),
                    FieldSource::Nested {
                        projection,
                        repeated: false,
                    } => group_tables(projection, out),
                    _ => {}
                }
            }
        }
    }
}

/// Whether the projection has repeated nested items (rows then group).
pub(crate) fn groups(projection: &Projection) -> bool {
    match projection {
        Projection::WholeRow { .. } => false,
        Projection::Fields(fields) => fields.iter().any(|f| match &f.source {
            FieldSource::Nested { repeated: true, .. } => true,
            FieldSource::Nested { projection, .. } => groups(projection),
            _ => false,
        }),
    }
}

/// Split rows into the groups of consecutive rows with the same keys of `tables`.
pub(crate) fn split_groups(rows: Vec<Row>, tables: &[usize]) -> Vec<Vec<Row>> {
    let key = |row: &Row| -> Vec<Option<String>> {
        tables
            .iter()
            .map(|t| row.get(*t).and_then(|r| r.as_ref()).map(|(k, _)| k.clone()))
            .collect()
    };
    let mut out: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(group) if key(&group[0]) == key(&row) => group.push(row),
            _ => out.push(vec![row]),
        }
    }
    out
}

/// Build a message of type `desc` from a group of rows (empty for aggregates).
pub(crate) fn build(
    projection: &Projection,
    desc: &MessageDescriptor,
    group: &[Row],
    extras: &Extras<'_>,
) -> Result<DynamicMessage, Status> {
    let first = group.first();
    match projection {
        Projection::WholeRow { table } => {
            let row = first
                .and_then(|r| r.get(*table))
                .and_then(|r| r.as_ref())
                .map(|(_, m)| m);
            match row {
                Some(row) => convert_message(row, desc),
                None => Ok(DynamicMessage::new(desc.clone())),
            }
        }
        Projection::Fields(fields) => {
            let mut message = DynamicMessage::new(desc.clone());
            for mapping in fields {
                let Some(field) = desc.get_field(mapping.number) else {
                    return Err(Status::internal(format!(
                        "response {} has no field {}",
                        desc.full_name(),
                        mapping.number
                    )));
                };
                let value = match &mapping.source {
                    FieldSource::Row { table, path } => first
                        .and_then(|r| r.get(*table))
                        .and_then(|r| r.as_ref())
                        .and_then(|(_, m)| path_value(m, path)),
                    FieldSource::Param { field: name } => extras
                        .request
                        .descriptor()
                        .get_field_by_name(name)
                        .filter(|f| !f.supports_presence() || extras.request.has_field(f))
                        .map(|f| extras.request.get_field(&f).into_owned()),
                    FieldSource::Nested {
                        projection,
                        repeated,
                    } => {
                        let Kind::Message(nested) = field.kind() else {
                            return Err(Status::internal("a nested projection into a scalar"));
                        };
                        if *repeated {
                            let items = group
                                .iter()
                                .map(|row| {
                                    build(projection, &nested, std::slice::from_ref(row), extras)
                                        .map(Value::Message)
                                })
                                .collect::<Result<Vec<_>, Status>>()?;
                            Some(Value::List(items))
                        } else if first.is_some() {
                            Some(Value::Message(build(projection, &nested, group, extras)?))
                        } else {
                            None
                        }
                    }
                    FieldSource::Rows { projection } => {
                        let Kind::Message(item) = field.kind() else {
                            return Err(Status::internal("rows collected into a scalar"));
                        };
                        let items = group
                            .iter()
                            .map(|row| {
                                build(projection, &item, std::slice::from_ref(row), extras)
                                    .map(Value::Message)
                            })
                            .collect::<Result<Vec<_>, Status>>()?;
                        Some(Value::List(items))
                    }
                    FieldSource::NextPageToken => {
                        Some(Value::String(extras.next_page_token.clone()))
                    }
                    FieldSource::HasMore => Some(Value::Bool(extras.has_more)),
                    FieldSource::Count => Some(Value::I64(extras.count)),
                };
                if let Some(value) = value {
                    let value = convert(value, &field)?;
                    message.try_set_field(&field, value).map_err(|e| {
                        Status::internal(format!("cannot set {}: {e}", field.full_name()))
                    })?;
                }
            }
            Ok(message)
        }
    }
}

/// The value at a field path of `message`; `None` when a message on the way
/// (or an optional leaf) is unset.
fn path_value(message: &DynamicMessage, path: &[String]) -> Option<Value> {
    let (leaf, parents) = path.split_last()?;
    let mut current = std::borrow::Cow::Borrowed(message);
    for name in parents {
        let field = current.descriptor().get_field_by_name(name)?;
        if !current.has_field(&field) {
            return None;
        }
        let next = current.get_field(&field).as_message()?.clone();
        current = std::borrow::Cow::Owned(next);
    }
    let field = current.descriptor().get_field_by_name(leaf)?;
    if field.supports_presence() && !current.has_field(&field) {
        return None;
    }
    Some(current.get_field(&field).into_owned())
}

/// A message re-typed as `desc` (through its encoding) when it is of another type.
fn convert_message(
    message: &DynamicMessage,
    desc: &MessageDescriptor,
) -> Result<DynamicMessage, Status> {
    if message.descriptor() == *desc {
        return Ok(message.clone());
    }
    DynamicMessage::decode(desc.clone(), message.encode_to_vec().as_slice()).map_err(|e| {
        Status::internal(format!(
            "{} does not convert to {}: {e}",
            message.descriptor().full_name(),
            desc.full_name()
        ))
    })
}

/// `value` converted to the type of `field`.
fn convert(value: Value, field: &FieldDescriptor) -> Result<Value, Status> {
    if field.is_list() {
        return match value {
            Value::List(items) => items
                .into_iter()
                .map(|v| convert_single(v, &field.kind()))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            other => Ok(Value::List(vec![convert_single(other, &field.kind())?])),
        };
    }
    convert_single(value, &field.kind())
}

fn convert_single(value: Value, kind: &Kind) -> Result<Value, Status> {
    let int = |v: &Value| -> Option<i64> {
        match v {
            Value::I32(i) => Some(i64::from(*i)),
            Value::I64(i) => Some(*i),
            Value::U32(u) => Some(i64::from(*u)),
            Value::U64(u) => Some(*u as i64),
            Value::EnumNumber(n) => Some(i64::from(*n)),
            _ => None,
        }
    };
    Ok(match (kind, value) {
        (Kind::Message(desc), Value::Message(m)) => Value::Message(convert_message(&m, desc)?),
        (Kind::Int32 | Kind::Sint32 | Kind::Sfixed32, v) if int(&v).is_some() => {
            Value::I32(int(&v).unwrap_or_default() as i32)
        }
        (Kind::Int64 | Kind::Sint64 | Kind::Sfixed64, v) if int(&v).is_some() => {
            Value::I64(int(&v).unwrap_or_default())
        }
        (Kind::Uint32 | Kind::Fixed32, v) if int(&v).is_some() => {
            Value::U32(int(&v).unwrap_or_default() as u32)
        }
        (Kind::Uint64 | Kind::Fixed64, v) if int(&v).is_some() => {
            Value::U64(int(&v).unwrap_or_default() as u64)
        }
        (Kind::Enum(_), v) if int(&v).is_some() => {
            Value::EnumNumber(int(&v).unwrap_or_default() as i32)
        }
        (Kind::Double, Value::F32(f)) => Value::F64(f64::from(f)),
        (Kind::Float, Value::F64(f)) => Value::F32(f as f32),
        (_, v) => v,
    })
}
