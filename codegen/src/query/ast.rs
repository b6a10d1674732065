//! The parsed query, before names and types are checked. Every node keeps its
//! byte span in the query text for diagnostics.

use std::ops::Range;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Name {
    /// The text.
    pub text: String,
    /// Where it is.
    pub span: Range<usize>,
}

/// A dotted column reference: `[table.]field(.field)*`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    /// The segments.
    pub segments: Vec<Name>,
    /// The whole reference.
    pub span: Range<usize>,
}

/// A whole query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// The projection.
    pub select: Vec<SelectItem>,
    /// The first table.
    pub from: Name,
    /// The joined tables, in order.
    pub joins: Vec<Join>,
    /// The filter.
    pub filter: Option<Expr>,
    /// The ordering.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT`.
    pub limit: Option<Count>,
    /// `OFFSET`.
    pub offset: Option<Offset>,
}

/// One item of the projection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SelectItem {
    /// `*` (every field of the row(s)), or `* AS field` (all rows into a repeated field).
    Star {
        span: Range<usize>,
        alias: Option<Name>,
    },
    /// `table.*`
    TableStar { table: Name, span: Range<usize> },
    /// A column, optionally renamed.
    Column { path: Path, alias: Option<Name> },
    /// A request parameter echoed into the result.
    Param { name: Name, alias: Option<Name> },
    /// `( items ) AS field`, a nested message.
    Nested {
        items: Vec<SelectItem>,
        alias: Name,
        span: Range<usize>,
    },
    /// A paging or aggregate function.
    Func {
        func: Func,
        span: Range<usize>,
        alias: Option<Name>,
    },
}

/// A function usable in the projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// `next_page_token()`
    NextPageToken,
    /// `has_more()`
    HasMore,
    /// `COUNT(*)`
    Count,
}

/// How a table is joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    /// `[INNER] JOIN`
    Inner,
    /// `LEFT [OUTER] JOIN`
    Left,
}

/// `JOIN table ON a = b`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Join {
    /// The kind.
    pub kind: JoinKind,
    /// The joined table.
    pub table: Name,
    /// The left side of the condition.
    pub left: Path,
    /// The right side of the condition.
    pub right: Path,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Range<usize>,
}

/// The kinds of boolean expressions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `a op b`
    Cmp {
        lhs: Operand,
        op: CmpOp,
        op_span: Range<usize>,
        rhs: Operand,
    },
    /// `a [NOT] IN (b, c)`
    In {
        lhs: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    /// `a = ANY(b)`
    Any { lhs: Operand, array: Operand },
    /// `a [NOT] LIKE 'pattern'`
    Like {
        lhs: Operand,
        pattern: String,
        pattern_span: Range<usize>,
        negated: bool,
    },
    /// `a IS [NOT] NULL`
    IsNull { operand: Operand, negated: bool },
}

/// A value in a predicate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operand {
    /// What it is.
    pub kind: OperandKind,
    /// Where it is.
    pub span: Range<usize>,
}

/// The kinds of operands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OperandKind {
    /// A column.
    Column(Path),
    /// A request parameter.
    Param(String),
    /// `'text'`
    Str(String),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// `TRUE` / `FALSE`
    Bool(bool),
}

/// `column [ASC|DESC]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderItem {
    /// The column.
    pub path: Path,
    /// Whether descending.
    pub desc: bool,
}

/// A `LIMIT` or `OFFSET` count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Count {
    /// A literal.
    Literal(u64, Range<usize>),
    /// A request parameter.
    Param(Name),
}

/// An `OFFSET`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Offset {
    /// A count.
    Count(Count),
    /// `page_token_offset(:param)`.
    PageToken(Name),
}
