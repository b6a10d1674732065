//! Recursive-descent parser for the view query language.
//!
//! Hand-written rather than built on `sqlparser`: the language is not SQL in
//! several places the crate rejects or reshapes — `* AS field`, nested
//! projections `(a, b AS c, t.*) AS x`, hyphenated table names
//! (`time-tracker-view`), `page_token_offset(:t)` in `OFFSET` — and
//! diagnostics need byte spans into the query (the crate reports line and
//! column of a few nodes only). The grammar is small (reference §2.1), so a
//! direct parser is shorter than a custom dialect plus an AST translation.

use std::ops::Range;

use super::QueryError;
use super::ast::*;
use super::lexer::{Tok, Token, lex};

/// Parse `sql` into a [`Query`].
pub(crate) fn parse(sql: &str) -> Result<Query, QueryError> {
    let tokens = lex(sql)?;
    let mut p = Parser { tokens, pos: 0 };
    let q = p.query()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(QueryError::new(
            t.span.clone(),
            format!("unexpected {} after the end of the query", describe(&t.tok)),
            Some("clauses come in the order SELECT, FROM, JOIN, WHERE, ORDER BY, OFFSET/LIMIT"),
        ));
    }
    Ok(q)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Param(p) => format!("parameter `:{p}`"),
        Tok::Str(_) => "string literal".into(),
        Tok::Int(_) | Tok::Float(_) => "number".into(),
        Tok::Star => "`*`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Op(op) => format!("`{op}`"),
        Tok::Eof => "end of query".into(),
    }
}

