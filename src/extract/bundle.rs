//! An extraction as a STIX 2.1 bundle (design.md §2): the reported message as `email-message`
//! with its raw bytes as `artifact`, its addresses as `email-addr`, attachments as `file`, the
//! proposed observables as SCOs (CVEs as `vulnerability`), and each URL `related-to` its host's
//! `domain-name`. Whitelisted values are context, not intelligence: they are left out, except a
//! redirect wrapper whose target is proposed (`related-to` it, so the analyst sees where it hid).
//! Pure: the caller passes the raw bytes it read.

use std::collections::HashSet;

use super::{Extraction, Mailbox, MessageInfo, ObservableKind, WhitelistReason};
use crate::stix::StixError;
use crate::stix::objects::{
    Artifact, Bundle, DomainName, EmailAddr, EmailMessage, File, HashAlgorithm, Hashes, Ipv4Addr, Ipv6Addr,
    Relationship, StixObject, Url, Vulnerability,
};

/// What could not be expressed in STIX (e.g. a non-ASCII address the strict validator refuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: String,
    pub why: String,
}

/// Builds one bundle from extractions of several inputs (an mbox gives many); objects with the
/// same id appear once.
pub fn to_bundle(inputs: &[(&[u8], &Extraction)]) -> Result<(Bundle, Vec<Skipped>), StixError> {
    let mut b = Builder { bundle: Bundle::new()?, seen: HashSet::new(), skipped: Vec::new() };
    for (raw, extraction) in inputs {
        b.add_extraction(raw, extraction)?;
    }
    Ok((b.bundle, b.skipped))
}

struct Builder {
    bundle: Bundle,
    seen: HashSet<String>,
    skipped: Vec<Skipped>,
}

impl Builder {
    /// Adds an object unless its id is already in; returns its id.
    fn add(&mut self, object: impl Into<StixObject>) -> Result<Option<crate::stix::StixId>, StixError> {
        let object = object.into();
        let id = object.id()?;
        if self.seen.insert(id.to_string()) {
            self.bundle.push(object)?;
        }
        Ok(Some(id))
    }

    /// Adds the object a builder made, or records why it could not be made.
    fn try_add<T: Into<StixObject>>(
        &mut self,
        what: &str,
        built: Result<T, StixError>,
    ) -> Result<Option<crate::stix::StixId>, StixError> {
        match built {
            Ok(object) => match self.add(object) {
                Ok(id) => Ok(id),
                Err(e) => self.skip(what, e),
            },
            Err(e) => self.skip(what, e),
        }
    }

    fn skip(&mut self, what: &str, e: StixError) -> Result<Option<crate::stix::StixId>, StixError> {
        self.skipped.push(Skipped { what: what.to_string(), why: e.to_string() });
        Ok(None)
    }

