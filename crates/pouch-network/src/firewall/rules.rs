//! The nftables document for a [`FirewallModel`]: the chains of our table and their rules,
//! built from the `nftables` crate's JSON types.
//!
//! ```text
//! table ip pouch
//!   chain prerouting   nat    hook prerouting  prio -100  policy accept
//!     [ip daddr H] tcp dport P fib daddr type local dnat to C:Q      (per port)*
//!   chain output       nat    hook output      prio -100  policy accept
//!     [ip daddr H] tcp dport P fib daddr type local dnat to C:Q      (per port)*
//!   chain postrouting  nat    hook postrouting prio 100   policy accept
//!     ct status dnat ip saddr S oifname D masquerade                  (per bridge*: hairpin)
//!     ip saddr 127.0.0.0/8 oifname D masquerade                       (per bridge*: localhost)
//!     ip saddr S oifname != D masquerade                              (per masquerading bridge*)
//!   chain forward      filter hook forward     prio 0     policy accept
//!     ct state established,related accept                            (when anything is dropped)
//!     iifname D oifname != D drop; oifname D iifname != D drop        (per internal bridge)
//!     iifname D oifname { other bridges } drop                        (per bridge*)
//! ```
//!
//! `*`: not for internal networks, which like Docker's publish no ports and are never
//! masqueraded. `H` is left out when the host address is `None` or 0.0.0.0.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::Ipv4Addr;

use nftables::batch::Batch;
use nftables::expr::{Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression};
use nftables::expr::{PayloadField, Prefix, SetItem, CT};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{Match, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::{FirewallModel, PortRule};
use crate::ipam::Ipv4Net;

pub(super) const PREROUTING: &str = "prerouting";
pub(super) const OUTPUT: &str = "output";
pub(super) const POSTROUTING: &str = "postrouting";
pub(super) const FORWARD: &str = "forward";

/// Priorities of the base chains: `dstnat`, `srcnat` and `filter`.
const DSTNAT: i32 = -100;
const SRCNAT: i32 = 100;
const FILTER: i32 = 0;

/// The batch that replaces table `ip <table>` with the rules of `m`.
pub(super) fn ruleset(table: &str, m: &FirewallModel) -> Nftables<'static> {
    let mut batch = Batch::new();
    // Adding first makes the delete succeed when the table is absent.
    batch.add(NfListObject::Table(table_obj(table)));
    batch.delete(NfListObject::Table(table_obj(table)));
    batch.add(NfListObject::Table(table_obj(table)));
    let chains = [
        (PREROUTING, NfChainType::NAT, NfHook::Prerouting, DSTNAT),
        (OUTPUT, NfChainType::NAT, NfHook::Output, DSTNAT),
        (POSTROUTING, NfChainType::NAT, NfHook::Postrouting, SRCNAT),
        (FORWARD, NfChainType::Filter, NfHook::Forward, FILTER),
    ];
    for (name, kind, hook, prio) in chains {
        batch.add(NfListObject::Chain(Chain {
            family: NfFamily::IP,
            table: owned(table),
            name: owned(name),
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }));
    }
    let add = |batch: &mut Batch<'static>, chain: &str, expr: Vec<Statement<'static>>| {
        batch.add(NfListObject::Rule(Rule {
            family: NfFamily::IP,
            table: owned(table),
            chain: owned(chain),
            expr: expr.into(),
            ..Rule::default()
        }));
    };
    // Like Docker, ports are not published into internal networks.
    let internal = |device: &str| m.bridges.iter().any(|b| b.internal && b.device == device);
    for p in m.ports.iter().filter(|p| !internal(&p.device)) {
        add(&mut batch, PREROUTING, dnat(p));
        add(&mut batch, OUTPUT, dnat(p));
    }
    for b in m.bridges.iter().filter(|b| !b.internal) {
        let subnet = prefix(b.subnet);
        let ct_dnat = matches(ct("status"), Operator::IN, string("dnat"));
        let hairpin = vec![
            ct_dnat,
            saddr(subnet.clone()),
            oifname(Operator::EQ, &b.device),
        ];
        add(
            &mut batch,
            POSTROUTING,
            with(hairpin, Statement::Masquerade(None)),
        );
        let localhost = prefix(Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8));
        let localhost = vec![saddr(localhost), oifname(Operator::EQ, &b.device)];
        add(
            &mut batch,
            POSTROUTING,
            with(localhost, Statement::Masquerade(None)),
        );
        if b.masquerade {
            let out = vec![saddr(subnet), oifname(Operator::NEQ, &b.device)];
            add(
                &mut batch,
                POSTROUTING,
                with(out, Statement::Masquerade(None)),
            );
        }
    }
    let drops = forward_drops(m);
    if !drops.is_empty() {
        let states = Expression::List(vec![string("established"), string("related")]);
        let established = vec![matches(ct("state"), Operator::IN, states)];
        add(
            &mut batch,
            FORWARD,
            with(established, Statement::Accept(None)),
        );
    }
    for d in drops {
        add(&mut batch, FORWARD, with(d, Statement::Drop(None)));
    }
    batch.to_nftables()
}

