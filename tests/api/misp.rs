//! MISP both ways: the MISP feed export read by PyMISP (schema, `MISPEvent().load`, its own
//! manifest and hashes generator), the files and what is refused, the feed polled by
//! `service::misp::poll_feed` from a second Harpoon and from a static directory, MISP event
//! JSON uploaded into partner intake (round trip: same values, statuses mapped, TLP kept) and
//! hostile documents.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};

use harpoon::db::events::{self as events_store, NewEvent};
use harpoon::db::indicators::{self as store, NewIndicator};
use harpoon::net::{Auth, ClientOptions, HttpClient};
use harpoon::service::misp::{MispFeedError, poll_feed};
use harpoon::settings::HttpClientSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_json};
use crate::oracle;

const DAY_US: i64 = 86_400_000_000;

/// Type, value, status, score, TLP, tags, events (by index into the seeded events).
struct Seed(
    &'static str,
    &'static str,
    &'static str,
    i32,
    &'static str,
    &'static [&'static str],
    &'static [usize],
);

/// Title, TLP, tags.
struct EventSeed(&'static str, &'static str, &'static [&'static str]);

const URL: &str = "http://secure-login.paypa1-verify.com/account/update.php?id=1";
const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn the_usual() -> (Vec<EventSeed>, Vec<Seed>) {
    (
        vec![EventSeed("Invoice phish", "green", &["finance"]), EventSeed("Red only", "red", &[])],
        vec![
            Seed("url", URL, "active", 80, "green", &["paypal"], &[0]),
            Seed("domain", "paypa1-verify.com", "active", 70, "green", &[], &[0]),
            Seed("ipv4", "82.118.16.98", "active", 60, "amber", &[], &[0]),
            Seed("sha256", SHA256, "active", 90, "green", &[], &[0]),
            // Above the export's ceiling (AMBER): nowhere.
            Seed("email", "security@paypa1-verify.com", "active", 40, "red", &[], &[0]),
            // Not Active: not in a default export.
            Seed("domain", "review-only.example.net", "review", 30, "green", &[], &[0]),
            // Only in an event above the ceiling: nowhere.
            Seed("domain", "red-event.example.org", "active", 50, "green", &[], &[1]),
            // In no event: the export's own event.
            Seed("ipv6", "2a00:1450:4001:82a::200e", "active", 20, "clear", &[], &[]),
        ],
    )
}

/// Seeds events and indicators straight into the store, all last changed two days ago (so a
/// change made by the test is a later MISP timestamp). Returns value → indicator id and the
/// events' MISP UUIDs.
async fn seed(
    app: &TestApp,
    (events, seeds): (Vec<EventSeed>, Vec<Seed>),
) -> (BTreeMap<String, i64>, Vec<String>) {
    let past = harpoon::db::now_micros() - 2 * DAY_US;
    app.db
        .run(move |conn| {
            let mut event_ids = Vec::new();
            let mut uuids = Vec::new();
            for EventSeed(title, tlp, tags) in events {
                let uuid = uuid::Uuid::new_v4();
                let stix_id = format!("grouping--{uuid}");
                let tags = serde_json::to_string(tags).unwrap();
                let row = events_store::insert(
                    conn,
                    &NewEvent {
                        stix_id: &stix_id,
                        title,
                        event_type: "spear-phish",
                        happened_at: Some(past),
                        description: None,
                        tlp,
                        tags: &tags,
                        adversary: None,
                        message_id: None,
                        fingerprint: None,
                        created_by: Some("admin"),
                        created_at: past,
                        updated_at: past,
                    },
                )?
                .unwrap();
                event_ids.push(row.id);
                uuids.push(uuid.to_string());
            }
            let mut ids = BTreeMap::new();
            for Seed(kind, value, status, score, tlp, tags, in_events) in seeds {
                let new = NewIndicator {
                    kind: harpoon::extract::ObservableKind::from_name(kind).unwrap(),
                    value: value.into(),
                    status: harpoon::db::indicators::Status::from_name(status).unwrap(),
                    score,
                    tlp: tlp.into(),
                    description: None,
                    first_seen: past,
                    last_seen: past,
                    status_changed_at: past,
                    stix_id: format!("indicator--{}", uuid::Uuid::new_v4()),
                    whitelist_rule_id: None,
                    created_at: past,
                    updated_at: past,
                };
                let (row, _) = store::upsert(conn, &[new])?.remove(0);
                let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                store::add_tags(conn, &[row.id], &tags)?;
                for e in in_events {
                    store::link_events(conn, &[row.id], event_ids[*e], past)?;
                }
                ids.insert(value.to_string(), row.id);
            }
            if let (Some(domain), Some(ip)) = (ids.get("paypa1-verify.com"), ids.get("82.118.16.98")) {
                let relation = store::NewRelation {
                    source_id: *domain,
                    rel_type: "resolves-to",
                    target_id: *ip,
                    stix_id: format!("relationship--{}", uuid::Uuid::new_v4()),
                    origin: "test",
                    created_at: past,
                };
                store::relate(conn, &relation)?;
            }
            Ok::<_, harpoon::db::DbError>((ids, uuids))
        })
        .await
        .unwrap()
}

