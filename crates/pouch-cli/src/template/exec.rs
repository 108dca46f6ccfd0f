//! Execution: runs the node tree over a value, with variables, `.`-field walks and
//! pipelines.

use serde_json::{Number, Value};

use super::funcs::call;
use super::parse::{Arg, Cmd, Kind, Node, Pipeline};
use super::value::{go_format, print_val, truthy, type_name, Val};
use super::{exec_err, TemplateError};

pub(super) struct Exec<'a> {
    pub(super) root: &'a Value,
    pub(super) vars: Vec<(String, Val)>,
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

impl Exec<'_> {
    pub(super) fn run(
        &mut self,
        nodes: &[Node],
        dot: &Val,
        out: &mut String,
    ) -> Result<(), TemplateError> {
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
