//! Type checking of `WHERE` into a condition tree over columns and bound
//! parameters.
//!
//! `IS [NOT] NULL` is only accepted on columns that can be NULL (`optional`
//! fields, wrappers, Timestamps and fields of nested messages): on other
//! columns it would always be false, which is a mistake worth reporting.
//! `repeated_column = value` (as written in some Kalix samples) means "the
//! array contains the value", like `value = ANY(repeated_column)`.

use prost_reflect::FieldDescriptor;

use super::QueryError;
use super::ast::{CmpOp, Expr, ExprKind, Operand, OperandKind};
use super::compiled::{BoundParam, ColumnUsage, ParamSource};
use super::resolve::{ColRef, Scope};
use super::types::{SqlType, SqlValue, ValueType, leaf_type};

/// A value in a condition.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A column.
    Col(ColRef),
    /// Parameter number `n` (1-based).
    Param(usize),
    /// A number written into the SQL as is.
    Number(String),
    /// A boolean literal.
    Bool(bool),
}

/// A checked condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Cmp {
        lhs: Val,
        op: CmpOp,
        rhs: Val,
    },
    In {
        lhs: Val,
        list: Vec<Val>,
        negated: bool,
    },
    /// `value = ANY(array column)`.
    Contains {
        array: ColRef,
        value: Val,
    },
    /// `column = ANY(:repeated_param)`.
    InArray {
        lhs: Val,
        param: usize,
    },
    Like {
        col: ColRef,
        param: usize,
        negated: bool,
    },
    IsNull {
        col: ColRef,
        negated: bool,
    },
}

/// The parameters bound so far; identical ones share a number.
#[derive(Debug, Default)]
pub(crate) struct Params(pub Vec<BoundParam>);

impl Params {
    /// The 1-based number of the parameter.
    pub fn add(&mut self, source: ParamSource, sql_type: SqlType, array: bool) -> usize {
        let p = BoundParam {
            source,
            sql_type,
            array,
        };
        match self.0.iter().position(|q| *q == p) {
            Some(i) => i + 1,
            None => {
                self.0.push(p);
                self.0.len()
            }
        }
    }
}

/// The checking context.
pub(crate) struct FilterCx<'a> {
    pub scope: &'a Scope,
    pub params: &'a mut Params,
    pub errors: &'a mut Vec<QueryError>,
    pub used: &'a mut Vec<(ColRef, ColumnUsage)>,
}

enum Side {
    Col(ColRef),
    Param(FieldDescriptor),
    Lit(OperandKind),
}

fn err(
    span: &std::ops::Range<usize>,
    message: impl Into<String>,
    help: Option<&str>,
) -> QueryError {
    QueryError::new(span.clone(), message, help)
}

