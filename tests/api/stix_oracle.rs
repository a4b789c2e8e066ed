//! `stix/` held against the OASIS tools: SCO ids against python `stix2` 3.0.2
//! (`tests/oracle/sco_ids.py`), and one object of every type we build against
//! `stix2-validator` 3.2.0 in strict mode (`tests/oracle/validate.py`).

use harpoon::stix::objects::{
    Artifact, Bundle, DomainName, EmailAddr, EmailMessage, ExternalReference, File, Grouping, HashAlgorithm,
    Hashes, Identity, Indicator, IntrusionSet, Ipv4Addr, Ipv6Addr, KillChainPhase, MarkingDefinition,
    MimePart, Note, ObservedData, Relationship, Report, Sdo, Sighting, StixObject, Url, Vulnerability,
};
use harpoon::stix::{Pattern, PatternTerm, StixId, StixTimestamp, Tlp, Tlp1, Tlp2};
use serde_json::{Value, json};

use crate::oracle;

const MD5: &str = "5d41402abc4b2a76b9719d911017c592";
const SHA1: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
const SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const SHA512: &str = "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";

/// Python's id for each object (or its refusal), in order.
fn python_ids(objects: &[Value]) -> Vec<Result<String, String>> {
    let out = oracle::run("sco_ids.py", &json!({ "objects": objects }));
    out["results"]
        .as_array()
        .expect("sco_ids.py returns results")
        .iter()
        .map(|r| match r["id"].as_str() {
            Some(id) => Ok(id.to_owned()),
            None => Err(r["error"].to_string()),
        })
        .collect()
}

