//! `nslookup` (hickory-resolver): for a domain its CNAME chain, A, AAAA and MX records; for an IP
//! its PTR names. Resolved addresses become Indirect indicators, the domain (or the last name of
//! its CNAME chain) `resolves-to` each; each CNAME link is a domain `resolves-to` domain; PTR
//! names become Indirect domains `related-to` the IP. MX hosts are listed in the run's output
//! (mail providers are shared: not indicators). NXDOMAIN, SERVFAIL and empty answers are notes
//! of a successful run; a server that never answers fails the run.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Name, ResolveError, ResolveErrorKind, TokioResolver};

use super::{Findings, Node, OpError, OperationInfo, Subject};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::ServiceError;
use crate::service::indicators::Status;
use crate::settings::NslookupSettings;

pub const NAME: &str = "nslookup";
/// Longest CNAME chain followed (real chains are 1-3 links; loops exist).
const MAX_CHAIN: usize = 8;

pub fn info() -> OperationInfo {
    OperationInfo {
        name: NAME.into(),
        description: "DNS: A, AAAA, CNAME chain and MX of a domain, PTR of an IP; addresses become Indirect indicators the domain resolves to".into(),
        applies_to: vec!["domain".into(), "ipv4".into(), "ipv6".into()],
        parameters: Vec::new(),
    }
}

/// The configured resolver.
#[derive(Debug, Clone)]
pub struct Nslookup {
    server: Option<SocketAddr>,
    timeout: Duration,
}

/// What one query came back with.
enum Answer {
    Records(Vec<RData>),
    /// The name does not exist.
    NxDomain,
    /// The name exists without records of this type.
    Empty,
    /// The server answered with an error code (SERVFAIL, REFUSED…).
    Code(ResponseCode),
    TimedOut,
    Other(String),
}

impl Nslookup {
    pub fn new(s: &NslookupSettings) -> Result<Self, ServiceError> {
        let server = match s.resolver.trim() {
            "" => None,
            text => Some(
                text.parse::<SocketAddr>()
                    .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| {
                        ServiceError::Invalid(format!(
                            "operations.nslookup.resolver '{text}' is not an IP address or IP:port"
                        ))
                    })?,
            ),
        };
        Ok(Self { server, timeout: Duration::from_secs(s.timeout_secs.max(1)) })
    }

    fn resolver(&self) -> Result<TokioResolver, OpError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = self.timeout;
        opts.attempts = 1;
        // Every run asks the server: a cached answer would hide a change the analyst looks for.
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        let builder = match self.server {
            Some(addr) => {
                let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                OpError::Failed(format!("cannot read the system resolver configuration: {e}"))
            })?,
        };
        Ok(builder.with_options(opts).build())
    }

    fn server_text(&self) -> String {
        self.server.map_or_else(|| "the system resolver".to_string(), |a| a.to_string())
    }

    pub async fn run(&self, subject: &Subject) -> Result<Findings, OpError> {
        let mut l = Lookup { resolver: self.resolver()?, f: Findings::default(), asked: 0, timeouts: 0 };
        l.f.log.push(format!("asked {}", self.server_text()));
        match subject.kind {
            ObservableKind::Ipv4 | ObservableKind::Ipv6 => {
                let ip: IpAddr = subject
                    .value
                    .parse()
                    .map_err(|_| OpError::Failed(format!("'{}' is not an IP address", subject.value)))?;
                l.ptr(ip, &subject.value).await;
            }
            _ => {
                let last = l.cname_chain(&subject.value).await?;
                l.addresses(&subject.value, &last).await?;
                l.mx(&subject.value).await?;
            }
        }
        if l.timeouts == l.asked {
            return Err(OpError::Failed(format!(
                "{} did not answer within {} s",
                self.server_text(),
                self.timeout.as_secs()
            )));
        }
        dedup(&mut l.f.notes);
        Ok(l.f)
    }
}

fn dedup(notes: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
}

/// One run's questions: what was found, and how many were asked and went unanswered.
struct Lookup {
    resolver: TokioResolver,
    f: Findings,
    asked: usize,
    timeouts: usize,
}

impl Lookup {
    async fn ask(&mut self, name: Name, rtype: RecordType) -> Answer {
        self.asked += 1;
        let answer = query(&self.resolver, name, rtype).await;
        self.timeouts += usize::from(matches!(answer, Answer::TimedOut));
        answer
    }

    /// The names an address points back to.
    async fn ptr(&mut self, ip: IpAddr, subject: &str) {
        match self.ask(Name::from(ip), RecordType::PTR).await {
            Answer::Records(records) => {
                for r in records {
                    if let RData::PTR(ptr) = r {
                        let name = ptr.0.to_ascii();
                        let name = name.trim_end_matches('.');
                        self.f.log.push(format!("PTR {name}"));
                        if let Ok(d) = IndicatorValue::parse(ObservableKind::Domain, name) {
                            self.f.observe(ObservableKind::Domain, &d.value, Status::Indirect);
                            self.f.relate(
                                Node::Subject,
                                "related-to",
                                Node::Value(ObservableKind::Domain, d.value),
                            );
                        }
                    }
                }
            }
            other => self.f.notes.push(describe(&other, subject, "PTR")),
        }
    }

