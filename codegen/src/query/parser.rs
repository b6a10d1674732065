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

pub(super) struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

pub(super) fn describe(tok: &Tok) -> String {
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
    pub(super) fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    pub(super) fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    pub(super) fn at_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    pub(super) fn eat_kw(&mut self, kw: &str) -> Option<Range<usize>> {
        self.at_kw(kw).then(|| self.bump().span)
    }

    pub(super) fn eat(&mut self, tok: &Tok) -> Option<Range<usize>> {
        (&self.peek().tok == tok).then(|| self.bump().span)
    }

    pub(super) fn error<T>(&self, expected: &str, help: Option<&str>) -> Result<T, QueryError> {
        let t = self.peek();
        Err(QueryError::new(
            t.span.clone(),
            format!("expected {expected}, found {}", describe(&t.tok)),
            help,
        ))
    }

    pub(super) fn expect_kw(&mut self, kw: &str) -> Result<Range<usize>, QueryError> {
        match self.eat_kw(kw) {
            Some(s) => Ok(s),
            None => self.error(&format!("`{}`", kw.to_ascii_uppercase()), None),
        }
    }

    pub(super) fn expect(&mut self, tok: Tok) -> Result<Range<usize>, QueryError> {
        match self.eat(&tok) {
            Some(s) => Ok(s),
            None => self.error(&describe(&tok), None),
        }
    }

    pub(super) fn name(&mut self, what: &str) -> Result<Name, QueryError> {
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
                return self.error(
                    "`=`",
                    Some("a join condition is `table.column = other.column`"),
                );
            }
            let right = self.path()?;
            joins.push(Join {
                kind,
                table,
                left,
                right,
            });
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
        Ok(Query {
            select,
            from,
            joins,
            filter,
            order_by,
            limit,
            offset,
        })
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
            return Ok(SelectItem::Nested {
                items,
                alias,
                span: open.start..close.end,
            });
        }
        if let Tok::Param(p) = &self.peek().tok {
            let text = p.clone();
            let span = self.bump().span;
            let alias = self.alias()?;
            return Ok(SelectItem::Param {
                name: Name { text, span },
                alias,
            });
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
            return Ok(SelectItem::Func {
                func,
                span: start..close.end,
                alias,
            });
        }
        if let (Tok::Word(_), Tok::Dot, Tok::Star) =
            (&self.peek().tok, self.peek_at(1), self.peek_at(2))
        {
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
            return Ok(SelectItem::TableStar {
                table,
                span: start..star.end,
            });
        }
        if matches!(self.peek().tok, Tok::Word(_)) {
            let path = self.path()?;
            let alias = self.alias()?;
            return Ok(SelectItem::Column { path, alias });
        }
        self.error("a column, `*`, a `:parameter` or `( ... ) AS field`", None)
    }

    pub(super) fn path(&mut self) -> Result<Path, QueryError> {
        let first = self.name("a column name")?;
        let start = first.span.start;
        let mut segments = vec![first];
        while self.eat(&Tok::Dot).is_some() {
            segments.push(self.name("a field name after `.`")?);
        }
        let end = segments.last().map_or(start, |s| s.span.end);
        Ok(Path {
            segments,
            span: start..end,
        })
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
                Ok(Count::Param(Name {
                    text: p,
                    span: t.span,
                }))
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
                return self.error(
                    "a `:parameter`",
                    Some("write `page_token_offset(:page_token)`"),
                );
            };
            self.bump();
            self.expect(Tok::RParen)?;
            return Ok(Offset::PageToken(Name {
                text: p,
                span: t.span,
            }));
        }
        self.count("OFFSET").map(Offset::Count)
    }
}