/// SCOs as JSON (type included, no id): the table both implementations compute ids for.
fn sco_table() -> Vec<Value> {
    let directory = "directory--9c2f1b5a-3b8e-5f44-9a1d-6a1b0b2c3d4e";
    let from = "email-addr--89f52ea8-d6ef-51e9-8fce-6a29236436ed";
    let ip_src = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd";
    let ip_dst = "ipv4-addr--5853f6a4-638f-5b4e-9b0f-ded361ae3812";
    vec![
        // url
        json!({"type": "url", "value": "https://example.com/"}),
        json!({"type": "url", "value": "http://evil.example/login.php?user=a&next=%2Fhome&x=1#frag"}),
        json!({"type": "url", "value": "https://xn--bcher-kva.example/pfad?q=ä&ß=ü"}),
        json!({"type": "url", "value": "http://evil.example/it's \"quoted\"\\back"}),
        json!({"type": "url", "value": "https://例え.テスト/パス?キー=値"}),
        json!({"type": "url", "value": "https://evil.example/🎣?a=b&c=<script>"}),
        json!({"type": "url", "value": "http://evil.example/line\nbreak\ttab\u{1f}unit\u{7f}del"}),
        json!({"type": "url", "value": "http://evil.example/\u{2028}sep/\u{feff}bom/\u{e9}"}),
        // domain-name
        json!({"type": "domain-name", "value": "x.example"}),
        json!({"type": "domain-name", "value": "xn--bcher-kva.example"}),
        json!({"type": "domain-name", "value": "bücher.example"}),
        json!({"type": "domain-name", "value": "EVIL.Example"}),
        json!({"type": "domain-name", "value": "пример.рф"}),
        json!({"type": "domain-name", "value": "xn--e1afmkfd.xn--p1ai"}),
        // ipv4-addr
        json!({"type": "ipv4-addr", "value": "198.51.100.7"}),
        json!({"type": "ipv4-addr", "value": "198.51.100.0/24"}),
        json!({"type": "ipv4-addr", "value": "10.0.0.1/32"}),
        // ipv6-addr
        json!({"type": "ipv6-addr", "value": "2001:db8::1"}),
        json!({"type": "ipv6-addr", "value": "2001:0db8:0000:0000:0000:0000:0000:0001"}),
        json!({"type": "ipv6-addr", "value": "2001:DB8::1"}),
        json!({"type": "ipv6-addr", "value": "fe80::1%eth0"}),
        json!({"type": "ipv6-addr", "value": "2001:db8::/32"}),
        json!({"type": "ipv6-addr", "value": "::ffff:192.0.2.1"}),
        // email-addr
        json!({"type": "email-addr", "value": "ceo@x.example"}),
        json!({"type": "email-addr", "value": "Ceo@X.Example", "display_name": "Jöhn \"CEO\" Doe"}),
        json!({"type": "email-addr", "value": "用户@例子.广告"}),
        // file
        json!({"type": "file", "hashes": {"MD5": MD5}}),
        json!({"type": "file", "hashes": {"MD5": MD5, "SHA-256": SHA256}}),
        json!({"type": "file", "hashes": {"SHA-256": SHA256}}),
        json!({"type": "file", "hashes": {"SHA-1": SHA1, "SHA-512": SHA512}}),
        json!({"type": "file", "hashes": {"SHA-512": SHA512}}),
        json!({"type": "file", "name": "invoice.pdf"}),
        json!({"type": "file", "name": "Rechnung_März.pdf.exe", "hashes": {"SHA-256": SHA256}}),
        json!({"type": "file", "name": "a.doc", "hashes": {"sha256": SHA256, "sha1": SHA1}}),
        json!({"type": "file", "name": "b.doc", "hashes": {"MD5": MD5.to_uppercase()}}),
        json!({"type": "file", "hashes": {"SHA3-256": SHA256}}),
        json!({"type": "file", "hashes": {"TLSH": format!("{SHA256}abcdef"), "SSDEEP": "3:a+JraNvsgzsVqSwHq9:tJuOgzsko"}}),
        json!({"type": "file", "name": "x.zip", "size": 1234, "mime_type": "application/zip"}),
        json!({"type": "file", "name": "run.exe", "parent_directory_ref": directory}),
        // artifact
        json!({"type": "artifact", "payload_bin": "aGVsbG8=", "hashes": {"MD5": MD5, "SHA-256": SHA256}}),
        json!({"type": "artifact", "payload_bin": "aGVsbG8="}),
        json!({"type": "artifact", "mime_type": "message/rfc822", "url": "https://x.example/raw.eml", "hashes": {"SHA-256": SHA256}}),
        // email-message
        json!({"type": "email-message", "is_multipart": false, "from_ref": from, "subject": "Invoice 4711", "body": "Please pay.\r\nThanks"}),
        json!({"type": "email-message", "is_multipart": false, "subject": "Überweisung – dringend! ✉"}),
        json!({"type": "email-message", "is_multipart": true, "from_ref": from}),
        json!({"type": "email-message", "is_multipart": false, "body": "He said \"click\" \\ here", "date": "2024-03-01T10:00:00Z"}),
        // the other SCO types, for the table's sake
        json!({"type": "mac-addr", "value": "d2:fb:49:24:37:18"}),
        json!({"type": "autonomous-system", "number": 64512, "name": "Example AS"}),
        json!({"type": "directory", "path": "C:\\Users\\Public"}),
        json!({"type": "mutex", "name": "__evil_mutex__"}),
        json!({"type": "software", "name": "Outlook", "vendor": "Microsoft", "version": "16.0"}),
        json!({"type": "user-account", "account_type": "windows-local", "user_id": "1001", "account_login": "jdoe"}),
        json!({"type": "windows-registry-key", "key": "HKEY_LOCAL_MACHINE\\Software\\Evil"}),
        json!({"type": "x509-certificate", "serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06"}),
        json!({"type": "network-traffic", "src_ref": ip_src, "dst_ref": ip_dst, "src_port": 49152, "dst_port": 443, "protocols": ["ipv4", "tcp"]}),
    ]
}

#[test]
fn stix_oracle_sco_ids_match_python_stix2() {
    let table = sco_table();
    let python = python_ids(&table);
    assert_eq!(python.len(), table.len());
    let mut compared = 0;
    for (object, theirs) in table.iter().zip(&python) {
        let object_type = object["type"].as_str().unwrap();
        let ours =
            StixId::sco(object_type, object).unwrap_or_else(|e| panic!("ours failed on {object}: {e}"));
        let theirs = theirs.as_ref().unwrap_or_else(|e| panic!("python refused {object}: {e}"));
        assert_eq!(ours.as_str(), theirs, "id of {object}");
        assert_eq!(ours.uuid().get_version_num(), 5, "{object}");
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} ids compared");
    eprintln!("compared {compared} SCO ids with python stix2");
}

