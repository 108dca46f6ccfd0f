//! A subset of Go's `text/template` for `--format`, evaluated over the JSON the daemon sends
//! (as docker's raw-JSON fallback does): `{{.Field.Sub}}`, `{{$}}`/`{{$var}}`, pipelines with
//! `|`, parenthesised calls, `if`/`else if`/`else`, `range` (with `$i, $e :=`), `with`, `{{- -}}`
//! trimming, comments, and the functions docker offers (`json`, `index`, `len`, `join`,
//! `split`, `upper`, `lower`, `title`, `pad`, `truncate`, `print`, `printf`, `println`, `eq`,
//! `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`).
//!
//! Values print with Go's `%v`: slices as `[a b]`, maps as `map[k:v]` (sorted keys), JSON null
//! as `<nil>`, and a missing field as `<no value>`.

use serde_json::{Number, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template parsing error: {0}")]
    Parse(String),
    #[error("template execution error: {0}")]
    Exec(String),
}

fn parse_err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::Parse(msg.into()))
}

fn exec_err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::Exec(msg.into()))
}

const FUNCTIONS: &[&str] = &[
    "json", "index", "len", "join", "split", "upper", "lower", "title", "pad", "truncate", "print",
    "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
];

// ---------------------------------------------------------------------------------------------
// Lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
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
enum Piece {
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

fn split_pieces(src: &str) -> Result<Vec<Piece>, TemplateError> {
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

// ---------------------------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone)]
enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Sub(Pipeline),
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Debug, Clone, Default)]
struct Pipeline {
    decl: Vec<String>,
    /// `=` rather than `:=`.
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    If,
    With,
    Range,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    Branch {
        kind: Kind,
        pipe: Pipeline,
        body: Vec<Node>,
        else_body: Vec<Node>,
    },
}

enum Terminator {
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

struct Parser {
    pieces: std::vec::IntoIter<Piece>,
}

impl Parser {
    fn parse_list(&mut self) -> Result<(Vec<Node>, Option<Terminator>), TemplateError> {
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

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parser = Parser {
            pieces: split_pieces(text)?.into_iter(),
        };
        let (nodes, term) = parser.parse_list()?;
        match term {
            None => Ok(Template { nodes }),
            Some(Terminator::End) => parse_err("unexpected {{end}}"),
            Some(Terminator::Else(_)) => parse_err("unexpected {{else}}"),
        }
    }

    /// Executes the template over `data`.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut exec = Exec {
            root: data,
            vars: vec![("$".to_string(), Some(data.clone()))],
        };
        let mut out = String::new();
        exec.run(&self.nodes, &Some(data.clone()), &mut out)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Execution

/// A value during execution; `None` is Go's "no value" (a missing map key).
type Val = Option<Value>;

struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Val)>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn walk(mut val: Val, chain: &[String]) -> Result<Val, TemplateError> {
    for name in chain {
        val = match val {
            Some(Value::Object(map)) => map.get(name).cloned(),
            None | Some(Value::Null) => None,
            Some(other) => {
                return exec_err(format!(
                    "can't evaluate field {name} in type {}",
                    type_name(&other)
                ))
            }
        };
    }
    Ok(val)
}