const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "join", "inner", "left", "outer", "on", "order",
    "by", "limit", "offset", "as", "in", "like", "is", "null", "any", "asc", "desc",
];

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn at_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> Option<Range<usize>> {
        self.at_kw(kw).then(|| self.bump().span)
    }

    fn eat(&mut self, tok: &Tok) -> Option<Range<usize>> {
        (&self.peek().tok == tok).then(|| self.bump().span)
    }

    fn error<T>(&self, expected: &str, help: Option<&str>) -> Result<T, QueryError> {
        let t = self.peek();
        Err(QueryError::new(
            t.span.clone(),
            format!("expected {expected}, found {}", describe(&t.tok)),
            help,
        ))
    }

    fn expect_kw(&mut self, kw: &str) -> Result<Range<usize>, QueryError> {
        match self.eat_kw(kw) {
            Some(s) => Ok(s),
            None => self.error(&format!("`{}`", kw.to_ascii_uppercase()), None),
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<Range<usize>, QueryError> {
        match self.eat(&tok) {
            Some(s) => Ok(s),
            None => self.error(&describe(&tok), None),
        }
    }

    fn name(&mut self, what: &str) -> Result<Name, QueryError> {
        match &self.peek().tok {
            Tok::Word(w) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) => {
                let text = w.clone();
                let span = self.bump().span;
                Ok(Name { text, span })
            }
            _ => self.error(what, None),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.expect_kw("select")?;
        let select = self.select_items()?;
        self.expect_kw("from")?;
        let from = self.name("a table name")?;
        let mut joins = Vec::new();
        loop {
            let kind = if self.eat_kw("inner").is_some() {
                JoinKind::Inner
            } else if self.eat_kw("left").is_some() {
                self.eat_kw("outer");
                JoinKind::Left
            } else if self.at_kw("right") || self.at_kw("full") || self.at_kw("cross") {
                return Err(QueryError::new(
                    self.peek().span.clone(),
                    "only INNER and LEFT joins are supported",
                    Some("swap the tables and use LEFT JOIN"),
                ));
            } else if self.at_kw("join") {
                JoinKind::Inner
            } else {
                break;
            };
            self.expect_kw("join")?;
            let table = self.name("a table name")?;
            self.expect_kw("on")?;
            let left = self.path()?;
            if self.eat(&Tok::Op("=")).is_none() {
                return self.error("`=`", Some("a join condition is `table.column = other.column`"));
            }
            let right = self.path()?;
            joins.push(Join { kind, table, left, right });
        }
        let filter = match self.eat_kw("where") {
            Some(_) => Some(self.or_expr()?),
            None => None,
        };
        let mut order_by = Vec::new();
        if self.eat_kw("order").is_some() {
            self.expect_kw("by")?;
            loop {
                let path = self.path()?;
                let desc = if self.eat_kw("desc").is_some() {
                    true
                } else {
                    self.eat_kw("asc");
                    false
                };
                order_by.push(OrderItem { path, desc });
                if self.eat(&Tok::Comma).is_none() {
                    break;
                }
            }
        }
        let (mut limit, mut offset) = (None, None);
        loop {
            if limit.is_none() && self.eat_kw("limit").is_some() {
                limit = Some(self.count("LIMIT")?);
            } else if offset.is_none() && self.eat_kw("offset").is_some() {
                offset = Some(self.offset()?);
            } else {
                break;
            }
        }
        Ok(Query { select, from, joins, filter, order_by, limit, offset })
    }

    fn select_items(&mut self) -> Result<Vec<SelectItem>, QueryError> {
        let mut items = vec![self.select_item()?];
        while self.eat(&Tok::Comma).is_some() {
            items.push(self.select_item()?);
        }
        Ok(items)
    }

    fn alias(&mut self) -> Result<Option<Name>, QueryError> {
        match self.eat_kw("as") {
            Some(_) => self.name("a response field name after AS").map(Some),
            None => Ok(None),
        }
    }

    fn select_item(&mut self) -> Result<SelectItem, QueryError> {
        let start = self.peek().span.start;
        if let Some(span) = self.eat(&Tok::Star) {
            let alias = self.alias()?;
            return Ok(SelectItem::Star { span, alias });
        }
        if let Some(open) = self.eat(&Tok::LParen) {
            let items = self.select_items()?;
            let close = self.expect(Tok::RParen)?;
            if self.eat_kw("as").is_none() {
                return self.error(
                    "`AS`",
                    Some("a nested projection `( ... )` must be named: `( ... ) AS field`"),
                );
            }
            let alias = self.name("a response field name after AS")?;
            return Ok(SelectItem::Nested { items, alias, span: open.start..close.end });
        }
        if let Tok::Param(p) = &self.peek().tok {
            let text = p.clone();
            let span = self.bump().span;
            let alias = self.alias()?;
            return Ok(SelectItem::Param { name: Name { text, span }, alias });
        }
        if let (Tok::Word(w), Tok::LParen) = (&self.peek().tok, self.peek_at(1)) {
            let lower = w.to_ascii_lowercase();
            let func = match lower.as_str() {
                "next_page_token" => Func::NextPageToken,
                "has_more" => Func::HasMore,
                "count" => Func::Count,
                _ => {
                    return Err(QueryError::new(
                        self.peek().span.clone(),
                        format!("unknown function `{w}` in the projection"),
                        Some("the projection supports next_page_token(), has_more() and COUNT(*)"),
                    ));
                }
            };
            self.bump();
            self.bump();
            if func == Func::Count && self.eat(&Tok::Star).is_none() {
                return self.error("`*`", Some("only COUNT(*) is supported"));
            }
            let close = self.expect(Tok::RParen)?;
            let alias = self.alias()?;
            return Ok(SelectItem::Func { func, span: start..close.end, alias });
        }
        if let (Tok::Word(_), Tok::Dot, Tok::Star) = (&self.peek().tok, self.peek_at(1), self.peek_at(2)) {
            let table = self.name("a table name")?;
            self.bump();
            let star = self.bump().span;
            if self.at_kw("as") {
                return Err(QueryError::new(
                    self.peek().span.clone(),
                    "`table.*` cannot be renamed",
                    Some("wrap it in a nested projection: `(table.*) AS field`"),
                ));
            }
            return Ok(SelectItem::TableStar { table, span: start..star.end });
        }
        if matches!(self.peek().tok, Tok::Word(_)) {
            let path = self.path()?;
            let alias = self.alias()?;
            return Ok(SelectItem::Column { path, alias });
        }
        self.error("a column, `*`, a `:parameter` or `( ... ) AS field`", None)
    }

    fn path(&mut self) -> Result<Path, QueryError> {
        let first = self.name("a column name")?;
        let start = first.span.start;
        let mut segments = vec![first];
        while self.eat(&Tok::Dot).is_some() {
            segments.push(self.name("a field name after `.`")?);
        }
        let end = segments.last().map_or(start, |s| s.span.end);
        Ok(Path { segments, span: start..end })
    }

    fn count(&mut self, clause: &str) -> Result<Count, QueryError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Int(n) if n >= 0 => {
                self.bump();
                Ok(Count::Literal(n as u64, t.span))
            }
            Tok::Param(p) => {
                self.bump();
                Ok(Count::Param(Name { text: p, span: t.span }))
            }
            _ => self.error(
                &format!("a non-negative integer or a `:parameter` after {clause}"),
                None,
            ),
        }
    }

    fn offset(&mut self) -> Result<Offset, QueryError> {
        if let (Tok::Word(w), Tok::LParen) = (&self.peek().tok, self.peek_at(1))
            && w.eq_ignore_ascii_case("page_token_offset")
        {
            self.bump();
            self.bump();
            let t = self.peek().clone();
            let Tok::Param(p) = t.tok else {
                return self.error("a `:parameter`", Some("write `page_token_offset(:page_token)`"));
            };
            self.bump();
            self.expect(Tok::RParen)?;
            return Ok(Offset::PageToken(Name { text: p, span: t.span }));
        }
        self.count("OFFSET").map(Offset::Count)
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.and_expr()?;
        while self.eat_kw("or").is_some() {
            let rhs = self.and_expr()?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr { kind: ExprKind::Or(Box::new(lhs), Box::new(rhs)), span };
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.not_expr()?;
        while self.eat_kw("and").is_some() {
            let rhs = self.not_expr()?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr { kind: ExprKind::And(Box::new(lhs), Box::new(rhs)), span };
        }
        Ok(lhs)
    }

    fn not_expr(&mut self) -> Result<Expr, QueryError> {
        if let Some(not) = self.eat_kw("not") {
            let inner = self.not_expr()?;
            let span = not.start..inner.span.end;
            return Ok(Expr { kind: ExprKind::Not(Box::new(inner)), span });
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
                    Some("match whole values with `=`, prefixes with `LIKE 'word%'`, or keep the words in a repeated field and use `:word = ANY(words)`"),
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
                        return Err(QueryError::new(t.span, "ANY only supports `=`", None::<&str>));
                    }
                    self.bump();
                    self.bump();
                    let array = self.operand()?;
                    let close = self.expect(Tok::RParen)?;
                    return Ok(Expr { kind: ExprKind::Any { lhs, array }, span: start..close.end });
                }
                let rhs = self.operand()?;
                ExprKind::Cmp { lhs, op, op_span: t.span, rhs }
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
                    return Ok(Expr { kind, span: start..close.end });
                } else if self.eat_kw("like").is_some() {
                    let p = self.peek().clone();
                    let Tok::Str(pattern) = p.tok else {
                        return self.error(
                            "a string literal after LIKE",
                            Some("LIKE patterns are literals such as 'Bob%'; parameters are not supported"),
                        );
                    };
                    self.bump();
                    let kind = ExprKind::Like { lhs, pattern, pattern_span: p.span.clone(), negated };
                    return Ok(Expr { kind, span: start..p.span.end });
                } else if !negated && self.eat_kw("is").is_some() {
                    let negated = self.eat_kw("not").is_some();
                    let end = self.expect_kw("null")?;
                    let kind = ExprKind::IsNull { operand: lhs, negated };
                    return Ok(Expr { kind, span: start..end.end });
                }
                return self.error("a comparison, IN, LIKE or IS [NOT] NULL", None);
            }
            _ => return self.error("a comparison operator (= != < <= > >=), IN, LIKE or IS", None),
        };
        let end = match &kind {
            ExprKind::Cmp { rhs, .. } => rhs.span.end,
            _ => start,
        };
        Ok(Expr { kind, span: start..end })
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
                return Ok(Operand { kind: OperandKind::Column(path), span });
            }
            _ => return self.error("a column, a `:parameter` or a literal", None),
        };
        self.bump();
        Ok(Operand { kind, span: t.span })
    }
}
