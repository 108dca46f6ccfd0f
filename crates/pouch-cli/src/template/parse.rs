//! Parsing: action tokens to pipelines of commands, and the pieces to a tree of text,
//! actions and `if`/`with`/`range` branches.

use serde_json::Value;

use super::funcs::FUNCTIONS;
use super::lex::{Piece, Tok};
use super::{parse_err, TemplateError};

#[derive(Debug, Clone)]
pub(super) enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Sub(Pipeline),
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) args: Vec<Arg>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Pipeline {
    pub(super) decl: Vec<String>,
    /// `=` rather than `:=`.
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    If,
    With,
    Range,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Action(Pipeline),
    Branch {
        kind: Kind,
        pipe: Pipeline,
        body: Vec<Node>,
        else_body: Vec<Node>,
    },
}

pub(super) enum Terminator {
    End,
    Else(Vec<Tok>),
}

fn parse_pipeline(toks: &[Tok], allow_decl: bool) -> Result<Pipeline, TemplateError> {
    let mut pipe = Pipeline::default();
    let mut toks = toks;
    if allow_decl {
        match toks {
            [Tok::Var(v, c), Tok::Declare | Tok::Assign, ..] if c.is_empty() => {
                pipe.assign = toks[1] == Tok::Assign;
                pipe.decl.push(v.clone());
                toks = &toks[2..];
            }
            [Tok::Var(a, ca), Tok::Comma, Tok::Var(b, cb), Tok::Declare | Tok::Assign, ..]
                if ca.is_empty() && cb.is_empty() =>
            {
                pipe.assign = toks[3] == Tok::Assign;
                pipe.decl.push(a.clone());
                pipe.decl.push(b.clone());
                toks = &toks[4..];
            }
            _ => {}
        }
    }
    let mut args = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Pipe => {
                if args.is_empty() {
                    return parse_err("missing value for command");
                }
                pipe.cmds.push(Cmd {
                    args: std::mem::take(&mut args),
                });
            }
            Tok::LParen => {
                let mut depth = 1;
                let mut j = i + 1;
                while j < toks.len() {
                    match toks[j] {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if depth != 0 {
                    return parse_err("unclosed left paren");
                }
                args.push(Arg::Sub(parse_pipeline(&toks[i + 1..j], false)?));
                i = j;
            }
            Tok::RParen => return parse_err("unexpected right paren"),
            Tok::Field(c) => args.push(Arg::Field(c.clone())),
            Tok::Var(v, c) => args.push(Arg::Var(v.clone(), c.clone())),
            Tok::Lit(v) => args.push(Arg::Lit(v.clone())),
            Tok::Nil => args.push(Arg::Lit(Value::Null)),
            Tok::Ident(name) => {
                if !FUNCTIONS.contains(&name.as_str()) {
                    return parse_err(format!("function {name:?} not defined"));
                }
                args.push(Arg::Func(name.clone()));
            }
            Tok::Declare | Tok::Assign | Tok::Comma => {
                return parse_err("unexpected declaration in command")
            }
        }
        i += 1;
    }
    if args.is_empty() {
        return parse_err("missing value for command");
    }
    pipe.cmds.push(Cmd { args });
    Ok(pipe)
}

pub(super) struct Parser {
    pub(super) pieces: std::vec::IntoIter<Piece>,
}

impl Parser {
    pub(super) fn parse_list(&mut self) -> Result<(Vec<Node>, Option<Terminator>), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            let toks = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action(toks) => toks,
            };
            let keyword = match toks.first() {
                Some(Tok::Ident(w)) => w.as_str(),
                None => return parse_err("missing value for command"),
                _ => "",
            };
            match keyword {
                "end" => {
                    if toks.len() > 1 {
                        return parse_err("unexpected tokens after end");
                    }
                    return Ok((nodes, Some(Terminator::End)));
                }
                "else" => return Ok((nodes, Some(Terminator::Else(toks[1..].to_vec())))),
                "if" => nodes.push(self.parse_branch(Kind::If, &toks[1..])?),
                "with" => nodes.push(self.parse_branch(Kind::With, &toks[1..])?),
                "range" => nodes.push(self.parse_branch(Kind::Range, &toks[1..])?),
                "define" | "template" | "block" | "break" | "continue" => {
                    return parse_err(format!("{{{{{keyword}}}}} is not supported"))
                }
                _ => nodes.push(Node::Action(parse_pipeline(&toks, true)?)),
            }
        }
        Ok((nodes, None))
    }

    fn parse_branch(&mut self, kind: Kind, toks: &[Tok]) -> Result<Node, TemplateError> {
        let name = match kind {
            Kind::If => "if",
            Kind::With => "with",
            Kind::Range => "range",
        };
        if toks.is_empty() {
            return parse_err(format!("missing value for {name}"));
        }
        let pipe = parse_pipeline(toks, true)?;
        let (body, term) = self.parse_list()?;
        let else_body = match term {
            None => {
                return parse_err(format!(
                    "unexpected EOF: {{{{{name}}}}} without {{{{end}}}}"
                ))
            }
            Some(Terminator::End) => Vec::new(),
            Some(Terminator::Else(rest)) if rest.is_empty() => {
                let (else_body, term) = self.parse_list()?;
                match term {
                    Some(Terminator::End) => else_body,
                    Some(Terminator::Else(_)) => return parse_err("expected end; found else"),
                    None => return parse_err("unexpected EOF: else without {{end}}"),
                }
            }
            Some(Terminator::Else(rest)) => {
                let chained = match (&rest[0], kind) {
                    (Tok::Ident(w), Kind::If) if w == "if" => Kind::If,
                    (Tok::Ident(w), Kind::With) if w == "with" => Kind::With,
                    _ => return parse_err("unexpected tokens after else"),
                };
                vec![self.parse_branch(chained, &rest[1..])?]
            }
        };
        Ok(Node::Branch {
            kind,
            pipe,
            body,
            else_body,
        })
    }
}
