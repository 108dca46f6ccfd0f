//! Lexing: splits the source into text and actions (`{{- -}}` trimming applied, comments
//! dropped) and each action into tokens.

use serde_json::{Number, Value};

use super::{parse_err, TemplateError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `.A.B` (an empty chain is `.`).
    Field(Vec<String>),
    /// `$name.A.B` (`$` alone has the name `$`).
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug)]
pub(super) enum Piece {
    Text(String),
    Action(Vec<Tok>),
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads `.A.B.C` starting at a `.`; returns the names and the bytes consumed.
fn lex_chain(s: &str) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut pos = 0;
    while s[pos..].starts_with('.') {
        let rest = &s[pos + 1..];
        let len: usize = rest
            .chars()
            .take_while(|c| is_ident_char(*c))
            .map(char::len_utf8)
            .sum();
        if len == 0 {
            break;
        }
        names.push(rest[..len].to_string());
        pos += 1 + len;
    }
    (names, pos)
}

/// Lexes one action body; returns its tokens, the bytes consumed (through `}}`) and whether
/// it ended with `-}}`.
fn lex_action(s: &str) -> Result<(Vec<Tok>, usize, bool), TemplateError> {
    let mut toks = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &s[pos..];
        let trimmed = rest.trim_start();
        let had_space = trimmed.len() != rest.len();
        pos += rest.len() - trimmed.len();
        let rest = trimmed;
        if rest.is_empty() {
            return parse_err("unclosed action");
        }
        if had_space && rest.starts_with("-}}") {
            return Ok((toks, pos + 3, true));
        }
        if rest.starts_with("}}") {
            return Ok((toks, pos + 2, false));
        }
        let c = rest.chars().next().unwrap_or(' ');
        match c {
            '"' => {
                let mut out = String::new();
                let mut chars = rest.char_indices().skip(1);
                let mut end = None;
                while let Some((i, ch)) = chars.next() {
                    match ch {
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, 'r')) => out.push('\r'),
                            Some((_, '\\')) => out.push('\\'),
                            Some((_, '"')) => out.push('"'),
                            Some((_, '\'')) => out.push('\''),
                            Some((_, other)) => {
                                return parse_err(format!("unknown escape sequence \\{other}"))
                            }
                            None => break,
                        },
                        '\n' => break,
                        other => out.push(other),
                    }
                }
                let Some(end) = end else {
                    return parse_err("unterminated quoted string");
                };
                toks.push(Tok::Lit(Value::String(out)));
                pos += end;
            }
            '`' => {
                let Some(end) = rest[1..].find('`') else {
                    return parse_err("unterminated raw quoted string");
                };
                toks.push(Tok::Lit(Value::String(rest[1..1 + end].to_string())));
                pos += end + 2;
            }
            '(' => {
                toks.push(Tok::LParen);
                pos += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                pos += 1;
            }
            '|' => {
                toks.push(Tok::Pipe);
                pos += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                pos += 1;
            }
            ':' if rest.starts_with(":=") => {
                toks.push(Tok::Declare);
                pos += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                pos += 1;
            }
            '.' => {
                let (names, used) = lex_chain(rest);
                if names.is_empty() {
                    toks.push(Tok::Field(Vec::new()));
                    pos += 1;
                } else {
                    toks.push(Tok::Field(names));
                    pos += used;
                }
            }
            '$' => {
                let len: usize = rest[1..]
                    .chars()
                    .take_while(|c| is_ident_char(*c))
                    .map(char::len_utf8)
                    .sum();
                let name = format!("${}", &rest[1..1 + len]);
                let (chain, used) = lex_chain(&rest[1 + len..]);
                toks.push(Tok::Var(name, chain));
                pos += 1 + len + used;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
            {
                let len = 1 + rest[1..]
                    .chars()
                    .take_while(|d| d.is_ascii_alphanumeric() || *d == '.' || *d == '_')
                    .count();
                let text = rest[..len].replace('_', "");
                let value = if let Ok(i) = text.parse::<i64>() {
                    Value::Number(Number::from(i))
                } else if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
                    Value::Number(n)
                } else {
                    return parse_err(format!("bad number syntax: {:?}", &rest[..len]));
                };
                toks.push(Tok::Lit(value));
                pos += len;
            }
            c if c.is_alphabetic() || c == '_' => {
                let len: usize = rest
                    .chars()
                    .take_while(|c| is_ident_char(*c))
                    .map(char::len_utf8)
                    .sum();
                let word = &rest[..len];
                toks.push(match word {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Nil,
                    _ => Tok::Ident(word.to_string()),
                });
                pos += len;
            }
            other => return parse_err(format!("unexpected {other:?} in command")),
        }
    }
}

pub(super) fn split_pieces(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    loop {
        let Some(start) = rest.find("{{") else {
            let text = if trim_next { rest.trim_start() } else { rest };
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_string()));
            }
            return Ok(pieces);
        };
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let mut body = &rest[start + 2..];
        if body.starts_with('-') && body[1..].starts_with(char::is_whitespace) {
            text = text.trim_end();
            body = &body[1..];
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let inner = body.trim_start();
        if inner.starts_with("/*") {
            let Some(close) = inner.find("*/") else {
                return parse_err("unclosed comment");
            };
            let after = inner[close + 2..].trim_start();
            if let Some(r) = after.strip_prefix("-}}") {
                trim_next = true;
                rest = r;
            } else if let Some(r) = after.strip_prefix("}}") {
                trim_next = false;
                rest = r;
            } else {
                return parse_err("comment ends before closing delimiter");
            }
            continue;
        }
        let (toks, used, trim_right) = lex_action(body)?;
        pieces.push(Piece::Action(toks));
        trim_next = trim_right;
        rest = &body[used..];
    }
}