#[test]
fn stix_oracle_sco_id_refusals_and_fallbacks_match_python_stix2() {
    let cases = [
        json!({"type": "file", "hashes": {"MD5": "xyz"}}),
        json!({"type": "file", "hashes": {"SHA-256": SHA1}}),
        json!({"type": "file", "hashes": {}}),
    ];
    for (object, theirs) in cases.iter().zip(python_ids(&cases)) {
        assert!(theirs.is_err(), "python accepted {object}");
        assert!(StixId::sco("file", object).is_err(), "we accepted {object}");
    }
    // No contributing property: both fall back to a random UUIDv4 (STIX 2.1 §2.9).
    let object = json!({"type": "email-message", "is_multipart": false, "date": "2024-03-01T10:00:00Z"});
    let theirs = python_ids(std::slice::from_ref(&object)).remove(0).unwrap();
    let theirs = StixId::parse(&theirs).unwrap();
    let ours = StixId::sco("email-message", &object).unwrap();
    assert_eq!(theirs.uuid().get_version_num(), 4);
    assert_eq!(ours.uuid().get_version_num(), 4);
}

/// Realistic SCOs of a reported phish, built with the typed builders.
struct Phish {
    from: EmailAddr,
    to: EmailAddr,
    cc: EmailAddr,
    raw: Artifact,
    attachment: File,
    message: EmailMessage,
    url: Url,
    domain: DomainName,
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    internal_host: Ipv4Addr,
    idn_url: Url,
    idn_domain: DomainName,
    punycode_domain: DomainName,
}

fn phish() -> Phish {
    let from = EmailAddr::new("ceo@evil-example.com").unwrap().with_display_name("Jane \"CEO\" Doe");
    let to = EmailAddr::new("accounts@acme.example").unwrap();
    let cc = EmailAddr::new("juergen.mueller@acme.example").unwrap();
    let raw = Artifact::from_bytes(
        b"From: ceo@evil-example.com\r\nSubject: Invoice\r\n\r\nPlease pay.\r\n",
        Some("message/rfc822"),
    )
    .unwrap();
    let attachment = File::attachment("Invoice_4711.pdf.exe", "application/pdf", b"MZ\x90\x00fake").unwrap();
    let mut message = EmailMessage::new(true)
        .from(&from)
        .unwrap()
        .to(&to)
        .unwrap()
        .cc(&cc)
        .unwrap()
        .raw(&raw)
        .unwrap()
        .with_subject("Überweisung – Invoice 4711")
        .with_header("X-Mailer", "Microsoft Outlook 16.0")
        .with_header("Reply-To", "pay@evil-example.com");
    message.date = Some(StixTimestamp::parse("2024-03-01T09:15:00+01:00").unwrap());
    message.message_id = Some("<4711@evil-example.com>".to_owned());
    message.content_type = Some("multipart/mixed; boundary=\"b1\"".to_owned());
    message.received_lines = vec!["from mail.evil-example.com (203.0.113.9) by mx.acme.example".to_owned()];
    message.body_multipart = vec![
        MimePart {
            body: Some("Please pay the attached invoice today.".to_owned()),
            content_type: Some("text/plain; charset=utf-8".to_owned()),
            ..MimePart::default()
        },
        MimePart {
            body_raw_ref: Some(attachment.id().unwrap()),
            content_type: Some("application/pdf".to_owned()),
            content_disposition: Some("attachment; filename=\"Invoice_4711.pdf.exe\"".to_owned()),
            ..MimePart::default()
        },
    ];
    let ipv4 = Ipv4Addr::new("203.0.113.9").unwrap();
    let ipv6 = Ipv6Addr::new("2001:db8::9").unwrap();
    let domain = DomainName::new("evil-example.com")
        .unwrap()
        .resolves_to(&ipv4.id().unwrap())
        .unwrap()
        .resolves_to(&ipv6.id().unwrap())
        .unwrap();
    let url = Url::from_iri("https://evil-example.com/pay?invoice=4711&it's=\"now\"").unwrap();
    let idn_url = Url::from_iri("https://bücher.example/straße?q=ä ö#teil").unwrap();
    let idn_domain = DomainName::new("bücher.example").unwrap();
    let punycode_domain = DomainName::new("xn--bcher-kva.example").unwrap();
    let internal_host = Ipv4Addr::new("10.1.2.3").unwrap();
    Phish {
        from,
        to,
        cc,
        raw,
        attachment,
        message,
        url,
        domain,
        ipv4,
        ipv6,
        internal_host,
        idn_url,
        idn_domain,
        punycode_domain,
    }
}

