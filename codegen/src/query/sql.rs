//! SQL text per dialect from a checked query. Values are always bound
//! parameters; only numbers (and booleans) from the query text are written
//! inline. Every identifier is quoted.

use super::ast::{CmpOp, JoinKind};
use super::compiled::{BoundParam, Dialect, DialectSql};
use super::filter::{Cond, Val};
use super::resolve::{ColRef, Scope};

/// A join of the plan: the joined table and its condition.
#[derive(Debug)]
pub(crate) struct PlanJoin {
    pub kind: JoinKind,
    pub table: usize,
    pub left: ColRef,
    pub right: ColRef,
}

/// Everything the statements are written from.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub scope: &'a Scope,
    pub joins: &'a [PlanJoin],
    pub cond: Option<&'a Cond>,
    /// `ORDER BY` items, then the key tie-breakers, each with `desc`.
    pub order: Vec<(String, bool)>,
    pub params: &'a [BoundParam],
    /// Parameter numbers of LIMIT and OFFSET when the query returns rows.
    pub paging: Option<(usize, usize)>,
    pub count: bool,
    pub live: bool,
    pub filter_params: usize,
}

/// `"name"`, with quotes doubled.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn column(scope: &Scope, c: &ColRef) -> String {
    format!(
        "{}.{}",
        ident(&scope.tables[c.table].sql_name),
        ident(&c.column.name)
    )
}

struct Writer<'a> {
    plan: &'a Plan<'a>,
    dialect: Dialect,
}

impl Writer<'_> {
    fn param(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => {
                let p = &self.plan.params[n - 1];
                format!(
                    "${n}::{}{}",
                    p.sql_type.postgres(),
                    if p.array { "[]" } else { "" }
                )
            }
        }
    }

    fn val(&self, v: &Val) -> String {
        match v {
            Val::Col(c) => column(self.plan.scope, c),
            Val::Param(n) => self.param(*n),
            Val::Number(n) => n.clone(),
            Val::Bool(b) => match (self.dialect, b) {
                (Dialect::Sqlite, true) => "1".into(),
                (Dialect::Sqlite, false) => "0".into(),
                (Dialect::Postgres, true) => "TRUE".into(),
                (Dialect::Postgres, false) => "FALSE".into(),
            },
        }
    }

    fn nested(&self, c: &Cond) -> String {
        match c {
            Cond::And(_) | Cond::Or(_) => format!("({})", self.cond(c)),
            _ => self.cond(c),
        }
    }

    fn cond(&self, c: &Cond) -> String {
        let pg = self.dialect == Dialect::Postgres;
        match c {
            Cond::And(parts) => parts
                .iter()
                .map(|p| self.nested(p))
                .collect::<Vec<_>>()
                .join(" AND "),
            Cond::Or(parts) => parts
                .iter()
                .map(|p| self.nested(p))
                .collect::<Vec<_>>()
                .join(" OR "),
            Cond::Not(inner) => format!("NOT ({})", self.cond(inner)),
            Cond::Cmp { lhs, op, rhs } => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                format!("{} {op} {}", self.val(lhs), self.val(rhs))
            }
            Cond::In { lhs, list, negated } => {
                let items: Vec<String> = list.iter().map(|v| self.val(v)).collect();
                let not = if *negated { "NOT " } else { "" };
                format!("{} {not}IN ({})", self.val(lhs), items.join(", "))
            }
            Cond::Contains { array, value } => {
                let col = column(self.plan.scope, array);
                if pg {
                    let elem = array.column.value_type.sql_type().postgres();
                    format!("{col} @> ARRAY[{}]::{elem}[]", self.val(value))
                } else {
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({col}) WHERE value = {})",
                        self.val(value)
                    )
                }
            }
            Cond::InArray { lhs, param } => {
                if pg {
                    format!("{} = ANY({})", self.val(lhs), self.param(*param))
                } else {
                    format!(
                        "{} IN (SELECT value FROM json_each({}))",
                        self.val(lhs),
                        self.param(*param)
                    )
                }
            }
            Cond::Like {
                col,
                param,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                let col = column(self.plan.scope, col);
                if pg {
                    format!("{col} {not}LIKE {} ESCAPE ''", self.param(*param))
                } else {
                    format!("{col} {not}GLOB {}", self.param(*param))
                }
            }
            Cond::IsNull { col, negated } => {
                format!(
                    "{} IS {}NULL",
                    column(self.plan.scope, col),
                    if *negated { "NOT " } else { "" }
                )
            }
        }
    }

    fn from(&self) -> String {
        let scope = self.plan.scope;
        let mut s = format!(" FROM {}", ident(&scope.tables[0].sql_name));
        for j in self.plan.joins {
            let kind = match j.kind {
                JoinKind::Inner => "INNER JOIN",
                JoinKind::Left => "LEFT JOIN",
            };
            s += &format!(
                " {kind} {} ON {} = {}",
                ident(&scope.tables[j.table].sql_name),
                column(scope, &j.left),
                column(scope, &j.right)
            );
        }
        s
    }

    fn columns(&self) -> String {
        let cols: Vec<String> = self
            .plan
            .scope
            .tables
            .iter()
            .map(|t| format!("{0}.\"_key\", {0}.\"_row\"", ident(&t.sql_name)))
            .collect();
        format!("SELECT {}", cols.join(", "))
    }

    fn statements(&self) -> DialectSql {
        let where_ = self
            .plan
            .cond
            .map(|c| format!(" WHERE {}", self.cond(c)))
            .unwrap_or_default();
        let rows = self.plan.paging.map(|(limit, offset)| {
            let order: Vec<String> = self
                .plan
                .order
                .iter()
                .map(|(c, desc)| format!("{c}{}", if *desc { " DESC" } else { "" }))
                .collect();
            format!(
                "{}{}{where_} ORDER BY {} LIMIT {} OFFSET {}",
                self.columns(),
                self.from(),
                order.join(", "),
                self.param(limit),
                self.param(offset)
            )
        });
        let count = self
            .plan
            .count
            .then(|| format!("SELECT COUNT(*){}{where_}", self.from()));
        let live = self.plan.live.then(|| {
            let key = self.plan.filter_params + 1;
            let key = match self.dialect {
                Dialect::Sqlite => format!("?{key}"),
                Dialect::Postgres => format!("${key}::TEXT"),
            };
            let t0 = ident(&self.plan.scope.tables[0].sql_name);
            match self.plan.cond {
                Some(c) => format!(
                    "{}{} WHERE {t0}.\"_key\" = {key} AND ({})",
                    self.columns(),
                    self.from(),
                    self.cond(c)
                ),
                None => format!(
                    "{}{} WHERE {t0}.\"_key\" = {key}",
                    self.columns(),
                    self.from()
                ),
            }
        });
        DialectSql { rows, count, live }
    }
}

/// The statements of `plan` in `dialect`.
pub(crate) fn emit(plan: &Plan<'_>, dialect: Dialect) -> DialectSql {
    Writer { plan, dialect }.statements()
}
