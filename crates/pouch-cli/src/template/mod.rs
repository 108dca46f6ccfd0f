//! A subset of Go's `text/template` for `--format`, evaluated over the JSON the daemon sends
//! (as docker's raw-JSON fallback does): `{{.Field.Sub}}`, `{{$}}`/`{{$var}}`, pipelines with
//! `|`, parenthesised calls, `if`/`else if`/`else`, `range` (with `$i, $e :=`), `with`, `{{- -}}`
//! trimming, comments, and the functions docker offers (`json`, `index`, `len`, `join`,
//! `split`, `upper`, `lower`, `title`, `pad`, `truncate`, `print`, `printf`, `println`, `eq`,
//! `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`).
//!
//! Values print with Go's `%v`: slices as `[a b]`, maps as `map[k:v]` (sorted keys), JSON null
//! as `<nil>`, and a missing field as `<no value>`.
//!
//! This module holds the error type and [`Template`]; the work is done by `lex` (source to
//! text pieces and action tokens), `parse` (tokens to a node tree), `exec` (the tree over a
//! value), `funcs` (the functions), `printf` (Go's `Sprint`/`Sprintf`) and `value` (how Go
//! sees JSON values: `%v`, truth, comparison).

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
#[cfg(test)]
mod tests;
mod value;

use serde_json::Value;

use exec::Exec;
use lex::split_pieces;
use parse::{Node, Parser, Terminator};
pub use value::go_format;

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