    fn address(&mut self, mailbox: &Mailbox) -> Result<Option<EmailAddr>, StixError> {
        let Some(address) = mailbox.address.as_deref() else { return Ok(None) };
        let built =
            EmailAddr::new(address).map(|a| match mailbox.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => a.with_display_name(name),
                None => a,
            });
        match built {
            Ok(a) => {
                self.add(a.clone())?;
                Ok(Some(a))
            }
            Err(e) => {
                self.skip(&format!("email-addr {address}"), e)?;
                Ok(None)
            }
        }
    }

    fn add_extraction(&mut self, raw: &[u8], x: &Extraction) -> Result<(), StixError> {
        if let Some(m) = x.reported() {
            self.add_email(raw, m, !x.attachments.is_empty())?;
        }
        for a in &x.attachments {
            let hashes = Hashes::new()
                .with(HashAlgorithm::Md5, &a.hashes.md5)
                .and_then(|h| h.with(HashAlgorithm::Sha1, &a.hashes.sha1))
                .and_then(|h| h.with(HashAlgorithm::Sha256, &a.hashes.sha256));
            let file = hashes.and_then(File::with_hashes).map(|mut f| {
                f.name = a.name.clone().filter(|n| !n.is_empty());
                f.size = Some(a.size);
                // Unregistered types (application/vnd.ms-outlook…) stay in the extraction only.
                f.mime_type =
                    a.mime_type.as_deref().and_then(crate::stix::media_types::registered).map(str::to_string);
                f
            });
            self.try_add(&format!("file {}", a.name.as_deref().unwrap_or("(unnamed)")), file)?;
        }
        let urls = self.add_proposed(x)?;
        self.add_wrappers(x, &urls)
    }

    /// The reported email as an `email-message` with its raw `artifact`.
    fn add_email(&mut self, raw: &[u8], m: &MessageInfo, multipart: bool) -> Result<(), StixError> {
        let mut email = EmailMessage::new(multipart);
        if let Some(from) = m.from.first()
            && let Some(a) = self.address(from)?
        {
            email = email.from(&a)?;
        }
        for mailbox in &m.to {
            if let Some(a) = self.address(mailbox)? {
                email = email.to(&a)?;
            }
        }
        for mailbox in &m.cc {
            if let Some(a) = self.address(mailbox)? {
                email = email.cc(&a)?;
            }
        }
        if let Some(subject) = &m.subject {
            email = email.with_subject(subject);
        }
        for (name, value) in [
            ("Date", &m.date),
            ("Message-ID", &m.message_id),
            ("X-Mailer", &m.x_mailer),
            ("User-Agent", &m.user_agent),
            ("X-Originating-IP", &m.x_originating_ip),
            ("Return-Path", &m.return_path),
        ] {
            if let Some(v) = value {
                email = email.with_header(name, v);
            }
        }
        match Artifact::from_bytes(raw, Some("message/rfc822")) {
            Ok(artifact) => {
                self.add(artifact.clone())?;
                email = email.raw(&artifact)?;
            }
            // An empty message (seen in an Outlook file) gets no artifact: STIX wants bytes.
            Err(e) => {
                self.skip("raw email artifact", e)?;
            }
        }
        // With neither From nor Subject STIX gives no deterministic (v5) id, which the strict
        // validator requires of an SCO: the raw artifact alone stands for the message then.
        if email.id()?.uuid().get_version_num() == 5 {
            self.try_add("email-message", Ok::<_, StixError>(email))?;
        } else {
            self.skipped.push(Skipped {
                what: "email-message".into(),
                why: "neither From nor Subject: no deterministic id".into(),
            });
        }
        Ok(())
    }

    /// The proposed values as SCOs (and a vulnerability for a CVE), each URL `related-to` its
    /// host's domain; returns the URLs added, with their ids.
    fn add_proposed(&mut self, x: &Extraction) -> Result<Vec<(String, crate::stix::StixId)>, StixError> {
        let mut domains: Vec<(String, crate::stix::StixId)> = Vec::new();
        let mut urls: Vec<(String, crate::stix::StixId)> = Vec::new();
        for o in x.proposed() {
            let v = &o.indicator.value;
            let what = format!("{} {v}", o.indicator.kind.as_str());
            let id = match o.indicator.kind {
                ObservableKind::Url => self.try_add(&what, Url::from_iri(v))?,
                ObservableKind::Domain => {
                    let id = self.try_add(&what, DomainName::new(v))?;
                    if let Some(id) = &id {
                        domains.push((v.clone(), id.clone()));
                    }
                    id
                }
                ObservableKind::Ipv4 => self.try_add(&what, Ipv4Addr::new(v))?,
                ObservableKind::Ipv6 => self.try_add(&what, Ipv6Addr::new(v))?,
                ObservableKind::Email => self.try_add(&what, EmailAddr::new(v))?,
                ObservableKind::Md5 => self.try_add(&what, file_hash(HashAlgorithm::Md5, v))?,
                ObservableKind::Sha1 => self.try_add(&what, file_hash(HashAlgorithm::Sha1, v))?,
                ObservableKind::Sha256 => self.try_add(&what, file_hash(HashAlgorithm::Sha256, v))?,
                ObservableKind::Sha512 => self.try_add(&what, file_hash(HashAlgorithm::Sha512, v))?,
                ObservableKind::Cve => self.try_add(&what, Vulnerability::cve(v))?,
            };
            if let (ObservableKind::Url, Some(id)) = (o.indicator.kind, id) {
                urls.push((v.clone(), id));
            }
        }
        for (url, url_id) in &urls {
            let Some(host) = url_host(url) else { continue };
            if let Some((_, domain_id)) = domains.iter().find(|(d, _)| *d == host) {
                self.try_add(&format!("related-to {url}"), Relationship::related_to(url_id, domain_id))?;
            }
        }
        Ok(urls)
    }

    /// A redirect wrapper is context, kept only to say where the proposed target was hidden:
    /// the wrapper URL `related-to` each target it decodes to.
    fn add_wrappers(
        &mut self,
        x: &Extraction,
        urls: &[(String, crate::stix::StixId)],
    ) -> Result<(), StixError> {
        for o in &x.observables {
            if o.whitelisted != Some(WhitelistReason::RedirectWrapper)
                || o.indicator.kind != ObservableKind::Url
            {
                continue;
            }
            let targets: Vec<&crate::stix::StixId> = o
                .unwraps_to
                .iter()
                .filter_map(|t| urls.iter().find(|(u, _)| u == t).map(|(_, id)| id))
                .collect();
            if targets.is_empty() {
                continue;
            }
            let v = &o.indicator.value;
            let Some(wrapper_id) = self.try_add(&format!("url {v}"), Url::from_iri(v))? else { continue };
            for target in targets {
                self.try_add(&format!("related-to {v}"), Relationship::related_to(&wrapper_id, target))?;
            }
        }
        Ok(())
    }
}