impl Phish {
    fn objects(&self) -> Vec<StixObject> {
        vec![
            self.from.clone().into(),
            self.to.clone().into(),
            self.cc.clone().into(),
            self.raw.clone().into(),
            self.attachment.clone().into(),
            self.message.clone().into(),
            self.url.clone().into(),
            self.domain.clone().into(),
            self.ipv4.clone().into(),
            self.ipv6.clone().into(),
            self.internal_host.clone().into(),
            self.idn_url.clone().into(),
            self.idn_domain.clone().into(),
            self.punycode_domain.clone().into(),
        ]
    }
}

#[test]
fn stix_oracle_builder_sco_ids_match_python_stix2() {
    let objects: Vec<Value> = phish().objects().iter().map(|o| o.to_value().unwrap()).collect();
    let python = python_ids(&objects);
    for (object, theirs) in objects.iter().zip(python) {
        let theirs = theirs.unwrap_or_else(|e| panic!("python refused {object}: {e}"));
        assert_eq!(object["id"].as_str().unwrap(), theirs, "id of {object}");
    }
}

fn ts(text: &str) -> StixTimestamp {
    StixTimestamp::parse(text).unwrap()
}

/// One of every object type we build (with the optional properties Harpoon fills), plus the
/// variants that matter: each pattern kind, a revoked version, every TLP definition.
fn every_object() -> Vec<StixObject> {
    let p = phish();
    let created = ts("2024-03-01T10:00:00.123Z");
    let mut objects = p.objects();

    let org = Identity::organization("ACME Corp").unwrap().created_at(created);
    let org = Identity {
        description: Some("The organisation running Harpoon".to_owned()),
        sectors: vec!["financial-services".to_owned()],
        contact_information: Some("soc@acme.example".to_owned()),
        roles: vec!["security-operations".to_owned()],
        ..org
    };
    let org_id = org.id().clone();
    objects.push(org.into());
    for tlp in Tlp::all() {
        objects.push(tlp.definition().into());
    }
    objects.push(
        MarkingDefinition::statement("Copyright 2024 ACME Corp", created)
            .unwrap()
            .created_by(&org_id)
            .unwrap()
            .into(),
    );

    let indicators = indicators_of_every_pattern_kind(&p, created, &org_id);
    let first = indicators.first().unwrap().clone();
    objects.extend(indicators.into_iter().map(StixObject::from));
    let revoked = first.revoke(ts("2024-03-02T00:00:00Z")).unwrap();
    objects.push(revoked.into());
    let (observed_id, set_id) = observation_and_intrusion_set(&p, created, &org_id, &mut objects);

    let relationships = [
        Relationship::based_on(first.id(), &observed_id).unwrap(),
        Relationship::resolves_to(&p.domain.id().unwrap(), &p.ipv4.id().unwrap()).unwrap(),
        Relationship::resolves_to(&p.domain.id().unwrap(), &p.ipv6.id().unwrap()).unwrap(),
        Relationship::related_to(&p.url.id().unwrap(), &p.domain.id().unwrap()).unwrap(),
        Relationship::indicates(first.id(), &set_id).unwrap(),
    ];
    for r in relationships {
        let r = Relationship {
            description: Some("found by Harpoon".to_owned()),
            start_time: Some(ts("2024-03-01T00:00:00Z")),
            stop_time: Some(ts("2024-03-02T00:00:00Z")),
            ..r.created_at(created).created_by(&org_id).unwrap()
        };
        objects.push(r.into());
    }

    objects.extend(sighting_note_and_vulnerability(first.id(), &observed_id, &org_id, created));

    let refs: Vec<StixId> = objects.iter().map(|o| o.id().unwrap()).collect();
    let mut report = Report::spearphish("Spear-phish 2024-03-01: Invoice 4711", created, refs.clone())
        .unwrap()
        .created_at(created)
        .created_by(&org_id)
        .unwrap()
        .with_tlp(Tlp::V2(Tlp2::AmberStrict));
    report.description = Some("Reported by 3 employees".to_owned());
    let grouping = Grouping::suspicious_activity("Triage: Invoice 4711", refs)
        .unwrap()
        .created_at(created)
        .created_by(&org_id)
        .unwrap();
    objects.push(report.into());
    objects.push(grouping.into());
    objects
}

