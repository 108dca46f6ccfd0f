//! What the embedded resolver does with one DNS message: answer it from the registry, or
//! hand it to the upstreams, or ignore it. Pure functions over bytes (parsing and encoding
//! through `hickory-proto`), so every rule is unit-tested without sockets.
//!
//! Docker's rules (libnetwork `resolver.go`): A for a known name → its addresses (TTL 600,
//! authoritative, addresses rotated between answers); AAAA or MX for a known name → an empty
//! NOERROR answer; PTR for a known address → its name; anything else is forwarded and, when
//! no upstream answers, SERVFAIL. The resolver itself never says NXDOMAIN.

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::registry::{normalize, DnsRegistry};

/// Time to live of the answers from the registry, as Docker's resolver gives them.
pub(crate) const TTL: u32 = 600;

/// The largest UDP payload this server advertises in its EDNS answers.
const EDNS_PAYLOAD: u16 = 1232;

/// How a query arrived, which decides whether an answer must fit a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// What to do with a received message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Relay the query to the upstreams; send `servfail` when none of them answers.
    Forward { servfail: Vec<u8> },
    /// Not something to answer (a response, a header cut short, no question).
    Drop,
}

/// Decides what to do with `query`, answering from `registry` for `networks`. `turn` rotates
/// the order of several addresses from one answer to the next.
pub(crate) fn handle(
    query: &[u8],
    transport: Transport,
    registry: &DnsRegistry,
    networks: &[String],
    turn: usize,
) -> Action {
    // A header is 12 bytes; the QR bit set means a response, which a server never answers.
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return Action::Drop;
    }
    let Ok(msg) = Message::from_vec(query) else {
        return Action::Reply(header_only(query, ResponseCode::FormErr));
    };
    let Some(question) = msg.queries.first() else {
        return Action::Drop;
    };
    let forward = || Action::Forward {
        servfail: reply(&msg, ResponseCode::ServFail, Vec::new(), transport)
            .unwrap_or_else(|| header_only(query, ResponseCode::ServFail)),
    };
    if msg.metadata.op_code != OpCode::Query || question.query_class() != DNSClass::IN {
        return forward();
    }
    let qname = question.name();
    let name = qname.to_ascii();
    let answers = match question.query_type() {
        RecordType::A => {
            let mut ips = registry.lookup(networks, &name);
            if ips.is_empty() {
                return forward();
            }
            let n = turn % ips.len();
            ips.rotate_left(n);
            ips.into_iter()
                .map(|ip| Record::from_rdata(qname.clone(), TTL, RData::A(A(ip))))
                .collect()
        }
        RecordType::AAAA | RecordType::MX => {
            if registry.lookup(networks, &name).is_empty() {
                return forward();
            }
            Vec::new()
        }
        RecordType::PTR => {
            let Some(host) = reverse_ip(&name).and_then(|ip| registry.name_of(networks, ip)) else {
                return forward();
            };
            let Ok(target) = Name::from_ascii(format!("{host}.")) else {
                return forward();
            };
            vec![Record::from_rdata(
                qname.clone(),
                TTL,
                RData::PTR(PTR(target)),
            )]
        }
        _ => return forward(),
    };
    match reply(&msg, ResponseCode::NoError, answers, transport) {
        Some(bytes) => Action::Reply(bytes),
        None => Action::Reply(header_only(query, ResponseCode::ServFail)),
    }
}

/// The response to `query` with `rcode` and `answers`: same id, question, RD and CD bits;
/// authoritative and recursion available as Docker's resolver sets them; an EDNS record
/// when the query had one. Over UDP an answer larger than the client accepts (512 bytes, or
/// its EDNS payload size) goes out truncated (TC set, no answers) so the client retries
/// over TCP.
fn reply(
    query: &Message,
    rcode: ResponseCode,
    answers: Vec<Record>,
    transport: Transport,
) -> Option<Vec<u8>> {
    let mut resp = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    resp.metadata.response_code = rcode;
    resp.metadata.authoritative = rcode == ResponseCode::NoError;
    resp.metadata.recursion_desired = query.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.checking_disabled = query.metadata.checking_disabled;
    resp.add_queries(query.queries.iter().cloned());
    resp.add_answers(answers);
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        resp.set_edns(edns);
    }
    let bytes = resp.to_vec().ok()?;
    if transport == Transport::Udp && bytes.len() > usize::from(query.max_payload()) {
        resp.answers.clear();
        resp.metadata.truncation = true;
        return resp.to_vec().ok();
    }
    Some(bytes)
}