    /// The CNAME chain, link by link; its last name.
    async fn cname_chain(&mut self, subject: &str) -> Result<Node, OpError> {
        let mut current = subject.to_owned();
        let mut chain: Vec<String> = Vec::new();
        while chain.len() < MAX_CHAIN {
            let answer = self.ask(fqdn(&current)?, RecordType::CNAME).await;
            let next = match &answer {
                Answer::Records(records) => records.iter().find_map(|r| match r {
                    RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
                    _ => None,
                }),
                _ => None,
            };
            let Some(next) = next.filter(|n| *n != current && !chain.contains(n)) else { break };
            let Ok(d) = IndicatorValue::parse(ObservableKind::Domain, &next) else { break };
            self.f.log.push(format!("{current} CNAME {}", d.value));
            self.f.observe(ObservableKind::Domain, &d.value, Status::Indirect);
            let source = node_of(&current, subject);
            self.f.relate(source, "resolves-to", Node::Value(ObservableKind::Domain, d.value.clone()));
            chain.push(d.value.clone());
            current = d.value;
        }
        Ok(node_of(&current, subject))
    }

    /// The name's addresses, each related to the end of its CNAME chain (`last`).
    async fn addresses(&mut self, subject: &str, last: &Node) -> Result<(), OpError> {
        for (rtype, label) in [(RecordType::A, "A"), (RecordType::AAAA, "AAAA")] {
            match self.ask(fqdn(subject)?, rtype).await {
                Answer::Records(records) => {
                    for r in records {
                        let ip = match r {
                            RData::A(a) => IpAddr::V4(a.0),
                            RData::AAAA(a) => IpAddr::V6(a.0),
                            _ => continue,
                        };
                        let kind = if ip.is_ipv4() { ObservableKind::Ipv4 } else { ObservableKind::Ipv6 };
                        self.f.log.push(format!("{label} {ip}"));
                        self.f.observe(kind, &ip.to_string(), Status::Indirect);
                        self.f.relate(last.clone(), "resolves-to", Node::Value(kind, ip.to_string()));
                    }
                }
                other => self.f.notes.push(describe(&other, subject, label)),
            }
        }
        Ok(())
    }

    /// Mail exchangers, logged only.
    async fn mx(&mut self, subject: &str) -> Result<(), OpError> {
        // A domain without mail is the common case: no note when there is none.
        if let Answer::Records(records) = self.ask(fqdn(subject)?, RecordType::MX).await {
            for r in records {
                if let RData::MX(mx) = r {
                    let host = mx.exchange().to_ascii();
                    self.f.log.push(format!("MX {} {}", mx.preference(), host.trim_end_matches('.')));
                }
            }
        }
        Ok(())
    }
}

fn node_of(name: &str, subject: &str) -> Node {
    if name == subject { Node::Subject } else { Node::Value(ObservableKind::Domain, name.to_string()) }
}

/// The name as fully qualified, so no search domain is ever appended.
fn fqdn(name: &str) -> Result<Name, OpError> {
    Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| OpError::Failed(format!("'{name}' is not a domain name: {e}")))
}

async fn query(resolver: &TokioResolver, name: Name, rtype: RecordType) -> Answer {
    match resolver.lookup(name, rtype).await {
        Ok(lookup) => {
            let records: Vec<RData> =
                lookup.record_iter().filter(|r| r.record_type() == rtype).map(|r| r.data().clone()).collect();
            if records.is_empty() { Answer::Empty } else { Answer::Records(records) }
        }
        Err(e) => classify(&e),
    }
}

fn classify(e: &ResolveError) -> Answer {
    let ResolveErrorKind::Proto(proto) = e.kind() else { return Answer::Other(e.to_string()) };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => match *response_code {
            ResponseCode::NXDomain => Answer::NxDomain,
            ResponseCode::NoError => Answer::Empty,
            code => Answer::Code(code),
        },
        ProtoErrorKind::Timeout => Answer::TimedOut,
        _ => Answer::Other(e.to_string()),
    }
}

fn describe(answer: &Answer, name: &str, label: &str) -> String {
    match answer {
        Answer::Records(_) => format!("{label} {name}: answered"),
        Answer::NxDomain => format!("{name} does not exist (NXDOMAIN)"),
        Answer::Empty => format!("{name} has no {label} record"),
        Answer::Code(code) => format!("{label} {name}: the server answered {code}"),
        Answer::TimedOut => format!("{label} {name}: no answer (timeout)"),
        Answer::Other(e) => format!("{label} {name}: {e}"),
    }
}
