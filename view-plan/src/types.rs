//! How protobuf fields become SQL columns and values.
//!
//! One rule names every column: the field path joined by `__`
//! (`address.city` → `address__city`). Columns exist for every scalar field
//! and every scalar field of singular nested messages, up to [`MAX_DEPTH`]
//! levels; repeated scalars become array columns (JSON array text in SQLite,
//! SQL arrays in PostgreSQL). Maps, repeated messages and repeated `bytes` have
//! no column (they stay in the row's protobuf bytes).
//!
//! Stored representations:
//! * enums are stored as their **number** (`INTEGER`/`BIGINT`); a string
//!   literal compared with an enum column is resolved to the value's number at
//!   build time, so ordering follows the declaration numbers;
//! * `google.protobuf.Timestamp` is stored as **microseconds** since the Unix
//!   epoch (`INTEGER`/`BIGINT`), in both dialects, so it compares and orders;
//! * `bool` is `INTEGER` 0/1 in SQLite and `BOOLEAN` in PostgreSQL;
//! * `uint64` values above `i64::MAX` wrap to negative numbers (two's
//!   complement), which keeps equality but not ordering for such values;
//! * a column is NULL when its field is `optional` (or in a oneof) and unset,
//!   when it is a `google.protobuf.*Value` wrapper that is unset, or when any
//!   parent message on its path is unset. Other scalars store their default.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

/// Nested message levels that get columns (a path has at most this many segments).
pub const MAX_DEPTH: usize = 5;

/// The type of a value as the query language checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    String,
    /// Any integer type.
    Int,
    /// `float` or `double`.
    Float,
    /// `bool`
    Bool,
    /// `bytes`
    Bytes,
    /// `google.protobuf.Timestamp`
    Timestamp,
    /// An enum, by full name.
    Enum(String),
}

impl ValueType {
    /// The SQL storage type.
    pub fn sql_type(&self) -> SqlType {
        match self {
            ValueType::String => SqlType::Text,
            ValueType::Int | ValueType::Timestamp | ValueType::Enum(_) => SqlType::Integer,
            ValueType::Float => SqlType::Real,
            ValueType::Bool => SqlType::Boolean,
            ValueType::Bytes => SqlType::Blob,
        }
    }

    /// Whether values of the two types can be compared.
    pub fn comparable(&self, other: &ValueType) -> bool {
        self == other
            || matches!(
                (self, other),
                (ValueType::Int, ValueType::Float) | (ValueType::Float, ValueType::Int)
            )
    }

    /// A readable name for diagnostics.
    pub fn describe(&self) -> String {
        match self {
            ValueType::String => "string".into(),
            ValueType::Int => "integer".into(),
            ValueType::Float => "floating-point".into(),
            ValueType::Bool => "bool".into(),
            ValueType::Bytes => "bytes".into(),
            ValueType::Timestamp => "google.protobuf.Timestamp".into(),
            ValueType::Enum(e) => format!("enum {e}"),
        }
    }
}

/// A SQL storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SqlType {
    /// Text.
    Text,
    /// 64-bit integer.
    Integer,
    /// 64-bit float.
    Real,
    /// Boolean (0/1 in SQLite).
    Boolean,
    /// Bytes.
    Blob,
}

impl SqlType {
    /// The type name in SQLite.
    pub fn sqlite(self) -> &'static str {
        match self {
            SqlType::Text => "TEXT",
            SqlType::Integer | SqlType::Boolean => "INTEGER",
            SqlType::Real => "REAL",
            SqlType::Blob => "BLOB",
        }
    }

    /// The type name in PostgreSQL.
    pub fn postgres(self) -> &'static str {
        match self {
            SqlType::Text => "TEXT",
            SqlType::Integer => "BIGINT",
            SqlType::Real => "DOUBLE PRECISION",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Blob => "BYTEA",
        }
    }
}

/// A value to bind or store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// An array (a repeated field): a SQL array in PostgreSQL, JSON text in SQLite.
    Array(Vec<SqlValue>),
}

impl SqlValue {
    /// The JSON text SQLite stores and binds for an array (`[1,2]`, `["a"]`);
    /// `None` for non-arrays.
    pub fn json_array_text(&self) -> Option<String> {
        let SqlValue::Array(items) = self else {
            return None;
        };
        let json: Vec<serde_json::Value> = items
            .iter()
            .map(|v| match v {
                SqlValue::Integer(i) => (*i).into(),
                SqlValue::Real(f) => (*f).into(),
                SqlValue::Bool(b) => (*b).into(),
                SqlValue::Text(s) => s.clone().into(),
                _ => serde_json::Value::Null,
            })
            .collect();
        Some(serde_json::Value::Array(json).to_string())
    }
}

/// One column of a view table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The SQL column name (`address__city`).
    pub name: String,
    /// The field path in the row message.
    pub path: Vec<String>,
    /// The fields along the path.
    pub fields: Vec<FieldDescriptor>,
    /// The (element) type.
    pub value_type: ValueType,
    /// Whether it is an array column (a repeated field).
    pub repeated: bool,
    /// Whether it can be NULL.
    pub nullable: bool,
}

/// The value type of a scalar field, or of a Timestamp or wrapper message
/// (then also `true`: the value is a message, so it has presence).
pub fn leaf_type(field: &FieldDescriptor) -> Option<(ValueType, bool)> {
    let vt = match field.kind() {
        Kind::String => ValueType::String,
        Kind::Double | Kind::Float => ValueType::Float,
        Kind::Bool => ValueType::Bool,
        Kind::Bytes => ValueType::Bytes,
        Kind::Enum(e) => ValueType::Enum(e.full_name().to_string()),
        Kind::Message(m) => return message_leaf(&m).map(|vt| (vt, true)),
        _ => ValueType::Int,
    };
    Some((vt, false))
}