/// A response made of the query's header alone (for a message that does not parse): the
/// id, the opcode and RD copied, QR and RA set, `rcode`, no records.
fn header_only(query: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut b = query[..12].to_vec();
    b[2] = 0x80 | (query[2] & 0x79);
    b[3] = 0x80 | rcode.low();
    b[4..12].fill(0);
    b
}

/// The address of a reverse name (`4.3.2.1.in-addr.arpa.` → 1.2.3.4).
fn reverse_ip(name: &str) -> Option<Ipv4Addr> {
    let name = normalize(name);
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in octets.iter_mut().rev() {
        *slot = parts.next()?.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// Test helpers shared with the server's tests: building queries and reading answers.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use hickory_proto::op::Query;

    pub(crate) fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    pub(crate) fn parse(bytes: &[u8]) -> Message {
        Message::from_vec(bytes).unwrap()
    }

    pub(crate) fn a_records(m: &Message) -> Vec<Ipv4Addr> {
        m.answers
            .iter()
            .filter_map(|r| match r.data {
                RData::A(A(ip)) => Some(ip),
                _ => None,
            })
            .collect()
    }

    /// A canned upstream answer to `query`: its id and question, one A record.
    pub(crate) fn upstream_answer(query: &[u8], ip: Ipv4Addr, rcode: ResponseCode) -> Vec<u8> {
        let q = parse(query);
        let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.recursion_available = true;
        m.add_queries(q.queries.iter().cloned());
        if rcode == ResponseCode::NoError {
            let name = q.queries[0].name().clone();
            m.add_answer(Record::from_rdata(name, 42, RData::A(A(ip))));
        }
        m.to_vec().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use hickory_proto::op::Query;

    fn registry() -> (DnsRegistry, Vec<String>) {
        let r = DnsRegistry::default();
        r.add("n1", "web", Ipv4Addr::new(172, 18, 0, 2));
        r.add("n2", "other", Ipv4Addr::new(172, 19, 0, 5));
        (r, vec!["n1".to_string()])
    }

    fn reply_of(action: Action) -> Message {
        match action {
            Action::Reply(b) => parse(&b),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn a_for_a_known_name_any_case_or_trailing_dot() {
        let (r, nets) = registry();
        for name in ["web", "web.", "WeB", "WEB."] {
            let m = reply_of(handle(
                &query(7, name, RecordType::A),
                Transport::Udp,
                &r,
                &nets,
                0,
            ));
            assert_eq!(m.metadata.id, 7);
            assert_eq!(m.metadata.message_type, MessageType::Response);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.metadata.authoritative && m.metadata.recursion_available);
            assert!(m.metadata.recursion_desired);
            assert_eq!(m.queries.len(), 1);
            assert_eq!(a_records(&m), vec![Ipv4Addr::new(172, 18, 0, 2)]);
            assert_eq!(m.answers[0].ttl, TTL);
            // The answer carries the name as asked.
            assert_eq!(m.answers[0].name.to_ascii(), m.queries[0].name().to_ascii());
        }
    }

    #[test]
    fn names_of_other_networks_and_unknown_names_are_forwarded() {
        let (r, nets) = registry();
        for (name, qtype) in [
            ("other", RecordType::A),
            ("example.com", RecordType::A),
            ("example.com", RecordType::AAAA),
            ("web", RecordType::TXT),
            ("2.0.18.172.in-addr.arpa", RecordType::SOA),
        ] {
            let q = query(9, name, qtype);
            let Action::Forward { servfail } = handle(&q, Transport::Udp, &r, &nets, 0) else {
                panic!("{name} {qtype} was not forwarded");
            };
            let m = parse(&servfail);
            assert_eq!(m.metadata.id, 9);
            assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
            assert_eq!(m.queries, parse(&q).queries);
            assert!(m.answers.is_empty());
        }
        // The other network's name once the server answers for it too.
        let both = vec!["n1".to_string(), "n2".to_string()];
        let m = reply_of(handle(
            &query(1, "other", RecordType::A),
            Transport::Udp,
            &r,
            &both,
            0,
        ));
        assert_eq!(a_records(&m), vec![Ipv4Addr::new(172, 19, 0, 5)]);
    }

    #[test]
    fn aaaa_and_mx_for_a_known_name_are_empty_noerror() {
        let (r, nets) = registry();
        for qtype in [RecordType::AAAA, RecordType::MX] {
            let m = reply_of(handle(
                &query(3, "Web", qtype),
                Transport::Udp,
                &r,
                &nets,
                0,
            ));
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.answers.is_empty());
            assert_eq!(m.queries[0].query_type(), qtype);
        }
    }

    #[test]
    fn ptr_for_a_known_address() {
        let (r, nets) = registry();
        let m = reply_of(handle(
            &query(4, "2.0.18.172.in-addr.arpa.", RecordType::PTR),
            Transport::Udp,
            &r,
            &nets,
            0,
        ));
        assert_eq!(m.answers.len(), 1);
        match &m.answers[0].data {
            RData::PTR(PTR(n)) => assert_eq!(n.to_ascii(), "web."),
            other => panic!("not a PTR: {other:?}"),
        }
        let unknown = query(4, "9.0.18.172.in-addr.arpa.", RecordType::PTR);
        assert!(matches!(
            handle(&unknown, Transport::Udp, &r, &nets, 0),
            Action::Forward { .. }
        ));
        assert_eq!(
            reverse_ip("4.3.2.1.in-addr.arpa."),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(reverse_ip("3.2.1.in-addr.arpa"), None);
        assert_eq!(reverse_ip("5.4.3.2.1.in-addr.arpa"), None);
        assert_eq!(reverse_ip("web"), None);
    }

    #[test]
    fn several_addresses_rotate_and_truncate_over_udp_only() {
        let r = DnsRegistry::default();
        let nets = vec!["n".to_string()];
        let all: Vec<Ipv4Addr> = (1..=60).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        for ip in &all {
            r.add("n", "svc", *ip);
        }
        let q = query(5, "svc", RecordType::A);
        // 60 records do not fit 512 bytes: truncated over UDP, whole over TCP.
        let udp = reply_of(handle(&q, Transport::Udp, &r, &nets, 0));
        assert!(udp.metadata.truncation);
        assert!(udp.answers.is_empty());
        let tcp = reply_of(handle(&q, Transport::Tcp, &r, &nets, 0));
        assert!(!tcp.metadata.truncation);
        assert_eq!(a_records(&tcp), all);
        let turned = reply_of(handle(&q, Transport::Tcp, &r, &nets, 61));
        assert_eq!(a_records(&turned)[0], all[1]);
        assert_eq!(a_records(&turned).len(), 60);
    }

    #[test]
    fn edns_is_answered_with_edns_and_a_larger_payload_fits() {
        let r = DnsRegistry::default();
        let nets = vec!["n".to_string()];
        for i in 1..=60 {
            r.add("n", "svc", Ipv4Addr::new(10, 0, 0, i));
        }
        let mut m = Message::new(11, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("svc").unwrap(),
            RecordType::A,
        ));
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        m.set_edns(edns);
        let resp = reply_of(handle(&m.to_vec().unwrap(), Transport::Udp, &r, &nets, 0));
        assert!(!resp.metadata.truncation);
        assert_eq!(resp.answers.len(), 60);
        assert_eq!(resp.edns.map(|e| e.max_payload()), Some(EDNS_PAYLOAD));
    }

    #[test]
    fn responses_short_and_empty_messages_are_dropped_garbage_is_formerr() {
        let (r, nets) = registry();
        let mut resp = query(6, "web", RecordType::A);
        resp[2] |= 0x80;
        assert_eq!(handle(&resp, Transport::Udp, &r, &nets, 0), Action::Drop);
        assert_eq!(
            handle(&[0u8; 5], Transport::Udp, &r, &nets, 0),
            Action::Drop
        );
        let empty = Message::new(8, MessageType::Query, OpCode::Query)
            .to_vec()
            .unwrap();
        assert_eq!(handle(&empty, Transport::Udp, &r, &nets, 0), Action::Drop);
        // A header that promises a question that is not there.
        let garbage = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        let m = reply_of(handle(&garbage, Transport::Udp, &r, &nets, 0));
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert!(m.metadata.recursion_desired);
    }
}