/// One indicator per pattern kind, with every optional property Harpoon fills.
fn indicators_of_every_pattern_kind(p: &Phish, created: StixTimestamp, org_id: &StixId) -> Vec<Indicator> {
    let sha256 = p.attachment.hashes.get(HashAlgorithm::Sha256).unwrap().to_owned();
    let patterns = [
        Pattern::new(PatternTerm::domain_name("evil-example.com").unwrap()),
        Pattern::new(PatternTerm::url(&p.url.value).unwrap()),
        Pattern::new(PatternTerm::file_hash(HashAlgorithm::Sha256, &sha256).unwrap())
            .or(PatternTerm::file_hash(HashAlgorithm::Md5, MD5).unwrap())
            .or(PatternTerm::file_hash(HashAlgorithm::Sha1, SHA1).unwrap())
            .or(PatternTerm::file_hash(HashAlgorithm::Sha512, SHA512).unwrap()),
        Pattern::new(PatternTerm::file_name(r"C:\Users\it's\Invoice_4711.pdf.exe").unwrap()),
        Pattern::new(PatternTerm::ipv4("203.0.113.9").unwrap())
            .or(PatternTerm::ipv4("198.51.100.0/24").unwrap()),
        Pattern::any([
            PatternTerm::ipv6("2001:db8::9").unwrap(),
            PatternTerm::ipv6("2001:db8:1::/48").unwrap(),
        ])
        .unwrap(),
        Pattern::new(PatternTerm::email_addr("ceo@evil-example.com").unwrap()),
        Pattern::new(PatternTerm::email_from("ceo@evil-example.com").unwrap())
            .and(PatternTerm::email_subject("Überweisung – Invoice 4711").unwrap())
            .unwrap(),
    ];
    let mut indicators = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let indicator = Indicator::new(pattern, created)
            .unwrap()
            .created_at(created)
            .described(&format!("Spear-phish indicator {i}"), "Extracted from a reported spear-phish")
            .with_type("malicious-activity")
            .with_valid_until(ts("2024-06-01T00:00:00Z"))
            .unwrap()
            .created_by(org_id)
            .unwrap()
            .with_tlp(Tlp::V2(Tlp2::Amber))
            .with_confidence(85)
            .unwrap()
            .with_label("spearphish");
        let indicator = Indicator {
            kill_chain_phases: vec![KillChainPhase {
                kill_chain_name: "lockheed-martin-cyber-kill-chain".to_owned(),
                phase_name: "delivery".to_owned(),
            }],
            ..indicator
        };
        indicators.push(indicator);
    }
    indicators
}

/// The observed-data of a sighting and an intrusion set, pushed to `objects`: their ids.
fn observation_and_intrusion_set(
    p: &Phish,
    created: StixTimestamp,
    org_id: &StixId,
    objects: &mut Vec<StixObject>,
) -> (StixId, StixId) {
    let observed = ObservedData::new(
        ts("2024-03-01T11:00:00Z"),
        ts("2024-03-01T12:00:00Z"),
        3,
        vec![p.internal_host.id().unwrap(), p.ipv4.id().unwrap()],
    )
    .unwrap()
    .created_at(created)
    .created_by(org_id)
    .unwrap()
    .with_tlp(Tlp::V1(Tlp1::Green));
    let observed_id = observed.id().clone();
    objects.push(observed.into());

    let intrusion_set = IntrusionSet::new("Invoice Phishers").unwrap().created_at(created);
    let intrusion_set = IntrusionSet {
        description: Some("Financially motivated invoice fraud crew".to_owned()),
        aliases: vec!["TA-4711".to_owned()],
        first_seen: Some(ts("2023-01-01T00:00:00Z")),
        last_seen: Some(ts("2024-03-01T00:00:00Z")),
        goals: vec!["steal money".to_owned()],
        resource_level: Some("organization".to_owned()),
        primary_motivation: Some("personal-gain".to_owned()),
        secondary_motivations: vec!["organizational-gain".to_owned()],
        ..intrusion_set
    };
    let set_id = intrusion_set.id().clone();
    objects.push(intrusion_set.into());
    (observed_id, set_id)
}

