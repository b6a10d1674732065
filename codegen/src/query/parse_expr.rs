//! The `WHERE` expression part of the parser: `OR` < `AND` < `NOT` <
//! predicates over operands.

use super::QueryError;
use super::ast::*;
use super::lexer::Tok;
use super::parser::Parser;

impl Parser {
    pub(super) fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.and_expr()?;
        while self.eat_kw("or").is_some() {
            let rhs = self.and_expr()?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr {
                kind: ExprKind::Or(Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.not_expr()?;
        while self.eat_kw("and").is_some() {
            let rhs = self.not_expr()?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr {
                kind: ExprKind::And(Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn not_expr(&mut self) -> Result<Expr, QueryError> {
        if let Some(not) = self.eat_kw("not") {
            let inner = self.not_expr()?;
            let span = not.start..inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        if let Some(open) = self.eat(&Tok::LParen) {
            let mut inner = self.or_expr()?;
            let close = self.expect(Tok::RParen)?;
            inner.span = open.start..close.end;
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, QueryError> {
        if let (Tok::Word(w), Tok::LParen) = (&self.peek().tok, self.peek_at(1)) {
            let span = self.peek().span.clone();
            return Err(if w.eq_ignore_ascii_case("text_search") {
                QueryError::new(
                    span,
                    "text_search is not supported",
                    Some(
                        "match whole values with `=`, prefixes with `LIKE 'word%'`, or keep the words in a repeated field and use `:word = ANY(words)`",
                    ),
                )
            } else {
                QueryError::new(span, format!("unknown function `{w}`"), None::<&str>)
            });
        }
        let lhs = self.operand()?;
        let start = lhs.span.start;
        let t = self.peek().clone();
        let kind = match t.tok {
            Tok::Op(op) => {
                self.bump();
                let op = match op {
                    "=" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                if self.at_kw("any") && matches!(self.peek_at(1), Tok::LParen) {
                    if op != CmpOp::Eq {
                        return Err(QueryError::new(
                            t.span,
                            "ANY only supports `=`",
                            None::<&str>,
                        ));
                    }
                    self.bump();
                    self.bump();
                    let array = self.operand()?;
                    let close = self.expect(Tok::RParen)?;
                    return Ok(Expr {
                        kind: ExprKind::Any { lhs, array },
                        span: start..close.end,
                    });
                }
                let rhs = self.operand()?;
                ExprKind::Cmp {
                    lhs,
                    op,
                    op_span: t.span,
                    rhs,
                }
            }
            Tok::Word(_) => {
                let negated = self.eat_kw("not").is_some();
                if self.eat_kw("in").is_some() {
                    self.expect(Tok::LParen)?;
                    let mut list = vec![self.operand()?];
                    while self.eat(&Tok::Comma).is_some() {
                        list.push(self.operand()?);
                    }
                    let close = self.expect(Tok::RParen)?;
                    let kind = ExprKind::In { lhs, list, negated };
                    return Ok(Expr {
                        kind,
                        span: start..close.end,
                    });
                } else if self.eat_kw("like").is_some() {
                    let p = self.peek().clone();
                    let Tok::Str(pattern) = p.tok else {
                        return self.error(
                            "a string literal after LIKE",
                            Some("LIKE patterns are literals such as 'Bob%'; parameters are not supported"),
                        );
                    };
                    self.bump();
                    let kind = ExprKind::Like {
                        lhs,
                        pattern,
                        pattern_span: p.span.clone(),
                        negated,
                    };
                    return Ok(Expr {
                        kind,
                        span: start..p.span.end,
                    });
                } else if !negated && self.eat_kw("is").is_some() {
                    let negated = self.eat_kw("not").is_some();
                    let end = self.expect_kw("null")?;
                    let kind = ExprKind::IsNull {
                        operand: lhs,
                        negated,
                    };
                    return Ok(Expr {
                        kind,
                        span: start..end.end,
                    });
                }
                return self.error("a comparison, IN, LIKE or IS [NOT] NULL", None);
            }
            _ => {
                return self.error(
                    "a comparison operator (= != < <= > >=), IN, LIKE or IS",
                    None,
                );
            }
        };
        let end = match &kind {
            ExprKind::Cmp { rhs, .. } => rhs.span.end,
            _ => start,
        };
        Ok(Expr {
            kind,
            span: start..end,
        })
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        let t = self.peek().clone();
        let kind = match t.tok {
            Tok::Param(p) => OperandKind::Param(p),
            Tok::Str(s) => OperandKind::Str(s),
            Tok::Int(n) => OperandKind::Int(n),
            Tok::Float(f) => OperandKind::Float(f),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => OperandKind::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => OperandKind::Bool(false),
            Tok::Word(_) => {
                let path = self.path()?;
                let span = path.span.clone();
                return Ok(Operand {
                    kind: OperandKind::Column(path),
                    span,
                });
            }
            _ => return self.error("a column, a `:parameter` or a literal", None),
        };
        self.bump();
        Ok(Operand { kind, span: t.span })
    }
}
