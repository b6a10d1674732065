//! View values to and from PostgreSQL.
//!
//! A statement's parameter types are the ones PostgreSQL inferred when it was
//! prepared (the generated SQL casts query parameters, `$1::BIGINT`), so a
//! [`SqlValue`] is encoded as whatever type its parameter has, where that is
//! lossless: an integer binds to `BIGINT`, `INTEGER`, `SMALLINT`, a float
//! column, `BOOLEAN` or text; an array to any array type, element by element.
//!
//! Result columns come back as SQLite returns them, so both backends answer
//! alike: integers (and booleans, as 0 and 1) as integers, floats as reals,
//! text as text, `BYTEA` as blobs; arrays as [`SqlValue::Array`].

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};

use crate::storage::view::SqlValue;

type BoxError = Box<dyn Error + Sync + Send>;

/// A value bound to a statement parameter.
#[derive(Debug)]
pub(super) struct Param<'a>(pub(super) &'a SqlValue);

/// A result column's value.
#[derive(Debug)]
pub(super) struct Cell(pub(super) SqlValue);

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

fn mismatch(value: &SqlValue, ty: &Type) -> BoxError {
    let what = match value {
        SqlValue::Null => "NULL",
        SqlValue::Integer(_) => "an integer",
        SqlValue::Real(_) => "a float",
        SqlValue::Bool(_) => "a boolean",
        SqlValue::Text(_) => "text",
        SqlValue::Blob(_) => "bytes",
        SqlValue::Array(_) => "an array",
    };
    format!("cannot bind {what} to a parameter of type {ty}").into()
}

fn integer(value: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT8 => value.to_sql(ty, out),
        Type::INT4 => i32::try_from(value)?.to_sql(ty, out),
        Type::INT2 => i16::try_from(value)?.to_sql(ty, out),
        Type::FLOAT8 => (value as f64).to_sql(ty, out),
        Type::FLOAT4 => (value as f32).to_sql(ty, out),
        Type::BOOL => (value != 0).to_sql(ty, out),
        _ if is_text(ty) => value.to_string().as_str().to_sql(ty, out),
        _ => Err(mismatch(&SqlValue::Integer(value), ty)),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Integer(value) => integer(*value, ty, out),
            SqlValue::Bool(value) => match *ty {
                Type::BOOL => value.to_sql(ty, out),
                _ => integer(i64::from(*value), ty, out),
            },
            SqlValue::Real(value) => match *ty {
                Type::FLOAT8 => value.to_sql(ty, out),
                Type::FLOAT4 => (*value as f32).to_sql(ty, out),
                _ if is_text(ty) => value.to_string().as_str().to_sql(ty, out),
                _ => Err(mismatch(self.0, ty)),
            },
            SqlValue::Text(text) if is_text(ty) => text.as_str().to_sql(ty, out),
            SqlValue::Blob(bytes) if *ty == Type::BYTEA => bytes.as_slice().to_sql(ty, out),
            SqlValue::Array(items) => match ty.kind() {
                Kind::Array(_) => items.iter().map(Param).collect::<Vec<_>>().to_sql(ty, out),
                // Where an array is bound to text, it goes as JSON (as in SQLite).
                _ if is_text(ty) => self
                    .0
                    .json_array_text()
                    .unwrap_or_default()
                    .as_str()
                    .to_sql(ty, out),
                _ => Err(mismatch(self.0, ty)),
            },
            other => Err(mismatch(other, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows the value.
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.to_sql(ty, out)
    }
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        let value = match *ty {
            Type::INT8 => SqlValue::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => SqlValue::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => SqlValue::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => SqlValue::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => SqlValue::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => SqlValue::Blob(raw.to_vec()),
            Type::JSON => SqlValue::Text(<&str>::from_sql(&Type::TEXT, raw)?.to_owned()),
            _ if is_text(ty) => SqlValue::Text(<&str>::from_sql(ty, raw)?.to_owned()),
            _ => match ty.kind() {
                Kind::Array(_) => SqlValue::Array(
                    Vec::<Cell>::from_sql(ty, raw)?
                        .into_iter()
                        .map(|cell| cell.0)
                        .collect(),
                ),
                _ => return Err(format!("a view query returned a column of type {ty}").into()),
            },
        };
        Ok(Cell(value))
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        // Unsupported types fail in `from_sql`, with their name.
        true
    }
}