/// A sighting of `first`, a note about it and a vulnerability.
fn sighting_note_and_vulnerability(
    first: &StixId,
    observed_id: &StixId,
    org_id: &StixId,
    created: StixTimestamp,
) -> Vec<StixObject> {
    let mut objects: Vec<StixObject> = Vec::new();
    let mut sighting = Sighting::new(first)
        .unwrap()
        .seen(3, ts("2024-03-01T11:00:00Z"), ts("2024-03-01T12:00:00Z"))
        .unwrap()
        .where_sighted(org_id)
        .unwrap()
        .observed(observed_id)
        .unwrap()
        .created_at(created)
        .created_by(org_id)
        .unwrap();
    sighting.description =
        Some("index=proxy dest=\"evil-example.com\" earliest=-30d | stats count by src".to_owned());
    objects.push(sighting.into());

    let mut note = Note::new("splunk-search found no hits in the last 30 days", vec![first.clone()])
        .unwrap()
        .created_at(created)
        .created_by(org_id)
        .unwrap();
    note.abstract_ = Some("No SIEM hits".to_owned());
    note.authors = vec!["Harpoon".to_owned()];
    objects.push(note.into());

    let cve = Vulnerability::cve("CVE-2023-23397")
        .unwrap()
        .created_at(created)
        .with_external_reference(
            ExternalReference::url(
                "nvd",
                "https://nvd.nist.gov/vuln/detail/CVE-2023-23397",
                Hashes::new().with(HashAlgorithm::Sha256, SHA256).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
    let cve = Vulnerability { description: Some("Outlook elevation of privilege".to_owned()), ..cve };
    objects.push(cve.into());
    objects
}

#[test]
fn stix_oracle_every_object_type_passes_the_strict_validator() {
    let objects = every_object();
    let values: Vec<Value> = objects.iter().map(|o| o.to_value().unwrap()).collect();

    let mut types: Vec<&str> = values.iter().map(|v| v["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    types.dedup();
    for expected in [
        "artifact",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "grouping",
        "identity",
        "indicator",
        "intrusion-set",
        "ipv4-addr",
        "ipv6-addr",
        "marking-definition",
        "note",
        "observed-data",
        "relationship",
        "report",
        "sighting",
        "url",
        "vulnerability",
    ] {
        assert!(types.contains(&expected), "no {expected} built");
    }

    let out = oracle::run("validate.py", &json!({ "objects": values }));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), values.len());
    let failures: Vec<String> = values
        .iter()
        .zip(results)
        .filter(|(_, r)| {
            r["valid"] != true
                || !r["errors"].as_array().unwrap().is_empty()
                || !r["warnings"].as_array().unwrap().is_empty()
        })
        .map(|(v, r)| format!("{v}\n  => {r}"))
        .collect();
    assert!(failures.is_empty(), "strict validation failed:\n{}", failures.join("\n"));
    eprintln!("{} objects of {} types passed strict validation", values.len(), types.len());

    let mut bundle = Bundle::new().unwrap();
    bundle.extend(objects).unwrap();
    let bundle = serde_json::to_value(&bundle).unwrap();
    let out = oracle::run("validate.py", &json!({ "bundle": bundle }));
    let result = &out["results"][0];
    assert_eq!(result["valid"], true, "bundle: {result}");
    assert_eq!(result["errors"], json!([]), "bundle: {result}");
    assert_eq!(result["warnings"], json!([]), "bundle: {result}");
}

#[test]
fn stix_oracle_invalid_objects_are_refused_by_both() {
    // What our builders refuse, the strict validator refuses too.
    let indicator = StixId::new_v4("indicator").unwrap();
    let domain = DomainName::new("x.example").unwrap().id().unwrap();
    assert!(Relationship::new("based-on", &indicator, &domain).is_err());
    let created = "2024-03-01T10:00:00.000Z";
    let based_on_sco = json!({
        "type": "relationship", "spec_version": "2.1",
        "id": StixId::new_v4("relationship").unwrap(),
        "created": created, "modified": created,
        "relationship_type": "based-on",
        "source_ref": indicator, "target_ref": domain,
    });
    // The validator's email shape is ASCII only, and a URL must be a URI.
    assert!(EmailAddr::new("jürgen@acme.example").is_err());
    assert!(Url::new("https://bücher.example/").is_err());
    let unicode_email = json!({"type": "email-addr", "spec_version": "2.1",
        "id": "email-addr--cf611764-ea34-545b-a962-475af5138a9c", "value": "jürgen@acme.example"});
    let iri = json!({"type": "url", "spec_version": "2.1",
        "id": "url--92630788-ab4f-551a-9fd0-52700c1a7a53", "value": "https://bücher.example/"});
    let out = oracle::run("validate.py", &json!({ "objects": [based_on_sco, unicode_email, iri] }));
    for result in out["results"].as_array().unwrap() {
        assert_eq!(result["valid"], false, "{out}");
    }
}
