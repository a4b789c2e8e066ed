//! Operations through the REST API: the seed investigation (a committed phish; url-to-fqdn; nslookup
//! against a DNS server this test runs on 127.0.0.1; splunk-search against a stand-in that speaks
//! Splunk's `search/jobs/export` over HTTPS with a certificate the operation trusts by `ca_file`;
//! the sighting served over TAXII and strictly valid), Splunk's failures, and script operations
//! that work, crash, hang or print garbage. Nothing here leaves 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, status_json};
use crate::triage::{
    PHISH_HOST, PHISH_IP, PHISH_URL, assert_strictly_valid, commit, import_id, indicator, phish, poll_active,
    report, set_status,
};

const PHISH_IPV6: &str = "2a01:4f8:c17:98::1";
const SPLUNK_TOKEN: &str = "splunk-token-for-tests";
pub(crate) const INTERNAL_HOST: &str = "10.20.30.40";

// ---- a DNS server on 127.0.0.1 ----------------------------------------------------------

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// The test zone: what an authoritative server for the phish's domains would answer.
fn zone(qname: &str, qtype: RecordType) -> (ResponseCode, Vec<Record>) {
    let rec = |n: &str, data: RData| Record::from_rdata(name(n), 300, data);
    let host = "secure-login.paypa1-verify.com.";
    match (qname.to_ascii_lowercase().as_str(), qtype) {
        (n, RecordType::A) if n == host => {
            (ResponseCode::NoError, vec![rec(host, RData::A(A(PHISH_IP.parse().unwrap())))])
        }
        (n, RecordType::AAAA) if n == host => {
            (ResponseCode::NoError, vec![rec(host, RData::AAAA(AAAA(PHISH_IPV6.parse().unwrap())))])
        }
        (n, _) if n == host => (ResponseCode::NoError, vec![]),
        ("www.paypa1-verify.com.", RecordType::CNAME) => {
            (ResponseCode::NoError, vec![rec("www.paypa1-verify.com.", RData::CNAME(CNAME(name(host))))])
        }
        ("www.paypa1-verify.com.", t @ (RecordType::A | RecordType::AAAA)) => {
            let (_, mut answers) = zone(host, t);
            answers.insert(0, rec("www.paypa1-verify.com.", RData::CNAME(CNAME(name(host)))));
            (ResponseCode::NoError, answers)
        }
        ("paypa1-verify.com.", RecordType::MX) => (
            ResponseCode::NoError,
            vec![rec("paypa1-verify.com.", RData::MX(MX::new(10, name("mail.paypa1-verify.com."))))],
        ),
        ("paypa1-verify.com.", _) => (ResponseCode::NoError, vec![]),
        ("98.16.118.82.in-addr.arpa.", RecordType::PTR) => (
            ResponseCode::NoError,
            vec![rec("98.16.118.82.in-addr.arpa.", RData::PTR(PTR(name("mail.paypa1-verify.com."))))],
        ),
        ("broken-dns-test.com.", _) => (ResponseCode::ServFail, vec![]),
        _ => (ResponseCode::NXDomain, vec![]),
    }
}

/// Answers every UDP query from [`zone`]; `answer: false` never answers (a dead resolver).
pub(crate) async fn dns_server(answer: bool) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
            if !answer {
                continue;
            }
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let Some(q) = query.queries().first().cloned() else { continue };
            let (code, answers) = zone(&q.name().to_ascii(), q.query_type());
            let mut response = Message::new();
            response
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_authoritative(true)
                .set_recursion_desired(query.recursion_desired())
                .set_recursion_available(true)
                .set_response_code(code)
                .add_query(q);
            response.add_answers(answers);
            let _ = socket.send_to(&response.to_bytes().unwrap(), peer).await;
        }
    });
    addr
}

// ---- a Splunk stand-in over HTTPS ---------------------------------------------------------

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    form: Vec<(String, String)>,
}