/// The batch that deletes table `ip <table>`, also when it does not exist.
pub(super) fn removal(table: &str) -> Nftables<'static> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(table_obj(table)));
    batch.delete(NfListObject::Table(table_obj(table)));
    batch.to_nftables()
}

/// `[ip daddr H] <proto> dport P fib daddr type local dnat to C:Q`
fn dnat(p: &PortRule) -> Vec<Statement<'static>> {
    let mut expr = Vec::with_capacity(4);
    if let Some(ip) = p.host_ip.filter(|ip| !ip.is_unspecified()) {
        expr.push(matches(
            payload("ip", "daddr"),
            Operator::EQ,
            string(&ip.to_string()),
        ));
    }
    let port = Expression::Number(u32::from(p.host_port));
    expr.push(matches(
        payload(p.proto.as_str(), "dport"),
        Operator::EQ,
        port,
    ));
    let fib = Fib {
        result: FibResult::Type,
        flags: HashSet::from([FibFlag::Daddr]),
    };
    let fib = Expression::Named(NamedExpression::Fib(fib));
    expr.push(matches(fib, Operator::EQ, string("local")));
    expr.push(Statement::DNAT(Some(NAT {
        addr: Some(string(&p.container_ip.to_string())),
        family: None,
        port: Some(Expression::Number(u32::from(p.container_port))),
        flags: None,
    })));
    expr
}

/// The match parts of the forward chain's drop rules: internal networks first (in and out),
/// then isolation between the other bridges.
fn forward_drops(m: &FirewallModel) -> Vec<Vec<Statement<'static>>> {
    let mut drops = Vec::new();
    let mut internal: Vec<&str> = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    for b in &m.bridges {
        let list = if b.internal { &mut internal } else { &mut open };
        if !list.contains(&b.device.as_str()) {
            list.push(&b.device);
        }
    }
    for d in &internal {
        drops.push(vec![iifname(Operator::EQ, d), oifname(Operator::NEQ, d)]);
        drops.push(vec![oifname(Operator::EQ, d), iifname(Operator::NEQ, d)]);
    }
    for d in &open {
        let others: Vec<&str> = open.iter().copied().filter(|o| o != d).collect();
        let target = match others.as_slice() {
            [] => continue,
            [one] => string(one),
            many => {
                let items = many.iter().map(|o| SetItem::Element(string(o))).collect();
                Expression::Named(NamedExpression::Set(items))
            }
        };
        let to_others = matches(meta(MetaKey::Oifname), Operator::EQ, target);
        drops.push(vec![iifname(Operator::EQ, d), to_others]);
    }
    drops
}

fn with(mut expr: Vec<Statement<'static>>, verdict: Statement<'static>) -> Vec<Statement<'static>> {
    expr.push(verdict);
    expr
}

fn table_obj(table: &str) -> Table<'static> {
    Table {
        family: NfFamily::IP,
        name: owned(table),
        handle: None,
    }
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn string(s: &str) -> Expression<'static> {
    Expression::String(owned(s))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn payload(protocol: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(
        nftables::expr::Payload::PayloadField(PayloadField {
            protocol: owned(protocol),
            field: owned(field),
        }),
    ))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn ct(key: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: owned(key),
        family: None,
        dir: None,
    }))
}

fn prefix(net: Ipv4Net) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(string(&net.network().to_string())),
        len: u32::from(net.prefix),
    }))
}

fn saddr(net: Expression<'static>) -> Statement<'static> {
    matches(payload("ip", "saddr"), Operator::EQ, net)
}

fn iifname(op: Operator, device: &str) -> Statement<'static> {
    matches(meta(MetaKey::Iifname), op, string(device))
}

fn oifname(op: Operator, device: &str) -> Statement<'static> {
    matches(meta(MetaKey::Oifname), op, string(device))
}