/// Go's `%v` of a decoded JSON value.
pub fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_format(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn print_val(v: &Val) -> String {
    match v {
        None => "<no value>".into(),
        Some(v) => go_format(v),
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

impl Exec<'_> {
    fn run(&mut self, nodes: &[Node], dot: &Val, out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.eval_pipe(pipe, dot, true)?;
                    if pipe.decl.is_empty() {
                        out.push_str(&print_val(&v));
                    }
                }
                Node::Branch {
                    kind,
                    pipe,
                    body,
                    else_body,
                } => {
                    let mark = self.vars.len();
                    match kind {
                        Kind::If => {
                            let v = self.eval_pipe(pipe, dot, true)?;
                            let branch = if truthy(&v) { body } else { else_body };
                            self.run(branch, dot, out)?;
                        }
                        Kind::With => {
                            let v = self.eval_pipe(pipe, dot, true)?;
                            if truthy(&v) {
                                self.run(body, &v, out)?;
                            } else {
                                self.run(else_body, dot, out)?;
                            }
                        }
                        Kind::Range => self.range(pipe, body, else_body, dot, out)?,
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn range(
        &mut self,
        pipe: &Pipeline,
        body: &[Node],
        else_body: &[Node],
        dot: &Val,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let v = self.eval_pipe(pipe, dot, false)?;
        let items: Vec<(Value, Value)> = match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Value::Number(Number::from(i as u64)), e))
                .collect(),
            Some(Value::Object(m)) => {
                let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect()
            }
            Some(Value::Number(n)) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0))
                .map(|i| {
                    (
                        Value::Number(Number::from(i)),
                        Value::Number(Number::from(i)),
                    )
                })
                .collect(),
            Some(other) => {
                return exec_err(format!("range can't iterate over {}", go_format(&other)))
            }
        };
        if items.is_empty() {
            return self.run(else_body, dot, out);
        }
        for (key, elem) in items {
            let mark = self.vars.len();
            match pipe.decl.as_slice() {
                [v] => self.vars.push((v.clone(), Some(elem.clone()))),
                [k, v] => {
                    self.vars.push((k.clone(), Some(key)));
                    self.vars.push((v.clone(), Some(elem.clone())));
                }
                _ => {}
            }
            self.run(body, &Some(elem), out)?;
            self.vars.truncate(mark);
        }
        Ok(())
    }

    fn eval_pipe(
        &mut self,
        pipe: &Pipeline,
        dot: &Val,
        declare: bool,
    ) -> Result<Val, TemplateError> {
        let mut prev: Option<Val> = None;
        for cmd in &pipe.cmds {
            prev = Some(self.eval_cmd(cmd, dot, prev)?);
        }
        let v = prev.unwrap_or(None);
        if declare && !pipe.decl.is_empty() {
            let name = &pipe.decl[0];
            if pipe.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return exec_err(format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn eval_cmd(&mut self, cmd: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, TemplateError> {
        match &cmd.args[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(cmd.args.len());
                for a in &cmd.args[1..] {
                    args.push(self.eval_arg(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                call(name, args)
            }
            first => {
                if cmd.args.len() > 1 || piped.is_some() {
                    return exec_err("can't give argument to non-function");
                }
                self.eval_arg(first, dot)
            }
        }
    }

    fn eval_arg(&mut self, arg: &Arg, dot: &Val) -> Result<Val, TemplateError> {
        match arg {
            Arg::Field(chain) => walk(dot.clone(), chain),
            Arg::Var(name, chain) => {
                let base = if name == "$" {
                    Some(self.root.clone())
                } else {
                    match self.vars.iter().rev().find(|(n, _)| n == name) {
                        Some((_, v)) => v.clone(),
                        None => return exec_err(format!("undefined variable: {name}")),
                    }
                };
                walk(base, chain)
            }
            Arg::Lit(v) => Ok(Some(v.clone())),
            Arg::Func(name) => call(name, Vec::new()),
            Arg::Sub(p) => self.eval_pipe(p, dot, false),
        }
    }
}

fn want_args(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return exec_err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn as_str(name: &str, v: &Val) -> Result<String, TemplateError> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => exec_err(format!(
            "error calling {name}: expected string; found {}",
            go_format(other)
        )),
        None => exec_err(format!(
            "error calling {name}: expected string; found no value"
        )),
    }
}

fn as_int(name: &str, v: &Val) -> Result<i64, TemplateError> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| TemplateError::Exec(format!("error calling {name}: bad integer"))),
        _ => exec_err(format!("error calling {name}: expected integer")),
    }
}

fn compare(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Some(Value::String(x)), Some(Value::String(y))) => Some(x.cmp(y)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => Some(x.cmp(y)),
        _ => None,
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Value::Number(_)), Some(Value::Number(_))) => {
            compare(a, b) == Some(std::cmp::Ordering::Equal)
        }
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        _ => a == b,
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "json" => {
            want_args(name, &args, 1)?;
            let v = args[0].clone().unwrap_or(Value::Null);
            s(serde_json::to_string(&v).unwrap_or_default())
        }
        "index" => {
            if args.is_empty() {
                return exec_err("wrong number of args for index: want at least 1 got 0");
            }
            let mut item = args[0].clone();
            for idx in &args[1..] {
                item = match (&item, idx) {
                    (Some(Value::Array(a)), Some(Value::Number(n))) => {
                        let i = n.as_i64().unwrap_or(-1);
                        if i < 0 || i as usize >= a.len() {
                            return exec_err(format!(
                                "error calling index: index out of range: {i}"
                            ));
                        }
                        Some(a[i as usize].clone())
                    }
                    (Some(Value::Object(m)), Some(Value::String(k))) => {
                        Some(m.get(k).cloned().unwrap_or(Value::Null))
                    }
                    (Some(Value::String(st)), Some(Value::Number(n))) => {
                        let i = n.as_i64().unwrap_or(-1);
                        match st.as_bytes().get(i.max(0) as usize) {
                            Some(b) if i >= 0 => Some(Value::Number(Number::from(*b))),
                            _ => {
                                return exec_err(format!(
                                    "error calling index: index out of range: {i}"
                                ))
                            }
                        }
                    }
                    (None | Some(Value::Null), _) => {
                        return exec_err("error calling index: index of untyped nil")
                    }
                    (Some(v), i) => {
                        return exec_err(format!(
                            "error calling index: cannot index {} with {}",
                            type_name(v),
                            print_val(i)
                        ))
                    }
                };
            }
            Ok(item)
        }
        "len" => {
            want_args(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::String(st)) => st.len(),
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(o)) => o.len(),
                other => {
                    return exec_err(format!(
                        "error calling len: len of type {}",
                        other.as_ref().map(type_name).unwrap_or("nil")
                    ))
                }
            };
            Ok(Some(Value::Number(Number::from(n as u64))))
        }
        "join" => {
            want_args(name, &args, 2)?;
            let sep = as_str(name, &args[1])?;
            match &args[0] {
                Some(Value::Array(a)) => s(a.iter().map(go_format).collect::<Vec<_>>().join(&sep)),
                None | Some(Value::Null) => s(String::new()),
                Some(other) => s(go_format(other)),
            }
        }
        "split" => {
            want_args(name, &args, 2)?;
            let text = as_str(name, &args[0])?;
            let sep = as_str(name, &args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Some(Value::Array(parts)))
        }
        "upper" => {
            want_args(name, &args, 1)?;
            s(as_str(name, &args[0])?.to_uppercase())
        }
        "lower" => {
            want_args(name, &args, 1)?;
            s(as_str(name, &args[0])?.to_lowercase())
        }
        "title" => {
            want_args(name, &args, 1)?;
            s(title_case(&as_str(name, &args[0])?))
        }
        "pad" => {
            want_args(name, &args, 3)?;
            let text = as_str(name, &args[0])?;
            let before = as_int(name, &args[1])?.max(0) as usize;
            let after = as_int(name, &args[2])?.max(0) as usize;
            s(format!("{}{text}{}", " ".repeat(before), " ".repeat(after)))
        }
        "truncate" => {
            want_args(name, &args, 2)?;
            let text = as_str(name, &args[0])?;
            let n = as_int(name, &args[1])?.max(0) as usize;
            s(text.chars().take(n).collect())
        }
        "print" => s(go_sprint(&args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(print_val).collect();
            s(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            if args.is_empty() {
                return exec_err("wrong number of args for printf: want at least 1 got 0");
            }
            let fmt = as_str(name, &args[0])?;
            s(go_sprintf(&fmt, &args[1..]))
        }
        "eq" => {
            if args.len() < 2 {
                return exec_err("wrong number of args for eq: want at least 2");
            }
            let hit = args[1..].iter().any(|b| equal(&args[0], b));
            Ok(Some(Value::Bool(hit)))
        }
        "ne" => {
            want_args(name, &args, 2)?;
            Ok(Some(Value::Bool(!equal(&args[0], &args[1]))))
        }
        "lt" | "le" | "gt" | "ge" => {
            want_args(name, &args, 2)?;
            let Some(ord) = compare(&args[0], &args[1]) else {
                return exec_err(format!(
                    "error calling {name}: incompatible types for comparison"
                ));
            };
            use std::cmp::Ordering::*;
            let r = match name {
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            };
            Ok(Some(Value::Bool(r)))
        }
        "and" => {
            if args.is_empty() {
                return exec_err("wrong number of args for and");
            }
            for a in &args {
                if !truthy(a) {
                    return Ok(a.clone());
                }
            }
            Ok(args[args.len() - 1].clone())
        }
        "or" => {
            if args.is_empty() {
                return exec_err("wrong number of args for or");
            }
            for a in &args {
                if truthy(a) {
                    return Ok(a.clone());
                }
            }
            Ok(args[args.len() - 1].clone())
        }
        "not" => {
            want_args(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        other => exec_err(format!("function {other:?} not defined")),
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Some(Value::String(_)));
        if i > 0 && !is_str && !matches!(args[i - 1], Some(Value::String(_))) {
            out.push(' ');
        }
        out.push_str(&print_val(a));
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %t %x %f %%`, with `-`,
/// `0`, width and precision.
fn go_sprintf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let text = match (verb, arg) {
            ('v' | 's', v) => {
                let t = print_val(v);
                match precision {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            ('d', Some(Value::Number(n))) => match n.as_i64() {
                Some(i) => i.to_string(),
                None => format!("%!d(float64={n})"),
            },
            ('q', Some(Value::String(st))) => serde_json::to_string(st).unwrap_or_default(),
            ('t', Some(Value::Bool(b))) => b.to_string(),
            ('x', Some(Value::Number(n))) => match n.as_i64() {
                Some(i) => format!("{i:x}"),
                None => format!("%!x(float64={n})"),
            },
            ('x', Some(Value::String(st))) => st.bytes().map(|b| format!("{b:02x}")).collect(),
            ('f', Some(Value::Number(n))) => {
                format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            (verb, v) => format!(
                "%!{verb}({}={})",
                v.as_ref().map(type_name).unwrap_or("<nil>"),
                print_val(v)
            ),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len >= width {
            out.push_str(&text);
        } else if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(width - len));
        } else if zero && matches!(verb, 'd' | 'f' | 'x') {
            let (sign, digits) = match text.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", text.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&text);
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| {
                format!(
                    "{}={}",
                    a.as_ref().map(type_name).unwrap_or("<nil>"),
                    print_val(a)
                )
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Value {
        json!({
            "Id": "sha256:0123456789abcdef",
            "RepoTags": ["busybox:latest", "busybox:1.36"],
            "RepoDigests": [],
            "Size": 4264123,
            "Parent": "",
            "Config": {
                "Env": ["PATH=/usr/bin:/bin", "A=b"],
                "Cmd": ["sh"],
                "Labels": {"z": "1", "a": "x y"},
                "Entrypoint": null,
                "Volumes": {},
                "ArgsEscaped": true
            },
            "RootFS": {"Type": "layers", "Layers": ["sha256:aa", "sha256:bb"]}
        })
    }

    fn render(t: &str) -> String {
        Template::parse(t).unwrap().render(&image()).unwrap()
    }

    #[test]
    fn fields_and_text() {
        assert_eq!(render("{{.Id}}"), "sha256:0123456789abcdef");
        assert_eq!(
            render("id={{.Id}} size={{.Size}}!"),
            "id=sha256:0123456789abcdef size=4264123!"
        );
        assert_eq!(render("{{.RootFS.Type}}"), "layers");
        assert_eq!(render("{{ .Config.ArgsEscaped }}"), "true");
        assert_eq!(render("{{.Parent}}|"), "|");
    }

    #[test]
    fn go_value_formatting() {
        assert_eq!(render("{{.Config.Env}}"), "[PATH=/usr/bin:/bin A=b]");
        assert_eq!(render("{{.Config.Labels}}"), "map[a:x y z:1]");
        assert_eq!(render("{{.Config.Volumes}}"), "map[]");
        assert_eq!(render("{{.RepoDigests}}"), "[]");
        assert_eq!(render("{{.Config.Entrypoint}}"), "<nil>");
        assert_eq!(render("{{.Missing}}"), "<no value>");
        assert_eq!(render("{{.Missing.Deeper}}"), "<no value>");
        assert_eq!(render("{{.Config.Entrypoint.X}}"), "<no value>");
        assert!(render("{{.}}").starts_with("map[Config:map[ArgsEscaped:true"));
    }

    #[test]
    fn functions() {
        assert_eq!(render("{{json .Config.Cmd}}"), r#"["sh"]"#);
        assert_eq!(render("{{json .Config.Labels}}"), r#"{"a":"x y","z":"1"}"#);
        assert_eq!(render("{{json .Missing}}"), "null");
        assert_eq!(render("{{index .RepoTags 0}}"), "busybox:latest");
        assert_eq!(render("{{index .Config.Labels \"z\"}}"), "1");
        assert_eq!(render("{{index .Config.Labels \"nope\"}}"), "<nil>");
        assert_eq!(render("{{len .RepoTags}}"), "2");
        assert_eq!(
            render("{{join .RepoTags \", \"}}"),
            "busybox:latest, busybox:1.36"
        );
        assert_eq!(render("{{upper .RootFS.Type}}"), "LAYERS");
        assert_eq!(render("{{.RootFS.Type | upper}}"), "LAYERS");
        assert_eq!(render("{{title \"hello world\"}}"), "Hello World");
        assert_eq!(
            render("{{printf \"%s=%d\" .RootFS.Type .Size}}"),
            "layers=4264123"
        );
        assert_eq!(
            render("{{printf \"%-8s|%5d|%05d\" \"ab\" 42 -7}}"),
            "ab      |   42|-0007"
        );
        assert_eq!(render("{{printf \"%q\" .RootFS.Type}}"), "\"layers\"");
        assert_eq!(render("{{index (split .Id \":\") 1}}"), "0123456789abcdef");
        assert_eq!(render("{{truncate .Id 6}}"), "sha256");
        assert_eq!(render("{{pad .RootFS.Type 1 2}}|"), " layers  |");
        assert_eq!(render("{{print 1 2 \"a\" 3}}"), "1 2a3");
        assert_eq!(render("{{len (index .Config \"Env\")}}"), "2");
    }

    #[test]
    fn control_structures() {
        assert_eq!(
            render("{{range .RepoTags}}{{.}} {{end}}"),
            "busybox:latest busybox:1.36 "
        );
        assert_eq!(
            render("{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}"),
            "0=busybox:latest;1=busybox:1.36;"
        );
        assert_eq!(
            render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}"),
            "a:x y,z:1,"
        );
        assert_eq!(render("{{range .RepoDigests}}x{{else}}none{{end}}"), "none");
        assert_eq!(render("{{range .Missing}}x{{end}}"), "");
        assert_eq!(
            render("{{if .Parent}}p{{else}}no parent{{end}}"),
            "no parent"
        );
        assert_eq!(
            render("{{if eq .RootFS.Type \"x\"}}a{{else if eq .RootFS.Type \"layers\"}}b{{else}}c{{end}}"),
            "b"
        );
        assert_eq!(render("{{with .Config}}{{.Cmd}}{{end}}"), "[sh]");
        assert_eq!(render("{{with .Nope}}x{{else}}y{{end}}"), "y");
        assert_eq!(render("{{if and .Size (gt .Size 1000)}}big{{end}}"), "big");
        assert_eq!(render("{{if not .Parent}}root{{end}}"), "root");
        assert_eq!(
            render("{{range .RepoTags}}{{$.Size}} {{end}}"),
            "4264123 4264123 "
        );
        assert_eq!(render("{{$x := .Size}}{{$x}}"), "4264123");
        assert_eq!(render("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
        assert_eq!(render("{{if ne .Size 0}}nonzero{{end}}"), "nonzero");
        assert_eq!(render("{{if lt 1 2.5}}lt{{end}}"), "lt");
    }

    #[test]
    fn trimming_and_comments() {
        assert_eq!(render("a  {{- .RootFS.Type -}}  b"), "alayersb");
        assert_eq!(render("a {{/* hidden */}}b"), "a b");
        assert_eq!(render("a {{- /* hidden */ -}} b"), "ab");
        assert_eq!(
            render("{{range .RepoTags}}\n  {{- .}}\n{{end}}"),
            "busybox:latest\nbusybox:1.36\n"
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Template::parse("{{.Id"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{nosuchfunc .Id}}"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{if .Id}}x"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{end}}"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{}}"),
            Err(TemplateError::Parse(_))
        ));
        let t = Template::parse("{{.Id.Foo}}").unwrap();
        assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
        let t = Template::parse("{{index .RepoTags 5}}").unwrap();
        assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
        let t = Template::parse("{{.Id 1}}").unwrap();
        assert!(matches!(t.render(&image()), Err(TemplateError::Exec(_))));
    }
}