impl FilterCx<'_> {
    fn fail<T>(&mut self, e: QueryError) -> Option<T> {
        self.errors.push(e);
        None
    }

    /// Check a condition; problems go to `errors`.
    pub fn expr(&mut self, e: &Expr) -> Option<Cond> {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                let (a, b) = (a?, b?);
                let is_and = matches!(e.kind, ExprKind::And(..));
                let mut parts = Vec::new();
                for c in [a, b] {
                    match c {
                        Cond::And(inner) if is_and => parts.extend(inner),
                        Cond::Or(inner) if !is_and => parts.extend(inner),
                        c => parts.push(c),
                    }
                }
                Some(if is_and {
                    Cond::And(parts)
                } else {
                    Cond::Or(parts)
                })
            }
            ExprKind::Not(a) => Some(Cond::Not(Box::new(self.expr(a)?))),
            ExprKind::Cmp {
                lhs,
                op,
                op_span,
                rhs,
            } => self.cmp(lhs, *op, op_span, rhs),
            ExprKind::In { lhs, list, negated } => {
                let col = self.column_operand(lhs, "IN")?;
                let mut vals = Vec::new();
                for item in list {
                    let side = self.side(item)?;
                    vals.push(self.bind_other(side, &col, item)?);
                }
                self.used.push((col.clone(), ColumnUsage::Equality));
                Some(Cond::In {
                    lhs: Val::Col(col),
                    list: vals,
                    negated: *negated,
                })
            }
            ExprKind::Any { lhs, array } => self.any(lhs, array),
            ExprKind::Like {
                lhs,
                pattern,
                pattern_span,
                negated,
            } => {
                let col = self.column_operand(lhs, "LIKE")?;
                if col.column.value_type != ValueType::String {
                    return self.fail(err(
                        &lhs.span,
                        format!(
                            "LIKE needs a string column, `{}` is {}",
                            col.column.path.join("."),
                            col.column.value_type.describe()
                        ),
                        None,
                    ));
                }
                let wild = |c: Option<char>| matches!(c, Some('%' | '_') | None);
                if wild(pattern.chars().next()) && wild(pattern.chars().last()) {
                    return self.fail(err(pattern_span, "a LIKE pattern must start or end with a non-wildcard character", Some("use a prefix pattern such as 'Bob%' or a suffix pattern such as '%son'")));
                }
                self.used.push((col.clone(), ColumnUsage::Filter));
                let param = self.params.add(
                    ParamSource::LikePattern(pattern.clone()),
                    SqlType::Text,
                    false,
                );
                Some(Cond::Like {
                    col,
                    param,
                    negated: *negated,
                })
            }
            ExprKind::IsNull { operand, negated } => {
                let col = self.column_operand(operand, "IS NULL")?;
                if !col.column.nullable {
                    return self.fail(err(&operand.span, format!("`{}` is never NULL", col.column.path.join(".")), Some("declare the field `optional`, use a google.protobuf wrapper type, or test a field of a nested message")));
                }
                self.used.push((col.clone(), ColumnUsage::Filter));
                Some(Cond::IsNull {
                    col,
                    negated: *negated,
                })
            }
        }
    }

    fn side(&mut self, op: &Operand) -> Option<Side> {
        match &op.kind {
            OperandKind::Column(path) => match self.scope.resolve_column(path) {
                Ok(c) => Some(Side::Col(c)),
                Err(e) => self.fail(e),
            },
            OperandKind::Param(name) => match self.scope.param(name, op.span.clone()) {
                Ok(f) => Some(Side::Param(f)),
                Err(e) => self.fail(e),
            },
            lit => Some(Side::Lit(lit.clone())),
        }
    }

    /// An operand that must be a non-repeated column.
    fn column_operand(&mut self, op: &Operand, what: &str) -> Option<ColRef> {
        match self.side(op)? {
            Side::Col(c) if c.column.repeated => self.fail(err(
                &op.span,
                format!(
                    "`{}` is repeated; {what} applies to single values",
                    c.column.path.join(".")
                ),
                Some("test array membership with `value = ANY(column)`"),
            )),
            Side::Col(c) => Some(c),
            _ => self.fail(err(
                &op.span,
                format!("{what} needs a column on its left"),
                None,
            )),
        }
    }

    fn cmp(
        &mut self,
        lhs: &Operand,
        op: CmpOp,
        op_span: &std::ops::Range<usize>,
        rhs: &Operand,
    ) -> Option<Cond> {
        let (l, r) = (self.side(lhs), self.side(rhs));
        let (l, r) = (l?, r?);
        match (l, r) {
            (Side::Col(a), Side::Col(b)) => {
                if a.column.repeated || b.column.repeated {
                    return self.fail(err(op_span, "cannot compare repeated columns", None));
                }
                if !a.column.value_type.comparable(&b.column.value_type) {
                    return self.fail(err(
                        op_span,
                        format!(
                            "cannot compare {} column `{}` with {} column `{}`",
                            a.column.value_type.describe(),
                            a.column.path.join("."),
                            b.column.value_type.describe(),
                            b.column.path.join(".")
                        ),
                        None,
                    ));
                }
                Some(Cond::Cmp {
                    lhs: Val::Col(a),
                    op,
                    rhs: Val::Col(b),
                })
            }
            (Side::Col(c), other) | (other, Side::Col(c)) => {
                let col_left = matches!(lhs.kind, OperandKind::Column(_));
                let other_op = if col_left { rhs } else { lhs };
                let value = self.bind_other(other, &c, other_op)?;
                if c.column.repeated {
                    if op != CmpOp::Eq {
                        return self.fail(err(
                            op_span,
                            format!(
                                "`{}` is repeated; only `=` (array contains) applies",
                                c.column.path.join(".")
                            ),
                            Some("write `value = ANY(column)`"),
                        ));
                    }
                    self.used.push((c.clone(), ColumnUsage::Contains));
                    return Some(Cond::Contains { array: c, value });
                }
                let usage = if op == CmpOp::Eq {
                    ColumnUsage::Equality
                } else {
                    ColumnUsage::Filter
                };
                self.used.push((c.clone(), usage));
                let col = Val::Col(c);
                Some(if col_left {
                    Cond::Cmp {
                        lhs: col,
                        op,
                        rhs: value,
                    }
                } else {
                    Cond::Cmp {
                        lhs: value,
                        op,
                        rhs: col,
                    }
                })
            }
            _ => self.fail(err(
                &(lhs.span.start..rhs.span.end),
                "a comparison needs a column on one side",
                Some("compare a column with a `:parameter` or a literal"),
            )),
        }
    }

    fn any(&mut self, lhs: &Operand, array: &Operand) -> Option<Cond> {
        match self.side(array)? {
            Side::Col(arr) if arr.column.repeated => {
                let value = match self.side(lhs)? {
                    Side::Col(c) if !c.column.repeated && c.column.value_type.comparable(&arr.column.value_type) => Val::Col(c),
                    Side::Col(_) => return self.fail(err(&lhs.span, "the value before `= ANY` must be a single value of the array's element type", None)),
                    other => self.bind_other(other, &arr, lhs)?,
                };
                self.used.push((arr.clone(), ColumnUsage::Contains));
                Some(Cond::Contains { array: arr, value })
            }
            Side::Param(f) if f.is_list() => {
                let col = self.column_operand(lhs, "`= ANY(:parameter)`")?;
                let pt = self.param_type(&f, &array.span)?;
                if !col.column.value_type.comparable(&pt) {
                    return self.fail(self.mismatch(&col, &pt, &format!("parameter `:{}`", f.name()), &array.span));
                }
                self.used.push((col.clone(), ColumnUsage::Equality));
                let source = ParamSource::Request { field: f.name().to_string() };
                let param = self.params.add(source, col.column.value_type.sql_type(), true);
                Some(Cond::InArray { lhs: Val::Col(col), param })
            }
            Side::Col(c) => self.fail(err(&array.span, format!("`{}` is not repeated; ANY needs a repeated column or a repeated parameter", c.column.path.join(".")), Some("compare single values with `=`"))),
            Side::Param(f) => self.fail(err(&array.span, format!("`:{}` is not a repeated field; ANY needs a repeated column or a repeated parameter", f.name()), Some("compare single values with `=`"))),
            Side::Lit(_) => self.fail(err(&array.span, "ANY needs a repeated column or a repeated parameter", None)),
        }
    }

    fn param_type(
        &mut self,
        f: &FieldDescriptor,
        span: &std::ops::Range<usize>,
    ) -> Option<ValueType> {
        match leaf_type(f) {
            Some((vt, _)) if !f.is_map() => Some(vt),
            _ => self.fail(err(
                span,
                format!("parameter `:{}` is not a scalar value", f.name()),
                Some("parameters must be scalar, enum, Timestamp or wrapper fields of the request"),
            )),
        }
    }

    fn mismatch(
        &self,
        col: &ColRef,
        other: &ValueType,
        what: &str,
        span: &std::ops::Range<usize>,
    ) -> QueryError {
        err(
            span,
            format!(
                "type mismatch: `{}` is {} but {what} is {}",
                col.column.path.join("."),
                col.column.value_type.describe(),
                other.describe()
            ),
            None,
        )
    }

    /// A parameter or literal compared with `col` (element type for arrays).
    fn bind_other(&mut self, side: Side, col: &ColRef, op: &Operand) -> Option<Val> {
        let vt = &col.column.value_type;
        let span = &op.span;
        match side {
            Side::Col(_) => self.fail(err(span, "expected a `:parameter` or a literal here", None)),
            Side::Param(f) => {
                if f.is_list() {
                    return self.fail(err(span, format!("`:{}` is repeated; repeated parameters are only allowed in `column = ANY(:{})`", f.name(), f.name()), None));
                }
                let pt = self.param_type(&f, span)?;
                if !vt.comparable(&pt) {
                    return self.fail(self.mismatch(col, &pt, &format!("parameter `:{}`", f.name()), span));
                }
                let source = ParamSource::Request { field: f.name().to_string() };
                Some(Val::Param(self.params.add(source, vt.sql_type(), false)))
            }
            Side::Lit(lit) => match (vt, lit) {
                (ValueType::String, OperandKind::Str(s)) => Some(Val::Param(self.params.add(ParamSource::Literal(SqlValue::Text(s)), SqlType::Text, false))),
                (ValueType::Enum(name), OperandKind::Str(s)) => {
                    let e = self.scope.request.parent_pool().get_enum_by_name(name)?;
                    match e.get_value_by_name(&s) {
                        Some(v) => Some(Val::Number(v.number().to_string())),
                        None => {
                            let values: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                            let help = format!("values: {}", values.join(", "));
                            self.fail(err(span, format!("`{s}` is not a value of enum `{name}`"), Some(&help)))
                        }
                    }
                }
                (ValueType::Int | ValueType::Float | ValueType::Enum(_), OperandKind::Int(n)) => Some(Val::Number(n.to_string())),
                (ValueType::Int | ValueType::Float, OperandKind::Float(f)) => Some(Val::Number(format!("{f:?}"))),
                (ValueType::Bool, OperandKind::Bool(b)) => Some(Val::Bool(b)),
                (ValueType::Timestamp, _) => self.fail(err(span, format!("`{}` is a Timestamp; compare it with a google.protobuf.Timestamp parameter", col.column.path.join(".")), None)),
                (_, lit) => {
                    let what = match lit {
                        OperandKind::Str(_) => "a string literal",
                        OperandKind::Bool(_) => "a boolean literal",
                        _ => "a number",
                    };
                    self.fail(err(span, format!("type mismatch: `{}` is {} but this is {what}", col.column.path.join("."), vt.describe()), None))
                }
            },
        }
    }
}