fn file_hash(algorithm: HashAlgorithm, value: &str) -> Result<File, StixError> {
    File::with_hashes(Hashes::new().with(algorithm, value)?)
}

/// The host of a URL, lower-cased, without user info or port.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("http://user@Evil.Example:8080/x?y#z").as_deref(), Some("evil.example"));
        assert_eq!(url_host("https://[2001:db8::1]:443/").as_deref(), Some("2001:db8::1"));
        assert_eq!(url_host("mailto:x@y"), None);
    }

    #[test]
    fn a_phish_becomes_a_bundle_with_related_urls() {
        let raw = b"From: \"Pay Pal\" <service@paypa1-secure.com>\r\nTo: victim@corp.com\r\n\
Subject: Verify your account\r\nMessage-ID: <1@paypa1-secure.com>\r\nDate: Tue, 29 Nov 2016 06:59:12 -0800\r\n\r\n\
Log in at http://login.paypa1-secure.com/verify?id=1 now.\r\n";
        let x = super::super::extract(raw, &super::super::ExtractOptions::default());
        let (bundle, _) = to_bundle(&[(raw.as_slice(), &x)]).expect("bundle");
        let json = serde_json::to_value(&bundle).expect("json");
        let types: Vec<&str> =
            json["objects"].as_array().expect("objects").iter().filter_map(|o| o["type"].as_str()).collect();
        for t in ["email-message", "artifact", "email-addr", "url", "domain-name", "relationship"] {
            assert!(types.contains(&t), "{t} missing from {types:?}");
        }
    }

    #[test]
    fn a_wrapper_is_related_to_its_target() {
        let raw = b"From: a@evil-sender.top\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n\
<a href=\"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwrapped.example.net%2Fx&amp;data=1\">x</a>";
        let x = super::super::extract(raw, &super::super::ExtractOptions::default());
        let (bundle, _) = to_bundle(&[(raw.as_slice(), &x)]).expect("bundle");
        let json = serde_json::to_value(&bundle).expect("json");
        let objects = json["objects"].as_array().expect("objects");
        let id_of = |v: &str| {
            objects.iter().find(|o| o["type"] == "url" && o["value"] == v).and_then(|o| o["id"].as_str())
        };
        let wrapper = id_of(
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwrapped.example.net%2Fx&data=1",
        );
        let target = id_of("https://wrapped.example.net/x");
        assert!(wrapper.is_some() && target.is_some(), "{objects:?}");
        assert!(objects.iter().any(|o| o["type"] == "relationship"
            && o["relationship_type"] == "related-to"
            && o["source_ref"].as_str() == wrapper
            && o["target_ref"].as_str() == target));
    }
}