impl Seen {
    fn param(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Splunk {
    pub(crate) addr: SocketAddr,
    pub(crate) ca_file: std::path::PathBuf,
    pub(crate) token_file: std::path::PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    _dir: tempfile::TempDir,
}

/// The export endpoint as Splunk documents it: `POST /services/search/jobs/export` with a form
/// body; `output_mode=json` streams one JSON object per line (`preview`, `offset`, `result`, the
/// last with `lastrow`); errors are `{"messages":[{"type":..,"text":..}]}` with their status.
fn splunk_answer(seen: &Seen) -> (u16, String) {
    let fatal = |code: u16, kind: &str, text: &str| {
        (code, json!({ "messages": [{ "type": kind, "text": text }] }).to_string())
    };
    let expected = format!("Bearer {SPLUNK_TOKEN}");
    if seen.authorization.as_deref() != Some(expected.as_str()) {
        return fatal(401, "WARN", "call not properly authenticated");
    }
    if seen.method != "POST" || seen.path != "/services/search/jobs/export" {
        return fatal(404, "ERROR", "Not Found");
    }
    if seen.param("output_mode") != Some("json") {
        return (200, "<?xml version='1.0' encoding='UTF-8'?><results preview='0'></results>".into());
    }
    let search = seen.param("search").unwrap_or_default();
    if !search.starts_with("search ") {
        return fatal(
            400,
            "FATAL",
            "Error in 'SearchParser': the search must start with a generating command",
        );
    }
    if search.contains("bad-search-test.com") {
        return fatal(
            400,
            "FATAL",
            "Error in 'search' command: Unable to parse the search: unbalanced quotes",
        );
    }
    let now = chrono::Utc::now();
    let at =
        |hours: i64| (now - chrono::Duration::hours(hours)).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    if search.contains(&format!("\"{PHISH_IP}\"")) {
        let rows = [
            json!({ "_time": at(30), "src_ip": INTERNAL_HOST, "dest_ip": PHISH_IP, "dest_port": "443", "host": "fw-1", "sourcetype": "pan:traffic" }),
            json!({ "_time": at(20), "src_ip": INTERNAL_HOST, "dest_ip": PHISH_IP, "dest_port": "443", "host": "fw-1", "sourcetype": "pan:traffic" }),
            json!({ "_time": at(2), "src": "10.20.30.41", "dest": PHISH_IP, "host": "proxy-1", "sourcetype": "squid" }),
        ];
        let mut lines: Vec<String> = Vec::new();
        // A preview row first: the export stream may carry them; only final rows count.
        lines.push(json!({ "preview": true, "offset": 0, "result": rows[0] }).to_string());
        for (i, r) in rows.iter().enumerate() {
            let mut line = json!({ "preview": false, "offset": i, "result": r });
            if i == rows.len() - 1 {
                line["lastrow"] = json!(true);
            }
            lines.push(line.to_string());
        }
        return (200, lines.join("\n") + "\n");
    }
    // No event: the stream carries no result row.
    (200, json!({ "preview": false, "offset": 0, "lastrow": true }).to_string() + "\n")
}

async fn read_request(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<Seen> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path) = (request_line.next()?.to_string(), request_line.next()?.to_string());
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        })
    };
    let length: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = &data[head_end..(head_end + length).min(data.len())];
    let form = form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Some(Seen {
        method,
        path,
        authorization: header("authorization"),
        content_type: header("content-type"),
        form,
    })
}