fn message_leaf(m: &MessageDescriptor) -> Option<ValueType> {
    Some(match m.full_name() {
        "google.protobuf.Timestamp" => ValueType::Timestamp,
        "google.protobuf.StringValue" => ValueType::String,
        "google.protobuf.BytesValue" => ValueType::Bytes,
        "google.protobuf.BoolValue" => ValueType::Bool,
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => ValueType::Float,
        "google.protobuf.Int32Value"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.UInt64Value" => ValueType::Int,
        _ => return None,
    })
}

/// Why a field path has no column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoColumn {
    /// The path ends at a message.
    Message(String),
    /// A map, repeated message or repeated bytes/wrapper field.
    Unqueryable,
    /// Deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The column of a field path (`fields` walked from the row message).
pub fn column_of(fields: &[FieldDescriptor]) -> Result<Column, NoColumn> {
    if fields.len() > MAX_DEPTH {
        return Err(NoColumn::TooDeep);
    }
    let (leaf, parents) = fields.split_last().ok_or(NoColumn::Unqueryable)?;
    if parents.iter().any(|f| f.is_list() || f.is_map()) || leaf.is_map() {
        return Err(NoColumn::Unqueryable);
    }
    let Some((value_type, is_message)) = leaf_type(leaf) else {
        return Err(match leaf.kind() {
            Kind::Message(m) if !leaf.is_list() => NoColumn::Message(m.full_name().to_string()),
            _ => NoColumn::Unqueryable,
        });
    };
    let repeated = leaf.is_list();
    if repeated
        && (value_type == ValueType::Bytes || (is_message && value_type != ValueType::Timestamp))
    {
        return Err(NoColumn::Unqueryable);
    }
    let nullable = !repeated && (!parents.is_empty() || is_message || leaf.supports_presence());
    let path: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    Ok(Column {
        name: path.join("__"),
        path,
        fields: fields.to_vec(),
        value_type,
        repeated,
        nullable,
    })
}

/// Every column of a row message, in field order (depth first).
pub fn columns(row: &MessageDescriptor) -> Vec<Column> {
    let mut out = Vec::new();
    walk(row, &mut Vec::new(), &mut out);
    out
}

fn walk(msg: &MessageDescriptor, prefix: &mut Vec<FieldDescriptor>, out: &mut Vec<Column>) {
    for field in msg.fields() {
        prefix.push(field.clone());
        match column_of(prefix) {
            Ok(col) => out.push(col),
            Err(NoColumn::Message(_)) if prefix.len() < MAX_DEPTH => {
                if let Kind::Message(m) = field.kind() {
                    walk(&m, prefix, out);
                }
            }
            Err(_) => {}
        }
        prefix.pop();
    }
}

/// The SQL value of one column in `row`.
pub fn column_value(row: &DynamicMessage, column: &Column) -> SqlValue {
    let mut msg = std::borrow::Cow::Borrowed(row);
    let (leaf, parents) = column.fields.split_last().expect("a column has a field");
    for f in parents {
        if !msg.has_field(f) {
            return SqlValue::Null;
        }
        match msg.get_field(f).as_message() {
            Some(m) => msg = std::borrow::Cow::Owned(m.clone()),
            None => return SqlValue::Null,
        }
    }
    if column.nullable && !msg.has_field(leaf) {
        return SqlValue::Null;
    }
    let value = msg.get_field(leaf);
    match value.as_list() {
        Some(items) => SqlValue::Array(items.iter().map(scalar_value).collect()),
        None => scalar_value(&value),
    }
}

/// The SQL value of a scalar, enum, Timestamp or wrapper value.
pub fn scalar_value(value: &Value) -> SqlValue {
    match value {
        Value::Bool(b) => SqlValue::Bool(*b),
        Value::I32(i) => SqlValue::Integer(i64::from(*i)),
        Value::I64(i) => SqlValue::Integer(*i),
        Value::U32(u) => SqlValue::Integer(i64::from(*u)),
        Value::U64(u) => SqlValue::Integer(*u as i64),
        Value::F32(f) => SqlValue::Real(f64::from(*f)),
        Value::F64(f) => SqlValue::Real(*f),
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Bytes(b) => SqlValue::Blob(b.to_vec()),
        Value::EnumNumber(n) => SqlValue::Integer(i64::from(*n)),
        Value::Message(m) if m.descriptor().full_name() == "google.protobuf.Timestamp" => {
            let get = |name: &str| {
                m.get_field_by_name(name)
                    .and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)))
            };
            let (secs, nanos) = (get("seconds").unwrap_or(0), get("nanos").unwrap_or(0));
            SqlValue::Integer(secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000))
        }
        Value::Message(m) => match m.get_field_by_name("value") {
            Some(v) => scalar_value(&v),
            None => SqlValue::Null,
        },
        Value::List(_) | Value::Map(_) => SqlValue::Null,
    }
}

/// Convert `value` to the storage type `to` (an integer parameter compared
/// with a float column binds as a float).
pub fn coerce(value: SqlValue, to: SqlType) -> SqlValue {
    match (value, to) {
        (SqlValue::Integer(i), SqlType::Real) => SqlValue::Real(i as f64),
        (SqlValue::Array(items), to) => {
            SqlValue::Array(items.into_iter().map(|v| coerce(v, to)).collect())
        }
        (v, _) => v,
    }
}