/// A file of the feed `name` as MISP fetches it (the token in the Authorization header).
async fn file(app: &TestApp, token: &str, name: &str, file: &str) -> (StatusCode, String) {
    let resp =
        app.get(&format!("/api/v1/exports/{name}/feed/{file}")).bearer_auth(token).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// The whole feed: manifest, every event it lists, hashes.csv.
async fn whole_feed(app: &TestApp, token: &str, name: &str) -> (Value, BTreeMap<String, Value>, String) {
    let (status, manifest) = file(app, token, name, "manifest.json").await;
    assert_eq!(status, StatusCode::OK, "{manifest}");
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let mut events = BTreeMap::new();
    for uuid in manifest.as_object().unwrap().keys() {
        let (status, body) = file(app, token, name, &format!("{uuid}.json")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        events.insert(uuid.clone(), serde_json::from_str(&body).unwrap());
    }
    let (status, hashes) = file(app, token, name, "hashes.csv").await;
    assert_eq!(status, StatusCode::OK, "{hashes}");
    (manifest, events, hashes)
}

fn attribute<'a>(event: &'a Value, value: &str) -> &'a Value {
    event["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == value)
        .unwrap_or_else(|| panic!("{value} in {event}"))
}

#[tokio::test]
async fn the_misp_feed_is_what_pymisp_reads() {
    let app = TestApp::spawn().await;
    let (_, uuids) = seed(&app, the_usual()).await;
    app.make_export(json!({ "name": "misp", "format": "misp" })).await;
    app.make_export(json!({ "name": "edl", "format": "text" })).await;
    let token = app.admin_token("misp", "export", &["misp", "edl"]).await;
    let (manifest, events, hashes) = whole_feed(&app, &token, "misp").await;
    let report =
        oracle::run("misp_feed.py", &json!({ "manifest": manifest, "events": events, "hashes": hashes }));
    assert_eq!(report["problems"], json!([]), "{report:#}");

    // The invoice event and the export's own event; never the red one.
    let listed: BTreeSet<&str> = manifest.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(listed.contains(uuids[0].as_str()) && !listed.contains(uuids[1].as_str()), "{manifest:#}");
    assert_eq!(listed.len(), 2, "{manifest:#}");
    let invoice = &report["events"][&uuids[0]];
    assert_eq!(invoice["info"], "Invoice phish");
    assert_eq!(invoice["tags"], json!(["tlp:green", "finance"]));
    let values: BTreeSet<&str> =
        invoice["attributes"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap()).collect();
    assert_eq!(values, BTreeSet::from([URL, "paypa1-verify.com", "82.118.16.98", SHA256]));
    let url = attribute(invoice, URL);
    assert_eq!((url["type"].as_str(), url["category"].as_str()), (Some("url"), Some("Network activity")));
    assert_eq!(url["to_ids"], true);
    assert_eq!(url["tags"], json!(["tlp:green", "paypal"]));
    assert_eq!(attribute(invoice, "82.118.16.98")["type"], "ip-dst");
    assert_eq!(attribute(invoice, "82.118.16.98")["tags"], json!(["tlp:amber"]));
    assert_eq!(attribute(invoice, SHA256)["category"], "Payload delivery");
    let comment = attribute(invoice, "paypa1-verify.com")["comment"].as_str().unwrap();
    assert!(comment.contains("resolves-to ip-dst 82.118.16.98"), "{comment}");
    assert!(attribute(invoice, "82.118.16.98")["comment"].as_str().unwrap().contains("← resolves-to domain"));
    assert_eq!(invoice["threat_level_id"], "1");
    let own = report["events"].as_object().unwrap().iter().find(|(u, _)| **u != uuids[0]).unwrap().1;
    assert_eq!(own["info"], "Harpoon export misp: indicators outside events");
    assert_eq!(own["tags"], json!(["tlp:clear"]));
    assert_eq!(own["attributes"][0]["value"], "2a00:1450:4001:82a::200e");
    assert_eq!(hashes.lines().count(), 5, "{hashes}");

    // Stable: a second generation is the same text (UUIDs derived, not drawn).
    let (again, _, _) = whole_feed(&app, &token, "misp").await;
    assert_eq!(again, manifest);

    // Only the three kinds of file, only of a MISP export.
    let random = uuid::Uuid::new_v4();
    for (export, name) in [
        ("misp", format!("{random}.json")),
        ("misp", format!("{}.json", uuids[1])),
        ("misp", "manifest.JSON".into()),
        ("misp", "..%2F..%2Fetc%2Fpasswd".into()),
        ("misp", "feed.json".into()),
        ("edl", "manifest.json".into()),
    ] {
        let (status, body) = file(&app, &token, export, &name).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{export}/{name}: {body}");
    }
    let resp = app.get("/api/v1/exports/misp/feed").bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("feed/manifest.json"));

    // The token in the URL; MISP's revalidation of an unchanged manifest.
    let resp =
        app.get("/api/v1/exports/misp/feed/manifest.json").query(&[("token", &token)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let resp = app
        .get("/api/v1/exports/misp/feed/manifest.json")
        .bearer_auth(&token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    // An export token for another export reads nothing of this one.
    let other = app.admin_token("misp", "export", &["edl"]).await;
    assert_eq!(file(&app, &other, "misp", "manifest.json").await.0, StatusCode::FORBIDDEN);
}

fn client() -> HttpClient {
    HttpClient::new(&HttpClientSettings::default(), &ClientOptions::default()).unwrap()
}

async fn upload(app: &TestApp, doc: &Value) -> (StatusCode, Value) {
    status_json(app.as_admin(app.post("/api/v1/misp/events")).json(doc).send().await.unwrap()).await
}

/// Every indicator of an app: value → (status, TLP, id).
async fn indicators(app: &TestApp) -> BTreeMap<String, (String, String, i64)> {
    let list = app.get_ok("/api/v1/indicators?limit=500").await;
    list["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["value"].as_str().unwrap().to_string(),
                (
                    i["status"].as_str().unwrap().into(),
                    i["tlp"].as_str().unwrap().into(),
                    i["id"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_harpoon_feed_round_trips_through_the_poller_and_the_upload() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn().await;
    let (ids, uuids) = seed(&a, the_usual()).await;
    a.make_export(
        json!({ "name": "misp", "format": "misp", "filters": { "status": ["active", "expired"] } }),
    )
    .await;
    let token = a.admin_token("misp", "export", &["misp"]).await;
    let base = format!("{}/api/v1/exports/misp/feed", a.url);
    let auth = Auth::Header(format!("Bearer {token}"));
    let first = poll_feed(&client(), &base, &auth, None).await.unwrap();
    assert_eq!((first.events.len(), first.failures.len(), first.more), (2, 0, false), "{:?}", first.failures);
    let mut created = 0;
    for event in &first.events {
        let (status, report) = upload(&b, event).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["events"][0]["refused"], json!([]), "{report:#}");
        created += report["events"][0]["indicators_created"].as_i64().unwrap();
    }
    assert_eq!(created, 5);
    // Same values; Active (to_ids) arrives for review; TLP kept.
    let got = indicators(&b).await;
    let expect = [
        (URL, "green"),
        ("paypa1-verify.com", "green"),
        ("82.118.16.98", "amber"),
        (SHA256, "green"),
        ("2a00:1450:4001:82a::200e", "clear"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for (value, tlp) in expect {
        let (status, got_tlp, _) = &got[value];
        assert_eq!((status.as_str(), got_tlp.as_str()), ("review", tlp), "{value}");
    }
    // The event is the source; the attribute's UUID is kept.
    let (_, detail) = status_json(
        b.as_admin(b.get(&format!("/api/v1/indicators/{}", got["paypa1-verify.com"].2)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let invoice = first.events.iter().find(|e| e["Event"]["uuid"] == uuids[0].as_str()).unwrap();
    let sent = invoice["Event"]["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == "paypa1-verify.com")
        .unwrap();
    assert_eq!(detail["misp_attributes"][0]["attribute_uuid"], sent["uuid"], "{detail:#}");
    assert_eq!(detail["misp_attributes"][0]["event_uuid"], uuids[0].as_str());
    assert!(
        detail["sources"][0]["source"].as_str().unwrap().starts_with(&format!("misp event {}", uuids[0]))
    );

    // Nothing changed: nothing fetched. Reading an event again creates nothing.
    let second = poll_feed(&client(), &base, &auth, Some(&first.cursor)).await.unwrap();
    assert_eq!(second.events.len(), 0);
    let (_, report) = upload(&b, invoice).await;
    assert_eq!(report["events"][0]["indicators_created"], 0);

    // The IP expires in A: its event changes, only that one is fetched, the IP is no longer for
    // detection; in B it stays what B's analysts made of it.
    let (status, body) = a
        .patch_json(
            &format!("/api/v1/indicators/{}", ids["82.118.16.98"]),
            &json!({ "status": "expired", "reason": "test" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = poll_feed(&client(), &base, &auth, Some(&second.cursor)).await.unwrap();
    assert_eq!(third.events.len(), 1);
    let ip = third.events[0]["Event"]["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == "82.118.16.98")
        .unwrap();
    assert_eq!(ip["to_ids"], false);
    let (_, report) = upload(&b, &third.events[0]).await;
    assert_eq!(report["events"][0]["indicators_created"], 0);
    assert_eq!(indicators(&b).await["82.118.16.98"].0, "review");

    // Without to_ids: Indirect on a first reading.
    let c = TestApp::spawn().await;
    let (_, report) = upload(&c, &third.events[0]).await;
    assert_eq!(report["events"][0]["indicators_created"], 4, "{report:#}");
    assert_eq!(indicators(&c).await["82.118.16.98"].0, "indirect");
}

#[tokio::test]
async fn hostile_misp_documents_are_refused_clearly() {
    let app = TestApp::spawn().await;
    seed(&app, (vec![], vec![Seed("domain", "known-phish.com", "active", 70, "green", &[], &[])])).await;
    let u = |n: u32| format!("5e0a6e1e-0000-4000-8000-{n:012}");
    let doc = json!({ "response": [
        { "Event": {
            "uuid": u(1), "info": "hostile\u{0}info", "Orgc": { "name": "Partner CERT", "uuid": u(99) },
            "Tag": [{ "name": "tlp:amber" }, { "name": "campaign:spring" }],
            "Attribute": [
                { "uuid": u(2), "type": "domain", "value": "Evil-Invoice.net", "to_ids": true,
                  "Tag": [{ "name": "tlp:red" }] },
                { "uuid": u(3), "type": "mutex", "value": "Global\\x", "to_ids": true },
                { "uuid": u(4), "type": "ip-dst", "value": "10.0.0.0/8", "to_ids": true },
                { "type": "domain", "value": "no-uuid.example" },
                { "uuid": u(5), "type": "domain", "value": "deleted.example", "deleted": true },
                { "uuid": u(6), "type": "domain|ip", "value": "pair-host.org|45.61.136.44", "to_ids": "1" },
                { "uuid": u(7), "type": "sha256", "value": SHA256, "to_ids": false },
                { "uuid": u(8), "type": "domain", "value": 42 },
                { "uuid": u(9), "type": "domain", "value": "known-phish.com", "to_ids": true },
                { "uuid": u(10), "type": "url", "value": "not a url", "to_ids": true },
            ],
            "Object": [{ "name": "file", "Attribute": [
                { "uuid": u(11), "type": "filename|md5", "value": "invoice.exe|D41D8CD98F00B204E9800998ECF8427E" },
            ]}],
        }},
        { "Event": { "info": "no uuid" } },
        "not an event",
    ]});
    let (status, report) = upload(&app, &doc).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let first = &report["events"][0];
    assert_eq!(first["attributes_taken"], 5, "{report:#}");
    assert_eq!(first["indicators_created"], 5, "{report:#}");
    let reasons: BTreeMap<String, String> = first["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["attribute"].as_str().unwrap_or("-").to_string(), r["reason"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(reasons[&u(3)].contains("MISP type 'mutex' is not one Harpoon indicates"), "{reasons:?}");
    assert!(reasons[&u(4)].contains("not an IP address"), "{reasons:?}");
    assert!(reasons["-"].contains("attribute #4: no valid 'uuid'"), "{reasons:?}");
    assert_eq!(reasons[&u(5)], "deleted in MISP");
    assert!(reasons[&u(8)].contains("no 'value' string") || reasons[&u(8)].contains("domain"), "{reasons:?}");
    assert!(reasons[&u(10)].starts_with("url:"), "{reasons:?}");
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(
        report["events"][1]["refused"][0]["reason"].as_str().unwrap().contains("event #2: no valid 'uuid'")
    );
    assert!(
        report["events"][2]["refused"][0]["reason"].as_str().unwrap().contains("event #3: not an object")
    );

    let got = indicators(&app).await;
    assert_eq!(got["evil-invoice.net"].0, "review");
    assert_eq!(got["evil-invoice.net"].1, "red", "the attribute's own TLP wins");
    assert_eq!(got["pair-host.org"].1, "amber", "else the event's");
    assert_eq!(got["45.61.136.44"].0, "review");
    assert_eq!(got[SHA256].0, "indirect");
    assert_eq!(got["d41d8cd98f00b204e9800998ecf8427e"].0, "indirect");
    assert_eq!(got["known-phish.com"].0, "active", "a partner never changes our decisions");
    let (_, detail) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", got["evil-invoice.net"].2)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(detail["tags"], json!(["campaign:spring"]));
    assert_eq!(detail["misp_attributes"][0]["event_info"], "hostile info");
    assert_eq!(detail["misp_attributes"][0]["orgc"], "Partner CERT");

    // What is not a MISP document at all.
    let reader = app.add_user("rea", "reader").await;
    let resp =
        app.post("/api/v1/misp/events").basic_auth("rea", Some(&reader)).json(&doc).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let send = |body: Vec<u8>, ct: &'static str| {
        app.as_admin(app.post("/api/v1/misp/events")).header("Content-Type", ct).body(body).send()
    };
    assert_eq!(
        send(b"{}".to_vec(), "text/plain").await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for bad in [&b"{\"Event\":"[..], b"[]", b"42", &"[".repeat(5_000).into_bytes()] {
        let resp = send(bad.to_vec(), "application/json").await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&bad[..bad.len().min(20)])
        );
    }
    let huge = vec![b' '; (32 << 20) + 1];
    assert_eq!(send(huge, "application/json").await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = status_json(app.get("/healthz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

/// `python3 -m http.server` over a directory, on a free port of 127.0.0.1.
struct StaticServer {
    child: Child,
    url: String,
}

impl StaticServer {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server starts");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port =
            line.split(" port ").nth(1).and_then(|r| r.split_whitespace().next()).expect(&line).to_string();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_static_misp_feed_is_polled_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let u = |n: u32| format!("6e0a6e1e-0000-4000-8000-{n:012}");
    let event = |uuid: &str, value: &str| {
        json!({ "Event": { "uuid": uuid, "info": "static", "Orgc": { "name": "CIRCL", "uuid": u(99) },
            "Attribute": [{ "uuid": u(50), "type": "domain", "value": value, "to_ids": true }] } })
    };
    let write = |name: String, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    let manifest = |good_ts: &str, with_gone: bool| {
        let mut m = json!({
            u(1): { "timestamp": good_ts, "info": "good" },
            u(2): { "timestamp": 5, "info": "broken JSON" },
            u(3): { "timestamp": "5", "info": "holds another event" },
            u(4): { "timestamp": "5", "info": "no file" },
            "../../etc/passwd": { "timestamp": "5" },
        });
        if with_gone {
            m[u(5)] = json!({ "timestamp": "5", "info": "leaves" });
        }
        m.to_string()
    };
    write("manifest.json".into(), manifest("100", true));
    write(format!("{}.json", u(1)), event(&u(1), "static-feed.net").to_string());
    write(format!("{}.json", u(2)), "{\"Event\": {".into());
    write(format!("{}.json", u(3)), event(&u(9), "other-feed.net").to_string());
    write(format!("{}.json", u(5)), event(&u(5), "leaving-feed.net").to_string());
    let server = StaticServer::start(dir.path());
    let client = client();
    let first = poll_feed(&client, &format!("{}/", server.url), &Auth::None, None).await.unwrap();
    let got: BTreeSet<String> =
        first.events.iter().map(|e| e["Event"]["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, BTreeSet::from([u(1), u(5)]));
    let failed: BTreeMap<String, String> = first.failures.iter().cloned().collect();
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert!(failed["../../etc/passwd"].contains("not an event UUID"));
    assert!(failed[&u(2)].contains("not JSON"), "{failed:?}");
    assert!(failed[&u(3)].contains("does not hold this event"), "{failed:?}");
    assert!(failed[&u(4)].contains("404"), "{failed:?}");

    // Failures are tried again, what was read is not; a grown timestamp is read again; an
    // event that left the manifest leaves the cursor.
    let second = poll_feed(&client, &server.url, &Auth::None, Some(&first.cursor)).await.unwrap();
    assert_eq!((second.events.len(), second.failures.len()), (0, 4));
    write("manifest.json".into(), manifest("200", false));
    let third = poll_feed(&client, &server.url, &Auth::None, Some(&second.cursor)).await.unwrap();
    assert_eq!(third.events.len(), 1);
    assert!(third.cursor.contains(&u(1)) && !third.cursor.contains(&u(5)), "{}", third.cursor);
    // An unreadable cursor reads from the start.
    let again = poll_feed(&client, &server.url, &Auth::None, Some("garbage")).await.unwrap();
    assert_eq!(again.events.len(), 1);

    // The events go into intake like an upload.
    let app = TestApp::spawn().await;
    let (status, report) = upload(&app, &third.events[0]).await;
    assert_eq!((status, report["events"][0]["indicators_created"].as_i64()), (StatusCode::OK, Some(1)));

    // Dead or wrong feeds are errors, not panics.
    assert!(matches!(poll_feed(&client, "ftp://x", &Auth::None, None).await, Err(MispFeedError::Url(_))));
    drop(server);
    let dead = poll_feed(&client, &format!("http://127.0.0.1:{}", 1), &Auth::None, None).await;
    assert!(matches!(dead, Err(MispFeedError::Net { .. })), "{dead:?}");
}
