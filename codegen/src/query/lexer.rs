//! Tokens of the view query language, each with its byte span in the query.

use std::ops::Range;

use super::QueryError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A word: a keyword (matched case-insensitively by the parser) or a name.
    /// Names may contain `-` between word characters (`time-tracker-view`).
    Word(String),
    /// `:name`, a request parameter.
    Param(String),
    /// `'text'`, with `''` unescaped to `'`.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A literal with a fraction or exponent.
    Float(f64),
    /// `*`
    Star,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `=`, `!=`/`<>`, `<`, `<=`, `>`, `>=`
    Op(&'static str),
    /// The end of the query.
    Eof,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// The token.
    pub tok: Tok,
    /// Its byte range in the query.
    pub span: Range<usize>,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Split `sql` into tokens; the last one is always [`Tok::Eof`].
pub(crate) fn lex(sql: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < sql.len() {
        let c = sql[i..].chars().next().unwrap_or(' ');
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let tok = if is_word_start(c) {
            i = word_end(sql, i);
            Tok::Word(sql[start..i].to_string())
        } else if c == ':' {
            i += 1;
            if !sql[i..].starts_with(is_word_start) {
                return Err(QueryError::new(
                    start..i,
                    "expected a parameter name after `:`",
                    Some(
                        "parameters are written `:field_name`, naming a field of the request message",
                    ),
                ));
            }
            let end = sql[i..]
                .find(|c| !is_word_char(c))
                .map_or(sql.len(), |n| i + n);
            let name = sql[i..end].to_string();
            i = end;
            Tok::Param(name)
        } else if c == '\'' {
            let (text, end) = string_literal(sql, i)?;
            i = end;
            Tok::Str(text)
        } else if c.is_ascii_digit()
            || (c == '-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, end) = number(sql, i)?;
            i = end;
            tok
        } else {
            let two = sql.get(i..i + 2).unwrap_or("");
            let (tok, len) = match (c, two) {
                (_, "!=") | (_, "<>") => (Tok::Op("!="), 2),
                (_, "<=") => (Tok::Op("<="), 2),
                (_, ">=") => (Tok::Op(">="), 2),
                ('<', _) => (Tok::Op("<"), 1),
                ('>', _) => (Tok::Op(">"), 1),
                ('=', _) => (Tok::Op("="), 1),
                ('*', _) => (Tok::Star, 1),
                (',', _) => (Tok::Comma, 1),
                ('.', _) => (Tok::Dot, 1),
                ('(', _) => (Tok::LParen, 1),
                (')', _) => (Tok::RParen, 1),
                _ => {
                    return Err(QueryError::new(
                        start..start + c.len_utf8(),
                        format!("unexpected character `{c}`"),
                        (c == '"' || c == '`').then_some(
                            "names are written without quotes; string literals use single quotes",
                        ),
                    ));
                }
            };
            i += len;
            tok
        };
        tokens.push(Token {
            tok,
            span: start..i,
        });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: sql.len()..sql.len(),
    });
    Ok(tokens)
}

/// The end of the word starting at `i`; `-` joins word characters.
fn word_end(sql: &str, mut i: usize) -> usize {
    let bytes = sql.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if is_word_char(b as char) {
            i += 1;
        } else if b == b'-' && i + 1 < bytes.len() && is_word_char(bytes[i + 1] as char) {
            i += 2;
        } else {
            break;
        }
    }
    i
}

fn string_literal(sql: &str, start: usize) -> Result<(String, usize), QueryError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = sql[i..].chars().next() else {
            return Err(QueryError::new(
                start..sql.len(),
                "unterminated string literal",
                Some("close the literal with `'`; write `''` for a quote inside it"),
            ));
        };
        i += c.len_utf8();
        if c == '\'' {
            if sql[i..].starts_with('\'') {
                text.push('\'');
                i += 1;
            } else {
                return Ok((text, i));
            }
        } else {
            text.push(c);
        }
    }
}

fn number(sql: &str, start: usize) -> Result<(Tok, usize), QueryError> {
    let bytes = sql.as_bytes();
    let mut i = start + 1;
    let mut float = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => i += 1,
            b'.' if !float && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                float = true;
                i += 1;
            }
            b'e' | b'E' => {
                float = true;
                i += 1;
                if matches!(bytes.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    if bytes.get(i).is_some_and(|b| is_word_char(*b as char)) {
        let end = word_end(sql, i);
        return Err(QueryError::new(start..end, "invalid number", None::<&str>));
    }
    let text = &sql[start..i];
    let tok = if float {
        text.parse().ok().map(Tok::Float)
    } else {
        text.parse().ok().map(Tok::Int)
    };
    tok.map(|t| (t, i)).ok_or_else(|| {
        QueryError::new(
            start..i,
            "number out of range",
            Some("integers must fit in 64 bits"),
        )
    })
}