pub(crate) async fn splunk_stand_in() -> Splunk {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let ca_file = dir.path().join("splunk-ca.pem");
    std::fs::write(&ca_file, cert.pem()).unwrap();
    let token_file = dir.path().join("splunk-token");
    std::fs::write(&token_file, format!("{SPLUNK_TOKEN}\n")).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Some(request) = read_request(&mut tls).await else { return };
                log.lock().unwrap().push(request.clone());
                if request.param("search").is_some_and(|s| s.contains("slow-splunk-test.com")) {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let (status, body) = splunk_answer(&request);
                let reason = match status {
                    200 => "OK",
                    400 => "Bad Request",
                    401 => "Unauthorized",
                    _ => "Not Found",
                };
                let response = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Splunk { addr, ca_file, token_file, seen, _dir: dir }
}

// ---- REST helpers -------------------------------------------------------------------------

async fn start_run(app: &TestApp, indicator_id: i64, op: &str, body: Value) -> Value {
    let (status, run) = status_json(
        app.as_admin(app.post(&format!("/api/v1/indicators/{indicator_id}/operations/{op}/runs")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert!(run["status"] == "queued" || run["status"] == "running", "{run}");
    run
}

/// Waits until the run has ended (polls its resource) and returns it.
async fn finished(app: &TestApp, run: &Value) -> Value {
    let id = run["id"].as_i64().unwrap();
    for _ in 0..600 {
        let (status, r) =
            status_json(app.as_admin(app.get(&format!("/api/v1/runs/{id}"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        if !matches!(r["status"].as_str(), Some("queued" | "running")) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} never ended");
}

async fn run_to_end(app: &TestApp, indicator_id: i64, op: &str, body: Value) -> Value {
    let run = start_run(app, indicator_id, op, body).await;
    finished(app, &run).await
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let (status, body) = status_json(app.as_admin(app.get(path)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// The relationships of an indicator as `(type, direction, other value)`.
async fn relations(app: &TestApp, id: i64) -> Vec<(String, String, String)> {
    let full = get_json(app, &format!("/api/v1/indicators/{id}")).await;
    full["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["relationship_type"].as_str().unwrap().to_string(),
                r["direction"].as_str().unwrap().to_string(),
                r["indicator"]["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn notes(run: &Value) -> String {
    run["output"]["notes"]
        .as_array()
        .map(|n| n.iter().map(|t| t.as_str().unwrap_or("")).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

/// Imports and commits an email whose body names these URLs; the app must whitelist nothing of them.
async fn commit_urls(app: &TestApp, tag: &str, urls: &[&str]) {
    let raw = format!(
        "From: x@phish-sender-test.com\r\nTo: bob@acme-corp.com\r\nSubject: {tag}\r\nMessage-ID: <{tag}@phish-sender-test.com>\r\n\r\nSee {}\r\n",
        urls.join(" and ")
    );
    let id = import_id(app, &raw).await;
    let (status, body) = commit(app, id, json!({})).await;
    assert!(status.is_success(), "{body}");
}

// ---- the seed investigation ---------------------------------------------------------------

#[tokio::test]
async fn the_seed_investigation_end_to_end() {
    let dns = dns_server(true).await;
    let splunk = splunk_stand_in().await;
    let (ca, token, url) = (
        splunk.ca_file.clone(),
        splunk.token_file.clone(),
        format!("https://127.0.0.1:{}", splunk.addr.port()),
    );
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.organisation.name = "ACME Corp".into();
        // The operation itself is what this test exercises.
        s.operations.url_to_fqdn_at_commit = false;
        s.operations.nslookup.resolver = dns.to_string();
        s.operations.splunk.url = url;
        s.security.ca_dir = ca.parent().map(|d| d.to_path_buf());
        s.operations.splunk.ca_file = Some(ca);
        s.operations.splunk.token_file = Some(token);
    })
    .await;
    let id = import_id(&app, &report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-alice"))).await;
    let (status, body) = commit(&app, id, json!({})).await;
    assert!(status.is_success(), "{body}");
    let url = indicator(&app, "url", PHISH_URL).await;

    // What applies to a URL: not nslookup.
    let ops = get_json(&app, &format!("/api/v1/indicators/{}/operations", id_of(&url))).await;
    let names: Vec<&str> = ops.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"url-to-fqdn") && names.contains(&"splunk-search"), "{ops}");
    assert!(!names.contains(&"nslookup"), "{ops}");
    let splunk_info = ops.as_array().unwrap().iter().find(|o| o["name"] == "splunk-search").unwrap();
    assert_eq!(
        splunk_info["parameters"][0],
        json!({ "name": "days", "type": "integer", "default": 7, "description": "Search the last N days" })
    );

    // url-to-fqdn: the host related to the URL, the registered domain related to the host.
    let run = run_to_end(&app, id_of(&url), "url-to-fqdn", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["started_by"], "admin");
    assert!(run["duration_ms"].is_i64() && run["finished_at"].is_string(), "{run}");
    let host = indicator(&app, "domain", PHISH_HOST).await;
    assert!(relations(&app, id_of(&url)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        PHISH_HOST.into()
    )));
    // The sender's domain was in the email already: merged, not created again.
    let registered = indicator(&app, "domain", "paypa1-verify.com").await;
    assert!(notes(&run).contains("registered domain: paypa1-verify.com"), "{run}");
    assert!(relations(&app, id_of(&host)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        "paypa1-verify.com".into()
    )));
    let full = get_json(&app, &format!("/api/v1/indicators/{}", id_of(&registered))).await;
    let provenance = format!("operation url-to-fqdn run {}", run["id"]);
    assert!(full["sources"].as_array().unwrap().iter().any(|s| s["source"] == provenance.as_str()), "{full}");

    // nslookup on the FQDN against the test's DNS server.
    let ops = get_json(&app, &format!("/api/v1/indicators/{}/operations", id_of(&host))).await;
    assert!(ops.as_array().unwrap().iter().any(|o| o["name"] == "nslookup"), "{ops}");
    let run = run_to_end(&app, id_of(&host), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let rels = relations(&app, id_of(&host)).await;
    assert!(rels.contains(&("resolves-to".into(), "outgoing".into(), PHISH_IP.into())), "{rels:?}");
    assert!(rels.contains(&("resolves-to".into(), "outgoing".into(), PHISH_IPV6.into())), "{rels:?}");
    // The IPv4 address was in the email already (Review, kept); the IPv6 one is new: Indirect.
    let ip = indicator(&app, "ipv4", PHISH_IP).await;
    assert_eq!(ip["status"], "review");
    let ipv6 = indicator(&app, "ipv6", PHISH_IPV6).await;
    assert_eq!(ipv6["status"], "indirect");
    assert_eq!(run["created"]["indicators"], json!([id_of(&ipv6)]), "{run}");
    assert!(notes(&run).contains(&format!("A {PHISH_IP}")), "{run}");

    // A CNAME chain is kept: www → secure-login → the addresses; MX listed; PTR for the IP.
    let run = run_to_end(&app, id_of(&registered), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains("MX 10 mail.paypa1-verify.com"), "{run}");
    assert!(notes(&run).contains("has no A record"), "{run}");
    let run = run_to_end(&app, id_of(&ip), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let mail = indicator(&app, "domain", "mail.paypa1-verify.com").await;
    assert!(relations(&app, id_of(&ip)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        "mail.paypa1-verify.com".into()
    )));
    // The mail host was in the Received header already (Review, kept).
    assert_eq!(mail["status"], "review");
    assert!(notes(&run).contains("PTR mail.paypa1-verify.com"), "{run}");

    // splunk-search on the URL: nothing (a note); what we sent is what Splunk documents.
    let run = run_to_end(&app, id_of(&url), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["created"]["sightings"], 0);
    assert_eq!(run["created"]["notes"], 1);
    assert!(notes(&run).contains("no events"), "{run}");
    {
        let seen = splunk.seen.lock().unwrap();
        let r = seen.last().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services/search/jobs/export"));
        assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {SPLUNK_TOKEN}").as_str()));
        assert_eq!(r.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(r.param("search"), Some(format!("search index=* \"{PHISH_URL}\" | head 1000").as_str()));
        assert_eq!(r.param("output_mode"), Some("json"));
        assert_eq!(r.param("earliest_time"), Some("-7d"));
        assert_eq!(r.param("latest_time"), Some("now"));
    }

    // splunk-search on the IP over 3 days: traffic from internal hosts, one sighting.
    let run = run_to_end(&app, id_of(&ip), "splunk-search", json!({ "parameters": { "days": 3 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["parameters"], json!({ "days": 3 }));
    assert_eq!(splunk.seen.lock().unwrap().last().unwrap().param("earliest_time"), Some("-3d"));
    assert_eq!(run["created"]["sightings"], 1, "{run}");
    assert_eq!(run["output"]["hosts"], json!([INTERNAL_HOST, "10.20.30.41"]), "{run}");
    assert_eq!(run["output"]["sample"].as_array().unwrap().len(), 3, "{run}");
    let sightings = get_json(&app, &format!("/api/v1/indicators/{}/sightings", id_of(&ip))).await;
    let s = &sightings[0];
    assert_eq!(s["count"], 3, "{sightings}");
    assert_eq!(s["hosts"], json!([INTERNAL_HOST, "10.20.30.41"]));
    assert_eq!(s["run_id"], run["id"]);
    assert!(s["description"].as_str().unwrap().contains(PHISH_IP));

    // Runs are listed on the indicator and across indicators, newest first.
    let runs = get_json(&app, &format!("/api/v1/indicators/{}/runs", id_of(&ip))).await;
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["operation"], "splunk-search");
    let recent = get_json(&app, "/api/v1/runs?limit=3").await;
    assert_eq!(recent.as_array().unwrap().len(), 3);
    assert_eq!(recent[0]["id"], run["id"]);

    // The IP becomes Active: its sighting (found before) is published with it over TAXII.
    set_status(&app, id_of(&ip), "active").await;
    let objects = poll_active(&app, "admin", crate::helpers::ADMIN_PASSWORD, None).await;
    let ip_stix = get_json(&app, &format!("/api/v1/indicators/{}", id_of(&ip))).await["stix_id"].clone();
    let sighting = objects.iter().find(|o| o["type"] == "sighting").expect("a sighting in active-indicators");
    assert_eq!(sighting["id"], s["stix_id"]);
    assert_eq!(sighting["sighting_of_ref"], ip_stix);
    assert_eq!(sighting["count"], 3);
    let identity = objects.iter().find(|o| o["type"] == "identity").unwrap();
    assert_eq!(identity["name"], "ACME Corp");
    assert_eq!(sighting["where_sighted_refs"], json!([identity["id"]]));
    let observed_id = &sighting["observed_data_refs"][0];
    let observed = objects.iter().find(|o| &o["id"] == observed_id).expect("the observed-data is served too");
    let hosts: Vec<&Value> = observed["object_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| objects.iter().find(|o| &o["id"] == r).expect("the host SCO is served too"))
        .collect();
    assert!(hosts.iter().any(|h| h["type"] == "ipv4-addr" && h["value"] == INTERNAL_HOST), "{hosts:?}");
    assert_strictly_valid(&objects);

    // A search on an Active indicator finding nothing is a STIX note about it.
    set_status(&app, id_of(&url), "active").await;
    let run = run_to_end(&app, id_of(&url), "splunk-search", json!({ "parameters": { "days": 1 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let url_stix = get_json(&app, &format!("/api/v1/indicators/{}", id_of(&url))).await["stix_id"].clone();
    let objects = poll_active(&app, "admin", crate::helpers::ADMIN_PASSWORD, None).await;
    let note = objects.iter().find(|o| o["type"] == "note").expect("a note in active-indicators");
    assert_eq!(note["object_refs"], json!([url_stix]));
    assert!(note["content"].as_str().unwrap().contains("no events"), "{note}");
    assert_strictly_valid(&objects);
}

// ---- failures -----------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_are_clear_errors() {
    let app = TestApp::spawn_with(|s| s.organisation.domains = vec!["acme-corp.com".into()]).await;
    commit_urls(&app, "bad-requests", &["http://login.phish-bad-request-test.com/x"]).await;
    let url = indicator(&app, "url", "http://login.phish-bad-request-test.com/x").await;
    let post = |path: String, body: &'static str| {
        app.as_admin(app.post(&path)).header("Content-Type", "application/json").body(body).send()
    };
    let base = format!("/api/v1/indicators/{}/operations", id_of(&url));
    for (path, body, want) in [
        (format!("{base}/nslookup/runs"), "{}", StatusCode::BAD_REQUEST),
        (format!("{base}/no-such-op/runs"), "{}", StatusCode::NOT_FOUND),
        (format!("{base}/url-to-fqdn/runs"), "{\"parameters\":{\"days\":1}}", StatusCode::BAD_REQUEST),
        (format!("{base}/url-to-fqdn/runs"), "not json", StatusCode::BAD_REQUEST),
        ("/api/v1/indicators/999999/operations/url-to-fqdn/runs".to_string(), "", StatusCode::NOT_FOUND),
    ] {
        let (status, problem) = status_json(post(path.clone(), body).await.unwrap()).await;
        assert_eq!(status, want, "{path} {body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem}");
    }
    // Without a body, a run starts; a reader may not start one; anonymous callers get 401.
    let (status, run) = status_json(post(format!("{base}/url-to-fqdn/runs"), "").await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let password = app.add_user("reader1", "reader").await;
    let resp = app
        .post(&format!("{base}/url-to-fqdn/runs"))
        .basic_auth("reader1", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&base).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/runs/424242").basic_auth("reader1", Some(&password)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Splunk is not configured here: not offered.
    let ops = get_json(&app, &base).await;
    assert!(!ops.as_array().unwrap().iter().any(|o| o["name"] == "splunk-search"), "{ops}");
    // At commit (the default), the URL's host and registered domain became indicators.
    let host = indicator(&app, "domain", "login.phish-bad-request-test.com").await;
    let registered = indicator(&app, "domain", "phish-bad-request-test.com").await;
    assert_eq!(registered["status"], "indirect");
    assert!(relations(&app, id_of(&host)).await.contains(&(
        "related-to".into(),
        "incoming".into(),
        "http://login.phish-bad-request-test.com/x".into()
    )));
}

#[tokio::test]
async fn dns_and_splunk_failures_are_clear_results() {
    let dns = dns_server(true).await;
    let silent = dns_server(false).await;
    let splunk = splunk_stand_in().await;
    let (ca, token, url) = (
        splunk.ca_file.clone(),
        splunk.token_file.clone(),
        format!("https://127.0.0.1:{}", splunk.addr.port()),
    );
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.nslookup.resolver = dns.to_string();
        s.operations.nslookup.timeout_secs = 1;
        s.operations.splunk.url = url;
        s.security.ca_dir = ca.parent().map(|d| d.to_path_buf());
        s.operations.splunk.ca_file = Some(ca);
        s.operations.splunk.token_file = Some(token);
        s.operations.splunk.timeout_secs = 1;
    })
    .await;
    commit_urls(
        &app,
        "failures",
        &[
            "http://nothing-here-test.com/a",
            "http://broken-dns-test.com/b",
            "http://bad-search-test.com/c",
            "http://slow-splunk-test.com/d",
        ],
    )
    .await;
    let domain = |v: &'static str| indicator(&app, "domain", v);
    // NXDOMAIN and SERVFAIL: the run succeeds and says so.
    let run = run_to_end(&app, id_of(&domain("nothing-here-test.com").await), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains("does not exist (NXDOMAIN)"), "{run}");
    assert_eq!(run["created"]["indicators"], json!([]));
    let run = run_to_end(&app, id_of(&domain("broken-dns-test.com").await), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).to_lowercase().contains("fail"), "SERVFAIL is named: {run}");
    // A bad search (400) and a search that outlives the timeout: failed, with Splunk's words.
    let bad = indicator(&app, "url", "http://bad-search-test.com/c").await;
    let run = run_to_end(&app, id_of(&bad), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("rejected the search (400)"), "{run}");
    assert!(run["error"].as_str().unwrap().contains("unbalanced quotes"), "{run}");
    let slow = indicator(&app, "url", "http://slow-splunk-test.com/d").await;
    let run = run_to_end(&app, id_of(&slow), "splunk-search", json!({})).await;
    assert!(run["status"] == "failed" || run["status"] == "timed_out", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("no answer within 1 s") || run["status"] == "timed_out",
        "{run}"
    );
    let run = run_to_end(&app, id_of(&bad), "splunk-search", json!({ "parameters": { "days": 0 } })).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("days must be 1-3650"), "{run}");
    let (status, _) = status_json(app.get("/healthz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    drop(app);

    // A DNS server that never answers, a wrong token (401), a dead Splunk, an untrusted certificate.
    let wrong_token = splunk._dir.path().join("wrong-token");
    std::fs::write(&wrong_token, "not-the-token").unwrap();
    let (ca, url) = (splunk.ca_file.clone(), format!("https://127.0.0.1:{}", splunk.addr.port()));
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.nslookup.resolver = silent.to_string();
        s.operations.nslookup.timeout_secs = 1;
        s.operations.splunk.url = url;
        s.security.ca_dir = ca.parent().map(|d| d.to_path_buf());
        s.operations.splunk.ca_file = Some(ca);
        s.operations.splunk.token_file = Some(wrong_token);
    })
    .await;
    commit_urls(&app, "failures-2", &["http://nothing-here-test.com/a"]).await;
    let run = run_to_end(
        &app,
        id_of(&indicator(&app, "domain", "nothing-here-test.com").await),
        "nslookup",
        json!({}),
    )
    .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("did not answer within 1 s"), "{run}");
    let url = indicator(&app, "url", "http://nothing-here-test.com/a").await;
    let run = run_to_end(&app, id_of(&url), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("refused the credentials (401)"), "{run}");
    assert!(run["error"].as_str().unwrap().contains("call not properly authenticated"), "{run}");
    assert!(!run["error"].as_str().unwrap().contains("not-the-token"), "a secret is never shown: {run}");
    drop(app);

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (url, ca, why) in [
        (format!("https://127.0.0.1:{}", dead.port()), Some(splunk.ca_file.clone()), "cannot connect"),
        (format!("https://127.0.0.1:{}", splunk.addr.port()), None, "certificate"),
    ] {
        let token = splunk.token_file.clone();
        let app = TestApp::spawn_with(move |s| {
            s.organisation.domains = vec!["acme-corp.com".into()];
            s.operations.splunk.url = url;
            s.security.ca_dir = ca.as_deref().and_then(|c| c.parent()).map(|d| d.to_path_buf());
            s.operations.splunk.ca_file = ca;
            s.operations.splunk.token_file = Some(token);
        })
        .await;
        commit_urls(&app, why.split(' ').next().unwrap(), &["http://nothing-here-test.com/a"]).await;
        let url = indicator(&app, "url", "http://nothing-here-test.com/a").await;
        let run = run_to_end(&app, id_of(&url), "splunk-search", json!({})).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["error"].as_str().unwrap().to_lowercase().contains(why), "{why}: {run}");
    }
}

// ---- script operations --------------------------------------------------------------------

fn write_script(dir: &std::path::Path, name: &str, body: &str, manifest: Value) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join(format!("{name}.json")), manifest.to_string()).unwrap();
}

fn manifest(name: &str, timeout: u64) -> Value {
    json!({ "version": 1, "name": name, "description": format!("test script {name}"),
            "applies_to": ["ipv4", "domain", "url"], "timeout_secs": timeout })
}

#[tokio::test]
async fn script_operations_work_and_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("ops");
    std::fs::create_dir(&scripts).unwrap();
    // The shipped examples, as an administrator would install them.
    let examples = crate::oracle::repo_root().join("operations");
    for f in ["suricata-eve.py", "suricata-eve.json", "template.py", "template.json"] {
        std::fs::copy(examples.join(f), scripts.join(f)).unwrap();
    }
    write_script(
        &scripts,
        "crash",
        "#!/bin/sh\necho 'Traceback: something broke' >&2\nexit 3\n",
        manifest("crash", 10),
    );
    write_script(
        &scripts,
        "hang",
        "#!/bin/sh\nsleep 300 &\necho $! > hang.pid\nsleep 300\n",
        manifest("hang", 1),
    );
    // Waits until the test opens the gate: shows the per-operation limit (max_concurrent 1).
    let mut gate = manifest("gate", 60);
    gate["max_concurrent"] = json!(1);
    write_script(
        &scripts,
        "gate",
        "#!/bin/sh\ncat > /dev/null\nwhile [ ! -f gate.open ]; do sleep 0.05; done\necho '{\"version\":1,\"notes\":[\"passed the gate\"]}'\n",
        gate,
    );
    write_script(
        &scripts,
        "garbage",
        "#!/bin/sh\ncat > /dev/null\necho 'this is not JSON'\n",
        manifest("garbage", 10),
    );
    write_script(
        &scripts,
        "env-check",
        "#!/bin/sh\ninput=$(cat)\nnames=$(env | cut -d= -f1 | sort | tr '\\n' ' ')\nprintf '{\"version\":1,\"notes\":[\"env: %s\"]}' \"$names\"\n",
        manifest("env-check", 10),
    );
    // A broken manifest is left out; the others still load.
    std::fs::write(scripts.join("broken.json"), "{ not json").unwrap();
    let now = chrono::Utc::now();
    let ts = |h: i64| (now - chrono::Duration::hours(h)).format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string();
    let eve = dir.path().join("eve.json");
    let events = [
        json!({ "timestamp": ts(5), "event_type": "flow", "src_ip": "10.9.8.7", "dest_ip": PHISH_IP, "dest_port": 443 }),
        json!({ "timestamp": ts(3), "event_type": "tls", "src_ip": "10.9.8.6", "dest_ip": PHISH_IP, "tls": { "sni": PHISH_HOST } }),
        json!({ "timestamp": ts(24 * 40), "event_type": "flow", "src_ip": "10.9.8.5", "dest_ip": PHISH_IP }),
        json!({ "timestamp": ts(1), "event_type": "flow", "src_ip": "10.9.8.7", "dest_ip": "93.184.216.34" }),
    ];
    let text: String = events.iter().map(|e| format!("{e}\n")).collect::<String>() + "{\"half\": ";
    std::fs::write(&eve, text).unwrap();
    let (ops_dir, eve_path) = (scripts.clone(), eve.display().to_string());
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.scripts.dir = Some(ops_dir);
        s.operations
            .scripts
            .config
            .insert("suricata-eve".into(), [("eve_file".to_string(), eve_path)].into());
        s.operations
            .scripts
            .config
            .insert("template".into(), [("greeting".to_string(), "checked".to_string())].into());
    })
    .await;
    let id = import_id(&app, &report("bob@acme-corp.com", &phish("bob@acme-corp.com", "m-bob"))).await;
    let (status, body) = commit(&app, id, json!({})).await;
    assert!(status.is_success(), "{body}");
    let ip = indicator(&app, "ipv4", PHISH_IP).await;
    let ops = get_json(&app, &format!("/api/v1/indicators/{}/operations", id_of(&ip))).await;
    let names: Vec<&str> = ops.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    for n in ["suricata-eve", "template", "crash", "hang", "garbage", "env-check", "gate", "nslookup"] {
        assert!(names.contains(&n), "{n} in {ops}");
    }

    // The Suricata example: a sighting naming the internal hosts, in the window only.
    let run = run_to_end(&app, id_of(&ip), "suricata-eve", json!({ "parameters": { "days": 7 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["exit_status"], 0);
    let sightings = get_json(&app, &format!("/api/v1/indicators/{}/sightings", id_of(&ip))).await;
    assert_eq!(sightings[0]["count"], 2, "{sightings}");
    assert_eq!(sightings[0]["hosts"], json!(["10.9.8.7", "10.9.8.6"]));
    let host = indicator(&app, "domain", PHISH_HOST).await;
    let run = run_to_end(&app, id_of(&host), "suricata-eve", json!({})).await;
    assert_eq!(run["created"]["sightings"], 1, "{run}");
    let run =
        run_to_end(&app, id_of(&indicator(&app, "url", PHISH_URL).await), "suricata-eve", json!({})).await;
    assert_eq!(run["created"]["notes"], 1, "{run}");
    assert!(notes(&run).contains("no events"), "{run}");
    // The template, with its configured value.
    let run = run_to_end(&app, id_of(&ip), "template", json!({ "parameters": { "uppercase": true } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains(&format!("checked ipv4 {PHISH_IP} (uppercase: True)")), "{run}");

    // A clean environment: PATH and LANG (and what the shell itself sets), no inherited secrets.
    let run = run_to_end(&app, id_of(&ip), "env-check", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let env = notes(&run);
    assert!(env.contains("PATH") && env.contains("LANG"), "{env}");
    for inherited in ["HOME", "CARGO", "HARPOON_PYTHON", "USER", "TEST_DATABASE_URL", "RUST"] {
        assert!(!env.contains(inherited), "{inherited} leaked into {env}");
    }

    // Crash, hang, garbage: clear failed runs.
    let run = run_to_end(&app, id_of(&ip), "crash", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("exited with status 3") && error.contains("Traceback: something broke"), "{run}");
    let run = run_to_end(&app, id_of(&ip), "hang", json!({})).await;
    assert_eq!(run["status"], "timed_out", "{run}");
    assert!(run["error"].as_str().unwrap().contains("killed"), "{run}");
    // The child it left in the background died with it (its process group was killed).
    let pid = std::fs::read_to_string(scripts.join("hang.pid")).unwrap().trim().to_string();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
    };
    for _ in 0..50 {
        if !alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(), "the script's background child {pid} outlived the timeout");
    let run = run_to_end(&app, id_of(&ip), "garbage", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("not a version 1 result"), "{run}");
    assert_eq!(run["created"]["indicators"], json!([]));

    // One gate run at a time: the second waits `queued` while the first runs.
    let first = start_run(&app, id_of(&host), "gate", json!({})).await;
    let second = start_run(&app, id_of(&host), "gate", json!({})).await;
    let mut running = false;
    for _ in 0..100 {
        let r = get_json(&app, &format!("/api/v1/runs/{}", first["id"])).await;
        if r["status"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the first gate run started");
    let waiting = get_json(&app, &format!("/api/v1/runs/{}", second["id"])).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert!(waiting["started_at"].is_null(), "{waiting}");
    std::fs::write(scripts.join("gate.open"), "").unwrap();
    for run in [&first, &second] {
        let r = finished(&app, run).await;
        assert_eq!(r["status"], "succeeded", "{r}");
        assert!(notes(&r).contains("passed the gate"), "{r}");
    }

    // The server is fine and runs go on.
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), StatusCode::OK);
    let run = run_to_end(&app, id_of(&ip), "template", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let runs = get_json(&app, &format!("/api/v1/indicators/{}/runs", id_of(&ip))).await;
    assert_eq!(runs.as_array().unwrap().len(), 7);
}

/// ARCHITECTURE.md: only `net.rs` builds an HTTP client (one TLS, timeout and redirect policy).
#[test]
fn only_net_rs_builds_an_http_client() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = crate::oracle::repo_root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    assert!(files.len() > 20);
    for f in files.iter().filter(|f| !f.ends_with("net.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("reqwest"),
            "{} names reqwest: outbound HTTP goes through net.rs",
            f.display()
        );
    }
}
