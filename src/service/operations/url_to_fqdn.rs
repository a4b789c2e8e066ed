//! `url-to-fqdn`: a URL's host as a domain-name (or IP) indicator `related-to` the URL, and the
//! host's registered domain (public suffix + one label) `related-to` the host. Pure: the same
//! pivots run at commit when `operations.url_to_fqdn_at_commit` is set.

use super::{Findings, Node, OpError, OperationInfo, Subject};
use crate::extract::{IndicatorValue, ObservableKind};
use crate::service::indicators::Status;

pub const NAME: &str = "url-to-fqdn";

pub fn info() -> OperationInfo {
    OperationInfo {
        name: NAME.into(),
        description:
            "The URL's host as a domain (or IP) indicator related to the URL, and its registered domain"
                .into(),
        applies_to: vec!["url".into()],
        parameters: Vec::new(),
    }
}

/// The host and registered domain of a URL, as findings relative to the URL indicator.
pub fn pivots(url: &str) -> Findings {
    let mut f = Findings::default();
    let Some(host) = crate::extract::bundle::url_host(url) else {
        f.log.push(format!("{url} has no host"));
        return f;
    };
    for kind in [ObservableKind::Ipv4, ObservableKind::Ipv6] {
        if let Ok(ip) = IndicatorValue::parse(kind, &host) {
            f.observe(kind, &ip.value, Status::Review);
            f.relate(Node::Subject, "related-to", Node::Value(kind, ip.value.clone()));
            f.log.push(format!("host: {}", ip.value));
            return f;
        }
    }
    let Ok(domain) = IndicatorValue::parse(ObservableKind::Domain, &host) else {
        f.log.push(format!("the host '{host}' is not a domain name or IP address"));
        return f;
    };
    f.observe(ObservableKind::Domain, &domain.value, Status::Review);
    f.relate(Node::Subject, "related-to", Node::Value(ObservableKind::Domain, domain.value.clone()));
    f.log.push(format!("host: {}", domain.value));
    if let Some(registered) = domain.registered_domain.filter(|r| *r != domain.value) {
        // Context rather than evidence: the analyst decides whether the whole domain is hostile.
        f.observe(ObservableKind::Domain, &registered, Status::Indirect);
        f.relate(
            Node::Value(ObservableKind::Domain, domain.value.clone()),
            "related-to",
            Node::Value(ObservableKind::Domain, registered.clone()),
        );
        f.log.push(format!("registered domain: {registered}"));
    }
    f
}

pub fn run(subject: &Subject) -> Result<Findings, OpError> {
    Ok(pivots(&subject.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_registered_domain() {
        let f = pivots("http://secure-login.paypa1-verify.com/account/update.php");
        let values: Vec<&str> = f.observables.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(values, ["secure-login.paypa1-verify.com", "paypa1-verify.com"]);
        assert_eq!(f.relationships.len(), 2);
        let f = pivots("http://82.118.16.98:8080/x");
        assert_eq!(
            f.observables.first().map(|o| (o.kind, o.value.as_str())),
            Some((ObservableKind::Ipv4, "82.118.16.98"))
        );
        let f = pivots("http://paypa1-verify.com/");
        assert_eq!(f.observables.len(), 1, "a host that is its registered domain is kept once");
    }
}
